// Chunk kernels of the fused LUT-NN op: distances, argmin, soft assignment and its backward, on GEMMs plus one fused loop.
//
// Layouts of one chunk of Rc rows (all reused across chunks), with Va = V + 1:
//   XT  [C·Va, Rc]   the chunk's rows transposed, codebook c's sub-vectors in the block XT_c [Va, Rc] whose last
//                    row is all ones (so GEMMs against augmented centroids also give ‖p‖² terms and plain sums)
//   S   [C][Rc][K]   ‖p‖² − 2·x·p from GEMMs, then distances, then the weights of the distance backward
//   A   [Rc][C·K]    soft assignments a = softmax_k(−β·dist)
//   DA  [Rc][C·K]    dL/da = G·lutᵀ
// G and the output are [Rc, M] (rows) or [M, Rc] (a conv image's NCHW plane) per the `mMajor` flag of the caller.
//
// L2 distances use ‖x−p‖² = ‖x‖² + (‖p‖² − 2·x·p), the bracket by one GEMM per codebook against [−2p, ‖p‖²].
// A pair whose expanded value is below NEAR·(‖x‖² + ‖p‖²) is recomputed directly and its gradient taken
// directly, so the expansion's rounding costs at most ~V·2⁻²⁴/NEAR relative error in any distance and none near
// zero. L1 and Chebyshev use direct loops. The softmax runs on the backend's SIMD softmaxRows kernel when the wasm
// backend is active (exp to ~2e-7 relative), else on the plain loop below (expNeg, 1e-8).
// These scalar loops dominate the op's time; they are written so that a SIMD kernel can take each one over.
import { elementwiseWasm } from '../backend/elementwise.js';
import { getBackend } from '../backend/index.js';
import { NonFiniteError } from '../errors.js';
import type { Metric } from './distance.js';

/** Expanded L2 pairs with ‖x−p‖² <= NEAR·(‖x‖²+‖p‖²) are recomputed directly. */
const NEAR = 1 / 16;
/** e^−t below e^−CUT (1.3e-14, far under float32 resolution next to the largest term 1) counts as 0. */
const CUT = 32;

/** 2^−i for i in [0, 1075). */
const POW2NEG = new Float64Array(1075);
for (let i = 0; i < POW2NEG.length; i++) POW2NEG[i] = Math.pow(2, -i);

/**
 * e^−t for t >= 0, faster than Math.exp here: range reduction to 2^−n·e^u with |u| <= ln2/2 and a degree-7
 * Taylor polynomial. Relative error below 1e-8 for normal results (well under float32's 6e-8); 0 beyond the double range.
 */
export function expNeg(t: number): number {
  const y = t * Math.LOG2E;
  const n = Math.floor(y + 0.5);
  if (!(n < 1075)) return 0;
  const u = (n - y) * Math.LN2;
  const p = 1 + u * (1 + u * (0.5 + u * (1 / 6 + u * (1 / 24 + u * (1 / 120 + u * (1 / 720 + u * (1 / 5040)))))));
  return p * POW2NEG[n];
}

export interface Dims {
  N: number;
  D: number;
  C: number;
  K: number;
  V: number;
  M: number;
}

/** Growable list of l2 pairs handled directly in the backward pass: (index into S, weight). */
export class NearList {
  idx = new Int32Array(256);
  w = new Float64Array(256);
  n = 0;

  push(i: number, w: number): void {
    if (this.n === this.idx.length) {
      const idx = new Int32Array(this.n * 2);
      idx.set(this.idx);
      const ww = new Float64Array(this.n * 2);
      ww.set(this.w);
      this.idx = idx;
      this.w = ww;
    }
    this.idx[this.n] = i;
    this.w[this.n] = w;
    this.n++;
  }
}

