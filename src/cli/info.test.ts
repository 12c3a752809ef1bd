// Tests of `lutnn info`: JSON and text output on saved dense and LUT model files, zoo names, --compare, bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelCost, type LayerCost } from '../graph/cost.js';
import type { GraphModel } from '../graph/model.js';
import { saveModel } from '../io/model-file.js';
import { MaddnessLinear } from '../lut/maddness-modules.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { Conv2d, Linear, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import type { Module } from '../nn/module.js';
import { createModel, createModule } from '../nn/zoo.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';

/** fmnist-cnn with conv2–4 (V=9) and fc1 (V=16) as LUT layers (K=16, random centroids) and fc2 as MADDNESS (V=16). */
function lutFmnist(rng: Rng): { dense: GraphModel; lut: GraphModel } {
  const dense = createModule('fmnist-cnn', { rng });
  const entries = dense.namedChildren().map(([n, m]): [string, Module] => {
    if (n === 'fc2') return [n, new MaddnessLinear(256, 10, 16)];
    if (m instanceof Conv2d && n !== 'conv1') return [n, LutConv2d.fromDense(m, randn([m.inChannels, 16, 9], 1, rng))];
    if (m instanceof Linear && n === 'fc1') return [n, LutLinear.fromDense(m, randn([3136 / 16, 16, 16], 1, rng))];
    return [n, m];
  });
  const inputShape = [1, 28, 28];
  return { dense: lowerModule(dense, { inputShape }), lut: lowerModule(Sequential.named(entries), { inputShape }) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'info', ...args], { encoding: 'utf8' });

test('lutnn info FILE --json (and the text table) on saved dense and LUT model files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-info-'));
  try {
    const { dense, lut } = lutFmnist(new Rng(11));
    const densePath = join(dir, 'dense.safetensors');
    const lutPath = join(dir, 'lut.safetensors');
    const dataset = { name: 'fashion-mnist', mean: 0.286, std: 0.353, classes: 10, inputShape: [1, 28, 28] };
    saveModel(densePath, dense, { dataset, info: { testAccuracy: 0.9123 } });
    saveModel(lutPath, lut, { dataset, info: { testAccuracy: 0.875 } });
    const r = run(lutPath, '--json', '--batch', '4', '--compare', densePath);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Json;
    assert.equal(out.command, 'info');
    assert.equal(out.file, lutPath);
    assert.equal(out.source, 'file');
    assert.equal(out.batch, 4);
    assert.deepEqual(out.inputShape, [1, 28, 28]);
    assert.equal(out.arch.root, 'graph');
    assert.equal(out.arch.nodes, 18);
    assert.equal(out.arch.modules, 18);
    assert.equal(out.arch.leafLayers, 18);
    assert.equal(out.arch.types.LutConv, 3);
    assert.equal(out.arch.types.LutLinear, 1);
    assert.equal(out.arch.types.MaddnessLinear, 1);
    assert.equal(out.arch.types.Conv, 1);
    assert.equal(out.arch.types.BatchNorm, 4);
    assert.equal(out.arch.params, lut.numParameters());
    assert.deepEqual(out.arch.inputs, [{ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28] }]);
    assert.deepEqual(out.arch.outputs, [{ name: 'fc2', dtype: 'float32', shape: ['N', 10] }]);
    assert.equal(out.layers.length, 18);
    const conv2 = out.layers.find((l: LayerCost) => l.name === 'conv2') as LayerCost;
    assert.equal(conv2.type, 'LutConv');
    assert.equal(conv2.encodeMacs, 784 * 288 * 16);
    assert.equal(conv2.workspaceBytes, 784 * 4 * 32);
    assert.equal(conv2.lut?.k, 16);
    assert.equal(conv2.lut?.subvecLen, 9);
    assert.ok(Math.abs((conv2.lut?.temperature ?? 0) - 0.065) < 1e-6);
    assert.deepEqual(out.total, modelCost(lut, null, { batch: 4 }).total);
    assert.equal(out.meta.accuracy, 0.875);
    assert.equal(out.meta.dataset.name, 'fashion-mnist');
    const fc2 = out.layers.find((l: LayerCost) => l.name === 'fc2') as LayerCost;
    assert.deepEqual([fc2.kind, fc2.comparisons, fc2.lookupAdds], ['maddness', 16 * 4, 16 * 10]);
    assert.deepEqual(out.comparison.total.replaced.names, ['conv2', 'conv3', 'conv4', 'fc1', 'fc2']);
    assert.equal(out.comparison.denseFile, densePath);
    assert.ok(out.comparison.total.macRatio > 1);
    // --compare with a zoo name: the same dense graph with other weights, so the same MAC ratios.
    const z = run(lutPath, '--json', '--compare', 'fmnist-cnn');
    assert.equal(z.status, 0, z.stderr);
    const zc = (JSON.parse(z.stdout) as Json).comparison;
    assert.equal(zc.denseFile, 'fmnist-cnn');
    assert.equal(zc.total.macRatio, out.comparison.total.macRatio);
    const t = run(densePath);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /graph of 18 nodes, 871,018 parameters/);
    assert.match(t.stdout, /19,094,528/);
    assert.match(t.stdout, /conv2 +Conv +\[32,28,28\] +7\.23M/);
    assert.match(t.stdout, /test accuracy 91\.23%/);
    assert.match(t.stdout, /peak activations at batch 1: .* \(at conv2:/);
    const bad = run(join(dir, 'missing.safetensors'), '--json');
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /missing\.safetensors/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lutnn info ZOO_NAME: fmnist-cnn (--json, --input-shape) and mlp (text)', () => {
  const r = run('fmnist-cnn', '--json', '--batch', '2');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Json;
  assert.equal(out.file, 'fmnist-cnn');
  assert.equal(out.source, 'zoo');
  assert.deepEqual(out.inputShape, [1, 28, 28]);
  assert.equal(out.total.macs, 19_094_528);
  assert.equal(out.total.params, 871_018);
  assert.deepEqual(out.total, modelCost(createModel('fmnist-cnn'), null, { batch: 2 }).total);
  assert.deepEqual(out.meta, { dataset: null, accuracy: null, info: null });
  assert.equal(out.comparison, null);
  // The shipped model file (version 1, converted to the graph on load) costs the same as the zoo graph.
  const shipped = run('models/fmnist-cnn.safetensors', '--json', '--batch', '2');
  assert.equal(shipped.status, 0, shipped.stderr);
  const so = JSON.parse(shipped.stdout) as Json;
  assert.equal(so.source, 'file');
  assert.deepEqual(so.total, out.total);
  assert.deepEqual(so.layers.map((l: LayerCost) => l.name), out.layers.map((l: LayerCost) => l.name));
  // mlp flattens its input: another per-sample shape with 784 elements gives the same MACs.
  const f = run('mlp', '--json', '--input-shape', '784');
  assert.equal(f.status, 0, f.stderr);
  const fo = JSON.parse(f.stdout) as Json;
  assert.deepEqual(fo.inputShape, [784]);
  assert.equal(fo.total.macs, 784 * 128 + 128 * 10);
  const m = run('mlp');
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stdout, /^mlp \(zoo, fresh weights\): graph of 4 nodes, 101,770 parameters/);
  assert.match(m.stdout, /fc1 +Linear +\[128\] +100\.4K/);
  const bad = run('mlp', '--json', '--input-shape', '1,28');
  assert.equal(bad.status, 1);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /modelCost: input \[1,28\]/);
  const unknown = run('no-such-model');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no file 'no-such-model' and no zoo model of that name \(zoo: fmnist-cnn, mlp/);
});
