// Direct LUT convs (lut-conv.ts) against the im2row path and the encoder twins: identical codes and bit-identical outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getNumThreads, getParallelMinMacs, setNumThreads, setParallelMinMacs } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import { NonFiniteError } from '../errors.js';
import { buildLut, quantizeLut } from '../ops/lut.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import type { GraphModel } from '../graph/model.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { lutify, type LutifyOptions } from '../../test/lut-models.js';
import { DirectLutConv, directConvUnsupported } from './lut-conv.js';
import { prepareLutLayer } from './lut-kernels.js';
import { encodeCertifiedRef, encodeF32Ref, encodeInt8Ref, encodeWideRef, finishRef, scanRef } from './lut-kernels-ref.js';
import { compile } from './node.js';
import type { Window } from './plan.js';
import { im2rowRef as im2row } from './lut-kernels-ref.js';

const rt = wasmRuntime()!;

/** fn with n threads, and no size threshold: small test layers really are split over the pool. */
function withThreads<T>(n: number, fn: () => T): T {
  const prev = getNumThreads();
  const prevMin = getParallelMinMacs();
  setNumThreads(n);
  setParallelMinMacs(0);
  try {
    return fn();
  } finally {
    setNumThreads(prev);
    setParallelMinMacs(prevMin);
  }
}

/** Convs of several geometries (stride, padding, dilation, non-square kernels, odd plane sizes), BN + ReLU, pooling. */
function convNet(rng: Rng): Sequential {
  const m = Sequential.named([
    ['conv1', new Conv2d(3, 8, 3, { padding: 1, rng })],
    ['bn1', new BatchNorm2d(8)],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(8, 12, 3, { stride: 2, padding: 2, dilation: 2, rng })],
    ['relu2', new ReLU()],
    ['conv3', new Conv2d(12, 8, [2, 3], { padding: [1, 0], rng })],
    ['pool', new MaxPool2d(2)],
    ['conv4', new Conv2d(8, 5, 1, { rng })],
    ['flatten', new Flatten(1)],
    ['fc', new Linear(5 * 4 * 2, 4, { rng })],
  ]);
  for (const [, bn] of m.namedModules()) {
    if (!(bn instanceof BatchNorm2d)) continue;
    for (let c = 0; c < bn.numFeatures; c++) {
      bn.runningMean.f32[c] = rng.uniform(-0.3, 0.3);
      bn.runningVar.f32[c] = rng.uniform(0.3, 2);
      bn.weight.f32[c] = rng.uniform(-1.5, 1.5);
    }
  }
  return m;
}

/** convNet with the `include`d convs as LUT-NN layers (k-means codebooks on `calib`, K = 16), lowered for [N, 3, 13, 11]. */
function lutNet(rng: Rng, calib: Tensor, opts: LutifyOptions): GraphModel {
  return lowerModule(lutify(convNet(rng), [calib], { k: 16, ...opts }), { inputShape: [3, 13, 11] }).eval();
}

for (const metric of ['l2', 'l1', 'chebyshev'] as const) {
  test(`direct LUT convs (${metric}): outputs bit-identical to the im2row path, f32, int8 and wide encoders, threads 1 and 2`, () => {
    const rng = new Rng(11);
    // Input 13×11 → conv1 13×11 → conv2 (stride 2, pad 2, dil 2) 7×6 → conv3 (2×3, pad [1,0]) 8×4 → pool 4×2 → conv4.
    const m = lutNet(rng, randn([6, 3, 13, 11], 1, new Rng(12)), { seed: 2, metric, include: ['conv1', 'conv2', 'conv3', 'conv4'] });
    const x = randn([37, 3, 13, 11], 1, rng);
    for (const enc of metric === 'l2' ? (['f32', 'int8', 'wide'] as const) : (['f32'] as const)) {
      // lutWideConv false: the direct int8 encoders use the int8 data, as the im2row path (the wide data: tests below).
      const direct = compile(m, { maxBatch: 37, lutEncoder: enc, lutWideConv: false });
      const oracle = compile(m, { maxBatch: 37, lutEncoder: enc, lutConv: 'im2row' });
      try {
        // conv4 is 1×1 with V = 4 over 8 channels: not one codebook per channel, so it stays on im2row; so does conv2
        // (dilation 2) with the integer encoders, which read kernel rows contiguously, and conv3 (2×3) with the wide
        // one (its direct form is the 3×3 lanes encoder), whose rows encoder gives the same codes.
        assert.equal(direct.directLutConvs, { f32: 3, int8: 2, wide: 1 }[enc]);
        assert.equal(oracle.directLutConvs, 0);
        const want = withThreads(1, () => oracle.run(x));
        assert.deepEqual(withThreads(1, () => direct.run(x)), want, `${enc}, 1 thread`);
        assert.deepEqual(withThreads(2, () => direct.run(x)), want, `${enc}, 2 threads`);
        // Every step's output, not just the logits.
        const a = direct.activations(x.f32.subarray(0, 5 * 3 * 13 * 11));
        const b = oracle.activations(x.f32.subarray(0, 5 * 3 * 13 * 11));
        a.forEach((v, i) => assert.deepEqual(v, b[i], `${enc}: step ${direct.summary()[i]}`));
      } finally {
        direct.dispose();
        oracle.dispose();
      }
    }
  });
}


