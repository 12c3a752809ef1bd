// Finite-difference gradient checking: compares autograd gradients with central differences in float64 sums.
import { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/rng.js';
import { backward, noGrad } from './engine.js';

export interface GradCheckResult {
  ok: boolean;
  /** Worst |analytic − numeric| / max(atol-scale, |numeric|) over checked entries. */
  maxRelErr: number;
  /** Human-readable location of the worst entry. */
  worst: string;
}

export interface GradCheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many entries per input (randomly chosen, seeded). */
  maxPerInput?: number;
  seed?: number;
}

/**
 * Checks d(sum(f(inputs) * R))/d(input) for a fixed random R against central differences.
 * `inputs` must be float32 leaves with requiresGrad set for the ones to check.
 */
export function gradCheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): GradCheckResult {
  const eps = opts.eps ?? 1e-2;
  const atol = opts.atol ?? 1e-3;
  const rtol = opts.rtol ?? 1e-2;
  const rng = new Rng(opts.seed ?? 1234);
  for (const x of inputs) x.grad = null;

  const out = f(...inputs);
  const R = new Float64Array(out.size);
  for (let i = 0; i < R.length; i++) R[i] = rng.uniform(-1, 1);
  const lossOf = (t: Tensor): number => {
    const d = t.f32;
    let s = 0;
    for (let i = 0; i < d.length; i++) s += d[i] * R[i];
    return s;
  };
  backward(out, new Tensor(Float32Array.from(R), out.shape));

  let maxRelErr = 0;
  let worst = '';
  let ok = true;
  inputs.forEach((x, xi) => {
    if (!x.requiresGrad) return;
    const data = x.f32;
    const analytic = x.grad ? x.grad.f32 : new Float32Array(data.length);
    const n = data.length;
    const limit = opts.maxPerInput ?? 64;
    const idxs = n <= limit ? [...Array(n).keys()] : Array.from({ length: limit }, () => rng.int(n));
    for (const i of idxs) {
      const orig = data[i];
      data[i] = orig + eps;
      const lp = noGrad(() => lossOf(f(...inputs)));
      data[i] = orig - eps;
      const lm = noGrad(() => lossOf(f(...inputs)));
      data[i] = orig;
      const numeric = (lp - lm) / (2 * eps);
      const err = Math.abs(analytic[i] - numeric);
      const tol = atol + rtol * Math.abs(numeric);
      const rel = err / Math.max(Math.abs(numeric), atol / rtol);
      if (rel > maxRelErr) {
        maxRelErr = rel;
        worst = `input ${xi} [${i}]: analytic ${analytic[i]} vs numeric ${numeric}`;
      }
      if (err > tol) ok = false;
    }
  });
  return { ok, maxRelErr, worst };
}
