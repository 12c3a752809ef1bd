// Tests of the MAC energy/area model: hand-computed cells and costs, textbook cell counts, the Horowitz / Aladdin
// cross-checks, consistency with the multiplier models' tables, monotonicity, per-layer and per-model reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMultiplier } from './multiplier.js';
import { hardwareSummary } from './multiplier-summary.js';
import { macCost, multiplierCells, type MacDesign } from './mac-cost.js';
import { macReport, macSavings, type MacLayer } from './mac-layers.js';
import { TECH_45NM, addArea, addEnergy, multArea, regArea, regEnergyPerBit, sramReadEnergyPerBit } from './tech.js';

const t = TECH_45NM;
const k = (f: keyof typeof t.constants): number => t.constants[f].value;
const near = (got: number, want: number, what: string, rel = 1e-12): void => assert.ok(Math.abs(got - want) <= rel * Math.abs(want) + 1e-15, `${what}: ${got} vs ${want}`);
const acc32 = (): { e: number; a: number } => ({ e: addEnergy(t, 32) + 32 * regEnergyPerBit(t), a: addArea(t, 32) + regArea(t, 32) });

test('digital multiplier cells: textbook counts (4x4 array: 16 AND, 12 adders; an a x b array has ab - max(a, b) adder cells)', () => {
  const a44 = multiplierCells(4, 4, 'array');
  assert.deepEqual(a44, { and2: 16, fullAdders: 6, halfAdders: 3, cpaBits: 3, stages: 3 });
  for (const [a, b] of [[2, 2], [4, 4], [8, 8], [8, 9], [9, 8], [5, 3], [2, 7], [7, 2], [16, 16]]) {
    const c = multiplierCells(a, b, 'array');
    assert.equal(c.fullAdders + c.halfAdders + c.cpaBits, a * b - Math.max(a, b), `${a}x${b} array`);
    // Wallace: each full adder removes one bit, a half adder none; what is left (at most 2 per column) feeds the final adder.
    const w = multiplierCells(a, b, 'wallace');
    assert.equal(w.and2, a * b);
    assert.ok(w.cpaBits <= a + b, `${a}x${b} Wallace final adder ${w.cpaBits}`);
    assert.ok(w.stages <= Math.ceil(Math.log(Math.min(a, b) / 2) / Math.log(1.5)) + 1, `${a}x${b}: ${w.stages} Wallace stages`);
  }
  assert.deepEqual(multiplierCells(2, 2, 'wallace'), { and2: 4, fullAdders: 0, halfAdders: 0, cpaBits: 2, stages: 0 });
  assert.deepEqual(multiplierCells(1, 1, 'wallace'), { and2: 1, fullAdders: 0, halfAdders: 0, cpaBits: 0, stages: 0 });
  assert.throws(() => multiplierCells(0, 4, 'array'), /a must be an integer in \[1, 64\]/);
});

test('hand-computed MACs: a 2x2 Wallace and a 2x2 array multiplier plus the 32-bit accumulator', () => {
  const w = macCost({ kind: 'digital', multiplier: 'wallace' }, t, { bitsA: 2, bitsW: 2 });
  const { e, a } = acc32();
  near(w.multiplier.energyPJ, 4 * k('and2_pJ') + addEnergy(t, 2), 'Wallace 2x2 energy');
  near(w.multiplier.areaUm2, 4 * k('and2_um2') + addArea(t, 2), 'Wallace 2x2 area');
  near(w.energyPJ, w.multiplier.energyPJ + e, 'MAC energy');
  near(w.areaUm2, w.multiplier.areaUm2 + a, 'MAC area');
  // Array 2x2: one half adder and a 1-bit final adder, both at the glitch ratio.
  const r = macCost({ kind: 'digital', multiplier: 'array' }, t, { bitsA: 2, bitsW: 2, accBits: 8 });
  near(r.multiplier.energyPJ, 4 * k('and2_pJ') + k('arrayMultiplierGlitch_ratio') * (k('halfAdder_pJ') + addEnergy(t, 1)), 'array 2x2 energy');
  near(r.accumulate.energyPJ, addEnergy(t, 8) + 8 * regEnergyPerBit(t), '8-bit accumulator');
  assert.equal(r.cyclesPerMac, 1);
  assert.equal(r.tableBits, 0);
});

