import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embedding, gather } from './embedding.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { ones, randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, stridesOf } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';

const ints = (v: unknown[], shape?: number[]): Tensor => tensor(v, shape, 'int32');

test('embedding picks rows and scatter-adds gradients for repeated indices', () => {
  const w = tensor([[0, 1], [10, 11], [20, 21]]).requireGrad();
  const idx = ints([[1, 1], [0, 2]]);
  const y = embedding(idx, w);
  assert.deepEqual(y.shape, [2, 2, 2]);
  assert.deepEqual(y.toArray(), [[[10, 11], [10, 11]], [[0, 1], [20, 21]]]);
  backward(y, ones([2, 2, 2]));
  assert.deepEqual(w.grad!.toArray(), [[1, 1], [2, 2], [1, 1]]);
  const r = gradCheck((t) => embedding(ints([2, 0, 2, 1, 2]), t), [randn([4, 3], 1, new Rng(1)).requireGrad()]);
  assert.ok(r.ok, r.worst);
  assert.deepEqual(embedding(ints([], [0]), w).shape, [0, 2]);
});

test('embedding validates indices and shapes by name', () => {
  const w = zeros([3, 2]);
  assert.throws(() => embedding(ints([0, 3]), w), (e: Error) => e instanceof ArgumentError && e.message === 'embedding: indices[1] = 3 out of range [0, 3) for weight [3,2]');
  assert.throws(() => embedding(ints([-1]), w), ArgumentError);
  assert.throws(() => embedding(tensor([0, 1]), w), (e: Error) => e instanceof DTypeError && e.message === 'embedding: indices must be int32, got float32');
  assert.throws(() => embedding(ints([0]), zeros([3])), ShapeError);
});

/** torch.gather by walking every index position and rewriting its axis coordinate. */
function naiveGather(x: Tensor, axis: number, index: Tensor): number[] {
  const istr = stridesOf(index.shape);
  const xstr = stridesOf(x.shape);
  const out: number[] = [];
  for (let flat = 0; flat < index.size; flat++) {
    let src = 0;
    for (let d = 0; d < index.ndim; d++) {
      const i = Math.floor(flat / istr[d]) % index.shape[d];
      src += (d === axis ? index.data[flat] : i) * xstr[d];
    }
    out.push(x.data[src]);
  }
  return out;
}

test('gather follows torch.gather along every axis, with a smaller index tensor', () => {
  const rng = new Rng(2);
  const x = randn([3, 4, 5], 1, rng);
  for (const axis of [0, 1, 2, -1]) {
    const a = axis < 0 ? axis + 3 : axis;
    const ishape = [2, 3, 4];
    ishape[a] = 6; // the gathered axis may be longer than x's
    const n = ishape.reduce((p, q) => p * q, 1);
    const index = new Tensor(Int32Array.from({ length: n }, () => rng.int(x.shape[a])), ishape, 'int32');
    const y = gather(x, axis, index);
    assert.deepEqual(y.shape, ishape);
    assert.deepEqual(Array.from(y.data), naiveGather(x, a, index));
  }
  assert.deepEqual(gather(tensor([[1, 2], [3, 4]]), 1, ints([[0, 0], [1, 0]])).toArray(), [[1, 1], [4, 3]]);
});

test('gather gradient scatter-adds (repeated indices) and matches finite differences', () => {
  const x = randn([3, 4], 1, new Rng(3)).requireGrad();
  const index = ints([[0, 0, 3], [1, 2, 1], [3, 3, 3]]);
  const r = gradCheck((t) => gather(t, 1, index), [x]);
  assert.ok(r.ok, r.worst);
  x.grad = null;
  backward(gather(x, 1, index), ones([3, 3]));
  assert.deepEqual(x.grad!.toArray(), [[2, 0, 0, 1], [0, 2, 1, 0], [0, 0, 0, 3]]);
});

test('gather validates by name', () => {
  const x = zeros([2, 3]);
  assert.throws(() => gather(x, 1, ints([[0, 3]])), (e: Error) => e instanceof ArgumentError && e.message.startsWith('gather: index value 3 at flat position 1 out of range [0, 3)'));
  assert.throws(() => gather(x, 1, ints([0, 1])), (e: Error) => e instanceof ShapeError && e.message.startsWith('gather: index [2] must have as many dims'));
  assert.throws(() => gather(x, 1, ints([[0], [0], [0]])), (e: Error) => e instanceof ShapeError && e.message.includes('in dim 0'));
  assert.throws(() => gather(x, 2, ints([[0]])), ArgumentError);
  assert.throws(() => gather(x, 0, tensor([[0]])), DTypeError);
});
