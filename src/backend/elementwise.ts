// Elementwise and reduction kernels: scalar TypeScript twins (the oracle) and wasm wrappers that copy in and out.
// Code whose buffers already live in wasm memory calls the pointer-level kernels (`wasmRuntime().ex`) directly.
import { wasmRuntime, type WasmRuntime } from './wasm.js';

/** One signature for both implementations; outputs are caller-allocated and may alias inputs. */
export interface ElementwiseKernels {
  /** y = max(x, 0) (NaN stays NaN). */
  relu(x: Float32Array, y: Float32Array): void;
  /** dx = x > 0 ? dy : 0. */
  reluBackward(x: Float32Array, dy: Float32Array, dx: Float32Array): void;
  /** y = a + b, equal lengths. */
  add(a: Float32Array, b: Float32Array, y: Float32Array): void;
  /** y = a · b, equal lengths. */
  mul(a: Float32Array, b: Float32Array, y: Float32Array): void;
  /** y += alpha · x. */
  axpy(alpha: number, x: Float32Array, y: Float32Array): void;
  /** y = x · scale + shift. */
  scaleShift(x: Float32Array, y: Float32Array, scale: number, shift: number): void;
  /** x, y [nb, c, hw]: y = x · scale[c] + shift[c] (batch norm's affine step). */
  channelAffine(x: Float32Array, y: Float32Array, nb: number, c: number, hw: number, scale: Float32Array, shift: Float32Array): void;
  /** Σ x (accumulated in f64). */
  sum(x: Float32Array): number;
  /** Σ x² (accumulated in f64). */
  sumSquares(x: Float32Array): number;
  /** max x (-Infinity when empty, NaN if any is NaN). */
  max(x: Float32Array): number;
  /** Each row of x [rows, cols]: y = exp(x - max) / Σ exp(x - max). */
  softmaxRows(x: Float32Array, y: Float32Array, rows: number, cols: number): void;
}

const f = Math.fround;

/** Scalar twins: plain loops, f32 rounding per operation like the plain SIMD build. */
export const elementwiseRef: ElementwiseKernels = {
  relu(x, y) {
    for (let i = 0; i < x.length; i++) y[i] = Math.max(x[i], 0);
  },
  reluBackward(x, dy, dx) {
    for (let i = 0; i < x.length; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
  },
  add(a, b, y) {
    for (let i = 0; i < a.length; i++) y[i] = a[i] + b[i];
  },
  mul(a, b, y) {
    for (let i = 0; i < a.length; i++) y[i] = a[i] * b[i];
  },
  axpy(alpha, x, y) {
    const s = f(alpha);
    for (let i = 0; i < x.length; i++) y[i] = f(x[i] * s) + y[i];
  },
  scaleShift(x, y, scale, shift) {
    const s = f(scale);
    const t = f(shift);
    for (let i = 0; i < x.length; i++) y[i] = f(x[i] * s) + t;
  },
  channelAffine(x, y, nb, c, hw, scale, shift) {
    for (let b = 0; b < nb; b++) {
      for (let ch = 0; ch < c; ch++) {
        const o = (b * c + ch) * hw;
        for (let i = 0; i < hw; i++) y[o + i] = f(x[o + i] * scale[ch]) + shift[ch];
      }
    }
  },
  sum(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    return s;
  },
  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return s;
  },
  max(x) {
    let m = -Infinity;
    for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]);
    return m;
  },
  softmaxRows(x, y, rows, cols) {
    for (let r = 0; r < rows; r++) {
      const o = r * cols;
      let m = -Infinity;
      for (let i = 0; i < cols; i++) m = Math.max(m, x[o + i]);
      let s = 0;
      for (let i = 0; i < cols; i++) {
        const e = Math.exp(f(x[o + i] - m));
        y[o + i] = e;
        s += e;
      }
      for (let i = 0; i < cols; i++) y[o + i] /= s;
    }
  },
};

function wrappers(rt: WasmRuntime): ElementwiseKernels {
  const ex = rt.ex;
  return {
    relu: (x, y) => rt.scoped(() => {
      const p = rt.put(x);
      ex.relu(p, p, x.length);
      rt.get(p, y.subarray(0, x.length));
    }),
    reluBackward: (x, dy, dx) => rt.scoped(() => {
      const xp = rt.put(x);
      const dp = rt.put(dy.subarray(0, x.length));
      ex.reluBackward(xp, dp, dp, x.length);
      rt.get(dp, dx.subarray(0, x.length));
    }),
    add: (a, b, y) => rt.scoped(() => {
      const ap = rt.put(a);
      const bp = rt.put(b.subarray(0, a.length));
      ex.add(ap, bp, ap, a.length);
      rt.get(ap, y.subarray(0, a.length));
    }),
    mul: (a, b, y) => rt.scoped(() => {
      const ap = rt.put(a);
      const bp = rt.put(b.subarray(0, a.length));
      ex.mul(ap, bp, ap, a.length);
      rt.get(ap, y.subarray(0, a.length));
    }),
    axpy: (alpha, x, y) => rt.scoped(() => {
      const xp = rt.put(x);
      const yv = y.subarray(0, x.length);
      const yp = rt.put(yv);
      ex.axpy(alpha, xp, yp, x.length);
      rt.get(yp, yv);
    }),
    scaleShift: (x, y, scale, shift) => rt.scoped(() => {
      const p = rt.put(x);
      ex.scaleShift(p, p, x.length, scale, shift);
      rt.get(p, y.subarray(0, x.length));
    }),
    channelAffine: (x, y, nb, c, hw, scale, shift) => rt.scoped(() => {
      const n = nb * c * hw;
      const p = rt.put(x.subarray(0, n));
      const sp = rt.put(scale.subarray(0, c));
      const tp = rt.put(shift.subarray(0, c));
      ex.channelAffine(p, p, nb, c, hw, sp, tp);
      rt.get(p, y.subarray(0, n));
    }),
    sum: (x) => rt.scoped(() => ex.reduceSum(rt.put(x), x.length)),
    sumSquares: (x) => rt.scoped(() => ex.reduceSumSquares(rt.put(x), x.length)),
    max: (x) => rt.scoped(() => ex.reduceMax(rt.put(x), x.length)),
    softmaxRows: (x, y, rows, cols) => rt.scoped(() => {
      const n = rows * cols;
      const p = rt.put(x.subarray(0, n));
      ex.softmaxRows(p, p, rows, cols);
      rt.get(p, y.subarray(0, n));
    }),
  };
}

let cached: ElementwiseKernels | null | undefined;

/** The SIMD kernels behind copy-in/copy-out wrappers, or null when the wasm runtime cannot load. */
export function elementwiseWasm(): ElementwiseKernels | null {
  if (cached === undefined) {
    const rt = wasmRuntime();
    cached = rt ? wrappers(rt) : null;
  }
  return cached;
}
