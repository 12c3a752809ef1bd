// The LUT-NN training kernels (SIMD) against their TypeScript twins: encode, gather, soft pass, batched GEMMs and im2col.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { METRICS, type Metric } from './metric.js';
import { lutConv2d, thetaForTemperature } from '../ops/lut.js';
import { conv2dGeom } from '../ops/conv.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { getWasmBackend, referenceBackend, setBackend } from './index.js';
import {
  allocLutMem,
  lutCol2im,
  lutGemmDW,
  lutGemmGW,
  lutIm2col,
  lutKernels,
  lutKernelsRef as ref,
  lutScratchBytes,
  lutWasm,
  type LutMem,
} from './lut-train.js';

const simd = lutWasm()?.kernels ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');
const wasmBackend = getWasmBackend() ?? assert.fail('no wasm backend');
setBackend(wasmBackend); // allocLutMem gives wasm memory below, whatever LUTNN_BACKEND says

/** Buffers laid out in one workspace; `wasm` and `plain` get the same bytes. */
class Pair {
  private bytes = 0;
  readonly offs: Record<string, number> = {};
  wasm!: LutMem;
  plain!: LutMem;

  add(name: string, floats: number): this {
    this.offs[name] = this.bytes;
    this.bytes += Math.ceil((floats * 4) / 64) * 64;
    return this;
  }

  alloc(fill: (mem: LutMem) => void): this {
    this.wasm = allocLutMem(this.bytes);
    this.plain = allocLutMem(this.bytes, false);
    assert.ok(this.wasm.ptr >= 0 && this.plain.ptr < 0);
    this.wasm.f32.fill(0);
    fill(this.wasm);
    this.plain.f32.set(this.wasm.f32);
    return this;
  }

  f32(mem: LutMem, name: string, n: number): Float32Array {
    return mem.f32.slice(this.offs[name] >> 2, (this.offs[name] >> 2) + n);
  }

  dispose(): void {
    this.wasm.dispose();
  }
}

function fillUniform(mem: LutMem, off: number, n: number, rng: Rng, scale = 1): void {
  for (let i = 0; i < n; i++) mem.f32[(off >> 2) + i] = rng.uniform(-scale, scale);
}

/** |got − want| <= atol·max|want| + rtol·|want| everywhere. */
function assertNear(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol * scale + rtol * Math.abs(want[i]))) {
      assert.fail(`${what}[${i}]: SIMD ${got[i]}, twin ${want[i]} (max|twin| ${scale})`);
    }
  }
}

// ---------------------------------------------------------------- encode

/** Runs encode on both memories of a pair with x/P already filled; returns [simd codes, twin codes, returns]. */
function encodeBoth(p: Pair, metric: Metric, C: number, K: number, V: number, R: number): { a: Uint8Array; b: Uint8Array; ra: number; rb: number } {
  const { x, P, codes, s } = p.offs;
  const ra = simd.encode(p.wasm, x, R, P, C, K, V, metric, codes, C, s);
  const rb = ref.encode(p.plain, x, R, P, C, K, V, metric, codes, C, s);
  return { a: p.wasm.u8.slice(codes, codes + R * C), b: p.plain.u8.slice(codes, codes + R * C), ra, rb };
}

function encodePair(C: number, K: number, V: number, R: number): Pair {
  return new Pair().add('x', C * V * R).add('P', C * K * V).add('codes', Math.ceil((R * C) / 4) + 1).add('s', lutScratchBytes(C, K, V) / 4);
}

const SHAPES: [number, number, number, number][] = [
  // C, K, V, R: K = 16 and others, R around multiples of 4, V from 1 to 16
  [3, 16, 9, 37],
  [2, 5, 4, 6],
  [1, 1, 3, 1],
  [4, 33, 2, 8],
  [2, 16, 16, 3],
  [5, 7, 1, 13],
];

test('encode: SIMD codes equal the twin for every metric, K = 16 and K != 16, R not a multiple of 4', () => {
  const rng = new Rng(1);
  for (const metric of METRICS) {
    for (const [C, K, V, R] of SHAPES) {
      const p = encodePair(C, K, V, R);
      p.alloc((m) => {
        fillUniform(m, p.offs.x, C * V * R, rng);
        fillUniform(m, p.offs.P, C * K * V, rng);
      });
      try {
        const { a, b, ra, rb } = encodeBoth(p, metric, C, K, V, R);
        assert.equal(ra, -1);
        assert.equal(rb, -1);
        assert.deepEqual([...a], [...b], `${metric} ${[C, K, V, R]}`);
        assert.ok(a.every((c) => c < K));
        if (K > 1) assert.ok(new Set(a).size > 1, 'codes all equal: the comparison would be weak');
      } finally {
        p.dispose();
      }
    }
  }
});

