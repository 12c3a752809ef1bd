// Element-type conversion (ONNX Cast) and broadcasting to a larger shape (ONNX Expand), with Expand's backward pass.
import { record } from '../autograd/engine.js';
import { NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, allocFor, shapeSize, type DType, type Shape } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, unbroadcast } from './broadcast.js';

/**
 * x converted to `dtype`: integers → float32 exactly (to 2^24), float32 → integers truncated toward zero and wrapped
 * to the type's range (as ONNX runtimes and C casts do); a NaN or infinity cast to an integer is a NonFiniteError.
 * Not differentiable (a cast to the same dtype returns x itself).
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = allocFor(dtype, x.size);
  const X = x.data;
  if (dtype === 'float32') {
    for (let i = 0; i < X.length; i++) out[i] = X[i];
  } else {
    for (let i = 0; i < X.length; i++) {
      const v = X[i];
      if (!Number.isFinite(v)) throw new NonFiniteError(`cast: element ${i} is ${v}, which has no ${dtype} value`);
      out[i] = Math.trunc(v); // typed-array stores wrap integers to the type's range
    }
  }
  return new Tensor(out, x.shape);
}

/** x broadcast to `shape` (NumPy rules; the result has the larger of each pair of dims). Backward: the gradient summed over the broadcast dims. */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes('expand', x.shape, shape);
  if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`expand: ${fmtShape(x.shape)} broadcast with ${fmtShape(shape)} gives ${fmtShape(out)}, not ${fmtShape(shape)}`);
  }
  const n = shapeSize(out);
  const Y = allocFor(x.dtype, n);
  const bs = broadcastStrides(x.shape, out);
  const nd = out.length;
  const idx = new Array<number>(nd).fill(0);
  const X = x.data;
  let o = 0;
  for (let i = 0; i < n; i++) {
    Y[i] = X[o];
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      o += bs[d];
      if (idx[d] < out[d]) break;
      o -= bs[d] * out[d];
      idx[d] = 0;
    }
  }
  const y = new Tensor(Y, out);
  if (x.dtype !== 'float32') return y;
  return record(y, 'expand', [x], (g) => [unbroadcast(g, x.shape)]);
}
