// Scalar quantization primitives: symmetric rounding, per-channel weight scales, and the quantized conv / linear layers
// (exact integer accumulation forward, straight-through gradients backward).
//
// Quantization (symmetric, zero point 0, round half to even as ONNX QuantizeLinear and torch.round do):
//   activations, per tensor:        xq = clamp(round(fround(x / sx)), −2^(ab−1), 2^(ab−1) − 1)           (int8 for ab = 8)
//   weights, per output channel c:  sw[c] = fround(max|W[c]| / (2^(wb−1) − 1)) (1 for an all-zero channel),
//                                   wq = round(fround(W / sw[c])), in [−(2^(wb−1) − 1), 2^(wb−1) − 1]  (±255 for wb = 9)
// Forward value: acc[n, c] = Σ_k xq·wq exactly (the int32 accumulator of an integer MAC array), then
//   y = fround(fround(acc · fround(sx · sw[c])) + bias[c]).
// The integer sums run on the float GEMM / conv kernels: a float32 sum of integer products is exact while every partial
// sum stays within 2^24, so the integer weights are split into parts (low parts unsigned, the top part signed,
// wq = Σ part · 2^shift) small enough that K · max|xq| · max|part| ≤ 2^24; the part results are combined in float64.
// A layer needs K · 2^(ab−1) · (2^(wb−1) − 1) < 2^31 (no int32 overflow) and K · 2^(ab−1) ≤ 2^23 (a 1-bit part fits).
// Backward (straight-through estimator, as PyTorch's fake-quantize ops): the layer is differentiated as the float layer
// on the dequantized operands x̂ = xq·sx, Ŵ = wq·sw; dx is zeroed where x was clamped; no gradient reaches the scales.
import { record } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { conv2dGeom, type Conv2dOptions } from './conv.js';
import { checkF32, checkInt, checkNdim } from './util.js';
import {
  MAX_ACT_BITS, MAX_WEIGHT_BITS, MIN_QUANT_BITS, actRange, checkScale, dequantizeWeights, quantizeActivations, quantizeWeights, roundHalfEven, weightMax, type QuantBits,
} from '../tensor/quantize.js';

export {
  MIN_QUANT_BITS, MAX_ACT_BITS, MAX_WEIGHT_BITS, roundHalfEven, actRange, weightMax, quantizeWeights, quantizeActivations, dequantizeWeights, type QuantBits,
} from '../tensor/quantize.js';

function checkBits(op: string, b: QuantBits): void {
  checkInt(op, 'actBits', b.actBits, MIN_QUANT_BITS, MAX_ACT_BITS);
  checkInt(op, 'weightBits', b.weightBits, MIN_QUANT_BITS, MAX_WEIGHT_BITS);
}

/** 1 where x quantizes inside the range (gradient passes), 0 where it was clamped. */
function passMask(x: Float32Array, scale: number, bits: number): Uint8Array {
  const { min, max } = actRange(bits);
  const m = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const r = roundHalfEven(Math.fround(x[i] / scale));
    m[i] = r >= min && r <= max ? 1 : 0;
  }
  return m;
}

const EXACT = 2 ** 24;

/** Checks that K-long integer dot products of the given widths fit int32 and the exact float split. */
export function checkAccumulator(op: string, K: number, b: QuantBits): void {
  const aMax = 2 ** (b.actBits - 1);
  const bound = K * aMax * weightMax(b.weightBits);
  if (bound >= 2 ** 31) {
    throw new ShapeError(`${op}: ${K} products of ${b.actBits}-bit activations and ${b.weightBits}-bit weights may overflow the int32 accumulator (K·2^${b.actBits - 1}·${weightMax(b.weightBits)} = ${bound} ≥ 2^31)`);
  }
  if (K * aMax > EXACT / 2) throw new ShapeError(`${op}: K = ${K} inputs per output is too long for exact accumulation (K·2^${b.actBits - 1} must be ≤ 2^23)`);
}

/**
 * Integer weights q (|q| ≤ wMax) as parts with shifts, q = Σ part·2^shift, each part small enough that K products with
 * |a| ≤ aMax sum exactly in float32 (K·aMax·max|part| ≤ 2^24). One part (q itself) when that already holds.
 */
