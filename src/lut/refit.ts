// Least-squares weight refit of a LUT layer: with codes and centroids fixed, the weight and bias that best reproduce a target output.
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { checkCodebooks } from './distance.js';
import { choleskyInPlace, choleskySolveInPlace } from './maddness.js';

export interface RefitOptions {
  /** Ridge strength relative to the mean diagonal of ZᵀZ (λ = ridge · tr(ZᵀZ)/D); default 1e-3. */
  ridge?: number;
  /**
   * Progress as (done, total) with total 100: the share of the estimated multiply-adds done (code counts, ZᵀZ blocks
   * per codebook, the errors, the Cholesky factor per column, the solve per row), reported at most every 100 ms and
   * once at 100 when done; a layer like fmnist-cnn's fc1 (D = 3136) takes seconds in every phase.
   */
  onProgress?: (done: number, total: number) => void;
  /** Least ms between two onProgress reports (default 100; tests use 0 to see every step). */
  progressIntervalMs?: number;
}

/** Estimated multiply-adds of refitWeights' phases (for progress; `total` counts the error twice, as with `before`). */
export function refitWork(n: number, C: number, K: number, V: number, M: number): { counts: number; blocks: number; error: number; cholesky: number; solve: number; total: number } {
  const D1 = C * V + 1;
  const w = {
    counts: n * ((C * (C + 1)) / 2 + C * M + M),
    blocks: ((C * (C + 1)) / 2) * (K * K * V + K * V * V) + C * K * V * M,
    error: D1 * D1 * M,
    cholesky: (D1 * D1 * D1) / 6,
    solve: D1 * D1 * M,
  };
  return { ...w, total: w.counts + w.blocks + 2 * w.error + w.cholesky + w.solve };
}

/** Progress over phases of known multiply-add counts: `add(n)` after n of them, reported as a percentage, throttled. */
function workMeter(total: number, onProgress: ((done: number, total: number) => void) | undefined, intervalMs: number): { add(n: number): void; finish(): void } {
  let done = 0;
  let last = 0;
  return {
    add(n) {
      done += n;
      if (!onProgress) return;
      const now = performance.now();
      if (now - last < intervalMs) return;
      last = now;
      onProgress(Math.min(99, Math.floor((100 * done) / total)), 100);
    },
    finish() {
      onProgress?.(100, 100);
    },
  };
}

export interface RefitResult {
  /** New weight [D, M], i.e. [C, V, M] (the LUT layers' layout). */
  weight: Float32Array;
  bias: Float32Array;
  /** ||Y − (Z·W0 + b0)||² / ||Y||² on the fitted rows, with the weight and bias passed in (NaN when not given). */
  relErrorBefore: number;
  /** The same relative error with the refitted weight and bias. */
  relErrorAfter: number;
}

/**
 * The layer's hard output is Z·W + b, where row n of Z [n, D] is the concatenation of the centroids its codes pick
 * (Z[n, c·V:(c+1)·V] = centroids[c][code[n][c]]). Given a target Y [n, M] (e.g. the dense layer's output on the
 * clean input), solve [W; b] = argmin ||Y − Z·W − 1·b||² + λ||W||² by Cholesky in float64. ZᵀZ is never built
 * from Z: it is assembled from the code co-occurrence counts, block (a, b) = centroids[a]ᵀ · count[a, b] ·
 * centroids[b], so the cost is O(n·C² + n·C·M) for the counts and O(C²·K·V·(K + V) + D³) for the solve.
 * `before` ({weight [D, M], bias [M]}) also reports the error of the weight the layer had.
 */
