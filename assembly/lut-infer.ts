// LUT-NN inference kernels: the f32 and int8 encoders (argmin over 16 centroids) and the i8x16.swizzle table scan.
//
// Layouts (pointers in bytes; TypeScript builds them in src/runtime/lut-kernels.ts, twins in lut-kernels-ref.ts):
//   x      [N][ldx] f32 rows; sub-vector c of row n is x[n][c·V .. c·V + V).
//   codes  [ceil(N/16)][C][16] bytes: row n's code for codebook c at ((n >> 4)·C + c)·16 + (n & 15).
//   f32 centroids [C][V][16] f32 (transposed: one f32x4 holds 4 centroids' coordinate v; k >= K padded with +Inf).
//   int8 centroids u = cq + 64 in [1, 127] (cq in [-63, 63], 0 in padded coordinates):
//     relaxed build [C][ceil(V/4)][4 groups][4 k][4 v] bytes, plain build [C][ceil(V/2)][4 groups][4 k][2 v] i16.
//   aux (int8): key base [C][16] i32, then inverse x scale [C] f32, then key shift [C] i32.
//   tables [ceil(M/4)][C][4][16] bytes: entry k of output 4t + j, codebook c, at ((t·C + c)·4 + j)·16 + k, as
//     lutQ + 128 (uint8; padded outputs hold 128 = 0).  bias [ceil(M/4)·4] f32.  out [N][ldo] f32.
// Kernels never allocate, never trap on sizes TypeScript validated, and read or write nothing outside these buffers.
import { argmin16, madd } from './math';
import {
  CTRL, LUT, lutField, L_N, L_C, L_V, L_M, L_X, L_LDX, L_CODES, L_ENC, L_CENT, L_AUX, L_TABLE, L_SCALE, L_BIAS,
  L_OUT, L_LDO, L_EROWB, L_SROWB, L_STILES, L_ERR,
} from './layout';

/** Rows per code block and per scan tile (one byte lane each in an i8x16). */
export const LUT_ROWS: i32 = 16;
/** Outputs per scan tile (tables per codebook step). */
export const LUT_TILE_M: i32 = 4;
/** Codebooks summed in int16 before widening to int32; see the proof at scanTile. */
export const LUT_CBLOCK: i32 = 256;
/** 1 in the relaxed-SIMD build (its int8 centroid layout is in quads of bytes, the plain one in pairs of i16). */
export const LUT_RELAXED: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 0;

// ---------------------------------------------------------------- encoders

/** Lowers the descriptor's error slot to `bad` (the smallest n·C + c over all tasks wins). */
function reportBad(bad: i32): void {
  const p = <usize>(CTRL + LUT + (L_ERR << 2));
  let cur = atomic.load<i32>(p);
  while (bad < cur) {
    const prev = atomic.cmpxchg<i32>(p, cur, bad);
    if (prev == cur) break;
    cur = prev;
  }
}

/**
 * Exact f32 encoder for rows [n0, n1): d_k = Σ_v (x_v − p_kv)² (metric 0), Σ|x_v − p_kv| (1) or max_v |x_v − p_kv| (2),
 * summed in v order with one rounding per operation (no fused multiply-add in either build, so both builds and the
 * twin give the same codes); the first k of the smallest d wins. Returns the first n·C + c with no finite distance
 * (its code is 0), or -1. Vectorised over the 16 centroids: one broadcast of x_v per coordinate.
 */
