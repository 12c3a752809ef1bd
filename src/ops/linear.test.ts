import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linear } from './linear.js';
import { matmul } from './matmul.js';
import { add } from './arith.js';
import { transpose } from './shape.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ShapeError } from '../errors.js';

test('linear equals the composed x·Wᵀ + b', () => {
  const rng = new Rng(2);
  const x = randn([2, 3, 5], 1, rng);
  const w = randn([4, 5], 1, rng);
  const b = randn([4], 1, rng);
  const got = linear(x, w, b).f32;
  const want = add(matmul(x, transpose(w, 0, 1)), b).f32;
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `at ${i}: ${got[i]} vs ${want[i]}`);
});

test('linear gradients match finite differences, with and without bias', () => {
  const rng = new Rng(3);
  const x = randn([3, 5], 1, rng).requireGrad();
  const w = randn([4, 5], 1, rng).requireGrad();
  const b = randn([4], 1, rng).requireGrad();
  let r = gradCheck(linear, [x, w, b]);
  assert.ok(r.ok, r.worst);
  r = gradCheck((a, c) => linear(a, c, null), [x, w]);
  assert.ok(r.ok, r.worst);
});

test('linear rejects mismatched shapes with a message naming the op', () => {
  assert.throws(() => linear(randn([2, 3]), randn([4, 5]), null), (e: Error) => e instanceof ShapeError && e.message.startsWith('linear: input last dim 3 vs weight in 5'));
});
