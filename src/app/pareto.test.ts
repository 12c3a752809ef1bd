// The Pareto front is exactly the non-dominated set: no front point is dominated, every other point is dominated by a front point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dominates, paretoFront } from './pareto.js';
import { Rng } from '../tensor/rng.js';

test('a hand-made front: ties in cost, ties in both objectives, non-finite values', () => {
  const pts = [
    { a: 0.9, e: 10 }, // 0 front
    { a: 0.8, e: 10 }, // 1 dominated by 0 (same cost, less accuracy)
    { a: 0.95, e: 20 }, // 2 front
    { a: 0.95, e: 20 }, // 3 front (equal to 2: neither dominates)
    { a: 0.9, e: 15 }, // 4 dominated by 0 (same accuracy, more energy)
    { a: 0.5, e: 1 }, // 5 front
    { a: NaN, e: 0.5 }, // 6 never on the front
    { a: 0.99, e: Infinity }, // 7 never on the front
  ];
  assert.deepEqual(paretoFront(pts, (p) => p.a, (p) => p.e), [0, 2, 3, 5]);
  assert.deepEqual(paretoFront([], (p: number) => p, (p) => p), []);
});

test('random clouds (with many ties): front points are non-dominated, every other point is dominated by a front point', () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 30; trial++) {
    const n = 1 + Math.floor(rng.random() * 200);
    // Coarse grids make ties in either objective common.
    const pts = Array.from({ length: n }, () => ({ a: Math.floor(rng.random() * 12) / 12, e: Math.floor(rng.random() * 15) }));
    const front = paretoFront(pts, (p) => p.a, (p) => p.e);
    const onFront = new Set(front);
    assert.ok(front.length >= 1);
    for (const i of front) {
      for (let j = 0; j < n; j++) assert.ok(!dominates(pts[j].a, pts[j].e, pts[i].a, pts[i].e), `front point ${i} dominated by ${j}`);
    }
    for (let i = 0; i < n; i++) {
      if (onFront.has(i)) continue;
      assert.ok(front.some((f) => dominates(pts[f].a, pts[f].e, pts[i].a, pts[i].e)), `point ${i} ${JSON.stringify(pts[i])} is off the front but no front point dominates it`);
    }
  }
});

test('tieBreak keeps only the least of the items tied in both objectives (equal ones all), and nothing else changes', () => {
  const pts = [
    { a: 0.9, e: 10, area: 3 }, // 0 tied with 1, 2: larger area
    { a: 0.9, e: 10, area: 1 }, // 1 front
    { a: 0.9, e: 10, area: 1 }, // 2 front (equal to 1 under the tie-break too)
    { a: 0.95, e: 20, area: 9 }, // 3 front (no tie)
    { a: 0.8, e: 5, area: 7 }, // 4 front
  ];
  assert.deepEqual(paretoFront(pts, (p) => p.a, (p) => p.e, (x, y) => x.area - y.area), [1, 2, 3, 4]);
  assert.deepEqual(paretoFront(pts, (p) => p.a, (p) => p.e), [0, 1, 2, 3, 4]);
});
