// Records of BatchNorm (channel axis 1, running statistics in buffers) and LayerNorm (over the dims from `axis` on).
import { shapeSize } from '../../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import { fmtDims, sizePerSample } from '../dims.js';
import { defineOp } from '../op.js';
import { axisOf, fixed, req } from '../rules.js';
import { allInputs } from '../onnx-in.js';
import { batchNormAffine, foldAffineIntoConv } from '../bn-fold.js';
import type { LowerCtx } from '../../runtime/lower.js';
import type { Epilogue, Op } from '../../runtime/plan-types.js';
import type { OnnxImportCtx } from '../op.js';

export interface BatchNormAttrs {
  eps: number;
  /** Weight of a new batch statistic in the running average; null: the cumulative average 1/num_batches_tracked. */
  momentum: number | null;
}

/**
 * Runtime lowering of BatchNorm (eval): y = x·s + t with s = γ/√(var + ε), t = β − mean·s (γ = 1, β = 0 when absent),
 * on [N, C, H, W], [N, C, L] or [N, C] (channels are dim 1). Folded into the weights of the dense conv (or, on [N, C],
 * the Linear) that produced x (w·s, b·s + t), into the epilogue of a LUT conv (LUT Linear on [N, C]), of a quantized
 * conv (QLinear on [N, C]: into its per-channel output scale and shift), affine or add op that did, when x has no other
 * reader; else run as its own affine op.
 */
function lowerBatchNorm(c: LowerCtx<BatchNormAttrs>): void {
  const { shape, x, y } = c;
  if (shape.length < 1 || shape.length > 3) throw new ShapeError(`lutnn.load: BatchNorm '${c.name}' expects [N, C], [N, C, L] or [N, C, H, W] input, got [N,${shape.join(',')}]`);
  const [g, b] = [c.weight(1)?.f32 ?? null, c.weight(2)?.f32 ?? null];
  const { s, t } = batchNormAffine(g, b, c.weight(3)!.f32, c.weight(4)!.f32, c.attrs.eps);
  const target: Op | null = c.fusable(x);
  const epi = c.k.openEpilogue(target);
  const planes = shape.length === 3;
  const rows = shape.length === 1;
  if (target && epi && ((planes && target.kind === 'conv') || (rows && target.kind === 'linear' && target.rows === 1)) && !epi.scale) {
    // The deployment writer (src/io/deploy-format.ts) folds the same pairs with the same function: same bytes.
    epi.shift = foldAffineIntoConv(target.weight, target.kind === 'conv' ? target.cout : target.outF, epi.shift, s, t);
    target.name += `+${c.name}`;
    c.extend(target, x, y);
    return;
  }
  // LUT layers, and quantized layers (into their per-channel output scale: scale·s, shift·s + t, see composeAffine).
  const lutOrQuant = (planes && (target?.kind === 'lutConv' || target?.kind === 'qconv')) || (rows && (target?.kind === 'lutLinear' || target?.kind === 'qlinear') && target.rows === 1);
  if (target && epi && (lutOrQuant || target.kind === 'affine' || target.kind === 'add')) {
    c.k.composeAffine(epi, s, t);
    target.name += `+${c.name}`;
    c.extend(target, x, y);
    return;
  }
  const own: Epilogue = { scale: null, shift: null, relu: false };
  c.k.composeAffine(own, s, t);
  c.emit({ kind: 'affine', name: c.name, inShape: shape, outShape: shape, inputs: [x], output: y, epi: own });
}

