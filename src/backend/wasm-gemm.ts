// The wasm backend's GEMMs: job planning shared with conv, per-call gemm, prepacked B and resident arrays.
// Every output element is summed by one thread in a fixed order, so results do not depend on the thread count.
import { ArgumentError, ShapeError } from '../errors.js';
import { LAYOUT, type GemmDesc } from './layout.js';
import { runJob, threadsFor } from './pool.js';
import type { PackedMatrix, ResidentArray } from './types.js';
import type { WasmRuntime } from './wasm.js';

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
export const roundUp = (a: number, b: number): number => ceilDiv(a, b) * b;

/** The kernels trust their sizes (an overrun would read other scratch or trap), so sizes are checked here. */
export function need(op: string, name: string, a: Float32Array | null, n: number, dims: string): void {
  if (a && a.length < n) throw new ShapeError(`wasm ${op}: ${name} has ${a.length} elements, needs ${n} (${dims})`);
}

function checkDim(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new ArgumentError(`wasm ${op}: ${name} must be a non-negative integer, got ${v}`);
}

/** Where op(A) or op(B) lives: element (lane p, step k) at base + 4·(p·sp + ⌊k/kl⌋·kbs + (k mod kl)·sk). */
export interface Operand {
  base: number;
  sp: number;
  sk: number;
  kl: number;
  kbs: number;
}

export interface GemmPlan {
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
export function packBytes(rt: WasmRuntime, M: number, N: number, K: number): { a: number; b: number } {
  return { a: roundUp(M, rt.tiles.mr) * K * 4, b: roundUp(N, rt.tiles.nr) * K * 4 };
}

/** Output blocks of a GEMM: cache-sized by default, smaller when threads need more tasks to share. */
export function gemmBlocks(M: number, N: number, nb: number, threads: number): { mc: number; nc: number } {
  let mc = 256;
  let nc = 256;
  const tasks = (): number => nb * ceilDiv(M, mc) * ceilDiv(N, nc);
  while (threads > 1 && tasks() < 4 * threads && (nc > 32 || mc > 16)) {
    if (nc > 32 && (ceilDiv(N, nc) <= ceilDiv(M, mc) || mc <= 16)) nc /= 2;
    else mc /= 2;
  }
  return { mc, nc };
}

/** Appends the PACK_A, PACK_B (unless `prepacked`) and TILES phases of `p` and writes its descriptor. */
export function addGemm(rt: WasmRuntime, p: GemmPlan, threads: number, pa: number, pb: number, prepacked = false): void {
  const { mc, nc } = gemmBlocks(p.M, p.N, p.nb, threads);
  const d: GemmDesc = {
    M: p.M, N: p.N, K: p.K, ACC: p.accumulate ? 1 : 0, NB: p.nb, MC: mc, NC: nc,
    A: p.a.base, ASI: p.a.sp, ASK: p.a.sk, AKL: p.a.kl, AKBS: p.a.kbs,
    B: p.b.base, BSK: p.b.sk, BSJ: p.b.sp, BKL: p.b.kl, BKBS: p.b.kbs, BBATCH: p.b.batch,
    C: p.c.base, LDC: p.c.ldc, CBATCH: p.c.batch,
    PA: pa, PB: pb, PBBATCH: packBytes(rt, p.M, p.N, p.K).b,
  };
  const { mr, nr, panelsPerTask } = rt.tiles;
  rt.job.gemm(d);
  if (!prepacked) {
    rt.job
      .phase(LAYOUT.K_PACK_A, ceilDiv(ceilDiv(p.M, mr), panelsPerTask))
      .phase(LAYOUT.K_PACK_B, p.nb * ceilDiv(ceilDiv(p.N, nr), panelsPerTask));
  }
  rt.job.phase(LAYOUT.K_TILES, p.nb * ceilDiv(p.M, mc) * ceilDiv(p.N, nc));
}

/** Task count of a job's widest phase, to cap the threads. */
export function gemmTasks(p: GemmPlan): number {
  return p.nb * ceilDiv(p.M, 16) * ceilDiv(p.N, 32);
}

/** Staging band for streamPack: small enough to stay in L2 next to the panels being written. */
const STAGE_BYTES = 256 << 10;

/**
 * Packs the row-major JS matrix X [rows, cols] into W-lane panels at `dst`, copying bands of rows through a
 * small staging buffer so each value crosses main memory once (instead of a full copy, then a packing pass).
 * Lanes run along X's rows (steps = columns) when `lanesAreRows`, else along its columns (steps = rows).
 */
function streamPack(rt: WasmRuntime, X: Float32Array, rows: number, cols: number, W: number, lanesAreRows: boolean, dst: number): void {
  if (lanesAreRows) {
    const panelBytes = W * cols * 4;
    const band = Math.max(1, Math.floor(STAGE_BYTES / panelBytes)) * W;
    const stage = rt.arena.alloc(Math.min(band, roundUp(rows, W)) * cols * 4);
    for (let r0 = 0; r0 < rows; r0 += band) {
      const r1 = Math.min(rows, r0 + band);
      rt.f32(stage, (r1 - r0) * cols).set(X.subarray(r0 * cols, r1 * cols));
      rt.ex.packPanels(stage, W, r1 - r0, cols, 1, cols, cols, 0, dst + r0 * cols * 4, panelBytes);
    }
  } else {
    const band = Math.max(1, Math.floor(STAGE_BYTES / (cols * 4)));
    const stage = rt.arena.alloc(Math.min(band, rows) * cols * 4);
    for (let k0 = 0; k0 < rows; k0 += band) {
      const k1 = Math.min(rows, k0 + band);
      rt.f32(stage, (k1 - k0) * cols).set(X.subarray(k0 * cols, k1 * cols));
      rt.ex.packPanels(stage, W, cols, 1, cols, k1 - k0, k1 - k0, 0, dst + k0 * W * 4, W * rows * 4);
    }
  }
}

/** A block of the long-lived heap, freed by dispose() or, as a safety net, when its owner is collected. */
const finalizers = new WeakMap<WasmRuntime, FinalizationRegistry<number>>();
function registry(rt: WasmRuntime): FinalizationRegistry<number> {
  let r = finalizers.get(rt);
  if (!r) {
    r = new FinalizationRegistry<number>((ptr) => rt.heap.free(ptr));
    finalizers.set(rt, r);
  }
  return r;
}

class WasmResident implements ResidentArray {
  private alive = true;

