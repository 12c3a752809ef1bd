// Plain TypeScript twins of the LUT inference kernels (assembly/lut-infer.ts): encoders, int8 encoder parameters, scan.
//
// Shapes: x [N][ldx] f32 rows (sub-vector c of row n is x[n·ldx + c·V ..]); centroids [C, K, V]; codes [N, C] row-major
// (the twins use the plain layout; the kernels' code blocks are a layout detail); lutQ [C, K, M] int8; out [N, M].
// Every twin rounds exactly as the plain SIMD build does, so tests compare codes and integer sums exactly.
import { nearestF32, type Metric } from '../lut/distance.js';
import type { Window } from './plan.js';

const f = Math.fround;

/** Result of an encoder: codes [N, C] and the first n·C + c with no finite distance (−1 when none). */
export interface EncodeResult {
  codes: Uint8Array;
  bad: number;
}

/**
 * The exact f32 encoder: d_k = Σ_v (x_v − p_kv)² (l2, squared: same argmin), Σ|x_v − p_kv| (l1) or max_v |x_v − p_kv|
 * (chebyshev), in v order with float32 rounding after every operation; the first k of the smallest d wins. A sub-vector
 * with no finite distance gets code 0 and is reported in `bad`.
 */
export function encodeF32Ref(x: Float32Array, ldx: number, N: number, centroids: Float32Array, C: number, K: number, V: number, metric: Metric): EncodeResult {
  const codes = new Uint8Array(N * C);
  let bad = -1;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let bk = nearestF32(x, n * ldx + c * V, 1, centroids, 0, c, K, V, metric);
      if (bk < 0) {
        if (bad < 0) bad = n * C + c;
        bk = 0;
      }
      codes[n * C + c] = bk;
    }
  }
  return { codes, bad };
}

/** Largest |x scale exponent| the int8 encoder uses (x range = 2^s times the centroids' range, s in [−3, 3]). */
export const INT8_MAX_SHIFT = 3;

/**
 * The int8 encoder's per-codebook data. Centroids: cq = round(p/sc) in [−63, 63] with sc = max|p|/63 (7 bits, so the
 * kernels' u = cq + 64 fits relaxed SIMD's 7-bit dot operand). x: xq = round(x·inv) in [−128, 127] with
 * inv = 1/sx, sx = sc·2^s. Keys: key_k = base_k − (Σ_v xq_v·(cq_kv + 64) << shift) orders k as ‖p_k‖² − 2x·p_k does
 * (see encodeInt8Rows in assembly/lut-infer.ts); k >= K gets base 0x7fffffff and never wins.
 */
export interface Int8EncoderParams {
  /** cq [C, K, V] in [−63, 63]. */
  cq: Int8Array;
  /** inverse x scale per codebook (float32). */
  inv: Float32Array;
  /** sx = sc·2^s: s per codebook. */
  xShift: Int8Array;
  /** left shift of the dot product in the key, per codebook. */
  keyShift: Int32Array;
  /** base [C, 16] = 16·2^a·‖cq_k‖² + k. */
  base: Int32Array;
}

const ROUND_MAGIC = 12582912; // 1.5·2²³: f32(y + m) − m rounds |y| < 2²² to an integer, half to even
const ROUND_MAGIC64 = 6755399441055744; // 1.5·2⁵²: the same for doubles

/** round(clamp(f32(x·inv), −128, 127)) as the kernels compute it (NaN stays NaN). */
export function quantizeX(x: number, inv: number): number {
  let y = f(x * inv);
  if (y > 127) y = 127;
  if (y < -128) y = -128;
  return f(y + ROUND_MAGIC) - ROUND_MAGIC;
}

/**
 * Per-codebook int8 parameters from centroids [C, K, V]; `xAbsMax` [C] (largest |x| each codebook sees, e.g. from
 * calibration rows) picks s = ⌈log2(xAbsMax / (127·sc))⌉ clamped to ±INT8_MAX_SHIFT; without it s = 0 (x range about
 * twice the centroids' range). Throws RangeError when the keys could overflow int32 (V too large).
 */
