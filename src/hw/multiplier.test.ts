// Tests of the LUT multiplier models: exhaustive exactness of T-LUT and LUT-NA splits, table sharing, hardware summary, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../errors.js';
import { createMultiplier, lutMultiply, partValues, splitOperand, tLut, type MultiplierOptions } from './multiplier.js';
import { exhaustiveCheck } from './multiplier-error.js';
import { hardwareSummary } from './multiplier-summary.js';

const EXACT: MultiplierOptions[] = [
  {},
  { partsA: [4, 4], partsW: [5, 4] },
  { partsA: [3, 3, 2], partsW: [3, 3, 3] },
  { partsA: [2, 2, 2, 2], partsW: [5, 4] },
  { partsA: [4, 4] },
  { partsA: [1, 7], partsW: [8, 1] },
  { signedA: false, signedW: false },
  { signedA: false, signedW: false, partsA: [4, 4], partsW: [5, 4] },
  { signedA: false, signedW: false, partsA: [3, 3, 2], partsW: [3, 3, 3] },
  { signedA: false, signedW: false, partsA: [2, 2, 2, 2], partsW: [5, 4] },
  { signedA: false, partsA: [4, 4], partsW: [5, 4] },
  { signedW: false, partsA: [3, 3, 2], partsW: [3, 3, 3] },
  { sign: 'magnitude' },
  { sign: 'magnitude', partsA: [4, 4], partsW: [5, 4] },
  { sign: 'magnitude', partsA: [3, 3, 2], partsW: [3, 3, 3] },
  { sign: 'magnitude', partsA: [2, 2, 2, 2], partsW: [5, 4] },
  { sign: 'magnitude', partsA: [1, 7], partsW: [8, 1] },
  { sign: 'magnitude', signedA: false, partsA: [4, 4], partsW: [5, 4] },
];

test('exact multipliers: every 8b x 9b operand pair gives a·w (datapath and summed tables)', (t) => {
  const t0 = performance.now();
  let total = 0;
  for (const opts of EXACT) {
    const m = createMultiplier(opts);
    assert.equal(m.approximate, false, m.name);
    const r = exhaustiveCheck(m);
    assert.equal(r.pairs, 2 ** 17, m.name);
    assert.equal(r.bad, 0, r.first);
    total += r.pairs;
  }
  const ms = performance.now() - t0;
  assert.equal(total, EXACT.length * 2 ** 17);
  t.diagnostic(`exhaustive exactness: ${EXACT.length} multipliers, ${total} pairs, ${ms.toFixed(0)} ms`);
});

test('exactness on other widths: 4b x 4b, 6b x 5b, 10b x 4b', () => {
  for (const opts of [
    { bitsA: 4, bitsW: 4, partsA: [2, 2], partsW: [2, 2] },
    { bitsA: 4, bitsW: 4, partsA: [1, 1, 1, 1], partsW: [3, 1], sign: 'magnitude' as const },
    { bitsA: 6, bitsW: 5, partsA: [3, 3], partsW: [2, 3], signedW: false },
    { bitsA: 10, bitsW: 4, partsA: [5, 5], partsW: [4] },
    { bitsA: 1, bitsW: 1 },
    { bitsA: 1, bitsW: 3, signedA: false, partsW: [1, 1, 1] },
  ]) {
    const m = createMultiplier(opts);
    const r = exhaustiveCheck(m);
    assert.equal(r.pairs, 2 ** (m.bitsA + m.bitsW));
    assert.equal(r.bad, 0, r.first);
  }
});

test('the checker catches a wrong multiplier', () => {
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] });
  const r = exhaustiveCheck(m);
  assert.ok(r.bad > 0);
  assert.match(r.first, /expected/);
});

test('operand split: raw patterns most significant first, signed top part, Σ value·2^offset = v', () => {
  const m = createMultiplier({ partsA: [3, 3, 2], partsW: [5, 4] });
  assert.deepEqual(m.offsetsA, [5, 2, 0]);
  assert.deepEqual(m.offsetsW, [4, 0]);
  assert.deepEqual(splitOperand(m, 'a', -1), [7, 7, 3]);
  assert.deepEqual(partValues(m, 'a', -1), [-1, 7, 3]);
  assert.deepEqual(partValues(m, 'a', -128), [-4, 0, 0]);
  assert.deepEqual(partValues(m, 'w', 255), [15, 15]);
  for (let a = -128; a < 128; a++) {
    const v = partValues(m, 'a', a);
    assert.equal(v[0] * 32 + v[1] * 4 + v[2], a);
  }
});

