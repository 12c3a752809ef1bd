import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matmul } from './matmul.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ShapeError } from '../errors.js';

test('matmul values', () => {
  const a = tensor([[1, 2], [3, 4], [5, 6]]);
  const b = tensor([[1, 0, 2], [0, 1, 3]]);
  assert.deepEqual(matmul(a, b).toArray(), [[1, 2, 8], [3, 4, 18], [5, 6, 28]]);
});

test('matmul error names the inner dims and shapes', () => {
  assert.throws(() => matmul(randn([2, 3]), randn([4, 5])), (e: Error) => e instanceof ShapeError && e.message === 'matmul: inner dims 3 vs 4 for [2,3]x[4,5]');
});

test('batched matmul broadcasts batch dims and its gradient matches finite differences', () => {
  const rng = new Rng(3);
  const a = randn([2, 1, 3, 4], 1, rng).requireGrad();
  const b = randn([3, 4, 2], 1, rng).requireGrad();
  const y = matmul(a, b);
  assert.deepEqual(y.shape, [2, 3, 3, 2]);
  const r = gradCheck(matmul, [a, b]);
  assert.ok(r.ok, r.worst);
});
