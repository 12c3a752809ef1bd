// Attention graphs on lutnn's runtime beside onnxruntime-node: vit-fm (the shipped trained model and its LUT-NN form)
// and bert-base-layer (seq 128, seeded weights, the six Linears as LUT-NN with V = 16, K = 16), batch 1, one thread,
// in one process; medians (and minima) of interleaved repetitions, ratios peer ms / lutnn ms (> 1: lutnn faster), a
// per-step profile.
//
//   npx tsx bench/transformer.ts [--reps 21] [--only vit-fm|bert-base-layer] [--json]
//
// The LUT models' timing does not depend on how good their centroids are: vit-fm's come from k-means on 64 training
// images (no refit, no fine-tuning), bert-base-layer's from convertStructure (seeded, no data). onnxruntime-node runs
// the dense model's ONNX export (exportOnnx, as `lutnn export`), fp32, intraOpNumThreads 1, sequential, all graph
// optimizations; its logits are checked against lutnn's dense runtime before anything is timed.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setNumThreads } from '../src/backend/pool.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { DataLoader, loadDataset } from '../src/data/loader.js';
import { takeDataset } from '../src/data/dataset.js';
import type { GraphModel } from '../src/graph/model.js';
import { loadModel } from '../src/io/model-file.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { convertModel, convertStructure } from '../src/lut/convert.js';
import { createModel } from '../src/nn/zoo.js';
import { compile, type RuntimeModel } from '../src/runtime/index.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const reps = Number(opt('--reps') ?? 21);
const only = opt('--only');
const json = args.includes('--json');
const log = (s: string): void => void (json ? process.stderr : process.stdout).write(`${s}\n`);
const version = (pkg: string): string => (JSON.parse(readFileSync(fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')) as { version: string }).version;

interface Case {
  name: string;
  inputShape: number[];
  dense: GraphModel;
  lut: GraphModel;
  x: Tensor;
}

function vitCase(): Case {
  const { model: dense, meta } = loadModel(fileURLToPath(new URL('../models/vit-fm.safetensors', import.meta.url)));
  const splits = loadDataset({ name: 'fashion-mnist' });
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const calib = new DataLoader(takeDataset(splits.train, 64), { batchSize: 64, shuffle: false, ...norm }).batch(0, 0).x;
  const { model: lut } = convertModel(dense, [calib], { seed: 1, kmeansIters: 8, refit: false });
  const x = new DataLoader(takeDataset(splits.test, 1), { batchSize: 1, shuffle: false, ...norm }).batch(0, 0).x;
  return { name: 'vit-fm', inputShape: [1, 28, 28], dense: dense.eval(), lut: lut.eval(), x };
}

function bertCase(): Case {
  const dense = createModel('bert-base-layer', { rng: new Rng(1) }).eval();
  const { model: lut } = convertStructure(dense, { seed: 2, k: 16, v: { linear: 16 } });
  return { name: 'bert-base-layer', inputShape: [128, 768], dense, lut: lut.eval(), x: randn([1, 128, 768], 1, new Rng(3)) };
}

interface Timing {
  /** Wall-clock ms: median and minimum (the least disturbed run). */
  median: number;
  min: number;
  /** CPU ms of the process (user + system, every thread) per run, median: what the run cost, without the time other processes held the cores. */
  cpu: number;
}

/**
 * Times each method per repetition: 2 untimed rounds, then `n` rounds, each running every method once in a fresh
 * random order (drifting load hits all alike).
 */
async function timeInterleaved(methods: { name: string; run: () => unknown }[], n: number, rng: Rng): Promise<Record<string, Timing>> {
  const wall = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  const cpu = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  for (let r = -2; r < n; r++) {
    for (const i of rng.permutation(methods.length)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await methods[i].run();
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r < 0) continue;
      wall.get(methods[i].name)!.push(dt);
      cpu.get(methods[i].name)!.push((c.user + c.system) / 1000);
    }
  }
  const r3 = (v: number): number => +v.toFixed(3);
  return Object.fromEntries(methods.map((m) => [m.name, { median: r3(median(wall.get(m.name)!)), min: r3(Math.min(...wall.get(m.name)!)), cpu: r3(median(cpu.get(m.name)!)) }]));
}

/**
 * Milliseconds per step kind, largest first: per step, the minimum over `reps` traced runs (time from the end of one
 * step to the end of the next; the least disturbed run on a loaded machine), summed by kind.
 */
function profileByKind(m: RuntimeModel, x: Tensor, reps = 9): Record<string, number> {
  const best = new Array<number>(m.ops.length).fill(Infinity);
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    m.trace(x, (i) => {
      const now = performance.now();
      best[i] = Math.min(best[i], now - t);
      t = performance.now();
    });
  }
  const by = new Map<string, number>();
  m.ops.forEach((op, i) => by.set(op.kind, (by.get(op.kind) ?? 0) + best[i]));
  return Object.fromEntries([...by].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, +v.toFixed(3)]));
}