export function exactWeightParts(q: Float32Array, K: number, aMax: number, wMax: number): { parts: Float32Array[]; shifts: number[] } {
  const parts: Float32Array[] = [];
  const shifts: number[] = [];
  let rest = q;
  let max = wMax;
  let shift = 0;
  while (K * aMax * max > EXACT) {
    let L = Math.floor(Math.log2(EXACT / (K * aMax) + 1));
    while (L > 0 && K * aMax * (2 ** L - 1) > EXACT) L--;
    if (L < 1) throw new ShapeError(`exactWeightParts: K = ${K} with |a| ≤ ${aMax} leaves no room for exact float32 sums`);
    const p = 2 ** L;
    const lo = new Float32Array(rest.length);
    const hi = new Float32Array(rest.length);
    for (let i = 0; i < rest.length; i++) {
      const l = ((rest[i] % p) + p) % p;
      lo[i] = l;
      hi[i] = (rest[i] - l) / p;
    }
    parts.push(lo);
    shifts.push(shift);
    rest = hi;
    max = Math.ceil(max / p);
    shift += L;
  }
  parts.push(rest);
  shifts.push(shift);
  return { parts, shifts };
}

/** y = fround(fround(acc·outScale[c]) + bias[c]) from the part results (channel c = (i / plane) % cout). */
function combine(partsY: Float32Array[], shifts: number[], outScale: Float32Array, bias: Float32Array | null, cout: number, plane: number, y: Float32Array): void {
  const mul = shifts.map((s) => 2 ** s);
  for (let i = 0; i < y.length; i++) {
    let acc = 0;
    for (let p = 0; p < partsY.length; p++) acc += partsY[p][i] * mul[p];
    const c = Math.floor(i / plane) % cout;
    y[i] = Math.fround(Math.fround(acc * outScale[c]) + (bias ? bias[c] : 0));
  }
}

function scaled(xq: Float32Array, s: number): Float32Array {
  const out = new Float32Array(xq.length);
  for (let i = 0; i < xq.length; i++) out[i] = xq[i] * s;
  return out;
}

function checkBias(op: string, bias: Tensor | null, cout: number): Float32Array | null {
  if (bias === null || bias === undefined) return null;
  const B = checkF32(op, 'bias', bias);
  if (bias.ndim !== 1 || bias.shape[0] !== cout) throw new ShapeError(`${op}: bias must have shape [${cout}], got ${fmtShape(bias.shape)}`);
  return B;
}

/**
 * Quantized 2-D convolution: y [N, Cout, outH, outW] from x [N, Cin, H, W] quantized per tensor with `actScale`,
 * weight [Cout, Cin/groups, kh, kw] quantized per output channel, exact integer sums, then scale and bias.
 */
