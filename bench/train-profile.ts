// Per-op profile of a training step (forward by node op, backward by autograd node, loss, optimizer, garbage
// collection) for fmnist-cnn dense and LUT-NN, resnet-fm and vit-fm, at 1 and 2 threads, with each op's share of the
// step and its achieved GFLOP/s (MAC ops: 2·MACs per image) or GB/s (element ops: activation bytes), set against the
// GEMM ceiling measured in the same process (ops.matmul 512×512×512).
//   npx tsx bench/train-profile.ts [--models fmnist-cnn,fmnist-cnn-lut,resnet-fm,vit-fm] [--threads 1,2] [--steps 4]
//     [--batch 128] [--json]
// Forward times come from GraphModel.run's node hook (time between consecutive hooks: the node's forward plus
// gathering its inputs); backward times from backward()'s profile option (each autograd node's backward call, its
// gradient accumulation excluded); GC from PerformanceObserver 'gc' entries (they overlap the phases they happen in).
// Inputs are random (speed does not depend on the values; the LUT models are converted on random calibration data).
import { PerformanceObserver } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { backward, noGrad } from '../src/autograd/engine.js';
import { getBackend, setNumThreads } from '../src/backend/index.js';
import { machineInfo } from '../src/cli/common.js';
import { graphCost } from '../src/graph/cost.js';
import type { GraphModel } from '../src/graph/model.js';
import { convertModel } from '../src/lut/convert.js';
import { createModel, listModels } from '../src/nn/zoo.js';
import { crossEntropy, matmul } from '../src/ops/index.js';
import { Adam } from '../src/optim/index.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const json = args.includes('--json');
const models = opt('--models', 'fmnist-cnn,fmnist-cnn-lut,resnet-fm,resnet-fm-lut,vit-fm,vit-fm-lut').split(',');
const threadList = opt('--threads', '1,2').split(',').map(Number);
const steps = Number(opt('--steps', '4'));
const batch = Number(opt('--batch', '128'));
const log = (s: string): void => void process.stderr.write(s + '\n');

let gcMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
obs.observe({ entryTypes: ['gc'] });
// GC entries arrive on a later turn of the event loop (not on the next setImmediate): wait a little, outside the timings.
const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 30));

function build(name: string): GraphModel {
  const base = name.replace(/-lut$/, '');
  const rng = new Rng(0);
  const dense = createModel(base, { rng });
  if (!name.endsWith('-lut')) return dense;
  const shape = listModels().find((m) => m.name === base)!.inputShape;
  const calib = [0, 1].map(() => randn([64, ...shape], 1, rng));
  dense.eval();
  return convertModel(dense, calib, { kmeansIters: 2, maxRows: 4096, refit: false, seed: 0 }).model;
}

/** ops.matmul 512×512×512 through the engine: the GEMM ceiling in GFLOP/s at the current thread count. */
function gemmCeiling(): number {
  const rng = new Rng(1);
  const a = randn([512, 512], 1, rng);
  const b = randn([512, 512], 1, rng);
  const ts: number[] = [];
  noGrad(() => {
    for (let i = 0; i < 9; i++) {
      const t0 = performance.now();
      matmul(a, b);
      ts.push(performance.now() - t0);
    }
  });
  return (2 * 512 ** 3) / (median(ts.slice(2)) * 1e6);
}

interface OpRow {
  op: string;
  phase: 'forward' | 'backward' | 'loss' | 'optimizer';
  ms: number;
  share: number;
  gflops: number | null;
  gbps: number | null;
  calls: number;
}

