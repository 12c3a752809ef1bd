// Energy and area of one MAC unit, component by component: digital array and Wallace-tree multipliers, T-LUT, LUT-NA and
// A-LUT-NA LUT multipliers (tables keyed by both operands, parallel or serial datapaths, or weight-stationary tables),
// each followed by the same accumulator. Pure arithmetic on bit widths and the technology table (src/hw/tech.ts).
//
// Counting rules (all choices ours where LUT-NA does not publish its circuits; the README discusses them):
// - Digital multipliers (a×b bits, two's complement by Baugh-Wooley: the same cell counts as unsigned): a·b AND2
//   partial-product gates, then adder cells found by simulating the column heights of the partial-product matrix:
//   'wallace' reduces every column greedily by full adders (3 bits → 1 + carry) and a half adder for a leftover pair,
//   stage after stage, until no column holds more than 2 bits; 'array' adds one partial-product row at a time into a
//   carry-save sum (a full adder where a column holds 3 bits, a half adder where it holds 2; laid out in the cheaper of
//   the two orientations: a·b − max(a, b) adder cells, n(n − 1) for n×n, as the textbook array). Both end with a ripple
//   carry-propagate adder over the columns still holding 2 bits. Energy per multiply: every cell once at the
//   activity of random operands (the technology table's figures); the array's adders times arrayMultiplierGlitch_ratio.
// - LUT multipliers keyed by both operands (src/hw/multiplier.ts; hardware from multiplier-summary.ts):
//   'parallel' (one product per cycle): a table read per partial product, so a table read by r pairs is held r times
//   (r read ports); hardwired shifts (wires, free); the adder tree of the summary; negators in 'magnitude' / 'ones'
//   modes (an adder of the width, or a row of XORs for a ones' complement). 'serial': each distinct table held once;
//   one partial product per cycle through part-select muxes, the table's read port, an output-select mux among the
//   tables, a barrel shifter (ceil(log2(max shift + 1)) stages of MUX2 over the product width), negators, and a
//   product-width accumulating adder and register; a product takes as many cycles as partial products, so the area per
//   product-per-cycle is area × cycles.
// - Table storage: 'rom' (constant entries hardwired into a multiplexer tree: (entries − 1)·entryBits MUX2 per read
//   port, muxTreeActivity_ratio of them switching per read), 'latch' (the same tree over entries·entryBits register
//   bits, writable), 'sram' (entries·entryBits bit cells per port; a read costs entryBits × the SRAM energy per bit
//   at that capacity). 'auto': 'rom' up to romMaxEntries entries (default 4096), else 'sram' (a 2^17-entry T-LUT).
// - Weight-stationary tables ('lut-ws'): the MAC unit holds one weight w; for each activation part i a table of
//   w·p for every pattern p of the part (2^width_i entries of bitsW + width_i bits, latch storage, one read port per
//   part), then the adder tree. When the weight changes the tables are refilled: entries − 1 additions per distinct
//   table plus a register write of every entry of every copy, divided over `weightReuse` MACs per weight load (rows of
//   the layer × batch; 1 by default).
// - Accumulator (every design): an accBits adder (default 32) and accBits register bits written per MAC. Operand
//   delivery (buffers, operand registers) is the same for every design and left out.
import { ArgumentError } from '../errors.js';
import { createMultiplier, type MultiplierOptions } from './multiplier.js';
import { hardwareSummary, type HardwareSummary } from './multiplier-summary.js';
import { addArea, addEnergy, regArea, regEnergyPerBit, sramArea, sramReadEnergyPerBit, type TechTable } from './tech.js';

export type DigitalMultiplier = 'array' | 'wallace';
export type TableStorage = 'auto' | 'rom' | 'latch' | 'sram';
export type LutStyle = 'parallel' | 'serial';

/** A MAC design; bit widths come from the context (the layer). */
export type MacDesign =
  | { kind: 'digital'; multiplier: DigitalMultiplier; name?: string }
  | { kind: 'lut'; multiplier?: Omit<MultiplierOptions, 'bitsA' | 'bitsW'>; style?: LutStyle; storage?: TableStorage; name?: string }
  | { kind: 'lut-ws'; partsA?: readonly number[]; name?: string };

