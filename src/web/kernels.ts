// Browser loader of the kernels: fetches and compiles kernels*.wasm by URL (relaxed SIMD when the engine validates
// it), on a shared memory when the page is cross-origin isolated, else on the unshared build; one runtime per realm.
import { MAX_PAGES } from '../backend/memory.js';
import { initKernels, type SimdVariant, type WasmRuntime } from '../backend/wasm-runtime.js';
import { ArgumentError, BackendError } from '../errors.js';
import type { KernelHost } from '../runtime/steps.js';
import { effectiveThreads, runJob, threadsFor } from './pool.js';
import { installRuntime, wasmRuntime } from './wasm-host.js';

export interface KernelOptions {
  /** Folder (URL) holding kernels*.wasm; default: the folder of the lutnn bundle (`new URL('./', import.meta.url)`). */
  wasmBase?: string | URL;
  /** 'auto' (default): the relaxed-SIMD build when `WebAssembly.validate` accepts relaxed SIMD, else plain SIMD. */
  simd?: 'auto' | SimdVariant;
  /**
   * 'auto' (default): a shared memory (build kernels.wasm, as in Node) when `crossOriginIsolated`, else the unshared
   * build kernels-single.wasm (same code, same results). 'shared' needs cross-origin isolation (COOP/COEP headers).
   */
  memory?: 'auto' | 'shared' | 'unshared';
  /**
   * Threads for the kernels' jobs (the calling thread plus Web Workers over the shared memory): default
   * navigator.hardwareConcurrency (at most 16) inside a worker, 1 on a page's main thread. Threads need the shared
   * memory (a cross-origin isolated page); on the unshared build every job runs on the calling thread.
   */
  threads?: number;
}

/** What loadKernels settled on. */
export interface KernelInfo {
  variant: SimdVariant;
  shared: boolean;
  url: string;
  /** Threads the jobs use (1 on the unshared build or a page's main thread). */
  threads: number;
}

/** A module using `i8x16.relaxed_swizzle` (as wasm-feature-detect does): valid only where relaxed SIMD is on. */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11,
]);

/** Whether this engine accepts relaxed SIMD. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_PROBE);
}

/** Whether this realm may share WebAssembly memory (cross-origin isolated page or worker). */
export function crossOriginIsolatedNow(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

/** The file of a build: kernels[-single][-relaxed].wasm. */
export function kernelFile(variant: SimdVariant, shared: boolean): string {
  return `kernels${shared ? '' : '-single'}${variant === 'relaxed' ? '-relaxed' : ''}.wasm`;
}

function baseUrl(wasmBase: string | URL | undefined): URL {
  if (wasmBase === undefined) return new URL('./', import.meta.url);
  if (typeof wasmBase !== 'string' && !(wasmBase instanceof URL)) {
    throw new ArgumentError(`lutnn.loadKernels: wasmBase must be a string or a URL, got ${typeof wasmBase}`);
  }
  const href = String(wasmBase);
  const base = new URL(href.endsWith('/') ? href : `${href}/`, (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url);
  return base;
}

async function compile(url: URL): Promise<WebAssembly.Module> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new BackendError(`lutnn: cannot fetch ${url.href}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new BackendError(`lutnn: fetching ${url.href} gave HTTP ${res.status}; pass wasmBase (the folder holding kernels*.wasm)`);
  try {
    // compileStreaming needs the application/wasm type; other servers get the buffered path.
    if (typeof WebAssembly.compileStreaming === 'function' && (res.headers.get('content-type') ?? '').startsWith('application/wasm')) {
      return await WebAssembly.compileStreaming(res);
    }
    return await WebAssembly.compile(await res.arrayBuffer());
  } catch (e) {
    throw new BackendError(`lutnn: cannot compile ${url.href}: ${(e as Error).message}`);
  }
}

function checkOptions(opts: KernelOptions): { simd: 'auto' | SimdVariant; memory: 'auto' | 'shared' | 'unshared' } {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError('lutnn.loadKernels: options must be an object');
  const simd = opts.simd ?? 'auto';
  if (simd !== 'auto' && simd !== 'plain' && simd !== 'relaxed') throw new ArgumentError(`lutnn.loadKernels: simd must be auto, plain or relaxed, got ${String(simd)}`);
  const memory = opts.memory ?? 'auto';
  if (memory !== 'auto' && memory !== 'shared' && memory !== 'unshared') {
    throw new ArgumentError(`lutnn.loadKernels: memory must be auto, shared or unshared, got ${String(memory)}`);
  }
  return { simd, memory };
}

let pending: Promise<KernelHost> | null = null;
let host: KernelHost | null = null;
let info: Omit<KernelInfo, 'threads'> | null = null;

/** The kernels loadKernels installed in this realm (null before). */
export function kernelInfo(): KernelInfo | null {
  return info ? { ...info, threads: effectiveThreads() } : null;
}

/**
 * Fetches, compiles and installs the kernels (once per realm; later calls return the same host and ignore their
 * options). Throws BackendError when the engine lacks WebAssembly SIMD, the file cannot be fetched, or the options
 * ask for what this page cannot do.
 */
export function loadKernels(opts: KernelOptions = {}): Promise<KernelHost> {
  if (host) return Promise.resolve(host);
  if (!pending) {
    pending = loadOnce(opts).catch((e: unknown) => {
      pending = null;
      throw e;
    });
  }
  return pending;
}

async function loadOnce(opts: KernelOptions): Promise<KernelHost> {
  const { simd, memory } = checkOptions(opts);
  const base = baseUrl(opts.wasmBase);
  if (typeof WebAssembly !== 'object') throw new BackendError('lutnn: this engine has no WebAssembly');
  const coi = crossOriginIsolatedNow();
  if (memory === 'shared' && !coi) {
    throw new BackendError(
      'lutnn.loadKernels: memory "shared" needs a cross-origin isolated page (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp); use memory "auto" for the unshared build',
    );
  }
  const shared = memory === 'shared' || (memory === 'auto' && coi);
  const relaxedOk = relaxedSimdSupported();
  if (simd === 'relaxed' && !relaxedOk) throw new BackendError('lutnn.loadKernels: simd "relaxed" asked for, but this engine rejects relaxed SIMD');
  const variant: SimdVariant = simd === 'plain' || !relaxedOk ? 'plain' : 'relaxed';
  const url = new URL(kernelFile(variant, shared), base);
  const module = await compile(url);
  let mem: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  try {
    mem = new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, shared });
    instance = await WebAssembly.instantiate(module, { env: { memory: mem } });
  } catch (e) {
    throw new BackendError(`lutnn: cannot instantiate ${url.href}: ${(e as Error).message}`);
  }
  const rt: WasmRuntime = initKernels(module, mem, instance, variant, url.href);
  if (wasmRuntime()) throw new BackendError('lutnn: kernels are already installed in this realm');
  installRuntime(rt);
  info = { variant, shared, url: url.href };
  host = { rt, runJob: (threads) => runJob(rt, threads), threadsFor };
  return host;
}
