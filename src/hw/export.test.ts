// Tests of the exports: exact Accelergy YAML and SCALE-Sim CSV text on tiny models, and that the YAML reproduces the energy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accelergyErt, accelergyExport, scaleSimConvCsv, scaleSimGemmCsv, yamlNumber } from './export.js';
import { convLayer, linearLayer, type DesignReport } from './lut-dla-layers.js';
import { fmnistCnnLutLayers } from './lut-dla-examples.js';
import { DEFAULT_LUT_DLA_CONFIG, lutDlaModel, type LutDlaConfig } from './lut-dla.js';
import { DEFAULT_SYSTOLIC_CONFIG, systolicModel, type SystolicConfig } from './systolic.js';
import { TECH_45NM } from './tech.js';

const t = TECH_45NM;
const LUT_TINY: LutDlaConfig = {
  ccus: 1, pesPerCcu: 4, centroidSlots: 1, peWidth: 2, metrics: ['l2'], lanes: 2, codeBits: 2, actBits: 8, tableBits: 8, psumBits: 32,
  actBufferBytes: 64, centroidBufferBytes: 64, tableBankBytes: 64, psumBufferBytes: 64, indexFifoDepth: 4, clockMHz: 100, dramBytesPerCycle: 64,
};
const MAC_TINY: SystolicConfig = { rows: 2, cols: 2, actBits: 8, weightBits: 8, psumBits: 32, actBufferBytes: 64, weightBufferBytes: 64, psumBufferBytes: 64, clockMHz: 100, dramBytesPerCycle: 64 };
const lut = { subvecLen: 2, k: 4, metric: 'l2' as const };
const TINY_MODEL = [linearLayer('tiny', 4, 3, { rows: 2 }, lut), convLayer('c,1', { inH: 4, inW: 4, cin: 1, cout: 2, kernel: 2, stride: 2 }, lut)];

test('systolic ERT and action counts of a tiny GEMM: exact YAML', () => {
  const x = accelergyExport(systolicModel([TINY_MODEL[0]], MAC_TINY, t));
  const sram = (n: string): string => `  - name: systolic.${n}\n    actions:\n    - name: read_bit\n      arguments: null\n      energy: 0.0138107\n    - name: write_bit\n      arguments: null\n      energy: 0.0138107\n`;
  assert.equal(
    x.ert,
    '# lutnn systolic energy reference table (pJ per action; tech 45nm-horowitz-aladdin)\n' +
      'ERT:\n  version: 0.3\n  tables:\n' +
      '  - name: systolic.mac_pe\n    actions:\n' +
      '    - name: multiply\n      arguments: null\n      energy: 0.2\n' +
      '    - name: add\n      arguments: null\n      energy: 0.1\n' +
      '    - name: register_write_bit\n      arguments: null\n      energy: 0.009\n' +
      '  - name: systolic.weight_regs\n    actions:\n    - name: write_bit\n      arguments: null\n      energy: 0.009\n' +
      '  - name: systolic.psum_adder\n    actions:\n    - name: add\n      arguments: null\n      energy: 0.1\n' +
      sram('act_sram') + sram('weight_sram') + sram('psum_sram') +
      '  - name: systolic.dram\n    actions:\n' +
      '    - name: read_bit\n      arguments: null\n      energy: 20.3125\n' +
      '    - name: write_bit\n      arguments: null\n      energy: 20.3125\n',
  );
  assert.equal(
    x.layers[0].actionCounts,
    '# lutnn systolic action counts of layer tiny, batch 1 (summed over all instances of a component)\n' +
      'action_counts:\n  version: 0.3\n  local:\n' +
      '  - name: systolic.mac_pe\n    action_counts:\n' +
      '    - name: multiply\n      counts: 24\n    - name: add\n      counts: 12\n    - name: register_write_bit\n      counts: 960\n' +
      '  - name: systolic.weight_regs\n    action_counts:\n    - name: write_bit\n      counts: 96\n' +
      '  - name: systolic.psum_adder\n    action_counts:\n    - name: add\n      counts: 6\n' +
      '  - name: systolic.act_sram\n    action_counts:\n    - name: read_bit\n      counts: 128\n    - name: write_bit\n      counts: 64\n' +
      '  - name: systolic.weight_sram\n    action_counts:\n    - name: read_bit\n      counts: 96\n    - name: write_bit\n      counts: 96\n' +
      '  - name: systolic.psum_sram\n    action_counts:\n    - name: read_bit\n      counts: 192\n    - name: write_bit\n      counts: 192\n' +
      '  - name: systolic.dram\n    action_counts:\n    - name: read_bit\n      counts: 160\n    - name: write_bit\n      counts: 48\n',
  );
  assert.equal(x.model.split('\n').slice(1).join('\n'), x.layers[0].actionCounts.split('\n').slice(1).join('\n')); // one layer: same counts
});

