// Plain TypeScript twins of the LUT inference kernels (assembly/lut-infer.ts): encoders, int8 encoder parameters, scan.
//
// Shapes: x [N][ldx] f32 rows (sub-vector c of row n is x[n·ldx + c·V ..]); centroids [C, K, V]; codes [N, C] row-major
// (the twins use the plain layout; the kernels' code blocks are a layout detail); lutQ [C, K, M] int8; out [N, M].
// Every twin rounds exactly as the plain SIMD build does, so tests compare codes and integer sums exactly.
import { nearestF32, type Metric } from '../backend/metric.js';
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

/** round(clamp(f32(x·inv), −qmax − 1, qmax)) as the kernels compute it (NaN stays NaN); qmax 127 (int8) or 2047 (wide). */
export function quantizeX(x: number, inv: number, qmax = 127): number {
  let y = f(x * inv);
  if (y > qmax) y = qmax;
  if (y < -qmax - 1) y = -qmax - 1;
  return f(y + ROUND_MAGIC) - ROUND_MAGIC;
}

/** Centroid step of codebook c quantized to ±levels: sc = max|p|/levels (float32), 1 when every coordinate is 0. */
function codebookScale(centroids: Float32Array, c: number, K: number, V: number, levels: number): number {
  let cmax = 0;
  for (let i = c * K * V; i < (c + 1) * K * V; i++) cmax = Math.max(cmax, Math.abs(centroids[i]));
  return cmax > 0 ? f(cmax / levels) : 1;
}

/**
 * Quantizes codebook c: cq = round(p/sc) clamped to ±levels, handed to `put(index, cq)`, and its key bases
 * base[c·16 + k] = 16·2^a·‖cq_k‖² + k (0x7fffffff for k >= K, which never wins).
 */
function quantizeCodebook(centroids: Float32Array, c: number, K: number, V: number, sc: number, levels: number, a: number, base: Int32Array, put: (i: number, cq: number) => void): void {
  for (let k = 0; k < 16; k++) {
    if (k >= K) {
      base[c * 16 + k] = 0x7fffffff;
      continue;
    }
    let nrm = 0;
    for (let v = 0; v < V; v++) {
      const i = (c * K + k) * V + v;
      const r = Math.max(-levels, Math.min(levels, f(centroids[i] / sc) + ROUND_MAGIC64 - ROUND_MAGIC64));
      put(i, r);
      nrm += r * r;
    }
    base[c * 16 + k] = 16 * 2 ** a * nrm + k;
  }
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
    const sc = codebookScale(centroids, c, K, V, 63);
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
    quantizeCodebook(centroids, c, K, V, sc, 63, a, base, (i, r) => (cq[i] = r));
  }
  return { cq, inv, xShift, keyShift, base };
}

/**
 * The loop both integer encoder twins share: xq = quantizeX(x, inv[c], qmax) per sub-vector, then the first k of the
 * smallest key(c, k, xq) wins. `bad` is the first n·C + c whose x·inv is not finite.
 */
function integerCodes(x: Float32Array, ldx: number, N: number, C: number, K: number, V: number, inv: Float32Array, qmax: number, key: (c: number, k: number, xq: Int32Array) => number): EncodeResult {
  const codes = new Uint8Array(N * C);
  const xq = new Int32Array(V);
  let bad = -1;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let v = 0; v < V; v++) {
        const xv = x[n * ldx + c * V + v];
        const y = f(xv * inv[c]);
        if (!(y - y === 0) && bad < 0) bad = n * C + c;
        xq[v] = quantizeX(xv, inv[c], qmax);
      }
      let best = Infinity;
      let bk = 0;
      for (let k = 0; k < K; k++) {
        const kk = key(c, k, xq);
        if (kk < best) {
          best = kk;
          bk = k;
        }
      }
      codes[n * C + c] = bk;
    }
  }
  return { codes, bad };
}

/** Twin of the int8 encoder (l2): integer keys, smallest wins (its low 4 bits are k, so ties go to the first k). */
export function encodeInt8Ref(x: Float32Array, ldx: number, N: number, p: Int8EncoderParams, C: number, K: number, V: number): EncodeResult {
  return integerCodes(x, ldx, N, C, K, V, p.inv, 127, (c, k, xq) => {
    let dot = 0;
    for (let v = 0; v < V; v++) dot += xq[v] * (p.cq[(c * K + k) * V + v] + 64);
    return p.base[c * 16 + k] - dot * 2 ** p.keyShift[c];
  });
}

/** Centroid levels the wide encoder tries, finest first: the first whose keys fit int32 (and w int16) is used. */
const WIDE_LEVELS = [1535, 1279, 1023, 767, 511, 383, 255];

