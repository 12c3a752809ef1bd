// Shape ops: reshape/flatten/unsqueeze/squeeze share storage; transpose/permute/slice/concat copy.
import { record } from '../autograd/engine.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, allocFor, normAxis, shapeSize, stridesOf, type Shape, type TypedArray } from '../tensor/tensor.js';
import { describe } from './util.js';

function checkTensor(op: string, arg: string, x: unknown): asserts x is Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(`${op}: ${arg} must be a Tensor, got ${describe(x)}`);
}

/** A tensor over the same storage with another shape of the same size; the gradient is reshaped back. */
function view(op: string, x: Tensor, shape: number[]): Tensor {
  const out = new Tensor(x.data, shape, x.dtype);
  return record(out, op, [x], (g) => [new Tensor(g.data, x.shape, g.dtype)]);
}

/** Same data, new shape (one dim may be -1 and is inferred). Never copies. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'x', x);
  if (!Array.isArray(shape)) throw new ArgumentError(`reshape: shape must be an array, got ${describe(shape)}`);
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`reshape: only one -1 allowed in ${fmtShape(shape)}`);
      infer = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(`reshape: dims must be non-negative integers or -1, got ${fmtShape(shape)}`);
    } else {
      known *= d;
    }
  }
  const out = [...shape];
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(`reshape: cannot infer -1 in ${fmtShape(shape)} for ${x.size} elements of ${fmtShape(x.shape)}`);
    }
    out[infer] = x.size / known;
  } else if (known !== x.size) {
    throw new ShapeError(`reshape: ${fmtShape(x.shape)} (${x.size} elements) cannot become ${fmtShape(shape)} (${known} elements)`);
  }
  return view('reshape', x, out);
}

/** Merges dims startDim..endDim (inclusive, default to the last) into one. Never copies. */
export function flatten(x: Tensor, startDim = 1, endDim = -1): Tensor {
  checkTensor('flatten', 'x', x);
  if (x.ndim === 0) return view('flatten', x, [1]);
  const s = normAxis('flatten', startDim, x.ndim);
  const e = normAxis('flatten', endDim, x.ndim);
  if (s > e) throw new ArgumentError(`flatten: startDim ${startDim} comes after endDim ${endDim} for ${fmtShape(x.shape)}`);
  let merged = 1;
  for (let i = s; i <= e; i++) merged *= x.shape[i];
  return view('flatten', x, [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)]);
}

/** Inserts a dim of size 1 at `dim` (in [-(ndim+1), ndim]). Never copies. */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  checkTensor('unsqueeze', 'x', x);
  const d = normAxis('unsqueeze', dim, x.ndim + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return view('unsqueeze', x, shape);
}

/**
 * Removes dims of size 1: all of them when `dims` is omitted, else the given ones, which must have size 1
 * (unlike PyTorch, which silently keeps a named dim of another size). Never copies.
 */
export function squeeze(x: Tensor, dims?: number | number[]): Tensor {
  checkTensor('squeeze', 'x', x);
  let drop: boolean[];
  if (dims === undefined) {
    drop = x.shape.map((d) => d === 1);
  } else {
    drop = new Array<boolean>(x.ndim).fill(false);
    for (const a of typeof dims === 'number' ? [dims] : dims) {
      const n = normAxis('squeeze', a, x.ndim);
      if (x.shape[n] !== 1) throw new ShapeError(`squeeze: dim ${a} of ${fmtShape(x.shape)} has size ${x.shape[n]}, expected 1`);
      drop[n] = true;
    }
  }
  return view('squeeze', x, x.shape.filter((_, i) => !drop[i]));
}

