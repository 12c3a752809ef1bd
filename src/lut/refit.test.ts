// Tests for the least-squares weight refit: matches an explicit normal-equation solve, never worse than the weight it starts from, checks inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { refitWeights } from './refit.js';
import { choleskyInPlace, choleskySolveInPlace } from './maddness.js';
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { Rng } from '../tensor/rng.js';

function randomCase(seed: number, n: number, C: number, K: number, V: number, M: number) {
  const rng = new Rng(seed);
  const centroids = new Float32Array(C * K * V).map(() => rng.normal());
  const codes = new Uint8Array(n * C).map(() => rng.int(K));
  const D = C * V;
  // Z [n, D]: the centroids the codes pick.
  const Z = new Float64Array(n * D);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) for (let v = 0; v < V; v++) Z[i * D + c * V + v] = centroids[(c * K + codes[i * C + c]) * V + v];
  const target = new Float32Array(n * M).map(() => rng.normal());
  return { centroids, codes, Z, target, D };
}

/** Explicit [W; b] = (Z1ᵀZ1 + λ·diag(1..1, ~0))⁻¹ Z1ᵀY with Z1 = [Z, 1], λ = ridge·tr(ZᵀZ)/D. */
function explicitSolve(Z: Float64Array, Y: Float32Array, n: number, D: number, M: number, ridge: number): Float64Array {
  const D1 = D + 1;
  const A = new Float64Array(D1 * D1);
  const B = new Float64Array(D1 * M);
  const z = new Float64Array(D1);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < D; d++) z[d] = Z[i * D + d];
    z[D] = 1;
    for (let a = 0; a < D1; a++) {
      for (let b = 0; b < D1; b++) A[a * D1 + b] += z[a] * z[b];
      for (let m = 0; m < M; m++) B[a * M + m] += z[a] * Y[i * M + m];
    }
  }
  let tr = 0;
  for (let d = 0; d < D; d++) tr += A[d * D1 + d];
  for (let d = 0; d < D; d++) A[d * D1 + d] += (ridge * tr) / D;
  A[D * D1 + D] += 1e-9 * n;
  choleskyInPlace(A, D1);
  choleskySolveInPlace(A, D1, B, M);
  return B;
}

function relErr(Z: Float64Array, Y: Float32Array, W: ArrayLike<number>, b: ArrayLike<number>, n: number, D: number, M: number): number {
  let e = 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < M; m++) {
      let y = b[m];
      for (let d = 0; d < D; d++) y += Z[i * D + d] * W[d * M + m];
      e += (y - Y[i * M + m]) ** 2;
      s += Y[i * M + m] ** 2;
    }
  }
  return e / s;
}

test('refit equals the explicit normal-equation solve built from the rows', () => {
  const n = 300;
  const [C, K, V, M] = [3, 4, 2, 5];
  const { centroids, codes, Z, target, D } = randomCase(1, n, C, K, V, M);
  const r = refitWeights(codes, centroids, C, K, V, target, n, M, { ridge: 1e-3 });
  const want = explicitSolve(Z, target, n, D, M, 1e-3);
  for (let i = 0; i < D * M; i++) assert.ok(Math.abs(r.weight[i] - want[i]) < 1e-4 * (1 + Math.abs(want[i])), `weight ${i}: ${r.weight[i]} vs ${want[i]}`);
  for (let m = 0; m < M; m++) assert.ok(Math.abs(r.bias[m] - want[D * M + m]) < 1e-4 * (1 + Math.abs(want[D * M + m])), `bias ${m}`);
  // The error reported from the normal equations equals the error of the rows themselves.
  const direct = relErr(Z, target, r.weight, r.bias, n, D, M);
  assert.ok(Math.abs(r.relErrorAfter - direct) < 1e-6, `${r.relErrorAfter} vs ${direct}`);
});

