import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add, sub, mul, div, mulScalar } from './arith.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ShapeError } from '../errors.js';

test('add broadcasts like NumPy', () => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([10, 20, 30]);
  assert.deepEqual(add(a, b).toArray(), [[11, 22, 33], [14, 25, 36]]);
  const c = tensor([[100], [200]]);
  assert.deepEqual(add(a, c).toArray(), [[101, 102, 103], [204, 205, 206]]);
});

test('binary ops reject shapes that do not broadcast', () => {
  assert.throws(() => add(tensor([1, 2, 3]), tensor([1, 2])), ShapeError);
});

for (const [name, f] of [['add', add], ['sub', sub], ['mul', mul], ['div', div]] as const) {
  test(`${name} gradient matches finite differences with broadcasting`, () => {
    const rng = new Rng(7);
    const a = randn([2, 3, 4], 1, rng).requireGrad();
    const b = randn([3, 1], 1, rng).requireGrad();
    if (name === 'div') for (let i = 0; i < b.size; i++) b.data[i] = 1.5 + Math.abs(b.data[i]);
    const r = gradCheck(f, [a, b]);
    assert.ok(r.ok, r.worst);
  });
}

test('mulScalar gradient', () => {
  const a = randn([5], 1, new Rng(1)).requireGrad();
  const r = gradCheck((x) => mulScalar(x, 3), [a]);
  assert.ok(r.ok, r.worst);
});
