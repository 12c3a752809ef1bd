// Loads build/kernels(-relaxed).wasm synchronously into one shared memory, with its heap and scratch arena (Node).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../errors.js';
import { MAX_PAGES } from './memory.js';
import { instantiateKernels, type SimdVariant, type WasmRuntime } from './wasm-runtime.js';

export { WasmRuntime, instantiateKernels, initKernels, type KernelExports, type SimdVariant } from './wasm-runtime.js';

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
  try {
    module = new WebAssembly.Module(bytes);
    memory = new WebAssembly.Memory({ initial: 32, maximum: MAX_PAGES, shared: true });
  } catch (e) {
    throw new BackendError(`wasm: cannot instantiate ${path}: ${(e as Error).message}`);
  }
  return instantiateKernels(module, memory, variant, path);
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
