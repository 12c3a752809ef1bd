// Tests of seeded k-means (L2/L1/Chebyshev), its empty-cluster handling, and per-codebook training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kmeans, median, sampleRows, trainCodebooks, type KMeansResult } from './kmeans.js';
import { assignCost, encode, METRICS, type Metric } from './distance.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';

/** n points around `centres` (rows of length V), Gaussian noise `std`, each point in a random blob. */
function blobs(centres: number[][], n: number, std: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const V = centres[0].length;
  const out = new Float32Array(n * V);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(centres.length)];
    for (let v = 0; v < V; v++) out[i * V + v] = c[v] + rng.normal(0, std);
  }
  return out;
}

function randomData(n: number, V: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * V }, () => Math.max(0, rng.normal()));
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Checks the invariants of a result: shapes, no NaN, assignment = nearest centroid, inertia = Σ cost. */
function checkResult(r: KMeansResult, data: Float32Array, n: number, V: number, k: number, metric: Metric): Int32Array {
  assert.equal(r.centroids.length, k * V);
  assert.equal(r.assign.length, n);
  assert.ok(r.centroids.every(Number.isFinite), 'centroids finite');
  const counts = new Int32Array(k);
  let inertia = 0;
  for (let i = 0; i < n; i++) {
    const a = r.assign[i];
    assert.ok(a >= 0 && a < k);
    counts[a]++;
    const own = assignCost(metric, data, i * V, r.centroids, a * V, V);
    for (let j = 0; j < k; j++) assert.ok(own <= assignCost(metric, data, i * V, r.centroids, j * V, V), `point ${i} not at its nearest centroid`);
    inertia += own;
  }
  assert.ok(Math.abs(inertia - r.inertia) <= 1e-9 * Math.max(1, inertia), `inertia ${r.inertia} vs ${inertia}`);
  return counts;
}

test('same seed gives bit-identical results; other seeds give other results', () => {
  const data = randomData(2000, 9, 1);
  for (const metric of METRICS) {
    const a = kmeans(data, 2000, 9, 16, { metric, seed: 7, iters: 10 });
    const b = kmeans(data, 2000, 9, 16, { metric, seed: 7, iters: 10 });
    assert.deepEqual(bytes(a.centroids), bytes(b.centroids));
    assert.deepEqual(a.assign, b.assign);
    assert.equal(a.inertia, b.inertia);
    const others = [8, 9, 10].map((seed) => kmeans(data, 2000, 9, 16, { metric, seed, iters: 10 }));
    assert.ok(others.some((o) => !bytes(o.centroids).equals(bytes(a.centroids))), `${metric}: every seed gave the same centroids`);
  }
});

test('Elkan bounds give exactly the plain scan result', () => {
  const cases: Array<[Float32Array, number, number]> = [
    [randomData(1500, 9, 2), 1500, 9],
    [blobs([[0, 0, 0, 0], [5, 5, 5, 5], [0, 5, 0, 5], [5, 0, 5, 0]], 800, 1, 3), 800, 4],
    [Float32Array.from({ length: 600 * 3 }, (_, i) => ((i * 7) % 5) - 2), 600, 3], // many duplicates
  ];
  for (const [data, n, V] of cases) {
    for (const metric of METRICS) {
      for (const restarts of [1, 2]) {
        const a = kmeans(data, n, V, 16, { metric, seed: 3, restarts, bounds: true });
        const b = kmeans(data, n, V, 16, { metric, seed: 3, restarts, bounds: false });
        assert.deepEqual(bytes(a.centroids), bytes(b.centroids), `${metric} V=${V}`);
        assert.deepEqual(a.assign, b.assign);
        assert.equal(a.inertia, b.inertia);
        assert.equal(a.iters, b.iters);
      }
    }
  }
});

