// Scalar-quantized layer kernels of the runtime (QConv, QLinear): activations quantized to int16 lanes, int16 weights,
// exact int32 dot products (i32x4.dot_i16x8_s), then y = f32(f32(acc·scale) + shift) and ReLU per output channel.
// Twin: src/runtime/quant-kernels-ref.ts. Pointer-level, no allocation, no traps (NaN inputs are reported, not trapped).

/**
 * xq[r][k] = clamp(nearest(x[r][k] / scale), lo, hi) as int16 for `rows` rows of K floats, each written into a row of
 * Kp int16 (Kp ≥ K) whose tail K..Kp is zeroed. nearest is round-half-to-even (as the engine's roundHalfEven); the
 * division is float32 (as the engine's fround(x / scale)). Returns the index (r·K + k) of the first NaN, or −1
 * (a NaN is written as 0).
 */
export function rtQuantizeRows(x: usize, q: usize, rows: i32, K: i32, Kp: i32, scale: f32, lo: f32, hi: f32): i32 {
  const s = f32x4.splat(scale);
  const vlo = f32x4.splat(lo);
  const vhi = f32x4.splat(hi);
  let bad = -1;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * K) << 2);
    const qr = q + ((<usize>r * Kp) << 1);
    let nan = i32x4.splat(0);
    let k = 0;
    for (; k + 8 <= K; k += 8) {
      const a = f32x4.div(v128.load(xr + (<usize>k << 2)), s);
      const b = f32x4.div(v128.load(xr + (<usize>k << 2), 16), s);
      nan = v128.or(nan, v128.or(f32x4.ne(a, a), f32x4.ne(b, b)));
      // max/min order: a NaN lane stays NaN, then trunc_sat makes it 0 (reported below).
      const ia = i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.max(f32x4.nearest(a), vlo), vhi));
      const ib = i32x4.trunc_sat_f32x4_s(f32x4.min(f32x4.max(f32x4.nearest(b), vlo), vhi));
      v128.store(qr + (<usize>k << 1), i16x8.narrow_i32x4_s(ia, ib));
    }
    for (; k < K; k++) {
      const v: f32 = load<f32>(xr + (<usize>k << 2)) / scale;
      if (v != v) {
        if (bad < 0) bad = r * K + k;
        store<i16>(qr + (<usize>k << 1), 0);
        continue;
      }
      store<i16>(qr + (<usize>k << 1), <i16><i32>min(max(nearest<f32>(v), lo), hi));
    }
    for (; k < Kp; k++) store<i16>(qr + (<usize>k << 1), 0);
    if (bad < 0 && v128.any_true(nan)) {
      for (let j = 0; j < K; j++) {
        const v = load<f32>(xr + (<usize>j << 2));
        if (v != v) {
          bad = r * K + j;
          break;
        }
      }
    }
  }
  return bad;
}

/**
 * Patches of nb quantized images: xq [nb][C][H][W] int16 → rows [nb·OH·OW][Kp] int16, row (b, oy, ox), columns in
 * (c, ki, kj) order (the weight's [Cout][Cin][kh][kw] order), padded positions and the tail D..Kp zero. Reads up to
 * 16 bytes past the end of xq and writes up to 16 bytes past the end of rows: both need that much slack.
 */
export function rtQIm2row(xq: usize, rows: usize, nb: i32, C: i32, H: i32, W: i32, KH: i32, KW: i32, SH: i32, SW: i32, PH: i32, PW: i32, DH: i32, DW: i32, OH: i32, OW: i32, Kp: i32): void {
  const D = C * KH * KW;
  let r = rows;
  for (let b = 0; b < nb; b++) {
    const xb = xq + ((<usize>b * C * H * W) << 1);
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        let q = r;
        for (let c = 0; c < C; c++) {
          const xc = xb + ((<usize>c * H * W) << 1);
          for (let ki = 0; ki < KH; ki++) {
            const iy = oy * SH - PH + ki * DH;
            const inRow = iy >= 0 && iy < H;
            const iyc: i32 = inRow ? iy : 0;
            const xrow = xc + ((<usize>iyc * <usize>W) << 1);
            const ix0 = ox * SW - PW;
            if (inRow && DW == 1 && ix0 >= 0 && ix0 + KW <= W) {
              // Inside the plane: KW adjacent values, no checks; up to 8 as one vector (its extra lanes are
              // overwritten by what follows, or land in the caller's 16 bytes of slack).
              const src = xrow + (<usize>ix0 << 1);
              if (KW <= 8) v128.store(q, v128.load(src));
              else memory.copy(q, src, <usize>KW << 1);
              q += <usize>KW << 1;
              continue;
            }
            if (!inRow) {
              memory.fill(q, 0, <usize>KW << 1);
              q += <usize>KW << 1;
              continue;
            }
            for (let kj = 0; kj < KW; kj++) {
              const ix = ox * SW - PW + kj * DW;
              store<i16>(q, inRow && ix >= 0 && ix < W ? load<i16>(xrow + (<usize>ix << 1)) : 0);
              q += 2;
            }
          }
        }
        for (let k = D; k < Kp; k++) {
          store<i16>(q, 0);
          q += 2;
        }
        r += <usize>Kp << 1;
      }
    }
  }
}

