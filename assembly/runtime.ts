// Inference-runtime kernels (src/runtime): fused epilogues, pooling, im2row for LUT convs, the finite-input check.
// Pointer-level, no allocation, no traps on valid sizes; the TypeScript plan validates every size first.
import { rtField, R_NB, R_C, R_H, R_W, R_KH, R_KW, R_SH, R_SW, R_PH, R_PW, R_OH, R_OW, R_X, R_Y, R_PPT, R_MODE, R_ESCALE, R_ESHIFT, R_RELU } from './layout';

/** y = x·scale + shift, then max(·, 0) when relu; the three options are per-element constants of the caller. */
@inline function epi(v: v128, s: v128, t: v128, hasScale: bool, relu: bool): v128 {
  let r = hasScale ? f32x4.add(f32x4.mul(v, s), t) : f32x4.add(v, t);
  if (relu) r = f32x4.max(r, f32x4.splat(0));
  return r;
}

@inline function epi1(v: f32, s: f32, t: f32, hasScale: bool, relu: bool): f32 {
  let r = hasScale ? v * s + t : v + t;
  if (relu) r = max(r, 0);
  return r;
}

/**
 * NCHW planes in place: y[b][c][i] = act(y·scale[c] + shift[c]) for nb images of C channels of HW values.
 * scale = 0: no scale; shift = 0: no shift; relu != 0: max(·, 0).
 */
export function rtEpilogueChannels(y: usize, nb: i32, C: i32, HW: i32, scale: usize, shift: usize, relu: i32): void {
  const hasScale = scale != 0;
  const doRelu = relu != 0;
  let p = y;
  for (let b = 0; b < nb; b++) {
    for (let c = 0; c < C; c++) {
      const s1: f32 = hasScale ? load<f32>(scale + (<usize>c << 2)) : 1;
      const t1: f32 = shift != 0 ? load<f32>(shift + (<usize>c << 2)) : 0;
      const s = f32x4.splat(s1);
      const t = f32x4.splat(t1);
      let i = 0;
      for (; i + 4 <= HW; i += 4) {
        const o = p + (<usize>i << 2);
        v128.store(o, epi(v128.load(o), s, t, hasScale, doRelu));
      }
      for (; i < HW; i++) {
        const o = p + (<usize>i << 2);
        store<f32>(o, epi1(load<f32>(o), s1, t1, hasScale, doRelu));
      }
      p += <usize>HW << 2;
    }
  }
}

/** Rows in place: y[r][j] = act(y·scale[j] + shift[j]) for `rows` rows of `cols` values (options as above). */
export function rtEpilogueRows(y: usize, rows: i32, cols: i32, scale: usize, shift: usize, relu: i32): void {
  const hasScale = scale != 0;
  const hasShift = shift != 0;
  const doRelu = relu != 0;
  const one = f32x4.splat(1);
  const zero = f32x4.splat(0);
  let p = y;
  for (let r = 0; r < rows; r++) {
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = <usize>j << 2;
      const s = hasScale ? v128.load(scale + o) : one;
      const t = hasShift ? v128.load(shift + o) : zero;
      v128.store(p + o, epi(v128.load(p + o), s, t, hasScale, doRelu));
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      const s: f32 = hasScale ? load<f32>(scale + o) : 1;
      const t: f32 = hasShift ? load<f32>(shift + o) : 0;
      store<f32>(p + o, epi1(load<f32>(p + o), s, t, hasScale, doRelu));
    }
    p += <usize>cols << 2;
  }
}

/**
 * Rows to planes with the epilogue: src [nb][P][M] (one image's rows, row p = output pixel) → dst [nb][M][P],
 * dst[b][m][p] = act(src[b][p][m]·scale[m] + shift[m]). dst must not alias src.
 */
export function rtRowsToPlanes(src: usize, dst: usize, nb: i32, P: i32, M: i32, scale: usize, shift: usize, relu: i32): void {
  const hasScale = scale != 0;
  const doRelu = relu != 0;
  const img = <usize>P * M;
  for (let b = 0; b < nb; b++) {
    const s0 = src + ((<usize>b * img) << 2);
    const d0 = dst + ((<usize>b * img) << 2);
    for (let m = 0; m < M; m++) {
      const s1: f32 = hasScale ? load<f32>(scale + (<usize>m << 2)) : 1;
      const t1: f32 = shift != 0 ? load<f32>(shift + (<usize>m << 2)) : 0;
      let sp = s0 + (<usize>m << 2);
      let dp = d0 + ((<usize>m * P) << 2);
      for (let p = 0; p < P; p++) {
        store<f32>(dp, epi1(load<f32>(sp), s1, t1, hasScale, doRelu));
        sp += <usize>M << 2;
        dp += 4;
      }
    }
  }
}

