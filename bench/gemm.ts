// GEMM benchmark: lutnn's wasm GEMM (1 and 2 threads, per call and with B prepacked) beside tfjs-wasm and ORT-web.
// Usage: node --import tsx bench/gemm.ts [--json] [--reps N]   (--part ort2 is the internal second process)
// Methods are interleaved within each repetition (in a fresh shuffled order) and reported as medians. In the
// process where ORT runs 2 threads a short idle gap before each call lets its spinning pool go quiet.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-web';
import { getWasmBackend } from '../src/backend/index.js';
import { getParallelMinMacs, setNumThreads, setParallelMinMacs, startWorkers } from '../src/backend/pool.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { Rng } from '../src/tensor/rng.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const reps = Number(args[args.indexOf('--reps') + 1]) || 21;
const part = args.includes('--part') ? args[args.indexOf('--part') + 1] : 'main';
const log = (s: string): void => void process.stderr.write(s + '\n');
// With --json (and in the child part) stdout carries exactly one JSON object: peers' console output goes to stderr.
if (json || part !== 'main') console.log = (...a: unknown[]) => console.error(...a);
const SHAPES: [number, number, number][] = [[512, 512, 512], [256, 768, 3072]]; // M, K, N
const CROSSOVER = [48, 64, 96, 128, 160, 192, 256];


/** A one-node ONNX model C = MatMul(A [M,K], B [K,N]), hand-encoded protobuf (ModelProto, opset 13). */
function matmulModel(M: number, K: number, N: number): Uint8Array {
  const varint = (v: number): number[] => {
    const out: number[] = [];
    do {
      out.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v = Math.floor(v / 128);
    } while (v > 0);
    return out;
  };
  const bytes = (field: number, body: number[]): number[] => [...varint((field << 3) | 2), ...varint(body.length), ...body];
  const str = (field: number, s: string): number[] => bytes(field, [...new TextEncoder().encode(s)]);
  const int = (field: number, v: number): number[] => [...varint(field << 3), ...varint(v)];
  // ValueInfoProto{name, type: TypeProto{tensor_type{elem_type FLOAT, shape{dim{dim_value}}}}}
  const value = (field: number, name: string, dims: number[]): number[] =>
    bytes(field, [...str(1, name), ...bytes(2, bytes(1, [...int(1, 1), ...bytes(2, dims.flatMap((d) => bytes(1, int(1, d))))]))]);
  const node = bytes(1, [...str(1, 'A'), ...str(1, 'B'), ...str(2, 'C'), ...str(4, 'MatMul')]);
  const graph = [...node, ...str(2, 'gemm'), ...value(11, 'A', [M, K]), ...value(11, 'B', [K, N]), ...value(12, 'C', [M, N])];
  return new Uint8Array([...int(1, 8), ...bytes(8, [...str(1, ''), ...int(2, 13)]), ...bytes(7, graph)]);
}

function rand(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

type Method = { name: string; run: () => Promise<void> | void };

const GAP_MS = 15;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Median wall and process CPU milliseconds of one method (CPU counts every thread of the process). */
interface Timing {
  wall: number;
  cpu: number;
}

/** Interleaved repetitions after two warm-up rounds; returns the medians per method. */
async function measure(methods: Method[], n: number, rng: Rng, gapMs: number): Promise<Map<string, Timing>> {
  const wall = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  const cpu = new Map<string, number[]>(methods.map((m) => [m.name, []]));
  for (let r = -2; r < n; r++) {
    for (const i of rng.permutation(methods.length)) {
      const m = methods[i];
      if (gapMs > 0) await sleep(gapMs);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await m.run();
      const dt = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r >= 0) {
        wall.get(m.name)!.push(dt);
        cpu.get(m.name)!.push((c.user + c.system) / 1000);
      }
    }
  }
  return new Map(methods.map((m) => [m.name, { wall: median(wall.get(m.name)!), cpu: median(cpu.get(m.name)!) }]));
}

type Results = Record<string, { medianMs: number; gflops: number; cpuMs: number }>;

/**
 * One process's side-by-side runs. onnxruntime-web sizes its thread pool once per process (env.wasm.numThreads;
 * a session's intraOpNumThreads does not shrink it), so ORT with 1 thread and ORT with 2 threads each get a process:
 * `ortThreads` = 1 also runs tfjs and the crossover sweep, 2 runs only lutnn beside ORT.
 */
