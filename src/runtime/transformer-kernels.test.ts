// The transformer kernels (assembly/rt-transformer.ts) against their TypeScript twins (bit for bit on the plain SIMD
// build, to one fused rounding on the relaxed one), and the twins against the training engine's float64 ops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wasmRuntime } from '../backend/wasm.js';
import { gelu } from '../ops/unary.js';
import { layerNorm } from '../ops/norm.js';
import { softmax } from '../ops/softmax.js';
import { mean } from '../ops/reduce.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { binaryRef, BINARY_OPS, expRef, geluRef, layerNormRowsRef, meanAxisRef, permuteRef, softmaxRowsRef, type BinaryOp } from './transformer-kernels-ref.js';

const rt = wasmRuntime() ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');
const relaxed = rt.variant === 'relaxed';

/** Runs `fn` with `arrays` copied to the heap (pointers in order) and returns the arrays read back. */
function onHeap(arrays: Float32Array[], fn: (...ptrs: number[]) => void): Float32Array[] {
  const ptrs = arrays.map((a) => rt.heap.alloc(Math.max(16, a.length * 4 + 16)));
  try {
    arrays.forEach((a, i) => rt.f32(ptrs[i], a.length).set(a));
    fn(...ptrs);
    return arrays.map((a, i) => rt.f32(ptrs[i], a.length).slice());
  } finally {
    ptrs.forEach((p) => rt.heap.free(p));
  }
}

function rand(n: number, rng: Rng, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal(0, scale));
}

/**
 * Same bits on the plain build (NaN matches NaN); on the relaxed build (fused a·b + c in the polynomials) within
 * rel·|twin| + 1e-12.
 */
function same(got: Float32Array, want: Float32Array, what: string, rel = 4e-7): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < got.length; i++) {
    if (Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
    if (relaxed && Math.abs(got[i] - want[i]) <= rel * Math.abs(want[i]) + 1e-12) continue;
    assert.fail(`${what}[${i}] = ${got[i]}, twin ${want[i]}`);
  }
}

const COLS = [1, 3, 4, 5, 16, 49, 64, 128, 131];

test('expRef (the twin of expV) is within 3e-7 of Math.exp over the range softmax and GELU use', () => {
  let worst = 0;
  for (let x = -87; x <= 88; x += 0.0137) {
    const xf = Math.fround(x);
    worst = Math.max(worst, Math.abs(expRef(xf) - Math.exp(xf)) / Math.exp(xf));
  }
  assert.ok(worst < 3e-7, `max relative error ${worst}`);
  assert.equal(expRef(-Infinity), 0);
  assert.equal(expRef(-100), 0);
  assert.ok(Number.isNaN(expRef(NaN)));
});

test('rtSoftmaxRows = its twin (with and without the fused scale, in place); the twin is within 1e-6 of the engine', () => {
  const rng = new Rng(1);
  for (const cols of COLS) {
    const rows = 3;
    const x = rand(rows * cols, rng, 4);
    if (cols > 4) x[2] = -Infinity;
    for (const scale of [null, 0.125]) {
      const want = new Float32Array(x.length);
      softmaxRowsRef(x, want, rows, cols, scale);
      const [, y] = onHeap([x, new Float32Array(x.length)], (xp, yp) => rt.ex.rtSoftmaxRows(xp, yp, rows, cols, scale ?? 1, scale === null ? 0 : 1));
      same(y, want, `softmax ${rows}x${cols} scale ${scale}`, 2e-6);
      const [inPlace] = onHeap([x], (xp) => rt.ex.rtSoftmaxRows(xp, xp, rows, cols, scale ?? 1, scale === null ? 0 : 1));
      assert.deepEqual(inPlace, y, 'in place');
      // The engine: the Mul node's f32 product, then softmax in float64.
      const pre = scale === null ? x : x.map((v) => Math.fround(v * Math.fround(scale)));
      const eng = softmax(new Tensor(pre, [rows, cols])).f32;
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(want[i] - eng[i]) <= 1e-6 * eng[i] + 1e-12, `engine [${i}] ${eng[i]} vs ${want[i]}`);
    }
  }
  // A row of −∞ gives NaN, as the engine's.
  const [y] = onHeap([new Float32Array(5).fill(-Infinity)], (p) => rt.ex.rtSoftmaxRows(p, p, 1, 5, 1, 0));
  assert.ok(y.every(Number.isNaN));
  assert.ok(softmax(new Tensor(new Float32Array(5).fill(-Infinity), [1, 5])).f32.every(Number.isNaN));
});

test('rtLayerNormRows = its twin bit for bit (γ/β present or absent, in place); the twin equals the engine but for float64 sum order', () => {
  const rng = new Rng(2);
  let differ = 0;
  let total = 0;
  for (const D of [1, 3, 4, 7, 64, 768, 771]) {
    const rows = 5;
    const x = rand(rows * D, rng, 2).map((v) => v + 3);
    const g = rand(D, rng, 1);
    const b = rand(D, rng, 1);
    for (const [gg, bb] of [[g, b], [g, null], [null, b], [null, null]] as const) {
      const want = new Float32Array(x.length);
      layerNormRowsRef(x, want, rows, D, gg, bb, 1e-6);
      const [, , , y] = onHeap([x, gg ?? new Float32Array(1), bb ?? new Float32Array(1), new Float32Array(x.length)], (xp, gp, bp, yp) => rt.ex.rtLayerNormRows(xp, yp, rows, D, gg ? gp : 0, bb ? bp : 0, 1e-6));
      // f64 arithmetic only: the same on both builds.
      assert.deepEqual(y, want, `layerNorm D=${D}`);
      const [inPlace] = onHeap([x, gg ?? new Float32Array(1), bb ?? new Float32Array(1)], (xp, gp, bp) => rt.ex.rtLayerNormRows(xp, xp, rows, D, gg ? gp : 0, bb ? bp : 0, 1e-6));
      assert.deepEqual(inPlace, y);
      const eng = layerNorm(new Tensor(x, [rows, D]), [D], gg && new Tensor(gg, [D]), bb && new Tensor(bb, [D]), 1e-6).f32;
      for (let i = 0; i < x.length; i++) {
        total++;
        if (eng[i] === want[i]) continue;
        differ++;
        // Another order of the float64 sums moves μ and s in their last bits: at most one float32 rounding flips.
        assert.ok(Math.abs(eng[i] - want[i]) <= 2 ** -23 * Math.abs(eng[i]), `D=${D} [${i}]: ${want[i]} vs engine ${eng[i]}`);
      }
    }
  }
  assert.ok(differ <= total * 1e-3, `${differ} of ${total} values differ from the engine by one rounding`);
});

