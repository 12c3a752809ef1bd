// Scalar TypeScript twins of every kernel: the oracle the SIMD kernels are tested against.
import { ArgumentError, ShapeError } from '../errors.js';
import type { Backend, Conv2dGeom, PackedMatrix, ResidentArray } from './types.js';

export function gemmRef(
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * M + i] : A[i * K + k];
        const b = transB ? B[j * K + k] : B[k * N + j];
        s += a * b;
      }
      C[i * N + j] = accumulate ? C[i * N + j] + s : s;
    }
  }
}

/** Checks that a size argument is a non-negative integer. */
export function checkDim(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new ArgumentError(`${op}: ${name} must be a non-negative integer, got ${v}`);
}

/** The reference "packed" B: a plain K×N copy of op(B). */
class RefPacked implements PackedMatrix {
  readonly backend = 'reference';
  private data: Float32Array | null;

  constructor(B: Float32Array, readonly K: number, readonly N: number, transB: boolean) {
    const d = new Float32Array(K * N);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) d[k * N + j] = transB ? B[j * K + k] : B[k * N + j];
    this.data = d;
  }

  get disposed(): boolean {
    return this.data === null;
  }

  /** The copy, or ArgumentError once disposed. */
  values(op: string): Float32Array {
    if (!this.data) throw new ArgumentError(`${op}: the packed matrix was disposed`);
    return this.data;
  }

  dispose(): void {
    this.data = null;
  }
}

export function packGemmBRef(B: Float32Array, K: number, N: number, transB: boolean): PackedMatrix {
  checkDim('packGemmB', 'K', K);
  checkDim('packGemmB', 'N', N);
  if (B.length < K * N) throw new ShapeError(`packGemmB: B has ${B.length} elements, needs ${K * N} (K=${K}, N=${N})`);
  return new RefPacked(B, K, N, transB);
}

export function gemmPackedRef(A: Float32Array, packed: PackedMatrix, C: Float32Array, M: number, transA: boolean, accumulate: boolean): void {
  if (!(packed instanceof RefPacked)) throw new ArgumentError(`gemmPacked: expected a matrix packed by the reference backend, got one from ${packed.backend}`);
  checkDim('gemmPacked', 'M', M);
  const B = packed.values('gemmPacked');
  gemmRef(A, B, C, M, packed.N, packed.K, transA, false, accumulate);
}

export function allocResidentRef(length: number): ResidentArray {
  checkDim('allocResident', 'length', length);
  let disposed = false;
  return {
    view: new Float32Array(length),
    ptr: -1,
    get disposed() {
      return disposed;
    },
    dispose() {
      disposed = true;
    },
  };
}

export function im2colRef(x: Float32Array, g: Conv2dGeom, cin: number, cols: Float32Array): void {
  const { h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW, outH, outW } = g;
  const L = outH * outW;
  for (let c = 0; c < cin; c++) {
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const row = (c * kh + ki) * kw + kj;
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * strideH - padH + ki * dilH;
          for (let ox = 0; ox < outW; ox++) {
            const ix = ox * strideW - padW + kj * dilW;
            cols[row * L + oy * outW + ox] = iy >= 0 && iy < h && ix >= 0 && ix < w ? x[(c * h + iy) * w + ix] : 0;
          }
        }
      }
    }
  }
}

export function col2imRef(cols: Float32Array, g: Conv2dGeom, cin: number, dx: Float32Array): void {
  const { h, w, kh, kw, strideH, strideW, padH, padW, dilH, dilW, outH, outW } = g;
  const L = outH * outW;
  for (let c = 0; c < cin; c++) {
    for (let ki = 0; ki < kh; ki++) {
      for (let kj = 0; kj < kw; kj++) {
        const row = (c * kh + ki) * kw + kj;
        for (let oy = 0; oy < outH; oy++) {
          const iy = oy * strideH - padH + ki * dilH;
          if (iy < 0 || iy >= h) continue;
          for (let ox = 0; ox < outW; ox++) {
            const ix = ox * strideW - padW + kj * dilW;
            if (ix >= 0 && ix < w) dx[(c * h + iy) * w + ix] += cols[row * L + oy * outW + ox];
          }
        }
      }
    }
  }
}

