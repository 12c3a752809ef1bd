// Browser stand-in for src/backend/wasm.ts (the bundle aliases it): the realm-wide kernels that src/web/kernels.ts
// fetched and installed. Nothing here touches node:*; the shared code asks `wasmRuntime()` as it does in Node.
import { BackendError } from '../errors.js';
import type * as NodeWasm from '../backend/wasm.js';
import type { WasmRuntime } from '../backend/wasm-runtime.js';

export { WasmRuntime, instantiateKernels, initKernels, type KernelExports, type SimdVariant } from '../backend/wasm-runtime.js';

let installed: WasmRuntime | null = null;

/** Makes `rt` the realm's kernels (once: every model of a page or worker shares one heap, as in Node). */
export function installRuntime(rt: WasmRuntime): void {
  if (installed && installed !== rt) throw new BackendError('lutnn: kernels are already installed in this realm');
  installed = rt;
}

/** The installed kernels, or null before `loadKernels()` has finished. */
export function wasmRuntime(): WasmRuntime | null {
  return installed;
}

/** Why `wasmRuntime()` is null (null once the kernels are installed). */
export function wasmLoadError(): BackendError | null {
  return installed ? null : new BackendError('lutnn: the kernels are not loaded yet in this realm; await lutnn.load() or lutnn.loadKernels() first');
}

/** The synchronous Node loader has no browser counterpart. */
export function loadWasm(): never {
  throw new BackendError('lutnn: loadWasm() reads build/*.wasm from disk (Node only); in a browser await lutnn.loadKernels()');
}

// Compile-time check that this module can stand in for src/backend/wasm.ts wherever the shared code calls it.
const api: Pick<typeof NodeWasm, 'wasmRuntime' | 'wasmLoadError' | 'loadWasm'> = { wasmRuntime, wasmLoadError, loadWasm };
void api;
