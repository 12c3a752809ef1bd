// `lutnn bench`'s driver: latency and throughput of a model file in lutnn's runtime (plain and relaxed SIMD builds,
// 1..N threads), beside the dense model it came from and onnxruntime-node / onnxruntime-web on the ONNX export.
// One child process per (SIMD build, thread count) runs src/app/bench-child.ts: the build is chosen once per process
// (Node 20 needs --experimental-wasm-relaxed-simd for the relaxed one) and onnxruntime-web sizes its pool once per
// process. Each child interleaves its methods in a fresh random order per round after warm-up rounds and reports
// medians; the onnxruntime peers run in the plain-build processes, beside lutnn. On request, onnxruntime-node also
// runs each dense model's dynamic int8 export (exportOnnx dynamicInt8: onnxruntime's quantize_dynamic form).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError, BackendError, FileError, FormatError, LutnnError, ShapeError } from '../errors.js';
import { loadModel } from '../io/model-file.js';
import { exportOnnx } from '../io/onnx-export.js';
import type { GraphModel } from '../graph/model.js';
import type { RuntimeModel } from '../runtime/model.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { relaxedFlags } from './timing.js';

export type SimdVariant = 'plain' | 'relaxed';
export type EncoderKind = 'f32' | 'int8' | 'wide';
export type Runner = 'lutnn' | 'onnxruntime-node' | 'onnxruntime-node-int8' | 'onnxruntime-web' | 'tfjs-wasm';
export type Peer = Exclude<Runner, 'lutnn'>;
/** 'model': the MODEL argument; 'dense': the --dense file. */
export type Role = 'model' | 'dense';