/**
 * The wide ("int16-class") variant of the int8 encoder, used by the 3×3 lanes conv encoder (assembly/lut-conv-lanes.ts),
 * whose i16×i16 dot products take it at no extra cost, and by the 'wide' row encoder. Per layer a centroid level Q
 * (WIDE_LEVELS: 1535 for V = 9, s = 0; about 12 bits against the int8 encoder's 7). Centroids: cq = round(p/sc) in
 * [−Q, Q], sc = max|p|/Q. x: xq = round(x·inv) clamped to [−4Q, 4Q − 1] (qmax = 4Q − 1), inv = 1/sx with
 * sx = sc·2^(s−1) (s = the int8 parameters' xShift, so the x range stays 2^s·2·max|p|). Then
 * ‖p‖² − 2x·p ≈ sc²·(‖cq‖² − 2^s·xq·cq), and the integer key
 * key_k = base_k + Σ_v xq_v·w_kv with w = −16·2^max(s,0)·cq (fits i16) and base_k = 16·2^max(−s,0)·‖cq‖² + k orders
 * k the same way, ties to the first k (its low 4 bits are k); k >= K gets base 0x7fffffff and w = 0. (‖cq‖², not the
 * exact ‖p/sc‖²: then the key is ‖x − p̂‖² for the quantized p̂, whose error nearly vanishes for the centroids near x.)
 */
export interface WideEncoderParams {
  /** Centroid level Q and x clamp qmax = 4Q − 1 (xq in [−qmax − 1, qmax]). */
  levels: number;
  qmax: number;
  /** w [C, K, V] = −16·2^max(s,0)·cq, each in i16 range. */
  w: Int16Array;
  /** inverse x scale per codebook (float32). */
  inv: Float32Array;
  /** base [C, 16]. */
  base: Int32Array;
  /** Centroid scale sc per codebook (float32). */
  sc: Float32Array;
  /** x shift s per codebook. */
  shift: Int8Array;
}

/** Wide parameters for centroids [C, K, V] and the int8 parameters' xShift, or null when some key could overflow int32 or w i16 (then the int8 data are used). */
export function wideEncoderParams(centroids: Float32Array, C: number, K: number, V: number, xShift: Int8Array): WideEncoderParams | null {
  const fits = (Q: number): boolean => Array.from(xShift).every((s) => {
    const wm = 16 * 2 ** Math.max(0, s);
    return wm * Q <= 32767 && 16 * 2 ** Math.max(0, -s) * V * Q ** 2 + 15 + wm * V * 4 * Q * Q < 2 ** 31 - 1;
  });
  const Q = WIDE_LEVELS.find(fits);
  if (Q === undefined) return null;
  const qmax = 4 * Q - 1;
  const w = new Int16Array(C * K * V);
  const inv = new Float32Array(C);
  const base = new Int32Array(C * 16);
  const scs = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const sc = codebookScale(centroids, c, K, V, Q);
    scs[c] = sc;
    const s = xShift[c];
    const a = Math.max(0, -s);
    const wm = 16 * 2 ** Math.max(0, s);
    inv[c] = f(1 / (sc * 2 ** (s - 1)));
    quantizeCodebook(centroids, c, K, V, sc, Q, a, base, (i, r) => (w[i] = -wm * r));
  }
  return { levels: Q, qmax, w, inv, base, sc: scs, shift: Int8Array.from(xShift) };
}

/** Twin of the wide encoder (the lanes conv encoder's oracle): integer keys, smallest wins, ties to the first k. */
export function encodeWideRef(x: Float32Array, ldx: number, N: number, p: WideEncoderParams, C: number, K: number, V: number): EncodeResult {
  return integerCodes(x, ldx, N, C, K, V, p.inv, p.qmax, (c, k, xq) => {
    let key = p.base[c * 16 + k];
    for (let v = 0; v < V; v++) key += xq[v] * p.w[(c * K + k) * V + v];
    return key;
  });
}

