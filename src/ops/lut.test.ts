// Tests of the fused LUT-NN op: table and int8 bounds, exactness, finite differences of the soft path, and the composed oracle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { referenceBackend, setBackend } from '../backend/index.js';
import { ArgumentError, DTypeError, NonFiniteError, ShapeError } from '../errors.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { METRICS, type Metric } from '../backend/metric.js';
import { encode } from '../lut/distance.js';
import { codesComposed, lutForwardComposed } from './lut-composed.js';
import {
  DEFAULT_TEMPERATURE,
  buildLut,
  dequantizedLut,
  encodeRows,
  expNeg,
  inverseSoftplus,
  lutForward,
  quantizeLut,
  softplus,
  temperatureOf,
  thetaForTemperature,
} from './lut.js';

interface Case {
  N: number;
  C: number;
  K: number;
  V: number;
  M: number;
  bias?: boolean;
  /** Scale of x and centroids (small data keeps the softmax soft at low temperature). */
  scale?: number;
  temperature?: number;
  seed?: number;
}

/** [x, centroids, weight, bias|null, theta] as fresh leaves requiring grad. */
function inputs(c: Case): [Tensor, Tensor, Tensor, Tensor | null, Tensor] {
  const rng = new Rng(c.seed ?? 7);
  const s = c.scale ?? 0.5;
  const x = randn([c.N, c.C * c.V], s, rng).requireGrad();
  const P = randn([c.C, c.K, c.V], s, rng).requireGrad();
  const W = randn([c.C, c.V, c.M], 1, rng).requireGrad();
  const b = c.bias === false ? null : randn([c.M], 1, rng).requireGrad();
  const th = new Tensor(Float32Array.of(thetaForTemperature(c.temperature ?? 0.5)), []).requireGrad();
  return [x, P, W, b, th];
}

function fresh(ts: (Tensor | null)[]): (Tensor | null)[] {
  return ts.map((t) => (t ? t.clone().requireGrad() : null));
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Every |got − want| <= atol·max|want| + rtol·|want|; the message names the worst element. */
function assertNear(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = maxAbs(want);
  let worst = -1;
  let worstEx = 0;
  for (let i = 0; i < want.length; i++) {
    const ex = Math.abs(got[i] - want[i]) - (atol * scale + rtol * Math.abs(want[i]));
    if (!(ex <= worstEx)) {
      worstEx = ex;
      worst = i;
    }
  }
  assert.ok(worst < 0, `${what}: worst at [${worst}]: got ${got[worst]}, want ${want[worst]} (max|want| ${scale})`);
}

// ---------------------------------------------------------------- float64 soft reference for finite differences

/** Σ_c Σ_k softmax_k(−dist·β)·lut + bias, all in float64, plainly (independent of both implementations). */
function softRef(x: Float64Array, P: Float64Array, W: Float64Array, b: Float64Array | null, theta: number, c: Case, metric: Metric): Float64Array {
  const { N, C, K, V, M } = c;
  const beta = Math.log1p(Math.exp(theta)) + 1;
  const out = new Float64Array(N * M);
  const lut = new Float64Array(C * K * M);
  for (let cb = 0; cb < C; cb++)
    for (let k = 0; k < K; k++)
      for (let m = 0; m < M; m++) {
        let s = 0;
        for (let v = 0; v < V; v++) s += P[(cb * K + k) * V + v] * W[(cb * V + v) * M + m];
        lut[(cb * K + k) * M + m] = s;
      }
  const d = new Float64Array(K);
  for (let n = 0; n < N; n++) {
    for (let cb = 0; cb < C; cb++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let v = 0; v < V; v++) {
          const t = x[n * C * V + cb * V + v] - P[(cb * K + k) * V + v];
          if (metric === 'l2') s += t * t;
          else if (metric === 'l1') s += Math.abs(t);
          else s = Math.max(s, Math.abs(t));
        }
        d[k] = metric === 'l2' ? Math.sqrt(s) : s;
      }
      const mn = Math.min(...d);
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(-beta * (d[k] - mn));
      for (let k = 0; k < K; k++) {
        const a = Math.exp(-beta * (d[k] - mn)) / z;
        for (let m = 0; m < M; m++) out[n * M + m] += a * lut[(cb * K + k) * M + m];
      }
    }
    if (b) for (let m = 0; m < M; m++) out[n * M + m] += b[m];
  }
  return out;
}

