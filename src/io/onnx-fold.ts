// Constant folding for ONNX import: the values of shape computations and constants (Shape → Gather → Unsqueeze →
// Concat → Reshape, Constant, ConstantOfShape, Cast, Expand, Range, arithmetic on constants), for the given input
// shape with a symbolic batch N.
//
// A constant (Const) is an element type, a concrete shape and its values: float32 / float64 as typed arrays, integer
// and bool types as JS numbers. Integer vectors computed from shapes may hold the batch as a symbolic dim ("N",
// "4*N"; src/graph/dims.ts), so x.view(x.size(0), -1) folds to the target [N, -1]. A constant whose dim 0 is the
// batch and whose value is the same for every sample (zeros(input.shape), a buffer expanded to the batch) is
// `batched`: stored for one sample (shape[0] = 1), standing for N copies. Folding returns null when it cannot
// compute a value (an op it does not know, arithmetic on N that is not a multiple of N, a batched value where the
// batch dim moves); the importer then maps the node to IR ops or reports it.
import { FormatError } from '../errors.js';
import { BATCH, batchCoef, dimDiv, dimMul, type Dim } from '../graph/dims.js';

export type ElemType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool';

/** ONNX TensorProto.DataType codes of the element types the import reads (FLOAT16 and BFLOAT16 become float32). */
export const ONNX_ELEM: Readonly<Record<number, ElemType>> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float32', 11: 'float64', 12: 'uint32', 13: 'uint64', 16: 'float32',
};

export interface Const {
  dtype: ElemType;
  /** Concrete dims; for a batched constant shape[0] is 1 and stands for N. */
  shape: number[];
  /** float32: Float32Array, float64: Float64Array, integers and bool: numbers (shape vectors may hold "N", "k*N"). */
  data: Float32Array | Float64Array | Dim[];
  batched?: boolean;
}

export const isFloat = (t: ElemType): boolean => t === 'float32' || t === 'float64';

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A constant's values as numbers; null when one is symbolic. */
export function numbers(c: Const): number[] | null {
  const out = new Array<number>(c.data.length);
  for (let i = 0; i < c.data.length; i++) {
    const v = c.data[i];
    if (typeof v !== 'number') return null;
    out[i] = v;
  }
  return out;
}

function make(dtype: ElemType, shape: number[], values: ArrayLike<Dim>, batched = false): Const {
  let data: Const['data'];
  if (dtype === 'float32') data = Float32Array.from(values as ArrayLike<number>);
  else if (dtype === 'float64') data = Float64Array.from(values as ArrayLike<number>);
  else data = Array.from(values, (v) => (typeof v === 'number' ? intOf(dtype, v) : v));
  return batched ? { dtype, shape, data, batched } : { dtype, shape, data };
}

/** An integer or bool value of `dtype` from a number (C-style truncation, wrap-around as ONNX runtimes do). */
function intOf(dtype: ElemType, v: number): number {
  if (dtype === 'bool') return v !== 0 && !Number.isNaN(v) ? 1 : 0;
  if (!Number.isFinite(v)) return 0;
  const t = Math.trunc(v);
  switch (dtype) {
    case 'int8': return (t << 24) >> 24;
    case 'uint8': return t & 0xff;
    case 'int16': return (t << 16) >> 16;
    case 'uint16': return t & 0xffff;
    case 'int32': return t | 0;
    case 'uint32': return t >>> 0;
    default: return t; // int64 / uint64 as JS numbers (exact to 2^53)
  }
}

/** Context of folding: element budget, the node (for messages), the file. */
export interface FoldCtx {
  readonly file: string;
  readonly node: string;
  /** Largest number of elements a folded value may hold (bounded by the file size). */
  readonly maxElements: number;
  /** Elements all folded values of the file may still hold together (shared by the nodes, decremented). */
  readonly total: { left: number };
  readonly opset: number;
}

function budget(ctx: FoldCtx, shape: readonly number[]): void {
  const n = sizeOf(shape);
  if (!Number.isSafeInteger(n) || n > ctx.maxElements) {
    throw new FormatError(`${ctx.file}: node '${ctx.node}': a constant of shape [${shape.join(',')}] (${n} elements) is larger than this file can justify (${ctx.maxElements} elements)`);
  }
  if (n > ctx.total.left) throw new FormatError(`${ctx.file}: node '${ctx.node}': the folded constants of this file hold more elements than it can justify (${ctx.maxElements} per value, 4 times that in all)`);
}

