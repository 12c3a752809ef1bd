// LUT multipliers as exact functional models: T-LUT and divide-and-conquer (LUT-NA) part tables with shift-add, A-LUT-NA options.
//
// An operand of `bits` bits (a: activation, default 8; w: weight, default 9, as LUT-NA) is split into parts, most
// significant first: part i covers bits [offset_i, offset_i + width_i) with offset_i = Σ of the widths below it.
// A T-LUT is the one-part split (one table of 2^(bitsA+bitsW) entries holding every product).
//
// Sign design (two's complement operands). The top part of a signed operand is read as a signed width_0-bit
// number, every lower part as unsigned, so v = Σ_i part_i · 2^offset_i holds exactly (the sign bit's weight
// −2^(bits−1) is the top part's own sign-bit weight −2^(width_0−1) scaled by 2^offset_0). Hence
//   a·w = Σ_{i,j} part_a_i · part_w_j · 2^(offset_a_i + offset_w_j),
// one table per part pair read with the two parts' bit patterns, then hardwired shifts and an adder tree.
// How signed parts reach the tables (`sign`):
//  'twos' (default): tables are indexed by the raw bit patterns and hold value(pa)·value(pw), signed where a part
//     is signed (top × top, top × low, low × top). Tables with the same widths, signedness and truncation are
//     shared. No negation anywhere; the adders sign-extend.
//  'magnitude': every table is unsigned, |pa|·|pw|. A negative (signed, top) part is replaced by its magnitude
//     (a width-bit two's complement negation; |p| ≤ 2^(width−1) fits in width bits) and the table output is
//     negated when exactly one part was negative. Exact, and one table serves all part pairs of the same widths
//     whatever their signedness (A-LUT-NA's "shared tables", made exact), paid for with negators.
//  'ones': as 'magnitude' but the part negation is a ones' complement (bitwise NOT, no incrementer), which reads
//     row |p| − 1: approximate, an error of about ±value(other part)·2^shift per negative part. The output negation stays
//     exact (NOT plus the adder's carry-in).
// Approximations (A-LUT-NA; LUT-NA does not publish its own, these are ours): `drop` omits chosen partial products
// (e.g. low × low); `truncate` stores table entries without their k LSBs (floor = drop the bits, round = round
// half up), the read value being entry·2^k.
import { ArgumentError } from '../errors.js';

export type SignMode = 'twos' | 'magnitude' | 'ones';
export type RoundMode = 'floor' | 'round';
/** A part pair [i, j]: part i of a and part j of w, 0 = most significant. */
export type PairRef = readonly [number, number];

/** Truncation of table entries: `bits` LSBs dropped, or every LSB below product bit `belowBit` (k = belowBit − shift). */
export interface Truncation {
  readonly bits?: number;
  readonly belowBit?: number;
  /** 'floor' (default): the bits are dropped; 'round': round half up. */
  readonly mode?: RoundMode;
  /** Pairs it applies to (default 'all'). Later rules override earlier ones for the same pair. */
  readonly pairs?: 'all' | readonly PairRef[];
}

export interface MultiplierOptions {
  readonly name?: string;
  /** Activation bits (default 8). */
  readonly bitsA?: number;
  /** Weight bits (default 9). */
  readonly bitsW?: number;
  /** Two's complement activations (default true). */
  readonly signedA?: boolean;
  /** Two's complement weights (default true). */
  readonly signedW?: boolean;
  /** Part widths of a, most significant first (default [bitsA]: no split). */
  readonly partsA?: readonly number[];
  /** Part widths of w, most significant first (default [bitsW]). */
  readonly partsW?: readonly number[];
  readonly sign?: SignMode;
  /** Partial products left out (A-LUT-NA). */
  readonly drop?: readonly PairRef[];
  /** Table-entry truncations (A-LUT-NA). */
  readonly truncate?: readonly Truncation[];
}