test('encode: ties go to the first centroid (duplicates, equidistant centroids), as in the twin', () => {
  const C = 2;
  const K = 16;
  const V = 9;
  const R = 7;
  for (const metric of METRICS) {
    const p = encodePair(C, K, V, R);
    p.alloc((m) => {
      const { x, P } = p.offs;
      const F = m.f32;
      const rng = new Rng(3);
      for (let i = 0; i < C * K * V; i++) F[(P >> 2) + i] = rng.uniform(-1, 1) + 3; // far from the rows
      for (let v = 0; v < V; v++) {
        // Codebook 0: centroids 4 and 11 are identical and nearest to every row.
        F[(P >> 2) + (0 * K + 4) * V + v] = F[(P >> 2) + (0 * K + 11) * V + v] = 0.25;
        // Codebook 1: centroids 2, 6 and 13 sit at ±1 along one axis from 0, the rows are 0: all at distance 1.
        for (const k of [2, 6, 13]) F[(P >> 2) + (1 * K + k) * V + v] = 0;
      }
      F[(P >> 2) + (1 * K + 2) * V + 3] = 1;
      F[(P >> 2) + (1 * K + 6) * V + 5] = -1;
      F[(P >> 2) + (1 * K + 13) * V + 0] = 1;
      for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) F[(x >> 2) + v * R + r] = 0.25 + 0.01 * r;
      // rows of codebook 1 stay 0
    });
    try {
      const { a, b, ra, rb } = encodeBoth(p, metric, C, K, V, R);
      assert.equal(ra, -1);
      assert.equal(rb, -1);
      assert.deepEqual([...a], [...b], metric);
      for (let r = 0; r < R; r++) {
        assert.equal(a[r * C], 4, `${metric}: duplicate centroids, row ${r}`);
        assert.equal(a[r * C + 1], 2, `${metric}: equidistant centroids, row ${r}`);
      }
    } finally {
      p.dispose();
    }
  }
});

test('encode: a sub-vector with no finite distance is reported at the same (codebook, row) by both', () => {
  const C = 3;
  const K = 16;
  const V = 4;
  const R = 10;
  for (const metric of METRICS) {
    for (const poison of [NaN, Infinity, 1e30]) {
      const p = encodePair(C, K, V, R);
      p.alloc((m) => {
        const rng = new Rng(5);
        fillUniform(m, p.offs.x, C * V * R, rng);
        fillUniform(m, p.offs.P, C * K * V, rng);
        m.f32[(p.offs.x >> 2) + (1 * V + 2) * R + 9] = poison; // codebook 1, row 9 (the tail group)
        m.f32[(p.offs.x >> 2) + (2 * V + 0) * R + 6] = poison; // codebook 2, row 6
      });
      try {
        const { a, b, ra, rb } = encodeBoth(p, metric, C, K, V, R);
        // 1e30 squared overflows l2 only; l1 and Chebyshev distances stay finite.
        const bad = !(poison === 1e30 && metric !== 'l2');
        assert.equal(ra, bad ? 1 * R + 9 : -1, `${metric} ${poison}`);
        assert.equal(rb, ra, `${metric} ${poison}: twin`);
        for (let r = 0; r < R; r++) assert.equal(a[r * C], b[r * C], `codebook 0 row ${r} still encoded`);
      } finally {
        p.dispose();
      }
    }
  }
});

// ---------------------------------------------------------------- gather