export interface MacContext {
  bitsA: number;
  bitsW: number;
  /** Accumulator width (default 32: the int32 sums of the quantized layers). */
  accBits?: number;
  /** MACs per weight load of a weight-stationary design (default 1). */
  weightReuse?: number;
  /** 'auto' storage keeps tables of at most this many entries in ROM (default 4096), larger ones in SRAM. */
  romMaxEntries?: number;
}

/** One component line: count instances (or bits), energy per MAC and area of all of them. */
export interface CostItem {
  component: string;
  detail: string;
  count: number;
  energyPJ: number;
  areaUm2: number;
}

export interface MacCost {
  name: string;
  kind: 'array' | 'wallace' | 'T-LUT' | 'LUT-NA' | 'A-LUT-NA' | 'T-LUT-ws' | 'LUT-NA-ws';
  style: LutStyle | null;
  storage: Exclude<TableStorage, 'auto'> | 'mixed' | null;
  bitsA: number;
  bitsW: number;
  accBits: number;
  approximate: boolean;
  /** Cycles per product (serial LUT datapaths: one per partial product). */
  cyclesPerMac: number;
  /** Table bits held by one unit (copies included), 0 for digital designs. */
  tableBits: number;
  items: CostItem[];
  multiplier: { energyPJ: number; areaUm2: number };
  accumulate: { energyPJ: number; areaUm2: number };
  /** Per MAC (multiplier + accumulator). */
  energyPJ: number;
  /** One unit. */
  areaUm2: number;
  /** Area for one MAC per cycle: areaUm2 · cyclesPerMac. */
  areaPerThroughputUm2: number;
}

const c = (t: TechTable, f: 'halfAdder_pJ' | 'halfAdder_um2' | 'and2_pJ' | 'and2_um2' | 'mux2_pJ' | 'mux2_um2' | 'arrayMultiplierGlitch_ratio' | 'muxTreeActivity_ratio'): number => t.constants[f].value;

/** Cells of an a×b digital multiplier (see the file comment). */
export interface MultiplierCells {
  and2: number;
  fullAdders: number;
  halfAdders: number;
  /** Width of the final carry-propagate adder. */
  cpaBits: number;
  /** Reduction stages (Wallace) or rows (array) before the final adder. */
  stages: number;
}

export function multiplierCells(a: number, b: number, kind: DigitalMultiplier): MultiplierCells {
  for (const [n, v] of [['a', a], ['b', b]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 64) throw new ArgumentError(`multiplierCells: ${n} must be an integer in [1, 64] bits, got ${v}`);
  }
  if (kind === 'wallace') return reduceCells(a, b, kind);
  // An array is laid out with either operand along the rows: the cheaper orientation.
  const x = reduceCells(a, b, kind);
  const y = reduceCells(b, a, kind);
  const cells = (m: MultiplierCells): number => m.fullAdders + m.halfAdders + m.cpaBits;
  return cells(y) < cells(x) ? y : x;
}

function reduceCells(a: number, b: number, kind: DigitalMultiplier): MultiplierCells {
  const cols = a + b;
  let fa = 0;
  let ha = 0;
  let stages = 0;
  let h = new Array<number>(cols + 1).fill(0);
  /** One reduction step over every column: 3 → FA, 2 → HA (only where `pairs` allows), 1 passes. */
  const step = (pairs: boolean): void => {
    const next = new Array<number>(cols + 1).fill(0);
    for (let col = 0; col < cols; col++) {
      let k = h[col];
      const f = Math.floor(k / 3);
      fa += f;
      next[col] += f;
      next[col + 1] += f;
      k -= 3 * f;
      if (k === 2 && pairs) {
        ha++;
        next[col]++;
        next[col + 1]++;
      } else next[col] += k;
    }
    h = next;
  };
  if (kind === 'wallace') {
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) h[i + j]++;
    while (h.some((x) => x > 2)) {
      step(true);
      stages++;
    }
  } else {
    // Carry-save array: row j of partial products (columns j .. j + a − 1) joins the running sum and carries.
    for (let i = 0; i < a; i++) h[i]++;
    for (let j = 1; j < b; j++) {
      for (let i = 0; i < a; i++) h[i + j]++;
      step(true);
      stages++;
    }
  }
  const lo = h.findIndex((x) => x === 2);
  let hi = -1;
  for (let col = cols; col >= 0; col--) if (h[col] > 0) { hi = col; break; }
  return { and2: a * b, fullAdders: fa, halfAdders: ha, cpaBits: lo < 0 ? 0 : Math.max(1, hi - lo + 1), stages };
}

