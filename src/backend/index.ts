// The active kernel backend: the WebAssembly one when it loads, the TypeScript reference otherwise.
import { referenceBackend } from './reference.js';
import type { Backend } from './types.js';

let active: Backend = referenceBackend;

export function getBackend(): Backend {
  return active;
}

/** Swap the backend (tests use this to run an op on both and compare). */
export function setBackend(b: Backend): Backend {
  const prev = active;
  active = b;
  return prev;
}

export type { Backend, Conv2dGeom } from './types.js';

let numThreads = 1;

/** Compute threads for GEMM and conv (the wasm backend's pool reads this). */
export function setNumThreads(n: number): void {
  numThreads = n;
}

export function getNumThreads(): number {
  return numThreads;
}
