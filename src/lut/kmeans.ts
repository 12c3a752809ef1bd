// Seeded k-means (k-means++ seeding, Lloyd iterations, L2/L1/Chebyshev) and per-codebook centroid training.
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';
import { Rng } from '../tensor/rng.js';
import { checkMetric, type Metric } from './distance.js';

export interface KMeansOptions {
  /** Distance used for assignment and seeding; also picks the centre update (mean / median / midrange). */
  metric?: Metric;
  /** Maximum Lloyd iterations (centre update + reassignment); 0 keeps the seeds. Default 25. */
  iters?: number;
  /** Independent seedings; the run with the lowest inertia is kept (first on ties). Default 1. */
  restarts?: number;
  /** Seed of the local generator. Default 0. */
  seed?: number;
  /**
   * Also stop when an iteration lowers the inertia by no more than tol × inertia (relative). Default 0: stop
   * only when no assignment changes, or after `iters`.
   */
  tol?: number;
  /** Seeding: 'kmeans++' (D² sampling with the metric's distance, default) or 'random' (k distinct points). */
  init?: 'kmeans++' | 'random';
  /**
   * Skip distances that triangle-inequality bounds prove irrelevant (Elkan). The result is bit-identical
   * to the plain scan (`false`, kept as the test oracle). Default true.
   */
  bounds?: boolean;
}

export interface KMeansResult {
  /** [k, V] */
  centroids: Float32Array;
  /** [n] cluster of each point, nearest centroid (a point tied with its current cluster stays there). */
  assign: Int32Array;
  /** Σ cost(point, its centroid): squared Euclidean for l2, the distance itself for l1 and chebyshev. */
  inertia: number;
  /** Lloyd iterations run by the kept restart. */
  iters: number;
}

function intOpt(fn: string, name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) throw new ArgumentError(`${fn}: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/**
 * k-means on n points of length V (data: [n, V], row-major). Centre update per metric:
 * - l2: the mean (minimises the sum of squared distances; inertia never increases).
 * - l1: the per-dimension median, mid-point of the two middle values for even counts (minimises Σ L1).
 * - chebyshev: the per-dimension midrange (min+max)/2, which minimises the cluster's largest L∞ distance
 *   (max over dims of the per-dim max deviation, each minimised by its midrange). Assignment never raises a
 *   point's distance and the update never raises a cluster's radius, so the max-radius objective never
 *   increases; the inertia (a sum) may wobble, so the loop stops on no assignment change or after `iters`.
 * Empty clusters are re-seeded with the point farthest from its centroid among clusters holding >= 2 points
 * (it becomes the new centroid). With fewer distinct points than k some centroids repeat; with n < k the
 * clusters that cannot get a point keep a copy of a data point. Never NaN. Deterministic for a given seed.
 */
export function kmeans(data: Float32Array, n: number, V: number, k: number, opts: KMeansOptions = {}): KMeansResult {
  const fn = 'kmeans';
  const metric = checkMetric(fn, opts.metric ?? 'l2');
  intOpt(fn, 'n', n, 1);
  intOpt(fn, 'V', V, 1);
  intOpt(fn, 'k', k, 1);
  const iters = intOpt(fn, 'iters', opts.iters ?? 25, 0);
  const restarts = intOpt(fn, 'restarts', opts.restarts ?? 1, 1);
  const tol = opts.tol ?? 0;
  if (!(tol >= 0) || !Number.isFinite(tol)) throw new ArgumentError(`${fn}: tol must be a finite number >= 0, got ${tol}`);
  const init = opts.init ?? 'kmeans++';
  if (init !== 'kmeans++' && init !== 'random') throw new ArgumentError(`${fn}: init must be 'kmeans++' or 'random', got ${String(init)}`);
  if (!(data instanceof Float32Array)) throw new ArgumentError(`${fn}: data must be a Float32Array`);
  if (data.length !== n * V) throw new ShapeError(`${fn}: data length ${data.length} vs expected n*V = ${n}*${V} = ${n * V}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NonFiniteError(`${fn}: data[${i}] is ${data[i]} (point ${Math.floor(i / V)}), expected finite`);
  }
  const bounds = opts.bounds ?? true;
  const rng = new Rng(opts.seed ?? 0);
  let best: KMeansResult | null = null;
  for (let r = 0; r < restarts; r++) {
    const res = lloyd(data, n, V, k, metric, iters, tol, init, bounds, rng);
    if (best === null || res.inertia < best.inertia) best = res;
  }
  return best!;
}