@inline function encodeF32Body(n0: i32, n1: i32, x: usize, ldx: i32, C: i32, V: i32, cent: usize, codes: usize, metric: i32): i32 {
  let bad = -1;
  const rowBytes = <usize>ldx << 2;
  const vBytes = <usize>V << 2;
  for (let n = n0; n < n1; n++) {
    let xp = x + <usize>n * rowBytes;
    let pc = cent;
    let cp = codes + ((<usize>(n >> 4) * C) << 4) + <usize>(n & 15);
    for (let c = 0; c < C; c++) {
      let d0 = f32x4.splat(0);
      let d1 = d0, d2 = d0, d3 = d0;
      const xe = xp + vBytes;
      while (xp < xe) {
        const xs = v128.load32_splat(xp);
        const t0 = f32x4.sub(xs, v128.load(pc));
        const t1 = f32x4.sub(xs, v128.load(pc, 16));
        const t2 = f32x4.sub(xs, v128.load(pc, 32));
        const t3 = f32x4.sub(xs, v128.load(pc, 48));
        if (metric == 0) {
          d0 = f32x4.add(d0, f32x4.mul(t0, t0));
          d1 = f32x4.add(d1, f32x4.mul(t1, t1));
          d2 = f32x4.add(d2, f32x4.mul(t2, t2));
          d3 = f32x4.add(d3, f32x4.mul(t3, t3));
        } else if (metric == 1) {
          d0 = f32x4.add(d0, f32x4.abs(t0));
          d1 = f32x4.add(d1, f32x4.abs(t1));
          d2 = f32x4.add(d2, f32x4.abs(t2));
          d3 = f32x4.add(d3, f32x4.abs(t3));
        } else {
          // f32x4.max propagates NaN (pmax would drop it), as the twin's Math.max does.
          d0 = f32x4.max(d0, f32x4.abs(t0));
          d1 = f32x4.max(d1, f32x4.abs(t1));
          d2 = f32x4.max(d2, f32x4.abs(t2));
          d3 = f32x4.max(d3, f32x4.abs(t3));
        }
        xp += 4;
        pc += 64;
      }
      let k = argmin16(d0, d1, d2, d3);
      if (k < 0) {
        if (bad < 0) bad = n * C + c;
        k = 0;
      }
      store<u8>(cp, <u8>k);
      cp += 16;
    }
  }
  return bad;
}

function encodeF32Rows(n0: i32, n1: i32, x: usize, ldx: i32, C: i32, V: i32, cent: usize, codes: usize, metric: i32): i32 {
  if (metric == 0) return encodeF32Body(n0, n1, x, ldx, C, V, cent, codes, 0);
  if (metric == 1) return encodeF32Body(n0, n1, x, ldx, C, V, cent, codes, 1);
  return encodeF32Body(n0, n1, x, ldx, C, V, cent, codes, 2);
}

/** The n floats at p (n <= 0: none, n >= 4: four), zero-filled: never reads past p + 4·min(n, 4). */
/**
 * acc + Σ of byte quads xs·u per i32 lane (u in [0, 127]). Not i32x4.relaxed_dot_i8x16_i7x16_add_s: Node 20's V8
 * (11.3) computes that one wrongly in its baseline compiler (Liftoff) before tier-up, while the i16x8 form is right in
 * both tiers. On x64 without VNNI both are the same three instructions (pmaddubsw, pmaddwd, paddd).
 */
@inline function rdotAdd(xs: v128, u: v128, acc: v128): v128 {
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(xs, u)));
}

@inline function loadPart(p: usize, n: i32): v128 {
  if (n >= 4) return v128.load(p);
  if (n <= 0) return f32x4.splat(0);
  if (n == 1) return v128.load32_zero(p);
  const v = v128.load64_zero(p);
  return n == 2 ? v : f32x4.replace_lane(v, 2, load<f32>(p, 8));
}

/** 1.5·2^23: adding it rounds an f32 of magnitude < 2^22 to an integer, half to even, in the low mantissa bits. */
const MAGIC: f32 = 12582912.0;

/**
 * round(y) per lane as i32, half to even, exact for |y| < 2^22: y + 1.5·2^23 holds the integer in its low mantissa
 * bits (two ops; nearest + trunc_sat is a long sequence in V8). Any other y (huge, ±Inf, NaN) gives a value of
 * magnitude >= 2^22, which the i16 narrowing saturates to 32767 or −32768: `flag` catches those rows.
 */
@inline function quantY(y: v128): v128 {
  return i32x4.sub(f32x4.add(y, f32x4.splat(MAGIC)), i32x4.splat(0x4b400000));
}

/** Lanes of h (i16) at ±32767 or −32768 (|x·inv| >= 32767 or not finite), or-folded into flag (as max_u of |h|). */
@inline function flag(acc: v128, h: v128): v128 {
  return i16x8.max_u(acc, i16x8.abs(h));
}

/** Broadcast of i32 lane l (a constant) of v: a byte quad (relaxed) or an i16 pair (plain) of x. */
@inline function lane(v: v128, l: i32): v128 {
  if (l == 0) return v128.shuffle<i32>(v, v, 0, 0, 0, 0);
  if (l == 1) return v128.shuffle<i32>(v, v, 1, 1, 1, 1);
  if (l == 2) return v128.shuffle<i32>(v, v, 2, 2, 2, 2);
  return v128.shuffle<i32>(v, v, 3, 3, 3, 3);
}