async function profile(name: string, model: GraphModel, threads: number): Promise<Record<string, unknown>> {
  setNumThreads(threads);
  const info = model.info;
  const shape = info.graph.inputs[0].shape.slice(1).map(Number);
  const cost = graphCost(info, new Map(model.namedWeights()), { batch });
  const costByNode = new Map(cost.layers.map((l) => [l.name, l]));
  const rng = new Rng(2);
  const x = randn([batch, ...shape], 1, rng);
  const y = new Tensor(Int32Array.from({ length: batch }, () => rng.int(10)), [batch]);
  model.train();
  const optim = new Adam(model.parameters(), { lr: 1e-4 });
  const fwd = new Map<string, { ms: number[]; flops: number; bytes: number; calls: number }>();
  const bwd = new Map<string, { ms: number[]; calls: number }>();
  const phases = { forward: [] as number[], loss: [] as number[], backward: [] as number[], optimizer: [] as number[], step: [] as number[], gc: [] as number[] };
  for (let s = 0; s < steps + 1; s++) {
    const warm = s === 0;
    const f = new Map<string, number>();
    const fb = new Map<string, number>();
    await flush();
    const gc0 = gcMs;
    optim.zeroGrad();
    const t0 = performance.now();
    let last = t0;
    const out = model.run([x], {
      hook: (ni) => {
        const now = performance.now();
        const op = ni.node.op;
        f.set(op, (f.get(op) ?? 0) + now - last);
        if (!warm) {
          const e = fwd.get(op) ?? { ms: [], flops: 0, bytes: 0, calls: 0 };
          const c = costByNode.get(ni.node.name);
          if (s === 1) {
            e.flops += 2 * (c?.macs ?? 0) * batch;
            e.bytes += c?.activationBytes ?? 0;
            e.calls++;
          }
          fwd.set(op, e);
        }
        last = now;
      },
    })[0];
    const t1 = performance.now();
    const loss = crossEntropy(out, y);
    const t2 = performance.now();
    backward(loss, undefined, { profile: (n, ms) => fb.set(n, (fb.get(n) ?? 0) + ms) });
    const t3 = performance.now();
    optim.step();
    const t4 = performance.now();
    await flush();
    if (warm) continue;
    for (const [op, ms] of f) fwd.get(op)!.ms.push(ms);
    for (const [n, ms] of fb) {
      const e = bwd.get(n) ?? { ms: [], calls: 0 };
      e.ms.push(ms);
      bwd.set(n, e);
    }
    phases.forward.push(t1 - t0);
    phases.loss.push(t2 - t1);
    phases.backward.push(t3 - t2);
    phases.optimizer.push(t4 - t3);
    phases.step.push(t4 - t0);
    phases.gc.push(gcMs - gc0);
  }
  const step = median(phases.step);
  const rows: OpRow[] = [];
  for (const [op, e] of fwd) {
    const ms = median(e.ms);
    rows.push({ op, phase: 'forward', ms, share: ms / step, gflops: e.flops > 0 ? e.flops / (ms * 1e6) : null, gbps: e.flops === 0 && e.bytes > 0 ? e.bytes / (ms * 1e6) : null, calls: e.calls });
  }
  for (const [n, e] of bwd) {
    const ms = median(e.ms);
    rows.push({ op: n, phase: 'backward', ms, share: ms / step, gflops: null, gbps: null, calls: 0 });
  }
  rows.push({ op: 'crossEntropy', phase: 'loss', ms: median(phases.loss), share: median(phases.loss) / step, gflops: null, gbps: null, calls: 1 });
  rows.push({ op: 'Adam', phase: 'optimizer', ms: median(phases.optimizer), share: median(phases.optimizer) / step, gflops: null, gbps: null, calls: 1 });
  rows.sort((a, b) => b.ms - a.ms);
  const ceiling = gemmCeiling();
  return {
    model: name,
    threads,
    batch,
    stepMs: step,
    imagesPerSecond: (batch * 1000) / step,
    phasesMs: { forward: median(phases.forward), loss: median(phases.loss), backward: median(phases.backward), optimizer: median(phases.optimizer), gc: median(phases.gc) },
    gcShare: median(phases.gc) / step,
    forwardMacsPerImage: cost.total.macs,
    gemmCeilingGflops: ceiling,
    ops: rows,
  };
}

function cpuMhz(): number | null {
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

const results: Record<string, unknown>[] = [];
log(`backend ${getBackend().name}; batch ${batch}, ${steps} timed steps (+1 warm-up) per model and thread count`);
for (const name of models) {
  const t0 = performance.now();
  const model = build(name);
  log(`${name}: built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  for (const threads of threadList) {
    const r = await profile(name, model, threads);
    results.push(r);
    const ops = r.ops as OpRow[];
    log(`${name} ${threads}T: ${(r.stepMs as number).toFixed(0)} ms/step, ${(r.imagesPerSecond as number).toFixed(1)} img/s, GC ${(100 * (r.gcShare as number)).toFixed(1)}%, GEMM ceiling ${(r.gemmCeilingGflops as number).toFixed(1)} GFLOP/s`);
    for (const o of ops.slice(0, 12)) {
      const rate = o.gflops !== null ? `${o.gflops.toFixed(1)} GFLOP/s` : o.gbps !== null ? `${o.gbps.toFixed(2)} GB/s` : '';
      log(`  ${o.phase.padEnd(9)} ${o.op.padEnd(22)} ${o.ms.toFixed(1).padStart(8)} ms ${(100 * o.share).toFixed(1).padStart(5)}%  ${rate}`);
    }
  }
}
obs.disconnect();
const mhz = cpuMhz();
const out = {
  bench: 'train-profile',
  backend: getBackend().name,
  batch,
  steps,
  results,
  // No theoretical peak: /proc/cpuinfo gives the nominal clock, and the measured GEMM ceiling exceeds 4 lanes × 2 ×
  // 2 pipes at it (boost clocks); the in-process GEMM ceiling is the reference.
  machine: { ...machineInfo(), mhz },
  date: new Date().toISOString(),
};
if (json) process.stdout.write(JSON.stringify(out) + '\n');