test('assignments are the nearest centroids and agree with encode', () => {
  const data = randomData(1000, 4, 4);
  for (const metric of METRICS) {
    const r = kmeans(data, 1000, 4, 16, { metric, seed: 1 });
    checkResult(r, data, 1000, 4, 16, metric);
    assert.deepEqual([...encode(data, r.centroids, 1, 16, 4, metric)], [...r.assign]);
  }
});

test('no cluster is left empty on adversarial data', () => {
  for (const metric of METRICS) {
    for (const init of ['kmeans++', 'random'] as const) {
      for (let seed = 0; seed < 5; seed++) {
        // 200 points, only 3 distinct values: k = 16 > distinct points, centroids must repeat.
        const dup = Float32Array.from({ length: 200 * 2 }, (_, i) => [0, 1, 7][Math.floor(i / 2) % 3] * (i % 2 ? 1 : -1));
        let counts = checkResult(kmeans(dup, 200, 2, 16, { metric, init, seed }), dup, 200, 2, 16, metric);
        assert.ok(counts.every((c) => c > 0), `${metric}/${init}: empty cluster with duplicates: ${counts}`);
        // 90% identical points plus a few spread ones.
        const heavy = Float32Array.from({ length: 300 * 3 }, (_, i) => (i < 270 * 3 ? 1 : Math.sin(i) * 10));
        counts = checkResult(kmeans(heavy, 300, 3, 16, { metric, init, seed }), heavy, 300, 3, 16, metric);
        assert.ok(counts.every((c) => c > 0), `${metric}/${init}: empty cluster with heavy duplicates: ${counts}`);
        // n == k: every point is its own cluster, zero inertia.
        const eq = randomData(16, 5, seed + 10);
        const r = kmeans(eq, 16, 5, 16, { metric, init, seed });
        counts = checkResult(r, eq, 16, 5, 16, metric);
        assert.ok(counts.every((c) => c === 1));
        assert.equal(r.inertia, 0);
      }
    }
  }
});

test('n < k: no NaN, every centroid is a copy of a data point, zero inertia', () => {
  const data = Float32Array.of(1, 2, 3, 4, 5, 6, -1, 0.5, 8, 8);
  for (const metric of METRICS) {
    const r = kmeans(data, 5, 2, 16, { metric, seed: 2 });
    checkResult(r, data, 5, 2, 16, metric);
    assert.equal(r.inertia, 0);
    for (let j = 0; j < 16; j++) {
      const c = [r.centroids[2 * j], r.centroids[2 * j + 1]];
      assert.ok([0, 1, 2, 3, 4].some((i) => data[2 * i] === c[0] && data[2 * i + 1] === c[1]), `centroid ${j} ${c} is not a data point`);
    }
    assert.equal(new Set([...r.assign]).size, 5, 'each distinct point has its own cluster');
  }
});

test('converges to the true centres of well-separated blobs', () => {
  const centres = [[0, 0, 0], [10, 0, 0], [0, 10, 0], [0, 0, 10], [10, 10, 10], [-10, 5, 0]];
  const data = blobs(centres, 1200, 0.3, 11);
  for (const metric of METRICS) {
    const r = kmeans(data, 1200, 3, 6, { metric, seed: 4, restarts: 3 });
    for (const c of centres) {
      let near = Infinity;
      for (let j = 0; j < 6; j++) near = Math.min(near, Math.hypot(c[0] - r.centroids[3 * j], c[1] - r.centroids[3 * j + 1], c[2] - r.centroids[3 * j + 2]));
      // The midrange follows the blob's extreme points, so it is noisier than the mean or the median.
      const tolerance = metric === 'chebyshev' ? 0.5 : 0.1;
      assert.ok(near < tolerance, `${metric}: centre ${c} is ${near} from the nearest centroid`);
    }
  }
});