test('refit recovers a weight that reproduces the target exactly, and is never worse than the starting weight', () => {
  const n = 400;
  const [C, K, V, M] = [4, 8, 3, 6];
  const { centroids, codes, Z, D } = randomCase(2, n, C, K, V, M);
  const rng = new Rng(3);
  const W = new Float32Array(D * M).map(() => rng.normal());
  const b = new Float32Array(M).map(() => rng.normal());
  const target = new Float32Array(n * M);
  for (let i = 0; i < n; i++) for (let m = 0; m < M; m++) {
    let y = b[m];
    for (let d = 0; d < D; d++) y += Z[i * D + d] * W[d * M + m];
    target[i * M + m] = y;
  }
  const start = new Float32Array(D * M).map(() => rng.normal());
  const r = refitWeights(codes, centroids, C, K, V, target, n, M, { ridge: 1e-7 }, { weight: start, bias: null });
  assert.ok(r.relErrorAfter < 1e-6, `after ${r.relErrorAfter}`);
  assert.ok(r.relErrorBefore > 0.1, `before ${r.relErrorBefore}`);
  assert.ok(Math.abs(r.relErrorBefore - relErr(Z, target, start, new Float32Array(M), n, D, M)) < 1e-6);
  // With a real ridge the fit is still no worse than the weight we started from, on noisy targets too.
  const noisy = target.map((y) => y + rng.normal());
  const r2 = refitWeights(codes, centroids, C, K, V, noisy, n, M, {}, { weight: W, bias: b });
  assert.ok(r2.relErrorAfter <= r2.relErrorBefore + 1e-9, `${r2.relErrorAfter} vs ${r2.relErrorBefore}`);
});

test('refit survives degenerate codebooks (all rows on one code, zero centroids)', () => {
  const [C, K, V, M, n] = [2, 4, 3, 2, 10];
  const centroids = new Float32Array(C * K * V); // all zero
  const codes = new Uint8Array(n * C);
  const target = new Float32Array(n * M).fill(2);
  const r = refitWeights(codes, centroids, C, K, V, target, n, M);
  for (const x of r.weight) assert.ok(Number.isFinite(x));
  for (const x of r.bias) assert.ok(Math.abs(x - 2) < 1e-6, `bias ${x}`);
});

test('refit rejects bad inputs with named errors', () => {
  const [C, K, V, M, n] = [2, 4, 3, 2, 5];
  const cents = new Float32Array(C * K * V);
  const codes = new Uint8Array(n * C);
  const y = new Float32Array(n * M);
  assert.throws(() => refitWeights(new Uint8Array(3), cents, C, K, V, y, n, M), ShapeError);
  assert.throws(() => refitWeights(codes, cents, C, K, V, new Float32Array(3), n, M), ShapeError);
  assert.throws(() => refitWeights(codes.map(() => 4), cents, C, K, V, y, n, M), /code 4 at index 0 is not below K = 4/);
  assert.throws(() => refitWeights(codes, cents, C, K, V, y.map(() => NaN), n, M), NonFiniteError);
  assert.throws(() => refitWeights(codes, cents, C, K, V, y, n, M, { ridge: 0 }), ArgumentError);
  assert.throws(() => refitWeights(codes, cents, C, K, V, y, 0, M), ArgumentError);
});

test('refit reports progress per phase step: non-decreasing percentages, about 100 before the end, one final 100', () => {
  const n = 3000;
  const [C, K, V, M] = [12, 8, 4, 7];
  const { centroids, codes, target, D } = randomCase(4, n, C, K, V, M);
  const seen: [number, number][] = [];
  const start = { weight: new Float32Array(D * M), bias: null };
  const r = refitWeights(codes, centroids, C, K, V, target, n, M, { onProgress: (d, t) => seen.push([d, t]), progressIntervalMs: 0 }, start);
  assert.ok(Number.isFinite(r.relErrorAfter));
  assert.ok(seen.every(([, t]) => t === 100));
  const pct = seen.map(([d]) => d);
  for (let i = 1; i < pct.length; i++) assert.ok(pct[i] >= pct[i - 1], `progress went back: ${pct[i - 1]} -> ${pct[i]}`);
  assert.equal(pct.at(-1), 100);
  assert.equal(pct.filter((p) => p === 100).length, 1, 'one final report');
  // Reports come from every phase: row chunks, one per codebook, per error row, per factor column, per solve row.
  assert.ok(pct.length >= C + 3 * (D + 1), `only ${pct.length} reports`);
  // The estimated work adds up: the last report before the final one is close to the end.
  assert.ok(pct.at(-2)! >= 95, `last report before the end: ${pct.at(-2)}%`);
  assert.ok(pct[0] < 50, `first report already at ${pct[0]}%`);
  // Without a callback, or throttled (the default 100 ms), the result is the same.
  const quiet = refitWeights(codes, centroids, C, K, V, target, n, M, {}, start);
  assert.deepEqual(quiet.weight, r.weight);
});
