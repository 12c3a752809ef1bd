// Tests of the A-LUT-NA approximations against independent formulas (every operand pair) and of the error statistics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../errors.js';
import { createMultiplier, type MultiplierOptions, type PairRef } from './multiplier.js';
import { errorStats, exhaustiveCheck, histogramOf, laplaceHistogram, productTable, uniformHistogram } from './multiplier-error.js';

/** Part values by arithmetic (floor division and positive modulo), independent of the bit-level split. */
function parts(v: number, widths: readonly number[], signed: boolean): { value: number; offset: number }[] {
  let offset = widths.reduce((s, x) => s + x, 0);
  return widths.map((w, i) => {
    offset -= w;
    const q = Math.floor(v / 2 ** offset);
    const value = i === 0 && signed ? q : ((q % 2 ** w) + 2 ** w) % 2 ** w;
    return { value, offset };
  });
}

type PairFn = (pa: number, pw: number, i: number, j: number, shift: number) => number;

/** Σ over part pairs of fn(value_a, value_w, i, j, shift) · 2^shift (part values precomputed per operand value). */
function sumPairs(opts: MultiplierOptions, fn: PairFn): (a: number, w: number) => number {
  const pA = opts.partsA ?? [opts.bitsA ?? 8];
  const pW = opts.partsW ?? [opts.bitsW ?? 9];
  const bitsA = pA.reduce((s, x) => s + x, 0);
  const bitsW = pW.reduce((s, x) => s + x, 0);
  const minA = (opts.signedA ?? true) ? -(2 ** (bitsA - 1)) : 0;
  const minW = (opts.signedW ?? true) ? -(2 ** (bitsW - 1)) : 0;
  const partsOfA = Array.from({ length: 2 ** bitsA }, (_, k) => parts(k + minA, pA, opts.signedA ?? true));
  const partsOfW = Array.from({ length: 2 ** bitsW }, (_, k) => parts(k + minW, pW, opts.signedW ?? true));
  return (a, w) => {
    let s = 0;
    const xa = partsOfA[a - minA];
    const xw = partsOfW[w - minW];
    for (let i = 0; i < xa.length; i++) {
      for (let j = 0; j < xw.length; j++) {
        const shift = xa[i].offset + xw[j].offset;
        s += fn(xa[i].value, xw[j].value, i, j, shift) * 2 ** shift;
      }
    }
    return s;
  };
}

const has = (list: readonly PairRef[], i: number, j: number): boolean => list.some(([x, y]) => x === i && y === j);

test('drop: every pair equals a·w minus the dropped partial products', () => {
  const cases: MultiplierOptions[] = [
    { partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] },
    { partsA: [3, 3, 2], partsW: [3, 3, 3], drop: [[2, 2], [2, 1], [1, 2]] },
    { partsA: [2, 2, 2, 2], partsW: [5, 4], drop: [[3, 1], [2, 1], [3, 0]] },
    { signedA: false, signedW: false, partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] },
    { sign: 'magnitude', partsA: [4, 4], partsW: [5, 4], drop: [[1, 1], [0, 1]] },
  ];
  for (const opts of cases) {
    const drop = opts.drop ?? [];
    const r = exhaustiveCheck(createMultiplier(opts), sumPairs(opts, (x, y, i, j) => (has(drop, i, j) ? 0 : x * y)));
    assert.equal(r.bad, 0, r.first);
  }
  // Dropping low x low of 4+4 x 5+4 is a·w − (a & 15)(w & 15).
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] });
  assert.equal(exhaustiveCheck(m, (a, w) => a * w - (a & 15) * (w & 15)).bad, 0);
});

