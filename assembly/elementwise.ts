// Elementwise and reduction kernels over f32 arrays in memory: f32x4 main loops, scalar tails.
import { expV, madd } from './math';

/** y = max(x, 0). y may alias x. */
export function relu(x: usize, y: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.max(v128.load(x + o), z));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, max(load<f32>(x + o), 0));
  }
}

/** dx = x > 0 ? dy : 0 (the gradient of relu). dx may alias dy. */
export function reluBackward(x: usize, dy: usize, dx: usize, n: i32): void {
  const z = f32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dx + o, v128.and(v128.load(dy + o), f32x4.gt(v128.load(x + o), z)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(x + o) > 0 ? load<f32>(dy + o) : 0);
  }
}

/** y = a + b. */
export function add(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** y = a · b. */
export function mul(a: usize, b: usize, y: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/** y += alpha · x. */
export function axpy(alpha: f32, x: usize, y: usize, n: i32): void {
  scaleShiftAdd(x, y, n, alpha, y);
}

/** y = x · scale + shift. */
export function scaleShift(x: usize, y: usize, n: i32, scale: f32, shift: f32): void {
  const s = f32x4.splat(scale);
  const t = f32x4.splat(shift);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(v128.load(x + o), s, t));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(madd(f32x4.splat(load<f32>(x + o)), s, t), 0));
  }
}

/** y[i] = x[i] · scale + base[i] (axpy with base = y). */
function scaleShiftAdd(x: usize, y: usize, n: i32, scale: f32, base: usize): void {
  const s = f32x4.splat(scale);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, madd(v128.load(x + o), s, v128.load(base + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = madd(f32x4.splat(load<f32>(x + o)), s, f32x4.splat(load<f32>(base + o)));
    store<f32>(y + o, f32x4.extract_lane(v, 0));
  }
}

/** Batch-norm style affine over x [nb, C, hw]: y[b][c][i] = x[b][c][i] · scale[c] + shift[c]. */
export function channelAffine(x: usize, y: usize, nb: i32, C: i32, hw: i32, scale: usize, shift: usize): void {
  const row = <usize>hw << 2;
  for (let b = 0; b < nb; b++) {
    for (let c = 0; c < C; c++) {
      const o = <usize>c << 2;
      scaleShift(x, y, hw, load<f32>(scale + o), load<f32>(shift + o));
      x += row;
      y += row;
    }
  }
}

/** Σ x, accumulated in f64 (two f64x2 accumulators). */
export function reduceSum(x: usize, n: i32): f64 {
  let a0 = f64x2.splat(0);
  let a1 = a0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    a0 = f64x2.add(a0, f64x2.promote_low_f32x4(v));
    a1 = f64x2.add(a1, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1)));
  }
  const a = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  for (; i < n; i++) s += <f64>load<f32>(x + (<usize>i << 2));
  return s;
}

/** Σ x², accumulated in f64. */
export function reduceSumSquares(x: usize, n: i32): f64 {
  let a0 = f64x2.splat(0);
  let a1 = a0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v);
    const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    a0 = f64x2.add(a0, f64x2.mul(lo, lo));
    a1 = f64x2.add(a1, f64x2.mul(hi, hi));
  }
  const a = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  for (; i < n; i++) {
    const v = <f64>load<f32>(x + (<usize>i << 2));
    s += v * v;
  }
  return s;
}

/** max x (-Infinity for n = 0, NaN if any element is NaN). */
export function reduceMax(x: usize, n: i32): f32 {
  let m = f32x4.splat(-Infinity);
  let i = 0;
  for (; i + 4 <= n; i += 4) m = f32x4.max(m, v128.load(x + (<usize>i << 2)));
  let s = max(max(f32x4.extract_lane(m, 0), f32x4.extract_lane(m, 1)), max(f32x4.extract_lane(m, 2), f32x4.extract_lane(m, 3)));
  for (; i < n; i++) s = max(s, load<f32>(x + (<usize>i << 2)));
  return s;
}

/** Row-wise softmax of x [rows, cols] into y (may alias x): exp(x - max) / Σ exp(x - max). */
export function softmaxRows(x: usize, y: usize, rows: i32, cols: i32): void {
  const row = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const m = f32x4.splat(reduceMax(x, cols));
    let acc = f32x4.splat(0);
    let i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      const e = expV(f32x4.sub(v128.load(x + o), m));
      v128.store(y + o, e);
      acc = f32x4.add(acc, e);
    }
    let s = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      const e = f32x4.extract_lane(expV(f32x4.sub(f32x4.splat(load<f32>(x + o)), m)), 0);
      store<f32>(y + o, e);
      s += e;
    }
    const inv = f32x4.splat(<f32>1 / s);
    i = 0;
    for (; i + 4 <= cols; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(y + o), inv));
    }
    for (; i < cols; i++) {
      const o = <usize>i << 2;
      store<f32>(y + o, load<f32>(y + o) * (<f32>1 / s));
    }
    x += row;
    y += row;
  }
}
