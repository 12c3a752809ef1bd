// Tests of the sub-vector distances and the reference encoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignCost, chebyshev, distance, encode, l1, l2, METRICS, sqL2, type Metric } from './distance.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';

test('distances on a hand example, with offsets', () => {
  const a = Float32Array.of(9, 1, 2, 3);
  const b = Float32Array.of(4, 6, 0, 0, 0);
  // a[1..4) = (1,2,3), b[2..5) = (4,6,0): diffs (-3,-4,3)
  assert.equal(sqL2(a, 1, b, 0, 3), 9 + 16 + 9);
  assert.equal(l2(a, 1, b, 0, 3), Math.sqrt(34));
  assert.equal(l1(a, 1, b, 0, 3), 10);
  assert.equal(chebyshev(a, 1, b, 0, 3), 4);
  assert.equal(distance('l2', a, 1, b, 0, 3), Math.sqrt(34));
  assert.equal(assignCost('l2', a, 1, b, 0, 3), 34);
  assert.equal(assignCost('l1', a, 1, b, 0, 3), 10);
  assert.equal(assignCost('chebyshev', a, 1, b, 0, 3), 4);
});

test('chebyshev propagates NaN instead of skipping it', () => {
  assert.ok(Number.isNaN(chebyshev(Float32Array.of(NaN, 0), 0, Float32Array.of(0, 5), 0, 2)));
  assert.ok(Number.isNaN(chebyshev(Float32Array.of(0, NaN), 0, Float32Array.of(5, 0), 0, 2)));
});

function bruteEncode(rows: Float32Array, cents: Float32Array, C: number, K: number, V: number, metric: Metric): Uint8Array {
  const D = C * V;
  const N = rows.length / D;
  const out = new Uint8Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const ds: number[] = [];
      for (let k = 0; k < K; k++) {
        let d = 0;
        for (let v = 0; v < V; v++) {
          const t = Math.abs(rows[n * D + c * V + v] - cents[(c * K + k) * V + v]);
          d = metric === 'l2' ? d + t * t : metric === 'l1' ? d + t : Math.max(d, t);
        }
        ds.push(d);
      }
      out[n * C + c] = ds.indexOf(Math.min(...ds));
    }
  }
  return out;
}

test('encode matches a brute-force argmin for every metric', () => {
  const rng = new Rng(5);
  const C = 3;
  const K = 16;
  const V = 4;
  const N = 50;
  const rows = Float32Array.from({ length: N * C * V }, () => rng.normal());
  const cents = Float32Array.from({ length: C * K * V }, () => rng.normal());
  for (const metric of METRICS) {
    const codes = encode(rows, cents, C, K, V, metric);
    assert.equal(codes.length, N * C);
    assert.deepEqual(codes, bruteEncode(rows, cents, C, K, V, metric));
  }
});

test('encode picks the first index on ties', () => {
  // Codebook of 3 centroids where 1 and 2 are identical and nearest.
  const cents = Float32Array.of(10, 10, 1, 1, 1, 1);
  const codes = encode(Float32Array.of(1, 1, 0.5, 0.5), cents, 1, 3, 2);
  assert.deepEqual([...codes], [1, 1]);
});

test('encode validates its arguments', () => {
  const cents = new Float32Array(2 * 4 * 3);
  assert.throws(() => encode(new Float32Array(7), cents, 2, 4, 3), (e: Error) => e instanceof ShapeError && /encode: rows length 7 is not a multiple of D = C\*V = 2\*3 = 6/.test(e.message));
  assert.throws(() => encode(new Float32Array(6), cents, 2, 5, 3), (e: Error) => e instanceof ShapeError && /centroids length 24 vs expected C\*K\*V = 2\*5\*3 = 30/.test(e.message));
  assert.throws(() => encode(new Float32Array(6), new Float32Array(257), 1, 257, 1), (e: Error) => e instanceof ArgumentError && /k must be <= 256/.test(e.message));
  assert.throws(() => encode(new Float32Array(6), cents, 2, 4, 3, 'cosine' as Metric), (e: Error) => e instanceof ArgumentError && /metric must be one of/.test(e.message));
  assert.throws(() => encode(new Float32Array(6), cents, 0, 4, 3), ArgumentError);
  const bad = new Float32Array(6);
  bad[4] = NaN;
  assert.throws(() => encode(bad, cents, 2, 4, 3), (e: Error) => e instanceof NonFiniteError && /row 0, codebook 1/.test(e.message));
  const badC = new Float32Array(24);
  badC[5] = Infinity;
  assert.throws(() => encode(new Float32Array(6), badC, 2, 4, 3), NonFiniteError);
});