test('LUT-DLA action counts of the tiny layer and the ERT entries: exact YAML', () => {
  const x = accelergyExport(lutDlaModel(TINY_MODEL, LUT_TINY, t));
  const counts = (comp: string, ...acts: [string, number][]): string =>
    `  - name: lut_dla.${comp}\n    action_counts:\n` + acts.map(([a, n]) => `    - name: ${a}\n      counts: ${n}\n`).join('');
  assert.equal(
    x.layers[0].actionCounts,
    '# lutnn lut_dla action counts of layer tiny, batch 1 (summed over all instances of a component)\naction_counts:\n  version: 0.3\n  local:\n' +
      counts('distance_pe', ['subtract', 32], ['multiply', 32], ['tree_add', 16], ['register_write_bit', 592]) +
      counts('centroid_regs', ['write_bit', 128]) +
      counts('argmin_comparator', ['compare', 16]) +
      counts('act_sram', ['read_bit', 64], ['write_bit', 64]) +
      counts('centroid_sram', ['read_bit', 128], ['write_bit', 128]) +
      counts('index_fifo', ['write_bit', 8], ['read_bit', 8]) +
      counts('table_sram', ['read_bit', 96], ['write_bit', 192]) +
      counts('matcher_regs', ['write_bit', 96]) +
      counts('psum_adder', ['add', 6]) +
      counts('psum_sram', ['read_bit', 192], ['write_bit', 192]) +
      counts('dram', ['read_bit', 384], ['write_bit', 48]),
  );
  assert.equal(x.layers[1].name, 'c,1');
  // The model file sums the layers: the 2x2 stride-2 conv has 4 rows, C = 2, K = 4 → 32 distances, 64 subtracts.
  assert.match(x.model, /- name: lut_dla\.distance_pe\n {4}action_counts:\n {4}- name: subtract\n {6}counts: 96\n/);
  const lines = x.ert.split('\n');
  assert.deepEqual(lines.slice(0, 14), [
    '# lutnn lut_dla energy reference table (pJ per action; tech 45nm-horowitz-aladdin)',
    'ERT:', '  version: 0.3', '  tables:',
    '  - name: lut_dla.distance_pe', '    actions:',
    '    - name: subtract', '      arguments: null', '      energy: 0.028125',
    '    - name: multiply', '      arguments: null', '      energy: 0.253125',
    '    - name: tree_add', '      arguments: null',
  ]);
  assert.ok(x.ert.includes('  - name: lut_dla.argmin_comparator\n    actions:\n    - name: compare\n      arguments: null\n      energy: 0.0175156\n'));
  assert.ok(x.ert.includes('  - name: lut_dla.table_sram\n    actions:\n    - name: read_bit\n      arguments: null\n      energy: 0.00976563\n'));
});