export const BatchNorm = defineOp<BatchNormAttrs>({
  doc: 'y = (x − mean)/√(var + eps)·weight + bias per channel (axis 1): batch statistics in training, running ones in eval',
  inputs: [
    { name: 'x', role: 'data' },
    { name: 'weight', role: 'param', optional: true },
    { name: 'bias', role: 'param', optional: true },
    { name: 'running_mean', role: 'buffer' },
    { name: 'running_var', role: 'buffer' },
    { name: 'num_batches_tracked', role: 'buffer', optional: true, dtypes: ['int32'] },
  ],
  outputs: 1,
  attrs: {
    eps: { type: 'float', min: 0, minExclusive: true, default: 1e-5 },
    momentum: { type: 'float', min: 0, max: 1, nullable: true, default: 0.1 },
  },
  infer(c) {
    const x = req(c, 0);
    if (x.shape.length < 2) throw new ShapeError(`${c.node}: x must be [N, C, ...], got ${fmtDims(x.shape)}`);
    const C = fixed(c.node, 'channels', x.shape[1]);
    for (const [i, arg] of [[1, 'weight'], [2, 'bias'], [3, 'running_mean'], [4, 'running_var']] as const) {
      const v = c.inputs[i];
      if (v && (v.shape.length !== 1 || v.shape[0] !== C)) throw new ShapeError(`${c.node}: ${arg} must be [${C}], got ${fmtDims(v.shape)}`);
    }
    const nbt = c.inputs[5];
    if (nbt && nbt.shape.length !== 0) throw new ShapeError(`${c.node}: num_batches_tracked must be a scalar [], got ${fmtDims(nbt.shape)}`);
    if (c.attrs.momentum === null && !nbt) throw new ArgumentError(`${c.node}: momentum null (cumulative average) needs the num_batches_tracked input`);
    return [{ shape: x.shape, dtype: 'float32' }];
  },
  forward({ x, attrs: a, training, ops }) {
    let momentum = a.momentum ?? 0;
    const nbt = x[5];
    if (training) {
      if (nbt) nbt.data[0] = nbt.data[0] + 1;
      momentum = a.momentum ?? 1 / nbt!.data[0];
    }
    return [ops.batchNorm(x[0]!, x[1], x[2], x[3], x[4], { training, momentum, eps: a.eps })];
  },
  cost(c) {
    return { kind: 'norm', elementOps: 2 * sizePerSample(c.outShape(0)) };
  },
  checkWeights(c) {
    // A variance is a mean of squares: one below zero is no trained statistic (and at −eps it divides by zero).
    const v = c.weight(4);
    if (!v) return;
    const d = v.f32;
    for (let i = 0; i < d.length; i++) {
      if (d[i] < 0) throw new ArgumentError(`${c.node}: running_var '${c.inputName(4)}' is ${d[i]} at index ${i}; variances must be >= 0`);
    }
  },
  onnx(c) {
    const C = c.info(0).shape[1] as number;
    const w = c.has(1) ? c.weight(1).f32 : new Float32Array(C).fill(1);
    const b = c.has(2) ? c.weight(2).f32 : new Float32Array(C);
    const mean = c.weight(3).f32;
    const vr = c.weight(4).f32;
    const rank = c.info(0).shape.length;
    if (c.exact(0)) {
      // After a LUT layer (nothing to fold into): lutnn's own arithmetic, y = f32(x·a + sh) in float64 with
      // a = γ/√(var+ε) and sh = β − mean·a, so the next LUT layer sees bit-identical input.
      const a = new Float64Array(C);
      const sh = new Float64Array(C);
      for (let i = 0; i < C; i++) {
        a[i] = w[i] * (1 / Math.sqrt(vr[i] + c.attrs.eps));
        sh[i] = b[i] - mean[i] * a[i];
      }
      const dims = [C, ...new Array(rank - 2).fill(1)];
      const xd = c.e.one('Cast', [c.input(0)], c.scope, { to: 11 });
      const yd = c.e.one('Add', [c.e.one('Mul', [xd, c.e.init(`${c.scope}.scale_f64`, 'float64', dims, a)], c.scope), c.e.init(`${c.scope}.shift_f64`, 'float64', dims, sh)], c.scope);
      return { outputs: [c.e.one('Cast', [yd], c.scope, { to: 1 })], exact: true };
    }
    const scale = c.has(1) ? c.input(1) : c.e.f32(`${c.scope}.weight`, w, [C]);
    const bias = c.has(2) ? c.input(2) : c.e.f32(`${c.scope}.bias`, b, [C]);
    return [c.e.one('BatchNormalization', [c.input(0), scale, bias, c.input(3), c.input(4)], c.scope, { epsilon: { float: c.attrs.eps } })];
  },
  onnxImport: [
    {
      // ONNX momentum weighs the running value (0.9), lutnn's the new statistic (0.1), as in PyTorch.
      types: ['BatchNormalization'],
      map(c) {
        if (c.attr.int('training_mode', 0) !== 0) c.unsupported('training_mode 1 (export the model in eval mode)');
        if (c.inputCount < 5) c.unsupported('needs x, scale, B, mean and var');
        return c.emit('BatchNorm', allInputs(c, 5), { eps: c.attr.float('epsilon', 1e-5), momentum: 1 - c.attr.float('momentum', 0.9) });
      },
    },
    {
      // lutnn's marker of a BatchNorm exported in float64 after a LUT layer (src/io/onnx-lut-marker.ts).
      types: ['BatchNorm'],
      domain: 'lutnn',
      map: (c) => c.emit('BatchNorm', allInputs(c), { eps: c.attr.float('eps', 1e-5), momentum: c.attr.has('momentum') ? c.attr.float('momentum') : null }),
    },
  ],
  lower: { run: lowerBatchNorm },
});

/** A LayerNorm scale or bias (input i) in the shape of the normalized dims `norm` (ONNX lets it broadcast). */
function lnParam(c: OnnxImportCtx, i: number, norm: readonly number[], name: string): string {
  if (!c.has(i)) return '';
  const f = c.floats(i);
  if (!f) c.unsupported(`${name} (input ${i}) must be a constant`);
  const n = norm.reduce((a, b) => a * b, 1);
  if (f.shape.join() === norm.join()) return c.value(i);
  if (f.data.length === n) return c.weight(name, norm, f.data.slice());
  if (f.data.length === 1) return c.weight(name, norm, new Float32Array(n).fill(f.data[0]));
  return c.unsupported(`${name} of shape [${f.shape.join(',')}] for normalized dims [${norm.join(',')}]`);
}