export interface BenchOptions {
  /** A lutnn model file (.safetensors), usually a LUT model. */
  model: string;
  /** The dense model it came from, timed beside it. */
  dense?: string | null;
  /** Batch sizes (default [1, 64]). */
  batches?: number[];
  /** Thread counts (default [1, the number of CPUs]). */
  threads?: number[];
  /** Timed rounds per (batch, thread count) (default 15); each round runs every method once. */
  repeats?: number;
  /** Untimed rounds first (default 2). */
  warmup?: number;
  /** SIMD builds to time (default both; relaxed only where this Node accepts it). */
  simd?: SimdVariant[];
  /** The runtime's LUT encoder (default 'f32', the training engine's codes). */
  encoder?: EncoderKind;
  /**
   * Module specifiers of the onnxruntime peers (default 'onnxruntime-node', 'onnxruntime-web'); false skips one.
   * A specifier that does not resolve is reported as absent (the peers are dev dependencies). onnxruntimeNodeInt8
   * (default false: not run) runs onnxruntime-node on the dynamic int8 export of each dense model (a LUT model has
   * no dense layers to quantize; its export is not run). tfjsWasm (default false) is the path of a peer module whose
   * `createPeer` (CreatePeer) rebuilds a model in tfjs-backend-wasm from its lutnn runtime (bench/tfjs-peer.ts); a
   * model it cannot express is reported in `errors`.
   */
  baselines?: { onnxruntimeNode?: string | false; onnxruntimeWeb?: string | false; onnxruntimeNodeInt8?: string | false; tfjsWasm?: string | false };
  /** The files the onnxruntime peers run (default both; ['dense'] skips the LUT model's slow ONNX graph). */
  peerRoles?: Role[];
  /** Seed of the input data (default 0). */
  seed?: number;
  /**
   * A method slower than this many ms in total per (batch, thread count) stops after `minSamples` timed rounds
   * (default { ms: 8000, minSamples: 5 }: onnxruntime on a LUT model's ONNX takes seconds per batch of 64);
   * null times every method `repeats` times.
   */
  budget?: { ms: number; minSamples: number } | null;
  /** Progress: (stage, done, total); stages 'prepare' and e.g. 'plain 2T' (rounds done of all rounds). */
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface BaselineStatus {
  available: boolean;
  version: string | null;
  /** Why it is absent or was not run (null when available and run). */
  reason: string | null;
}

export interface BenchRow {
  runner: Runner;
  role: Role;
  /** lutnn's SIMD build; null for the onnxruntime rows (they run in the plain-build processes). */
  simd: SimdVariant | null;
  threads: number;
  batch: number;
  /** Median and fastest ms per call of a whole batch (Float32Array in, outputs out). */
  medianMs: number;
  minMs: number;
  /** Samples per second at the median. */
  throughput: number;
  /** Timed rounds behind the median: `repeats`, or fewer for a method that used up the budget. */
  repeats: number;
}

export interface BenchComparison {
  simd: SimdVariant;
  threads: number;
  batch: number;
  /** Median ms of lutnn on MODEL in this process. */
  modelMs: number;
  /**
   * Peer median ms / MODEL's median ms, measured in the same process (> 1: MODEL is faster): 'lutnn:dense',
   * 'onnxruntime-node:model', 'onnxruntime-node:dense', 'onnxruntime-web:model', 'onnxruntime-web:dense'; and for
   * the relaxed build 'lutnn:model@plain' (the plain build's time, measured in another process).
   */
  speedup: Record<string, number>;
}

export interface ModelSummary {
  path: string;
  /** 'lut-nn', 'maddness', 'quantized' or 'dense', from the graph's op types. */
  kind: string;
  params: number;
  /** The runtime's LUT engine (from the first measurement process). */
  lutEngine: string | null;
}

export interface BenchReport {
  command: 'bench';
  model: ModelSummary;
  dense: ModelSummary | null;
  inputShape: number[];
  batches: number[];
  threads: number[];
  repeats: number;
  warmup: number;
  /** The cap on slow methods (rows then have fewer than `repeats` samples), or null. */
  budget: { ms: number; minSamples: number } | null;
  encoder: EncoderKind;
  seed: number;
  simd: { plain: { available: true }; relaxed: { available: boolean; flags: string[]; reason: string | null } };
  baselines: Record<Peer, BaselineStatus>;
  /** How the peers ran (threads, options) and what the ONNX export was. */
  peers: Record<string, string>;
  rows: BenchRow[];
  comparisons: BenchComparison[];
  /** Relative L2 distance of each onnxruntime output from lutnn's on the same input (first batch). */
  agreement: Record<string, number>;
  /** Methods that could not run (e.g. an op a peer does not implement), with the reason. */
  errors: Record<string, string>;
  machine: MachineInfo;
  loadavg: number[];
  date: string;
  seconds: number;
}

// ---------------------------------------------------------------- child protocol (src/app/bench-child.ts)

export interface BenchChildConfig {
  simd: SimdVariant;
  threads: number;
  batches: number[];
  repeats: number;
  warmup: number;
  encoder: EncoderKind;
  seed: number;
  budget: { ms: number; minSamples: number } | null;
  inputShape: number[];
  /** onnxInt8: the dynamic int8 export (dense models only), for the onnxruntime-node-int8 peer. */
  models: { role: Role; path: string; onnx: string | null; onnxInt8: string | null }[];
  baselines: { runner: Peer; kind: 'node' | 'web' | 'module'; spec: string; int8: boolean }[];
}

export interface BenchChildResult {
  simd: SimdVariant;
  threads: number;
  lutEngines: Record<string, string>;
  cells: { method: string; batch: number; medianMs: number; minMs: number; samples: number }[];
  errors: Record<string, string>;
  agreement: Record<string, number>;
}

export type BenchChildMessage =
  | { type: 'progress'; done: number; total: number }
  | { type: 'result'; result: BenchChildResult }
  | { type: 'error'; name: string; message: string };

/**
 * A peer module's factory (BenchOptions.baselines.tfjsWasm): a runner of the model whose lutnn runtime is given, for
 * `threads` threads; it throws (an Error naming what it cannot express) when it cannot build the model.
 */
export type CreatePeer = (o: { runtime: RuntimeModel; inputShape: number[]; threads: number }) => Promise<{ run(x: Float32Array, batch: number): Float32Array; dispose(): void }>;

/** The parts of onnxruntime-node / onnxruntime-web the bench uses. */
export interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>>;
  release?(): Promise<void>;
}
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  env?: { wasm?: { numThreads?: number } };
}

// ---------------------------------------------------------------- helpers

const MAX_BATCH = 4096;
const MAX_THREADS = 64;

function checkList(name: string, xs: unknown, max: number): number[] {
  if (!Array.isArray(xs) || xs.length === 0 || !xs.every((v) => Number.isInteger(v) && v >= 1 && v <= max)) {
    throw new ArgumentError(`bench: ${name} must be a non-empty list of integers in [1, ${max}], got ${JSON.stringify(xs)}`);
  }
  return [...new Set(xs as number[])];
}