test('truncate: entries lose k LSBs by floor or round-half-up, per pair or below a product bit', () => {
  const fl = (e: number, k: number): number => Math.floor(e / 2 ** k) * 2 ** k;
  const rd = (e: number, k: number): number => Math.floor((e + 2 ** k / 2) / 2 ** k) * 2 ** k;
  const cases: [MultiplierOptions, PairFn][] = [
    [{ partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 2 }] }, (x, y) => fl(x * y, 2)],
    [{ partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 3, mode: 'round' }] }, (x, y) => rd(x * y, 3)],
    [{ partsA: [3, 3, 2], partsW: [3, 3, 3], truncate: [{ belowBit: 5, mode: 'round' }] }, (x, y, _i, _j, s) => rd(x * y, Math.max(0, 5 - s))],
    [
      { partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 4, pairs: [[1, 1]] }, { bits: 1, mode: 'round', pairs: [[0, 1], [1, 0]] }] },
      (x, y, i, j) => (i === 1 && j === 1 ? fl(x * y, 4) : i + j === 1 ? rd(x * y, 1) : x * y),
    ],
    [{ truncate: [{ bits: 5 }] }, (x, y) => fl(x * y, 5)], // a truncated T-LUT
    // In the magnitude modes the unsigned entries are truncated: the signed contribution rounds toward zero.
    [{ sign: 'magnitude', partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 2 }] }, (x, y) => Math.sign(x * y) * fl(Math.abs(x * y), 2)],
    // Drop wins over truncation on the same pair.
    [{ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]], truncate: [{ bits: 2 }] }, (x, y, i, j) => (i === 1 && j === 1 ? 0 : fl(x * y, 2))],
  ];
  for (const [opts, fn] of cases) {
    const r = exhaustiveCheck(createMultiplier(opts), sumPairs(opts, fn));
    assert.equal(r.bad, 0, r.first);
  }
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], truncate: [{ bits: 2 }] });
  assert.deepEqual(m.tables.map((t) => t.entryBits), [7, 6, 7, 6]);
});

test("'ones' sign mode: a negative signed part reads row |p| − 1, the output negation is exact", () => {
  const ones = (p: number, signedPart: boolean): number => (signedPart && p < 0 ? -p - 1 : Math.abs(p));
  const cases: MultiplierOptions[] = [
    { sign: 'ones', partsA: [4, 4], partsW: [5, 4] },
    { sign: 'ones', partsA: [3, 3, 2], partsW: [3, 3, 3], signedW: false },
    { sign: 'ones', partsA: [2, 2, 2, 2], partsW: [5, 4], signedA: false },
  ];
  for (const opts of cases) {
    const fn: PairFn = (x, y, i, j) => {
      const sa = i === 0 && (opts.signedA ?? true);
      const sw = j === 0 && (opts.signedW ?? true);
      const neg = (sa && x < 0) !== (sw && y < 0);
      return (neg ? -1 : 1) * ones(x, sa) * ones(y, sw);
    };
    const r = exhaustiveCheck(createMultiplier(opts), sumPairs(opts, fn));
    assert.equal(r.bad, 0, r.first);
  }
});

test('errorStats: exact multipliers have no error; drop low x low matches its closed form', () => {
  const exact = errorStats(createMultiplier({ partsA: [3, 3, 2], partsW: [3, 3, 3] }));
  assert.equal(exact.pairs, 2 ** 17);
  assert.deepEqual([exact.bias, exact.meanAbs, exact.maxAbs, exact.rms, exact.errorRate], [0, 0, 0, 0, 0]);
  // Uniform a and w make a & 15 and w & 15 independent and uniform on 0..15: the error −(a&15)(w&15) has
  // mean −7.5², mean square (Σx²/16)² = 77.5², max 225, and is nonzero with probability (15/16)².
  const s = errorStats(createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] }));
  assert.ok(Math.abs(s.bias + 56.25) < 1e-9, String(s.bias));
  assert.ok(Math.abs(s.meanAbs - 56.25) < 1e-9);
  assert.ok(Math.abs(s.rms - 77.5) < 1e-9, String(s.rms));
  assert.equal(s.maxAbs, 225);
  assert.ok(Math.abs(s.errorRate - (15 / 16) ** 2) < 1e-12);
  // E[a²] for a uniform on [−128, 127] and E[w²] on [−256, 255].
  const sa = Array.from({ length: 256 }, (_, k) => (k - 128) ** 2).reduce((x, y) => x + y) / 256;
  const sw = Array.from({ length: 512 }, (_, k) => (k - 256) ** 2).reduce((x, y) => x + y) / 512;
  assert.ok(Math.abs(s.productRms - Math.sqrt(sa * sw)) < 1e-9);
  assert.ok(Math.abs(s.relRms - 77.5 / Math.sqrt(sa * sw)) < 1e-12);
});

