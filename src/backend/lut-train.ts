// LUT-NN training kernels on blocks of rows: TypeScript twins (the oracle), SIMD wrappers, workspace, batched GEMMs, im2col.
//
// A block holds R rows transposed, x [C·V][R]; centroids P [C][K][V]; see assembly/lut-train.ts for the contracts.
// Everything a chunk needs lives in one LutMem: wasm heap memory when the wasm backend is active (kernels get
// pointers, GEMMs and im2col run as pool jobs on it, nothing is copied), plain arrays otherwise (TS twins, backend
// GEMMs). Offsets are bytes from the start of the LutMem (16-aligned for floats); −1 marks an absent operand.
import { nearestF32, type Metric } from './metric.js';
import { getBackend } from './index.js';
import { LAYOUT, type ConvDesc } from './layout.js';
import { runJob, threadsFor } from './pool.js';
import type { Conv2dGeom } from './types.js';
import { wasmRuntime, type WasmRuntime } from './wasm.js';
import { addGemm, gemmTasks, packBytes, type GemmPlan } from './wasm-gemm.js';

/** One block of kernel memory seen as floats and bytes. */
export interface LutMem {
  readonly f32: Float32Array;
  readonly u8: Uint8Array;
  /** Byte address of f32[0] in the kernels' memory, or −1 for plain arrays. */
  readonly ptr: number;
  dispose(): void;
}

export const METRIC_CODE: Record<Metric, number> = { l2: 0, l1: 1, chebyshev: 2 };

/** Bytes of scratch the kernels need for (C, K, V) (mirrors lutScratchBytes in assembly/lut-train.ts). */
export function lutScratchBytes(C: number, K: number, V: number): number {
  return Math.max(16 * V + 16, 16 * C + 64, 16 * (4 * K + K * V + 2 * V));
}

/** The per-block kernels (SIMD on wasm memory, or their TypeScript twins), each for every metric. */
export interface LutKernels {
  /** codes[codes + r·ldc + c] = argmin_k d(x_c[:, r], P[c,k]) (first on ties); −1 or c·R + r of the first non-finite. */
  encode(mem: LutMem, x: number, R: number, P: number, C: number, K: number, V: number, metric: Metric, codes: number, ldc: number, scratch: number): number;
  /** out [R][M] (or [M][R] when mMajor) = bias + Σ_c T[c][code] in codebook order; bias −1 = none. */
  gather(mem: LutMem, codes: number, ldc: number, R: number, T: number, C: number, K: number, M: number, bias: number, out: number, mMajor: boolean, scratch: number): void;
  /** The soft pass's backward on a block (see softRef); returns dL/dβ of the block. */
  soft(mem: LutMem, metric: Metric, x: number, gw: number, R: number, P: number, C: number, K: number, V: number, beta: number, xhat: number, dx: number, dp: number, scratch: number): number;
}

// ---------------------------------------------------------------- TypeScript twins

const f = Math.fround;

/** Softmax terms e^−t with t > CUT (1.3e-14, far under float32 resolution next to the largest term 1) count as 0. */
const CUT = 32;

/** 2^−i for i in [0, 1075). */
const POW2NEG = new Float64Array(1075);
for (let i = 0; i < POW2NEG.length; i++) POW2NEG[i] = Math.pow(2, -i);

/**
 * e^−t for t >= 0, faster than Math.exp: range reduction to 2^−n·e^u with |u| <= ln2/2 and a degree-7 Taylor
 * polynomial. Relative error below 1e-8 for normal results (well under float32's 6e-8); 0 beyond the double range.
 */
export function expNeg(t: number): number {
  const y = t * Math.LOG2E;
  const n = Math.floor(y + 0.5);
  if (!(n < 1075)) return 0;
  const u = (n - y) * Math.LN2;
  const p = 1 + u * (1 + u * (0.5 + u * (1 / 6 + u * (1 / 24 + u * (1 / 120 + u * (1 / 720 + u * (1 / 5040)))))));
  return p * POW2NEG[n];
}