test('gather: bit-exact against the twin, rows or NCHW-plane layout, with and without bias, any M and R', () => {
  const rng = new Rng(7);
  for (const [C, K, M, R] of [[3, 16, 64, 9], [5, 4, 13, 3], [1, 16, 1, 4], [7, 16, 8, 1], [2, 3, 5, 6]]) {
    for (const mMajor of [false, true]) {
      for (const withBias of [false, true]) {
        const p = new Pair().add('codes', Math.ceil((R * C) / 4)).add('T', C * K * M).add('b', M).add('out', R * M).add('s', lutScratchBytes(C, K, 1) / 4);
        p.alloc((m) => {
          fillUniform(m, p.offs.T, C * K * M, rng, 3);
          fillUniform(m, p.offs.b, M, rng);
          for (let i = 0; i < R * C; i++) m.u8[p.offs.codes + i] = rng.int(K);
        });
        try {
          const { codes, T, b, out, s } = p.offs;
          simd.gather(p.wasm, codes, C, R, T, C, K, M, withBias ? b : -1, out, mMajor, s);
          ref.gather(p.plain, codes, C, R, T, C, K, M, withBias ? b : -1, out, mMajor, s);
          const got = p.f32(p.wasm, 'out', R * M);
          assert.deepEqual([...got], [...p.f32(p.plain, 'out', R * M)], `${[C, K, M, R]} mMajor ${mMajor} bias ${withBias}`);
          // and the value itself: row 0, output M−1
          let want = withBias ? p.wasm.f32[(b >> 2) + M - 1] : 0;
          for (let c = 0; c < C; c++) want = Math.fround(want + p.wasm.f32[(T >> 2) + (c * K + p.wasm.u8[codes + c]) * M + M - 1]);
          assert.equal(got[mMajor ? (M - 1) * R : M - 1], want);
        } finally {
          p.dispose();
        }
      }
    }
  }
});

// ---------------------------------------------------------------- soft pass

interface SoftCase {
  C: number;
  K: number;
  V: number;
  R: number;
  beta: number;
  scale?: number;
  alias?: boolean;
  gw?: boolean;
  /** x and P on the grid of multiples of 1/grid in [−scale, scale] (exact differences: ties and zeros in x − p). */
  grid?: number;
}

/** Runs the soft kernel on both; returns the outputs of each and copies of the inputs x, P and gw. */
function softBoth(metric: Metric, c: SoftCase, setup?: (m: LutMem, offs: Record<string, number>) => void) {
  const { C, K, V, R, beta } = c;
  const D = C * V;
  const p = new Pair().add('x', D * R).add('gw', D * R).add('P', C * K * V).add('xh', D * R).add('dx', D * R).add('dp', C * K * V).add('s', lutScratchBytes(C, K, V) / 4);
  const rng = new Rng(11 + R + 1000 * V + 100 * K);
  const scale = c.scale ?? 1;
  const fillX = (m: LutMem, off: number, n: number): void => {
    if (!c.grid) return fillUniform(m, off, n, rng, scale);
    const steps = Math.round(scale * c.grid);
    for (let i = 0; i < n; i++) m.f32[(off >> 2) + i] = (rng.int(2 * steps + 1) - steps) / c.grid;
  };
  p.alloc((m) => {
    fillX(m, p.offs.x, D * R);
    fillUniform(m, p.offs.gw, D * R, rng);
    fillX(m, p.offs.P, C * K * V);
    setup?.(m, p.offs);
  });
  try {
    const o = p.offs;
    const xin = p.f32(p.plain, 'x', D * R);
    const Pin = p.f32(p.plain, 'P', C * K * V);
    const gwin = p.f32(p.plain, 'gw', D * R);
    const xh = c.alias ? o.gw : o.xh;
    const dx = c.alias ? o.x : o.dx;
    const gw = c.gw === false ? -1 : o.gw;
    const run = (k: typeof simd, m: LutMem): number => k.soft(m, metric, o.x, gw, R, o.P, C, K, V, beta, xh, dx, o.dp, o.s);
    const dba = run(simd, p.wasm);
    const dbb = run(ref, p.plain);
    const pick = (m: LutMem) => ({
      xh: m.f32.slice(xh >> 2, (xh >> 2) + D * R),
      dx: m.f32.slice(dx >> 2, (dx >> 2) + D * R),
      dp: p.f32(m, 'dp', C * K * V),
    });
    return { a: { ...pick(p.wasm), db: dba }, b: { ...pick(p.plain), db: dbb }, xin, Pin, gwin };
  } finally {
    p.dispose();
  }
}

function allFinite(a: Float32Array): boolean {
  return a.every((v) => Number.isFinite(v));
}

