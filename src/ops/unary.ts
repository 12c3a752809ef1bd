// Elementwise unary ops (relu, gelu, silu, hardswish, clip, sigmoid, tanh, exp, log, neg, sqrt, square) with their backward passes.
import { record } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { checkF32, describe } from './util.js';

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
/** √(2/π) and the cubic coefficient of GELU's tanh approximation. */
const GELU_K = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** 1 / (1 + e^-v) in float64, without overflow for large |v|. */
function sigmoid64(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

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

/**
 * GELU as in PyTorch. approximate 'none' (default): x·Φ(x) with the exact normal CDF Φ. approximate 'tanh':
 * 0.5·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), computed as x·sigmoid(2u) (the same function, without
 * the cancellation of 1 + tanh(u) for very negative x), with its exact derivative.
 */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  const X = checkF32('gelu', 'x', x);
  if (approximate === 'tanh') return geluTanh(x, X);
  if (approximate !== 'none') throw new ArgumentError(`gelu: approximate must be 'none' or 'tanh', got ${describe(approximate)}`);
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

/** gelu(x, 'tanh'); X is x's (checked) data. */
function geluTanh(x: Tensor, X: Float32Array): Tensor {
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = X[i];
    // 0.5·(1 + tanh(u)) = sigmoid(2u)
    Y[i] = v * sigmoid64(2 * GELU_K * (v + GELU_C * v * v * v));
  }
  return record(new Tensor(Y, x.shape), 'gelu', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = X[i];
      const u2 = 2 * GELU_K * (v + GELU_C * v * v * v);
      const s = sigmoid64(u2);
      // s·(1 − s) = e/(1 + e)² with e = exp(−|2u|): no cancellation when s is near 1.
      const e = Math.exp(-Math.abs(u2));
      const ss = e / ((1 + e) * (1 + e));
      // d/dx x·s(2u) = s + x·2·s(1 − s)·u',  u' = √(2/π)·(1 + 3·0.044715·x²)
      D[i] = G[i] * (s + 2 * v * ss * GELU_K * (1 + 3 * GELU_C * v * v));
    }
    return [new Tensor(D, x.shape)];
  });
}

/** x·sigmoid(x) (SiLU, swish). As in PyTorch, -inf gives NaN (-inf·0), and so do the gradients at ±inf. */
export function silu(x: Tensor): Tensor {
  const X = checkF32('silu', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = X[i];
    Y[i] = v * sigmoid64(v);
  }
  return record(new Tensor(Y, x.shape), 'silu', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = X[i];
      const s = sigmoid64(v);
      // d/dx x·s(x) = s + x·s·(1 − s)
      D[i] = G[i] * s * (1 + v * (1 - s));
    }
    return [new Tensor(D, x.shape)];
  });
}

/**
 * x·relu6(x + 3)/6 (PyTorch's Hardswish). The gradient follows PyTorch's hardswish_backward branch for branch:
 * x < -3 → 0, x <= 3 → (2x + 3)/6, else 1; so it is -0.5 at exactly -3, 1.5 at exactly 3, and 1 at NaN.
 */
export function hardswish(x: Tensor): Tensor {
  const X = checkF32('hardswish', 'x', x);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = X[i];
    Y[i] = (v * Math.min(Math.max(v + 3, 0), 6)) / 6;
  }
  return record(new Tensor(Y, x.shape), 'hardswish', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = X[i];
      D[i] = v < -3 ? 0 : v <= 3 ? G[i] * ((2 * v + 3) / 6) : G[i];
    }
    return [new Tensor(D, x.shape)];
  });
}

/** A clip bound: a finite number or null (open). */
function checkBound(arg: 'min' | 'max', v: unknown): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`clip: ${arg} must be a finite number or null, got ${describe(v)}`);
  return v;
}

/**
 * torch.clamp: min(max(x, min), max), a null bound being open (both null: the identity, as ONNX Clip). Bounds
 * are rounded to float32 first, as torch compares a float32 tensor with its scalar bounds in float32. NaN passes
 * through. The gradient is 1 where min <= x <= max (ties at a bound included; a null bound is not tested) and 0
 * elsewhere, NaN included: PyTorch's clamp backward mask.
 */
export function clip(x: Tensor, min: number | null, max: number | null): Tensor {
  const X = checkF32('clip', 'x', x);
  const mn = checkBound('min', min);
  const mx = checkBound('max', max);
  if (mn !== null && mx !== null && mn > mx) throw new ArgumentError(`clip: min must be <= max, got min ${mn} > max ${mx}`);
  const lo = mn === null ? -Infinity : Math.fround(mn);
  const hi = mx === null ? Infinity : Math.fround(mx);
  const n = X.length;
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = X[i];
    Y[i] = v < lo ? lo : v > hi ? hi : v; // NaN fails both tests and stays
  }
  return record(new Tensor(Y, x.shape), 'clip', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    const openLo = mn === null;
    const openHi = mx === null;
    for (let i = 0; i < n; i++) {
      const v = X[i];
      if ((openLo || v >= lo) && (openHi || v <= hi)) D[i] = G[i];
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
