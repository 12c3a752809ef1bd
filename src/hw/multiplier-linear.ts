// A layer (integer GEMM) whose every product goes through a LUT multiplier, computed at GEMM speed from the linear structure.
//
// out[n][m] = Σ_k f(A[n][k], W[k][m]), A [N, K] activations, W [K, M] weights, f the multiplier's product.
// Write f(a, w) = a·w + Σ_{i,j} e_ij(pa_i, pw_j), where e_ij is what pair (i, j) of the datapath adds minus its exact
// partial product value(pa_i)·value(pw_j)·2^shift_ij (the whole exact partial product when the pair is dropped).
// Then, with A_i [N, K] the values of part i of A and W_j [K, M] those of part j of W:
//   out = A·W                                                  one exact integer GEMM
//       − Σ_i A_i · (Σ_{j dropped} W_j · 2^shift_ij)           one GEMM per a-part that has dropped pairs
//       + Σ_i Σ_k G_i[pa_i(n,k)][k][m],                        one gather-add pass per a-part with inexact entries,
//         G_i[p][k][m] = Σ_{j kept, e_ij ≠ 0} e_ij(p, pw_j(W[k][m]))   (built once from W: 2^width_i·K·M entries)
// A gather-add pass adds, for each (n, k), the row G_i[pa_i(n,k)][k][·] to out[n][·]: N·K·M additions of
// contiguous rows, the shape of a GEMM without the multiplies, and never a table lookup per product.
// Exact multipliers (T-LUT, LUT-NA, 'magnitude') take the one GEMM. Accumulation is int32 modulo 2^32 (like a
// hardware accumulator); prepareLutLinear checks K·max|f| < 2^31, so the true result always fits and is exact.
import { ArgumentError, ShapeError } from '../errors.js';
import { checkOperand, lutMultiply, pairTables, type LutMultiplier } from './multiplier.js';
import { maxAbsProduct, partPatterns } from './multiplier-error.js';

const KB = 64;
const MB = 512;
/** Most rows (2^width · K) one gather table may have, whatever the column blocking. */
const MAX_GATHER_ROWS = 2 ** 24;

function checkDim(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new ArgumentError(`${where}: ${name} must be an integer ≥ 0, got ${v}`);
}

/** out[N, M] += A[N, K] · W[K, M] in int32 (mod 2^32), blocked over K and M. */
export function intGemm(A: Int32Array, W: Int32Array, N: number, K: number, M: number, out: Int32Array = new Int32Array(N * M)): Int32Array {
  if (A.length !== N * K || W.length !== K * M || out.length !== N * M) {
    throw new ShapeError(`intGemm: A ${A.length}, W ${W.length}, out ${out.length} elements do not fit [${N},${K}]x[${K},${M}]`);
  }
  for (let m0 = 0; m0 < M; m0 += MB) {
    const m1 = Math.min(M, m0 + MB);
    for (let k0 = 0; k0 < K; k0 += KB) {
      const k1 = Math.min(K, k0 + KB);
      for (let n = 0; n < N; n++) {
        const o = n * M;
        for (let k = k0; k < k1; k++) {
          const a = A[n * K + k];
          if (a === 0) continue;
          const wo = k * M;
          for (let m = m0; m < m1; m++) out[o + m] = (out[o + m] + Math.imul(a, W[wo + m])) | 0;
        }
      }
    }
  }
  return out;
}

function toOperands(m: LutMultiplier, side: 'a' | 'w', x: ArrayLike<number>, n: number, what: string, where: string): Int32Array {
  if (x.length !== n) throw new ShapeError(`${where}: ${what} has ${x.length} elements, expected ${n}`);
  const out = new Int32Array(n);
  const [lo, hi] = side === 'a' ? [m.aMin, m.aMax] : [m.wMin, m.wMax];
  for (let k = 0; k < n; k++) {
    const v = x[k];
    if (!(Number.isInteger(v) && v >= lo && v <= hi)) checkOperand(m, side, v, `${where}: ${what}[${k}]`);
    out[k] = v;
  }
  return out;
}

