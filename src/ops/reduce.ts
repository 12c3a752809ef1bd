// Reductions: sum and mean over any set of axes, max (values, gradient to the first maximum) and argmax.
import { record } from '../autograd/engine.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, normAxis, type Shape } from '../tensor/tensor.js';
import { checkF32, describe, splitAt } from './util.js';

/**
 * How a reduction walks its input: the dims coalesced into runs that are all reduced or all kept,
 * outermost first, with each run's stride in the (kept-dims-only) output.
 */
interface ReducePlan {
  sizes: number[];
  reduced: boolean[];
  outStrides: number[]; // 0 for reduced runs
  outSize: number;
  count: number; // elements folded into each output
  keepShape: number[]; // input shape with reduced dims set to 1
  dropShape: number[]; // input shape without the reduced dims
}

function normAxes(op: string, shape: Shape, axes: number | readonly number[] | undefined): boolean[] {
  const nd = shape.length;
  const mask = new Array<boolean>(nd).fill(axes === undefined);
  if (axes === undefined) return mask;
  const list = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list)) throw new ArgumentError(`${op}: axes must be a number or an array of numbers, got ${describe(axes)}`);
  for (const a of list) {
    if (typeof a !== 'number') throw new ArgumentError(`${op}: axes must be integers, got ${describe(a)}`);
    const n = normAxis(op, a, nd);
    if (mask[n]) throw new ArgumentError(`${op}: axis ${a} given twice in [${list.join(',')}]`);
    mask[n] = true;
  }
  return mask;
}

function planReduce(op: string, shape: Shape, axes: number | readonly number[] | undefined): ReducePlan {
  const mask = normAxes(op, shape, axes);
  const sizes: number[] = [];
  const reduced: boolean[] = [];
  const keepShape: number[] = [];
  const dropShape: number[] = [];
  let count = 1;
  for (let d = 0; d < shape.length; d++) {
    const r = mask[d];
    keepShape.push(r ? 1 : shape[d]);
    if (r) count *= shape[d];
    else dropShape.push(shape[d]);
    if (sizes.length > 0 && reduced[reduced.length - 1] === r) sizes[sizes.length - 1] *= shape[d];
    else {
      sizes.push(shape[d]);
      reduced.push(r);
    }
  }
  if (sizes.length === 0) {
    // A 0-d tensor: one element, nothing to fold.
    sizes.push(1);
    reduced.push(true);
  }
  const outStrides = new Array<number>(sizes.length).fill(0);
  let acc = 1;
  for (let i = sizes.length - 1; i >= 0; i--) {
    if (!reduced[i]) {
      outStrides[i] = acc;
      acc *= sizes[i];
    }
  }
  return { sizes, reduced, outStrides, outSize: acc, count, keepShape, dropShape };
}

/** Visits the input in storage order: `run(inputOffset, outputOffset)` for each innermost run. */
function walk(p: ReducePlan, run: (i: number, o: number) => void): void {
  const k = p.sizes.length;
  const last = p.sizes[k - 1];
  let total = 1;
  for (const s of p.sizes) total *= s;
  if (total === 0) return;
  const idx = new Array<number>(k).fill(0);
  let o = 0;
  for (let i = 0; i < total; i += last) {
    run(i, o);
    for (let d = k - 2; d >= 0; d--) {
      idx[d]++;
      o += p.outStrides[d];
      if (idx[d] < p.sizes[d]) break;
      o -= p.outStrides[d] * p.sizes[d];
      idx[d] = 0;
    }
  }
}

/** Sums (float64 accumulators) of X over the plan's reduced dims, scaled by `scale`. */
function sumForward(X: Float32Array, p: ReducePlan, scale: number): Float32Array {
  const acc = new Float64Array(p.outSize);
  const last = p.sizes[p.sizes.length - 1];
  if (p.reduced[p.sizes.length - 1]) {
    walk(p, (i, o) => {
      let s = 0;
      for (let j = 0; j < last; j++) s += X[i + j];
      acc[o] += s;
    });
  } else {
    walk(p, (i, o) => {
      for (let j = 0; j < last; j++) acc[o + j] += X[i + j];
    });
  }
  const out = new Float32Array(p.outSize);
  for (let i = 0; i < out.length; i++) out[i] = acc[i] * scale;
  return out;
}

