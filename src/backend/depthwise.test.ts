// The direct depthwise conv kernel (groups = cin) against the direct reference conv, and thread-count invariance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getWasmBackend } from './index.js';
import { getNumThreads, setNumThreads, startWorkers, takeTaskCounts } from './pool.js';
import { conv2dForwardRef } from './reference.js';
import type { Conv2dGeom } from './types.js';
import { wasmRuntime } from './wasm.js';
import { Rng } from '../tensor/rng.js';

const be = getWasmBackend() ?? assert.fail('the wasm backend did not load; run npm run build:wasm');
const rt = wasmRuntime() ?? assert.fail('no wasm runtime');

interface Spec { n: number; c: number; mult: number; h: number; w: number; k: [number, number]; s?: [number, number]; p?: [number, number]; d?: [number, number] }

function geom(x: Spec): Conv2dGeom {
  const [kh, kw] = x.k;
  const [strideH, strideW] = x.s ?? [1, 1];
  const [padH, padW] = x.p ?? [0, 0];
  const [dilH, dilW] = x.d ?? [1, 1];
  const outH = Math.floor((x.h + 2 * padH - dilH * (kh - 1) - 1) / strideH) + 1;
  const outW = Math.floor((x.w + 2 * padW - dilW * (kw - 1) - 1) / strideW) + 1;
  return { n: x.n, cin: x.c, h: x.h, w: x.w, cout: x.c * x.mult, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups: x.c, outH, outW };
}

function rand(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

/** Runs the wasm and reference forward convs; asserts the f32 sum bound per output and returns the wasm output. */
function check(x: Spec, seed: number, withBias: boolean): Float32Array {
  const g = geom(x);
  const rng = new Rng(seed);
  const X = rand(g.n * g.cin * g.h * g.w, rng);
  const W = rand(g.cout * g.kh * g.kw, rng);
  const bias = withBias ? rand(g.cout, rng) : null;
  const y = new Float32Array(g.n * g.cout * g.outH * g.outW).fill(NaN);
  const want = new Float32Array(y.length);
  const bound = new Float32Array(y.length);
  be.conv2dForward(X, W, bias, g, y);
  conv2dForwardRef(X, W, bias, g, want);
  conv2dForwardRef(X.map(Math.abs), W.map(Math.abs), bias ? bias.map(Math.abs) : null, g, bound);
  const u = 2 * (g.kh * g.kw + 2) * 2 ** -24;
  for (let i = 0; i < y.length; i++) {
    if (!(Math.abs(y[i] - want[i]) <= u * bound[i] + 1e-30)) assert.fail(`depthwise ${JSON.stringify(x)} bias=${withBias}: y[${i}] = ${y[i]}, reference ${want[i]}`);
  }
  return y;
}

const SPECS: Spec[] = [
  { n: 2, c: 3, mult: 1, h: 7, w: 9, k: [3, 3], p: [1, 1] },
  { n: 1, c: 4, mult: 2, h: 8, w: 8, k: [3, 3], s: [2, 2], p: [1, 1] },
  { n: 2, c: 2, mult: 3, h: 11, w: 13, k: [3, 3], s: [3, 3], p: [1, 1] },
  { n: 1, c: 5, mult: 1, h: 9, w: 10, k: [3, 3], p: [2, 2], d: [2, 2] },
  { n: 1, c: 3, mult: 1, h: 12, w: 17, k: [5, 5], p: [2, 2] },
  { n: 2, c: 2, mult: 2, h: 6, w: 7, k: [2, 3], s: [1, 2], p: [0, 1] },
  { n: 1, c: 2, mult: 1, h: 2, w: 2, k: [3, 3], p: [1, 1] },
  { n: 1, c: 3, mult: 2, h: 5, w: 6, k: [1, 1] },
  { n: 1, c: 2, mult: 1, h: 4, w: 3, k: [3, 3], p: [3, 0], s: [1, 1] },
  { n: 3, c: 8, mult: 1, h: 1, w: 1, k: [1, 1] },
  { n: 1, c: 2, mult: 1, h: 3, w: 40, k: [1, 7], p: [0, 3] },
];

test('the depthwise kernel matches the direct reference conv (mult, stride, padding, dilation, tails, bias)', () => {
  let seed = 1;
  for (const s of SPECS) {
    for (const withBias of [false, true]) check(s, seed++, withBias);
  }
});

test('depthwise runs one task per (image, channel), bit-identical for 1, 2 and 3 threads', async () => {
  const prev = getNumThreads();
  try {
    setNumThreads(3);
    await startWorkers(rt);
    const s: Spec = { n: 4, c: 32, mult: 2, h: 30, w: 30, k: [3, 3], p: [1, 1] };
    const run = (threads: number): { y: Float32Array; counts: number[] } => {
      setNumThreads(threads);
      takeTaskCounts(rt);
      const y = check(s, 99, true);
      return { y, counts: takeTaskCounts(rt) };
    };
    const one = run(1);
    assert.equal(one.counts.reduce((a, b) => a + b, 0), s.n * s.c);
    let helped = false;
    for (let attempt = 0; attempt < 20 && !helped; attempt++) {
      for (const t of [2, 3]) {
        const r = run(t);
        assert.deepEqual(r.y, one.y);
        helped ||= r.counts.slice(1).some((n) => n > 0);
      }
    }
    assert.ok(helped, 'no worker ran a task');
  } finally {
    setNumThreads(prev);
  }
});
