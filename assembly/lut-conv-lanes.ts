// The lanes conv encoder (runtime MODE 0): 8 output pixels of a 3×3 LUT conv in SIMD lanes, integer keys from i16
// padded planes (the int8 data, or the wide data), and the certified f32 encoder built on it (near-ties re-encoded
// with the f32 encoder's own operations). Layouts: assembly/lut-conv.ts; TypeScript twins: encodeInt8Ref,
// encodeWideRef and encodeCertifiedRef in src/runtime/lut-kernels-ref.ts.
import { argmin16 } from './math';
import {
  CTRL, RT, rtField, lutField, R_C, R_H, R_W, R_SH, R_SW, R_PH, R_PW, R_DH, R_OH, R_OW, R_X, R_XP, R_HP, R_WP, R_BPI,
  R_TAPS, R_QCENT, R_QMAX, R_FCENT, R_NCHECK, R_FLAG, L_C, L_CODES, L_AUX,
} from './layout';

/** x of 4 pixels (lanes) at p + a0..a3: 4 bytes each (an i16 pair of one kernel row). */
@inline function gather4(p: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  let v = v128.load32_zero(p + a0);
  v = v128.load32_lane(p + a1, v, 1);
  v = v128.load32_lane(p + a2, v, 2);
  return v128.load32_lane(p + a3, v, 3);
}

/** i16 pairs (x at p + a_i, x at q + a_i) of 4 pixels: taps of two kernel rows. */
@inline function gather4x2(p: usize, q: usize, a0: usize, a1: usize, a2: usize, a3: usize): v128 {
  let v = v128.load16_lane(p + a0, i32x4.splat(0), 0);
  v = v128.load16_lane(q + a0, v, 1);
  v = v128.load16_lane(p + a1, v, 2);
  v = v128.load16_lane(q + a1, v, 3);
  v = v128.load16_lane(p + a2, v, 4);
  v = v128.load16_lane(q + a2, v, 5);
  v = v128.load16_lane(p + a3, v, 6);
  return v128.load16_lane(q + a3, v, 7);
}

/** Byte offset of pixel p (clamped to pixel 0 past the image: those codes are zeroed) from its image's first plane. */
@inline function pixOff(p: i32, P: i32, OW: i32, SH: i32, SW: i32, WP: i32): usize {
  if (p >= P) return 0;
  const oy = p / OW;
  return (<usize>(oy * SH) * WP + <usize>((p - oy * OW) * SW)) << 1;
}

/**
 * The int8 encoder of 3×3 kernels with 8 pixels in lanes (MODE 0), in both builds on i16 planes. QCENT holds, per
 * (channel, k), 5 pairs of i16 w: taps (r0k0, r0k1), (r1k0, r1k1), (r2k0, r2k1), (r0k2, r1k2), (r2k2, 0) of the
 * kernel rows r at TAPS[0..2]; AUX the bases. key_k = base_k + Σ_pairs dot(x, w) exactly in i32, for either data:
 * the int8 data (w = −u·2^shift, |w| <= 127·256; keys as encodeInt8Conv) or the wide data (x clamped to ±QMAX,
 * w = −16·2^s·cq; keys as encodeWideRef in src/runtime/lut-kernels-ref.ts, bounds checked by wideEncoderParams).
 * A running signed min over k keeps the first best k in its low 4 bits. Any stride; dilation along H (TAPS).
 * `cert` (a literal): the certified f32 encoder (FCENT != 0, wide data): the second smallest key is kept too, and a
 * pixel whose two best keys are not further apart than ALPHA·Σ|xq| + BETA (AUX, see certifyParams in
 * src/runtime/lut-kernels-ref.ts), or whose x may have been clamped, is re-encoded by recheckF32, so every code is the
 * exact f32 encoder's. The number of re-encoded sub-vectors is added to NCHECK.
 */
