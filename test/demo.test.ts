// lutnn demo, shortened: the shipped fine-tuned LUT model's row, the speed section (dense vs LUT in lutnn's runtime,
// onnxruntime-node beside them) and the report, in one run; --no-report writes nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader } from '../src/data/loader.js';
import { convertModel } from '../src/lut/convert.js';
import { loadModel, saveModel } from '../src/io/model-file.js';
import { bandDataset } from './helpers.js';
import { noChromium, launch, screenshotHtml } from './chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'lutnn-demo-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
// A quick stand-in for models/fmnist-cnn-lut.safetensors: the shipped dense model converted on 128 synthetic images.
const shipped = join(dir, 'shipped-lut.safetensors');
const short = ['--limit-test', '300', '--limit-train', '256', '--calib', '64', '--max-rows', '1024', '--iters', '2', '--no-refit', '--threads', '1'];

function makeShipped(): void {
  const { model, meta } = loadModel('models/fmnist-cnn.safetensors');
  const calib = new DataLoader(bandDataset(128, 5), { batchSize: 64, shuffle: false, mean: meta.dataset?.mean, std: meta.dataset?.std });
  const { model: lut } = convertModel(model, [...calib.epoch(0)].map((b) => b.x), { k: 16, kmeansIters: 2, maxRows: 1024, refit: false, seed: 0 });
  saveModel(shipped, lut, { dataset: meta.dataset, info: { conversion: { metric: 'l2' } } });
}

interface DemoJson {
  command: string;
  rows: { method: string; file?: string; testAccuracy: number; macs: number }[];
  models: { name: string; kind: string; testImages: number; speed: { runner: string; threads: number; batch: number; medianMs: number }[]; training: { curve: unknown[] }[] }[];
  speed: { rows: unknown[]; baselines: Record<string, { available: boolean }> } | null;
  speedModel: string | null;
  report: string | null;
}

test('demo: the shipped LUT row, speed at batch 1 and 64 on 1 and all threads, and the report', { skip: noChromium }, async () => {
  makeShipped();
  const report = join(dir, 'demo.html');
  const r = spawnSync(process.execPath, [...cli, 'demo', ...short, '--epochs', '1', '--shipped-lut', shipped, '--speed-repeats', '1', '--report', report, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as DemoJson;
  assert.equal(j.command, 'demo');
  assert.deepEqual(j.rows.map((x) => x.method), ['dense', 'lutnn-kmeans', 'lutnn-finetuned', 'lutnn-shipped']);
  assert.equal(j.rows[3].file, shipped);
  assert.ok(j.rows[3].testAccuracy > 0.1 && j.rows[3].macs < j.rows[0].macs);
  assert.deepEqual(j.models.map((m) => m.name), ['dense fp32', 'LUT k-means l2', 'LUT fine-tuned l2 (live)', 'LUT fine-tuned l2 (shipped)']);
  for (const m of j.models) assert.equal(m.testImages, 300);
  // The live fine-tune's curve (2 steps of 128 images: one point each).
  assert.equal(j.models[2].training.length, 1);
  assert.equal(j.models[2].training[0].curve.length, 2);
  // Speed: dense and the shipped LUT model timed side by side; the live rows are not timed.
  assert.equal(j.speedModel, 'LUT fine-tuned l2 (shipped)');
  const cells = (m: DemoJson['models'][number], runner: string): string[] => m.speed.filter((s) => s.runner === runner).map((s) => `${s.batch}x${s.threads}`).sort();
  const threads = j.models[0].speed.map((s) => s.threads);
  const all = Math.max(...threads);
  const want = [...new Set(['1x1', `1x${all}`, '64x1', `64x${all}`])].sort();
  assert.deepEqual(cells(j.models[0], 'lutnn'), want);
  assert.deepEqual(cells(j.models[3], 'lutnn'), want);
  assert.deepEqual(j.models[1].speed, []);
  assert.deepEqual(j.models[2].speed, []);
  if (j.speed!.baselines['onnxruntime-node'].available) assert.deepEqual(cells(j.models[0], 'onnxruntime-node'), want);
  assert.deepEqual(cells(j.models[3], 'onnxruntime-node'), [], 'onnxruntime does not run the LUT model\'s ONNX graph (seconds per batch)');
  // The report: written, and Chromium opens it without an error.
  assert.equal(j.report, report);
  const html = readFileSync(report, 'utf8');
  assert.equal((html.match(/<svg/g) ?? []).length, 8);
  assert.ok(html.includes('LUT fine-tuned l2 (shipped)'));
  const browser = await launch();
  try {
    const shot = await screenshotHtml(browser, report, join(dir, 'demo.png'));
    assert.deepEqual(shot.errors, []);
    assert.equal(shot.svgs, 8);
  } finally {
    await browser.close();
  }
});

test('demo --no-report --no-speed: the table with the shipped row, no speed columns, no file', () => {
  if (!existsSync(shipped)) makeShipped();
  const report = join(dir, 'not-written.html');
  const r = spawnSync(process.execPath, [...cli, 'demo', ...short, '--epochs', '0', '--shipped-lut', shipped, '--report', report, '--no-report', '--no-speed', '--quiet'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(report), 'no report written');
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^model\s+test acc\s+vs dense\s+MACs\/img\s+bytes\s+note$/);
  assert.ok(lines.some((l) => /^LUT fine-tuned l2 \(shipped\)\s+\d+\.\d\d%/.test(l)), r.stdout);
  assert.ok(!r.stdout.includes('report:') && !r.stdout.includes('speed:'), r.stdout);
});