/** Twin of lutEncode: x is [C·V, R] (column per row), float32 rounding per operation, as the plain SIMD build. */
function encodeRef(mem: LutMem, x: number, R: number, P: number, C: number, K: number, V: number, metric: Metric, codes: number, ldc: number): number {
  const X = mem.f32;
  let bad = -1;
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < R; r++) {
      const bk = nearestF32(X, (x >> 2) + c * V * R + r, R, X, P >> 2, c, K, V, metric);
      if (bk < 0) {
        if (bad < 0) bad = c * R + r;
      } else mem.u8[codes + r * ldc + c] = bk;
    }
  }
  return bad;
}

/** Twin of lutGather (bit-exact: the same float32 sums in the same order). */
function gatherRef(mem: LutMem, codes: number, ldc: number, R: number, T: number, C: number, K: number, M: number, bias: number, out: number, mMajor: boolean): void {
  const F = mem.f32;
  const t0 = T >> 2;
  const o0 = out >> 2;
  for (let r = 0; r < R; r++) {
    for (let m = 0; m < M; m++) {
      let s = bias >= 0 ? F[(bias >> 2) + m] : 0;
      for (let c = 0; c < C; c++) s = f(s + F[t0 + (c * K + mem.u8[codes + r * ldc + c]) * M + m]);
      F[o0 + (mMajor ? m * R + r : r * M + m)] = s;
    }
  }
}

/**
 * Twin of lutSoft (every metric). Per row r and codebook c, with
 * dist_k = d(x, P[c,k]), a = softmax_k(−β·dist), da_k = Σ_v P[c,k,v]·gw_v, dz = a·(da − Σ a·da), dd = −β·dz:
 *   dx_v = Σ_k dd_k·∂dist_k/∂x_v   xhat_v = Σ_k a_k·P[c,k,v]   dp[c,k,v] += a_k·gw_v − dd_k·∂dist_k/∂x_v
 * (∂dist/∂x: (x − p)/dist for l2, 0 at dist = 0; sign(x − p) for l1, sign(0) = 0; for Chebyshev sign(x − p) at the
 * first v of largest |x − p| only, that |x − p| rounded to float32 as in the SIMD kernel, so both break the same
 * ties). Softmax terms below e^−CUT relative to the largest are 0. Returns −Σ dz·dist. Each row's inputs are read
 * before its outputs are written, so dx may alias x and xhat may alias gw.
 */
function softRef(mem: LutMem, metric: Metric, x: number, gw: number, R: number, P: number, C: number, K: number, V: number, beta: number, xhat: number, dx: number, dp: number): number {
  const F = mem.f32;
  const P0 = P >> 2;
  const xv = new Float64Array(V);
  const gv = new Float64Array(V);
  const dist = new Float64Array(K);
  const da = new Float64Array(K);
  const a = new Float64Array(K);
  const dd = new Float64Array(K);
  const top = new Int32Array(K); // Chebyshev: the coordinate that sets dist_k
  const acc = dp >= 0 ? new Float64Array(C * K * V) : null;
  let dzd = 0;
  for (let c = 0; c < C; c++) {
    for (let r = 0; r < R; r++) {
      for (let v = 0; v < V; v++) {
        const i = (c * V + v) * R + r;
        xv[v] = F[(x >> 2) + i];
        gv[v] = gw >= 0 ? F[(gw >> 2) + i] : 0;
      }
      let dmin = Infinity;
      for (let k = 0; k < K; k++) {
        const pk = P0 + (c * K + k) * V;
        let d = 0;
        let g = 0;
        for (let v = 0; v < V; v++) {
          const t = xv[v] - F[pk + v];
          if (metric === 'l2') d += t * t;
          else if (metric === 'l1') d += Math.abs(t);
          else d = Math.max(d, Math.abs(t));
          g += F[pk + v] * gv[v];
        }
        dist[k] = metric === 'l2' ? Math.sqrt(d) : d;
        da[k] = g;
        if (dist[k] < dmin) dmin = dist[k];
      }
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const t = beta * (dist[k] - dmin);
        sum += a[k] = t > CUT ? 0 : expNeg(t);
      }
      let s = 0;
      for (let k = 0; k < K; k++) s += (a[k] /= sum) * da[k];
      for (let k = 0; k < K; k++) {
        const dz = a[k] * (da[k] - s);
        dzd += dz * dist[k];
        dd[k] = -beta * dz;
      }
      if (metric === 'chebyshev') {
        for (let k = 0; k < K; k++) {
          const pk = P0 + (c * K + k) * V;
          let bv = 0;
          for (let u = 1; u < V; u++) if (Math.abs(f(xv[u] - F[pk + u])) > Math.abs(f(xv[bv] - F[pk + bv]))) bv = u;
          top[k] = bv;
        }
      }
      for (let v = 0; v < V; v++) {
        let gx = 0;
        let xh = 0;
        for (let k = 0; k < K; k++) {
          const pk = P0 + (c * K + k) * V;
          const t = xv[v] - F[pk + v];
          let dv = 0; // ∂dist_k/∂x_v
          if (metric === 'l2') dv = dist[k] > 0 ? t / dist[k] : 0;
          else if (metric === 'l1') dv = Math.sign(t);
          else dv = top[k] === v ? Math.sign(t) : 0;
          gx += dd[k] * dv;
          xh += a[k] * F[pk + v];
          if (acc) acc[(c * K + k) * V + v] += a[k] * gv[v] - dd[k] * dv;
        }
        const i = (c * V + v) * R + r;
        if (dx >= 0) F[(dx >> 2) + i] = gx;
        if (xhat >= 0) F[(xhat >> 2) + i] = xh;
      }
    }
  }
  if (acc) F.set(acc, dp >> 2);
  return -dzd;
}

