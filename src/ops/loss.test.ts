import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossEntropy, mseLoss } from './loss.js';
import { logSoftmax } from './softmax.js';
import { mul, mulScalar } from './arith.js';
import { sum } from './reduce.js';
import { backward } from '../autograd/engine.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';

const labels = (v: number[]): Tensor => tensor(v, [v.length], 'int32');

/** Per-sample −Σ q·log p with q = (1 − ε)·onehot + ε/C, composed from the logSoftmax op. */
function reference(logits: Tensor, target: Tensor, eps: number): number[] {
  const [N, C] = logits.shape;
  const lp = logSoftmax(logits).data;
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    let l = 0;
    for (let c = 0; c < C; c++) l -= ((c === target.data[i] ? 1 - eps : 0) + eps / C) * lp[i * C + c];
    out.push(l);
  }
  return out;
}

test('crossEntropy on a hand-computed example', () => {
  // −log(e³ / (e + e² + e³)) = 0.40760596444437...
  const l = crossEntropy(tensor([[1, 2, 3]]), labels([2]));
  assert.deepEqual(l.shape, []);
  assert.ok(Math.abs(l.item() - 0.40760596444437) < 1e-6);
  // With ε = 0.1: (0.9 + 0.1/3)·0.4076 + (0.1/3)·(2.4076 + 1.4076) = 0.50760596...
  const s = crossEntropy(tensor([[1, 2, 3]]), labels([2]), { labelSmoothing: 0.1 });
  assert.ok(Math.abs(s.item() - 0.5076059644443) < 1e-6, `${s.item()}`);
});

test('crossEntropy matches the composed log-softmax reference for every reduction', () => {
  const logits = randn([6, 5], 3, new Rng(8));
  const target = labels([0, 4, 2, 2, 1, 3]);
  for (const eps of [0, 0.25]) {
    const ref = reference(logits, target, eps);
    const none = crossEntropy(logits, target, { reduction: 'none', labelSmoothing: eps });
    assert.deepEqual(none.shape, [6]);
    ref.forEach((v, i) => assert.ok(Math.abs(none.data[i] - v) < 1e-5, `none[${i}]`));
    const total = ref.reduce((p, q) => p + q, 0);
    assert.ok(Math.abs(crossEntropy(logits, target, { reduction: 'sum', labelSmoothing: eps }).item() - total) < 1e-4);
    assert.ok(Math.abs(crossEntropy(logits, target, { labelSmoothing: eps }).item() - total / 6) < 1e-5);
  }
  // Huge logits stay finite.
  assert.ok(Number.isFinite(crossEntropy(tensor([[1e4, -1e4, 0]]), labels([1])).item()));
});

test('crossEntropy fused backward equals the composed −Σ q·logSoftmax oracle', () => {
  const rng = new Rng(12);
  const x = randn([5, 6], 2, rng).requireGrad();
  const target = labels([5, 0, 3, 3, 1]);
  for (const eps of [0, 0.3]) {
    const q = zeros([5, 6]);
    for (let i = 0; i < 5; i++) for (let c = 0; c < 6; c++) q.data[i * 6 + c] = (c === target.data[i] ? 1 - eps : 0) + eps / 6;
    x.grad = null;
    const fused = crossEntropy(x, target, { labelSmoothing: eps });
    backward(fused);
    const gf = Float32Array.from(x.grad!.data);
    x.grad = null;
    const composed = mulScalar(sum(mul(logSoftmax(x), q)), -1 / 5);
    backward(composed);
    assert.ok(Math.abs(fused.item() - composed.item()) < 1e-5);
    gf.forEach((v, i) => assert.ok(Math.abs(v - x.grad!.data[i]) < 1e-6, `grad[${i}] ${v} vs ${x.grad!.data[i]}`));
  }
});