function checkCtx(ctx: MacContext): Required<MacContext> {
  const out = { ...ctx, accBits: ctx.accBits ?? 32, weightReuse: ctx.weightReuse ?? 1, romMaxEntries: ctx.romMaxEntries ?? 4096 };
  for (const f of ['bitsA', 'bitsW', 'accBits'] as const) {
    if (!Number.isInteger(out[f]) || out[f] < 1 || out[f] > 64) throw new ArgumentError(`macCost: ${f} must be an integer in [1, 64], got ${String(out[f])}`);
  }
  if (!(out.weightReuse >= 1) || !Number.isFinite(out.weightReuse)) throw new ArgumentError(`macCost: weightReuse must be a finite number >= 1, got ${String(out.weightReuse)}`);
  if (!Number.isInteger(out.romMaxEntries) || out.romMaxEntries < 1) throw new ArgumentError(`macCost: romMaxEntries must be an integer >= 1, got ${String(out.romMaxEntries)}`);
  return out;
}

const item = (component: string, detail: string, count: number, energyPJ: number, areaUm2: number): CostItem => ({ component, detail, count, energyPJ, areaUm2 });

function accumulateItems(t: TechTable, accBits: number): CostItem[] {
  return [
    item('accumulator adder', `${accBits}-bit`, 1, addEnergy(t, accBits), addArea(t, accBits)),
    item('accumulator register', `${accBits} bits written per MAC`, accBits, accBits * regEnergyPerBit(t), regArea(t, accBits)),
  ];
}

function digitalItems(t: TechTable, a: number, b: number, kind: DigitalMultiplier): CostItem[] {
  const cells = multiplierCells(a, b, kind);
  const g = kind === 'array' ? c(t, 'arrayMultiplierGlitch_ratio') : 1;
  const items = [
    item('partial-product AND', `${a}x${b}`, cells.and2, cells.and2 * c(t, 'and2_pJ'), cells.and2 * c(t, 'and2_um2')),
    item('full adder', kind === 'array' ? `carry-save array, ${cells.stages} rows` : `Wallace tree, ${cells.stages} stages`, cells.fullAdders, g * cells.fullAdders * addEnergy(t, 1), cells.fullAdders * addArea(t, 1)),
    item('half adder', '', cells.halfAdders, g * cells.halfAdders * c(t, 'halfAdder_pJ'), cells.halfAdders * c(t, 'halfAdder_um2')),
  ];
  if (cells.cpaBits > 0) items.push(item('final adder', `${cells.cpaBits}-bit ripple`, 1, g * addEnergy(t, cells.cpaBits), addArea(t, cells.cpaBits)));
  return items;
}

/** A multiplexer tree over `inputs` inputs of `bits` bits: cells, energy per read, area. */
function muxTree(t: TechTable, inputs: number, bits: number): { cells: number; energyPJ: number; areaUm2: number } {
  const cells = Math.max(0, inputs - 1) * bits;
  return { cells, energyPJ: cells * c(t, 'mux2_pJ') * c(t, 'muxTreeActivity_ratio'), areaUm2: cells * c(t, 'mux2_um2') };
}

