import { test } from 'node:test';
import assert from 'node:assert/strict';
import { softmax, logSoftmax } from './softmax.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, stridesOf } from '../tensor/tensor.js';
import { ArgumentError, DTypeError } from '../errors.js';

/** softmax along `axis` of a 3-D tensor by explicit exp / sum in float64 (no max shift). */
function naiveSoftmax(x: Tensor, axis: number): Float64Array {
  const out = new Float64Array(x.size);
  const str = stridesOf(x.shape);
  for (let flat = 0; flat < x.size; flat++) {
    const k = Math.floor(flat / str[axis]) % x.shape[axis];
    const start = flat - k * str[axis];
    let s = 0;
    for (let j = 0; j < x.shape[axis]; j++) s += Math.exp(x.data[start + j * str[axis]]);
    out[flat] = Math.exp(x.data[flat]) / s;
  }
  return out;
}

test('softmax and logSoftmax match exp/sum along every axis', () => {
  const x = randn([3, 4, 5], 2, new Rng(5));
  for (const axis of [0, 1, 2, -1, -3]) {
    const a = axis < 0 ? axis + 3 : axis;
    const ref = naiveSoftmax(x, a);
    const y = softmax(x, axis);
    const ly = logSoftmax(x, axis);
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs(y.data[i] - ref[i]) < 1e-6, `softmax axis ${axis} [${i}]`);
      assert.ok(Math.abs(ly.data[i] - Math.log(ref[i])) < 1e-5, `logSoftmax axis ${axis} [${i}]`);
    }
  }
  // Default axis is the last one.
  assert.deepEqual(softmax(x).data, softmax(x, 2).data);
});

test('softmax is stable for large logits', () => {
  const big = softmax(tensor([1000, 1001, 1002]));
  const small = softmax(tensor([0, 1, 2]));
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(big.data[i] - small.data[i]) < 1e-7);
  const l = logSoftmax(tensor([-1000, 0, 1000]));
  assert.deepEqual(Array.from(l.data), [-2000, -1000, 0]);
  // A single-element axis gives probability 1.
  assert.deepEqual(Array.from(softmax(tensor([[3], [-7]]), 1).data), [1, 1]);
});

for (const [name, f] of [['softmax', softmax], ['logSoftmax', logSoftmax]] as const) {
  test(`${name} gradient matches finite differences along inner and outer axes`, () => {
    const x = randn([3, 4, 2], 1, new Rng(6)).requireGrad();
    for (const axis of [-1, 1, 0]) {
      const r = gradCheck((t) => f(t, axis), [x]);
      assert.ok(r.ok, `axis ${axis}: ${r.worst}`);
    }
  });

  test(`${name} rejects bad axes and dtypes; empty batch is fine`, () => {
    assert.throws(() => f(zeros([2, 3]), 2), (e: Error) => e instanceof ArgumentError && e.message === `${name}: axis 2 out of range for 2 dims`);
    assert.throws(() => f(zeros([2, 3], 'int32')), DTypeError);
    assert.deepEqual(f(zeros([0, 3])).shape, [0, 3]);
  });
}
