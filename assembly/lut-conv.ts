// Runtime tasks: LUT convs straight from (padded) input planes (no im2row rows) and a scan that writes NCHW planes with
// the epilogue (the threaded pooling / channel-epilogue tasks are in runtime.ts). TypeScript twin and oracle: src/runtime/lut-conv.ts and the
// im2row path (rtIm2row + the LUT kernels of lut-infer.ts + rtRowsToPlanes), which give bit-identical outputs.
//
// Layouts (pointers in bytes; the LUT descriptor of assembly/layout.ts gives C, M, CODES, ENC, CENT, AUX, TABLE,
// SCALE, BIAS, SROWB, STILES, EROWB; the runtime descriptor RT the geometry):
//   padded planes XP [NB][C][HP][WP]: f32 (f32 encoders), or round(clamp(x·inv_c, −QMAX − 1, QMAX)) as i8 (per-pixel
//     int8 encoder, relaxed build) or i16 (plain build, and the lanes int8 encoder in both builds); QMAX 127 for the
//     int8 data, the wide data's qmax (4Q − 1) for the lanes encoder (inv_c from AUX either way); zero borders; 64 bytes of slack
//     after the last plane. RT MODE: 0 = the int8 encoder with pixels in lanes (3×3), 1 = one pixel at a time.
//   codes [NB·BPI][C][16] bytes: image b's output pixel p is row b·BPI·16 + p (rows p >= OH·OW hold code 0).
//   TAPS i32 [NTAPS]: f32: byte offset of tap v = ki·KW + kj in a padded plane (v order = the im2row column order, so
//     distances are summed in the same order as the row encoder); int8: offsets of the 4-byte groups (a byte quad or
//     an i16 pair of one kernel row), QCENT [C][NTAPS][4 groups][4 k][4 bytes | 2 i16] holding u = cq + 64 (0 where
//     the group runs past the kernel row); lanes int8 encoder: TAPS [3] kernel rows, QCENT as encodeInt8Lanes says.
import { argmin16, madd } from './math';
import { encodeInt8Lanes } from './lut-conv-lanes';
import {
  CTRL, RT, rtField, lutField, R_NB, R_C, R_H, R_W, R_KH, R_KW, R_SH, R_SW, R_PH, R_PW, R_DH, R_OH, R_OW, R_X, R_XP, R_HP,
  R_WP, R_BPI, R_TAPS, R_NTAPS, R_QCENT, R_ESCALE, R_ESHIFT, R_RELU, R_Y, R_PPT, R_MODE, R_FLAG, R_QMAX, R_FCENT, R_NCHECK,
  L_N, L_C, L_M, L_CODES, L_ENC, L_CENT, L_AUX, L_TABLE, L_SCALE, L_BIAS, L_EROWB, L_SROWB, L_STILES,
} from './layout';

const MAGIC: f32 = 12582912.0; // 1.5·2^23: y + MAGIC holds round(y) (half to even) in its low mantissa bits
const MAGIC_BITS: i32 = 0x4b400000;

@inline function setFlag(): void {
  atomic.store<i32>(<usize>(CTRL + RT + (R_FLAG << 2)), 1);
}

// ---------------------------------------------------------------- padding / quantization

/**
 * Quantizes W floats at s to integers in [−qmax − 1, qmax] (clamp then round, as the row encoder) at d (i8, or i16
 * for the lanes encoder or in the plain build); returns 1 on a non-finite x·inv.
 */
function quantRow(d: usize, s: usize, W: i32, inv: f32, wide: bool, qmax: f32): i32 {
  const vinv = f32x4.splat(inv);
  const lo = f32x4.splat(-qmax - 1);
  const hi = f32x4.splat(qmax);
  let nf = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= W; i += 4) {
    const y = f32x4.mul(v128.load(s + (<usize>i << 2)), vinv);
    nf = v128.or(nf, f32x4.ne(f32x4.sub(y, y), f32x4.splat(0)));
    const q = i32x4.sub(f32x4.add(f32x4.max(f32x4.min(y, hi), lo), f32x4.splat(MAGIC)), i32x4.splat(MAGIC_BITS));
    const h = i16x8.narrow_i32x4_s(q, q);
    if (ASC_FEATURE_RELAXED_SIMD && !wide) v128.store32_lane(d + <usize>i, i8x16.narrow_i16x8_s(h, h), 0);
    else v128.store64_lane(d + (<usize>i << 1), h, 0);
  }
  let bad = v128.any_true(nf) ? 1 : 0;
  for (; i < W; i++) {
    let y = load<f32>(s + (<usize>i << 2)) * inv;
    if (!(y - y == 0)) bad = 1;
    y = y > qmax ? qmax : y < -qmax - 1 ? -qmax - 1 : y;
    const q = reinterpret<i32>(y + MAGIC) - MAGIC_BITS; // NaN gives garbage; flagged above
    if (ASC_FEATURE_RELAXED_SIMD && !wide) store<i8>(d + <usize>i, <i8>q);
    else store<i16>(d + (<usize>i << 1), <i16>q);
  }
  return bad;
}

