// Batch norm folding arithmetic shared by the runtime's planner and the deployment-file writer (one rounding, one place).
import { ShapeError } from '../errors.js';

/**
 * Eval batch norm as a per-channel affine map y = x·s + t, in float64: s = γ/√(var + ε), t = β − mean·s (γ = 1 and
 * β = 0 when absent). All arrays hold C floats.
 */
export function batchNormAffine(gamma: Float32Array | null, beta: Float32Array | null, mean: Float32Array, variance: Float32Array, eps: number): { s: Float64Array; t: Float64Array } {
  const C = mean.length;
  const s = new Float64Array(C);
  const t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    s[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + eps);
    t[c] = (beta ? beta[c] : 0) - mean[c] * s[c];
  }
  return { s, t };
}

/**
 * Folds y·s + t (per output channel) into a dense conv: `weight` [Cout, ...] is scaled in place (each element
 * rounded to float32 once), and the new bias f32(b·s + t) is returned (b = 0 when `bias` is null).
 */
export function foldAffineIntoConv(weight: Float32Array, cout: number, bias: Float32Array | null, s: Float64Array, t: Float64Array): Float32Array {
  if (s.length !== cout || t.length !== cout || weight.length % cout !== 0 || (bias && bias.length !== cout)) {
    throw new ShapeError(`foldAffineIntoConv: ${cout} output channels vs weight of ${weight.length} floats, ${s.length} scales, ${t.length} shifts${bias ? `, bias of ${bias.length}` : ''}`);
  }
  const kc = weight.length / cout;
  for (let co = 0; co < cout; co++) for (let i = co * kc; i < (co + 1) * kc; i++) weight[i] = weight[i] * s[co];
  const shift = new Float32Array(cout);
  for (let co = 0; co < cout; co++) shift[co] = (bias ? bias[co] : 0) * s[co] + t[co];
  return shift;
}
