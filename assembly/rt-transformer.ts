// Inference-runtime kernels for transformer graphs: softmax rows (with a fused pre-scale), layer norm rows, GELU (erf and
// tanh forms), broadcasting binary ops, strided copies (materialized transposes) and means over an axis.
// Pointer-level, single-threaded, no allocation; the TypeScript plan validates every size. Twins: src/runtime/transformer-kernels-ref.ts.
import { expV, madd } from './math';

/**
 * Softmax of each of `rows` rows of `cols` values, y may alias x: v = x·scale (when hasScale, one f32 product, as a Mul
 * node before the Softmax), then e = exp(v − max v) (expV), y = e · (1/Σe) with the sum in four f32 lanes. A row whose
 * max is −∞ is computed with max 0, as src/ops/softmax.ts does (then 0·(1/0) = NaN, as there).
 */
export function rtSoftmaxRows(x: usize, y: usize, rows: i32, cols: i32, scale: f32, hasScale: i32): void {
  const row = <usize>cols << 2;
  const sv = f32x4.splat(scale);
  for (let r = 0; r < rows; r++) {
    // Pass 1: the scaled values into y, and their max.
    let mv = f32x4.splat(-Infinity);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      let v = v128.load(x + o);
      if (hasScale) {
        v = f32x4.mul(v, sv);
        v128.store(y + o, v);
      }
      mv = f32x4.max(mv, v);
    }
    let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      let v = load<f32>(x + o);
      if (hasScale) {
        v = v * scale;
        store<f32>(y + o, v);
      }
      m = max(m, v);
    }
    if (m == -Infinity) m = 0;
    const src = hasScale ? y : x;
    // Pass 2: exponentials and their sum.
    const mm = f32x4.splat(m);
    let acc = f32x4.splat(0);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const e = expV(f32x4.sub(v128.load(src + o), mm));
      v128.store(y + o, e);
      acc = f32x4.add(acc, e);
    }
    let s = (f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1)) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      const e = f32x4.extract_lane(expV(f32x4.splat(load<f32>(src + o) - m)), 0);
      store<f32>(y + o, e);
      s += e;
    }
    // Pass 3: normalise.
    const inv: f32 = <f32>1 / s;
    const iv = f32x4.splat(inv);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(y + o), iv));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, load<f32>(y + o) * inv);
    }
    x += row;
    y += row;
  }
}

/** Four f32 lanes of v widened to two f64x2 halves. */
@inline function lo64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}
@inline function hi64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
}

/**
 * Layer norm of each of `rows` rows of D values, y may alias x, in float64 as src/ops/norm.ts: mean μ = Σx/D, variance
 * Σ(x − μ)²/D, s = 1/√(var + eps), y = f32((x − μ)·s·γ + β) (γ, β [D] or 0 for absent). The sums run in four f64
 * lanes (elements 4j, 4j+1 | 4j+2, 4j+3) added pairwise, then the tail in order; everything else is per element.
 */
export function rtLayerNormRows(x: usize, y: usize, rows: i32, D: i32, gamma: usize, beta: usize, eps: f64): void {
  const row = <usize>D << 2;
  const dd = <f64>D;
  for (let r = 0; r < rows; r++) {
    let a0 = f64x2.splat(0);
    let a1 = a0;
    let i = 0;
    for (; i + 4 <= D; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      a0 = f64x2.add(a0, lo64(v));
      a1 = f64x2.add(a1, hi64(v));
    }
    let s = (f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1)) + (f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1));
    for (; i < D; i++) s += <f64>load<f32>(x + (<usize>i << 2));
    const mu = s / dd;
    const m2 = f64x2.splat(mu);
    a0 = f64x2.splat(0);
    a1 = a0;
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const v = v128.load(x + (<usize>i << 2));
      const d0 = f64x2.sub(lo64(v), m2);
      const d1 = f64x2.sub(hi64(v), m2);
      a0 = f64x2.add(a0, f64x2.mul(d0, d0));
      a1 = f64x2.add(a1, f64x2.mul(d1, d1));
    }
    let q = (f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1)) + (f64x2.extract_lane(a1, 0) + f64x2.extract_lane(a1, 1));
    for (; i < D; i++) {
      const d = <f64>load<f32>(x + (<usize>i << 2)) - mu;
      q += d * d;
    }
    const is = 1 / Math.sqrt(q / dd + eps);
    const s2 = f64x2.splat(is);
    i = 0;
    for (; i + 4 <= D; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      let l = f64x2.mul(f64x2.sub(lo64(v), m2), s2);
      let h = f64x2.mul(f64x2.sub(hi64(v), m2), s2);
      if (gamma != 0) {
        const g = v128.load(gamma + o);
        l = f64x2.mul(l, lo64(g));
        h = f64x2.mul(h, hi64(g));
      }
      if (beta != 0) {
        const b = v128.load(beta + o);
        l = f64x2.add(l, lo64(b));
        h = f64x2.add(h, hi64(b));
      }
      v128.store(y + o, v128.shuffle<f32>(f32x4.demote_f64x2_zero(l), f32x4.demote_f64x2_zero(h), 0, 1, 4, 5));
    }
    for (; i < D; i++) {
      const o = <usize>i << 2;
      let v = (<f64>load<f32>(x + o) - mu) * is;
      if (gamma != 0) v *= <f64>load<f32>(gamma + o);
      if (beta != 0) v += <f64>load<f32>(beta + o);
      store<f32>(y + o, <f32>v);
    }
    x += row;
    y += row;
  }
}

