// Shared argument checks and shape helpers for the ops (not re-exported from the package).
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, normAxis, type Shape } from '../tensor/tensor.js';

/** Throws DTypeError unless `t` is float32: `relu: x must be float32, got int32`. */
export function checkF32(op: string, arg: string, t: Tensor): Float32Array {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${arg} must be a Tensor, got ${describe(t)}`);
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${arg} must be float32, got ${t.dtype}`);
  return t.data as Float32Array;
}

/** Throws DTypeError unless `t` is int32. */
export function checkI32(op: string, arg: string, t: Tensor): Int32Array {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${arg} must be a Tensor, got ${describe(t)}`);
  if (t.dtype !== 'int32') throw new DTypeError(`${op}: ${arg} must be int32, got ${t.dtype}`);
  return t.data as Int32Array;
}

/** Throws ShapeError unless `t` has exactly `ndim` dims. */
export function checkNdim(op: string, arg: string, t: Tensor, ndim: number, layout?: string): void {
  if (t.ndim !== ndim) {
    throw new ShapeError(`${op}: ${arg} must have ${ndim} dims${layout ? ` ${layout}` : ''}, got ${fmtShape(t.shape)}`);
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : `${typeof v} ${String(v)}`;
}

/** An integer argument within [lo, hi]. */
export function checkInt(op: string, arg: string, v: unknown, lo: number, hi = Infinity): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    const range = hi === Infinity ? `an integer >= ${lo}` : `an integer in [${lo}, ${hi}]`;
    throw new ArgumentError(`${op}: ${arg} must be ${range}, got ${String(v)}`);
  }
  return v;
}

/** `3` or `[2, 3]` → `[h, w]`, each an integer >= lo. */
export function pair(op: string, arg: string, v: number | readonly [number, number] | undefined, dflt: [number, number], lo: number): [number, number] {
  if (v === undefined) return dflt;
  if (typeof v === 'number') {
    checkInt(op, arg, v, lo);
    return [v, v];
  }
  if (!Array.isArray(v) || v.length !== 2) {
    throw new ArgumentError(`${op}: ${arg} must be a number or a pair [h, w], got ${Array.isArray(v) ? `${v.length} values` : describe(v)}`);
  }
  checkInt(op, `${arg}[0]`, v[0], lo);
  checkInt(op, `${arg}[1]`, v[1], lo);
  return [v[0], v[1]];
}

/** Normalised axis plus the sizes before (outer), along (n) and after (inner) it. */
export function splitAt(op: string, shape: Shape, axis: number): { axis: number; outer: number; n: number; inner: number } {
  if (typeof axis !== 'number') throw new ArgumentError(`${op}: axis must be an integer, got ${describe(axis)}`);
  const a = normAxis(op, axis, shape.length);
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < a; i++) outer *= shape[i];
  for (let i = a + 1; i < shape.length; i++) inner *= shape[i];
  return { axis: a, outer, n: shape[a], inner };
}

/** A float32 tensor from a fresh array. */
export function f32Tensor(data: Float32Array, shape: Shape): Tensor {
  return new Tensor(data, shape, 'float32');
}
