// Prepacked B, resident arrays and the long-lived heap: packed vs per-call vs reference, disposal, reuse, threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { getWasmBackend, referenceBackend } from './index.js';
import { getNumThreads, setNumThreads, startWorkers, takeTaskCounts } from './pool.js';
import { gemmRef } from './reference.js';
import { wasmRuntime } from './wasm.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, BackendError, ShapeError } from '../errors.js';

const be = getWasmBackend() ?? assert.fail('the wasm backend did not load; run npm run build:wasm');
const rt = wasmRuntime() ?? assert.fail('no wasm runtime');

function rand(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** |got − want| ≤ 2(K+1)·2⁻²⁴·Σ|a·b| (+|C|): the f32 dot-product bound, as in gemm.test.ts. */
function assertClose(got: Float32Array, want: Float32Array, A: Float32Array, B: Float32Array, C0: Float32Array,
  M: number, N: number, K: number, tA: boolean, tB: boolean, acc: boolean, what: string): void {
  const bound = acc ? C0.map(Math.abs) : new Float32Array(M * N);
  gemmRef(A.map(Math.abs), B.map(Math.abs), bound, M, N, K, tA, tB, true);
  const u = 2 * (K + 1) * 2 ** -24;
  for (let i = 0; i < M * N; i++) {
    if (!(Math.abs(got[i] - want[i]) <= u * bound[i] + 1e-30)) assert.fail(`${what}: C[${i}] = ${got[i]}, reference ${want[i]}`);
  }
}

test('gemmPacked equals gemm bit for bit and the reference within rounding, on edge shapes', () => {
  const { mr: MR, nr: NR, kc: KC } = rt.tiles;
  const shapes: [number, number, number][] = [
    [0, 5, 3], [4, 0, 3], [3, 4, 0], [1, 1, 1], [1, 9, 1], [7, 1, 5], [MR, NR, 1], [MR + 1, NR - 1, 3],
    [2 * MR - 1, 2 * NR + 3, KC + 1], [33, 17, 2 * KC + 5], [5, 300, 20],
  ];
  const rng = new Rng(3);
  for (const [M, N, K] of shapes) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const acc of [false, true]) {
          const what = `${M}x${N}x${K} tA=${tA} tB=${tB} acc=${acc}`;
          const A = rand(M * K, rng);
          const B = rand(K * N, rng);
          const C0 = rand(M * N, rng);
          const B2 = B.slice();
          const wp = be.packGemmB(B, K, N, tB);
          const rp = referenceBackend.packGemmB(B, K, N, tB);
          B.fill(NaN); // the packed copies must not alias B
          const [perCall, packed, refPacked, ref] = [C0.slice(), C0.slice(), C0.slice(), C0.slice()];
          be.gemm(A, B2, perCall, M, N, K, tA, tB, acc);
          be.gemmPacked(A, wp, packed, M, tA, acc);
          referenceBackend.gemmPacked(A, rp, refPacked, M, tA, acc);
          gemmRef(A, B2, ref, M, N, K, tA, tB, acc);
          assert.deepEqual(packed, perCall, what);
          assert.deepEqual(refPacked, ref, what);
          assertClose(packed, ref, A, B2, C0, M, N, K, tA, tB, acc, what);
          wp.dispose();
          rp.dispose();
        }
      }
    }
  }
});

test('resident A and C are read and written in place with the same results', () => {
  const rng = new Rng(5);
  const [M, N, K] = [37, 53, 70];
  const A = rand(M * K, rng);
  const B = rand(K * N, rng);
  const C0 = rand(M * N, rng);
  for (const tA of [false, true]) {
    for (const acc of [false, true]) {
      const want = C0.slice();
      be.gemm(A, B, want, M, N, K, tA, false, acc);
      const a = be.allocResident(M * K);
      const c = be.allocResident(M * N + 3);
      assert.ok(a.ptr > 0 && a.ptr % 64 === 0);
      assert.deepEqual(c.view, new Float32Array(M * N + 3)); // zero-filled
      a.view.set(A);
      c.view.set(C0);
      c.view.fill(7, M * N);
      const p = be.packGemmB(B, K, N, false);
      be.gemmPacked(a.view, p, c.view, M, tA, acc);
      assert.deepEqual(c.view.subarray(0, M * N), want);
      assert.deepEqual([...c.view.subarray(M * N)], [7, 7, 7]);
      // The per-call gemm takes resident operands too, B included.
      const b = be.allocResident(K * N);
      b.view.set(B);
      c.view.set(C0);
      be.gemm(a.view, b.view, c.view, M, N, K, tA, false, acc);
      assert.deepEqual(c.view.subarray(0, M * N), want);
      // A subarray is an ordinary array (copied), with the same result.
      c.view.set(C0);
      be.gemmPacked(a.view.subarray(0), p, c.view, M, tA, acc);
      assert.deepEqual(c.view.subarray(0, M * N), want);
      for (const r of [a, b, c, p]) r.dispose();
    }
  }
  const ref = referenceBackend.allocResident(4);
  assert.equal(ref.ptr, -1);
  assert.deepEqual(ref.view, new Float32Array(4));
  ref.dispose();
  assert.equal(ref.disposed, true);
});