/** Central differences of Σ R·soft w.r.t. every element of every input (float64, h = 1e-6). */
function numericGrads(ts: (Tensor | null)[], R: Float64Array, c: Case, metric: Metric): (Float64Array | null)[] {
  const arrs = ts.map((t) => (t ? Float64Array.from(t.f32) : null));
  const loss = (): number => {
    const y = softRef(arrs[0]!, arrs[1]!, arrs[2]!, arrs[3], arrs[4]![0], c, metric);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * R[i];
    return s;
  };
  const h = 1e-6;
  return arrs.map((a) => {
    if (!a) return null;
    const g = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      const o = a[i];
      a[i] = o + h;
      const lp = loss();
      a[i] = o - h;
      const lm = loss();
      a[i] = o;
      g[i] = (lp - lm) / (2 * h);
    }
    return g;
  });
}

const NAMES = ['x', 'centroids', 'weight', 'bias', 'theta'];

// ---------------------------------------------------------------- scalars

test('temperature: θ0 gives t = 0.065; softplus and its inverse round-trip; extremes stay finite', () => {
  const th0 = thetaForTemperature();
  assert.ok(Math.abs(temperatureOf(th0) - DEFAULT_TEMPERATURE) < 1e-12);
  assert.ok(Math.abs(th0 - Math.log(Math.exp(1 / 0.065 - 1) - 1)) < 1e-9, `θ0 ${th0}`);
  assert.ok(Math.abs(temperatureOf(new Tensor(Float32Array.of(th0), [])) - 0.065) < 1e-7);
  for (const y of [1e-8, 0.3, 1, 14.38, 50, 800]) assert.ok(Math.abs(softplus(inverseSoftplus(y)) - y) <= 1e-12 * Math.max(1, y), `y ${y}`);
  assert.equal(softplus(1000), 1000);
  assert.ok(softplus(-1000) >= 0 && softplus(-1000) < 1e-300);
  assert.ok(Math.abs(temperatureOf(-1000) - 1) < 1e-12 && temperatureOf(1000) > 0);
  assert.throws(() => thetaForTemperature(1), ArgumentError);
  assert.throws(() => thetaForTemperature(0), ArgumentError);
});

test('expNeg: relative error below 1e-8 against Math.exp, 0 past the double range', () => {
  const rng = new Rng(3);
  let worst = 0;
  for (let i = 0; i < 20000; i++) {
    const t = i < 10000 ? rng.uniform(0, 30) : rng.uniform(0, 700); // normal doubles (e^−708 is subnormal)
    const e = Math.exp(-t);
    worst = Math.max(worst, Math.abs(expNeg(t) - e) / e);
  }
  assert.ok(worst < 1e-8, `worst relative error ${worst}`);
  assert.equal(expNeg(0), 1);
  assert.equal(expNeg(800), 0);
  assert.equal(expNeg(Infinity), 0);
});

// ---------------------------------------------------------------- table and int8

test('buildLut: lut[c] = centroids[c]·weight[c]', () => {
  const [, P, W] = inputs({ N: 1, C: 3, K: 5, V: 4, M: 6 });
  const lut = buildLut(P, W);
  assert.deepEqual([...lut.shape], [3, 5, 6]);
  const want = new Float64Array(3 * 5 * 6);
  for (let c = 0; c < 3; c++)
    for (let k = 0; k < 5; k++)
      for (let m = 0; m < 6; m++)
        for (let v = 0; v < 4; v++) want[(c * 5 + k) * 6 + m] += P.f32[(c * 5 + k) * 4 + v] * W.f32[(c * 4 + v) * 6 + m];
  assertNear('lut', lut.f32, want, 1e-6, 1e-6);
  assert.throws(() => buildLut(P, randn([3, 5, 6])), /weight must be \[C, V, M\] = \[3, 4, M\]/);
});

