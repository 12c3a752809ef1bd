// Exhaustive products and error statistics of LUT multipliers over an operand distribution (uniform or a layer's histograms).
//
// A histogram over a `bits`-bit operand has 2^bits weights, index v − min (for a signed operand, index 0 is the most
// negative value). errorStats weights the pair (a, w) by histA[a]·histW[w], which is the distribution of the
// products a layer computes when its activations and weights are independent.
import { ArgumentError } from '../errors.js';
import { lutMultiply, operandRange, pairTables, type LutMultiplier } from './multiplier.js';

/** Exhaustive tables and statistics go up to bitsA + bitsW = 24 (16M pairs). */
export const MAX_EXHAUSTIVE_BITS = 24;

function checkExhaustive(m: LutMultiplier, where: string): void {
  if (m.bitsA + m.bitsW > MAX_EXHAUSTIVE_BITS) {
    throw new ArgumentError(`${where}: ${m.name} has 2^${m.bitsA + m.bitsW} operand pairs, over the exhaustive limit 2^${MAX_EXHAUSTIVE_BITS}`);
  }
}

/** Raw bit pattern of part i of every operand value: out[i][v − min]. */
export function partPatterns(m: LutMultiplier, side: 'a' | 'w'): Int32Array[] {
  const [bits, signed, parts, offsets] =
    side === 'a' ? [m.bitsA, m.signedA, m.partsA, m.offsetsA] : [m.bitsW, m.signedW, m.partsW, m.offsetsW];
  const { min } = operandRange(bits, signed);
  const n = 2 ** bits;
  const mask = n - 1;
  return parts.map((width, i) => {
    const out = new Int32Array(n);
    for (let k = 0; k < n; k++) out[k] = (((k + min) & mask) >>> offsets[i]) & (2 ** width - 1);
    return out;
  });
}

const productCache = new WeakMap<LutMultiplier, Int32Array>();

/**
 * The multiplier's product for every operand pair, index (a − aMin)·2^bitsW + (w − wMin), summed from the
 * per-pair datapath tables (cached per multiplier).
 */
export function productTable(m: LutMultiplier): Int32Array {
  const hit = productCache.get(m);
  if (hit) return hit;
  checkExhaustive(m, 'productTable');
  const pt = pairTables(m);
  const pa = partPatterns(m, 'a');
  const pw = partPatterns(m, 'w');
  const kept = m.pairs.map((p, q) => ({ p, q })).filter(({ p }) => !p.dropped);
  const eff = kept.map(({ q }) => pt[q].eff);
  const colsW = kept.map(({ p }) => pw[p.j]);
  const shiftW = kept.map(({ p }) => 2 ** p.widthW);
  const nA = 2 ** m.bitsA;
  const nW = 2 ** m.bitsW;
  const out = new Int32Array(nA * nW);
  const base = new Int32Array(kept.length);
  for (let ia = 0; ia < nA; ia++) {
    for (let q = 0; q < kept.length; q++) base[q] = pa[kept[q].p.i][ia] * shiftW[q];
    const o = ia * nW;
    for (let iw = 0; iw < nW; iw++) {
      let s = 0;
      for (let q = 0; q < kept.length; q++) s += eff[q][base[q] + colsW[q][iw]];
      out[o + iw] = s;
    }
  }
  productCache.set(m, out);
  return out;
}

export interface ExhaustiveCheck {
  /** Operand pairs checked. */
  readonly pairs: number;
  /** Pairs where the datapath (lutMultiply) or the summed pair tables (productTable) differ from the expectation. */
  readonly bad: number;
  /** The first mismatch, '' when none. */
  readonly first: string;
}

/**
 * Every operand pair through the datapath (lutMultiply) and through the summed pair tables (productTable),
 * compared with expected(a, w) (the exact product a·w by default).
 */
export function exhaustiveCheck(m: LutMultiplier, expected: (a: number, w: number) => number = (a, w) => a * w): ExhaustiveCheck {
  const table = productTable(m);
  const nW = 2 ** m.bitsW;
  let pairs = 0;
  let bad = 0;
  let first = '';
  for (let a = m.aMin; a <= m.aMax; a++) {
    const o = (a - m.aMin) * nW - m.wMin;
    for (let w = m.wMin; w <= m.wMax; w++) {
      const want = expected(a, w);
      const got = lutMultiply(m, a, w);
      const fast = table[o + w];
      pairs++;
      if (got !== want || fast !== want) {
        bad++;
        if (!first) first = `${m.name}: f(${a}, ${w}) = ${got} (pair tables: ${fast}), expected ${want}`;
      }
    }
  }
  return { pairs, bad, first };
}

/** Largest |product| the multiplier can return (exhaustive when feasible, else the sum of the pairs' bounds). */
export function maxAbsProduct(m: LutMultiplier): number {
  if (m.bitsA + m.bitsW <= 20) {
    const t = productTable(m);
    let mx = 0;
    for (let k = 0; k < t.length; k++) mx = Math.max(mx, Math.abs(t[k]));
    return mx;
  }
  return pairTables(m).reduce((s, t) => s + Math.max(Math.abs(t.effMin), Math.abs(t.effMax)), 0);
}