/**
 * Certification of wide keys against the exact f32 encoder (l2), per codebook. The keys are the wide ones (w as in
 * WideEncoderParams) but with base_k = 16·round(2^a·‖p_k/sc‖²) + k, the exact norm rounded once. A sub-vector whose
 * smallest key m1 and second smallest m2 satisfy m2 − m1 > alpha·S + beta, with S = Σ_v |xq_v|, and whose xq are all
 * inside (−qmax, qmax) (no clamping) has the same code under encodeF32Ref; any other is re-encoded in f32 (so the
 * codes are always encodeF32Ref's). Why, in key units (F = 16·2^a, G = 16·2^b, c/sc = cq + ε_c,
 * x/sx = xq + ε_x with |ε_x| <= 1/2): key_k − F·(‖p_k‖² − 2x·p_k)/sc² = ρ_k + k + G·Σ_v (xq_v·ε_c,kv + ε_x,v·p_kv/sc),
 * |ρ_k| <= 8 (base rounding), so |error_k| <= 23 + G·(e_c·S + A_k) with e_c = max|ε_c| <= 1/2 and
 * A_k = Σ_v |p_kv|/(2sc); the f32 encoder's own rounding moves a distance by at most γ·Σ_v (|x_v| + |p_kv|)²,
 * γ = (V + 4)·2^−24, at most F·γ·V·(2^(s−1)·(qmax + 1.5) + Q)² key units (|x/sc| <= 2^(s−1)·(qmax + 1.5) unclamped,
 * |p/sc| <= Q). Two keys further apart than both errors and both roundings keep their order under the f32 encoder:
 * alpha = G (>= 2G·e_c) and beta = ⌈46 + 2G·max_k A_k + 2F·γ·V·(2^(s−1)·(qmax + 1.5) + Q)²⌉.
 */
export interface CertifyParams {
  /** base [C, 16] with the exact norms. */
  base: Int32Array;
  alpha: Int32Array;
  beta: Int32Array;
}

export function certifyParams(p: WideEncoderParams, centroids: Float32Array, C: number, K: number, V: number): CertifyParams {
  const base = p.base.slice();
  const alpha = new Int32Array(C);
  const beta = new Int32Array(C);
  const gamma = (V + 4) * 2 ** -24;
  for (let c = 0; c < C; c++) {
    const s = p.shift[c];
    const F = 16 * 2 ** Math.max(0, -s);
    const G = 16 * 2 ** Math.max(0, s);
    let amax = 0;
    for (let k = 0; k < K; k++) {
      let a = 0;
      let nrm = 0;
      for (let v = 0; v < V; v++) {
        a += Math.abs(centroids[(c * K + k) * V + v]) / (2 * p.sc[c]);
        nrm += (centroids[(c * K + k) * V + v] / p.sc[c]) ** 2;
      }
      amax = Math.max(amax, a);
      base[c * 16 + k] = 16 * Math.round((F / 16) * nrm) + k;
    }
    alpha[c] = G;
    beta[c] = Math.ceil(46 + 2 * G * amax + 2 * F * gamma * V * (2 ** (s - 1) * (p.qmax + 1.5) + p.levels) ** 2);
  }
  return { base, alpha, beta };
}

/**
 * Twin of the certified conv encoder: the wide keys, then encodeF32Ref's code for every sub-vector the keys do not
 * certify (see CertifyParams). Returns the codes (always encodeF32Ref's, which the tests check), how many
 * sub-vectors were re-encoded in f32, and the first n·C + c with no finite distance (−1: none; its code is left 0).
 */
export function encodeCertifiedRef(x: Float32Array, ldx: number, N: number, p: WideEncoderParams, cp: CertifyParams, centroids: Float32Array, C: number, K: number, V: number): { codes: Uint8Array; rechecked: number; bad: number } {
  const codes = new Uint8Array(N * C);
  const xq = new Int32Array(V);
  let rechecked = 0;
  let bad = -1;
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const inv = p.inv[c];
      let S = 0;
      let edge = false;
      for (let v = 0; v < V; v++) {
        xq[v] = quantizeX(x[n * ldx + c * V + v], inv, p.qmax);
        S += Math.abs(xq[v]);
        if (Math.abs(xq[v]) >= p.qmax) edge = true;
      }
      let m1 = 0x7fffffff;
      let m2 = 0x7fffffff;
      for (let k = 0; k < 16; k++) {
        let key = cp.base[c * 16 + k];
        if (k < K) for (let v = 0; v < V; v++) key += xq[v] * p.w[(c * K + k) * V + v];
        if (key < m1) {
          m2 = m1;
          m1 = key;
        } else if (key < m2) {
          m2 = key;
        }
      }
      if (edge || m2 - m1 <= cp.alpha[c] * S + cp.beta[c]) {
        rechecked++;
        const k = nearestF32(x, n * ldx + c * V, 1, centroids, 0, c, K, V, 'l2');
        if (k < 0 && bad < 0) bad = n * C + c; // every distance overflowed (|x| past ~1e19): no nearest centroid
        codes[n * C + c] = Math.max(0, k);
      } else {
        codes[n * C + c] = m1 & 15;
      }
    }
  }
  return { codes, rechecked, bad };
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
