// Tests for SGD/Adam/AdamW updates, parameter groups, state-dict resume and convergence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, AdamW, SGD, optimizerStateFromTensors, optimizerStateToTensors, type Optimizer, type BaseHyper } from './index.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor, randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, FormatError, ShapeError } from '../errors.js';

// Three fixed gradients for a 2-element parameter starting at [1, -2].
const GRADS = [[0.5, 1.0], [-1.0, 0.25], [0.3, -0.7]];
const P0 = [1.0, -2.0];

function run(make: (ps: Tensor[]) => Optimizer<BaseHyper>, steps = GRADS.length): number[][] {
  const p = tensor(P0).requireGrad();
  const opt = make([p]);
  const out: number[][] = [];
  for (const g of GRADS.slice(0, steps)) {
    p.grad = tensor(g);
    opt.step();
    out.push([...p.f32]);
  }
  return out;
}

function close(got: number[][], want: number[][], tol = 2e-6): void {
  assert.equal(got.length, want.length);
  got.forEach((row, i) =>
    row.forEach((v, j) => assert.ok(Math.abs(v - want[i][j]) <= tol, `step ${i + 1} [${j}]: got ${v}, want ${want[i][j]}`)),
  );
}

// Expected values: derived by hand below for the first steps; all cross-checked against torch.optim
// (torch 1.13, float64) on the same gradients.
test('SGD with momentum and weight decay matches hand-computed steps', () => {
  // step 1: g = [0.5,1] + 0.1·[1,-2] = [0.6,0.8]; buf = g; p = [1,-2] − 0.1·buf = [0.94,-2.08]
  // step 2: g = [-1,0.25] + 0.1·p = [-0.906,0.042]; buf = 0.9·[0.6,0.8] + g = [-0.366,0.762]; p = [0.9766,-2.1562]
  const got = run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 0.1 }));
  close(got, [[0.94, -2.08], [0.9766, -2.1562], [0.969774, -2.133218]]);
});

test('SGD nesterov and dampening match hand-computed steps', () => {
  // nesterov step 1: g = [0.6,0.8], buf = g, d = g + 0.9·buf = [1.14,1.52], p = [0.886,-2.152]
  close(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 })), [
    [0.886, -2.152], [1.010566, -2.223412], [0.964448646, -2.109305972],
  ]);
  // dampening 0.5: buf₁ = g₁ (no dampening on the first step), buf₂ = 0.5·buf₁ + 0.5·g₂ = [0,0.625]
  close(run((ps) => new SGD(ps, { lr: 0.1, momentum: 0.5, dampening: 0.5 })), [[0.95, -2.1], [0.975, -2.1625], [0.9725, -2.15875]]);
  // plain SGD: p − lr·g
  close(run((ps) => new SGD(ps, { lr: 0.5 }), 2), [[0.75, -2.5], [1.25, -2.625]]);
});

test('Adam, Adam with L2 and AdamW match reference steps', () => {
  // Adam step 1 always moves each entry by lr·sign(g) (up to eps): m̂ = g, v̂ = g².
  close(run((ps) => new Adam(ps, { lr: 0.1 })), [
    [0.900000002, -2.099999999], [0.936610354241, -2.183059751228], [0.947377473653, -2.200246419004],
  ]);
  close(run((ps) => new Adam(ps, { lr: 0.1, weightDecay: 0.1 })), [
    [0.900000001667, -2.09999999875], [0.925263519446, -2.170640035577], [0.921979323363, -2.158407285289],
  ]);
  // AdamW step 1: p·(1 − 0.1·0.1) − 0.1·sign(g) = [0.89, -2.08]
  close(run((ps) => new AdamW(ps, { lr: 0.1, weightDecay: 0.1 })), [
    [0.890000002, -2.079999999], [0.917710354221, -2.142259751238], [0.91930037009, -2.138023821502],
  ]);
  assert.equal(new AdamW([tensor([1]).requireGrad()]).paramGroups[0].weightDecay, 0.01);
});

test('parameter groups keep their own lr and weight decay; null grads are skipped', () => {
  const a = tensor([1, 1]).requireGrad();
  const b = tensor([1, 1]).requireGrad();
  const c = tensor([5]).requireGrad();
  const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.5, weightDecay: 1 }, { params: [c] }], { lr: 0.1 });
  a.grad = tensor([1, 2]);
  b.grad = tensor([1, 2]);
  opt.step();
  assert.deepEqual([...a.f32].map((v) => +v.toFixed(6)), [0.9, 0.8]);
  // b: g = [1,2] + 1·[1,1] = [2,3]; p = 1 − 0.5·g
  assert.deepEqual([...b.f32], [0, -0.5]);
  assert.deepEqual([...c.f32], [5]);
  opt.zeroGrad();
  assert.equal(a.grad, null);
  assert.equal(b.grad, null);
});

