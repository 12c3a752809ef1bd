// Helpers shared by the benchmark scripts: medians, interleaved timing of several methods, relaxed-SIMD detection, a one-thread kernel host.
import type { WasmRuntime } from '../src/backend/wasm.js';

/** A kernel host that runs every job on the calling thread (DirectLutConv benchmarks: one thread, no pool). */
export function callingThreadHost(rt: WasmRuntime): { rt: WasmRuntime; runJob: () => void; threadsFor: () => number } {
  return {
    rt,
    runJob: () => {
      rt.job.seal();
      const gen = rt.ex.openJob();
      rt.ex.work(0, gen);
      rt.ex.finishJob();
    },
    threadsFor: () => 1,
  };
}

// Moved to src/app/timing.ts (shared with `lutnn bench`).
export { median, measure, measureSamples, relaxedFlags, type Method } from '../src/app/timing.js';
