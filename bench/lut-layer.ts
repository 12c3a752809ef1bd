// LUT layer benchmark: lutnn's LUT inference kernels (f32, int8 and wide encoders, plain and relaxed SIMD) beside dense peers.
// Usage: node --import tsx bench/lut-layer.ts [--json] [--reps N] [--threads 1|2]   (--part is the internal child run)
// Peers on the same shapes, same rows: onnxruntime-node fp32 (MatMul + Add) and dynamic int8 (DynamicQuantizeMatMul),
// onnxruntime-web fp32 (wasm), tfjs-backend-wasm (matMul + add). One child process per (SIMD build, thread count):
// the relaxed build needs `--experimental-wasm-relaxed-simd` on Node 20, and ORT-web sizes its pool once per
// process. Each child interleaves its methods in a fresh random order per repetition after two warm-up rounds and
// reports medians; the relaxed child re-measures the ORT-node rows so its ratios are side by side too.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setParallelMinMacs, setNumThreads, startWorkers } from '../src/backend/pool.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { measure, relaxedFlags, type Method } from './common.js';
import { buildLut, quantizeLut } from '../src/ops/lut.js';
import { encodeLutPtr, prepareLutLayer, runLutLayerPtr, scanLutPtr, type LutLayer } from '../src/runtime/lut-kernels.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const reps = Number(opt('--reps')) || 15;
const part = opt('--part'); // "<plain|relaxed>-<threads>" in a child
const threadList = opt('--threads') ? [Number(opt('--threads'))] : [1, 2];
const log = (s: string): void => void process.stderr.write(s + '\n');
if (json || part) console.log = (...a: unknown[]) => console.error(...a); // stdout carries one JSON object only

/** (N rows, D in, M out, V) from issue 4. */
const SHAPES: [number, number, number, number][] = [[256, 768, 768, 16], [256, 768, 3072, 16], [1024, 576, 64, 9], [64, 4608, 512, 9]];


// ---------------------------------------------------------------- hand-encoded ONNX models

const varint = (v: number): number[] => {
  const out: number[] = [];
  do {
    out.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v = Math.floor(v / 128);
  } while (v > 0);
  return out;
};
const field = (f: number, body: ArrayLike<number>): number[] => [...varint((f << 3) | 2), ...varint(body.length), ...Array.from(body)];
const str = (f: number, s: string): number[] => field(f, new TextEncoder().encode(s));
const int = (f: number, v: number): number[] => [...varint(f << 3), ...varint(v)];
/** ValueInfoProto of a FLOAT tensor with fixed dims. */
const valueInfo = (f: number, name: string, dims: number[]): number[] =>
  field(f, [...str(1, name), ...field(2, field(1, [...int(1, 1), ...field(2, dims.flatMap((d) => field(1, int(1, d))))]))]);
/** TensorProto initializer: dims, data_type (1 FLOAT, 3 INT8), name, raw_data. */
const initializer = (name: string, dims: number[], type: number, raw: Uint8Array): number[] =>
  field(5, [...dims.flatMap((d) => int(1, d)), ...int(2, type), ...str(8, name), ...field(9, raw)]);
const node = (inputs: string[], outputs: string[], op: string, domain = ''): number[] =>
  field(1, [...inputs.flatMap((i) => str(1, i)), ...outputs.flatMap((o) => str(2, o)), ...str(4, op), ...(domain ? str(7, domain) : [])]);
