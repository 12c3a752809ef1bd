// Records of pooling and reductions: MaxPool, AveragePool (2-D windows), GlobalAveragePool, ReduceMean.
import { shapeSize } from '../../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import { fmtDims, type Dim } from '../dims.js';
import { defineOp, type OpDef } from '../op.js';
import { axisOf, fixed, needRank, req, windowOut } from '../rules.js';
import { onnxWindow } from './conv.js';
import { axesOf, window2d, windowPads } from '../onnx-in.js';
import type { OnnxImportRule } from '../op.js';

/** MaxPool / AveragePool of ONNX: 2-D windows with symmetric pads, floor rounding (ceil_mode where it changes nothing). */
function poolImport(mode: 'max' | 'avg'): OnnxImportRule {
  return {
    types: [mode === 'max' ? 'MaxPool' : 'AveragePool'],
    map(c) {
      const x = c.info(0).shape;
      if (x.length !== 4) c.unsupported(`a ${x.length - 2}-D pool (lutnn's pools are 2-D)`);
      const { kernel, stride, dilation } = window2d(c);
      if (dilation.some((d) => d !== 1)) c.unsupported(`dilations [${dilation.join(',')}]`);
      const size = [x[2], x[3]] as number[];
      const padding = windowPads(c, kernel, stride, dilation, size);
      if (c.attr.int('ceil_mode', 0) === 1) {
        for (let d = 0; d < 2; d++) {
          const span = size[d] + 2 * padding[d] - kernel[d];
          if (span % stride[d] !== 0) c.unsupported('ceil_mode 1 where it adds a window');
        }
      }
      const attrs: Record<string, number[] | boolean> = { kernel, stride, padding };
      if (mode === 'avg') {
        const include = c.attr.int('count_include_pad', 0) === 1;
        if (!include && (padding[0] > 0 || padding[1] > 0)) c.unsupported('count_include_pad 0 with padding (lutnn counts the padding)');
        attrs.countIncludePad = true;
      }
      return c.emit(mode === 'max' ? 'MaxPool' : 'AveragePool', [c.value(0)], attrs);
    },
  };
}


export interface PoolAttrs {
  kernel: readonly number[];
  stride: readonly number[];
  padding: readonly number[];
}

export interface AveragePoolAttrs extends PoolAttrs {
  /** Padding counts in the divisor (PyTorch's default; the engine supports only that when padding > 0). */
  countIncludePad: boolean;
}

function pool<A extends PoolAttrs>(mode: 'max' | 'avg', doc: string, extra: OpDef<A>['attrs']): OpDef<A> {
  return defineOp<A>({
    doc,
    inputs: [{ name: 'x', role: 'data' }],
    outputs: 1,
    attrs: {
      kernel: { type: 'ints', len: 2, min: 1 },
      stride: { type: 'ints', len: 2, min: 1 },
      padding: { type: 'ints', len: 2, min: 0, default: [0, 0] },
      ...extra,
    },
    infer(c) {
      const x = req(c, 0);
      needRank(c.node, 'x', x, 4, '[N, C, H, W]');
      const { kernel: k, stride: s, padding: p } = c.attrs;
      if (2 * p[0] > k[0] || 2 * p[1] > k[1]) throw new ArgumentError(`${c.node}: padding ${p[0]}x${p[1]} must be at most half the kernel ${k[0]}x${k[1]}`);
      if (mode === 'avg' && !(c.attrs as unknown as AveragePoolAttrs).countIncludePad && (p[0] > 0 || p[1] > 0)) {
        throw new ArgumentError(`${c.node}: countIncludePad false with padding is not supported (padding counts in the divisor)`);
      }
      const oh = windowOut(c.node, 'height', x.shape[2], k[0], s[0], p[0]);
      const ow = windowOut(c.node, 'width', x.shape[3], k[1], s[1], p[1]);
      return [{ shape: [x.shape[0], x.shape[1], oh, ow], dtype: 'float32' }];
    },
    forward({ x, attrs: a, ops }) {
      const o = { kernel: [a.kernel[0], a.kernel[1]] as const, stride: [a.stride[0], a.stride[1]] as const, padding: [a.padding[0], a.padding[1]] as const };
      return [mode === 'max' ? ops.maxPool2d(x[0]!, o) : ops.avgPool2d(x[0]!, o)];
    },
    cost: (c) => ({ kind: 'pool', elementOps: shapeSize(c.outShape(0)) * c.attrs.kernel[0] * c.attrs.kernel[1] }),
    onnx(c) {
      const attrs: Record<string, number | number[]> = onnxWindow(c.attrs.kernel, c.attrs);
      if (mode === 'avg') attrs.count_include_pad = 1;
      const y = c.e.one(mode === 'max' ? 'MaxPool' : 'AveragePool', [c.input(0)], c.scope, attrs);
      return { outputs: [y], exact: mode === 'max' && c.exact(0) };
    },
    onnxImport: [poolImport(mode)],
    lower: {
      run(c) {
        c.k.need4d(c.ni, c.shape);
        const win = c.k.window(c.shape, c.out, c.attrs.kernel, c.attrs.stride, c.attrs.padding, [1, 1]);
        c.emit({ ...c.base, kind: 'pool', mode, win });
      },
    },
  });
}

export const MaxPool = pool<PoolAttrs>('max', 'max over kh×kw windows of each NCHW plane (gradient to the first maximum)', {});
export const AveragePool = pool<AveragePoolAttrs>('avg', 'mean over kh×kw windows of each NCHW plane (padding counted)', { countIncludePad: { type: 'bool', default: true } });

