// Shared SIMD helpers: multiply-add (fused under relaxed SIMD), a vector exp, and the argmin of 16 distances.

/** c + a·b, one rounding with relaxed SIMD (f32x4.relaxed_madd), two otherwise. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Lane-wise e^x (Cephes-style range reduction, max relative error about 2e-7); 0 below -87.3, NaN stays NaN. */
@inline export function expV(x: v128): v128 {
  const lo = f32x4.splat(-87.3);
  // pmax/pmin (one instruction each; NaN in x stays NaN: every comparison with it is false).
  const t = f32x4.pmin(f32x4.pmax(x, lo), f32x4.splat(88.3));
  const n = f32x4.nearest(f32x4.mul(t, f32x4.splat(1.44269504)));
  let r = madd(n, f32x4.splat(-0.693359375), t);
  r = madd(n, f32x4.splat(2.12194440e-4), r);
  let p = f32x4.splat(1.9875691500e-4);
  p = madd(p, r, f32x4.splat(1.3981999507e-3));
  p = madd(p, r, f32x4.splat(8.3334519073e-3));
  p = madd(p, r, f32x4.splat(4.1665795894e-2));
  p = madd(p, r, f32x4.splat(1.6666665459e-1));
  p = madd(p, r, f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(madd(p, f32x4.mul(r, r), r), f32x4.splat(1));
  // 2^n: n + 127 + 2^23 holds n + 127 (1..254) in its low mantissa bits; shifted to the exponent field.
  const scale = i32x4.shl(f32x4.add(n, f32x4.splat(8388735)), 23);
  const e = f32x4.mul(y, scale);
  // Underflow to exactly 0 (also for -Infinity); NaN compares false and stays NaN.
  return v128.andnot(e, f32x4.lt(x, lo));
}

/** Index of the first smallest lane of d0..d3 (centroids 0-3, 4-7, 8-11, 12-15), or -1 when the minimum is not finite. */
@inline export function argmin16(d0: v128, d1: v128, d2: v128, d3: v128): i32 {
  // pmin is one minps; a NaN distance can only come with NaN/Inf input, where no distance is finite (flagged by callers).
  let m = f32x4.pmin(f32x4.pmin(d0, d1), f32x4.pmin(d2, d3));
  m = f32x4.pmin(m, v128.shuffle<f32>(m, m, 2, 3, 0, 1));
  m = f32x4.pmin(m, v128.shuffle<f32>(m, m, 1, 0, 3, 2));
  if (!(f32x4.extract_lane(m, 0) < Infinity)) return -1;
  const e01 = i16x8.narrow_i32x4_s(f32x4.eq(d0, m), f32x4.eq(d1, m));
  const e23 = i16x8.narrow_i32x4_s(f32x4.eq(d2, m), f32x4.eq(d3, m));
  return ctz(i8x16.bitmask(i8x16.narrow_i16x8_s(e01, e23)));
}