/**
 * Dot products of x's quad (relaxed: 4 bytes) or pair (plain: 2 i16) `xs` with one group of 4 centroids' u at p, as
 * i32x4. Relaxed: i16x8.relaxed_dot_i8x16_i7x16_s (u is the 7-bit operand, so the result is deterministic) then a
 * pairwise add. Not i32x4.relaxed_dot_i8x16_i7x16_add_s: Node 20's V8 (11.3) computes that one wrongly in its
 * baseline tier (Liftoff) before tier-up; without VNNI both are the same pmaddubsw + pmaddwd on x64.
 */
@inline function dotGroup(xs: v128, p: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(xs, v128.load(p)));
  return i32x4.dot_i16x8_s(xs, v128.load(p));
}

/** Dot products of x's i16 pair `xs` with one group of 4 centroids' i16 pairs at p (both builds), as i32x4. */
@inline function dotPair(xs: v128, p: usize): v128 {
  return i32x4.dot_i16x8_s(xs, v128.load(p));
}

/**
 * int8 L2 encoder for rows [n0, n1). Per codebook c: x is quantized with the codebook's scale sx (xq = round(x/sx)
 * clamped to [−128, 127]), centroids are u = cq + 64 with cq = round(p/sc) in [−63, 63] and sx = sc·2^s, so
 *   ‖p_k‖² − 2x·p_k ≈ sc²·(‖cq_k‖² − 2^(s+1)·xq·cq_k)
 * and the integer key_k = base_k − (Σ_v xq_v·u_kv << shift) with base_k = 16·2^a·‖cq_k‖² + k orders the centroids
 * the same way (Σ xq·u = xq·cq + 64·Σxq: the second term is the same for every k). The low 4 bits of the key are k, so
 * one signed min gives the first k of the smallest distance. TypeScript checks that keys fit in i32.
 * Both builds compute the same integers (relaxed: byte quads, plain: i32x4.dot_i16x8_s on i16 pairs), so they give
 * the same codes. x is read in chunks of 16 coordinates; `V` is a literal for the common sizes, which folds every
 * size test below (nv is then the constant V). Returns the first n·C + c whose x·inv is NaN or infinite (its code
 * is still written), or -1. `wide` (a literal): the wide data of encodeWideRef instead, on the i16-pair path in both
 * builds: x clamped to [−qmax − 1, qmax] (qmax per codebook in AUX's shift slot), w = −16·2^s·cq signed,
 * key_k = base_k + Σ_v xq_v·w_kv.
 */