const bytesOf = (a: Float32Array | Int8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Y [N, M] = X [N, D] · W + bias, W and bias constant: MatMul + Add (fp32), or DynamicQuantizeMatMul (com.microsoft). */
function denseModel(N: number, D: number, M: number, W: Float32Array, bias: Float32Array, int8: boolean): Uint8Array {
  let nodes: number[];
  let inits: number[];
  if (int8) {
    // Per-tensor symmetric int8 weight, as ORT's dynamic quantization tool writes it.
    let m = 0;
    for (const v of W) m = Math.max(m, Math.abs(v));
    const scale = m / 127;
    const Wq = Int8Array.from(W, (v) => Math.round(v / scale));
    nodes = node(['X', 'Wq', 'Ws', 'Wz', 'B'], ['Y'], 'DynamicQuantizeMatMul', 'com.microsoft');
    inits = [
      ...initializer('Wq', [D, M], 3, bytesOf(Wq)),
      ...initializer('Ws', [], 1, bytesOf(Float32Array.of(scale))),
      ...initializer('Wz', [], 3, new Uint8Array(1)),
      ...initializer('B', [M], 1, bytesOf(bias)),
    ];
  } else {
    nodes = [...node(['X', 'W'], ['XW'], 'MatMul'), ...node(['XW', 'B'], ['Y'], 'Add')];
    inits = [...initializer('W', [D, M], 1, bytesOf(W)), ...initializer('B', [M], 1, bytesOf(bias))];
  }
  const graph = [...nodes, ...str(2, 'dense'), ...inits, ...valueInfo(11, 'X', [N, D]), ...valueInfo(12, 'Y', [N, M])];
  const opsets = [...field(8, [...str(1, ''), ...int(2, 13)]), ...(int8 ? field(8, [...str(1, 'com.microsoft'), ...int(2, 1)]) : [])];
  return new Uint8Array([...int(1, 8), ...opsets, ...field(7, graph)]);
}

// ---------------------------------------------------------------- one child: one SIMD build, one thread count

interface PartResult {
  simd: string;
  threads: number;
  peers: Record<string, string>;
  shapes: Record<string, number>[];
}

async function runPart(simd: string, threads: number): Promise<PartResult> {
  const rt = wasmRuntime();
  if (!rt) throw new Error('lutnn wasm kernels did not load; run npm run build:wasm');
  if (rt.variant !== simd) throw new Error(`expected the ${simd} build, loaded ${rt.variant}`);
  setNumThreads(threads);
  await startWorkers(rt);
  const withPeers = simd === 'plain';
  const ortMod = await import('onnxruntime-node');
  const ortNode = (ortMod as unknown as { default?: typeof ortMod }).default ?? ortMod;
  const peers: Record<string, string> = { 'ort-node': `onnxruntime-node ${readVersion('onnxruntime-node')}, intraOpNumThreads ${threads}, sequential` };
  let ortWeb: typeof import('onnxruntime-web') | null = null;
  let tf: typeof import('@tensorflow/tfjs') | null = null;
  if (withPeers) {
    ortWeb = await import('onnxruntime-web');
    ortWeb.env.wasm.numThreads = threads;
    tf = await import('@tensorflow/tfjs');
    const tfw = await import('@tensorflow/tfjs-backend-wasm');
    tfw.setThreadsCount(threads);
    await tf.setBackend('wasm');
    await tf.ready();
    peers['ort-web'] = `onnxruntime-web ${readVersion('onnxruntime-web')} wasm, env.wasm.numThreads ${threads}`;
    peers.tfjs = `@tensorflow/tfjs-backend-wasm ${readVersion('@tensorflow/tfjs-backend-wasm')}, threads ${tfw.getThreadsCount()}`;
  }
  const rng = new Rng(1);
  const out: Record<string, number>[] = [];
  for (const [N, D, M, V] of SHAPES) {
    log(`[${simd} ${threads}T] N=${N} D=${D} M=${M} V=${V}: ${reps} interleaved repetitions...`);
    const C = D / V;
    const K = 16;
    // Dense weight W [D, M] and the LUT layer built from it (random centroids; timing does not depend on values).
    const W = Float32Array.from({ length: D * M }, () => rng.normal(0, 1 / Math.sqrt(D)));
    const bias = Float32Array.from({ length: M }, () => rng.uniform(-0.1, 0.1));
    const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
    const x = Float32Array.from({ length: N * D }, () => rng.normal());
    const { table, scale } = quantizeLut(buildLut(new Tensor(centroids, [C, K, V]), new Tensor(W, [C, V, M])));
    const layers: Record<string, LutLayer> = {};
    for (const encoder of ['f32', 'int8', 'wide'] as const) {
      layers[encoder] = prepareLutLayer({ centroids, lutQ: table.data as Int8Array, scale, bias, ncodebooks: C, k: K, subvecLen: V, outFeatures: M, encoder, maxRows: N });
    }
    const xp = rt.heap.alloc(N * D * 4);
    const op = rt.heap.alloc(N * M * 4);
    const y = new Float32Array(N * M);
    // The whole layer from a Float32Array to a Float32Array (copy in, run, copy out), as the peers are timed.
    const lut = (l: LutLayer) => () => {
      rt.f32(xp, N * D).set(x);
      runLutLayerPtr(l, xp, op, N, { threads });
      y.set(rt.f32(op, N * M));
    };
    const methods: Method[] = [
      { name: 'lut-f32', run: lut(layers.f32) },
      { name: 'lut-int8', run: lut(layers.int8) },
      { name: 'lut-wide', run: lut(layers.wide) },
      { name: 'lut-f32-encode', run: () => encodeLutPtr(layers.f32, xp, N, { threads }) },
      { name: 'lut-int8-encode', run: () => encodeLutPtr(layers.int8, xp, N, { threads }) },
      { name: 'lut-scan', run: () => scanLutPtr(layers.int8, op, N, { threads }) },
    ];
    rt.f32(xp, N * D).set(x);
    encodeLutPtr(layers.int8, xp, N, { threads }); // codes for the scan-only rows
    const sessOpts = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' as const, graphOptimizationLevel: 'all' as const };
    const sessions: { release(): Promise<void> }[] = [];
    for (const int8 of [false, true]) {
      const s = await ortNode.InferenceSession.create(denseModel(N, D, M, W, bias, int8), sessOpts);
      sessions.push(s);
      methods.push({ name: int8 ? 'ort-node-int8' : 'ort-node-fp32', run: async () => (await s.run({ X: new ortNode.Tensor('float32', x, [N, D]) })).Y.data });
    }
    const tensors: { dispose(): void }[] = [];
    if (ortWeb && tf) {
      const ow = ortWeb;
      const s = await ow.InferenceSession.create(denseModel(N, D, M, W, bias, false), { executionProviders: ['wasm'] });
      sessions.push(s);
      methods.push({ name: 'ort-web-fp32', run: async () => (await s.run({ X: new ow.Tensor('float32', x, [N, D]) })).Y.data });
      const t = tf;
      const tw = t.tensor2d(W, [D, M]);
      const tb = t.tensor1d(bias);
      tensors.push(tw, tb);
      methods.push({
        name: 'tfjs-wasm-fp32',
        run: () => {
          const tx = t.tensor2d(x, [N, D]);
          const ty = t.add(t.matMul(tx, tw), tb);
          ty.dataSync();
          t.dispose([tx, ty]);
        },
      });
    }
    const med = await measure(methods, reps, rng);
    for (const s of sessions) await s.release();
    for (const t of tensors) t.dispose();
    for (const l of Object.values(layers)) l.dispose();
    rt.heap.free(xp);
    rt.heap.free(op);
    out.push(med);
  }
  return { simd, threads, peers, shapes: out };
}

function readVersion(pkg: string): string {
  try {
    return JSON.parse(readFileSync(fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')).version;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------- main: children, ratios, report

/** Runs one child part; null when it cannot run (e.g. the engine rejects relaxed SIMD). */
function child(simd: string, threads: number, nodeFlags: string[]): PartResult | null {
  const r = spawnSync(process.execPath, [...nodeFlags, ...process.execArgv, fileURLToPath(import.meta.url), '--part', `${simd}-${threads}`, '--reps', String(reps)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LUTNN_SIMD: simd },
  });
  if (r.status !== 0) {
    log(`bench/lut-layer: the ${simd} ${threads}-thread part exited with ${r.status}`);
    return null;
  }
  return JSON.parse(r.stdout) as PartResult;
}


async function main(): Promise<void> {
  if (part) {
    const [simd, t] = part.split('-');
    setParallelMinMacs(0); // the thread count under test is used as given (the layers here are all large)
    process.stdout.write(JSON.stringify(await runPart(simd, Number(t))) + '\n');
    return;
  }
  const rflags = relaxedFlags();
  const parts: PartResult[] = [];
  for (const t of threadList) {
    const p = child('plain', t, []);
    if (!p) throw new Error(`the plain ${t}-thread part failed`);
    parts.push(p);
    if (rflags) {
      const r = child('relaxed', t, rflags);
      if (r) parts.push(r);
    }
  }
  const shapes = SHAPES.map(([N, D, M, V], i) => {
    const byConfig: Record<string, Record<string, number>> = {};
    const ratios: Record<string, number> = {};
    for (const p of parts) {
      const res = p.shapes[i];
      byConfig[`${p.simd}-${p.threads}t`] = res;
      // Speed-ups of the LUT layer (int8, wide and f32 encoders) over each peer measured in the same process.
      for (const enc of ['int8', 'wide', 'f32']) {
        for (const peer of ['ort-node-fp32', 'ort-node-int8', 'ort-web-fp32', 'tfjs-wasm-fp32']) {
          if (res[peer] !== undefined) ratios[`${p.threads}t ${peer} / lut-${enc}-${p.simd}`] = +(res[peer] / res[`lut-${enc}`]).toFixed(2);
        }
      }
    }
    return { N, D, M, V, C: D / V, medianMs: byConfig, ratios };
  });
  const report = {
    benchmark: 'lut-layer',
    date: new Date().toISOString(),
    command: `node --import tsx bench/lut-layer.ts ${args.join(' ')}`.trim(),
    machine: machineInfo(),
    loadavg: loadavg().map((v) => +v.toFixed(2)),
    reps,
    relaxed: rflags ? (rflags.length ? `with ${rflags.join(' ')}` : 'yes') : 'not supported by this engine',
    peers: Object.assign({}, ...parts.map((p) => p.peers)),
    timing: 'median ms per call, one call = Y [N, M] from X [N, D] (Float32Array in, Float32Array out): lut-f32 / lut-int8 / lut-wide copy x into '
      + 'wasm memory, encode + scan, copy y out; lut-*-encode and lut-scan are the pointer-level kernels alone (no copies); '
      + 'ORT-node/ORT-web run constant-weight MatMul + Add (fp32) or DynamicQuantizeMatMul (int8); tfjs-wasm uploads x, matMul + add, '
      + 'downloads y. Ratios are peer ms / LUT ms (> 1: LUT faster), within one process.',
    shapes,
  };
  if (json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const m = report.machine;
  console.log(`${m.cpu}, ${m.cores} cores, node ${m.node}, ${report.date.slice(0, 10)}, relaxed: ${report.relaxed}, medians of ${reps} (ms)`);
  for (const s of shapes) {
    console.log(`\nN=${s.N} D=${s.D} M=${s.M} V=${s.V} (C=${s.C})`);
    for (const [cfg, res] of Object.entries(s.medianMs)) {
      console.log(`  ${cfg.padEnd(11)} ${Object.entries(res).map(([k, v]) => `${k} ${v.toFixed(2)}`).join('  ')}`);
    }
    for (const [k, v] of Object.entries(s.ratios)) console.log(`  ${k.padEnd(44)} ${v.toFixed(2)}x`);
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    log(`bench/lut-layer: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
