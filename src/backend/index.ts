// The active kernel backend: the WebAssembly one when it loads, the TypeScript reference otherwise.
// LUTNN_BACKEND=reference|wasm forces one; LUTNN_SIMD and LUTNN_THREADS tune the wasm one.
import { ArgumentError } from '../errors.js';
import { referenceBackend } from './reference.js';
import type { Backend } from './types.js';
import { wasmLoadError, wasmRuntime } from './wasm.js';
import { createWasmBackend } from './wasm-backend.js';

let wasm: Backend | null | undefined;

/** The wasm backend, or null when it cannot load (`wasmLoadError()` says why). */
export function getWasmBackend(): Backend | null {
  if (wasm === undefined) {
    const rt = wasmRuntime();
    wasm = rt ? createWasmBackend(rt) : null;
  }
  return wasm;
}

function defaultBackend(): Backend {
  const want = process.env.LUTNN_BACKEND;
  if (want === 'reference') return referenceBackend;
  if (want !== undefined && want !== '' && want !== 'wasm') {
    throw new ArgumentError(`LUTNN_BACKEND: expected reference or wasm, got ${want}`);
  }
  const be = getWasmBackend();
  if (be) return be;
  const why = wasmLoadError();
  if (want === 'wasm' && why) throw why;
  process.stderr.write(`lutnn: ${why?.message ?? 'wasm backend unavailable'}; using the reference backend\n`);
  return referenceBackend;
}

// Chosen on first use, not on import: the browser build installs its kernels (fetched asynchronously) before that.
let active: Backend | undefined;

export function getBackend(): Backend {
  return (active ??= defaultBackend());
}

/** Swap the backend (tests use this to run an op on both and compare). */
export function setBackend(b: Backend): Backend {
  const prev = getBackend();
  active = b;
  return prev;
}

export { referenceBackend } from './reference.js';
export { getNumThreads, setNumThreads } from './pool.js';
export type { Backend, Conv2dGeom, PackedMatrix, ResidentArray } from './types.js';
