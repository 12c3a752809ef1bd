// Records of the scalar-quantized layers QConv and QLinear: int activations (per tensor) × int weights (per output channel), exact integer sums.
//
// Inputs: x, weight (the float weight, trained by quantization-aware fine-tuning; quantized in every forward pass),
// bias (float, added after scaling), act_scale [] (a calibrated buffer, not trained). Attributes act_bits (2..8, signed
// activations, zero point 0) and weight_bits (2..16, symmetric). Semantics and gradients: src/ops/quant.ts.
// ONNX export (QDQ form): x → QuantizeLinear(act_scale, int8 zero point 0) → DequantizeLinear (→ Clip below 8 bits)
// → Conv / Gemm / MatMul on the dequantized weights wq·sw written as float initializers (weights of more than 8 bits
// have no int8 QDQ form). Values match lutnn's up to float rounding: ONNX sums the dequantized products in float32,
// lutnn sums the integers exactly and scales once.
import { ArgumentError, ShapeError } from '../../errors.js';
import { shapeSize } from '../../tensor/tensor.js';
import { dequantizeWeights, quantizeWeights } from '../../tensor/quantize.js';
import { fmtDims, type Dim } from '../dims.js';
import { defineOp, type OnnxCtx } from '../op.js';
import { WEIGHTED_INPUTS, fixed, needRank, req, windowOut } from '../rules.js';
import { onnxWindow, windowAttrs, type ConvAttrs } from './conv.js';
import type { InferCtx, WeightCheckCtx } from '../op.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { LowerCtx } from '../../runtime/lower.js';
import type { Epilogue } from '../../runtime/plan-types.js';

export interface QuantAttrs {
  act_bits: number;
  weight_bits: number;
}

export type QConvAttrs = ConvAttrs & QuantAttrs;

const quantInputs = [...WEIGHTED_INPUTS, { name: 'act_scale', role: 'buffer' }] as const;

const quantAttrs = {
  act_bits: { type: 'int', min: 2, max: 8, default: 8 },
  weight_bits: { type: 'int', min: 2, max: 16, default: 9 },
} as const;

/** The accumulator bound of K products (as src/ops/quant.ts checkAccumulator), as a shape error of the node. */
function checkK(c: InferCtx<QuantAttrs>, K: number): void {
  const aMax = 2 ** (c.attrs.act_bits - 1);
  const bound = K * aMax * (2 ** (c.attrs.weight_bits - 1) - 1);
  if (bound >= 2 ** 31 || K * aMax > 2 ** 23) {
    throw new ShapeError(`${c.node}: ${K} products of ${c.attrs.act_bits}-bit activations and ${c.attrs.weight_bits}-bit weights do not fit the exact int32 accumulation`);
  }
  const s = req(c, 3);
  if (s.shape.length !== 0) throw new ShapeError(`${c.node}: act_scale must be a scalar [], got ${fmtDims(s.shape)}`);
}

/**
 * The per-channel output scales f32(act_scale·sw[c]) of a quantized node from its act_scale and float weight [cout, ...]:
 * an ArgumentError naming the node when act_scale is not > 0 or a product is not finite (it would make NaN outputs).
 */
function outputScales(node: string, actScale: Tensor, weight: Tensor, weightBits: number): { q: Float32Array; scale: Float32Array } {
  const sx = actScale.f32[0];
  if (!(sx > 0) || !Number.isFinite(sx)) throw new ArgumentError(`${node}: act_scale must be a finite number > 0, got ${sx}`);
  const { q, scales } = quantizeWeights(weight.f32, weight.shape[0], weightBits);
  const scale = scales.map((s) => Math.fround(sx * s));
  const c = scale.findIndex((v) => !Number.isFinite(v) || v < 0);
  if (c >= 0) throw new ArgumentError(`${node}: act_scale ${sx} times the weight scale ${scales[c]} of output channel ${c} is ${scale[c]}, not a finite float32`);
  return { q, scale };
}

/** Load-time check of a quantized node's act_scale (see outputScales). */
function checkQuantWeights(c: WeightCheckCtx<QuantAttrs>): void {
  const s = c.weight(3);
  const w = c.weight(1);
  if (s && w && s.size === 1) outputScales(c.node, s, w, c.attrs.weight_bits);
}

/**
 * The runtime's operands of a quantized node: integer weights [cout, K] as int16, act_scale, and the epilogue whose
 * scale is the per-channel output scale and shift the bias (where BatchNorm and ReLU fuse).
 */
function quantOperands(c: LowerCtx<QuantAttrs>): { wq: Int16Array; actScale: number; actBits: number; epi: Epilogue } {
  const { q, scale } = outputScales(`lutnn.load: ${c.ni.node.op} '${c.name}'`, c.weight(3)!, c.weight(1)!, c.attrs.weight_bits);
  const bias = c.weight(2);
  return { wq: Int16Array.from(q), actScale: c.weight(3)!.f32[0], actBits: c.attrs.act_bits, epi: { scale, shift: bias ? Float32Array.from(bias.f32) : null, relu: false } };
}