/**
 * Task t of PAD: images [t·PPT, (t+1)·PPT) of X → zero-bordered planes at XP: f32 copies (ENC 0-2) or, for the int8
 * encoder (ENC 3), x quantized with codebook (= channel) c's inverse scale from AUX.
 */
export function rtPadTask(t: i32): void {
  const nb = rtField(R_NB);
  const ppt = rtField(R_PPT);
  const b0 = t * ppt;
  const b1 = min(nb, b0 + ppt);
  const C = rtField(R_C);
  const H = rtField(R_H);
  const W = rtField(R_W);
  const PH = rtField(R_PH);
  const PW = rtField(R_PW);
  const HP = rtField(R_HP);
  const WP = rtField(R_WP);
  const x = <usize>rtField(R_X);
  const xp = <usize>rtField(R_XP);
  const q = lutField(L_ENC) == 3;
  const wide = rtField(R_MODE) == 0; // the lanes encoder reads i16 planes in both builds
  const esz: usize = q ? (ASC_FEATURE_RELAXED_SIMD && !wide ? 1 : 2) : 4;
  const invs = <usize>lutField(L_AUX) + (<usize>C << 6);
  const qmax = <f32>rtField(R_QMAX);
  const rowB = <usize>WP * esz;
  let bad = 0;
  for (let b = b0; b < b1; b++) {
    for (let c = 0; c < C; c++) {
      const src = x + ((<usize>(b * C + c) * H * W) << 2);
      const dst = xp + <usize>(b * C + c) * HP * rowB;
      memory.fill(dst, 0, <usize>PH * rowB);
      const inv = q ? load<f32>(invs + (<usize>c << 2)) : 0;
      for (let iy = 0; iy < H; iy++) {
        const row = dst + <usize>(iy + PH) * rowB;
        memory.fill(row, 0, <usize>PW * esz);
        const d = row + <usize>PW * esz;
        const s = src + ((<usize>iy * W) << 2);
        if (q) bad |= quantRow(d, s, W, inv, wide, qmax);
        else memory.copy(d, s, <usize>W << 2);
        memory.fill(d + <usize>W * esz, 0, <usize>(WP - PW - W) * esz);
      }
      memory.fill(dst + <usize>(PH + H) * rowB, 0, <usize>(HP - PH - H) * rowB);
    }
  }
  if (b1 == nb && b0 < b1) memory.fill(xp + <usize>nb * C * HP * rowB, 0, 64); // slack the int8 groups may over-read
  if (bad) setFlag();
}

// ---------------------------------------------------------------- encoders

/**
 * Codes of row blocks [blk0, blk1) with the exact f32 encoder of lut-infer.ts (same operations in the same order, so
 * the same codes), reading tap v of pixel (oy, ox) at xb + TAPS[v]. Returns 1 when some sub-vector has no finite
 * distance (its code is 0).
 */
