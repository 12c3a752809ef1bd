// `lutnn export MODEL --deploy OUT` end to end: the file and its --json figures, `lutnn eval` on it (runtime, the
// training file's accuracy), the commands that need the training file refusing it, usage errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../src/io/model-file.js';
import { convertStructure } from '../src/lut/convert.js';
import { createModel } from '../src/nn/zoo.js';
import { Rng } from '../src/tensor/rng.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(64, 1), bandDataset(200, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-deploy-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8' });
const dataset = { name: 'fashion-mnist', mean: 0.2860, std: 0.3530, classes: 10, inputShape: [1, 28, 28] };

test('lutnn export --deploy: the file, its figures, eval on it, and the commands that refuse it', () => {
  const lut = convertStructure(createModel('fmnist-cnn', { rng: new Rng(1) }), { seed: 2 }).model.eval();
  const training = join(dir, 'lut.safetensors');
  saveModel(training, lut, { dataset });
  const out = join(dir, 'lut.lutnn.safetensors');
  const r = run('export', training, '--deploy', out, '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown> & { lutLayers: { name: string; tableBytes: number; ncodebooks: number; k: number; outFeatures: number }[]; droppedTensors: string[]; foldedBatchNorms: { batchNorm: string; conv: string }[] };
  assert.equal(j.command, 'export');
  assert.equal(j.format, 'deploy');
  assert.equal(j.bytes, statSync(out).size);
  assert.equal(j.sourceBytes, statSync(training).size);
  assert.ok((j.bytes as number) < 0.5 * (j.sourceBytes as number), `deploy ${j.bytes} B vs training ${j.sourceBytes} B`);
  assert.deepEqual(j.lutLayers.map((l) => l.name), ['conv2', 'conv3', 'conv4', 'fc1']);
  for (const l of j.lutLayers) assert.equal(l.tableBytes, l.ncodebooks * l.k * l.outFeatures);
  assert.deepEqual(j.foldedBatchNorms, [{ batchNorm: 'bn1', conv: 'conv1' }]);
  for (const k of ['conv2.weight', 'conv2.theta', 'fc1.weight', 'fc1.theta', 'bn1.running_mean', 'bn2.num_batches_tracked']) assert.ok(j.droppedTensors.includes(k), k);
  assert.deepEqual(j.plannedInputShape, [1, 28, 28]);

  // eval runs a deployment file on the runtime, with the training file's runtime accuracy and loss.
  const ev = (f: string, ...extra: string[]): Record<string, unknown> => {
    const e = run('eval', f, '--data-dir', dataDir, '--json', ...extra);
    assert.equal(e.status, 0, e.stderr);
    return JSON.parse(e.stdout) as Record<string, unknown>;
  };
  const d = ev(out);
  const t = ev(training, '--runtime');
  assert.equal(d.evaluatedOn, 'runtime');
  assert.equal(d.modelFile, 'deploy');
  assert.equal(t.modelFile, 'training');
  assert.equal(d.n, 200);
  assert.equal(d.testAccuracy, t.testAccuracy);
  assert.equal(d.testLoss, t.testLoss);
  assert.deepEqual(d.normalization, { mean: dataset.mean, std: dataset.std });

  // What needs trained weights refuses it, saying what it is.
  for (const args of [['export', out, '--onnx', join(dir, 'x.onnx')], ['info', out], ['finetune', out, '--out', join(dir, 'ft.safetensors')]]) {
    const e = run(...args);
    assert.equal(e.status, 1, `${args.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, /a lutnn deployment file, for inference only \(int8 LUT tables, no trained weights\): run it with lutnn\.load or lutnn eval/);
  }
});

test('lutnn export --deploy: usage errors exit 2; a float-table LUT layer or an op the runtime lacks exits 1, writing nothing', () => {
  const lut = convertStructure(createModel('fmnist-cnn', { rng: new Rng(3) }), { seed: 4, include: ['conv2'] }).model.eval();
  const training = join(dir, 'one.safetensors');
  saveModel(training, lut, { dataset });
  const out = join(dir, 'one.lutnn.safetensors');
  const usage = (...args: string[]): string => {
    const r = run('export', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    return r.stderr;
  };
  assert.match(usage(training), /^lutnn: give --onnx <file> \(an ONNX model\) or --deploy <file> \(a deployment file for lutnn's runtime\) \(see lutnn export --help\)\n$/);
  assert.match(usage(training, '--deploy', out, '--onnx', join(dir, 'y.onnx')), /cannot be used with option/);
  assert.match(usage(training, '--deploy', out, '--opset', '13'), /option '--opset <n>' cannot be used with option '--deploy <file>'/);
  const same = run('export', training, '--deploy', training);
  assert.equal(same.status, 1);
  assert.match(same.stderr, /is the input model file; choose another output path/);

  // A float-table LUT layer has no int8 table to ship.
  const g = lut.graph.nodes.find((n) => n.name === 'conv2')!;
  g.attrs = { ...g.attrs, quantize: false };
  const float = join(dir, 'float.safetensors');
  saveModel(float, lut, { dataset });
  const e = run('export', float, '--deploy', out);
  assert.equal(e.status, 1);
  assert.match(e.stderr, /LutConv 'conv2' has quantize = false \(float table\); a deployment file holds int8 tables/);
  assert.throws(() => statSync(out), 'nothing written');

  // An op without a runtime step: the file would not load, so it is not written.
  g.attrs = { ...g.attrs, quantize: true };
  lut.graph.nodes.find((n) => n.name === 'relu3')!.op = 'LeakyRelu';
  const sigmoid = join(dir, 'sigmoid.safetensors');
  saveModel(sigmoid, lut, { dataset });
  const s = run('export', sigmoid, '--deploy', out);
  assert.equal(s.status, 1);
  assert.match(s.stderr, /^lutnn: export: .*sigmoid\.safetensors: lutnn's runtime cannot run this model, so it has no deployment file: lutnn\.load: node 'relu3' \(LeakyRelu\) is an op the runtime has no step for yet/);
  assert.throws(() => statSync(out), 'nothing written');
});
