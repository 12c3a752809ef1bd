// Tests of post-training quantization: observers, the QConv / QLinear records (shapes, cost, file round trip, QAT,
// the runtime's refusal) and a quantized layer's integer operands through LUT-NA multiplier models (src/hw).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backward, noGrad } from '../autograd/engine.js';
import { ShapeError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { graphCost } from '../graph/cost.js';
import { BATCH } from '../graph/dims.js';
import { GraphModel } from '../graph/model.js';
import { createMultiplier, tLut } from '../hw/multiplier.js';
import { intGemm, lutLinear, lutLinearReference } from '../hw/multiplier-linear.js';
import { loadModel, saveModel } from '../io/model-file.js';
import * as ops from '../ops/index.js';
import { planOps } from '../runtime/plan.js';
import { randn } from '../tensor/create.js';
import { quantizeActivations, quantizeWeights } from '../tensor/quantize.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { chooseClip, quantizeModel, quantizedLayers, selectQuantLayers } from './quantize.js';

/** x [N, 2, 6, 6] → conv (4×2×3×3, pad 1) → relu → flatten → fc (3 × 144). */
function tinyModel(seed = 1): GraphModel {
  const rng = new Rng(seed);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 2, 6, 6]);
  const w1 = b.weight('conv.weight', randn([4, 2, 3, 3], 0.4, rng));
  const b1 = b.weight('conv.bias', randn([4], 0.1, rng));
  const [c] = b.op('Conv', [x, w1, b1], { padding: [1, 1] }, 'conv');
  const [r] = b.op('Relu', [c], {}, 'relu');
  const [f] = b.op('Flatten', [r], {}, 'flatten');
  const w2 = b.weight('fc.weight', randn([3, 144], 0.1, rng));
  const b2 = b.weight('fc.bias', randn([3], 0.1, rng));
  const [y] = b.op('Linear', [f, w2, b2], {}, 'fc');
  b.output(y);
  const { graph, weights } = b.build();
  return GraphModel.create(graph, weights);
}

const calib = (n: number, seed = 2): Tensor[] => [randn([n, 2, 6, 6], 1, new Rng(seed))];

test('observers on a hand-made histogram: max, percentile, least squared error', () => {
  // 10 bins over [0, 10]: 90 values in bin 0 (0-1), 9 in bin 4, 1 outlier in bin 9; no zeros.
  const counts = new Float64Array(10);
  counts[0] = 90;
  counts[4] = 9;
  counts[9] = 1;
  const h = { max: 10, counts, zeros: 0, total: 100 };
  assert.equal(chooseClip(h, 'max', 8), 10);
  assert.equal(chooseClip(h, 'percentile', 8, 90), 1); // 90% of the values are ≤ the upper edge of bin 0
  assert.equal(chooseClip(h, 'percentile', 8, 99), 5);
  assert.equal(chooseClip(h, 'percentile', 8, 100), 10);
  // At 2 bits (qmax 1) a wide clip costs a huge step, so the MSE clip sits below the outlier; at 8 bits the
  // rounding noise is small and clipping the outlier costs more: the full range wins.
  const mse2 = chooseClip(h, 'mse', 2);
  assert.ok(mse2 < 10 && mse2 >= 1, `2-bit clip ${mse2}`);
  assert.equal(chooseClip(h, 'mse', 8), 10);
  assert.equal(chooseClip({ max: 0, counts, zeros: 5, total: 5 }, 'mse', 8), 0);
});

test('quantizeModel: Conv / Linear become QConv / QLinear with calibrated scales; outputs stay close to the float model', () => {
  const model = tinyModel();
  const x = randn([8, 2, 6, 6], 1, new Rng(9));
  const { model: q, layers } = quantizeModel(model, [...calib(64), x], { observer: 'max' });
  assert.deepEqual(q.info.nodes.map((n) => n.node.op), ['QConv', 'Relu', 'Flatten', 'QLinear']);
  assert.deepEqual(layers.map((l) => [l.name, l.op, l.inDim, l.outDim, l.actBits, l.weightBits]), [['conv', 'QConv', 18, 4, 8, 9], ['fc', 'QLinear', 144, 3, 8, 9]]);
  // max observer: scale = max|x| / 127, nothing clipped.
  for (const l of layers) {
    assert.equal(l.actScale, Math.fround(l.absMax / 127));
    assert.equal(l.clippedFraction, 0);
  }
  assert.deepEqual(quantizedLayers(q).map((l) => [l.name, l.actScale]), layers.map((l) => [l.name, l.actScale]));
  // The input model is untouched and the weights are copies.
  assert.equal(model.info.nodes[0].node.op, 'Conv');
  assert.notEqual(q.weight('conv.weight'), model.weight('conv.weight'));
  q.eval();
  model.eval();
  const yq = noGrad(() => q.forward(x));
  const yf = noGrad(() => model.forward(x));
  let err = 0;
  let mag = 0;
  for (let i = 0; i < yq.size; i++) {
    err = Math.max(err, Math.abs(yq.f32[i] - yf.f32[i]));
    mag = Math.max(mag, Math.abs(yf.f32[i]));
  }
  assert.ok(err > 0 && err < 0.03 * mag, `max error ${err} vs max |y| ${mag}`);
  // Exactly the integer layers: the QConv output is qconv2d of the input with the stored scale.
  const convOut = noGrad(() => ops.qconv2d(x, q.weight('conv.weight'), q.weight('conv.bias'), layers[0].actScale, { padding: 1, actBits: 8, weightBits: 9 }));
  let seen: Tensor | null = null;
  noGrad(() => q.run([x], { hook: (n, _i, outs) => void (n.node.name === 'conv' && (seen = outs[0])) }));
  assert.deepEqual([...(seen as unknown as Tensor).f32], [...convOut.f32]);
});