/** Elkan bounds need n·k doubles; above this many the plain scan is used. */
const MAX_BOUND_ENTRIES = 1 << 23;

/** One seeding + Lloyd run. */
function lloyd(data: Float32Array, n: number, V: number, k: number, metric: Metric, iters: number, tol: number, init: string, bounds: boolean, rng: Rng): KMeansResult {
  const cent = new Float32Array(k * V);
  if (init === 'random') seedRandom(data, n, V, k, rng, cent);
  else seedPlusPlus(data, n, V, k, metric, rng, cent);
  const assign = new Int32Array(n).fill(-1);
  const cost = new Float64Array(n);
  const counts = new Int32Array(k);
  const ws = new Workspace(n, k, V);
  const st = bounds && n * k <= MAX_BOUND_ENTRIES ? new Bounds(n, k, data) : null;
  assignStep(metric, data, n, V, cent, k, assign, cost, counts, st);
  reseedEmpty(data, n, V, cent, k, assign, cost, counts, st);
  let inertia = sum(cost);
  let done = 0;
  for (let it = 0; it < iters; it++) {
    st?.prev.set(cent);
    updateCentres(metric, data, n, V, cent, k, assign, counts, ws);
    if (st) refreshBounds(metric, V, cent, k, st);
    let changed = assignStep(metric, data, n, V, cent, k, assign, cost, counts, st);
    changed += reseedEmpty(data, n, V, cent, k, assign, cost, counts, st);
    done = it + 1;
    const prev = inertia;
    inertia = sum(cost);
    if (changed === 0) break;
    if (tol > 0 && inertia <= prev && prev - inertia <= tol * prev) break;
  }
  return { centroids: cent, assign, inertia, iters: done };
}

function sum(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
}

/** Scratch buffers reused across iterations. */
class Workspace {
  readonly sums: Float64Array; // [k, V] (l2) or mins (chebyshev)
  readonly maxs: Float64Array; // [k, V] (chebyshev)
  readonly order: Int32Array; // [n] points grouped by cluster (l1)
  readonly starts: Int32Array; // [k + 1]
  readonly vals: Float32Array; // [n] one cluster's values along one dim (l1)
  constructor(n: number, k: number, V: number) {
    this.sums = new Float64Array(k * V);
    this.maxs = new Float64Array(k * V);
    this.order = new Int32Array(n);
    this.starts = new Int32Array(k + 1);
    this.vals = new Float32Array(n);
  }
}

/**
 * Elkan's bounds (valid for all three metrics, each a true metric): lb[i, j] − drift[j] is a lower bound
 * on the distance from point i to centroid j (drift[j] sums j's moves); half[a, j] is half the
 * distance between centroids a and j. Centroid j cannot beat point i's own centroid a when that bound or
 * half[a, j] exceeds d(x_i, c_a) by a safety margin (rounding), so its distance is not computed. The
 * assignment is identical to the plain scan; the own distance is always computed exactly (for the inertia).
 */
class Bounds {
  readonly lb: Float64Array; // [n, k] lower bound + drift at the time it was set
  readonly prev: Float32Array; // [k, V] centroids before the update
  readonly half: Float64Array; // [k, k]
  readonly drift: Float64Array; // [k] total distance each centroid has moved
  readonly halfMin: Float64Array; // [k] min over j of half[a, j]
  readonly absTol: number; // absolute slack for rounding, relative to the data's magnitude
  constructor(n: number, k: number, data: Float32Array) {
    this.lb = new Float64Array(n * k);
    this.prev = new Float32Array(k * (data.length / n));
    this.half = new Float64Array(k * k);
    this.drift = new Float64Array(k);
    this.halfMin = new Float64Array(k).fill(Infinity);
    let scale = 0;
    for (let i = 0; i < data.length; i++) scale = Math.max(scale, Math.abs(data[i]));
    this.absTol = 1e-9 * scale + 1e-30;
  }
}

