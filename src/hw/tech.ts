// Technology constants for the hardware cost models: the table, its loader, width/size scaling rules, per-action energy accounting.
import { ArgumentError, FormatError } from '../errors.js';

/*
 * A technology table names every constant the accelerator models use, with its unit in the field name (pJ, um2) and
 * its source. The shipped table is src/hw/tech-45nm.json (embedded below as TECH_45NM; a test keeps the two equal);
 * a user's table (`--tech FILE`) has the same shape and is checked by parseTechTable.
 *
 * Scaling rules (how a constant given at one width is used at another):
 * - adder, subtractor, |x| (a conditional negate: an adder's worth of logic), comparator: linear in bits,
 *   E_add(b) = add32_pJ · b / 32, A_add(b) = add32_um2 · b / 32; the same for comparator32_*.
 * - multiplier a×b bits: proportional to the product of the widths (an array of a·b partial-product cells),
 *   E_mult(a, b) = mult8_pJ · a·b / 64, A_mult(a, b) = mult32_um2 · a·b / 1024.
 * - register: per bit, E_reg(b) = registerPerBit_pJ · b per write, A_reg(b) = registerPerBit_um2 · b.
 * - SRAM: energy per bit accessed grows with the array's capacity S (bytes) as a power law anchored at 8 KB,
 *   e_sram(S) = sram8KB64bRead_pJ / 64 · (S / 8192)^sramEnergySizeExponent, never below a register's per-bit
 *   energy; a write costs sramWriteOverRead_ratio times a read. Area sramPerBit_um2 per bit of capacity.
 * - DRAM: dram64b_pJ / 64 per bit moved, whatever the pattern (no row-buffer model).
 * - Gates (the LUT-NA multiplier models): a half adder, AND2 and MUX2 (also priced for an XOR2) per cell, energy per
 *   operation at the activity of random operands like the adder figure they are derived from (estimates by transistor
 *   count relative to one bit of the 32-bit adder); an array multiplier's adders switch arrayMultiplierGlitch_ratio
 *   times a tree's; a multiplexer tree read switches muxTreeActivity_ratio of its cells.
 * Energies are dynamic only: no leakage, no clock tree, no wires between units.
 */

/** The constants every table must give (all finite and > 0). */
export const TECH_FIELDS = [
  'add32_pJ', 'mult8_pJ', 'comparator32_pJ', 'registerPerBit_pJ',
  'sram8KB64bRead_pJ', 'sramEnergySizeExponent', 'sramWriteOverRead_ratio', 'dram64b_pJ',
  'add32_um2', 'mult32_um2', 'comparator32_um2', 'registerPerBit_um2', 'sramPerBit_um2',
  'halfAdder_pJ', 'halfAdder_um2', 'and2_pJ', 'and2_um2', 'mux2_pJ', 'mux2_um2', 'arrayMultiplierGlitch_ratio', 'muxTreeActivity_ratio',
] as const;

export type TechField = (typeof TECH_FIELDS)[number];

/** A constant's value and where it comes from. */
export interface TechConstant {
  value: number;
  source: string;
}

export interface TechTable {
  name: string;
  description: string;
  constants: Record<TechField, TechConstant>;
  /** Reference figures the scaling rules are checked against (optional in a user's table). */
  crossChecks: Record<string, TechConstant>;
}

const c = (value: number, source: string): TechConstant => ({ value, source });

