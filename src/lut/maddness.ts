// MADDNESS encoder (Blalock & Guttag, ICML'21): per-codebook depth-4 hash trees and ridge-regression prototypes.
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { Rng } from '../tensor/rng.js';
import { getBackend } from '../backend/index.js';
import { sampleRows } from './kmeans.js';
import { MADDNESS_DEPTH, MADDNESS_LEAVES, MADDNESS_NODES, maddnessRoute } from '../ops/maddness.js';

export { MADDNESS_DEPTH, MADDNESS_LEAVES, MADDNESS_NODES } from '../ops/maddness.js';

/**
 * A trained MADDNESS encoder. Routing convention: the nodes of a tree are in heap order (root 0, children of
 * node t are 2t+1 and 2t+2; level l holds nodes 2^l − 1 .. 2^(l+1) − 2). At level l a sub-vector x goes
 * right when x[splitDims[c, l]] > thresholds[c, node], left otherwise (x <= threshold); the leaf reached
 * is node − 15, so a code's bits are the left/right decisions, root first (most significant bit).
 */
export interface MaddnessModel {
  ncodebooks: number; // C
  subvecLen: number; // V; D = C·V
  /** [C, 4] split dimension of each level, an index inside the codebook's sub-vector (0..V-1). */
  splitDims: Int32Array;
  /** [C, 15] one threshold per node, heap order. */
  thresholds: Float32Array;
  /**
   * [C·16, D] prototype of leaf k of codebook c in row c·16 + k; a row reconstructs as Σ_c prototypes[c·16 + code].
   * When `projected` is set, [C·16, projected] instead: the prototypes times a dense weight's transpose (a LUT).
   */
  prototypes: Float32Array;
  /** Output count M when `prototypes` holds P·Wᵀ (trained with `project`); absent for plain prototypes. */
  projected?: number;
}

export interface MaddnessOptions {
  /** Ridge penalty λ of the prototype regression (> 0). Default 1. */
  lambda?: number;
  /** How many dimensions (largest SSE over the current buckets) each level tries. Default 4. */
  candidates?: number;
  /** At most this many rows (a seeded sample) train the trees and prototypes. Default 65536. */
  maxRows?: number;
  /** Seed of the row sample. Default 0. */
  seed?: number;
  /** Called with (done, total): once per codebook tree, then once for the prototype solve. */
  onProgress?: (done: number, total: number) => void;
  /**
   * A dense weight W [M, D] (row m = output m). The result's prototypes are then P·Wᵀ [C·16, M], the layer's table,
   * solved directly as (GᵀG + λI)·T = Gᵀ(X·Wᵀ): the same least-squares solution (the solve is linear in its
   * right-hand side) with M instead of D right-hand sides, which for a wide Linear is most of the cost.
   */
  project?: Float32Array;
}