@inline function encodeF32Body(blk0: i32, blk1: i32, metric: i32): i32 {
  const C = lutField(L_C);
  const cent = <usize>lutField(L_CENT);
  const codes = <usize>lutField(L_CODES);
  const OW = rtField(R_OW);
  const P = rtField(R_OH) * OW;
  const BPI = rtField(R_BPI);
  const SH = rtField(R_SH);
  const SW = rtField(R_SW);
  const WP = rtField(R_WP);
  const plane = (<usize>rtField(R_HP) * WP) << 2;
  const xp = <usize>rtField(R_XP);
  const taps = <usize>rtField(R_TAPS);
  const tapsEnd = taps + (<usize>rtField(R_NTAPS) << 2);
  let bad = 0;
  for (let blk = blk0; blk < blk1; blk++) {
    const b = blk / BPI;
    const p0 = (blk - b * BPI) << 4;
    const cblk = codes + ((<usize>blk * C) << 4);
    for (let r = 0; r < 16; r++) {
      const p = p0 + r;
      let cp = cblk + <usize>r;
      if (p >= P) {
        for (let c = 0; c < C; c++) store<u8>(cp + (<usize>c << 4), 0);
        continue;
      }
      const oy = p / OW;
      const ox = p - oy * OW;
      let xb = xp + <usize>b * C * plane + ((<usize>(oy * SH) * WP + <usize>(ox * SW)) << 2);
      let pc = cent;
      for (let c = 0; c < C; c++) {
        let d0 = f32x4.splat(0);
        let d1 = d0, d2 = d0, d3 = d0;
        for (let tp = taps; tp < tapsEnd; tp += 4) {
          const xs = v128.load32_splat(xb + <usize>load<i32>(tp));
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
            d0 = f32x4.max(d0, f32x4.abs(t0));
            d1 = f32x4.max(d1, f32x4.abs(t1));
            d2 = f32x4.max(d2, f32x4.abs(t2));
            d3 = f32x4.max(d3, f32x4.abs(t3));
          }
          pc += 64;
        }
        let k = argmin16(d0, d1, d2, d3);
        if (k < 0) {
          bad = 1;
          k = 0;
        }
        store<u8>(cp, <u8>k);
        cp += 16;
        xb += plane;
      }
    }
  }
  return bad;
}

/** One group of 4 centroids: i32x4 of Σ x·u over the group's 4 bytes (relaxed) or 2 i16 (plain), as lut-infer.ts. */
@inline function dotGroup(xs: v128, p: usize): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(xs, v128.load(p)));
  return i32x4.dot_i16x8_s(xs, v128.load(p));
}

/**
 * Codes of row blocks [blk0, blk1) with the int8 encoder of lut-infer.ts: the same integer keys
 * base_k − (Σ_v xq_v·u_kv << shift) (integer sums do not depend on the order), x already quantized in the planes.
 */
function encodeInt8Conv(blk0: i32, blk1: i32): void {
  const C = lutField(L_C);
  const aux = <usize>lutField(L_AUX);
  const shs = aux + (<usize>C << 6) + (<usize>C << 2);
  const codes = <usize>lutField(L_CODES);
  const qcent = <usize>rtField(R_QCENT);
  const OW = rtField(R_OW);
  const P = rtField(R_OH) * OW;
  const BPI = rtField(R_BPI);
  const SH = rtField(R_SH);
  const SW = rtField(R_SW);
  const WP = rtField(R_WP);
  const esz: usize = ASC_FEATURE_RELAXED_SIMD ? 1 : 2;
  const plane = <usize>rtField(R_HP) * WP * esz;
  const xp = <usize>rtField(R_XP);
  const taps = <usize>rtField(R_TAPS);
  const ntaps = rtField(R_NTAPS);
  const tapsEnd = taps + (<usize>ntaps << 2);
  const cStep = <usize>ntaps << 6;
  const zero = i32x4.splat(0);
  for (let blk = blk0; blk < blk1; blk++) {
    const b = blk / BPI;
    const p0 = (blk - b * BPI) << 4;
    const cblk = codes + ((<usize>blk * C) << 4);
    for (let r = 0; r < 16; r++) {
      const p = p0 + r;
      let cp = cblk + <usize>r;
      if (p >= P) {
        for (let c = 0; c < C; c++) store<u8>(cp + (<usize>c << 4), 0);
        continue;
      }
      const oy = p / OW;
      const ox = p - oy * OW;
      let xb = xp + <usize>b * C * plane + (<usize>(oy * SH) * WP + <usize>(ox * SW)) * esz;
      let up = qcent;
      for (let c = 0; c < C; c++) {
        let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
        for (let tp = taps; tp < tapsEnd; tp += 4) {
          const xs = v128.load32_splat(xb + <usize>load<i32>(tp));
          a0 = i32x4.add(a0, dotGroup(xs, up));
          a1 = i32x4.add(a1, dotGroup(xs, up + 16));
          a2 = i32x4.add(a2, dotGroup(xs, up + 32));
          a3 = i32x4.add(a3, dotGroup(xs, up + 48));
          up += 64;
        }
        const base = aux + (<usize>c << 6);
        const sh = load<i32>(shs + (<usize>c << 2));
        const k0 = i32x4.sub(v128.load(base), i32x4.shl(a0, sh));
        const k1 = i32x4.sub(v128.load(base, 16), i32x4.shl(a1, sh));
        const k2 = i32x4.sub(v128.load(base, 32), i32x4.shl(a2, sh));
        const k3 = i32x4.sub(v128.load(base, 48), i32x4.shl(a3, sh));
        let m = i32x4.min_s(i32x4.min_s(k0, k1), i32x4.min_s(k2, k3));
        m = i32x4.min_s(m, v128.shuffle<i32>(m, m, 2, 3, 0, 1));
        m = i32x4.min_s(m, v128.shuffle<i32>(m, m, 1, 0, 3, 2));
        store<u8>(cp, <u8>(i32x4.extract_lane(m, 0) & 15));
        cp += 16;
        xb += plane;
        up = qcent + <usize>(c + 1) * cStep;
      }
    }
  }
}

