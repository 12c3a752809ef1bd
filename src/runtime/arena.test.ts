// The activation arena planner on hand-made step lists: slots, in-place reuse, views, liveness peak, disjoint offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError } from '../errors.js';
import { planArena, type ArenaPlan, type ArenaStep } from './arena.js';

/** Slots live at a common step never share a byte; every slot lies inside the arena. */
function checkDisjoint(p: ArenaPlan): void {
  const region = (b: number): number => Math.ceil(Math.max(b, 1) / 64) * 64;
  p.slots.forEach((a, i) => {
    assert.equal(a.offset % 64, 0);
    assert.ok(a.offset + a.bytes <= p.arenaBytes);
    p.slots.forEach((b, j) => {
      if (j <= i || a.to < b.from || b.to < a.from) return;
      assert.ok(a.offset + region(a.bytes) <= b.offset || b.offset + region(b.bytes) <= a.offset, `slots ${i} and ${j} overlap while both live`);
    });
  });
}

const sizes = (o: Record<string, number>): Map<string, number> => new Map(Object.entries(o));
const slotOf = (p: ArenaPlan, v: string): number => p.values.get(v)!.slot;

test('a chain: an in-place step reuses its dying input; the peak is the largest input + output; slots reuse freed bytes', () => {
  const steps: ArenaStep[] = [
    { name: 'conv', inputs: ['x'], output: 'a' },
    { name: 'bn', inputs: ['a'], output: 'b', inPlace: [0] },
    { name: 'pool', inputs: ['b'], output: 'c' },
    { name: 'fc', inputs: ['c'], output: 'y' },
  ];
  // Floats per sample; at maxBatch 2 a value takes floats · 8 bytes.
  const p = planArena(steps, sizes({ x: 16, a: 32, b: 32, c: 8, y: 2 }), 'x', 'y', 2);
  assert.equal(slotOf(p, 'b'), slotOf(p, 'a'));
  assert.deepEqual(p.slots.map((s) => [s.from, s.to, s.bytes, s.values]), [
    [-1, 0, 128, ['x']], [0, 2, 256, ['a', 'b']], [2, 3, 64, ['c']], [3, 3, 16, ['y']],
  ]);
  assert.deepEqual(p.liveBytes, [128 + 256, 256, 256 + 64, 64 + 16]);
  assert.equal(p.peakActivationBytes, 384);
  assert.equal(p.peakStep, 0);
  // Greedy by size: a at 0, x after it; c reuses x's bytes once x is dead, y a's once a is.
  assert.deepEqual(p.slots.map((s) => s.offset), [256, 0, 256, 0]);
  assert.equal(p.arenaBytes, 384);
  checkDisjoint(p);
});

test('a skip connection: the skip value stays live across the branch; add runs in place on the operand that dies', () => {
  const steps: ArenaStep[] = [
    { name: 'stem', inputs: ['x'], output: 's' },
    { name: 'c1', inputs: ['s'], output: 'h1' },
    { name: 'c2', inputs: ['h1'], output: 'h2' },
    { name: 'add', inputs: ['s', 'h2'], output: 'sum', inPlace: [0, 1] },
    { name: 'head', inputs: ['sum'], output: 'y' },
  ];
  const p = planArena(steps, sizes({ x: 4, s: 10, h1: 10, h2: 10, sum: 10, y: 1 }), 'x', 'y', 1);
  // Both operands die at the add: the first one listed (s) is reused.
  assert.equal(slotOf(p, 'sum'), slotOf(p, 's'));
  assert.equal(p.values.get('s')!.to, 3);
  // At c2: s, h1 and h2 live (40 bytes each) = the peak.
  assert.deepEqual(p.liveBytes, [16 + 40, 80, 120, 80, 44]);
  assert.equal(p.peakActivationBytes, 120);
  assert.equal(p.peakStep, 2);
  checkDisjoint(p);
  // When s is read after the add, the add writes into h2's slot instead.
  const later = [...steps.slice(0, 4), { name: 'cat', inputs: ['sum', 's'], output: 'y' }];
  const q = planArena(later, sizes({ x: 4, s: 10, h1: 10, h2: 10, sum: 10, y: 20 }), 'x', 'y', 1);
  assert.equal(slotOf(q, 'sum'), slotOf(q, 'h2'));
  assert.equal(q.values.get('s')!.to, 4);
  checkDisjoint(q);
});

test('views share their input slot and extend its life; the graph output is never overwritten in place', () => {
  const steps: ArenaStep[] = [
    { name: 'conv', inputs: ['x'], output: 'a' },
    { name: 'flat', inputs: ['a'], output: 'v', view: true },
    { name: 'relu', inputs: ['a'], output: 'r', inPlace: [0] }, // a is still read through v: not in place
    { name: 'add', inputs: ['v', 'r'], output: 'y', inPlace: [0, 1] },
  ];
  const p = planArena(steps, sizes({ x: 6, a: 6, v: 6, r: 6, y: 6 }), 'x', 'y', 1);
  assert.equal(slotOf(p, 'v'), slotOf(p, 'a'));
  assert.notEqual(slotOf(p, 'r'), slotOf(p, 'a'));
  assert.equal(slotOf(p, 'y'), slotOf(p, 'a')); // v (a's slot) dies at the add
  assert.equal(p.slots[slotOf(p, 'y')].to, 3);
  checkDisjoint(p);
  // The output read by a later step stays: the in-place step gets a new slot.
  const out = planArena([
    { name: 'conv', inputs: ['x'], output: 'y' },
    { name: 'relu', inputs: ['y'], output: 'r', inPlace: [0] },
  ], sizes({ x: 3, y: 3, r: 3 }), 'x', 'y', 1);
  assert.notEqual(slotOf(out, 'r'), slotOf(out, 'y'));
  assert.equal(out.values.get('y')!.to, 1);
  // An in-place input of another size is not reused.
  const sized = planArena([{ name: 'gap', inputs: ['x'], output: 'y', inPlace: [0] }], sizes({ x: 8, y: 2 }), 'x', 'y', 1);
  assert.notEqual(slotOf(sized, 'y'), slotOf(sized, 'x'));
});

test('bad step lists are refused, naming the step or value', () => {
  assert.throws(() => planArena([{ name: 'c', inputs: ['z'], output: 'y' }], sizes({ x: 1, y: 1 }), 'x', 'y', 1), (e: unknown) => e instanceof ArgumentError && /step 'c' reads 'z', which no earlier step writes/.test((e as Error).message));
  assert.throws(() => planArena([{ name: 'c', inputs: ['x'], output: 'y' }], sizes({ x: 1 }), 'x', 'y', 1), /value 'y' has no size/);
  assert.throws(() => planArena([{ name: 'c', inputs: ['x'], output: 'x' }], sizes({ x: 1 }), 'x', 'x', 1), /value 'x' is written twice/);
  assert.throws(() => planArena([{ name: 'f', inputs: ['x'], output: 'y', view: true }], sizes({ x: 4, y: 2 }), 'x', 'y', 1), /view 'f' has 2 floats per sample, its input 4/);
});