async function runCase(c: Case, ort: typeof import('onnxruntime-node')): Promise<Record<string, unknown>> {
  const models: Record<string, RuntimeModel> = {
    'lutnn-dense': compile(c.dense, { maxBatch: 1 }),
    'lutnn-lut-f32': compile(c.lut, { maxBatch: 1, lutEncoder: 'f32' }),
    'lutnn-lut-int8': compile(c.lut, { maxBatch: 1, lutEncoder: 'int8' }),
  };
  const session = await ort.InferenceSession.create(exportOnnx(c.dense, { inputShape: c.inputShape }).bytes, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const feed = { [session.inputNames[0]]: new ort.Tensor('float32', c.x.f32, c.x.shape) };
  const outName = session.outputNames[0];
  try {
    // ONNX Runtime computes what lutnn's dense runtime computes before either is timed.
    const mine = models['lutnn-dense'].run(c.x);
    const theirs = (await session.run(feed))[outName].data as Float32Array;
    let worst = 0;
    for (let i = 0; i < mine.length; i++) worst = Math.max(worst, Math.abs(mine[i] - theirs[i]) / Math.max(1, Math.abs(mine[i])));
    if (!(worst < 1e-3)) throw new Error(`${c.name}: onnxruntime's logits differ from lutnn's dense runtime by ${worst} (relative)`);
    log(`${c.name}: onnxruntime-node agrees with lutnn-dense to ${worst.toExponential(1)} (relative); timing ${reps} interleaved reps`);
    const t = await timeInterleaved([
      ...Object.entries(models).map(([name, m]) => ({ name, run: () => m.run(c.x) })),
      { name: 'ort-node-fp32', run: () => session.run(feed) },
    ], reps, new Rng(7));
    const ratio = (a: number, b: number): number => +(a / b).toFixed(3);
    const row: Record<string, unknown> = {};
    for (const name of Object.keys(models)) {
      row[name] = {
        ms: t[name].median, minMs: t[name].min, cpuMs: t[name].cpu,
        vsOrtNodeFp32: ratio(t['ort-node-fp32'].median, t[name].median), vsOrtNodeFp32Min: ratio(t['ort-node-fp32'].min, t[name].min),
        vsOrtNodeFp32Cpu: ratio(t['ort-node-fp32'].cpu, t[name].cpu),
        vsLutnnDense: ratio(t['lutnn-dense'].median, t[name].median), profileMs: profileByKind(models[name], c.x),
      };
    }
    row['ort-node-fp32'] = { ms: t['ort-node-fp32'].median, minMs: t['ort-node-fp32'].min, cpuMs: t['ort-node-fp32'].cpu };
    row.memory = Object.fromEntries(Object.entries(models).map(([k, m]) => [k, { peakActivationBytes: m.memory.peakActivationBytes, scratchBytes: m.memory.scratchBytes }]));
    return row;
  } finally {
    Object.values(models).forEach((m) => m.dispose());
    await session.release();
  }
}

async function main(): Promise<void> {
  const rt = wasmRuntime();
  if (!rt) throw new Error('lutnn wasm kernels did not load; run npm run build:wasm');
  setNumThreads(1);
  const ortMod = await import('onnxruntime-node');
  const ort = ((ortMod as unknown as { default?: typeof ortMod }).default ?? ortMod) as typeof ortMod;
  const out: Record<string, unknown> = {
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, loadAverage1m: +loadavg()[0].toFixed(2) },
    setup: `batch 1, 1 thread, lutnn ${rt.variant} SIMD build; onnxruntime-node ${version('onnxruntime-node')} fp32 on the dense model's ONNX export (intraOpNumThreads 1, sequential); wall-clock medians (ms, vs*) and minima (minMs, vs*Min), and process CPU-time medians (cpuMs, vs*Cpu), of ${reps} interleaved repetitions after 2 warm-up rounds; ratios = peer ms / lutnn ms (> 1: lutnn faster); profileMs: per step kind, the sum of each step's minimum over 9 traced runs`,
  };
  for (const make of [vitCase, bertCase]) {
    const c = make();
    if (only && only !== c.name) continue;
    out[c.name] = await runCase(c, ort);
  }
  out.loadAverage1mAfter = +loadavg()[0].toFixed(2);
  out.note = 'Indicative: the machine runs background training jobs (see loadAverage1m); figures move by tens of percent between runs.';
  if (json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else log(JSON.stringify(out, null, 2));
}

await main();