test('cross-checks: the 8x8 Wallace multiplier against Horowitz (0.2 pJ) and Aladdin (area scaled from 32x32)', () => {
  const w = macCost({ kind: 'digital', multiplier: 'wallace' }, t, { bitsA: 8, bitsW: 8 });
  const e = w.multiplier.energyPJ / k('mult8_pJ');
  const a = w.multiplier.areaUm2 / multArea(t, 8, 8);
  assert.ok(e > 0.8 && e < 1.4, `energy ${w.multiplier.energyPJ} pJ = ${e.toFixed(2)} x Horowitz`);
  assert.ok(a > 1 && a < 2, `area ${w.multiplier.areaUm2} um2 = ${a.toFixed(2)} x Aladdin scaled`);
});

test('hand-computed LUTs: a 4x4 T-LUT in ROM and SRAM, a 2+2 x 2+2 LUT-NA (tables and adders from the multiplier model)', () => {
  const ctx = { bitsA: 4, bitsW: 4, accBits: 16 };
  const m = createMultiplier({ bitsA: 4, bitsW: 4 });
  const eb = m.tables[0].entryBits; // products of [−8, 7] x [−8, 7]: [−56, 64] → 8 bits
  assert.equal(eb, 8);
  const rom = macCost({ kind: 'lut', storage: 'rom' }, t, ctx);
  assert.equal(rom.kind, 'T-LUT');
  assert.equal(rom.tableBits, 256 * 8);
  near(rom.multiplier.energyPJ, 255 * 8 * k('mux2_pJ') * k('muxTreeActivity_ratio'), 'ROM read energy');
  near(rom.multiplier.areaUm2, 255 * 8 * k('mux2_um2'), 'ROM mux tree area');
  const latch = macCost({ kind: 'lut', storage: 'latch' }, t, ctx);
  near(latch.multiplier.areaUm2 - rom.multiplier.areaUm2, regArea(t, 2048), 'latch storage');
  const sram = macCost({ kind: 'lut', storage: 'sram' }, t, ctx);
  near(sram.multiplier.areaUm2, 2048 * k('sramPerBit_um2'), 'SRAM area');
  near(sram.multiplier.energyPJ, 8 * sramReadEnergyPerBit(t, 256), 'SRAM read energy');
  // A 1-byte array is tiny: the per-bit law would go below a register bit; the floor applies.
  assert.equal(sramReadEnergyPerBit(t, 1), k('registerPerBit_pJ'));
  // LUT-NA 2+2 x 2+2: four pairs, tables 2s×2s, 2s×2u, 2u×2s, 2u×2u of 16 entries; adders of the summary.
  const na = macCost({ kind: 'lut', multiplier: { partsA: [2, 2], partsW: [2, 2] }, storage: 'rom' }, t, ctx);
  const hw = hardwareSummary(createMultiplier({ bitsA: 4, bitsW: 4, partsA: [2, 2], partsW: [2, 2] }));
  assert.equal(hw.tables.length, 4);
  const reads = hw.tables.reduce((s, tb) => s + 15 * tb.entryBits * k('mux2_pJ') * k('muxTreeActivity_ratio'), 0);
  const adders = hw.adders.reduce((s, a) => s + addEnergy(t, a.width), 0);
  near(na.multiplier.energyPJ, reads + adders, 'LUT-NA 2+2 energy');
  assert.equal(na.kind, 'LUT-NA');
  assert.ok(na.multiplier.areaUm2 < rom.multiplier.areaUm2 && na.multiplier.energyPJ < rom.multiplier.energyPJ, 'the split is cheaper than the T-LUT');
});

test('table bits agree with the multiplier models: parallel holds a copy per reading pair, serial each table once', () => {
  for (const opts of [
    { partsA: [4, 4], partsW: [5, 4] },
    { partsA: [4, 4], partsW: [4, 5], sign: 'magnitude' as const },
    { partsA: [3, 3, 2], partsW: [3, 3, 3] },
    { partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] as [number, number][], truncate: [{ bits: 2, pairs: [[0, 1]] as [number, number][] }] },
  ]) {
    const m = createMultiplier({ bitsA: 8, bitsW: 9, ...opts });
    const hw = hardwareSummary(m);
    const perPair = m.pairs.filter((p) => !p.dropped).reduce((s, p) => s + m.tables[p.table].entries.length * m.tables[p.table].entryBits, 0);
    const par = macCost({ kind: 'lut', multiplier: opts, storage: 'rom' }, t, { bitsA: 8, bitsW: 9 });
    const ser = macCost({ kind: 'lut', multiplier: opts, storage: 'rom', style: 'serial' }, t, { bitsA: 8, bitsW: 9 });
    assert.equal(par.tableBits, perPair, `${m.name} parallel`);
    assert.equal(ser.tableBits, hw.tableBits, `${m.name} serial`);
    assert.equal(ser.cyclesPerMac, hw.partialProducts.length);
    assert.equal(par.approximate, m.approximate);
  }
  // 'magnitude' shares one unsigned table per width pair: fewer bits held serially than in 'twos' mode.
  const twos = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [4, 5] }, style: 'serial' }, t, { bitsA: 8, bitsW: 9 });
  const mag = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [4, 5], sign: 'magnitude' }, style: 'serial' }, t, { bitsA: 8, bitsW: 9 });
  assert.ok(mag.tableBits < twos.tableBits, `${mag.tableBits} < ${twos.tableBits}`);
});

