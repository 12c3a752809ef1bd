// Plain TypeScript twins of the transformer kernels (assembly/rt-transformer.ts): softmax rows, layer norm rows, GELU,
// broadcasting binary ops, strided copies, means over an axis. Each rounds exactly as the plain SIMD build does (f32 after
// every f32 operation, the same lane order for sums), so tests compare them bit for bit; the relaxed build fuses a·b + c.

const f = Math.fround;

/** f32x4.nearest: round to the nearest integer, ties to even. */
function nearestEven(v: number): number {
  const r = Math.round(v); // ties go up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const EXP_LO = f(-87.3);
const EXP_HI = f(88.3);
const LOG2E = f(1.44269504);
const LN2_HI = f(-0.693359375);
const LN2_LO = f(2.12194440e-4);
const EXP_P = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].map(f);

/** One lane of assembly/math.ts expV (plain build: c + a·b rounded twice). */
export function expRef(x: number): number {
  const t = Math.min(Math.max(x, EXP_LO), EXP_HI);
  const n = nearestEven(f(t * LOG2E));
  let r = f(t + f(n * LN2_HI));
  r = f(r + f(n * LN2_LO));
  let p = EXP_P[0];
  for (let i = 1; i < EXP_P.length; i++) p = f(EXP_P[i] + f(p * r));
  const y = f(f(r + f(p * f(r * r))) + 1);
  const e = Number.isNaN(n) ? y : f(y * 2 ** n);
  return x < EXP_LO ? 0 : e;
}

/** rtSoftmaxRows: y = softmax(x·scale) per row of `cols` (scale null: no product), f32 sums in four lanes. */
export function softmaxRowsRef(x: Float32Array, y: Float32Array, rows: number, cols: number, scale: number | null): void {
  const s32 = scale === null ? 0 : f(scale);
  const v = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let i = 0; i < cols; i++) {
      v[i] = scale === null ? x[o + i] : f(x[o + i] * s32);
      m = Math.max(m, v[i]);
    }
    if (m === -Infinity) m = 0;
    const lanes = [0, 0, 0, 0];
    const body = cols - (cols % 4);
    let s = 0;
    for (let i = 0; i < cols; i++) {
      const e = expRef(f(v[i] - m));
      y[o + i] = e;
      if (i < body) lanes[i % 4] = f(lanes[i % 4] + e);
    }
    s = f(f(lanes[0] + lanes[1]) + f(lanes[2] + lanes[3]));
    for (let i = body; i < cols; i++) s = f(s + y[o + i]);
    const inv = f(1 / s);
    for (let i = 0; i < cols; i++) y[o + i] = f(y[o + i] * inv);
  }
}

/** Σ over four f64 lanes (elements 4j, 4j+1 | 4j+2, 4j+3 of the body), added pairwise, then the tail in order. */
function laneSum64(n: number, term: (i: number) => number): number {
  const a = [0, 0, 0, 0];
  const body = n - (n % 4);
  for (let i = 0; i < body; i++) a[i % 4] += term(i);
  let s = (a[0] + a[1]) + (a[2] + a[3]);
  for (let i = body; i < n; i++) s += term(i);
  return s;
}

/** rtLayerNormRows: f32((x − μ)·s·γ + β) per row of D, statistics in float64 (γ, β null: absent). */
export function layerNormRowsRef(x: Float32Array, y: Float32Array, rows: number, D: number, gamma: Float32Array | null, beta: Float32Array | null, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * D;
    const mu = laneSum64(D, (i) => x[o + i]) / D;
    const q = laneSum64(D, (i) => (x[o + i] - mu) * (x[o + i] - mu));
    const is = 1 / Math.sqrt(q / D + eps);
    for (let i = 0; i < D; i++) {
      let v = (x[o + i] - mu) * is;
      if (gamma) v *= gamma[i];
      if (beta) v += beta[i];
      y[o + i] = v;
    }
  }
}

