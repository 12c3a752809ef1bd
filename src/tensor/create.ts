// Creation ops: zeros/ones/full/arange/from arrays/random, all seeded through Rng.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { globalRng, type Rng } from './rng.js';
import { Tensor, allocFor, shapeSize, type DType, type Shape } from './tensor.js';

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return new Tensor(allocFor(dtype, shapeSize(shape)), shape, dtype);
}

export function ones(shape: Shape): Tensor {
  return full(shape, 1);
}

export function full(shape: Shape, value: number): Tensor {
  const t = zeros(shape);
  t.data.fill(value);
  return t;
}

export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype);
}

export function scalar(value: number): Tensor {
  return new Tensor(Float32Array.of(value), []);
}

/** 0, 1, ..., n-1 as float32 (or int32). */
export function arange(n: number, dtype: DType = 'float32'): Tensor {
  if (!Number.isInteger(n) || n < 0) throw new ArgumentError(`arange: n must be a non-negative integer, got ${n}`);
  const t = zeros([n], dtype);
  for (let i = 0; i < n; i++) t.data[i] = i;
  return t;
}

/** From a flat or nested JS array; shape inferred when not given. */
export function tensor(values: ArrayLike<number> | unknown[], shape?: Shape, dtype: DType = 'float32'): Tensor {
  const flat: number[] = [];
  const inferred: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v) || ArrayBuffer.isView(v)) {
      const arr = v as ArrayLike<unknown>;
      if (inferred.length <= depth) inferred.push(arr.length);
      else if (inferred[depth] !== arr.length) throw new ShapeError(`tensor: ragged nested array at depth ${depth}`);
      for (let i = 0; i < arr.length; i++) walk(arr[i], depth + 1);
    } else if (typeof v === 'number') {
      flat.push(v);
    } else {
      throw new ArgumentError(`tensor: expected numbers, got ${typeof v}`);
    }
  };
  walk(values, 0);
  const sh = shape ?? inferred;
  if (shapeSize(sh) !== flat.length) {
    throw new ShapeError(`tensor: shape ${fmtShape(sh)} needs ${shapeSize(sh)} values, got ${flat.length}`);
  }
  const data = allocFor(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) data[i] = flat[i];
  return new Tensor(data, sh, dtype);
}

export function randn(shape: Shape, std = 1, rng: Rng = globalRng): Tensor {
  const t = zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal(0, std);
  return t;
}

export function rand(shape: Shape, lo = 0, hi = 1, rng: Rng = globalRng): Tensor {
  const t = zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(lo, hi);
  return t;
}
