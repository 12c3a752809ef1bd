// The benchmark suite (`npm run bench`; issue 12): every model's LUT form on lutnn's runtime (plain and relaxed SIMD,
// 1 and 2 threads) beside its dense form on lutnn, onnxruntime-node fp32, onnxruntime-node dynamic int8 (exportOnnx
// dynamicInt8), onnxruntime-web (wasm) and tfjs-backend-wasm where bench/tfjs-model.ts can build the model.
//
//   npm run -s bench -- [--json] [--only resnet18-cifar,bert-base-layer,resnet-fm,vit-fm,fmnist-cnn] [--reps 11]
//     [--warmup 1] [--threads 1,2] [--simd plain,relaxed] [--budget-ms 3000] [--min-samples 3]
//     [--resnet-fm-lut FILE] [--vit-fm-lut FILE] [--fmnist-cnn-lut FILE]
//
// Each model is one `lutnn bench` run (src/app/bench.ts: one child process per SIMD build × thread count, methods
// interleaved in a fresh random order per round, medians; the peers run in the plain build's process beside lutnn, on
// the dense model only). bench/suite-layout.ts shapes the reports into one JSON object: model → variant → batch →
// threads, ratios beside the times (peer ms / lutnn ms, > 1: lutnn faster), plus `machine` and `run`. README,
// "Benchmarks", documents the fields.
// Models: resnet18-cifar (random init; LUT-NN with V = 9 on 3×3 convs, V = 4 on 1×1, K = 16, seeded centroids without
// data) at batch 1 and 16; bert-base-layer (seq 128, random init, the six Linears as LUT V = 16, K = 16) at batch 1;
// resnet-fm and vit-fm (the trained models in models/; their LUT forms from the files given by flag, else k-means on
// 64 training images without refit or fine-tuning) and fmnist-cnn (the same way) at batch 1 and 64. Speed does not
// depend on the centroids' quality; `weights` in each entry says what they are.
// Wall time: each method stops after --min-samples rounds once it has used --budget-ms in a (batch, threads) cell.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBench, type SimdVariant } from '../src/app/bench.js';
import { machineInfo } from '../src/app/machine.js';
import { NORMALIZATION, takeDataset } from '../src/data/dataset.js';
import { DataLoader, loadDataset } from '../src/data/loader.js';
import type { GraphModel } from '../src/graph/model.js';
import { loadModel, saveModel } from '../src/io/model-file.js';
import { convertModel, convertStructure } from '../src/lut/convert.js';
import { createModel } from '../src/nn/zoo.js';
import { Rng } from '../src/tensor/rng.js';
import { modelEntry, type ModelEntry } from './suite-layout.js';

const SUITE_MODELS = ['resnet18-cifar', 'bert-base-layer', 'resnet-fm', 'vit-fm', 'fmnist-cnn'] as const;
type SuiteModel = (typeof SUITE_MODELS)[number];

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const log = (s: string): void => void process.stderr.write(`${s}\n`);
const list = (s: string): number[] => s.split(',').map(Number);

/** A model's dense and LUT files for `lutnn bench`, and what the entry says about them. */
interface Case {
  dense: string;
  lut: string;
  batches: number[];
  weights: string;
  info: Record<string, unknown>;
}

const shipped = (name: string): string => fileURLToPath(new URL(`../models/${name}.safetensors`, import.meta.url));

function save(dir: string, name: string, m: GraphModel): string {
  const p = join(dir, `${name}.safetensors`);
  saveModel(p, m, {});
  return p;
}

/** LUT layers of a model and their (C, V, K), for the entry's info. */
function lutLayers(m: GraphModel): { count: number; subvecLens: number[] } {
  const lut = m.graph.nodes.filter((n) => n.op === 'LutConv' || n.op === 'LutLinear');
  const v = new Set<number>();
  for (const n of lut) {
    const c = m.info.values.get(n.inputs[1]);
    if (c) v.add(c.shape[c.shape.length - 1] as number); // centroids [C, K, V]
  }
  return { count: lut.length, subvecLens: [...v].sort((a, b) => a - b) };
}

/** The trained dense model of models/, and its LUT form: the file given by flag, else k-means on 64 training images. */
function trainedCase(dir: string, name: 'resnet-fm' | 'vit-fm' | 'fmnist-cnn'): Case {
  const densePath = shipped(name);
  const batches = [1, 64];
  const flag = opt(`--${name}-lut`);
  if (flag) {
    const { model } = loadModel(flag);
    return { dense: densePath, lut: flag, batches, weights: `trained dense (${densePath}); LUT model from ${flag}`, info: { lutLayers: lutLayers(model) } };
  }
  const { model: dense, meta } = loadModel(densePath);
  const splits = loadDataset({ name: 'fashion-mnist' });
  const norm = { mean: meta.dataset?.mean ?? NORMALIZATION['fashion-mnist'].mean, std: meta.dataset?.std ?? NORMALIZATION['fashion-mnist'].std };
  const calib = new DataLoader(takeDataset(splits.train, 64), { batchSize: 64, shuffle: false, ...norm }).batch(0, 0).x;
  log(`suite: ${name}: converting to LUT-NN (k-means on 64 training images, no refit) ...`);
  const { model: lut } = convertModel(dense, [calib], { seed: 1, kmeansIters: 8, refit: false });
  return {
    dense: densePath,
    lut: save(dir, `${name}-lut`, lut.eval()),
    batches,
    weights: `trained dense (models/${name}.safetensors); LUT centroids by k-means on 64 training images, not refitted or fine-tuned (pass --${name}-lut FILE for a fine-tuned one)`,
    info: { lutLayers: lutLayers(lut), k: 16 },
  };
}