const window = (cin: number, h: number, w: number, k: [number, number], s: number, p: number, d: number): Window => {
  const outH = Math.floor((h + 2 * p - d * (k[0] - 1) - 1) / s) + 1;
  const outW = Math.floor((w + 2 * p - d * (k[1] - 1) - 1) / s) + 1;
  return { cin, h, w, kh: k[0], kw: k[1], sh: s, sw: s, ph: p, pw: p, dh: d, dw: d, outH, outW };
};

/** A 3×3 window (stride s both ways, padding p, dilation dh along H only). */
const win3x3 = (cin: number, h: number, w: number, s: number, p: number, dh = 1): Window => {
  const outH = Math.floor((h + 2 * p - dh * 2 - 1) / s) + 1;
  const outW = Math.floor((w + 2 * p - 2 - 1) / s) + 1;
  return { cin, h, w, kh: 3, kw: 3, sh: s, sw: s, ph: p, pw: p, dh, dw: 1, outH, outW };
};

test('direct encoders: codes equal the twins (encodeF32Ref / encodeWideRef / encodeInt8Ref) on the im2row rows; NaN input is reported', () => {
  const rng = new Rng(5);
  const cases: [Window, 'f32' | 'int8'][] = [
    [window(5, 9, 7, [3, 3], 1, 1, 1), 'f32'],
    [window(5, 9, 7, [3, 3], 1, 1, 1), 'int8'],
    [window(3, 10, 9, [3, 3], 2, 0, 1), 'f32'],
    [window(4, 8, 8, [5, 5], 1, 2, 1), 'int8'],
    [window(4, 8, 8, [2, 2], 1, 1, 2), 'f32'],
  ];
  for (const [w, enc] of cases) {
    const C = w.cin;
    const V = w.kh * w.kw;
    const K = 16;
    const M = 6;
    const n = 3;
    const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
    // Near-ties on purpose: some x equal to a centroid coordinate.
    const x = Float32Array.from({ length: n * C * w.h * w.w }, (_, i) => (i % 7 === 0 ? centroids[i % centroids.length] : rng.normal() * 1.5));
    const W = randn([C, V, M], 0.3, rng);
    const { table, scale } = quantizeLut(buildLut(new Tensor(centroids, [C, K, V]), W));
    const layer = prepareLutLayer({ centroids, lutQ: table.data as Int8Array, scale, ncodebooks: C, k: K, subvecLen: V, outFeatures: M, encoder: enc });
    const blocks: number[] = [];
    const alloc = { alloc: (b: number) => (blocks.push(rt.heap.alloc(b)), blocks[blocks.length - 1]) };
    try {
      assert.equal(directConvUnsupported(w, layer), null);
      const dc = new DirectLutConv(rt, alloc, w, layer, { scale: 0, shift: 0, relu: 0 });
      const P = w.outH * w.outW;
      const xp = alloc.alloc(x.length * 4);
      const yp = alloc.alloc(n * M * P * 4);
      const sp = alloc.alloc(dc.scratchBytes(n));
      rt.f32(xp, x.length).set(x);
      const host = { rt, runJob: runOnCallingThread, threadsFor: () => 1 };
      assert.equal(dc.run(host, n, xp, yp, sp), true);
      const rows = im2row(x, n, w);
      const want = enc === 'f32'
        ? encodeF32Ref(rows, C * V, n * P, centroids, C, K, V, 'l2').codes
        : dc.wide
          ? encodeWideRef(rows, C * V, n * P, layer.wide!, C, K, V).codes
          : encodeInt8Ref(rows, C * V, n * P, layer.int8!, C, K, V).codes;
      assert.equal(dc.wide, w.kh === 3 && w.kw === 3 && w.dw === 1, 'the 3×3 convs run the wide data (int8, or certified f32)');
      assert.equal(dc.certified, enc === 'f32' && dc.wide);
      assert.deepEqual(dc.readCodes(rt, n, sp), want, `codes ${JSON.stringify(w)} ${enc}`);
      const codes = new Set(want);
      assert.ok(codes.size > 4, 'the case exercises many centroids');
      rt.f32(xp, x.length)[17] = NaN;
      assert.equal(dc.run(host, n, xp, yp, sp), false, 'NaN in x is flagged');
    } finally {
      blocks.forEach((p) => rt.heap.free(p));
      layer.dispose();
    }
  }
});

