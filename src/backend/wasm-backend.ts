// The WebAssembly Backend: copies operands into the arena, plans GEMM and conv jobs, runs them on the pool.
// Every output element is summed by one thread in a fixed order, so results do not depend on the thread count.
import type { Backend, Conv2dGeom } from './types.js';
import { LAYOUT, type ConvDesc, type GemmDesc } from './layout.js';
import { runJob, threadsFor } from './pool.js';
import type { WasmRuntime } from './wasm.js';

const { MR, NR, PANELS_PER_TASK: PPT } = LAYOUT;
/** Scratch budget for one chunk of images (patch matrices + packed panels); fixed, so chunks never depend on threads. */
const CHUNK_BYTES = 32 << 20;

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const roundUp = (a: number, b: number): number => ceilDiv(a, b) * b;

/** Where op(A) or op(B) lives: element (lane p, step k) at base + 4·(p·sp + ⌊k/kl⌋·kbs + (k mod kl)·sk). */
interface Operand {
  base: number;
  sp: number;
  sk: number;
  kl: number;
  kbs: number;
}

interface GemmPlan {
  M: number;
  N: number;
  K: number;
  accumulate: boolean;
  /** Number of (B, C) pairs sharing A, with their strides in elements. */
  nb: number;
  a: Operand;
  b: Operand & { batch: number };
  c: { base: number; ldc: number; batch: number };
}

/** Packed-panel sizes in bytes for A and for each B. */
function packBytes(M: number, N: number, K: number): { a: number; b: number } {
  return { a: roundUp(M, MR) * K * 4, b: roundUp(N, NR) * K * 4 };
}

/** Output blocks: cache-sized by default, smaller when threads need more tasks to share. */
function blocks(M: number, N: number, nb: number, threads: number): { mc: number; nc: number } {
  let mc = 64;
  let nc = 256;
  const tasks = (): number => nb * ceilDiv(M, mc) * ceilDiv(N, nc);
  while (threads > 1 && tasks() < 4 * threads && (nc > 32 || mc > 16)) {
    if (nc > 32 && (ceilDiv(N, nc) <= ceilDiv(M, mc) || mc <= 16)) nc /= 2;
    else mc /= 2;
  }
  return { mc, nc };
}

/** Appends the PACK_A, PACK_B and TILES phases of `p` (after any phases already written) and its descriptor. */
function addGemm(rt: WasmRuntime, p: GemmPlan, threads: number, pa: number, pb: number): void {
  const { mc, nc } = blocks(p.M, p.N, p.nb, threads);
  const d: GemmDesc = {
    M: p.M, N: p.N, K: p.K, ACC: p.accumulate ? 1 : 0, NB: p.nb, MC: mc, NC: nc,
    A: p.a.base, ASI: p.a.sp, ASK: p.a.sk, AKL: p.a.kl, AKBS: p.a.kbs,
    B: p.b.base, BSK: p.b.sk, BSJ: p.b.sp, BKL: p.b.kl, BKBS: p.b.kbs, BBATCH: p.b.batch,
    C: p.c.base, LDC: p.c.ldc, CBATCH: p.c.batch,
    PA: pa, PB: pb, PBBATCH: packBytes(p.M, p.N, p.K).b,
  };
  rt.job
    .gemm(d)
    .phase(LAYOUT.K_PACK_A, ceilDiv(ceilDiv(p.M, MR), PPT))
    .phase(LAYOUT.K_PACK_B, p.nb * ceilDiv(ceilDiv(p.N, NR), PPT))
    .phase(LAYOUT.K_TILES, p.nb * ceilDiv(p.M, mc) * ceilDiv(p.N, nc));
}

/** Task count of a job's widest phase, to cap the threads. */
function gemmTasks(p: GemmPlan): number {
  return p.nb * ceilDiv(p.M, 16) * ceilDiv(p.N, 32);
}

function gemm(
  rt: WasmRuntime,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  accumulate: boolean,
): void {
  if (M === 0 || N === 0) return;
  if (K === 0) {
    if (!accumulate) C.fill(0, 0, M * N);
    return;
  }
  rt.scoped(() => {
    const a = rt.put(A.subarray(0, M * K));
    const b = rt.put(B.subarray(0, K * N));
    const c = accumulate ? rt.put(C.subarray(0, M * N)) : rt.arena.alloc(M * N * 4);
    const sizes = packBytes(M, N, K);
    const pa = rt.arena.alloc(sizes.a);
    const pb = rt.arena.alloc(sizes.b);
    const plan: GemmPlan = {
      M, N, K, accumulate, nb: 1,
      a: transA ? { base: a, sp: 1, sk: M, kl: K, kbs: 0 } : { base: a, sp: K, sk: 1, kl: K, kbs: 0 },
      b: transB ? { base: b, sp: K, sk: 1, kl: K, kbs: 0, batch: 0 } : { base: b, sp: 1, sk: N, kl: K, kbs: 0, batch: 0 },
      c: { base: c, ldc: N, batch: 0 },
    };
    const threads = threadsFor(M * N * K, gemmTasks(plan));
    rt.job.reset();
    addGemm(rt, plan, threads, pa, pb);
    runJob(rt, threads);
    rt.get(c, C.subarray(0, M * N));
  });
}