/** The shipped 45 nm table (identical to src/hw/tech-45nm.json; see that file for the wording of the sources). */
export const TECH_45NM: TechTable = {
  name: '45nm-horowitz-aladdin',
  description: "Energies from Horowitz (ISSCC 2014, 45 nm) where it gives them, Aladdin (Shao et al., ISCA 2014, 40 nm) for areas and for the comparator and register energies Horowitz does not list; the SRAM size rule, write cost and SRAM area are estimates. Dynamic energy only (no leakage). Values are not rescaled between 40 and 45 nm.",
  constants: {
    add32_pJ: c(0.1, "Horowitz ISSCC'14, 45 nm: 32-bit integer add 0.1 pJ. Scaled linearly in bits (8-bit predicted 0.025, Horowitz 0.03)"),
    mult8_pJ: c(0.2, "Horowitz ISSCC'14, 45 nm: 8-bit integer multiply 0.2 pJ. Scaled by the product of the operand widths (32-bit predicted 3.2, Horowitz 3.1)"),
    comparator32_pJ: c(0.0295, "Aladdin (Shao et al., ISCA'14), 40 nm: 32-bit comparator 0.0295 pJ; linear in bits"),
    registerPerBit_pJ: c(0.009, 'Aladdin, 40 nm: register 0.009 pJ per bit written'),
    sram8KB64bRead_pJ: c(10, "Horowitz ISSCC'14, 45 nm: 64-bit read from an 8 KB SRAM about 10 pJ"),
    sramEnergySizeExponent: c(0.5, "estimate: energy per bit grows as (capacity / 8 KB)^0.5 (word and bit lines grow with the square root of the array); Horowitz's 32 KB (20 pJ) and 1 MB (100 pJ) points lie within 15% of this curve"),
    sramWriteOverRead_ratio: c(1, 'estimate: a write costs as much as a read of the same width'),
    dram64b_pJ: c(1300, "Horowitz ISSCC'14: DRAM 64-bit access 1.3-2.6 nJ; the low end"),
    add32_um2: c(278, 'Aladdin, 40 nm: 32-bit adder 278 um2; linear in bits'),
    mult32_um2: c(6350, 'Aladdin, 40 nm: 32x32 multiplier 6,350 um2; scaled by the product of the operand widths'),
    comparator32_um2: c(71, 'Aladdin, 40 nm: 32-bit comparator 71 um2; linear in bits'),
    registerPerBit_um2: c(5.98, 'Aladdin, 40 nm: register 5.98 um2 per bit'),
    sramPerBit_um2: c(0.7, 'estimate: a 45 nm high-density 6T bit cell is about 0.35 um2; doubled for decoders, sense amplifiers and wiring of 1-64 KB arrays'),
    halfAdder_pJ: c(0.002, "estimate: 18/28 of one full-adder bit of this table's 32-bit adder (add32 / 32: 0.003125 pJ, 8.69 um2) by transistor count (half adder = XOR2 12T + AND2 6T; mirror full adder 28T, Weste & Harris, CMOS VLSI Design)"),
    halfAdder_um2: c(5.58, "estimate: 18/28 of a full-adder bit's area (add32_um2 / 32), by transistor count as halfAdder_pJ"),
    and2_pJ: c(0.00067, "estimate: 6/28 of one full-adder bit of this table's 32-bit adder (add32 / 32: 0.003125 pJ, 8.69 um2) by transistor count (AND2 = NAND2 + inverter, 6T)"),
    and2_um2: c(1.86, "estimate: 6/28 of a full-adder bit's area (add32_um2 / 32), by transistor count"),
    mux2_pJ: c(0.00134, "estimate: 12/28 of one full-adder bit of this table's 32-bit adder (add32 / 32: 0.003125 pJ, 8.69 um2) by transistor count (static 2:1 multiplexer, 12T); also used for an XOR2 (12T)"),
    mux2_um2: c(3.72, "estimate: 12/28 of a full-adder bit's area (add32_um2 / 32), by transistor count"),
    arrayMultiplierGlitch_ratio: c(1.5, "estimate, not a measurement: energy of an array multiplier's adder cells over a tree multiplier's with the same cells (spurious transitions along the array's ripple paths); replace with a measured figure"),
    muxTreeActivity_ratio: c(0.5, "estimate: fraction of a multiplexer tree's cells that switch per random read (each select line toggles with probability 1/2; every mux on a toggled line switches)"),
  },
  crossChecks: {
    add8_pJ: c(0.03, "Horowitz ISSCC'14: 8-bit integer add"),
    mult32_pJ: c(3.1, "Horowitz ISSCC'14: 32-bit integer multiply"),
    sram32KB64bRead_pJ: c(20, "Horowitz ISSCC'14, same table: 64-bit read from a 32 KB cache (not in LUT-NOTES; quoted from the talk)"),
    sram1MB64bRead_pJ: c(100, "Horowitz ISSCC'14, same table: 64-bit read from a 1 MB cache (not in LUT-NOTES; quoted from the talk)"),
    dram64bHigh_pJ: c(2600, "Horowitz ISSCC'14: DRAM 64-bit access, high end"),
    aladdinAdd32_pJ: c(0.21, 'Aladdin, 40 nm: 32-bit adder energy'),
    aladdinMult32_pJ: c(12.68, 'Aladdin, 40 nm: 32x32 multiplier energy'),
    eyerissRegisterFile_x: c(1, "Eyeriss (Chen et al., ISCA'16): register-file access energy normalised to one MAC"),
    eyerissPeArray_x: c(2, 'Eyeriss: inter-PE transfer, normalised to one MAC'),
    eyerissGlobalBuffer_x: c(6, 'Eyeriss: 108 KB global buffer access, normalised to one MAC'),
    eyerissDram_x: c(200, 'Eyeriss: DRAM access, normalised to one MAC'),
  },
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (JSON.stringify(v) ?? String(v)).slice(0, 80);

/** One constant: { value: finite > 0, source?: string }, or a bare number. */
function parseConstant(v: unknown, where: string): TechConstant {
  const raw = isObj(v) ? v.value : v;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0) throw new FormatError(`${where} must be a finite number > 0, got ${show(raw)}`);
  const source = isObj(v) ? v.source : undefined;
  if (source !== undefined && typeof source !== 'string') throw new FormatError(`${where}.source must be a string, got ${show(source)}`);
  return { value: raw, source: source ?? '(no source given)' };
}