/** Reads back our own YAML (the subset we write) and returns Σ counts × energy. */
function energyFromYaml(ert: string, counts: string): number {
  const energy = new Map<string, number>();
  let comp = '';
  let action = '';
  for (const line of ert.split('\n')) {
    let m = /^ {2}- name: (\S+)$/.exec(line);
    if (m) comp = m[1];
    m = /^ {4}- name: (\S+)$/.exec(line);
    if (m) action = m[1];
    m = /^ {6}energy: (\S+)$/.exec(line);
    if (m) energy.set(`${comp}.${action}`, Number(m[1]));
  }
  let total = 0;
  for (const line of counts.split('\n')) {
    let m = /^ {2}- name: (\S+)$/.exec(line);
    if (m) comp = m[1];
    m = /^ {4}- name: (\S+)$/.exec(line);
    if (m) action = m[1];
    m = /^ {6}counts: (\S+)$/.exec(line);
    if (m) {
      const e = energy.get(`${comp}.${action}`);
      assert.ok(e !== undefined, `${comp}.${action} has no energy in the ERT`);
      total += Number(m[1]) * e;
    }
  }
  return total;
}

test('the exported ERT × action counts reproduce the models\' energy (fmnist-cnn, both designs)', () => {
  const layers = fmnistCnnLutLayers();
  const reports: DesignReport[] = [lutDlaModel(layers, DEFAULT_LUT_DLA_CONFIG, t, { batch: 2 }), systolicModel(layers, DEFAULT_SYSTOLIC_CONFIG, t, { batch: 2 })];
  for (const r of reports) {
    const x = accelergyExport(r);
    const whole = energyFromYaml(x.ert, x.model);
    assert.ok(Math.abs(whole - r.total.energyPJ) <= 1e-5 * r.total.energyPJ, `${r.design}: ${whole} vs ${r.total.energyPJ}`);
    x.layers.forEach((l, i) => {
      const e = energyFromYaml(x.ert, l.actionCounts);
      assert.ok(Math.abs(e - r.layers[i].energyPJ) <= 1e-5 * r.layers[i].energyPJ, `${r.design} ${l.name}`);
    });
  }
});

test('SCALE-Sim topology CSVs: conv rows give SCALE-Sim our output size, Linear rows in its GEMM form, exact text', () => {
  const layers = [...fmnistCnnLutLayers().slice(0, 1), convLayer('down', { inH: 32, inW: 32, cin: 64, cout: 128, kernel: 3, stride: 2, padding: 1 }), ...TINY_MODEL, fmnistCnnLutLayers()[3]];
  assert.equal(
    scaleSimConvCsv(layers),
    'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n' +
      'conv2, 30, 30, 3, 3, 32, 32, 1,\n' +
      'down, 33, 33, 3, 3, 64, 128, 2,\n' +
      'tiny, 2, 4, 1, 4, 1, 3, 1,\n' +
      'c_1, 4, 4, 2, 2, 1, 2, 2,\n' +
      'fc1, 1, 3136, 1, 3136, 1, 256, 1,\n',
  );
  // SCALE-Sim's ofmap rule ceil((H − k + s) / s) on the written heights gives our 28 and 16.
  assert.equal(Math.ceil((30 - 3 + 1) / 1), 28);
  assert.equal(Math.ceil((33 - 3 + 2) / 2), 16);
  assert.equal(scaleSimGemmCsv(layers), 'Layer, M, N, K,\nconv2, 784, 32, 288,\ndown, 256, 128, 576,\ntiny, 2, 3, 4,\nc_1, 4, 2, 4,\nfc1, 1, 256, 3136,\n');
  const uneven = convLayer('u', { inH: 8, inW: 8, cin: 1, cout: 1, kernel: 2, stride: [2, 1] });
  assert.equal(scaleSimConvCsv([uneven]).split('\n')[1], 'u, 8, 8, 2, 2, 1, 1, 2, 1,');
});

test('yamlNumber: integers plain, 6 significant digits, exponents PyYAML reads as floats', () => {
  assert.equal(yamlNumber(123456789), '123456789');
  assert.equal(yamlNumber(0.017515625), '0.0175156');
  assert.equal(yamlNumber(1e-7), '1.00000e-7');
  assert.equal(yamlNumber(2.5e-9), '2.50000e-9');
  assert.throws(() => yamlNumber(NaN), /not finite/);
  assert.equal(accelergyErt([], { prefix: 'p' }), '# lutnn p energy reference table (pJ per action)\nERT:\n  version: 0.3\n  tables:\n');
});