test('quantizeModel options: bits, layer selection, observers and their errors', () => {
  const model = tinyModel();
  const { model: q, layers } = quantizeModel(model, calib(16), { actBits: 4, weightBits: 5, include: ['fc'] });
  assert.deepEqual(q.info.nodes.map((n) => n.node.op), ['Conv', 'Relu', 'Flatten', 'QLinear']);
  assert.equal(layers[0].actBits, 4);
  assert.equal(q.info.nodes[3].attrs.weight_bits, 5);
  assert.deepEqual(selectQuantLayers(model, undefined, ['c*']), ['fc']);
  // The percentile observer clips some values, the mse observer too at 4 bits.
  const p = quantizeModel(model, calib(16), { observer: 'percentile', percentile: 99 }).layers;
  assert.ok(p.every((l) => l.clippedFraction > 0 && l.clippedFraction <= 0.011), JSON.stringify(p.map((l) => l.clippedFraction)));
  assert.throws(() => quantizeModel(model, calib(4), { include: ['nope'] }), /--layers 'nope' names no Conv or Linear node \(have: conv, fc\)/);
  assert.throws(() => quantizeModel(model, calib(4), { actBits: 9 }), /actBits must be an integer in \[2, 8\], got 9/);
  assert.throws(() => quantizeModel(model, calib(4), { weightBits: 1 }), /weightBits must be an integer in \[2, 16\]/);
  assert.throws(() => quantizeModel(model, calib(4), { observer: 'minmax' as never }), /observer must be one of max, percentile, mse/);
  assert.throws(() => quantizeModel(model, [], {}), /no calibration batches/);
  const bad = calib(2);
  bad[0].f32[3] = NaN;
  assert.throws(() => quantizeModel(model, bad, { observer: 'max' }), /layer 'conv' saw a non-finite activation/);
});

test('QConv / QLinear records: shape errors, cost (MACs as dense, integer deploy bytes), model file round trip', () => {
  const { model: q } = quantizeModel(tinyModel(), calib(16));
  const cost = graphCost(q.info, new Map(q.namedWeights()));
  const conv = cost.layers.find((l) => l.name === 'conv')!;
  const fc = cost.layers.find((l) => l.name === 'fc')!;
  assert.equal(conv.macs, 36 * 4 * 18);
  assert.equal(fc.macs, 144 * 3);
  assert.equal(conv.kind, 'dense');
  assert.equal(conv.bitsPerActivation, 8);
  // 9-bit weights in 2 bytes, a float scale and an int32 bias per channel, the activation scale.
  assert.equal(conv.deployBytes, 72 * 2 + 4 * 4 + 4 * 4 + 4);
  assert.equal(fc.deployBytes, 432 * 2 + 3 * 4 + 3 * 4 + 4);
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-quant-'));
  try {
    const f = join(dir, 'q.safetensors');
    saveModel(f, q, { info: { note: 'test' } });
    const back = loadModel(f).model;
    const x = randn([3, 2, 6, 6], 1, new Rng(4));
    q.eval();
    back.eval();
    assert.deepEqual([...noGrad(() => back.forward(x)).f32], [...noGrad(() => q.forward(x)).f32]);
    assert.deepEqual(back.info.nodes.map((n) => n.node.op), ['QConv', 'Relu', 'Flatten', 'QLinear']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Shape rules.
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 10]);
  const w = b.weight('w', randn([2, 10], 1));
  assert.throws(() => b.op('QLinear', [x, w, null, b.weight('s', new Tensor(Float32Array.of(1, 2), [2]))], {}, 'q1'), /act_scale must be a scalar \[\], got \[2\]/);
  assert.throws(() => b.op('QLinear', [x, w, null, b.weight('s1', new Tensor(Float32Array.of(1), []))], { act_bits: 9 }, 'q2'), /attribute 'act_bits' = 9 is out of range 2\.\.8/);
  const big = b.input('big', 'float32', [BATCH, 70000]);
  assert.throws(() => b.op('QLinear', [big, b.weight('wb', randn([1, 70000], 1)), null, b.weight('s2', new Tensor(Float32Array.of(1), []))], {}, 'q3'), (e: Error) => e instanceof ShapeError && /do not fit the exact int32 accumulation/.test(e.message));
});