export interface LayerNormAttrs {
  axis: number;
  eps: number;
}

export const LayerNorm = defineOp<LayerNormAttrs>({
  doc: 'y = (x − mean)/√(var + eps)·weight + bias over the dims from `axis` to the last (biased variance)',
  inputs: [
    { name: 'x', role: 'data' },
    { name: 'weight', role: 'param', optional: true },
    { name: 'bias', role: 'param', optional: true },
  ],
  outputs: 1,
  attrs: {
    axis: { type: 'int', default: -1 },
    eps: { type: 'float', min: 0, minExclusive: true, default: 1e-5 },
  },
  infer(c) {
    const x = req(c, 0);
    const axis = axisOf(c.node, 'axis', c.attrs.axis, x.shape.length);
    if (axis === 0) throw new ArgumentError(`${c.node}: axis must leave the batch dim out of the normalized dims, got ${c.attrs.axis} for ${fmtDims(x.shape)}`);
    const norm = x.shape.slice(axis).map((d, i) => fixed(c.node, `normalized dim ${i}`, d));
    for (const [i, arg] of [[1, 'weight'], [2, 'bias']] as const) {
      const v = c.inputs[i];
      if (v && fmtDims(v.shape) !== fmtDims(norm)) throw new ShapeError(`${c.node}: ${arg} must be ${fmtDims(norm)}, got ${fmtDims(v.shape)}`);
    }
    return [{ shape: x.shape, dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    const axis = a.axis < 0 ? a.axis + x[0]!.ndim : a.axis;
    return [ops.layerNorm(x[0]!, x[0]!.shape.slice(axis), x[1], x[2], a.eps)];
  },
  cost(c) {
    return { kind: 'norm', elementOps: 5 * sizePerSample(c.outShape(0)) };
  },
  onnx(c) {
    if (c.e.opset < 17) throw new ArgumentError(`onnx export: LayerNorm '${c.scope}' needs opset >= 17 (LayerNormalization), got --opset ${c.e.opset}`);
    const x = c.info(0).shape;
    const axis = c.attrs.axis < 0 ? c.attrs.axis + x.length : c.attrs.axis;
    const norm = x.slice(axis) as number[];
    const n = shapeSize(norm);
    const scale = c.has(1) ? c.input(1) : c.e.f32(`${c.scope}.weight`, new Float32Array(n).fill(1), norm);
    const ins = [c.input(0), scale];
    if (c.has(2)) ins.push(c.input(2));
    return [c.e.one('LayerNormalization', ins, c.scope, { axis: axis - x.length, epsilon: { float: c.attrs.eps } })];
  },
  onnxImport: [
    {
      // LayerNormalization (opset 17), also as fused from a decomposed one (with the reduced `axes`, src/io/onnx-fuse.ts).
      types: ['LayerNormalization'],
      map(c) {
        const x = c.info(0).shape;
        let axis: number;
        if (c.attr.has('axes')) {
          const axes = c.attr.ints('axes').map((a) => (a < 0 ? a + x.length : a)).sort((p, q) => p - q);
          axis = axes[0];
          if (axes.some((a, k) => a !== x.length - axes.length + k)) c.unsupported(`a mean over axes [${axes.join(',')}] that are not the last dims of ${fmtDims(x)}`);
        } else axis = c.attr.int('axis', -1);
        if (axis < 0) axis += x.length;
        if (axis <= 0 || axis >= x.length) c.unsupported(`axis ${axis} for ${fmtDims(x)} (the normalized dims must leave the batch out)`);
        const norm = x.slice(axis);
        if (!norm.every((d) => typeof d === 'number')) c.unsupported('normalized dims that depend on the batch');
        const ins = [c.value(0), lnParam(c, 1, norm as number[], 'weight'), lnParam(c, 2, norm as number[], 'bias')];
        while (ins[ins.length - 1] === '') ins.pop();
        return c.emit('LayerNorm', ins, { axis, eps: c.attr.float('epsilon', 1e-5) });
      },
    },
  ],
  // Runtime: over the last `cols` floats of each sample's rows.
  lower: {
    run(c) {
      const { shape, attrs: a } = c;
      const axis = a.axis < 0 ? a.axis + shape.length + 1 : a.axis;
      const cols = shape.slice(axis - 1).reduce((p, d) => p * d, 1);
      const w = c.weight(1);
      const bias = c.weight(2);
      c.emit({ ...c.base, kind: 'layerNorm', cols, eps: a.eps, weight: w ? Float32Array.from(w.f32) : null, bias: bias ? Float32Array.from(bias.f32) : null });
    },
  },
});
