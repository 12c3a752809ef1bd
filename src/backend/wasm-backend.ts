// The WebAssembly Backend: copies operands into the arena, plans conv jobs (GEMMs in wasm-gemm.ts), runs them on the pool.
// Every output element is summed by one thread in a fixed order, so results do not depend on the thread count.
import { ArgumentError } from '../errors.js';
import type { Backend, Conv2dGeom } from './types.js';
import { LAYOUT, type ConvDesc } from './layout.js';
import { runJob, threadSlots, threadsFor } from './pool.js';
import type { WasmRuntime } from './wasm.js';
import { addGemm, gemmTasks, need, packBytes, roundUp, wasmGemmEntries, type GemmPlan } from './wasm-gemm.js';

/** Scratch budget for one chunk of images (patch matrices + packed panels); never depends on the threads. */
let chunkBytes = 32 << 20;

/**
 * Sets the conv scratch budget per chunk of images (default 32 MiB; at least one image per chunk). The weight
 * gradient sums chunks in order, so its rounding depends on this budget, never on the thread count.
 */
export function setConvChunkBytes(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < 1) throw new ArgumentError(`setConvChunkBytes: expected a positive integer, got ${bytes}`);
  chunkBytes = bytes;
}

/** Geometry the conv kernels can run: positive strides/dilations, groups dividing the channels, consistent sizes. */
function checkGeom(op: string, g: Conv2dGeom): void {
  const ints = [g.n, g.cin, g.h, g.w, g.cout, g.kh, g.kw, g.padH, g.padW, g.outH, g.outW];
  if (!ints.every((v) => Number.isInteger(v) && v >= 0)) throw new ArgumentError(`wasm ${op}: sizes must be non-negative integers, got ${JSON.stringify(g)}`);
  const pos = [g.strideH, g.strideW, g.dilH, g.dilW, g.groups];
  if (!pos.every((v) => Number.isInteger(v) && v >= 1)) throw new ArgumentError(`wasm ${op}: strides, dilations and groups must be positive integers, got ${JSON.stringify(g)}`);
  if (g.cin % g.groups !== 0 || g.cout % g.groups !== 0) throw new ArgumentError(`wasm ${op}: groups ${g.groups} must divide cin ${g.cin} and cout ${g.cout}`);
}

/** Shapes of one conv, per group (after checking the geometry). */
function convDims(op: string, g: Conv2dGeom) {
  checkGeom(op, g);
  const cinG = g.cin / g.groups;
  const coutG = g.cout / g.groups;
  const kc = cinG * g.kh * g.kw;
  const L = g.outH * g.outW;
  const hw = g.h * g.w;
  // A 1x1, stride-1, unpadded conv reads its input as the patch matrix: no im2col.
  const pointwise = g.kh === 1 && g.kw === 1 && g.strideH === 1 && g.strideW === 1 && g.padH === 0 && g.padW === 0;
  return { cinG, coutG, kc, L, hw, pointwise };
}

/** The descriptor fields im2col/col2im read, for a slice of `c` channels. */
function convGeom(g: Conv2dGeom, c: number): ConvDesc {
  return {
    C: c, H: g.h, W: g.w, KH: g.kh, KW: g.kw, SH: g.strideH, SW: g.strideW, PH: g.padH, PW: g.padW,
    DH: g.dilH, DW: g.dilW, OH: g.outH, OW: g.outW,
    X: 0, XB: 0, COLS: 0, COLSB: 0, Y: 0, YB: 0, CH: 0, BIAS: 0, NB: 0, WT: 0,
  };
}

/** Images per chunk so that `perImage` bytes of scratch each stay within the budget. */
function chunkImages(n: number, perImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(chunkBytes / Math.max(perImage, 1))));
}

/** Checks the lengths of the conv tensors x [n,cin,h,w], w [cout,cin/groups,kh,kw], y [n,cout,outH,outW], bias [cout]. */
function needConv(op: string, g: Conv2dGeom, x: Float32Array | null, w: Float32Array | null, y: Float32Array | null, bias: Float32Array | null): void {
  const dims = JSON.stringify(g);
  need(op, 'x', x, g.n * g.cin * g.h * g.w, dims);
  need(op, 'w', w, g.cout * (g.cin / g.groups) * g.kh * g.kw, dims);
  need(op, 'y', y, g.n * g.cout * g.outH * g.outW, dims);
  need(op, 'bias', bias, g.cout, dims);
}