test('quantizeLut: int8 within ±127 with max|q| = 127, |lutQ − lut| <= scale/2, dequantizedLut = q·scale', () => {
  const [, P, W] = inputs({ N: 1, C: 4, K: 16, V: 9, M: 10, seed: 11 });
  const lut = buildLut(P, W);
  const { table, scale } = quantizeLut(lut);
  const { lutQ, scale: s2 } = dequantizedLut(lut);
  assert.equal(table.dtype, 'int8');
  assert.deepEqual([...table.shape], [4, 16, 10]);
  assert.equal(scale, s2);
  assert.equal(scale, Math.fround(maxAbs(lut.f32) / 127));
  let top = 0;
  for (let i = 0; i < lut.size; i++) {
    const q = table.data[i];
    top = Math.max(top, Math.abs(q));
    assert.ok(lutQ.f32[i] === Math.fround(q * scale), `dequantized ${i}`);
    // |round(l/s)·s − l| <= s/2, plus float32 rounding of l/s and of q·s.
    assert.ok(Math.abs(lutQ.f32[i] - lut.f32[i]) <= scale / 2 + 4e-7 * Math.abs(lut.f32[i]), `entry ${i}`);
  }
  assert.equal(top, 127);
  const zero = quantizeLut(new Tensor(new Float32Array(6), [1, 2, 3]));
  assert.equal(zero.scale, 1);
  assert.ok(zero.table.data.every((v) => v === 0));
  assert.throws(() => quantizeLut(new Tensor(Float32Array.of(1, NaN), [1, 1, 2])), NonFiniteError);
});

test('int8 table: hard output within C·scale/2 of the float-table hard output', () => {
  const c: Case = { N: 50, C: 6, K: 16, V: 4, M: 8, seed: 5 };
  const [x, P, W, b, th] = inputs(c);
  const yq = lutForward(x, P, W, b, th, { quantize: true });
  const yf = lutForward(x, P, W, b, th, { quantize: false });
  const { scale } = quantizeLut(buildLut(P, W));
  let worst = 0;
  let moved = 0;
  for (let i = 0; i < yq.size; i++) {
    const e = Math.abs(yq.f32[i] - yf.f32[i]);
    worst = Math.max(worst, e);
    if (e > 0) moved++;
    assert.ok(e <= (c.C * scale) / 2 + 1e-5 * maxAbs(yf.f32), `output ${i}: error ${e} > C·scale/2 = ${(c.C * scale) / 2}`);
  }
  assert.ok(moved > 0 && worst > 0, 'quantization changed nothing: the check would be vacuous');
});

// ---------------------------------------------------------------- exactness

test('exactness: centroids equal to the rows reproduce x·W + b with the float table', () => {
  for (const metric of METRICS) {
    const N = 12;
    const C = 5;
    const V = 3;
    const M = 7;
    const rng = new Rng(21);
    const x = randn([N, C * V], 1, rng);
    const dense = randn([C * V, M], 1, rng); // [D, M]
    const bias = randn([M], 1, rng);
    // K = N: centroid k of codebook c is row k's c-th sub-vector.
    const P = new Tensor(new Float32Array(C * N * V), [C, N, V]);
    for (let k = 0; k < N; k++) for (let c = 0; c < C; c++) for (let v = 0; v < V; v++) P.f32[(c * N + k) * V + v] = x.f32[k * C * V + c * V + v];
    const W = new Tensor(dense.f32.slice(), [C, V, M]); // rows c·V..c·V+V−1 of [D, M]
    const y = lutForward(x, P, W, bias, new Tensor(Float32Array.of(0), []), { metric, quantize: false, chunkRows: 5 });
    const want = new Float64Array(N * M);
    for (let n = 0; n < N; n++)
      for (let m = 0; m < M; m++) {
        let s = bias.f32[m];
        for (let d = 0; d < C * V; d++) s += x.f32[n * C * V + d] * dense.f32[d * M + m];
        want[n * M + m] = s;
      }
    assertNear(`${metric} exact`, y.f32, want, 1e-6, 1e-6);
    const codes = encodeRows(x, P, { metric });
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) assert.equal(codes[n * C + c], n);
  }
});

// ---------------------------------------------------------------- gradient = finite differences of the soft path

