// Tests of the graph cost accounting: dense fmnist-cnn figures, LUT and MADDNESS counts and bytes, ratios, BN folding, liveness.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError } from '../errors.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import type { Module } from '../nn/module.js';
import { createModel, createModule } from '../nn/zoo.js';
import { MaddnessConv2d, MaddnessLinear } from '../lut/maddness-modules.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { ones, randn, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { GraphBuilder, type Value } from './builder.js';
import { compareCost, graphCost, lutMacRatio, modelCost, type LayerCost, type ModelCost } from './cost.js';
import { BATCH } from './dims.js';
import { GraphModel } from './model.js';

const layer = (c: ModelCost, name: string): LayerCost => {
  const l = c.layers.find((x) => x.name === name);
  assert.ok(l, `layer ${name} missing`);
  return l;
};

const lower = (m: Module, inputShape: number[]): GraphModel => lowerModule(m, { inputShape });

/** fmnist-cnn with conv2–4 (V=9) and fc1 (V=16) replaced by LUT layers (K=16), random centroids; fc2 optionally by MADDNESS (V=16). */
function lutFmnist(rng: Rng, maddnessFc2 = false): { dense: GraphModel; lut: GraphModel } {
  const dense = createModule('fmnist-cnn', { rng });
  const entries = dense.namedChildren().map(([n, m]): [string, Module] => {
    if (maddnessFc2 && n === 'fc2') return [n, new MaddnessLinear(256, 10, 16)];
    if (m instanceof Conv2d && n !== 'conv1') return [n, LutConv2d.fromDense(m, randn([m.inChannels, 16, 9], 1, rng))];
    if (m instanceof Linear && n === 'fc1') return [n, LutLinear.fromDense(m, randn([3136 / 16, 16, 16], 1, rng))];
    return [n, m];
  });
  return { dense: lower(dense, [1, 28, 28]), lut: lower(Sequential.named(entries), [1, 28, 28]) };
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
  assert.deepEqual(c.total.unknownLayers, []);
  // One entry per node, in order, named after the modules; the type is the op type.
  assert.deepEqual(c.layers.map((l) => l.name), createModule('fmnist-cnn').namedChildren().map(([n]) => n));
  assert.deepEqual(c.layers.map((l) => l.name), model.info.nodes.map((n) => n.node.name));
  assert.deepEqual([layer(c, 'conv1').type, layer(c, 'bn1').type, layer(c, 'fc1').type, layer(c, 'flatten').type], ['Conv', 'BatchNorm', 'Linear', 'Flatten']);
  const shapes: Record<string, number[]> = {
    conv1: [1, 32, 28, 28], pool1: [1, 32, 14, 14], conv3: [1, 64, 14, 14], pool2: [1, 64, 7, 7], flatten: [1, 3136], fc1: [1, 256], fc2: [1, 10],
  };
  for (const [n, s] of Object.entries(shapes)) assert.deepEqual(layer(c, n).outputShape, s, n);
  assert.deepEqual(layer(c, 'conv1').inputShape, [1, 1, 28, 28]);
  assert.deepEqual(c.total.inputShape, [1, 28, 28]);
  assert.deepEqual(c.total.outputShape, [10]);
  // BN: γ,β as parameters, running stats + int32 counter as buffers, folded into the conv before it.
  const bn1 = layer(c, 'bn1');
  assert.equal(bn1.paramBytes, 8 * 32);
  assert.equal(bn1.params, 2 * 32);
  assert.equal(bn1.bufferBytes, 8 * 32 + 4);
  assert.equal(bn1.foldedInto, 'conv1');
  assert.equal(bn1.deployBytes, 0);
  assert.equal(bn1.macs, 0);
  assert.equal(bn1.elementOps, 2 * 32 * 28 * 28);
  assert.equal(c.total.bufferBytes, (8 * 32 + 4) * 2 + (8 * 64 + 4) * 2);
  assert.equal(c.total.deployBytes, c.total.paramBytes - 8 * (32 + 32 + 64 + 64));
  assert.equal(layer(c, 'conv2').bitsPerActivation, 32);
  assert.equal(layer(c, 'relu1').bitsPerActivation, null);
  // conv2 at batch 1: input and output 32·28·28 floats, im2col rows 784 × 288 floats.
  assert.equal(layer(c, 'conv2').workspaceBytes, 784 * 288 * 4);
  assert.equal(c.total.peakLayer, 'conv2');
  assert.equal(c.total.peakActivationBytes, 2 * 32 * 28 * 28 * 4 + 784 * 288 * 4);
  // A chain: the liveness peak is the largest input + output + workspace (a view's output adds nothing).
  const chain = Math.max(...c.layers.map((l) => (l.type === 'Flatten' ? l.inputBytes : l.activationBytes) + l.workspaceBytes));
  assert.equal(c.total.peakActivationBytes, chain);
  // Activation bytes scale with the batch; MACs stay per image.
  const c8 = modelCost(model, null, { batch: 8 });
  assert.equal(c8.total.macs, total);
  assert.equal(c8.total.macsPerBatch, 8 * total);
  assert.equal(c8.total.peakActivationBytes, 8 * c.total.peakActivationBytes);
  assert.equal(layer(c8, 'fc1').activationBytes, 8 * 4 * (3136 + 256));
  // graphCost on the analysis and the weights gives the same figures.
  assert.deepEqual(graphCost(model.info, new Map(model.namedWeights()), { batch: 8 }), c8);
});

