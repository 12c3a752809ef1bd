// Direct depthwise convolution (groups = cin, cout = cin·mult): f32x4 over four output pixels of a row.
import {
  convField, V_C, V_H, V_W, V_KH, V_KW, V_SH, V_SW, V_PH, V_PW, V_DH, V_DW, V_OH, V_OW,
  V_X, V_XB, V_COLS, V_COLSB, V_Y, V_YB, V_CH, V_BIAS, V_WT,
} from './layout';
import { madd } from './math';

/** Row length of the zero-padded input plane: every tap of every (rounded-up) output column, plus one vector. */
@inline function paddedWidth(OW: i32, SW: i32, KW: i32, DW: i32): i32 {
  return ((OW + 3) & ~3) * SW + (KW - 1) * DW + 8;
}

/** Floats of per-thread scratch the DEPTHWISE phase needs (the host allocates this many per thread). */
export function depthwiseScratch(OH: i32, SH: i32, KH: i32, DH: i32, OW: i32, SW: i32, KW: i32, DW: i32): i32 {
  return ((OH - 1) * SH + (KH - 1) * DH + 1) * paddedWidth(OW, SW, KW, DW);
}

@inline function zeroF32(d: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(d + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(d + (<usize>i << 2), 0);
}

@inline function copyF32(d: usize, s: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(d + (<usize>i << 2), v128.load(s + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(d + (<usize>i << 2), load<f32>(s + (<usize>i << 2)));
}

/** Four input values for output columns ox..ox+3 at padded column `col0` = ox·SW + kj·DW of row `row`. */
@inline function gather(row: usize, col0: i32, SW: i32): v128 {
  const p = row + (<usize>col0 << 2);
  if (SW == 1) return v128.load(p);
  if (SW == 2) return v128.shuffle<i32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6);
  const s = <usize>SW << 2;
  let v = v128.load32_zero(p);
  v = f32x4.replace_lane(v, 1, load<f32>(p + s));
  v = f32x4.replace_lane(v, 2, load<f32>(p + 2 * s));
  return f32x4.replace_lane(v, 3, load<f32>(p + 3 * s));
}

/** Stores the first `n` (1..4) lanes of v at p. */
@inline function storePart(p: usize, v: v128, n: i32): void {
  if (n >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (n > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (n > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

/** One 3×3 output plane with the nine weights held in registers (inlined per stride so `gather` specialises). */
@inline function plane3x3(pad: usize, WP: i32, y: usize, OH: i32, OW: i32, SH: i32, SW: i32, DH: i32, DW: i32, w: usize, b: v128): void {
  const w0 = v128.load32_splat(w), w1 = v128.load32_splat(w, 4), w2 = v128.load32_splat(w, 8);
  const w3 = v128.load32_splat(w, 12), w4 = v128.load32_splat(w, 16), w5 = v128.load32_splat(w, 20);
  const w6 = v128.load32_splat(w, 24), w7 = v128.load32_splat(w, 28), w8 = v128.load32_splat(w, 32);
  const rs = (<usize>DH * WP) << 2;
  for (let oy = 0; oy < OH; oy++) {
    const r0 = pad + ((<usize>oy * SH * WP) << 2);
    const r1 = r0 + rs;
    const r2 = r1 + rs;
    const yrow = y + ((<usize>oy * OW) << 2);
    for (let ox = 0; ox < OW; ox += 4) {
      const c0 = ox * SW;
      const c1 = c0 + DW;
      const c2 = c1 + DW;
      let acc = madd(gather(r0, c0, SW), w0, b);
      acc = madd(gather(r0, c1, SW), w1, acc);
      acc = madd(gather(r0, c2, SW), w2, acc);
      acc = madd(gather(r1, c0, SW), w3, acc);
      acc = madd(gather(r1, c1, SW), w4, acc);
      acc = madd(gather(r1, c2, SW), w5, acc);
      acc = madd(gather(r2, c0, SW), w6, acc);
      acc = madd(gather(r2, c1, SW), w7, acc);
      acc = madd(gather(r2, c2, SW), w8, acc);
      storePart(yrow + (<usize>ox << 2), acc, OW - ox);
    }
  }
}

/** Any kernel size: taps in loops, weights loaded per tap. */
function planeAny(pad: usize, WP: i32, y: usize, OH: i32, OW: i32, SH: i32, SW: i32, DH: i32, DW: i32, KH: i32, KW: i32, w: usize, b: v128): void {
  for (let oy = 0; oy < OH; oy++) {
    const yrow = y + ((<usize>oy * OW) << 2);
    for (let ox = 0; ox < OW; ox += 4) {
      let acc = b;
      for (let ki = 0; ki < KH; ki++) {
        const row = pad + ((<usize>(oy * SH + ki * DH) * WP) << 2);
        const wk = w + ((<usize>ki * KW) << 2);
        for (let kj = 0; kj < KW; kj++) {
          acc = madd(gather(row, ox * SW + kj * DW, SW), v128.load32_splat(wk + (<usize>kj << 2)), acc);
        }
      }
      storePart(yrow + (<usize>ox << 2), acc, OW - ox);
    }
  }
}

/**
 * Task t of DEPTHWISE: image t / C, channel t % C. Copies the channel's plane into this thread's zero-padded
 * scratch, then y[co] = bias[co] + Σ_{ki,kj} w[co][ki][kj]·x[iy][ix] for its CH (= mult) output channels, taps
 * summed in the reference order (ki, then kj; padding adds zeros).
 */
export function depthwiseTask(t: i32, tid: i32): void {
  const C = convField(V_C), H = convField(V_H), W = convField(V_W);
  const KH = convField(V_KH), KW = convField(V_KW), SH = convField(V_SH), SW = convField(V_SW);
  const PH = convField(V_PH), PW = convField(V_PW), DH = convField(V_DH), DW = convField(V_DW);
  const OH = convField(V_OH), OW = convField(V_OW), MULT = convField(V_CH);
  const img = t / C;
  const ch = t - img * C;
  const WP = paddedWidth(OW, SW, KW, DW);
  const HP = (OH - 1) * SH + (KH - 1) * DH + 1;
  const pad = <usize>convField(V_COLS) + ((<usize>tid * convField(V_COLSB)) << 2);
  const x = <usize>convField(V_X) + ((<usize>img * convField(V_XB) + <usize>ch * H * W) << 2);
  // Padded row r holds input row r - PH; padded column c holds input column c - PW.
  const c0 = min(PW, WP);
  const cw = max(0, min(W, WP - PW));
  // Plain SIMD loops: memory.fill/copy on shared memory are engine calls, too slow for rows this short.
  for (let r = 0; r < HP; r++) {
    const d = pad + ((<usize>r * WP) << 2);
    const iy = r - PH;
    if (iy < 0 || iy >= H) {
      zeroF32(d, WP);
      continue;
    }
    zeroF32(d, c0);
    copyF32(d + (<usize>c0 << 2), x + ((<usize>iy * W) << 2), cw);
    zeroF32(d + (<usize>(c0 + cw) << 2), WP - c0 - cw);
  }
  const bias = <usize>convField(V_BIAS);
  const taps = KH * KW;
  for (let m = 0; m < MULT; m++) {
    const co = ch * MULT + m;
    const w = <usize>convField(V_WT) + ((<usize>co * taps) << 2);
    const b = f32x4.splat(bias != 0 ? load<f32>(bias + (<usize>co << 2)) : 0);
    const y = <usize>convField(V_Y) + ((<usize>img * convField(V_YB) + <usize>co * OH * OW) << 2);
    if (KH == 3 && KW == 3) {
      if (SW == 1) plane3x3(pad, WP, y, OH, OW, SH, 1, DH, DW, w, b);
      else if (SW == 2) plane3x3(pad, WP, y, OH, OW, SH, 2, DH, DW, w, b);
      else plane3x3(pad, WP, y, OH, OW, SH, SW, DH, DW, w, b);
    } else {
      planeAny(pad, WP, y, OH, OW, SH, SW, DH, DW, KH, KW, w, b);
    }
  }
}