/**
 * Tolerance of SIMD (float32 throughout) against the twin (float64 sums): |simd − twin| <= atol·max|twin| + 2e-5·|twin|
 * with atol 2e-5 for dx and dP, and for xhat 2e-6 (l2, Chebyshev) or 1e-5 (l1: its float32 distance sums V rounded
 * |x − p|, and β·(rounding of dist) is the relative error of the softmax weights; 4.4e-6 seen at β = 15.4, V = 9);
 * |dβ_simd − dβ_twin| <= 2e-5·max(1, |dβ_twin|).
 */
function assertSoftNear(metric: Metric, what: string, r: ReturnType<typeof softBoth>): void {
  const { a, b } = r;
  for (const o of [a, b]) assert.ok(allFinite(o.xh) && allFinite(o.dx) && allFinite(o.dp) && Number.isFinite(o.db), `${what}: non-finite output`);
  assertNear(`${what} xhat`, a.xh, b.xh, 2e-5, metric === 'l1' ? 1e-5 : 2e-6);
  assertNear(`${what} dx`, a.dx, b.dx, 2e-5, 2e-5);
  assertNear(`${what} dP`, a.dp, b.dp, 2e-5, 2e-5);
  assert.ok(Math.abs(a.db - b.db) <= 2e-5 * Math.max(1, Math.abs(b.db)), `${what} dβ: SIMD ${a.db}, twin ${b.db}`);
}

test('soft: dx, xhat, dP and dβ match the twin for every metric; V = 1..16 (odd too), K = 16 and K != 16, R tails, aliased outputs', () => {
  const cases: SoftCase[] = [
    { C: 2, K: 16, V: 9, R: 37, beta: 15.4 },
    { C: 3, K: 5, V: 4, R: 6, beta: 1, alias: true },
    { C: 1, K: 16, V: 16, R: 3, beta: 3 },
    { C: 2, K: 1, V: 3, R: 5, beta: 2 },
    { C: 2, K: 7, V: 5, R: 10, beta: 4 },
    { C: 3, K: 16, V: 3, R: 13, beta: 15.4 },
    { C: 2, K: 16, V: 4, R: 8, beta: 15.4, alias: true },
    { C: 1, K: 2, V: 1, R: 7, beta: 2 },
    { C: 4, K: 16, V: 9, R: 196, beta: 15.4, alias: true },
    { C: 2, K: 16, V: 9, R: 9, beta: 15.4, gw: false },
  ];
  for (const metric of METRICS) {
    for (const c of cases) {
      const r = softBoth(metric, c);
      const what = `${metric} ${JSON.stringify(c)}`;
      assertSoftNear(metric, what, r);
      const { a, b } = r;
      if (c.gw === false) {
        assert.equal(a.db, 0);
        assert.ok(a.dx.every((v) => v === 0), 'no gw: dx = 0');
      } else if (c.K > 1) {
        assert.ok(a.dx.some((v) => v !== 0) && a.db !== 0, `${what}: gradients all zero, the check would be vacuous`);
      }
      // The SIMD entry runs the wasm kernel (float32) for every metric, not the float64 twin on wasm memory.
      if (c.R === 196) assert.ok(a.dx.some((v, i) => v !== b.dx[i]), `${what}: bit-identical to the twin; is soft dispatched to wasm?`);
    }
  }
});

/** Counts, over every (codebook, row, centroid), zero distances, zero differences x − p, and Chebyshev ties in max |x − p|. */
function tieStats(x: Float32Array, P: Float32Array, C: number, K: number, V: number, R: number) {
  let zeroDist = 0;
  let zeroDiff = 0;
  let chebTies = 0;
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < R; r++) {
      for (let k = 0; k < K; k++) {
        const t = Array.from({ length: V }, (_, v) => Math.abs(x[(c * V + v) * R + r] - P[(c * K + k) * V + v]));
        const mx = Math.max(...t);
        if (mx === 0) zeroDist++;
        else {
          zeroDiff += t.filter((e) => e === 0).length;
          if (t.filter((e) => e === mx).length > 1) chebTies++;
        }
      }
    }
  }
  return { zeroDist, zeroDiff, chebTies };
}

