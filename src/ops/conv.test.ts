import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conv2d, conv2dGeom, type Conv2dOptions } from './conv.js';
import { sum } from './reduce.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { getBackend, setBackend } from '../backend/index.js';
import { conv2dForwardRef } from '../backend/reference.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';

test('conv2d on a hand-computed example', () => {
  // 1x1x3x3 input, 2x2 kernel of ones plus bias 10: each output is its window's sum + 10.
  const x = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const w = tensor([1, 1, 1, 1], [1, 1, 2, 2]);
  const y = conv2d(x, w, tensor([10]));
  assert.deepEqual(y.toArray(), [[[[22, 26], [34, 38]]]]);
  // Padding 1, stride 2: windows start at (−1,−1), (−1,1), (1,−1), (1,1) → 1, 2+3, 4+7, 5+6+8+9.
  const p = conv2d(x, w, null, { padding: 1, stride: 2 });
  assert.deepEqual(p.toArray(), [[[[1, 5], [11, 28]]]]);
});

const configs: [string, number[], number[], Conv2dOptions][] = [
  ['plain', [2, 3, 5, 5], [4, 3, 3, 3], {}],
  ['stride 2, padding 1', [2, 2, 6, 5], [3, 2, 3, 3], { stride: 2, padding: 1 }],
  ['dilation 2, asymmetric stride/padding', [1, 2, 7, 6], [2, 2, 3, 2], { dilation: 2, stride: [1, 2], padding: [2, 1] }],
  ['groups 2', [1, 4, 5, 5], [6, 2, 3, 3], { groups: 2, padding: 1 }],
  ['depthwise', [2, 3, 5, 4], [3, 1, 3, 3], { groups: 3, padding: 1 }],
  ['1x1', [2, 3, 2, 3], [4, 3, 1, 1], {}],
];

for (const [name, xs, ws, opts] of configs) {
  test(`conv2d ${name}: values match the direct reference and gradients match finite differences`, () => {
    const rng = new Rng(xs.reduce((p, q) => p + q, 0));
    const x = randn(xs, 1, rng).requireGrad();
    const w = randn(ws, 0.5, rng).requireGrad();
    const b = randn([ws[0]], 1, rng).requireGrad();
    const y = conv2d(x, w, b, opts);
    const g = conv2dGeom(xs, ws, opts);
    assert.deepEqual(y.shape, [g.n, g.cout, g.outH, g.outW]);
    const ref = new Float32Array(y.size);
    conv2dForwardRef(x.f32, w.f32, b.f32, g, ref);
    for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(y.data[i] - ref[i]) < 1e-5, `y[${i}]`);
    const r = gradCheck((p, q, s) => conv2d(p, q, s, opts), [x, w, b], { maxPerInput: 24 });
    assert.ok(r.ok, r.worst);
  });
}

test('conv2d output size follows PyTorch for stride/padding/dilation', () => {
  const g = conv2dGeom([1, 1, 28, 28], [1, 1, 3, 3], { stride: 2, padding: 1, dilation: 2 });
  // floor((28 + 2 − 2·2 − 1) / 2) + 1 = 13
  assert.equal(g.outH, 13);
  assert.equal(g.outW, 13);
});

test('conv2d computes only the gradients that are needed', () => {
  const calls: string[] = [];
  const base = getBackend();
  // Delegate everything to the active backend, counting the two backward kernels.
  const spy = new Proxy(base, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'conv2dBackwardInput') calls.push('input');
        if (prop === 'conv2dBackwardWeight') calls.push('weight');
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const prev = setBackend(spy);
  try {
    const rng = new Rng(1);
    const x = randn([1, 2, 4, 4], 1, rng);
    const w = randn([3, 2, 3, 3], 1, rng);
    const b = randn([3], 1, rng).requireGrad();
    backward(sum(conv2d(x, w, b)));
    assert.deepEqual(calls, []);
    // dbias = Σ over batch and positions of dy = 2·2 per channel for a loss of sum(y).
    assert.deepEqual(Array.from(b.grad!.data), [4, 4, 4]);
    x.requireGrad();
    backward(sum(conv2d(x, w, b)));
    assert.deepEqual(calls, ['input']);
    calls.length = 0;
    x.requireGrad(false);
    w.requireGrad();
    backward(sum(conv2d(x, w, null)));
    assert.deepEqual(calls, ['weight']);
  } finally {
    setBackend(prev);
  }
});

test('conv2d with an empty batch', () => {
  const x = zeros([0, 2, 5, 5]).requireGrad();
  const w = randn([3, 2, 3, 3], 1, new Rng(2)).requireGrad();
  const y = conv2d(x, w, null, { padding: 1 });
  assert.deepEqual(y.shape, [0, 3, 5, 5]);
  backward(y, zeros([0, 3, 5, 5]));
  assert.ok(w.grad!.f32.every((v) => v === 0));
  assert.deepEqual(x.grad!.shape, [0, 2, 5, 5]);
});

test('conv2d rejects bad operands by name', () => {
  const x = zeros([1, 4, 5, 5]);
  const expect = (f: () => unknown, cls: typeof ShapeError, re: RegExp): void => {
    assert.throws(f, (e: Error) => e instanceof cls && re.test(e.message), String(re));
  };
  expect(() => conv2d(x, zeros([2, 3, 3, 3]), null), ShapeError, /^conv2d: weight \[2,3,3,3\] expects 3 input channels per group, but x \[1,4,5,5\] with groups 1 gives 4$/);
  expect(() => conv2d(x, zeros([2, 2, 3, 3]), null, { groups: 3 }), ShapeError, /^conv2d: input channels 4 not divisible by groups 3$/);
  expect(() => conv2d(x, zeros([3, 2, 3, 3]), null, { groups: 2 }), ShapeError, /^conv2d: output channels 3/);
  expect(() => conv2d(x, zeros([2, 4, 7, 3]), null), ShapeError, /^conv2d: input 5x5 padded by 0x0 is smaller than the dilated kernel 7x3/);
  expect(() => conv2d(x, zeros([2, 4, 3, 3]), null, { dilation: 3 }), ShapeError, /dilated kernel 7x7/);
  expect(() => conv2d(x, zeros([2, 4, 3, 3]), zeros([3])), ShapeError, /^conv2d: bias must have shape \[2\], got \[3\]$/);
  expect(() => conv2d(zeros([4, 5, 5]), zeros([2, 4, 3, 3]), null), ShapeError, /^conv2d: x must have 4 dims/);
  expect(() => conv2d(x, zeros([2, 4, 3, 3]), null, { stride: 0 }), ArgumentError, /^conv2d: stride must be an integer >= 1, got 0$/);
  expect(() => conv2d(x, zeros([2, 4, 3, 3]), null, { padding: -1 }), ArgumentError, /^conv2d: padding/);
  expect(() => conv2d(x, zeros([2, 4, 3, 3]), null, { stride: [1, 2, 3] as unknown as [number, number] }), ArgumentError, /pair/);
  expect(() => conv2d(x, zeros([2, 4, 3, 3], 'int32'), null), DTypeError, /^conv2d: weight must be float32/);
});