/** Lane-wise `if (!(v <= best) && best == best) best = v`: the larger value, or the first NaN, ties keep `best`. */
@inline function maxStep(best: v128, v: v128): v128 {
  const take = v128.and(v128.not(f32x4.le(v, best)), f32x4.eq(best, best));
  return v128.bitselect(v, best, take);
}

/**
 * Pooling over `planes` NCHW planes [H, W] → [OH, OW]. mode 0: max (padding acts as −inf, the first NaN of a
 * window wins, as in src/ops/pool.ts), mode 1: average with padded zeros counted (divisor KH·KW).
 */
export function rtPool2d(x: usize, y: usize, planes: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32, OH: i32, OW: i32, mode: i32): void {
  const inv: f32 = 1 / <f32>(KH * KW);
  let d = y;
  for (let p = 0; p < planes; p++) {
    const xb = x + ((<usize>p * H * W) << 2);
    if (mode == 0 && KH == 2 && KW == 2 && SH == 2 && SW == 2 && PH == 0 && PW == 0) {
      for (let oy = 0; oy < OH; oy++) {
        const r0 = xb + ((<usize>(2 * oy) * W) << 2);
        const r1 = r0 + (<usize>W << 2);
        let ox = 0;
        // Four outputs at a time: even and odd columns split by shuffles, then the scalar rule lane-wise.
        for (; ox + 4 <= OW; ox += 4) {
          const o = <usize>(2 * ox) << 2;
          const a0 = v128.load(r0 + o);
          const a1 = v128.load(r0 + o, 16);
          const b0 = v128.load(r1 + o);
          const b1 = v128.load(r1 + o, 16);
          let best = i32x4.shuffle(a0, a1, 0, 2, 4, 6);
          best = maxStep(best, i32x4.shuffle(a0, a1, 1, 3, 5, 7));
          best = maxStep(best, i32x4.shuffle(b0, b1, 0, 2, 4, 6));
          best = maxStep(best, i32x4.shuffle(b0, b1, 1, 3, 5, 7));
          v128.store(d, best);
          d += 16;
        }
        for (; ox < OW; ox++) {
          const o = <usize>(2 * ox) << 2;
          let best = load<f32>(r0 + o);
          let v = load<f32>(r0 + o, 4);
          if (!(v <= best) && best == best) best = v;
          v = load<f32>(r1 + o);
          if (!(v <= best) && best == best) best = v;
          v = load<f32>(r1 + o, 4);
          if (!(v <= best) && best == best) best = v;
          store<f32>(d, best);
          d += 4;
        }
      }
      continue;
    }
    for (let oy = 0; oy < OH; oy++) {
      const y0 = oy * SH - PH;
      const ya = max(y0, 0);
      const ye = min(y0 + KH, H);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = ox * SW - PW;
        const xa = max(x0, 0);
        const xe = min(x0 + KW, W);
        if (mode == 0) {
          let best = load<f32>(xb + ((<usize>ya * W + xa) << 2));
          for (let yy = ya; yy < ye; yy++) {
            const row = xb + ((<usize>yy * W) << 2);
            for (let xx = xa; xx < xe; xx++) {
              const v = load<f32>(row + (<usize>xx << 2));
              if (!(v <= best) && best == best) best = v;
            }
          }
          store<f32>(d, best);
        } else {
          let s: f32 = 0;
          for (let yy = ya; yy < ye; yy++) {
            const row = xb + ((<usize>yy * W) << 2);
            for (let xx = xa; xx < xe; xx++) s += load<f32>(row + (<usize>xx << 2));
          }
          store<f32>(d, s * inv);
        }
        d += 4;
      }
    }
  }
}

