// Plain TypeScript twins of the quantized-layer kernels (assembly/quant.ts): quantize rows to int16, int16 patches,
// int16 GEMM with exact integer sums and the engine's output rounding. Same arguments (byte pointers into `memory`), same
// bits as the SIMD kernels; tests compare them (quant-kernels.test.ts). No allocation of results, no throw.
import { roundHalfEven } from '../tensor/quantize.js';

const f = Math.fround;
const f32 = (m: WebAssembly.Memory, p: number, n: number): Float32Array => new Float32Array(m.buffer, p, n);
const i16 = (m: WebAssembly.Memory, p: number, n: number): Int16Array => new Int16Array(m.buffer, p, n);

/** Twin of rtQuantizeRows: xq = clamp(roundHalfEven(f32(x / scale)), lo, hi), row tails zero; first NaN's index or −1. */
export function quantizeRowsRef(m: WebAssembly.Memory, x: number, q: number, rows: number, K: number, Kp: number, scale: number, lo: number, hi: number): number {
  const X = f32(m, x, rows * K);
  const Q = i16(m, q, rows * Kp);
  let bad = -1;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < K; k++) {
      const v = f(X[r * K + k] / scale);
      if (Number.isNaN(v)) {
        if (bad < 0) bad = r * K + k;
        Q[r * Kp + k] = 0;
        continue;
      }
      Q[r * Kp + k] = Math.min(hi, Math.max(lo, roundHalfEven(v)));
    }
    Q.fill(0, r * Kp + K, (r + 1) * Kp);
  }
  return bad;
}

/** Twin of rtQIm2row: xq [nb][C][H][W] → rows [nb·OH·OW][Kp], columns (c, ki, kj), padding and tail zero. */
export function qIm2rowRef(m: WebAssembly.Memory, xq: number, rows: number, nb: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number, Kp: number): void {
  const X = i16(m, xq, nb * C * H * W);
  const R = i16(m, rows, nb * OH * OW * Kp);
  let r = 0;
  for (let b = 0; b < nb; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let k = r * Kp;
        for (let c = 0; c < C; c++) {
          for (let ki = 0; ki < KH; ki++) {
            const iy = oy * SH - PH + ki * DH;
            for (let kj = 0; kj < KW; kj++) {
              const ix = ox * SW - PW + kj * DW;
              R[k++] = iy >= 0 && iy < H && ix >= 0 && ix < W ? X[((b * C + c) * H + iy) * W + ix] : 0;
            }
          }
        }
        R.fill(0, k, (r + 1) * Kp);
        r++;
      }
    }
  }
}

/** Twin of rtQGemm: y[m·ldm + n·ldn] = relu?(f32(f32(acc·scale[n]) + shift[n])), acc = Σ a[m][k]·w[n][k] exactly. */
export function qGemmRef(mem: WebAssembly.Memory, a: number, w: number, y: number, M: number, N: number, Kp: number, scale: number, shift: number, relu: number, ldm: number, ldn: number): void {
  const A = i16(mem, a, M * Kp);
  const Wt = i16(mem, w, N * Kp);
  const S = f32(mem, scale, N);
  const T = shift !== 0 ? f32(mem, shift, N) : null;
  const Y = new Float32Array(mem.buffer);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0; // exact: |acc| < 2^31 ≤ 2^53
      for (let k = 0; k < Kp; k++) acc += A[m * Kp + k] * Wt[n * Kp + k];
      let v = f(f(acc * S[n]) + (T ? T[n] : 0));
      if (relu && v <= 0) v = 0; // as f32.max(v, 0): −0 → 0
      Y[(y >> 2) + m * ldm + n * ldn] = v;
    }
  }
}
