// Shared SIMD helpers: multiply-add (fused under relaxed SIMD) and a vector exp.

/** c + a·b, one rounding with relaxed SIMD (f32x4.relaxed_madd), two otherwise. */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** Lane-wise e^x (Cephes-style range reduction, max relative error about 2e-7); 0 below -87.3, NaN stays NaN. */
@inline export function expV(x: v128): v128 {
  const lo = f32x4.splat(-87.3);
  const t = f32x4.min(f32x4.max(x, lo), f32x4.splat(88.3));
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
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  const e = f32x4.mul(y, scale);
  // Underflow to exactly 0 (also for -Infinity); NaN compares false and stays NaN.
  return v128.andnot(e, f32x4.lt(x, lo));
}
