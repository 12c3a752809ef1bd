// lutnn report and the fine-tuning curves end to end on a synthetic IDX directory: finetune records its curve in the
// JSON, the checkpoint and the model file; the report page loads in headless Chromium with every chart's marks.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader } from '../src/data/loader.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../src/nn/layers.js';
import { lowerModule } from '../src/nn/lower.js';
import { Adam } from '../src/optim/index.js';
import type { BaseHyper, Optimizer } from '../src/optim/optimizer.js';
import { constant } from '../src/optim/schedule.js';
import { Rng } from '../src/tensor/rng.js';
import { fit, type CurvePoint } from '../src/train/fit.js';
import { convertModel } from '../src/lut/convert.js';
import { loadModel, saveModel } from '../src/io/model-file.js';
import { loadSafetensors, readJsonMetadata, LUTNN_METADATA_KEY } from '../src/io/safetensors.js';
import { trainingFromMeta } from '../src/app/report.js';
import { bandDataset, writeIdxDir } from './helpers.js';
import { launch, noChromium, renderSvgInChromium, screenshotHtml } from './chromium.js';

const trainSet = bandDataset(640, 1);
const testSet = bandDataset(200, 2);
const dataDir = writeIdxDir(trainSet, testSet);
const dir = mkdtempSync(join(tmpdir(), 'lutnn-report-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const dataset = { name: 'fashion-mnist', mean: 0.286, std: 0.353, inputShape: [1, 28, 28] };
const densePath = join(dir, 'dense.safetensors');
const lutPath = join(dir, 'lut.safetensors');
const ftPath = join(dir, 'lut-ft.safetensors');

before(() => {
  const rng = new Rng(1);
  const model = lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['pool1', new MaxPool2d(4)], // [N,4,7,7]
    ['conv2', new Conv2d(4, 4, 3, { padding: 1, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)], // [N,196]
    ['fc1', new Linear(196, 16, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(16, 10, { rng })],
  ]), { inputShape: [1, 28, 28] });
  fit({
    model, optimizer: new Adam(model.parameters(), { lr: 3e-3 }) as unknown as Optimizer<BaseHyper>, schedule: constant({ baseLr: 3e-3 }),
    train: new DataLoader(trainSet, { batchSize: 32, seed: 1 }), epochs: 2,
  });
  saveModel(densePath, model, { dataset });
  const calib = new DataLoader(trainSet, { batchSize: 64, shuffle: false, mean: dataset.mean, std: dataset.std });
  const { model: lut } = convertModel(model, [...calib.epoch(0)].slice(0, 2).map((b) => b.x), { k: 4, kmeansIters: 5, v: { linear: 4 }, seed: 0 });
  saveModel(lutPath, lut, { dataset, info: { conversion: { metric: 'l2' } } });
});

/** Mean of the curve points' losses weighted by their images (the epoch's mean training loss). */
const meanLoss = (ps: CurvePoint[]): number => ps.reduce((a, p) => a + p.loss * p.images, 0) / ps.reduce((a, p) => a + p.images, 0);

test('finetune records its training curve as it runs: --json, the checkpoint and the model file', () => {
  const r = spawnSync(process.execPath, [...cli, 'finetune', lutPath, '--out', ftPath, '--data-dir', dataDir, '--epochs', '2', '--batch-size', '32',
    '--curve-every', '6', '--threads', '1', '--json', '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { curve: CurvePoint[]; epochs: { trainLoss: number; trainAccuracy: number }[]; steps: number; checkpoint: string };
  assert.equal(j.steps, 40); // 640 images / 32, 2 epochs
  // Every 6 steps, and at each epoch's end (20 steps per epoch).
  assert.deepEqual(j.curve.map((p) => p.step), [6, 12, 18, 20, 24, 30, 36, 40]);
  assert.deepEqual(j.curve.map((p) => p.images), [192, 192, 192, 64, 128, 192, 192, 128]);
  assert.deepEqual(j.curve.map((p) => p.epoch), [0.3, 0.6, 0.9, 1, 1.2, 1.5, 1.8, 2]);
  for (const p of j.curve) assert.ok(Number.isFinite(p.loss) && p.loss > 0 && p.accuracy >= 0 && p.accuracy <= 1 && p.lr > 0, JSON.stringify(p));
  // The points partition the epochs: their weighted means are the epoch summaries' training figures.
  assert.ok(Math.abs(meanLoss(j.curve.slice(0, 4)) - j.epochs[0].trainLoss) < 1e-9);
  assert.ok(Math.abs(meanLoss(j.curve.slice(4)) - j.epochs[1].trainLoss) < 1e-9);
  // The checkpoint and the output file hold the same curve.
  const ck = loadSafetensors(j.checkpoint);
  const ckMeta = readJsonMetadata(ck.metadata, LUTNN_METADATA_KEY, j.checkpoint) as { curve: CurvePoint[] };
  assert.deepEqual(ckMeta.curve, j.curve);
  const { meta } = loadModel(ftPath);
  assert.deepEqual((meta.info as { finetune: { curve: CurvePoint[] } }).finetune.curve, j.curve);
  const runs = trainingFromMeta(meta);
  assert.equal(runs.length, 1);
  assert.equal(runs[0].source, 'finetune');
  assert.deepEqual(runs[0].curve, j.curve);
  assert.equal(runs[0].epochs.length, 2);
});

/** The SVG documents of a page, in order. */
const svgsOf = (html: string): string[] => html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
const count = (svg: string, role: string): number => (svg.match(new RegExp(`aria-roledescription="${role}"`, 'g')) ?? []).length;

test('lutnn report: a standalone page with accuracy against cost and latency, per-layer bars and the curves; Chromium draws it with no error', { skip: noChromium }, async () => {
  assert.ok(existsSync(ftPath), 'the finetune test ran first');
  const out = join(dir, 'report.html');
  const r = spawnSync(process.execPath, [...cli, 'report', lutPath, ftPath, '--dense', densePath, '--data-dir', dataDir, '--out', out,
    '--batch', '1,8', '--threads', '1', '--repeats', '2', '--warmup', '0', '--json', '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { command: string; out: string; models: { name: string; kind: string; testAccuracy: number; testImages: number; macs: number; bytes: number; layers: { name: string }[]; training: unknown[]; speed: { runner: string; batch: number; medianMs: number }[] }[] };
  assert.equal(j.command, 'report');
  assert.equal(j.out, out);
  assert.deepEqual(j.models.map((m) => [m.name, m.kind]), [['dense', 'dense'], ['lut', 'lut-nn'], ['lut-ft', 'lut-nn']]);
  for (const m of j.models) {
    assert.equal(m.testImages, 200);
    assert.ok(m.testAccuracy > 0.5, `${m.name} accuracy ${m.testAccuracy}`);
    assert.deepEqual(m.layers.map((l) => l.name), ['conv1', 'conv2', 'fc1', 'fc2']);
    // lutnn at batch 1 and 8 (one thread), each timed.
    const lutnn = m.speed.filter((s) => s.runner === 'lutnn');
    assert.deepEqual(lutnn.map((s) => s.batch).sort((a, b) => a - b), [1, 8]);
    for (const s of m.speed) assert.ok(s.medianMs > 0);
  }
  assert.ok(j.models[1].macs < j.models[0].macs && j.models[1].bytes < j.models[0].bytes, 'the LUT model costs less');
  assert.deepEqual(j.models.map((m) => m.training.length), [0, 0, 1]);
  const ort = j.models[0].speed.some((s) => s.runner === 'onnxruntime-node');

  const html = readFileSync(out, 'utf8');
  assert.ok(!/<script|https?:\/\/(?!www\.w3\.org)/.test(html), 'no scripts and nothing fetched');
  const svgs = svgsOf(html);
  // MACs, bytes, latency; speed bars; per-layer MACs and bytes; loss and accuracy curves.
  assert.equal(svgs.length, 8);
  const [macs, bytes, latency, speed, layerMacs, layerBytes, loss, acc] = svgs;
  assert.equal(count(macs, 'point'), 3);
  assert.equal(count(bytes, 'point'), 3);
  assert.equal(count(latency, 'point'), ort ? 4 : 3); // onnxruntime-node on the dense model when installed
  assert.equal(count(speed, 'bar'), (ort ? 4 : 3) * 2);
  assert.equal(count(layerMacs, 'bar'), 3 * 4);
  assert.equal(count(layerBytes, 'bar'), 3 * 4);
  // The fine-tuned model's curve: training points every few steps and one test point per epoch.
  for (const svg of [loss, acc]) {
    assert.equal(count(svg, 'line mark'), 2, 'train and test lines');
    assert.ok(count(svg, 'point') >= 4, `points ${count(svg, 'point')}`);
  }
  assert.ok(html.includes('Accuracy against MACs per image') && html.includes('Fine-tuning loss'));

  const browser = await launch();
  try {
    const shot = await screenshotHtml(browser, out, join(dir, 'report.png'));
    assert.deepEqual(shot.errors, []);
    assert.equal(shot.svgs, 8);
    assert.ok(shot.height > 2000, `page height ${shot.height}`);
    for (const svg of svgs) {
      const px = await renderSvgInChromium(browser, svg);
      assert.ok(px.width > 300 && px.inked > 2000 && px.colours >= 3, JSON.stringify(px));
    }
  } finally {
    await browser.close();
  }
});

test('renderReport: a file with per-epoch figures only (written before curves were recorded) still gets its curves', async () => {
  const { renderReport } = await import('../src/app/report.js');
  const html = await renderReport({
    title: 't', subtitle: 's', dataset: null, speedNote: null, date: '2026-01-01', machine: { cpu: 'c', cores: 1, memGiB: 1, node: 'v20', platform: 'p' },
    models: [{
      name: 'old', path: null, kind: 'lut-nn', testAccuracy: 0.9, testLoss: 0.3, testImages: 10, evaluatedOn: 'runtime', macs: 1e6, bytes: 1024,
      layers: [{ name: 'fc1', type: 'LutLinear', macs: 1e6, bytes: 1024 }], speed: [], note: '',
      training: trainingFromMeta({ format: 'lutnn-model', version: 2, graph: { inputs: [], outputs: [], nodes: [] } as never, info: { finetune: { epochs: [
        { epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, testLoss: 0.4, testAccuracy: 0.85 },
        { epoch: 2, trainLoss: 0.4, trainAccuracy: 0.85, testLoss: 0.35, testAccuracy: 0.88 },
      ] } } }),
    }],
  });
  const svgs = svgsOf(html);
  assert.equal(svgs.length, 6); // MACs, bytes, layer MACs, layer bytes, loss, accuracy (no speed: no latency charts)
  for (const svg of svgs.slice(4)) {
    assert.equal(count(svg, 'line mark'), 2);
    assert.equal(count(svg, 'point'), 4);
  }
  assert.ok(html.includes('old (train, per epoch)') && html.includes('old (test, per epoch)'));
});

test('lutnn report: a model the runtime cannot run (quantized layers, today) is evaluated on the engine and not timed; the dense model still is', () => {
  const q = join(dir, 'q.safetensors');
  const qr = spawnSync(process.execPath, [...cli, 'quantize', densePath, '--out', q, '--data-dir', dataDir, '--calib', '128', '--no-eval', '--quiet'], { encoding: 'utf8' });
  assert.equal(qr.status, 0, qr.stderr);
  const r = spawnSync(process.execPath, [...cli, 'report', q, '--dense', densePath, '--data-dir', dataDir, '--out', join(dir, 'q.html'),
    '--batch', '1', '--threads', '1', '--repeats', '1', '--warmup', '0', '--no-baselines', '--json', '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { models: { name: string; kind: string; evaluatedOn: string; testAccuracy: number; runtimeRefused: string | null; speed: { runner: string }[]; note: string }[] };
  const [dense, qm] = j.models;
  assert.equal(qm.kind, 'quantized');
  assert.ok(qm.testAccuracy > 0.5);
  if (qm.evaluatedOn === 'engine') {
    // The runtime has no QConv/QLinear steps (as of this writing).
    assert.match(qm.runtimeRefused!, /QConv|QLinear/);
    assert.match(qm.note, /on the training engine, not timed/);
    assert.deepEqual(qm.speed, []);
  } else {
    // Once the runtime runs quantized layers, the model is timed like any other.
    assert.equal(qm.runtimeRefused, null);
    assert.deepEqual(qm.speed.map((s) => s.runner), ['lutnn']);
  }
  assert.equal(dense.evaluatedOn, 'runtime');
  assert.equal(dense.runtimeRefused, null);
  assert.deepEqual(dense.speed.map((s) => s.runner), ['lutnn']);
});