for (const metric of METRICS) {
  for (const setting of [
    { name: 't=0.5, bias', c: { N: 7, C: 2, K: 4, V: 3, M: 4, temperature: 0.5, scale: 0.5 } },
    { name: 't=0.065, small data, no bias', c: { N: 6, C: 3, K: 3, V: 2, M: 3, temperature: 0.065, scale: 0.05, bias: false, seed: 9 } },
  ]) {
    test(`gradient (${metric}, ${setting.name}): fused straight-through = finite differences of the soft output`, () => {
      const c: Case = setting.c;
      const ins = inputs(c);
      const y = lutForward(ins[0], ins[1], ins[2], ins[3], ins[4], { metric, chunkRows: 4 });
      const R = new Float64Array(y.size);
      const rng = new Rng(99);
      for (let i = 0; i < R.length; i++) R[i] = rng.uniform(-1, 1);
      backward(y, new Tensor(Float32Array.from(R), y.shape));
      const num = numericGrads(ins, R, c, metric);
      ins.forEach((t, i) => {
        if (!t) return;
        const want = num[i]!;
        assert.ok(maxAbs(want) > 1e-5, `${NAMES[i]}: numeric gradient is ~0; the check would be vacuous`);
        assertNear(`${metric} d${NAMES[i]}`, t.grad!.f32, want, 3e-5, 3e-5);
      });
    });
  }
}

// ---------------------------------------------------------------- fused vs composed oracle

function compareWithComposed(c: Case, metric: Metric, opts: { quantize?: boolean; chunkRows?: number }, P0?: Tensor): void {
  const a = inputs(c);
  if (P0) a[1] = P0.clone().requireGrad();
  const b = fresh(a);
  const ya = lutForward(a[0], a[1], a[2], a[3], a[4], { metric, ...opts });
  const yb = lutForwardComposed(b[0]!, b[1]!, b[2]!, b[3], b[4]!, { metric, quantize: opts.quantize });
  const codesA = encodeRows(a[0], a[1], { metric, chunkRows: opts.chunkRows });
  const codesB = codesComposed(b[0]!, b[1]!, metric).data;
  assert.deepEqual([...codesA], [...codesB], `${metric}: codes`);
  assertNear(`${metric} value`, ya.f32, yb.f32, 1e-5, 1e-6);
  const G = randn(ya.shape, 1, new Rng(4));
  backward(ya, G);
  backward(yb, G.clone());
  a.forEach((t, i) => {
    if (!t) return;
    assertNear(`${metric} d${NAMES[i]} vs composed`, t.grad!.f32, b[i]!.grad!.f32, 3e-5, 3e-6);
  });
}

for (const metric of METRICS) {
  test(`fused = composed (${metric}): codes, values and gradients; bias/no bias, int8/float, chunk boundaries`, () => {
    compareWithComposed({ N: 37, C: 3, K: 5, V: 4, M: 6 }, metric, { chunkRows: 8 });
    compareWithComposed({ N: 30, C: 4, K: 16, V: 9, M: 5, bias: false, seed: 3 }, metric, { chunkRows: 7, quantize: false });
    compareWithComposed({ N: 23, C: 2, K: 16, V: 16, M: 9, seed: 8, temperature: DEFAULT_TEMPERATURE, scale: 0.1 }, metric, {});
  });
}

test('fused = composed (l2) when centroids sit within 1e-3 of rows (the directly computed near pairs)', () => {
  const c: Case = { N: 20, C: 3, K: 6, V: 5, M: 4, seed: 12 };
  const x = inputs(c)[0];
  const rng = new Rng(13);
  const P = new Tensor(new Float32Array(c.C * c.K * c.V), [c.C, c.K, c.V]);
  for (let cb = 0; cb < c.C; cb++)
    for (let k = 0; k < c.K; k++)
      for (let v = 0; v < c.V; v++) P.f32[(cb * c.K + k) * c.V + v] = x.f32[(2 * k + 1) * c.C * c.V + cb * c.V + v] + rng.uniform(-1e-3, 1e-3);
  compareWithComposed(c, 'l2', { chunkRows: 6 }, P);
});

test('only the gradients asked for are computed, and they equal the full ones', () => {
  const c: Case = { N: 19, C: 3, K: 4, V: 3, M: 5 };
  const full = inputs(c);
  const G = randn([c.N, c.M], 1, new Rng(2));
  backward(lutForward(full[0], full[1], full[2], full[3], full[4], { chunkRows: 6 }), G);
  for (let only = 0; only < 5; only++) {
    const part = fresh(full);
    part.forEach((t, i) => t && t.requireGrad(i === only));
    backward(lutForward(part[0]!, part[1]!, part[2]!, part[3], part[4]!, { chunkRows: 6 }), G);
    part.forEach((t, i) => {
      if (!t) return;
      if (i === only) assert.deepEqual([...t.grad!.f32], [...full[i]!.grad!.f32], NAMES[i]);
      else assert.equal(t.grad, null);
    });
  }
});