/** Charges the new values a fold made to the file's total (values that share an input's data cost nothing). */
export function charge(ctx: FoldCtx, ins: readonly (Const | null)[], outs: readonly Const[]): void {
  for (const c of outs) {
    if (ins.some((x) => x !== null && x.data === c.data)) continue;
    if (c.data.length > ctx.total.left) throw new FormatError(`${ctx.file}: node '${ctx.node}': the folded constants of this file hold more elements than it can justify (${ctx.maxElements} per value, 4 times that in all)`);
    ctx.total.left -= c.data.length;
  }
}

// ---------------------------------------------------------------- indexing helpers

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let k = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = k;
    k *= shape[i];
  }
  return s;
}

/** NumPy broadcast of concrete shapes, or null. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = i < n - a.length ? 1 : a[i - (n - a.length)];
    const y = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else return null;
  }
  return out;
}

/** Index of each output element in an input broadcast to `out`. */
function broadcastIndex(inp: readonly number[], out: readonly number[]): Int32Array | number[] {
  const n = sizeOf(out);
  const idx = new Array<number>(n);
  const si = strides(inp);
  const off = out.length - inp.length;
  const so = strides(out);
  for (let i = 0; i < n; i++) {
    let r = i;
    let j = 0;
    for (let d = 0; d < out.length; d++) {
      const q = Math.floor(r / so[d]);
      r -= q * so[d];
      const k = d - off;
      if (k >= 0 && inp[k] !== 1) j += q * si[k];
    }
    idx[i] = j;
  }
  return idx;
}

const axisOf = (a: number, rank: number): number | null => {
  const x = a < 0 ? a + rank : a;
  return Number.isInteger(x) && x >= 0 && x < rank ? x : null;
};

// ---------------------------------------------------------------- elementwise

type Num = (x: number, y: number) => number;

const BINARY: Record<string, Num> = {
  Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => x / y, Pow: (x, y) => Math.pow(x, y),
  Min: (x, y) => Math.min(x, y), Max: (x, y) => Math.max(x, y),
  Equal: (x, y) => +(x === y), Less: (x, y) => +(x < y), Greater: (x, y) => +(x > y), LessOrEqual: (x, y) => +(x <= y), GreaterOrEqual: (x, y) => +(x >= y),
  And: (x, y) => +(x !== 0 && y !== 0), Or: (x, y) => +(x !== 0 || y !== 0), Xor: (x, y) => +((x !== 0) !== (y !== 0)),
};
const COMPARE = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or', 'Xor']);

const UNARY: Record<string, (x: number) => number> = {
  Neg: (x) => -x, Abs: Math.abs, Sqrt: Math.sqrt, Exp: Math.exp, Log: Math.log, Reciprocal: (x) => 1 / x, Floor: Math.floor, Ceil: Math.ceil,
  Round: (x) => { const f = Math.floor(x); const d = x - f; return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f; },
  Tanh: Math.tanh, Sigmoid: (x) => 1 / (1 + Math.exp(-x)), Relu: (x) => Math.max(x, 0), Not: (x) => +(x === 0), Sign: Math.sign,
  Erf: erf,
};