function conv2dForward(rt: WasmRuntime, x: Float32Array, w: Float32Array, bias: Float32Array | null, g: Conv2dGeom, y: Float32Array): void {
  const { cinG, coutG, kc, L, hw, pointwise } = convDims('conv2dForward', g);
  needConv('conv2dForward', g, x, w, y, bias);
  const yv = y.subarray(0, g.n * g.cout * L);
  if (yv.length === 0) return;
  if (kc === 0) {
    for (let i = 0; i < yv.length; i++) yv[i] = bias ? bias[Math.floor(i / L) % g.cout] : 0;
    return;
  }
  if (g.groups > 1 && g.groups === g.cin) {
    depthwiseForward(rt, x, w, bias, g, yv);
    return;
  }
  rt.scoped(() => {
    const xp = rt.put(x.subarray(0, g.n * g.cin * hw));
    const wp = rt.put(w.subarray(0, g.cout * kc));
    const bp = bias ? rt.put(bias.subarray(0, g.cout)) : 0;
    const yp = rt.arena.alloc(yv.length * 4);
    const sizes = packBytes(rt, coutG, L, kc);
    const chunk = chunkImages(g.n, sizes.b + (pointwise ? 0 : kc * L * 4));
    const cols = pointwise ? 0 : rt.arena.alloc(chunk * kc * L * 4);
    const pa = rt.arena.alloc(sizes.a);
    const pb = rt.arena.alloc(chunk * sizes.b);
    for (let grp = 0; grp < g.groups; grp++) {
      for (let b0 = 0; b0 < g.n; b0 += chunk) {
        const nb = Math.min(chunk, g.n - b0);
        const xg = xp + (b0 * g.cin + grp * cinG) * hw * 4;
        const yg = yp + (b0 * g.cout + grp * coutG) * L * 4;
        const plan: GemmPlan = {
          M: coutG, N: L, K: kc, accumulate: false, nb,
          a: { base: wp + grp * coutG * kc * 4, sp: kc, sk: 1, kl: kc, kbs: 0 },
          b: pointwise
            ? { base: xg, sp: 1, sk: hw, kl: kc, kbs: 0, batch: g.cin * hw }
            : { base: cols, sp: 1, sk: L, kl: kc, kbs: 0, batch: kc * L },
          c: { base: yg, ldc: L, batch: g.cout * L },
        };
        const threads = threadsFor(nb * coutG * L * kc, gemmTasks(plan));
        rt.job.reset().conv({
          ...convGeom(g, cinG), X: xg, XB: g.cin * hw, COLS: cols, COLSB: kc * L,
          Y: yg, YB: g.cout * L, CH: coutG, BIAS: bp + grp * coutG * 4, NB: nb,
        });
        if (!pointwise) rt.job.phase(LAYOUT.K_IM2COL, nb);
        addGemm(rt, plan, threads, pa, pb);
        if (bias) rt.job.phase(LAYOUT.K_BIAS_ADD, nb);
        runJob(rt, threads);
      }
    }
    rt.get(yp, yv);
  });
}

/**
 * Depthwise conv (groups = cin, cout = cin·mult) by the direct kernel: one task per (image, channel) plane,
 * SIMD over output pixels, each thread with its own zero-padded copy of the plane.
 */
function depthwiseForward(rt: WasmRuntime, x: Float32Array, w: Float32Array, bias: Float32Array | null, g: Conv2dGeom, yv: Float32Array): void {
  const taps = g.kh * g.kw;
  const L = g.outH * g.outW;
  rt.scoped(() => {
    const xp = rt.put(x.subarray(0, g.n * g.cin * g.h * g.w));
    const wp = rt.put(w.subarray(0, g.cout * taps));
    const bp = bias ? rt.put(bias.subarray(0, g.cout)) : 0;
    const yp = rt.arena.alloc(yv.length * 4);
    const threads = threadsFor(g.n * g.cout * L * taps, g.n * g.cin);
    const per = rt.ex.depthwiseScratch(g.outH, g.strideH, g.kh, g.dilH, g.outW, g.strideW, g.kw, g.dilW);
    // Any started worker may claim a task, so every thread id gets a scratch plane.
    const scratch = rt.arena.alloc(Math.max(threads, threadSlots()) * per * 4);
    rt.job.reset().conv({
      ...convGeom(g, g.cin), X: xp, XB: g.cin * g.h * g.w, COLS: scratch, COLSB: per,
      Y: yp, YB: g.cout * L, CH: g.cout / g.cin, BIAS: bp, NB: g.n, WT: wp,
    }).phase(LAYOUT.K_DEPTHWISE, g.n * g.cin);
    runJob(rt, threads);
    rt.get(yp, yv);
  });
}

