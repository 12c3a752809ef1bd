// Worker threads over the shared kernel memory: the thread-count setting and the job runner.
// Workers sleep on a futex word; a job wakes as many as it wants, the main thread works too, then waits.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ArgumentError } from '../errors.js';
import { LAYOUT } from './layout.js';
import type { WasmRuntime } from './wasm.js';

/** Each worker instantiates the same compiled module on the same memory and runs `work(tid)` when woken. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, tid, wake } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const word = new Int32Array(memory.buffer, wake, 1);
let seen = Atomics.load(word, 0);
for (;;) {
  Atomics.wait(word, 0, seen);
  seen = Atomics.load(word, 0);
  ex.work(tid);
}
`;

/** Below this many multiply-adds a job runs on the calling thread alone (waking workers costs more). */
export const PARALLEL_MIN_MACS = 1 << 21;

function parseThreads(v: string | undefined): number {
  const fallback = Math.min(availableParallelism(), LAYOUT.MAX_THREADS);
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > LAYOUT.MAX_THREADS) {
    throw new ArgumentError(`LUTNN_THREADS: expected an integer in [1, ${LAYOUT.MAX_THREADS}], got ${v}`);
  }
  return n;
}

let numThreads = parseThreads(process.env.LUTNN_THREADS);
const workers: Worker[] = [];
let workersFailed = false;

/** Threads the wasm backend may use (the main thread included). */
export function getNumThreads(): number {
  return numThreads;
}

/** Sets the thread count (1 = no workers); extra workers are stopped. Results do not depend on it. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > LAYOUT.MAX_THREADS) {
    throw new ArgumentError(`setNumThreads: expected an integer in [1, ${LAYOUT.MAX_THREADS}], got ${n}`);
  }
  numThreads = n;
  while (workers.length > n - 1) void workers.pop()!.terminate();
}

function spawnWorkers(rt: WasmRuntime, count: number): void {
  while (workers.length < count) {
    const tid = workers.length + 1;
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: rt.module, memory: rt.memory, tid, wake: LAYOUT.CTRL + LAYOUT.C_WAKE },
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

/** Threads worth using for a job of `macs` multiply-adds split into `tasks` tasks. */
export function threadsFor(macs: number, tasks: number): number {
  if (numThreads === 1 || workersFailed || macs < PARALLEL_MIN_MACS) return 1;
  return Math.max(1, Math.min(numThreads, tasks));
}

/** Runs the job just written with `threads` threads (1 = the calling thread only) and waits for it. */
export function runJob(rt: WasmRuntime, threads: number): void {
  rt.job.seal();
  rt.ex.openJob();
  if (threads > 1) {
    spawnWorkers(rt, threads - 1);
    const word = new Int32Array(rt.memory.buffer, LAYOUT.CTRL + LAYOUT.C_WAKE, 1);
    Atomics.add(word, 0, 1);
    Atomics.notify(word, 0, threads - 1);
  }
  rt.ex.work(0);
  rt.ex.finishJob();
}