/** One table instance (one read port): storage area, read energy and read-port area. */
function tableCost(t: TechTable, entries: number, entryBits: number, storage: Exclude<TableStorage, 'auto'>): { storageUm2: number; readPJ: number; readUm2: number; readCells: number } {
  const bits = entries * entryBits;
  if (storage === 'sram') return { storageUm2: sramArea(t, bits / 8), readPJ: entryBits * sramReadEnergyPerBit(t, bits / 8), readUm2: 0, readCells: 0 };
  const tree = muxTree(t, entries, entryBits);
  return { storageUm2: storage === 'latch' ? regArea(t, bits) : 0, readPJ: tree.energyPJ, readUm2: tree.areaUm2, readCells: tree.cells };
}

function resolveStorage(s: TableStorage, entries: number, romMaxEntries: number): Exclude<TableStorage, 'auto'> {
  if (s !== 'auto') return s;
  return entries <= romMaxEntries ? 'rom' : 'sram';
}

function negatorItems(t: TechTable, hw: HardwareSummary, times: number): CostItem[] {
  const carry = hw.negators.filter((n) => n.carry);
  const xor = hw.negators.filter((n) => !n.carry);
  const out: CostItem[] = [];
  if (carry.length > 0) {
    const e = carry.reduce((s, n) => s + addEnergy(t, n.width), 0);
    const a = carry.reduce((s, n) => s + addArea(t, n.width), 0);
    out.push(item('negators', `two's complement: ${carry.map((n) => `${n.kind} ${n.width}b`).join(', ')}`, carry.length, times * e, a));
  }
  if (xor.length > 0) {
    const bits = xor.reduce((s, n) => s + n.width, 0);
    out.push(item('negators', `ones' complement (XOR rows): ${xor.map((n) => `${n.kind} ${n.width}b`).join(', ')}`, xor.length, times * bits * c(t, 'mux2_pJ'), bits * c(t, 'mux2_um2')));
  }
  return out;
}

function lutParallelItems(t: TechTable, hw: HardwareSummary, storageOpt: TableStorage, romMax: number, entriesOf: (i: number) => number): { items: CostItem[]; tableBits: number; storages: Set<string> } {
  const items: CostItem[] = [];
  let tableBits = 0;
  const storages = new Set<string>();
  hw.tables.forEach((tb, i) => {
    const entries = entriesOf(i);
    const storage = resolveStorage(storageOpt, entries, romMax);
    storages.add(storage);
    const one = tableCost(t, entries, tb.entryBits, storage);
    const copies = tb.reads;
    tableBits += copies * entries * tb.entryBits;
    const name = `${tb.widthA}x${tb.widthW}${tb.truncBits ? ` (−${tb.truncBits} LSBs)` : ''}: ${entries} x ${tb.entryBits}b`;
    if (storage !== 'rom') items.push(item('table storage', `${name} ${storage}, ${copies} cop${copies === 1 ? 'y' : 'ies'}`, copies * entries * tb.entryBits, 0, copies * one.storageUm2));
    items.push(item('table read', storage === 'sram' ? `${name} SRAM read` : `${name} mux tree (${one.readCells} MUX2 per port)`, copies, copies * one.readPJ, copies * one.readUm2));
  });
  if (hw.adders.length > 0) {
    items.push(item('partial-product adders', hw.adders.map((a) => `${a.width}b`).join(' + '), hw.adders.length, hw.adders.reduce((s, a) => s + addEnergy(t, a.width), 0), hw.adders.reduce((s, a) => s + addArea(t, a.width), 0)));
  }
  items.push(item('shifts', `${hw.shifts} hardwired (wires)`, hw.shifts, 0, 0));
  items.push(...negatorItems(t, hw, 1));
  return { items, tableBits, storages };
}