/** 0.5·x·erfc(−x/√2) (x·Φ(x)) with the erfc of src/ops/unary.ts (Numerical Recipes' erfcc) in f32 lanes. */
@inline function geluErfV(v: v128): v128 {
  const a = f32x4.mul(v, f32x4.splat(<f32>-0.7071067811865476));
  const z = f32x4.abs(a);
  const t = f32x4.div(f32x4.splat(1), madd(z, f32x4.splat(0.5), f32x4.splat(1)));
  let q = f32x4.splat(0.17087277);
  q = madd(q, t, f32x4.splat(-0.82215223));
  q = madd(q, t, f32x4.splat(1.48851587));
  q = madd(q, t, f32x4.splat(-1.13520398));
  q = madd(q, t, f32x4.splat(0.27886807));
  q = madd(q, t, f32x4.splat(-0.18628806));
  q = madd(q, t, f32x4.splat(0.09678418));
  q = madd(q, t, f32x4.splat(0.37409196));
  q = madd(q, t, f32x4.splat(1.00002368));
  const u = f32x4.sub(f32x4.mul(f32x4.neg(z), z), f32x4.splat(1.26551223));
  const r = f32x4.mul(t, expV(madd(t, q, u)));
  // erfc(a) = r for a >= 0, 2 − r otherwise (a NaN keeps r, which is NaN).
  const erfc = v128.bitselect(f32x4.sub(f32x4.splat(2), r), r, f32x4.lt(a, f32x4.splat(0)));
  return f32x4.mul(f32x4.mul(v, f32x4.splat(0.5)), erfc);
}

/**
 * x·sigmoid(w), w = 2·√(2/π)·(x + 0.044715·x³): PyTorch's tanh approximation (0.5·(1 + tanh u) = sigmoid 2u). As the
 * engine's sigmoid: e = exp(−|w|) (never overflows), sigmoid = 1/(1 + e) for w >= 0, e/(1 + e) otherwise.
 */
@inline function geluTanhV(v: v128): v128 {
  const v3 = f32x4.mul(f32x4.mul(v, v), v);
  const w = f32x4.mul(madd(v3, f32x4.splat(0.044715), v), f32x4.splat(<f32>1.5957691216057308));
  const e = expV(f32x4.neg(f32x4.abs(w)));
  const num = v128.bitselect(e, f32x4.splat(1), f32x4.lt(w, f32x4.splat(0)));
  return f32x4.mul(v, f32x4.div(num, f32x4.add(f32x4.splat(1), e)));
}

/** y = gelu(x) for n floats (y may alias x); mode 0: exact (erf) form, 1: tanh approximation. */
export function rtGelu(x: usize, y: usize, n: i32, mode: i32): void {
  let i = 0;
  if (mode == 0) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, geluErfV(v128.load(x + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, f32x4.extract_lane(geluErfV(f32x4.splat(load<f32>(x + o))), 0));
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, geluTanhV(v128.load(x + o)));
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, f32x4.extract_lane(geluTanhV(f32x4.splat(load<f32>(x + o))), 0));
    }
  }
}

