// The wasm conv (im2col + GEMM, col2im) against the direct reference conv, plus thread-count invariance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getWasmBackend } from './index.js';
import { getNumThreads, setNumThreads, startWorkers, takeTaskCounts } from './pool.js';
import {
  col2imRef, conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dForwardRef, im2colRef,
} from './reference.js';
import type { Conv2dGeom } from './types.js';
import { wasmRuntime } from './wasm.js';
import { setConvChunkBytes } from './wasm-backend.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, ShapeError } from '../errors.js';

const be = getWasmBackend() ?? assert.fail('the wasm backend did not load; run npm run build:wasm');

interface Spec {
  n: number; cin: number; h: number; w: number; cout: number; k: [number, number];
  stride?: [number, number]; pad?: [number, number]; dil?: [number, number]; groups?: number;
}

function geom(s: Spec): Conv2dGeom {
  const [kh, kw] = s.k;
  const [strideH, strideW] = s.stride ?? [1, 1];
  const [padH, padW] = s.pad ?? [0, 0];
  const [dilH, dilW] = s.dil ?? [1, 1];
  const outH = Math.floor((s.h + 2 * padH - dilH * (kh - 1) - 1) / strideH) + 1;
  const outW = Math.floor((s.w + 2 * padW - dilW * (kw - 1) - 1) / strideW) + 1;
  return { n: s.n, cin: s.cin, h: s.h, w: s.w, cout: s.cout, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups: s.groups ?? 1, outH, outW };
}

function rand(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

const abs = (a: Float32Array): Float32Array => a.map(Math.abs);

/** |got − want| ≤ 2·terms·2⁻²⁴·bound elementwise, bound = the same computation on absolute values. */
function close(what: string, got: Float32Array, want: Float32Array, bound: Float32Array, terms: number): void {
  assert.equal(got.length, want.length);
  const u = 2 * (terms + 1) * 2 ** -24;
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= u * bound[i] + 1e-30)) assert.fail(`${what}[${i}] = ${got[i]}, reference ${want[i]}`);
  }
}

const SPECS: Spec[] = [
  { n: 2, cin: 3, h: 7, w: 6, cout: 4, k: [3, 3], pad: [1, 1] },
  { n: 2, cin: 3, h: 9, w: 8, cout: 5, k: [3, 3], stride: [2, 2], pad: [1, 1] },
  { n: 1, cin: 2, h: 9, w: 10, cout: 3, k: [3, 3], pad: [2, 2], dil: [2, 2] },
  { n: 2, cin: 4, h: 6, w: 5, cout: 6, k: [3, 3], pad: [1, 1], groups: 2 },
  { n: 2, cin: 4, h: 6, w: 6, cout: 8, k: [3, 3], stride: [2, 2], pad: [1, 1], groups: 4 },
  { n: 3, cin: 5, h: 4, w: 3, cout: 3, k: [1, 1] },
  { n: 2, cin: 4, h: 5, w: 5, cout: 6, k: [1, 1], stride: [2, 2], groups: 2 },
  { n: 2, cin: 3, h: 5, w: 7, cout: 2, k: [2, 3], stride: [2, 1], pad: [0, 1] },
  { n: 1, cin: 2, h: 2, w: 2, cout: 3, k: [3, 3], pad: [1, 1] },
  { n: 1, cin: 1, h: 1, w: 1, cout: 1, k: [1, 1] },
];

function label(s: Spec): string {
  return JSON.stringify(s);
}

test('conv2dForward matches the direct reference conv (stride, padding, dilation, groups, depthwise, 1x1)', () => {
  const rng = new Rng(1);
  for (const s of SPECS) {
    const g = geom(s);
    const x = rand(g.n * g.cin * g.h * g.w, rng);
    const w = rand(g.cout * (g.cin / g.groups) * g.kh * g.kw, rng);
    const kc = (g.cin / g.groups) * g.kh * g.kw;
    for (const bias of [rand(g.cout, rng), null]) {
      const n = g.n * g.cout * g.outH * g.outW;
      const got = new Float32Array(n);
      const want = new Float32Array(n);
      const bound = new Float32Array(n);
      be.conv2dForward(x, w, bias, g, got);
      conv2dForwardRef(x, w, bias, g, want);
      conv2dForwardRef(abs(x), abs(w), bias && abs(bias), g, bound);
      close(`forward ${label(s)} bias=${!!bias} y`, got, want, bound, kc + 1);
    }
  }
});

