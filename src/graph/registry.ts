// The op table: every op type's one record. A type in OP_TYPES without an entry here fails to compile.
import type { OpDef } from './op.js';
import type { OpType } from './types.js';
import { Clip, Gelu, HardSwish, Relu, Sigmoid, Silu, Tanh } from './ops/activation.js';
import { Add, Div, Mul, Sub } from './ops/arith.js';
import { Cast, Expand } from './ops/cast.js';
import { Conv } from './ops/conv.js';
import { Equal, Where } from './ops/select.js';
import { MatMul, Linear } from './ops/linear.js';
import { LeakyRelu } from './ops/leaky-relu.js';
import { LutConv, LutLinear, MaddnessConv, MaddnessLinear } from './ops/lut.js';
import { Dropout, Gather, Identity, Softmax } from './ops/misc.js';
import { BatchNorm, LayerNorm } from './ops/norm.js';
import { QConv, QLinear } from './ops/quant.js';
import { AveragePool, GlobalAveragePool, MaxPool, ReduceMean } from './ops/pool.js';
import { Concat, Flatten, Reshape, Slice, Split, Squeeze, Transpose, Unsqueeze } from './ops/shape.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const OPS: Readonly<Record<OpType, OpDef<any>>> = Object.freeze({
  Conv, BatchNorm, LayerNorm,
  Relu, LeakyRelu, Clip, Gelu, Silu, Sigmoid, Tanh, HardSwish,
  Add, Sub, Mul, Div,
  MatMul, Linear,
  Reshape, Flatten, Transpose, Concat, Slice, Split, Squeeze, Unsqueeze,
  MaxPool, AveragePool, GlobalAveragePool, ReduceMean,
  Softmax, Gather, Dropout, Identity,
  Cast, Expand, Where, Equal,
  LutLinear, LutConv, MaddnessLinear, MaddnessConv,
  QConv, QLinear,
});

/** The record of `op`, or undefined for a name outside the table. */
export function opDef(op: string): OpDef | undefined {
  return Object.prototype.hasOwnProperty.call(OPS, op) ? OPS[op as OpType] : undefined;
}