async function runPart(ortThreads: number): Promise<{ shapes: { M: number; K: number; N: number; results: Results }[]; tfThreads: number | null; crossover: unknown[] }> {
  const be = getWasmBackend();
  const rt = wasmRuntime();
  if (!be || !rt) throw new Error('lutnn wasm backend did not load; run npm run build:wasm');
  setNumThreads(2);
  await startWorkers(rt);
  let tfThreads: number | null = null;
  if (ortThreads === 1) {
    setThreadsCount(2);
    await tf.setBackend('wasm');
    await tf.ready();
    tfThreads = getThreadsCount();
  }
  ort.env.wasm.numThreads = ortThreads;

  const rng = new Rng(0);
  const shapes = [];
  for (const [M, K, N] of SHAPES) {
    log(`gemm ${M}x${K}x${N} (ORT with ${ortThreads} thread${ortThreads > 1 ? 's' : ''}): ${reps} interleaved repetitions...`);
    const A = rand(M * K, rng);
    const B = rand(K * N, rng);
    const C = new Float32Array(M * N);
    const feeds = { A: new ort.Tensor('float32', A, [M, K]), B: new ort.Tensor('float32', B, [K, N]) };
    const session = await ort.InferenceSession.create(matmulModel(M, K, N), { executionProviders: ['wasm'] });
    const lutnn = (threads: number) => () => {
      setNumThreads(threads);
      be.gemm(A, B, C, M, N, K, false, false, false);
    };
    // B packed once into wasm memory, as tfjs caches its packed B; "-resident" also keeps A in wasm memory
    // (written once, like tfjs's uploaded A tensor), so it does exactly the per-call work of tfjs-wasm-1t.
    const packed = be.packGemmB(B, K, N, false);
    const resA = be.allocResident(M * K);
    resA.view.set(A);
    const lutnnPacked = (threads: number, a: Float32Array) => () => {
      setNumThreads(threads);
      be.gemmPacked(a, packed, C, M, false, false);
    };
    const methods: Method[] = [
      { name: 'lutnn-1t', run: lutnn(1) },
      { name: 'lutnn-2t', run: lutnn(2) },
      { name: 'lutnn-1t-packed', run: lutnnPacked(1, A) },
      { name: 'lutnn-2t-packed', run: lutnnPacked(2, A) },
      { name: 'lutnn-1t-resident', run: lutnnPacked(1, resA.view) },
      { name: `ort-web-${ortThreads}t`, run: async () => void (await session.run(feeds)) },
    ];
    const tensors: tf.Tensor[] = [];
    if (tfThreads !== null) {
      const ta = tf.tensor2d(A, [M, K]);
      const tb = tf.tensor2d(B, [K, N]);
      tensors.push(ta, tb);
      // tfjs caches the packed B per tensor, so reusing tb skips B's upload and packing after the first call;
      // the "-fresh" row builds both tensors from the Float32Arrays each call, the work lutnn and ORT do.
      methods.push({ name: `tfjs-wasm-${tfThreads}t`, run: () => { const c = tf.matMul(ta, tb); c.dataSync(); c.dispose(); } });
      methods.push({
        name: `tfjs-wasm-${tfThreads}t-fresh`,
        run: () => {
          const [a, b] = [tf.tensor2d(A, [M, K]), tf.tensor2d(B, [K, N])];
          const c = tf.matMul(a, b);
          c.dataSync();
          tf.dispose([a, b, c]);
        },
      });
    }
    const med = await measure(methods, reps, rng, ortThreads > 1 ? GAP_MS : 0);
    tf.dispose(tensors);
    packed.dispose();
    resA.dispose();
    await session.release();
    const flop = 2 * M * N * K;
    const results: Results = Object.fromEntries([...med].map(([k, t]) => [k, {
      medianMs: +t.wall.toFixed(3),
      gflops: +(flop / t.wall / 1e6).toFixed(2),
      cpuMs: +t.cpu.toFixed(3),
    }]));
    shapes.push({ M, K, N, results });
  }
  if (ortThreads !== 1) return { shapes, tfThreads, crossover: [] };

  // Crossover: cubes with threading forced on, to place the default parallel threshold.
  log('thread crossover (cubes, threshold forced to 0)...');
  const defaultMin = getParallelMinMacs();
  const crossover = [];
  try {
    setParallelMinMacs(0);
    for (const n of CROSSOVER) {
      const A = rand(n * n, rng);
      const C = new Float32Array(n * n);
      const run = (threads: number) => () => {
        setNumThreads(threads);
        be.gemm(A, A, C, n, n, n, false, false, false);
      };
      const inner = Math.max(1, Math.round(2e6 / (n * n * n))); // time batches of small GEMMs
      const med = await measure([
        { name: '1t', run: () => { for (let i = 0; i < inner; i++) run(1)(); } },
        { name: '2t', run: () => { for (let i = 0; i < inner; i++) run(2)(); } },
      ], reps * 2, rng, 0);
      const us = (k: string): number => +((med.get(k)!.wall * 1000) / inner).toFixed(1);
      crossover.push({ n, macs: n * n * n, us1t: us('1t'), us2t: us('2t') });
    }
  } finally {
    setParallelMinMacs(defaultMin);
  }
  return { shapes, tfThreads, crossover };
}

