import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dropout } from './dropout.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { ones, randn, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, DTypeError } from '../errors.js';

test('dropout is the identity in eval mode and for p = 0', () => {
  const x = randn([3, 4], 1, new Rng(1));
  assert.equal(dropout(x, 0.5, false), x);
  assert.equal(dropout(x, 0, true), x);
});

test('dropout keeps about 1 − p of the values, scaled by 1/(1 − p), reproducibly', () => {
  const x = ones([100, 100]);
  const p = 0.3;
  const y = dropout(x, p, true, new Rng(7));
  let kept = 0;
  for (const v of y.data) {
    if (v !== 0) {
      kept++;
      assert.ok(Math.abs(v - 1 / (1 - p)) < 1e-6, `kept value ${v}`);
    }
  }
  // Binomial(10000, 0.7): mean 7000, sd ≈ 45.8; allow 5 sd.
  assert.ok(Math.abs(kept - 7000) < 230, `kept ${kept}`);
  assert.deepEqual(dropout(x, p, true, new Rng(7)).data, y.data);
  assert.notDeepEqual(dropout(x, p, true, new Rng(8)).data, y.data);
});

test('dropout gradient uses the same mask as the forward pass', () => {
  const x = randn([4, 5], 1, new Rng(2)).requireGrad();
  const y = dropout(x, 0.5, true, new Rng(3));
  backward(y, ones([4, 5]));
  for (let i = 0; i < x.size; i++) assert.equal(x.grad!.data[i], y.data[i] === 0 ? 0 : 2);
  const r = gradCheck((t) => dropout(t, 0.4, true, new Rng(5)), [x]);
  assert.ok(r.ok, r.worst);
});

test('dropout validates p and the input by name', () => {
  const x = zeros([2]);
  for (const p of [1, -0.1, NaN, 1.5]) {
    assert.throws(() => dropout(x, p, true), (e: Error) => e instanceof ArgumentError && e.message.startsWith('dropout: p must be in [0, 1)'));
  }
  assert.throws(() => dropout(zeros([2], 'int32'), 0.1, true), DTypeError);
  assert.deepEqual(dropout(zeros([0, 3]), 0.5, true).shape, [0, 3]);
});