/** Runs the job just written on the calling thread (what the pool does with one thread). */
function runOnCallingThread(): void {
  rt.job.seal();
  const gen = rt.ex.openJob();
  rt.ex.work(0, gen);
  rt.ex.finishJob();
}

test('a non-finite activation inside the model: the direct path reports the same error as the im2row path', () => {
  const rng = new Rng(3);
  const m = lutNet(rng, randn([4, 3, 13, 11], 1, new Rng(13)), { seed: 2, include: ['conv2'] });
  const x = randn([2, 3, 13, 11], 1, rng);
  x.f32.fill(3e38, 0, 3 * 13 * 11); // conv1 overflows to ±Inf on sample 0
  const errs = (['direct', 'im2row'] as const).map((mode) => {
    const r = compile(m, { lutConv: mode });
    try {
      assert.equal(r.directLutConvs, mode === 'direct' ? 1 : 0);
      r.run(x);
      return null;
    } catch (e) {
      return e;
    } finally {
      r.dispose();
    }
  });
  assert.ok(errs[1] instanceof NonFiniteError, `im2row path: ${String(errs[1])}`);
  assert.ok(errs[0] instanceof NonFiniteError);
  assert.equal((errs[0] as Error).message, (errs[1] as Error).message);
});

test('int8 direct encoder: pixels in lanes give the per-pixel oracle\'s codes and outputs on the int8 data, the wide twin\'s on the wide data', () => {
  const rng = new Rng(9);
  // fmnist-cnn shapes, odd widths (row tails, blocks across rows), padding 0/1, stride 2, dilation along H, x clamped.
  const cases: [Window, number, number][] = [
    [win3x3(32, 28, 28, 1, 1), 2, 1.5],
    [win3x3(3, 13, 11, 1, 1), 37, 1.5],
    [win3x3(64, 14, 14, 1, 1), 3, 1.5],
    [win3x3(3, 13, 13, 1, 0), 4, 1.5],
    [win3x3(5, 7, 7, 1, 1), 5, 1.5],
    [win3x3(7, 13, 9, 2, 1), 3, 1.5],
    [win3x3(4, 11, 10, 1, 1, 2), 3, 1.5],
    [win3x3(6, 9, 17, 1, 1), 2, 40],
  ];
  let wideCases = 0;
  for (const [w, n, xs] of cases) {
    const C = w.cin;
    const V = 9;
    const K = 16;
    const M = 5;
    const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
    // Per-channel x ranges from 1/8 to 8 times the centroids' (calibrated): key shifts 4..8, x scales 2^-3..2^3.
    const amp = Float32Array.from({ length: C }, (_, c) => 2 ** ((c % 7) - 3));
    const x = Float32Array.from({ length: n * C * w.h * w.w }, (_, i) =>
      i % 11 === 0 ? centroids[i % centroids.length] : rng.normal() * xs * amp[Math.floor(i / (w.h * w.w)) % C]);
    const calibration = Float32Array.from({ length: C * V }, (_, i) => 3 * xs * amp[Math.floor(i / V)]);
    const W = randn([C, V, M], 0.3, rng);
    const { table, scale } = quantizeLut(buildLut(new Tensor(centroids, [C, K, V]), W));
    const layer = prepareLutLayer({ centroids, lutQ: table.data as Int8Array, scale, ncodebooks: C, k: K, subvecLen: V, outFeatures: M, encoder: 'int8', calibration });
    if (C >= 32) assert.deepEqual(new Set(layer.int8!.keyShift), new Set([4, 5, 6, 7, 8]), 'every key shift occurs');
    const blocks: number[] = [];
    const alloc = { alloc: (b: number) => (blocks.push(rt.heap.alloc(b)), blocks[blocks.length - 1]) };
    try {
      const P = w.outH * w.outW;
      const xp = alloc.alloc(x.length * 4);
      const yp = alloc.alloc(n * M * P * 4);
      rt.f32(xp, x.length).set(x);
      const host = { rt, runJob: runOnCallingThread, threadsFor: () => 1 };
      const modes = [{ int8Encoder: 'pixel' as const }, { int8Encoder: 'lanes' as const, wide: false }, { int8Encoder: 'lanes' as const }];
      const res = modes.map((opts) => {
        const dc = new DirectLutConv(rt, alloc, w, layer, { scale: 0, shift: 0, relu: 0 }, opts);
        assert.equal(dc.int8Encoder, opts.int8Encoder);
        assert.equal(dc.wide, opts.int8Encoder === 'lanes' && opts.wide !== false && layer.wide !== null);
        const sp = alloc.alloc(dc.scratchBytes(n));
        new Uint8Array(rt.memory.buffer, sp, dc.scratchBytes(n)).fill(0xee); // stale codes must not survive
        assert.equal(dc.run(host, n, xp, yp, sp), true);
        return { codes: dc.readCodes(rt, n, sp), y: rt.f32(yp, n * M * P).slice() };
      });
      const rows = im2row(x, n, w);
      const want = encodeInt8Ref(rows, C * V, n * P, layer.int8!, C, K, V).codes;
      const tag = JSON.stringify(w);
      assert.deepEqual(res[0].codes, want, `pixel codes ${tag}`);
      assert.deepEqual(res[1].codes, want, `lanes codes (int8 data) ${tag}`);
      assert.deepEqual(res[1].y, res[0].y, `outputs ${tag}`);
      // The scan writes scale·Σ lutQ (no epilogue) into NCHW planes: the twins' outputs, bit for bit.
      const planes = (codes: Uint8Array): Float32Array => {
        const out = finishRef(scanRef(codes, table.data as Int8Array, n * P, C, K, M), n * P, M, scale, null);
        const y = new Float32Array(n * M * P);
        for (let b = 0; b < n; b++) for (let m = 0; m < M; m++) for (let q = 0; q < P; q++) y[(b * M + m) * P + q] = out[(b * P + q) * M + m];
        return y;
      };
      assert.deepEqual(res[0].y, planes(want), `pixel outputs vs the scan twin ${tag}`);
      if (layer.wide) {
        const wideCodes = encodeWideRef(rows, C * V, n * P, layer.wide, C, K, V).codes;
        assert.deepEqual(res[2].codes, wideCodes, `lanes codes (wide) ${tag}`);
        assert.deepEqual(res[2].y, planes(wideCodes), `lanes outputs (wide) ${tag}`);
        wideCases++;
      } else {
        assert.deepEqual(res[2].codes, want, `lanes codes (no wide data: int8) ${tag}`);
      }
      assert.ok(new Set(want).size > 8, 'the case exercises many centroids');
    } finally {
      blocks.forEach((p) => rt.heap.free(p));
      layer.dispose();
    }
  }
  assert.ok(wideCases >= 4, `${wideCases} cases ran the wide data`);
});

