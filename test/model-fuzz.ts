// Fuzzing of lutnn model files: each mutant (test/model-fuzz-mutate.ts) through loadModel + forward (engine),
// lutnn.load + run (runtime) and ONNX export, with the checks of issue 16. Used by test/model-fuzz.test.ts (a few
// thousand cases) and bench/fuzz-model-files.ts (any count, in child processes with a watchdog).
//
// Per case: every path ends in a finite answer or a LutnnError subclass (anything else is 'uncaught'; a LutnnError
// whose message is an internal JS error is 'wrapped'); a non-finite answer without an error is 'silent-nonfinite';
// engine and runtime answers that differ beyond the tolerance are 'disagree'; a path over 5 s of CPU is 'slow'; a case
// whose peak resident memory grows past the bound is 'memory'.
import { noGrad } from '../src/autograd/engine.js';
import { LutnnError } from '../src/errors.js';
import type { GraphModel } from '../src/graph/model.js';
import { modelMemory } from '../src/io/model-check.js';
import { loadModel } from '../src/io/model-file.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { loadSync } from '../src/runtime/node.js';
import type { RuntimeModel } from '../src/runtime/model.js';
import * as ops from '../src/ops/index.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { mutateModelFile } from './model-fuzz-mutate.js';
import type { ModelSeed } from './model-fuzz-seeds.js';

/** The failure labels (must all stay at zero). */
export const FAILURES = ['uncaught', 'wrapped', 'silent-nonfinite', 'disagree', 'slow', 'memory'] as const;
export type Failure = (typeof FAILURES)[number];

/** Messages of JS engine errors a LutnnError must not merely carry. */
const INTERNAL = /Invalid typed array length|Invalid array length|Maximum call stack|Array buffer allocation failed|out of memory|Cannot read propert|Cannot convert|is not a function|is not iterable|BigInt|RangeError|TypeError|Invalid string length|offset is out of bounds|memory access out of bounds/;

/** Slowest a path of a case may be (ms of CPU time): engine load + forward, runtime load + run, ONNX export. */
export const CASE_MS = 5000;

/** CPU time of this process so far (ms, user + system). */
const cpuNow = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

export interface CaseResult {
  index: number;
  seed: string;
  kind: string;
  input: string;
  /** Per path: 'answer' (finite), a LutnnError class name, or a failure label. */
  engine: string;
  runtime: string;
  onnx: string;
  failures: Failure[];
  /** First failure's detail. */
  detail?: string;
  /**
   * Wall time and CPU time (user + system) of the whole case (the three paths and the harness's step-by-step
   * comparison), and CPU time per path. 'slow' is a path over CASE_MS of CPU time: what a user waits for in one
   * operation (CPU time, as the machine may be shared).
   */
  ms: number;
  cpuMs: number;
  pathMs: { engine: number; runtime: number; onnx: number };
  /** Growth of the process's peak resident memory during the case (bytes), and the bound it must stay under. */
  rssGrowth: number;
  bound: number;
  /**
   * When both answered: max |engine − runtime| / (1 + max |engine|) over the logits. Information only: each step is
   * checked on the same inputs (compareSteps); end to end, float32 rounding differences (folded batch norm, summation
   * order) grow in ill-conditioned mutants (weights of 1e10 whose sums cancel), as they would between any two runtimes.
   */
  endToEnd: number | null;
}

/** Relative tolerance of engine vs runtime per value (see compareSteps). */
const REL_TOL = 1e-4;

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] - a[i] !== 0) return i;
  return -1;
}

function classify(e: unknown): { label: string; failure?: Failure; detail?: string } {
  if (e instanceof LutnnError) {
    if (INTERNAL.test(e.message)) return { label: 'wrapped', failure: 'wrapped', detail: `${e.constructor.name}: ${e.message.slice(0, 300)}` };
    return { label: e.constructor.name };
  }
  const err = e as Error;
  return { label: 'uncaught', failure: 'uncaught', detail: `${err?.constructor?.name}: ${String(err?.message ?? e).slice(0, 300)}\n${String(err?.stack ?? '').split('\n').slice(1, 5).join('\n')}` };
}

/** The input of a case: mostly N(0, 1), sometimes extreme but finite. */
function makeInput(shape: readonly number[], rng: Rng): { x: Tensor; kind: string } {
  const n = 2 * shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal();
  if (rng.int(8) !== 0) return { x: new Tensor(x, [2, ...shape]), kind: 'normal' };
  const v = [1e38, -1e38, 3.4e38, 1e19, 1e10, 65504, 0, 1e-45][rng.int(8)];
  if (rng.int(2)) x.fill(v);
  else for (let i = 0; i < n; i++) x[i] *= v;
  return { x: new Tensor(x, [2, ...shape]), kind: `extreme ${v}` };
}