  constructor(readonly rt: WasmRuntime, readonly ptr: number, readonly view: Float32Array) {
    // The finalizer watches the view, not this wrapper: a caller may keep only the view.
    registry(rt).register(view, ptr, this);
  }

  get disposed(): boolean {
    return !this.alive;
  }

  dispose(): void {
    if (!this.alive) return;
    this.alive = false;
    registry(this.rt).unregister(this);
    this.rt.heap.free(this.ptr);
  }
}

/** Live and disposed resident arrays, by their view. */
const residents = new WeakMap<Float32Array, WasmResident>();

function allocResident(rt: WasmRuntime, length: number): ResidentArray {
  checkDim('allocResident', 'length', length);
  const ptr = rt.heap.alloc(length * 4);
  const view = rt.f32(ptr, length);
  view.fill(0);
  const r = new WasmResident(rt, ptr, view);
  residents.set(view, r);
  return r;
}

/** Byte address of X when it is the view of a live resident array of this runtime, else null. */
function residentPtr(rt: WasmRuntime, op: string, name: string, X: Float32Array): number | null {
  const r = residents.get(X);
  if (!r || r.rt !== rt) return null;
  if (r.disposed) throw new ArgumentError(`wasm ${op}: ${name} is the view of a disposed resident array`);
  return r.ptr;
}

/** Packs X like streamPack, straight from wasm memory when X is resident. */
function packOperand(rt: WasmRuntime, op: string, name: string, X: Float32Array, rows: number, cols: number, W: number, lanesAreRows: boolean, dst: number): void {
  const src = residentPtr(rt, op, name, X);
  if (src === null) streamPack(rt, X, rows, cols, W, lanesAreRows, dst);
  else if (lanesAreRows) rt.ex.packPanels(src, W, rows, cols, 1, cols, cols, 0, dst, W * cols * 4);
  else rt.ex.packPanels(src, W, cols, 1, cols, rows, rows, 0, dst, W * rows * 4);
}

/** op(B) packed into NR-column panels in a heap block. */
class WasmPacked implements PackedMatrix {
  readonly backend = 'wasm';
  private alive = true;

  constructor(private readonly rt: WasmRuntime, readonly ptr: number, readonly K: number, readonly N: number) {
    registry(rt).register(this, ptr, this);
  }

  get disposed(): boolean {
    return !this.alive;
  }

