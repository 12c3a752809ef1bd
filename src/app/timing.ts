// Timing helpers shared by `lutnn bench` and the scripts under bench/: medians, interleaved timing of several methods,
// and whether this Node accepts the relaxed-SIMD kernel build (and under which flags).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Rng } from '../tensor/rng.js';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export type Method = { name: string; run: () => unknown };

/** A cap on a slow method's timed rounds: it stops once it has `minSamples` samples and they add up to `ms`. */
export interface TimeBudget {
  ms: number;
  minSamples: number;
}

/**
 * Ms of every repetition per method: `warmup` untimed rounds, then `n` timed ones; each round runs every method once,
 * in a fresh random order, so drifting machine load hits all methods alike. With a `budget`, a method that has used
 * it sits out the remaining rounds (fewer samples for it; the others keep interleaving). `onRound(done, total)` after
 * each round.
 */
export async function measureSamples(methods: Method[], n: number, rng: Rng, warmup = 2, onRound?: (done: number, total: number) => void, budget?: TimeBudget): Promise<Record<string, number[]>> {
  const times = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  const spent = new Map<string, number>(methods.map((m) => [m.name, 0]));
  const done = (name: string): boolean => budget !== undefined && times.get(name)!.length >= budget.minSamples && spent.get(name)! >= budget.ms;
  for (let r = -warmup; r < n; r++) {
    for (const i of rng.permutation(methods.length)) {
      const name = methods[i].name;
      if (done(name)) continue;
      const t0 = performance.now();
      await methods[i].run();
      const dt = performance.now() - t0;
      if (r >= 0) {
        times.get(name)!.push(dt);
        spent.set(name, spent.get(name)! + dt);
      }
    }
    onRound?.(r + warmup + 1, n + warmup);
  }
  return Object.fromEntries(times);
}

/** Median ms per method over `n` interleaved repetitions after two warm-up rounds (see measureSamples). */
export async function measure(methods: Method[], n: number, rng: Rng): Promise<Record<string, number>> {
  const samples = await measureSamples(methods, n, rng);
  return Object.fromEntries(methods.map((m) => [m.name, +median(samples[m.name]).toFixed(3)]));
}

/** build/<file> in the nearest ancestor of this module's folder (src/app under tsx, dist/src/app when built), or null. */
function buildFile(file: string): string | null {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const p = join(dir, 'build', file);
    if (existsSync(p)) return p;
    if (dirname(dir) === dir) return null;
  }
}

/** Flags under which this Node validates the relaxed-SIMD build (`[]`: on by default), or null when it cannot. */
export function relaxedFlags(): string[] | null {
  const file = buildFile('kernels-relaxed.wasm');
  if (!file) return null;
  const wasm = JSON.stringify(file);
  const probe = (flags: string[]): boolean =>
    spawnSync(process.execPath, [...flags, '-e', `process.exit(WebAssembly.validate(require('fs').readFileSync(${wasm})) ? 0 : 1)`]).status === 0;
  if (probe([])) return [];
  if (probe(['--experimental-wasm-relaxed-simd'])) return ['--experimental-wasm-relaxed-simd'];
  return null;
}
