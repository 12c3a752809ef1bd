// Design-space exploration on a tiny CNN: a stopped sweep resumes from its cache with equal results, CSV columns, fronts, plots in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { lowerModule } from '../nn/lower.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/layers.js';
import { Rng } from '../tensor/rng.js';
import { launch, noChromium, renderSvgInChromium, screenshotHtml } from '../../test/chromium.js';
import { runDse, type DseOptions, type DseProgress } from './dse.js';
import { csvColumns, writeDseReport } from './dse-report.js';
import { hardwarePoints, modelPoints, parseSpace } from './dse-space.js';
import { dominates } from './pareto.js';

function tinyCnn(): ReturnType<typeof lowerModule> {
  const rng = new Rng(5);
  return lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 4, 3, { padding: 1, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(4 * 8 * 8, 32, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(32, 3, { rng })],
  ]), { inputShape: [1, 8, 8] });
}

/** Images whose class is the brightest third of the picture (so a model can be better or worse than chance). */
function data(n: number, seed: number): DataLoader {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 64);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = rng.int(3);
    for (let p = 0; p < 64; p++) images[i * 64 + p] = Math.floor(rng.random() * 100) + (Math.floor(p / 22) === labels[i] ? 120 : 0);
  }
  const ds = makeDataset('synthetic', { images, labels, n, height: 8, width: 8, classes: 3 });
  return new DataLoader(ds, { batchSize: 16, shuffle: false, mean: 0.4, std: 0.3 });
}

const SPACE = {
  model: { v: { conv: [4, 9, 5], linear: [16] }, k: [8], metric: ['l2', 'l1'] },
  hardware: { ccus: [2, 4], pesPerCcu: [8], lanes: [4, 8], tableBits: [8], tableBankBytes: [4096], actBufferBytes: [65536], centroidBufferBytes: [8192] },
  conversion: { calib: 32, maxRows: 256, iters: 4, testImages: 48 },
};