/** Direct (no im2col) convolution: an independent oracle for the im2col + GEMM path. */
export function conv2dForwardRef(
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array | null,
  g: Conv2dGeom,
  y: Float32Array,
): void {
  const { n, cin, h, w: W, cout, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups, outH, outW } = g;
  const cinG = cin / groups;
  const coutG = cout / groups;
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const grp = Math.floor(co / coutG);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          let s = bias ? bias[co] : 0;
          for (let ci = 0; ci < cinG; ci++) {
            const c = grp * cinG + ci;
            for (let ki = 0; ki < kh; ki++) {
              const iy = oy * strideH - padH + ki * dilH;
              if (iy < 0 || iy >= h) continue;
              for (let kj = 0; kj < kw; kj++) {
                const ix = ox * strideW - padW + kj * dilW;
                if (ix < 0 || ix >= W) continue;
                s += x[((b * cin + c) * h + iy) * W + ix] * w[((co * cinG + ci) * kh + ki) * kw + kj];
              }
            }
          }
          y[((b * cout + co) * outH + oy) * outW + ox] = s;
        }
      }
    }
  }
}

export function conv2dBackwardInputRef(dy: Float32Array, w: Float32Array, g: Conv2dGeom, dx: Float32Array): void {
  const { n, cin, h, w: W, cout, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups, outH, outW } = g;
  const cinG = cin / groups;
  const coutG = cout / groups;
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const grp = Math.floor(co / coutG);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const gy = dy[((b * cout + co) * outH + oy) * outW + ox];
          for (let ci = 0; ci < cinG; ci++) {
            const c = grp * cinG + ci;
            for (let ki = 0; ki < kh; ki++) {
              const iy = oy * strideH - padH + ki * dilH;
              if (iy < 0 || iy >= h) continue;
              for (let kj = 0; kj < kw; kj++) {
                const ix = ox * strideW - padW + kj * dilW;
                if (ix < 0 || ix >= W) continue;
                dx[((b * cin + c) * h + iy) * W + ix] += gy * w[((co * cinG + ci) * kh + ki) * kw + kj];
              }
            }
          }
        }
      }
    }
  }
}

export function conv2dBackwardWeightRef(
  x: Float32Array,
  dy: Float32Array,
  g: Conv2dGeom,
  dw: Float32Array,
  dbias: Float32Array | null,
): void {
  const { n, cin, h, w: W, cout, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups, outH, outW } = g;
  const cinG = cin / groups;
  const coutG = cout / groups;
  dw.fill(0);
  if (dbias) dbias.fill(0);
  for (let b = 0; b < n; b++) {
    for (let co = 0; co < cout; co++) {
      const grp = Math.floor(co / coutG);
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          const gy = dy[((b * cout + co) * outH + oy) * outW + ox];
          if (dbias) dbias[co] += gy;
          for (let ci = 0; ci < cinG; ci++) {
            const c = grp * cinG + ci;
            for (let ki = 0; ki < kh; ki++) {
              const iy = oy * strideH - padH + ki * dilH;
              if (iy < 0 || iy >= h) continue;
              for (let kj = 0; kj < kw; kj++) {
                const ix = ox * strideW - padW + kj * dilW;
                if (ix < 0 || ix >= W) continue;
                dw[((co * cinG + ci) * kh + ki) * kw + kj] += gy * x[((b * cin + c) * h + iy) * W + ix];
              }
            }
          }
        }
      }
    }
  }
}

export const referenceBackend: Backend = {
  name: 'reference',
  gemm: gemmRef,
  packGemmB: packGemmBRef,
  gemmPacked: gemmPackedRef,
  allocResident: allocResidentRef,
  im2col: im2colRef,
  col2im: col2imRef,
  conv2dForward: conv2dForwardRef,
  conv2dBackwardInput: conv2dBackwardInputRef,
  conv2dBackwardWeight: conv2dBackwardWeightRef,
};