function lutSerialItems(t: TechTable, hw: HardwareSummary, storageOpt: TableStorage, romMax: number, partsA: readonly number[], partsW: readonly number[]): { items: CostItem[]; tableBits: number; storages: Set<string>; cycles: number } {
  const items: CostItem[] = [];
  let tableBits = 0;
  const storages = new Set<string>();
  const cycles = hw.partialProducts.length;
  hw.tables.forEach((tb) => {
    const storage = resolveStorage(storageOpt, tb.entries, romMax);
    storages.add(storage);
    const one = tableCost(t, tb.entries, tb.entryBits, storage);
    tableBits += tb.bits;
    const name = `${tb.widthA}x${tb.widthW}${tb.truncBits ? ` (−${tb.truncBits} LSBs)` : ''}: ${tb.entries} x ${tb.entryBits}b`;
    if (storage !== 'rom') items.push(item('table storage', `${name} ${storage}, shared by ${tb.reads} partial products`, tb.bits, 0, one.storageUm2));
    items.push(item('table read', `${name}, ${tb.reads} read${tb.reads === 1 ? '' : 's'} per product`, tb.reads, tb.reads * one.readPJ, one.readUm2));
  });
  const maxA = Math.max(...partsA);
  const maxW = Math.max(...partsW);
  const selA = muxTree(t, partsA.length, maxA);
  const selW = muxTree(t, partsW.length, maxW);
  if (selA.cells + selW.cells > 0) items.push(item('part-select muxes', `${partsA.length}:1 x ${maxA}b, ${partsW.length}:1 x ${maxW}b`, selA.cells + selW.cells, cycles * (selA.energyPJ + selW.energyPJ), selA.areaUm2 + selW.areaUm2));
  const maxEntry = Math.max(...hw.tables.map((tb) => tb.entryBits));
  const outSel = muxTree(t, hw.tables.length, maxEntry);
  if (outSel.cells > 0) items.push(item('table-select mux', `${hw.tables.length}:1 x ${maxEntry}b`, outSel.cells, cycles * outSel.energyPJ, outSel.areaUm2));
  const maxShift = Math.max(...hw.partialProducts.map((p) => p.shift));
  const stages = maxShift > 0 ? Math.ceil(Math.log2(maxShift + 1)) : 0;
  const pb = hw.productBits;
  if (stages > 0) {
    const cells = stages * pb;
    items.push(item('shifter', `barrel, ${stages} stages x ${pb}b`, cells, cycles * cells * c(t, 'mux2_pJ') * c(t, 'muxTreeActivity_ratio'), cells * c(t, 'mux2_um2')));
  }
  // One negator of each kind, used every cycle a signed part is involved (an upper bound: every cycle).
  const negs = hw.negators;
  if (negs.length > 0) {
    const part = negs.filter((n) => n.kind === 'part');
    const prod = negs.filter((n) => n.kind === 'product');
    const kept = [...part, ...(prod.length > 0 ? [prod.reduce((x, y) => (y.width > x.width ? y : x))] : [])];
    items.push(...negatorItems(t, { ...hw, negators: kept }, cycles));
  }
  items.push(item('product accumulator adder', `${pb}-bit, one partial product per cycle`, 1, cycles * addEnergy(t, pb), addArea(t, pb)));
  items.push(item('product accumulator register', `${pb} bits`, pb, cycles * pb * regEnergyPerBit(t), regArea(t, pb)));
  return { items, tableBits, storages, cycles };
}

const sum = (items: readonly CostItem[], f: 'energyPJ' | 'areaUm2'): number => items.reduce((s, x) => s + x[f], 0);