/** erf to float64 precision (Abramowitz-Stegun is not enough for folding; this uses the series / continued fraction). */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) {
    // Maclaurin series: 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1)).
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 60; n++) {
      term *= (-ax * ax) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for |x| >= 2.
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 100; n++) {
    const a = n / 2;
    d = ax + a * d;
    d = 1 / d;
    c = ax + a / c;
    f *= c * d;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Integer arithmetic on dims (a symbolic operand only where the result is a dim). */
function symBinary(op: string, x: Dim, y: Dim): Dim | null {
  if (typeof x === 'number' && typeof y === 'number') return null;
  switch (op) {
    case 'Mul':
      return typeof x === 'number' || typeof y === 'number' ? dimMul(x, y) : null;
    case 'Div': {
      // Integer division of k·N by a constant that divides k, or of k·N by j·N.
      const q = dimDiv(x, y);
      return q === null ? null : q;
    }
    case 'Add':
    case 'Sub':
      if (y === 0) return x;
      if (op === 'Add' && x === 0) return y;
      return null;
    default:
      return null;
  }
}

function binaryFold(ctx: FoldCtx, op: string, a: Const, b: Const): Const | null {
  const f = BINARY[op];
  if (!f) return null;
  const shape = broadcast(a.shape, b.shape);
  if (!shape) return null;
  budget(ctx, shape);
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  const dtype: ElemType = COMPARE.has(op) ? 'bool' : a.dtype;
  const out = new Array<Dim>(ia.length);
  const int = !isFloat(a.dtype) && !COMPARE.has(op);
  for (let i = 0; i < out.length; i++) {
    const x = a.data[ia[i]];
    const y = b.data[ib[i]];
    if (typeof x !== 'number' || typeof y !== 'number') {
      const s = symBinary(op, x, y);
      if (s === null) return null;
      out[i] = s;
      continue;
    }
    if (int && op === 'Div') {
      if (y === 0) throw new FormatError(`${ctx.file}: node '${ctx.node}': integer division by zero in a constant`);
      out[i] = Math.trunc(x / y);
    } else out[i] = f(x, y);
  }
  return make(dtype, shape, out, a.batched || b.batched);
}

// ---------------------------------------------------------------- the ops

/** Integers of a constant input (null when absent or symbolic). */
function ints(c: Const | null | undefined): number[] | null {
  return c ? numbers(c) : null;
}

function unsqueezeShape(shape: readonly number[], axes: readonly number[]): number[] | null {
  const rank = shape.length + axes.length;
  const at = new Set<number>();
  for (const a of axes) {
    const x = axisOf(a, rank);
    if (x === null || at.has(x)) return null;
    at.add(x);
  }
  const out: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) out.push(at.has(i) ? 1 : shape[k++]);
  return out;
}

/** Slice with steps (ONNX Slice, clamping as the spec says). */
function sliceFold(ctx: FoldCtx, x: Const, starts: number[], ends: number[], axes: number[] | null, steps: number[] | null): Const | null {
  const rank = x.shape.length;
  const ax = axes ?? starts.map((_, i) => i);
  if (ends.length !== starts.length || ax.length !== starts.length || (steps && steps.length !== starts.length)) return null;
  const lo = x.shape.map(() => 0);
  const st = x.shape.map(() => 1);
  const count = [...x.shape];
  for (let i = 0; i < ax.length; i++) {
    const a = axisOf(ax[i], rank);
    if (a === null || (a === 0 && x.batched)) return null;
    const n = x.shape[a];
    const step = steps ? steps[i] : 1;
    if (step === 0) return null;
    let s = starts[i] < 0 ? starts[i] + n : starts[i];
    let e = ends[i] < 0 ? ends[i] + n : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), n);
      e = Math.min(Math.max(e, 0), n);
      count[a] = Math.max(0, Math.ceil((e - s) / step));
    } else {
      s = Math.min(Math.max(s, -1), n - 1);
      e = Math.min(Math.max(e, -1), n - 1);
      count[a] = Math.max(0, Math.ceil((e - s) / step));
    }
    lo[a] = s;
    st[a] = step;
  }
  budget(ctx, count);
  const sx = strides(x.shape);
  const so = strides(count);
  const out = new Array<Dim>(sizeOf(count));
  for (let i = 0; i < out.length; i++) {
    let r = i;
    let j = 0;
    for (let d = 0; d < rank; d++) {
      const q = Math.floor(r / so[d]);
      r -= q * so[d];
      j += (lo[d] + q * st[d]) * sx[d];
    }
    out[i] = x.data[j];
  }
  return make(x.dtype, count, out, x.batched);
}

