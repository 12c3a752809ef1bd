// Tests of the MADDNESS trees (split search, routing) and the ridge-regression prototypes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestSplit,
  choleskyInPlace,
  choleskySolveInPlace,
  learnTree,
  maddnessEncode,
  maddnessReconstruct,
  trainMaddness,
  type MaddnessModel,
} from './maddness.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, NonFiniteError, ShapeError } from '../errors.js';

/** Rows [N, C·V]: each codebook's sub-vector sits at one of `nblobs` random centres plus noise. */
function blobRows(N: number, C: number, V: number, nblobs: number, std: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = Float32Array.from({ length: C * nblobs * V }, () => rng.normal(0, 5));
  const rows = new Float32Array(N * C * V);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const b = rng.int(nblobs);
      for (let v = 0; v < V; v++) rows[i * C * V + c * V + v] = centres[(c * nblobs + b) * V + v] + rng.normal(0, std);
    }
  }
  return rows;
}

function sse(rows: number[][]): number {
  if (rows.length === 0) return 0;
  let s = 0;
  for (let v = 0; v < rows[0].length; v++) {
    const mean = rows.reduce((a, r) => a + r[v], 0) / rows.length;
    s += rows.reduce((a, r) => a + (r[v] - mean) ** 2, 0);
  }
  return s;
}

/** Routing re-implemented from the documented convention: right when x[dim] > threshold, heap order. */
function route(row: Float32Array, off: number, model: MaddnessModel, c: number): number {
  let node = 0;
  let code = 0;
  for (let l = 0; l < 4; l++) {
    const right = row[off + model.splitDims[c * 4 + l]] > model.thresholds[c * 15 + node];
    code = code * 2 + (right ? 1 : 0);
    node = 2 * node + 1 + (right ? 1 : 0);
  }
  return code;
}

test('bestSplit finds the SSE-optimal threshold of a 1-D sorted dataset', () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 30; trial++) {
    const m = 2 + rng.int(30);
    const vals = Array.from({ length: m }, () => Math.round(rng.normal(0, 4) * 4) / 4).sort((a, b) => a - b);
    const block = Float32Array.from(vals);
    const idx = Int32Array.from({ length: m }, (_, i) => i);
    const s = bestSplit(block, 1, idx, 0, m, 0);
    // Brute force over every cut between distinct values.
    let best = sse(vals.map((x) => [x]));
    for (let cut = 1; cut < m; cut++) {
      if (vals[cut - 1] === vals[cut]) continue;
      best = Math.min(best, sse(vals.slice(0, cut).map((x) => [x])) + sse(vals.slice(cut).map((x) => [x])));
    }
    assert.ok(Math.abs(s.sse - best) <= 1e-9 * Math.max(1, best), `sse ${s.sse} vs brute force ${best}`);
    const left = vals.filter((x) => x <= s.threshold);
    const right = vals.filter((x) => x > s.threshold);
    assert.equal(left.length, s.left);
    assert.ok(Math.abs(sse(left.map((x) => [x])) + sse(right.map((x) => [x])) - best) <= 1e-9 * Math.max(1, best));
  }
  // A clear gap: the threshold lies in it.
  const gap = Float32Array.of(0, 1, 2, 10, 11, 12);
  const s = bestSplit(gap, 1, Int32Array.of(0, 1, 2, 3, 4, 5), 0, 6, 0);
  assert.equal(s.threshold, 6);
  assert.equal(s.left, 3);
  assert.equal(s.sse, 4);
});

test('bestSplit judges a split by the SSE over all dims of the sub-vector', () => {
  // Along dim 0 the values are 0,1,2,3; dim 1 is large for rows 0 and 1 only: the best cut on dim 0 is
  // after row 1 (between 1 and 2), although dim 0 alone would be indifferent between cuts.
  const block = Float32Array.of(0, 100, 1, 100, 2, 0, 3, 0);
  const s = bestSplit(block, 2, Int32Array.of(3, 1, 0, 2), 0, 4, 0);
  assert.equal(s.threshold, 1.5);
  assert.equal(s.sse, 0.5 + 0.5);
  // Equal values cannot be separated: nothing splits, everything goes left.
  const flat = bestSplit(Float32Array.of(5, 5, 5), 1, Int32Array.of(0, 1, 2), 0, 3, 0);
  assert.deepEqual([flat.left, flat.sse, flat.threshold], [3, 0, 5]);
});

