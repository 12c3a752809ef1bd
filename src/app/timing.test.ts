// Tests of the shared timing helpers: medians, interleaved rounds with warm-up, the time budget for slow methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../tensor/rng.js';
import { measureSamples, median } from './timing.js';

test('median of odd and even counts, without reordering the input', () => {
  const xs = [5, 1, 3];
  assert.equal(median(xs), 3);
  assert.deepEqual(xs, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

test('measureSamples: warm-up rounds untimed, every method once per round, progress per round, and the budget', async () => {
  const calls = { fast: 0, slow: 0 };
  const busy = (ms: number): void => {
    const t = performance.now();
    while (performance.now() - t < ms);
  };
  const methods = [
    { name: 'fast', run: () => void calls.fast++ },
    { name: 'slow', run: () => (calls.slow++, busy(20)) },
  ];
  const rounds: string[] = [];
  const s = await measureSamples(methods, 6, new Rng(1), 2, (d, t) => rounds.push(`${d}/${t}`));
  assert.deepEqual([s.fast.length, s.slow.length, calls.fast, calls.slow], [6, 6, 8, 8]);
  assert.deepEqual(rounds, ['1/8', '2/8', '3/8', '4/8', '5/8', '6/8', '7/8', '8/8']);
  assert.ok(s.slow.every((ms) => ms >= 20));
  // With a budget of 50 ms and at least 2 samples, the 20 ms method stops after 2 or 3 rounds; the other goes on.
  const b = await measureSamples(methods, 10, new Rng(2), 1, undefined, { ms: 50, minSamples: 2 });
  assert.equal(b.fast.length, 10);
  assert.ok(b.slow.length >= 2 && b.slow.length <= 3, `slow: ${b.slow.length} samples`);
});