test('conv2dBackwardInput and conv2dBackwardWeight match the direct reference', () => {
  const rng = new Rng(2);
  for (const s of SPECS) {
    const g = geom(s);
    const L = g.outH * g.outW;
    const x = rand(g.n * g.cin * g.h * g.w, rng);
    const w = rand(g.cout * (g.cin / g.groups) * g.kh * g.kw, rng);
    const dy = rand(g.n * g.cout * L, rng);
    const dx = new Float32Array(x.length).fill(7);
    const dxRef = new Float32Array(x.length);
    const dxBound = new Float32Array(x.length);
    be.conv2dBackwardInput(dy, w, g, dx);
    conv2dBackwardInputRef(dy, w, g, dxRef);
    conv2dBackwardInputRef(abs(dy), abs(w), g, dxBound);
    close(`backwardInput ${label(s)} dx`, dx, dxRef, dxBound, (g.cout / g.groups) * g.kh * g.kw);

    const dw = new Float32Array(w.length).fill(7);
    const db = new Float32Array(g.cout).fill(7);
    const dwRef = new Float32Array(w.length);
    const dbRef = new Float32Array(g.cout);
    const dwBound = new Float32Array(w.length);
    const dbBound = new Float32Array(g.cout);
    be.conv2dBackwardWeight(x, dy, g, dw, db);
    conv2dBackwardWeightRef(x, dy, g, dwRef, dbRef);
    conv2dBackwardWeightRef(abs(x), abs(dy), g, dwBound, dbBound);
    close(`backwardWeight ${label(s)} dw`, dw, dwRef, dwBound, g.n * L);
    close(`backwardWeight ${label(s)} dbias`, db, dbRef, dbBound, g.n * L);
    const dw2 = new Float32Array(w.length);
    be.conv2dBackwardWeight(x, dy, g, dw2, null);
    assert.deepEqual(dw2, dw);
  }
});

test('the weight gradient over several image chunks (accumulating GEMMs) matches the reference', () => {
  const rng = new Rng(3);
  try {
    for (const s of [SPECS[1], SPECS[5]]) {
      const g = geom({ ...s, n: 5 });
      const L = g.outH * g.outW;
      const x = rand(g.n * g.cin * g.h * g.w, rng);
      const dy = rand(g.n * g.cout * L, rng);
      const kc = (g.cin / g.groups) * g.kh * g.kw;
      setConvChunkBytes(1); // one image per chunk
      const dw = new Float32Array(g.cout * kc);
      be.conv2dBackwardWeight(x, dy, g, dw, null);
      const y = new Float32Array(g.n * g.cout * L);
      const w = rand(g.cout * kc, rng);
      be.conv2dForward(x, w, null, g, y);
      const dwRef = new Float32Array(dw.length);
      const dwBound = new Float32Array(dw.length);
      conv2dBackwardWeightRef(x, dy, g, dwRef, null);
      conv2dBackwardWeightRef(abs(x), abs(dy), g, dwBound, null);
      close(`chunked dw ${label(s)}`, dw, dwRef, dwBound, g.n * L);
      const yRef = new Float32Array(y.length);
      const yBound = new Float32Array(y.length);
      conv2dForwardRef(x, w, null, g, yRef);
      conv2dForwardRef(abs(x), abs(w), null, g, yBound);
      close(`chunked forward ${label(s)}`, y, yRef, yBound, kc);
    }
  } finally {
    setConvChunkBytes(32 << 20);
  }
});

test('an empty batch is a no-op forward and zero gradients', () => {
  const g = geom({ n: 0, cin: 2, h: 4, w: 4, cout: 3, k: [3, 3], pad: [1, 1] });
  const y = new Float32Array(0);
  be.conv2dForward(new Float32Array(0), new Float32Array(54), new Float32Array(3), g, y);
  const dw = new Float32Array(54).fill(1);
  const db = new Float32Array(3).fill(1);
  be.conv2dBackwardWeight(new Float32Array(0), new Float32Array(0), g, dw, db);
  assert.ok(dw.every((v) => v === 0) && db.every((v) => v === 0));
});

