// Tests of the technology table: the shipped JSON equals the embedded table, scaling rules, loader errors, cross-checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import {
  TECH_45NM, TECH_FIELDS, addArea, addEnergy, cmpEnergy, energyOf, eyerissCrossCheck, multArea, multEnergy, parseTechTable,
  sramReadEnergyPerBit, sramWriteEnergyPerBit, dramEnergyPerBit, type ComponentEnergy,
} from './tech.js';
import { readTechFile } from './tech-file.js';

const jsonPath = new URL('./tech-45nm.json', import.meta.url);
const shipped = (): Record<string, unknown> => JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>;
const within = (got: number, want: number, rel: number, what: string): void =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: ${got} vs ${want} (±${rel * 100}%)`);

test('the shipped tech-45nm.json parses to exactly the embedded TECH_45NM (values and sources)', () => {
  assert.deepEqual(parseTechTable(readFileSync(jsonPath, 'utf8'), 'tech-45nm.json'), TECH_45NM);
  for (const f of TECH_FIELDS) assert.ok(TECH_45NM.constants[f].source.length > 10, `${f} names its source`);
});

test('scaling rules: adders linear in bits, multipliers by the product of widths, SRAM by capacity^0.5', () => {
  const t = TECH_45NM;
  assert.equal(addEnergy(t, 32), 0.1);
  assert.equal(addEnergy(t, 16), 0.05);
  assert.equal(addArea(t, 8), 278 / 4);
  assert.equal(multEnergy(t, 8, 8), 0.2);
  assert.equal(multEnergy(t, 16, 16), 0.8);
  assert.equal(multArea(t, 8, 8), 6350 / 16);
  assert.equal(cmpEnergy(t, 16), 0.0295 / 2);
  // Horowitz's own other widths and sizes, predicted by the rules.
  within(addEnergy(t, 8), t.crossChecks.add8_pJ.value, 0.2, '8-bit add');
  within(multEnergy(t, 32, 32), t.crossChecks.mult32_pJ.value, 0.05, '32-bit multiply');
  within(64 * sramReadEnergyPerBit(t, 8192), 10, 1e-12, '8 KB SRAM 64-bit read');
  within(64 * sramReadEnergyPerBit(t, 32 * 1024), t.crossChecks.sram32KB64bRead_pJ.value, 0.15, '32 KB SRAM');
  within(64 * sramReadEnergyPerBit(t, 1 << 20), t.crossChecks.sram1MB64bRead_pJ.value, 0.15, '1 MB SRAM');
  // Tiny arrays never cost less per bit than a register; writes cost as much as reads in this table.
  assert.equal(sramReadEnergyPerBit(t, 4), t.constants.registerPerBit_pJ.value);
  assert.equal(sramWriteEnergyPerBit(t, 4096), sramReadEnergyPerBit(t, 4096));
  assert.equal(dramEnergyPerBit(t), 1300 / 64);
  assert.throws(() => addEnergy(t, 0), /width must be an integer >= 1 bit, got 0/);
});

test('Eyeriss cross-check: register file, global buffer and DRAM per MAC within 2x of Eyeriss', () => {
  for (const r of eyerissCrossCheck(TECH_45NM)) {
    assert.ok(r.eyeriss !== null);
    assert.ok(r.ours / r.eyeriss >= 0.5 && r.ours / r.eyeriss <= 2, `${r.name}: ours ${r.ours.toFixed(2)} vs Eyeriss ${r.eyeriss}`);
  }
});

test('parseTechTable: bare numbers accepted, crossChecks optional, name defaults to the file', () => {
  const constants = Object.fromEntries(TECH_FIELDS.map((f) => [f, TECH_45NM.constants[f].value]));
  const t = parseTechTable(JSON.stringify({ constants }), 'mine.json');
  assert.equal(t.name, 'mine.json');
  assert.equal(t.constants.add32_pJ.value, 0.1);
  assert.equal(t.constants.add32_pJ.source, '(no source given)');
  assert.deepEqual(t.crossChecks, {});
});

test('parseTechTable: every error is a FormatError naming the file and the field', () => {
  const doc = (): Record<string, unknown> => shipped();
  const withConst = (f: string, v: unknown): Record<string, unknown> => {
    const d = doc();
    (d.constants as Record<string, unknown>)[f] = v;
    return d;
  };
  const bad = (input: unknown, re: RegExp): void => {
    assert.throws(() => parseTechTable(input, 'my-tech.json'), (e: Error) => e instanceof FormatError && re.test(e.message) && e.message.startsWith('my-tech.json'), String(re));
  };
  const missing = doc();
  delete (missing.constants as Record<string, unknown>).mult8_pJ;
  bad(missing, /missing constant 'constants\.mult8_pJ'/);
  bad(withConst('dram64b_pJ', { value: 0 }), /constants\.dram64b_pJ must be a finite number > 0, got 0/);
  bad(withConst('dram64b_pJ', { value: -3 }), /constants\.dram64b_pJ must be a finite number > 0, got -3/);
  bad(withConst('add32_um2', { value: Infinity }), /constants\.add32_um2 must be a finite number > 0/);
  bad(withConst('add32_um2', { value: '278' }), /constants\.add32_um2 must be a finite number > 0, got "278"/);
  bad(withConst('add32_um2', {}), /constants\.add32_um2 must be a finite number > 0/);
  bad(withConst('add32_um2', { value: 1, source: 5 }), /constants\.add32_um2\.source must be a string/);
  bad(withConst('add_32_pJ', { value: 1 }), /unknown constant 'constants\.add_32_pJ'/);
  bad('{"constants": ', /not valid JSON/);
  bad('[1, 2]', /expected a JSON object/);
  bad({ name: 'x' }, /'constants' must be an object/);
  bad({ ...doc(), format: 'other' }, /format is "other", expected "lutnn-tech"/);
  bad({ ...doc(), version: 2 }, /version 2 is not supported/);
  bad({ ...doc(), crossChecks: { eyerissDram_x: { value: NaN } } }, /crossChecks\.eyerissDram_x must be a finite number > 0/);
});

test('readTechFile: reads a user table; a missing file is a FormatError naming it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-tech-'));
  const f = join(dir, 'cheap-dram.json');
  const d = shipped();
  (d.constants as Record<string, { value: number }>).dram64b_pJ.value = 640;
  writeFileSync(f, JSON.stringify(d));
  assert.equal(dramEnergyPerBit(readTechFile(f)), 10);
  const gone = join(dir, 'nope.json');
  assert.throws(() => readTechFile(gone), (e: Error) => e instanceof FormatError && e.message.startsWith(`${gone}: cannot read the technology table`));
});

test('energyOf: Σ count × energy by category; an action not in the table is an error', () => {
  const table: ComponentEnergy[] = [{ name: 'x', actions: [{ name: 'a', energyPJ: 2, category: 'macs' }, { name: 'b', energyPJ: 0.5, category: 'sram' }] }];
  const e = energyOf(table, [{ component: 'x', action: 'a', count: 3 }, { component: 'x', action: 'b', count: 4 }]);
  assert.equal(e.totalPJ, 8);
  assert.equal(e.byCategory.macs, 6);
  assert.equal(e.byCategory.sram, 2);
  assert.throws(() => energyOf(table, [{ component: 'x', action: 'c', count: 1 }]), /action 'x\.c' is not in the energy table/);
});