/** Per-chunk scratch for up to R rows. */
export interface Work {
  XT: Float32Array;
  xsq: Float64Array; // [C][Rc] ‖x‖² (l2)
  S: Float32Array;
  /** [C][Rc][K]: 1 where an l2 distance was recomputed directly (cleared again by chunkSoft's backward step). */
  nearFlag: Uint8Array;
}

export function newWork(R: number, d: Dims): Work {
  const { C, K, V } = d;
  return {
    XT: new Float32Array(R * C * (V + 1)),
    xsq: new Float64Array(R * C),
    S: new Float32Array(R * C * K),
    nearFlag: new Uint8Array(R * C * K),
  };
}

/** Centroid tables: ‖p‖² [C·K]; Pa [C][K][Va] = (−2p, ‖p‖²) for the distance GEMM; Pb [C][K][Va] = (p, 1). */
export interface Tables {
  psq: Float64Array;
  Pa: Float32Array;
  Pb: Float32Array;
}

export function centroidTables(P: Float32Array, d: Dims): Tables {
  const { C, K, V } = d;
  const Va = V + 1;
  const CK = C * K;
  const psq = new Float64Array(CK);
  const Pa = new Float32Array(CK * Va);
  const Pb = new Float32Array(CK * Va);
  for (let i = 0; i < CK; i++) {
    let s = 0;
    for (let v = 0; v < V; v++) {
      const t = P[i * V + v];
      s += t * t;
      Pa[i * Va + v] = -2 * t;
      Pb[i * Va + v] = t;
    }
    psq[i] = s;
    Pa[i * Va + V] = s;
    Pb[i * Va + V] = 1;
  }
  return { psq, Pa, Pb };
}

/** Sets the ones rows of XT [C·Va, Rc]. */
export function onesRows(XT: Float32Array, Rc: number, C: number, V: number): void {
  for (let c = 0; c < C; c++) XT.fill(1, (c * (V + 1) + V) * Rc, (c * (V + 1) + V + 1) * Rc);
}

/** Row of XT [C·Va, Rc] holding input column dIdx (of D = C·V). */
export function augRow(dIdx: number, V: number): number {
  const c = Math.floor(dIdx / V);
  return dIdx + c;
}

/** XT [C·Va, Rc] = rows r0..r0+Rc of X [N, D], transposed, with the ones rows. */
export function transposeRows(X: Float32Array, XT: Float32Array, r0: number, Rc: number, C: number, V: number): void {
  const D = C * V;
  for (let r = 0; r < Rc; r++) {
    let src = (r0 + r) * D;
    for (let c = 0; c < C; c++) {
      let dst = c * (V + 1) * Rc + r;
      for (let v = 0; v < V; v++, dst += Rc) XT[dst] = X[src++];
    }
  }
  onesRows(XT, Rc, C, V);
}

/** dx rows r0..r0+Rc of [N, D] = dXT [C·Va, Rc] transposed (ones rows skipped). */
export function untransposeRows(dXT: Float32Array, dx: Float32Array, r0: number, Rc: number, C: number, V: number): void {
  const D = C * V;
  for (let r = 0; r < Rc; r++) {
    let dst = (r0 + r) * D;
    for (let c = 0; c < C; c++) {
      let src = c * (V + 1) * Rc + r;
      for (let v = 0; v < V; v++, src += Rc) dx[dst++] = dXT[src];
    }
  }
}

function nonFinite(row: number, c: number): NonFiniteError {
  return new NonFiniteError(`lutForward: no finite distance for row ${row}, codebook ${c} (NaN or Inf in x or centroids)`);
}

function directSq(XT: Float32Array, xo: number, Rc: number, P: Float32Array, po: number, V: number): number {
  let s = 0;
  for (let v = 0; v < V; v++) {
    const t = XT[xo + v * Rc] - P[po + v];
    s += t * t;
  }
  return s;
}

/**
 * Prepares the chunk's distances in w.S: for l2 the GEMM terms ‖p‖² − 2·x·p (and ‖x‖² in w.xsq), for
 * l1/Chebyshev the distances themselves (direct loops).
 */
