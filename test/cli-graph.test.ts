// The CLI on a residual graph model (not a chain): info, convert with globs, finetune, eval (engine and runtime), compare and export end to end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader } from '../src/data/loader.js';
import { saveModel } from '../src/io/model-file.js';
import { BasicBlock } from '../src/nn/blocks.js';
import { Conv2d, Linear, Module, BatchNorm2d } from '../src/nn/index.js';
import { lowerModule } from '../src/nn/lower.js';
import { subPath, type OpSink, type Value } from '../src/graph/builder.js';
import { Adam } from '../src/optim/index.js';
import type { BaseHyper, Optimizer } from '../src/optim/optimizer.js';
import { constant } from '../src/optim/schedule.js';
import { Rng } from '../src/tensor/rng.js';
import { fit } from '../src/train/fit.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(1024, 1), bandDataset(256, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-graph-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8' });

/** stem conv (stride 2) + BN + ReLU, one residual block with a downsample shortcut, GAP, Linear. */
class TinyResNet extends Module {
  constructor(rng: Rng) {
    super();
    this.registerModule('stem', new Conv2d(1, 8, 3, { stride: 2, padding: 1, bias: false, rng }));
    this.registerModule('bn', new BatchNorm2d(8));
    this.registerModule('block', new BasicBlock(8, 16, 2, { rng }));
    this.registerModule('fc', new Linear(16, 10, { rng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    let h = g.op('Relu', [this.lowerChild(g, 'bn', this.lowerChild(g, 'stem', x, path), path)], {}, subPath(path, 'relu'))[0];
    h = this.lowerChild(g, 'block', h, path); // [N, 16, 7, 7]
    return this.lowerChild(g, 'fc', g.op('GlobalAveragePool', [h], {}, subPath(path, 'pool'))[0], path);
  }
}

const dense = join(dir, 'dense.safetensors');

test('a residual graph model through info, convert (globs), finetune, eval, compare and export', () => {
  const rng = new Rng(3);
  const model = lowerModule(new TinyResNet(rng), { inputShape: [1, 28, 28] });
  const train = bandDataset(1024, 1);
  fit({
    model, optimizer: new Adam(model.parameters(), { lr: 3e-3 }) as unknown as Optimizer<BaseHyper>, schedule: constant({ baseLr: 3e-3 }),
    train: new DataLoader(train, { batchSize: 64, seed: 1 }), epochs: 2,
  });
  saveModel(dense, model, { dataset: { name: 'fashion-mnist', mean: 0.286, std: 0.353, inputShape: [1, 28, 28] } });

  const info = run('info', dense, '--json');
  assert.equal(info.status, 0, info.stderr);
  const ij = JSON.parse(info.stdout);
  assert.equal(ij.arch.types.Add, 1);
  assert.ok(ij.total.peakActivationBytes > 0);

  const lut = join(dir, 'lut.safetensors');
  const c = run('convert', dense, '--out', lut, '--data-dir', dataDir, '--calib', '256', '--layers', 'block.*,-block.downsample.*', '--threads', '1', '--quiet', '--json');
  assert.equal(c.status, 0, c.stderr);
  const cj = JSON.parse(c.stdout);
  assert.deepEqual(cj.layers.map((l: { name: string }) => l.name), ['block.conv1', 'block.conv2']);
  assert.ok(cj.testAccuracy > 0.3, `k-means accuracy ${cj.testAccuracy}`);

  const ft = join(dir, 'ft.safetensors');
  const f = run('finetune', lut, '--out', ft, '--data-dir', dataDir, '--epochs', '1', '--batch-size', '64', '--threads', '1', '--quiet', '--json', '--distill', dense);
  assert.equal(f.status, 0, f.stderr);
  const fj = JSON.parse(f.stdout);
  assert.deepEqual(Object.keys(fj.temperatures), ['block.conv1', 'block.conv2']);

  const e = run('eval', ft, '--data-dir', dataDir, '--quiet', '--json');
  assert.equal(e.status, 0, e.stderr);
  assert.equal(JSON.parse(e.stdout).testAccuracy, fj.testAccuracy);
  // The runtime runs the residual graph (BN folded, add+relu fused; f32 encoder: the engine's codes): same accuracy.
  const er = run('eval', ft, '--data-dir', dataDir, '--quiet', '--runtime', '--json');
  assert.equal(er.status, 0, er.stderr);
  const erj = JSON.parse(er.stdout);
  assert.equal(erj.evaluatedOn, 'runtime');
  assert.equal(erj.testAccuracy, fj.testAccuracy);

  const cmp = run('compare', dense, '--data-dir', dataDir, '--epochs', '0.25', '--metrics', 'l2', '--calib', '128', '--no-maddness', '--limit-train', '256', '--limit-test', '128', '--threads', '1', '--quiet', '--json');
  assert.equal(cmp.status, 0, cmp.stderr);
  const rows = JSON.parse(cmp.stdout).rows as { method: string; evaluatedOn: string; testAccuracy: number }[];
  assert.deepEqual(rows.map((r) => r.method), ['dense', 'lutnn-kmeans', 'lutnn-finetuned']);
  assert.deepEqual(rows.map((r) => r.evaluatedOn), ['runtime', 'runtime', 'runtime'], 'the runtime runs residual graphs');

  const onnx = join(dir, 'ft.onnx');
  const x = run('export', ft, '--onnx', onnx, '--json');
  assert.equal(x.status, 0, x.stderr);
  const xj = JSON.parse(x.stdout);
  assert.deepEqual(xj.lutLayers.map((l: { name: string }) => l.name), ['block.conv1', 'block.conv2']);
  assert.equal(xj.bytes, statSync(onnx).size);
});