/** Whether a package resolves from here, and its version; absent packages say why. */
export function findPackage(spec: string): BaselineStatus {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(spec));
  } catch {
    return { available: false, version: null, reason: `not installed (${spec} is a dev dependency of lutnn: \`npm install\` in a clone of the repository installs it)` };
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (!existsSync(p)) continue;
    try {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === spec) return { available: true, version: pkg.version ?? null, reason: null };
    } catch {
      // an unreadable package.json on the way up: keep looking
    }
  }
  return { available: true, version: null, reason: null };
}

/** 'lut-nn', 'maddness', 'quantized' or 'dense', from the op types of the graph. */
export function modelKind(model: GraphModel): string {
  const ops = new Set(model.graph.nodes.map((n) => n.op as string));
  if (ops.has('LutConv') || ops.has('LutLinear')) return 'lut-nn';
  if (ops.has('MaddnessConv') || ops.has('MaddnessLinear')) return 'maddness';
  if (ops.has('QConv') || ops.has('QLinear')) return 'quantized';
  return 'dense';
}

/** Node flags that load TypeScript (tsx) in this process, for the child; never the test runner's or --eval. */
function loaderFlags(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    if (['--import', '--require', '-r', '--loader', '--experimental-loader'].includes(a[i]) && i + 1 < a.length) out.push(a[i], a[++i]);
    else if (/^--(import|require|loader|experimental-loader)=/.test(a[i])) out.push(a[i]);
  }
  return out;
}

const ERRORS: Record<string, new (m: string) => LutnnError> = { ArgumentError, FormatError, ShapeError, FileError, BackendError };