/** Runs this script again for the ORT 2-thread part and returns its JSON. */
function runOrt2Child(): Awaited<ReturnType<typeof runPart>> {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--part', 'ort2', '--reps', String(reps)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`the ORT 2-thread part exited with ${r.status}`);
  return JSON.parse(r.stdout);
}

async function main(): Promise<void> {
  if (part === 'ort2') {
    process.stdout.write(JSON.stringify(await runPart(2)) + '\n');
    return;
  }
  const one = await runPart(1);
  const two = runOrt2Child();
  const rt = wasmRuntime()!;
  const tfName = `tfjs-wasm-${one.tfThreads}t`;
  const shapes = one.shapes.map((s, i) => {
    const r2 = two.shapes[i].results;
    const g = (r: Results, k: string): number => r[k].gflops;
    return {
      M: s.M, K: s.K, N: s.N,
      results: { ...s.results, 'ort-web-2t': r2['ort-web-2t'] },
      ortProcessLutnn: Object.fromEntries(Object.entries(r2).filter(([k]) => k.startsWith('lutnn'))),
      ratios: {
        'lutnn-1t/tfjs-wasm': +(g(s.results, 'lutnn-1t') / g(s.results, tfName)).toFixed(2),
        'lutnn-1t/tfjs-wasm-fresh': +(g(s.results, 'lutnn-1t') / g(s.results, `${tfName}-fresh`)).toFixed(2),
        'lutnn-1t/ort-web-1t': +(g(s.results, 'lutnn-1t') / g(s.results, 'ort-web-1t')).toFixed(2),
        'lutnn-1t-packed/tfjs-wasm': +(g(s.results, 'lutnn-1t-packed') / g(s.results, tfName)).toFixed(2),
        'lutnn-1t-resident/tfjs-wasm': +(g(s.results, 'lutnn-1t-resident') / g(s.results, tfName)).toFixed(2),
        'lutnn-1t-packed/lutnn-1t': +(g(s.results, 'lutnn-1t-packed') / g(s.results, 'lutnn-1t')).toFixed(2),
        'lutnn-2t/ort-web-2t': +(g(r2, 'lutnn-2t') / g(r2, 'ort-web-2t')).toFixed(2),
        'lutnn-2t/lutnn-1t': +(g(s.results, 'lutnn-2t') / g(s.results, 'lutnn-1t')).toFixed(2),
        'lutnn-2t-packed/lutnn-1t-packed': +(g(s.results, 'lutnn-2t-packed') / g(s.results, 'lutnn-1t-packed')).toFixed(2),
      },
    };
  });
  const report = {
    benchmark: 'gemm',
    date: new Date().toISOString(),
    command: `node --import tsx bench/gemm.ts ${args.join(' ')}`.trim(),
    machine: machineInfo(),
    reps,
    lutnn: { simd: rt.variant, parallelMinMacs: getParallelMinMacs() },
    peers: {
      tfjs: `@tensorflow/tfjs-backend-wasm, tf.setBackend('wasm'); setThreadsCount(2) -> getThreadsCount() = ${one.tfThreads}`,
      ort: 'onnxruntime-web wasm; env.wasm.numThreads = 1 in this process, = 2 in a second process (ort-web-2t, compared with that process\'s lutnn-2t)',
    },
    timing: 'C = A·B from Float32Array inputs to a Float32Array result: lutnn and ORT copy both inputs in and pack per call; '
      + 'tfjs-wasm reuses uploaded tensors (and its packed B), tfjs-wasm-fresh makes both tensors per call; '
      + 'lutnn-*-packed packs B once (packGemmB) and copies A in per call, lutnn-1t-resident also keeps A in wasm memory '
      + '(allocResident); every lutnn row copies C out to a Float32Array',
    shapes,
    crossover: one.crossover,
  };
  if (json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const m = report.machine;
  log('');
  console.log(`${m.cpu}, ${m.cores} cores, node ${m.node}, ${report.date.slice(0, 10)}, lutnn simd=${rt.variant}, medians of ${reps}`);
  for (const s of shapes) {
    console.log(`\nM=${s.M} K=${s.K} N=${s.N}`);
    for (const [k, v] of Object.entries(s.results)) {
      console.log(`  ${k.padEnd(20)} ${v.medianMs.toFixed(2).padStart(8)} ms ${v.gflops.toFixed(1).padStart(7)} GFLOP/s  cpu ${v.cpuMs.toFixed(2).padStart(8)} ms`);
    }
    for (const [k, v] of Object.entries(s.ratios)) console.log(`  ${k.padEnd(26)} ${v.toFixed(2)}x`);
  }
  console.log('\ncrossover (µs per GEMM, n³):');
  for (const c of one.crossover as { n: number; us1t: number; us2t: number }[]) {
    console.log(`  n=${String(c.n).padEnd(4)} 1t ${c.us1t.toFixed(1).padStart(8)}  2t ${c.us2t.toFixed(1).padStart(8)}`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    log(`bench/gemm: ${e.message}`);
    process.exit(1);
  },
);