function buildCase(dir: string, name: SuiteModel): Case {
  switch (name) {
    case 'resnet18-cifar': {
      const dense = createModel(name, { rng: new Rng(1) }).eval();
      // Default V: kh·kw = 9 on the 3×3 convs, 4 on the 1×1 shortcut convs.
      const { model: lut } = convertStructure(dense, { seed: 2, k: 16 });
      return { dense: save(dir, `${name}-dense`, dense), lut: save(dir, `${name}-lut`, lut.eval()), batches: [1, 16], weights: 'random', info: { lutLayers: lutLayers(lut), k: 16, v: { conv3x3: 9, conv1x1: 4 } } };
    }
    case 'bert-base-layer': {
      const dense = createModel(name, { rng: new Rng(1) }).eval();
      const { model: lut } = convertStructure(dense, { seed: 2, k: 16, v: { linear: 16 } });
      return { dense: save(dir, `${name}-dense`, dense), lut: save(dir, `${name}-lut`, lut.eval()), batches: [1], weights: 'random', info: { lutLayers: lutLayers(lut), k: 16, v: { linear: 16 }, seq: 128 } };
    }
    default:
      return trainedCase(dir, name);
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const only = (opt('--only')?.split(',').map((s) => s.trim()) ?? [...SUITE_MODELS]) as SuiteModel[];
  for (const m of only) {
    if (!SUITE_MODELS.includes(m)) throw new Error(`suite: --only takes ${SUITE_MODELS.join(', ')}; got '${m}'`);
  }
  const reps = Number(opt('--reps') ?? 11);
  const warmup = Number(opt('--warmup') ?? 1);
  const threads = list(opt('--threads') ?? '1,2');
  const simd = (opt('--simd') ?? 'plain,relaxed').split(',') as SimdVariant[];
  const budget = { ms: Number(opt('--budget-ms') ?? 3000), minSamples: Number(opt('--min-samples') ?? 3) };
  const batchOverride = opt('--batches') ? list(opt('--batches')!) : null;
  const loadStart = loadavg().map((v) => +v.toFixed(2));
  const out: Record<string, unknown> = {};
  const peers: Record<string, string> = {};
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-suite-'));
  try {
    for (const name of only) {
      const c = buildCase(dir, name);
      const batches = batchOverride ?? c.batches;
      log(`suite: ${name}: batches ${batches.join(',')}, threads ${threads.join(',')}, ${simd.join('+')} SIMD, ${reps} reps ...`);
      let last = '';
      const r = await runBench({
        model: c.lut,
        dense: c.dense,
        batches, threads, repeats: reps, warmup, simd, budget, seed: 0,
        baselines: {
          onnxruntimeNode: 'onnxruntime-node',
          onnxruntimeNodeInt8: 'onnxruntime-node',
          onnxruntimeWeb: 'onnxruntime-web',
          tfjsWasm: fileURLToPath(new URL('./tfjs-peer.ts', import.meta.url)),
        },
        peerRoles: ['dense'],
        onProgress: (stage, done, total) => {
          const s = `suite: ${name}: ${stage} ${done}/${total}`;
          if (stage !== last || done === total) log(s);
          last = stage;
        },
      });
      const entry: ModelEntry = modelEntry(r, c.weights, c.info);
      out[name] = entry;
      Object.assign(peers, r.peers);
      if (!json) printEntry(name, entry);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  out.machine = { ...machineInfo(), loadavgStart: loadStart, loadavgEnd: loadavg().map((v) => +v.toFixed(2)) };
  out.run = {
    date: new Date().toISOString(),
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    models: only, reps, warmup, threads, simd, budget,
    peers,
    ratios: 'vs<Peer> = peer median ms / lutnn median ms on the plain SIMD build, both timed in the same process (> 1: lutnn faster); the peers run the dense model',
  };
  if (json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else log(`suite: ${(out.run as { seconds: number }).seconds} s in all`);
}

const f = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '-' : v.toFixed(d));

function printEntry(name: string, e: ModelEntry): void {
  const lines = [`\n${name} (weights: ${e.weights})`, '  variant  batch threads        ms  relaxed  vsOrtFp32 vsOrtInt8  vsOrtWeb  vsTfjs  vsDense'];
  for (const variant of ['lut', 'dense'] as const) {
    for (const [b, ts] of Object.entries(e[variant])) {
      for (const [t, c] of Object.entries(ts)) {
        lines.push(`  ${variant.padEnd(7)} ${b.slice(1).padStart(6)} ${t.slice(1).padStart(7)} ${f(c.ms, 3).padStart(9)} ${f(c.msRelaxed, 3).padStart(8)} ${f(c.vsOrtNodeFp32).padStart(10)} ${f(c.vsOrtNodeInt8).padStart(9)} ${f(c.vsOrtWeb).padStart(9)} ${f(c.vsTfjsWasm).padStart(7)} ${f(c.vsLutnnDense).padStart(8)}`);
      }
    }
  }
  for (const [p, why] of Object.entries(e.missing)) lines.push(`  ${p}: not run (${why})`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: Error) => {
  process.stderr.write(`suite: ${e.message}\n`);
  process.exit(1);
});