/** Task t of CONV_ENCODE: row blocks [t·EROWB, (t+1)·EROWB) of the NB·BPI blocks. */
export function rtConvEncodeTask(t: i32): void {
  const nblk = lutField(L_N) >> 4;
  const per = lutField(L_EROWB);
  const blk0 = t * per;
  const blk1 = min(nblk, blk0 + per);
  if (blk0 >= blk1) return;
  const enc = lutField(L_ENC);
  let bad = 0;
  if (enc == 3) {
    // MODE 0: pixels in lanes (3×3 kernels; the TypeScript side lays out QCENT and TAPS for it), 1: one pixel at a time.
    if (rtField(R_MODE) == 0) encodeInt8Lanes(blk0, blk1);
    else encodeInt8Conv(blk0, blk1);
  }
  else if (enc == 0) bad = encodeF32Body(blk0, blk1, 0);
  else if (enc == 1) bad = encodeF32Body(blk0, blk1, 1);
  else bad = encodeF32Body(blk0, blk1, 2);
  if (bad) setFlag();
}

// ---------------------------------------------------------------- scan into planes

@inline function swz(t: v128, i: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(t, i);
  return i8x16.swizzle(t, i);
}

/**
 * Four pixels (i32 sums, lanes = consecutive pixels) of one output channel: scale·acc + bias as the scan finishes a
 * row (madd), then the epilogue as rtRowsToPlanes applies it, stored at d (n lanes, 1..4).
 */
@inline function finishQuarter(acc: v128, d: usize, n: i32, scale: v128, bias: v128, es: v128, et: v128, hasScale: bool, relu: bool): void {
  if (n <= 0) return;
  let v = madd(f32x4.convert_i32x4_s(acc), scale, bias);
  v = hasScale ? f32x4.add(f32x4.mul(v, es), et) : f32x4.add(v, et);
  if (relu) v = f32x4.max(v, f32x4.splat(0));
  if (n >= 4) {
    v128.store(d, v);
  } else {
    v128.store32_lane(d, v, 0);
    if (n > 1) v128.store32_lane(d, v, 1, 4);
    if (n > 2) v128.store32_lane(d, v, 2, 8);
  }
}

/** Output m's 16 pixels from its even-row (e) and odd-row (o) exact i16 sums, written to the plane at d. */
@inline function finishOutput(e: v128, o: v128, m: i32, d: usize, valid: i32, scale: v128, biasp: usize, escale: usize, eshift: usize, relu: bool): void {
  const bias = biasp ? v128.load32_splat(biasp + (<usize>m << 2)) : f32x4.splat(0);
  const hasScale = escale != 0;
  const es = hasScale ? v128.load32_splat(escale + (<usize>m << 2)) : f32x4.splat(1);
  const et = eshift ? v128.load32_splat(eshift + (<usize>m << 2)) : f32x4.splat(0);
  const lo = v128.shuffle<i16>(e, o, 0, 8, 1, 9, 2, 10, 3, 11); // pixels 0..7
  const hi = v128.shuffle<i16>(e, o, 4, 12, 5, 13, 6, 14, 7, 15); // pixels 8..15
  finishQuarter(i32x4.extend_low_i16x8_s(lo), d, valid, scale, bias, es, et, hasScale, relu);
  finishQuarter(i32x4.extend_high_i16x8_s(lo), d + 16, valid - 4, scale, bias, es, et, hasScale, relu);
  finishQuarter(i32x4.extend_low_i16x8_s(hi), d + 32, valid - 8, scale, bias, es, et, hasScale, relu);
  finishQuarter(i32x4.extend_high_i16x8_s(hi), d + 48, valid - 12, scale, bias, es, et, hasScale, relu);
}

