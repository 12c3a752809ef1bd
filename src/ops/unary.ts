// Elementwise unary ops (relu, gelu, sigmoid, tanh, exp, log, neg, sqrt, square) with their backward passes.
import { record } from '../autograd/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { checkF32 } from './util.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Complementary error function, relative error < 1.2e-7 everywhere (Chebyshev-fitted exponential form,
 * Numerical Recipes `erfcc`): enough for float32 results, and accurate in the tails where 1 - erf is not.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Error function (see `erfc` for the accuracy). */
export function erf(x: number): number {
  return 1 - erfc(x);
}

/**
 * max(x, 0); NaN stays NaN and the gradient at exactly 0 is 0, as in PyTorch.
 * Works on the float bits (branchless: random signs make a compare-and-branch loop ~3x slower).
 */
export function relu(x: Tensor): Tensor {
  const X = checkF32('relu', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  const XI = new Int32Array(X.buffer, X.byteOffset, n);
  const YI = new Int32Array(Y.buffer, Y.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const v = XI[i];
    // Keep v when its sign bit is clear (v >> 31 = 0) or when it is a NaN (|bits| > 0x7f800000), else 0.
    YI[i] = v & (~(v >> 31) | ((0x7f800000 - (v & 0x7fffffff)) >> 31));
  }
  return record(new Tensor(Y, x.shape), 'relu', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    const GI = new Int32Array(G.buffer, G.byteOffset, n);
    const DI = new Int32Array(D.buffer, D.byteOffset, n);
    // y >= +0 here (or NaN): the mask -y >> 31 is all ones exactly when y's bits are a positive integer, i.e. y > 0.
    for (let i = 0; i < n; i++) DI[i] = GI[i] & (-YI[i] >> 31);
    return [new Tensor(D, x.shape)];
  });
}

/** x·Φ(x) with the exact normal CDF Φ (PyTorch's default `approximate='none'`). */
export function gelu(x: Tensor): Tensor {
  const X = checkF32('gelu', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = X[i];
    Y[i] = 0.5 * v * erfc(-v * SQRT1_2);
  }
  return record(new Tensor(Y, x.shape), 'gelu', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = X[i];
      // d/dx x·Φ(x) = Φ(x) + x·φ(x)
      D[i] = G[i] * (0.5 * erfc(-v * SQRT1_2) + v * INV_SQRT_2PI * Math.exp(-0.5 * v * v));
    }
    return [new Tensor(D, x.shape)];
  });
}

/** 1 / (1 + e^-x), computed without overflow for large |x|. */
export function sigmoid(x: Tensor): Tensor {
  const X = checkF32('sigmoid', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = X[i];
    if (v >= 0) {
      Y[i] = 1 / (1 + Math.exp(-v));
    } else {
      const e = Math.exp(v);
      Y[i] = e / (1 + e);
    }
  }
  return record(new Tensor(Y, x.shape), 'sigmoid', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = G[i] * Y[i] * (1 - Y[i]);
    return [new Tensor(D, x.shape)];
  });
}

export function tanh(x: Tensor): Tensor {
  const X = checkF32('tanh', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = Math.tanh(X[i]);
  return record(new Tensor(Y, x.shape), 'tanh', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = G[i] * (1 - Y[i] * Y[i]);
    return [new Tensor(D, x.shape)];
  });
}

export function exp(x: Tensor): Tensor {
  const X = checkF32('exp', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = Math.exp(X[i]);
  return record(new Tensor(Y, x.shape), 'exp', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = G[i] * Y[i];
    return [new Tensor(D, x.shape)];
  });
}

/** Natural log; like PyTorch, log(0) = -inf and log of a negative number is NaN. */
export function log(x: Tensor): Tensor {
  const X = checkF32('log', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = Math.log(X[i]);
  return record(new Tensor(Y, x.shape), 'log', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = G[i] / X[i];
    return [new Tensor(D, x.shape)];
  });
}

export function neg(x: Tensor): Tensor {
  const X = checkF32('neg', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = -X[i];
  return record(new Tensor(Y, x.shape), 'neg', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = -G[i];
    return [new Tensor(D, x.shape)];
  });
}

/** Square root; NaN for negative inputs, gradient +inf at 0 (as in PyTorch). */
export function sqrt(x: Tensor): Tensor {
  const X = checkF32('sqrt', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = Math.sqrt(X[i]);
  return record(new Tensor(Y, x.shape), 'sqrt', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = G[i] / (2 * Y[i]);
    return [new Tensor(D, x.shape)];
  });
}

export function square(x: Tensor): Tensor {
  const X = checkF32('square', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) Y[i] = X[i] * X[i];
  return record(new Tensor(Y, x.shape), 'square', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = 2 * G[i] * X[i];
    return [new Tensor(D, x.shape)];
  });
}
