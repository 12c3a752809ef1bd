// The runtime's TypeScript LUT engine against the training code: same codes as encodeRows, same outputs as lutForward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wasmRuntime } from '../backend/wasm.js';
import { LutLinear } from '../lut/modules.js';
import { encodeRows, lutForward } from '../ops/lut.js';
import { noGrad } from '../autograd/engine.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { encodeTs, lutSpecOf, scanTs, tsLutEngine, type LutLayerSpec } from './lut-step.js';
import { ArgumentError } from '../errors.js';

const METRICS = ['l2', 'l1', 'chebyshev'] as const;

test('hand example: nearest centroid, lowest k on ties, int8 table scan', () => {
  // C = 2 codebooks of K = 2 scalar centroids (V = 1), M = 1 output, weight 1: lut = centroids.
  const spec: LutLayerSpec = {
    centroids: Float32Array.of(0, 1, 0, 10),
    lutQ: Int8Array.of(0, 13, 0, 127), // round(lut / (10/127))
    scale: Math.fround(10 / 127),
    bias: Float32Array.of(0.5),
    C: 2, K: 2, V: 1, M: 1, metric: 'l2',
  };
  const codes = new Uint8Array(4);
  // Row 0: 0.9 → k 1, 2 → k 0. Row 1: 0.5 is a tie → k 0; 5 is a tie → k 0.
  assert.equal(encodeTs(Float32Array.of(0.9, 2, 0.5, 5), 0, 2, spec, codes), -1);
  assert.deepEqual([...codes], [1, 0, 0, 0]);
  const y = new Float32Array(2);
  scanTs(codes, 2, spec, y, 0, new Int32Array(1));
  assert.equal(y[0], Math.fround(Math.fround(spec.scale * 13) + 0.5));
  assert.equal(y[1], 0.5);
  // A NaN sub-vector has no finite distance: reported, code 0.
  assert.equal(encodeTs(Float32Array.of(NaN, 2), 0, 1, spec, codes), 0);
});

for (const metric of METRICS) {
  test(`TS engine (${metric}): codes identical to the training encoder, outputs match lutForward's hard path`, () => {
    const rng = new Rng(11);
    const D = 48;
    const M = 20;
    const layer = new LutLinear({ inFeatures: D, outFeatures: M, subvecLen: 4, k: 16, metric, rng });
    const N = 300;
    const x = randn([N, D], 1, rng);
    const spec = lutSpecOf(layer);
    const codes = new Uint8Array(N * spec.C);
    encodeTs(x.f32, 0, N, spec, codes);
    const want = encodeRows(x, layer.centroids, { metric });
    let diff = 0;
    for (let i = 0; i < codes.length; i++) if (codes[i] !== want[i]) diff++;
    // The plain SIMD build rounds exactly as the TS twin; the relaxed one may fuse multiply-adds (rare near-ties).
    if (wasmRuntime()?.variant === 'relaxed' && metric === 'l2') assert.ok(diff <= codes.length * 1e-3, `${diff} codes differ`);
    else assert.equal(diff, 0, `${diff} of ${codes.length} codes differ`);
    const y = new Float32Array(N * M);
    scanTs(codes, N, spec, y, 0, new Int32Array(M));
    const ref = noGrad(() => lutForward(x, layer.centroids, layer.weight, layer.bias, layer.theta, { metric, quantize: true })).f32;
    let maxDiff = 0;
    let maxAbs = 0;
    for (let i = 0; i < y.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(y[i] - ref[i]));
      maxAbs = Math.max(maxAbs, Math.abs(ref[i]));
    }
    // Integer sum then one scale vs a float32 sum of dequantized entries: a few ulps of the output.
    assert.ok(maxDiff <= 1e-5 * (1 + maxAbs), `max diff ${maxDiff} (max |y| ${maxAbs})`);
    assert.ok(spec.lutQ.every((q) => q >= -127 && q <= 127));
  });
}

test('TS engine on wasm memory: prepare/run reads rows and writes outputs at byte pointers', () => {
  const rt = wasmRuntime();
  assert.ok(rt, 'wasm kernels load');
  const rng = new Rng(3);
  const layer = new LutLinear({ inFeatures: 32, outFeatures: 8, subvecLen: 8, k: 16, rng });
  const spec = lutSpecOf(layer);
  const x = randn([10, 32], 1, rng);
  const p = tsLutEngine(rt.memory).prepare(spec, 10);
  const xp = rt.heap.alloc(10 * 32 * 4);
  const yp = rt.heap.alloc(10 * 8 * 4);
  try {
    rt.f32(xp, 320).set(x.f32);
    p.run(xp, yp, 10, 1);
    const want = noGrad(() => layer.eval().forward(new Tensor(x.f32, [10, 32]))).f32;
    const got = rt.f32(yp, 80);
    for (let i = 0; i < 80; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5, `y[${i}] ${got[i]} vs ${want[i]}`);
  } finally {
    p.dispose();
    rt.heap.free(xp);
    rt.heap.free(yp);
  }
  assert.throws(() => tsLutEngine(rt.memory).prepare({ ...spec, lutQ: new Int8Array(3) }, 1), ArgumentError);
});
