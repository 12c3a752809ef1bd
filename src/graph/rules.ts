// Helpers of the records' shape rules: rank and dtype checks, broadcasting and axes over symbolic dims, window sizes.
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import { convOutSize } from '../tensor/tensor.js';
import { batchCoef, dimEq, fmtDims, type Dim } from './dims.js';
import type { InferCtx } from './op.js';
import type { IrDType, ValueInfo } from './types.js';

/** Input i, which the caller knows is present (required inputs are checked before the rule runs). */
export function req<A extends object>(c: InferCtx<A>, i: number): ValueInfo {
  const v = c.inputs[i];
  if (!v) throw new ArgumentError(`${c.node}: input ${i} is required`);
  return v;
}

/** Throws unless `v` has `rank` dims; `what` describes the expected layout ("[N, C, H, W]"). */
export function needRank(node: string, arg: string, v: ValueInfo, rank: number, what: string): void {
  if (v.shape.length !== rank) throw new ShapeError(`${node}: ${arg} must be ${what}, got ${fmtDims(v.shape)}`);
}

export function needDType(node: string, arg: string, v: ValueInfo, dtypes: readonly IrDType[]): void {
  if (!dtypes.includes(v.dtype)) throw new DTypeError(`${node}: ${arg} must be ${dtypes.join(' or ')}, got ${v.dtype}`);
}

/** A concrete dim (weights, channel counts): symbolic dims are an error here. */
export function fixed(node: string, arg: string, d: Dim): number {
  if (typeof d !== 'number') throw new ShapeError(`${node}: ${arg} must not depend on the batch size, got ${d}`);
  return d;
}

/** NumPy broadcasting of two shapes of symbolic dims (a 1 stretches; N and k·N only match themselves). */
export function broadcastDims(node: string, a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new ShapeError(`${node}: shapes ${fmtDims(a)} and ${fmtDims(b)} do not broadcast (dim ${i}: ${da} vs ${db})`);
  }
  return out;
}

/**
 * Returns `shape` when at most one of its dims depends on the batch size; throws otherwise. Two (N·N elements, e.g.
 * [N, 1] + [1, N]) are not a shape of this IR: sizes per sample and the size limits would be wrong.
 */
export function oneBatchDim(node: string, shape: readonly Dim[], from: string): Dim[] {
  if (shape.filter((d) => batchCoef(d) > 0).length > 1) throw new ShapeError(`${node}: ${from} gives ${fmtDims(shape)}, with more than one batch-dependent dim`);
  return [...shape];
}

/** An axis in [-rank, rank) as a non-negative index. */
export function axisOf(node: string, arg: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new ArgumentError(`${node}: ${arg} ${axis} is out of range for ${rank} dims`);
  return a;
}

/** Output size of a window op along one spatial dim; throws when the padded input is shorter than the window. */
export function windowOut(node: string, what: string, n: Dim, k: number, s: number, p: number, d = 1): number {
  if (typeof n !== 'number') throw new ShapeError(`${node}: the ${what} size must not depend on the batch size, got ${n}`);
  const o = convOutSize(n, k, s, p, d);
  if (o <= 0) throw new ShapeError(`${node}: input ${what} ${n} padded by ${p} is smaller than the window ${d * (k - 1) + 1}`);
  return o;
}

/** True when a dim depends on the batch size. */
export function batched(d: Dim): boolean {
  return batchCoef(d) > 0;
}

/** Inputs of a layer with a weight and an optional bias (Conv, Linear). */
export const WEIGHTED_INPUTS = [
  { name: 'x', role: 'data' },
  { name: 'weight', role: 'param' },
  { name: 'bias', role: 'param', optional: true },
] as const;

/** Two activation operands (the binary ops, MatMul). */
export const TWO_OPERANDS = [
  { name: 'a', role: 'data' },
  { name: 'b', role: 'data' },
] as const;