test('centre update: mean (l2), median (l1), midrange (chebyshev) on a hand-made cluster', () => {
  // One cluster (k = 1): the centroid is the metric's centre of all points.
  const pts = Float32Array.of(0, 10, 1, 20, 5, 30, 100, 31);
  const c = (metric: Metric) => [...kmeans(pts, 4, 2, 1, { metric }).centroids];
  assert.deepEqual(c('l2'), [26.5, 22.75]);
  assert.deepEqual(c('l1'), [3, 25]); // medians of (0,1,5,100) and (10,20,30,31)
  assert.deepEqual(c('chebyshev'), [50, 20.5]); // midranges
  const odd = Float32Array.of(4, 1, 9, 2, 0, -6);
  assert.deepEqual([...kmeans(odd, 3, 2, 1, { metric: 'l1' }).centroids], [4, 1]);
  // Two separated groups: each centroid is its group's median / midrange.
  const two = Float32Array.of(0, 1, 2, 10, 100, 101, 109, 110, 120);
  const l1 = [...kmeans(two, 9, 1, 2, { metric: 'l1', seed: 1 }).centroids].sort((a, b) => a - b);
  assert.deepEqual(l1, [1.5, 109]);
  const ch = [...kmeans(two, 9, 1, 2, { metric: 'chebyshev', seed: 1 }).centroids].sort((a, b) => a - b);
  assert.deepEqual(ch, [5, 110]);
});

test('median matches sorting, odd and even counts, duplicates', () => {
  const rng = new Rng(9);
  for (let trial = 0; trial < 200; trial++) {
    const m = 1 + rng.int(40);
    const a = Float32Array.from({ length: m }, () => rng.int(8) - 3 + (rng.random() < 0.5 ? 0 : rng.random()));
    const s = [...a].sort((x, y) => x - y);
    const want = m % 2 ? s[(m - 1) / 2] : 0.5 * (s[m / 2 - 1] + s[m / 2]);
    assert.equal(median(a, m), want);
  }
});

test('Lloyd never raises the L2 inertia nor the Chebyshev max radius', () => {
  const data = randomData(800, 4, 6);
  let prevInertia = Infinity;
  let prevRadius = Infinity;
  for (let it = 0; it <= 12; it++) {
    const r = kmeans(data, 800, 4, 8, { metric: 'l2', seed: 5, iters: it });
    assert.ok(r.inertia <= prevInertia * (1 + 1e-12), `l2 inertia rose at iteration ${it}`);
    prevInertia = r.inertia;
    const q = kmeans(data, 800, 4, 8, { metric: 'chebyshev', seed: 5, iters: it });
    let radius = 0;
    for (let i = 0; i < 800; i++) radius = Math.max(radius, assignCost('chebyshev', data, i * 4, q.centroids, q.assign[i] * 4, 4));
    assert.ok(radius <= prevRadius, `chebyshev max radius rose at iteration ${it}`);
    prevRadius = radius;
  }
});

test('k-means++ seeding beats random seeding on blobs on average', () => {
  const centres: number[][] = [];
  for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) centres.push([a * 10, b * 10]);
  const data = blobs(centres, 2000, 1, 12);
  let pp = 0;
  let rnd = 0;
  for (let seed = 0; seed < 10; seed++) {
    pp += kmeans(data, 2000, 2, 25, { seed, iters: 25, init: 'kmeans++' }).inertia;
    rnd += kmeans(data, 2000, 2, 25, { seed, iters: 25, init: 'random' }).inertia;
  }
  assert.ok(pp < 0.9 * rnd, `mean inertia k-means++ ${pp / 10} vs random ${rnd / 10}`);
});

test('restarts keep the lowest inertia', () => {
  const data = randomData(500, 3, 8);
  const one = kmeans(data, 500, 3, 10, { seed: 2, restarts: 1 });
  const many = kmeans(data, 500, 3, 10, { seed: 2, restarts: 6 });
  assert.ok(many.inertia <= one.inertia); // the first restart is the single run
});

test('tol stops early once the inertia barely moves', () => {
  const data = randomData(3000, 9, 3);
  const full = kmeans(data, 3000, 9, 16, { seed: 1, iters: 50 });
  const early = kmeans(data, 3000, 9, 16, { seed: 1, iters: 50, tol: 1e-2 });
  assert.ok(early.iters < full.iters, `${early.iters} vs ${full.iters}`);
  assert.ok(early.inertia <= 1.05 * full.inertia);
});