test('quantization-aware fine-tuning: straight-through gradients reach the float weights; scales stay buffers', () => {
  const { model: q } = quantizeModel(tinyModel(), calib(16));
  q.train();
  const names = q.namedParameters().map(([n]) => n);
  assert.deepEqual(names.sort(), ['conv.bias', 'conv.weight', 'fc.bias', 'fc.weight']);
  assert.ok(q.namedBuffers().some(([n]) => n === 'conv.act_scale'));
  const x = randn([4, 2, 6, 6], 1, new Rng(5));
  const y = new Tensor(Int32Array.of(0, 1, 2, 1), [4]);
  const loss = ops.crossEntropy(q.forward(x), y);
  backward(loss);
  for (const [n, p] of q.namedParameters()) assert.ok(p.grad && p.grad.f32.some((v) => v !== 0), `${n} has a gradient`);
  // One SGD step on the float weights lowers the loss.
  noGrad(() => {
    for (const [, p] of q.namedParameters()) for (let i = 0; i < p.size; i++) p.f32[i] -= 0.5 * p.grad!.f32[i];
  });
  const after = noGrad(() => ops.crossEntropy(q.forward(x), y)).item();
  assert.ok(after < loss.item(), `loss ${loss.item()} → ${after}`);
});

test('the inference runtime plans quantized layers as its qconv / qlinear ops, ReLU fused (runtime tests: src/runtime/quant-runtime.test.ts)', () => {
  const { model: q } = quantizeModel(tinyModel(), calib(8));
  const ops = planOps(q.info, new Map(q.namedWeights()), [2, 6, 6]);
  assert.deepEqual(ops.map((o) => `${o.kind} ${o.name}`), ['qconv conv+relu', 'reshape flatten', 'qlinear fc']);
});

test('a quantized layer through LUT-NA multiplier models: exact splits give the integer GEMM and the engine output bit for bit', () => {
  // A QLinear calibrated on real activations: its int8 inputs and int9 weights are the multiplier operands.
  const model = tinyModel(3);
  const { model: q, layers } = quantizeModel(model, calib(32, 5));
  const fc = layers.find((l) => l.name === 'fc')!;
  let fcIn: Tensor | null = null;
  let fcOut: Tensor | null = null;
  q.eval();
  const x = randn([6, 2, 6, 6], 1, new Rng(8));
  noGrad(() => q.run([x], { hook: (n, ins, outs) => void (n.node.name === 'fc' && ((fcIn = ins[0]), (fcOut = outs[0]))) }));
  const N = 6;
  const K = 144;
  const M = 3;
  const A = Int32Array.from(quantizeActivations((fcIn as unknown as Tensor).f32, fc.actScale, 8));
  const Wf = q.weight('fc.weight').f32;
  const { q: wq, scales } = quantizeWeights(Wf, M, 9);
  const W = new Int32Array(K * M); // [K, M] for lutLinear
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) W[k * M + m] = wq[m * K + k];
  assert.ok(A.some((v) => v < 0) === false && A.some((v) => v > 0), 'ReLU outputs: non-negative int8 operands');
  assert.ok(W.some((v) => Math.abs(v) === 255), 'every channel reaches ±255');
  const exact = intGemm(A, W, N, K, M);
  const bias = q.weight('fc.bias').f32;
  const engine = (fcOut as unknown as Tensor).f32;
  const multipliers = [
    createMultiplier({ partsA: [4, 4], partsW: [5, 4] }),
    createMultiplier({ partsA: [4, 4], partsW: [4, 5], sign: 'magnitude' }),
    createMultiplier({ partsA: [3, 3, 2], partsW: [3, 3, 3] }),
    tLut(),
  ];
  for (const m of multipliers) {
    assert.equal(m.approximate, false, m.name);
    const out = lutLinear(m, A, W, { N, K, M });
    assert.deepEqual([...out], [...exact], m.name);
    // Scaled like the engine's QLinear: bit-identical outputs.
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < M; j++) {
        const want = Math.fround(Math.fround(out[n * M + j] * Math.fround(fc.actScale * scales[j])) + bias[j]);
        assert.equal(engine[n * M + j], want, `${m.name} out[${n}][${j}]`);
      }
    }
  }
  // An approximate multiplier (low × low dropped) gives other sums, and its GEMM-speed form equals its per-product model.
  const approx = createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] });
  const got = lutLinear(approx, A, W, { N, K, M });
  assert.notDeepEqual([...got], [...exact]);
  assert.deepEqual([...got], [...lutLinearReference(approx, A, W, { N, K, M })]);
});
