// The Tensor type: contiguous row-major storage (float32, int32, int8, uint8) plus autograd bookkeeping.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';

export type DType = 'float32' | 'int32' | 'int8' | 'uint8';
export type TypedArray = Float32Array | Int32Array | Int8Array | Uint8Array;
export type Shape = readonly number[];

/** One node of the autograd graph: how to turn the output's gradient into the inputs' gradients. */
export interface GradFn {
  readonly name: string;
  /** Inputs in the order `backward` returns their gradients. */
  inputs: Tensor[];
  /** Gradients for each input (null where that input needs none). Runs under no-grad. */
  backward(grad: Tensor): (Tensor | null)[];
}

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  data: TypedArray;
  /** True for leaves the user wants gradients of, and for results computed from them. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf (after `backward`). */
  grad: Tensor | null = null;
  /** The node that made this tensor, for non-leaves while grad mode was on. */
  gradFn: GradFn | null = null;
  /** Optional name (parameters get theirs from the module tree). */
  name?: string;

  constructor(data: TypedArray, shape: Shape, dtype?: DType) {
    const dt = dtype ?? dtypeOf(data);
    if (dtypeOf(data) !== dt) throw new DTypeError(`Tensor: data is ${dtypeOf(data)} but dtype says ${dt}`);
    const n = shapeSize(shape);
    if (n !== data.length) {
      throw new ShapeError(`Tensor: shape ${fmtShape(shape)} needs ${n} elements but data has ${data.length}`);
    }
    this.shape = Object.freeze([...shape]);
    this.dtype = dt;
    this.data = data;
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Row-major strides in elements. */
  get strides(): number[] {
    return stridesOf(this.shape);
  }

  /** The only value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item: expected one element, got shape ${fmtShape(this.shape)}`);
    return this.data[0];
  }

  /** Float32 data (throws for other dtypes): the common case in ops. */
  get f32(): Float32Array {
    if (!(this.data instanceof Float32Array)) throw new DTypeError(`expected a float32 tensor, got ${this.dtype}`);
    return this.data;
  }

  /** Nested JS arrays, for printing and tests. */
  toArray(): unknown {
    const rec = (offset: number, dim: number): unknown => {
      if (dim === this.shape.length) return this.data[offset];
      const stride = shapeSize(this.shape.slice(dim + 1));
      const out: unknown[] = [];
      for (let i = 0; i < this.shape[dim]; i++) out.push(rec(offset + i * stride, dim + 1));
      return out;
    };
    return rec(0, 0);
  }

  /** Mark as a leaf that wants gradients (returns this). */
  requireGrad(flag = true): this {
    if (flag && this.dtype !== 'float32') throw new DTypeError(`requireGrad: only float32 tensors can require grad, got ${this.dtype}`);
    this.requiresGrad = flag;
    return this;
  }

  /** A new tensor sharing nothing with this one and cut from the graph. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape, this.dtype);
  }

  /** Same storage, no graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, this.dtype);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)})`;
  }
}

export function dtypeOf(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  throw new DTypeError('Tensor: unsupported storage type');
}

export function allocFor(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
      return new Uint8Array(n);
  }
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float32' || dtype === 'int32' ? 4 : 1;
}

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`shape ${fmtShape(shape)}: dims must be non-negative integers`);
    n *= d;
  }
  return n;
}

/**
 * Output length of a window op (conv, pooling) over `n` input positions: kernel k, stride s, padding p on both sides,
 * dilation d; 0 or less when the padded input is shorter than the dilated kernel (callers report that).
 */
export function convOutSize(n: number, k: number, s: number, p: number, d = 1): number {
  const eff = d * (k - 1) + 1;
  if (n + 2 * p < eff) return 0;
  return Math.floor((n + 2 * p - eff) / s) + 1;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalise a possibly negative axis against `ndim`. */
export function normAxis(op: string, axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) {
    throw new ArgumentError(`${op}: axis ${axis} out of range for ${ndim} dims`);
  }
  return a;
}
