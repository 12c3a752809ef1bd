// Selection by a condition (ONNX Where, PyTorch masked_fill) with its backward pass, and elementwise equality (ONNX Equal) as uint8 0/1.
import { record } from '../autograd/engine.js';
import { DTypeError } from '../errors.js';
import { Tensor, shapeSize, type Shape } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, unbroadcast } from './broadcast.js';

/** For each element of `out` (row-major), the offsets into tensors of `shapes` broadcast to it. */
function offsets(shapes: readonly Shape[], out: Shape): Int32Array[] {
  const n = shapeSize(out);
  const res = shapes.map(() => new Int32Array(n));
  const strides = shapes.map((s) => broadcastStrides(s, out));
  const nd = out.length;
  const idx = new Array<number>(nd).fill(0);
  const o = shapes.map(() => 0);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < shapes.length; k++) res[k][i] = o[k];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < shapes.length; k++) o[k] += strides[k][d];
      if (idx[d] < out[d]) break;
      for (let k = 0; k < shapes.length; k++) o[k] -= strides[k][d] * out[d];
      idx[d] = 0;
    }
  }
  return res;
}

/**
 * x where cond is nonzero, else y, all three broadcast (cond of an integer dtype, x and y float32). Backward: the
 * gradient goes to x where cond holds and to y elsewhere (an infinite x or y never meets a zero factor).
 */
export function where(cond: Tensor, x: Tensor, y: Tensor): Tensor {
  if (cond.dtype === 'float32') throw new DTypeError('where: cond must be an integer tensor (int32, int8 or uint8, nonzero = true), got float32');
  if (x.dtype !== 'float32' || y.dtype !== 'float32') throw new DTypeError(`where: x and y must be float32, got ${x.dtype} and ${y.dtype}`);
  const shape = broadcastShapes('where', broadcastShapes('where', cond.shape, x.shape), y.shape);
  const [oc, ox, oy] = offsets([cond.shape, x.shape, y.shape], shape);
  const C = cond.data;
  const X = x.f32;
  const Y = y.f32;
  const out = new Float32Array(oc.length);
  for (let i = 0; i < out.length; i++) out[i] = C[oc[i]] !== 0 ? X[ox[i]] : Y[oy[i]];
  return record(new Tensor(out, shape), 'where', [x, y], (g) => {
    const G = g.f32;
    const gx = new Float32Array(G.length);
    const gy = new Float32Array(G.length);
    for (let i = 0; i < G.length; i++) {
      if (C[oc[i]] !== 0) gx[i] = G[i];
      else gy[i] = G[i];
    }
    return [unbroadcast(new Tensor(gx, shape), x.shape), unbroadcast(new Tensor(gy, shape), y.shape)];
  });
}

/** 1 where a == b, else 0 (uint8), broadcast; a and b of one dtype. Not differentiable. */
export function equal(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new DTypeError(`equal: operands must have one dtype, got ${a.dtype} and ${b.dtype}`);
  const shape = broadcastShapes('equal', a.shape, b.shape);
  const [oa, ob] = offsets([a.shape, b.shape], shape);
  const out = new Uint8Array(oa.length);
  for (let i = 0; i < out.length; i++) out[i] = a.data[oa[i]] === b.data[ob[i]] ? 1 : 0;
  return new Tensor(out, shape);
}
