// Scalar quantization arithmetic on plain arrays (no autograd, no kernels): symmetric rounding, ranges, per-channel
// weight quantization. Shared by the quantized layers (src/ops/quant.ts), their graph records' ONNX export and the
// quantization driver; the semantics are described in src/ops/quant.ts.
import { ArgumentError, ShapeError } from '../errors.js';

function checkInt(op: string, arg: string, v: unknown, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new ArgumentError(`${op}: ${arg} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  return v;
}

export const MIN_QUANT_BITS = 2;
/** Activations are int8 at most (signed, zero point 0). */
export const MAX_ACT_BITS = 8;
export const MAX_WEIGHT_BITS = 16;

export interface QuantBits {
  actBits: number;
  weightBits: number;
}

/** Round half to even (banker's rounding), as ONNX QuantizeLinear. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d < 0.5) return f;
  if (d > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** Integer range of a signed activation of `bits` bits: [−2^(bits−1), 2^(bits−1) − 1]. */
export function actRange(bits: number): { min: number; max: number } {
  return { min: -(2 ** (bits - 1)), max: 2 ** (bits - 1) - 1 };
}

/** Largest |integer weight| of `bits` bits, symmetric: 2^(bits−1) − 1. */
export const weightMax = (bits: number): number => 2 ** (bits - 1) - 1;

export function checkScale(op: string, s: unknown): number {
  if (typeof s !== 'number' || !Number.isFinite(s) || s <= 0) throw new ArgumentError(`${op}: actScale must be a finite number > 0, got ${String(s)}`);
  return s;
}

/** Per-output-channel symmetric quantization of W [cout, ...]: integer weights (as floats) and their scales. */
export function quantizeWeights(W: Float32Array, cout: number, bits: number): { q: Float32Array; scales: Float32Array } {
  checkInt('quantizeWeights', 'bits', bits, MIN_QUANT_BITS, MAX_WEIGHT_BITS);
  if (cout < 1 || W.length % cout !== 0) throw new ShapeError(`quantizeWeights: ${W.length} weights do not split into ${cout} output channels`);
  const per = W.length / cout;
  const qmax = weightMax(bits);
  const q = new Float32Array(W.length);
  const scales = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(W[i]));
    if (!Number.isFinite(m)) throw new ArgumentError(`quantizeWeights: output channel ${c} has a non-finite weight`);
    const s = m > 0 ? Math.fround(m / qmax) : 1;
    scales[c] = s;
    for (let i = c * per; i < (c + 1) * per; i++) {
      // fround(W / s) can exceed qmax by rounding only at the channel's max; the clamp keeps the range exact.
      q[i] = Math.max(-qmax, Math.min(qmax, roundHalfEven(Math.fround(W[i] / s))));
    }
  }
  return { q, scales };
}

/** xq = clamp(round(fround(x / scale))) as floats holding integers (into `out` when given). */
export function quantizeActivations(x: Float32Array, scale: number, bits: number, out: Float32Array = new Float32Array(x.length)): Float32Array {
  checkScale('quantizeActivations', scale);
  checkInt('quantizeActivations', 'bits', bits, MIN_QUANT_BITS, MAX_ACT_BITS);
  const { min, max } = actRange(bits);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(min, Math.min(max, roundHalfEven(Math.fround(x[i] / scale))));
  return out;
}

/** wq·sw as float32: the dequantized weights every forward pass uses for its gradients (and the ONNX export writes). */
export function dequantizeWeights(q: Float32Array, scales: Float32Array): Float32Array {
  const per = q.length / scales.length;
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scales[Math.floor(i / per)];
  return out;
}