/** Runs one measurement process; resolves with its result, rejects with the error it reported (or its stderr). */
function runChild(cfg: BenchChildConfig, nodeFlags: string[], onProgress: (done: number, total: number) => void): Promise<BenchChildResult> {
  const here = fileURLToPath(import.meta.url);
  const script = join(dirname(here), basename(here).replace(/^bench\./, 'bench-child.'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, ...loaderFlags(), script, JSON.stringify(cfg)], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, LUTNN_SIMD: cfg.simd, LUTNN_THREADS: '' },
    });
    let output = '';
    const keep = (d: Buffer): void => void (output = (output + d.toString()).slice(-4000));
    child.stdout!.on('data', keep); // peers may print; stdout of `lutnn bench --json` stays one JSON object
    child.stderr!.on('data', keep);
    let result: BenchChildResult | null = null;
    let error: LutnnError | null = null;
    child.on('message', (m: BenchChildMessage) => {
      if (m.type === 'progress') onProgress(m.done, m.total);
      else if (m.type === 'result') result = m.result;
      else error = new (ERRORS[m.name] ?? BackendError)(m.message);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (result && code === 0) resolve(result);
      else reject(error ?? new BackendError(`bench: the ${cfg.simd} ${cfg.threads}-thread measurement process exited with ${code ?? signal}: ${output.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

// ---------------------------------------------------------------- driver

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const t0 = performance.now();
  const batches = checkList('batches', o.batches ?? [1, 64], MAX_BATCH);
  const cpus = availableParallelism();
  const threads = checkList('threads', o.threads ?? (cpus > 1 ? [1, Math.min(cpus, MAX_THREADS)] : [1]), MAX_THREADS);
  const repeats = o.repeats ?? 15;
  const warmup = o.warmup ?? 2;
  if (!Number.isInteger(repeats) || repeats < 1) throw new ArgumentError(`bench: repeats must be an integer >= 1, got ${repeats}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new ArgumentError(`bench: warmup must be an integer >= 0, got ${warmup}`);
  const encoder = o.encoder ?? 'f32';
  if (!['f32', 'int8', 'wide'].includes(encoder)) throw new ArgumentError(`bench: encoder must be f32, int8 or wide, got ${String(encoder)}`);
  const simdWanted = o.simd ?? ['plain', 'relaxed'];
  const seed = o.seed ?? 0;
  const budget = o.budget === undefined ? { ms: 8000, minSamples: 5 } : o.budget;
  if (budget !== null && !(budget.ms > 0 && Number.isInteger(budget.minSamples) && budget.minSamples >= 1)) {
    throw new ArgumentError(`bench: budget must be { ms > 0, minSamples >= 1 } or null, got ${JSON.stringify(budget)}`);
  }
  const progress = o.onProgress ?? (() => {});

  progress('prepare', 0, 1);
  // The engine's loader validates the files (a FileError or FormatError names the file) and gives the input shape.
  const loaded: { role: Role; path: string; model: GraphModel; inputShape: number[] | null }[] = [];
  for (const [role, path] of [['model', o.model], ['dense', o.dense ?? null]] as const) {
    if (path === null || path === undefined) continue;
    const { model, meta } = loadModel(path);
    loaded.push({ role, path, model, inputShape: model.inputShape ?? meta.dataset?.inputShape ?? null });
  }
  const inputShape = loaded[0].inputShape;
  if (!inputShape) throw new ArgumentError(`bench: ${o.model} gives no per-sample input shape (its graph input and dataset.inputShape are both unset)`);
  for (const l of loaded.slice(1)) {
    if (l.inputShape && l.inputShape.join() !== inputShape.join()) {
      throw new ShapeError(`bench: --dense ${l.path} takes input [${l.inputShape.join(', ')}], ${o.model} takes [${inputShape.join(', ')}]`);
    }
  }

  const baselines: BenchReport['baselines'] = {
    'onnxruntime-node': { available: false, version: null, reason: 'skipped' },
    'onnxruntime-node-int8': { available: false, version: null, reason: 'not requested' },
    'onnxruntime-web': { available: false, version: null, reason: 'skipped' },
    'tfjs-wasm': { available: false, version: null, reason: 'not requested' },
  };
  const specs: BenchChildConfig['baselines'] = [];
  const peers: Record<string, string> = {};
  for (const [runner, kind, spec, int8] of [
    ['onnxruntime-node', 'node', o.baselines?.onnxruntimeNode ?? 'onnxruntime-node', false],
    ['onnxruntime-node-int8', 'node', o.baselines?.onnxruntimeNodeInt8 ?? false, true],
    ['onnxruntime-web', 'web', o.baselines?.onnxruntimeWeb ?? 'onnxruntime-web', false],
    ['tfjs-wasm', 'module', o.baselines?.tfjsWasm ?? false, false],
  ] as const) {
    if (spec === false) {
      if (!int8 && kind !== 'module') baselines[runner].reason = 'skipped (--no-baselines)';
      continue;
    }
    baselines[runner] = kind === 'module' ? findPackage('@tensorflow/tfjs-backend-wasm') : findPackage(spec);
    if (baselines[runner].available) specs.push({ runner, kind, spec, int8 });
  }
  const int8Wanted = specs.some((s) => s.int8);

  const dir = mkdtempSync(join(tmpdir(), 'lutnn-bench-'));
  const errors: Record<string, string> = {};
  try {
    const models: BenchChildConfig['models'] = loaded.map((l) => {
      if (specs.length === 0 || !(o.peerRoles ?? ['model', 'dense']).includes(l.role)) return { role: l.role, path: l.path, onnx: null, onnxInt8: null };
      let onnx: string;
      try {
        // 'reduce' sums a LUT layer's table rows with one ReduceSum: the faster form in onnxruntime.
        onnx = join(dir, `${l.role}.onnx`);
        writeFileSync(onnx, exportOnnx(l.model, { inputShape, sum: 'reduce' }).bytes);
      } catch (e) {
        if (!(e instanceof LutnnError)) throw e;
        for (const s of specs) errors[`${s.runner}:${l.role}`] = `ONNX export failed: ${e.message}`;
        return { role: l.role, path: l.path, onnx: null, onnxInt8: null };
      }
      let onnxInt8: string | null = null;
      if (int8Wanted && modelKind(l.model) === 'dense') {
        try {
          onnxInt8 = join(dir, `${l.role}-int8.onnx`);
          writeFileSync(onnxInt8, exportOnnx(l.model, { inputShape, dynamicInt8: true }).bytes);
        } catch (e) {
          if (!(e instanceof LutnnError)) throw e;
          errors[`onnxruntime-node-int8:${l.role}`] = `ONNX int8 export failed: ${e.message}`;
          onnxInt8 = null;
        }
      }
      return { role: l.role, path: l.path, onnx, onnxInt8 };
    });
    for (const s of specs) {
      peers[s.runner] = s.int8
        ? `onnxruntime-node ${baselines[s.runner].version ?? '?'} on the dynamic int8 export of each dense model (exportOnnx dynamicInt8: int8 weights per tensor, DynamicQuantizeLinear uint8 activations, MatMulInteger / ConvInteger; onnxruntime's quantize_dynamic form, batch norms not folded), same session options`
        : s.kind === 'module'
        ? `@tensorflow/tfjs-backend-wasm ${baselines[s.runner].version ?? '?'} (${basename(s.spec)}: the dense plan rebuilt in tfjs, NHWC), setThreadsCount(threads)`
        : s.kind === 'node'
        ? `onnxruntime-node ${baselines[s.runner].version ?? '?'}, CPU execution provider, intraOpNumThreads = threads, sequential, all graph optimizations`
        : `onnxruntime-web ${baselines[s.runner].version ?? '?'}, wasm execution provider, env.wasm.numThreads = threads`;
    }
    peers.lutnn = `lutnn runtime, ${encoder} LUT encoder`;
    peers.onnx = 'exportOnnx of each model file (opset 17, dynamic batch, LUT layers summed with one ReduceSum)';
    progress('prepare', 1, 1);

    const rflags = simdWanted.includes('relaxed') ? relaxedFlags() : null;
    const relaxed: BenchReport['simd']['relaxed'] = simdWanted.includes('relaxed')
      ? rflags ? { available: true, flags: rflags, reason: null } : { available: false, flags: [], reason: 'this Node rejects the relaxed-SIMD build (even with --experimental-wasm-relaxed-simd)' }
      : { available: false, flags: [], reason: 'not requested' };
    const results: BenchChildResult[] = [];
    for (const t of threads) {
      const base: Omit<BenchChildConfig, 'simd' | 'baselines'> = { threads: t, batches, repeats, warmup, encoder, seed, budget, inputShape, models };
      if (simdWanted.includes('plain')) {
        results.push(await runChild({ ...base, simd: 'plain', baselines: specs }, [], (d, n) => progress(`plain ${t}T`, d, n)));
      }
      if (relaxed.available) {
        try {
          results.push(await runChild({ ...base, simd: 'relaxed', baselines: [] }, rflags!, (d, n) => progress(`relaxed ${t}T`, d, n)));
        } catch (e) {
          if (!(e instanceof BackendError)) throw e;
          relaxed.available = false;
          relaxed.reason = e.message;
        }
      }
    }
    if (results.length === 0) throw new ArgumentError('bench: no SIMD build to time (simd must include plain or relaxed)');

    const rows: BenchRow[] = [];
    for (const r of results) {
      Object.assign(errors, r.errors);
      for (const c of r.cells) {
        const [runner, role] = c.method.split(':') as [Runner, Role];
        rows.push({
          runner, role, simd: runner === 'lutnn' ? r.simd : null, threads: r.threads, batch: c.batch,
          medianMs: +c.medianMs.toFixed(4), minMs: +c.minMs.toFixed(4), throughput: +((c.batch * 1000) / c.medianMs).toFixed(1), repeats: c.samples,
        });
      }
    }
    const comparisons: BenchComparison[] = [];
    for (const r of results) {
      for (const batch of batches) {
        const ms = (method: string, res = r): number | undefined => res.cells.find((c) => c.method === method && c.batch === batch)?.medianMs;
        const modelMs = ms('lutnn:model');
        if (modelMs === undefined) continue;
        const speedup: Record<string, number> = {};
        for (const peer of ['lutnn:dense', 'onnxruntime-node:model', 'onnxruntime-node:dense', 'onnxruntime-node-int8:model', 'onnxruntime-node-int8:dense', 'onnxruntime-web:model', 'onnxruntime-web:dense', 'tfjs-wasm:model', 'tfjs-wasm:dense']) {
          const p = ms(peer);
          if (p !== undefined) speedup[peer] = +(p / modelMs).toFixed(3);
        }
        const plain = results.find((x) => x.simd === 'plain' && x.threads === r.threads);
        const plainMs = r.simd === 'relaxed' && plain ? ms('lutnn:model', plain) : undefined;
        if (plainMs !== undefined) speedup['lutnn:model@plain'] = +(plainMs / modelMs).toFixed(3);
        comparisons.push({ simd: r.simd, threads: r.threads, batch, modelMs: +modelMs.toFixed(4), speedup });
      }
    }
    const summary = (role: Role): ModelSummary | null => {
      const l = loaded.find((x) => x.role === role);
      return l ? { path: l.path, kind: modelKind(l.model), params: l.model.numParameters(), lutEngine: results[0].lutEngines[role] ?? null } : null;
    };
    return {
      command: 'bench',
      model: summary('model')!,
      dense: summary('dense'),
      inputShape: [...inputShape],
      batches, threads, repeats, warmup, budget, encoder, seed,
      simd: { plain: { available: true }, relaxed },
      baselines, peers, rows, comparisons,
      agreement: Object.assign({}, ...results.map((r) => r.agreement)),
      errors,
      machine: machineInfo(),
      loadavg: loadavg().map((v) => +v.toFixed(2)),
      date: new Date().toISOString(),
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