export function refitWeights(
  codes: Uint8Array,
  centroids: Float32Array,
  C: number,
  K: number,
  V: number,
  target: Float32Array,
  n: number,
  M: number,
  opts: RefitOptions = {},
  before?: { weight: Float32Array; bias: Float32Array | null },
): RefitResult {
  const fn = 'refitWeights';
  const D = checkCodebooks(fn, centroids, C, K, V);
  if (!Number.isInteger(n) || n < 1) throw new ArgumentError(`${fn}: n must be an integer >= 1, got ${n}`);
  if (!Number.isInteger(M) || M < 1) throw new ArgumentError(`${fn}: M must be an integer >= 1, got ${M}`);
  if (!(codes instanceof Uint8Array) || codes.length !== n * C) throw new ShapeError(`${fn}: codes must be a Uint8Array of n·C = ${n}·${C} = ${n * C}, got ${codes?.length}`);
  if (!(target instanceof Float32Array) || target.length !== n * M) throw new ShapeError(`${fn}: target must be a Float32Array of n·M = ${n}·${M} = ${n * M}, got ${target?.length}`);
  if (before && (before.weight.length !== D * M || (before.bias && before.bias.length !== M))) {
    throw new ShapeError(`${fn}: before.weight must hold D·M = ${D * M} floats and before.bias M = ${M}, got ${before.weight.length} and ${before.bias?.length}`);
  }
  const ridge = opts.ridge ?? 1e-3;
  if (!(ridge > 0) || !Number.isFinite(ridge)) throw new ArgumentError(`${fn}: ridge must be a finite number > 0, got ${ridge}`);
  for (let i = 0; i < codes.length; i++) if (codes[i] >= K) throw new ArgumentError(`${fn}: code ${codes[i]} at index ${i} is not below K = ${K}`);
  let yy = 0;
  for (let i = 0; i < target.length; i++) yy += target[i] * target[i];
  if (!Number.isFinite(yy)) throw new NonFiniteError(`${fn}: target holds NaN or Inf`);

  const D1 = D + 1;
  const work = refitWork(n, C, K, V, M);
  const meter = workMeter(work.counts + work.blocks + work.error * (before ? 2 : 1) + work.cholesky + work.solve, opts.onProgress, opts.progressIntervalMs ?? 100);

  // Code co-occurrence counts [C·K, C·K] and per-code target sums S [C·K, M]; the last row/col of A is the bias.
  const CK = C * K;
  const cnt = new Float64Array(CK * CK);
  const S = new Float64Array(CK * M);
  const ySum = new Float64Array(M);
  const col = new Int32Array(C);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) col[c] = c * K + codes[i * C + c];
    const yo = i * M;
    for (let a = 0; a < C; a++) {
      const ra = col[a] * CK;
      for (let b = 0; b <= a; b++) cnt[ra + col[b]] += 1; // lower blocks only: col[a] > col[b] for a > b
      const so = col[a] * M;
      for (let m = 0; m < M; m++) S[so + m] += target[yo + m];
    }
    for (let m = 0; m < M; m++) ySum[m] += target[yo + m];
    if ((i & 63) === 63) meter.add((64 * work.counts) / n); // a wide layer (fc1: C = 196) scatters C²/2 counts per row
  }
  meter.add(((n & 63) * work.counts) / n);
  const A = new Float64Array(D1 * D1); // [ZᵀZ, Zᵀ1; 1ᵀZ, n], lower triangle filled
  const B = new Float64Array(D1 * M); // [ZᵀY; 1ᵀY]
  const T = new Float64Array(K * V);
  for (let a = 0; a < C; a++) {
    for (let b = 0; b <= a; b++) {
      // T = count[a, b] · centroids[b]  [K, V]; block = centroids[a]ᵀ · T  [V, V]
      T.fill(0);
      let any = false;
      for (let ka = 0; ka < K; ka++) {
        const ro = (a * K + ka) * CK + b * K;
        for (let kb = 0; kb < K; kb++) {
          const w = cnt[ro + kb];
          if (w === 0) continue;
          any = true;
          const po = (b * K + kb) * V;
          for (let v = 0; v < V; v++) T[ka * V + v] += w * centroids[po + v];
        }
      }
      if (!any) continue;
      for (let va = 0; va < V; va++) {
        const row = (a * V + va) * D1 + b * V;
        for (let ka = 0; ka < K; ka++) {
          const p = centroids[(a * K + ka) * V + va];
          if (p === 0) continue;
          for (let vb = 0; vb < V; vb++) A[row + vb] += p * T[ka * V + vb];
        }
      }
    }
    meter.add((a + 1) * (K * K * V + K * V * V));
  }
  for (let a = 0; a < C; a++) {
    for (let ka = 0; ka < K; ka++) {
      const w = cnt[(a * K + ka) * CK + a * K + ka]; // how many rows picked code ka in codebook a
      const so = (a * K + ka) * M;
      for (let v = 0; v < V; v++) {
        const p = centroids[(a * K + ka) * V + v];
        A[D * D1 + a * V + v] += w * p;
        const bo = (a * V + v) * M;
        for (let m = 0; m < M; m++) B[bo + m] += p * S[so + m];
      }
    }
    meter.add(K * V * M);
  }
  A[D * D1 + D] = n;
  for (let m = 0; m < M; m++) B[D * M + m] = ySum[m];
  for (let i = 0; i < D1; i++) for (let j = i + 1; j < D1; j++) A[i * D1 + j] = A[j * D1 + i]; // full symmetric copy for the error formula

  // Relative error of a solution X [D1, M]: (||Y||² − 2·tr(XᵀB) + tr(XᵀAX)) / ||Y||², with A, B before the solve.
  const relError = (X: Float64Array): number => {
    let cross = 0;
    let quad = 0;
    const AX = new Float64Array(M);
    for (let i = 0; i < D1; i++) {
      AX.fill(0);
      const ri = i * D1;
      for (let j = 0; j < D1; j++) {
        const aij = A[ri + j];
        if (aij === 0) continue;
        const xo = j * M;
        for (let m = 0; m < M; m++) AX[m] += aij * X[xo + m];
      }
      const xo = i * M;
      for (let m = 0; m < M; m++) {
        cross += X[xo + m] * B[xo + m];
        quad += X[xo + m] * AX[m];
      }
      meter.add(D1 * M);
    }
    return yy > 0 ? Math.max(0, yy - 2 * cross + quad) / yy : 0;
  };
  let relErrorBefore = NaN;
  if (before) {
    const X0 = new Float64Array(D1 * M);
    for (let i = 0; i < D * M; i++) X0[i] = before.weight[i];
    if (before.bias) for (let m = 0; m < M; m++) X0[D * M + m] = before.bias[m];
    relErrorBefore = relError(X0);
  }
  let tr = 0;
  for (let d = 0; d < D; d++) tr += A[d * D1 + d];
  const lambda = tr > 0 ? (ridge * tr) / D : ridge;
  const L = Float64Array.from(A);
  for (let d = 0; d < D; d++) L[d * D1 + d] += lambda;
  L[D * D1 + D] += 1e-9 * n; // keeps the bias pivot positive when every row is identical
  const X = Float64Array.from(B);
  // Column j of the factor costs about (D1 − j)·j multiply-adds; each solve row about D1·M/2.
  choleskyInPlace(L, D1, (j) => j > 0 && meter.add((D1 - j + 1) * (j - 1)));
  choleskySolveInPlace(L, D1, X, M, () => meter.add((D1 * M) / 2));
  const relErrorAfter = relError(X);
  meter.finish();
  return { weight: Float32Array.from(X.subarray(0, D * M)), bias: Float32Array.from(X.subarray(D * M)), relErrorBefore, relErrorAfter };
}
