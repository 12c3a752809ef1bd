// The quantized-layer kernels (assembly/quant.ts) against their TypeScript twins (quant-kernels-ref.ts), bit for bit:
// rounding ties, clamping, ±Inf and NaN inputs, padded patches, GEMM tails, the epilogue with and without shift and ReLU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wasmRuntime } from '../backend/wasm.js';
import { Rng } from '../tensor/rng.js';
import { qGemmRef, qIm2rowRef, quantizeRowsRef } from './quant-kernels-ref.js';

const rt = wasmRuntime() ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');
const mem = rt.memory;

/** Heap blocks for one test (16-byte padded), freed after `fn`. */
function withHeap<T>(bytes: number[], fn: (...ptrs: number[]) => T): T {
  const ptrs = bytes.map((b) => rt.heap.alloc(Math.max(16, b + 16)));
  try {
    return fn(...ptrs);
  } finally {
    ptrs.forEach((p) => rt.heap.free(p));
  }
}

const i16 = (p: number, n: number): Int16Array => new Int16Array(mem.buffer, p, n);
const f32 = (p: number, n: number): Float32Array => new Float32Array(mem.buffer, p, n);

function randInts(n: number, max: number, rng: Rng): Int16Array {
  return Int16Array.from({ length: n }, () => Math.round((rng.random() * 2 - 1) * max));
}

test('rtQuantizeRows = quantizeRowsRef: ties to even, clamping, ±Inf, NaN reported, row tails zeroed', () => {
  const rng = new Rng(3);
  for (const [rows, K, Kp, bits] of [[3, 37, 40, 8], [2, 8, 8, 8], [1, 5, 8, 4], [4, 100, 104, 2]] as const) {
    const scale = 0.125; // a power of two: the ties below are exact
    const x = Float32Array.from({ length: rows * K }, () => rng.normal(0, 8));
    // Exact ties k + 0.5 (both parities), values far out of range, infinities.
    for (let i = 0; i < x.length; i += 7) x[i] = Math.fround((Math.floor(rng.random() * 20) - 10 + 0.5) * scale);
    x[1] = Infinity;
    x[2] = -Infinity;
    x[3] = 1e30;
    const lo = -(2 ** (bits - 1));
    const hi = 2 ** (bits - 1) - 1;
    withHeap([x.length * 4, rows * Kp * 2, rows * Kp * 2], (px, qa, qb) => {
      f32(px, x.length).set(x);
      i16(qa, rows * Kp).fill(99);
      i16(qb, rows * Kp).fill(99);
      const a = rt.ex.rtQuantizeRows(px, qa, rows, K, Kp, scale, lo, hi);
      const b = quantizeRowsRef(mem, px, qb, rows, K, Kp, scale, lo, hi);
      assert.equal(a, -1);
      assert.equal(b, -1);
      assert.deepEqual(i16(qa, rows * Kp), i16(qb, rows * Kp), `rows ${rows} K ${K}`);
      const q = i16(qa, rows * Kp);
      assert.equal(q[1], hi);
      assert.equal(q[2], lo);
      assert.ok(q.every((v) => v >= lo && v <= hi));
      for (let r = 0; r < rows; r++) for (let k = K; k < Kp; k++) assert.equal(q[r * Kp + k], 0);
      // The ties: round half to even.
      for (let i = 0; i < x.length; i += 7) {
        const v = x[i] / scale;
        if (Math.abs(v) < lo * -1 && Math.abs(v - Math.trunc(v)) === 0.5) assert.ok(q[Math.floor(i / K) * Kp + (i % K)] % 2 === 0, `tie ${v}`);
      }
      // NaN: reported at its index by both, in the SIMD body and in the scalar tail.
      for (const at of new Set([Math.min(K + 4, rows * K - 1), rows * K - 1])) {
        const X = f32(px, x.length);
        const keep = X[at];
        X[at] = NaN;
        assert.equal(rt.ex.rtQuantizeRows(px, qa, rows, K, Kp, scale, lo, hi), at);
        assert.equal(quantizeRowsRef(mem, px, qb, rows, K, Kp, scale, lo, hi), at);
        assert.deepEqual(i16(qa, rows * Kp), i16(qb, rows * Kp));
        X[at] = keep;
      }
    });
  }
});