test('tables: T-LUT is one 2^17 x 17-bit table; LUT-NA shares tables of equal widths and signedness', () => {
  const t = hardwareSummary(tLut());
  assert.equal(t.kind, 'T-LUT');
  assert.equal(t.tableCount, 1);
  assert.equal(t.tableEntries, 2 ** 17);
  assert.equal(t.tables[0].entryBits, 17);
  assert.equal(t.tableBits, 2 ** 17 * 17);
  assert.equal(t.reads, 1);
  assert.equal(t.adderCount, 0);
  assert.equal(t.productBits, 17);

  const s = hardwareSummary(createMultiplier({ partsA: [4, 4], partsW: [5, 4] }));
  assert.equal(s.kind, 'LUT-NA');
  assert.equal(s.tableCount, 4);
  // 4s x 5s: [-120, 128] -> 9 bits; 4s x 4u: [-120, 105] -> 8; 4u x 5s: [-240, 225] -> 9; 4u x 4u: [0, 225] -> 8.
  assert.deepEqual(s.tables.map((x) => [x.entries, x.entryBits]), [[512, 9], [256, 8], [512, 9], [256, 8]]);
  assert.equal(s.tableBits, 13312);
  assert.equal(s.reads, 4);
  assert.equal(s.shifts, 3);
  assert.equal(s.adderCount, 3);
  assert.equal(s.productBits, 17);
  assert.deepEqual(s.negators, []);

  const mag = hardwareSummary(createMultiplier({ partsA: [4, 4], partsW: [5, 4], sign: 'magnitude' }));
  assert.equal(mag.tableCount, 2);
  assert.deepEqual(mag.tables.map((x) => [x.widthA, x.widthW, x.entryBits, x.reads]), [[4, 5, 9, 2], [4, 4, 8, 2]]);
  assert.equal(mag.tableBits, 512 * 9 + 256 * 8);
  // Two part negators (a top, w top) and three product negators (every pair with a signed part).
  assert.equal(mag.negators.filter((n) => n.kind === 'part').length, 2);
  assert.equal(mag.negators.filter((n) => n.kind === 'product').length, 3);

  const three = createMultiplier({ partsA: [3, 3, 2], partsW: [3, 3, 3] });
  assert.equal(three.tables.length, 6);
  assert.equal(three.tables.reduce((n, x) => n + x.pairs.length, 0), 9);
  assert.equal(hardwareSummary(three).adderCount, 8);
  assert.equal(createMultiplier({ partsA: [3, 3, 2], partsW: [3, 3, 3], sign: 'magnitude' }).tables.length, 2);
  assert.equal(createMultiplier({ partsA: [3, 3, 2], partsW: [3, 3, 3], signedA: false, signedW: false }).tables.length, 2);
});

test('adder widths leave out pass-through low bits', () => {
  const s = hardwareSummary(createMultiplier({ bitsA: 4, bitsW: 4, signedA: false, signedW: false, partsA: [2, 2], partsW: [4] }));
  // Terms: (1,0) [0, 45] at shift 0 and (0,0) [0, 180] = 3·15·4 at shift 2: one adder, out [0, 225] -> 8 bits, 6 with carries.
  assert.deepEqual(s.adders, [{ level: 0, outBits: 8, width: 6 }]);
  assert.equal(s.adderBits, 6);
});

test('approximate multipliers are flagged and named', () => {
  assert.equal(createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] }).approximate, true);
  assert.equal(createMultiplier({ partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 1 }] }).approximate, true);
  assert.equal(createMultiplier({ partsA: [4, 4], partsW: [5, 4], sign: 'ones' }).approximate, true);
  assert.equal(createMultiplier({ partsA: [4, 4], partsW: [5, 4], sign: 'ones', signedA: false, signedW: false }).approximate, false);
  assert.equal(hardwareSummary(createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] })).kind, 'A-LUT-NA');
  assert.match(createMultiplier({ partsA: [4, 4], partsW: [5, 4] }).name, /LUT-NA 8sx9s 4\+4x5\+4/);
});

test('clear errors for bad widths, parts and options', () => {
  const bad: [MultiplierOptions, RegExp][] = [
    [{ partsA: [4, 3] }, /partsA \[4,3\] sum to 7, expected the operand width 8/],
    [{ partsA: [] }, /partsA must be a non-empty list/],
    [{ partsW: [5, 0, 4] }, /partsW widths must be integers ≥ 1/],
    [{ partsA: [4.5, 3.5] }, /integers ≥ 1/],
    [{ bitsA: 0 }, /bitsA must be an integer in \[1, 16\], got 0/],
    [{ bitsW: 17 }, /bitsW must be an integer/],
    [{ bitsA: 2.5 }, /bitsA/],
    [{ bitsA: 16, bitsW: 16 }, /bitsA \+ bitsW = 32 over the limit 30/],
    [{ bitsA: 12, bitsW: 9 }, /2\^21 entries, over the limit 2\^20; split/],
    [{ sign: 'sm' as never }, /sign must be/],
    [{ partsA: [4, 4], drop: [[2, 0]] }, /drop pair \[2,0\] is not \[i, j\]/],
    [{ drop: [[0, 0]] }, /every part pair/],
    [{ truncate: [{ bits: 1, belowBit: 2 }] }, /exactly one of bits \/ belowBit/],
    [{ truncate: [{ bits: -1 }] }, /bits must be an integer ≥ 0/],
    [{ truncate: [{ bits: 1, mode: 'up' as never }] }, /mode must be 'floor' or 'round'/],
    [{ partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 9, pairs: [[1, 1]] }] }, /leaves nothing; drop the pair/],
    [{ partsA: [4, 4], truncate: [{ bits: 1, pairs: [[0, 3]] }] }, /truncate pair/],
    [{ drop: '0,0' as never }, /drop must be a list/],
  ];
  for (const [opts, re] of bad) assert.throws(() => createMultiplier(opts), (e: unknown) => e instanceof ArgumentError && re.test(e.message), JSON.stringify(opts));

  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4] });
  assert.throws(() => lutMultiply(m, 128, 0), /lutMultiply: a = 128 is not an integer in the 8-bit signed range \[-128, 127\]/);
  assert.throws(() => lutMultiply(m, -129, 0), ArgumentError);
  assert.throws(() => lutMultiply(m, 1.5, 0), ArgumentError);
  assert.throws(() => lutMultiply(m, Number.NaN, 0), ArgumentError);
  assert.throws(() => lutMultiply(m, 0, 256), /w = 256 is not an integer in the 9-bit signed range \[-256, 255\]/);
  const u = createMultiplier({ signedA: false });
  assert.throws(() => lutMultiply(u, -1, 0), /8-bit unsigned range \[0, 255\]/);
  assert.equal(lutMultiply(u, 255, -256), -65280);
});
