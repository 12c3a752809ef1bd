// Whole-model inference: lutnn's compiled runtime (src/runtime) vs the training engine's eval forward, dense and LUT fmnist-cnn.
// Usage: node --import tsx bench/runtime.ts [--json] [--reps N] [--threads 1,2] [--batches 1,64] [--lut model.safetensors] [--profile]
// --profile adds the runtime's ms per plan step (RuntimeModel.profile) to every row. bench/model.ts compares with ONNX Runtime.
// Without --lut the shipped dense model is converted on the fly (conv2-4 and fc1 to LUT-NN, K=16, k-means with 2
// iterations on 128 random images, no refit; test/lut-models.ts): timing does not depend on how good the centroids are,
// accuracy is not measured here. The engine column is the model's GraphModel.forward in eval mode.
// Runtime and engine run interleaved in one process (one warm-up each); medians in ms and engine/runtime ratios.
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { noGrad } from '../src/autograd/engine.js';
import { setNumThreads, startWorkers } from '../src/backend/pool.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { loadModel } from '../src/io/model-file.js';
import type { GraphModel } from '../src/graph/model.js';
import { compile, loadSync } from '../src/runtime/index.js';
import type { RuntimeModel } from '../src/runtime/model.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { lutFmnist } from '../test/lut-models.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const reps = Number(opt('--reps')) || 15;
const threadList = (opt('--threads') ?? '1,2').split(',').map(Number);
const batches = (opt('--batches') ?? '1,64').split(',').map(Number);
const lutPath = opt('--lut');
const profile = args.includes('--profile');
const log = (s: string): void => void process.stderr.write(s + '\n');
const DENSE = fileURLToPath(new URL('../models/fmnist-cnn.safetensors', import.meta.url));


interface Row {
  model: 'dense' | 'lut';
  batch: number;
  threads: number;
  runtimeMs: number;
  engineMs: number;
  /** engine time / runtime time (> 1: the runtime is faster). */
  speedup: number;
  runtimeImagesPerS: number;
  /** Max |runtime − engine| over the logits, and the logits' max |value|. */
  maxAbsDiff: number;
  maxAbsLogit: number;
  reps: number;
  /** With --profile: median ms per plan step. */
  steps?: { step: string; ms: number }[];
}

/** Interleaved runtime/engine runs after one warm-up each; medians. */
function measure(name: 'dense' | 'lut', rtm: RuntimeModel, engine: GraphModel, x: Tensor, threads: number, n: number): Row {
  const out = new Float32Array(x.shape[0] * rtm.outputShape[0]);
  const runtime = (): Float32Array => rtm.run(x, out);
  const eng = (): Float32Array => noGrad(() => engine.forward(x)).f32;
  runtime();
  const ref = eng();
  let d = 0;
  let m = 0;
  for (let i = 0; i < out.length; i++) {
    d = Math.max(d, Math.abs(out[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  const tr: number[] = [];
  const te: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    runtime();
    tr.push(performance.now() - t);
    t = performance.now();
    eng();
    te.push(performance.now() - t);
  }
  const runtimeMs = median(tr);
  const engineMs = median(te);
  const batch = x.shape[0];
  const row: Row = {
    model: name, batch, threads,
    runtimeMs: +runtimeMs.toFixed(3), engineMs: +engineMs.toFixed(3), speedup: +(engineMs / runtimeMs).toFixed(2),
    runtimeImagesPerS: +((batch * 1000) / runtimeMs).toFixed(1), maxAbsDiff: +d.toExponential(2), maxAbsLogit: +m.toFixed(3), reps: n,
  };
  log(`${name} batch ${batch} [${threads}T]: runtime ${row.runtimeMs} ms, engine ${row.engineMs} ms, ${row.speedup}x; max |diff| ${row.maxAbsDiff}`);
  if (profile) {
    row.steps = rtm.profile(x, Math.max(3, Math.min(n, 9))).map((s) => ({ step: `${s.kind} ${s.name}`, ms: +s.ms.toFixed(3) }));
    log(`  steps: ${row.steps.map((s) => `${s.step} ${s.ms.toFixed(2)}`).join(' | ')}`);
  }
  return row;
}

const rt = wasmRuntime();
if (!rt) throw new Error('bench/runtime: the wasm kernels did not load (npm run build:wasm)');
log(`simd ${rt.variant}; threads ${threadList.join(',')}; batches ${batches.join(',')}; load ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

const dense = { engine: loadModel(DENSE).model, runtime: loadSync(DENSE, { maxBatch: Math.max(...batches) }) };
let lutEngine: GraphModel;
let lutRuntime: RuntimeModel;
let lutSource: string;
if (lutPath) {
  lutEngine = loadModel(lutPath).model;
  lutRuntime = loadSync(lutPath, { maxBatch: Math.max(...batches) });
  lutSource = lutPath;
} else {
  log('converting the shipped fmnist-cnn to LUT-NN (k-means, 2 iterations, 128 random calibration images) ...');
  const crng = new Rng(7);
  lutEngine = lutFmnist(loadModel(DENSE).model, [randn([64, 1, 28, 28], 1, crng), randn([64, 1, 28, 28], 1, crng)], { kmeansIters: 2, maxRows: 8192, seed: 0 });
  lutRuntime = compile(lutEngine, { maxBatch: Math.max(...batches) });
  lutSource = 'models/fmnist-cnn.safetensors converted on the fly';
}
log(`LUT runtime plan (${lutRuntime.lutEngine} LUT engine):\n  ${lutRuntime.summary().join('\n  ')}`);

const rows: Row[] = [];
const rng = new Rng(1);
try {
  for (const threads of threadList) {
    setNumThreads(threads);
    await startWorkers(rt);
    for (const batch of batches) {
      const x = randn([batch, 1, 28, 28], 1, rng);
      rows.push(measure('dense', dense.runtime, dense.engine, x, threads, reps));
      rows.push(measure('lut', lutRuntime, lutEngine, x, threads, batch >= 32 ? Math.max(3, Math.ceil(reps / 3)) : reps));
    }
  }
} finally {
  dense.runtime.dispose();
  lutRuntime.dispose();
}

const result = {
  bench: 'runtime',
  simd: rt.variant,
  lutEngine: lutRuntime.lutEngine,
  lutModel: lutSource,
  rows,
  loadavg: loadavg().map((v) => +v.toFixed(2)),
  machine: machineInfo(),
  date: new Date().toISOString(),
};
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  log('\nmodel  batch threads  runtime ms  engine ms  speedup  runtime img/s');
  for (const r of rows) {
    log(`${r.model.padEnd(6)} ${String(r.batch).padStart(5)} ${String(r.threads).padStart(7)} ${r.runtimeMs.toFixed(2).padStart(11)} ${r.engineMs.toFixed(2).padStart(10)} ${(r.speedup + 'x').padStart(8)} ${r.runtimeImagesPerS.toFixed(0).padStart(14)}`);
  }
}