@inline function encodeInt8Body(n0: i32, n1: i32, x: usize, ldx: i32, C: i32, cent: usize, aux: usize, codes: usize, V: i32, wide: bool): i32 {
  let bad = -1;
  const rowBytes = <usize>ldx << 2;
  const quads = ASC_FEATURE_RELAXED_SIMD && !wide;
  const cStep = <usize>(quads ? (V + 3) >> 2 : (V + 1) >> 1) << 6; // quads or pairs × 64 bytes
  const invs = aux + (<usize>C << 6);
  const shs = invs + (<usize>C << 2);
  const zero = i32x4.splat(0);
  for (let n = n0; n < n1; n++) {
    const xr = x + <usize>n * rowBytes;
    let xp = xr;
    let cp = codes + ((<usize>(n >> 4) * C) << 4) + <usize>(n & 15);
    let check = zero;
    for (let c = 0; c < C; c++) {
      const inv = v128.load32_splat(invs + (<usize>c << 2));
      let up = cent + <usize>c * cStep;
      let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
      for (let s = 0; s < V; s += 16) {
        const nv = V <= 16 ? V : V - s;
        const p = xp + (<usize>s << 2);
        const y0 = f32x4.mul(loadPart(p, nv), inv);
        const y1 = nv > 4 ? f32x4.mul(loadPart(p + 16, nv - 4), inv) : zero;
        const y2 = nv > 8 ? f32x4.mul(loadPart(p + 32, nv - 8), inv) : zero;
        const y3 = nv > 12 ? f32x4.mul(loadPart(p + 48, nv - 12), inv) : zero;
        const h0 = i16x8.narrow_i32x4_s(quantY(y0), nv > 4 ? quantY(y1) : zero); // x_s..x_s+7 as i16
        const h1 = nv > 8 ? i16x8.narrow_i32x4_s(quantY(y2), nv > 12 ? quantY(y3) : zero) : zero; // x_s+8..x_s+15
        check = flag(check, h0);
        if (nv > 8) check = flag(check, h1);
        // Saturating to [−128, 127] (wide: clamping to ±qmax) = clamping before rounding (the bounds are
        // integers), as the twins do.
        const b = wide ? zero : i8x16.narrow_i16x8_s(h0, h1);
        // Unrolled by hand (Binaryen keeps loops): one broadcast of x per quad / pair, four groups of 4 centroids each.
        if (quads) {
          const xs0 = lane(b, 0);
          a0 = i32x4.add(a0, dotGroup(xs0, up + 0));
          a1 = i32x4.add(a1, dotGroup(xs0, up + 16));
          a2 = i32x4.add(a2, dotGroup(xs0, up + 32));
          a3 = i32x4.add(a3, dotGroup(xs0, up + 48));
          if (nv > 4) {
            const xs1 = lane(b, 1);
            a0 = i32x4.add(a0, dotGroup(xs1, up + 64));
            a1 = i32x4.add(a1, dotGroup(xs1, up + 80));
            a2 = i32x4.add(a2, dotGroup(xs1, up + 96));
            a3 = i32x4.add(a3, dotGroup(xs1, up + 112));
          }
          if (nv > 8) {
            const xs2 = lane(b, 2);
            a0 = i32x4.add(a0, dotGroup(xs2, up + 128));
            a1 = i32x4.add(a1, dotGroup(xs2, up + 144));
            a2 = i32x4.add(a2, dotGroup(xs2, up + 160));
            a3 = i32x4.add(a3, dotGroup(xs2, up + 176));
          }
          if (nv > 12) {
            const xs3 = lane(b, 3);
            a0 = i32x4.add(a0, dotGroup(xs3, up + 192));
            a1 = i32x4.add(a1, dotGroup(xs3, up + 208));
            a2 = i32x4.add(a2, dotGroup(xs3, up + 224));
            a3 = i32x4.add(a3, dotGroup(xs3, up + 240));
          }
          up += <usize>min(4, (nv + 3) >> 2) << 6;
        } else {
          const qm = wide ? load<i32>(shs + (<usize>c << 2)) : 0; // the wide encoder's x clamp (AUX's shift slot)
          const wlo = i16x8.splat(<i16>(-qm - 1));
          const whi = i16x8.splat(<i16>qm);
          const e0 = wide ? i16x8.min_s(i16x8.max_s(h0, wlo), whi) : i16x8.extend_low_i8x16_s(b);
          const e1 = nv > 8 ? (wide ? i16x8.min_s(i16x8.max_s(h1, wlo), whi) : i16x8.extend_high_i8x16_s(b)) : zero;
          const xs0 = lane(e0, 0);
          a0 = i32x4.add(a0, dotPair(xs0, up + 0));
          a1 = i32x4.add(a1, dotPair(xs0, up + 16));
          a2 = i32x4.add(a2, dotPair(xs0, up + 32));
          a3 = i32x4.add(a3, dotPair(xs0, up + 48));
          if (nv > 2) {
            const xs1 = lane(e0, 1);
            a0 = i32x4.add(a0, dotPair(xs1, up + 64));
            a1 = i32x4.add(a1, dotPair(xs1, up + 80));
            a2 = i32x4.add(a2, dotPair(xs1, up + 96));
            a3 = i32x4.add(a3, dotPair(xs1, up + 112));
          }
          if (nv > 4) {
            const xs2 = lane(e0, 2);
            a0 = i32x4.add(a0, dotPair(xs2, up + 128));
            a1 = i32x4.add(a1, dotPair(xs2, up + 144));
            a2 = i32x4.add(a2, dotPair(xs2, up + 160));
            a3 = i32x4.add(a3, dotPair(xs2, up + 176));
          }
          if (nv > 6) {
            const xs3 = lane(e0, 3);
            a0 = i32x4.add(a0, dotPair(xs3, up + 192));
            a1 = i32x4.add(a1, dotPair(xs3, up + 208));
            a2 = i32x4.add(a2, dotPair(xs3, up + 224));
            a3 = i32x4.add(a3, dotPair(xs3, up + 240));
          }
          if (nv > 8) {
            const xs4 = lane(e1, 0);
            a0 = i32x4.add(a0, dotPair(xs4, up + 256));
            a1 = i32x4.add(a1, dotPair(xs4, up + 272));
            a2 = i32x4.add(a2, dotPair(xs4, up + 288));
            a3 = i32x4.add(a3, dotPair(xs4, up + 304));
          }
          if (nv > 10) {
            const xs5 = lane(e1, 1);
            a0 = i32x4.add(a0, dotPair(xs5, up + 320));
            a1 = i32x4.add(a1, dotPair(xs5, up + 336));
            a2 = i32x4.add(a2, dotPair(xs5, up + 352));
            a3 = i32x4.add(a3, dotPair(xs5, up + 368));
          }
          if (nv > 12) {
            const xs6 = lane(e1, 2);
            a0 = i32x4.add(a0, dotPair(xs6, up + 384));
            a1 = i32x4.add(a1, dotPair(xs6, up + 400));
            a2 = i32x4.add(a2, dotPair(xs6, up + 416));
            a3 = i32x4.add(a3, dotPair(xs6, up + 432));
          }
          if (nv > 14) {
            const xs7 = lane(e1, 3);
            a0 = i32x4.add(a0, dotPair(xs7, up + 448));
            a1 = i32x4.add(a1, dotPair(xs7, up + 464));
            a2 = i32x4.add(a2, dotPair(xs7, up + 480));
            a3 = i32x4.add(a3, dotPair(xs7, up + 496));
          }
          up += <usize>min(8, (nv + 1) >> 1) << 6;
        }
      }
      const base = aux + (<usize>c << 6);
      let k0: v128, k1: v128, k2: v128, k3: v128;
      if (wide) {
        // w carries the sign and scale: key = base + Σ x·w.
        k0 = i32x4.add(v128.load(base), a0);
        k1 = i32x4.add(v128.load(base, 16), a1);
        k2 = i32x4.add(v128.load(base, 32), a2);
        k3 = i32x4.add(v128.load(base, 48), a3);
      } else {
        const sh = load<i32>(shs + (<usize>c << 2));
        k0 = i32x4.sub(v128.load(base), i32x4.shl(a0, sh));
        k1 = i32x4.sub(v128.load(base, 16), i32x4.shl(a1, sh));
        k2 = i32x4.sub(v128.load(base, 32), i32x4.shl(a2, sh));
        k3 = i32x4.sub(v128.load(base, 48), i32x4.shl(a3, sh));
      }
      let m = i32x4.min_s(i32x4.min_s(k0, k1), i32x4.min_s(k2, k3));
      m = i32x4.min_s(m, v128.shuffle<i32>(m, m, 2, 3, 0, 1));
      m = i32x4.min_s(m, v128.shuffle<i32>(m, m, 1, 0, 3, 2));
      store<u8>(cp, <u8>(i32x4.extract_lane(m, 0) & 15));
      cp += 16;
      xp += <usize>V << 2;
    }
    if (v128.any_true(i16x8.ge_u(check, i16x8.splat(32767)))) {
      const b2 = encodeInt8RowExact(xr, n, C, V, cent, aux, codes, wide);
      if (bad < 0) bad = b2;
    }
  }
  return bad;
}