function intArg(fn: string, name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ArgumentError(`${fn}: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/**
 * Learns the MADDNESS encoder and prototypes from rows [N, D] (D = C·V): one tree per codebook on that
 * codebook's V columns, then prototypes [C·16, D] spanning all D columns by ridge regression from the
 * one-hot codes G [N, C·16]: P = argmin ||G·P − X||² + λ||P||², solved as (GᵀG + λI) P = GᵀX by Cholesky
 * in float64. Deterministic (the only randomness is the seeded row sample when N > maxRows).
 */
export function trainMaddness(rows: Float32Array, N: number, C: number, V: number, opts: MaddnessOptions = {}): MaddnessModel {
  const fn = 'trainMaddness';
  intArg(fn, 'N', N, 1);
  intArg(fn, 'ncodebooks C', C, 1);
  intArg(fn, 'subvecLen V', V, 1);
  const lambda = opts.lambda ?? 1;
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new ArgumentError(`${fn}: lambda must be a finite number > 0, got ${lambda}`);
  const candidates = intArg(fn, 'candidates', opts.candidates ?? 4, 1);
  const maxRows = intArg(fn, 'maxRows', opts.maxRows ?? 65536, 1);
  if (!(rows instanceof Float32Array)) throw new ArgumentError(`${fn}: rows must be a Float32Array`);
  const D = C * V;
  if (rows.length !== N * D) throw new ShapeError(`${fn}: rows length ${rows.length} vs expected N*C*V = ${N}*${C}*${V} = ${N * D}`);
  for (let i = 0; i < rows.length; i++) {
    if (!Number.isFinite(rows[i])) throw new NonFiniteError(`${fn}: rows[${i}] is ${rows[i]} (row ${Math.floor(i / D)}), expected finite`);
  }
  const picked = sampleRows(N, maxRows, new Rng(opts.seed ?? 0));
  const n = picked.length;
  const X = new Float32Array(n * D); // [n, D] the training rows
  for (let t = 0; t < n; t++) X.set(rows.subarray(picked[t] * D, picked[t] * D + D), t * D);

  const splitDims = new Int32Array(C * MADDNESS_DEPTH);
  const thresholds = new Float32Array(C * MADDNESS_NODES);
  const block = new Float32Array(n * V); // [n, V] one codebook's columns, contiguous
  const ws = new SplitWorkspace(n, V);
  const total = C + 1;
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < n; t++) for (let v = 0; v < V; v++) block[t * V + v] = X[t * D + c * V + v];
    const tree = learnTree(block, n, V, candidates, ws);
    splitDims.set(tree.splitDims, c * MADDNESS_DEPTH);
    thresholds.set(tree.thresholds, c * MADDNESS_NODES);
    opts.onProgress?.(c + 1, total);
  }
  const codes = maddnessRoute(X, n, C, V, splitDims, thresholds, 'trainMaddness');
  if (opts.project) {
    const W = opts.project;
    if (!(W instanceof Float32Array) || W.length === 0 || W.length % D !== 0) {
      throw new ShapeError(`${fn}: project must be a Float32Array weight [M, D] with D = ${D}, got length ${(W as ArrayLike<number>)?.length}`);
    }
    const M = W.length / D;
    const Y = new Float32Array(n * M); // [n, M] = X·Wᵀ
    getBackend().gemm(X, W, Y, n, M, D, false, true, false);
    const table = ridgePrototypes(codes, Y, n, C, M, lambda);
    opts.onProgress?.(total, total);
    return { ncodebooks: C, subvecLen: V, splitDims, thresholds, prototypes: table, projected: M };
  }
  const prototypes = ridgePrototypes(codes, X, n, C, D, lambda);
  opts.onProgress?.(total, total);
  return { ncodebooks: C, subvecLen: V, splitDims, thresholds, prototypes };
}

/** Scratch space of the split search, sized for n rows of length V. */
export class SplitWorkspace {
  readonly keys: Float64Array; // [n] packed (value key, row) pairs
  readonly sorted: Int32Array; // [n] row ids in value order
  readonly vals: Float64Array; // [n] sorted values
  readonly mean: Float64Array; // [V] bucket mean
  readonly st: Float64Array; // [V] bucket sums (centred)
  readonly qt: Float64Array; // [V] bucket sums of squares (centred)
  readonly sl: Float64Array; // [V] left sums (centred)
  constructor(n: number, V: number) {
    this.keys = new Float64Array(n);
    this.sorted = new Int32Array(n);
    this.vals = new Float64Array(n);
    this.mean = new Float64Array(V);
    this.st = new Float64Array(V);
    this.qt = new Float64Array(V);
    this.sl = new Float64Array(V);
  }
}

/** Order-preserving map of a float32's bits to an unsigned 32-bit integer. */
function sortKey(bits: number): number {
  return bits & 0x80000000 ? ~bits >>> 0 : (bits | 0x80000000) >>> 0;
}

const ROW_BITS = 2097152; // 2^21: a key (< 2^32) times this plus a row id (< 2^21) stays exact in a double

/** Sorts the rows idx[lo..hi) by block[row·V + dim] (ties by row id) into ws.sorted / ws.vals [0, hi-lo). */
function sortByDim(block: Float32Array, V: number, idx: Int32Array, lo: number, hi: number, dim: number, ws: SplitWorkspace): void {
  const m = hi - lo;
  const { keys, sorted, vals } = ws;
  if (block.length / V <= ROW_BITS) {
    const bits = new Uint32Array(block.buffer, block.byteOffset, block.length); // the float32s' bit patterns
    for (let t = 0; t < m; t++) {
      const r = idx[lo + t];
      keys[t] = sortKey(bits[r * V + dim]) * ROW_BITS + r;
    }
    keys.subarray(0, m).sort();
    for (let t = 0; t < m; t++) {
      const r = keys[t] % ROW_BITS;
      sorted[t] = r;
      vals[t] = block[r * V + dim];
    }
  } else {
    const ids = Array.from(idx.subarray(lo, hi));
    ids.sort((a, b) => block[a * V + dim] - block[b * V + dim] || a - b);
    for (let t = 0; t < m; t++) {
      sorted[t] = ids[t];
      vals[t] = block[ids[t] * V + dim];
    }
  }
}

export interface Split {
  /** Rows with x[dim] <= threshold go left, the others right. */
  threshold: number;
  /** SSE (over all V dims of the sub-vector) of left + right after the split. */
  sse: number;
  /** Rows that go left. */
  left: number;
}

/**
 * The SSE-optimal split of the bucket idx[lo..hi) (row ids into block [n, V]) along `dim`: sorts the
 * bucket's values and scans cumulative sums, minimising SSE(left) + SSE(right) summed over the V dims.
 * Only cuts between distinct values count; the threshold is the float32 midpoint of the two values around
 * the cut. With no cut (fewer than two distinct values) everything goes left and sse is the bucket's SSE.
 */
export function bestSplit(block: Float32Array, V: number, idx: Int32Array, lo: number, hi: number, dim: number, ws?: SplitWorkspace): Split {
  if (hi <= lo) return { threshold: 0, sse: 0, left: 0 };
  const w = ws ?? new SplitWorkspace(block.length / V, V);
  bucketStats(block, V, idx, lo, hi, w.mean, w.st, w.qt);
  return scanSplit(block, V, idx, lo, hi, dim, w.mean, w.st, w.qt, w);
}

/**
 * Per-dim statistics of the bucket idx[lo..hi), centred on its mean (so running sums lose little to
 * cancellation): mean [V], st = Σ(x−μ) [V] (≈ 0), qt = Σ(x−μ)² [V].
 */
function bucketStats(block: Float32Array, V: number, idx: Int32Array, lo: number, hi: number, mean: Float64Array, st: Float64Array, qt: Float64Array): void {
  const m = hi - lo;
  mean.fill(0);
  st.fill(0);
  qt.fill(0);
  if (m === 0) return;
  for (let p = lo; p < hi; p++) {
    const o = idx[p] * V;
    for (let v = 0; v < V; v++) mean[v] += block[o + v];
  }
  for (let v = 0; v < V; v++) mean[v] /= m;
  for (let p = lo; p < hi; p++) {
    const o = idx[p] * V;
    for (let v = 0; v < V; v++) {
      const x = block[o + v] - mean[v];
      st[v] += x;
      qt[v] += x * x;
    }
  }
}

/**
 * bestSplit given the bucket's statistics. With sl the left sums of the centred values (sr = st − sl),
 * SSE(left) + SSE(right) = Σ qt − Σ sl²/nl − Σ sr²/nr, so each cut costs O(V).
 */
function scanSplit(
  block: Float32Array,
  V: number,
  idx: Int32Array,
  lo: number,
  hi: number,
  dim: number,
  mean: Float64Array,
  st: Float64Array,
  qt: Float64Array,
  w: SplitWorkspace,
): Split {
  const m = hi - lo;
  if (m === 0) return { threshold: 0, sse: 0, left: 0 };
  sortByDim(block, V, idx, lo, hi, dim, w);
  const { sorted, vals, sl } = w;
  let qtot = 0;
  let stt = 0;
  for (let v = 0; v < V; v++) {
    qtot += qt[v];
    stt += st[v] * st[v];
  }
  let bestSse = Math.max(0, qtot - stt / m);
  let bestLeft = m;
  sl.fill(0);
  for (let t = 0; t < m - 1; t++) {
    const o = sorted[t] * V;
    for (let v = 0; v < V; v++) sl[v] += block[o + v] - mean[v];
    if (!(vals[t] < vals[t + 1])) continue; // no threshold separates equal values
    const nl = t + 1;
    let a = 0;
    let b = 0;
    for (let v = 0; v < V; v++) {
      const l = sl[v];
      const r = st[v] - l;
      a += l * l;
      b += r * r;
    }
    const sse = Math.max(0, qtot - a / nl - b / (m - nl));
    if (sse < bestSse) {
      bestSse = sse;
      bestLeft = nl;
    }
  }
  if (bestLeft === m) return { threshold: vals[m - 1], sse: bestSse, left: m };
  const a = vals[bestLeft - 1];
  const b = vals[bestLeft];
  let threshold = Math.fround(a + (b - a) / 2);
  if (!(threshold < b)) threshold = a; // adjacent floats: a itself still separates (x <= a left, x >= b right)
  return { threshold, sse: bestSse, left: bestLeft };
}

/**
 * Greedy tree of one codebook on block [n, V]: at each level, the `candidates` dims of largest SSE summed
 * over the current buckets are tried; the dim whose per-bucket optimal splits give the least total SSE wins
 * (first candidate on ties) and every bucket is split on it. Returns splitDims [4] and thresholds [15].
 */
export function learnTree(block: Float32Array, n: number, V: number, candidates = 4, ws?: SplitWorkspace): { splitDims: Int32Array; thresholds: Float32Array } {
  const fn = 'learnTree';
  intArg(fn, 'n', n, 1);
  intArg(fn, 'V', V, 1);
  intArg(fn, 'candidates', candidates, 1);
  if (block.length !== n * V) throw new ShapeError(`${fn}: block length ${block.length} vs expected n*V = ${n}*${V} = ${n * V}`);
  const w = ws ?? new SplitWorkspace(n, V);
  const splitDims = new Int32Array(MADDNESS_DEPTH);
  const thresholds = new Float32Array(MADDNESS_NODES);
  let order = new Int32Array(n); // row ids, bucket b of the current level at order[starts[b] .. starts[b+1])
  for (let i = 0; i < n; i++) order[i] = i;
  let next = new Int32Array(n);
  let starts = Int32Array.of(0, n);
  const loss = new Float64Array(V);
  for (let level = 0; level < MADDNESS_DEPTH; level++) {
    const nb = 1 << level;
    // Per-bucket statistics (shared by all candidate dims) and the per-dim SSE summed over the buckets.
    const mean = new Float64Array(nb * V);
    const st = new Float64Array(nb * V);
    const qt = new Float64Array(nb * V);
    loss.fill(0);
    for (let b = 0; b < nb; b++) {
      const mb = mean.subarray(b * V, b * V + V);
      const sb = st.subarray(b * V, b * V + V);
      const qb = qt.subarray(b * V, b * V + V);
      bucketStats(block, V, order, starts[b], starts[b + 1], mb, sb, qb);
      const m = starts[b + 1] - starts[b];
      for (let v = 0; v < V; v++) if (m > 0) loss[v] += Math.max(0, qb[v] - (sb[v] * sb[v]) / m);
    }
    const dims = Array.from({ length: V }, (_, v) => v).sort((x, y) => loss[y] - loss[x] || x - y);
    const tried = dims.slice(0, Math.min(candidates, V));
    let bestTotal = Infinity;
    let bestDim = tried[0];
    let bestThr = new Float32Array(nb);
    for (const d of tried) {
      const thr = new Float32Array(nb);
      let total = 0;
      for (let b = 0; b < nb; b++) {
        const o = b * V;
        const s = scanSplit(block, V, order, starts[b], starts[b + 1], d, mean.subarray(o, o + V), st.subarray(o, o + V), qt.subarray(o, o + V), w);
        thr[b] = s.threshold;
        total += s.sse;
      }
      if (total < bestTotal) {
        bestTotal = total;
        bestDim = d;
        bestThr = thr;
      }
    }
    splitDims[level] = bestDim;
    thresholds.set(bestThr, nb - 1);
    // Stable partition of every bucket: x <= threshold first (left child), then the rest (right child).
    const ns = new Int32Array(2 * nb + 1);
    let o = 0;
    for (let b = 0; b < nb; b++) {
      const t = bestThr[b];
      ns[2 * b] = o;
      for (let p = starts[b]; p < starts[b + 1]; p++) if (!(block[order[p] * V + bestDim] > t)) next[o++] = order[p];
      ns[2 * b + 1] = o;
      for (let p = starts[b]; p < starts[b + 1]; p++) if (block[order[p] * V + bestDim] > t) next[o++] = order[p];
    }
    ns[2 * nb] = o;
    [order, next] = [next, order];
    starts = ns;
  }
  return { splitDims, thresholds };
}

/** Validates a model and returns D = C·V. */
export function checkMaddnessModel(fn: string, model: MaddnessModel): number {
  const C = model.ncodebooks;
  const V = model.subvecLen;
  intArg(fn, 'model.ncodebooks', C, 1);
  intArg(fn, 'model.subvecLen', V, 1);
  const D = C * V;
  if (model.splitDims.length !== C * MADDNESS_DEPTH) throw new ShapeError(`${fn}: splitDims length ${model.splitDims.length} vs expected C*4 = ${C * MADDNESS_DEPTH}`);
  if (model.thresholds.length !== C * MADDNESS_NODES) throw new ShapeError(`${fn}: thresholds length ${model.thresholds.length} vs expected C*15 = ${C * MADDNESS_NODES}`);
  if (model.prototypes.length !== C * MADDNESS_LEAVES * D) {
    throw new ShapeError(`${fn}: prototypes length ${model.prototypes.length} vs expected C*16*D = ${C}*16*${D} = ${C * MADDNESS_LEAVES * D}`);
  }
  for (let i = 0; i < model.splitDims.length; i++) {
    const d = model.splitDims[i];
    if (!(d >= 0 && d < V)) throw new ArgumentError(`${fn}: splitDims[${i}] = ${d}, expected 0..${V - 1}`);
  }
  for (let i = 0; i < model.thresholds.length; i++) {
    if (Number.isNaN(model.thresholds[i])) throw new NonFiniteError(`${fn}: thresholds[${i}] is NaN`);
  }
  return D;
}

/**
 * Routes every row's sub-vectors down their codebook's tree (x > threshold goes right, see MaddnessModel).
 * rows: [N, D]; returns codes [N, C] in 0..15. A NaN on a visited dimension throws NonFiniteError.
 */
export function maddnessEncode(rows: Float32Array, N: number, model: MaddnessModel): Uint8Array {
  const fn = 'maddnessEncode';
  const D = checkMaddnessModel(fn, model);
  intArg(fn, 'N', N, 0);
  if (!(rows instanceof Float32Array)) throw new ArgumentError(`${fn}: rows must be a Float32Array`);
  if (rows.length !== N * D) throw new ShapeError(`${fn}: rows length ${rows.length} vs expected N*D = ${N}*${D} = ${N * D}`);
  return maddnessRoute(rows, N, model.ncodebooks, model.subvecLen, model.splitDims, model.thresholds, fn);
}

/** Σ_c prototypes[c·16 + codes[n, c]] for codes [N, C]: the reconstruction [N, D] of the encoded rows. */
export function maddnessReconstruct(codes: Uint8Array, model: MaddnessModel): Float32Array {
  const fn = 'maddnessReconstruct';
  const D = checkMaddnessModel(fn, model);
  const C = model.ncodebooks;
  if (codes.length % C !== 0) throw new ShapeError(`${fn}: codes length ${codes.length} is not a multiple of C = ${C}`);
  const N = codes.length / C;
  const P = model.prototypes;
  const out = new Float64Array(N * D);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const k = codes[i * C + c];
      if (k >= MADDNESS_LEAVES) throw new ArgumentError(`${fn}: codes[${i * C + c}] = ${k}, expected 0..15`);
      const po = (c * MADDNESS_LEAVES + k) * D;
      for (let d = 0; d < D; d++) out[i * D + d] += P[po + d];
    }
  }
  return Float32Array.from(out);
}

/**
 * Ridge prototypes P [C·16, D] from codes [n, C] and rows X [n, D]: (GᵀG + λI) P = GᵀX with G the one-hot
 * codes [n, C·16]. GᵀG counts code co-occurrences (diagonal blocks are the leaf counts). Any target [n, D] works
 * (trainMaddness passes X·Wᵀ for a projected table).
 */
export function ridgePrototypes(codes: Uint8Array, X: Float32Array, n: number, C: number, D: number, lambda: number): Float32Array {
  const M = C * MADDNESS_LEAVES;
  const A = new Float64Array(M * M); // GᵀG + λI, lower triangle used
  const B = new Float64Array(M * D); // GᵀX
  const col = new Int32Array(C);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) col[c] = c * MADDNESS_LEAVES + codes[i * C + c];
    for (let a = 0; a < C; a++) {
      const ra = col[a] * M;
      for (let b = 0; b <= a; b++) A[ra + col[b]] += 1; // col[a] >= col[b] since a >= b
      const bo = col[a] * D;
      const xo = i * D;
      for (let d = 0; d < D; d++) B[bo + d] += X[xo + d];
    }
  }
  for (let j = 0; j < M; j++) A[j * M + j] += lambda;
  choleskyInPlace(A, M);
  choleskySolveInPlace(A, M, B, D);
  return Float32Array.from(B);
}

/** In-place Cholesky A = L·Lᵀ of a symmetric positive definite [M, M] (lower triangle read and written); `onColumn(j)` before column j. */
export function choleskyInPlace(A: Float64Array, M: number, onColumn?: (j: number) => void): void {
  for (let j = 0; j < M; j++) {
    onColumn?.(j);
    const rj = j * M;
    let d = A[rj + j];
    for (let p = 0; p < j; p++) d -= A[rj + p] * A[rj + p];
    if (!(d > 0)) throw new ArgumentError(`cholesky: matrix is not positive definite (pivot ${j} is ${d})`);
    const ljj = Math.sqrt(d);
    A[rj + j] = ljj;
    for (let i = j + 1; i < M; i++) {
      const ri = i * M;
      let s = A[ri + j];
      for (let p = 0; p < j; p++) s -= A[ri + p] * A[rj + p];
      A[ri + j] = s / ljj;
    }
  }
}

/** Solves L·Lᵀ·P = B in place (B: [M, R] becomes P), given the factor L from choleskyInPlace; `onRow(r)` before each of the 2·M row steps. */
export function choleskySolveInPlace(L: Float64Array, M: number, B: Float64Array, R: number, onRow?: (r: number) => void): void {
  for (let i = 0; i < M; i++) {
    onRow?.(i);
    const bi = i * R;
    for (let p = 0; p < i; p++) {
      const l = L[i * M + p];
      if (l === 0) continue;
      const bp = p * R;
      for (let r = 0; r < R; r++) B[bi + r] -= l * B[bp + r];
    }
    const inv = 1 / L[i * M + i];
    for (let r = 0; r < R; r++) B[bi + r] *= inv;
  }
  for (let i = M - 1; i >= 0; i--) {
    onRow?.(2 * M - 1 - i);
    const bi = i * R;
    for (let p = i + 1; p < M; p++) {
      const l = L[p * M + i];
      if (l === 0) continue;
      const bp = p * R;
      for (let r = 0; r < R; r++) B[bi + r] -= l * B[bp + r];
    }
    const inv = 1 / L[i * M + i];
    for (let r = 0; r < R; r++) B[bi + r] *= inv;
  }
}