  dispose(): void {
    if (!this.alive) return;
    this.alive = false;
    registry(this.rt).unregister(this);
    this.rt.heap.free(this.ptr);
  }
}

function packGemmB(rt: WasmRuntime, B: Float32Array, K: number, N: number, transB: boolean): PackedMatrix {
  checkDim('packGemmB', 'K', K);
  checkDim('packGemmB', 'N', N);
  need('packGemmB', 'B', B, K * N, `K=${K}, N=${N}`);
  const ptr = rt.heap.alloc(packBytes(rt, 0, N, K).b);
  try {
    if (K > 0 && N > 0) rt.scoped(() => packOperand(rt, 'packGemmB', 'B', B, transB ? N : K, transB ? K : N, rt.tiles.nr, transB, ptr));
  } catch (e) {
    rt.heap.free(ptr);
    throw e;
  }
  return new WasmPacked(rt, ptr, K, N);
}

/** Runs the tiles of C [M, N] (byte pointer c) = packed A at pa · packed B at pb, on the pool. */
function runTiles(rt: WasmRuntime, M: number, N: number, K: number, accumulate: boolean, pa: number, pb: number, c: number): void {
  const none = { base: 0, sp: 0, sk: 0, kl: K, kbs: 0 };
  const plan: GemmPlan = { M, N, K, accumulate, nb: 1, a: none, b: { ...none, batch: 0 }, c: { base: c, ldc: N, batch: 0 } };
  const threads = threadsFor(M * N * K, gemmTasks(plan));
  rt.job.reset();
  addGemm(rt, plan, threads, pa, pb, true);
  runJob(rt, threads);
}

/**
 * Shared by gemm and gemmPacked: packs op(A), brings C in (in place when resident), calls `packB` for the B
 * panels' address, runs the tiles and copies C out.
 */
function gemmWith(rt: WasmRuntime, op: string, A: Float32Array, C: Float32Array, M: number, N: number, K: number, transA: boolean,
  accumulate: boolean, packB: () => number): void {
  if (M === 0 || N === 0) return;
  const cRes = residentPtr(rt, op, 'C', C);
  residentPtr(rt, op, 'A', A); // fails early on a disposed view
  if (K === 0) {
    if (!accumulate) C.fill(0, 0, M * N);
    return;
  }
  rt.scoped(() => {
    const c = cRes ?? (accumulate ? rt.put(C.subarray(0, M * N)) : rt.arena.alloc(M * N * 4));
    const pa = rt.arena.alloc(packBytes(rt, M, 0, K).a);
    // op(A) lanes are its rows i: A's rows unless transposed.
    packOperand(rt, op, 'A', A, transA ? K : M, transA ? M : K, rt.tiles.mr, !transA, pa);
    const pb = packB();
    runTiles(rt, M, N, K, accumulate, pa, pb, c);
    if (cRes === null) rt.get(c, C.subarray(0, M * N));
  });
}

function gemm(rt: WasmRuntime, A: Float32Array, B: Float32Array, C: Float32Array, M: number, N: number, K: number,
  transA: boolean, transB: boolean, accumulate: boolean): void {
  const dims = `M=${M}, N=${N}, K=${K}`;
  need('gemm', 'A', A, M * K, dims);
  need('gemm', 'B', B, K * N, dims);
  need('gemm', 'C', C, M * N, dims);
  gemmWith(rt, 'gemm', A, C, M, N, K, transA, accumulate, () => {
    const pb = rt.arena.alloc(packBytes(rt, 0, N, K).b);
    // op(B) lanes are its columns j: B's rows if transposed.
    packOperand(rt, 'gemm', 'B', B, transB ? N : K, transB ? K : N, rt.tiles.nr, transB, pb);
    return pb;
  });
}

function gemmPacked(rt: WasmRuntime, A: Float32Array, packed: PackedMatrix, C: Float32Array, M: number, transA: boolean, accumulate: boolean): void {
  if (!(packed instanceof WasmPacked)) throw new ArgumentError(`wasm gemmPacked: expected a matrix packed by the wasm backend, got one from ${packed.backend}`);
  if (packed.disposed) throw new ArgumentError('wasm gemmPacked: the packed matrix was disposed');
  checkDim('gemmPacked', 'M', M);
  const { K, N } = packed;
  const dims = `M=${M}, N=${N}, K=${K}`;
  need('gemmPacked', 'A', A, M * K, dims);
  need('gemmPacked', 'C', C, M * N, dims);
  gemmWith(rt, 'gemmPacked', A, C, M, N, K, transA, accumulate, () => packed.ptr);
}

/** The GEMM entries of the wasm Backend over a loaded runtime. */
export function wasmGemmEntries(rt: WasmRuntime) {
  return {
    gemm: (A: Float32Array, B: Float32Array, C: Float32Array, M: number, N: number, K: number, tA: boolean, tB: boolean, acc: boolean) =>
      gemm(rt, A, B, C, M, N, K, tA, tB, acc),
    packGemmB: (B: Float32Array, K: number, N: number, transB: boolean) => packGemmB(rt, B, K, N, transB),
    gemmPacked: (A: Float32Array, packed: PackedMatrix, C: Float32Array, M: number, tA: boolean, acc: boolean) =>
      gemmPacked(rt, A, packed, C, M, tA, acc),
    allocResident: (length: number) => allocResident(rt, length),
  };
}
