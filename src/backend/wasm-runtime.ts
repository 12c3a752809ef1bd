// The loaded kernels without any file system: exports, shared memory, heap, arena, job writer, and instantiation
// from a compiled module. The Node loader (wasm.ts) and the browser loader (src/web/kernels.ts) both build on it.
import { BackendError } from '../errors.js';
import { JobWriter, LAYOUT, checkLayout, readTiles, type Tiles } from './layout.js';
import { Arena, Heap } from './memory.js';

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
  // Inference runtime (assembly/runtime.ts).
  rtEpilogueChannels(y: number, nb: number, C: number, HW: number, scale: number, shift: number, relu: number): void;
  rtEpilogueRows(y: number, rows: number, cols: number, scale: number, shift: number, relu: number): void;
  rtRowsToPlanes(src: number, dst: number, nb: number, P: number, M: number, scale: number, shift: number, relu: number): void;
  rtPool2d(x: number, y: number, planes: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, OH: number, OW: number, mode: number): void;
  rtPlaneMeans(x: number, y: number, planes: number, HW: number): void;
  rtIm2row(x: number, rows: number, nb: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number): void;
  rtFirstNonFinite(x: number, n: number): number;
  // Transformer graphs (assembly/rt-transformer.ts; twins in src/runtime/transformer-kernels-ref.ts).
  rtSoftmaxRows(x: number, y: number, rows: number, cols: number, scale: number, hasScale: number): void;
  rtLayerNormRows(x: number, y: number, rows: number, D: number, gamma: number, beta: number, eps: number): void;
  rtGelu(x: number, y: number, n: number, mode: number): void;
  rtBinary(a: number, b: number, y: number, rows: number, cols: number, bMode: number, op: number): void;
  rtPermute(x: number, y: number, nb: number, inSample: number, d0: number, d1: number, d2: number, d3: number, s0: number, s1: number, s2: number, s3: number): void;
  rtMeanAxis(x: number, y: number, outer: number, n: number, inner: number, scale: number): void;
  // Scalar-quantized layers (assembly/quant.ts; twins in src/runtime/quant-kernels-ref.ts).
  rtQuantizeRows(x: number, q: number, rows: number, K: number, Kp: number, scale: number, lo: number, hi: number): number;
  rtQIm2row(xq: number, rows: number, nb: number, C: number, H: number, W: number, KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, DH: number, DW: number, OH: number, OW: number, Kp: number): void;
  rtQGemm(a: number, w: number, y: number, M: number, N: number, Kp: number, scale: number, shift: number, relu: number, ldm: number, ldn: number): void;
}

export type SimdVariant = 'plain' | 'relaxed';

/** One loaded instance: exports, memory, long-lived heap, scratch arena and the job writer over the control block. */
export class WasmRuntime {
  readonly arena: Arena;
  readonly heap: Heap;
  readonly tiles: Tiles;
  private writer: JobWriter;
  private writerBuffer: ArrayBufferLike;

  constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    readonly ex: KernelExports,
    readonly variant: SimdVariant,
    readonly path: string,
  ) {
    this.heap = new Heap(memory, () => this.arena.depth > 0);
    this.arena = new Arena(memory, () => this.heap.frontier);
    this.writerBuffer = memory.buffer;
    this.writer = new JobWriter(this.writerBuffer);
    this.tiles = readTiles(ex as unknown as WebAssembly.Exports);
  }

  /**
   * The job writer over the control block. Growing an unshared memory (the browser's single-threaded build)
   * detaches its old ArrayBuffer, so the writer is rebound to the current buffer, keeping the job written so far.
   */
  get job(): JobWriter {
    const buf = this.memory.buffer;
    if (buf !== this.writerBuffer) {
      this.writer.rebind(buf);
      this.writerBuffer = buf;
    }
    return this.writer;
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

/**
 * Instantiates compiled kernels on `memory` (shared for threads; an unshared memory for the single-threaded build),
 * checks the control-block layout and closes generation 0. Throws BackendError on any failure.
 */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, variant: SimdVariant, path: string): WasmRuntime {
  let instance: WebAssembly.Instance;
  try {
    instance = new WebAssembly.Instance(module, { env: { memory } });
  } catch (e) {
    throw new BackendError(`wasm: cannot instantiate ${path}: ${(e as Error).message}`);
  }
  return initKernels(module, memory, instance, variant, path);
}

/** The runtime of an already instantiated module (e.g. from WebAssembly.instantiate): layout checks, generation 0 closed. */
export function initKernels(module: WebAssembly.Module, memory: WebAssembly.Memory, instance: WebAssembly.Instance, variant: SimdVariant, path: string): WasmRuntime {
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
