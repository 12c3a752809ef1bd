import { test } from 'node:test';
import assert from 'node:assert/strict';
import { relu, gelu, silu, hardswish, clip, sigmoid, tanh, exp, log, neg, sqrt, square, erf, erfc } from './unary.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError } from '../errors.js';

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

test('silu matches x·sigmoid(x) in float64, stays finite in the tails and propagates NaN', () => {
  const xs = [-1000, -30, -5, -1, -0.25, 0, 0.25, 1, 5, 30, 1000];
  const x = tensor(xs).requireGrad();
  const y = silu(x);
  const sig = (v: number): number => 1 / (1 + Math.exp(-v));
  assertClose(y.data, xs.map((v) => v * sig(v)), 1e-7, 'silu');
  backward(y, tensor(xs.map(() => 1)));
  assertClose(x.grad!.data, xs.map((v) => sig(v) + v * sig(v) * (1 - sig(v))), 1e-7, 'silu grad');
  assert.ok(Number.isNaN(silu(tensor([NaN])).data[0]));
});

test('hardswish values and PyTorch\'s gradient at the kinks (−1/2 at −3, 3/2 at 3, 1 at NaN)', () => {
  const xs = [-4, -3, -2.5, -1.5, 0, 1.5, 2.5, 3, 3.5, NaN];
  const x = tensor(xs).requireGrad();
  const y = hardswish(x);
  assertClose(y.data.slice(0, 9), [0, 0, -0.20833333333333334, -0.375, 0, 1.125, 2.2916666666666665, 3, 3.5], 1e-7, 'hardswish');
  assert.ok(Number.isNaN(y.data[9]));
  backward(y, tensor(xs.map(() => 2)));
  // (2x + 3)/6 on [−3, 3], 0 below, 1 above; NaN takes the last branch of hardswish_backward.
  assertClose(x.grad!.data, [0, -1, -2 / 3, 0, 1, 2, 8 / 3, 3, 2, 2], 1e-7, 'hardswish grad');
});

test('gelu tanh form matches 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) and its derivative', () => {
  const k = Math.sqrt(2 / Math.PI);
  const xs = [-1e4, -12, -5, -2, -0.5, 0, 0.5, 1, 2, 5, 12, 1e4];
  const x = tensor(xs).requireGrad();
  const y = gelu(x, 'tanh');
  const th = (v: number): number => Math.tanh(k * (v + 0.044715 * v ** 3));
  assertClose(y.data, xs.map((v) => 0.5 * v * (1 + th(v))), 1e-7, 'gelu tanh');
  backward(y, tensor(xs.map(() => 1)));
  const dref = xs.map((v) => 0.5 * (1 + th(v)) + 0.5 * v * (1 - th(v) ** 2) * k * (1 + 3 * 0.044715 * v * v));
  assertClose(x.grad!.data, dref, 1e-7, 'gelu tanh grad');
  // Not the erf form: at x = −2 they differ by ~1e-4 (−0.045402 vs −0.045500).
  assert.ok(Math.abs(gelu(tensor([-2]), 'tanh').data[0] - gelu(tensor([-2])).data[0]) > 5e-5);
  // The tail is x·sigmoid(2u): no 1 + tanh cancellation (float64 1 + tanh(u) is 0 here).
  assert.ok(gelu(tensor([-9]), 'tanh').data[0] < 0);
});

test("gelu's default is the erf form, bit for bit, and approximate is checked", () => {
  const x = randn([200], 3, new Rng(5));
  const want = Float32Array.from(x.f32, (v) => 0.5 * v * erfc(-v * Math.SQRT1_2));
  assert.deepEqual(gelu(x).f32, want);
  assert.deepEqual(gelu(x, 'none').f32, want);
  const bad = 'erf' as unknown as 'none';
  assert.throws(() => gelu(x, bad), (e: Error) => e instanceof ArgumentError && e.message === "gelu: approximate must be 'none' or 'tanh', got string erf");
});

