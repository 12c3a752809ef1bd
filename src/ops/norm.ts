// Batch norm (train/eval, running stats updated in place) and layer norm, with fused closed-form backward passes.
import { record } from '../autograd/engine.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { checkF32, describe } from './util.js';

export interface BatchNormOptions {
  /** Batch statistics (and running-stat updates) when true; running statistics when false. */
  training: boolean;
  /** Weight of the new batch statistic in the running average (PyTorch convention), default 0.1. */
  momentum?: number;
  eps?: number;
}

function checkChannelVec(op: string, arg: string, t: Tensor | null, c: number): Float32Array | null {
  if (t === null || t === undefined) return null;
  const d = checkF32(op, arg, t);
  if (t.ndim !== 1 || t.shape[0] !== c) throw new ShapeError(`${op}: ${arg} must have shape [${c}], got ${fmtShape(t.shape)}`);
  return d;
}

/**
 * Batch normalisation over channel axis 1 of x [N, C] or [N, C, ...spatial] (e.g. [N, C, H, W]).
 * Training: normalises with the batch mean and biased variance, then updates runningMean/runningVar in place
 * (r ← (1 − momentum)·r + momentum·stat, the variance stat being unbiased). Eval: uses the running statistics.
 * weight (γ) and bias (β) are [C] or null (γ = 1, β = 0).
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: BatchNormOptions,
): Tensor {
  const op = 'batchNorm';
  const X = checkF32(op, 'x', x);
  if (x.ndim < 2) throw new ShapeError(`${op}: x must be [N, C] or [N, C, ...spatial], got ${fmtShape(x.shape)}`);
  if (opts === null || typeof opts !== 'object' || typeof opts.training !== 'boolean') {
    throw new ArgumentError(`${op}: opts.training must be a boolean, got ${describe(opts?.training)}`);
  }
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  if (typeof momentum !== 'number' || !(momentum >= 0 && momentum <= 1)) {
    throw new ArgumentError(`${op}: momentum must be in [0, 1], got ${describe(momentum)}`);
  }
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) {
    throw new ArgumentError(`${op}: eps must be a finite number >= 0, got ${describe(eps)}`);
  }
  const N = x.shape[0];
  const C = x.shape[1];
  const gamma = checkChannelVec(op, 'weight', weight, C);
  const beta = checkChannelVec(op, 'bias', bias, C);
  const rMean = checkChannelVec(op, 'runningMean', runningMean, C);
  const rVar = checkChannelVec(op, 'runningVar', runningVar, C);
  if ((rMean === null) !== (rVar === null)) throw new ArgumentError(`${op}: give both runningMean and runningVar, or neither`);
  const training = opts.training;
  if (!training && rMean === null) throw new ArgumentError(`${op}: eval mode (training: false) needs runningMean and runningVar`);
  let S = 1; // contiguous plane length: the spatial size of one (sample, channel)
  for (let d = 2; d < x.ndim; d++) S *= x.shape[d];
  const M = N * S; // values per channel
  if (training && M <= 1) {
    throw new ShapeError(`${op}: training needs more than 1 value per channel, got x ${fmtShape(x.shape)}`);
  }

  const mean = new Float64Array(C); // per channel: the mean used for normalisation
  const invstd = new Float64Array(C);
  const cs = C * S; // distance between two samples' planes of the same channel
  if (training) {
    for (let c = 0; c < C; c++) {
      // One pass of float64 sums shifted by the channel's first value k (no cancellation when |mean| >> std).
      const k = X[c * S];
      let s = 0;
      let q = 0;
      for (let b = 0; b < N; b++) {
        const base = b * cs + c * S;
        const end = base + S;
        for (let i = base; i < end; i++) {
          const d = X[i] - k;
          s += d;
          q += d * d;
        }
      }
      const mu = k + s / M;
      const ss = Math.max(q - (s * s) / M, 0); // Σ (x − μ)²
      mean[c] = mu;
      invstd[c] = 1 / Math.sqrt(ss / M + eps);
      if (rMean && rVar) {
        rMean[c] = (1 - momentum) * rMean[c] + momentum * mu;
        rVar[c] = (1 - momentum) * rVar[c] + momentum * (ss / (M - 1));
      }
    }
  } else if (rMean && rVar) {
    for (let c = 0; c < C; c++) {
      mean[c] = rMean[c];
      invstd[c] = 1 / Math.sqrt(rVar[c] + eps);
    }
  }

  const Y = new Float32Array(X.length);
  for (let c = 0; c < C; c++) {
    const a = (gamma ? gamma[c] : 1) * invstd[c];
    const sh = (beta ? beta[c] : 0) - mean[c] * a;
    for (let b = 0; b < N; b++) {
      const base = b * cs + c * S;
      const end = base + S;
      for (let i = base; i < end; i++) Y[i] = X[i] * a + sh;
    }
  }

  const inputs = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  return record(new Tensor(Y, x.shape), op, inputs, (g) => {
    const G = g.f32;
    const dX = x.requiresGrad ? new Float32Array(X.length) : null;
    const dG = weight && weight.requiresGrad ? new Float32Array(C) : null;
    const dB = bias && bias.requiresGrad ? new Float32Array(C) : null;
    for (let c = 0; c < C; c++) {
      const mu = mean[c];
      const is = invstd[c];
      let sg = 0; // Σ g
      let sgx = 0; // Σ g·(x − μ)
      for (let b = 0; b < N; b++) {
        const base = b * cs + c * S;
        const end = base + S;
        for (let i = base; i < end; i++) {
          const gv = G[i];
          sg += gv;
          sgx += gv * (X[i] - mu);
        }
      }
      if (dG) dG[c] = sgx * is;
      if (dB) dB[c] = sg;
      if (!dX) continue;
      const k1 = (gamma ? gamma[c] : 1) * is;
      // Training: dx = γ·σ⁻¹·(g − Σg/M − (x − μ)·σ⁻²·Σg(x − μ)/M) = A·g + B·x + K. Eval: dx = γ·σ⁻¹·g.
      let A = k1;
      let B = 0;
      let K = 0;
      if (training) {
        const k3 = (is * is * sgx) / M;
        A = k1;
        B = -k1 * k3;
        K = k1 * (k3 * mu - sg / M);
      }
      for (let b = 0; b < N; b++) {
        const base = b * cs + c * S;
        const end = base + S;
        for (let i = base; i < end; i++) dX[i] = A * G[i] + B * X[i] + K;
      }
    }
    const out: (Tensor | null)[] = [dX ? new Tensor(dX, x.shape) : null];
    if (weight) out.push(dG ? new Tensor(dG, [C]) : null);
    if (bias) out.push(dB ? new Tensor(dB, [C]) : null);
    return out;
  });
}

/**
 * Layer normalisation over the trailing dims `normalizedShape` of x (biased variance, float64 statistics);
 * weight and bias, when given, have shape `normalizedShape`.
 */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const op = 'layerNorm';
  const X = checkF32(op, 'x', x);
  if (!Array.isArray(normalizedShape) || normalizedShape.length === 0) {
    throw new ArgumentError(`${op}: normalizedShape must be a non-empty array of dims, got ${describe(normalizedShape)}`);
  }
  const k = normalizedShape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k > x.ndim || tail.some((d, i) => d !== normalizedShape[i])) {
    throw new ShapeError(`${op}: normalizedShape ${fmtShape(normalizedShape)} does not match the trailing dims of x ${fmtShape(x.shape)}`);
  }
  if (typeof eps !== 'number' || !(eps >= 0) || !Number.isFinite(eps)) {
    throw new ArgumentError(`${op}: eps must be a finite number >= 0, got ${describe(eps)}`);
  }
  const D = normalizedShape.reduce((p, q) => p * q, 1);
  const check = (arg: string, t: Tensor | null): Float32Array | null => {
    if (t === null || t === undefined) return null;
    const d = checkF32(op, arg, t);
    if (t.ndim !== k || t.shape.some((v, i) => v !== normalizedShape[i])) {
      throw new ShapeError(`${op}: ${arg} must have shape ${fmtShape(normalizedShape)}, got ${fmtShape(t.shape)}`);
    }
    return d;
  };
  const gamma = check('weight', weight);
  const beta = check('bias', bias);
  const rows = D === 0 ? 0 : X.length / D;

  const mean = new Float64Array(rows);
  const invstd = new Float64Array(rows);
  const Y = new Float32Array(X.length);
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    let s = 0;
    for (let i = 0; i < D; i++) s += X[base + i];
    const mu = s / D;
    let v = 0;
    for (let i = 0; i < D; i++) {
      const d = X[base + i] - mu;
      v += d * d;
    }
    const is = 1 / Math.sqrt(v / D + eps);
    mean[r] = mu;
    invstd[r] = is;
    if (gamma && beta) for (let i = 0; i < D; i++) Y[base + i] = (X[base + i] - mu) * is * gamma[i] + beta[i];
    else if (gamma) for (let i = 0; i < D; i++) Y[base + i] = (X[base + i] - mu) * is * gamma[i];
    else if (beta) for (let i = 0; i < D; i++) Y[base + i] = (X[base + i] - mu) * is + beta[i];
    else for (let i = 0; i < D; i++) Y[base + i] = (X[base + i] - mu) * is;
  }

  const inputs = [x];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  return record(new Tensor(Y, x.shape), op, inputs, (g) => {
    const G = g.f32;
    const dX = x.requiresGrad ? new Float32Array(X.length) : null;
    const dG = weight && weight.requiresGrad ? new Float64Array(D) : null;
    const dB = bias && bias.requiresGrad ? new Float64Array(D) : null;
    for (let r = 0; r < rows; r++) {
      const base = r * D;
      const mu = mean[r];
      const is = invstd[r];
      if (dG) for (let i = 0; i < D; i++) dG[i] += G[base + i] * (X[base + i] - mu) * is;
      if (dB) for (let i = 0; i < D; i++) dB[i] += G[base + i];
      if (!dX) continue;
      // With gh = g·γ and x̂ = (x − μ)·σ⁻¹: dx = σ⁻¹·(gh − Σgh/D − x̂·Σ(gh·x̂)/D).
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < D; i++) {
        const gh = gamma ? G[base + i] * gamma[i] : G[base + i];
        s1 += gh;
        s2 += gh * (X[base + i] - mu) * is;
      }
      const m1 = s1 / D;
      const m2 = s2 / D;
      for (let i = 0; i < D; i++) {
        const gh = gamma ? G[base + i] * gamma[i] : G[base + i];
        dX[base + i] = is * (gh - m1 - (X[base + i] - mu) * is * m2);
      }
    }
    const out: (Tensor | null)[] = [dX ? new Tensor(dX, x.shape) : null];
    if (weight) out.push(dG ? new Tensor(Float32Array.from(dG), weight.shape) : null);
    if (bias) out.push(dB ? new Tensor(Float32Array.from(dB), bias.shape) : null);
    return out;
  });
}
