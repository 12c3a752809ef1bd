// Loads build/kernels(-relaxed).wasm synchronously into one shared memory, with its heap and scratch arena.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../errors.js';
import { JobWriter, LAYOUT, checkLayout, readTiles, type Tiles } from './layout.js';
import { Arena, Heap, MAX_PAGES } from './memory.js';

/** The kernels' exports (pointers and sizes are plain numbers; see assembly/index.ts). */
export interface KernelExports {
  heapBase(): number;
  /** Opens the written job; returns its generation (what `work` and the wake word carry). */
  openJob(): number;
  work(tid: number, gen: number): void;
  finishJob(): void;
  im2col(x: number, cols: number): void;
  col2im(cols: number, dx: number): void;
  depthwiseScratch(oh: number, sh: number, kh: number, dh: number, ow: number, sw: number, kw: number, dw: number): number;
  packPanels(src: number, W: number, n: number, sp: number, sk: number, K: number, kl: number, kbs: number, dst: number, panelBytes: number): void;
  relu(x: number, y: number, n: number): void;
  reluBackward(x: number, dy: number, dx: number, n: number): void;
  add(a: number, b: number, y: number, n: number): void;
  mul(a: number, b: number, y: number, n: number): void;
  axpy(alpha: number, x: number, y: number, n: number): void;
  scaleShift(x: number, y: number, n: number, scale: number, shift: number): void;
  channelAffine(x: number, y: number, nb: number, c: number, hw: number, scale: number, shift: number): void;
  reduceSum(x: number, n: number): number;
  reduceSumSquares(x: number, n: number): number;
  reduceMax(x: number, n: number): number;
  softmaxRows(x: number, y: number, rows: number, cols: number): void;
}

export type SimdVariant = 'plain' | 'relaxed';

/** One loaded instance: exports, memory, long-lived heap, scratch arena and the job writer over the control block. */
export class WasmRuntime {
  readonly arena: Arena;
  readonly heap: Heap;
  readonly job: JobWriter;
  readonly tiles: Tiles;

  constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    readonly ex: KernelExports,
    readonly variant: SimdVariant,
    readonly path: string,
  ) {
    this.heap = new Heap(memory, () => this.arena.depth > 0);
    this.arena = new Arena(memory, () => this.heap.frontier);
    this.job = new JobWriter(memory.buffer);
    this.tiles = readTiles(ex as unknown as WebAssembly.Exports);
  }

  /** Float32 view of `n` elements at byte pointer `ptr` (take a fresh one after any allocation). */
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  /** Copies `src` into a fresh arena block; returns its pointer. */
  put(src: Float32Array): number {
    const p = this.arena.alloc(src.length * 4);
    this.f32(p, src.length).set(src);
    return p;
  }

  /** Copies `dst.length` floats at `ptr` into `dst`. */
  get(ptr: number, dst: Float32Array): void {
    dst.set(this.f32(ptr, dst.length));
  }

  /** Runs `fn` with arena allocations released afterwards, whatever happens (arena blocks are valid only inside). */
  scoped<T>(fn: () => T): T {
    const m = this.arena.mark();
    this.arena.depth++;
    try {
      return fn();
    } finally {
      this.arena.depth--;
      this.arena.reset(m);
    }
  }
}

/** Finds build/<file> in the nearest ancestor of this module's folder (works from src/ and dist/src/). */
function findBuildFile(file: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'build', file);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) throw new BackendError(`wasm: build/${file} not found above ${dirname(fileURLToPath(import.meta.url))}; run npm run build:wasm`);
    dir = up;
  }
}

/** Picks the relaxed build when this engine validates it (or LUTNN_SIMD says so), else the plain one. */
function chooseVariant(): { variant: SimdVariant; bytes: Uint8Array<ArrayBuffer>; path: string } {
  const forced = process.env.LUTNN_SIMD || undefined;
  if (forced !== undefined && forced !== 'plain' && forced !== 'relaxed') {
    throw new BackendError(`wasm: LUTNN_SIMD must be plain or relaxed, got ${forced}`);
  }
  if (forced !== 'plain') {
    const path = findBuildFile('kernels-relaxed.wasm');
    const bytes = readFileSync(path);
    if (WebAssembly.validate(bytes)) return { variant: 'relaxed', bytes, path };
    if (forced === 'relaxed') {
      throw new BackendError('wasm: LUTNN_SIMD=relaxed but this engine rejects relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)');
    }
  }
  const path = findBuildFile('kernels.wasm');
  return { variant: 'plain', bytes: readFileSync(path), path };
}

/** Compiles and instantiates the kernels (synchronously); throws BackendError on any failure. */
export function loadWasm(): WasmRuntime {
  const { variant, bytes, path } = chooseVariant();
  let module: WebAssembly.Module;
  let memory: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  try {
    module = new WebAssembly.Module(bytes);
    memory = new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, shared: true });
    instance = new WebAssembly.Instance(module, { env: { memory } });
  } catch (e) {
    throw new BackendError(`wasm: cannot instantiate ${path}: ${(e as Error).message}`);
  }
  checkLayout(instance.exports);
  const ex = instance.exports as unknown as KernelExports;
  if (ex.heapBase() > LAYOUT.CTRL) {
    throw new BackendError(`wasm: static data ends at ${ex.heapBase()}, above the control block at ${LAYOUT.CTRL}`);
  }
  const rt = new WasmRuntime(module, memory, ex, variant, path);
  // Close the ticket of generation 0 so no thread can claim anything before the first job is written.
  rt.job.reset().seal();
  ex.openJob();
  ex.finishJob();
  return rt;
}

let cached: WasmRuntime | null | undefined;
let loadError: BackendError | null = null;

/** The process-wide runtime, loaded on first use; null (with `wasmLoadError()` set) if it cannot load. */
export function wasmRuntime(): WasmRuntime | null {
  if (cached === undefined) {
    try {
      cached = loadWasm();
    } catch (e) {
      loadError = e instanceof BackendError ? e : new BackendError(`wasm: ${(e as Error).message}`);
      cached = null;
    }
  }
  return cached;
}

/** Why the runtime did not load (null when it did or was not tried). */
export function wasmLoadError(): BackendError | null {
  return loadError;
}
