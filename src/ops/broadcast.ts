// Broadcasting rules (NumPy-style) and the reduction that takes a broadcast gradient back to an input's shape.
import { ShapeError, fmtShape } from '../errors.js';
import { Tensor, sameShape, shapeSize, stridesOf, type Shape } from '../tensor/tensor.js';

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: cannot broadcast ${fmtShape(a)} with ${fmtShape(b)} (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` viewed as `outShape` (0 where broadcast). */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const s = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]));
}

/** Sum `grad` (of shape outShape) down to `shape` by adding over broadcast dims. */
export function unbroadcast(grad: Tensor, shape: Shape): Tensor {
  if (sameShape(grad.shape, shape)) return grad;
  const out = new Float32Array(shapeSize(shape));
  const bs = broadcastStrides(shape, grad.shape);
  const g = grad.f32;
  const dims = grad.shape;
  const nd = dims.length;
  const idx = new Array<number>(nd).fill(0);
  let o = 0;
  for (let i = 0; i < g.length; i++) {
    out[o] += g[i];
    // Increment the multi-index and the output offset.
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      o += bs[d];
      if (idx[d] < dims[d]) break;
      o -= bs[d] * dims[d];
      idx[d] = 0;
    }
  }
  return new Tensor(out, shape);
}