test('soft: ties match the twin for every metric (duplicate centroids, rows on a centroid, |x − p| ties, x − p = 0)', () => {
  // Grid data makes x − p exact in float32 and float64: many exact zeros (sign(0) = 0 for l1) and ties in |x − p|
  // (Chebyshev's first-largest coordinate). Centroid k + K/2 duplicates centroid k; every third row sits on a centroid.
  const shapes: [number, number, number, number][] = [
    // C, K, V, R
    [2, 16, 9, 23],
    [3, 16, 4, 10],
    [1, 16, 16, 7],
    [2, 16, 3, 9],
    [2, 16, 5, 6],
    [2, 6, 5, 5],
    [2, 5, 9, 11],
  ];
  for (const metric of METRICS) {
    for (const [C, K, V, R] of shapes) {
      for (const beta of [2, 15.4]) {
        const c: SoftCase = { C, K, V, R, beta, grid: 4 };
        const r = softBoth(metric, c, (m, o) => {
          const F = m.f32;
          for (let cb = 0; cb < C; cb++) {
            for (let k = 0; k + Math.ceil(K / 2) < K && k < 2; k++) {
              for (let v = 0; v < V; v++) F[(o.P >> 2) + (cb * K + k + Math.ceil(K / 2)) * V + v] = F[(o.P >> 2) + (cb * K + k) * V + v];
            }
            for (let row = 0; row < R; row += 3) {
              for (let v = 0; v < V; v++) F[(o.x >> 2) + (cb * V + v) * R + row] = F[(o.P >> 2) + (cb * K + ((row + cb) % K)) * V + v];
            }
          }
        });
        const what = `${metric} ${JSON.stringify(c)}`;
        assertSoftNear(metric, what, r);
        assert.ok(r.a.dx.some((v) => v !== 0), `${what}: dx all zero`);
        const st = tieStats(r.xin, r.Pin, C, K, V, R);
        assert.ok(st.zeroDist >= C * Math.ceil(R / 3), `${what}: rows on a centroid ${st.zeroDist}`);
        assert.ok(st.zeroDiff > 0 && (V === 1 || st.chebTies > 0), `${what}: no ties to test (${JSON.stringify(st)})`);
      }
    }
  }
});

test('soft: tie rules by hand — l1 sign(0) = 0, Chebyshev routes to the first coordinate of largest |x − p|', () => {
  // One codebook, K = 2, V = 3, five equal rows x = 0 (a full group of 4 and a tail of 1). Softmax weights sum to 1,
  // so dz_1 = −dz_0 and ddist_1 = −ddist_0 =: −g.
  //   l1:        p0 = (0.5, 0, −0.25), p1 = (−1, 0, 0.5): sign(x − p) = (−1, 0, 1) and (1, 0, −1) → dx = (−2g, 0, 2g).
  //   Chebyshev: p0 = (0.5, −0.5, 0.25) (top 0), p1 = (0, 1, −1) (top 1) → dx = (−g, g, 0).
  const R = 5;
  const setups: Record<string, { P: number[]; dx: (g: number) => number[] }> = {
    l1: { P: [0.5, 0, -0.25, -1, 0, 0.5], dx: (g) => [-2 * g, 0, 2 * g] },
    chebyshev: { P: [0.5, -0.5, 0.25, 0, 1, -1], dx: (g) => [-g, g, 0] },
  };
  for (const metric of ['l1', 'chebyshev'] as const) {
    const r = softBoth(metric, { C: 1, K: 2, V: 3, R, beta: 2 }, (m, o) => {
      m.f32.fill(0, o.x >> 2, (o.x >> 2) + 3 * R);
      m.f32.set(setups[metric].P, o.P >> 2);
    });
    for (const [who, out] of [['SIMD', r.a], ['twin', r.b]] as const) {
      for (let row = 0; row < R; row++) {
        // g by hand: dist_k = d(0, p_k), a = softmax(−β·dist), da_k = p_k·gw, dz_0 = a_0·(da_0 − Σ a·da), g = −β·dz_0.
        const pk = [setups[metric].P.slice(0, 3), setups[metric].P.slice(3)];
        const gw = [0, 1, 2].map((v) => r.gwin[v * R + row]);
        const dist = pk.map((p) => (metric === 'l1' ? p.reduce((s, e) => s + Math.abs(e), 0) : Math.max(...p.map(Math.abs))));
        const e = dist.map((d) => Math.exp(-2 * d));
        const a = e.map((v) => v / (e[0] + e[1]));
        const da = pk.map((p) => p[0] * gw[0] + p[1] * gw[1] + p[2] * gw[2]);
        const g = -2 * a[0] * (da[0] - (a[0] * da[0] + a[1] * da[1]));
        assert.ok(Math.abs(g) > 1e-3, `${metric}: g = ${g}, the check would be weak`);
        const got = [0, 1, 2].map((v) => out.dx[v * R + row]);
        const want = setups[metric].dx(g);
        for (let v = 0; v < 3; v++) {
          assert.ok(Math.abs(got[v] - want[v]) <= 1e-5 * Math.abs(g), `${metric} ${who} row ${row}: dx ${got} vs ${want}`);
        }
        assert.ok(got[metric === 'l1' ? 1 : 2] === 0, `${metric} ${who} row ${row}: exact zero`); // ±0
      }
    }
    assertSoftNear(metric, metric, r);
  }
});