/** Bytes as an integer deployment stores the layer: weights in whole bytes, float scales, int32 bias, the act scale. */
function deployBytes(weights: number, cout: number, bias: boolean, weightBits: number): number {
  return weights * Math.ceil(weightBits / 8) + 4 * cout + (bias ? 4 * cout : 0) + 4;
}

/** x̂ = DequantizeLinear(QuantizeLinear(x)) (clipped to the act_bits range below 8 bits). */
function onnxQdq(c: OnnxCtx<QuantAttrs>): string {
  const { e, scope } = c;
  const s = c.weight(3).f32[0];
  const scale = e.f32(`${scope}.act_scale`, Float32Array.of(s), []);
  const zp = e.init(`${scope}.act_zero_point`, 'int8', [], Int8Array.of(0));
  const q = e.one('QuantizeLinear', [c.input(0), scale, zp], scope);
  let x = e.one('DequantizeLinear', [q, scale, zp], scope);
  const b = c.attrs.act_bits;
  if (b < 8) {
    const lo = e.f32(`${scope}.act_min`, Float32Array.of(Math.fround(-(2 ** (b - 1)) * s)), []);
    const hi = e.f32(`${scope}.act_max`, Float32Array.of(Math.fround((2 ** (b - 1) - 1) * s)), []);
    x = e.one('Clip', [x, lo, hi], scope);
  }
  return x;
}

/** The dequantized weight wq·sw (float32), as every forward pass computes it. */
function dequantWeight(c: OnnxCtx<QuantAttrs>): Float32Array {
  const w = c.weight(1);
  const { q, scales } = quantizeWeights(w.f32, w.shape[0], c.attrs.weight_bits);
  return dequantizeWeights(q, scales);
}