for (const reduction of ['mean', 'sum', 'none'] as const) {
  for (const labelSmoothing of [0, 0.2]) {
    test(`crossEntropy gradient (${reduction}, labelSmoothing ${labelSmoothing})`, () => {
      const logits = randn([4, 5], 1.5, new Rng(9)).requireGrad();
      const target = labels([1, 0, 4, 1]);
      const r = gradCheck((x) => crossEntropy(x, target, { reduction, labelSmoothing }), [logits]);
      assert.ok(r.ok, r.worst);
    });
  }
}

test('crossEntropy validates targets, shapes and options by name', () => {
  const x = zeros([2, 3]);
  assert.throws(() => crossEntropy(x, labels([0, 3])), (e: Error) => e instanceof ArgumentError && e.message === 'crossEntropy: target[1] = 3 out of range [0, 3)');
  assert.throws(() => crossEntropy(x, labels([-1, 0])), ArgumentError);
  assert.throws(() => crossEntropy(x, tensor([0, 1])), (e: Error) => e instanceof DTypeError && e.message === 'crossEntropy: target must be int32, got float32');
  assert.throws(() => crossEntropy(x, labels([0])), (e: Error) => e instanceof ShapeError && e.message.includes('target must have shape [2]'));
  assert.throws(() => crossEntropy(zeros([2, 3, 1]), labels([0, 1])), ShapeError);
  assert.throws(() => crossEntropy(x, labels([0, 1]), { labelSmoothing: 1.5 }), ArgumentError);
  assert.throws(() => crossEntropy(x, labels([0, 1]), { reduction: 'avg' as 'mean' }), /crossEntropy: reduction/);
});

test('crossEntropy on an empty batch: sum 0, mean NaN (as PyTorch)', () => {
  const x = zeros([0, 4]).requireGrad();
  assert.equal(crossEntropy(x, labels([]), { reduction: 'sum' }).item(), 0);
  assert.ok(Number.isNaN(crossEntropy(x, labels([])).item()));
  assert.deepEqual(crossEntropy(x, labels([]), { reduction: 'none' }).shape, [0]);
});

test('mseLoss values, reductions and gradients for both inputs', () => {
  const a = tensor([[1, 2], [3, 4]]);
  const b = tensor([[1, 0], [5, 4]]);
  assert.equal(mseLoss(a, b).item(), 2);
  assert.equal(mseLoss(a, b, { reduction: 'sum' }).item(), 8);
  assert.deepEqual(mseLoss(a, b, { reduction: 'none' }).toArray(), [[0, 4], [4, 0]]);
  const rng = new Rng(10);
  const x = randn([3, 4], 1, rng).requireGrad();
  const y = randn([3, 4], 1, rng).requireGrad();
  test('crossEntropy fused backward equals the composed −Σ q·logSoftmax oracle', () => {
  const rng = new Rng(12);
  const x = randn([5, 6], 2, rng).requireGrad();
  const target = labels([5, 0, 3, 3, 1]);
  for (const eps of [0, 0.3]) {
    const q = zeros([5, 6]);
    for (let i = 0; i < 5; i++) for (let c = 0; c < 6; c++) q.data[i * 6 + c] = (c === target.data[i] ? 1 - eps : 0) + eps / 6;
    x.grad = null;
    const fused = crossEntropy(x, target, { labelSmoothing: eps });
    backward(fused);
    const gf = Float32Array.from(x.grad!.data);
    x.grad = null;
    const composed = mulScalar(sum(mul(logSoftmax(x), q)), -1 / 5);
    backward(composed);
    assert.ok(Math.abs(fused.item() - composed.item()) < 1e-5);
    gf.forEach((v, i) => assert.ok(Math.abs(v - x.grad!.data[i]) < 1e-6, `grad[${i}] ${v} vs ${x.grad!.data[i]}`));
  }
});

for (const reduction of ['mean', 'sum', 'none'] as const) {
    const r = gradCheck((p, q) => mseLoss(p, q, { reduction }), [x, y]);
    assert.ok(r.ok, `${reduction}: ${r.worst}`);
  }
  assert.throws(() => mseLoss(a, tensor([1, 2])), (e: Error) => e instanceof ShapeError && e.message === 'mseLoss: shapes [2,2] and [2] differ');
});
