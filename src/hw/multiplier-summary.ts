// Hardware a LUT multiplier implies (tables, reads, hardwired shifts, adder tree, negators), for the energy/area model.
//
// Counting rules (the energy/area model prices them):
// - tables: each distinct table once (`reads` pairs read it per product: a fully parallel datapath needs that many
//   read ports or copies); bits = entries · entryBits.
// - shifts are wiring (no cost of their own); `shifts` counts the partial products that are shifted.
// - adders: a balanced tree over the partial products sorted by weight (adjacent pairs per level). An adder's
//   `outBits` holds its exact output range; its `width` (the carry chain) leaves out the low bits where one input
//   is all zeros (they pass through): width = outBits − max(trailing zeros of its inputs).
// - negators ('magnitude' / 'ones' only): one per signed part (width of the part; `carry` false for ones'
//   complement, which is a row of XORs) and one per partial product with a signed part (entryBits + 1; it can
//   be folded into the next adder as NOT plus carry-in, but it is listed).
import { rangeBits, pairTables, type LutMultiplier } from './multiplier.js';

export interface TableSummary {
  readonly widthA: number;
  readonly widthW: number;
  readonly entries: number;
  readonly entryBits: number;
  readonly bits: number;
  /** Reads per product (part pairs sharing this table). */
  readonly reads: number;
  readonly truncBits: number;
}

export interface PartialProductSummary {
  readonly i: number;
  readonly j: number;
  readonly table: number;
  /** Hardwired left shift of the read value (table truncation + part offsets). */
  readonly shift: number;
  /** Width of the read value after any negation, before the shift. */
  readonly bits: number;
  /** Exact range of the contribution (shift included). */
  readonly min: number;
  readonly max: number;
}

export interface AdderSummary {
  /** Tree level, 0 = fed by partial products. */
  readonly level: number;
  readonly outBits: number;
  /** Carry-chain width (outBits without the pass-through low bits). */
  readonly width: number;
}

export interface NegatorSummary {
  readonly kind: 'part' | 'product';
  readonly width: number;
  /** Two's complement (incrementer/carry) rather than a plain row of XORs. */
  readonly carry: boolean;
}

export interface HardwareSummary {
  readonly name: string;
  /** One table of every product ('T-LUT'), an exact split ('LUT-NA') or a split with approximations ('A-LUT-NA'). */
  readonly kind: 'T-LUT' | 'LUT-NA' | 'A-LUT-NA';
  readonly approximate: boolean;
  readonly bitsA: number;
  readonly bitsW: number;
  readonly tables: readonly TableSummary[];
  readonly tableCount: number;
  readonly tableEntries: number;
  readonly tableBits: number;
  /** Table reads per product. */
  readonly reads: number;
  readonly partialProducts: readonly PartialProductSummary[];
  /** Partial products with a nonzero shift. */
  readonly shifts: number;
  readonly adders: readonly AdderSummary[];
  readonly adderCount: number;
  /** Σ adder widths (bits of carry chain). */
  readonly adderBits: number;
  readonly negators: readonly NegatorSummary[];
  /** Width of the product register (the adder tree's output range). */
  readonly productBits: number;
}

interface Term {
  lo: number;
  hi: number;
  tz: number;
}

/** The hardware of one multiplier. */
export function hardwareSummary(m: LutMultiplier): HardwareSummary {
  const pt = pairTables(m);
  const tables: TableSummary[] = m.tables.map((t) => ({
    widthA: t.widthA,
    widthW: t.widthW,
    entries: t.entries.length,
    entryBits: t.entryBits,
    bits: t.entries.length * t.entryBits,
    reads: t.pairs.length,
    truncBits: t.truncBits,
  }));
  const negating = m.sign !== 'twos';
  const partialProducts: PartialProductSummary[] = [];
  const terms: Term[] = [];
  m.pairs.forEach((p, q) => {
    if (p.dropped) return;
    const t = m.tables[p.table];
    const negates = negating && (p.signedA || p.signedW);
    const shift = p.truncBits + p.shift;
    partialProducts.push({
      i: p.i, j: p.j, table: p.table, shift,
      bits: negates ? t.entryBits + 1 : t.entryBits,
      min: pt[q].effMin, max: pt[q].effMax,
    });
    terms.push({ lo: pt[q].effMin, hi: pt[q].effMax, tz: shift });
  });

  // Balanced adder tree over terms sorted by weight.
  terms.sort((x, y) => x.tz - y.tz);
  const adders: AdderSummary[] = [];
  let level = terms;
  for (let depth = 0; level.length > 1; depth++) {
    const next: Term[] = [];
    for (let k = 0; k + 1 < level.length; k += 2) {
      const x = level[k];
      const y = level[k + 1];
      const lo = x.lo + y.lo;
      const hi = x.hi + y.hi;
      const outBits = rangeBits(lo, hi);
      adders.push({ level: depth, outBits, width: Math.max(1, outBits - Math.max(x.tz, y.tz)) });
      next.push({ lo, hi, tz: Math.min(x.tz, y.tz) });
    }
    if (level.length % 2 === 1) next.push(level[level.length - 1]);
    level = next;
  }
  const root = level[0];

  const negators: NegatorSummary[] = [];
  if (negating) {
    const kept = m.pairs.filter((p) => !p.dropped);
    if (m.signedA && kept.some((p) => p.i === 0)) negators.push({ kind: 'part', width: m.partsA[0], carry: m.sign === 'magnitude' });
    if (m.signedW && kept.some((p) => p.j === 0)) negators.push({ kind: 'part', width: m.partsW[0], carry: m.sign === 'magnitude' });
    for (const p of kept) {
      if (p.signedA || p.signedW) negators.push({ kind: 'product', width: m.tables[p.table].entryBits + 1, carry: true });
    }
  }

  return {
    name: m.name,
    kind: m.partsA.length === 1 && m.partsW.length === 1 ? 'T-LUT' : m.approximate ? 'A-LUT-NA' : 'LUT-NA',
    approximate: m.approximate,
    bitsA: m.bitsA,
    bitsW: m.bitsW,
    tables,
    tableCount: tables.length,
    tableEntries: tables.reduce((s, t) => s + t.entries, 0),
    tableBits: tables.reduce((s, t) => s + t.bits, 0),
    reads: partialProducts.length,
    partialProducts,
    shifts: partialProducts.filter((p) => p.shift > 0).length,
    adders,
    adderCount: adders.length,
    adderBits: adders.reduce((s, a) => s + a.width, 0),
    negators,
    productBits: rangeBits(root.lo, root.hi),
  };
}