/** Mean of each of `planes` planes of HW values (f64 sums, as src/ops/pool.ts globalAvgPool2d). */
export function rtPlaneMeans(x: usize, y: usize, planes: i32, HW: i32): void {
  for (let p = 0; p < planes; p++) {
    const b = x + ((<usize>p * HW) << 2);
    let s: f64 = 0;
    for (let i = 0; i < HW; i++) s += <f64>load<f32>(b + (<usize>i << 2));
    store<f32>(y + (<usize>p << 2), <f32>(s / <f64>HW));
  }
}

/**
 * im2col rows of nb images: x [nb][C][H][W] → rows [nb·OH·OW][C·KH·KW], row (b, oy, ox), columns in (c, ki, kj)
 * order (the LUT conv's sub-vector layout); padded positions are 0.
 */
export function rtIm2row(x: usize, rows: usize, nb: i32, C: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32, DH: i32, DW: i32, OH: i32, OW: i32): void {
  const D = C * KH * KW;
  let r = rows;
  for (let b = 0; b < nb; b++) {
    const xb = x + ((<usize>b * C * H * W) << 2);
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let q = r;
        for (let c = 0; c < C; c++) {
          const xc = xb + ((<usize>c * H * W) << 2);
          for (let ki = 0; ki < KH; ki++) {
            const iy = oy * SH - PH + ki * DH;
            const inRow = iy >= 0 && iy < H;
            const iyc: i32 = inRow ? iy : 0;
            const xrow = xc + ((<usize>iyc * <usize>W) << 2);
            for (let kj = 0; kj < KW; kj++) {
              const ix = ox * SW - PW + kj * DW;
              store<f32>(q, inRow && ix >= 0 && ix < W ? load<f32>(xrow + (<usize>ix << 2)) : 0);
              q += 4;
            }
          }
        }
        r += <usize>D << 2;
      }
    }
  }
}

/** Index of the first NaN or ±Inf among n floats at x, or −1 (x − x is 0 exactly for finite x, NaN otherwise). */
export function rtFirstNonFinite(x: usize, n: i32): i32 {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const o = x + (<usize>i << 2);
    const a = v128.load(o);
    const b = v128.load(o, 16);
    const c = v128.load(o, 32);
    const d = v128.load(o, 48);
    const z = v128.or(
      v128.or(f32x4.ne(f32x4.sub(a, a), f32x4.sub(a, a)), f32x4.ne(f32x4.sub(b, b), f32x4.sub(b, b))),
      v128.or(f32x4.ne(f32x4.sub(c, c), f32x4.sub(c, c)), f32x4.ne(f32x4.sub(d, d), f32x4.sub(d, d))),
    );
    if (v128.any_true(z)) break;
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (v - v != 0) return i;
  }
  return -1;
}

// ---------------------------------------------------------------- pooling and channel epilogues

/** Task t of POOL: planes [t·PPT, (t+1)·PPT) of the NB planes X [H, W] → Y [OH, OW] (MODE 0 max, 1 average). */
export function rtPoolTask(t: i32): void {
  const n = rtField(R_NB);
  const p0 = t * rtField(R_PPT);
  const p1 = min(n, p0 + rtField(R_PPT));
  if (p0 >= p1) return;
  const H = rtField(R_H);
  const W = rtField(R_W);
  const OH = rtField(R_OH);
  const OW = rtField(R_OW);
  const x = <usize>rtField(R_X) + ((<usize>p0 * H * W) << 2);
  const y = <usize>rtField(R_Y) + ((<usize>p0 * OH * OW) << 2);
  rtPool2d(x, y, p1 - p0, H, W, rtField(R_KH), rtField(R_KW), rtField(R_SH), rtField(R_SW), rtField(R_PH), rtField(R_PW), OH, OW, rtField(R_MODE));
}

/** Task t of EPI: images [t·PPT, (t+1)·PPT) of Y [NB][C][OH·OW], in place: act(y·scale[c] + shift[c]). */
export function rtEpiTask(t: i32): void {
  const n = rtField(R_NB);
  const b0 = t * rtField(R_PPT);
  const b1 = min(n, b0 + rtField(R_PPT));
  if (b0 >= b1) return;
  const C = rtField(R_C);
  const HW = rtField(R_OH) * rtField(R_OW);
  const y = <usize>rtField(R_Y) + ((<usize>b0 * C * HW) << 2);
  rtEpilogueChannels(y, b1 - b0, C, HW, <usize>rtField(R_ESCALE), <usize>rtField(R_ESHIFT), rtField(R_RELU));
}