export function int8EncoderParams(centroids: Float32Array, C: number, K: number, V: number, xAbsMax?: Float32Array): Int8EncoderParams {
  const cq = new Int8Array(C * K * V);
  const inv = new Float32Array(C);
  const xShift = new Int8Array(C);
  const keyShift = new Int32Array(C);
  const base = new Int32Array(C * 16);
  for (let c = 0; c < C; c++) {
    let cmax = 0;
    for (let i = c * K * V; i < (c + 1) * K * V; i++) cmax = Math.max(cmax, Math.abs(centroids[i]));
    const sc = cmax > 0 ? f(cmax / 63) : 1;
    let s = 0;
    if (xAbsMax) {
      const want = xAbsMax[c] / (127 * sc);
      s = want > 0 ? Math.ceil(Math.log2(want)) : -INT8_MAX_SHIFT;
      s = Math.max(-INT8_MAX_SHIFT, Math.min(INT8_MAX_SHIFT, s));
    }
    xShift[c] = s;
    inv[c] = f(1 / (sc * 2 ** s));
    const a = Math.max(0, -s - 1);
    const b = Math.max(0, s + 1);
    keyShift[c] = b + 4;
    const bound = 16 * 2 ** a * V * 63 * 63 + 15 + 2 ** (b + 4) * V * 128 * 127;
    if (bound >= 2 ** 31 - 1) throw new RangeError(`int8 encoder: keys overflow int32 for subvecLen ${V}`);
    for (let k = 0; k < 16; k++) {
      if (k >= K) {
        base[c * 16 + k] = 0x7fffffff;
        continue;
      }
      let nrm = 0;
      for (let v = 0; v < V; v++) {
        const i = (c * K + k) * V + v;
        const r = Math.max(-63, Math.min(63, f(centroids[i] / sc) + ROUND_MAGIC64 - ROUND_MAGIC64));
        cq[i] = r;
        nrm += r * r;
      }
      base[c * 16 + k] = 16 * 2 ** a * nrm + k;
    }
  }
  return { cq, inv, xShift, keyShift, base };
}

/** Twin of the int8 encoder (l2): integer keys, smallest wins (its low 4 bits are k, so ties go to the first k). */
export function encodeInt8Ref(x: Float32Array, ldx: number, N: number, p: Int8EncoderParams, C: number, K: number, V: number): EncodeResult {
  const codes = new Uint8Array(N * C);
  const xq = new Int32Array(V);
  let bad = -1;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const inv = p.inv[c];
      for (let v = 0; v < V; v++) {
        const xv = x[n * ldx + c * V + v];
        const y = f(xv * inv);
        if (!(y - y === 0) && bad < 0) bad = n * C + c;
        xq[v] = quantizeX(xv, inv);
      }
      let best = Infinity;
      let bk = 0;
      for (let k = 0; k < K; k++) {
        let dot = 0;
        for (let v = 0; v < V; v++) dot += xq[v] * (p.cq[(c * K + k) * V + v] + 64);
        const key = p.base[c * 16 + k] - dot * 2 ** p.keyShift[c];
        if (key < best) {
          best = key;
          bk = k;
        }
      }
      codes[n * C + c] = bk;
    }
  }
  return { codes, bad };
}

/** Exact integer sums acc [N, M] = Σ_c lutQ[c, codes[n, c], m]. */
export function scanRef(codes: Uint8Array, lutQ: Int8Array, N: number, C: number, K: number, M: number): Int32Array {
  const acc = new Int32Array(N * M);
  for (let n = 0; n < N; n++) {
    const row = acc.subarray(n * M, (n + 1) * M);
    for (let c = 0; c < C; c++) {
      const t0 = (c * K + codes[n * C + c]) * M;
      for (let m = 0; m < M; m++) row[m] += lutQ[t0 + m];
    }
  }
  return acc;
}

/** out [N, M] = f32(f32(scale·acc) + bias[m]) (the plain build; the relaxed one fuses the multiply-add). */
export function finishRef(acc: Int32Array, N: number, M: number, scale: number, bias: Float32Array | null): Float32Array {
  const out = new Float32Array(N * M);
  const s = f(scale);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) out[n * M + m] = f(f(s * acc[n * M + m]) + (bias ? bias[m] : 0));
  }
  return out;
}

/** im2col rows [(b, oy, ox)][(c, ki, kj)] of x [n][C][H][W]: what a LUT conv encodes (reference of rtIm2row and of the direct conv encoder). */
export function im2rowRef(x: Float32Array, n: number, w: Window): Float32Array {
  const D = w.cin * w.kh * w.kw;
  const rows = new Float32Array(n * w.outH * w.outW * D);
  let r = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < w.outH; oy++) {
      for (let ox = 0; ox < w.outW; ox++) {
        for (let c = 0; c < w.cin; c++) {
          for (let ki = 0; ki < w.kh; ki++) {
            for (let kj = 0; kj < w.kw; kj++) {
              const iy = oy * w.sh - w.ph + ki * w.dh;
              const ix = ox * w.sw - w.pw + kj * w.dw;
              rows[r++] = iy >= 0 && iy < w.h && ix >= 0 && ix < w.w ? x[((b * w.cin + c) * w.h + iy) * w.w + ix] : 0;
            }
          }
        }
      }
    }
  }
  return rows;
}
