// Every SIMD elementwise/reduction kernel against its scalar TypeScript twin, at lengths around the vector width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { elementwiseRef as ref, elementwiseWasm } from './elementwise.js';
import { wasmRuntime } from './wasm.js';
import { Rng } from '../tensor/rng.js';

const simd = elementwiseWasm() ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');
const fused = wasmRuntime()?.variant === 'relaxed';
const LENGTHS = [0, 1, 3, 4, 5, 8, 17, 1023];

function rand(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

/** Element by element: equal values (+0 and -0 differ), any NaN matches any NaN (payloads are unspecified). */
function sameValues(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < got.length; i++) {
    if (!(Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])))) {
      assert.fail(`${what}[${i}] = ${got[i]}, twin ${want[i]}`);
    }
  }
}

/** Exact for the plain build; the relaxed build fuses a·b + c, which may differ by one rounding of a·b. */
function sameOrFused(got: Float32Array, want: Float32Array, prod: Float32Array, what: string): void {
  if (!fused) return sameValues(got, want, what);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 2 ** -23 * (Math.abs(prod[i]) + Math.abs(want[i])), `${what}[${i}]`);
  }
}

test('relu, reluBackward, add and mul equal their twins exactly (NaN and -0 included)', () => {
  const rng = new Rng(1);
  for (const n of LENGTHS) {
    const x = rand(n, rng);
    if (n > 2) [x[0], x[1]] = [NaN, -0];
    const b = rand(n, rng);
    const outs = (fn: (y: Float32Array, impl: typeof ref) => void): [Float32Array, Float32Array] => {
      const y1 = new Float32Array(n);
      const y2 = new Float32Array(n);
      fn(y1, simd);
      fn(y2, ref);
      return [y1, y2];
    };
    for (const [name, fn] of [
      ['relu', (y: Float32Array, k: typeof ref) => k.relu(x, y)],
      ['reluBackward', (y: Float32Array, k: typeof ref) => k.reluBackward(x, b, y)],
      ['add', (y: Float32Array, k: typeof ref) => k.add(x, b, y)],
      ['mul', (y: Float32Array, k: typeof ref) => k.mul(x, b, y)],
    ] as const) {
      const [got, want] = outs(fn);
      sameValues(got, want, `${name} n=${n}`);
    }
  }
  const y = new Float32Array(5);
  simd.relu(new Float32Array([-1, 2, -0, 0.5, -3]), y);
  assert.deepEqual([...y], [0, 2, 0, 0.5, 0]);
});

test('axpy, scaleShift and channelAffine match their twins', () => {
  const rng = new Rng(2);
  for (const n of LENGTHS) {
    const x = rand(n, rng);
    const y0 = rand(n, rng);
    const got = y0.slice();
    const want = y0.slice();
    simd.axpy(0.37, x, got);
    ref.axpy(0.37, x, want);
    sameOrFused(got, want, x.map((v) => v * 0.37), `axpy n=${n}`);
    simd.scaleShift(x, got, -1.5, 0.25);
    ref.scaleShift(x, want, -1.5, 0.25);
    sameOrFused(got, want, x.map((v) => v * 1.5), `scaleShift n=${n}`);
  }
  for (const [nb, c, hw] of [[2, 3, 5], [1, 1, 1], [3, 4, 16], [0, 2, 3]]) {
    const x = rand(nb * c * hw, rng);
    const scale = rand(c, rng, 2);
    const shift = rand(c, rng);
    const got = new Float32Array(x.length);
    const want = new Float32Array(x.length);
    simd.channelAffine(x, got, nb, c, hw, scale, shift);
    ref.channelAffine(x, want, nb, c, hw, scale, shift);
    sameOrFused(got, want, x.map((v, i) => v * scale[Math.floor(i / hw) % c]), `channelAffine ${nb}x${c}x${hw}`);
  }
});

test('sum and sumSquares (f64 accumulation) and max match their twins', () => {
  const rng = new Rng(3);
  for (const n of [...LENGTHS, 100003]) {
    const x = rand(n, rng, 10);
    const s = ref.sum(x);
    const q = ref.sumSquares(x);
    assert.ok(Math.abs(simd.sum(x) - s) <= 1e-12 * ref.sum(x.map(Math.abs)) + 1e-300, `sum n=${n}`);
    assert.ok(Math.abs(simd.sumSquares(x) - q) <= 1e-12 * q + 1e-300, `sumSquares n=${n}`);
    assert.equal(simd.max(x), ref.max(x), `max n=${n}`);
  }
  assert.equal(simd.max(new Float32Array(0)), -Infinity);
  assert.ok(Number.isNaN(simd.max(new Float32Array([1, 2, NaN, 3, 4]))));
  assert.equal(simd.sum(new Float32Array([1, 2, 3, 4, 5])), 15);
  assert.equal(simd.sumSquares(new Float32Array([1, 2, 3, 4, 5])), 55);
});

test('softmaxRows matches Math.exp to 1e-6 relative, with -Infinity entries and large logits', () => {
  const rng = new Rng(4);
  for (const [rows, cols] of [[1, 1], [3, 5], [4, 8], [2, 33], [5, 1000]]) {
    const x = rand(rows * cols, rng, 30);
    if (cols > 2) {
      x[1] = -Infinity;
      x[cols + 2] = 85;
    }
    const got = new Float32Array(x.length);
    const want = new Float32Array(x.length);
    simd.softmaxRows(x, got, rows, cols);
    ref.softmaxRows(x, want, rows, cols);
    for (let i = 0; i < x.length; i++) {
      assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * want[i] + 1e-37, `softmax ${rows}x${cols}[${i}] = ${got[i]} vs ${want[i]}`);
    }
    if (cols > 2) assert.equal(got[1], 0);
    for (let r = 0; r < rows; r++) {
      const s = got.subarray(r * cols, (r + 1) * cols).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - 1) < 1e-5, `row ${r} sums to ${s}`);
    }
  }
});
