// exportOnnx's dynamicInt8 form (onnxruntime's quantize_dynamic layout) run in onnxruntime-node against the float export.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { ArgumentError } from '../errors.js';
import { quantizeSymmetric } from '../graph/onnx-int8.js';
import type { GraphModel } from '../graph/model.js';
import { fileURLToPath } from 'node:url';
import { takeDataset } from '../data/dataset.js';
import { DataLoader, loadDataset } from '../data/loader.js';
import { convertStructure } from '../lut/convert.js';
import { createModel } from '../nn/zoo.js';
import { loadModel } from './model-file.js';
import { Rng } from '../tensor/rng.js';
import { exportOnnx } from './onnx-export.js';
import { decodeModel } from './onnx-proto.js';

async function runOrt(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  try {
    const out = await s.run({ input: new ort.Tensor('float32', x, dims) });
    return out.output.data as Float32Array;
  } finally {
    await s.release();
  }
}

function relL2(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += a[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** The float and int8 exports of a zoo model with seeded weights, their ops, and both outputs on one seeded input. */
async function compareForms(name: string, batch: number, perChannel: boolean) {
  const m: GraphModel = createModel(name, { rng: new Rng(1) }).eval();
  const shape = m.inputShape!;
  const f = exportOnnx(m, { inputShape: shape });
  const q = exportOnnx(m, { inputShape: shape, dynamicInt8: perChannel ? { perChannel: true } : true });
  const rng = new Rng(2);
  const x = new Float32Array(batch * shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const dims = [batch, ...shape];
  return { f, q, yf: await runOrt(f.bytes, x, dims), yq: await runOrt(q.bytes, x, dims) };
}

test('dynamic int8 export: fmnist-cnn convs as ConvInteger, its Linears as MatMulInteger, outputs within 2% (relative L2) of fp32', async () => {
  for (const perChannel of [false, true]) {
    const { f, q, yf, yq } = await compareForms('fmnist-cnn', 4, perChannel);
    // The default export is the float one.
    assert.equal(f.ops.DynamicQuantizeLinear, undefined);
    assert.equal(f.ops.Conv, 4);
    // 4 convs and 2 Linears: each its own DynamicQuantizeLinear, integer op, Cast, two Muls; no float Conv/Gemm left.
    assert.equal(q.ops.ConvInteger, 4);
    assert.equal(q.ops.MatMulInteger, 2);
    assert.equal(q.ops.DynamicQuantizeLinear, 6);
    assert.equal(q.ops.Cast, 6);
    assert.equal(q.ops.Conv, undefined);
    assert.equal(q.ops.Gemm, undefined);
    assert.equal(q.ops.MatMul, undefined);
    assert.equal(q.ops.BatchNormalization, undefined); // folded into the convs, as in PyTorch's eval export
    assert.equal(f.ops.BatchNormalization, 4);
    // Weights are stored as int8: the file is about a quarter of the float one (871k params).
    assert.ok(q.bytes.length < f.bytes.length * 0.3, `int8 file ${q.bytes.length} B vs float ${f.bytes.length} B`);
    const d = relL2(yf, yq);
    // Measured 0.0032 per tensor, 0.0040 per channel (random init, standard-normal input, batch norms folded).
    assert.ok(d > 0 && d < 0.02, `fmnist-cnn perChannel=${perChannel}: relative L2 ${d} between int8 and fp32 outputs`);
  }
});

test('dynamic int8 export: bert-base-layer Linears as MatMulInteger (attention MatMuls stay float), outputs within 2% of fp32', async () => {
  const { q, yf, yq } = await compareForms('bert-base-layer', 1, false);
  assert.equal(q.ops.MatMulInteger, 6); // q, k, v, attention output, FFN in and out
  assert.equal(q.ops.DynamicQuantizeLinear, 6);
  assert.equal(q.ops.MatMul, 2); // scores Q·Kᵀ and weights·V: activations only
  const d = relL2(yf, yq);
  // Measured 0.0030 (random init, standard-normal input).
  assert.ok(d > 0 && d < 0.02, `bert-base-layer: relative L2 ${d} between int8 and fp32 outputs`);
  // The weights in the file are int8 with a float scale and a zero point of 0.
  const g = decodeModel(q.bytes).graph;
  const w = g.initializer.filter((t) => t.name.endsWith('.weight_quantized'));
  assert.equal(w.length, 6);
  for (const t of w) assert.equal(t.dataType, 3); // INT8
  const zp = g.initializer.filter((t) => t.name.endsWith('.weight_zero_point'));
  for (const t of zp) assert.deepEqual([...t.rawData], [0]);
});

test('dynamic int8 export of trained resnet-fm (residual blocks): every conv folded with its batch norm, same top-1 class as fp32 on 16 test images', async () => {
  const { model, meta } = loadModel(fileURLToPath(new URL('../../models/resnet-fm.safetensors', import.meta.url)));
  const q = exportOnnx(model, { dynamicInt8: true });
  const f = exportOnnx(model);
  assert.equal(q.ops.Conv, undefined);
  assert.equal(q.ops.BatchNormalization, undefined);
  assert.equal(q.ops.ConvInteger, f.ops.Conv);
  const test = loadDataset({ name: 'fashion-mnist' }).test;
  const x = new DataLoader(takeDataset(test, 16), { batchSize: 16, shuffle: false, mean: meta.dataset?.mean, std: meta.dataset?.std }).batch(0, 0).x;
  const yf = await runOrt(f.bytes, x.f32, [16, 1, 28, 28]);
  const yq = await runOrt(q.bytes, x.f32, [16, 1, 28, 28]);
  const d = relL2(yf, yq);
  assert.ok(d > 0 && d < 0.05, `resnet-fm: relative L2 ${d}`); // measured 0.016 on random input
  const argmax = (y: Float32Array, i: number): number => {
    let best = 0;
    for (let c = 1; c < 10; c++) if (y[i * 10 + c] > y[i * 10 + best]) best = c;
    return best;
  };
  for (let i = 0; i < 16; i++) assert.equal(argmax(yq, i), argmax(yf, i), `test image ${i}`);
});

test('dynamic int8 export of a LUT model: LUT layers as in the float export, only the dense layers quantized', async () => {
  const dense = createModel('fmnist-cnn', { rng: new Rng(1) }).eval();
  const { model: lut } = convertStructure(dense, { seed: 2, k: 16 });
  const m = lut.eval();
  const f = exportOnnx(m);
  const q = exportOnnx(m, { dynamicInt8: true });
  // conv2-4 and fc1 are LUT layers: written node for node as in the float export, and marked for lutnn import.
  assert.deepEqual(q.lutLayers, f.lutLayers);
  assert.equal(f.lutLayers.length, 4);
  const lutRows = (r: typeof f) => r.layers.filter((l) => l.type === 'LutConv' || l.type === 'LutLinear');
  assert.deepEqual(lutRows(q), lutRows(f));
  assert.equal(q.lutTrainingBytes, f.lutTrainingBytes);
  // conv1 (bn1 folded in) and fc2 are the dense layers: ConvInteger and MatMulInteger. The 3 Convs left are the
  // LutConv layers' fixed one-hot im2col kernels; bn2-4 (after LUT layers) stay lutnn's float64 arithmetic.
  assert.equal(q.ops.ConvInteger, 1);
  assert.equal(q.ops.MatMulInteger, 1);
  assert.equal(q.ops.DynamicQuantizeLinear, 2);
  assert.equal(q.ops.Conv, 3);
  assert.equal(f.ops.Conv, 4);
  assert.equal(q.ops.Gemm, undefined);
  assert.equal(q.ops.BatchNormalization, undefined);
  const rng = new Rng(4);
  const x = new Float32Array(2 * 784);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const yf = await runOrt(f.bytes, x, [2, 1, 28, 28]);
  const yq = await runOrt(q.bytes, x, [2, 1, 28, 28]);
  assert.ok(yq.every(Number.isFinite));
  // A LUT layer after a quantized one can pick other codes (a few near-ties flip), so the outputs move more than a
  // dense model's; with seeded random centroids the logits mean nothing, this only bounds the damage.
  const d = relL2(yf, yq);
  assert.ok(d > 0 && d < 0.5, `relative L2 ${d}`);
});

test('quantizeSymmetric: scale max|w|/127 per group, round half to even, 127 at the extreme, 1 for an all-zero group', () => {
  const w = new Float32Array([1.27, -0.635, 0.005, 0.015, 0, 0, -2, 1]);
  const { q, scales } = quantizeSymmetric(w, 3, (i) => (i < 4 ? 0 : i < 6 ? 1 : 2));
  assert.deepEqual([...scales].map((s) => +s.toFixed(6)), [0.01, 1, +(2 / 127).toFixed(6)]);
  // 0.005 / 0.01 = 0.5 → 0 (even), 0.015 / 0.01 = 1.5 → 2 (even); -2 → -127, 1 → 63.5 → 64 (even).
  assert.deepEqual([...q], [127, -64, 0, 2, 0, 0, -127, 64]);
});

test('exportOnnx rejects a malformed dynamicInt8 option', () => {
  const m = createModel('mlp', { rng: new Rng(1) }).eval();
  assert.throws(() => exportOnnx(m, { dynamicInt8: 'yes' as unknown as boolean }), (e: unknown) => e instanceof ArgumentError && /dynamicInt8 must be/.test(e.message));
  assert.throws(() => exportOnnx(m, { dynamicInt8: { perChannel: 1 } as unknown as { perChannel: boolean } }), ArgumentError);
});
