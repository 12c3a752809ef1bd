// Similarity metrics of LUT encoders (names, checks) and the float32 nearest-centroid twin shared by the kernels' TypeScript twins.
import { ArgumentError } from '../errors.js';

/** Similarity used to match a sub-vector to a centroid (LUT-NN uses l2; LUT-DLA adds l1 and chebyshev). */
export type Metric = 'l2' | 'l1' | 'chebyshev';

export const METRICS: readonly Metric[] = ['l2', 'l1', 'chebyshev'];

/** Throws unless `metric` is one of METRICS; `fn` names the caller in the message. */
export function checkMetric(fn: string, metric: unknown): Metric {
  if (typeof metric !== 'string' || !(METRICS as readonly string[]).includes(metric)) {
    throw new ArgumentError(`${fn}: metric must be one of ${METRICS.join(', ')}, got ${String(metric)}`);
  }
  return metric as Metric;
}

/**
 * Nearest of codebook c's K centroids (at P[p0 + (c·K + k)·V]) to the sub-vector X[x0 + v·step], v < V, under `metric`,
 * with float32 rounding per operation as the plain SIMD builds; first index on ties, −1 when no distance is finite.
 * The shared core of the training and inference encoder twins (which differ only in the x layout).
 */
export function nearestF32(X: Float32Array, x0: number, step: number, P: Float32Array, p0: number, c: number, K: number, V: number, metric: Metric): number {
  let best = Infinity;
  let bk = -1;
  for (let k = 0; k < K; k++) {
    const pk = p0 + (c * K + k) * V;
    let d = 0;
    for (let v = 0; v < V; v++) {
      const t = Math.fround(X[x0 + v * step] - P[pk + v]);
      if (metric === 'l2') d = Math.fround(d + Math.fround(t * t));
      else if (metric === 'l1') d = Math.fround(d + Math.abs(t));
      else d = Math.max(d, Math.abs(t)); // NaN propagates
    }
    if (d < best) {
      best = d;
      bk = k;
    }
  }
  return bk;
}
