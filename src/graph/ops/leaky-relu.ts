// Record of LeakyRelu: x for x > 0, alpha·x otherwise (the README's "Adding an op" example).
import { sizePerSample } from '../dims.js';
import { defineOp } from '../op.js';
import { req } from '../rules.js';
import { direct } from '../onnx-in.js';

export interface LeakyReluAttrs {
  alpha: number;
}

export const LeakyRelu = defineOp<LeakyReluAttrs>({
  doc: 'max(x, 0) + alpha·min(x, 0) (torch.nn.LeakyReLU, ONNX LeakyRelu)',
  inputs: [{ name: 'x', role: 'data' }],
  outputs: 1,
  attrs: { alpha: { type: 'float', min: 0, default: 0.01 } },
  infer: (c) => [{ shape: req(c, 0).shape, dtype: 'float32' }],
  // Composed from primitives (relu(x) − alpha·relu(−x)), so its gradient comes with them.
  forward: ({ x, attrs: a, ops }) => [ops.sub(ops.relu(x[0]!), ops.mulScalar(ops.relu(ops.neg(x[0]!)), a.alpha))],
  cost: (c) => ({ kind: 'elementwise', elementOps: sizePerSample(c.outShape(0)) }),
  onnx: (c) => [c.e.one('LeakyRelu', [c.input(0)], c.scope, { alpha: { float: c.attrs.alpha } })],
  onnxImport: [direct('LeakyRelu', ['LeakyRelu'], (c) => ({ alpha: c.attr.float('alpha', 0.01) }))],
  lower: null, // the runtime has no LeakyRelu step (README, "Adding an op")
});