function gatherFold(ctx: FoldCtx, data: Const, idx: Const, axis: number): Const | null {
  const a = axisOf(axis, data.shape.length);
  if (a === null || (data.batched && a === 0) || (data.batched && idx.batched)) return null;
  const ix = numbers(idx);
  if (!ix) return null;
  const n = data.shape[a];
  const shape = [...data.shape.slice(0, a), ...idx.shape, ...data.shape.slice(a + 1)];
  budget(ctx, shape);
  const outer = sizeOf(data.shape.slice(0, a));
  const inner = sizeOf(data.shape.slice(a + 1));
  const out = new Array<Dim>(sizeOf(shape));
  let o = 0;
  for (let p = 0; p < outer; p++) {
    for (const raw of ix) {
      const k = raw < 0 ? raw + n : raw;
      if (!(k >= 0 && k < n)) throw new FormatError(`${ctx.file}: node '${ctx.node}': Gather index ${raw} is out of range for a dim of ${n}`);
      for (let q = 0; q < inner; q++) out[o++] = data.data[(p * n + k) * inner + q];
    }
  }
  // Indices batched at dim 0 with axis 0 give a value batched at dim 0.
  const batched = data.batched || (idx.batched && a === 0);
  if (idx.batched && a !== 0) return null;
  return make(data.dtype, shape, out, batched);
}

function transposeFold(ctx: FoldCtx, x: Const, perm: number[]): Const | null {
  const rank = x.shape.length;
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => !(p >= 0 && p < rank))) return null;
  if (x.batched && perm[0] !== 0) return null;
  const shape = perm.map((p) => x.shape[p]);
  budget(ctx, shape);
  const sx = strides(x.shape);
  const so = strides(shape);
  const out = new Array<Dim>(sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    let r = i;
    let j = 0;
    for (let d = 0; d < rank; d++) {
      const q = Math.floor(r / so[d]);
      r -= q * so[d];
      j += q * sx[perm[d]];
    }
    out[i] = x.data[j];
  }
  return make(x.dtype, shape, out, x.batched);
}

/** A shape vector given to ConstantOfShape / Expand: concrete dims, with a leading N making the result batched. */
function targetShape(ctx: FoldCtx, dims: readonly Dim[]): { shape: number[]; batched: boolean } | null {
  let batched = false;
  const shape: number[] = [];
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (typeof d === 'number') {
      if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`${ctx.file}: node '${ctx.node}': shape [${dims.join(',')}] has an invalid dim ${d}`);
      shape.push(d);
    } else if (i === 0 && batchCoef(d) === 1) {
      batched = true;
      shape.push(1);
    } else return null;
  }
  return { shape, batched };
}

function castFold(x: Const, to: ElemType): Const | null {
  if (x.data.some((v) => typeof v !== 'number') && isFloat(to)) return null;
  if (to === 'float32' && x.dtype === 'float32') return x;
  return make(to, x.shape, Array.from(x.data as ArrayLike<Dim>, (v) => (typeof v === 'number' && !isFloat(to) ? intOf(to, v) : v)), x.batched);
}

const CAST_TO: Readonly<Record<number, ElemType>> = ONNX_ELEM;

/** Reads the constant attribute values a folded node needs. */
export interface FoldAttrs {
  int(name: string, def?: number): number;
  ints(name: string): number[] | null;
  tensor(name: string): Const | null;
  float(name: string): number | null;
  floats(name: string): number[] | null;
  has(name: string): boolean;
}

/** The ops this module folds when their inputs are constants (Shape and Size need only their input's shape). */
export const FOLDABLE = new Set([
  'Constant', 'Identity', 'Cast', 'CastLike', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Reshape', 'Transpose', 'ConstantOfShape',
  'Expand', 'Range', 'Where', 'Shape', 'Size', 'Flatten', ...Object.keys(BINARY), ...Object.keys(UNARY),
]);

/**
 * The outputs of an ONNX node whose inputs are all constants (null entries: absent optional inputs), or null
 * when this module cannot fold it. Shape and Size are folded by the importer from value infos.
 */