test('lutEncoder int8: 3×3 direct convs run the wide data (as lutEncoder wide), others the int8 data; lutWideConv is checked', () => {
  const rng = new Rng(12);
  const m = lutNet(rng, randn([6, 3, 13, 11], 1, new Rng(14)), { seed: 2, include: ['conv1', 'conv2', 'conv3', 'conv4'] });
  const x = randn([9, 3, 13, 11], 1, rng);
  const opts = { maxBatch: 9 };
  const [int8, wide, narrow] = [compile(m, { ...opts, lutEncoder: 'int8' }), compile(m, { ...opts, lutEncoder: 'wide' }), compile(m, { ...opts, lutEncoder: 'int8', lutWideConv: false })];
  try {
    const [a, b, c] = [int8, wide, narrow].map((r) => r.activations(x.f32));
    assert.match(int8.summary()[0], /^lutConv conv1/);
    assert.deepEqual(a[0], b[0], 'conv1 (3×3, direct): the wide data under both encoders');
    assert.notDeepEqual(a[0], c[0], 'lutWideConv false: conv1 on the int8 data picks other codes');
  } finally {
    int8.dispose();
    wide.dispose();
    narrow.dispose();
  }
  assert.throws(() => compile(m, { ...opts, lutWideConv: 'yes' as unknown as boolean }), /lutWideConv must be a boolean, got yes/);
});