export function chunkDots(metric: Metric, P: Float32Array, tb: Tables, w: Work, Rc: number, d: Dims): void {
  const { C, K, V } = d;
  const Va = V + 1;
  const { XT, S, xsq } = w;
  if (metric === 'l2') {
    const be = getBackend();
    for (let c = 0; c < C; c++) {
      // S_c [Rc, K] = XT_c [Va, Rc]ᵀ · Pa_c [K, Va]ᵀ = ‖p‖² − 2·x·p
      be.gemm(XT.subarray(c * Va * Rc), tb.Pa.subarray(c * K * Va), S.subarray(c * Rc * K), Rc, K, Va, true, true, false);
    }
    xsq.fill(0, 0, C * Rc);
    for (let c = 0; c < C; c++) {
      const o = c * Rc;
      for (let v = 0; v < V; v++) {
        const xo = (c * Va + v) * Rc;
        for (let r = 0; r < Rc; r++) {
          const t = XT[xo + r];
          xsq[o + r] += t * t;
        }
      }
    }
    return;
  }
  const cheb = metric === 'chebyshev';
  const acc = w.xsq; // reused as a [Rc] accumulator
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < K; k++) {
      acc.fill(0, 0, Rc);
      for (let v = 0; v < V; v++) {
        const p = P[(c * K + k) * V + v];
        const xo = (c * Va + v) * Rc;
        if (cheb) {
          for (let r = 0; r < Rc; r++) {
            const t = Math.abs(XT[xo + r] - p);
            if (!(t <= acc[r])) acc[r] = t; // NaN propagates
          }
        } else {
          for (let r = 0; r < Rc; r++) acc[r] += Math.abs(XT[xo + r] - p);
        }
      }
      for (let r = 0; r < Rc; r++) S[(c * Rc + r) * K + k] = acc[r];
    }
  }
}

/**
 * Hard codes of the chunk (after chunkDots): onehot [Rc][C·K] gets a 1 at each argmin (first on ties), and
 * codes[(r0+r)·C + c] the index when `codes` is given. Throws NonFiniteError when a sub-vector has no finite distance.
 */
export function chunkArgmin(metric: Metric, P: Float32Array, psq: Float64Array, w: Work, Rc: number, r0: number, d: Dims, onehot: Float32Array | null, codes: Uint8Array | null): void {
  const { C, K, V } = d;
  const { XT, S, xsq } = w;
  const l2 = metric === 'l2';
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < Rc; r++) {
      const cr = c * Rc + r;
      const so = cr * K;
      const xs = l2 ? xsq[cr] : 0;
      let best = Infinity;
      let bk = -1;
      for (let k = 0; k < K; k++) {
        let d2 = S[so + k];
        if (l2) {
          const ps = psq[c * K + k];
          d2 += xs;
          if (d2 <= NEAR * (xs + ps)) d2 = directSq(XT, c * (V + 1) * Rc + r, Rc, P, (c * K + k) * V, V);
        }
        if (d2 < best) {
          best = d2;
          bk = k;
        }
      }
      if (bk < 0) throw nonFinite(r0 + r, c);
      if (onehot) onehot[(r * C + c) * K + bk] = 1;
      if (codes) codes[(r0 + r) * C + c] = bk;
    }
  }
}

/** Row-wise softmax of x [rows, K] in place: the SIMD kernel when the wasm backend is active, else plain loops. */
function softmaxRowsInPlace(x: Float32Array, rows: number, K: number): void {
  const simd = getBackend().name === 'wasm' ? elementwiseWasm() : null;
  if (simd) {
    simd.softmaxRows(x, x, rows, K);
    return;
  }
  for (let o = 0; o < rows * K; o += K) {
    let m = -Infinity;
    for (let k = 0; k < K; k++) if (x[o + k] > m) m = x[o + k];
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const t = m - x[o + k];
      const e = t > CUT ? 0 : expNeg(t);
      x[o + k] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let k = 0; k < K; k++) x[o + k] *= inv;
  }
}