test('learnTree on 16 separated 1-D groups gives one leaf per group, in order', () => {
  const rng = new Rng(4);
  const n = 16 * 20;
  const group = Int32Array.from({ length: n }, () => rng.int(16));
  const block = Float32Array.from(group, (g) => g * 10 + rng.uniform(-1, 1));
  const tree = learnTree(block, n, 1);
  assert.deepEqual([...tree.splitDims], [0, 0, 0, 0]);
  const model: MaddnessModel = { ncodebooks: 1, subvecLen: 1, splitDims: tree.splitDims, thresholds: tree.thresholds, prototypes: new Float32Array(16) };
  const codes = maddnessEncode(block, n, model);
  for (let i = 0; i < n; i++) assert.equal(codes[i], group[i], `row ${i} value ${block[i]}`);
});

test('every row routes to exactly one of 16 leaves, following the thresholds', () => {
  const N = 2000;
  const C = 3;
  const V = 5;
  const rows = blobRows(N, C, V, 12, 1, 5);
  const model = trainMaddness(rows, N, C, V);
  assert.equal(model.splitDims.length, C * 4);
  assert.equal(model.thresholds.length, C * 15);
  assert.equal(model.prototypes.length, C * 16 * C * V);
  assert.ok(model.splitDims.every((d) => d >= 0 && d < V));
  const codes = maddnessEncode(rows, N, model);
  assert.equal(codes.length, N * C);
  for (let c = 0; c < C; c++) {
    const counts = new Array(16).fill(0);
    for (let i = 0; i < N; i++) {
      const code = codes[i * C + c];
      assert.ok(code < 16);
      assert.equal(code, route(rows, i * C * V + c * V, model, c));
      counts[code]++;
    }
    assert.equal(counts.reduce((a, b) => a + b, 0), N);
    assert.ok(counts.filter((x) => x > 0).length >= 12, `codebook ${c} uses only ${counts.filter((x) => x > 0).length} leaves`);
  }
});

test('ridge prototypes satisfy the normal equations (GᵀG + λI) P = GᵀX', () => {
  const N = 600;
  const C = 4;
  const V = 3;
  const D = C * V;
  const rows = blobRows(N, C, V, 16, 0.5, 6);
  for (const lambda of [1, 10]) {
    const model = trainMaddness(rows, N, C, V, { lambda });
    const codes = maddnessEncode(rows, N, model);
    const M = C * 16;
    const P = model.prototypes;
    // r = GᵀG·P + λP − GᵀX, built row by row from the codes.
    const r = new Float64Array(M * D);
    let scale = 0;
    for (let j = 0; j < M; j++) for (let d = 0; d < D; d++) r[j * D + d] = lambda * P[j * D + d];
    for (let i = 0; i < N; i++) {
      const recon = new Float64Array(D); // (G·P)[i]
      for (let c = 0; c < C; c++) for (let d = 0; d < D; d++) recon[d] += P[(c * 16 + codes[i * C + c]) * D + d];
      for (let c = 0; c < C; c++) {
        const j = c * 16 + codes[i * C + c];
        for (let d = 0; d < D; d++) {
          r[j * D + d] += recon[d] - rows[i * D + d];
          scale = Math.max(scale, Math.abs(rows[i * D + d]));
        }
      }
    }
    const worst = r.reduce((a, x) => Math.max(a, Math.abs(x)), 0);
    assert.ok(worst < 1e-6 * scale * N / 16, `normal-equation residual ${worst}`);
  }
});

test('prototypes reconstruct blob data much better than the mean', () => {
  const N = 3000;
  const C = 4;
  const V = 4;
  const D = C * V;
  const rows = blobRows(N, C, V, 8, 0.3, 7);
  const model = trainMaddness(rows, N, C, V);
  const recon = maddnessReconstruct(maddnessEncode(rows, N, model), model);
  assert.equal(recon.length, N * D);
  const mean = new Float64Array(D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) mean[d] += rows[i * D + d] / N;
  let err = 0;
  let base = 0;
  for (let i = 0; i < N; i++) {
    for (let d = 0; d < D; d++) {
      err += (recon[i * D + d] - rows[i * D + d]) ** 2;
      base += (mean[d] - rows[i * D + d]) ** 2;
    }
  }
  assert.ok(err < 0.05 * base, `reconstruction MSE ${err / N / D} vs mean ${base / N / D}`);
});