/** Uniform weights over every `bits`-bit value. */
export function uniformHistogram(bits: number): Float64Array {
  return new Float64Array(2 ** bits).fill(1);
}

/** Laplace-shaped weights exp(−|v − center| / scale) over the `bits`-bit range (bell-shaped activations). */
export function laplaceHistogram(bits: number, signed: boolean, scale: number, center = 0): Float64Array {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new ArgumentError(`laplaceHistogram: scale must be finite and > 0, got ${scale}`);
  const { min } = operandRange(bits, signed);
  const h = new Float64Array(2 ** bits);
  for (let k = 0; k < h.length; k++) h[k] = Math.exp(-Math.abs(k + min - center) / scale);
  return h;
}

/** Counts of integer values in the `bits`-bit range (e.g. a layer's quantized activations). */
export function histogramOf(values: ArrayLike<number>, bits: number, signed: boolean): Float64Array {
  const { min, max } = operandRange(bits, signed);
  const h = new Float64Array(2 ** bits);
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ArgumentError(`histogramOf: values[${k}] = ${v} is not an integer in [${min}, ${max}]`);
    }
    h[v - min]++;
  }
  return h;
}

export interface ErrorStats {
  /** Operand pairs with a nonzero weight. */
  readonly pairs: number;
  /** Weighted mean of the signed error f(a, w) − a·w. */
  readonly bias: number;
  /** Weighted mean |error|. */
  readonly meanAbs: number;
  /** Largest |error| over the pairs with a nonzero weight. */
  readonly maxAbs: number;
  /** sqrt of the weighted mean squared error. */
  readonly rms: number;
  /** Weighted fraction of pairs with a nonzero error. */
  readonly errorRate: number;
  /** sqrt of the weighted mean of (a·w)²: the scale the error compares with. */
  readonly productRms: number;
  /** rms / productRms (0 when both are 0). */
  readonly relRms: number;
}

function checkHistogram(h: ArrayLike<number>, n: number, what: string): void {
  if (h.length !== n) throw new ArgumentError(`errorStats: ${what} has ${h.length} weights, expected 2^bits = ${n}`);
  let total = 0;
  for (let k = 0; k < n; k++) {
    const v = h[k];
    if (!Number.isFinite(v) || v < 0) throw new ArgumentError(`errorStats: ${what}[${k}] = ${v}, expected a finite weight ≥ 0`);
    total += v;
  }
  if (!(total > 0)) throw new ArgumentError(`errorStats: ${what} has no positive weight`);
}

/**
 * Exhaustive error statistics of the multiplier against the exact product, each pair (a, w) weighted by
 * histA[a − aMin]·histW[w − wMin] (uniform when a histogram is omitted).
 */
export function errorStats(m: LutMultiplier, histA?: ArrayLike<number>, histW?: ArrayLike<number>): ErrorStats {
  checkExhaustive(m, 'errorStats');
  const nA = 2 ** m.bitsA;
  const nW = 2 ** m.bitsW;
  const hA = histA ?? uniformHistogram(m.bitsA);
  const hW = histW ?? uniformHistogram(m.bitsW);
  checkHistogram(hA, nA, 'histA');
  checkHistogram(hW, nW, 'histW');
  const pt = pairTables(m);
  const pa = partPatterns(m, 'a');
  const pw = partPatterns(m, 'w');
  const live = m.pairs.map((p, q) => ({ p, q })).filter(({ q }) => !pt[q].exact);
  const err = live.map(({ q }) => pt[q].err);
  const colsW = live.map(({ p }) => pw[p.j]);
  const shiftW = live.map(({ p }) => 2 ** p.widthW);
  const base = new Float64Array(live.length);
  let pairs = 0;
  let wsum = 0;
  let sum = 0;
  let sumAbs = 0;
  let sumSq = 0;
  let maxAbs = 0;
  let wrong = 0;
  let prodSq = 0;
  for (let ia = 0; ia < nA; ia++) {
    const ha = hA[ia];
    if (ha === 0) continue;
    const a = ia + m.aMin;
    for (let q = 0; q < live.length; q++) base[q] = pa[live[q].p.i][ia] * shiftW[q];
    for (let iw = 0; iw < nW; iw++) {
      const hw = hW[iw];
      if (hw === 0) continue;
      const wt = ha * hw;
      let e = 0;
      for (let q = 0; q < live.length; q++) e += err[q][base[q] + colsW[q][iw]];
      const prod = a * (iw + m.wMin);
      pairs++;
      wsum += wt;
      prodSq += wt * prod * prod;
      if (e !== 0) {
        const ae = Math.abs(e);
        sum += wt * e;
        sumAbs += wt * ae;
        sumSq += wt * e * e;
        wrong += wt;
        if (ae > maxAbs) maxAbs = ae;
      }
    }
  }
  const rms = Math.sqrt(sumSq / wsum);
  const productRms = Math.sqrt(prodSq / wsum);
  return {
    pairs,
    bias: sum / wsum,
    meanAbs: sumAbs / wsum,
    maxAbs,
    rms,
    errorRate: wrong / wsum,
    productRms,
    relRms: productRms > 0 ? rms / productRms : rms > 0 ? Infinity : 0,
  };
}
