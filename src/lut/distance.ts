// Distances between sub-vectors and centroids (L2, L1, Chebyshev) and the exact reference encoder (argmin).
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { checkMetric, type Metric } from '../backend/metric.js';

export { METRICS, checkMetric, nearestF32, type Metric } from '../backend/metric.js';

/** Squared Euclidean distance between a[aOff .. aOff+len) and b[bOff .. bOff+len). Same argmin as l2. */
export function sqL2(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, len: number): number {
  let s = 0;
  for (let v = 0; v < len; v++) {
    const t = a[aOff + v] - b[bOff + v];
    s += t * t;
  }
  return s;
}

/** Plain Euclidean distance (not squared), as torch.cdist gives it in the LUT-NN soft assignment. */
export function l2(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, len: number): number {
  return Math.sqrt(sqL2(a, aOff, b, bOff, len));
}

/** Manhattan distance Σ|a−b|. */
export function l1(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, len: number): number {
  let s = 0;
  for (let v = 0; v < len; v++) s += Math.abs(a[aOff + v] - b[bOff + v]);
  return s;
}

/** Chebyshev (L∞) distance max|a−b|. */
export function chebyshev(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, len: number): number {
  let m = 0;
  for (let v = 0; v < len; v++) {
    const t = Math.abs(a[aOff + v] - b[bOff + v]);
    if (t > m) m = t;
    else if (t !== t) return NaN; // a NaN input must not be silently skipped by the max

  }
  return m;
}

/** The metric's distance (l2 is the plain Euclidean distance). */
export function distance(metric: Metric, a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, len: number): number {
  switch (metric) {
    case 'l2':
      return l2(a, aOff, b, bOff, len);
    case 'l1':
      return l1(a, aOff, b, bOff, len);
    case 'chebyshev':
      return chebyshev(a, aOff, b, bOff, len);
  }
}

/**
 * The quantity whose argmin picks the nearest centroid: squared L2 for l2 (monotone in l2, no sqrt),
 * the distance itself for l1 and chebyshev. k-means inertia is the sum of this cost.
 */
export function assignCost(metric: Metric, a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, len: number): number {
  return metric === 'l2' ? sqL2(a, aOff, b, bOff, len) : distance(metric, a, aOff, b, bOff, len);
}

function checkPositiveInt(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`${fn}: ${name} must be a positive integer, got ${v}`);
}

/** Validates the codebook sizes and the centroid buffer [C, K, V]; returns D = C·V. */
export function checkCodebooks(fn: string, centroids: Float32Array, C: number, K: number, V: number): number {
  checkPositiveInt(fn, 'ncodebooks C', C);
  checkPositiveInt(fn, 'k', K);
  checkPositiveInt(fn, 'subvecLen V', V);
  if (K > 256) throw new ArgumentError(`${fn}: k must be <= 256 for uint8 codes, got ${K}`);
  if (!(centroids instanceof Float32Array)) throw new ArgumentError(`${fn}: centroids must be a Float32Array`);
  if (centroids.length !== C * K * V) {
    throw new ShapeError(`${fn}: centroids length ${centroids.length} vs expected C*K*V = ${C}*${K}*${V} = ${C * K * V}`);
  }
  for (let i = 0; i < centroids.length; i++) {
    if (!Number.isFinite(centroids[i])) throw new NonFiniteError(`${fn}: centroids[${i}] is ${centroids[i]}, expected finite`);
  }
  return C * V;
}

/**
 * Reference encoder: codes[n][c] = argmin_k d(rows[n, c·V .. (c+1)·V), centroids[c][k]), first index on ties.
 * rows: [N, D] with D = C·V; centroids: [C, K, V]; returns codes [N, C]. Simple and exact: other encoders
 * (SIMD, int8) are tested against this one. A row block with NaN/Inf (no finite distance) throws NonFiniteError.
 */
export function encode(rows: Float32Array, centroids: Float32Array, C: number, K: number, V: number, metric: Metric = 'l2'): Uint8Array {
  const fn = 'encode';
  checkMetric(fn, metric);
  const D = checkCodebooks(fn, centroids, C, K, V);
  if (!(rows instanceof Float32Array)) throw new ArgumentError(`${fn}: rows must be a Float32Array`);
  if (rows.length % D !== 0) {
    throw new ShapeError(`${fn}: rows length ${rows.length} is not a multiple of D = C*V = ${C}*${V} = ${D}`);
  }
  const N = rows.length / D;
  const codes = new Uint8Array(N * C);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const xOff = n * D + c * V;
      let best = Infinity;
      let bestK = -1;
      for (let k = 0; k < K; k++) {
        const d = assignCost(metric, rows, xOff, centroids, (c * K + k) * V, V);
        if (d < best) {
          best = d;
          bestK = k;
        }
      }
      if (bestK < 0) {
        throw new NonFiniteError(`${fn}: no finite distance for row ${n}, codebook ${c} (NaN or Inf in rows or centroids)`);
      }
      codes[n * C + c] = bestK;
    }
  }
  return codes;
}