/**
 * Parses and checks a technology table (JSON text or an already-parsed value): `constants` must hold every field
 * of TECH_FIELDS, each a finite number > 0 (either `{ "value": x, "source": "..." }` or a bare number); unknown
 * constants are rejected (a misspelt name would otherwise be ignored silently); `crossChecks` is optional.
 * Errors are FormatErrors naming `file` and the field.
 */
export function parseTechTable(input: string | unknown, file = 'tech table'): TechTable {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      throw new FormatError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObj(doc)) throw new FormatError(`${file}: expected a JSON object { name, constants: {...} }, got ${show(doc)}`);
  if (doc.format !== undefined && doc.format !== 'lutnn-tech') throw new FormatError(`${file}: format is ${show(doc.format)}, expected "lutnn-tech"`);
  if (doc.version !== undefined && doc.version !== 1) throw new FormatError(`${file}: version ${show(doc.version)} is not supported, expected 1`);
  const consts = doc.constants;
  if (!isObj(consts)) throw new FormatError(`${file}: 'constants' must be an object of { value, source } entries, got ${show(consts)}`);
  const known = new Set<string>(TECH_FIELDS);
  for (const k of Object.keys(consts)) {
    if (!known.has(k)) throw new FormatError(`${file}: unknown constant 'constants.${k}'; expected only ${TECH_FIELDS.join(', ')}`);
  }
  const constants = {} as Record<TechField, TechConstant>;
  for (const f of TECH_FIELDS) {
    if (!(f in consts)) throw new FormatError(`${file}: missing constant 'constants.${f}'`);
    constants[f] = parseConstant(consts[f], `${file}: constants.${f}`);
  }
  const crossChecks: Record<string, TechConstant> = {};
  if (doc.crossChecks !== undefined) {
    if (!isObj(doc.crossChecks)) throw new FormatError(`${file}: 'crossChecks' must be an object, got ${show(doc.crossChecks)}`);
    for (const [k, v] of Object.entries(doc.crossChecks)) crossChecks[k] = parseConstant(v, `${file}: crossChecks.${k}`);
  }
  const name = doc.name === undefined ? file : doc.name;
  if (typeof name !== 'string') throw new FormatError(`${file}: 'name' must be a string, got ${show(name)}`);
  const description = doc.description ?? '';
  if (typeof description !== 'string') throw new FormatError(`${file}: 'description' must be a string, got ${show(description)}`);
  return { name, description, constants, crossChecks };
}

const v = (t: TechTable, f: TechField): number => t.constants[f].value;

function needBits(op: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 1) throw new ArgumentError(`${op}: width must be an integer >= 1 bit, got ${bits}`);
}

/** Energy (pJ) of one b-bit add, subtract or |x|: linear in bits from the 32-bit figure. */
export function addEnergy(t: TechTable, bits: number): number {
  needBits('addEnergy', bits);
  return (v(t, 'add32_pJ') * bits) / 32;
}

/** Area (um2) of a b-bit adder. */
export function addArea(t: TechTable, bits: number): number {
  needBits('addArea', bits);
  return (v(t, 'add32_um2') * bits) / 32;
}

/** Energy (pJ) of one a×b-bit multiply: proportional to a·b from the 8×8 figure. */
export function multEnergy(t: TechTable, a: number, b: number): number {
  needBits('multEnergy', a);
  needBits('multEnergy', b);
  return (v(t, 'mult8_pJ') * a * b) / 64;
}

/** Area (um2) of an a×b-bit multiplier: proportional to a·b from the 32×32 figure. */
export function multArea(t: TechTable, a: number, b: number): number {
  needBits('multArea', a);
  needBits('multArea', b);
  return (v(t, 'mult32_um2') * a * b) / 1024;
}

/** Energy (pJ) of one b-bit comparison (or max). */
export function cmpEnergy(t: TechTable, bits: number): number {
  needBits('cmpEnergy', bits);
  return (v(t, 'comparator32_pJ') * bits) / 32;
}

/** Area (um2) of a b-bit comparator. */
export function cmpArea(t: TechTable, bits: number): number {
  needBits('cmpArea', bits);
  return (v(t, 'comparator32_um2') * bits) / 32;
}

/** Energy (pJ) per register bit written. */
export const regEnergyPerBit = (t: TechTable): number => v(t, 'registerPerBit_pJ');