function copyPoint(data: Float32Array, i: number, V: number, cent: Float32Array, j: number): void {
  cent.set(data.subarray(i * V, i * V + V), j * V);
}

/** k distinct random points (all points, then repeats, when n < k). */
function seedRandom(data: Float32Array, n: number, V: number, k: number, rng: Rng, cent: Float32Array): void {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let j = 0; j < k; j++) {
    let idx: number;
    if (j < n) {
      const t = j + rng.int(n - j); // partial Fisher–Yates
      idx = perm[t];
      perm[t] = perm[j];
      perm[j] = idx;
    } else {
      idx = rng.int(n);
    }
    copyPoint(data, idx, V, cent, j);
  }
}

/** k-means++: first centre uniform, then each next one with probability ∝ d(x, nearest chosen)². */
function seedPlusPlus(data: Float32Array, n: number, V: number, k: number, metric: Metric, rng: Rng, cent: Float32Array): void {
  const w = new Float64Array(n); // squared metric distance to the nearest chosen centre
  let idx = rng.int(n);
  copyPoint(data, idx, V, cent, 0);
  for (let i = 0; i < n; i++) w[i] = seedWeight(metric, data, i * V, cent, 0, V);
  for (let j = 1; j < k; j++) {
    const total = sum(w);
    if (total > 0) {
      const r = rng.random() * total;
      let acc = 0;
      idx = -1;
      let lastPositive = 0;
      for (let i = 0; i < n; i++) {
        if (w[i] > 0) {
          lastPositive = i;
          acc += w[i];
          if (acc > r) {
            idx = i;
            break;
          }
        }
      }
      if (idx < 0) idx = lastPositive; // rounding ran past the end
    } else {
      idx = rng.int(n); // every point sits on a chosen centre: fewer distinct points than k, repeat one
    }
    copyPoint(data, idx, V, cent, j);
    const co = j * V;
    for (let i = 0; i < n; i++) {
      const d = seedWeight(metric, data, i * V, cent, co, V);
      if (d < w[i]) w[i] = d;
    }
  }
}

/** D² sampling weight: the squared metric distance. */
function seedWeight(metric: Metric, data: Float32Array, xo: number, cent: Float32Array, co: number, V: number): number {
  const c = pointCost(metric, data, xo, cent, co, V);
  return metric === 'l2' ? c : c * c;
}

/** The metric's distance from the assignment cost (sqrt of l2's squared cost). */
function costToDist(metric: Metric, c: number): number {
  return metric === 'l2' ? Math.sqrt(c) : c;
}

/**
 * After a centre update: add each centroid's move to its running total (a bound set when the total was T
 * is stored as lb + T, so it is lowered by later moves without touching n·k entries), and recompute the
 * half distances between centroids.
 */
function refreshBounds(metric: Metric, V: number, cent: Float32Array, k: number, st: Bounds): void {
  const { drift, half, halfMin } = st;
  for (let j = 0; j < k; j++) drift[j] += costToDist(metric, pointCost(metric, st.prev, j * V, cent, j * V, V));
  halfMin.fill(Infinity);
  for (let j = 0; j < k; j++) {
    half[j * k + j] = 0;
    for (let j2 = j + 1; j2 < k; j2++) {
      const h = 0.5 * costToDist(metric, pointCost(metric, cent, j * V, cent, j2 * V, V));
      half[j * k + j2] = h;
      half[j2 * k + j] = h;
      if (h < halfMin[j]) halfMin[j] = h;
      if (h < halfMin[j2]) halfMin[j2] = h;
    }
  }
}

/**
 * Cost from x to one centroid, abandoned early once it reaches `stop`: partial sums (and maxima) only grow,
 * so an abandoned value is >= stop and is still a lower bound of the full cost.
 */
