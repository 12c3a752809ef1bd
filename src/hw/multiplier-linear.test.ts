// Tests of lutLinear (GEMM-speed layer through a LUT multiplier) against the per-product model, exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError } from '../errors.js';
import { createMultiplier, type LutMultiplier, type MultiplierOptions } from './multiplier.js';
import { intGemm, lutLinear, lutLinearReference, prepareLutLinear } from './multiplier-linear.js';

/** mulberry32: a small seeded generator (tests stay independent of the engine). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random operands in range, with the extremes and zero mixed in. */
function operands(r: () => number, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const u = r();
    out[k] = u < 0.05 ? lo : u < 0.1 ? hi : u < 0.15 ? 0 : lo + Math.floor(r() * (hi - lo + 1));
  }
  return out;
}

function layer(m: LutMultiplier, N: number, K: number, M: number, seed: number): { A: Int32Array; W: Int32Array } {
  const r = rng(seed);
  return { A: operands(r, N * K, m.aMin, m.aMax), W: operands(r, K * M, m.wMin, m.wMax) };
}

function naiveGemm(A: Int32Array, W: Int32Array, N: number, K: number, M: number): Int32Array {
  const out = new Int32Array(N * M);
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += A[n * K + k] * W[k * M + m];
    out[n * M + m] = s;
  }
  return out;
}

const CASES: (MultiplierOptions & { gemm: number; gather: number })[] = [
  { gemm: 1, gather: 0 },
  { partsA: [4, 4], partsW: [5, 4], gemm: 1, gather: 0 },
  { partsA: [3, 3, 2], partsW: [3, 3, 3], sign: 'magnitude', gemm: 1, gather: 0 },
  { partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]], gemm: 2, gather: 0 },
  { partsA: [3, 3, 2], partsW: [3, 3, 3], drop: [[2, 2], [2, 1], [1, 2]], gemm: 3, gather: 0 },
  { partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 2 }], gemm: 1, gather: 2 },
  { partsA: [3, 3, 2], partsW: [3, 3, 3], truncate: [{ belowBit: 5, mode: 'round' }], gemm: 1, gather: 2 },
  { partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]], truncate: [{ bits: 3, mode: 'round', pairs: [[1, 0], [0, 1]] }], gemm: 2, gather: 2 },
  { partsA: [4, 4], partsW: [5, 4], sign: 'ones', gemm: 1, gather: 2 },
  { partsA: [2, 2, 2, 2], partsW: [5, 4], sign: 'magnitude', truncate: [{ bits: 1, pairs: [[3, 1]] }], drop: [[3, 0]], gemm: 2, gather: 1 },
  { truncate: [{ bits: 4, mode: 'round' }], gemm: 1, gather: 1 },
  { signedA: false, partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]], truncate: [{ bits: 2, pairs: [[0, 0]] }], gemm: 2, gather: 1 },
];

test('lutLinear equals lutMultiply on every product, exactly, for exact and approximate multipliers', () => {
  const N = 5;
  const K = 37;
  const M = 11;
  CASES.forEach(({ gemm, gather, ...opts }, c) => {
    const m = createMultiplier(opts);
    const { A, W } = layer(m, N, K, M, 100 + c);
    const ref = lutLinearReference(m, A, W, { N, K, M });
    const prep = prepareLutLinear(m, W, K, M);
    assert.deepEqual(prep.apply(A, N), ref, m.name);
    assert.deepEqual([prep.gemmPasses, prep.gatherPasses], [gemm, gather], m.name);
    // Column-blocked gather tables (rebuilt per apply) give the same result.
    assert.deepEqual(lutLinear(m, A, W, { N, K, M }, { maxGatherEntries: 100 }), ref, m.name);
    const exact = naiveGemm(A, W, N, K, M);
    if (m.approximate) assert.notDeepEqual(ref, exact, `${m.name} should differ from the exact GEMM on this layer`);
    else assert.deepEqual(ref, exact, m.name);
  });
});

test('a prepared layer serves several batches; plain number arrays are accepted', () => {
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]], truncate: [{ bits: 2, pairs: [[0, 1]] }] });
  const K = 20;
  const M = 7;
  const { W } = layer(m, 1, K, M, 7);
  const prep = prepareLutLinear(m, Array.from(W), K, M);
  for (const [N, seed] of [[1, 1], [9, 2], [0, 3]]) {
    const { A } = layer(m, N, K, M, seed);
    assert.deepEqual(prep.apply(Array.from(A), N), lutLinearReference(m, A, W, { N, K, M }));
  }
});

test('intGemm is the integer GEMM (blocked over K and M, accumulating into out)', () => {
  const r = rng(5);
  const N = 3;
  const K = 150;
  const M = 600;
  const A = operands(r, N * K, -128, 127);
  const W = operands(r, K * M, -256, 255);
  const want = naiveGemm(A, W, N, K, M);
  assert.deepEqual(intGemm(A, W, N, K, M), want);
  const twice = intGemm(A, W, N, K, M, intGemm(A, W, N, K, M));
  assert.deepEqual(twice, want.map((x) => 2 * x));
  assert.throws(() => intGemm(A, W, N, K + 1, M), ShapeError);
});

test('lutLinear: clear errors for bad shapes, operands and accumulator overflow', () => {
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 1 }] });
  const W = new Int32Array(6);
  assert.throws(() => lutLinear(m, new Int32Array(5), W, { N: 2, K: 3, M: 2 }), /lutLinear: A has 5 elements, expected 6/);
  assert.throws(() => lutLinear(m, new Int32Array(6), W, { N: 2, K: 3, M: 3 }), (e: unknown) => e instanceof ShapeError && /W has 6 elements, expected 9/.test(e.message));
  assert.throws(() => lutLinear(m, Int32Array.of(0, 0, 200, 0, 0, 0), W, { N: 2, K: 3, M: 2 }), /lutLinear: A\[2\]: a = 200 is not an integer in the 8-bit signed range/);
  assert.throws(() => lutLinear(m, new Int32Array(6), Int32Array.of(0, 0, 0, 0, -257, 0), { N: 2, K: 3, M: 2 }), /W\[4\]: w = -257/);
  assert.throws(() => lutLinear(m, new Int32Array(6), W, { N: 2, K: 3, M: -1 }), (e: unknown) => e instanceof ArgumentError && /M must be an integer ≥ 0/.test(e.message));
  assert.throws(() => lutLinear(m, new Int32Array(6), W, { N: 2, K: 3, M: 2 }, { maxGatherEntries: 0 }), /maxGatherEntries/);
  const wide = createMultiplier({ bitsA: 16, bitsW: 4, partsA: [16], truncate: [{ bits: 1 }] });
  assert.throws(() => prepareLutLinear(wide, new Int32Array(300), 300, 1), /error table of a-part 0 needs 65536 x K = 19660800 rows/);
  const K = 70000;
  assert.throws(() => prepareLutLinear(m, new Int32Array(K), K, 1), /may overflow the int32 accumulator/);
});