test('clip with min only, max only and both; ties at a bound pass the gradient, NaN passes through with none', () => {
  const xs = [-Infinity, -2, -1, -0.5, 0, 0.5, 1, 2, Infinity, NaN];
  const run = (min: number | null, max: number | null): [number[], number[]] => {
    const x = tensor(xs).requireGrad();
    const y = clip(x, min, max);
    backward(y, tensor(xs.map(() => 1)));
    return [Array.from(y.data), Array.from(x.grad!.data)];
  };
  assert.deepEqual(run(-1, null), [[-1, -1, -1, -0.5, 0, 0.5, 1, 2, Infinity, NaN], [0, 0, 1, 1, 1, 1, 1, 1, 1, 0]]);
  assert.deepEqual(run(null, 0.5), [[-Infinity, -2, -1, -0.5, 0, 0.5, 0.5, 0.5, 0.5, NaN], [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]]);
  assert.deepEqual(run(-1, 0.5), [[-1, -1, -1, -0.5, 0, 0.5, 0.5, 0.5, 0.5, NaN], [0, 0, 1, 1, 1, 1, 0, 0, 0, 0]]);
  // min = max: every value becomes it, and only exact ties keep a gradient.
  assert.deepEqual(run(1, 1), [[1, 1, 1, 1, 1, 1, 1, 1, 1, NaN], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]]);
  // No bound: the identity (ONNX Clip without min and max).
  assert.deepEqual(run(null, null), [xs, xs.map(() => 1)]);
});

test('clip compares with its bounds rounded to float32, as torch does for a float32 tensor', () => {
  // float32(0.7) < 0.7: x = float32(0.7) sits on the rounded bound (kept, gradient 1) instead of below it.
  const x = tensor([0.6, 0.7, 0.8]).requireGrad();
  const y = clip(x, 0.7, null);
  assert.deepEqual(Array.from(y.data), [Math.fround(0.7), Math.fround(0.7), Math.fround(0.8)]);
  backward(y, tensor([1, 1, 1]));
  assert.deepEqual(Array.from(x.grad!.data), [0, 1, 1]);
});

test('clip checks its bounds by name', () => {
  const x = tensor([1, 2]);
  const argErr = (msg: string) => (e: Error) => e instanceof ArgumentError && e.message === msg;
  assert.throws(() => clip(x, 2, 1), argErr('clip: min must be <= max, got min 2 > max 1'));
  assert.throws(() => clip(x, NaN, 1), argErr('clip: min must be a finite number or null, got number NaN'));
  assert.throws(() => clip(x, null, Infinity), argErr('clip: max must be a finite number or null, got number Infinity'));
  assert.throws(() => clip(x, '0' as unknown as number, null), argErr('clip: min must be a finite number or null, got string 0'));
  assert.throws(() => clip(x, undefined as unknown as null, 1), argErr('clip: min must be a finite number or null, got undefined undefined'));
  assert.throws(() => clip(tensor([1], [1], 'int32'), 0, 1), (e: Error) => e instanceof DTypeError && e.message === 'clip: x must be float32, got int32');
});

// [label (op name first), f, domain]: kinks are points the finite differences stay 0.05 away from.
const cases: [string, (t: Tensor) => Tensor, 'any' | 'positive' | { kinks: number[]; scale?: number }][] = [
  ['relu', relu, { kinks: [0] }],
  ['gelu', gelu, 'any'],
  ['gelu tanh', (t) => gelu(t, 'tanh'), { kinks: [], scale: 3 }],
  ['silu', silu, { kinks: [], scale: 4 }],
  ['hardswish', hardswish, { kinks: [-3, 3], scale: 3 }],
  ['clip [-0.5, 0.75]', (t) => clip(t, -0.5, 0.75), { kinks: [-0.5, 0.75] }],
  ['clip min -0.5', (t) => clip(t, -0.5, null), { kinks: [-0.5] }],
  ['clip max 0.75', (t) => clip(t, null, 0.75), { kinks: [0.75] }],
  ['sigmoid', sigmoid, 'any'],
  ['tanh', tanh, 'any'],
  ['exp', exp, 'any'],
  ['log', log, 'positive'],
  ['neg', neg, 'any'],
  ['sqrt', sqrt, 'positive'],
  ['square', square, 'any'],
];

for (const [label, f, domain] of cases) {
  const name = label.split(' ')[0];
  test(`${label} gradient matches finite differences`, () => {
    const scale = typeof domain === 'object' ? (domain.scale ?? 1) : 1;
    const x = randn([3, 7], scale, new Rng(11));
    const d = x.f32;
    for (let i = 0; i < d.length; i++) {
      if (domain === 'positive') d[i] = 0.5 + Math.abs(d[i]);
      if (typeof domain === 'object') {
        // keep finite differences off the kinks
        for (const k of domain.kinks) if (Math.abs(d[i] - k) < 0.05) d[i] = k + 0.3;
      }
    }
    x.requireGrad();
    const r = gradCheck(f, [x]);
    assert.ok(r.ok, r.worst);
  });

  test(`${label} rejects non-float input by name and keeps empty shapes`, () => {
    assert.throws(() => f(zeros([2], 'int32')), (e: Error) => e instanceof DTypeError && e.message === `${name}: x must be float32, got int32`);
    assert.deepEqual(f(zeros([0, 3])).shape, [0, 3]);
  });
}
