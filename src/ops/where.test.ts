import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { DTypeError, ShapeError } from '../errors.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { equal, where } from './where.js';

test('where: selects with broadcasting (a [N,1,1,T] mask over scores), -inf fill stays -inf and never makes NaN', () => {
  const mask = new Tensor(Uint8Array.of(1, 1, 0), [1, 1, 3]); // keep, keep, drop
  const scores = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3]);
  const y = where(mask, scores, tensor([-Infinity], []));
  assert.deepEqual(Array.from(y.data), [1, 2, -Infinity, 4, 5, -Infinity]);
  const z = where(new Tensor(Int32Array.of(0, 7), [2, 1]), tensor([Infinity], []), tensor([1, 2, 3], [3]));
  assert.deepEqual(Array.from(z.data), [1, 2, 3, Infinity, Infinity, Infinity]);
  assert.throws(() => where(tensor([1]), tensor([1]), tensor([1])), DTypeError);
  assert.throws(() => where(new Tensor(Int32Array.of(1, 0), [2]), tensor([1, 2, 3]), tensor([1])), ShapeError);
});

test('where backward: the gradient goes to x where cond holds, to y elsewhere, summed over broadcast dims', () => {
  const cond = new Tensor(Uint8Array.of(1, 0, 1, 0, 0, 1), [2, 3]);
  const x = randn([2, 3], 1, new Rng(1)).requireGrad();
  const y = randn([3], 1, new Rng(2)).requireGrad(); // broadcast over rows
  backward(where(cond, x, y), tensor([1, 2, 3, 4, 5, 6], [2, 3]));
  assert.deepEqual(Array.from(x.grad!.data), [1, 0, 3, 0, 0, 6]);
  assert.deepEqual(Array.from(y.grad!.data), [4, 2 + 5, 0]);
  const r = gradCheck(() => where(cond, x, y), [x, y], { seed: 4 });
  assert.ok(r.ok, r.worst);
});

test('equal: uint8 0/1 with broadcasting, any one dtype', () => {
  assert.deepEqual(Array.from(equal(new Tensor(Int32Array.of(0, 1, 0, 2), [2, 2]), new Tensor(Int32Array.of(0), [])).data), [1, 0, 1, 0]);
  const e = equal(tensor([1, 2, 3], [3, 1]), tensor([1, 3], [2]));
  assert.equal(e.dtype, 'uint8');
  assert.deepEqual([...e.shape], [3, 2]);
  assert.deepEqual(Array.from(e.data), [1, 0, 0, 0, 0, 1]);
  assert.throws(() => equal(tensor([1]), new Tensor(Int32Array.of(1), [1])), /one dtype, got float32 and int32/);
});