test('soft: extreme distances underflow the softmax to one-hot without NaN; dist = 0 gives a zero distance gradient; NaN is never hidden', () => {
  for (const metric of METRICS) {
    // Far-apart data at β = 1000: every exp but the nearest underflows to 0.
    const far = softBoth(metric, { C: 2, K: 16, V: 9, R: 11, beta: 1000, scale: 100 });
    for (const r of [far.a, far.b]) assert.ok(allFinite(r.xh) && allFinite(r.dx) && allFinite(r.dp) && Number.isFinite(r.db));
    assertNear(`${metric} one-hot xhat`, far.a.xh, far.b.xh, 1e-6, 1e-7);
    assertNear(`${metric} one-hot dx`, far.a.dx, far.b.dx, 1e-5, 1e-5);
    // Rows exactly on a centroid: that distance is 0 and its gradient term is masked, so nothing is NaN.
    const on = softBoth(metric, { C: 1, K: 16, V: 9, R: 6, beta: 15.4 }, (m, o) => {
      for (let r = 0; r < 6; r++) for (let v = 0; v < 9; v++) m.f32[(o.x >> 2) + v * 6 + r] = m.f32[(o.P >> 2) + (r % 16) * 9 + v];
    });
    assertSoftNear(metric, `${metric} on-centroid`, on);
    // A NaN coordinate in one centroid (encode still finds finite codes): SIMD is NaN wherever the twin is (more
    // places too: its min over distances propagates NaN where the twin's skips it), and finite in the other codebook.
    const nan = softBoth(metric, { C: 2, K: 16, V: 9, R: 6, beta: 15.4 }, (m, o) => void (m.f32[(o.P >> 2) + (1 * 16 + 5) * 9 + 4] = NaN));
    for (const key of ['xh', 'dx', 'dp'] as const) {
      const half = nan.b[key].length / 2; // codebook 0 first
      assert.ok(nan.b[key].some((v) => Number.isNaN(v)), `${metric} ${key}: the twin has no NaN`);
      nan.b[key].forEach((v, i) => assert.ok(!Number.isNaN(v) || Number.isNaN(nan.a[key][i]), `${metric} ${key}[${i}]: twin NaN, SIMD ${nan.a[key][i]}`));
      assertNear(`${metric} ${key} codebook 0`, nan.a[key].subarray(0, half), nan.b[key].subarray(0, half), 2e-5, 2e-5);
    }
  }
});

// ---------------------------------------------------------------- workspace, GEMMs, im2col

test('allocLutMem: wasm memory under the wasm backend, plain arrays (and the twins) under the reference backend', () => {
  const ex = lutWasm()!.rt.ex as unknown as { lutScratchBytes(C: number, K: number, V: number): number };
  for (const [C, K, V] of [[32, 16, 9], [196, 16, 16], [1, 1, 1], [3, 256, 2]]) assert.equal(lutScratchBytes(C, K, V), ex.lutScratchBytes(C, K, V));
  const m = allocLutMem(100);
  assert.ok(m.ptr > 0 && m.f32.length >= 25 && lutKernels(m) === simd);
  m.dispose();
  const prev = setBackend(referenceBackend);
  try {
    const r = allocLutMem(100);
    assert.equal(r.ptr, -1);
    assert.equal(lutKernels(r), ref);
  } finally {
    setBackend(prev);
  }
});