/** Part i of every operand in x: raw patterns (for gathers) and values (top part signed, for GEMMs). */
function splitAll(m: LutMultiplier, side: 'a' | 'w', x: Int32Array, i: number): { raw: Uint16Array; value: Int32Array } {
  const patterns = partPatterns(m, side)[i];
  const min = side === 'a' ? m.aMin : m.wMin;
  const width = side === 'a' ? m.partsA[i] : m.partsW[i];
  const signed = i === 0 && (side === 'a' ? m.signedA : m.signedW);
  const half = 2 ** (width - 1);
  const raw = new Uint16Array(x.length);
  const value = new Int32Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const r = patterns[x[k] - min];
    raw[k] = r;
    value[k] = signed && r >= half ? r - 2 * half : r;
  }
  return { raw, value };
}

interface GatherPart {
  readonly i: number;
  readonly rows: number;
  /** Columns per block of G. */
  readonly mb: number;
  /** err tables and raw W patterns of the contributing pairs. */
  readonly terms: readonly { err: Float64Array; cols: number; rawW: Uint16Array }[];
  /** Cached G blocks (when they fit the memory limit), else built at each apply. */
  cache: Int32Array[] | null;
}

export interface LutLinearOptions {
  /** Largest G block in int32 entries (default 2^22 = 16 MB); wider layers are processed in column blocks. */
  readonly maxGatherEntries?: number;
}

/** A weight matrix prepared for a multiplier: the W-side work done once, `apply` per batch. */
export interface PreparedLutLinear {
  readonly K: number;
  readonly M: number;
  /** Exact GEMM plus one GEMM per a-part with dropped pairs. */
  readonly gemmPasses: number;
  /** Gather-add passes (one per a-part with inexact table entries). */
  readonly gatherPasses: number;
  /** out[N, M] (int32) for A [N, K]. */
  apply(A: ArrayLike<number>, N: number): Int32Array;
}

