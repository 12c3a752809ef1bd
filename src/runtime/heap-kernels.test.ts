// The runtime's TypeScript heap kernels against the engine's ops (src/ops): activations bit for bit, int32 casts,
// gathers (embedding rows by ids with negative ids, constant picks per sample), the id check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { castI32ToF32, firstBadIndex, gatherKernel, unaryKernel, type UnaryKind } from './heap-kernels.js';

const memory = new WebAssembly.Memory({ initial: 1 });
const heap = new Float32Array(memory.buffer);
const ints = new Int32Array(memory.buffer);

test('unaryKernel: Clip, HardSwish, Tanh, Sigmoid, Silu equal the engine bit for bit (in place too), edge values included', () => {
  const x = randn([500], 3, new Rng(1));
  x.f32.set([-3, 3, 0, -0, 6, -6, 1e-30, 88, -88, 20, -20, Number.NaN], 0);
  const cases: [UnaryKind, (t: Tensor) => Tensor, number?, number?][] = [
    ['clip', (t) => ops.clip(t, 0, 6), 0, 6],
    ['clip', (t) => ops.clip(t, -0.5, null), -0.5, Infinity],
    ['hardswish', (t) => ops.hardswish(t)],
    ['tanh', (t) => ops.tanh(t)],
    ['sigmoid', (t) => ops.sigmoid(t)],
    ['silu', (t) => ops.silu(t)],
  ];
  for (const [kind, ref, lo, hi] of cases) {
    const want = ref(x).f32;
    heap.set(x.f32, 0);
    unaryKernel(memory, 0, 4096, 500, kind, lo, hi);
    const got = heap.slice(1024, 1524);
    got.forEach((v, i) => assert.ok(Object.is(v, want[i]), `${kind}[${i}] of ${x.f32[i]}: ${v} vs engine ${want[i]}`));
    unaryKernel(memory, 0, 0, 500, kind, lo, hi); // y = x
    assert.deepEqual(heap.slice(0, 500), got, `${kind} in place`);
  }
});

test('castI32ToF32: every int32 becomes the nearest float32, in place too', () => {
  const v = Int32Array.of(0, 1, -1, 2147483647, -2147483648, 16777217, 123456789);
  ints.set(v, 0);
  castI32ToF32(memory, 0, 64, v.length);
  assert.deepEqual(Array.from(heap.slice(16, 16 + v.length)), Array.from(v, (q) => Math.fround(q)));
  castI32ToF32(memory, 0, 0, v.length);
  assert.deepEqual(heap.slice(0, v.length), heap.slice(16, 16 + v.length));
});

test('gatherKernel: embedding rows by per-sample ids (negative from the end) and constant picks per sample, as ops.take', () => {
  const rng = new Rng(2);
  // A table [7, 5] and ids [3 samples, 4].
  const table = randn([7, 5], 1, rng);
  const ids = Int32Array.of(0, 6, -1, 3, 2, 2, -7, 5, 1, 0, 4, -3);
  heap.set(table.f32, 0); // at byte 0
  ints.set(ids, 100); // at byte 400
  gatherKernel(memory, 0, 0, 400, 4, 1024, 3, 1, 7, 5, 4);
  const want = ops.take(table, 0, new Tensor(ids, [3, 4])).f32;
  assert.deepEqual(heap.slice(256, 256 + 60), want);
  // Picks along axis 1 of per-sample [2, 6, 3] activations (2 samples) at constant indices [5, 0, -2].
  const x = randn([2, 2, 6, 3], 1, rng);
  heap.set(x.f32, 0);
  ints.set(Int32Array.of(5, 0, -2), 200); // byte 800
  gatherKernel(memory, 0, 36, 800, 0, 4000, 2, 2, 6, 3, 3);
  const pick = ops.take(x, 2, new Tensor(Int32Array.of(5, 0, -2), [3])).f32;
  assert.deepEqual(heap.slice(1000, 1000 + pick.length), pick);
});

test('firstBadIndex: ids in [−len, len) pass, the first one outside is found', () => {
  assert.equal(firstBadIndex(Int32Array.of(0, 4, -5, -1), 5), -1);
  assert.equal(firstBadIndex(Int32Array.of(0, 5, -6), 5), 1);
  assert.equal(firstBadIndex(Int32Array.of(1, -6), 5), 1);
  assert.equal(firstBadIndex(new Int32Array(0), 5), -1);
});