export const lutKernelsRef: LutKernels = {
  encode: (mem, x, R, P, C, K, V, metric, codes, ldc) => encodeRef(mem, x, R, P, C, K, V, metric, codes, ldc),
  gather: (mem, codes, ldc, R, T, C, K, M, bias, out, mMajor) => gatherRef(mem, codes, ldc, R, T, C, K, M, bias, out, mMajor),
  soft: (mem, metric, x, gw, R, P, C, K, V, beta, xhat, dx, dp) => softRef(mem, metric, x, gw, R, P, C, K, V, beta, xhat, dx, dp),
};

// ---------------------------------------------------------------- SIMD wrappers

interface LutExports {
  lutEncode(x: number, R: number, P: number, C: number, K: number, V: number, metric: number, codes: number, ldc: number, scratch: number): number;
  lutGather(codes: number, ldc: number, R: number, T: number, C: number, K: number, M: number, bias: number, out: number, mMajor: number, scratch: number): void;
  lutSoft(x: number, gw: number, R: number, P: number, C: number, K: number, V: number, metric: number, beta: number, xhat: number, dx: number, dp: number, scratch: number): number;
}

function simdKernels(ex: LutExports): LutKernels {
  const at = (mem: LutMem, off: number): number => (off >= 0 ? mem.ptr + off : 0);
  return {
    encode: (mem, x, R, P, C, K, V, metric, codes, ldc, scratch) =>
      ex.lutEncode(at(mem, x), R, at(mem, P), C, K, V, METRIC_CODE[metric], at(mem, codes), ldc, at(mem, scratch)),
    gather: (mem, codes, ldc, R, T, C, K, M, bias, out, mMajor, scratch) =>
      ex.lutGather(at(mem, codes), ldc, R, at(mem, T), C, K, M, at(mem, bias), at(mem, out), mMajor ? 1 : 0, at(mem, scratch)),
    soft: (mem, metric, x, gw, R, P, C, K, V, beta, xhat, dx, dp, scratch) =>
      ex.lutSoft(at(mem, x), at(mem, gw), R, at(mem, P), C, K, V, METRIC_CODE[metric], beta, at(mem, xhat), at(mem, dx), at(mem, dp), at(mem, scratch)),
  };
}

let cached: { rt: WasmRuntime; kernels: LutKernels } | null | undefined;

