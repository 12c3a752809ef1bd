// Tests of the INT8 weight-stationary systolic array model: a tiny GEMM by hand, tiling and re-reads, errors, area.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../errors.js';
import { compareDesigns, linearLayer, type LayerReport } from './lut-dla-layers.js';
import { fmnistCnnLutLayers } from './lut-dla-examples.js';
import { DEFAULT_LUT_DLA_CONFIG, lutDlaModel } from './lut-dla.js';
import { DEFAULT_SYSTOLIC_CONFIG, systolicArea, systolicConfigMatching, systolicLayer, systolicModel, type SystolicConfig } from './systolic.js';
import { TECH_45NM } from './tech.js';

const t = TECH_45NM;
const close = (got: number, want: number, what: string): void => assert.ok(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${got} vs ${want}`);
const count = (r: LayerReport, component: string, action: string): number => r.actions.find((a) => a.component === component && a.action === action)?.count ?? 0;

const TINY: SystolicConfig = {
  rows: 2, cols: 2, actBits: 8, weightBits: 8, psumBits: 32, actBufferBytes: 64, weightBufferBytes: 64, psumBufferBytes: 64, clockMHz: 100, dramBytesPerCycle: 64,
};

test('tiny GEMM (N=2, D=4, M=3) on a 2x2 array: SCALE-Sim cycles, action counts and energy by hand', () => {
  const r = systolicLayer(linearLayer('tiny', 4, 3, { rows: 2 }), TINY, t);
  // Fk = ceil(4/2) = 2 inner folds, Fm = ceil(3/2) = 2 output folds; each fold 2R + C + T − 2 = 4 + 2 + 2 − 2 = 6.
  assert.deepEqual(r.cycles, { total: 24, compute: 24, encode: 0, lookup: 0, dram: 1, fill: 0 });
  assert.deepEqual(r.tiling, { innerFolds: 2, outFolds: 2, rowTile: 2, rowTiles: 1, weightsResident: true });
  close(r.seconds, 24 / 100e6, 'seconds');
  const expectCounts: [string, string, number][] = [
    ['mac_pe', 'multiply', 24], // N·D·M
    ['mac_pe', 'add', 2 * 3 * (4 - 2)], // N·M·(D − Fk): each fold's 2-PE column adds once
    ['mac_pe', 'register_write_bit', 24 * (8 + 32)],
    ['weight_regs', 'write_bit', 4 * 3 * 8],
    ['psum_adder', 'add', 2 * 3 * 1], // N·M·(Fk − 1)
    ['act_sram', 'read_bit', 2 * 4 * 8 * 2], // every input once per output fold
    ['act_sram', 'write_bit', 64],
    ['weight_sram', 'read_bit', 96],
    ['weight_sram', 'write_bit', 96],
    ['psum_sram', 'read_bit', 6 * 32],
    ['psum_sram', 'write_bit', 6 * 32],
    ['dram', 'read_bit', 64 + 96],
    ['dram', 'write_bit', 2 * 3 * 8],
  ];
  assert.deepEqual(r.actions.map((a) => [a.component, a.action, a.count]), expectCounts);
  const e64 = (10 / 64) * Math.sqrt(64 / 8192); // per bit of a 64-byte SRAM
  const want = {
    macs: 24 * 0.2 + 12 * 0.1 + 960 * 0.009 + 96 * 0.009, // 8×8 multiply 0.2 pJ, 32-bit add 0.1 pJ, 0.009 pJ per register bit
    accumulators: 6 * 0.1,
    sram: (128 + 64 + 96 + 96 + 192 + 192) * e64,
    dram: 208 * (1300 / 64),
  };
  for (const [k, v] of Object.entries(want)) close(r.energyByCategory[k as keyof typeof want], v, k);
  close(r.energyPJ, Object.values(want).reduce((a, b) => a + b, 0), 'total');
});

test('row tiles from the psum buffer; weights that do not fit are re-read per row tile', () => {
  // 10 rows, D = 4, M = 4 on 2x2: psum buffer of 32 bytes holds 256 / (2·32) = 4 rows → 3 row tiles; an 8-byte weight
  // buffer cannot hold the 128-bit weights → read from DRAM 3 times.
  const cfg: SystolicConfig = { ...TINY, psumBufferBytes: 32, weightBufferBytes: 8 };
  const r = systolicLayer(linearLayer('w', 4, 4, { rows: 10 }), cfg, t);
  assert.equal(r.tiling.rowTile, 4);
  assert.equal(r.tiling.rowTiles, 3);
  assert.equal(r.tiling.weightsResident, false);
  assert.equal(r.dramBytes.params, (3 * 128) / 8);
  assert.equal(r.cycles.compute, 2 * 2 * (3 * (4 + 2 - 2) + 10));
  assert.equal(count(r, 'weight_regs', 'write_bit'), 3 * 128);
  assert.throws(() => systolicLayer(linearLayer('w', 4, 4, { rows: 10 }), { ...TINY, weightBufferBytes: 2 }, t), (e: Error) => e instanceof ShapeError && /layer 'w': the weight buffer \(2 B\) cannot hold one 2x2 fold/.test(e.message));
  assert.throws(() => systolicLayer(linearLayer('w', 4, 4), { ...TINY, rows: 1.5 }, t), /config\.rows must be an integer >= 1, got 1\.5/);
});

test('DRAM-bound layers take the DRAM cycles', () => {
  const r = systolicLayer(linearLayer('fc', 512, 512), { ...DEFAULT_SYSTOLIC_CONFIG, dramBytesPerCycle: 1 }, t);
  assert.equal(r.cycles.dram, Math.ceil((512 + 512 * 512 + 512) / 1));
  assert.equal(r.cycles.total, r.cycles.dram);
});

test('area by hand; the matching array has LUT-DLA\'s SRAM, widths, clock and bandwidth', () => {
  const a = systolicArea(TINY, t);
  close(a.byComponent.macPEs, 4 * ((6350 * 64) / 1024 + 278 + 5.98 * 48), 'macPEs');
  close(a.byComponent.weightSram, 64 * 8 * 0.7, 'weightSram');
  close(a.byComponent.buffers, 128 * 8 * 0.7, 'buffers');
  close(a.byComponent.accumulators, 2 * 278, 'accumulators');
  const m = systolicConfigMatching(DEFAULT_LUT_DLA_CONFIG, { rows: 16, cols: 16 });
  assert.deepEqual(m, DEFAULT_SYSTOLIC_CONFIG);
});

test('compareDesigns on fmnist-cnn: ratios are the quotients of the two reports', () => {
  const layers = fmnistCnnLutLayers();
  const lut = lutDlaModel(layers, DEFAULT_LUT_DLA_CONFIG, t);
  const mac = systolicModel(layers, DEFAULT_SYSTOLIC_CONFIG, t);
  const r = compareDesigns(lut, mac);
  close(r.powerEfficiency, mac.total.energyPJ / lut.total.energyPJ, 'power');
  close(r.speedup, mac.total.cycles / lut.total.cycles, 'speedup');
  close(r.areaEfficiency, (mac.area.totalUm2 * mac.total.cycles) / (lut.area.totalUm2 * lut.total.cycles), 'area efficiency');
  // The same layers move the same inputs and outputs through DRAM on both designs.
  assert.equal(lut.total.dramBytes.input, mac.total.dramBytes.input);
  assert.equal(lut.total.dramBytes.output, mac.total.dramBytes.output);
  // The MAC count is the dense one: Σ N·D·M.
  const macs = layers.reduce((s, l) => s + l.rows * l.inDim * l.outDim, 0);
  assert.equal(mac.layers.reduce((s, l) => s + count(l, 'mac_pe', 'multiply'), 0), macs);
});
