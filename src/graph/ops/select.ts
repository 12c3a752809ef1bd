// Records of Where (x where a condition holds, else y: PyTorch's masked_fill) and Equal (a == b as uint8 0/1), with their ONNX import of Where, Equal and Not.
import { shapeSize } from '../../tensor/tensor.js';
import { ShapeError } from '../../errors.js';
import { fmtDims } from '../dims.js';
import { defineOp, type OnnxImportCtx } from '../op.js';
import { broadcastDims, oneBatchDim, req } from '../rules.js';

const INT_DTYPES = ['int32', 'int8', 'uint8'] as const;

export const Where = defineOp<Record<string, never>>({
  doc: 'x where cond is nonzero, else y (broadcasting; ONNX Where, torch.where, masked_fill); no gradient to cond',
  inputs: [
    { name: 'cond', role: 'data', dtypes: INT_DTYPES },
    { name: 'x', role: 'data' },
    { name: 'y', role: 'data' },
  ],
  outputs: 1,
  attrs: {},
  infer(c) {
    const [k, x, y] = [req(c, 0).shape, req(c, 1).shape, req(c, 2).shape];
    const shape = broadcastDims(c.node, broadcastDims(c.node, k, x), y);
    return [{ shape: oneBatchDim(c.node, shape, `broadcasting ${fmtDims(k)}, ${fmtDims(x)} and ${fmtDims(y)}`), dtype: 'float32' }];
  },
  forward: ({ x, ops }) => [ops.where(x[0]!, x[1]!, x[2]!)],
  cost: (c) => ({ kind: 'elementwise', elementOps: shapeSize(c.outShape(0)) }),
  onnx: (c) => ({
    outputs: [c.e.one('Where', [c.e.one('Cast', [c.input(0)], c.scope, { to: 9 }), c.input(1), c.input(2)], c.scope)],
    exact: c.exact(1) && c.exact(2),
  }),
  onnxImport: [
    {
      // ONNX bool values are uint8 0/1 in lutnn.
      types: ['Where'],
      map(c) {
        for (const i of [1, 2]) if (c.info(i).dtype !== 'float32') c.unsupported(`a selection of ${c.info(i).dtype} values (lutnn's Where selects float32)`);
        // A constant ±inf fill (masked_fill(mask, -inf)) becomes ±3.4e38, float32's largest: model files hold finite
        // weights, and softmax gives the same 0 for it (a row masked entirely is uniform instead of NaN).
        const operand = (i: number): string => {
          const f = c.floats(i);
          if (!f || f.data.every(Number.isFinite)) return c.value(i, { broadcast: true });
          if (f.data.some(Number.isNaN)) return c.unsupported(`a NaN fill (input ${i})`);
          return c.weight(i === 1 ? 'x' : 'y', f.shape, f.data.map((v) => (v === Infinity ? 3.4028234663852886e38 : v === -Infinity ? -3.4028234663852886e38 : v)));
        };
        return c.emit('Where', [c.value(0, { broadcast: true }), operand(1), operand(2)]);
      },
    },
  ],
  lower: null,
});

/** Operand i of an ONNX comparison in the dtype of the other operand when it is a constant (int64 1 against an int32 mask). */
function operand(c: OnnxImportCtx, i: number, dtype: string): string {
  if (c.isConst(i) && c.info(i).dtype !== dtype) {
    const v = c.ints(i);
    const f = c.floats(i);
    const shape = c.info(i).shape as number[];
    if (dtype === 'float32' && (v || f)) return c.weight(`in${i}`, shape, f ? f.data.slice() : Float32Array.from(v as number[]));
    if (dtype === 'int32' && v && v.every((x) => typeof x === 'number')) return c.weight(`in${i}`, shape, Int32Array.from(v as number[]));
    if (dtype === 'uint8' && v && v.every((x) => x === 0 || x === 1)) return c.weight(`in${i}`, shape, Uint8Array.from(v as number[]));
  }
  return c.value(i, { broadcast: true });
}

export const Equal = defineOp<Record<string, never>>({
  doc: '1 where a == b, else 0, as uint8 (broadcasting; ONNX Equal, whose bool is uint8 in lutnn); no gradient',
  inputs: [
    { name: 'a', role: 'data', dtypes: ['float32', ...INT_DTYPES] },
    { name: 'b', role: 'data', dtypes: ['float32', ...INT_DTYPES] },
  ],
  outputs: 1,
  attrs: {},
  infer(c) {
    const [a, b] = [req(c, 0), req(c, 1)];
    if (a.dtype !== b.dtype) throw new ShapeError(`${c.node}: operands must have one dtype, got ${a.dtype} and ${b.dtype}`);
    return [{ shape: oneBatchDim(c.node, broadcastDims(c.node, a.shape, b.shape), `comparing ${fmtDims(a.shape)} with ${fmtDims(b.shape)}`), dtype: 'uint8' }];
  },
  forward: ({ x, ops }) => [ops.equal(x[0]!, x[1]!)],
  cost: (c) => ({ kind: 'elementwise', elementOps: shapeSize(c.outShape(0)) }),
  onnx(c) {
    // onnxruntime compares int32 and float; 8-bit operands are widened first.
    const wide = (i: number): string => (c.info(i).dtype === 'float32' || c.info(i).dtype === 'int32' ? c.input(i) : c.e.one('Cast', [c.input(i)], c.scope, { to: 6 }));
    return { outputs: [c.e.one('Cast', [c.e.one('Equal', [wide(0), wide(1)], c.scope)], c.scope, { to: 2 })], exact: true };
  },
  onnxImport: [
    {
      types: ['Equal'],
      map(c) {
        const dtype = c.isConst(0) ? c.info(1).dtype : c.info(0).dtype;
        return c.emit('Equal', [operand(c, 0, dtype), operand(c, 1, dtype)]);
      },
    },
    {
      // not x = (x == 0) for ONNX bool (uint8 0/1) values.
      types: ['Not'],
      map: (c) => c.emit('Equal', [c.value(0), c.weight('zero', [], new Uint8Array(1))]),
    },
  ],
  lower: null,
});
