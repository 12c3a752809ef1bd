// Records of Softmax, Gather (embedding rows and ONNX Gather), Dropout and Identity.
import { shapeSize } from '../../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { fmtDims } from '../dims.js';
import { defineOp } from '../op.js';
import { axisOf, needDType, oneBatchDim, req } from '../rules.js';
import { IR_DTYPES } from '../types.js';
import type { AxisAttrs } from './shape.js';
import { constScalar, direct } from '../onnx-in.js';


export const Softmax = defineOp<AxisAttrs>({
  doc: 'exp(x)/Σexp(x) along `axis` (numerically stable)',
  inputs: [{ name: 'x', role: 'data' }],
  outputs: 1,
  attrs: { axis: { type: 'int', default: -1 } },
  infer(c) {
    const x = req(c, 0);
    axisOf(c.node, 'axis', c.attrs.axis, x.shape.length);
    return [{ shape: x.shape, dtype: 'float32' }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.softmax(x[0]!, a.axis)],
  cost: (c) => ({ kind: 'elementwise', elementOps: 3 * shapeSize(c.outShape(0)) }),
  onnx: (c) => [c.e.one('Softmax', [c.input(0)], c.scope, { axis: c.attrs.axis })],
  onnxImport: [direct('Softmax', ['Softmax'], (c) => ({ axis: c.attr.int('axis', -1) }))],
  // Runtime: along the last axis; a Mul by a scalar constant just before (attention's 1/√d) is its pre-scale.
  lower: {
    run(c) {
      const { shape, x, name } = c;
      const a = c.attrs.axis;
      const axis = a < 0 ? a + shape.length + 1 : a;
      if (axis !== shape.length) throw new ArgumentError(`lutnn.load: Softmax '${name}' is along axis ${String(a)} of [N,${shape.join(',')}]; the runtime runs softmax along the last axis`);
      const cols = shape[shape.length - 1];
      const t = c.fusable(x);
      if (t && t.kind === 'binary' && t.mode === 'scalar' && t.op === 'mul') {
        c.replace(t, { ...t, kind: 'softmax', name: `${t.name}+${name}`, outShape: c.out, output: c.y, cols, scale: t.constant![0] }, x);
        return;
      }
      c.emit({ ...c.base, kind: 'softmax', cols, scale: null });
    },
  },
});

export const Gather = defineOp<AxisAttrs>({
  doc: 'ONNX Gather: out = data[:axis] + indices.shape + data[axis+1:] (axis 0 on a table: embedding lookup)',
  inputs: [
    { name: 'data', role: 'data' },
    { name: 'indices', role: 'data', dtypes: ['int32'] },
  ],
  outputs: 1,
  attrs: { axis: { type: 'int', default: 0 } },
  infer(c) {
    const d = req(c, 0);
    const idx = req(c, 1);
    needDType(c.node, 'indices', idx, ['int32']);
    const a = axisOf(c.node, 'axis', c.attrs.axis, d.shape.length);
    if (typeof d.shape[a] !== 'number') throw new ShapeError(`${c.node}: cannot gather along the batch-dependent dim ${a} of ${fmtDims(d.shape)}`);
    const shape = oneBatchDim(c.node, [...d.shape.slice(0, a), ...idx.shape, ...d.shape.slice(a + 1)], `indices ${fmtDims(idx.shape)} into ${fmtDims(d.shape)}`);
    return [{ shape, dtype: 'float32' }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.take(x[0]!, a.axis, x[1]!)],
  cost: (c) => ({ kind: 'shape', elementOps: shapeSize(c.outShape(0)) }),
  onnx: (c) => [c.e.one('Gather', [c.input(0), c.input(1)], c.scope, { axis: c.attrs.axis })],
  // Embedding lookups (a constant table, computed indices) and picks such as x[:, 0] (constant indices).
  onnxImport: [direct('Gather', ['Gather'], (c) => ({ axis: c.attr.int('axis', 0) }), 2)],
  // Runtime: rows of a constant table by per-sample int32 ids (an embedding), or constant picks of an activation.
  lower: {
    reads: 'one',
    ints: true,
    run(c) {
      const { ni, base } = c;
      const [d, i] = ni.node.inputs;
      const axis0 = c.attrs.axis;
      if (!c.computed(d)) {
        // data is a table [..., len, ...] (no batch), indices [N, ...] per sample: out [N, ...table[:axis], ...ids, ...table[axis+1:]].
        const table = c.weights.get(d)!;
        const a = axis0 < 0 ? axis0 + table.shape.length : axis0;
        if (a !== 0) throw new ArgumentError(`lutnn.load: Gather '${base.name}' picks along axis ${axis0} of the table ${fmtShape(table.shape)}; the runtime looks up rows (axis 0)`);
        const len = table.shape[0];
        const inner = shapeSize(table.shape.slice(1));
        const ids = c.shapes.get(i)!;
        c.emit({ ...base, inShape: ids, inputs: [i], kind: 'gather', table: Float32Array.from(table.f32), indices: null, outer: 1, len, inner, count: shapeSize(ids) });
        return;
      }
      // data is an activation [N, ...]; indices a constant (int32): per sample, along axis − 1.
      const shape = c.shapes.get(d)!;
      const a = (axis0 < 0 ? axis0 + shape.length + 1 : axis0) - 1;
      if (a < 0) throw new ArgumentError(`lutnn.load: Gather '${base.name}' picks along the batch dim; the runtime keeps [N, ...]`);
      const idx = c.weights.get(i)!;
      const len = shape[a];
      const bad = Array.from(idx.data as Int32Array).findIndex((v) => !(v >= -len && v < len));
      if (bad >= 0) throw new ShapeError(`lutnn.load: Gather '${base.name}': index ${(idx.data as Int32Array)[bad]} is out of range [${-len}, ${len}) for axis ${axis0} of [N,${shape.join(',')}]`);
      c.emit({ ...base, kind: 'gather', table: null, indices: Int32Array.from(idx.data as Int32Array), outer: shapeSize(shape.slice(0, a)), len, inner: shapeSize(shape.slice(a + 1)), count: idx.data.length });
    },
  },
});

export interface DropoutAttrs {
  p: number;
}

export const Dropout = defineOp<DropoutAttrs>({
  doc: 'training: zeroes each element with probability p and scales the rest by 1/(1−p); eval: identity',
  inputs: [{ name: 'x', role: 'data' }],
  outputs: 1,
  attrs: { p: { type: 'float', min: 0, max: 1, maxExclusive: true, default: 0.5 } },
  infer: (c) => [{ shape: req(c, 0).shape, dtype: 'float32' }],
  forward: ({ x, attrs: a, training, ops, rng }) => [ops.dropout(x[0]!, a.p, training, rng)],
  cost: () => ({ kind: 'shape', view: true }),
  onnx: (c) => ({ outputs: [c.input(0)], exact: c.exact(0) }),
  // Dropout(data, ratio?, training_mode?): dropout at the ratio when fine-tuning, the identity in eval.
  onnxImport: [
    direct('Dropout', ['Dropout'], (c) => {
      const p = constScalar(c, 1, 'ratio') ?? c.attr.float('ratio', 0.5);
      if (!(p >= 0 && p < 1)) c.unsupported(`ratio ${p}`);
      return { p };
    }),
  ],
  // Runtime (eval): its output is its input.
  lower: { ints: true, alias: true },
});

export const Identity = defineOp<Record<string, never>>({
  doc: 'y = x',
  inputs: [{ name: 'x', role: 'data', dtypes: IR_DTYPES }],
  outputs: 1,
  attrs: {},
  infer: (c) => [req(c, 0)],
  forward: ({ x }) => [x[0]!],
  cost: () => ({ kind: 'shape', view: true }),
  onnx: (c) => ({ outputs: [c.input(0)], exact: c.exact(0) }),
  // An ONNX Identity adds no node: its output is its input's value.
  onnxImport: [{ types: ['Identity'], map: (c) => [c.value(0)] }],
  lower: { ints: true, alias: true },
});