test('lutGemmGW / lutGemmDW: pool jobs on wasm memory = backend GEMMs per block, both G layouts, several blocks', () => {
  const rng = new Rng(9);
  for (const [D, M, R, nb] of [[18, 5, 7, 3], [36, 16, 49, 2], [9, 1, 4, 1]]) {
    for (const mMajor of [true, false]) {
      const p = new Pair().add('W', D * M).add('G', nb * M * R).add('GW', nb * D * R).add('dW', D * M);
      p.alloc((m) => fillUniform(m, 0, m.f32.length, rng));
      try {
        const { W, G, GW, dW } = p.offs;
        for (const mem of [p.wasm, p.plain]) {
          lutGemmGW(mem, W, G, GW, D, M, R, nb, mMajor);
          lutGemmDW(mem, GW, G, dW, D, M, R, nb, mMajor, true);
        }
        const what = `${[D, M, R, nb]} mMajor ${mMajor}`;
        assertNear(`${what} GW`, p.f32(p.wasm, 'GW', nb * D * R), p.f32(p.plain, 'GW', nb * D * R), 1e-5, 1e-6);
        assertNear(`${what} dW`, p.f32(p.wasm, 'dW', D * M), p.f32(p.plain, 'dW', D * M), 1e-5, 1e-6);
        // One element by hand: GW of block nb−1, row D−1, column R−1.
        let s = 0;
        for (let k = 0; k < M; k++) {
          const g = mMajor ? p.plain.f32[(G >> 2) + (nb - 1) * M * R + k * R + R - 1] : p.plain.f32[(G >> 2) + (nb - 1) * M * R + (R - 1) * M + k];
          s += p.plain.f32[(W >> 2) + (D - 1) * M + k] * g;
        }
        assert.ok(Math.abs(p.plain.f32[(GW >> 2) + nb * D * R - 1] - s) <= 1e-5 * (1 + Math.abs(s)), `${what}: GW by hand`);
      } finally {
        p.dispose();
      }
    }
  }
});

test('lutIm2col / lutCol2im: pool jobs on wasm memory = the backend per image (padding, stride)', () => {
  const rng = new Rng(4);
  for (const opts of [{ padding: 1 }, { stride: 2, padding: 0 }]) {
    const g = conv2dGeom([3, 2, 5, 6], [4, 2, 3, 3], opts);
    const img = g.cin * g.h * g.w;
    const per = g.cin * 9 * g.outH * g.outW;
    const p = new Pair().add('x', g.n * img).add('cols', g.n * per).add('dx', g.n * img);
    p.alloc((m) => fillUniform(m, 0, m.f32.length, rng));
    try {
      for (const mem of [p.wasm, p.plain]) {
        lutIm2col(mem, p.offs.x, p.offs.cols, g, g.n);
        lutCol2im(mem, p.offs.cols, p.offs.dx, g, g.n);
      }
      assert.deepEqual([...p.f32(p.wasm, 'cols', g.n * per)], [...p.f32(p.plain, 'cols', g.n * per)]);
      assert.deepEqual([...p.f32(p.wasm, 'dx', g.n * img)], [...p.f32(p.plain, 'dx', g.n * img)]);
      assert.ok(p.f32(p.plain, 'dx', g.n * img).some((v) => v !== 0));
    } finally {
      p.dispose();
    }
  }
});

test('tiny upstream gradients: the op gives exactly 2^−110 times the gradients of G (no subnormal products)', () => {
  const rng = new Rng(13);
  const mk = (shape: number[], s = 1): Tensor => {
    const t = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
    for (let i = 0; i < t.size; i++) t.f32[i] = rng.uniform(-s, s);
    return t;
  };
  const base = [mk([2, 3, 5, 5]), mk([3, 16, 9]), mk([3, 9, 4], 0.3), mk([4], 0.1), new Tensor(Float32Array.of(thetaForTemperature()), [])];
  const G = mk([2, 4, 5, 5]);
  const tiny = new Tensor(G.f32.map((v) => v * 2 ** -110), G.shape);
  const grads = (g: Tensor): Float32Array[] => {
    const ins = base.map((t) => t.clone().requireGrad());
    backward(lutConv2d(ins[0], ins[1], ins[2], ins[3], ins[4], { kernel: [3, 3], padding: 1 }), g);
    return ins.map((t) => t.grad!.f32);
  };
  const a = grads(G);
  const b = grads(tiny);
  ['x', 'centroids', 'weight', 'bias', 'theta'].forEach((name, i) => {
    assert.ok(a[i].some((v) => v !== 0), `${name}: zero gradient`);
    assert.deepEqual([...b[i]], [...a[i].map((v) => Math.fround(v * 2 ** -110))], name);
  });
});
