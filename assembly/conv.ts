// Convolution helpers over the CONV descriptor: im2col, col2im, bias add and bias gradient (kernels and tasks).
import {
  convField, V_C, V_H, V_W, V_KH, V_KW, V_SH, V_SW, V_PH, V_PW, V_DH, V_DW, V_OH, V_OW,
  V_X, V_XB, V_COLS, V_COLSB, V_Y, V_YB, V_CH, V_BIAS, V_NB,
} from './layout';
import { reduceSum } from './elementwise';

/** First output index o with o·s + off >= 0, clamped to [0, out]. */
@inline function firstValid(off: i32, s: i32, out: i32): i32 {
  return off >= 0 ? 0 : min(out, (s - 1 - off) / s);
}

/** One past the last output index o with o·s + off <= n - 1, clamped to [lo, out]. */
@inline function endValid(off: i32, s: i32, n: i32, out: i32, lo: i32): i32 {
  const room = n - 1 - off;
  return room < 0 ? lo : max(lo, min(out, room / s + 1));
}

@inline function zero(d: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(d + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(d + (<usize>i << 2), 0);
}

/** Patches of one image slice: x [C, H, W] → cols [C·KH·KW, OH·OW] (geometry from the CONV descriptor). */
export function im2col(x: usize, cols: usize): void {
  const C = convField(V_C), H = convField(V_H), W = convField(V_W);
  const KH = convField(V_KH), KW = convField(V_KW), SH = convField(V_SH), SW = convField(V_SW);
  const PH = convField(V_PH), PW = convField(V_PW), DH = convField(V_DH), DW = convField(V_DW);
  const OH = convField(V_OH), OW = convField(V_OW);
  let d = cols;
  for (let c = 0; c < C; c++) {
    for (let ki = 0; ki < KH; ki++) {
      for (let kj = 0; kj < KW; kj++) {
        const off = kj * DW - PW;
        const lo = firstValid(off, SW, OW);
        const hi = endValid(off, SW, W, OW, lo);
        for (let oy = 0; oy < OH; oy++) {
          const iy = oy * SH - PH + ki * DH;
          if (iy < 0 || iy >= H) {
            zero(d, OW);
          } else {
            const xrow = x + ((<usize>(c * H + iy) * W) << 2);
            zero(d, lo);
            if (SW == 1) {
              const s = xrow + (<usize>(lo + off) << 2);
              const n = hi - lo;
              const dd = d + (<usize>lo << 2);
              let i = 0;
              for (; i + 4 <= n; i += 4) v128.store(dd + (<usize>i << 2), v128.load(s + (<usize>i << 2)));
              for (; i < n; i++) store<f32>(dd + (<usize>i << 2), load<f32>(s + (<usize>i << 2)));
            } else {
              for (let ox = lo; ox < hi; ox++) {
                store<f32>(d + (<usize>ox << 2), load<f32>(xrow + (<usize>(ox * SW + off) << 2)));
              }
            }
            zero(d + (<usize>hi << 2), OW - hi);
          }
          d += <usize>OW << 2;
        }
      }
    }
  }
}

/** Adjoint of im2col: adds cols [C·KH·KW, OH·OW] into dx [C, H, W], rows in order. */
export function col2im(cols: usize, dx: usize): void {
  const C = convField(V_C), H = convField(V_H), W = convField(V_W);
  const KH = convField(V_KH), KW = convField(V_KW), SH = convField(V_SH), SW = convField(V_SW);
  const PH = convField(V_PH), PW = convField(V_PW), DH = convField(V_DH), DW = convField(V_DW);
  const OH = convField(V_OH), OW = convField(V_OW);
  let s = cols;
  for (let c = 0; c < C; c++) {
    for (let ki = 0; ki < KH; ki++) {
      for (let kj = 0; kj < KW; kj++) {
        const off = kj * DW - PW;
        const lo = firstValid(off, SW, OW);
        const hi = endValid(off, SW, W, OW, lo);
        for (let oy = 0; oy < OH; oy++) {
          const iy = oy * SH - PH + ki * DH;
          if (iy >= 0 && iy < H) {
            const xrow = dx + ((<usize>(c * H + iy) * W) << 2);
            if (SW == 1) {
              const d = xrow + (<usize>(lo + off) << 2);
              const ss = s + (<usize>lo << 2);
              const n = hi - lo;
              let i = 0;
              for (; i + 4 <= n; i += 4) {
                const o = <usize>i << 2;
                v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(ss + o)));
              }
              for (; i < n; i++) {
                const o = <usize>i << 2;
                store<f32>(d + o, load<f32>(d + o) + load<f32>(ss + o));
              }
            } else {
              for (let ox = lo; ox < hi; ox++) {
                const p = xrow + (<usize>(ox * SW + off) << 2);
                store<f32>(p, load<f32>(p) + load<f32>(s + (<usize>ox << 2)));
              }
            }
          }
          s += <usize>OW << 2;
        }
      }
    }
  }
}

/** Task t of IM2COL: the patches of image t. */
export function im2colTask(t: i32): void {
  im2col(
    <usize>convField(V_X) + ((<usize>t * convField(V_XB)) << 2),
    <usize>convField(V_COLS) + ((<usize>t * convField(V_COLSB)) << 2),
  );
}

/** Task t of COL2IM: dx of image t (its group's channels) = col2im of its patches. */
export function col2imTask(t: i32): void {
  const dx = <usize>convField(V_Y) + ((<usize>t * convField(V_YB)) << 2);
  zero(dx, convField(V_C) * convField(V_H) * convField(V_W));
  col2im(<usize>convField(V_COLS) + ((<usize>t * convField(V_COLSB)) << 2), dx);
}

/** Task t of BIAS_ADD: y[t][ch][:] += bias[ch] for the CH channels at V_Y. */
export function biasAddTask(t: i32): void {
  const L = convField(V_OH) * convField(V_OW);
  const bias = <usize>convField(V_BIAS);
  let y = <usize>convField(V_Y) + ((<usize>t * convField(V_YB)) << 2);
  for (let ch = 0; ch < convField(V_CH); ch++) {
    const b = f32x4.splat(load<f32>(bias + (<usize>ch << 2)));
    let i = 0;
    for (; i + 4 <= L; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), b));
    }
    for (; i < L; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, load<f32>(y + o) + f32x4.extract_lane(b, 0));
    }
    y += <usize>L << 2;
  }
}

/** Task t of BIAS_GRAD: dbias[t] = Σ over images and positions of dy[b][t][:], in f64, images in order. */
export function biasGradTask(t: i32): void {
  const L = convField(V_OH) * convField(V_OW);
  const yb = convField(V_YB);
  const dy = <usize>convField(V_Y) + ((<usize>t * L) << 2);
  let s: f64 = 0;
  for (let b = 0; b < convField(V_NB); b++) s += reduceSum(dy + ((<usize>b * yb) << 2), L);
  store<f32>(<usize>convField(V_BIAS) + (<usize>t << 2), <f32>s);
}