export function foldNode(ctx: FoldCtx, op: string, attrs: FoldAttrs, ins: readonly (Const | null)[]): Const[] | null {
  const x = ins[0] ?? null;
  switch (op) {
    case 'Constant': {
      const t = attrs.tensor('value');
      if (t) return [t];
      const f = attrs.float('value_float');
      if (f !== null) return [make('float32', [], [f])];
      const fs = attrs.floats('value_floats');
      if (fs) return [make('float32', [fs.length], fs)];
      if (attrs.has('value_int')) return [make('int64', [], [attrs.int('value_int')])];
      const is = attrs.ints('value_ints');
      if (is) return [make('int64', [is.length], is)];
      return null;
    }
    case 'Identity':
      return x ? [x] : null;
    case 'Cast': {
      const to = CAST_TO[attrs.int('to', 0)];
      const r = x && to ? castFold(x, to) : null;
      return r ? [r] : null;
    }
    case 'CastLike': {
      const r = x && ins[1] ? castFold(x, ins[1].dtype) : null;
      return r ? [r] : null;
    }
    case 'Gather': {
      const r = x && ins[1] ? gatherFold(ctx, x, ins[1], attrs.int('axis', 0)) : null;
      return r ? [r] : null;
    }
    case 'Unsqueeze':
    case 'Squeeze': {
      if (!x) return null;
      const axes = ctx.opset >= 13 ? (ins[1] ? ints(ins[1]) : op === 'Squeeze' ? [] : null) : attrs.ints('axes');
      if (!axes) return null;
      let shape: number[] | null;
      if (op === 'Unsqueeze') shape = unsqueezeShape(x.shape, axes);
      else {
        const drop = new Set(axes.length ? axes.map((a) => axisOf(a, x.shape.length)) : x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0));
        shape = drop.has(null) || [...drop].some((a) => a !== null && x.shape[a] !== 1) ? null : x.shape.filter((_, i) => !drop.has(i));
        if (x.batched && drop.has(0)) return null;
      }
      if (!shape || (x.batched && shape[0] !== 1)) return null;
      if (x.batched && op === 'Unsqueeze' && axes.some((a) => axisOf(a, shape!.length) === 0)) return null;
      return [{ ...x, shape }];
    }
    case 'Concat': {
      const parts = ins.filter((c): c is Const => c !== null);
      if (parts.length === 0 || parts.some((p) => p.batched)) return null;
      const rank = parts[0].shape.length;
      const a = axisOf(attrs.int('axis', 0), rank);
      if (a === null || parts.some((p) => p.shape.length !== rank || p.shape.some((d, i) => i !== a && d !== parts[0].shape[i]))) return null;
      const shape = [...parts[0].shape];
      shape[a] = parts.reduce((s, p) => s + p.shape[a], 0);
      budget(ctx, shape);
      const outer = sizeOf(shape.slice(0, a));
      const inner = sizeOf(shape.slice(a + 1));
      const out: Dim[] = [];
      const dtype = parts[0].dtype;
      for (let o = 0; o < outer; o++) for (const p of parts) for (let i = 0; i < p.shape[a] * inner; i++) out.push(p.data[o * p.shape[a] * inner + i]);
      return [make(dtype, shape, out)];
    }
    case 'Slice': {
      const starts = ints(ins[1]);
      const ends = ints(ins[2]);
      if (!x || !starts || !ends) return null;
      const r = sliceFold(ctx, x, starts, ends, ins[3] ? ints(ins[3]) : null, ins[4] ? ints(ins[4]) : null);
      return r ? [r] : null;
    }
    case 'Reshape':
    case 'Flatten': {
      if (!x || x.batched) return null;
      const n = sizeOf(x.shape);
      let target: number[] | null;
      if (op === 'Flatten') {
        const a = attrs.int('axis', 1);
        const ax = a < 0 ? a + x.shape.length : a;
        if (ax < 0 || ax > x.shape.length) return null;
        target = [sizeOf(x.shape.slice(0, ax)), sizeOf(x.shape.slice(ax))];
      } else {
        target = ints(ins[1]);
        if (!target) return null;
        const allowzero = attrs.int('allowzero', 0) === 1;
        target = target.map((d, i) => (d === 0 && !allowzero ? x.shape[i] : d));
        if (target.some((d) => d === undefined || d < -1) || target.filter((d) => d === -1).length > 1) return null;
        const known = sizeOf(target.filter((d) => d !== -1));
        const j = target.indexOf(-1);
        if (j >= 0) {
          if (known === 0 || n % known !== 0) return null;
          target[j] = n / known;
        }
      }
      return sizeOf(target) === n ? [{ ...x, shape: target }] : null;
    }
    case 'Transpose': {
      if (!x) return null;
      const perm = attrs.ints('perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const r = transposeFold(ctx, x, perm);
      return r ? [r] : null;
    }
    case 'ConstantOfShape': {
      const dims = x ? x.data : null;
      if (!dims || x!.batched) return null;
      const t = targetShape(ctx, dims as Dim[]);
      if (!t) return null;
      budget(ctx, t.shape);
      const v = attrs.tensor('value');
      const dtype = v?.dtype ?? 'float32';
      const fill = v ? v.data[0] : 0;
      if (typeof fill !== 'number') return null;
      return [make(dtype, t.shape, new Array<number>(sizeOf(t.shape)).fill(fill), t.batched)];
    }
    case 'Expand': {
      if (!x || !ins[1] || x.batched) return null;
      const t = targetShape(ctx, ins[1].data as Dim[]);
      if (!t) return null;
      const shape = broadcast(x.shape, t.shape);
      if (!shape) return null;
      budget(ctx, shape);
      const idx = broadcastIndex(x.shape, shape);
      // A batched target leaves dim 0 for one sample (1): broadcast shape keeps x's own dim 0 only if x had N there.
      if (t.batched && shape.length === t.shape.length && shape[0] !== 1) return null;
      return [make(x.dtype, shape, Array.from(idx, (i) => x.data[i]), t.batched && shape.length === t.shape.length)];
    }
    case 'Range': {
      const [s, l, d] = [ints(ins[0]), ints(ins[1]), ints(ins[2])];
      if (!s || !l || !d || d[0] === 0) return null;
      const n = Math.max(Math.ceil((l[0] - s[0]) / d[0]), 0);
      budget(ctx, [n]);
      return [make(x!.dtype, [n], Array.from({ length: n }, (_, i) => s[0] + i * d[0]))];
    }
    case 'Where': {
      const [c, a, b] = ins;
      if (!c || !a || !b) return null;
      const shape = broadcast(c.shape, a.shape);
      const full = shape ? broadcast(shape, b.shape) : null;
      if (!full) return null;
      budget(ctx, full);
      const ic = broadcastIndex(c.shape, full);
      const ia = broadcastIndex(a.shape, full);
      const ib = broadcastIndex(b.shape, full);
      return [make(a.dtype, full, Array.from(ic, (k, i) => (c.data[k] !== 0 ? a.data[ia[i]] : b.data[ib[i]])), c.batched || a.batched || b.batched)];
    }
    case 'Size': {
      if (!x) return null;
      return [make('int64', [], [x.batched ? dimMul(BATCH, sizeOf(x.shape)) : sizeOf(x.shape)])];
    }
    case 'Shape': {
      if (!x) return null;
      const dims: Dim[] = x.shape.map((d, i) => (i === 0 && x.batched ? BATCH : d));
      return [shapeSlice(dims, attrs)];
    }
    default:
      break;
  }
  if (BINARY[op] && ins.length >= 2) {
    let acc: Const | null = ins[0];
    for (let i = 1; i < ins.length && acc; i++) acc = ins[i] ? binaryFold(ctx, op, acc, ins[i]!) : null;
    return acc ? [acc] : null;
  }
  const u = UNARY[op];
  if (u && x) {
    budget(ctx, x.shape);
    if (x.data instanceof Float32Array || x.data instanceof Float64Array) {
      const out = x.data instanceof Float32Array ? new Float32Array(x.data.length) : new Float64Array(x.data.length);
      for (let i = 0; i < out.length; i++) out[i] = u(x.data[i]);
      return [op === 'Not' ? make('bool', x.shape, out, x.batched) : { ...x, data: out }];
    }
    const v = numbers(x);
    if (!v) return null;
    return [make(op === 'Not' ? 'bool' : x.dtype, x.shape, v.map(u), x.batched)];
  }
  return null;
}

/** Shape's output for dims (start / end attributes, opset 15). */
export function shapeSlice(dims: readonly Dim[], attrs: Pick<FoldAttrs, 'int' | 'has'>): Const {
  const r = dims.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const s = attrs.has('start') ? clamp(attrs.int('start')) : 0;
  const e = attrs.has('end') ? clamp(attrs.int('end')) : r;
  const out = dims.slice(s, Math.max(s, e));
  return { dtype: 'int64', shape: [out.length], data: [...out] };
}