test('errorStats weights pairs by histA[a]·histW[w] and agrees with the product table', () => {
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], truncate: [{ belowBit: 6, mode: 'round' }], drop: [[1, 1]] });
  // A point mass at a = 5, w = −3: error = f(5, −3) + 15.
  const hA = new Float64Array(256);
  const hW = new Float64Array(512);
  hA[5 + 128] = 3;
  hW[-3 + 256] = 0.5;
  const table = productTable(m);
  const e = table[(5 + 128) * 512 + (-3 + 256)] + 15;
  const p = errorStats(m, hA, hW);
  assert.equal(p.pairs, 1);
  assert.equal(p.bias, e);
  assert.equal(p.maxAbs, Math.abs(e));
  // A Laplace histogram against a direct weighted sum over the product table.
  const la = laplaceHistogram(8, true, 10);
  const uw = uniformHistogram(9);
  let ws = 0;
  let es = 0;
  let e2 = 0;
  let mx = 0;
  for (let a = -128; a < 128; a++) {
    for (let w = -256; w < 256; w++) {
      const err = table[(a + 128) * 512 + w + 256] - a * w;
      const wt = la[a + 128];
      ws += wt;
      es += wt * err;
      e2 += wt * err * err;
      mx = Math.max(mx, Math.abs(err));
    }
  }
  const s = errorStats(m, la, uw);
  assert.ok(Math.abs(s.bias - es / ws) < 1e-6 * Math.max(1, Math.abs(es / ws)));
  assert.ok(Math.abs(s.rms - Math.sqrt(e2 / ws)) < 1e-6 * Math.sqrt(e2 / ws));
  assert.equal(s.maxAbs, mx);
  assert.ok(s.rms > 0);
  // A bell-shaped activation histogram weights small a, where low x low dominates: the relative error grows.
  assert.ok(s.relRms > errorStats(m).relRms);
});

test('histograms: shapes and errors', () => {
  const h = histogramOf([0, 0, -1, 5, -128, 127], 8, true);
  assert.equal(h.length, 256);
  assert.deepEqual([h[128], h[127], h[133], h[0], h[255]], [2, 1, 1, 1, 1]);
  assert.throws(() => histogramOf([128], 8, true), /histogramOf: values\[0\] = 128 is not an integer in \[-128, 127\]/);
  assert.throws(() => histogramOf([-1], 8, false), ArgumentError);
  const l = laplaceHistogram(8, true, 4);
  assert.equal(l[128], 1);
  assert.ok(Math.abs(l[132] - Math.exp(-1)) < 1e-15 && Math.abs(l[124] - Math.exp(-1)) < 1e-15);
  assert.throws(() => laplaceHistogram(8, true, 0), /scale must be finite and > 0/);
  const m = createMultiplier({ partsA: [4, 4], partsW: [5, 4], drop: [[1, 1]] });
  assert.throws(() => errorStats(m, new Float64Array(10)), /histA has 10 weights, expected 2\^bits = 256/);
  assert.throws(() => errorStats(m, undefined, new Float64Array(512)), /histW has no positive weight/);
  const neg = uniformHistogram(8);
  neg[3] = -1;
  assert.throws(() => errorStats(m, neg), /histA\[3\] = -1, expected a finite weight ≥ 0/);
  assert.throws(() => errorStats(createMultiplier({ bitsA: 12, bitsW: 13, partsA: [6, 6], partsW: [7, 6] })), /over the exhaustive limit/);
});