test('geometries the kernels cannot run are rejected before any kernel runs', () => {
  const g = geom({ n: 1, cin: 2, h: 4, w: 4, cout: 2, k: [3, 3] });
  const x = new Float32Array(32);
  const w = new Float32Array(36);
  const y = new Float32Array(8);
  assert.throws(() => be.conv2dForward(x, w, null, { ...g, strideW: 0 }, y), (e: Error) => e instanceof ArgumentError && /strides, dilations and groups must be positive/.test(e.message));
  assert.throws(() => be.conv2dForward(x, w, null, { ...g, groups: 3 }, y), (e: Error) => e instanceof ArgumentError && /groups 3 must divide cin 2 and cout 2/.test(e.message));
  assert.throws(() => be.conv2dForward(x.subarray(0, 31), w, null, g, y), (e: Error) => e instanceof ShapeError && /conv2dForward: x has 31 elements, needs 32/.test(e.message));
  assert.throws(() => be.im2col(x, { ...g, dilH: 0 }, 2, new Float32Array(72)), (e: Error) => e instanceof ArgumentError);
});

test('im2col and col2im equal the reference exactly (pure copies and in-order sums)', () => {
  const rng = new Rng(4);
  for (const s of SPECS) {
    const g = geom(s);
    const cin = g.cin / g.groups;
    const x = rand(cin * g.h * g.w, rng);
    const rows = cin * g.kh * g.kw * g.outH * g.outW;
    const got = new Float32Array(rows).fill(9);
    const want = new Float32Array(rows);
    be.im2col(x, g, cin, got);
    im2colRef(x, g, cin, want);
    assert.deepEqual(got, want, label(s));
    const cols = rand(rows, rng);
    const dx = rand(x.length, rng);
    const dxRef = dx.slice();
    be.col2im(cols, g, cin, dx);
    col2imRef(cols, g, cin, dxRef);
    assert.deepEqual(dx, dxRef, label(s));
  }
});

test('conv results are bit-identical for 1 and 2 threads, and the worker takes part', async () => {
  const rt = wasmRuntime() ?? assert.fail('no wasm runtime');
  const prev = getNumThreads();
  try {
    setNumThreads(2);
    await startWorkers(rt);
    const rng = new Rng(5);
    for (const s of [
      { n: 8, cin: 16, h: 16, w: 16, cout: 32, k: [3, 3], pad: [1, 1] },
      { n: 1, cin: 64, h: 32, w: 32, cout: 64, k: [1, 1] },
      { n: 8, cin: 32, h: 32, w: 32, cout: 64, k: [3, 3], stride: [2, 2], pad: [1, 1], groups: 2 },
    ] as Spec[]) {
      const g = geom(s);
      const L = g.outH * g.outW;
      const x = rand(g.n * g.cin * g.h * g.w, rng);
      const w = rand(g.cout * (g.cin / g.groups) * g.kh * g.kw, rng);
      const bias = rand(g.cout, rng);
      const dy = rand(g.n * g.cout * L, rng);
      const run = (threads: number): { outs: Float32Array[]; helpers: number } => {
        setNumThreads(threads);
        takeTaskCounts(rt);
        const y = new Float32Array(dy.length);
        const dx = new Float32Array(x.length);
        const dw = new Float32Array(w.length);
        const db = new Float32Array(g.cout);
        be.conv2dForward(x, w, bias, g, y);
        be.conv2dBackwardInput(dy, w, g, dx);
        be.conv2dBackwardWeight(x, dy, g, dw, db);
        return { outs: [y, dx, dw, db], helpers: takeTaskCounts(rt).slice(1).filter((n) => n > 0).length };
      };
      const one = run(1);
      assert.equal(one.helpers, 0);
      let helped = 0;
      for (let attempt = 0; attempt < 20 && helped === 0; attempt++) {
        const two = run(2);
        two.outs.forEach((o, i) => assert.deepEqual(o, one.outs[i], `${label(s)} output ${i}`));
        helped = two.helpers;
      }
      assert.ok(helped > 0, `${label(s)}: the worker ran no task`);
    }
  } finally {
    setNumThreads(prev);
  }
});
