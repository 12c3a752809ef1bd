// Symbolic dims of the graph IR: a dim is a number, or a whole multiple of the batch size N ("N", "49*N").
import { ShapeError } from '../errors.js';

/** A dim: a non-negative integer, or k·N written "N" (k = 1) or "k*N" (k >= 2), N being the symbolic batch size. */
export type Dim = number | string;

export const BATCH = 'N';

const SYM = /^(?:([1-9][0-9]{0,9})\*)?N$/;

/** k·N as a Dim (0 → 0, 1 → "N"). */
export function symDim(k: number): Dim {
  if (k === 0) return 0;
  return k === 1 ? BATCH : `${k}*${BATCH}`;
}

/** k of a dim k·N, 0 for a constant dim; −1 for something that is not a dim. */
export function batchCoef(d: Dim): number {
  if (typeof d === 'number') return 0;
  const m = SYM.exec(d);
  if (!m) return -1;
  return m[1] === undefined ? 1 : Number(m[1]);
}

export function isSymbolic(d: Dim): boolean {
  return typeof d === 'string';
}

/** Is `d` a well-formed dim (a non-negative safe integer, or k·N)? */
export function isDim(d: unknown): d is Dim {
  if (typeof d === 'number') return Number.isSafeInteger(d) && d >= 0;
  return typeof d === 'string' && SYM.test(d);
}

export function dimEq(a: Dim, b: Dim): boolean {
  return a === b || (typeof a === 'string' && typeof b === 'string' && batchCoef(a) === batchCoef(b));
}

export function shapeEq(a: readonly Dim[], b: readonly Dim[]): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]));
}

/** a·b; a product of two symbolic dims (N²) is not a dim and throws. */
export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a * b;
  if (typeof a === 'number') return symDim(a * batchCoef(b));
  if (typeof b === 'number') return symDim(b * batchCoef(a));
  throw new ShapeError(`dims ${a} and ${b}: a product of two batch dims is not supported`);
}

/** The product of `dims` (1 for none). */
export function dimProd(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) p = dimMul(p, d);
  return p;
}

/** a / b when it is a whole dim (a constant, or k·N over a constant, or k·N over j·N), else null. */
export function dimDiv(a: Dim, b: Dim): Dim | null {
  const ka = batchCoef(a);
  const kb = batchCoef(b);
  if (typeof b === 'number' && b === 0) return null;
  if (typeof a === 'number' && typeof b === 'number') return a % b === 0 ? a / b : null;
  if (typeof b === 'number') return ka % b === 0 ? symDim(ka / b) : null;
  if (typeof a === 'number') return a === 0 ? 0 : null;
  return ka % kb === 0 ? ka / kb : null;
}

/** The value of `d` for a batch of n samples. */
export function dimAt(d: Dim, n: number): number {
  return typeof d === 'number' ? d : batchCoef(d) * n;
}

/** Shape for a batch of n samples. */
export function shapeAt(dims: readonly Dim[], n: number): number[] {
  return dims.map((d) => dimAt(d, n));
}

/** Elements per sample: the shape's size at N = 1. */
export function sizePerSample(dims: readonly Dim[]): number {
  let s = 1;
  for (const d of dims) s *= dimAt(d, 1);
  return s;
}

/** "[N,1,28,28]". */
export function fmtDims(dims: readonly Dim[]): string {
  return `[${dims.join(',')}]`;
}

/** The shape of one sample when dim 0 is N and no other dim depends on N; null otherwise. */
export function perSample(dims: readonly Dim[]): number[] | null {
  if (dims.length === 0 || dims[0] !== BATCH) return null;
  const rest = dims.slice(1);
  return rest.every((d) => typeof d === 'number') ? (rest as number[]) : null;
}