/** One binary op on lanes: 0 a + b, 1 a − b, 2 a · b, 3 a / b, 4 b − a, 5 b / a. */
@inline function binV(a: v128, b: v128, op: i32): v128 {
  switch (op) {
    case 0: return f32x4.add(a, b);
    case 1: return f32x4.sub(a, b);
    case 2: return f32x4.mul(a, b);
    case 3: return f32x4.div(a, b);
    case 4: return f32x4.sub(b, a);
    default: return f32x4.div(b, a);
  }
}

@inline function bin1(a: f32, b: f32, op: i32): f32 {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return b - a;
    default: return b / a;
  }
}

/**
 * y[r][i] = a[r][i] ∘ b(r, i) over `rows` rows of `cols` floats (y may alias a, or b when bMode is 0), one IEEE f32
 * operation each (op as binV). bMode 0: b[r][i] (same shape), 1: b[i] (one row for every row), 2: b[0] (a scalar).
 */
export function rtBinary(a: usize, b: usize, y: usize, rows: i32, cols: i32, bMode: i32, op: i32): void {
  const row = <usize>cols << 2;
  const bs = f32x4.splat(load<f32>(b));
  for (let r = 0; r < rows; r++) {
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const bv = bMode == 2 ? bs : v128.load(b + o);
      v128.store(y + o, binV(v128.load(a + o), bv, op));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      const bv: f32 = bMode == 2 ? load<f32>(b) : load<f32>(b + o);
      store<f32>(y + o, bin1(load<f32>(a + o), bv, op));
    }
    a += row;
    y += row;
    if (bMode == 0) b += row;
  }
}

/**
 * A strided copy (a transpose made contiguous): for nb samples, y (contiguous, d0·d1·d2·d3 floats per sample) gets
 * y[n][i0][i1][i2][i3] = x[n·inSample + i0·s0 + i1·s1 + i2·s2 + i3·s3] (strides in floats). y must not overlap x.
 */
export function rtPermute(x: usize, y: usize, nb: i32, inSample: i32, d0: i32, d1: i32, d2: i32, d3: i32, s0: i32, s1: i32, s2: i32, s3: i32): void {
  let q = y;
  for (let n = 0; n < nb; n++) {
    const xn = x + ((<usize>n * <usize>inSample) << 2);
    for (let i0 = 0; i0 < d0; i0++) {
      for (let i1 = 0; i1 < d1; i1++) {
        for (let i2 = 0; i2 < d2; i2++) {
          const src = xn + ((<usize>i0 * s0 + <usize>i1 * s1 + <usize>i2 * s2) << 2);
          if (s3 == 1) {
            memory.copy(q, src, <usize>d3 << 2);
            q += <usize>d3 << 2;
          } else {
            let p = src;
            const step = <usize>s3 << 2;
            for (let i3 = 0; i3 < d3; i3++) {
              store<f32>(q, load<f32>(p));
              p += step;
              q += 4;
            }
          }
        }
      }
    }
  }
}

/**
 * Means over the middle axis of x [outer, n, inner] → y [outer, inner], as src/ops/reduce.ts sums: each output's
 * float64 sum runs over the n values in order, then y = f32(sum · scale) (scale = 1/n, computed by the caller).
 */
export function rtMeanAxis(x: usize, y: usize, outer: i32, n: i32, inner: i32, scale: f64): void {
  const sc = f64x2.splat(scale);
  const rowB = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    const xo = x + <usize>o * <usize>n * rowB;
    const yo = y + <usize>o * rowB;
    let j = 0;
    for (; j + 4 <= inner; j += 4) {
      let a0 = f64x2.splat(0);
      let a1 = a0;
      let p = xo + (<usize>j << 2);
      for (let t = 0; t < n; t++) {
        const v = v128.load(p);
        a0 = f64x2.add(a0, lo64(v));
        a1 = f64x2.add(a1, hi64(v));
        p += rowB;
      }
      const l = f64x2.mul(a0, sc);
      const h = f64x2.mul(a1, sc);
      v128.store(yo + (<usize>j << 2), v128.shuffle<f32>(f32x4.demote_f64x2_zero(l), f32x4.demote_f64x2_zero(h), 0, 1, 4, 5));
    }
    for (; j < inner; j++) {
      let s: f64 = 0;
      let p = xo + (<usize>j << 2);
      for (let t = 0; t < n; t++) {
        s += <f64>load<f32>(p);
        p += rowB;
      }
      store<f32>(yo + (<usize>j << 2), <f32>(s * scale));
    }
  }
}
