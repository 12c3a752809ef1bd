// Browser stand-in for src/backend/pool.ts (the bundle aliases it): jobs run on the calling thread only.
// Browser threads (Web Workers over the shared memory) are not built yet; results do not depend on the thread count.
import { ArgumentError } from '../errors.js';
import { LAYOUT } from '../backend/layout.js';
import type * as NodePool from '../backend/pool.js';
import type { WasmRuntime } from '../backend/wasm-runtime.js';

let parallelMinMacs = 1 << 20;

export function getNumThreads(): number {
  return 1;
}

export function setNumThreads(n: number): void {
  if (n !== 1) throw new ArgumentError(`setNumThreads: the browser build runs on one thread, got ${n}`);
}

export function threadSlots(): number {
  return 1;
}

export function getParallelMinMacs(): number {
  return parallelMinMacs;
}

export function setParallelMinMacs(macs: number): void {
  if (!(macs >= 0)) throw new ArgumentError(`setParallelMinMacs: expected a non-negative number, got ${macs}`);
  parallelMinMacs = macs;
}

export function threadsFor(_macs: number, _tasks: number): number {
  return 1;
}

/** Runs the job just written on the calling thread (task order makes every phase wait a no-op). */
export function runJob(rt: WasmRuntime, _threads: number): void {
  rt.job.seal();
  const gen = rt.ex.openJob();
  rt.ex.work(0, gen);
  rt.ex.finishJob();
}

export async function startWorkers(_rt: WasmRuntime, _timeoutMs = 10000): Promise<void> {}

/** Tasks the calling thread ran since the last call; resets the count. */
export function takeTaskCounts(rt: WasmRuntime): number[] {
  const stats = new Int32Array(rt.memory.buffer, LAYOUT.CTRL + LAYOUT.STATS, 1);
  const out = [stats[0]];
  stats[0] = 0;
  return out;
}

// Compile-time check that this module can stand in for the Node pool wherever the shared code calls it.
const api: Omit<typeof NodePool, never> = {
  getNumThreads, setNumThreads, threadSlots, getParallelMinMacs, setParallelMinMacs, threadsFor, runJob, startWorkers, takeTaskCounts,
};
void api;