/**
 * Engine vs runtime, step by step with the runtime's values fed forward: every value the runtime's trace holds (a
 * step's output) is compared with the engine's value of the same name computed from the runtime's own values of the
 * step's inputs, then replaced by the runtime's, so each step is compared on the same inputs (a LUT layer then
 * encodes the same floats: the f32 encoder must pick the same codes). Tolerance per value: REL_TOL·(1 + max|engine|)
 * (float32 rounding of folded batch norm and summation order; the int8 table's entries are the same on both sides).
 * Returns a description of the first disagreement, or null. (Throws only on a mismatch of sizes, a harness error.)
 */
export function compareSteps(model: GraphModel, rt: RuntimeModel, x: Tensor): string | null {
  const steps = new Map<string, Float32Array>();
  rt.trace(x, (i, read) => steps.set(rt.ops[i].output, read(rt.ops[i].output)));
  const env = new Map<string, Tensor>([[model.graph.inputs[0].name, x]]);
  const get = (v: string): Tensor | null => (v === '' ? null : env.get(v) ?? model.weight(v));
  for (const ni of model.info.nodes) {
    const xs = ni.def.inputs.map((_, k) => get(ni.node.inputs[k] ?? ''));
    for (let k = ni.def.inputs.length; k < ni.node.inputs.length; k++) xs.push(get(ni.node.inputs[k]));
    const ys = noGrad(() => ni.def.forward({ node: ni.node.name, x: xs, attrs: ni.attrs, training: false, ops, rng: new Rng(0) }));
    for (let k = 0; k < ni.node.outputs.length; k++) {
      const o = ni.node.outputs[k];
      const r = steps.get(o);
      let t = ys[k];
      if (r) {
        const e = t.f32;
        if (e.length !== r.length) throw new Error(`compare: '${o}' has ${e.length} floats on the engine, ${r.length} on the runtime`);
        let m = 0;
        for (let i = 0; i < e.length; i++) if (Number.isFinite(e[i])) m = Math.max(m, Math.abs(e[i]));
        const tol = REL_TOL * (1 + m);
        for (let i = 0; i < e.length; i++) {
          const bothNaN = Number.isNaN(e[i]) && Number.isNaN(r[i]);
          if (!(bothNaN || e[i] === r[i] || Math.abs(e[i] - r[i]) <= tol)) {
            return `node '${ni.node.name}' (${ni.node.op}) output '${o}' [${i}]: engine ${e[i]}, runtime ${r[i]} (tolerance ${tol.toExponential(2)})`;
          }
        }
        t = new Tensor(Float32Array.from(r), t.shape);
      }
      env.set(o, t);
    }
  }
  return null;
}