test('rtGelu (erf and tanh forms) = its twin; the twin is within 1e-6·(1 + |x|) of the engine, exact in the tails', () => {
  const rng = new Rng(3);
  for (const mode of ['none', 'tanh'] as const) {
    for (const n of [1, 3, 4, 5, 17, 1000]) {
      const x = rand(n, rng, 3);
      if (n > 4) [x[0], x[1], x[2], x[3]] = [-12, 12, 0, -0];
      const want = new Float32Array(n);
      geluRef(x, want, mode);
      const [y] = onHeap([x], (p) => rt.ex.rtGelu(p, p, n, mode === 'none' ? 0 : 1));
      same(y, want, `gelu ${mode} n=${n}`, 2e-6);
      const eng = gelu(new Tensor(x, [n]), mode).f32;
      for (let i = 0; i < n; i++) assert.ok(Math.abs(want[i] - eng[i]) <= 1e-6 * (1 + Math.abs(x[i])), `${mode} gelu(${x[i]}) = ${want[i]}, engine ${eng[i]}`);
      if (n > 4) {
        assert.ok(Math.abs(want[0]) < 1e-20, `gelu(-12) = ${want[0]}`);
        assert.equal(want[1], 12);
      }
    }
  }
});

test('rtBinary (same shape, row broadcast, scalar; all six ops, in place) = its twin bit for bit', () => {
  const rng = new Rng(4);
  for (const [rows, cols] of [[1, 1], [3, 5], [2, 64], [4, 49]]) {
    const a = rand(rows * cols, rng);
    for (const mode of ['same', 'row', 'scalar'] as const) {
      const b = rand(mode === 'same' ? rows * cols : mode === 'row' ? cols : 1, rng);
      for (const op of Object.keys(BINARY_OPS) as BinaryOp[]) {
        const want = new Float32Array(a.length);
        binaryRef(a, b, want, rows, cols, mode, op);
        const [got] = onHeap([a, b], (ap, bp) => rt.ex.rtBinary(ap, bp, ap, rows, cols, ['same', 'row', 'scalar'].indexOf(mode), BINARY_OPS[op]));
        assert.deepEqual(got, want, `${op} ${mode} ${rows}x${cols}`);
      }
    }
  }
});

test('rtPermute copies any strided view (contiguous runs and gathers) like its twin', () => {
  const rng = new Rng(5);
  // [N, T, H, dh] → [N, H, T, dh] (runs of dh), and [N, C, P] → [N, P, C] (a gather).
  const T = 7;
  const H = 3;
  const dh = 5;
  const x = rand(2 * T * H * dh, rng);
  const want = new Float32Array(x.length);
  permuteRef(x, want, 2, T * H * dh, [1, H, T, dh], [0, dh, H * dh, 1]);
  for (let n = 0; n < 2; n++)
    for (let h = 0; h < H; h++) for (let t = 0; t < T; t++) for (let d = 0; d < dh; d++) assert.equal(want[((n * H + h) * T + t) * dh + d], x[((n * T + t) * H + h) * dh + d]);
  const [, got] = onHeap([x, new Float32Array(x.length)], (xp, yp) => rt.ex.rtPermute(xp, yp, 2, T * H * dh, 1, H, T, dh, 0, dh, H * dh, 1));
  assert.deepEqual(got, want);
  const C = 6;
  const P = 9;
  const x2 = rand(3 * C * P, rng);
  const want2 = new Float32Array(x2.length);
  permuteRef(x2, want2, 3, C * P, [1, 1, P, C], [0, 0, 1, P]);
  const [, got2] = onHeap([x2, new Float32Array(x2.length)], (xp, yp) => rt.ex.rtPermute(xp, yp, 3, C * P, 1, 1, P, C, 0, 0, 1, P));
  assert.deepEqual(got2, want2);
});

test('rtMeanAxis = its twin = the engine\'s mean over an axis, bit for bit', () => {
  const rng = new Rng(6);
  for (const [outer, n, inner] of [[1, 1, 1], [2, 49, 64], [3, 5, 7], [2, 7, 1], [1, 128, 6]]) {
    const x = rand(outer * n * inner, rng, 3);
    const want = new Float32Array(outer * inner);
    meanAxisRef(x, want, outer, n, inner, 1 / n);
    const [, got] = onHeap([x, new Float32Array(outer * inner)], (xp, yp) => rt.ex.rtMeanAxis(xp, yp, outer, n, inner, 1 / n));
    assert.deepEqual(got, want, `${outer}x${n}x${inner}`);
    assert.deepEqual(want, mean(new Tensor(x, [outer, n, inner]), [1]).f32, 'engine');
  }
});