test('disposal: disposed or foreign packed matrices and disposed resident views are refused', () => {
  const before = rt.heap.stats();
  const p = be.packGemmB(new Float32Array(6), 2, 3, false);
  assert.equal(rt.heap.stats().liveBlocks, before.liveBlocks + 1);
  assert.equal(p.disposed, false);
  p.dispose();
  p.dispose(); // idempotent
  assert.equal(p.disposed, true);
  assert.deepEqual(rt.heap.stats(), before);
  const C = new Float32Array(3);
  assert.throws(() => be.gemmPacked(new Float32Array(2), p, C, 1, false, false),
    (e: Error) => e instanceof ArgumentError && e.message === 'wasm gemmPacked: the packed matrix was disposed');
  const rp = referenceBackend.packGemmB(new Float32Array(6), 2, 3, true);
  assert.throws(() => be.gemmPacked(new Float32Array(2), rp, C, 1, false, false),
    (e: Error) => e instanceof ArgumentError && /packed by the wasm backend, got one from reference/.test(e.message));
  rp.dispose();
  assert.throws(() => referenceBackend.gemmPacked(new Float32Array(2), rp, C, 1, false, false),
    (e: Error) => e instanceof ArgumentError && /disposed/.test(e.message));
  const q = be.packGemmB(new Float32Array(6), 2, 3, false);
  const r = be.allocResident(2);
  r.dispose();
  assert.throws(() => be.gemmPacked(r.view, q, C, 1, false, false),
    (e: Error) => e instanceof ArgumentError && e.message === 'wasm gemmPacked: A is the view of a disposed resident array');
  assert.throws(() => be.gemmPacked(new Float32Array(1), q, C, 1, false, false),
    (e: Error) => e instanceof ShapeError && e.message === 'wasm gemmPacked: A has 1 elements, needs 2 (M=1, N=3, K=2)');
  assert.throws(() => be.gemmPacked(new Float32Array(2), q, C, 1.5, false, false), ArgumentError);
  assert.throws(() => be.packGemmB(new Float32Array(5), 2, 3, false), ShapeError);
  assert.throws(() => be.packGemmB(new Float32Array(6), -2, 3, false), ArgumentError);
  q.dispose();
  assert.deepEqual(rt.heap.stats(), before);
});

test('1000 pack/dispose cycles and random alloc/free reuse the same memory without corrupting live blocks', () => {
  const rng = new Rng(9);
  const start = rt.heap.stats();
  const B = rand(300 * 200, rng);
  const A = rand(10 * 300, rng);
  const want = new Float32Array(10 * 200);
  be.gemm(A, B, want, 10, 200, 300, false, false, false);
  let bytes = 0;
  for (let i = 0; i < 1000; i++) {
    const p = be.packGemmB(B, 300, 200, false);
    if (i === 0) bytes = rt.memory.buffer.byteLength;
    if (i % 100 === 0) {
      const C = new Float32Array(10 * 200);
      be.gemmPacked(A, p, C, 10, false, false);
      assert.deepEqual(C, want);
    }
    p.dispose();
  }
  assert.deepEqual(rt.heap.stats(), start);
  assert.equal(rt.memory.buffer.byteLength, bytes, 'the memory grew during alloc/free cycles');

  // Interleaved blocks of random sizes, each filled with its own value and checked before it is freed.
  const live: { r: ReturnType<typeof be.allocResident>; v: number }[] = [];
  let peak = 0;
  for (let i = 0; i < 1000; i++) {
    if (live.length > 0 && (rng.random() < 0.45 || live.length > 40)) {
      const [{ r, v }] = live.splice(rng.int(live.length), 1);
      assert.ok(r.view.every((x) => x === v), `block ${r.ptr} was overwritten`);
      r.dispose();
    } else {
      const r = be.allocResident(1 + rng.int(5000));
      r.view.fill(i);
      live.push({ r, v: i });
    }
    peak = Math.max(peak, rt.heap.stats().frontier);
  }
  const s = rt.heap.stats();
  assert.ok(s.frontier - start.frontier <= 41 * 5000 * 4 * 3, `heap frontier ${s.frontier} grew without bound`);
  for (const { r, v } of live) {
    assert.ok(r.view.every((x) => x === v));
    r.dispose();
  }
  assert.deepEqual(rt.heap.stats(), start);
  assert.ok(peak > start.frontier);
  assert.throws(() => rt.heap.free(start.frontier + 64), BackendError);
});