function scanCost(metric: Metric, data: Float32Array, xo: number, cent: Float32Array, co: number, V: number, stop: number): number {
  let s = 0;
  if (metric === 'l2') {
    for (let v = 0; v < V && s < stop; v++) {
      const t = data[xo + v] - cent[co + v];
      s += t * t;
    }
  } else if (metric === 'l1') {
    for (let v = 0; v < V && s < stop; v++) s += Math.abs(data[xo + v] - cent[co + v]);
  } else {
    for (let v = 0; v < V && s < stop; v++) {
      const t = Math.abs(data[xo + v] - cent[co + v]);
      s = t > s ? t : s;
    }
  }
  return s;
}

/**
 * Nearest centroid for every point: the first index wins ties, except that a point tied with its current
 * cluster stays there (this keeps re-seeded duplicate centroids stable). Fills cost and counts; returns how
 * many assignments changed. With bounds (st), centroids proven farther than the own one are skipped.
 */
function assignStep(
  metric: Metric,
  data: Float32Array,
  n: number,
  V: number,
  cent: Float32Array,
  k: number,
  assign: Int32Array,
  cost: Float64Array,
  counts: Int32Array,
  st: Bounds | null,
): number {
  counts.fill(0);
  if (st !== null && assign[0] >= 0) return boundedAssign(metric, data, n, V, cent, k, assign, cost, counts, st);
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const xo = i * V;
    const cur = assign[i];
    let best = Infinity;
    let bi = 0;
    for (let j = 0, co = 0; j < k; j++, co += V) {
      const c = scanCost(metric, data, xo, cent, co, V, best);
      if (st !== null) st.lb[i * k + j] = costToDist(metric, c) + st.drift[j];
      if (c < best) {
        best = c;
        bi = j;
      }
    }
    if (cur >= 0 && cur !== bi && pointCost(metric, data, xo, cent, cur * V, V) <= best) bi = cur; // tie: stay
    if (bi !== cur) changed++;
    assign[i] = bi;
    cost[i] = best;
    counts[bi]++;
  }
  return changed;
}

/** assignStep for points that all have a cluster, skipping centroids by Elkan's bounds (see Bounds). */
function boundedAssign(
  metric: Metric,
  data: Float32Array,
  n: number,
  V: number,
  cent: Float32Array,
  k: number,
  assign: Int32Array,
  cost: Float64Array,
  counts: Int32Array,
  st: Bounds,
): number {
  const { lb, drift, half, halfMin, absTol } = st;
  // The distance loops are written inline (a metric switch inside a called helper ran ~1.5x slower).
  const l2 = metric === 'l2';
  const l1 = metric === 'l1';
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const xo = i * V;
    const lo = i * k;
    const cur = assign[i];
    let best = pointCost(metric, data, xo, cent, cur * V, V);
    let bi = cur;
    const da = l2 ? Math.sqrt(best) : best;
    lb[lo + cur] = da + drift[cur];
    const m = da + 1e-6 * da + absTol;
    const hrow = cur * k;
    // Ascending j with strict <, starting from the own cluster: same winner as the plain scan. The loop is
    // skipped when no other centroid lies within twice the own distance.
    const jEnd = halfMin[cur] > m ? 0 : k;
    for (let j = 0, co = 0; j < jEnd; j++, co += V) {
      if (j === cur || lb[lo + j] - drift[j] > m || half[hrow + j] > m) continue;
      let c = 0;
      if (l2) {
        for (let v = 0; v < V; v++) {
          const t = data[xo + v] - cent[co + v];
          c += t * t;
        }
      } else if (l1) {
        for (let v = 0; v < V; v++) c += Math.abs(data[xo + v] - cent[co + v]);
      } else {
        for (let v = 0; v < V; v++) {
          const t = Math.abs(data[xo + v] - cent[co + v]);
          c = t > c ? t : c;
        }
      }
      lb[lo + j] = (l2 ? Math.sqrt(c) : c) + drift[j];
      if (c < best) {
        best = c;
        bi = j;
      }
    }
    if (bi !== cur) changed++;
    assign[i] = bi;
    cost[i] = best;
    counts[bi]++;
  }
  return changed;
}