/**
 * Rare path for a row with a huge or non-finite x·inv: its codes again, one coordinate at a time, clamping before
 * rounding (as the twin). Returns the first n·C + c with a non-finite x·inv, or -1.
 */
function encodeInt8RowExact(xr: usize, n: i32, C: i32, V: i32, cent: usize, aux: usize, codes: usize, wide: bool): i32 {
  const relaxed = ASC_FEATURE_RELAXED_SIMD && !wide;
  const per = relaxed ? 4 : 2;
  const groups = (V + per - 1) / per;
  const invs = aux + (<usize>C << 6);
  const shs = invs + (<usize>C << 2);
  let bad = -1;
  for (let c = 0; c < C; c++) {
    const inv = load<f32>(invs + (<usize>c << 2));
    const sh = load<i32>(shs + (<usize>c << 2));
    const qmax: f32 = wide ? <f32>sh : 127; // the wide encoder keeps its x clamp in the shift slot
    let best = i32.MAX_VALUE;
    for (let v = 0; v < V; v++) {
      const y = load<f32>(xr + (<usize>(c * V + v) << 2)) * inv;
      if (!(y - y == 0) && bad < 0) bad = n * C + c;
    }
    for (let k = 0; k < 16; k++) {
      let dot = 0;
      for (let v = 0; v < V; v++) {
        let y = load<f32>(xr + (<usize>(c * V + v) << 2)) * inv;
        y = y > qmax ? qmax : y < -qmax - 1 ? -qmax - 1 : y; // NaN stays NaN
        const q = y != y ? 0 : <i32>((y + MAGIC) - MAGIC);
        const at = <usize>((((c * groups + v / per) * 4 + (k >> 2)) * 4 + (k & 3)) * per + v % per);
        dot += q * (relaxed ? <i32>load<u8>(cent + at) : <i32>load<i16>(cent + (at << 1)));
      }
      const b = load<i32>(aux + (<usize>(c * 16 + k) << 2));
      const key = wide ? b + dot : b - (dot << sh);
      if (key < best) best = key;
    }
    store<u8>(codes + ((<usize>(n >> 4) * C + c) << 4) + <usize>(n & 15), <u8>(best & 15));
  }
  return bad;
}