export const QConv = defineOp<QConvAttrs>({
  doc: 'quantized conv: y = (Σ xq·wq)·act_scale·sw[c] + bias, xq = act_bits-bit x / act_scale, wq per output channel (exact integer sums)',
  inputs: quantInputs,
  outputs: 1,
  attrs: { ...windowAttrs, groups: { type: 'int', min: 1, default: 1 }, ...quantAttrs },
  infer(c) {
    const x = req(c, 0);
    const w = req(c, 1);
    needRank(c.node, 'x', x, 4, '[N, Cin, H, W]');
    needRank(c.node, 'weight', w, 4, '[Cout, Cin/groups, kh, kw]');
    const { stride, padding, dilation, groups } = c.attrs;
    const cin = fixed(c.node, 'input channels', x.shape[1]);
    const [cout, cinG, kh, kw] = w.shape.map((d, i) => fixed(c.node, `weight dim ${i}`, d));
    if (cin % groups !== 0 || cout % groups !== 0) throw new ShapeError(`${c.node}: channels ${cin} in, ${cout} out must both be divisible by groups ${groups}`);
    if (cinG !== cin / groups) throw new ShapeError(`${c.node}: weight ${fmtDims(w.shape)} takes ${cinG} channels per group, x ${fmtDims(x.shape)} with groups ${groups} gives ${cin / groups}`);
    if (cout === 0 || cinG === 0 || kh === 0 || kw === 0) throw new ShapeError(`${c.node}: weight ${fmtDims(w.shape)} is empty`);
    const b = c.inputs[2];
    if (b && (b.shape.length !== 1 || b.shape[0] !== cout)) throw new ShapeError(`${c.node}: bias must be [${cout}], got ${fmtDims(b.shape)}`);
    checkK(c, cinG * kh * kw);
    const oh = windowOut(c.node, 'height', x.shape[2], kh, stride[0], padding[0], dilation[0]);
    const ow = windowOut(c.node, 'width', x.shape[3], kw, stride[1], padding[1], dilation[1]);
    return [{ shape: [x.shape[0], cout, oh, ow], dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    return [ops.qconv2d(x[0]!, x[1]!, x[2] ?? null, x[3]!.f32[0], {
      stride: [a.stride[0], a.stride[1]], padding: [a.padding[0], a.padding[1]], dilation: [a.dilation[0], a.dilation[1]], groups: a.groups,
      actBits: a.act_bits, weightBits: a.weight_bits,
    })];
  },
  cost(c) {
    const x = c.inShape(0)!;
    const [cout, cinG, kh, kw] = c.inShape(1)!;
    const [, , oh, ow] = c.outShape(0);
    const { stride, padding } = c.attrs;
    const direct = kh === 1 && kw === 1 && stride[0] === 1 && stride[1] === 1 && padding[0] === 0 && padding[1] === 0;
    return {
      kind: 'dense',
      macs: oh * ow * cout * cinG * kh * kw,
      workspaceBytes: direct ? 0 : oh * ow * c.batch * x[1] * kh * kw * 4,
      bitsPerActivation: c.attrs.act_bits,
      deployBytes: deployBytes(cout * cinG * kh * kw, cout, c.inShape(2) !== null, c.attrs.weight_bits),
      note: `int${c.attrs.act_bits} x int${c.attrs.weight_bits}`,
    };
  },
  onnx(c) {
    const [cout, cinG, kh, kw] = c.info(1).shape as number[];
    const ins = [onnxQdq(c), c.e.f32(`${c.scope}.weight_dq`, dequantWeight(c), [cout, cinG, kh, kw])];
    if (c.has(2)) ins.push(c.input(2));
    return { outputs: [c.e.one('Conv', ins, c.scope, { ...onnxWindow([kh, kw], c.attrs), group: c.attrs.groups })], exact: false };
  },
  checkWeights: checkQuantWeights,
  // Runtime (src/runtime/quant-step.ts): groups 1, int16 patches × int16 weights, exact int32 sums; BN and ReLU fuse.
  lower: {
    run(c) {
      const { shape, out, attrs: a } = c;
      c.k.need4d(c.ni, shape);
      if (a.groups !== 1) throw new ArgumentError(`lutnn.load: QConv '${c.name}' has groups = ${a.groups}; the runtime runs quantized convs with groups = 1`);
      const [cout, , kh, kw] = c.weight(1)!.shape;
      const win = c.k.window(shape, out, [kh, kw], a.stride, a.padding, a.dilation);
      c.emit({ ...c.base, kind: 'qconv', win, cout, ...quantOperands(c) });
    },
  },
});

export const QLinear = defineOp<QuantAttrs>({
  doc: 'quantized Linear: y [..., out] = (Σ xq·wq)·act_scale·sw[out] + bias, weight [out, in] quantized per row (exact integer sums)',
  inputs: quantInputs,
  outputs: 1,
  attrs: quantAttrs,
  infer(c) {
    const x = req(c, 0).shape;
    const w = req(c, 1).shape;
    if (w.length !== 2) throw new ShapeError(`${c.node}: weight must be [out, in], got ${fmtDims(w)}`);
    const [M, D] = [fixed(c.node, 'out features', w[0]), fixed(c.node, 'in features', w[1])];
    if (M === 0 || D === 0) throw new ShapeError(`${c.node}: weight ${fmtDims(w)} is empty`);
    if (x.length < 1 || x[x.length - 1] !== D) throw new ShapeError(`${c.node}: input last dim ${x[x.length - 1] ?? 'none'} vs in features ${D} for ${fmtDims(x)}`);
    const b = c.inputs[2];
    if (b && (b.shape.length !== 1 || b.shape[0] !== M)) throw new ShapeError(`${c.node}: bias must be [${M}], got ${fmtDims(b.shape)}`);
    checkK(c, D);
    const shape: Dim[] = [...x.slice(0, -1), M];
    return [{ shape, dtype: 'float32' }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.qlinear(x[0]!, x[1]!, x[2] ?? null, x[3]!.f32[0], { actBits: a.act_bits, weightBits: a.weight_bits })],
  cost(c) {
    const [M, D] = c.inShape(1)!;
    return {
      kind: 'dense',
      macs: (shapeSize(c.outShape(0)) / M) * D * M,
      bitsPerActivation: c.attrs.act_bits,
      deployBytes: deployBytes(M * D, M, c.inShape(2) !== null, c.attrs.weight_bits),
      note: `int${c.attrs.act_bits} x int${c.attrs.weight_bits}`,
    };
  },
  onnx(c) {
    const x = c.info(0).shape;
    const [M, D] = c.info(1).shape as number[];
    const xq = onnxQdq(c);
    const W = dequantWeight(c);
    if (x.length === 2) {
      const ins = [xq, c.e.f32(`${c.scope}.weight_dq`, W, [M, D])];
      if (c.has(2)) ins.push(c.input(2));
      return { outputs: [c.e.one('Gemm', ins, c.scope, { transB: 1 })], exact: false };
    }
    const Wt = new Float32Array(W.length); // [in, out]
    for (let o = 0; o < M; o++) for (let i = 0; i < D; i++) Wt[i * M + o] = W[o * D + i];
    let y = c.e.one('MatMul', [xq, c.e.f32(`${c.scope}.weight_dq_t`, Wt, [D, M])], c.scope);
    if (c.has(2)) y = c.e.one('Add', [y, c.input(2)], c.scope);
    return { outputs: [y], exact: false };
  },
  checkWeights: checkQuantWeights,
  // Runtime (src/runtime/quant-step.ts): rows of int16 activations × int16 weights, exact int32 sums; BN and ReLU fuse.
  lower: {
    run(c) {
      const { shape, out } = c;
      const inF = shape[shape.length - 1];
      const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
      c.emit({ ...c.base, kind: 'qlinear', rows, inF, outF: out[out.length - 1], ...quantOperands(c) });
    },
  },
});