test('weight-stationary tables: 2^width entries of w·p, refill energy divided over the weight reuse', () => {
  const one = macCost({ kind: 'lut-ws', partsA: [4, 4] }, t, { bitsA: 8, bitsW: 9, weightReuse: 1 });
  const many = macCost({ kind: 'lut-ws', partsA: [4, 4] }, t, { bitsA: 8, bitsW: 9, weightReuse: 1000 });
  assert.equal(one.kind, 'LUT-NA-ws');
  // Top part signed [−8, 7] x w in [−256, 255]: [−2040, 2048] → 13 bits; low part [0, 15]: [−3840, 3825] → 13 bits.
  assert.equal(one.tableBits, 16 * 13 + 16 * 13);
  const fill = (x: typeof one): number => x.items.find((i) => i.component === 'table fill')!.energyPJ;
  const fillTotal = 2 * 15 * addEnergy(t, 13) + one.tableBits * regEnergyPerBit(t);
  near(fill(one), fillTotal, 'fill at reuse 1');
  near(fill(many), fillTotal / 1000, 'fill at reuse 1000');
  near(one.energyPJ - many.energyPJ, fillTotal * (1 - 1 / 1000), 'only the fill changes');
  assert.equal(macCost({ kind: 'lut-ws' }, t, { bitsA: 8, bitsW: 9 }).tableBits, 256 * 17);
});

test('monotonicity: wider operands cost more; dropping or truncating partial products and sharing tables cost less', () => {
  // Fixed storage kinds: 'auto' switches from ROM to SRAM at romMaxEntries, which may lower the energy of a wider T-LUT.
  const designs: MacDesign[] = [
    { kind: 'digital', multiplier: 'array' }, { kind: 'digital', multiplier: 'wallace' }, { kind: 'lut', storage: 'rom' }, { kind: 'lut', storage: 'sram' },
    { kind: 'lut', storage: 'latch', style: 'serial' }, { kind: 'lut-ws' },
  ];
  for (const d of designs) {
    let prev = { e: 0, a: 0 };
    for (const bits of [3, 4, 5, 6, 7, 8]) {
      const c = macCost(d, t, { bitsA: bits, bitsW: bits + 1 });
      assert.ok(c.multiplier.energyPJ > prev.e && c.multiplier.areaUm2 > prev.a, `${c.name}: energy ${c.multiplier.energyPJ}, area ${c.multiplier.areaUm2}`);
      prev = { e: c.multiplier.energyPJ, a: c.multiplier.areaUm2 };
    }
  }
  const ctx = { bitsA: 8, bitsW: 9 };
  const base = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4] } }, t, ctx);
  const drop = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] } }, t, ctx);
  const trunc = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 3 }] } }, t, ctx);
  assert.equal(drop.kind, 'A-LUT-NA');
  for (const a of [drop, trunc]) assert.ok(a.energyPJ < base.energyPJ && a.areaUm2 < base.areaUm2 && a.tableBits < base.tableBits, a.name);
  // Storage: ROM < latch in area; more accumulator bits cost more.
  assert.ok(macCost({ kind: 'lut', storage: 'latch' }, t, { bitsA: 4, bitsW: 4 }).areaUm2 > macCost({ kind: 'lut', storage: 'rom' }, t, { bitsA: 4, bitsW: 4 }).areaUm2);
  assert.ok(macCost({ kind: 'digital', multiplier: 'wallace' }, t, { ...ctx, accBits: 24 }).energyPJ < base.energyPJ);
  // Serial: less area, more cycles.
  const ser = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [4, 5], sign: 'magnitude' }, style: 'serial' }, t, ctx);
  const par = macCost({ kind: 'lut', multiplier: { partsA: [4, 4], partsW: [4, 5], sign: 'magnitude' } }, t, ctx);
  assert.ok(ser.areaUm2 < par.areaUm2 && ser.cyclesPerMac === 4 && ser.areaPerThroughputUm2 > ser.areaUm2);
  // 'auto' storage: the 2^17-entry T-LUT goes to SRAM, small tables to ROM.
  assert.equal(macCost({ kind: 'lut' }, t, ctx).storage, 'sram');
  assert.equal(base.storage, 'rom');
});