function options(out: string, extra: Partial<DseOptions> = {}): DseOptions {
  const dense = tinyCnn();
  return {
    dense, modelId: 'tiny', modelName: 'tiny', space: parseSpace(SPACE), out, calibration: [...data(32, 1).epoch(0)].map((b) => b.x),
    test: data(48, 2), ...extra,
  };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lutnn-dse-'));

test('space: defaults fill what a file leaves out, unknown keys and narrow tables are refused, V that does not divide is skipped', () => {
  const s = parseSpace(SPACE, 'space.json');
  assert.deepEqual(s.model.k, [8]);
  assert.equal(s.conversion.refit, true);
  assert.equal(hardwarePoints(s).length, 4);
  const { points, skippedV } = modelPoints(s, [{ name: 'conv2', kind: 'conv', inDim: 36 }, { name: 'fc1', kind: 'linear', inDim: 256 }]);
  assert.equal(points.length, 4, '2 conv V (5 does not divide 36) x 1 linear V x 1 K x 2 metrics');
  assert.deepEqual(skippedV, [{ kind: 'conv', v: 5, layer: 'conv2', inDim: 36 }]);
  assert.throws(() => parseSpace({ model: { kk: [8] } }, 'space.json'), /space.json: unknown key 'model.kk'/);
  assert.throws(() => parseSpace({ hardware: { tableBits: [4] } }, 'space.json'), /'hardware.tableBits' holds 4, expected integers in 8..32/);
  assert.throws(() => parseSpace('{', 'space.json'), /space.json: not valid JSON/);
  assert.throws(() => modelPoints(parseSpace({ model: { v: { conv: [5] } } }), [{ name: 'conv2', kind: 'conv', inDim: 36 }]), /no V in model.v.conv \(5\) divides/);
});

test('a stopped sweep resumes from its cache: cached points are not converted again and the results equal an uninterrupted run', async () => {
  const a = tmp();
  const b = tmp();
  try {
    const first = await runDse(options(a, { limit: 2 }));
    assert.equal(first.complete, false);
    assert.equal(first.converted, 2);
    assert.equal(first.modelPointsDone, 2);
    assert.equal(readdirSync(join(a, 'cache', 'points')).length, 2);

    const events: DseProgress[] = [];
    const second = await runDse(options(a, { onProgress: (p) => events.push(p) }));
    assert.equal(second.complete, true);
    assert.equal(second.cached, 2, 'the two points of the first run come from the cache');
    assert.equal(second.converted, 2);
    const convertedNow = new Set(events.filter((e) => e.phase === 'convert').map((e) => e.name));
    assert.deepEqual([...convertedNow].sort(), ['conv9-linear16-k8-l1', 'conv9-linear16-k8-l2']);
    // The linear layer's conversion (V 16, K 8, metric) is shared by both conv V: 2 conv + 2 linear conversions on disk,
    // and the second run converted only conv layers.
    assert.equal(readdirSync(join(a, 'cache', 'layers')).filter((f) => f.endsWith('.safetensors')).length, 6);
    assert.ok(!events.some((e) => e.phase === 'convert' && e.step?.includes('fc1')), 'fc1 was taken from the cache');

    const whole = await runDse(options(b));
    assert.equal(whole.converted, 4);
    assert.deepEqual(second.points, whole.points, 'resumed and uninterrupted sweeps give the same points');
    assert.equal(second.points.length, 4 * 4 - second.infeasible.count);

    // An abort between points stops the sweep; a third run converts nothing.
    const ac = new AbortController();
    ac.abort();
    const third = await runDse(options(a, { signal: ac.signal }));
    assert.equal(third.cached, 4);
    assert.equal(third.converted, 0);
    assert.deepEqual(third.points, whole.points);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('an aborted sweep stops between model points', async () => {
  const a = tmp();
  try {
    const ac = new AbortController();
    const r = await runDse(options(a, { signal: ac.signal, onProgress: (p) => p.phase === 'eval' && p.point === 1 && ac.abort() }));
    assert.equal(r.complete, false);
    assert.equal(r.converted, 1);
  } finally {
    rmSync(a, { recursive: true, force: true });
  }
});

test('points.csv: the documented columns, one row per point, pareto flags that match the non-dominated set; plots open in Chromium', async (t) => {
  const a = tmp();
  try {
    const space = parseSpace(SPACE);
    const r = await runDse(options(a));
    const files = await writeDseReport(a, r, space, { modelName: 'tiny', tech: 'test', finetuneEpochs: 0 });
    const lines = readFileSync(files.pointsCsv, 'utf8').trim().split('\n');
    const head = lines[0].split(',');
    assert.deepEqual(head, csvColumns(['conv', 'linear'], ['ccus', 'pesPerCcu', 'lanes', 'tableBits', 'actBufferBytes', 'centroidBufferBytes', 'tableBankBytes']));
    assert.deepEqual(head.slice(0, 6), ['id', 'model', 'vConv', 'vLinear', 'k', 'metric']);
    for (const c of ['accuracy', 'energy', 'area', 'latency', 'pareto']) assert.ok(head.includes(c), c);
    assert.equal(lines.length - 1, r.points.length);
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i], v])));
    for (const row of rows) {
      for (const c of ['accuracy', 'energy', 'area', 'latency', 'macEnergy']) assert.ok(Number.isFinite(Number(row[c])) && Number(row[c]) >= 0, `${c} = ${row[c]}`);
      assert.match(row.pareto, /^(true|false)$/);
    }
    // The pareto column is the accuracy–energy front of the rows themselves: a row is on it iff no row dominates it and
    // no row tied with it in accuracy and energy is smaller (area, then latency).
    const pts = rows.map((x) => ({ a: Number(x.accuracy), e: Number(x.energy), area: Number(x.area), lat: Number(x.latency), front: x.pareto === 'true' }));
    for (const p of pts) {
      const dominated = pts.some((q) => dominates(q.a, q.e, p.a, p.e));
      const beatenInTie = pts.some((q) => q.a === p.a && q.e === p.e && (q.area < p.area || (q.area === p.area && q.lat < p.lat)));
      assert.equal(p.front, !dominated && !beatenInTie, JSON.stringify(p));
      if (!p.front && dominated) assert.ok(pts.some((q) => q.front && dominates(q.a, q.e, p.a, p.e)), 'dominated by a front row');
    }
    assert.ok(pts.some((p) => p.front));
    const json = JSON.parse(readFileSync(files.pointsJson, 'utf8')) as unknown[];
    assert.equal(json.length, r.points.length);
    for (const f of [...files.svgs, files.html, files.frontsJson, files.space]) assert.ok(existsSync(f), f);

    if (noChromium) {
      t.skip(noChromium);
      return;
    }
    const browser = await launch();
    try {
      for (const f of files.svgs) {
        const d = await renderSvgInChromium(browser, readFileSync(f, 'utf8'));
        assert.ok(d.width > 300 && d.height > 200, `${f}: ${JSON.stringify(d)}`);
        assert.ok(d.inked > 2000 && d.colours >= 3, `${f}: ${JSON.stringify(d)}`);
      }
      const shot = await screenshotHtml(browser, files.html, join(a, 'page.png'));
      assert.equal(shot.svgs >= 3, true, `svgs ${shot.svgs}`);
      assert.deepEqual(shot.errors, []);
      assert.ok(shot.height > 900 && readFileSync(join(a, 'page.png')).length > 10000);
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(a, { recursive: true, force: true });
  }
});