test('scratch never overwrites long-lived blocks; the heap cannot grow inside a kernel call', () => {
  const rng = new Rng(13);
  const [M, N, K] = [64, 300, 500];
  const B = rand(K * N, rng);
  const A = rand(M * K, rng);
  const p = be.packGemmB(B, K, N, true);
  const ptr = (p as unknown as { ptr: number }).ptr;
  const snapshot = rt.f32(ptr, rt.heap.sizeOf(ptr)! / 4).slice();
  const first = new Float32Array(M * N);
  be.gemmPacked(A, p, first, M, false, false);
  // A large per-call GEMM and conv use scratch far past the packed block.
  const big = rand(400 * 400, rng);
  be.gemm(big, big, new Float32Array(400 * 400), 400, 400, 400, false, false, false);
  const g = { n: 2, cin: 3, h: 40, w: 40, cout: 8, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 1, padW: 1, dilH: 1, dilW: 1, groups: 1, outH: 40, outW: 40 };
  be.conv2dForward(rand(2 * 3 * 1600, rng), rand(8 * 27, rng), null, g, new Float32Array(2 * 8 * 1600));
  assert.deepEqual(rt.f32(ptr, snapshot.length), snapshot);
  const again = new Float32Array(M * N);
  be.gemmPacked(A, p, again, M, false, false);
  assert.deepEqual(again, first);
  assert.throws(() => rt.scoped(() => {
    rt.arena.alloc(1024);
    rt.heap.alloc(1 << 20);
  }), (e: Error) => e instanceof BackendError && /while kernel scratch is in use/.test(e.message));
  p.dispose();
});

test('gemmPacked results are bit-identical for 1, 2 and 3 threads, and the workers take part', async () => {
  const prev = getNumThreads();
  try {
    setNumThreads(3);
    await startWorkers(rt);
    const rng = new Rng(17);
    for (const [M, N, K, tA, tB] of [[190, 170, 300, false, false], [64, 700, 257, true, true]] as const) {
      const A = rand(M * K, rng);
      const p = be.packGemmB(rand(K * N, rng), K, N, tB);
      const run = (threads: number): { C: Float32Array; helpers: number } => {
        setNumThreads(threads);
        takeTaskCounts(rt);
        const C = new Float32Array(M * N);
        be.gemmPacked(A, p, C, M, tA, false);
        return { C, helpers: takeTaskCounts(rt).slice(1).filter((n) => n > 0).length };
      };
      const one = run(1);
      assert.ok(one.C.some((v) => v !== 0));
      let helped = 0;
      for (let attempt = 0; attempt < 20 && helped === 0; attempt++) {
        for (const t of [2, 3]) {
          const r = run(t);
          assert.deepEqual(r.C, one.C);
          helped = Math.max(helped, r.helpers);
        }
      }
      assert.ok(helped > 0, 'no worker ran a task');
      p.dispose();
    }
  } finally {
    setNumThreads(prev);
  }
});

test('an undisposed packed matrix or resident array is freed once collected (finalizer safety net)', async () => {
  const mod = new URL('./index.ts', import.meta.url).href;
  const wasmMod = new URL('./wasm.ts', import.meta.url).href;
  const code = `import { getWasmBackend } from '${mod}'; import { wasmRuntime } from '${wasmMod}';
    const be = getWasmBackend(), rt = wasmRuntime();
    const base = rt.heap.stats().liveBlocks;
    (() => { for (let i = 0; i < 5; i++) { be.packGemmB(new Float32Array(64 * 64), 64, 64, false); be.allocResident(1000); } })();
    const made = rt.heap.stats().liveBlocks - base;
    for (let i = 0; i < 100 && rt.heap.stats().liveBlocks > base; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); }
    console.log(made, rt.heap.stats().liveBlocks - base);`;
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], { timeout: 60000 },
      (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
  });
  assert.equal(out.trim(), '10 0');
});
