// Losses: fused cross-entropy from logits (PyTorch's F.cross_entropy, with label smoothing) and mean squared error.
import { record } from '../autograd/engine.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, sameShape } from '../tensor/tensor.js';
import { checkF32, checkI32, checkNdim, describe } from './util.js';

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** 'mean' (default) over the batch, 'sum', or 'none' for one loss per sample ([N]). */
  reduction?: Reduction;
  /** ε in [0, 1]: the target distribution is (1 − ε)·onehot + ε/C. */
  labelSmoothing?: number;
}

function checkReduction(op: string, r: unknown): Reduction {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') {
    throw new ArgumentError(`${op}: reduction must be 'mean', 'sum' or 'none', got ${describe(r)}`);
  }
  return r;
}

/**
 * Cross-entropy between softmax(logits) [N, C] and integer class targets [N] (int32, each in [0, C)).
 * Forward and backward are fused: per row, loss = lse − (1 − ε)·x[t] − (ε/C)·Σx, and
 * d loss / d x = softmax(x) − q with q the smoothed one-hot target.
 */
export function crossEntropy(logits: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const X = checkF32(op, 'logits', logits);
  const T = checkI32(op, 'target', target);
  checkNdim(op, 'logits', logits, 2, '[N, C]');
  const [N, C] = logits.shape;
  if (target.ndim !== 1 || target.shape[0] !== N) {
    throw new ShapeError(`${op}: target must have shape [${N}] for logits ${fmtShape(logits.shape)}, got ${fmtShape(target.shape)}`);
  }
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const eps = opts.labelSmoothing ?? 0;
  if (typeof eps !== 'number' || !(eps >= 0 && eps <= 1)) {
    throw new ArgumentError(`${op}: labelSmoothing must be in [0, 1], got ${describe(eps)}`);
  }
  if (C === 0 && N > 0) throw new ShapeError(`${op}: logits ${fmtShape(logits.shape)} have no classes`);
  for (let i = 0; i < N; i++) {
    const t = T[i];
    if (t < 0 || t >= C) throw new ArgumentError(`${op}: target[${i}] = ${t} out of range [0, ${C})`);
  }

  // Kept for the backward pass: e = exp(x − rowmax) per element and 1 / Σe per row, so softmax = e / Σe.
  const E = new Float32Array(N * C);
  const invSum = new Float64Array(N);
  const losses = new Float64Array(N);
  const onW = 1 - eps;
  const allW = eps / C;
  for (let i = 0; i < N; i++) {
    const base = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) if (X[base + c] > m) m = X[base + c];
    let s = 0;
    let sx = 0;
    for (let c = 0; c < C; c++) {
      const v = X[base + c];
      const e = Math.exp(v - m);
      E[base + c] = e;
      s += e;
      sx += v;
    }
    invSum[i] = 1 / s;
    const lse = m + Math.log(s);
    losses[i] = lse - onW * X[base + T[i]] - (eps > 0 ? allW * sx : 0);
  }

  let out: Tensor;
  if (reduction === 'none') {
    out = new Tensor(Float32Array.from(losses), [N]);
  } else {
    let total = 0;
    for (let i = 0; i < N; i++) total += losses[i];
    out = new Tensor(Float32Array.of(reduction === 'mean' ? total / N : total), []);
  }

  return record(out, op, [logits], (g) => {
    const G = g.f32;
    const D = new Float32Array(N * C);
    for (let i = 0; i < N; i++) {
      const scale = reduction === 'none' ? G[i] : reduction === 'mean' ? G[0] / N : G[0];
      const base = i * C;
      const k = scale * invSum[i];
      const off = scale * allW;
      for (let c = 0; c < C; c++) D[base + c] = E[base + c] * k - off;
      D[base + T[i]] -= scale * onW;
    }
    return [new Tensor(D, logits.shape)];
  });
}

/** Mean squared error between same-shaped tensors (reduction 'mean' by default, as in PyTorch). */
export function mseLoss(a: Tensor, b: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const op = 'mseLoss';
  const A = checkF32(op, 'a', a);
  const B = checkF32(op, 'b', b);
  if (!sameShape(a.shape, b.shape)) throw new ShapeError(`${op}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} differ`);
  const reduction = checkReduction(op, opts.reduction ?? 'mean');
  const n = A.length;
  let out: Tensor;
  if (reduction === 'none') {
    const Y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const d = A[i] - B[i];
      Y[i] = d * d;
    }
    out = new Tensor(Y, a.shape);
  } else {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const d = A[i] - B[i];
      s += d * d;
    }
    out = new Tensor(Float32Array.of(reduction === 'mean' ? s / n : s), []);
  }
  return record(out, op, [a, b], (g) => {
    const G = g.f32;
    const Da = new Float32Array(n);
    const k = reduction === 'mean' ? (2 * G[0]) / n : 2 * G[0];
    for (let i = 0; i < n; i++) Da[i] = (reduction === 'none' ? 2 * G[i] : k) * (A[i] - B[i]);
    let Db: Float32Array | null = null;
    if (b.requiresGrad) {
      Db = new Float32Array(n);
      for (let i = 0; i < n; i++) Db[i] = -Da[i];
    }
    return [a.requiresGrad ? new Tensor(Da, a.shape) : null, Db ? new Tensor(Db, b.shape) : null];
  });
}