function encodeInt8Rows(n0: i32, n1: i32, x: usize, ldx: i32, C: i32, V: i32, cent: usize, aux: usize, codes: usize): i32 {
  if (V == 16) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 16, false);
  if (V == 9) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 9, false);
  if (V == 4) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 4, false);
  if (V == 8) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 8, false);
  return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, V, false);
}

/** The wide encoder (ENC 4): the plain path in both builds on i16 pairs, x clamped to ±qmax, w signed (see encodeWideRef). */
function encodeWideRows(n0: i32, n1: i32, x: usize, ldx: i32, C: i32, V: i32, cent: usize, aux: usize, codes: usize): i32 {
  if (V == 16) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 16, true);
  if (V == 9) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 9, true);
  if (V == 4) return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, 4, true);
  return encodeInt8Body(n0, n1, x, ldx, C, cent, aux, codes, V, true);
}

/** Task t of the ENCODE phase: row blocks [t·EROWB, (t+1)·EROWB) of the descriptor's rows. */
export function lutEncodeTask(t: i32): void {
  const N = lutField(L_N);
  const per = lutField(L_EROWB) << 4;
  const n0 = t * per;
  const n1 = min(N, n0 + per);
  if (n0 >= n1) return;
  const x = <usize>lutField(L_X);
  const ldx = lutField(L_LDX);
  const C = lutField(L_C);
  const V = lutField(L_V);
  const enc = lutField(L_ENC);
  const codes = <usize>lutField(L_CODES);
  const cent = <usize>lutField(L_CENT);
  const aux = <usize>lutField(L_AUX);
  const bad = enc == 3
    ? encodeInt8Rows(n0, n1, x, ldx, C, V, cent, aux, codes)
    : enc == 4
      ? encodeWideRows(n0, n1, x, ldx, C, V, cent, aux, codes)
      : encodeF32Rows(n0, n1, x, ldx, C, V, cent, codes, enc);
  if (bad >= 0) reportBad(bad);
}

// ---------------------------------------------------------------- scan

@inline function swz(t: v128, i: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(t, i); // codes are < 16, so both give the same bytes
  return i8x16.swizzle(t, i);
}

/** Lanes [0, cols) of a row's 4 outputs at p (cols in 1..4), as i32 bits, zero-filled. */
@inline function loadCols(p: usize, cols: i32): v128 {
  if (cols == 4) return v128.load(p);
  if (cols == 1) return v128.load32_zero(p);
  const v = v128.load64_zero(p);
  return cols == 2 ? v : i32x4.replace_lane(v, 2, load<i32>(p, 8));
}

@inline function storeCols(p: usize, v: v128, cols: i32): void {
  if (cols == 4) {
    v128.store(p, v);
  } else if (cols == 1) {
    v128.store32_lane(p, v, 0);
  } else {
    v128.store64_lane(p, v, 0);
    if (cols == 3) v128.store32_lane(p, v, 2, 8);
  }
}

/**
 * One row's 4 outputs: acc (exact i32 sums of this codebook block) plus the partial sums of earlier blocks (kept in
 * `out` as i32 bits) unless `first`; on the `last` block out = scale·acc + bias in f32.
 */
