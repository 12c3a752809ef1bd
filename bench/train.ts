// Training-throughput benchmark of fmnist-cnn at batch 128: lutnn (1 and 2 threads) beside PyTorch CPU.
// Usage: node --import tsx bench/train.ts [--steps N] [--json]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { backward } from '../src/autograd/engine.js';
import { getBackend, setNumThreads } from '../src/backend/index.js';
import { machineInfo } from '../src/cli/common.js';
import { createModel } from '../src/nn/zoo.js';
import { crossEntropy } from '../src/ops/index.js';
import { Adam } from '../src/optim/index.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const steps = Number(args[args.indexOf('--steps') + 1]) || 12;
const BATCH = 128;
const log = (s: string): void => void process.stderr.write(s + '\n');


interface Phase {
  forward: number[];
  backward: number[];
  step: number[];
  total: number[];
}

function benchLutnn(threads: number): { imagesPerSecond: number; medianStepMs: number; forwardMs: number; backwardMs: number; optimizerMs: number } {
  setNumThreads(threads);
  const rng = new Rng(0);
  const model = createModel('fmnist-cnn', { rng });
  model.train();
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = randn([BATCH, 1, 28, 28], 1, rng);
  const y = new Tensor(Int32Array.from({ length: BATCH }, () => rng.int(10)), [BATCH]);
  const ph: Phase = { forward: [], backward: [], step: [], total: [] };
  for (let i = 0; i < steps + 2; i++) {
    const t0 = performance.now();
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), y);
    const t1 = performance.now();
    backward(loss);
    const t2 = performance.now();
    opt.step();
    const t3 = performance.now();
    if (i < 2) continue; // warm-up
    ph.forward.push(t1 - t0);
    ph.backward.push(t2 - t1);
    ph.step.push(t3 - t2);
    ph.total.push(t3 - t0);
  }
  const med = median(ph.total);
  return {
    imagesPerSecond: (BATCH * 1000) / med,
    medianStepMs: med,
    forwardMs: median(ph.forward),
    backwardMs: median(ph.backward),
    optimizerMs: median(ph.step),
  };
}

function benchTorch(threads: number): { imagesPerSecond: number; medianStepMs: number; torch: string } | null {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) return null;
  const r = spawnSync(py, ['bench/torch_train.py', String(threads), '--steps', String(steps)], { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`torch column skipped: ${r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  const j = JSON.parse(r.stdout);
  return { imagesPerSecond: j.images_per_s, medianStepMs: (BATCH * 1000) / j.images_per_s, torch: j.torch };
}

log(`backend ${getBackend().name}; ${steps} timed steps per run, batch ${BATCH}`);
const rows: Record<string, unknown>[] = [];
// Interleave: lutnn 1T, torch 2T, lutnn 2T, so drift hits all columns alike.
const l1 = benchLutnn(1);
log(`lutnn 1 thread: ${l1.imagesPerSecond.toFixed(1)} img/s`);
const t2 = benchTorch(2);
if (t2) log(`torch 2 threads: ${t2.imagesPerSecond.toFixed(1)} img/s`);
const l2 = benchLutnn(2);
log(`lutnn 2 threads: ${l2.imagesPerSecond.toFixed(1)} img/s`);
rows.push({ engine: 'lutnn', threads: 1, ...l1 });
rows.push({ engine: 'lutnn', threads: 2, ...l2 });
if (t2) rows.push({ engine: `torch ${t2.torch}`, threads: 2, ...t2 });
const result = {
  bench: 'train-fmnist-cnn',
  batch: BATCH,
  steps,
  backend: getBackend().name,
  rows,
  ratioVsTorch2T: t2 ? l2.imagesPerSecond / t2.imagesPerSecond : null,
  machine: machineInfo(),
  date: new Date().toISOString(),
};
if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
else {
  for (const r of rows) log(JSON.stringify(r));
  if (result.ratioVsTorch2T !== null) log(`lutnn 2T / torch 2T = ${result.ratioVsTorch2T.toFixed(2)}x`);
}