export interface GlobalPoolAttrs {
  keepdims: boolean;
}

export const GlobalAveragePool = defineOp<GlobalPoolAttrs>({
  doc: 'mean of each channel plane: [N, C, H, W] → [N, C] ([N, C, 1, 1] with keepdims)',
  inputs: [{ name: 'x', role: 'data' }],
  outputs: 1,
  attrs: { keepdims: { type: 'bool', default: false } },
  infer(c) {
    const x = req(c, 0);
    needRank(c.node, 'x', x, 4, '[N, C, H, W]');
    const shape: Dim[] = c.attrs.keepdims ? [x.shape[0], x.shape[1], 1, 1] : [x.shape[0], x.shape[1]];
    return [{ shape, dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    const y = ops.globalAvgPool2d(x[0]!); // [N, C]
    return [a.keepdims ? ops.reshape(y, [...y.shape, 1, 1]) : y];
  },
  cost: (c) => ({ kind: 'pool', elementOps: shapeSize(c.inShape(0)!) }),
  onnx(c) {
    const p = c.e.one('GlobalAveragePool', [c.input(0)], c.scope); // [N, C, 1, 1]
    return [c.attrs.keepdims ? p : c.e.reshape(p, [0, fixed(c.scope, 'channels', c.info(0).shape[1])], c.scope)];
  },
  onnxImport: [{ types: ['GlobalAveragePool'], map: (c) => c.emit('GlobalAveragePool', [c.value(0)], { keepdims: true }) }],
  // Runtime: [C] (or [C, 1, 1] with keepdims: the same floats).
  lower: {
    run(c) {
      c.k.need4d(c.ni, c.shape);
      c.emit({ ...c.base, kind: 'globalAvgPool' });
    },
  },
});

export interface ReduceAttrs {
  axes: readonly number[];
  keepdims: boolean;
}

export const ReduceMean = defineOp<ReduceAttrs>({
  doc: 'mean over the given axes (kept as size 1 with keepdims)',
  inputs: [{ name: 'x', role: 'data' }],
  outputs: 1,
  attrs: { axes: { type: 'ints', minLen: 1 }, keepdims: { type: 'bool', default: false } },
  infer(c) {
    const x = req(c, 0);
    const axes = new Set(c.attrs.axes.map((a, i) => axisOf(c.node, `axes[${i}]`, a, x.shape.length)));
    if (axes.size !== c.attrs.axes.length) throw new ArgumentError(`${c.node}: axes ${fmtDims(c.attrs.axes)} repeat an axis`);
    for (const a of axes) if (typeof x.shape[a] !== 'number') throw new ShapeError(`${c.node}: cannot reduce over the batch-dependent dim ${a} of ${fmtDims(x.shape)}`);
    const shape = c.attrs.keepdims ? x.shape.map((d, i) => (axes.has(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.has(i));
    return [{ shape, dtype: 'float32' }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.mean(x[0]!, [...a.axes], a.keepdims)],
  cost: (c) => ({ kind: 'pool', elementOps: shapeSize(c.inShape(0)!) }),
  onnx(c) {
    const keepdims = c.attrs.keepdims ? 1 : 0;
    if (c.e.opset >= 18) return [c.e.one('ReduceMean', [c.input(0), c.e.i64(`${c.scope}.axes`, [...c.attrs.axes])], c.scope, { keepdims })];
    return [c.e.one('ReduceMean', [c.input(0)], c.scope, { axes: [...c.attrs.axes], keepdims })];
  },
  onnxImport: [
    {
      types: ['ReduceMean'],
      map(c) {
        const axes = axesOf(c, 1, 18);
        if (!axes || axes.length === 0) {
          if (c.attr.int('noop_with_empty_axes', 0) === 1) return c.emit('Identity', [c.value(0)]);
          c.unsupported('a mean over all dims (the batch included)');
        }
        return c.emit('ReduceMean', [c.value(0)], { axes, keepdims: c.attr.int('keepdims', 1) === 1 });
      },
    },
    {
      // ReduceSum (axes an input from opset 13) as the mean times the count of the reduced dims.
      types: ['ReduceSum'],
      map(c) {
        const x = c.info(0).shape;
        const axes = axesOf(c, 1, 13);
        if (!axes || axes.length === 0) {
          if (c.attr.int('noop_with_empty_axes', 0) === 1) return c.emit('Identity', [c.value(0)]);
          return c.unsupported('a sum over all dims (the batch included)');
        }
        let count = 1;
        for (const a of axes) {
          const d = x[a < 0 ? a + x.length : a];
          if (typeof d !== 'number') return c.unsupported('a sum over the batch dim');
          count *= d;
        }
        const mean = c.emit('ReduceMean', [c.value(0)], { axes, keepdims: c.attr.int('keepdims', 1) === 1 })[0];
        return c.emit('Mul', [mean, c.weight('count', [], Float32Array.of(count))]);
      },
    },
  ],
  // Runtime: the mean over one block of adjacent per-sample axes.
  lower: {
    run(c) {
      const { shape, name } = c;
      const axes = c.attrs.axes.map((ax) => (ax < 0 ? ax + shape.length + 1 : ax) - 1);
      if (axes.includes(-1)) throw new ArgumentError(`lutnn.load: ReduceMean '${name}' reduces over the batch dim; the runtime keeps [N, ...]`);
      c.emit({ ...c.base, kind: 'reduceMean', ...c.k.meanBlocks(name, shape, axes) });
    },
  },
});