/** The assignment cost (squared L2, L1, L∞), summed in the same order as assignStep. */
function pointCost(metric: Metric, data: Float32Array, xo: number, cent: Float32Array, co: number, V: number): number {
  let s = 0;
  if (metric === 'l2') {
    for (let v = 0; v < V; v++) {
      const t = data[xo + v] - cent[co + v];
      s += t * t;
    }
  } else if (metric === 'l1') {
    for (let v = 0; v < V; v++) s += Math.abs(data[xo + v] - cent[co + v]);
  } else {
    for (let v = 0; v < V; v++) {
      const t = Math.abs(data[xo + v] - cent[co + v]);
      s = t > s ? t : s;
    }
  }
  return s;
}

/**
 * Gives each empty cluster the point farthest from its centroid among clusters with >= 2 points; that point
 * becomes the centroid. Leaves a cluster empty only when no cluster can spare a point (n < k). Returns moves.
 */
function reseedEmpty(
  data: Float32Array,
  n: number,
  V: number,
  cent: Float32Array,
  k: number,
  assign: Int32Array,
  cost: Float64Array,
  counts: Int32Array,
  st: Bounds | null,
): number {
  let moved = 0;
  for (let j = 0; j < k; j++) {
    if (counts[j] !== 0) continue;
    let far = -1;
    let farCost = -1;
    for (let i = 0; i < n; i++) {
      if (counts[assign[i]] >= 2 && cost[i] > farCost) {
        farCost = cost[i];
        far = i;
      }
    }
    if (far < 0) continue;
    counts[assign[far]]--;
    assign[far] = j;
    counts[j] = 1;
    cost[far] = 0;
    copyPoint(data, far, V, cent, j);
    // Centroid j jumped: its bounds no longer hold (lb[i, old] of the moved point stays valid: that centroid did not move).
    if (st) for (let i = 0; i < n; i++) st.lb[i * k + j] = st.drift[j];
    moved++;
  }
  return moved;
}

/** Centre update per metric; clusters with no point keep their centroid. */
function updateCentres(metric: Metric, data: Float32Array, n: number, V: number, cent: Float32Array, k: number, assign: Int32Array, counts: Int32Array, ws: Workspace): void {
  if (metric === 'l2') {
    const sums = ws.sums;
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const so = assign[i] * V;
      const xo = i * V;
      for (let v = 0; v < V; v++) sums[so + v] += data[xo + v];
    }
    for (let j = 0; j < k; j++) {
      if (counts[j] === 0) continue;
      const inv = 1 / counts[j];
      for (let v = 0; v < V; v++) cent[j * V + v] = sums[j * V + v] * inv;
    }
  } else if (metric === 'chebyshev') {
    const mins = ws.sums;
    const maxs = ws.maxs;
    mins.fill(Infinity);
    maxs.fill(-Infinity);
    for (let i = 0; i < n; i++) {
      const so = assign[i] * V;
      const xo = i * V;
      for (let v = 0; v < V; v++) {
        const x = data[xo + v];
        if (x < mins[so + v]) mins[so + v] = x;
        if (x > maxs[so + v]) maxs[so + v] = x;
      }
    }
    for (let j = 0; j < k; j++) {
      if (counts[j] === 0) continue;
      for (let v = 0; v < V; v++) cent[j * V + v] = 0.5 * (mins[j * V + v] + maxs[j * V + v]);
    }
  } else {
    // Group point ids by cluster (counting sort), then a median per (cluster, dim) by quickselect.
    const { order, starts, vals } = ws;
    starts[0] = 0;
    for (let j = 0; j < k; j++) starts[j + 1] = starts[j] + counts[j];
    const fill = starts.slice(0, k);
    for (let i = 0; i < n; i++) order[fill[assign[i]]++] = i;
    for (let j = 0; j < k; j++) {
      const m = counts[j];
      if (m === 0) continue;
      const base = starts[j];
      for (let v = 0; v < V; v++) {
        for (let t = 0; t < m; t++) vals[t] = data[order[base + t] * V + v];
        cent[j * V + v] = median(vals, m);
      }
    }
  }
}

