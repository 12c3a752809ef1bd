// Index ops: embedding lookup (rows of a table), torch.gather and ONNX Gather (take), all scatter-adding their gradients.
import { record } from '../autograd/engine.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, normAxis, stridesOf } from '../tensor/tensor.js';
import { checkF32, checkI32, checkNdim, splitAt } from './util.js';

/** Rows of weight [V, D] picked by int32 indices [...] → [..., D]; the gradient adds into the picked rows. */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  const op = 'embedding';
  const I = checkI32(op, 'indices', indices);
  const W = checkF32(op, 'weight', weight);
  checkNdim(op, 'weight', weight, 2, '[V, D]');
  const [V, D] = weight.shape;
  const n = I.length;
  for (let i = 0; i < n; i++) {
    const v = I[i];
    if (v < 0 || v >= V) throw new ArgumentError(`${op}: indices[${i}] = ${v} out of range [0, ${V}) for weight ${fmtShape(weight.shape)}`);
  }
  const Y = new Float32Array(n * D);
  for (let i = 0; i < n; i++) Y.set(W.subarray(I[i] * D, (I[i] + 1) * D), i * D);
  return record(new Tensor(Y, [...indices.shape, D]), op, [weight], (g) => {
    const G = g.f32;
    const dW = new Float32Array(V * D);
    for (let i = 0; i < n; i++) {
      const src = i * D;
      const dst = I[i] * D;
      for (let j = 0; j < D; j++) dW[dst + j] += G[src + j];
    }
    return [new Tensor(dW, weight.shape)];
  });
}

/**
 * torch.gather: out has index's shape and out[i][j][k] = x[i][index[i][j][k]][k] (for axis 1). index is int32
 * with x's number of dims and index.shape[d] <= x.shape[d] for d != axis; its values lie in [0, x.shape[axis]).
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const op = 'gather';
  const X = checkF32(op, 'x', x);
  const I = checkI32(op, 'index', index);
  const nd = x.ndim;
  if (index.ndim !== nd) throw new ShapeError(`${op}: index ${fmtShape(index.shape)} must have as many dims as x ${fmtShape(x.shape)}`);
  const a = normAxis(op, axis, Math.max(nd, 1));
  for (let d = 0; d < nd; d++) {
    if (d !== a && index.shape[d] > x.shape[d]) {
      throw new ShapeError(`${op}: index ${fmtShape(index.shape)} is larger than x ${fmtShape(x.shape)} in dim ${d}`);
    }
  }
  const n = I.length;
  const len = nd === 0 ? 1 : x.shape[a];
  // Offset into x of every output element (computed once, reused by the backward pass).
  const src = new Int32Array(n);
  const xs = stridesOf(x.shape);
  const shape = index.shape;
  const idx = new Array<number>(nd).fill(0);
  let base = 0; // Σ_{d≠axis} idx[d]·xs[d]
  for (let i = 0; i < n; i++) {
    const v = I[i];
    if (v < 0 || v >= len) throw new ArgumentError(`${op}: index value ${v} at flat position ${i} out of range [0, ${len}) for axis ${a}`);
    src[i] = base + v * (nd === 0 ? 0 : xs[a]);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      if (d !== a) base += xs[d];
      if (idx[d] < shape[d]) break;
      if (d !== a) base -= xs[d] * shape[d];
      idx[d] = 0;
    }
  }
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = X[src[i]];
  return record(new Tensor(Y, index.shape), op, [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let i = 0; i < n; i++) D[src[i]] += G[i];
    return [new Tensor(D, x.shape)];
  });
}

/** `[1,0,2]`: the multi-index of flat position `flat` in `shape`. */
function unravel(flat: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  let rem = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = rem % shape[d];
    rem = Math.floor(rem / shape[d]);
  }
  return fmtShape(idx);
}

/**
 * ONNX Gather (np.take along an axis): whole slices of x picked along `axis` by int32 indices of any shape.
 * out.shape = x.shape[:axis] + indices.shape + x.shape[axis+1:]; with x [A, L, B] and indices [...],
 * out[a][...][b] = x[a][indices[...]][b]. Index values lie in [-L, L), negative ones counting from the end;
 * axis may be negative. The gradient scatter-adds into x (repeated indices accumulate).
 */
export function take(x: Tensor, axis: number, indices: Tensor): Tensor {
  const op = 'take';
  const X = checkF32(op, 'x', x);
  const I = checkI32(op, 'indices', indices);
  if (x.ndim === 0) throw new ShapeError(`${op}: x must have at least 1 dim, got []`);
  const { axis: a, outer, n: len, inner } = splitAt(op, x.shape, axis);
  const m = I.length;
  // Index values made non-negative (reused by the backward pass).
  const rows = new Int32Array(m);
  for (let j = 0; j < m; j++) {
    const v = I[j];
    const r = v < 0 ? v + len : v;
    if (r < 0 || r >= len) {
      throw new ArgumentError(`${op}: indices${unravel(j, indices.shape)} = ${v} out of range [${-len}, ${len}) for axis ${a} of x ${fmtShape(x.shape)}`);
    }
    rows[j] = r;
  }
  const outShape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  // Y viewed as [outer, m, inner], X as [outer, len, inner].
  const Y = new Float32Array(outer * m * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < m; j++) {
      const src = (o * len + rows[j]) * inner;
      const dst = (o * m + j) * inner;
      for (let k = 0; k < inner; k++) Y[dst + k] = X[src + k];
    }
  }
  return record(new Tensor(Y, outShape), op, [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const dst = (o * len + rows[j]) * inner;
        const src = (o * m + j) * inner;
        for (let k = 0; k < inner; k++) D[dst + k] += G[src + k];
      }
    }
    return [new Tensor(D, x.shape)];
  });
}