export function qconv2d(x: Tensor, weight: Tensor, bias: Tensor | null, actScale: number, opts: Conv2dOptions & QuantBits): Tensor {
  const op = 'qconv2d';
  const X = checkF32(op, 'x', x);
  const W = checkF32(op, 'weight', weight);
  checkNdim(op, 'x', x, 4, '[N, Cin, H, W]');
  checkNdim(op, 'weight', weight, 4, '[Cout, Cin/groups, kh, kw]');
  checkBits(op, opts);
  checkScale(op, actScale);
  const g = conv2dGeom(x.shape, weight.shape, opts);
  const B = checkBias(op, bias, g.cout);
  const K = (g.cin / g.groups) * g.kh * g.kw;
  checkAccumulator(op, K, opts);
  const be = getBackend();
  const xq = quantizeActivations(X, actScale, opts.actBits);
  const { q, scales } = quantizeWeights(W, g.cout, opts.weightBits);
  const { parts, shifts } = exactWeightParts(q, K, 2 ** (opts.actBits - 1), weightMax(opts.weightBits));
  const plane = g.outH * g.outW;
  const Y = new Float32Array(g.n * g.cout * plane);
  if (g.n > 0) {
    const partsY = parts.map((p) => {
      const yp = new Float32Array(Y.length);
      be.conv2dForward(xq, p, null, g, yp);
      return yp;
    });
    const outScale = scales.map((s) => Math.fround(actScale * s));
    combine(partsY, shifts, outScale, B, g.cout, plane, Y);
  }
  const out = new Tensor(Y, [g.n, g.cout, g.outH, g.outW]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, op, inputs, (grad) => {
    const dY = grad.f32;
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (x.requiresGrad) {
      const dX = new Float32Array(X.length);
      if (g.n > 0) be.conv2dBackwardInput(dY, dequantizeWeights(q, scales), g, dX);
      const m = passMask(X, actScale, opts.actBits);
      for (let i = 0; i < dX.length; i++) if (!m[i]) dX[i] = 0;
      dx = new Tensor(dX, x.shape);
    }
    const wantB = bias !== null && bias.requiresGrad;
    if (weight.requiresGrad || wantB) {
      const dW = new Float32Array(W.length);
      const dB = wantB ? new Float32Array(g.cout) : null;
      if (g.n > 0) be.conv2dBackwardWeight(scaled(xq, actScale), dY, g, dW, dB);
      if (weight.requiresGrad) dw = new Tensor(dW, weight.shape);
      if (dB) db = new Tensor(dB, [g.cout]);
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
}

/** Quantized Linear: y [..., out] = x [..., in] · Wᵀ + b with x per tensor, weight [out, in] per row, exact integer sums. */
export function qlinear(x: Tensor, weight: Tensor, bias: Tensor | null, actScale: number, opts: QuantBits): Tensor {
  const op = 'qlinear';
  const X = checkF32(op, 'x', x);
  const W = checkF32(op, 'weight', weight);
  checkNdim(op, 'weight', weight, 2, '[out, in]');
  checkBits(op, opts);
  checkScale(op, actScale);
  const [M, D] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== D) throw new ShapeError(`${op}: input last dim ${x.shape[x.ndim - 1] ?? 'none'} vs weight in ${D} for ${fmtShape(x.shape)}x${fmtShape(weight.shape)}`);
  if (M < 1 || D < 1) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} is empty`);
  const B = checkBias(op, bias, M);
  checkAccumulator(op, D, opts);
  const n = X.length / D;
  const be = getBackend();
  const xq = quantizeActivations(X, actScale, opts.actBits);
  const { q, scales } = quantizeWeights(W, M, opts.weightBits);
  const { parts, shifts } = exactWeightParts(q, D, 2 ** (opts.actBits - 1), weightMax(opts.weightBits));
  const Y = new Float32Array(n * M);
  if (n > 0) {
    const partsY = parts.map((p) => {
      const yp = new Float32Array(n * M);
      be.gemm(xq, p, yp, n, M, D, false, true, false); // [n, in]·[out, in]ᵀ
      return yp;
    });
    const outScale = scales.map((s) => Math.fround(actScale * s));
    combine(partsY, shifts, outScale, B, M, 1, Y);
  }
  const out = new Tensor(Y, [...x.shape.slice(0, -1), M]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, op, inputs, (grad) => {
    const G = grad.f32; // [n, out]
    const grads: (Tensor | null)[] = [null, null, null];
    if (x.requiresGrad) {
      const dx = new Float32Array(n * D);
      be.gemm(G, dequantizeWeights(q, scales), dx, n, D, M, false, false, false); // [n, out]·[out, in]
      const m = passMask(X, actScale, opts.actBits);
      for (let i = 0; i < dx.length; i++) if (!m[i]) dx[i] = 0;
      grads[0] = new Tensor(dx, x.shape);
    }
    if (weight.requiresGrad) {
      const dw = new Float32Array(M * D);
      be.gemm(G, scaled(xq, actScale), dw, M, D, n, true, false, false); // [n, out]ᵀ·[n, in]
      grads[1] = new Tensor(dw, weight.shape);
    }
    if (bias && bias.requiresGrad) {
      const db = new Float32Array(M);
      for (let i = 0; i < n; i++) for (let j = 0; j < M; j++) db[j] += G[i * M + j];
      grads[2] = new Tensor(db, bias.shape);
    }
    return grads.slice(0, inputs.length);
  });
}