/** The runtime and its SIMD kernels, or null when the runtime cannot load or predates these kernels. */
export function lutWasm(): { rt: WasmRuntime; kernels: LutKernels } | null {
  if (cached === undefined) {
    const rt = wasmRuntime();
    const ex = rt?.ex as unknown as Partial<LutExports> | undefined;
    if (rt && ex && typeof ex.lutEncode === 'function' && typeof ex.lutGather === 'function' && typeof ex.lutSoft === 'function') {
      cached = { rt, kernels: simdKernels(ex as LutExports) };
    } else {
      if (rt) process.stderr.write('lutnn: build/kernels.wasm lacks the LUT training kernels (run npm run build:wasm); using the TypeScript twins\n');
      cached = null;
    }
  }
  return cached;
}

/** The kernels for a LutMem: SIMD on wasm memory, the twins on plain arrays. */
export function lutKernels(mem: LutMem): LutKernels {
  return mem.ptr >= 0 ? lutWasm()!.kernels : lutKernelsRef;
}

/** `bytes` bytes of workspace: wasm heap memory when the active backend is wasm (and `simd` is not false), else plain. */
export function allocLutMem(bytes: number, simd = true): LutMem {
  const n = Math.ceil(Math.max(bytes, 16) / 16) * 16;
  const w = simd && getBackend().name === 'wasm' ? lutWasm() : null;
  if (!w) {
    const f32 = new Float32Array(n / 4);
    return { f32, u8: new Uint8Array(f32.buffer), ptr: -1, dispose: () => {} };
  }
  const { rt } = w;
  const ptr = rt.heap.alloc(n);
  let live = true;
  return {
    f32: rt.f32(ptr, n / 4),
    u8: new Uint8Array(rt.memory.buffer, ptr, n),
    ptr,
    dispose: () => {
      if (live) rt.heap.free(ptr);
      live = false;
    },
  };
}

// ---------------------------------------------------------------- batched GEMMs and im2col on a LutMem

/**
 * GW_b [D, R] = W [D, M] · G_b for the nb blocks b of G (G_b is [M, R] when mMajor, else [R, M]; blocks M·R apart,
 * GW blocks D·R apart). One pool job on wasm memory; backend GEMMs per block on plain arrays.
 */
export function lutGemmGW(mem: LutMem, W: number, G: number, GW: number, D: number, M: number, R: number, nb: number, mMajor: boolean): void {
  if (mem.ptr < 0) {
    const be = getBackend();
    const F = mem.f32;
    for (let b = 0; b < nb; b++) {
      be.gemm(F.subarray(W >> 2), F.subarray((G >> 2) + b * M * R), F.subarray((GW >> 2) + b * D * R), D, R, M, false, !mMajor, false);
    }
    return;
  }
  const { rt } = lutWasm()!;
  const plan: GemmPlan = {
    M: D, N: R, K: M, accumulate: false, nb,
    a: { base: mem.ptr + W, sp: M, sk: 1, kl: M, kbs: 0 },
    b: mMajor ? { base: mem.ptr + G, sp: 1, sk: R, kl: M, kbs: 0, batch: M * R } : { base: mem.ptr + G, sp: M, sk: 1, kl: M, kbs: 0, batch: M * R },
    c: { base: mem.ptr + GW, ldc: R, batch: D * R },
  };
  runPlan(rt, plan, nb * D * R * M, packBytes(rt, D, 0, M).a, nb * packBytes(rt, 0, R, M).b);
}

/** dW [D, M] (+)= Σ_b XH_b [D, R] · op(G_b) with op(G_b) [R, M] (G_b is [M, R] when mMajor, else [R, M]). */
export function lutGemmDW(mem: LutMem, XH: number, G: number, dW: number, D: number, M: number, R: number, nb: number, mMajor: boolean, accumulate: boolean): void {
  if (mem.ptr < 0) {
    const be = getBackend();
    const F = mem.f32;
    for (let b = 0; b < nb; b++) {
      be.gemm(F.subarray((XH >> 2) + b * D * R), F.subarray((G >> 2) + b * M * R), F.subarray(dW >> 2), D, M, R, false, mMajor, accumulate || b > 0);
    }
    return;
  }
  const { rt } = lutWasm()!;
  const plan: GemmPlan = {
    M: D, N: M, K: nb * R, accumulate, nb: 1,
    a: { base: mem.ptr + XH, sp: R, sk: 1, kl: R, kbs: D * R },
    b: mMajor ? { base: mem.ptr + G, sp: R, sk: 1, kl: R, kbs: M * R, batch: 0 } : { base: mem.ptr + G, sp: 1, sk: M, kl: R, kbs: M * R, batch: 0 },
    c: { base: mem.ptr + dW, ldc: M, batch: 0 },
  };
  const sizes = packBytes(rt, D, M, nb * R);
  runPlan(rt, plan, D * M * nb * R, sizes.a, sizes.b);
}

