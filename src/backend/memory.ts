// Allocators over the shared kernel memory: a free-list heap for long-lived blocks, a bump arena for per-call scratch.
// Layout above LAYOUT.ARENA: [heap blocks and holes ... frontier) [scratch arena, only while a scope is open ...).
import { BackendError } from '../errors.js';
import { LAYOUT } from './layout.js';

const PAGE = 65536;
export const MAX_PAGES = 65536;
export const ALIGN = 64;

const alignUp = (v: number): number => Math.ceil(v / ALIGN) * ALIGN;

/** Grows `memory` so that `end` bytes are addressable; BackendError past 4 GiB or when the engine refuses. */
export function ensureBytes(memory: WebAssembly.Memory, end: number): void {
  if (end > MAX_PAGES * PAGE) {
    throw new BackendError(`wasm: out of memory: ${end} bytes needed, WebAssembly memory holds at most 4 GiB`);
  }
  const have = memory.buffer.byteLength;
  if (end > have) {
    try {
      memory.grow(Math.ceil((end - have) / PAGE));
    } catch (e) {
      throw new BackendError(`wasm: out of memory growing to ${end} bytes: ${(e as Error).message}`);
    }
  }
}

/** Counters of the long-lived heap (tests use them to check that blocks are reused and nothing leaks). */
export interface HeapStats {
  /** End of the highest live block (the scratch arena starts above it). */
  frontier: number;
  liveBlocks: number;
  liveBytes: number;
  /** Holes below the frontier, after merging neighbours. */
  freeBlocks: number;
  freeBytes: number;
}

/**
 * First-fit free-list allocator for blocks that outlive a kernel call (prepacked weights, resident buffers).
 * Freed blocks merge with free neighbours; a free run that reaches the frontier lowers it, so alloc/free
 * cycles reuse the same bytes. Blocks are 64-byte aligned and never move; the memory only grows.
 */
export class Heap {
  private top: number = LAYOUT.ARENA;
  /** Free holes below `top`, sorted by address, never adjacent to each other. */
  private readonly holes: { ptr: number; bytes: number }[] = [];
  private readonly live = new Map<number, number>();

  constructor(
    private readonly memory: WebAssembly.Memory,
    /** True while per-call scratch lies above the frontier (a scope is open): the heap must not grow then. */
    private readonly scratchInUse: () => boolean,
  ) {}

  get frontier(): number {
    return this.top;
  }

  /** Byte pointer to `bytes` bytes (at least 1; 64-byte aligned, contents undefined) that stay put until free(). */
  alloc(bytes: number): number {
    if (!(Number.isFinite(bytes) && bytes >= 0)) throw new BackendError(`wasm heap: cannot allocate ${bytes} bytes`);
    const size = alignUp(Math.max(bytes, 1));
    for (let i = 0; i < this.holes.length; i++) {
      const h = this.holes[i];
      if (h.bytes < size) continue;
      const ptr = h.ptr;
      if (h.bytes === size) this.holes.splice(i, 1);
      else {
        h.ptr += size;
        h.bytes -= size;
      }
      this.live.set(ptr, size);
      return ptr;
    }
    if (this.scratchInUse()) {
      throw new BackendError('wasm heap: a long-lived block cannot be allocated while kernel scratch is in use (inside a kernel call)');
    }
    const ptr = this.top;
    ensureBytes(this.memory, ptr + size);
    this.top = ptr + size;
    this.live.set(ptr, size);
    return ptr;
  }

  /** Returns a block from alloc(); BackendError for a pointer that is not a live block (double free). */
  free(ptr: number): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new BackendError(`wasm heap: ${ptr} is not a live block`);
    this.live.delete(ptr);
    let lo = 0;
    let hi = this.holes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.holes[mid].ptr < ptr) lo = mid + 1;
      else hi = mid;
    }
    // Merge with the hole before and after, if they touch.
    let start = ptr;
    let end = ptr + size;
    let at = lo;
    let remove = 0;
    if (at > 0 && this.holes[at - 1].ptr + this.holes[at - 1].bytes === start) {
      at--;
      start = this.holes[at].ptr;
      remove++;
    }
    if (lo < this.holes.length && this.holes[lo].ptr === end) {
      end = this.holes[lo].ptr + this.holes[lo].bytes;
      remove++;
    }
    if (end === this.top) {
      this.holes.splice(at, remove);
      this.top = start;
    } else {
      this.holes.splice(at, remove, { ptr: start, bytes: end - start });
    }
  }

  /** Size in bytes of the live block at `ptr` (as rounded up by alloc), or undefined. */
  sizeOf(ptr: number): number | undefined {
    return this.live.get(ptr);
  }

  stats(): HeapStats {
    let liveBytes = 0;
    for (const s of this.live.values()) liveBytes += s;
    return {
      frontier: this.top,
      liveBlocks: this.live.size,
      liveBytes,
      freeBlocks: this.holes.length,
      freeBytes: this.holes.reduce((s, h) => s + h.bytes, 0),
    };
  }
}

/**
 * Bump allocator for one kernel call's scratch, above the heap's frontier. Valid only inside
 * `WasmRuntime.scoped()`, which releases everything allocated inside it; the heap cannot grow meanwhile,
 * so scratch never overlaps a long-lived block.
 */
export class Arena {
  private top: number = LAYOUT.ARENA;
  /** Open scopes (WasmRuntime.scoped nests). */
  depth = 0;

  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly floor: () => number,
  ) {}

  mark(): number {
    return this.top;
  }

  reset(mark: number): void {
    this.top = mark;
  }

  /** Byte pointer to `bytes` fresh bytes (64-byte aligned, contents undefined); grows the memory on demand. */
  alloc(bytes: number): number {
    const ptr = alignUp(Math.max(this.top, this.floor()));
    const end = ptr + Math.max(bytes, 0);
    ensureBytes(this.memory, end);
    this.top = end;
    return ptr;
  }
}