/** Prepare W [K, M] (row-major) for lutLinear with multiplier m. */
export function prepareLutLinear(m: LutMultiplier, W: ArrayLike<number>, K: number, M: number, opts: LutLinearOptions = {}): PreparedLutLinear {
  const where = 'lutLinear';
  checkDim(where, 'K', K);
  checkDim(where, 'M', M);
  const limit = opts.maxGatherEntries ?? 2 ** 22;
  if (!Number.isInteger(limit) || limit < 1) throw new ArgumentError(`${where}: maxGatherEntries must be an integer ≥ 1, got ${limit}`);
  const Wi = toOperands(m, 'w', W, K * M, 'W', where);
  const bound = K * maxAbsProduct(m);
  if (bound > 2 ** 31 - 1) {
    throw new ArgumentError(`${where}: K = ${K} products of up to ${maxAbsProduct(m)} may overflow the int32 accumulator (K·max|f| = ${bound} ≥ 2^31)`);
  }
  const pt = pairTables(m);
  const wParts = m.partsW.map((_, j) => splitAll(m, 'w', Wi, j));
  const na = m.partsA.length;

  // Dropped pairs: Wd_i = −Σ_{j dropped} W_j · 2^shift_ij, added as A_i · Wd_i.
  const drops: { i: number; Wd: Int32Array }[] = [];
  for (let i = 0; i < na; i++) {
    const js = m.pairs.filter((p) => p.i === i && p.dropped);
    if (js.length === 0) continue;
    const Wd = new Int32Array(K * M);
    for (const p of js) {
      const v = wParts[p.j].value;
      const s = 2 ** p.shift;
      for (let k = 0; k < Wd.length; k++) Wd[k] = (Wd[k] - v[k] * s) | 0;
    }
    drops.push({ i, Wd });
  }

  // Kept pairs with inexact entries: one gather part per a-part.
  const gathers: GatherPart[] = [];
  for (let i = 0; i < na; i++) {
    const terms = m.pairs
      .map((p, q) => ({ p, q }))
      .filter(({ p, q }) => p.i === i && !p.dropped && !pt[q].exact)
      .map(({ p, q }) => ({ err: pt[q].err, cols: 2 ** p.widthW, rawW: wParts[p.j].raw }));
    if (terms.length === 0) continue;
    const rows = 2 ** m.partsA[i];
    if (rows * K > MAX_GATHER_ROWS) {
      throw new ArgumentError(
        `${where}: the error table of a-part ${i} needs ${rows} x K = ${rows * K} rows of W, over the limit ${MAX_GATHER_ROWS}; split a into narrower parts`,
      );
    }
    const mb = Math.max(1, Math.min(M, Math.floor(limit / Math.max(1, rows * K))));
    gathers.push({ i, rows, mb, terms, cache: null });
  }

  const buildBlock = (g: GatherPart, m0: number): Int32Array => {
    const m1 = Math.min(M, m0 + g.mb);
    const mb = m1 - m0;
    // G[p][k][mm] for p < rows, k < K, mm < mb  (layout ((p·K + k)·mb + mm))
    const G = new Int32Array(g.rows * K * mb);
    for (const t of g.terms) {
      for (let p = 0; p < g.rows; p++) {
        const eo = p * t.cols;
        for (let k = 0; k < K; k++) {
          const go = (p * K + k) * mb;
          const wo = k * M + m0;
          for (let mm = 0; mm < mb; mm++) G[go + mm] = (G[go + mm] + t.err[eo + t.rawW[wo + mm]]) | 0;
        }
      }
    }
    return G;
  };
  for (const g of gathers) if (g.mb === M) g.cache = [buildBlock(g, 0)];

  return {
    K,
    M,
    gemmPasses: 1 + drops.length,
    gatherPasses: gathers.length,
    apply(A: ArrayLike<number>, N: number): Int32Array {
      checkDim(where, 'N', N);
      const Ai = toOperands(m, 'a', A, N * K, 'A', where);
      const out = intGemm(Ai, Wi, N, K, M);
      for (const d of drops) intGemm(splitAll(m, 'a', Ai, d.i).value, d.Wd, N, K, M, out);
      for (const g of gathers) {
        const idx = splitAll(m, 'a', Ai, g.i).raw;
        for (let b = 0, m0 = 0; m0 < M; b++, m0 += g.mb) {
          const G = g.cache ? g.cache[b] : buildBlock(g, m0);
          const mb = Math.min(M, m0 + g.mb) - m0;
          for (let n = 0; n < N; n++) {
            const o = n * M + m0;
            for (let k = 0; k < K; k++) {
              const go = (idx[n * K + k] * K + k) * mb;
              for (let mm = 0; mm < mb; mm++) out[o + mm] = (out[o + mm] + G[go + mm]) | 0;
            }
          }
        }
      }
      return out;
    },
  };
}

/** out [N, M] = Σ_k f(A[n][k], W[k][m]) through multiplier m, at GEMM speed (see the file comment). */
export function lutLinear(
  m: LutMultiplier,
  A: ArrayLike<number>,
  W: ArrayLike<number>,
  shape: { readonly N: number; readonly K: number; readonly M: number },
  opts: LutLinearOptions = {},
): Int32Array {
  return prepareLutLinear(m, W, shape.K, shape.M, opts).apply(A, shape.N);
}

/** The per-product oracle: lutMultiply on every product (slow; for tests on small layers). */
export function lutLinearReference(
  m: LutMultiplier,
  A: ArrayLike<number>,
  W: ArrayLike<number>,
  shape: { readonly N: number; readonly K: number; readonly M: number },
): Int32Array {
  const { N, K, M } = shape;
  const where = 'lutLinearReference';
  checkDim(where, 'N', N);
  checkDim(where, 'K', K);
  checkDim(where, 'M', M);
  const Ai = toOperands(m, 'a', A, N * K, 'A', where);
  const Wi = toOperands(m, 'w', W, K * M, 'W', where);
  const out = new Int32Array(N * M);
  for (let n = 0; n < N; n++) {
    for (let mm = 0; mm < M; mm++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += lutMultiply(m, Ai[n * K + k], Wi[k * M + mm]);
      if (s > 2 ** 31 - 1 || s < -(2 ** 31)) throw new ArgumentError(`${where}: out[${n}][${mm}] = ${s} does not fit in int32`);
      out[n * M + mm] = s;
    }
  }
  return out;
}
