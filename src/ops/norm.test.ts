import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchNorm, layerNorm } from './norm.js';
import { add, addScalar, div, mul, sub } from './arith.js';
import { mean } from './reduce.js';
import { reshape } from './shape.js';
import { sqrt, square } from './unary.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { full, ones, randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../errors.js';

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
  }
}

/** Training-mode batch norm composed from primitive ops: the oracle for the fused forward and backward. */
function composedBatchNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const axes = x.ndim === 4 ? [0, 2, 3] : [0];
  const cshape = x.ndim === 4 ? [1, x.shape[1], 1, 1] : [1, x.shape[1]];
  const mu = mean(x, axes, true);
  const d = sub(x, mu);
  const v = mean(square(d), axes, true);
  const xhat = div(d, sqrt(addScalar(v, eps)));
  return add(mul(xhat, reshape(w, cshape)), reshape(b, cshape));
}

test('batchNorm training: hand-computed values and PyTorch running-stat update', () => {
  const x = tensor([[1], [2], [3], [4]]);
  const rm = zeros([1]);
  const rv = ones([1]);
  const y = batchNorm(x, null, null, rm, rv, { training: true });
  const s = Math.sqrt(1.25 + 1e-5); // biased variance of 1..4 is 1.25
  assertClose(y.data, [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-6, 'y');
  assertClose(rm.data, [0.25], 1e-7, 'runningMean'); // 0.9·0 + 0.1·2.5
  assertClose(rv.data, [0.9 + 0.1 * (5 / 3)], 1e-7, 'runningVar'); // unbiased variance 5/3
  batchNorm(x, null, null, rm, rv, { training: true, momentum: 0.5 });
  assertClose(rm.data, [0.5 * 0.25 + 0.5 * 2.5], 1e-7, 'runningMean momentum 0.5');
});

for (const shape of [[6, 3], [4, 3, 5, 4], [3, 2, 1, 1]]) {
  test(`batchNorm training on ${JSON.stringify(shape)} matches the composed oracle, forward and backward`, () => {
    const rng = new Rng(shape.length * 7 + shape[0]);
    const x = randn(shape, 2, rng).requireGrad();
    const w = randn([shape[1]], 1, rng).requireGrad();
    const b = randn([shape[1]], 1, rng).requireGrad();
    const G = randn(shape, 1, rng);
    const y = batchNorm(x, w, b, zeros([shape[1]]), ones([shape[1]]), { training: true, eps: 1e-3 });
    backward(y, G);
    const fused = [x.grad!.data, w.grad!.data, b.grad!.data];
    for (const t of [x, w, b]) t.grad = null;
    const yc = composedBatchNorm(x, w, b, 1e-3);
    assertClose(y.data, yc.data, 1e-5, 'y');
    backward(yc, G);
    assertClose(fused[0], x.grad!.data, 1e-4, 'dx');
    assertClose(fused[1], w.grad!.data, 1e-4, 'dweight');
    assertClose(fused[2], b.grad!.data, 1e-4, 'dbias');
  });
}

test('batchNorm training statistics stay accurate for a large mean offset', () => {
  const x = randn([8, 2, 4, 4], 0.01, new Rng(23));
  for (let i = 0; i < x.size; i++) x.data[i] += 1e4;
  const rv = ones([2]);
  const y = batchNorm(x, null, null, zeros([2]), rv, { training: true, momentum: 1 });
  for (let c = 0; c < 2; c++) {
    const vals: number[] = [];
    for (let b = 0; b < 8; b++) for (let i = 0; i < 16; i++) vals.push(x.data[(b * 2 + c) * 16 + i]);
    const mu = vals.reduce((p, q) => p + q, 0) / vals.length;
    const ss = vals.reduce((p, q) => p + (q - mu) ** 2, 0);
    assert.ok(Math.abs(rv.data[c] - ss / (vals.length - 1)) < 1e-3 * (ss / (vals.length - 1)), `runningVar[${c}]`);
    for (let b = 0; b < 8; b++) {
      for (let i = 0; i < 16; i++) {
        const k = (b * 2 + c) * 16 + i;
        const want = (x.data[k] - mu) / Math.sqrt(ss / vals.length + 1e-5);
        assert.ok(Math.abs(y.data[k] - want) < 1e-3, `y[${k}] ${y.data[k]} vs ${want}`);
      }
    }
  }
});

test('batchNorm training gradient matches finite differences (with and without affine)', () => {
  const rng = new Rng(21);
  const x = randn([3, 2, 3, 3], 1, rng).requireGrad();
  const w = randn([2], 1, rng).requireGrad();
  const b = randn([2], 1, rng).requireGrad();
  const rm = zeros([2]);
  const rv = ones([2]);
  let r = gradCheck((p, q, s) => batchNorm(p, q, s, rm, rv, { training: true }), [x, w, b], { maxPerInput: 32 });
  assert.ok(r.ok, r.worst);
  r = gradCheck((p) => batchNorm(p, null, null, null, null, { training: true }), [x], { maxPerInput: 32 });
  assert.ok(r.ok, r.worst);
});

test('batchNorm eval uses the running stats, leaves them alone, and has the right gradients', () => {
  const rng = new Rng(22);
  const x = randn([2, 3, 2, 2], 1, rng).requireGrad();
  const w = randn([3], 1, rng).requireGrad();
  const b = randn([3], 1, rng).requireGrad();
  const rm = tensor([0.5, -1, 2]);
  const rv = tensor([1, 4, 0.25]);
  const y = batchNorm(x, w, b, rm, rv, { training: false, eps: 0 });
  for (let i = 0; i < x.size; i++) {
    const c = Math.floor(i / 4) % 3;
    const want = ((x.data[i] - rm.data[c]) / Math.sqrt(rv.data[c])) * w.data[c] + b.data[c];
    assert.ok(Math.abs(y.data[i] - want) < 1e-5, `y[${i}]`);
  }
  assert.deepEqual(Array.from(rm.data), [0.5, -1, 2]);
  assert.deepEqual(Array.from(rv.data), [1, 4, 0.25]);
  const r = gradCheck((p, q, s) => batchNorm(p, q, s, rm, rv, { training: false }), [x, w, b]);
  assert.ok(r.ok, r.worst);
  // Eval mode works for a single sample.
  assert.deepEqual(batchNorm(zeros([1, 3]), null, null, rm, rv, { training: false }).shape, [1, 3]);
});

test('batchNorm eval backward uses the statistics of its forward pass', () => {
  const x = tensor([[2], [4]]).requireGrad();
  const rv = full([1], 3);
  const y = batchNorm(x, null, null, zeros([1]), rv, { training: false, eps: 1 });
  rv.data[0] = 99; // a later training step updates the buffer in place
  backward(y, tensor([[1], [1]]));
  assertClose(x.grad!.data, [0.5, 0.5], 1e-7, 'dx');
});

test('batchNorm rejects bad arguments by name', () => {
  const x = zeros([4, 3]);
  const c = (): Tensor => zeros([3]);
  assert.throws(() => batchNorm(zeros([1, 3]), null, null, c(), c(), { training: true }), (e: Error) => e instanceof ShapeError && e.message === 'batchNorm: training needs more than 1 value per channel, got x [1,3]');
  assert.throws(() => batchNorm(x, zeros([2]), null, null, null, { training: true }), (e: Error) => e instanceof ShapeError && e.message === 'batchNorm: weight must have shape [3], got [2]');
  assert.throws(() => batchNorm(x, null, null, c(), null, { training: true }), /batchNorm: give both runningMean and runningVar/);
  assert.throws(() => batchNorm(x, null, null, null, null, { training: false }), (e: Error) => e instanceof ArgumentError && /eval mode/.test(e.message));
  assert.throws(() => batchNorm(x, null, null, null, null, { training: true, momentum: 2 }), /batchNorm: momentum must be in \[0, 1\]/);
  assert.throws(() => batchNorm(zeros([3]), null, null, null, null, { training: true }), (e: Error) => e instanceof ShapeError && e.message.startsWith('batchNorm: x must be'));
  assert.throws(() => batchNorm(x, null, null, null, null, {} as { training: boolean }), /batchNorm: opts.training must be a boolean/);
});

/** Layer norm over the last `k` dims composed from primitive ops. */
function composedLayerNorm(x: Tensor, k: number, w: Tensor | null, b: Tensor | null, eps: number): Tensor {
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  const mu = mean(x, axes, true);
  const d = sub(x, mu);
  let y = div(d, sqrt(addScalar(mean(square(d), axes, true), eps)));
  if (w) y = mul(y, w);
  if (b) y = add(y, b);
  return y;
}

for (const [xs, ns] of [[[4, 6], [6]], [[2, 3, 4, 5], [4, 5]], [[5, 1], [1]]] as const) {
  test(`layerNorm over ${JSON.stringify(ns)} of ${JSON.stringify(xs)} matches the composed oracle and finite differences`, () => {
    const rng = new Rng(xs.length * 3 + ns.length);
    const x = randn([...xs], 2, rng).requireGrad();
    const w = randn([...ns], 1, rng).requireGrad();
    const b = randn([...ns], 1, rng).requireGrad();
    const G = randn([...xs], 1, rng);
    for (const affine of [true, false]) {
      const ww = affine ? w : null;
      const bb = affine ? b : null;
      for (const t of [x, w, b]) t.grad = null;
      const y = layerNorm(x, [...ns], ww, bb, 1e-3);
      backward(y, G);
      const fused = [x.grad!.data, w.grad?.data, b.grad?.data];
      for (const t of [x, w, b]) t.grad = null;
      const yc = composedLayerNorm(x, ns.length, ww, bb, 1e-3);
      assertClose(y.data, yc.data, 1e-5, 'y');
      backward(yc, G);
      assertClose(fused[0]!, x.grad!.data, 1e-4, 'dx');
      if (affine) {
        assertClose(fused[1]!, w.grad!.data, 1e-4, 'dweight');
        assertClose(fused[2]!, b.grad!.data, 1e-4, 'dbias');
      }
    }
    const r = gradCheck((p, q, s) => layerNorm(p, [...ns], q, s), [x, w, b], { maxPerInput: 32 });
    assert.ok(r.ok, r.worst);
  });
}

test('layerNorm rejects bad shapes by name', () => {
  const x = zeros([2, 3]);
  assert.throws(() => layerNorm(x, [2], null, null), (e: Error) => e instanceof ShapeError && e.message === 'layerNorm: normalizedShape [2] does not match the trailing dims of x [2,3]');
  assert.throws(() => layerNorm(x, [1, 2, 3], null, null), ShapeError);
  assert.throws(() => layerNorm(x, [3], zeros([2]), null), (e: Error) => e instanceof ShapeError && e.message === 'layerNorm: weight must have shape [3], got [2]');
  assert.throws(() => layerNorm(x, [], null, null), ArgumentError);
  assert.deepEqual(layerNorm(zeros([0, 3]), [3], null, null).shape, [0, 3]);
});
