// ONNX export in onnxruntime's dynamic int8 form (what onnxruntime.quantization.quantize_dynamic writes for a dense
// model), used by the Linear, MatMul-by-a-constant and Conv records when exportOnnx runs with `dynamicInt8`.
// Weights: symmetric int8 in [-127, 127], zero point 0, scale = max|w| / 127 (per tensor, quantize_dynamic's default,
// or per output channel), rounded half to even as numpy does. Activations: DynamicQuantizeLinear at run time (uint8,
// scale and zero point from the tensor's min and max). Then MatMulInteger / ConvInteger (int32) → Cast (float) →
// Mul by (x_scale · w_scale) → Add the float bias: the pattern onnxruntime fuses into its integer kernels.
// One difference from quantize_dynamic: it leaves Gemm in float; lutnn writes a 2-D Linear as MatMulInteger too, so
// every Linear of the model is int8 (the baseline is not weakened by a float layer ORT would have kept).
import type { OnnxEmitter } from './op.js';

/** How exportOnnx's dynamicInt8 option quantizes weights: one scale per tensor, or one per output channel. */
export interface DynamicInt8Options {
  perChannel: boolean;
}

const ONNX_FLOAT = 1; // TensorProto.FLOAT, Cast's `to`

/** Round half to even (numpy's round, which quantize_dynamic uses). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Symmetric int8 quantization of `w`, with `groups` scales: element i belongs to group `group(i)`.
 * Returns the int8 values and the scales (1 for an all-zero group, as onnxruntime does).
 */
export function quantizeSymmetric(w: Float32Array, groups: number, group: (i: number) => number): { q: Int8Array; scales: Float32Array } {
  const absmax = new Float32Array(groups);
  for (let i = 0; i < w.length; i++) {
    const a = Math.abs(w[i]);
    const g = group(i);
    if (a > absmax[g]) absmax[g] = a;
  }
  const scales = new Float32Array(groups);
  for (let g = 0; g < groups; g++) scales[g] = absmax[g] > 0 ? absmax[g] / 127 : 1;
  const q = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) q[i] = Math.max(-127, Math.min(127, roundEven(w[i] / scales[group(i)])));
  return { q, scales };
}

/** DynamicQuantizeLinear of x: [x_q (uint8), x_scale, x_zero_point]. */
function quantizeActivation(e: OnnxEmitter, x: string, scope: string): [string, string, string] {
  const [q, s, z] = e.node('DynamicQuantizeLinear', [x], scope, {}, 3);
  return [q, s, z];
}

/** Cast(int32 → float) · (x_scale · w_scale): the float result of an integer product. */
function rescale(e: OnnxEmitter, acc: string, xScale: string, wScale: string, scope: string): string {
  const f = e.one('Cast', [acc], scope, { to: ONNX_FLOAT });
  const s = e.one('Mul', [xScale, wScale], scope);
  return e.one('Mul', [f, s], scope);
}

/**
 * x [..., K] · W [K, M] (+ bias) in the dynamic int8 form. `wKM` is the float weight [K, M] (row-major); per channel
 * means one scale per output column m. `bias` is an ONNX value name of [M] floats, or ''.
 */
export function dynamicInt8MatMul(e: OnnxEmitter, x: string, wKM: Float32Array, K: number, M: number, bias: string, scope: string, o: DynamicInt8Options): string {
  const { q, scales } = o.perChannel ? quantizeSymmetric(wKM, M, (i) => i % M) : quantizeSymmetric(wKM, 1, () => 0);
  const wq = e.init(`${scope}.weight_quantized`, 'int8', [K, M], q);
  const n = scales.length;
  const wScale = o.perChannel ? e.f32(`${scope}.weight_scale`, scales, [n]) : e.f32(`${scope}.weight_scale`, scales, []);
  const wZero = e.init(`${scope}.weight_zero_point`, 'int8', [], new Int8Array(1)); // symmetric: 0 for every channel
  const [xq, xs, xz] = quantizeActivation(e, x, scope);
  const acc = e.one('MatMulInteger', [xq, wq, xz, wZero], scope);
  const y = rescale(e, acc, xs, wScale, scope);
  return bias ? e.one('Add', [y, bias], scope) : y;
}

/**
 * conv(x, W [Cout, Cin/g, kh, kw]) (+ bias [Cout]) in the dynamic int8 form (ConvInteger); per channel means one scale
 * per output channel. `bias` is the float bias values or null.
 */
export function dynamicInt8Conv(
  e: OnnxEmitter,
  x: string,
  w: Float32Array,
  dims: readonly number[],
  bias: Float32Array | null,
  attrs: Record<string, number | number[]>,
  scope: string,
  o: DynamicInt8Options,
): string {
  const cout = dims[0];
  const per = w.length / cout;
  const { q, scales } = o.perChannel ? quantizeSymmetric(w, cout, (i) => Math.floor(i / per)) : quantizeSymmetric(w, 1, () => 0);
  const wq = e.init(`${scope}.weight_quantized`, 'int8', dims, q);
  // The scale broadcasts as [Cout, 1, 1]. The zero point is one scalar 0 even per channel (symmetric weights): the
  // same values, and onnxruntime's ConvInteger refuses a per-channel zero point tensor ("not supported now").
  const wScale = o.perChannel ? e.f32(`${scope}.weight_scale`, scales, [cout, 1, 1]) : e.f32(`${scope}.weight_scale`, scales, []);
  const wZero = e.init(`${scope}.weight_zero_point`, 'int8', [], new Int8Array(1));
  const [xq, xs, xz] = quantizeActivation(e, x, scope);
  const acc = e.one('ConvInteger', [xq, wq, xz, wZero], scope, attrs);
  const y = rescale(e, acc, xs, wScale, scope);
  return bias ? e.one('Add', [y, e.f32(`${scope}.bias_reshaped`, bias, [cout, 1, 1])], scope) : y;
}