function conv2dBackwardInput(rt: WasmRuntime, dy: Float32Array, w: Float32Array, g: Conv2dGeom, dx: Float32Array): void {
  const { cinG, coutG, kc, L, hw, pointwise } = convDims('conv2dBackwardInput', g);
  needConv('conv2dBackwardInput', g, dx, w, dy, null);
  const dxv = dx.subarray(0, g.n * g.cin * hw);
  if (dxv.length === 0) return;
  if (coutG === 0 || L === 0) {
    dxv.fill(0);
    return;
  }
  rt.scoped(() => {
    const dyp = rt.put(dy.subarray(0, g.n * g.cout * L));
    const wp = rt.put(w.subarray(0, g.cout * kc));
    const dxp = rt.arena.alloc(dxv.length * 4);
    const sizes = packBytes(rt, kc, L, coutG);
    const chunk = chunkImages(g.n, sizes.b + (pointwise ? 0 : kc * L * 4));
    const cols = pointwise ? 0 : rt.arena.alloc(chunk * kc * L * 4);
    const pa = rt.arena.alloc(sizes.a);
    const pb = rt.arena.alloc(chunk * sizes.b);
    for (let grp = 0; grp < g.groups; grp++) {
      for (let b0 = 0; b0 < g.n; b0 += chunk) {
        const nb = Math.min(chunk, g.n - b0);
        const dxg = dxp + (b0 * g.cin + grp * cinG) * hw * 4;
        // cols_b [kc, L] = W_gᵀ [kc, coutG] · dy_b [coutG, L], then scattered back by col2im.
        const plan: GemmPlan = {
          M: kc, N: L, K: coutG, accumulate: false, nb,
          a: { base: wp + grp * coutG * kc * 4, sp: 1, sk: kc, kl: coutG, kbs: 0 },
          b: { base: dyp + (b0 * g.cout + grp * coutG) * L * 4, sp: 1, sk: L, kl: coutG, kbs: 0, batch: g.cout * L },
          c: pointwise ? { base: dxg, ldc: L, batch: g.cin * hw } : { base: cols, ldc: L, batch: kc * L },
        };
        const threads = threadsFor(nb * coutG * L * kc, gemmTasks(plan));
        rt.job.reset().conv({ ...convGeom(g, cinG), COLS: cols, COLSB: kc * L, Y: dxg, YB: g.cin * hw, NB: nb });
        addGemm(rt, plan, threads, pa, pb);
        if (!pointwise) rt.job.phase(LAYOUT.K_COL2IM, nb);
        runJob(rt, threads);
      }
    }
    rt.get(dxp, dxv);
  });
}