test('training is deterministic and subsamples with a seed', () => {
  const N = 1500;
  const rows = blobRows(N, 2, 4, 10, 1, 8);
  const a = trainMaddness(rows, N, 2, 4);
  const b = trainMaddness(rows, N, 2, 4);
  assert.deepEqual(a, b);
  const s1 = trainMaddness(rows, N, 2, 4, { maxRows: 400, seed: 1 });
  const s2 = trainMaddness(rows, N, 2, 4, { maxRows: 400, seed: 1 });
  assert.deepEqual(s1, s2);
  let calls = 0;
  trainMaddness(rows, N, 2, 4, {
    onProgress: (done, total) => {
      calls++;
      assert.deepEqual([done, total], [calls, 3]);
    },
  });
  assert.equal(calls, 3);
});

test('cholesky solves a small SPD system', () => {
  const A = Float64Array.of(4, 0, 0, 2, 5, 0, 1, 3, 6); // lower triangle of [[4,2,1],[2,5,3],[1,3,6]]
  const x = [1, -2, 3];
  const b = Float64Array.of(4 * 1 + 2 * -2 + 1 * 3, 2 * 1 + 5 * -2 + 3 * 3, 1 * 1 + 3 * -2 + 6 * 3);
  choleskyInPlace(A, 3);
  choleskySolveInPlace(A, 3, b, 1);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(b[i] - x[i]) < 1e-12);
  assert.throws(() => choleskyInPlace(Float64Array.of(1, 0, 2, 1), 2), /not positive definite/);
});

test('MADDNESS functions validate their arguments', () => {
  const rows = new Float32Array(40);
  assert.throws(() => trainMaddness(rows, 3, 2, 5), (e: Error) => e instanceof ShapeError && e.message === 'trainMaddness: rows length 40 vs expected N*C*V = 3*2*5 = 30');
  assert.throws(() => trainMaddness(rows, 4, 2, 5, { lambda: 0 }), (e: Error) => e instanceof ArgumentError && /lambda must be a finite number > 0, got 0/.test(e.message));
  const bad = new Float32Array(40);
  bad[13] = NaN;
  assert.throws(() => trainMaddness(bad, 4, 2, 5), (e: Error) => e instanceof NonFiniteError && /row 1/.test(e.message));
  const model = trainMaddness(blobRows(64, 2, 5, 4, 1, 1), 64, 2, 5);
  assert.throws(() => maddnessEncode(new Float32Array(30), 4, model), (e: Error) => e instanceof ShapeError && /rows length 30 vs expected N\*D = 4\*10 = 40/.test(e.message));
  const nan = new Float32Array(10).fill(NaN);
  assert.throws(() => maddnessEncode(nan, 1, model), NonFiniteError);
  assert.throws(() => maddnessEncode(new Float32Array(10), 1, { ...model, splitDims: Int32Array.of(0, 1, 2, 9, 0, 0, 0, 0) }), /splitDims\[3\] = 9, expected 0..4/);
  assert.throws(() => maddnessReconstruct(new Uint8Array(3), model), /not a multiple of C = 2/);
  assert.throws(() => maddnessReconstruct(Uint8Array.of(16, 0), model), /codes\[0\] = 16, expected 0..15/);
});

test('a projected table (project: W) equals prototypes · Wᵀ, with the same trees', () => {
  const N = 2000;
  const C = 5;
  const V = 4;
  const D = C * V;
  const M = 7;
  const rows = blobRows(N, C, V, 6, 0.4, 11);
  const rng = new Rng(3);
  const W = new Float32Array(M * D).map(() => rng.normal(0, 1));
  const plain = trainMaddness(rows, N, C, V);
  const proj = trainMaddness(rows, N, C, V, { project: W });
  assert.deepEqual(proj.splitDims, plain.splitDims);
  assert.deepEqual(proj.thresholds, plain.thresholds);
  assert.equal(proj.projected, M);
  assert.equal(proj.prototypes.length, C * 16 * M);
  let worst = 0;
  let scale = 0;
  for (let r = 0; r < C * 16; r++) {
    for (let m = 0; m < M; m++) {
      let want = 0;
      for (let d = 0; d < D; d++) want += plain.prototypes[r * D + d] * W[m * D + d];
      worst = Math.max(worst, Math.abs(proj.prototypes[r * M + m] - want));
      scale = Math.max(scale, Math.abs(want));
    }
  }
  assert.ok(worst <= 1e-4 * scale, `max |P·Wᵀ − projected| ${worst} (scale ${scale})`);
  assert.throws(() => trainMaddness(rows, N, C, V, { project: new Float32Array(D + 1) }), ShapeError);
});