@inline function encodeInt8LanesBody(blk0: i32, blk1: i32, cert: bool): void {
  const C = lutField(L_C);
  const aux = <usize>lutField(L_AUX);
  const codes = <usize>lutField(L_CODES);
  const qcent = <usize>rtField(R_QCENT);
  const OW = rtField(R_OW);
  const P = rtField(R_OH) * OW;
  const BPI = rtField(R_BPI);
  const SH = rtField(R_SH);
  const SW = rtField(R_SW);
  const WP = rtField(R_WP);
  const plane = (<usize>rtField(R_HP) * WP) << 1;
  const xp = <usize>rtField(R_XP);
  const taps = <usize>rtField(R_TAPS);
  const t0 = <usize>load<i32>(taps);
  const t1 = <usize>load<i32>(taps, 4);
  const t2 = <usize>load<i32>(taps, 8);
  const lo4 = i32x4.splat(15);
  const big = i32x4.splat(i32.MAX_VALUE);
  const alphas = aux + (<usize>C << 6) + (<usize>C << 2);
  const betas = alphas + (<usize>C << 2);
  const ones = i16x8.splat(1);
  const oneLow = v128(1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0); // i16 (1, 0) per pixel: the 5th pair's tap only
  const edge = i16x8.splat(<i16>(rtField(R_QMAX) - 1)); // |xq| > qmax − 1: maybe clamped
  let nchk = 0;
  for (let blk = blk0; blk < blk1; blk++) {
    const b = blk / BPI;
    const pb = (blk - b * BPI) << 4;
    const ximg = xp + <usize>b * C * plane;
    for (let half = 0; half < 16; half += 8) {
      const q = pb + half;
      const a0 = pixOff(q, P, OW, SH, SW, WP);
      const a1 = pixOff(q + 1, P, OW, SH, SW, WP);
      const a2 = pixOff(q + 2, P, OW, SH, SW, WP);
      const a3 = pixOff(q + 3, P, OW, SH, SW, WP);
      const a4 = pixOff(q + 4, P, OW, SH, SW, WP);
      const a5 = pixOff(q + 5, P, OW, SH, SW, WP);
      const a6 = pixOff(q + 6, P, OW, SH, SW, WP);
      const a7 = pixOff(q + 7, P, OW, SH, SW, WP);
      // Lanes 0-3 (4-7) are one run of a row when their pixels are consecutive in one row (stride 1, inside the image).
      const run0 = SW == 1 && q + 3 < P && (q % OW) + 3 < OW;
      const run1 = SW == 1 && q + 7 < P && ((q + 4) % OW) + 3 < OW;
      // Bytes of the lanes past the image: 0 (their code is 0).
      const nv = P - q;
      const valid = nv >= 8 ? i8x16.splat(-1) : i8x16.gt_s(i8x16.splat(<i8>max(nv, 0)), v128(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
      let cp = codes + ((<usize>blk * C) << 4) + <usize>half;
      let xb = ximg;
      let w = qcent;
      let bp = aux;
      for (let c = 0; c < C; c++) {
        const r0 = xb + t0;
        const r1 = xb + t1;
        const r2 = xb + t2;
        let x00: v128, x10: v128, x20: v128, x30: v128, x40: v128;
        let x01: v128, x11: v128, x21: v128, x31: v128, x41: v128;
        if (run0) {
          // 4 consecutive pixels of one row: i16 x0..x7 of each kernel row, then the pairs by shuffles.
          const l0 = v128.load(r0 + a0);
          const l1 = v128.load(r1 + a0);
          const l2 = v128.load(r2 + a0);
          x00 = i16x8.shuffle(l0, l0, 0, 1, 1, 2, 2, 3, 3, 4);
          x10 = i16x8.shuffle(l1, l1, 0, 1, 1, 2, 2, 3, 3, 4);
          x20 = i16x8.shuffle(l2, l2, 0, 1, 1, 2, 2, 3, 3, 4);
          x30 = i16x8.shuffle(l0, l1, 2, 10, 3, 11, 4, 12, 5, 13);
          x40 = i16x8.shuffle(l2, l2, 2, 3, 3, 4, 4, 5, 5, 6);
        } else {
          x00 = gather4(r0, a0, a1, a2, a3);
          x10 = gather4(r1, a0, a1, a2, a3);
          x20 = gather4(r2, a0, a1, a2, a3);
          x30 = gather4x2(r0 + 4, r1 + 4, a0, a1, a2, a3);
          x40 = gather4(r2 + 4, a0, a1, a2, a3);
        }
        if (run1) {
          const l0 = v128.load(r0 + a4);
          const l1 = v128.load(r1 + a4);
          const l2 = v128.load(r2 + a4);
          x01 = i16x8.shuffle(l0, l0, 0, 1, 1, 2, 2, 3, 3, 4);
          x11 = i16x8.shuffle(l1, l1, 0, 1, 1, 2, 2, 3, 3, 4);
          x21 = i16x8.shuffle(l2, l2, 0, 1, 1, 2, 2, 3, 3, 4);
          x31 = i16x8.shuffle(l0, l1, 2, 10, 3, 11, 4, 12, 5, 13);
          x41 = i16x8.shuffle(l2, l2, 2, 3, 3, 4, 4, 5, 5, 6);
        } else {
          x01 = gather4(r0, a4, a5, a6, a7);
          x11 = gather4(r1, a4, a5, a6, a7);
          x21 = gather4(r2, a4, a5, a6, a7);
          x31 = gather4x2(r0 + 4, r1 + 4, a4, a5, a6, a7);
          x41 = gather4(r2 + 4, a4, a5, a6, a7);
        }
        let m0 = big, m1 = big;
        let s0 = big, s1 = big; // second smallest keys (cert)
        const bEnd = bp + 64;
        // 4 centroids per trip (immediate offsets).
        while (bp < bEnd) {
          let bk = v128.load32_splat(bp);
          let v = v128.load32_splat(w);
          let e0 = i32x4.add(bk, i32x4.dot_i16x8_s(x00, v));
          let e1 = i32x4.add(bk, i32x4.dot_i16x8_s(x01, v));
          v = v128.load32_splat(w, 4);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x10, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x11, v));
          v = v128.load32_splat(w, 8);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x20, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x21, v));
          v = v128.load32_splat(w, 12);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x30, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x31, v));
          v = v128.load32_splat(w, 16);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x40, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x41, v));
          if (cert) {
            s0 = i32x4.min_s(s0, i32x4.max_s(m0, e0));
            s1 = i32x4.min_s(s1, i32x4.max_s(m1, e1));
          }
          m0 = i32x4.min_s(m0, e0);
          m1 = i32x4.min_s(m1, e1);
          bk = v128.load32_splat(bp, 4);
          v = v128.load32_splat(w, 20);
          e0 = i32x4.add(bk, i32x4.dot_i16x8_s(x00, v));
          e1 = i32x4.add(bk, i32x4.dot_i16x8_s(x01, v));
          v = v128.load32_splat(w, 24);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x10, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x11, v));
          v = v128.load32_splat(w, 28);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x20, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x21, v));
          v = v128.load32_splat(w, 32);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x30, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x31, v));
          v = v128.load32_splat(w, 36);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x40, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x41, v));
          if (cert) {
            s0 = i32x4.min_s(s0, i32x4.max_s(m0, e0));
            s1 = i32x4.min_s(s1, i32x4.max_s(m1, e1));
          }
          m0 = i32x4.min_s(m0, e0);
          m1 = i32x4.min_s(m1, e1);
          bk = v128.load32_splat(bp, 8);
          v = v128.load32_splat(w, 40);
          e0 = i32x4.add(bk, i32x4.dot_i16x8_s(x00, v));
          e1 = i32x4.add(bk, i32x4.dot_i16x8_s(x01, v));
          v = v128.load32_splat(w, 44);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x10, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x11, v));
          v = v128.load32_splat(w, 48);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x20, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x21, v));
          v = v128.load32_splat(w, 52);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x30, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x31, v));
          v = v128.load32_splat(w, 56);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x40, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x41, v));
          if (cert) {
            s0 = i32x4.min_s(s0, i32x4.max_s(m0, e0));
            s1 = i32x4.min_s(s1, i32x4.max_s(m1, e1));
          }
          m0 = i32x4.min_s(m0, e0);
          m1 = i32x4.min_s(m1, e1);
          bk = v128.load32_splat(bp, 12);
          v = v128.load32_splat(w, 60);
          e0 = i32x4.add(bk, i32x4.dot_i16x8_s(x00, v));
          e1 = i32x4.add(bk, i32x4.dot_i16x8_s(x01, v));
          v = v128.load32_splat(w, 64);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x10, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x11, v));
          v = v128.load32_splat(w, 68);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x20, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x21, v));
          v = v128.load32_splat(w, 72);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x30, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x31, v));
          v = v128.load32_splat(w, 76);
          e0 = i32x4.add(e0, i32x4.dot_i16x8_s(x40, v));
          e1 = i32x4.add(e1, i32x4.dot_i16x8_s(x41, v));
          if (cert) {
            s0 = i32x4.min_s(s0, i32x4.max_s(m0, e0));
            s1 = i32x4.min_s(s1, i32x4.max_s(m1, e1));
          }
          m0 = i32x4.min_s(m0, e0);
          m1 = i32x4.min_s(m1, e1);
          w += 80;
          bp += 16;
        }
        const h = i16x8.narrow_i32x4_s(v128.and(m0, lo4), v128.and(m1, lo4));
        v128.store64_lane(cp, v128.and(i8x16.narrow_i16x8_s(h, h), valid), 0);
        if (cert) {
          // Per pixel: S = Σ|xq| over the 9 taps, and whether some |xq| >= qmax (maybe clamped).
          const a00 = i16x8.abs(x00), a10 = i16x8.abs(x10), a20 = i16x8.abs(x20), a30 = i16x8.abs(x30), a40 = v128.and(i16x8.abs(x40), i32x4.splat(0xffff));
          const a01 = i16x8.abs(x01), a11 = i16x8.abs(x11), a21 = i16x8.abs(x21), a31 = i16x8.abs(x31), a41 = v128.and(i16x8.abs(x41), i32x4.splat(0xffff));
          const S0 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(a00, ones), i32x4.dot_i16x8_s(a10, ones)),
            i32x4.add(i32x4.add(i32x4.dot_i16x8_s(a20, ones), i32x4.dot_i16x8_s(a30, ones)), i32x4.dot_i16x8_s(a40, oneLow)));
          const S1 = i32x4.add(i32x4.add(i32x4.dot_i16x8_s(a01, ones), i32x4.dot_i16x8_s(a11, ones)),
            i32x4.add(i32x4.add(i32x4.dot_i16x8_s(a21, ones), i32x4.dot_i16x8_s(a31, ones)), i32x4.dot_i16x8_s(a41, oneLow)));
          const c0 = i16x8.gt_u(i16x8.max_u(i16x8.max_u(a00, a10), i16x8.max_u(i16x8.max_u(a20, a30), a40)), edge);
          const c1 = i16x8.gt_u(i16x8.max_u(i16x8.max_u(a01, a11), i16x8.max_u(i16x8.max_u(a21, a31), a41)), edge);
          const alpha = v128.load32_splat(alphas + (<usize>c << 2));
          const beta = v128.load32_splat(betas + (<usize>c << 2));
          // s − m is in [0, 2^32): compared unsigned after the wrapping subtraction.
          const n0 = v128.or(i32x4.le_u(i32x4.sub(s0, m0), i32x4.add(i32x4.mul(S0, alpha), beta)), i32x4.ne(c0, i32x4.splat(0)));
          const n1 = v128.or(i32x4.le_u(i32x4.sub(s1, m1), i32x4.add(i32x4.mul(S1, alpha), beta)), i32x4.ne(c1, i32x4.splat(0)));
          const need = i8x16.bitmask(v128.and(i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(n0, n1), i16x8.splat(0)), valid)) & 0xff;
          if (need) nchk += recheckF32(need, b, c, q, cp);
        }
        cp += 16;
        xb += plane;
      }
    }
  }
  if (cert && nchk) atomic.add<i32>(<usize>(CTRL + RT + (R_NCHECK << 2)), nchk);
}