test('encodeRows agrees with the reference encoder of distance.ts, for every metric and chunking', () => {
  const c: Case = { N: 41, C: 5, K: 16, V: 4, M: 1, seed: 17 };
  const [x, P] = inputs(c);
  for (const metric of METRICS) {
    const want = encode(x.f32, P.f32, c.C, c.K, c.V, metric);
    assert.deepEqual([...encodeRows(x, P, { metric })], [...want], metric);
    assert.deepEqual([...encodeRows(x, P, { metric, chunkRows: 9 })], [...want], `${metric}, chunks of 9`);
  }
});

test('the reference backend gives the same values and gradients as the active one', () => {
  const c: Case = { N: 25, C: 3, K: 8, V: 4, M: 6, seed: 23 };
  const a = inputs(c);
  const b = fresh(a);
  const G = randn([c.N, c.M], 1, new Rng(5));
  const ya = lutForward(a[0], a[1], a[2], a[3], a[4]);
  backward(ya, G);
  const prev = setBackend(referenceBackend);
  try {
    const yb = lutForward(b[0]!, b[1]!, b[2]!, b[3], b[4]!);
    backward(yb, G);
    assertNear('value', yb.f32, ya.f32, 1e-6, 1e-6);
    a.forEach((t, i) => t && assertNear(`d${NAMES[i]}`, b[i]!.grad!.f32, t.grad!.f32, 1e-5, 1e-6));
  } finally {
    setBackend(prev);
  }
});

test('zero rows give an empty [0, M] output and zero parameter gradients', () => {
  const [, P, W, b, th] = inputs({ N: 1, C: 2, K: 3, V: 2, M: 4 });
  const x = new Tensor(new Float32Array(0), [0, 4]).requireGrad();
  const y = lutForward(x, P, W, b, th);
  assert.deepEqual([...y.shape], [0, 4]);
  backward(y, new Tensor(new Float32Array(0), [0, 4]));
  assert.ok(P.grad!.f32.every((v) => v === 0) && b!.grad!.f32.every((v) => v === 0) && th.grad!.item() === 0);
});

test('bad input: clear errors for shapes, dtypes, metric, options and non-finite values', () => {
  const [x, P, W, b, th] = inputs({ N: 4, C: 2, K: 3, V: 2, M: 4 });
  assert.throws(() => lutForward(randn([4, 5]), P, W, b, th), /x row length 5 vs C·V = 2·2 = 4/);
  assert.throws(() => lutForward(randn([2, 2, 4]), P, W, b, th), /x must be 2-D rows/);
  assert.throws(() => lutForward(x, randn([2, 3]), W, b, th), /centroids must be \[C, K, V\]/);
  assert.throws(() => lutForward(x, P, randn([2, 3, 4]), b, th), /weight must be \[C, V, M\] = \[2, 2, M\]/);
  assert.throws(() => lutForward(x, P, W, randn([5]), th), /bias must be \[4\]/);
  assert.throws(() => lutForward(x, P, W, b, randn([2])), /thetaLogit must be a scalar/);
  assert.throws(() => lutForward(x, P, W, b, new Tensor(Float32Array.of(NaN), [])), NonFiniteError);
  assert.throws(() => lutForward(new Tensor(new Int32Array(16), [4, 4]), P, W, b, th), DTypeError);
  assert.throws(() => lutForward(x, P, W, b, th, { metric: 'cosine' as Metric }), /metric must be one of l2, l1, chebyshev/);
  assert.throws(() => lutForward(x, P, W, b, th, { chunkRows: 0 }), /chunkRows must be an integer >= 1/);
  assert.throws(() => lutForward(x, randn([2, 257, 2]), randn([2, 2, 4]), b, th), ShapeError);
  const bad = x.clone();
  bad.f32[5] = NaN;
  for (const metric of METRICS) assert.throws(() => lutForward(bad, P, W, b, th, { metric }), /no finite distance for row 1, codebook 0/);
  const inf = W.clone();
  inf.f32[0] = Infinity;
  assert.throws(() => lutForward(x, P, inf, b, th), /lut\[\d+\] is (Infinity|-Infinity|NaN)/);
});