@inline function finishRow(acc: v128, r: i32, rows: i32, out: usize, ldo: usize, cols: i32, first: bool, last: bool, scale: v128, bias: v128): void {
  if (r >= rows) return;
  const p = out + <usize>r * ldo;
  let v = acc;
  if (!first) v = i32x4.add(v, loadCols(p, cols));
  if (last) v = madd(f32x4.convert_i32x4_s(v), scale, bias);
  storeCols(p, v, cols);
}

/** v0..v3: outputs 0..3 of rows r, r+2, r+4, r+6 (i32 lanes) → transposed to one vector per row and finished. */
@inline function finishRows(v0: v128, v1: v128, v2: v128, v3: v128, r: i32, rows: i32, out: usize, ldo: usize, cols: i32, first: bool, last: bool, scale: v128, bias: v128): void {
  const t0 = v128.shuffle<i32>(v0, v1, 0, 4, 1, 5);
  const t1 = v128.shuffle<i32>(v2, v3, 0, 4, 1, 5);
  const t2 = v128.shuffle<i32>(v0, v1, 2, 6, 3, 7);
  const t3 = v128.shuffle<i32>(v2, v3, 2, 6, 3, 7);
  finishRow(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), r, rows, out, ldo, cols, first, last, scale, bias);
  finishRow(v128.shuffle<i32>(t0, t1, 2, 3, 6, 7), r + 2, rows, out, ldo, cols, first, last, scale, bias);
  finishRow(v128.shuffle<i32>(t2, t3, 0, 1, 4, 5), r + 4, rows, out, ldo, cols, first, last, scale, bias);
  finishRow(v128.shuffle<i32>(t2, t3, 2, 3, 6, 7), r + 6, rows, out, ldo, cols, first, last, scale, bias);
}

/**
 * One tile of 16 rows × 4 outputs over all C codebooks: cp = the row block's codes, tp = the tile's tables.
 *
 * Exact int16 accumulation of uint8 entries u = t + 128 in [1, 255]: a swizzle gives one byte per row; seen as
 * i16x8, lane i is u(row 2i) + 256·u(row 2i+1). Per output two accumulators: A += lane (mod 2^16) and
 * H += lane >> 8 = u(row 2i+1). After cb codebooks, H = Σ u(odd row) <= 255·cb and
 * A − 256·H ≡ Σ u(even row) (mod 2^16), <= 255·cb; both are exact while 255·cb <= 65535, i.e. cb <= 257.
 * Subtracting 128·cb leaves the signed sums Σ t in [−127·cb, 127·cb] ⊂ [−32512, 32512] for cb <= 256, which
 * i16 holds, so the i16 wrap-around subtraction is exact too. LUT_CBLOCK = 256 codebooks per block; blocks are
 * widened to i32 and added (through `out`, as i32 bits) in block order, so the totals are exact integers.
 * Four vector ops per 16 lookups (swizzle, add, shift, add) against six with sign extension.
 *
 * Tile choice, measured on the 2-core Xeon (scan alone, min of 60, loaded machine): 16 rows × 4 outputs keeps 8
 * accumulators, the codes vector and a table in registers: 0.39 / 0.33 ms (plain / relaxed) at N=256, C=48, M=768,
 * about 0.66 / 0.55 ns per 16-lookup swizzle. A 16 × 8 tile (two tables per codes load, 16 accumulators, which V8
 * spills) was no faster: 0.40 / 0.34 ms there, 1.75 vs 1.65 ms at M=3072 (plain), within noise at C=512.
 */