export function encodeInt8Lanes(blk0: i32, blk1: i32): void {
  if (rtField(R_FCENT)) encodeInt8LanesBody(blk0, blk1, true);
  else encodeInt8LanesBody(blk0, blk1, false);
}

/**
 * The exact f32 encoder (same operations in the same order as encodeF32Body, so the same codes) for the pixels q + i
 * of image b, channel c, whose bit i is set in `need`, read from the unpadded f32 input X (zeros outside) and the f32
 * centroids FCENT [C][9][16]; writes their codes at cp + i. Returns how many it re-encoded.
 */
function recheckF32(need: i32, b: i32, c: i32, q: i32, cp: usize): i32 {
  const C = rtField(R_C);
  const H = rtField(R_H);
  const W = rtField(R_W);
  const OW = rtField(R_OW);
  const SH = rtField(R_SH);
  const SW = rtField(R_SW);
  const PH = rtField(R_PH);
  const PW = rtField(R_PW);
  const DH = rtField(R_DH);
  const xs = <usize>rtField(R_X) + ((<usize>(b * C + c) * H * W) << 2);
  const cent = <usize>rtField(R_FCENT) + <usize>c * 9 * 64;
  let n = 0;
  while (need) {
    const i = ctz(need);
    need &= need - 1;
    const p = q + i;
    const oy = p / OW;
    const iy0 = oy * SH - PH;
    const ix0 = (p - oy * OW) * SW - PW;
    let d0 = f32x4.splat(0);
    let d1 = d0, d2 = d0, d3 = d0;
    let pc = cent;
    // Inside the image (most pixels) the taps need no bounds checks.
    const inside = iy0 >= 0 && iy0 + 2 * DH < H && ix0 >= 0 && ix0 + 2 < W;
    for (let ki = 0; ki < 3; ki++) {
      const iy = iy0 + ki * DH;
      const row = xs + ((<usize>iy * W + <usize>ix0) << 2);
      const rowIn = inside || (iy >= 0 && iy < H);
      for (let kj = 0; kj < 3; kj++) {
        const ix = ix0 + kj;
        const xv: f32 = inside || (rowIn && ix >= 0 && ix < W) ? load<f32>(row + (<usize>kj << 2)) : 0;
        const xv4 = f32x4.splat(xv);
        const t0 = f32x4.sub(xv4, v128.load(pc));
        const t1 = f32x4.sub(xv4, v128.load(pc, 16));
        const t2 = f32x4.sub(xv4, v128.load(pc, 32));
        const t3 = f32x4.sub(xv4, v128.load(pc, 48));
        d0 = f32x4.add(d0, f32x4.mul(t0, t0));
        d1 = f32x4.add(d1, f32x4.mul(t1, t1));
        d2 = f32x4.add(d2, f32x4.mul(t2, t2));
        d3 = f32x4.add(d3, f32x4.mul(t3, t3));
        pc += 64;
      }
    }
    // x is finite here (PAD flags the rest), but finite x far from the centroids (|x| past ~1e19) overflows every
    // distance: no nearest centroid, flagged as the f32 encoder does (the caller then reports the row and codebook).
    const k = argmin16(d0, d1, d2, d3);
    if (k < 0) atomic.store<i32>(<usize>(CTRL + RT + (R_FLAG << 2)), 1);
    store<u8>(cp + <usize>i, <u8>max(k, 0));
    n++;
  }
  return n;
}