/** Shapes of one conv, per group. */
function convDims(g: Conv2dGeom) {
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
    X: 0, XB: 0, COLS: 0, COLSB: 0, Y: 0, YB: 0, CH: 0, BIAS: 0, NB: 0,
  };
}

/** Images per chunk so that `perImage` bytes of scratch each stay within CHUNK_BYTES. */
function chunkImages(n: number, perImage: number): number {
  return Math.max(1, Math.min(n, Math.floor(CHUNK_BYTES / Math.max(perImage, 1))));
}

function conv2dForward(rt: WasmRuntime, x: Float32Array, w: Float32Array, bias: Float32Array | null, g: Conv2dGeom, y: Float32Array): void {
  const { cinG, coutG, kc, L, hw, pointwise } = convDims(g);
  if (y.length === 0) return;
  if (kc === 0) {
    for (let i = 0; i < y.length; i++) y[i] = bias ? bias[Math.floor(i / L) % g.cout] : 0;
    return;
  }
  rt.scoped(() => {
    const xp = rt.put(x);
    const wp = rt.put(w);
    const bp = bias ? rt.put(bias) : 0;
    const yp = rt.arena.alloc(y.length * 4);
    const sizes = packBytes(coutG, L, kc);
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
    rt.get(yp, y);
  });
}

function conv2dBackwardInput(rt: WasmRuntime, dy: Float32Array, w: Float32Array, g: Conv2dGeom, dx: Float32Array): void {
  const { cinG, coutG, kc, L, hw, pointwise } = convDims(g);
  if (dx.length === 0) return;
  if (coutG === 0 || L === 0) {
    dx.fill(0);
    return;
  }
  rt.scoped(() => {
    const dyp = rt.put(dy);
    const wp = rt.put(w);
    const dxp = rt.arena.alloc(dx.length * 4);
    const sizes = packBytes(kc, L, coutG);
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
    rt.get(dxp, dx);
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
  const { cinG, coutG, kc, L, hw, pointwise } = convDims(g);
  if (g.n === 0 || L === 0) {
    dw.fill(0);
    dbias?.fill(0);
    return;
  }
  rt.scoped(() => {
    const xp = rt.put(x);
    const dyp = rt.put(dy);
    const dwp = rt.arena.alloc(dw.length * 4);
    if (dbias && g.cout > 0) {
      const dbp = rt.arena.alloc(g.cout * 4);
      rt.job.reset().conv({ ...convGeom(g, cinG), Y: dyp, YB: g.cout * L, BIAS: dbp, NB: g.n }).phase(LAYOUT.K_BIAS_GRAD, g.cout);
      runJob(rt, threadsFor(g.n * g.cout * L, g.cout));
      rt.get(dbp, dbias);
    }
    if (dw.length === 0) return;
    // dW_g [coutG, kc] = Σ_images dy_g [coutG, L] · cols [kc, L]ᵀ: one GEMM per chunk with K running over
    // the chunk's images; chunks add up in order, so the sum order is fixed.
    const perImage = (roundUp(coutG, MR) + roundUp(kc, NR)) * L * 4 + (pointwise ? 0 : kc * L * 4);
    const chunk = chunkImages(g.n, perImage);
    const sizes = packBytes(coutG, kc, chunk * L);
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
    rt.get(dwp, dw);
  });
}

function im2col(rt: WasmRuntime, x: Float32Array, g: Conv2dGeom, cin: number, cols: Float32Array): void {
  if (cols.length === 0) return;
  rt.scoped(() => {
    const xp = rt.put(x.subarray(0, cin * g.h * g.w));
    const cp = rt.arena.alloc(cols.length * 4);
    rt.job.conv(convGeom(g, cin));
    rt.ex.im2col(xp, cp);
    rt.get(cp, cols);
  });
}

function col2im(rt: WasmRuntime, cols: Float32Array, g: Conv2dGeom, cin: number, dx: Float32Array): void {
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
    gemm: (A, B, C, M, N, K, tA, tB, acc) => gemm(rt, A, B, C, M, N, K, tA, tB, acc),
    im2col: (x, g, cin, cols) => im2col(rt, x, g, cin, cols),
    col2im: (cols, g, cin, dx) => col2im(rt, cols, g, cin, dx),
    conv2dForward: (x, w, bias, g, y) => conv2dForward(rt, x, w, bias, g, y),
    conv2dBackwardInput: (dy, w, g, dx) => conv2dBackwardInput(rt, dy, w, g, dx),
    conv2dBackwardWeight: (x, dy, g, dw, dbias) => conv2dBackwardWeight(rt, x, dy, g, dw, dbias),
  };
}