/** Area (um2) of `bits` register bits. */
export const regArea = (t: TechTable, bits: number): number => v(t, 'registerPerBit_um2') * bits;

/** Energy (pJ) per bit read from an SRAM of `bytes` capacity (power law anchored at 8 KB, floored at a register bit). */
export function sramReadEnergyPerBit(t: TechTable, bytes: number): number {
  if (!(bytes > 0) || !Number.isFinite(bytes)) throw new ArgumentError(`sramReadEnergyPerBit: capacity must be > 0 bytes, got ${bytes}`);
  const e = (v(t, 'sram8KB64bRead_pJ') / 64) * (bytes / 8192) ** v(t, 'sramEnergySizeExponent');
  return Math.max(e, v(t, 'registerPerBit_pJ'));
}

/** Energy (pJ) per bit written to an SRAM of `bytes` capacity. */
export const sramWriteEnergyPerBit = (t: TechTable, bytes: number): number => sramReadEnergyPerBit(t, bytes) * v(t, 'sramWriteOverRead_ratio');

/** Area (um2) of an SRAM of `bytes` capacity. */
export const sramArea = (t: TechTable, bytes: number): number => bytes * 8 * v(t, 'sramPerBit_um2');

/** Energy (pJ) per bit moved to or from DRAM. */
export const dramEnergyPerBit = (t: TechTable): number => v(t, 'dram64b_pJ') / 64;

// ---- Per-action energy accounting (the models' energy = Σ count × energy per action; exported as Accelergy ERT) ----

/** What an action's energy is reported under. */
export type EnergyCategory = 'distancePEs' | 'comparators' | 'tableReads' | 'accumulators' | 'macs' | 'sram' | 'dram';

export const ENERGY_CATEGORIES: readonly EnergyCategory[] = ['distancePEs', 'comparators', 'tableReads', 'accumulators', 'macs', 'sram', 'dram'];

/** One action of a component and its energy. */
export interface ActionEnergy {
  name: string;
  energyPJ: number;
  category: EnergyCategory;
}

/** A component (e.g. `distance_pe`) and the energy of each of its actions: an energy reference table entry. */
export interface ComponentEnergy {
  name: string;
  actions: ActionEnergy[];
}

/** How often a component's action happened (summed over all instances of the component). */
export interface ActionCount {
  component: string;
  action: string;
  count: number;
}

/** Energy by category (pJ), all categories present. */
export type EnergyBreakdown = Record<EnergyCategory, number>;

export const zeroBreakdown = (): EnergyBreakdown => ({ distancePEs: 0, comparators: 0, tableReads: 0, accumulators: 0, macs: 0, sram: 0, dram: 0 });

/** Σ count × energy over the actions, by category; an action missing from the table is an error (a model bug). */
export function energyOf(table: readonly ComponentEnergy[], counts: readonly ActionCount[]): { totalPJ: number; byCategory: EnergyBreakdown } {
  const byCategory = zeroBreakdown();
  let totalPJ = 0;
  for (const a of counts) {
    const act = table.find((t) => t.name === a.component)?.actions.find((x) => x.name === a.action);
    if (!act) throw new ArgumentError(`energyOf: action '${a.component}.${a.action}' is not in the energy table`);
    const e = a.count * act.energyPJ;
    byCategory[act.category] += e;
    totalPJ += e;
  }
  return { totalPJ, byCategory };
}

/**
 * Cross-check against Eyeriss's normalised access energies (one 16-bit MAC = 1): this table's 16-bit MAC
 * (16×16 multiply + 32-bit add), a 16-bit access of a 0.5 KB register-file SRAM (Eyeriss's per-PE scratchpads),
 * of the 108 KB global buffer, and of DRAM, each divided by the MAC. Returns ours beside Eyeriss's (when the table
 * has the crossChecks); the Eyeriss figures come from a 65 nm chip, so only the orders of magnitude should agree.
 */
export function eyerissCrossCheck(t: TechTable): { name: string; ours: number; eyeriss: number | null }[] {
  const mac = multEnergy(t, 16, 16) + addEnergy(t, 32);
  const ref = (k: string): number | null => t.crossChecks[k]?.value ?? null;
  return [
    { name: 'registerFile', ours: (16 * sramReadEnergyPerBit(t, 512)) / mac, eyeriss: ref('eyerissRegisterFile_x') },
    { name: 'globalBuffer', ours: (16 * sramReadEnergyPerBit(t, 108 * 1024)) / mac, eyeriss: ref('eyerissGlobalBuffer_x') },
    { name: 'dram', ours: (16 * dramEnergyPerBit(t)) / mac, eyeriss: ref('eyerissDram_x') },
  ];
}