/** One partial product of the datapath. */
export interface PartPair {
  readonly i: number;
  readonly j: number;
  readonly widthA: number;
  readonly widthW: number;
  /** Signedness of the parts themselves (the top part of a signed operand). */
  readonly signedA: boolean;
  readonly signedW: boolean;
  /** offsetsA[i] + offsetsW[j]: the weight 2^shift of the exact partial product. */
  readonly shift: number;
  readonly dropped: boolean;
  /** LSBs dropped from the stored entries (the read value is entry · 2^truncBits). */
  readonly truncBits: number;
  readonly truncMode: RoundMode;
  /** Index in `tables`; -1 when dropped. */
  readonly table: number;
}

/** One physical table (shared by every pair listed in `pairs`). */
export interface LutTable {
  readonly widthA: number;
  readonly widthW: number;
  /** How the row / column index is read: raw two's complement pattern (true, 'twos' mode only) or unsigned. */
  readonly signedA: boolean;
  readonly signedW: boolean;
  readonly truncBits: number;
  readonly truncMode: RoundMode;
  /** Stored entries, index (row << widthW) | column; 2^(widthA+widthW) of them. */
  readonly entries: Int32Array;
  /** Bits of one stored entry (two's complement when entrySigned). */
  readonly entryBits: number;
  readonly entrySigned: boolean;
  /** Indices in LutMultiplier.pairs of the pairs reading this table. */
  readonly pairs: readonly number[];
}

export interface LutMultiplier {
  readonly name: string;
  readonly bitsA: number;
  readonly bitsW: number;
  readonly signedA: boolean;
  readonly signedW: boolean;
  readonly partsA: readonly number[];
  readonly partsW: readonly number[];
  /** LSB position of each part. */
  readonly offsetsA: readonly number[];
  readonly offsetsW: readonly number[];
  readonly sign: SignMode;
  /** Every part pair, row-major over (i, j), dropped ones included. */
  readonly pairs: readonly PartPair[];
  readonly tables: readonly LutTable[];
  /** True when an approximation is configured (drop, truncation, 'ones'); errorStats tells whether it errs. */
  readonly approximate: boolean;
  readonly aMin: number;
  readonly aMax: number;
  readonly wMin: number;
  readonly wMax: number;
}

export const MAX_OPERAND_BITS = 16;
/** bitsA + bitsW at most: every product and partial sum stays well inside int32. */
export const MAX_PRODUCT_BITS = 30;
/** A table has at most 2^20 entries (a T-LUT up to 10b x 10b; split wider operands). */
export const MAX_TABLE_INDEX_BITS = 20;

/** Range of a `bits`-bit operand. */
export function operandRange(bits: number, signed: boolean): { min: number; max: number } {
  return signed ? { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 } : { min: 0, max: 2 ** bits - 1 };
}

/** Number of bits of x ≥ 0 (0 for 0). */
export function bitLength(x: number): number {
  let n = 0;
  for (let v = x; v >= 1; v = Math.floor(v / 2)) n++;
  return n;
}

/** Bits of a register holding every integer in [lo, hi]: unsigned when lo ≥ 0, else two's complement; at least 1. */
export function rangeBits(lo: number, hi: number): number {
  if (lo >= 0) return Math.max(1, bitLength(hi));
  return 1 + Math.max(bitLength(-lo - 1), bitLength(Math.max(hi, 0)));
}

/** The value of a `width`-bit pattern read as two's complement. */
export function signedOf(raw: number, width: number): number {
  return raw >= 2 ** (width - 1) ? raw - 2 ** width : raw;
}

/** Stored value of an exact entry e with k LSBs dropped. */
export function truncateEntry(e: number, k: number, mode: RoundMode): number {
  if (k === 0) return e;
  const s = 2 ** k;
  return mode === 'floor' ? Math.floor(e / s) : Math.floor((e + s / 2) / s);
}

