// Tests of the cost accounting (dense fmnist-cnn figures, LUT layer counts and bytes, ratios) and of `lutnn info`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, ShapeError } from '../errors.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { createModel } from '../nn/zoo.js';
import { saveModel } from '../io/model-file.js';
import { randn, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { compareCost, lutMacRatio, modelCost, registerLayerCost, type LayerCost, type ModelCost } from './cost.js';
import { MaddnessConv2d, MaddnessLinear } from './maddness-modules.js';
import { LutConv2d, LutLinear } from './modules.js';

const layer = (c: ModelCost, name: string): LayerCost => {
  const l = c.layers.find((x) => x.name === name);
  assert.ok(l, `layer ${name} missing`);
  return l;
};

/** fmnist-cnn with conv2–4 (V=9) and fc1 (V=16) replaced by LUT layers (K=16), random centroids; fc2 optionally by MADDNESS (V=16). */
function lutFmnist(rng: Rng, maddnessFc2 = false): { dense: Module; lut: Module } {
  const dense = createModel('fmnist-cnn', { rng });
  const entries = dense.namedChildren().map(([n, m]): [string, Module] => {
    if (maddnessFc2 && n === 'fc2') return [n, new MaddnessLinear(256, 10, 16)];
    if (m instanceof Conv2d && n !== 'conv1') return [n, LutConv2d.fromDense(m, randn([m.inChannels, 16, 9], 1, rng))];
    if (m instanceof Linear && n === 'fc1') return [n, LutLinear.fromDense(m, randn([3136 / 16, 16, 16], 1, rng))];
    return [n, m];
  });
  return { dense, lut: Sequential.named(entries) };
}

test('fmnist-cnn dense: exact MACs per layer and in total (≈19.1M), 871,018 parameters, shapes, bytes, peak', () => {
  const model = createModel('fmnist-cnn', { rng: new Rng(0) });
  const c = modelCost(model, [1, 28, 28], { batch: 1 });
  // conv MACs = outH·outW·Cout·Cin·3·3, linear in·out.
  const want: Record<string, number> = {
    conv1: 28 * 28 * 32 * 1 * 9,
    conv2: 28 * 28 * 32 * 32 * 9,
    conv3: 14 * 14 * 64 * 32 * 9,
    conv4: 14 * 14 * 64 * 64 * 9,
    fc1: 3136 * 256,
    fc2: 256 * 10,
  };
  for (const [n, macs] of Object.entries(want)) assert.equal(layer(c, n).macs, macs, n);
  const total = Object.values(want).reduce((a, b) => a + b, 0);
  assert.equal(total, 19_094_528);
  assert.equal(c.total.macs, total);
  assert.equal(c.total.denseMacs, total);
  assert.equal(c.total.lutMacs, 0);
  assert.ok(Math.abs(c.total.macs - 19.1e6) < 0.1e6);
  assert.equal(c.total.params, 871_018);
  assert.equal(c.total.params, model.numParameters());
  assert.equal(c.total.paramBytes, 4 * 871_018);
  assert.deepEqual(c.layers.map((l) => l.name), model.namedChildren().map(([n]) => n));
  const shapes: Record<string, number[]> = {
    conv1: [1, 32, 28, 28], pool1: [1, 32, 14, 14], conv3: [1, 64, 14, 14], pool2: [1, 64, 7, 7], flatten: [1, 3136], fc1: [1, 256], fc2: [1, 10],
  };
  for (const [n, s] of Object.entries(shapes)) assert.deepEqual(layer(c, n).outputShape, s, n);
  assert.deepEqual(layer(c, 'conv1').inputShape, [1, 1, 28, 28]);
  assert.deepEqual(c.total.outputShape, [10]);
  // BN: γ,β as parameters, running stats + int32 counter as buffers, folded into the conv before it.
  const bn1 = layer(c, 'bn1');
  assert.equal(bn1.paramBytes, 8 * 32);
  assert.equal(bn1.bufferBytes, 8 * 32 + 4);
  assert.equal(bn1.foldedInto, 'conv1');
  assert.equal(bn1.deployBytes, 0);
  assert.equal(bn1.macs, 0);
  assert.equal(bn1.elementOps, 2 * 32 * 28 * 28);
  assert.equal(layer(c, 'conv2').bitsPerActivation, 32);
  assert.equal(layer(c, 'relu1').bitsPerActivation, null);
  // conv2 at batch 1: input and output 32·28·28 floats, im2col rows 784 × 288 floats.
  assert.equal(layer(c, 'conv2').workspaceBytes, 784 * 288 * 4);
  assert.equal(c.total.peakLayer, 'conv2');
  assert.equal(c.total.peakActivationBytes, 2 * 32 * 28 * 28 * 4 + 784 * 288 * 4);
  // Activation bytes scale with the batch; MACs stay per image.
  const c8 = modelCost(model, [1, 28, 28], { batch: 8 });
  assert.equal(c8.total.macs, total);
  assert.equal(c8.total.macsPerBatch, 8 * total);
  assert.equal(c8.total.peakActivationBytes, 8 * c.total.peakActivationBytes);
  assert.equal(layer(c8, 'fc1').activationBytes, 8 * 4 * (3136 + 256));
  // The forward wrappers are gone and the training flags are restored.
  assert.ok(model.modules().every((m) => !Object.prototype.hasOwnProperty.call(m, 'forward')));
  assert.ok(model.modules().every((m) => m.training));
});

test('LUT layers: encode N·D·K, lookups N·C·M, bytes of centroids/table/bias, codes workspace, bits per activation', () => {
  const rng = new Rng(3);
  // conv: Cin 2, Cout 4, 3x3 pad 1 on 6x6 → N = 36 rows, D = 18, V = 9, C = 2, K = 16, M = 4.
  // fc: 4·3·3 = 36 inputs, V = 4 → C = 9, K = 8, M = 5, N = 1.
  const model = Sequential.named([
    ['conv', new LutConv2d({ cin: 2, cout: 4, kernel: 3, padding: 1, rng })],
    ['bn', new BatchNorm2d(4)],
    ['relu', new ReLU()],
    ['pool', new MaxPool2d(2)],
    ['flatten', new Flatten(1)],
    ['fc', new LutLinear({ inFeatures: 36, outFeatures: 5, subvecLen: 4, k: 8, rng })],
  ]);
  const batch = 3;
  const c = modelCost(model, [2, 6, 6], { batch });
  const conv = layer(c, 'conv');
  assert.equal(conv.kind, 'lut');
  assert.equal(conv.encodeMacs, 36 * 18 * 16);
  assert.equal(conv.lookupAdds, 36 * 2 * 4);
  assert.equal(conv.macs, 36 * 18 * 16 + 36 * 2 * 4);
  assert.equal(conv.paramBytes, 4 * 2 * 16 * 9 + 2 * 16 * 4 + 4 + 4 * 4);
  assert.equal(conv.deployBytes, 2 * 16 * 9 + 4 * 2 + 2 * 16 * 4 + 4 + 4 * 4);
  assert.equal(conv.trainingOnlyBytes, 4 * 2 * 9 * 4 + 4);
  assert.equal(conv.params, 2 * 16 * 9 + 2 * 9 * 4 + 4 + 1);
  assert.equal(conv.workspaceBytes, 36 * batch * 2);
  assert.equal(conv.inputBytes, 4 * 2 * 36 * batch);
  assert.equal(conv.outputBytes, 4 * 4 * 36 * batch);
  assert.equal(conv.bitsPerActivation, 4 / 9);
  assert.deepEqual(
    { C: conv.lut?.ncodebooks, K: conv.lut?.k, V: conv.lut?.subvecLen, M: conv.lut?.outDim, N: conv.lut?.rowsPerImage, metric: conv.lut?.metric },
    { C: 2, K: 16, V: 9, M: 4, N: 36, metric: 'l2' },
  );
  assert.ok(Math.abs((conv.lut?.temperature ?? 0) - 0.065) < 1e-9);
  const fc = layer(c, 'fc');
  assert.equal(fc.encodeMacs, 1 * 36 * 8);
  assert.equal(fc.lookupAdds, 1 * 9 * 5);
  assert.equal(fc.paramBytes, 4 * 9 * 8 * 4 + 9 * 8 * 5 + 4 + 4 * 5);
  assert.equal(fc.deployBytes, 9 * 8 * 4 + 4 * 9 + 9 * 8 * 5 + 4 + 4 * 5);
  assert.equal(fc.workspaceBytes, batch * 9);
  assert.equal(fc.bitsPerActivation, 3 / 4);
  assert.equal(layer(c, 'bn').foldedInto, 'conv');
  assert.equal(c.total.lutMacs, conv.macs + fc.macs);
  assert.equal(c.total.macs, c.total.lutMacs);
  assert.equal(c.total.denseMacs, 0);
  assert.equal(c.total.encodeMacs, 36 * 18 * 16 + 36 * 8);
  assert.equal(c.total.lutParamBytes, conv.paramBytes + fc.paramBytes);
  assert.equal(c.total.params, model.numParameters());
  // A float table (quantize off) costs 4 bytes per entry and has no scale.
  const f = modelCost(new LutLinear({ inFeatures: 8, outFeatures: 3, subvecLen: 4, quantize: false, rng }), [8]);
  assert.equal(f.layers[0].name, '');
  assert.equal(f.layers[0].paramBytes, 4 * 2 * 16 * 4 + 4 * 2 * 16 * 3 + 4 * 3);
});

test('LUT vs dense ratio: M/(K + M/V) gives 2.8x at M=64, V=9 and 7x at M=512, V=9; bytes as in the notes', () => {
  assert.equal(lutMacRatio(64, 16, 9).toFixed(1), '2.8');
  assert.equal(lutMacRatio(512, 16, 9).toFixed(0), '7');
  assert.throws(() => lutMacRatio(0, 16, 9), ArgumentError);
  const rng = new Rng(5);
  for (const M of [64, 512]) {
    // Linear with D = 18 (C = 2 codebooks of V = 9) and a 3x3 conv with Cin = 4 (D = 36) on 5x5.
    const lin = new Linear(18, M, { rng });
    const dl = modelCost(Sequential.named([['l', lin]]), [18]);
    const ll = modelCost(Sequential.named([['l', LutLinear.fromDense(lin, randn([2, 16, 9], 1, rng))]]), [18]);
    const cmp = compareCost(dl, ll);
    assert.ok(Math.abs((cmp.layers[0].macRatio ?? 0) - lutMacRatio(M, 16, 9)) < 1e-12, `linear M=${M}`);
    assert.equal(dl.total.macs, 18 * M);
    const conv = new Conv2d(4, M, 3, { padding: 1, rng });
    const dc = modelCost(Sequential.named([['c', conv]]), [4, 5, 5]);
    const lc = modelCost(Sequential.named([['c', LutConv2d.fromDense(conv, randn([4, 16, 9], 1, rng))]]), [4, 5, 5]);
    const cc = compareCost(dc, lc);
    assert.ok(Math.abs((cc.total.macRatio ?? 0) - lutMacRatio(M, 16, 9)) < 1e-12, `conv M=${M}`);
    assert.deepEqual(cc.total.replaced.names, ['c']);
    // Notes: 4·K·D for fp32 centroids plus (D/V)·K·M for the int8 table.
    const b = lc.layers[0].lut!.bytes;
    assert.equal(b.centroidsF32 + b.table, 4 * 16 * 36 + (36 / 9) * 16 * M);
    assert.equal(cc.layers[0].byteRatio, (4 * 36 * M + 4 * M) / (4 * 16 * 36 + 4 * 16 * M + 4 + 4 * M));
  }
});

test('fmnist-cnn with LUT conv2-4 and fc1: encode/lookup totals and the comparison with the dense model', () => {
  const { dense, lut } = lutFmnist(new Rng(7));
  const d = modelCost(dense, [1, 28, 28]);
  const l = modelCost(lut, [1, 28, 28]);
  const enc = 784 * 288 * 16 + 196 * 288 * 16 + 196 * 576 * 16 + 1 * 3136 * 16;
  const look = 784 * 32 * 32 + 196 * 32 * 64 + 196 * 64 * 64 + 1 * 196 * 256;
  assert.equal(l.total.encodeMacs, enc);
  assert.equal(l.total.lookupAdds, look);
  assert.equal(l.total.denseMacs, 28 * 28 * 32 * 9 + 2560);
  assert.equal(l.total.macs, enc + look + 28 * 28 * 32 * 9 + 2560);
  const cmp = compareCost(d, l);
  assert.deepEqual(cmp.total.replaced.names, ['conv2', 'conv3', 'conv4', 'fc1']);
  assert.equal(cmp.total.macRatio, d.total.macs / l.total.macs);
  assert.equal(cmp.layers.find((x) => x.name === 'conv2')?.macRatio, (784 * 288 * 32) / (784 * 288 * 16 + 784 * 32 * 32));
  assert.equal(cmp.layers.find((x) => x.name === 'relu1')?.macRatio, null);
  assert.equal(layer(l, 'bn2').foldedInto, 'conv2');
});

test('MADDNESS layers (comparisons, lookups, bytes), unknown layers, registerLayerCost, and bad input', () => {
  class Weird extends Module {
    readonly w = this.registerParameter('w', zeros([7]));
    override forward(x: Tensor): Tensor {
      return x;
    }
  }
  // MaddnessLinear 12→5 with V = 4 (C = 3); MaddnessConv2d Cin 2 → Cout 4, 3x3 pad 1, V = 9 (C = 2) on 6x6 (N = 36).
  const c = modelCost(Sequential.named([['odd', new Weird()], ['m', new MaddnessLinear(12, 5, 4)]]), [12], { batch: 2 });
  assert.deepEqual(c.total.unknownLayers, ['odd']);
  assert.equal(layer(c, 'odd').params, 7);
  const m = layer(c, 'm');
  assert.equal(m.kind, 'maddness');
  assert.equal(m.comparisons, 1 * 3 * 4);
  assert.equal(m.lookupAdds, 1 * 3 * 5);
  assert.equal(m.macs, 15);
  assert.equal(m.paramBytes, 3 * 16 * 5 + 4 + 4 * 3 * 15 + 4 * 3 * 4 + 4 * 5);
  assert.equal(m.deployBytes, 3 * 16 * 5 + 4 + 3 * 15 + 3 * 4 + 4 * 5);
  assert.equal(m.bufferBytes, 0);
  assert.equal(m.params, 0);
  assert.equal(m.workspaceBytes, 2 * 3);
  assert.equal(m.bitsPerActivation, 1);
  assert.equal(c.total.comparisons, 12);
  assert.equal(c.total.lutMacs, 15);
  const mc = modelCost(new MaddnessConv2d(2, 4, [3, 3], [1, 1], [1, 1], [1, 1], 9, true), [2, 6, 6]).layers[0];
  assert.deepEqual([mc.comparisons, mc.lookupAdds, mc.maddness?.rowsPerImage, mc.bitsPerActivation], [36 * 2 * 4, 36 * 2 * 4, 36, 4 / 9]);
  registerLayerCost('Weird', () => ({ kind: 'dense', macs: 99 }));
  assert.equal(modelCost(Sequential.named([['odd', new Weird()]]), [3]).total.denseMacs, 99);
  const model = createModel('mlp', { rng: new Rng(1) });
  assert.throws(() => modelCost(model, [1, 28]), ShapeError);
  assert.throws(() => modelCost(model, [0, 28, 28]), ArgumentError);
  assert.throws(() => modelCost(model, [1, 28, 28], { batch: 0 }), ArgumentError);
  assert.ok(model.modules().every((x) => !Object.prototype.hasOwnProperty.call(x, 'forward')), 'wrappers removed after a failed forward');
});

test('lutnn info FILE --json (and the text table) on saved dense and LUT model files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-info-'));
  try {
    const { dense, lut } = lutFmnist(new Rng(11), true);
    const densePath = join(dir, 'dense.safetensors');
    const lutPath = join(dir, 'lut.safetensors');
    const dataset = { name: 'fashion-mnist', mean: 0.286, std: 0.353, classes: 10, inputShape: [1, 28, 28] };
    saveModel(densePath, dense, { dataset, info: { testAccuracy: 0.9123 } });
    saveModel(lutPath, lut, { dataset, info: { testAccuracy: 0.875 } });
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'info', ...args], { encoding: 'utf8' });
    const r = run(lutPath, '--json', '--batch', '4', '--compare', densePath);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, any>;
    assert.equal(out.command, 'info');
    assert.equal(out.file, lutPath);
    assert.equal(out.batch, 4);
    assert.deepEqual(out.inputShape, [1, 28, 28]);
    assert.equal(out.arch.root, 'Sequential');
    assert.equal(out.arch.types.LutConv2d, 3);
    assert.equal(out.arch.types.LutLinear, 1);
    assert.equal(out.arch.params, lut.numParameters());
    assert.equal(out.layers.length, 18);
    const conv2 = out.layers.find((l: LayerCost) => l.name === 'conv2') as LayerCost;
    assert.equal(conv2.type, 'LutConv2d');
    assert.equal(conv2.encodeMacs, 784 * 288 * 16);
    assert.equal(conv2.workspaceBytes, 784 * 4 * 32);
    assert.equal(conv2.lut?.k, 16);
    assert.equal(conv2.lut?.subvecLen, 9);
    assert.ok(Math.abs((conv2.lut?.temperature ?? 0) - 0.065) < 1e-6);
    const want = modelCost(lut, [1, 28, 28], { batch: 4 }).total;
    assert.deepEqual(out.total, want);
    assert.equal(out.meta.accuracy, 0.875);
    assert.equal(out.meta.dataset.name, 'fashion-mnist');
    assert.equal(out.arch.types.MaddnessLinear, 1);
    const fc2 = out.layers.find((l: LayerCost) => l.name === 'fc2') as LayerCost;
    assert.deepEqual([fc2.kind, fc2.comparisons, fc2.lookupAdds], ['maddness', 16 * 4, 16 * 10]);
    assert.deepEqual(out.comparison.total.replaced.names, ['conv2', 'conv3', 'conv4', 'fc1', 'fc2']);
    assert.equal(out.comparison.denseFile, densePath);
    assert.ok(out.comparison.total.macRatio > 1);
    const t = run(densePath);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /871,018 parameters/);
    assert.match(t.stdout, /19,094,528/);
    assert.match(t.stdout, /conv2 +Conv2d +\[32,28,28\] +7\.23M/);
    assert.match(t.stdout, /test accuracy 91\.23%/);
    const bad = run(join(dir, 'missing.safetensors'), '--json');
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
