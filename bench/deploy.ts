// Deployment files (`lutnn export --deploy`) beside training files: bytes, and lutnn.load time from bytes in memory
// (median of interleaved loads), for the LUT-NN forms of fmnist-cnn, resnet-fm and vit-fm (the shipped dense models
// through convertStructure) and of resnet18-cifar and bert-base-layer (seeded zoo models through convertStructure, no
// data). Sizes depend on the layer shapes only (K, V, C, M), not on how the centroids were found.
//
//   npx tsx bench/deploy.ts [--reps 7] [--only NAME] [--json]
//
// A load is lutnn.load(bytes, { maxBatch: 1 }) then dispose(): parse and validate the file, plan the graph (a training
// file builds every LUT table here: lut = centroids·weight, then int8), make the layers resident in wasm memory,
// allocate the arena. `parse` times the first step alone (parseRuntimeContents). One process, one thread; the two
// kinds' logits are checked bit for bit before anything is timed. Each load is timed in wall-clock ms and in process
// CPU ms (user + system, process.cpuUsage): on a shared machine the CPU time moves less with other processes' load.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { machineInfo } from '../src/app/machine.js';
import { setNumThreads } from '../src/backend/pool.js';
import type { GraphModel } from '../src/graph/model.js';
import { parseRuntimeContents, serializeDeploy } from '../src/io/deploy-format.js';
import { loadModel } from '../src/io/model-file.js';
import { serializeModel, type DatasetMeta } from '../src/io/model-format.js';
import { convertStructure } from '../src/lut/convert.js';
import { createModel } from '../src/nn/zoo.js';
import { loadSync } from '../src/runtime/node.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { median, measureSamples } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const reps = Number(opt('--reps') ?? 7);
const only = opt('--only');
const json = args.includes('--json');
const log = (s: string): void => void (json ? process.stderr : process.stdout).write(`${s}\n`);

const shipped = (name: string): { model: GraphModel; dataset?: DatasetMeta } => {
  const { model, meta } = loadModel(fileURLToPath(new URL(`../models/${name}.safetensors`, import.meta.url)));
  return { model, dataset: meta.dataset };
};

interface Source {
  name: string;
  make: () => { lut: GraphModel; dataset?: DatasetMeta; note: string };
}

const SOURCES: Source[] = [
  { name: 'fmnist-cnn', make: () => ({ ...lutOf(shipped('fmnist-cnn')), note: 'shipped dense model, convertStructure (K 16, V 9 on 3×3, 16 on Linear)' }) },
  { name: 'resnet-fm', make: () => ({ ...lutOf(shipped('resnet-fm')), note: 'shipped dense model, convertStructure (K 16, V 9 on 3×3, 4 on 1×1)' }) },
  { name: 'vit-fm', make: () => ({ ...lutOf(shipped('vit-fm')), note: 'shipped dense model, convertStructure (K 16, V 16 on Linear)' }) },
  { name: 'resnet18-cifar', make: () => ({ lut: convertStructure(createModel('resnet18-cifar', { rng: new Rng(30) }), { seed: 31 }).model, note: 'seeded zoo model, convertStructure (K 16, V 9 on 3×3, 4 on 1×1)' }) },
  { name: 'bert-base-layer', make: () => ({ lut: convertStructure(createModel('bert-base-layer', { rng: new Rng(40) }), { seed: 41, k: 16, v: { linear: 16 } }).model, note: 'seeded zoo model (seq 128), convertStructure: the six Linears, K 16, V 16' }) },
];

function lutOf(s: { model: GraphModel; dataset?: DatasetMeta }): { lut: GraphModel; dataset?: DatasetMeta } {
  return { lut: convertStructure(s.model, { seed: 1 }).model, dataset: s.dataset };
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

async function main(): Promise<void> {
  setNumThreads(1);
  const machine = machineInfo();
  const rows: Record<string, unknown> = {};
  log(`deployment files vs training files; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}; median of ${reps} interleaved loads, one thread`);
  for (const src of SOURCES) {
    if (only && only !== src.name) continue;
    const { lut, dataset, note } = src.make();
    lut.eval();
    const training = serializeModel(lut, dataset ? { dataset } : {});
    const t0 = performance.now();
    const { bytes: deploy, report } = serializeDeploy({ graph: lut.graph, weights: new Map(lut.namedWeights()) }, dataset ? { dataset } : {}, src.name);
    const writeMs = performance.now() - t0;
    // Same logits from both files before timing.
    const a = loadSync(training, { maxBatch: 1 });
    const b = loadSync(deploy, { maxBatch: 1 });
    const x = randn([1, ...a.inputShape], 1, new Rng(5));
    const [ya, yb] = [bits(a.run(x)), bits(b.run(x))];
    const same = ya.length === yb.length && ya.every((v, i) => v === yb[i]);
    a.dispose();
    b.dispose();
    if (!same) throw new Error(`${src.name}: the deployment file's logits differ from the training file's`);
    const cpu = new Map<string, number[]>();
    const timed = (name: string, fn: () => void) => (): void => {
      const c0 = process.cpuUsage();
      fn();
      const c = process.cpuUsage(c0);
      cpu.set(name, [...(cpu.get(name) ?? []), (c.user + c.system) / 1000]);
    };
    const load = (name: string, bytes: Uint8Array): (() => void) => timed(name, () => loadSync(bytes, { maxBatch: 1 }).dispose());
    const samples = await measureSamples([
      { name: 'training', run: load('training', training) },
      { name: 'deploy', run: load('deploy', deploy) },
      { name: 'parseTraining', run: () => parseRuntimeContents(training) },
      { name: 'parseDeploy', run: () => parseRuntimeContents(deploy) },
    ], reps, new Rng(9), 1);
    const ms = (k: string): number => +median(samples[k]).toFixed(2);
    // CPU samples include the warm-up round (the first `cpu` entry of each method): dropped.
    const cpuMs = (k: string): number => +median(cpu.get(k)!.slice(1)).toFixed(2);
    const row = {
      note,
      lutLayers: report.lutLayers.length,
      foldedBatchNorms: report.foldedBatchNorms.length,
      droppedTensors: report.dropped.length,
      trainingBytes: training.length,
      deployBytes: deploy.length,
      sizeRatio: +(deploy.length / training.length).toFixed(4),
      loadMs: { training: ms('training'), deploy: ms('deploy'), speedup: +(ms('training') / ms('deploy')).toFixed(2) },
      loadCpuMs: { training: cpuMs('training'), deploy: cpuMs('deploy'), speedup: +(cpuMs('training') / cpuMs('deploy')).toFixed(2) },
      parseMs: { training: ms('parseTraining'), deploy: ms('parseDeploy') },
      writeDeployMs: +writeMs.toFixed(1),
      logitsBitIdentical: same,
    };
    rows[src.name] = row;
    log(`${src.name.padEnd(16)} ${String(training.length).padStart(10)} B → ${String(deploy.length).padStart(10)} B (${(100 * row.sizeRatio).toFixed(1)}%)   load ${row.loadMs.training} → ${row.loadMs.deploy} ms (${row.loadMs.speedup}x; CPU ${row.loadCpuMs.training} → ${row.loadCpuMs.deploy} ms, ${row.loadCpuMs.speedup}x)   parse ${row.parseMs.training} / ${row.parseMs.deploy} ms   ${report.lutLayers.length} LUT layers`);
  }
  if (json) process.stdout.write(`${JSON.stringify({ machine, loadavg: loadavg(), reps, threads: 1, maxBatch: 1, models: rows }, null, 2)}\n`);
}

await main();