function scanTile(cp: usize, tp: usize, C: i32, out: usize, ldo: usize, rows: i32, cols: i32, scale: v128, bias: v128): void {
  for (let c0 = 0; c0 < C; c0 += LUT_CBLOCK) {
    const cb = min(LUT_CBLOCK, C - c0);
    let a0 = i16x8.splat(0);
    let a1 = a0, a2 = a0, a3 = a0, h0 = a0, h1 = a0, h2 = a0, h3 = a0;
    let ip = cp + (<usize>c0 << 4);
    let t = tp + (<usize>c0 << 6);
    const end = ip + (<usize>cb << 4);
    while (ip < end) {
      const idx = v128.load(ip);
      let s = swz(v128.load(t), idx);
      a0 = i16x8.add(a0, s);
      h0 = i16x8.add(h0, i16x8.shr_u(s, 8));
      s = swz(v128.load(t, 16), idx);
      a1 = i16x8.add(a1, s);
      h1 = i16x8.add(h1, i16x8.shr_u(s, 8));
      s = swz(v128.load(t, 32), idx);
      a2 = i16x8.add(a2, s);
      h2 = i16x8.add(h2, i16x8.shr_u(s, 8));
      s = swz(v128.load(t, 48), idx);
      a3 = i16x8.add(a3, s);
      h3 = i16x8.add(h3, i16x8.shr_u(s, 8));
      ip += 16;
      t += 64;
    }
    const off = i16x8.splat(<i16>(cb << 7));
    // Even rows (0, 2, .., 14) and odd rows (1, 3, .., 15) of each output, as exact signed i16 sums.
    const e0 = i16x8.sub(i16x8.sub(a0, i16x8.shl(h0, 8)), off);
    const e1 = i16x8.sub(i16x8.sub(a1, i16x8.shl(h1, 8)), off);
    const e2 = i16x8.sub(i16x8.sub(a2, i16x8.shl(h2, 8)), off);
    const e3 = i16x8.sub(i16x8.sub(a3, i16x8.shl(h3, 8)), off);
    const o0 = i16x8.sub(h0, off);
    const o1 = i16x8.sub(h1, off);
    const o2 = i16x8.sub(h2, off);
    const o3 = i16x8.sub(h3, off);
    const first = c0 == 0;
    const last = c0 + cb >= C;
    finishRows(i32x4.extend_low_i16x8_s(e0), i32x4.extend_low_i16x8_s(e1), i32x4.extend_low_i16x8_s(e2), i32x4.extend_low_i16x8_s(e3), 0, rows, out, ldo, cols, first, last, scale, bias);
    finishRows(i32x4.extend_high_i16x8_s(e0), i32x4.extend_high_i16x8_s(e1), i32x4.extend_high_i16x8_s(e2), i32x4.extend_high_i16x8_s(e3), 8, rows, out, ldo, cols, first, last, scale, bias);
    finishRows(i32x4.extend_low_i16x8_s(o0), i32x4.extend_low_i16x8_s(o1), i32x4.extend_low_i16x8_s(o2), i32x4.extend_low_i16x8_s(o3), 1, rows, out, ldo, cols, first, last, scale, bias);
    finishRows(i32x4.extend_high_i16x8_s(o0), i32x4.extend_high_i16x8_s(o1), i32x4.extend_high_i16x8_s(o2), i32x4.extend_high_i16x8_s(o3), 9, rows, out, ldo, cols, first, last, scale, bias);
  }
}

/**
 * Task t of the SCAN phase: row blocks × 4-output tiles, SROWB × STILES of them, tiles outer so one tile's
 * tables (C·64 bytes) stay in L1 while the row blocks' codes stream past. Every output is one task's, summed in
 * codebook order, so results do not depend on the thread count.
 */
export function lutScanTask(t: i32): void {
  const N = lutField(L_N);
  const C = lutField(L_C);
  const M = lutField(L_M);
  const srowb = lutField(L_SROWB);
  const stiles = lutField(L_STILES);
  const NB = (N + 15) >> 4;
  const MT = (M + 3) >> 2;
  const nrt = (NB + srowb - 1) / srowb;
  const rc = t % nrt;
  const mc = t / nrt;
  const rb0 = rc * srowb;
  const rb1 = min(NB, rb0 + srowb);
  const mt0 = mc * stiles;
  const mt1 = min(MT, mt0 + stiles);
  const codes = <usize>lutField(L_CODES);
  const table = <usize>lutField(L_TABLE);
  const biasp = <usize>lutField(L_BIAS);
  const out = <usize>lutField(L_OUT);
  const ldo = <usize>lutField(L_LDO) << 2;
  const scale = f32x4.splat(reinterpret<f32>(lutField(L_SCALE)));
  const cStep = <usize>C << 4;
  for (let mt = mt0; mt < mt1; mt++) {
    const tp = table + ((<usize>mt * C) << 6);
    const bias = biasp ? v128.load(biasp + (<usize>mt << 4)) : f32x4.splat(0);
    const cols = min(4, M - mt * 4);
    const o = out + (<usize>mt << 4);
    for (let rb = rb0; rb < rb1; rb++) {
      scanTile(codes + <usize>rb * cStep, tp, C, o + ((<usize>rb << 4) * ldo), ldo, min(16, N - (rb << 4)), cols, scale, bias);
    }
  }
}
