import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradCheck } from './gradcheck.js';
import { record } from './engine.js';
import { randn } from '../tensor/create.js';
import { Tensor } from '../tensor/tensor.js';

test('gradCheck catches a wrong backward (the check can fail)', () => {
  const square = (x: Tensor): Tensor => {
    const d = x.f32;
    const out = new Tensor(d.map((v) => v * v), x.shape);
    // Wrong on purpose: d(x²)/dx is 2x, not x.
    return record(out, 'badSquare', [x], (g) => [new Tensor(g.f32.map((gv, i) => gv * d[i]), x.shape)]);
  };
  const r = gradCheck(square, [randn([6]).requireGrad()]);
  assert.equal(r.ok, false);
});
