// Tests for distillationLoss: a float64 reference value, the alpha = 0 and alpha = 1 ends, gradients, input checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { crossEntropy } from '../ops/loss.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { distillationLoss } from './distill.js';

function softmax64(row: number[], T: number): number[] {
  const m = Math.max(...row.map((v) => v / T));
  const e = row.map((v) => Math.exp(v / T - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** (1 − α)·CE + α·T²·mean KL(p_t ‖ p_s), in float64. */
function reference(S: number[][], Tt: number[][], y: number[], alpha: number, T: number): number {
  let ce = 0;
  let kl = 0;
  for (let n = 0; n < S.length; n++) {
    ce -= Math.log(softmax64(S[n], 1)[y[n]]);
    const ps = softmax64(S[n], T);
    const pt = softmax64(Tt[n], T);
    for (let c = 0; c < ps.length; c++) kl += pt[c] * (Math.log(pt[c]) - Math.log(ps[c]));
  }
  return ((1 - alpha) * ce) / S.length + (alpha * T * T * kl) / S.length;
}

const rows = (t: { data: ArrayLike<number>; shape: readonly number[] }): number[][] => {
  const [N, C] = t.shape;
  return Array.from({ length: N }, (_, n) => Array.from({ length: C }, (_, c) => t.data[n * C + c]));
};

test('distillationLoss equals a float64 reference for several alpha and T', () => {
  const rng = new Rng(5);
  const s = randn([6, 5], 1.5, rng);
  const t = randn([6, 5], 1.5, rng);
  const y = tensor([0, 4, 2, 1, 3, 2], [6], 'int32');
  for (const [alpha, T] of [[0.5, 2], [0.9, 4], [1, 1], [0.3, 0.5]]) {
    const got = distillationLoss(s, t, y, { alpha, temperature: T }).item();
    const want = reference(rows(s), rows(t), [0, 4, 2, 1, 3, 2], alpha, T);
    assert.ok(Math.abs(got - want) < 1e-5 * Math.max(1, Math.abs(want)), `alpha ${alpha} T ${T}: ${got} vs ${want}`);
  }
  // alpha = 0 is plain cross-entropy; a teacher equal to the student adds nothing at alpha = 1.
  assert.equal(distillationLoss(s, t, y, { alpha: 0, temperature: 3 }).item(), crossEntropy(s, y).item());
  assert.ok(Math.abs(distillationLoss(s, s, y, { alpha: 1, temperature: 3 }).item()) < 1e-6);
});

test('distillationLoss gradient matches finite differences and flows only to the student', () => {
  const rng = new Rng(9);
  const s = randn([4, 7], 1.5, rng).requireGrad();
  const t = randn([4, 7], 1.5, rng).requireGrad();
  const y = tensor([6, 0, 3, 3], [4], 'int32');
  const r = gradCheck((x) => distillationLoss(x, t, y, { alpha: 0.7, temperature: 2.5 }), [s]);
  assert.ok(r.ok, `worst ${r.worst}`);
  const loss = distillationLoss(s, t, y, { alpha: 0.7, temperature: 2.5 });
  backward(loss);
  assert.equal(t.grad, null);
  assert.ok(s.grad !== null);
});

test('distillationLoss rejects bad options and mismatched shapes', () => {
  const s = randn([2, 3], 1, new Rng(1));
  const y = tensor([0, 1], [2], 'int32');
  assert.throws(() => distillationLoss(s, s, y, { alpha: 1.5, temperature: 1 }), ArgumentError);
  assert.throws(() => distillationLoss(s, s, y, { alpha: 0.5, temperature: 0 }), /temperature must be a finite number > 0, got number 0/);
  assert.throws(() => distillationLoss(s, randn([2, 4], 1, new Rng(2)), y, { alpha: 0.5, temperature: 1 }), ShapeError);
});