/** Copies `src` (shape `shape`) into `dst` with its dims reordered by `perm` (output dim i = input dim perm[i]). */
function permuteData(src: TypedArray, shape: Shape, perm: readonly number[], dst: TypedArray): void {
  const nd = shape.length;
  const inStr = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const str = perm.map((p) => inStr[p]); // input stride of each output dim
  const total = src.length;
  if (total === 0) return;
  if (nd === 0) {
    dst[0] = src[0];
    return;
  }
  const lastN = outShape[nd - 1];
  const lastS = str[nd - 1];
  const idx = new Array<number>(nd).fill(0);
  let i = 0;
  for (let o = 0; o < total; o += lastN) {
    for (let j = 0; j < lastN; j++) dst[o + j] = src[i + j * lastS];
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      i += str[d];
      if (idx[d] < outShape[d]) break;
      i -= str[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

/** Reorders dims: output dim i is input dim dims[i]. Copies into contiguous storage. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  checkTensor('permute', 'x', x);
  if (!Array.isArray(dims) || dims.length !== x.ndim) {
    throw new ShapeError(`permute: dims must list ${x.ndim} axes for ${fmtShape(x.shape)}, got ${Array.isArray(dims) ? `[${dims.join(',')}]` : describe(dims)}`);
  }
  const perm = dims.map((d) => normAxis('permute', d, x.ndim));
  const seen = new Set(perm);
  if (seen.size !== perm.length) throw new ArgumentError(`permute: dims [${dims.join(',')}] repeat an axis`);
  const outShape = perm.map((p) => x.shape[p]);
  const out = allocFor(x.dtype, x.size);
  permuteData(x.data, x.shape, perm, out);
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return record(new Tensor(out, outShape, x.dtype), 'permute', [x], (g) => {
    const d = new Float32Array(g.size);
    permuteData(g.data, outShape, inv, d);
    return [new Tensor(d, x.shape)];
  });
}

/** Swaps two dims (copies). */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  checkTensor('transpose', 'x', x);
  const a = normAxis('transpose', dim0, x.ndim);
  const b = normAxis('transpose', dim1, x.ndim);
  const perm = x.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Elements start..end-1 along `axis`; negative indices count from the end and both clamp to [0, size] like Python. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  checkTensor('slice', 'x', x);
  const a = normAxis('slice', axis, x.ndim);
  const n = x.shape[a];
  if (!Number.isInteger(start) || !Number.isInteger(end)) {
    throw new ArgumentError(`slice: start and end must be integers, got ${describe(start)} and ${describe(end)}`);
  }
  const s0 = start;
  const e0 = end;
  const s = Math.min(Math.max(s0 < 0 ? s0 + n : s0, 0), n);
  const e = Math.max(Math.min(e0 < 0 ? e0 + n : e0, n), s);
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < a; i++) outer *= x.shape[i];
  for (let i = a + 1; i < x.ndim; i++) inner *= x.shape[i];
  const len = e - s;
  const outShape = [...x.shape];
  outShape[a] = len;
  const out = allocFor(x.dtype, outer * len * inner);
  const chunk = len * inner;
  for (let o = 0; o < outer; o++) {
    const from = (o * n + s) * inner;
    out.set(x.data.subarray(from, from + chunk), o * chunk);
  }
  return record(new Tensor(out, outShape, x.dtype), 'slice', [x], (g) => {
    const G = g.f32;
    const d = new Float32Array(x.size);
    for (let o = 0; o < outer; o++) d.set(G.subarray(o * chunk, (o + 1) * chunk), (o * n + s) * inner);
    return [new Tensor(d, x.shape)];
  });
}

/** Joins tensors along `axis`; all other dims and the dtype must agree. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (!Array.isArray(xs as unknown) || xs.length === 0) throw new ArgumentError('concat: expected a non-empty array of tensors');
  xs.forEach((t, i) => checkTensor('concat', `xs[${i}]`, t));
  const first = xs[0];
  const a = normAxis('concat', axis, first.ndim);
  for (let i = 1; i < xs.length; i++) {
    const t = xs[i];
    if (t.dtype !== first.dtype) throw new DTypeError(`concat: xs[${i}] is ${t.dtype} but xs[0] is ${first.dtype}`);
    const ok = t.ndim === first.ndim && t.shape.every((d, k) => k === a || d === first.shape[k]);
    if (!ok) {
      throw new ShapeError(`concat: xs[${i}] ${fmtShape(t.shape)} does not match xs[0] ${fmtShape(first.shape)} outside axis ${a}`);
    }
  }
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < a; i++) outer *= first.shape[i];
  for (let i = a + 1; i < first.ndim; i++) inner *= first.shape[i];
  const lens = xs.map((t) => t.shape[a]);
  const total = lens.reduce((p, q) => p + q, 0);
  const outShape = [...first.shape];
  outShape[a] = total;
  const out = allocFor(first.dtype, shapeSize(outShape));
  const rowOut = total * inner;
  let off = 0;
  xs.forEach((t, k) => {
    const chunk = lens[k] * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * chunk, (o + 1) * chunk), o * rowOut + off);
    off += chunk;
  });
  return record(new Tensor(out, outShape, first.dtype), 'concat', [...xs], (g) => {
    const G = g.f32;
    let goff = 0;
    return xs.map((t, k) => {
      const chunk = lens[k] * inner;
      const at = goff;
      goff += chunk;
      if (!t.requiresGrad) return null;
      const d = new Float32Array(t.size);
      for (let o = 0; o < outer; o++) d.set(G.subarray(o * rowOut + at, o * rowOut + at + chunk), o * chunk);
      return new Tensor(d, t.shape);
    });
  });
}