function checkBits(what: string, bits: unknown): number {
  if (typeof bits !== 'number' || !Number.isInteger(bits) || bits < 1 || bits > MAX_OPERAND_BITS) {
    throw new ArgumentError(`createMultiplier: ${what} must be an integer in [1, ${MAX_OPERAND_BITS}], got ${String(bits)}`);
  }
  return bits;
}

function checkParts(what: string, parts: readonly number[] | undefined, bits: number): number[] {
  if (parts === undefined) return [bits];
  if (!Array.isArray(parts) || parts.length === 0) {
    throw new ArgumentError(`createMultiplier: ${what} must be a non-empty list of part widths summing to ${bits}, got ${JSON.stringify(parts)}`);
  }
  for (const p of parts) {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1) {
      throw new ArgumentError(`createMultiplier: ${what} widths must be integers ≥ 1, got ${JSON.stringify(parts)}`);
    }
  }
  const sum = parts.reduce((s, p) => s + p, 0);
  if (sum !== bits) {
    throw new ArgumentError(`createMultiplier: ${what} ${JSON.stringify(parts)} sum to ${sum}, expected the operand width ${bits}`);
  }
  return [...parts];
}

function offsetsOf(parts: readonly number[]): number[] {
  const out = new Array<number>(parts.length).fill(0);
  for (let i = parts.length - 2; i >= 0; i--) out[i] = out[i + 1] + parts[i + 1];
  return out;
}

function checkPairRef(what: string, p: unknown, na: number, nw: number): PairRef {
  if (
    !Array.isArray(p) || p.length !== 2 ||
    !Number.isInteger(p[0]) || !Number.isInteger(p[1]) ||
    p[0] < 0 || p[0] >= na || p[1] < 0 || p[1] >= nw
  ) {
    throw new ArgumentError(`createMultiplier: ${what} pair ${JSON.stringify(p)} is not [i, j] with i in [0, ${na - 1}] and j in [0, ${nw - 1}]`);
  }
  return [p[0] as number, p[1] as number];
}

/** Split description: "4+4x5+4". */
export function splitName(partsA: readonly number[], partsW: readonly number[]): string {
  return `${partsA.join('+')}x${partsW.join('+')}`;
}