/**
 * The soft pass of one chunk (after chunkDots): the distances (into S), a = softmax_k(−β·dist) into A, and when
 * `DA` is non-empty the softmax backward dz = a·(da − Σ a·da), the sum Σ dz·(−dist) (returned, for dβ), and the
 * distance weights in S: ddist/dist for l2 (0 at dist = 0; near pairs go to `near` and get 0 in S), or ddist
 * itself for l1/Chebyshev. (The sums of the l2 weights over k and over rows come out of the backward GEMMs.)
 */
export function chunkSoft(
  metric: Metric,
  P: Float32Array,
  psq: Float64Array,
  w: Work,
  Rc: number,
  r0: number,
  d: Dims,
  beta: number,
  A: Float32Array,
  DA: Float32Array,
  near: NearList,
): number {
  const { C, K, V } = d;
  const { XT, S, xsq, nearFlag } = w;
  const l2 = metric === 'l2';
  const withDz = DA.length > 0;
  // 1. Distances into S [C][Rc][K] and the logits −β·dist into A [Rc][C·K].
  for (let c = 0; c < C; c++) {
    const ck = c * K;
    for (let r = 0; r < Rc; r++) {
      const cr = c * Rc + r;
      const so = cr * K;
      const ao = (r * C + c) * K;
      let dmin = Infinity;
      if (l2) {
        const xs = xsq[cr];
        for (let k = 0; k < K; k++) {
          const ps = psq[ck + k];
          let d2 = xs + S[so + k];
          if (d2 <= NEAR * (xs + ps)) {
            d2 = directSq(XT, c * (V + 1) * Rc + r, Rc, P, (ck + k) * V, V);
            if (withDz) nearFlag[so + k] = 1;
          }
          const dist = Math.sqrt(d2);
          S[so + k] = dist;
          A[ao + k] = -beta * dist;
          if (dist < dmin) dmin = dist;
        }
      } else {
        for (let k = 0; k < K; k++) {
          const dist = S[so + k];
          A[ao + k] = -beta * dist;
          if (dist < dmin) dmin = dist;
        }
      }
      if (!(dmin < Infinity)) throw nonFinite(r0 + r, c);
    }
  }
  // 2. a = softmax over each K-row of A.
  softmaxRowsInPlace(A, Rc * C, K);
  if (!withDz) return 0;
  // 3. Softmax backward and the distance weights.
  let dBeta = 0;
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < Rc; r++) {
      const so = (c * Rc + r) * K;
      const ao = (r * C + c) * K;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[ao + k] * DA[ao + k];
      for (let k = 0; k < K; k++) {
        const dz = A[ao + k] * (DA[ao + k] - s);
        const dist = S[so + k];
        dBeta -= dz * dist;
        const dd = -beta * dz; // dL/ddist
        if (!l2) {
          S[so + k] = dd;
          continue;
        }
        const wk = dist > 0 ? dd / dist : 0; // d dist/dx = (x − p)/dist, 0 at dist = 0
        if (nearFlag[so + k] !== 0) {
          nearFlag[so + k] = 0;
          if (wk !== 0) near.push(so + k, wk);
          S[so + k] = 0;
        } else {
          S[so + k] = wk;
        }
      }
    }
  }
  return dBeta;
}

/**
 * L2 distance backward of one chunk (after chunkSoft, W = S): dXT [C·Va, Rc] (overwritten, when non-empty) and
 * xwT [C·K, Va] += Σ_r W·(x, 1) (when non-empty; the last column is Σ_r W). Near pairs add W·(x − p) to dXT and
 * subtract it from dPdist.
 */