const ERFC_Q = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368].map(f);
const NEG_SQRT1_2 = f(-Math.SQRT1_2);
const ERFC_C = f(1.26551223);
const GELU_C = f(0.044715);
const GELU_2K = f(2 * Math.sqrt(2 / Math.PI));

/** One lane of the kernel's exact GELU: 0.5·x·erfc(−x/√2), erfc as Numerical Recipes' erfcc in f32. */
export function geluErfRef(v: number): number {
  const a = f(v * NEG_SQRT1_2);
  const z = Math.abs(a);
  const t = f(1 / f(1 + f(z * 0.5)));
  let q = ERFC_Q[0];
  for (let i = 1; i < ERFC_Q.length; i++) q = f(ERFC_Q[i] + f(q * t));
  const u = f(f(-z * z) - ERFC_C);
  const r = f(t * expRef(f(u + f(t * q))));
  const erfc = a < 0 ? f(2 - r) : r;
  return f(f(v * 0.5) * erfc);
}

/** One lane of the kernel's tanh GELU: x·sigmoid(w), w = 2·√(2/π)·(x + 0.044715·x³), e = exp(−|w|) as the engine. */
export function geluTanhRef(v: number): number {
  const v3 = f(f(v * v) * v);
  const w = f(f(v + f(v3 * GELU_C)) * GELU_2K);
  const e = expRef(-Math.abs(w));
  return f(v * f((w < 0 ? e : 1) / f(1 + e)));
}

/** rtGelu: mode 'none' (erf) or 'tanh'. */
export function geluRef(x: Float32Array, y: Float32Array, mode: 'none' | 'tanh'): void {
  const g = mode === 'none' ? geluErfRef : geluTanhRef;
  for (let i = 0; i < x.length; i++) y[i] = g(x[i]);
}

/** Binary op codes of rtBinary. */
export const BINARY_OPS = { add: 0, sub: 1, mul: 2, div: 3, rsub: 4, rdiv: 5 } as const;
export type BinaryOp = keyof typeof BINARY_OPS;

/** rtBinary: y[r][i] = a[r][i] ∘ b, with b per element ('same'), one row for all rows ('row') or a scalar. */
export function binaryRef(a: Float32Array, b: Float32Array, y: Float32Array, rows: number, cols: number, mode: 'same' | 'row' | 'scalar', op: BinaryOp): void {
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < cols; i++) {
      const u = a[r * cols + i];
      const v = mode === 'same' ? b[r * cols + i] : mode === 'row' ? b[i] : b[0];
      let z: number;
      switch (op) {
        case 'add': z = u + v; break;
        case 'sub': z = u - v; break;
        case 'mul': z = u * v; break;
        case 'div': z = u / v; break;
        case 'rsub': z = v - u; break;
        default: z = v / u;
      }
      y[r * cols + i] = z;
    }
  }
}

/** rtPermute: y (contiguous [nb][d0][d1][d2][d3]) from x at n·inSample + Σ i_k·s_k. */
export function permuteRef(x: Float32Array, y: Float32Array, nb: number, inSample: number, d: readonly number[], s: readonly number[]): void {
  let q = 0;
  for (let n = 0; n < nb; n++)
    for (let i0 = 0; i0 < d[0]; i0++)
      for (let i1 = 0; i1 < d[1]; i1++)
        for (let i2 = 0; i2 < d[2]; i2++)
          for (let i3 = 0; i3 < d[3]; i3++) y[q++] = x[n * inSample + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3]];
}

/** rtMeanAxis: y [outer, inner] = f32(Σ_t x[o][t][j] · scale) with float64 sums in t order. */
export function meanAxisRef(x: Float32Array, y: Float32Array, outer: number, n: number, inner: number, scale: number): void {
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += x[(o * n + t) * inner + j];
      y[o * inner + j] = s * scale;
    }
}
