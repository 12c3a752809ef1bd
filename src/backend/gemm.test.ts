// The wasm GEMM against the scalar reference: shapes around the tile sizes, transposes, accumulate, threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getWasmBackend } from './index.js';
import { getNumThreads, setNumThreads, startWorkers, takeTaskCounts } from './pool.js';
import { gemmRef } from './reference.js';
import { wasmRuntime } from './wasm.js';
import { Rng } from '../tensor/rng.js';
import { ShapeError } from '../errors.js';

const be = getWasmBackend() ?? assert.fail('the wasm backend did not load; run npm run build:wasm');

function rand(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/**
 * Asserts |got − want| ≤ 2·K·2⁻²⁴·Σ_k |a_ik·b_kj| (+ |C| when accumulating) elementwise: the standard f32 dot
 * product bound, so the tolerance scales with K and with the magnitudes actually summed.
 */
function checkGemm(M: number, N: number, K: number, tA: boolean, tB: boolean, acc: boolean, seed: number): void {
  const rng = new Rng(seed);
  const A = rand(M * K, rng);
  const B = rand(K * N, rng);
  const C0 = rand(M * N, rng);
  const got = C0.slice();
  const want = C0.slice();
  be.gemm(A, B, got, M, N, K, tA, tB, acc);
  gemmRef(A, B, want, M, N, K, tA, tB, acc);
  const bound = acc ? C0.map(Math.abs) : new Float32Array(M * N);
  gemmRef(A.map(Math.abs), B.map(Math.abs), bound, M, N, K, tA, tB, true);
  const u = 2 * (K + 1) * 2 ** -24;
  for (let i = 0; i < M * N; i++) {
    if (!(Math.abs(got[i] - want[i]) <= u * bound[i] + 1e-30)) {
      assert.fail(`gemm ${M}x${N}x${K} tA=${tA} tB=${tB} acc=${acc}: C[${i}] = ${got[i]}, reference ${want[i]}`);
    }
  }
}

test('gemm matches the reference on edge shapes for every transpose/accumulate combination', () => {
  const { mr: MR, nr: NR, kc: KC } = (wasmRuntime() ?? assert.fail('no wasm runtime')).tiles;
  const shapes: [number, number, number][] = [
    [1, 1, 1], [1, 9, 1], [7, 1, 5], [MR, NR, 1], [MR + 1, NR - 1, 3], [3, 5, 7], [2 * MR - 1, 2 * NR + 3, KC + 1], [33, 17, 2 * KC + 5],
  ];
  let seed = 1;
  for (const [M, N, K] of shapes) {
    for (const tA of [false, true]) for (const tB of [false, true]) for (const acc of [false, true]) checkGemm(M, N, K, tA, tB, acc, seed++);
  }
});

test('gemm matches the reference on random shapes', () => {
  const rng = new Rng(7);
  for (let i = 0; i < 12; i++) {
    const M = 1 + rng.int(90);
    const N = 1 + rng.int(90);
    const K = 1 + rng.int(300);
    checkGemm(M, N, K, rng.random() < 0.5, rng.random() < 0.5, rng.random() < 0.5, 100 + i);
  }
});

test('gemm with an empty dimension: M=0 or N=0 touch nothing, K=0 writes zeros unless accumulating', () => {
  const C = new Float32Array([5, 6, 7, 8]);
  be.gemm(new Float32Array(0), new Float32Array(6), C, 0, 3, 2, false, false, false);
  be.gemm(new Float32Array(4), new Float32Array(0), C, 2, 0, 2, false, false, false);
  assert.deepEqual([...C], [5, 6, 7, 8]);
  be.gemm(new Float32Array(0), new Float32Array(0), C, 2, 2, 0, false, false, true);
  assert.deepEqual([...C], [5, 6, 7, 8]);
  be.gemm(new Float32Array(0), new Float32Array(0), C, 2, 1, 0, false, false, false);
  assert.deepEqual([...C], [0, 0, 7, 8]);
});

test('gemm rejects operands shorter than their dims instead of reading past them', () => {
  assert.throws(() => be.gemm(new Float32Array(5), new Float32Array(6), new Float32Array(4), 2, 2, 3, false, false, false),
    (e: Error) => e instanceof ShapeError && e.message === 'wasm gemm: A has 5 elements, needs 6 (M=2, N=2, K=3)');
  assert.throws(() => be.gemm(new Float32Array(6), new Float32Array(6), new Float32Array(3), 2, 2, 3, false, false, false),
    (e: Error) => e instanceof ShapeError && /C has 3 elements, needs 4/.test(e.message));
});

test('gemm reads only its M·K and K·N prefix and writes only the M·N prefix of C', () => {
  const A = new Float32Array([1, 2, 3, 4, 99]);
  const B = new Float32Array([1, 0, 0, 1, 99]);
  const C = new Float32Array([0, 0, 0, 0, -1]);
  be.gemm(A, B, C, 2, 2, 2, false, false, false);
  assert.deepEqual([...C], [1, 2, 3, 4, -1]);
});

test('gemm results are bit-identical for 1, 2 and 3 threads, and the workers take part', async () => {
  const rt = wasmRuntime() ?? assert.fail('no wasm runtime');
  const prev = getNumThreads();
  try {
    setNumThreads(3);
    await startWorkers(rt);
    const rng = new Rng(11);
    for (const [M, N, K, tA, tB] of [[190, 170, 300, false, false], [64, 700, 257, true, true]] as const) {
      const A = rand(M * K, rng);
      const B = rand(K * N, rng);
      const run = (threads: number): { C: Float32Array; helpers: number } => {
        setNumThreads(threads);
        takeTaskCounts(rt);
        const C = new Float32Array(M * N);
        be.gemm(A, B, C, M, N, K, tA, tB, false);
        return { C, helpers: takeTaskCounts(rt).slice(1).filter((n) => n > 0).length };
      };
      const one = run(1);
      assert.equal(one.helpers, 0);
      assert.ok(one.C.some((v) => v !== 0));
      // A busy machine can delay a worker's wake-up past the whole job; retry until one takes part.
      let helped = 0;
      for (let attempt = 0; attempt < 20; attempt++) {
        for (const t of [2, 3]) {
          const r = run(t);
          assert.deepEqual(r.C, one.C);
          helped = Math.max(helped, r.helpers);
        }
        if (helped > 0) break;
      }
      assert.ok(helped > 0, 'no worker ran a task');
    }
  } finally {
    setNumThreads(prev);
  }
});
