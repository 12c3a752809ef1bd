// Records of Cast (element type conversion, e.g. an int attention mask to float) and Expand (broadcast to a shape, whose dim 0 may be the batch).
import { ArgumentError, ShapeError } from '../../errors.js';
import { shapeSize } from '../../tensor/tensor.js';
import { fmtDims, sizePerSample, type Dim } from '../dims.js';
import { defineOp } from '../op.js';
import { broadcastDims, oneBatchDim, req } from '../rules.js';
import { IR_DTYPES, type IrDType } from '../types.js';

export interface CastAttrs {
  to: IrDType;
}

/** ONNX element types of the IR dtypes, and the IR dtype each ONNX type is cast to (integers to int32, floats to float32). */
const ONNX_CODE: Record<IrDType, number> = { float32: 1, int32: 6, int8: 3, uint8: 2 };
const FROM_ONNX: Readonly<Record<number, IrDType>> = { 1: 'float32', 10: 'float32', 11: 'float32', 16: 'float32', 6: 'int32', 7: 'int32', 5: 'int32', 4: 'int32', 12: 'int32', 13: 'int32', 3: 'int8', 2: 'uint8' };

export const Cast = defineOp<CastAttrs>({
  doc: 'x converted to `to`: to float32 exactly, to an integer type truncated toward zero (ONNX Cast; no gradient)',
  inputs: [{ name: 'x', role: 'data', dtypes: IR_DTYPES }],
  outputs: 1,
  attrs: { to: { type: 'string', choices: IR_DTYPES } },
  infer: (c) => [{ shape: req(c, 0).shape, dtype: c.attrs.to }],
  forward: ({ x, attrs: a, ops }) => [ops.cast(x[0]!, a.to)],
  cost: (c) => ({ kind: 'elementwise', elementOps: sizePerSample(c.outShape(0)) }),
  onnx: (c) => ({ outputs: [c.e.one('Cast', [c.input(0)], c.scope, { to: ONNX_CODE[c.attrs.to] })], exact: c.exact(0) }),
  onnxImport: [
    {
      // Cast to a float type becomes float32, to an integer type int32 (int8 / uint8 kept); to bool is not a truncation.
      types: ['Cast', 'CastLike'],
      map(c) {
        const x = c.value(0);
        if (c.opType === 'Cast' && c.attr.int('to') === 9) {
          // To bool (uint8 0/1): x != 0, as (x == 0) == 0.
          const d = c.info(0).dtype;
          const zero = (n: string): string => c.weight(n, [], d === 'float32' ? new Float32Array(1) : d === 'uint8' ? new Uint8Array(1) : new Int32Array(1));
          if (d === 'int8') return c.unsupported('a cast of int8 values to bool');
          const isZero = c.emit('Equal', [x, zero('zero')])[0];
          return c.emit('Equal', [isZero, c.weight('zero_u8', [], new Uint8Array(1))]);
        }
        const to = c.opType === 'CastLike' ? c.info(1).dtype : FROM_ONNX[c.attr.int('to')];
        if (!to) return c.unsupported(`a cast to ONNX element type ${c.attr.int('to')}`);
        return c.info(0).dtype === to ? c.emit('Identity', [x]) : c.emit('Cast', [x], { to });
      },
    },
  ],
  // Runtime: a same-dtype Cast is a rename; int32 → float32 a 'cast' op (token masks).
  lower: {
    ints: true,
    alias: (ni) => ni.inputs[0]?.dtype === ni.outputs[0].dtype,
    run(c) {
      if (c.ni.inputs[0]!.dtype !== 'int32' || c.ni.outputs[0].dtype !== 'float32') {
        throw new ArgumentError(`lutnn.load: Cast '${c.name}' from ${c.ni.inputs[0]!.dtype} to ${c.ni.outputs[0].dtype}; the runtime casts int32 to float32 only`);
      }
      c.emit({ ...c.base, kind: 'cast' });
    },
  },
});

export interface ExpandAttrs {
  /** The target shape (ONNX Expand: broadcast both ways); with input `batch_of`, its dim 0 is that value's dim 0. */
  shape: readonly number[];
}

/** The output dims: x broadcast with the target (whose dim 0 comes from `batch_of` when given). */
function expandDims(node: string, x: readonly Dim[], shape: readonly number[], batch: Dim | null): Dim[] {
  const target: Dim[] = [...shape];
  if (batch !== null) {
    if (target.length === 0) throw new ShapeError(`${node}: an empty shape has no dim 0 to take the batch from`);
    target[0] = batch;
  }
  return oneBatchDim(node, broadcastDims(node, x, target), `expanding ${fmtDims(x)} to ${fmtDims(target)}`);
}

export const Expand = defineOp<ExpandAttrs>({
  doc: 'x broadcast to `shape` (ONNX Expand with a constant shape); with input batch_of, dim 0 of the shape is its dim 0 (the batch)',
  inputs: [
    { name: 'x', role: 'data', dtypes: IR_DTYPES },
    { name: 'batch_of', role: 'data', optional: true, dtypes: IR_DTYPES },
  ],
  outputs: 1,
  attrs: { shape: { type: 'ints', min: 1 } },
  infer(c) {
    const x = req(c, 0);
    const b = c.inputs[1];
    if (b && b.shape.length === 0) throw new ShapeError(`${c.node}: batch_of must have a dim 0, got a scalar`);
    return [{ shape: expandDims(c.node, x.shape, c.attrs.shape, b ? b.shape[0] : null), dtype: x.dtype }];
  },
  forward({ x, attrs: a, ops }) {
    const target = [...a.shape];
    if (x[1]) target[0] = x[1].shape[0];
    return [ops.expand(x[0]!, ops.broadcastShapes('Expand', x[0]!.shape, target))];
  },
  cost: (c) => ({ kind: 'shape', elementOps: shapeSize(c.outShape(0)) }),
  onnx(c) {
    const { e, scope } = c;
    let shape = e.i64(`${scope}.shape`, [...c.attrs.shape]);
    if (c.has(1)) {
      // [batch_of.shape[0], shape[1:]...]
      const n = e.one('Slice', [e.one('Shape', [c.input(1)], scope), e.i64(`${scope}.start`, [0]), e.i64(`${scope}.end`, [1])], scope);
      shape = e.one('Concat', [n, e.i64(`${scope}.rest`, c.attrs.shape.slice(1))], scope, { axis: 0 });
    }
    return { outputs: [e.one('Expand', [c.input(0), shape], scope)], exact: c.exact(0) };
  },
  onnxImport: [
    {
      // A constant target; a batch entry "N" keeps x's own batch dim, or takes the batch from a graph input.
      types: ['Expand'],
      map(c) {
        const t = c.ints(1);
        if (!t) return c.unsupported('a target shape computed from tensor values');
        const x = c.info(0).shape;
        const off = t.length - x.length;
        let batch = false;
        const shape = t.map((d, i) => {
          if (typeof d === 'number') return d;
          const xd = i - off >= 0 ? x[i - off] : 1;
          if (xd === d) return 1;
          if (i === 0 && d === 'N' && xd === 1) {
            batch = true;
            return 1;
          }
          return c.unsupported(`target [${t.join(',')}] with a batch-dependent dim ${i} x does not have`);
        });
        if (shape.some((d) => d < 1)) c.unsupported(`target [${t.join(',')}]`);
        return c.emit('Expand', batch ? [c.value(0), c.batch()] : [c.value(0)], { shape });
      },
    },
  ],
  lower: null,
});
