// Training throughput of the fused LUT-NN op against dense layers: LutConv2d, LutLinear and a whole fmnist-cnn step.
// Usage: node --import tsx bench/lut-op.ts [--json] [--reps N] [--threads 1,2] [--only conv,linear,model]
// Each pair runs interleaved (LUT, dense, LUT, dense, ...) in one process; medians and ratios are reported.
import { loadavg } from 'node:os';
import { backward } from '../src/autograd/engine.js';
import { getBackend, setNumThreads } from '../src/backend/index.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { convertModel } from '../src/lut/convert.js';
import { LutConv2d, LutLinear } from '../src/lut/modules.js';
import { Conv2d, Linear } from '../src/nn/layers.js';
import type { Trainable } from '../src/graph/model.js';
import { createModel } from '../src/nn/zoo.js';
import { crossEntropy } from '../src/ops/index.js';
import { Adam } from '../src/optim/index.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const repsArg = Number(opt('--reps'));
const threadList = (opt('--threads') ?? '1,2').split(',').map(Number);
const only = new Set((opt('--only') ?? 'conv,linear,model').split(','));
const BATCH = 128;
const log = (s: string): void => void process.stderr.write(s + '\n');


interface Pair {
  name: string;
  threads: number;
  lutMs: number;
  denseMs: number;
  /** LUT images/s over dense images/s (= denseMs / lutMs). */
  ratio: number;
  reps: number;
}

/** Runs lut and dense alternately (one warm-up each), `reps` timed rounds; medians in ms. */
function pair(name: string, threads: number, reps: number, lut: () => void, dense: () => void): Pair {
  lut();
  dense();
  const tl: number[] = [];
  const td: number[] = [];
  for (let i = 0; i < reps; i++) {
    let t = performance.now();
    lut();
    tl.push(performance.now() - t);
    t = performance.now();
    dense();
    td.push(performance.now() - t);
  }
  const lutMs = median(tl);
  const denseMs = median(td);
  const r: Pair = { name, threads, lutMs: +lutMs.toFixed(1), denseMs: +denseMs.toFixed(1), ratio: +(denseMs / lutMs).toFixed(3), reps };
  log(`${name} [${threads}T]: LUT ${r.lutMs} ms, dense ${r.denseMs} ms, LUT/dense throughput ${r.ratio}x`);
  return r;
}

/** One forward + backward of a layer given dL/dy (the input needs its gradient too, as inside a network). */
function layerStep(m: Trainable, x: Tensor, gy: Tensor): () => void {
  return () => {
    for (const p of m.parameters()) p.grad = null;
    const xx = x.clone().requireGrad();
    backward(m.forward(xx), gy);
  };
}

/** One training step: zero grads, forward, cross-entropy, backward, Adam. */
function trainStep(m: Trainable, x: Tensor, y: Tensor): () => void {
  const adam = new Adam(m.parameters(), { lr: 1e-4 });
  m.train();
  return () => {
    adam.zeroGrad();
    backward(crossEntropy(m.forward(x), y));
    adam.step();
  };
}

/** fmnist-cnn with conv2–4 (V=9) and fc1 (V=16) converted to LUT-NN, K=16, k-means (2 iters) on random calibration batches. */
function lutModel(seed: number): Trainable {
  const model = createModel('fmnist-cnn', { rng: new Rng(seed) });
  const rng = new Rng(seed + 1);
  const calib = [randn([64, 1, 28, 28], 1, rng), randn([64, 1, 28, 28], 1, rng)];
  return convertModel(model, calib, { kmeansIters: 2, maxRows: 8192, seed }).model;
}

log(`backend ${getBackend().name}; batch ${BATCH}; threads ${threadList.join(',')}; load ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
const rows: Pair[] = [];
const rng = new Rng(1);
const convX = randn([BATCH, 32, 14, 14], 1, rng);
const convG = randn([BATCH, 64, 14, 14], 1, rng);
const lutConv = new LutConv2d({ cin: 32, cout: 64, kernel: 3, padding: 1, k: 16, rng });
const denseConv = new Conv2d(32, 64, 3, { padding: 1, rng });
const linX = randn([BATCH, 3136], 1, rng);
const linG = randn([BATCH, 256], 1, rng);
const lutLin = new LutLinear({ inFeatures: 3136, outFeatures: 256, subvecLen: 16, k: 16, rng });
const denseLin = new Linear(3136, 256, { rng });
const images = randn([BATCH, 1, 28, 28], 1, rng);
const labels = new Tensor(Int32Array.from({ length: BATCH }, () => rng.int(10)), [BATCH], 'int32');
let lutNet: Trainable | null = null;
let denseNet: Trainable | null = null;
if (only.has('model')) {
  log('converting fmnist-cnn (k-means, 2 iterations) ...');
  lutNet = lutModel(0);
  denseNet = createModel('fmnist-cnn', { rng: new Rng(0) });
}
for (const threads of threadList) {
  setNumThreads(threads);
  if (only.has('conv')) {
    rows.push(pair('LutConv2d [128,32,14,14]->64 V=9 fwd+bwd', threads, repsArg || 7, layerStep(lutConv, convX, convG), layerStep(denseConv, convX, convG)));
  }
  if (only.has('linear')) {
    rows.push(pair('LutLinear 3136->256 V=16 batch 128 fwd+bwd', threads, repsArg || 11, layerStep(lutLin, linX, linG), layerStep(denseLin, linX, linG)));
  }
  if (lutNet && denseNet) {
    rows.push(pair('fmnist-cnn train step batch 128', threads, repsArg || 5, trainStep(lutNet, images, labels), trainStep(denseNet, images, labels)));
  }
}
const model = rows.filter((r) => r.name.startsWith('fmnist-cnn'));
const result = {
  bench: 'lut-op',
  batch: BATCH,
  backend: getBackend().name,
  simd: getBackend().name === 'wasm' ? (wasmRuntime()?.variant ?? null) : null,
  rows: rows.map((r) => ({ ...r, lutImagesPerS: +((BATCH * 1000) / r.lutMs).toFixed(1), denseImagesPerS: +((BATCH * 1000) / r.denseMs).toFixed(1) })),
  modelRatioLutOverDense: Object.fromEntries(model.map((r) => [`${r.threads}T`, r.ratio])),
  loadavg: loadavg().map((v) => +v.toFixed(2)),
  machine: machineInfo(),
  date: new Date().toISOString(),
};
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else for (const r of model) log(`fmnist-cnn ${r.threads}T: LUT ${((BATCH * 1000) / r.lutMs).toFixed(1)} img/s vs dense ${((BATCH * 1000) / r.denseMs).toFixed(1)} img/s = ${r.ratio}x`);