test('certified f32 conv encoder: the f32 encoder\'s codes and outputs exactly, near-ties re-encoded as its twin says', () => {
  const rng = new Rng(21);
  const cases: [Window, number, number, number][] = [
    [win3x3(8, 12, 12, 1, 1), 3, 16, 1],
    [win3x3(5, 11, 9, 2, 1), 4, 16, 1],
    [win3x3(6, 10, 13, 1, 0, 2), 3, 7, 1],
    [win3x3(4, 9, 9, 1, 1), 3, 16, 40], // x far outside the centroids: clamped, always re-encoded
  ];
  let fixed = 0;
  for (const [w, n, K, xs] of cases) {
    const C = w.cin;
    const V = 9;
    const M = 6;
    const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
    // Near-ties on purpose: most pixels at the midpoint of two centroids of their channel (plus tiny noise).
    const x = new Float32Array(n * C * w.h * w.w);
    for (let i = 0; i < x.length; i++) {
      const c = Math.floor(i / (w.h * w.w)) % C;
      const a = rng.int(K), b = rng.int(K), v = rng.int(V);
      x[i] = i % 3 === 0 ? rng.normal() * xs : 0.5 * (centroids[(c * K + a) * V + v] + centroids[(c * K + b) * V + v]) + rng.normal() * 1e-3;
    }
    const W = randn([C, V, M], 0.3, rng);
    const { table, scale } = quantizeLut(buildLut(new Tensor(centroids, [C, K, V]), W));
    const layer = prepareLutLayer({ centroids, lutQ: table.data as Int8Array, scale, ncodebooks: C, k: K, subvecLen: V, outFeatures: M });
    const blocks: number[] = [];
    const alloc = { alloc: (b: number) => (blocks.push(rt.heap.alloc(b)), blocks[blocks.length - 1]) };
    try {
      const P = w.outH * w.outW;
      const xp = alloc.alloc(x.length * 4);
      const yp = alloc.alloc(n * M * P * 4);
      rt.f32(xp, x.length).set(x);
      const host = { rt, runJob: runOnCallingThread, threadsFor: () => 1 };
      const res = [true, false].map((certify) => {
        const dc = new DirectLutConv(rt, alloc, w, layer, { scale: 0, shift: 0, relu: 0 }, { certify });
        assert.equal(dc.certified, certify);
        const sp = alloc.alloc(dc.scratchBytes(n));
        assert.equal(dc.run(host, n, xp, yp, sp), true);
        return { codes: dc.readCodes(rt, n, sp), y: rt.f32(yp, n * M * P).slice(), rechecks: dc.lastRechecks };
      });
      const rows = im2row(x, n, w);
      const exact = encodeF32Ref(rows, C * V, n * P, centroids, C, K, V, 'l2').codes;
      const twin = encodeCertifiedRef(rows, C * V, n * P, layer.wide!, layer.certify!, centroids, C, K, V);
      const tag = JSON.stringify(w);
      assert.deepEqual(twin.codes, exact, `twin ${tag}`);
      assert.deepEqual(res[0].codes, exact, `certified codes ${tag}`);
      assert.deepEqual(res[1].codes, exact, `plain f32 codes ${tag}`);
      assert.deepEqual(res[0].y, res[1].y, `outputs ${tag}`);
      assert.equal(res[0].rechecks, twin.rechecked, `re-encoded sub-vectors ${tag}`);
      assert.ok(twin.rechecked > 0 && twin.rechecked < exact.length, `${twin.rechecked} of ${exact.length} re-encoded`);
      const wideCodes = encodeWideRef(rows, C * V, n * P, layer.wide!, C, K, V).codes;
      fixed += exact.reduce((a, e, i) => a + (wideCodes[i] !== e ? 1 : 0), 0);
    } finally {
      blocks.forEach((p) => rt.heap.free(p));
      layer.dispose();
    }
  }
  assert.ok(fixed > 20, `the wide keys alone pick ${fixed} other codes, which the re-encoding corrects`);
});