test('trainCodebooks runs k-means on each column block', () => {
  const N = 300;
  const C = 3;
  const V = 2;
  const K = 4;
  const rng = new Rng(1);
  const rows = Float32Array.from({ length: N * C * V }, (_, i) => rng.normal() + (i % (C * V)) * 100);
  const cents = trainCodebooks(rows, N, C, V, K, { seed: 5, iters: 10 });
  assert.equal(cents.length, C * K * V);
  const seeds = new Rng(5);
  for (let c = 0; c < C; c++) {
    const block = new Float32Array(N * V);
    for (let i = 0; i < N; i++) for (let v = 0; v < V; v++) block[i * V + v] = rows[i * C * V + c * V + v];
    const r = kmeans(block, N, V, K, { seed: seeds.nextU32(), iters: 10 });
    assert.deepEqual([...cents.subarray(c * K * V, (c + 1) * K * V)], [...r.centroids]);
  }
});

test('trainCodebooks subsamples maxRows rows, seeded', () => {
  const centres = [[0, 0], [8, 0], [0, 8], [8, 8]];
  const N = 5000;
  const rows = blobs(centres, N, 0.2, 3); // C = 1, V = 2
  const a = trainCodebooks(rows, N, 1, 2, 4, { maxRows: 500, seed: 1 });
  const b = trainCodebooks(rows, N, 1, 2, 4, { maxRows: 500, seed: 1 });
  assert.deepEqual(bytes(a), bytes(b));
  for (const c of centres) {
    let near = Infinity;
    for (let j = 0; j < 4; j++) near = Math.min(near, Math.hypot(c[0] - a[2 * j], c[1] - a[2 * j + 1]));
    assert.ok(near < 0.2, `centre ${c}: ${near}`);
  }
  const s = sampleRows(100, 10, new Rng(0));
  assert.equal(s.length, 10);
  assert.equal(new Set(s).size, 10);
  assert.ok(s.every((x, i) => x >= 0 && x < 100 && (i === 0 || s[i - 1] < x)));
  let calls = 0;
  trainCodebooks(randomData(50, 6, 1), 50, 3, 2, 4, {
    onProgress: (done, total) => {
      calls++;
      assert.deepEqual([done, total], [calls, 3]);
    },
  });
  assert.equal(calls, 3);
});

test('kmeans and trainCodebooks validate their arguments', () => {
  const d = new Float32Array(12);
  assert.throws(() => kmeans(d, 5, 2, 3), (e: Error) => e instanceof ShapeError && e.message === 'kmeans: data length 12 vs expected n*V = 5*2 = 10');
  assert.throws(() => kmeans(d, 6, 2, 0), (e: Error) => e instanceof ArgumentError && /kmeans: k must be an integer >= 1, got 0/.test(e.message));
  assert.throws(() => kmeans(d, 6, 2, 3, { iters: -1 }), ArgumentError);
  assert.throws(() => kmeans(d, 6, 2, 3, { metric: 'cos' as Metric }), /kmeans: metric must be one of l2, l1, chebyshev, got cos/);
  assert.throws(() => kmeans(d, 6, 2, 3, { tol: -1 }), ArgumentError);
  const bad = new Float32Array(12);
  bad[3] = NaN;
  assert.throws(() => kmeans(bad, 6, 2, 3), (e: Error) => e instanceof NonFiniteError && /point 1/.test(e.message));
  assert.throws(() => trainCodebooks(d, 3, 2, 3, 4), (e: Error) => e instanceof ShapeError && e.message === 'trainCodebooks: rows length 12 vs expected N*C*V = 3*2*3 = 18');
  assert.throws(() => trainCodebooks(d, 2, 2, 3, 300), /k must be <= 256/);
});