/** The adjoint of `sumForward`: every input position gets its output's gradient times `scale`. */
function sumBackward(G: Float32Array, p: ReducePlan, n: number, scale: number): Float32Array {
  const D = new Float32Array(n);
  const last = p.sizes[p.sizes.length - 1];
  if (p.reduced[p.sizes.length - 1]) {
    walk(p, (i, o) => D.fill(G[o] * scale, i, i + last));
  } else {
    walk(p, (i, o) => {
      for (let j = 0; j < last; j++) D[i + j] = G[o + j] * scale;
    });
  }
  return D;
}

function reduceOp(op: string, x: Tensor, axes: number | readonly number[] | undefined, keepdim: boolean, isMean: boolean): Tensor {
  const X = checkF32(op, 'x', x);
  const p = planReduce(op, x.shape, axes);
  const scale = isMean ? 1 / p.count : 1;
  const out = new Tensor(sumForward(X, p, scale), keepdim ? p.keepShape : p.dropShape);
  return record(out, op, [x], (g) => [new Tensor(sumBackward(g.f32, p, X.length, scale), x.shape)]);
}

/**
 * Sum over `axes` (one axis, a list, or all when omitted; `[]` reduces nothing). Accumulates in float64.
 * Without keepdim the reduced dims are dropped, so summing everything gives a 0-d tensor (shape []).
 */
export function sum(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  return reduceOp('sum', x, axes, keepdim, false);
}

/** Mean over `axes` (see `sum`); the mean over zero elements is NaN, as in PyTorch. */
export function mean(x: Tensor, axes?: number | number[], keepdim = false): Tensor {
  return reduceOp('mean', x, axes, keepdim, true);
}

/** Index along `axis` of the first maximum (NaN counts as the maximum, as in PyTorch). */
function argmaxInto(op: string, X: ArrayLike<number>, shape: Shape, axis: number): { idx: Int32Array; outer: number; n: number; inner: number; axis: number } {
  const s = splitAt(op, shape, axis);
  const { outer, n, inner } = s;
  if (n === 0) throw new ShapeError(`${op}: cannot reduce over axis ${axis} of size 0 in ${fmtShape(shape)}`);
  const idx = new Int32Array(outer * inner);
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * n;
      let best = X[base];
      let bi = 0;
      for (let k = 1; k < n; k++) {
        const v = X[base + k];
        if (!(v <= best) && best === best) {
          best = v;
          bi = k;
        }
      }
      idx[o] = bi;
    }
  } else {
    const best = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      const base = o * n * inner;
      const ib = o * inner;
      for (let j = 0; j < inner; j++) best[j] = X[base + j];
      for (let k = 1; k < n; k++) {
        const row = base + k * inner;
        for (let j = 0; j < inner; j++) {
          const v = X[row + j];
          const b = best[j];
          if (!(v <= b) && b === b) {
            best[j] = v;
            idx[ib + j] = k;
          }
        }
      }
    }
  }
  return { idx, ...s };
}

function reducedShape(shape: Shape, axis: number, keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

/** Maximum values along `axis`; the gradient goes to the first maximal element of each slice. */
export function max(x: Tensor, axis: number, keepdim = false): Tensor {
  const X = checkF32('max', 'x', x);
  const { idx, outer, n, inner, axis: a } = argmaxInto('max', X, x.shape, axis);
  const Y = new Float32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) Y[o * inner + j] = X[(o * n + idx[o * inner + j]) * inner + j];
  }
  const out = new Tensor(Y, reducedShape(x.shape, a, keepdim));
  return record(out, 'max', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) D[(o * n + idx[o * inner + j]) * inner + j] = G[o * inner + j];
    }
    return [new Tensor(D, x.shape)];
  });
}

/** Index of the first maximum along `axis`, as an int32 tensor (any input dtype; no gradient). */
export function argmax(x: Tensor, axis: number, keepdim = false): Tensor {
  if (!(x instanceof Tensor)) throw new ArgumentError(`argmax: x must be a Tensor, got ${describe(x)}`);
  const { idx, axis: a } = argmaxInto('argmax', x.data, x.shape, axis);
  return new Tensor(idx, reducedShape(x.shape, a, keepdim), 'int32');
}