test('argument errors name the field', () => {
  assert.throws(() => macCost({ kind: 'digital', multiplier: 'booth' as never }, t, { bitsA: 8, bitsW: 8 }), /digital multiplier must be 'array' or 'wallace', got booth/);
  assert.throws(() => macCost({ kind: 'lut', storage: 'flash' as never }, t, { bitsA: 8, bitsW: 8 }), /storage must be auto, rom, latch or sram/);
  assert.throws(() => macCost({ kind: 'lut', style: 'pipelined' as never }, t, { bitsA: 8, bitsW: 8 }), /style must be 'parallel' or 'serial'/);
  assert.throws(() => macCost({ kind: 'lut-ws' }, t, { bitsA: 8, bitsW: 9, weightReuse: 0 }), /weightReuse must be a finite number >= 1/);
  assert.throws(() => macCost({ kind: 'digital', multiplier: 'array' }, t, { bitsA: 0, bitsW: 8 }), /bitsA must be an integer in \[1, 64\]/);
  assert.throws(() => macCost({ kind: 'lut', multiplier: { partsA: [4, 3] } }, t, { bitsA: 8, bitsW: 9 }), /partsA \[4,3\] sum to 7, expected the operand width 8/);
  assert.throws(() => macCost({ kind: 'x' } as never, t, { bitsA: 8, bitsW: 9 }), /unknown design kind "x"/);
});

test('layer and model reports: energy = Σ MACs x energy per MAC, area = units x distinct designs, savings ratios', () => {
  const layers: MacLayer[] = [
    { name: 'conv', macs: 1000, rows: 100, bitsA: 8, bitsW: 9 },
    { name: 'fc', macs: 50, rows: 1, bitsA: 8, bitsW: 9 },
  ];
  const wal: MacDesign = { kind: 'digital', multiplier: 'wallace' };
  const r = macReport(layers, wal, t, { units: 16 });
  const per = macCost(wal, t, { bitsA: 8, bitsW: 9 });
  near(r.energyPJ, 1050 * per.energyPJ, 'model energy');
  near(r.layers[1].energyPJ, 50 * per.energyPJ, 'fc energy');
  near(r.areaUm2, 16 * per.areaUm2, 'area of 16 units');
  assert.equal(r.macs, 1050);
  assert.deepEqual(r.designs.map((d) => [d.name, d.layers]), [[per.name, ['conv', 'fc']]]);
  // Per-layer designs: two distinct designs → both areas; the weight-stationary one uses each layer's reuse.
  const mixed = macReport(layers, (l) => (l.name === 'conv' ? { kind: 'lut-ws', partsA: [4, 4] } : wal), t);
  assert.equal(mixed.designs.length, 2);
  near(mixed.layers[0].energyPerMacPJ, macCost({ kind: 'lut-ws', partsA: [4, 4] }, t, { bitsA: 8, bitsW: 9, weightReuse: 100 }).energyPJ, 'ws at reuse 100');
  near(mixed.areaUm2, mixed.designs.reduce((s, d) => s + d.unitAreaUm2, 0), 'mixed area');
  // Batch raises the weight reuse of weight-stationary designs only.
  const ws: MacDesign = { kind: 'lut-ws', partsA: [4, 4] };
  assert.ok(macReport(layers, ws, t, { batch: 8 }).energyPJ < macReport(layers, ws, t).energyPJ);
  near(macReport(layers, wal, t, { batch: 8 }).energyPJ, r.energyPJ, 'digital energy does not depend on batch');
  // More MACs, more energy (monotone); savings = b / a.
  const more = macReport([{ ...layers[0], macs: 2000 }, layers[1]], wal, t, { units: 16 });
  assert.ok(more.energyPJ > r.energyPJ);
  const tl = macReport(layers, { kind: 'lut' }, t, { units: 16 });
  const s = macSavings(r, tl);
  near(s.energy, tl.energyPJ / r.energyPJ, 'energy saving');
  near(s.area, tl.areaUm2 / r.areaUm2, 'area saving');
  assert.throws(() => macReport([{ ...layers[0], macs: -1 }], wal, t), /layer 'conv': macs must be a finite number >= 0/);
  assert.throws(() => macReport(layers, wal, t, { units: 0 }), /units must be an integer >= 1/);
  assert.throws(() => macReport([{ ...layers[0], bitsA: 17 }], wal, t), /bitsA must be an integer in \[1, 16\]/);
});