/** Resolve, validate and build the tables of a LUT multiplier. */
export function createMultiplier(opts: MultiplierOptions = {}): LutMultiplier {
  const bitsA = checkBits('bitsA', opts.bitsA ?? 8);
  const bitsW = checkBits('bitsW', opts.bitsW ?? 9);
  if (bitsA + bitsW > MAX_PRODUCT_BITS) {
    throw new ArgumentError(`createMultiplier: bitsA + bitsW = ${bitsA + bitsW} over the limit ${MAX_PRODUCT_BITS}`);
  }
  const signedA = opts.signedA ?? true;
  const signedW = opts.signedW ?? true;
  const sign = opts.sign ?? 'twos';
  if (sign !== 'twos' && sign !== 'magnitude' && sign !== 'ones') {
    throw new ArgumentError(`createMultiplier: sign must be 'twos', 'magnitude' or 'ones', got ${JSON.stringify(sign)}`);
  }
  const partsA = checkParts('partsA', opts.partsA, bitsA);
  const partsW = checkParts('partsW', opts.partsW, bitsW);
  const offsetsA = offsetsOf(partsA);
  const offsetsW = offsetsOf(partsW);
  const na = partsA.length;
  const nw = partsW.length;

  for (const key of ['drop', 'truncate'] as const) {
    if (opts[key] !== undefined && !Array.isArray(opts[key])) {
      throw new ArgumentError(`createMultiplier: ${key} must be a list, got ${JSON.stringify(opts[key])}`);
    }
  }
  const dropped = new Set<number>();
  for (const p of opts.drop ?? []) {
    const [i, j] = checkPairRef('drop', p, na, nw);
    dropped.add(i * nw + j);
  }
  if (dropped.size === na * nw) throw new ArgumentError('createMultiplier: drop removes every part pair; the product would be 0');

  // Truncation per pair; a later rule overrides an earlier one.
  const truncBits = new Array<number>(na * nw).fill(0);
  const truncMode = new Array<RoundMode>(na * nw).fill('floor');
  for (const rule of opts.truncate ?? []) {
    const mode = rule.mode ?? 'floor';
    if (mode !== 'floor' && mode !== 'round') {
      throw new ArgumentError(`createMultiplier: truncate mode must be 'floor' or 'round', got ${JSON.stringify(mode)}`);
    }
    if ((rule.bits === undefined) === (rule.belowBit === undefined)) {
      throw new ArgumentError(`createMultiplier: a truncate rule needs exactly one of bits / belowBit, got ${JSON.stringify(rule)}`);
    }
    const amount = rule.bits ?? rule.belowBit;
    if (!Number.isInteger(amount) || (amount as number) < 0) {
      throw new ArgumentError(`createMultiplier: truncate ${rule.bits !== undefined ? 'bits' : 'belowBit'} must be an integer ≥ 0, got ${String(amount)}`);
    }
    const targets: number[] = [];
    if (rule.pairs === undefined || rule.pairs === 'all') for (let q = 0; q < na * nw; q++) targets.push(q);
    else if (Array.isArray(rule.pairs)) for (const p of rule.pairs) { const [i, j] = checkPairRef('truncate', p, na, nw); targets.push(i * nw + j); }
    else throw new ArgumentError(`createMultiplier: truncate pairs must be 'all' or a list of [i, j], got ${JSON.stringify(rule.pairs)}`);
    for (const q of targets) {
      const i = Math.floor(q / nw);
      const j = q % nw;
      const k = rule.bits ?? Math.max(0, (rule.belowBit as number) - offsetsA[i] - offsetsW[j]);
      if (k > partsA[i] + partsW[j] && !dropped.has(q)) {
        throw new ArgumentError(
          `createMultiplier: truncating ${k} LSBs of pair [${i},${j}] (entries of at most ${partsA[i] + partsW[j]} bits) leaves nothing; drop the pair instead`,
        );
      }
      truncBits[q] = k;
      truncMode[q] = k === 0 ? 'floor' : mode;
    }
  }

  // Pairs and shared tables.
  const tableKeys = new Map<string, number>();
  const tableDefs: { widthA: number; widthW: number; signedA: boolean; signedW: boolean; truncBits: number; truncMode: RoundMode; pairs: number[] }[] = [];
  const pairs: PartPair[] = [];
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nw; j++) {
      const q = i * nw + j;
      const pa = signedA && i === 0;
      const pw = signedW && j === 0;
      let table = -1;
      if (!dropped.has(q)) {
        if (partsA[i] + partsW[j] > MAX_TABLE_INDEX_BITS) {
          throw new ArgumentError(
            `createMultiplier: pair [${i},${j}] needs a table of 2^${partsA[i] + partsW[j]} entries, over the limit 2^${MAX_TABLE_INDEX_BITS}; split the operands further`,
          );
        }
        const ta = sign === 'twos' && pa;
        const tw = sign === 'twos' && pw;
        const key = `${partsA[i]}${ta ? 's' : 'u'}x${partsW[j]}${tw ? 's' : 'u'}/${truncBits[q]}${truncMode[q]}`;
        let t = tableKeys.get(key);
        if (t === undefined) {
          t = tableDefs.length;
          tableKeys.set(key, t);
          tableDefs.push({ widthA: partsA[i], widthW: partsW[j], signedA: ta, signedW: tw, truncBits: truncBits[q], truncMode: truncMode[q], pairs: [] });
        }
        tableDefs[t].pairs.push(pairs.length);
        table = t;
      }
      pairs.push({
        i, j, widthA: partsA[i], widthW: partsW[j], signedA: pa, signedW: pw,
        shift: offsetsA[i] + offsetsW[j], dropped: dropped.has(q),
        truncBits: truncBits[q], truncMode: truncMode[q], table,
      });
    }
  }
  const tables: LutTable[] = tableDefs.map((d) => {
    const rows = 2 ** d.widthA;
    const cols = 2 ** d.widthW;
    const entries = new Int32Array(rows * cols);
    let lo = Infinity;
    let hi = -Infinity;
    for (let r = 0; r < rows; r++) {
      const va = d.signedA ? signedOf(r, d.widthA) : r;
      for (let c = 0; c < cols; c++) {
        const vw = d.signedW ? signedOf(c, d.widthW) : c;
        const s = truncateEntry(va * vw, d.truncBits, d.truncMode);
        entries[r * cols + c] = s;
        if (s < lo) lo = s;
        if (s > hi) hi = s;
      }
    }
    return { ...d, entries, entryBits: rangeBits(lo, hi), entrySigned: lo < 0 };
  });

  const ra = operandRange(bitsA, signedA);
  const rw = operandRange(bitsW, signedW);
  const approximate = dropped.size > 0 || truncBits.some((k, q) => k > 0 && !dropped.has(q)) ||
    (sign === 'ones' && (signedA || signedW));
  const name = opts.name ??
    `${partsA.length === 1 && partsW.length === 1 ? 'T-LUT' : approximate ? 'A-LUT-NA' : 'LUT-NA'} ` +
    `${bitsA}${signedA ? 's' : 'u'}x${bitsW}${signedW ? 's' : 'u'} ${splitName(partsA, partsW)}${sign === 'twos' ? '' : ` ${sign}`}`;
  return {
    name, bitsA, bitsW, signedA, signedW, partsA, partsW, offsetsA, offsetsW, sign, pairs, tables, approximate,
    aMin: ra.min, aMax: ra.max, wMin: rw.min, wMax: rw.max,
  };
}

