// Records of the broadcasting binary ops Add, Sub, Mul, Div (NumPy broadcasting over symbolic dims).
import type { Tensor } from '../../tensor/tensor.js';
import { fmtDims, sizePerSample } from '../dims.js';
import { ShapeError, fmtShape } from '../../errors.js';
import { defineOp, type EngineOps, type Lowering, type OnnxImportCtx, type OnnxImportRule, type OpDef } from '../op.js';
import type { BinaryOp } from '../../runtime/transformer-kernels-ref.js';
import { constScalar } from '../onnx-in.js';
import type { OpType } from '../types.js';
import { TWO_OPERANDS, broadcastDims, oneBatchDim, req } from '../rules.js';

/** The float operand i of an ONNX arithmetic node (integer arithmetic on computed values is not an IR op). */
function floatOperand(c: OnnxImportCtx, i: number): string {
  if (!c.has(i)) c.unsupported(`input ${i} is missing`);
  const d = c.info(i).dtype;
  if (d !== 'float32') c.unsupported(`integer arithmetic on computed values (input ${i} is ${d})`);
  return c.value(i, { broadcast: true });
}

function binaryImport(op: OpType, onnxOp: string): OnnxImportRule {
  return { types: [onnxOp], map: (c) => c.emit(op, [floatOperand(c, 0), floatOperand(c, 1)]) };
}

function binary(onnxOp: string, doc: string, f: (ops: EngineOps, a: Tensor, b: Tensor) => Tensor, more: OnnxImportRule[] = []): OpDef<Record<string, never>> {
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
    onnxImport: [binaryImport(onnxOp as OpType, onnxOp), ...more],
    lower: binaryLower,
  });
}

/**
 * Runtime lowering: two activations of one shape (Add: a residual join, into which a following ReLU or BN fuses), two
 * activations of one sample broadcast as a row or a column (src/runtime/lower.ts broadcastBinary), or an activation
 * and a constant that keeps the activation's shape.
 */
const binaryLower: Lowering<Record<string, never>> = {
  reads: 'any',
  run(c) {
    const opType = c.ni.node.op;
    const { name, x, shape, out } = c;
    const [i0, i1] = c.ni.node.inputs;
    if (c.computed(i0) && c.computed(i1)) {
      const b = c.real(i1); // x + x lists x twice
      const bs = c.shapes.get(b)!;
      if (bs.length !== shape.length || bs.some((d, i) => d !== shape[i])) {
        c.emit({ ...c.k.broadcastBinary(name, opType, { v: x, shape }, { v: b, shape: bs }, out), output: c.y });
        return;
      }
      if (opType === 'Add') c.emit({ ...c.base, kind: 'add', inputs: [x, b], epi: { scale: null, shift: null, relu: false } });
      else c.emit({ ...c.base, kind: 'binary', inputs: [x, b], op: opType.toLowerCase() as BinaryOp, mode: 'same', rows: 1, cols: shape.reduce((p, d) => p * d, 1), constant: null });
      return;
    }
    const reversed = !c.computed(i0);
    const k = c.weights.get(reversed ? i0 : i1)!;
    if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
      throw new ShapeError(`lutnn.load: ${opType} '${name}': the constant ${fmtShape(k.shape)} broadcasts the activation [N,${shape.join(',')}] to [N,${out.join(',')}]; the runtime keeps the activation's shape`);
    }
    const cb = c.k.constBinary(name, opType, shape, { shape: k.shape, data: k.f32 }, reversed);
    c.emit({ ...c.base, kind: 'binary', op: cb.op, mode: cb.mode, rows: cb.rows, cols: cb.cols, constant: cb.constant });
  },
};

/** Pow by a constant 2 is x·x (the variance in decomposed LayerNorms that did not fuse); Neg is x·(−1). */
const mulForms: OnnxImportRule[] = [
  {
    types: ['Pow'],
    map(c) {
      const e = constScalar(c, 1, 'exponent');
      if (e !== 2) c.unsupported(`exponent ${e} (x·x for 2 is the only power lutnn has)`);
      const x = floatOperand(c, 0);
      return c.emit('Mul', [x, x]);
    },
  },
  { types: ['Neg'], map: (c) => c.emit('Mul', [floatOperand(c, 0), c.weight('minus_one', [], Float32Array.of(-1))]) },
];

/** Reciprocal is 1/x. */
const divForms: OnnxImportRule[] = [{ types: ['Reciprocal'], map: (c) => c.emit('Div', [c.weight('one', [], Float32Array.of(1)), floatOperand(c, 0)]) }];

export const Add = binary('Add', 'a + b (broadcasting)', (ops, a, b) => ops.add(a, b));
export const Sub = binary('Sub', 'a − b (broadcasting)', (ops, a, b) => ops.sub(a, b));
export const Mul = binary('Mul', 'a · b elementwise (broadcasting)', (ops, a, b) => ops.mul(a, b), mulForms);
export const Div = binary('Div', 'a / b elementwise (broadcasting)', (ops, a, b) => ops.div(a, b), divForms);