test('LUT layers: encode N·D·K, lookups N·C·M, bytes of centroids/table/bias, codes workspace, bits per activation', () => {
  const rng = new Rng(3);
  // conv: Cin 2, Cout 4, 3x3 pad 1 on 6x6 → N = 36 rows, D = 18, V = 9, C = 2, K = 16, M = 4.
  // fc: 4·3·3 = 36 inputs, V = 4 → C = 9, K = 8, M = 5, N = 1.
  const model = lower(Sequential.named([
    ['conv', new LutConv2d({ cin: 2, cout: 4, kernel: 3, padding: 1, rng })],
    ['bn', new BatchNorm2d(4)],
    ['relu', new ReLU()],
    ['pool', new MaxPool2d(2)],
    ['flatten', new Flatten(1)],
    ['fc', new LutLinear({ inFeatures: 36, outFeatures: 5, subvecLen: 4, k: 8, rng })],
  ]), [2, 6, 6]);
  const batch = 3;
  const c = modelCost(model, [2, 6, 6], { batch });
  const conv = layer(c, 'conv');
  assert.equal(conv.kind, 'lut');
  assert.equal(conv.type, 'LutConv');
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
  assert.equal(fc.type, 'LutLinear');
  assert.equal(fc.encodeMacs, 1 * 36 * 8);
  assert.equal(fc.lookupAdds, 1 * 9 * 5);
  assert.equal(fc.paramBytes, 4 * 9 * 8 * 4 + 9 * 8 * 5 + 4 + 4 * 5);
  assert.equal(fc.deployBytes, 9 * 8 * 4 + 4 * 9 + 9 * 8 * 5 + 4 + 4 * 5);
  assert.equal(fc.workspaceBytes, batch * 9);
  assert.equal(fc.bitsPerActivation, 3 / 4);
  assert.equal(layer(c, 'bn').foldedInto, 'conv');
  assert.equal(layer(c, 'bn').deployBytes, 0);
  assert.equal(c.total.lutMacs, conv.macs + fc.macs);
  assert.equal(c.total.macs, c.total.lutMacs);
  assert.equal(c.total.denseMacs, 0);
  assert.equal(c.total.encodeMacs, 36 * 18 * 16 + 36 * 8);
  assert.equal(c.total.lutParamBytes, conv.paramBytes + fc.paramBytes);
  assert.equal(c.total.params, model.numParameters());
  // A float table (quantize off) costs 4 bytes per entry and has no scale; a lone layer's node gets the op's name.
  const f = modelCost(lower(new LutLinear({ inFeatures: 8, outFeatures: 3, subvecLen: 4, quantize: false, rng }), [8]));
  assert.equal(f.layers.length, 1);
  assert.equal(f.layers[0].name, 'lutlinear');
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
    const dl = modelCost(lower(Sequential.named([['l', lin]]), [18]));
    const ll = modelCost(lower(Sequential.named([['l', LutLinear.fromDense(lin, randn([2, 16, 9], 1, rng))]]), [18]));
    const cmp = compareCost(dl, ll);
    assert.ok(Math.abs((cmp.layers[0].macRatio ?? 0) - lutMacRatio(M, 16, 9)) < 1e-12, `linear M=${M}`);
    assert.equal(dl.total.macs, 18 * M);
    const conv = new Conv2d(4, M, 3, { padding: 1, rng });
    const dc = modelCost(lower(Sequential.named([['c', conv]]), [4, 5, 5]));
    const lc = modelCost(lower(Sequential.named([['c', LutConv2d.fromDense(conv, randn([4, 16, 9], 1, rng))]]), [4, 5, 5]));
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
  const d = modelCost(dense);
  const l = modelCost(lut);
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

test('MADDNESS layers (comparisons, lookups, bytes) and bad input', () => {
  // MaddnessLinear 12→5 with V = 4 (C = 3); MaddnessConv2d Cin 2 → Cout 4, 3x3 pad 1, V = 9 (C = 2) on 6x6 (N = 36).
  const c = modelCost(lower(Sequential.named([['relu', new ReLU()], ['m', new MaddnessLinear(12, 5, 4)]]), [12]), null, { batch: 2 });
  const m = layer(c, 'm');
  assert.equal(m.kind, 'maddness');
  assert.equal(m.type, 'MaddnessLinear');
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
  assert.equal(c.total.params, 0);
  const mc = modelCost(lower(new MaddnessConv2d(2, 4, [3, 3], [1, 1], [1, 1], [1, 1], 9, true), [2, 6, 6])).layers[0];
  assert.deepEqual([mc.comparisons, mc.lookupAdds, mc.maddness?.rowsPerImage, mc.bitsPerActivation], [36 * 2 * 4, 36 * 2 * 4, 36, 4 / 9]);
  // Another input shape re-analyses the graph; a shape the graph does not take is a ShapeError naming it.
  const model = createModel('mlp', { rng: new Rng(1) });
  const flat = modelCost(model, [784]);
  assert.deepEqual(flat.total.inputShape, [784]);
  assert.deepEqual(layer(flat, 'flatten').inputShape, [1, 784]);
  assert.equal(flat.total.macs, modelCost(model).total.macs);
  assert.equal(flat.total.macs, 784 * 128 + 128 * 10);
  assert.throws(() => modelCost(model, [1, 28]), (e: Error) => e instanceof ShapeError && /modelCost: input \[1,28\]/.test(e.message));
  assert.throws(() => modelCost(model, [0, 28, 28]), ArgumentError);
  assert.throws(() => modelCost(model, [1, 28, 28], { batch: 0 }), ArgumentError);
  assert.throws(() => modelCost(createModule('mlp') as never), /expected a GraphModel/);
  assert.deepEqual(model.inputShape, [1, 28, 28], 'the model keeps its own graph');
});

/** A graph written op by op, with seeded trained weights (`w`). */
function build(inputShape: number[], body: (g: GraphBuilder, x: Value, w: (name: string, shape: number[]) => Value) => Value): GraphModel {
  const rng = new Rng(9);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [BATCH, ...inputShape]);
  g.output(body(g, x, (name, shape) => g.weight(name, randn(shape, 0.1, rng).requireGrad(true))));
  const { graph, weights } = g.build();
  return GraphModel.create(graph, weights);
}

test('residual graph: the liveness peak counts the skip value while the branch runs', () => {
  // x [N,4,8,8] → a: conv 3x3 → relu → b: conv 3x3 → add(b, x) → relu → global pool → fc [N,2].
  const model = build([4, 8, 8], (g, x, w) => {
    const conv = (name: string, v: Value): Value => g.op('Conv', [v, w(`${name}.weight`, [4, 4, 3, 3]), w(`${name}.bias`, [4])], { padding: [1, 1] }, name)[0];
    const a = g.op('Relu', [conv('a', x)], {}, 'relu_a')[0];
    const s = g.op('Add', [conv('b', a), x], {}, 'add')[0];
    const r = g.op('Relu', [s], {}, 'relu')[0];
    const p = g.op('GlobalAveragePool', [r], {}, 'pool')[0];
    return g.op('Linear', [p, w('fc.weight', [2, 4]), w('fc.bias', [2])], {}, 'fc')[0];
  });
  const batch = 2;
  const c = modelCost(model, null, { batch });
  const X = 4 * 8 * 8 * 4 * batch; // bytes of x and of every [N,4,8,8] value
  const ws = 8 * 8 * batch * 4 * 9 * 4; // im2col rows of a 3x3 conv: 64 rows per image of 36 floats
  assert.equal(layer(c, 'a').workspaceBytes, ws);
  // Live at b: x (read later by add), relu_a (b's input), b's output, and b's workspace.
  assert.equal(c.total.peakLayer, 'b');
  assert.equal(c.total.peakActivationBytes, 3 * X + ws);
  // The chain formula (input + output + workspace) would miss the skip value.
  assert.equal(layer(c, 'b').activationBytes + layer(c, 'b').workspaceBytes, 2 * X + ws);
  const add = layer(c, 'add');
  assert.equal(add.inputBytes, 2 * X);
  assert.equal(add.elementOps, 4 * 8 * 8);
  assert.equal(c.total.macs, 2 * 64 * 4 * 4 * 9 + 4 * 2);
  assert.deepEqual(c.total.outputShape, [2]);
  // Before and after b: relu_a holds x, a's output and its own; the add holds x, b's output and its own.
  assert.equal(layer(c, 'relu_a').activationBytes, 2 * X);
});

test('transformer-like graph: MatMul of two activations counts m·k·n MACs per image; views add no memory', () => {
  // x [N,6,8] → q, k, v Linear(8→8) → scores q·kᵀ [N,6,6] → softmax → ·v [N,6,8] → out Linear → + x → LayerNorm → Reshape [N,48].
  const T = 6;
  const D = 8;
  const model = build([T, D], (g, x, w) => {
    const lin = (name: string, v: Value): Value => g.op('Linear', [v, w(`${name}.weight`, [D, D]), w(`${name}.bias`, [D])], {}, name)[0];
    const q = lin('q', x);
    const k = lin('k', x);
    const v = lin('v', x);
    const kt = g.op('Transpose', [k], { perm: [0, 2, 1] }, 'kt')[0]; // [N,8,6]
    const s = g.op('MatMul', [q, kt], {}, 'scores')[0]; // [N,6,6]
    const p = g.op('Softmax', [s], { axis: -1 }, 'softmax')[0];
    const a = g.op('MatMul', [p, v], {}, 'attend')[0]; // [N,6,8]
    const y = g.op('Add', [lin('out', a), x], {}, 'residual')[0];
    const n = g.op('LayerNorm', [y, g.weight('ln.weight', ones([D])), g.weight('ln.bias', zeros([D]))], { axis: -1 }, 'ln')[0];
    return g.op('Reshape', [n], { shape: [0, -1] }, 'flat')[0]; // [N,48]
  });
  const c = modelCost(model, null, { batch: 1 });
  assert.equal(layer(c, 'scores').macs, T * D * T);
  assert.equal(layer(c, 'attend').macs, T * T * D);
  assert.deepEqual(layer(c, 'scores').outputShape, [1, T, T]);
  assert.equal(layer(c, 'scores').kind, 'dense');
  assert.equal(layer(c, 'scores').params, 0);
  assert.equal(layer(c, 'scores').inputBytes, 2 * T * D * 4);
  assert.equal(layer(c, 'q').macs, T * D * D);
  assert.equal(c.total.macs, 4 * T * D * D + 2 * T * T * D);
  assert.equal(c.total.denseMacs, c.total.macs);
  assert.equal(c.total.params, 4 * (D * D + D) + 2 * D);
  assert.equal(layer(c, 'ln').elementOps, 5 * T * D);
  assert.equal(layer(c, 'softmax').elementOps, 3 * T * T);
  assert.deepEqual(c.total.outputShape, [T * D]);
  // Hand-computed liveness at batch 1 (bytes; E = one [6,8] value, S = one [6,6] value):
  const E = T * D * 4;
  const S = T * T * 4;
  // q: x, q · k: x, q, k · v: x, q, k, v · kt: x, q, k, v, kt · scores: x, q, v, kt, s · softmax: x, v, s, p
  // attend: x, v, p, a · out: x, a, out · residual: x, out, y · ln: y, n · flat: n (its output is a view).
  const live = [2 * E, 3 * E, 4 * E, 5 * E, 4 * E + S, 2 * E + 2 * S, 3 * E + S, 3 * E, 3 * E, 2 * E, E];
  assert.equal(c.total.peakActivationBytes, Math.max(...live));
  assert.equal(c.total.peakLayer, 'kt');
  assert.equal(c.total.peakActivationBytes, 5 * E);
  assert.equal(layer(c, 'flat').outputBytes, E);
});

test('BatchNorm folding: into a weight MatMul (4·C without bias), not after an activation MatMul, a rank-3 Linear or a shared output', () => {
  const bn = (g: GraphBuilder, v: Value, C: number, name: string): Value =>
    g.op('BatchNorm', [v, g.weight(`${name}.weight`, ones([C])), g.weight(`${name}.bias`, zeros([C])), g.weight(`${name}.running_mean`, zeros([C])), g.weight(`${name}.running_var`, ones([C]))], {}, name)[0];
  // x [N,8] → MatMul by W [8,4] (no bias) → bn1 folds, keeping its shift as a 4·C-byte bias.
  const a = modelCost(build([8], (g, x, w) => bn(g, g.op('MatMul', [x, w('W', [8, 4])], {}, 'mm')[0], 4, 'bn1')));
  assert.equal(layer(a, 'bn1').foldedInto, 'mm');
  assert.equal(layer(a, 'bn1').deployBytes, 4 * 4);
  assert.equal(layer(a, 'bn1').paramBytes, 8 * 4);
  assert.equal(layer(a, 'bn1').bufferBytes, 8 * 4);
  assert.equal(layer(a, 'mm').params, 32);
  // x [N,3,8]: q·qᵀ [N,3,3] (two activations) → BN: no fold; Linear on [N,3,8] → BN over axis 1 (3 rows): no fold.
  const b = modelCost(build([3, 8], (g, x, w) => {
    const s = g.op('MatMul', [x, g.op('Transpose', [x], { perm: [0, 2, 1] }, 't')[0]], {}, 'qq')[0];
    const y = g.op('Linear', [x, w('l.weight', [4, 8])], {}, 'l')[0];
    const t = g.op('Add', [bn(g, s, 3, 'bn_qq'), g.op('MatMul', [bn(g, y, 3, 'bn_l'), w('P', [4, 3])], {}, 'proj')[0]], {}, 'sum')[0];
    return t;
  }));
  assert.equal(layer(b, 'bn_qq').foldedInto, null);
  assert.equal(layer(b, 'bn_l').foldedInto, null);
  assert.equal(layer(b, 'bn_qq').deployBytes, 8 * 3);
  // conv output read by BN and by a skip Add: no fold.
  const c = modelCost(build([2, 4, 4], (g, x, w) => {
    const y = g.op('Conv', [x, w('c.weight', [2, 2, 1, 1])], {}, 'c')[0];
    return g.op('Add', [bn(g, y, 2, 'bn'), y], {}, 'add')[0];
  }));
  assert.equal(layer(c, 'bn').foldedInto, null);
  assert.equal(layer(c, 'c').workspaceBytes, 0, '1x1 stride 1 conv: no im2col');
});

test('an initializer read by two nodes counts once, at its first reader', () => {
  // x [N,4] → l1 (W, b) → relu → l2 (the same W and b): tied weights.
  const model = build([4], (g, x, w) => {
    const W = w('W', [4, 4]);
    const B = w('B', [4]);
    const h = g.op('Relu', [g.op('Linear', [x, W, B], {}, 'l1')[0]], {}, 'relu')[0];
    return g.op('Linear', [h, W, B], {}, 'l2')[0];
  });
  const c = modelCost(model);
  assert.deepEqual([layer(c, 'l1').params, layer(c, 'l1').paramBytes], [20, 80]);
  assert.deepEqual([layer(c, 'l2').params, layer(c, 'l2').paramBytes, layer(c, 'l2').deployBytes], [0, 0, 0]);
  assert.match(layer(c, 'l2').note ?? '', /shares 'W', 'B'/);
  assert.equal(layer(c, 'l2').macs, 16);
  assert.equal(c.total.params, model.numParameters());
  assert.equal(c.total.paramBytes, 80);
  // An initializer in a data slot that is not trained (a constant scale) is a buffer of its reader.
  const k = modelCost(build([4], (g, x) => g.op('Mul', [x, g.weight('scale', ones([4]))], {}, 'scale')[0]));
  assert.deepEqual([k.layers[0].params, k.layers[0].paramBytes, k.layers[0].bufferBytes, k.layers[0].inputBytes], [0, 0, 16, 16]);
});