function runPlan(rt: WasmRuntime, plan: GemmPlan, macs: number, aBytes: number, bBytes: number): void {
  if (plan.M === 0 || plan.N === 0 || plan.K === 0) return; // callers never pass empty blocks
  rt.scoped(() => {
    const pa = rt.arena.alloc(aBytes);
    const pb = rt.arena.alloc(bBytes);
    const threads = threadsFor(macs, gemmTasks(plan));
    rt.job.reset();
    addGemm(rt, plan, threads, pa, pb);
    runJob(rt, threads);
  });
}

/** im2col/col2im elements are weighed as this many multiply-adds against the pool's threshold for waking workers. */
const COPY_WEIGHT = 4;

function convDesc(g: Conv2dGeom, nb: number, x: number, cols: number, y: number): ConvDesc {
  const img = g.cin * g.h * g.w;
  return {
    C: g.cin, H: g.h, W: g.w, KH: g.kh, KW: g.kw, SH: g.strideH, SW: g.strideW, PH: g.padH, PW: g.padW,
    DH: g.dilH, DW: g.dilW, OH: g.outH, OW: g.outW,
    X: x, XB: img, COLS: cols, COLSB: g.cin * g.kh * g.kw * g.outH * g.outW, Y: y, YB: img, CH: 0, BIAS: 0, NB: nb, WT: 0,
  };
}

/** cols [nb][cin·kh·kw][outH·outW] = im2col of the images ximg [nb][cin·h·w] (groups = 1). */
export function lutIm2col(mem: LutMem, ximg: number, cols: number, g: Conv2dGeom, nb: number): void {
  const img = g.cin * g.h * g.w;
  const per = g.cin * g.kh * g.kw * g.outH * g.outW;
  if (mem.ptr < 0) {
    const be = getBackend();
    for (let b = 0; b < nb; b++) be.im2col(mem.f32.subarray((ximg >> 2) + b * img), g, g.cin, mem.f32.subarray((cols >> 2) + b * per));
    return;
  }
  const { rt } = lutWasm()!;
  rt.job.reset().conv(convDesc(g, nb, mem.ptr + ximg, mem.ptr + cols, 0)).phase(LAYOUT.K_IM2COL, nb);
  runJob(rt, threadsFor(nb * per * COPY_WEIGHT, nb));
}

/** dximg [nb][cin·h·w] = col2im of cols [nb][cin·kh·kw][outH·outW] (overwritten). */
export function lutCol2im(mem: LutMem, cols: number, dximg: number, g: Conv2dGeom, nb: number): void {
  const img = g.cin * g.h * g.w;
  const per = g.cin * g.kh * g.kw * g.outH * g.outW;
  if (mem.ptr < 0) {
    const be = getBackend();
    for (let b = 0; b < nb; b++) {
      const dst = mem.f32.subarray((dximg >> 2) + b * img, (dximg >> 2) + (b + 1) * img);
      dst.fill(0);
      be.col2im(mem.f32.subarray((cols >> 2) + b * per), g, g.cin, dst);
    }
    return;
  }
  const { rt } = lutWasm()!;
  rt.job.reset().conv(convDesc(g, nb, 0, mem.ptr + cols, mem.ptr + dximg)).phase(LAYOUT.K_COL2IM, nb);
  runJob(rt, threadsFor(nb * per * COPY_WEIGHT, nb));
}