/** Energy per MAC and area of one MAC unit of `design` at the context's bit widths. */
export function macCost(design: MacDesign, tech: TechTable, ctx: MacContext): MacCost {
  const o = checkCtx(ctx);
  const { bitsA, bitsW, accBits } = o;
  let kind: MacCost['kind'];
  let items: CostItem[];
  let style: LutStyle | null = null;
  let storage: MacCost['storage'] = null;
  let approximate = false;
  let cycles = 1;
  let tableBits = 0;
  let name: string;
  if (design.kind === 'digital') {
    if (design.multiplier !== 'array' && design.multiplier !== 'wallace') throw new ArgumentError(`macCost: digital multiplier must be 'array' or 'wallace', got ${String(design.multiplier)}`);
    kind = design.multiplier;
    items = digitalItems(tech, bitsA, bitsW, design.multiplier);
    name = design.name ?? `${design.multiplier === 'array' ? 'array' : 'Wallace-tree'} ${bitsA}x${bitsW}`;
  } else if (design.kind === 'lut') {
    style = design.style ?? 'parallel';
    if (style !== 'parallel' && style !== 'serial') throw new ArgumentError(`macCost: style must be 'parallel' or 'serial', got ${String(style)}`);
    const st = design.storage ?? 'auto';
    if (!['auto', 'rom', 'latch', 'sram'].includes(st)) throw new ArgumentError(`macCost: storage must be auto, rom, latch or sram, got ${String(st)}`);
    const m = createMultiplier({ ...design.multiplier, bitsA, bitsW });
    const hw = hardwareSummary(m);
    kind = hw.kind;
    approximate = m.approximate;
    const r = style === 'parallel'
      ? { ...lutParallelItems(tech, hw, st, o.romMaxEntries, (i) => hw.tables[i].entries), cycles: 1 }
      : lutSerialItems(tech, hw, st, o.romMaxEntries, m.partsA, m.partsW);
    items = r.items;
    tableBits = r.tableBits;
    cycles = r.cycles;
    storage = r.storages.size === 1 ? ([...r.storages][0] as Exclude<TableStorage, 'auto'>) : 'mixed';
    name = design.name ?? `${m.name}${style === 'serial' ? ' serial' : ''}`;
  } else if (design.kind === 'lut-ws') {
    const partsA = design.partsA ?? [bitsA];
    // The weight-stationary tables are the rows (fixed w) of a both-keyed multiplier that does not split w.
    const m = createMultiplier({ bitsA, bitsW, partsA, partsW: [bitsW], sign: 'twos' });
    const hw = hardwareSummary(m);
    kind = partsA.length === 1 ? 'T-LUT-ws' : 'LUT-NA-ws';
    style = 'parallel';
    storage = 'latch';
    const r = lutParallelItems(tech, hw, 'latch', o.romMaxEntries, (i) => 2 ** hw.tables[i].widthA);
    items = r.items;
    tableBits = r.tableBits;
    // Refill per weight load: entries − 1 additions per distinct table (w, 2w, 3w, ... and the negative half), every
    // entry of every copy written; one fill adder of the widest entry per unit.
    let fillPJ = 0;
    let adds = 0;
    let writes = 0;
    const widest = Math.max(...hw.tables.map((tb) => tb.entryBits));
    for (const tb of hw.tables) {
      const entries = 2 ** tb.widthA;
      adds += entries - 1;
      writes += tb.reads * entries * tb.entryBits;
      fillPJ += (entries - 1) * addEnergy(tech, tb.entryBits) + tb.reads * entries * tb.entryBits * regEnergyPerBit(tech);
    }
    items.push(item('table fill', `${adds} adds + ${writes} register bits per weight load, over ${o.weightReuse} MAC${o.weightReuse === 1 ? '' : 's'}`, 1, fillPJ / o.weightReuse, addArea(tech, widest) + regArea(tech, bitsW)));
    name = design.name ?? `${kind} ${bitsA}x${bitsW} ${partsA.join('+')}`;
  } else {
    throw new ArgumentError(`macCost: unknown design kind ${JSON.stringify((design as { kind: unknown }).kind)}`);
  }
  const acc = accumulateItems(tech, accBits);
  const mult = { energyPJ: sum(items, 'energyPJ'), areaUm2: sum(items, 'areaUm2') };
  const accumulate = { energyPJ: sum(acc, 'energyPJ'), areaUm2: sum(acc, 'areaUm2') };
  const areaUm2 = mult.areaUm2 + accumulate.areaUm2;
  return {
    name, kind, style, storage, bitsA, bitsW, accBits, approximate, cyclesPerMac: cycles, tableBits,
    items: [...items, ...acc], multiplier: mult, accumulate,
    energyPJ: mult.energyPJ + accumulate.energyPJ, areaUm2, areaPerThroughputUm2: areaUm2 * cycles,
  };
}