export function chunkL2Backward(P: Float32Array, tb: Tables, w: Work, Rc: number, d: Dims, near: NearList, dXT: Float32Array, xwT: Float32Array, dPdist: Float64Array): void {
  const { C, K, V } = d;
  const Va = V + 1;
  const { S, XT } = w;
  const be = getBackend();
  const withDx = dXT.length > 0;
  const withDp = dPdist.length > 0;
  if (withDx) {
    for (let c = 0; c < C; c++) {
      // dXT_c [Va, Rc] = Pb_cᵀ [Va, K] · W_cᵀ [K, Rc]: rows v < V are Σ_k W·p, row V is Σ_k W.
      // Then dx = Σ_k W·(x − p) = (Σ_k W)·x − Σ_k W·p.
      const o = c * Va * Rc;
      be.gemm(tb.Pb.subarray(c * K * Va), S.subarray(c * Rc * K), dXT.subarray(o), Va, Rc, K, true, true, false);
      const rs = o + V * Rc;
      for (let v = 0; v < V; v++) {
        const b = o + v * Rc;
        for (let r = 0; r < Rc; r++) dXT[b + r] = dXT[rs + r] * XT[b + r] - dXT[b + r];
      }
    }
  }
  if (xwT.length > 0) {
    for (let c = 0; c < C; c++) {
      // xwT_c [K, Va] += W_cᵀ [K, Rc] · XT_c [Va, Rc]ᵀ
      be.gemm(S.subarray(c * Rc * K), XT.subarray(c * Va * Rc), xwT.subarray(c * K * Va), K, Va, Rc, true, true, true);
    }
  }
  for (let i = 0; i < near.n; i++) {
    const idx = near.idx[i];
    const wk = near.w[i];
    const k = idx % K;
    const cr = (idx - k) / K; // c·Rc + r
    const r = cr % Rc;
    const c = (cr - r) / Rc;
    const po = (c * K + k) * V;
    for (let v = 0; v < V; v++) {
      const xo = (c * Va + v) * Rc + r;
      const t = wk * (XT[xo] - P[po + v]);
      if (withDx) dXT[xo] += t;
      if (withDp) dPdist[po + v] -= t;
    }
  }
}

/** L1 / Chebyshev distance backward of one chunk: S holds ddist; dXT [C·Va, Rc] (zeroed here) and dPdist accumulate. */
export function chunkDirectBackward(metric: Metric, P: Float32Array, w: Work, Rc: number, d: Dims, dXT: Float32Array, dPdist: Float64Array): void {
  const { C, K, V } = d;
  const { S, XT } = w;
  const withDx = dXT.length > 0;
  const withDp = dPdist.length > 0;
  if (withDx) dXT.fill(0, 0, C * (V + 1) * Rc);
  const cheb = metric === 'chebyshev';
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < Rc; r++) {
      const so = (c * Rc + r) * K;
      const xb = c * (V + 1) * Rc + r;
      for (let k = 0; k < K; k++) {
        const dd = S[so + k];
        if (dd === 0) continue;
        const po = (c * K + k) * V;
        if (cheb) {
          // Only the first coordinate of largest |x − p| moves the distance.
          let best = -1;
          let bv = 0;
          for (let v = 0; v < V; v++) {
            const t = Math.abs(XT[xb + v * Rc] - P[po + v]);
            if (t > best) {
              best = t;
              bv = v;
            }
          }
          const diff = XT[xb + bv * Rc] - P[po + bv];
          const g = diff > 0 ? dd : diff < 0 ? -dd : 0;
          if (withDx) dXT[xb + bv * Rc] += g;
          if (withDp) dPdist[po + bv] -= g;
        } else {
          for (let v = 0; v < V; v++) {
            const diff = XT[xb + v * Rc] - P[po + v];
            const g = diff > 0 ? dd : diff < 0 ? -dd : 0;
            if (withDx) dXT[xb + v * Rc] += g;
            if (withDp) dPdist[po + v] -= g;
          }
        }
      }
    }
  }
}
