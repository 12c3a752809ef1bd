// Helpers shared by the benchmark scripts: medians, interleaved timing of several methods, relaxed-SIMD detection, a one-thread kernel host.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WasmRuntime } from '../src/backend/wasm.js';
import type { Rng } from '../src/tensor/rng.js';

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

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export type Method = { name: string; run: () => unknown };

/**
 * Median ms per method over `n` repetitions after two warm-up rounds; each repetition runs every method once, in a
 * fresh random order, so drifting machine load hits all methods alike.
 */
export async function measure(methods: Method[], n: number, rng: Rng): Promise<Record<string, number>> {
  const times = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  for (let r = -2; r < n; r++) {
    for (const i of rng.permutation(methods.length)) {
      const t0 = performance.now();
      await methods[i].run();
      const dt = performance.now() - t0;
      if (r >= 0) times.get(methods[i].name)!.push(dt);
    }
  }
  return Object.fromEntries(methods.map((m) => [m.name, +median(times.get(m.name)!).toFixed(3)]));
}

/** Flags under which this Node validates the relaxed-SIMD build (`[]`: on by default), or null when it cannot. */
export function relaxedFlags(): string[] | null {
  const wasm = JSON.stringify(fileURLToPath(new URL('../build/kernels-relaxed.wasm', import.meta.url)));
  const probe = (flags: string[]): boolean =>
    spawnSync(process.execPath, [...flags, '-e', `process.exit(WebAssembly.validate(require('fs').readFileSync(${wasm})) ? 0 : 1)`]).status === 0;
  if (probe([])) return [];
  if (probe(['--experimental-wasm-relaxed-simd'])) return ['--experimental-wasm-relaxed-simd'];
  return null;
}