/**
 * One block of 16 pixels × 4 output channels over C <= 256 codebooks (the TypeScript side checks it): the exact
 * int16 accumulation of scanTile in lut-infer.ts (see the proof there), then pixels written to planes d + m·P·4.
 */
function scanTilePlanes(cp: usize, tp: usize, C: i32, d: usize, planeB: usize, valid: i32, m0: i32, cols: i32, scale: v128, biasp: usize, escale: usize, eshift: usize, relu: bool): void {
  let a0 = i16x8.splat(0);
  let a1 = a0, a2 = a0, a3 = a0, h0 = a0, h1 = a0, h2 = a0, h3 = a0;
  let ip = cp;
  let t = tp;
  const end = ip + (<usize>C << 4);
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
  const off = i16x8.splat(<i16>(C << 7));
  finishOutput(i16x8.sub(i16x8.sub(a0, i16x8.shl(h0, 8)), off), i16x8.sub(h0, off), m0, d, valid, scale, biasp, escale, eshift, relu);
  if (cols > 1) finishOutput(i16x8.sub(i16x8.sub(a1, i16x8.shl(h1, 8)), off), i16x8.sub(h1, off), m0 + 1, d + planeB, valid, scale, biasp, escale, eshift, relu);
  if (cols > 2) finishOutput(i16x8.sub(i16x8.sub(a2, i16x8.shl(h2, 8)), off), i16x8.sub(h2, off), m0 + 2, d + 2 * planeB, valid, scale, biasp, escale, eshift, relu);
  if (cols > 3) finishOutput(i16x8.sub(i16x8.sub(a3, i16x8.shl(h3, 8)), off), i16x8.sub(h3, off), m0 + 3, d + 3 * planeB, valid, scale, biasp, escale, eshift, relu);
}

/** Task t of CONV_SCAN: row blocks × 4-output tiles (SROWB × STILES of them, tiles outer), as lutScanTask. */
export function rtConvScanTask(t: i32): void {
  const nblk = lutField(L_N) >> 4;
  const C = lutField(L_C);
  const M = lutField(L_M);
  const srowb = lutField(L_SROWB);
  const stiles = lutField(L_STILES);
  const MT = (M + 3) >> 2;
  const nrt = (nblk + srowb - 1) / srowb;
  const rc = t % nrt;
  const mc = t / nrt;
  const rb0 = rc * srowb;
  const rb1 = min(nblk, rb0 + srowb);
  const mt0 = mc * stiles;
  const mt1 = min(MT, mt0 + stiles);
  const codes = <usize>lutField(L_CODES);
  const table = <usize>lutField(L_TABLE);
  const biasp = <usize>lutField(L_BIAS);
  const scale = f32x4.splat(reinterpret<f32>(lutField(L_SCALE)));
  const BPI = rtField(R_BPI);
  const P = rtField(R_OH) * rtField(R_OW);
  const y = <usize>rtField(R_Y);
  const escale = <usize>rtField(R_ESCALE);
  const eshift = <usize>rtField(R_ESHIFT);
  const relu = rtField(R_RELU) != 0;
  const planeB = <usize>P << 2;
  for (let mt = mt0; mt < mt1; mt++) {
    const tp = table + ((<usize>mt * C) << 6);
    const m0 = mt << 2;
    const cols = min(4, M - m0);
    for (let rb = rb0; rb < rb1; rb++) {
      const b = rb / BPI;
      const p0 = (rb - b * BPI) << 4;
      const d = y + (<usize>(b * M + m0) * planeB) + (<usize>p0 << 2);
      scanTilePlanes(codes + ((<usize>rb * C) << 4), tp, C, d, planeB, min(16, P - p0), m0, cols, scale, biasp, escale, eshift, relu);
    }
  }
}
