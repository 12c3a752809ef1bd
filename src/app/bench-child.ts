// One `lutnn bench` measurement process: one SIMD build (LUTNN_SIMD, chosen at load) and one thread count; it times
// the runtime models and, when asked, onnxruntime-node / onnxruntime-web sessions, interleaved, and reports over IPC.
// Started by src/app/bench.ts with its config as argv[2] (JSON); not a command of its own.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { setNumThreads, startWorkers } from '../backend/pool.js';
import { wasmLoadError, wasmRuntime } from '../backend/wasm.js';
import { loadSync } from '../runtime/node.js';
import type { RuntimeModel } from '../runtime/model.js';
import { Rng } from '../tensor/rng.js';
import { measureSamples, median, type Method } from './timing.js';
import type { BenchChildConfig, BenchChildMessage, BenchChildResult, CreatePeer, OrtModule, OrtSession } from './bench.js';

function send(msg: BenchChildMessage): Promise<void> {
  return new Promise((resolve, reject) => process.send!(msg, (e: Error | null) => (e ? reject(e) : resolve())));
}

/** Relative L2 distance of b from a (a: the lutnn runtime's output). */
function relDiff(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += a[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

async function openOrt(spec: string, kind: 'node' | 'web' | 'module', threads: number): Promise<OrtModule> {
  const mod = (await import(spec)) as OrtModule & { default?: OrtModule };
  const ort = mod.InferenceSession ? mod : mod.default!;
  if (kind === 'web' && ort.env?.wasm) ort.env.wasm.numThreads = threads;
  return ort;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.argv[2]) as BenchChildConfig;
  const rt = wasmRuntime();
  if (!rt) throw wasmLoadError() ?? new Error('the wasm kernels did not load');
  if (rt.variant !== cfg.simd) throw new Error(`expected the ${cfg.simd} SIMD build, loaded ${rt.variant}`);
  setNumThreads(cfg.threads);
  await startWorkers(rt);
  const maxBatch = Math.max(...cfg.batches);
  const result: BenchChildResult = { simd: cfg.simd, threads: cfg.threads, lutEngines: {}, cells: [], errors: {}, agreement: {} };
  const runtimes: Record<string, RuntimeModel> = {};
  for (const m of cfg.models) {
    runtimes[m.role] = loadSync(m.path, { maxBatch, lutEncoder: cfg.encoder, inputShape: cfg.inputShape });
    result.lutEngines[m.role] = runtimes[m.role].lutEngine;
  }
  // Baseline sessions (only where the parent found the package and exported the ONNX); a failure is reported, not fatal.
  const sessions: { name: string; role: string; run: (x: Float32Array, shape: number[]) => Promise<Float32Array>; release: () => Promise<void> }[] = [];
  const ortSession = (name: string, role: string, ort: OrtModule, session: OrtSession): (typeof sessions)[number] => ({
    name, role,
    run: async (x, shape) => (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x, shape) }))[session.outputNames[0]].data as Float32Array,
    release: async () => void (await session.release?.()),
  });
  for (const b of cfg.baselines) {
    if (b.kind === 'module') {
      // A peer module (e.g. bench/tfjs-peer.ts) built from the lutnn runtime of each model the peers run on.
      for (const m of cfg.models) {
        if (!m.onnx) continue;
        const name = `${b.runner}:${m.role}`;
        try {
          const mod = (await import(pathToFileURL(b.spec).href)) as { createPeer: CreatePeer };
          const peer = await mod.createPeer({ runtime: runtimes[m.role], inputShape: cfg.inputShape, threads: cfg.threads });
          sessions.push({ name, role: m.role, run: async (x, shape) => peer.run(x, shape[0]), release: async () => peer.dispose() });
        } catch (e) {
          result.errors[name] = (e as Error).message.split('\n')[0];
        }
      }
      continue;
    }
    let ort: OrtModule;
    try {
      ort = await openOrt(b.spec, b.kind, cfg.threads);
    } catch (e) {
      for (const m of cfg.models) result.errors[`${b.runner}:${m.role}`] = `cannot load ${b.spec}: ${(e as Error).message}`;
      continue;
    }
    for (const m of cfg.models) {
      const file = b.int8 ? m.onnxInt8 : m.onnx;
      if (!file) continue;
      try {
        const opts = b.kind === 'node'
          ? { intraOpNumThreads: cfg.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' }
          : { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
        sessions.push(ortSession(`${b.runner}:${m.role}`, m.role, ort, await ort.InferenceSession.create(readFileSync(file), opts)));
      } catch (e) {
        result.errors[`${b.runner}:${m.role}`] = (e as Error).message.split('\n')[0];
      }
    }
  }
  const per = cfg.inputShape.reduce((a, b) => a * b, 1);
  const rng = new Rng(cfg.seed);
  const rounds = cfg.batches.length * (cfg.warmup + cfg.repeats);
  let roundsDone = 0;
  let lastSent = 0;
  for (const batch of cfg.batches) {
    // Seeded standard-normal input; the runtimes' work does not depend on the values.
    const x = new Float32Array(batch * per);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    const shape = [batch, ...cfg.inputShape];
    const methods: Method[] = [];
    for (const [role, m] of Object.entries(runtimes)) {
      const y = new Float32Array(batch * m.outputShape.reduce((a, b) => a * b, 1));
      methods.push({ name: `lutnn:${role}`, run: () => m.run(x, y) });
    }
    for (const s of sessions) {
      if (batch === cfg.batches[0]) {
        try {
          const got = await s.run(x, shape);
          result.agreement[s.name] = +relDiff(runtimes[s.role].run(x), got).toExponential(2);
        } catch (e) {
          result.errors[s.name] = (e as Error).message.split('\n')[0];
          continue;
        }
      }
      if (result.errors[s.name]) continue;
      methods.push({ name: s.name, run: () => s.run(x, shape) });
    }
    const samples = await measureSamples(methods, cfg.repeats, rng, cfg.warmup, () => {
      roundsDone++;
      const now = Date.now();
      if (now - lastSent >= 250) {
        lastSent = now;
        void send({ type: 'progress', done: roundsDone, total: rounds });
      }
    }, cfg.budget ?? undefined);
    for (const [name, ms] of Object.entries(samples)) {
      result.cells.push({ method: name, batch, medianMs: median(ms), minMs: Math.min(...ms), samples: ms.length });
    }
  }
  for (const s of sessions) await s.release();
  Object.values(runtimes).forEach((m) => m.dispose());
  await send({ type: 'progress', done: rounds, total: rounds });
  await send({ type: 'result', result });
}

main().then(
  () => process.exit(0),
  async (e: Error) => {
    // The parent rethrows it as the same kind of LutnnError (a model the runtime cannot run is the user's to fix).
    await send({ type: 'error', name: e.name, message: e.message }).catch(() => process.stderr.write(`${e.stack ?? e.message}\n`));
    process.exit(1);
  },
);