/** The traditional LUT: one table of every product. */
export function tLut(opts: Omit<MultiplierOptions, 'partsA' | 'partsW'> = {}): LutMultiplier {
  return createMultiplier({ ...opts, partsA: undefined, partsW: undefined });
}

/** Check that v is an integer operand of the multiplier's `side` ('a' or 'w'). */
export function checkOperand(m: LutMultiplier, side: 'a' | 'w', v: number, where = 'lutMultiply'): void {
  if (Number.isInteger(v) && (side === 'a' ? v >= m.aMin && v <= m.aMax : v >= m.wMin && v <= m.wMax)) return;
  const [lo, hi, bits, signed] = side === 'a' ? [m.aMin, m.aMax, m.bitsA, m.signedA] : [m.wMin, m.wMax, m.bitsW, m.signedW];
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new ArgumentError(`${where}: ${side} = ${String(v)} is not an integer in the ${bits}-bit ${signed ? 'signed' : 'unsigned'} range [${lo}, ${hi}]`);
  }
}

/** Raw bit patterns of the parts of an operand (most significant first). */
export function splitOperand(m: LutMultiplier, side: 'a' | 'w', v: number): number[] {
  checkOperand(m, side, v, 'splitOperand');
  const [bits, parts, offsets] = side === 'a' ? [m.bitsA, m.partsA, m.offsetsA] : [m.bitsW, m.partsW, m.offsetsW];
  const raw = v < 0 ? v + 2 ** bits : v;
  return parts.map((width, i) => Math.floor(raw / 2 ** offsets[i]) % 2 ** width);
}

/** Values of the parts: the top part of a signed operand is signed; Σ value_i · 2^offset_i = v. */
export function partValues(m: LutMultiplier, side: 'a' | 'w', v: number): number[] {
  const signed = side === 'a' ? m.signedA : m.signedW;
  const parts = side === 'a' ? m.partsA : m.partsW;
  return splitOperand(m, side, v).map((r, i) => (signed && i === 0 ? signedOf(r, parts[i]) : r));
}