function conv2dBackwardWeight(
  rt: WasmRuntime,
  x: Float32Array,
  dy: Float32Array,
  g: Conv2dGeom,
  dw: Float32Array,
  dbias: Float32Array | null,
): void {
  const { cinG, coutG, kc, L, hw, pointwise } = convDims('conv2dBackwardWeight', g);
  needConv('conv2dBackwardWeight', g, x, dw, dy, dbias);
  const dwv = dw.subarray(0, g.cout * kc);
  const dbv = dbias?.subarray(0, g.cout) ?? null;
  if (g.n === 0 || L === 0) {
    dwv.fill(0);
    dbv?.fill(0);
    return;
  }
  rt.scoped(() => {
    const xp = rt.put(x.subarray(0, g.n * g.cin * hw));
    const dyp = rt.put(dy.subarray(0, g.n * g.cout * L));
    const dwp = rt.arena.alloc(dwv.length * 4);
    if (dbv && g.cout > 0) {
      const dbp = rt.arena.alloc(g.cout * 4);
      rt.job.reset().conv({ ...convGeom(g, cinG), Y: dyp, YB: g.cout * L, BIAS: dbp, NB: g.n }).phase(LAYOUT.K_BIAS_GRAD, g.cout);
      runJob(rt, threadsFor(g.n * g.cout * L, g.cout));
      rt.get(dbp, dbv);
    }
    if (dwv.length === 0) return;
    // dW_g [coutG, kc] = Σ_images dy_g [coutG, L] · cols [kc, L]ᵀ: one GEMM per chunk with K running over
    // the chunk's images; chunks add up in order, so the sum order is fixed.
    const perImage = (roundUp(coutG, rt.tiles.mr) + roundUp(kc, rt.tiles.nr)) * L * 4 + (pointwise ? 0 : kc * L * 4);
    const chunk = chunkImages(g.n, perImage);
    const sizes = packBytes(rt, coutG, kc, chunk * L);
    const cols = pointwise ? 0 : rt.arena.alloc(chunk * kc * L * 4);
    const pa = rt.arena.alloc(sizes.a);
    const pb = rt.arena.alloc(sizes.b);
    for (let grp = 0; grp < g.groups; grp++) {
      for (let b0 = 0; b0 < g.n; b0 += chunk) {
        const nb = Math.min(chunk, g.n - b0);
        const xg = xp + (b0 * g.cin + grp * cinG) * hw * 4;
        const plan: GemmPlan = {
          M: coutG, N: kc, K: nb * L, accumulate: b0 > 0, nb: 1,
          a: { base: dyp + (b0 * g.cout + grp * coutG) * L * 4, sp: L, sk: 1, kl: L, kbs: g.cout * L },
          b: pointwise
            ? { base: xg, sp: hw, sk: 1, kl: L, kbs: g.cin * hw, batch: 0 }
            : { base: cols, sp: L, sk: 1, kl: L, kbs: kc * L, batch: 0 },
          c: { base: dwp + grp * coutG * kc * 4, ldc: kc, batch: 0 },
        };
        const threads = threadsFor(nb * coutG * L * kc, gemmTasks(plan));
        rt.job.reset().conv({ ...convGeom(g, cinG), X: xg, XB: g.cin * hw, COLS: cols, COLSB: kc * L, NB: nb });
        if (!pointwise) rt.job.phase(LAYOUT.K_IM2COL, nb);
        addGemm(rt, plan, threads, pa, pb);
        runJob(rt, threads);
      }
    }
    rt.get(dwp, dwv);
  });
}

function im2col(rt: WasmRuntime, x: Float32Array, g: Conv2dGeom, cin: number, cols: Float32Array): void {
  checkGeom('im2col', g);
  need('im2col', 'x', x, cin * g.h * g.w, `cin=${cin}`);
  need('im2col', 'cols', cols, cin * g.kh * g.kw * g.outH * g.outW, `cin=${cin}`);
  const cv = cols.subarray(0, cin * g.kh * g.kw * g.outH * g.outW);
  if (cv.length === 0) return;
  rt.scoped(() => {
    const xp = rt.put(x.subarray(0, cin * g.h * g.w));
    const cp = rt.arena.alloc(cv.length * 4);
    rt.job.conv(convGeom(g, cin));
    rt.ex.im2col(xp, cp);
    rt.get(cp, cv);
  });
}

function col2im(rt: WasmRuntime, cols: Float32Array, g: Conv2dGeom, cin: number, dx: Float32Array): void {
  checkGeom('col2im', g);
  need('col2im', 'cols', cols, cin * g.kh * g.kw * g.outH * g.outW, `cin=${cin}`);
  need('col2im', 'dx', dx, cin * g.h * g.w, `cin=${cin}`);
  if (cols.length === 0) return;
  rt.scoped(() => {
    const cp = rt.put(cols.subarray(0, cin * g.kh * g.kw * g.outH * g.outW));
    const dxv = dx.subarray(0, cin * g.h * g.w);
    const dp = rt.put(dxv);
    rt.job.conv(convGeom(g, cin));
    rt.ex.col2im(cp, dp);
    rt.get(dp, dxv);
  });
}

/** The Backend over a loaded runtime. */
export function createWasmBackend(rt: WasmRuntime): Backend {
  return {
    name: 'wasm',
    ...wasmGemmEntries(rt),
    im2col: (x, g, cin, cols) => im2col(rt, x, g, cin, cols),
    col2im: (cols, g, cin, dx) => col2im(rt, cols, g, cin, dx),
    conv2dForward: (x, w, bias, g, y) => conv2dForward(rt, x, w, bias, g, y),
    conv2dBackwardInput: (dy, w, g, dx) => conv2dBackwardInput(rt, dy, w, g, dx),
    conv2dBackwardWeight: (x, dy, g, dw, dbias) => conv2dBackwardWeight(rt, x, dy, g, dw, dbias),
  };
}
