// Records of Softmax, Gather (embedding rows and ONNX Gather), Dropout and Identity.
import { shapeSize } from '../../tensor/tensor.js';
import { ShapeError } from '../../errors.js';
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
});
