// Record of Conv: 2-D convolution over NCHW (stride, padding, dilation, groups incl. depthwise) with an optional bias.
import { ArgumentError, ShapeError } from '../../errors.js';
import { fmtDims } from '../dims.js';
import { defineOp } from '../op.js';
import { dynamicInt8Conv } from '../onnx-int8.js';
import { WEIGHTED_INPUTS, fixed, needRank, req, windowOut } from '../rules.js';
import { allInputs, window2d, windowPads } from '../onnx-in.js';

export interface ConvAttrs {
  stride: readonly number[];
  padding: readonly number[];
  dilation: readonly number[];
  groups: number;
}

/** The window attributes every 2-D window op shares (conv, LUT conv, pooling). */
export const windowAttrs = {
  stride: { type: 'ints', len: 2, min: 1, default: [1, 1] },
  padding: { type: 'ints', len: 2, min: 0, default: [0, 0] },
  dilation: { type: 'ints', len: 2, min: 1, default: [1, 1] },
} as const;

/** ONNX attributes of a symmetric 2-D window. */
export function onnxWindow(kernel: readonly number[], a: { stride: readonly number[]; padding: readonly number[]; dilation?: readonly number[] }): Record<string, number[]> {
  const out: Record<string, number[]> = {
    kernel_shape: [...kernel],
    strides: [...a.stride],
    pads: [a.padding[0], a.padding[1], a.padding[0], a.padding[1]],
  };
  if (a.dilation) out.dilations = [...a.dilation];
  return out;
}

export const Conv = defineOp<ConvAttrs>({
  doc: 'y [N, Cout, outH, outW] = conv(x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw]) + bias [Cout]',
  inputs: WEIGHTED_INPUTS,
  outputs: 1,
  attrs: { ...windowAttrs, groups: { type: 'int', min: 1, default: 1 } },
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
    if (cout === 0 || kh === 0 || kw === 0) throw new ShapeError(`${c.node}: weight ${fmtDims(w.shape)} is empty`);
    const b = c.inputs[2];
    if (b && (b.shape.length !== 1 || b.shape[0] !== cout)) throw new ShapeError(`${c.node}: bias must be [${cout}], got ${fmtDims(b.shape)}`);
    const oh = windowOut(c.node, 'height', x.shape[2], kh, stride[0], padding[0], dilation[0]);
    const ow = windowOut(c.node, 'width', x.shape[3], kw, stride[1], padding[1], dilation[1]);
    return [{ shape: [x.shape[0], cout, oh, ow], dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    // x[2] is undefined, not null, when a node leaves the optional bias off the end of its inputs.
    return [ops.conv2d(x[0]!, x[1]!, x[2] ?? null, { stride: [a.stride[0], a.stride[1]], padding: [a.padding[0], a.padding[1]], dilation: [a.dilation[0], a.dilation[1]], groups: a.groups })];
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
      bitsPerActivation: 32,
    };
  },
  onnx(c) {
    const [, , kh, kw] = c.info(1).shape as number[];
    const q = c.e.options.dynamicInt8;
    if (q && c.initializer(1) && (!c.has(2) || c.initializer(2))) {
      const w = c.weight(1);
      const attrs = { ...onnxWindow([kh, kw], c.attrs), group: c.attrs.groups };
      return [dynamicInt8Conv(c.e, c.input(0), w.f32, w.shape, c.has(2) ? c.weight(2).f32 : null, attrs, c.scope, q)];
    }
    const ins = [c.input(0), c.input(1)];
    if (c.has(2)) ins.push(c.input(2));
    return [c.e.one('Conv', ins, c.scope, { ...onnxWindow([kh, kw], c.attrs), group: c.attrs.groups })];
  },
  onnxImport: [
    {
      types: ['Conv'],
      map(c) {
        if (!c.has(0) || !c.has(1)) c.unsupported('needs x and a weight');
        const x = c.info(0).shape;
        const w = c.info(1).shape;
        if (x.length !== 4 || w.length !== 4) c.unsupported(`a ${x.length - 2}-D convolution (lutnn's Conv is 2-D)`);
        const { kernel, stride, dilation } = window2d(c, w.slice(2) as number[]);
        if (kernel[0] !== w[2] || kernel[1] !== w[3]) c.unsupported(`kernel_shape [${kernel.join(',')}] does not match the weight ${fmtDims(w)}`);
        if (typeof x[2] !== 'number' || typeof x[3] !== 'number') c.unsupported('a spatial size that depends on the batch');
        const padding = windowPads(c, kernel, stride, dilation, [x[2] as number, x[3] as number]);
        return c.emit('Conv', allInputs(c, 3), { stride, padding, dilation, groups: c.attr.int('group', 1) });
      },
    },
  ],
  // Runtime: groups 1 (im2col + GEMM) or depthwise (the direct kernel); bias in the epilogue, where BN and ReLU fuse.
  lower: {
    run(c) {
      const { shape, out, attrs: a } = c;
      c.k.need4d(c.ni, shape);
      const w = c.weight(1)!;
      const [cout, , kh, kw] = w.shape;
      const depthwise = a.groups !== 1 && a.groups === shape[0] && cout % shape[0] === 0;
      if (a.groups !== 1 && !depthwise) throw new ArgumentError(`lutnn.load: Conv '${c.name}' has groups = ${String(a.groups)} for ${shape[0]} input channels; the runtime runs groups = 1 and depthwise convs (groups = input channels)`);
      const win = c.k.window(shape, out, [kh, kw], a.stride, a.padding, a.dilation);
      const bias = c.weight(2);
      c.emit({ ...c.base, kind: 'conv', win, cout, depthwise, weight: Float32Array.from(w.f32), epi: { scale: null, shift: bias ? Float32Array.from(bias.f32) : null, relu: false } });
    },
  },
});