/** Whether the datapath negates this part ('magnitude' / 'ones' modes: a negative signed part). */
function negatesPart(sign: SignMode, signedPart: boolean, raw: number, width: number): boolean {
  return sign !== 'twos' && signedPart && raw >= 1 << (width - 1);
}

/** The table row / column the datapath reads for a part: the raw pattern, or the (ones' complement) magnitude. */
function partIndex(sign: SignMode, negated: boolean, raw: number, width: number): number {
  if (!negated) return raw;
  return sign === 'magnitude' ? (1 << width) - raw : (1 << width) - 1 - raw;
}

/**
 * What the datapath adds for one pair given the parts' raw patterns: the table read (after the magnitude step),
 * the output negation, the shift by truncBits + shift. 0 for a dropped pair.
 */
export function pairContribution(m: LutMultiplier, p: PartPair, rawA: number, rawW: number): number {
  if (p.dropped) return 0;
  const t = m.tables[p.table];
  const na = negatesPart(m.sign, p.signedA, rawA, p.widthA);
  const nw = negatesPart(m.sign, p.signedW, rawW, p.widthW);
  let v = t.entries[partIndex(m.sign, na, rawA, p.widthA) * (1 << t.widthW) + partIndex(m.sign, nw, rawW, p.widthW)];
  if (na !== nw) v = -v;
  return v * (1 << (p.truncBits + p.shift)) + 0;
}

/** One product through the multiplier: split, table reads, shifts, adds — as the hardware datapath does it. */
export function lutMultiply(m: LutMultiplier, a: number, w: number): number {
  checkOperand(m, 'a', a);
  checkOperand(m, 'w', w);
  // Two's complement bit patterns of the operands (bits ≤ 16 and shifts ≤ 30, so 32-bit bit operations are exact).
  const bitsA = a & ((1 << m.bitsA) - 1);
  const bitsW = w & ((1 << m.bitsW) - 1);
  let acc = 0;
  for (const p of m.pairs) {
    const rawA = (bitsA >>> m.offsetsA[p.i]) & ((1 << p.widthA) - 1);
    const rawW = (bitsW >>> m.offsetsW[p.j]) & ((1 << p.widthW) - 1);
    acc += pairContribution(m, p, rawA, rawW);
  }
  return acc + 0;
}

/** A pair's datapath output and its error, over every pair of raw part patterns (index (rawA << widthW) | rawW). */
export interface PairTable {
  /** What the datapath adds (shift included); all zeros for a dropped pair. */
  readonly eff: Int32Array;
  /** eff − value(rawA)·value(rawW)·2^shift: the error this pair contributes. */
  readonly err: Float64Array;
  readonly effMin: number;
  readonly effMax: number;
  /** The pair contributes no error at all. */
  readonly exact: boolean;
}

const pairTableCache = new WeakMap<LutMultiplier, readonly PairTable[]>();

/** Per-pair effective and error tables (cached per multiplier), the basis of errorStats and lutLinear. */
export function pairTables(m: LutMultiplier): readonly PairTable[] {
  const hit = pairTableCache.get(m);
  if (hit) return hit;
  const out = m.pairs.map((p): PairTable => {
    const rows = 2 ** p.widthA;
    const cols = 2 ** p.widthW;
    const eff = new Int32Array(rows * cols);
    const err = new Float64Array(rows * cols);
    const scale = 2 ** p.shift;
    let lo = Infinity;
    let hi = -Infinity;
    let exact = true;
    for (let r = 0; r < rows; r++) {
      const va = p.signedA ? signedOf(r, p.widthA) : r;
      for (let c = 0; c < cols; c++) {
        const vw = p.signedW ? signedOf(c, p.widthW) : c;
        const v = pairContribution(m, p, r, c);
        const e = v - va * vw * scale;
        eff[r * cols + c] = v;
        err[r * cols + c] = e;
        if (e !== 0) exact = false;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    }
    return { eff, err, effMin: lo, effMax: hi, exact };
  });
  pairTableCache.set(m, out);
  return out;
}