@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** The engine's rounding of one output: f32(f32(acc·s) + t) (the product in float64), then max(·, 0) when relu. */
@inline function qepi(acc: i32, s: f32, t: f32, relu: bool): f32 {
  let v: f32 = <f32>(<f64>acc * <f64>s) + t;
  if (relu) v = max(v, 0);
  return v;
}

/** Output n of a row: y[n·ldn] = qepi(acc, scale[n], shift[n] or 0). */
@inline function put(ym: usize, ldn: i32, n: i32, acc: i32, scale: usize, shift: usize, relu: bool): void {
  const s = load<f32>(scale + (<usize>n << 2));
  const t: f32 = shift != 0 ? load<f32>(shift + (<usize>n << 2)) : 0;
  store<f32>(ym + ((<usize>n * ldn) << 2), qepi(acc, s, t, relu));
}

/**
 * Outputs n..n+3 of a row from their four accumulators at once: the lane sums (exact: int32 wrap-around adds in any
 * order give the true sum when it fits), then qepi in SIMD, lane for lane the same operations as `put`.
 */
@inline function put4(ym: usize, ldn: i32, n: i32, c0: v128, c1: v128, c2: v128, c3: v128, scale: usize, shift: usize, relu: bool): void {
  const s01 = i32x4.add(v128.shuffle<i32>(c0, c1, 0, 4, 1, 5), v128.shuffle<i32>(c0, c1, 2, 6, 3, 7));
  const s23 = i32x4.add(v128.shuffle<i32>(c2, c3, 0, 4, 1, 5), v128.shuffle<i32>(c2, c3, 2, 6, 3, 7));
  const acc = i32x4.add(v128.shuffle<i32>(s01, s23, 0, 1, 4, 5), v128.shuffle<i32>(s01, s23, 2, 3, 6, 7));
  const sc = v128.load(scale + (<usize>n << 2));
  const lo = f64x2.mul(f64x2.convert_low_i32x4_s(acc), f64x2.promote_low_f32x4(sc));
  const hi = f64x2.mul(f64x2.convert_low_i32x4_s(v128.shuffle<i32>(acc, acc, 2, 3, 2, 3)), f64x2.promote_low_f32x4(v128.shuffle<i32>(sc, sc, 2, 3, 2, 3)));
  let v = v128.shuffle<i32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
  v = f32x4.add(v, shift != 0 ? v128.load(shift + (<usize>n << 2)) : f32x4.splat(0));
  if (relu) v = f32x4.max(v, f32x4.splat(0));
  if (ldn == 1) {
    v128.store(ym + (<usize>n << 2), v);
    return;
  }
  const p = ym + ((<usize>n * ldn) << 2);
  const step = <usize>ldn << 2;
  store<f32>(p, f32x4.extract_lane(v, 0));
  store<f32>(p + step, f32x4.extract_lane(v, 1));
  store<f32>(p + 2 * step, f32x4.extract_lane(v, 2));
  store<f32>(p + 3 * step, f32x4.extract_lane(v, 3));
}

/**
 * y[m·ldm + n·ldn] = qepi(Σ_k a[m][k]·w[n][k], scale[n], shift[n]) for M rows a [M][Kp] and N weight rows w [N][Kp]
 * (int16, Kp a multiple of 8, tails zero), exact in int32 (the caller bounds K·max|a|·max|w| < 2^31). shift = 0:
 * no shift. Blocks of two rows of a × four weight rows share their loads.
 */
