// Records of the broadcasting binary ops Add, Sub, Mul, Div (NumPy broadcasting over symbolic dims).
import type { Tensor } from '../../tensor/tensor.js';
import { fmtDims, sizePerSample } from '../dims.js';
import { defineOp, type EngineOps, type OpDef } from '../op.js';
import { TWO_OPERANDS, broadcastDims, oneBatchDim, req } from '../rules.js';

function binary(onnxOp: string, doc: string, f: (ops: EngineOps, a: Tensor, b: Tensor) => Tensor): OpDef<Record<string, never>> {
  return defineOp<Record<string, never>>({
    doc,
    inputs: TWO_OPERANDS,
    outputs: 1,
    attrs: {},
    infer(c) {
      const [a, b] = [req(c, 0).shape, req(c, 1).shape];
      return [{ shape: oneBatchDim(c.node, broadcastDims(c.node, a, b), `broadcasting ${fmtDims(a)} with ${fmtDims(b)}`), dtype: 'float32' }];
    },
    forward: ({ x, ops }) => [f(ops, x[0]!, x[1]!)],
    cost: (c) => ({ kind: 'elementwise', elementOps: sizePerSample(c.outShape(0)) }),
    // One IEEE float32 operation per element, as lutnn's: exact when both operands are.
    onnx: (c) => ({ outputs: [c.e.one(onnxOp, [c.input(0), c.input(1)], c.scope)], exact: c.exact(0) && c.exact(1) }),
  });
}

export const Add = binary('Add', 'a + b (broadcasting)', (ops, a, b) => ops.add(a, b));
export const Sub = binary('Sub', 'a − b (broadcasting)', (ops, a, b) => ops.sub(a, b));
export const Mul = binary('Mul', 'a · b elementwise (broadcasting)', (ops, a, b) => ops.mul(a, b));
export const Div = binary('Div', 'a / b elementwise (broadcasting)', (ops, a, b) => ops.div(a, b));