/** Peak resident set of the process in bytes (monotonic). */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Runs one case (bytes already mutated) through the three paths. */
export function runCase(bytes: Uint8Array, seed: ModelSeed, rng: Rng, meta: { index: number; kind: string }): CaseResult {
  const rss0 = peakRss();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const failures: Failure[] = [];
  let detail: string | undefined;
  const fail = (f: Failure, d?: string): void => {
    if (!failures.includes(f)) failures.push(f);
    detail ??= d;
  };
  const file = `case${meta.index}.safetensors`;
  const inputRng = new Rng(rng.nextU32());
  let inputKind = 'normal';
  let engineOut: Float32Array | null = null;
  let model: GraphModel | null = null;
  let x: Tensor | null = null;
  let memory: { activationBytes: number; tableBytes: number } | null = null;
  let endToEnd: number | null = null;
  const pathMs = { engine: 0, runtime: 0, onnx: 0 };
  let c0 = cpuNow();
  // Engine: loadModel + forward.
  let engine: string;
  try {
    model = loadModel(bytes, file).model;
    const mem = modelMemory(model.info, new Map(model.namedWeights()));
    memory = { activationBytes: mem.activationBytes ?? 0, tableBytes: mem.tableBytes };
    const inp = makeInput(model.inputShape ?? seed.inputShape, inputRng);
    x = inp.x;
    inputKind = inp.kind;
    const y = noGrad(() => model!.run([x!], { checkFinite: true })[0]);
    pathMs.engine = cpuNow() - c0;
    engineOut = y.f32;
    const bad = firstNonFinite(engineOut);
    if (bad >= 0) {
      engine = 'silent-nonfinite';
      fail('silent-nonfinite', `engine output [${bad}] = ${engineOut[bad]} (input ${inputKind})`);
    } else engine = 'answer';
  } catch (e) {
    pathMs.engine = cpuNow() - c0;
    const c = classify(e);
    engine = c.label;
    if (c.failure) fail(c.failure, `engine: ${c.detail}`);
  }
  // Runtime: lutnn.load + run.
  let runtime: string;
  let rt: RuntimeModel | null = null;
  c0 = cpuNow();
  try {
    rt = loadSync(bytes, { name: file, maxBatch: 2, checkFinite: true });
    const xin = x && rt.inputShape.every((d, i) => x!.shape[i + 1] === d) && x.shape.length === rt.inputShape.length + 1 ? x : makeInput(rt.inputShape, inputRng).x;
    const y = rt.run(xin);
    pathMs.runtime = cpuNow() - c0;
    const bad = firstNonFinite(y);
    if (bad >= 0) {
      runtime = 'silent-nonfinite';
      fail('silent-nonfinite', `runtime output [${bad}] = ${y[bad]} (input ${inputKind})`);
    } else runtime = 'answer';
    if (runtime === 'answer' && engine === 'answer' && model && xin === x) {
      let d = 0;
      let m = 0;
      for (let i = 0; i < y.length; i++) {
        d = Math.max(d, Math.abs(y[i] - engineOut![i]));
        m = Math.max(m, Math.abs(engineOut![i]));
      }
      endToEnd = d / (1 + m);
      const step = compareSteps(model, rt, x);
      if (step !== null) fail('disagree', step);
    }
  } catch (e) {
    if (pathMs.runtime === 0) pathMs.runtime = cpuNow() - c0;
    const c = classify(e);
    runtime = c.label;
    if (c.failure) fail(c.failure, `runtime: ${c.detail}`);
  } finally {
    rt?.dispose();
  }
  // ONNX export of the loaded model.
  let onnx = 'skipped';
  if (model) {
    c0 = cpuNow();
    try {
      exportOnnx(model);
      onnx = 'exported';
      pathMs.onnx = cpuNow() - c0;
    } catch (e) {
      pathMs.onnx = cpuNow() - c0;
      const c = classify(e);
      onnx = c.label;
      if (c.failure) fail(c.failure, `onnx: ${c.detail}`);
    }
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const slowest = (Object.entries(pathMs) as [string, number][]).reduce((a, b) => (b[1] > a[1] ? b : a));
  if (slowest[1] > CASE_MS) fail('slow', `${slowest[0]}: ${slowest[1].toFixed(0)} ms of CPU time (whole case ${cpuMs.toFixed(0)} ms of CPU, ${ms.toFixed(0)} ms wall)`);
  const rssGrowth = peakRss() - rss0;
  const bound = caseMemoryBound(bytes, memory);
  if (rssGrowth > bound) fail('memory', `peak resident memory grew by ${(rssGrowth / 2 ** 20).toFixed(0)} MiB, bound ${(bound / 2 ** 20).toFixed(0)} MiB`);
  return { index: meta.index, seed: seed.name, kind: meta.kind, input: inputKind, engine, runtime, onnx, failures, detail, ms, cpuMs, pathMs, rssGrowth, bound, endToEnd };
}

/** The mutant of case `index` (depends only on the fuzz seed, the index and `quick`) and its seed file. */
export function caseMutant(seeds: readonly ModelSeed[], fuzzSeed: number, index: number, quick = false): { seed: ModelSeed; bytes: Uint8Array; kind: string; rng: Rng } {
  const rng = new Rng(fuzzSeed * 1_000_003 + index);
  const seed = seeds[index % seeds.length];
  const { bytes, kind } = mutateModelFile(seed.bytes, rng, { quick });
  return { seed, bytes, kind, rng };
}

export interface FuzzSummary {
  cases: number;
  /** Overall outcome per case: a failure label, else 'answer' (the engine answered) or the engine's error class. */
  outcomes: Record<string, number>;
  engine: Record<string, number>;
  runtime: Record<string, number>;
  onnx: Record<string, number>;
  failures: Record<Failure, number>;
  /** Mutation kind (first) → outcomes. */
  kinds: Record<string, Record<string, number>>;
  examples: CaseResult[];
  /** Largest CPU time of a path (ms), and that case; the largest CPU and wall times of a whole case. */
  maxMs: number;
  slowest: { index: number; kind: string; seed: string; path: string; ms: number } | null;
  maxCaseCpuMs: number;
  maxWallMs: number;
  maxRssGrowth: number;
  /** Cases where both answered, and how many of them differ end to end by more than 1e-4 (see CaseResult.endToEnd). */
  compared: number;
  endToEndAbove1e4: number;
  seconds: number;
}

export function emptySummary(): FuzzSummary {
  return { cases: 0, outcomes: {}, engine: {}, runtime: {}, onnx: {}, failures: Object.fromEntries(FAILURES.map((f) => [f, 0])) as Record<Failure, number>, kinds: {}, examples: [], maxMs: 0, slowest: null, maxCaseCpuMs: 0, maxWallMs: 0, maxRssGrowth: 0, compared: 0, endToEndAbove1e4: 0, seconds: 0 };
}

const bump = (o: Record<string, number>, k: string, n = 1): void => {
  o[k] = (o[k] ?? 0) + n;
};

/** The overall outcome label of a case. */
export function outcomeOf(r: CaseResult): string {
  return r.failures.length ? r.failures[0] : r.engine;
}

/** Adds a case to a summary (keeps up to `maxExamples` failing cases). */
export function addCase(s: FuzzSummary, r: CaseResult, maxExamples = 50): void {
  s.cases++;
  const o = outcomeOf(r);
  bump(s.outcomes, o);
  bump(s.engine, r.engine);
  bump(s.runtime, r.runtime);
  bump(s.onnx, r.onnx);
  for (const f of r.failures) s.failures[f]++;
  bump((s.kinds[r.kind.split('+')[0]] ??= {}), o);
  if (r.failures.length && s.examples.length < maxExamples) s.examples.push(r);
  for (const [path, ms] of Object.entries(r.pathMs)) {
    if (ms > s.maxMs) {
      s.maxMs = ms;
      s.slowest = { index: r.index, kind: r.kind, seed: r.seed, path, ms };
    }
  }
  if (r.cpuMs > s.maxCaseCpuMs) s.maxCaseCpuMs = r.cpuMs;
  if (r.ms > s.maxWallMs) s.maxWallMs = r.ms;
  if (r.endToEnd !== null) {
    s.compared++;
    if (r.endToEnd > 1e-4) s.endToEndAbove1e4++;
  }
  if (r.rssGrowth > s.maxRssGrowth) s.maxRssGrowth = r.rssGrowth;
}

/** Merges summary b into a. */
export function mergeSummary(a: FuzzSummary, b: FuzzSummary, maxExamples = 50): void {
  a.cases += b.cases;
  for (const k of ['outcomes', 'engine', 'runtime', 'onnx'] as const) for (const [x, n] of Object.entries(b[k])) bump(a[k], x, n);
  for (const f of FAILURES) a.failures[f] += b.failures[f];
  for (const [k, o] of Object.entries(b.kinds)) for (const [x, n] of Object.entries(o)) bump((a.kinds[k] ??= {}), x, n);
  a.examples.push(...b.examples.slice(0, Math.max(0, maxExamples - a.examples.length)));
  if (b.maxMs > a.maxMs) {
    a.maxMs = b.maxMs;
    a.slowest = b.slowest;
  }
  a.maxWallMs = Math.max(a.maxWallMs, b.maxWallMs);
  a.maxCaseCpuMs = Math.max(a.maxCaseCpuMs, b.maxCaseCpuMs);
  a.compared += b.compared;
  a.endToEndAbove1e4 += b.endToEndAbove1e4;
  a.maxRssGrowth = Math.max(a.maxRssGrowth, b.maxRssGrowth);
}

/**
 * Peak resident growth a case may show (bytes): the bound of the README, 4·(file size) + 100·(header size) + 3·(the
 * activations of the case's 2 samples + LUT tables) for a file that loads (activations of one sample and tables from
 * model-check.ts's modelMemory, which the activation limit caps), 4·(file size) + 100·(header size) for one refused;
 * plus 256 MiB for the JS heap, the garbage collector's slack and WebAssembly memory growing in large steps. The
 * header term is the graph's objects (the parsed JSON, the analysis, the runtime's plan and steps, the ONNX nodes): a
 * 100,000-node chain's 9.8 MB of metadata grew the first process that loaded it by 565 MB (58 bytes per byte).
 */
export function caseMemoryBound(bytes: Uint8Array, memory: { activationBytes: number; tableBytes: number } | null): number {
  const model = memory ? 3 * (2 * memory.activationBytes + memory.tableBytes) : 0;
  const header = bytes.length >= 8 ? Math.min(bytes.length, Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true))) : 0;
  const fileBytes = bytes.length;
  const headerBytes = header;
  return 4 * fileBytes + 100 * headerBytes + model + 256 * 2 ** 20;
}

/** Runs cases [from, from + count) in this process, round robin over the seeds (`quick`: see mutateModelFile). */
export function fuzzModels(seeds: readonly ModelSeed[], from: number, count: number, fuzzSeed: number, opts: { onCase?: (r: CaseResult) => void; quick?: boolean } = {}): FuzzSummary {
  const s = emptySummary();
  const t0 = performance.now();
  for (let i = from; i < from + count; i++) {
    const { seed, bytes, kind, rng } = caseMutant(seeds, fuzzSeed, i, opts.quick);
    const r = runCase(bytes, seed, rng, { index: i, kind });
    addCase(s, r);
    opts.onCase?.(r);
  }
  s.seconds = (performance.now() - t0) / 1000;
  return s;
}
