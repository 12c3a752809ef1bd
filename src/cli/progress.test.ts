// Tests of the progress output on a non-terminal stream: no duplicated lines, idempotent stop, nothing when quiet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgress } from './progress.js';

/** A non-TTY stream that records what is written. */
function sink(): { stream: NodeJS.WriteStream; lines: () => string[] } {
  const out: string[] = [];
  const stream = { isTTY: false, write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WriteStream;
  return { stream, lines: () => out.join('').split('\n').filter(Boolean) };
}

test('plain progress: the first update prints, stop() prints the final state only if not already printed', () => {
  // The refit case: 0/1 printed, then 1/1 printed by an update (plainEvery 0), then stop(): no second "1/1" line.
  const a = sink();
  const p = createProgress({ label: 'refit fc1', total: 1, stream: a.stream, plainEvery: 0 });
  p.update(0);
  p.update(1);
  p.stop();
  p.stop();
  assert.deepEqual(a.lines().map((l) => l.split(' (')[0]), ['refit fc1 0/1', 'refit fc1 1/1']);

  // Updates between printed lines are skipped (plainEvery 10 s); stop() then prints the final state once.
  const b = sink();
  const q = createProgress({ label: 'eval', total: 100, stream: b.stream, fields: ['acc'] });
  q.update(10, { acc: '0.5' });
  q.update(50, { acc: '0.6' });
  q.update(100, { acc: '0.7' });
  q.stop();
  q.update(100, { acc: '0.8' }); // after stop: ignored
  q.stop();
  const lines = b.lines();
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0], /^eval 10\/100 \(10%\) acc 0\.5 \| ETA /);
  assert.match(lines[1], /^eval 100\/100 \(100%\) acc 0\.7 \| ETA /);
});

test('quiet progress writes nothing', () => {
  const a = sink();
  const p = createProgress({ label: 'x', total: 3, stream: a.stream, quiet: true });
  p.update(1);
  p.stop();
  assert.deepEqual(a.lines(), []);
});