test('--finetune: the model points on the accuracy–energy front are fine-tuned once (cached), their rows say so', async () => {
  const a = tmp();
  try {
    const ds = data(64, 3).dataset;
    const train = new DataLoader(ds, { batchSize: 16, shuffle: true, seed: 0, mean: 0.4, std: 0.3 });
    const events: DseProgress[] = [];
    const r = await runDse(options(a, { train, finetuneEpochs: 1, onProgress: (p) => events.push(p) }));
    assert.ok(r.finetuned >= 1);
    const tuned = new Set(r.points.filter((p) => p.finetuned).map((p) => p.model));
    assert.equal(tuned.size, r.finetuned);
    assert.equal(readdirSync(join(a, 'cache', 'finetune')).filter((f) => f.endsWith('.json')).length, r.finetuned);
    assert.ok(events.some((e) => e.phase === 'finetune' && e.step.startsWith('epoch 1/1')));
    for (const p of r.points) if (!p.finetuned) assert.equal(p.accuracy, p.accuracyKmeans);
    // A fine-tuned model point's rows all carry its one fine-tuned accuracy (8-bit tables here).
    for (const m of tuned) assert.equal(new Set(r.points.filter((p) => p.model === m).map((p) => p.accuracy)).size, 1);
    const again: DseProgress[] = [];
    const r2 = await runDse(options(a, { train, finetuneEpochs: 1, onProgress: (p) => again.push(p) }));
    assert.ok(!again.some((e) => e.phase === 'finetune' && e.step.startsWith('epoch')), 'nothing trained again');
    assert.deepEqual(r2.points, r.points);
  } finally {
    rmSync(a, { recursive: true, force: true });
  }
});

test('shards (what --jobs runs in parallel processes) split the points by K × metric and leave nothing to convert', async () => {
  const a = tmp();
  try {
    const s0 = await runDse(options(a, { shard: { index: 0, count: 2 } }));
    const s1 = await runDse(options(a, { shard: { index: 1, count: 2 } }));
    assert.equal(s0.converted, 2, 'the l2 points (combination 0)');
    assert.equal(s0.complete, false);
    assert.equal(s1.converted, 2, 'the l1 points');
    assert.equal(s1.cached, 2);
    assert.ok(s0.points.every((p) => p.metric === 'l2'));
    const all = await runDse(options(a));
    assert.equal(all.converted, 0);
    assert.equal(all.cached, 4);
    assert.equal(all.complete, true);
  } finally {
    rmSync(a, { recursive: true, force: true });
  }
});