export function rtQGemm(a: usize, w: usize, y: usize, M: i32, N: i32, Kp: i32, scale: usize, shift: usize, relu: i32, ldm: i32, ldn: i32): void {
  const doRelu = relu != 0;
  const rowBytes = <usize>Kp << 1;
  let m = 0;
  // Two rows of a × four weight rows: 6 loads per 8 dot products.
  for (; m + 2 <= M; m += 2) {
    const a0 = a + <usize>m * rowBytes;
    const a1 = a0 + rowBytes;
    const y0 = y + ((<usize>m * ldm) << 2);
    const y1 = y0 + (<usize>ldm << 2);
    let n = 0;
    for (; n + 4 <= N; n += 4) {
      const w0 = w + <usize>n * rowBytes;
      const w1 = w0 + rowBytes;
      const w2 = w1 + rowBytes;
      const w3 = w2 + rowBytes;
      let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c02 = i32x4.splat(0), c03 = i32x4.splat(0);
      let c10 = i32x4.splat(0), c11 = i32x4.splat(0), c12 = i32x4.splat(0), c13 = i32x4.splat(0);
      for (let k: usize = 0; k < rowBytes; k += 16) {
        const u = v128.load(a0 + k);
        const v = v128.load(a1 + k);
        const b0 = v128.load(w0 + k);
        const b1 = v128.load(w1 + k);
        const b2 = v128.load(w2 + k);
        const b3 = v128.load(w3 + k);
        c00 = i32x4.add(c00, i32x4.dot_i16x8_s(u, b0));
        c01 = i32x4.add(c01, i32x4.dot_i16x8_s(u, b1));
        c02 = i32x4.add(c02, i32x4.dot_i16x8_s(u, b2));
        c03 = i32x4.add(c03, i32x4.dot_i16x8_s(u, b3));
        c10 = i32x4.add(c10, i32x4.dot_i16x8_s(v, b0));
        c11 = i32x4.add(c11, i32x4.dot_i16x8_s(v, b1));
        c12 = i32x4.add(c12, i32x4.dot_i16x8_s(v, b2));
        c13 = i32x4.add(c13, i32x4.dot_i16x8_s(v, b3));
      }
      put4(y0, ldn, n, c00, c01, c02, c03, scale, shift, doRelu);
      put4(y1, ldn, n, c10, c11, c12, c13, scale, shift, doRelu);
    }
    for (; n < N; n++) {
      const wn = w + <usize>n * rowBytes;
      let c0 = i32x4.splat(0);
      let c1 = i32x4.splat(0);
      for (let k: usize = 0; k < rowBytes; k += 16) {
        const b = v128.load(wn + k);
        c0 = i32x4.add(c0, i32x4.dot_i16x8_s(v128.load(a0 + k), b));
        c1 = i32x4.add(c1, i32x4.dot_i16x8_s(v128.load(a1 + k), b));
      }
      put(y0, ldn, n, hsum(c0), scale, shift, doRelu);
      put(y1, ldn, n, hsum(c1), scale, shift, doRelu);
    }
  }
  if (m < M) qRow(a + <usize>m * rowBytes, w, y + ((<usize>m * ldm) << 2), N, rowBytes, scale, shift, doRelu, ldn);
}

/** One row of a against every weight row (the odd last row of rtQGemm): four weight rows per pass. */
function qRow(am: usize, w: usize, ym: usize, N: i32, rowBytes: usize, scale: usize, shift: usize, doRelu: bool, ldn: i32): void {
  let n = 0;
  for (; n + 4 <= N; n += 4) {
    const w0 = w + <usize>n * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let c0 = i32x4.splat(0);
    let c1 = i32x4.splat(0);
    let c2 = i32x4.splat(0);
    let c3 = i32x4.splat(0);
    for (let k: usize = 0; k < rowBytes; k += 16) {
      const av = v128.load(am + k);
      c0 = i32x4.add(c0, i32x4.dot_i16x8_s(av, v128.load(w0 + k)));
      c1 = i32x4.add(c1, i32x4.dot_i16x8_s(av, v128.load(w1 + k)));
      c2 = i32x4.add(c2, i32x4.dot_i16x8_s(av, v128.load(w2 + k)));
      c3 = i32x4.add(c3, i32x4.dot_i16x8_s(av, v128.load(w3 + k)));
    }
    put4(ym, ldn, n, c0, c1, c2, c3, scale, shift, doRelu);
  }
  for (; n < N; n++) {
    const wn = w + <usize>n * rowBytes;
    let c = i32x4.splat(0);
    for (let k: usize = 0; k < rowBytes; k += 16) c = i32x4.add(c, i32x4.dot_i16x8_s(v128.load(am + k), v128.load(wn + k)));
    put(ym, ldn, n, hsum(c), scale, shift, doRelu);
  }
}
