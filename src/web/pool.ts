// Browser stand-in for src/backend/pool.ts (the bundle aliases it): Web Workers over the shared kernel memory.
// Threads need a shared memory (a cross-origin isolated page) and a worker as the calling thread (Atomics.wait is
// not allowed on a page's main thread); elsewhere every job runs on the calling thread. Results do not depend on it.
import { ArgumentError } from '../errors.js';
import { LAYOUT } from '../backend/layout.js';
import type * as NodePool from '../backend/pool.js';
import type { WasmRuntime } from '../backend/wasm-runtime.js';

/** A classic worker (from a Blob URL): instantiates the kernels on the shared memory and runs `work(tid, gen)` per wake. */
const WORKER_SOURCE = `
onmessage = (e) => {
  const { module, memory, tid, wake, ready } = e.data;
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const ctl = new Int32Array(memory.buffer);
  let seen = Atomics.load(ctl, wake);
  Atomics.store(ctl, ready + tid, 1);
  for (;;) {
    Atomics.wait(ctl, wake, seen);
    seen = Atomics.load(ctl, wake);
    ex.work(tid, seen);
  }
};
`;

const WAKE = (LAYOUT.CTRL + LAYOUT.C_WAKE) >> 2;
const READY = (LAYOUT.CTRL + LAYOUT.READY) >> 2;

let parallelMinMacs = 1 << 20;
const workers: Worker[] = [];
let workersFailed = false;
let sharedMemory = false;

/** Whether the calling thread is a worker (it may block in Atomics.wait; a page's main thread may not). */
function inWorker(): boolean {
  const g = globalThis as { WorkerGlobalScope?: new () => unknown };
  return typeof g.WorkerGlobalScope === 'function' && globalThis instanceof g.WorkerGlobalScope;
}

/** Threads this realm can use at most: 1 on a page's main thread, or without Web Workers. */
export function maxThreads(): number {
  if (!inWorker() || typeof Worker !== 'function') return 1;
  const hc = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(LAYOUT.MAX_THREADS, hc));
}

let numThreads = maxThreads();

export function getNumThreads(): number {
  return numThreads;
}

/** Sets the thread count (1 = the calling thread only); above maxThreads() (a page's main thread: 1) it is an error. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > LAYOUT.MAX_THREADS) {
    throw new ArgumentError(`setNumThreads: expected an integer in [1, ${LAYOUT.MAX_THREADS}], got ${n}`);
  }
  if (n > 1 && !inWorker()) throw new ArgumentError(`setNumThreads: ${n} threads need a worker as the calling thread (a page's main thread may not wait); use loadInWorker`);
  numThreads = n;
}

function spawnWorkers(rt: WasmRuntime, count: number): void {
  sharedMemory = typeof SharedArrayBuffer === 'function' && rt.memory.buffer instanceof SharedArrayBuffer;
  if (!sharedMemory || !inWorker()) return;
  let url: string | null = null;
  while (workers.length < count) {
    const tid = workers.length + 1;
    Atomics.store(new Int32Array(rt.memory.buffer), READY + tid, 0);
    url ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new Worker(url, { name: `lutnn-${tid}` });
    w.onerror = (ev: ErrorEvent) => {
      // The calling thread still runs every task nobody else claims, so results stay correct; only speed is lost.
      ev.preventDefault();
      if (!workersFailed) console.warn(`lutnn: Web Worker thread ${tid} failed (${ev.message || 'no message'}); continuing on fewer threads`);
      workersFailed = true;
    };
    w.postMessage({ module: rt.module, memory: rt.memory, tid, wake: WAKE, ready: READY });
    workers.push(w);
  }
  if (url) URL.revokeObjectURL(url);
}

/** Threads jobs can use now: the setting where the memory is shared and the caller is a worker, else 1. */
export function effectiveThreads(): number {
  return sharedMemory && inWorker() && !workersFailed ? numThreads : 1;
}

export function threadSlots(): number {
  return workers.length + 1;
}

export function getParallelMinMacs(): number {
  return parallelMinMacs;
}

export function setParallelMinMacs(macs: number): void {
  if (!(macs >= 0)) throw new ArgumentError(`setParallelMinMacs: expected a non-negative number, got ${macs}`);
  parallelMinMacs = macs;
}

/** Threads worth using for a job (1 without a shared memory, on a page's main thread, or below the size threshold). */
export function threadsFor(macs: number, tasks: number): number {
  if (numThreads === 1 || workersFailed || !sharedMemory || macs < parallelMinMacs) return 1;
  return Math.max(1, Math.min(numThreads, tasks));
}

/** Runs the job just written with `threads` threads (1 = the calling thread only) and waits for it. */
export function runJob(rt: WasmRuntime, threads: number): void {
  rt.job.seal();
  const gen = rt.ex.openJob();
  if (threads > 1 && sharedMemory) {
    spawnWorkers(rt, threads - 1);
    const ctl = new Int32Array(rt.memory.buffer, 0, WAKE + 1);
    Atomics.store(ctl, WAKE, gen);
    Atomics.notify(ctl, WAKE, threads - 1);
  }
  rt.ex.work(0, gen);
  rt.ex.finishJob();
}

/**
 * Starts the workers for the current thread count when this realm can use them, and resolves once they have all
 * instantiated the kernels (so the first job has them); a no-op on one thread or an unshared memory. A page whose
 * policy stops the workers (e.g. a CSP without blob: workers) gets a warning and runs on the calling thread.
 */
export async function startWorkers(rt: WasmRuntime, timeoutMs = 10000): Promise<void> {
  try {
    spawnWorkers(rt, numThreads - 1);
  } catch (e) {
    workersFailed = true;
    console.warn(`lutnn: cannot start Web Worker threads (${(e as Error).message}); running on one thread`);
    return;
  }
  if (!sharedMemory || !inWorker()) return;
  const ctl = new Int32Array(rt.memory.buffer, 0, READY + LAYOUT.MAX_THREADS);
  const t0 = Date.now();
  const ready = (): boolean => workers.every((_, i) => Atomics.load(ctl, READY + i + 1) === 1);
  while (!ready() && !workersFailed) {
    if (Date.now() - t0 > timeoutMs) {
      // Jobs never wait for workers, so a slow or blocked one costs speed only: warn and go on.
      console.warn(`lutnn: Web Worker threads not ready after ${timeoutMs} ms; jobs run on the threads that are`);
      return;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Tasks each thread ran since the last call (index 0 = the calling thread); resets the counts. */
export function takeTaskCounts(rt: WasmRuntime): number[] {
  const stats = new Int32Array(rt.memory.buffer, LAYOUT.CTRL + LAYOUT.STATS, LAYOUT.MAX_THREADS);
  const out = Array.from(stats.subarray(0, Math.max(numThreads, workers.length + 1)));
  stats.fill(0);
  return out;
}

// Compile-time check that this module can stand in for the Node pool wherever the shared code calls it.
const api: Omit<typeof NodePool, never> = {
  getNumThreads, setNumThreads, threadSlots, getParallelMinMacs, setParallelMinMacs, threadsFor, runJob, startWorkers, takeTaskCounts,
};
void api;
