import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relu, gelu, sigmoid, tanh, exp, log, neg, sqrt, square, erf } from './unary.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { DTypeError } from '../errors.js';

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6, what = ''): void {
  assert.equal(got.length, want.length, `${what} length`);
  for (let i = 0; i < want.length; i++) {
    const ok = Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i]));
    assert.ok(ok, `${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

test('relu values, NaN propagation and zero gradient at the kink', () => {
  const x = tensor([-2, -0.5, 0, 0.5, 3, NaN]).requireGrad();
  const y = relu(x);
  assert.deepEqual(Array.from(y.data.slice(0, 5)), [0, 0, 0, 0.5, 3]);
  assert.ok(Number.isNaN(y.data[5]));
  backward(y, tensor([1, 1, 1, 1, 1, 1]));
  assert.deepEqual(Array.from(x.grad!.data.slice(0, 5)), [0, 0, 0, 1, 1]);
  // A NaN with its sign bit set (x86's default NaN), -0, infinities and the smallest subnormals.
  const bits = Int32Array.of(0xffc00000 | 0, 0x80000000 | 0, 0x7f800000, 0xff800000 | 0, 1, 0x80000001 | 0);
  const z = relu(new Tensor(new Float32Array(bits.buffer), [6]));
  assert.ok(Number.isNaN(z.data[0]));
  assert.deepEqual(Array.from(z.data.slice(1)), [0, Infinity, 0, 1.401298464324817e-45, 0]);
});

test('relu matches max(x, 0) on random data, forward and backward', () => {
  const x = randn([1000], 1, new Rng(3)).requireGrad();
  const y = relu(x);
  const g = randn([1000], 1, new Rng(4));
  backward(y, g);
  for (let i = 0; i < 1000; i++) {
    assert.equal(y.data[i], Math.max(x.data[i], 0));
    assert.equal(x.grad!.data[i], x.data[i] > 0 ? g.data[i] : 0);
  }
});

test('gelu matches the exact erf form (PyTorch approximate="none")', () => {
  // 0.5·x·erfc(−x/√2) computed in float64 by Python's math.erfc.
  const xs = [-5, -3, -1, -0.5, 0, 0.5, 1, 2, 4];
  const want = [
    -1.4332578593959731e-6, -0.004049694094890287, -0.15865525393145707, -0.15426876936299344, 0, 0.34573123063700656,
    0.8413447460685429, 1.9544997361036416, 3.9998733150326675,
  ];
  assertClose(gelu(tensor(xs)).data, want, 2e-7, 'gelu');
  // The tail keeps its relative accuracy (no 1 − erf cancellation).
  assert.ok(Math.abs(gelu(tensor([-5])).data[0] / want[0] - 1) < 1e-5);
});

test('erf agrees with its Taylor series', () => {
  for (const x of [-2.5, -1.3, -0.2, 0, 0.05, 0.7, 1.9, 2.5]) {
    // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
    let term = x;
    let s = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      s += term / (2 * n + 1);
    }
    const ref = (2 / Math.sqrt(Math.PI)) * s;
    assert.ok(Math.abs(erf(x) - ref) < 2e-7, `erf(${x}) = ${erf(x)} vs ${ref}`);
  }
});

test('sigmoid is exact and does not overflow', () => {
  const y = sigmoid(tensor([-1000, -3, 0, 2, 1000]));
  assertClose(y.data, [0, 0.04742587317756678, 0.5, 0.8807970779778823, 1], 1e-7, 'sigmoid');
  assert.ok(y.data.every((v) => Number.isFinite(v)));
});

test('tanh, exp, log, neg, sqrt, square values', () => {
  const x = tensor([0.25, 1, 4]);
  assertClose(tanh(x).data, [0.24491866240370913, 0.7615941559557649, 0.999329299739067], 1e-7, 'tanh');
  assertClose(exp(x).data, [1.2840254166877414, Math.E, 54.598150033144236], 1e-7, 'exp');
  assertClose(log(x).data, [-1.3862943611198906, 0, 1.3862943611198906], 1e-7, 'log');
  assert.deepEqual(Array.from(neg(x).data), [-0.25, -1, -4]);
  assert.deepEqual(Array.from(sqrt(x).data), [0.5, 1, 2]);
  assert.deepEqual(Array.from(square(x).data), [0.0625, 1, 16]);
  assert.equal(log(tensor([0])).data[0], -Infinity);
});

const cases: [string, (t: Tensor) => Tensor, 'any' | 'positive' | 'nokink'][] = [
  ['relu', relu, 'nokink'],
  ['gelu', gelu, 'any'],
  ['sigmoid', sigmoid, 'any'],
  ['tanh', tanh, 'any'],
  ['exp', exp, 'any'],
  ['log', log, 'positive'],
  ['neg', neg, 'any'],
  ['sqrt', sqrt, 'positive'],
  ['square', square, 'any'],
];

for (const [name, f, domain] of cases) {
  test(`${name} gradient matches finite differences`, () => {
    const x = randn([3, 7], 1, new Rng(11));
    const d = x.f32;
    for (let i = 0; i < d.length; i++) {
      if (domain === 'positive') d[i] = 0.5 + Math.abs(d[i]);
      if (domain === 'nokink' && Math.abs(d[i]) < 0.05) d[i] = 0.3; // keep finite differences off the kink
    }
    x.requireGrad();
    const r = gradCheck(f, [x]);
    assert.ok(r.ok, r.worst);
  });

  test(`${name} rejects non-float input by name and keeps empty shapes`, () => {
    assert.throws(() => f(zeros([2], 'int32')), (e: Error) => e instanceof DTypeError && e.message === `${name}: x must be float32, got int32`);
    assert.deepEqual(f(zeros([0, 3])).shape, [0, 3]);
  });
}
