// Worker threads over the shared kernel memory: the thread-count setting and the job runner.
// Workers sleep on a futex word; a job wakes as many as it wants, the main thread works too, then waits.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ArgumentError, BackendError } from '../errors.js';
import { LAYOUT } from './layout.js';
import type { WasmRuntime } from './wasm.js';

/** Each worker instantiates the same compiled module on the same memory and runs `work(tid, gen)` for the job whose generation woke it. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, tid, wake, ready } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer);
let seen = Atomics.load(ctl, wake);
Atomics.store(ctl, ready + tid, 1);
for (;;) {
  Atomics.wait(ctl, wake, seen);
  seen = Atomics.load(ctl, wake);
  ex.work(tid, seen);
}
`;

/**
 * Below this many multiply-adds a job runs on the calling thread alone (waking workers costs more). Measured by
 * bench/gemm.ts on a shared 2-core Xeon: 2 threads lose at 64³ (262k MACs), break even between 96³ and 128³
 * depending on the load on the other core, and win from 160³ (4M MACs).
 */
let parallelMinMacs = 1 << 20;

function parseThreads(v: string | undefined): number {
  const fallback = Math.min(availableParallelism(), LAYOUT.MAX_THREADS);
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > LAYOUT.MAX_THREADS) {
    throw new ArgumentError(`LUTNN_THREADS: expected an integer in [1, ${LAYOUT.MAX_THREADS}], got ${v}`);
  }
  return n;
}

/** Int32 indices of the control words the workers use. */
const WAKE = (LAYOUT.CTRL + LAYOUT.C_WAKE) >> 2;
const READY = (LAYOUT.CTRL + LAYOUT.READY) >> 2;

let numThreads = parseThreads(process.env.LUTNN_THREADS);
const workers: Worker[] = [];
let workersFailed = false;

/** Threads the wasm backend may use (the main thread included). */
export function getNumThreads(): number {
  return numThreads;
}

/**
 * Sets the thread count (1 = the calling thread only). Results do not depend on it. Workers started for a
 * larger count stay asleep rather than being stopped, so a thread id is never reused while its old owner runs.
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > LAYOUT.MAX_THREADS) {
    throw new ArgumentError(`setNumThreads: expected an integer in [1, ${LAYOUT.MAX_THREADS}], got ${n}`);
  }
  numThreads = n;
}

function spawnWorkers(rt: WasmRuntime, count: number): void {
  while (workers.length < count) {
    const tid = workers.length + 1;
    Atomics.store(new Int32Array(rt.memory.buffer), READY + tid, 0);
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: rt.module, memory: rt.memory, tid, wake: WAKE, ready: READY },
    });
    w.unref();
    w.on('error', (e: Error) => {
      // The main thread still runs every task nobody else claims, so results stay correct; only speed is lost.
      if (!workersFailed) process.stderr.write(`lutnn: wasm worker ${tid} failed (${e.message}); continuing on fewer threads\n`);
      workersFailed = true;
    });
    workers.push(w);
  }
}

/** Thread ids a job can see now (the calling thread and every started worker): per-thread scratch needs this many. */
export function threadSlots(): number {
  return workers.length + 1;
}

/** Jobs smaller than this many multiply-adds stay on the calling thread (bench/gemm.ts measures the crossover). */
export function getParallelMinMacs(): number {
  return parallelMinMacs;
}

export function setParallelMinMacs(macs: number): void {
  if (!(macs >= 0)) throw new ArgumentError(`setParallelMinMacs: expected a non-negative number, got ${macs}`);
  parallelMinMacs = macs;
}

/** Threads worth using for a job of `macs` multiply-adds split into `tasks` tasks. */
export function threadsFor(macs: number, tasks: number): number {
  if (numThreads === 1 || workersFailed || macs < parallelMinMacs) return 1;
  return Math.max(1, Math.min(numThreads, tasks));
}

/** Runs the job just written with `threads` threads (1 = the calling thread only) and waits for it. */
export function runJob(rt: WasmRuntime, threads: number): void {
  rt.job.seal();
  const gen = rt.ex.openJob();
  if (threads > 1) {
    spawnWorkers(rt, threads - 1);
    const ctl = new Int32Array(rt.memory.buffer, 0, WAKE + 1);
    // The wake word carries the job's generation: a worker only works on the job it was woken for.
    Atomics.store(ctl, WAKE, gen);
    Atomics.notify(ctl, WAKE, threads - 1);
  }
  rt.ex.work(0, gen);
  rt.ex.finishJob();
}

/**
 * Starts the workers for the current thread count and resolves once they have all instantiated the kernels
 * (jobs never wait for workers; benchmarks and tests call this so the first timed job has them).
 */
export async function startWorkers(rt: WasmRuntime, timeoutMs = 10000): Promise<void> {
  spawnWorkers(rt, numThreads - 1);
  const ctl = new Int32Array(rt.memory.buffer, 0, READY + LAYOUT.MAX_THREADS);
  const t0 = Date.now();
  const ready = (): boolean => workers.every((_, i) => Atomics.load(ctl, READY + i + 1) === 1);
  while (!ready()) {
    if (workersFailed) throw new BackendError('wasm: a worker failed to start');
    if (Date.now() - t0 > timeoutMs) throw new BackendError(`wasm: workers not ready after ${timeoutMs} ms`);
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