/** Median of a[0..m) (mean of the two middle values when m is even); reorders a. */
export function median(a: Float32Array, m: number): number {
  if (m < 1) throw new ArgumentError(`median: need at least one value, got ${m}`);
  const hiIdx = m >> 1;
  const hi = selectKth(a, m, hiIdx);
  if (m & 1) return hi;
  // After selection every a[t], t < hiIdx, is <= a[hiIdx]: the lower middle is their max.
  let lo = a[0];
  for (let t = 1; t < hiIdx; t++) if (a[t] > lo) lo = a[t];
  return 0.5 * (lo + hi);
}

/** Hoare quickselect (median-of-three pivot): puts the kth smallest of a[0..m) at a[kth], smaller ones before it. */
function selectKth(a: Float32Array, m: number, kth: number): number {
  let lo = 0;
  let hi = m - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // a[lo..j] <= pivot, a[i..hi] >= pivot, a[j+1..i-1] == pivot
    if (kth <= j) hi = j;
    else if (kth >= i) lo = i;
    else return a[kth];
  }
  return a[kth];
}

export interface TrainCodebooksOptions extends KMeansOptions {
  /** At most this many rows (a seeded sample without replacement) go into k-means. Default 65536. */
  maxRows?: number;
  /** Called after each codebook with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Per-codebook k-means initialisation (LUT-NN): rows [N, D] with D = C·V; codebook c clusters the column
 * block [c·V, (c+1)·V) of (a seeded sample of at most maxRows) rows. Returns centroids [C, K, V].
 */
export function trainCodebooks(rows: Float32Array, N: number, C: number, V: number, K: number, opts: TrainCodebooksOptions = {}): Float32Array {
  const fn = 'trainCodebooks';
  intOpt(fn, 'N', N, 1);
  intOpt(fn, 'ncodebooks C', C, 1);
  intOpt(fn, 'subvecLen V', V, 1);
  intOpt(fn, 'k', K, 1);
  if (K > 256) throw new ArgumentError(`${fn}: k must be <= 256 for uint8 codes, got ${K}`);
  const maxRows = intOpt(fn, 'maxRows', opts.maxRows ?? 65536, 1);
  if (!(rows instanceof Float32Array)) throw new ArgumentError(`${fn}: rows must be a Float32Array`);
  const D = C * V;
  if (rows.length !== N * D) throw new ShapeError(`${fn}: rows length ${rows.length} vs expected N*C*V = ${N}*${C}*${V} = ${N * D}`);
  const rng = new Rng(opts.seed ?? 0);
  const picked = sampleRows(N, maxRows, rng);
  const n = picked.length;
  const block = new Float32Array(n * V); // [n, V] one codebook's sub-vectors, contiguous
  const out = new Float32Array(C * K * V);
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < n; t++) {
      const src = picked[t] * D + c * V;
      for (let v = 0; v < V; v++) block[t * V + v] = rows[src + v];
    }
    const res = kmeans(block, n, V, K, { ...opts, seed: rng.nextU32() });
    out.set(res.centroids, c * K * V);
    opts.onProgress?.(c + 1, C);
  }
  return out;
}

/** Sorted row ids: all of 0..N-1 when N <= max, else a seeded sample of `max` ids without replacement. */
export function sampleRows(N: number, max: number, rng: Rng): Int32Array {
  if (N <= max) {
    const all = new Int32Array(N);
    for (let i = 0; i < N; i++) all[i] = i;
    return all;
  }
  const perm = new Int32Array(N);
  for (let i = 0; i < N; i++) perm[i] = i;
  for (let j = 0; j < max; j++) {
    const t = j + rng.int(N - j);
    const x = perm[t];
    perm[t] = perm[j];
    perm[j] = x;
  }
  return perm.slice(0, max).sort();
}
