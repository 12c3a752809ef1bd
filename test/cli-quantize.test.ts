// The quantization CLI end to end on the shipped fmnist-cnn (small IDX data for speed): quantize, eval, finetune (QAT), export and their errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/io/model-file.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(256, 1), bandDataset(128, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-quant-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8' });

test('lutnn quantize → eval → finetune (quantization-aware) → export, and the errors', () => {
  const q = join(dir, 'q.safetensors');
  const r = run('quantize', 'models/fmnist-cnn.safetensors', '--out', q, '--calib', '64', '--eval-dense', '--data-dir', dataDir, '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.command, 'quantize');
  assert.deepEqual([j.actBits, j.weightBits, j.observer, j.percentile, j.calib, j.evaluatedOn, j.n], [8, 9, 'mse', null, 64, 'engine', 128]);
  assert.deepEqual(j.layers.map((l: { name: string; op: string }) => [l.name, l.op]), [
    ['conv1', 'QConv'], ['conv2', 'QConv'], ['conv3', 'QConv'], ['conv4', 'QConv'], ['fc1', 'QLinear'], ['fc2', 'QLinear'],
  ]);
  for (const l of j.layers) assert.ok(l.actScale > 0 && l.clip <= l.absMax && l.values > 0, JSON.stringify(l));
  assert.equal(j.denseAccuracySource, 'measured');
  assert.ok(Math.abs(j.accuracyDrop - (j.denseTestAccuracy - j.testAccuracy)) < 1e-12);
  const { model, meta } = loadModel(q);
  assert.equal(model.info.nodes.filter((n) => n.node.op.startsWith('Q')).length, 6);
  assert.equal((meta.info?.quantization as { observer: string }).observer, 'mse');

  // The engine evaluates the file to the same accuracy; so does the runtime (its integer steps, BN folded into the
  // output scales: an image may flip only if its logits tie within the folding's rounding).
  const ev = run('eval', q, '--data-dir', dataDir, '--json');
  assert.equal(ev.status, 0, ev.stderr);
  assert.equal(JSON.parse(ev.stdout).testAccuracy, j.testAccuracy);
  const rt = run('eval', q, '--runtime', '--data-dir', dataDir, '--json');
  assert.equal(rt.status, 0, rt.stderr);
  const rj = JSON.parse(rt.stdout);
  assert.equal(rj.evaluatedOn, 'runtime');
  assert.ok(Math.abs(rj.testAccuracy - j.testAccuracy) <= 1 / j.n, `runtime ${rj.testAccuracy} vs engine ${j.testAccuracy}`);
  assert.ok(Math.abs(rj.testLoss - JSON.parse(ev.stdout).testLoss) < 1e-3, `loss ${rj.testLoss}`);

  // Quantization-aware fine-tuning: every parameter trains; the result is still a quantized model.
  const ft = join(dir, 'q-ft.safetensors');
  const f = run('finetune', q, '--out', ft, '--epochs', '1', '--batch-size', '64', '--limit-train', '128', '--data-dir', dataDir, '--json', '--quiet');
  assert.equal(f.status, 0, f.stderr);
  const fj = JSON.parse(f.stdout);
  assert.deepEqual(fj.temperatures, {});
  assert.equal(fj.steps, 2);
  const tuned = loadModel(ft).model;
  assert.equal(tuned.info.nodes.filter((n) => n.node.op === 'QConv').length, 4);
  assert.notDeepEqual([...tuned.weight('conv2.weight').f32.slice(0, 8)], [...model.weight('conv2.weight').f32.slice(0, 8)]);
  assert.equal(tuned.weight('conv2.act_scale').f32[0], model.weight('conv2.act_scale').f32[0]);

  // ONNX export in QDQ form.
  const onnx = join(dir, 'q.onnx');
  const ex = run('export', q, '--onnx', onnx, '--json');
  assert.equal(ex.status, 0, ex.stderr);
  assert.equal(JSON.parse(ex.stdout).ops.QuantizeLinear, 6);

  // Errors: exit 1 for a bad value the library rejects or a missing file, 2 for usage; nothing on stdout; no file left.
  const before = readdirSync(dir).sort();
  const errors: [string[], number, RegExp][] = [
    [['quantize', 'models/fmnist-cnn.safetensors', '--out', join(dir, 'x.safetensors'), '--act-bits', '9', '--data-dir', dataDir], 1, /quantize: actBits must be an integer in \[2, 8\], got 9/],
    [['quantize', 'models/fmnist-cnn.safetensors', '--out', join(dir, 'x.safetensors'), '--layers', 'conv9', '--data-dir', dataDir], 1, /--layers 'conv9' names no Conv or Linear node/],
    [['quantize', 'models/fmnist-cnn.safetensors', '--out', join(dir, 'x.safetensors'), '--observer', 'minmax'], 2, /--observer must be one of max, percentile, mse/],
    [['quantize', join(dir, 'missing.safetensors'), '--out', join(dir, 'x.safetensors')], 1, /missing\.safetensors/],
    [['finetune', 'models/fmnist-cnn.safetensors', '--out', join(dir, 'x.safetensors'), '--data-dir', dataDir], 1, /has no LUT-NN or quantized layers/],
  ];
  for (const [args, status, re] of errors) {
    const e = run(...args);
    assert.equal(e.status, status, `${args.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, re);
    assert.equal(e.stdout, '');
  }
  assert.deepEqual(readdirSync(dir).sort(), before);
  assert.ok(!existsSync(join(dir, 'x.safetensors')));
});