test('rtQIm2row = qIm2rowRef: padding, stride, dilation, zero tails', () => {
  const rng = new Rng(4);
  for (const g of [
    { nb: 2, C: 3, H: 7, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, PH: 1, PW: 1, DH: 1, DW: 1 },
    { nb: 1, C: 2, H: 9, W: 9, KH: 3, KW: 2, SH: 2, SW: 3, PH: 2, PW: 0, DH: 2, DW: 1 },
    { nb: 1, C: 4, H: 4, W: 4, KH: 1, KW: 1, SH: 1, SW: 1, PH: 0, PW: 0, DH: 1, DW: 1 },
  ]) {
    const OH = Math.floor((g.H + 2 * g.PH - g.DH * (g.KH - 1) - 1) / g.SH) + 1;
    const OW = Math.floor((g.W + 2 * g.PW - g.DW * (g.KW - 1) - 1) / g.SW) + 1;
    const D = g.C * g.KH * g.KW;
    const Kp = Math.ceil(D / 8) * 8;
    const x = randInts(g.nb * g.C * g.H * g.W, 128, rng);
    const n = g.nb * OH * OW * Kp;
    withHeap([x.length * 2, n * 2, n * 2], (px, ra, rb) => {
      i16(px, x.length).set(x);
      i16(ra, n).fill(7);
      i16(rb, n).fill(-7);
      rt.ex.rtQIm2row(px, ra, g.nb, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, OH, OW, Kp);
      qIm2rowRef(mem, px, rb, g.nb, g.C, g.H, g.W, g.KH, g.KW, g.SH, g.SW, g.PH, g.PW, g.DH, g.DW, OH, OW, Kp);
      assert.deepEqual(i16(ra, n), i16(rb, n), JSON.stringify(g));
      // Spot check against the definition: row (0, 0, 0), column (c 0, ki, kj) reads x[0][iy][ix] or 0 in the padding.
      const r = i16(ra, Kp);
      for (let ki = 0; ki < g.KH; ki++) {
        for (let kj = 0; kj < g.KW; kj++) {
          const iy = -g.PH + ki * g.DH;
          const ix = -g.PW + kj * g.DW;
          assert.equal(r[ki * g.KW + kj], iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? x[iy * g.W + ix] : 0);
        }
      }
    });
  }
});

test('rtQGemm = qGemmRef: exact int32 sums of int8 × int9 (and int16) products, tails of N, shift/ReLU options, strides', () => {
  const rng = new Rng(5);
  for (const [M, N, K, wMax] of [[5, 7, 27, 255], [3, 4, 8, 255], [2, 9, 300, 32767], [1, 1, 1, 255], [6, 13, 1152, 255]] as const) {
    const Kp = Math.ceil(K / 8) * 8;
    const a = new Int16Array(M * Kp);
    const w = new Int16Array(N * Kp);
    for (let m = 0; m < M; m++) a.set(randInts(K, 128, rng).map((v) => Math.max(-128, Math.min(127, v))), m * Kp);
    for (let n = 0; n < N; n++) w.set(randInts(K, wMax, rng), n * Kp);
    // Extreme products: −128 · ±wMax over a whole row.
    a.fill(-128, 0, K);
    w.fill(wMax, 0, K);
    const scale = Float32Array.from({ length: N }, () => Math.fround(rng.random() * 1e-3 + 1e-6));
    const shift = Float32Array.from({ length: N }, () => Math.fround(rng.normal(0, 0.5)));
    for (const [useShift, relu, ldm, ldn] of [[true, false, N, 1], [false, true, N, 1], [true, true, 1, M]] as const) {
      withHeap([a.length * 2, w.length * 2, M * N * 4, M * N * 4, N * 4, N * 4], (pa, pw, ya, yb, ps, pt) => {
        i16(pa, a.length).set(a);
        i16(pw, w.length).set(w);
        f32(ps, N).set(scale);
        f32(pt, N).set(shift);
        const t = useShift ? pt : 0;
        rt.ex.rtQGemm(pa, pw, ya, M, N, Kp, ps, t, relu ? 1 : 0, ldm, ldn);
        qGemmRef(mem, pa, pw, yb, M, N, Kp, ps, t, relu ? 1 : 0, ldm, ldn);
        const got = f32(ya, M * N);
        assert.deepEqual(got, f32(yb, M * N), `M ${M} N ${N} K ${K}`);
        // The first output from its definition: the exact sum, then the engine's two roundings.
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[k] * w[k];
        assert.equal(acc, -128 * wMax * K);
        let v = Math.fround(Math.fround(acc * scale[0]) + (useShift ? shift[0] : 0));
        if (relu && v <= 0) v = 0;
        assert.equal(got[0], v);
      });
    }
  }
});
