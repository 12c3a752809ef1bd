// Fused affine map y = x·Wᵀ + b (weight [out, in] as in PyTorch) on GEMM with a transposed operand, no copies.
import { record } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/** x [..., in], weight [out, in], bias [out] or null → [..., out]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  if (x.dtype !== 'float32' || weight.dtype !== 'float32' || (bias && bias.dtype !== 'float32')) {
    throw new DTypeError('linear: expected float32 input, weight and bias');
  }
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be [out, in], got ${fmtShape(weight.shape)}`);
  const [out, inF] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(`linear: input last dim ${x.shape[x.ndim - 1] ?? 'none'} vs weight in ${inF} for ${fmtShape(x.shape)}x${fmtShape(weight.shape)}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== out)) {
    throw new ShapeError(`linear: bias must be [${out}], got ${fmtShape(bias.shape)}`);
  }
  const n = x.size / inF;
  const be = getBackend();
  const X = x.f32;
  const W = weight.f32;
  const Y = new Float32Array(n * out);
  if (bias) {
    const B = bias.f32;
    for (let i = 0; i < n; i++) Y.set(B, i * out);
  }
  be.gemm(X, W, Y, n, out, inF, false, true, bias !== null); // [n, in]·[out, in]ᵀ
  const y = new Tensor(Y, [...x.shape.slice(0, -1), out]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(y, 'linear', inputs, (g) => {
    const G = g.f32; // [n, out]
    const grads: (Tensor | null)[] = [null, null, null];
    if (x.requiresGrad) {
      const dx = new Float32Array(n * inF);
      be.gemm(G, W, dx, n, inF, out, false, false, false); // [n, out]·[out, in]
      grads[0] = new Tensor(dx, x.shape);
    }
    if (weight.requiresGrad) {
      const dw = new Float32Array(out * inF);
      be.gemm(G, X, dw, out, inF, n, true, false, false); // [n, out]ᵀ·[n, in]
      grads[1] = new Tensor(dw, weight.shape);
    }
    if (bias && bias.requiresGrad) {
      const db = new Float32Array(out);
      for (let i = 0; i < n; i++) for (let j = 0; j < out; j++) db[j] += G[i * out + j];
      grads[2] = new Tensor(db, bias.shape);
    }
    return grads.slice(0, inputs.length);
  });
}