test('optimizer options are validated', () => {
  const p = (): Tensor => tensor([1]).requireGrad();
  assert.throws(() => new SGD([p()], { lr: -1 }), ArgumentError);
  assert.throws(() => new SGD([p()], { lr: 0.1, nesterov: true }), /nesterov needs momentum > 0/);
  assert.throws(() => new Adam([p()], { betas: [1, 0.9] }), /betas\[0\]/);
  assert.throws(() => new SGD([{ params: [p()], lr: 0.1, momentun: 0.9 } as never], { lr: 0.1 }), /unknown option 'momentun'/);
  const shared = p();
  assert.throws(() => new SGD([{ params: [shared] }, { params: [shared] }], { lr: 0.1 }), /more than one group/);
  assert.throws(() => new Adam([]), ArgumentError);
  // A one-shot generator of params is read once, completely.
  const gen = function* (): Generator<Tensor> {
    yield p();
    yield p();
  };
  assert.equal(new Adam(gen()).numParams, 2);
  const q = p();
  const opt = new Adam([q]);
  q.grad = tensor([1, 2]);
  assert.throws(() => opt.step(), ShapeError);
});

function makeProblem(seed: number): { params: Tensor[]; grads: () => void } {
  const rng = new Rng(seed);
  const params = [randn([3, 4], 1, rng).requireGrad(), randn([5], 1, rng).requireGrad()];
  const grng = new Rng(seed + 1);
  const grads = (): void => {
    for (const p of params) p.grad = randn(p.shape, 1, grng);
  };
  return { params, grads };
}

for (const [name, make] of [
  ['SGD', (ps: Tensor[][]) => new SGD([{ params: ps[0] }, { params: ps[1], lr: 0.02 }], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
  ['Adam', (ps: Tensor[][]) => new Adam([{ params: ps[0] }, { params: ps[1], lr: 0.01 }], { lr: 0.05, weightDecay: 1e-2 })],
  ['AdamW', (ps: Tensor[][]) => new AdamW([{ params: ps[0] }, { params: ps[1], lr: 0.01 }], { lr: 0.05 })],
] as const) {
  test(`${name} state dict round trip resumes bit-exactly`, () => {
    // Reference: 6 uninterrupted steps.
    const ref = makeProblem(7);
    const refOpt = make([[ref.params[0]], [ref.params[1]]]);
    for (let s = 0; s < 6; s++) {
      ref.grads();
      refOpt.step();
    }
    // Interrupted: 3 steps, snapshot (through the tensor-file form), fresh optimizer on copied params, 3 more.
    const run1 = makeProblem(7);
    const opt1 = make([[run1.params[0]], [run1.params[1]]]);
    for (let s = 0; s < 3; s++) {
      run1.grads();
      opt1.step();
    }
    const { meta, tensors } = optimizerStateToTensors(opt1.stateDict());
    const saved = optimizerStateFromTensors(JSON.parse(JSON.stringify(meta)), tensors);
    const params2 = run1.params.map((p) => p.clone().requireGrad());
    const opt2 = make([[params2[0]], [params2[1]]]);
    opt2.loadStateDict(saved);
    assert.equal(opt2.paramGroups[1].lr, opt1.paramGroups[1].lr);
    // Keep drawing the same gradient stream as the reference.
    for (let s = 0; s < 3; s++) {
      run1.grads();
      params2[0].grad = run1.params[0].grad;
      params2[1].grad = run1.params[1].grad;
      opt2.step();
    }
    for (let i = 0; i < 2; i++) assert.deepEqual([...params2[i].f32], [...ref.params[i].f32]);
    // The snapshot was a copy: stepping opt1 further must not change it.
    const before = [...saved.state[0]!.buffers[Object.keys(saved.state[0]!.buffers)[0]].f32];
    run1.grads();
    opt1.step();
    assert.deepEqual([...saved.state[0]!.buffers[Object.keys(saved.state[0]!.buffers)[0]].f32], before);
  });
}

test('loadStateDict rejects a state dict that does not fit', () => {
  const a = tensor([1, 2]).requireGrad();
  const opt = new Adam([a]);
  a.grad = tensor([1, 1]);
  opt.step();
  const sd = opt.stateDict();
  assert.throws(() => new SGD([tensor([1, 2]).requireGrad()], { lr: 0.1 }).loadStateDict(sd), /state dict is for Adam, not SGD/);
  assert.throws(() => new Adam([tensor([1, 2, 3]).requireGrad()]).loadStateDict(sd), ShapeError);
  assert.throws(() => new Adam([tensor([1]).requireGrad(), tensor([1]).requireGrad()]).loadStateDict(sd), FormatError);
  const bad = opt.stateDict();
  bad.paramGroups[0].lr = -3;
  assert.throws(() => new Adam([tensor([1, 2]).requireGrad()]).loadStateDict(bad), ArgumentError);
});

test('Adam converges on an ill-conditioned quadratic', () => {
  // f(x) = Σ c_i (x_i − t_i)², c spanning 3 orders of magnitude.
  const c = [0.01, 0.1, 1, 10];
  const t = [3, -2, 0.5, 1];
  const x = tensor([0, 0, 0, 0]).requireGrad();
  const opt = new Adam([x], { lr: 0.05 });
  const loss = (): number => c.reduce((s, ci, i) => s + ci * (x.f32[i] - t[i]) ** 2, 0);
  const start = loss();
  for (let s = 0; s < 3000; s++) {
    x.grad = new Tensor(Float32Array.from(c.map((ci, i) => 2 * ci * (x.f32[i] - t[i]))), [4]);
    opt.step();
  }
  assert.ok(start > 10);
  assert.ok(loss() < 1e-6, `loss ${loss()}`);
  x.f32.forEach((v, i) => assert.ok(Math.abs(v - t[i]) < 1e-2, `x[${i}] = ${v}, want ${t[i]}`));
});
