// Whole-model inference: the fmnist-cnn LUT model on lutnn's runtime beside the dense model on lutnn, onnxruntime-node, onnxruntime-web and tfjs-wasm.
// Usage: node --import tsx bench/model.ts [--json] [--reps N] [--threads 1,2] [--batches 1,64] [--lut model.safetensors]
//          [--accuracy] [--profile] [--calib N]   (--part is the internal child run)
// Without --lut the shipped dense model is converted on the fly (conv2-4 and fc1 to LUT-NN, K=16, k-means on --calib real
// training images, no refit; test/lut-models.ts: timing does not depend on how good the centroids are). The dense model is exported to ONNX by exportOnnx
// for the ONNX Runtime rows. One child process per (SIMD build, thread count): the relaxed build needs
// --experimental-wasm-relaxed-simd on Node 20, and ORT-web sizes its pool once per process. Each child interleaves its
// methods in a fresh random order per repetition after two warm-up rounds, on real test images, and reports medians.
// --profile adds ms per plan step (lutnn runtime); --accuracy the runtime LUT model's test accuracy (f32 and int8
// encoders) on the embedded 10,000 test images, how many predictions and codes the int8 encoder changes against f32,
// and how many predictions a relative input noise of 1e-4 / 1e-3 changes (the model's own sensitivity).
// --json fields: benchmark ("model"), date, command, machine, loadavg, reps, relaxed, lutModel, peers (what each
// method is), timing, rows [{ simd, threads, batch, medianMs: { lutnn-dense, lutnn-lut-f32 (3×3 convs on the certified
// encoder), lutnn-lut-f32-plain (lutCertify false: the f32 encoder everywhere; the same outputs), lutnn-lut-int8,
// lutnn-lut-wide,
// ort-node-fp32, ort-web-fp32?, tfjs-wasm-fp32? }, ratios: { "<peer> / lutnn-lut-<enc>": x }, profile? }], and
// with --accuracy: accuracy { testImages, accuracyPct: { dense, lut-f32, lut-int8, lut-int8-nowide, lut-wide, lut-f32-noise1e-4,
// lut-f32-noise1e-3 }, predictionsChangedVsLutF32 (same keys but dense and lut-f32), int8CodeChanges { images,
// layers [{ layer, codes, changed (int8), wide (int8 runs the wide data there), changedWideEncoder }] } }.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setNumThreads, startWorkers } from '../src/backend/pool.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { measure, relaxedFlags, type Method } from './common.js';
import { NORMALIZATION, type Dataset } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/loader.js';
import { loadModel } from '../src/io/model-file.js';
import { serializeModel } from '../src/io/model-format.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { encodeLut, prepareLutLayer } from '../src/runtime/lut-kernels.js';
import type { RuntimeModel } from '../src/runtime/model.js';
import { loadSync } from '../src/runtime/node.js';
import type { Op } from '../src/runtime/plan.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { encodeWideRef, im2rowRef as im2row } from '../src/runtime/lut-kernels-ref.js';
import { directConvUnsupported } from '../src/runtime/lut-conv.js';
import { buildTfjsModel, type TfjsModel } from './tfjs-model.js';
import { lutFmnist } from '../test/lut-models.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const reps = Number(opt('--reps')) || 15;
const threadList = (opt('--threads') ?? '1,2').split(',').map(Number);
const batches = (opt('--batches') ?? '1,64').split(',').map(Number);
const part = opt('--part'); // "<plain|relaxed>-<threads>" in a child
const profile = args.includes('--profile');
const log = (s: string): void => void process.stderr.write(s + '\n');
if (json || part) console.log = (...a: unknown[]) => console.error(...a); // stdout carries one JSON object only
const DENSE = fileURLToPath(new URL('../models/fmnist-cnn.safetensors', import.meta.url));


/** Images [from, from + n) of a split as normalised float32 [n, 1, 28, 28] (the model's own normalisation). */
function images(ds: Dataset, from: number, n: number): Float32Array {
  const { mean, std } = NORMALIZATION['fashion-mnist'];
  const per = ds.channels * ds.height * ds.width;
  const out = new Float32Array(n * per);
  for (let i = 0; i < n * per; i++) out[i] = (ds.images[from * per + i] / 255 - mean) / std;
  return out;
}

function readVersion(pkg: string): string {
  try {
    return JSON.parse(readFileSync(fileURLToPath(new URL(`../node_modules/${pkg}/package.json`, import.meta.url)), 'utf8')).version;
  } catch {
    return '?';
  }
}

// ---------------------------------------------------------------- child: timings

interface PartResult {
  simd: string;
  threads: number;
  peers: Record<string, string>;
  /** Per batch: median ms per method. */
  batches: { batch: number; medianMs: Record<string, number>; profile?: Record<string, { step: string; ms: number }[]> }[];
}

async function runPart(simd: string, threads: number, lutFile: string, onnxFile: string): Promise<PartResult> {
  const rt = wasmRuntime();
  if (!rt) throw new Error('lutnn wasm kernels did not load; run npm run build:wasm');
  if (rt.variant !== simd) throw new Error(`expected the ${simd} build, loaded ${rt.variant}`);
  setNumThreads(threads);
  await startWorkers(rt);
  const maxBatch = Math.max(...batches);
  const models: Record<string, RuntimeModel> = {
    'lutnn-dense': loadSync(DENSE, { maxBatch }),
    'lutnn-lut-f32': loadSync(lutFile, { maxBatch, lutEncoder: 'f32' }),
    'lutnn-lut-f32-plain': loadSync(lutFile, { maxBatch, lutEncoder: 'f32', lutCertify: false }),
    'lutnn-lut-int8': loadSync(lutFile, { maxBatch, lutEncoder: 'int8' }),
    'lutnn-lut-wide': loadSync(lutFile, { maxBatch, lutEncoder: 'wide' }),
  };
  {
    // The certified encoder must give the plain f32 encoder's logits, bit for bit, before either is timed.
    const x = images(loadDataset({ name: 'fashion-mnist' }).test, 0, Math.min(maxBatch, 32));
    const a = models['lutnn-lut-f32'].run(x);
    const b = models['lutnn-lut-f32-plain'].run(x);
    if (a.some((v, i) => v !== b[i])) throw new Error('lutnn-lut-f32 (certified) and lutnn-lut-f32-plain disagree');
  }
  const onnx = readFileSync(onnxFile);
  const ortMod = await import('onnxruntime-node');
  const ortNode = (ortMod as unknown as { default?: typeof ortMod }).default ?? ortMod;
  const sessOpts = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' as const, graphOptimizationLevel: 'all' as const };
  const sNode = await ortNode.InferenceSession.create(onnx, sessOpts);
  const inName = sNode.inputNames[0];
  const outName = sNode.outputNames[0];
  const peers: Record<string, string> = {
    'lutnn-*': `lutnn runtime, ${simd} SIMD build, ${threads} thread(s); LUT engine ${models['lutnn-lut-f32'].lutEngine} / ${models['lutnn-lut-int8'].lutEngine}`,
    'ort-node-fp32': `onnxruntime-node ${readVersion('onnxruntime-node')} on the dense model's ONNX export, intraOpNumThreads ${threads}, sequential`,
  };
  const web = simd === 'plain' ? await import('onnxruntime-web') : null;
  let sWeb: Awaited<ReturnType<NonNullable<typeof web>['InferenceSession']['create']>> | null = null;
  if (web) {
    web.env.wasm.numThreads = threads;
    sWeb = await web.InferenceSession.create(onnx, { executionProviders: ['wasm'] });
    peers['ort-web-fp32'] = `onnxruntime-web ${readVersion('onnxruntime-web')} wasm on the same ONNX, env.wasm.numThreads ${threads}`;
  }
  let tfm: TfjsModel | null = null;
  if (web) {
    const tf = await import('@tensorflow/tfjs');
    const tfw = await import('@tensorflow/tfjs-backend-wasm');
    tfw.setThreadsCount(threads);
    await tf.setBackend('wasm');
    await tf.ready();
    tfm = buildTfjsModel(tf, models['lutnn-dense'].ops, [1, 28, 28]);
    // The rebuilt graph must compute the same logits as lutnn's dense runtime before it is timed.
    const x = images(loadDataset({ name: 'fashion-mnist' }).test, 0, 8);
    const a = tfm.run(x, 8);
    const b = models['lutnn-dense'].run(x);
    let worst = 0;
    for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
    if (!(worst < 1e-4)) throw new Error(`tfjs model disagrees with lutnn-dense: relative error ${worst}`);
    peers['tfjs-wasm-fp32'] = `@tensorflow/tfjs-backend-wasm ${readVersion('@tensorflow/tfjs-backend-wasm')}, threads ${tfw.getThreadsCount()}, the dense plan rebuilt NHWC (logits within ${worst.toExponential(1)} relative of lutnn-dense)`;
  }
  const test = loadDataset({ name: 'fashion-mnist' }).test;
  const rng = new Rng(1);
  const out: PartResult['batches'] = [];
  for (const batch of batches) {
    log(`[${simd} ${threads}T] batch ${batch}: ${reps} interleaved repetitions ...`);
    const x = images(test, 0, batch);
    const y = new Float32Array(batch * 10);
    const methods: Method[] = Object.entries(models).map(([name, m]) => ({ name, run: () => m.run(x, y) }));
    methods.push({ name: 'ort-node-fp32', run: async () => (await sNode.run({ [inName]: new ortNode.Tensor('float32', x, [batch, 1, 28, 28]) }))[outName].data });
    if (sWeb && web) {
      const ow = web;
      const s = sWeb;
      methods.push({ name: 'ort-web-fp32', run: async () => (await s.run({ [inName]: new ow.Tensor('float32', x, [batch, 1, 28, 28]) }))[outName].data });
    }
    if (tfm) {
      const t = tfm;
      methods.push({ name: 'tfjs-wasm-fp32', run: () => t.run(x, batch) });
    }
    const res: PartResult['batches'][number] = { batch, medianMs: await measure(methods, reps, rng) };
    if (profile) {
      res.profile = {};
      for (const [name, m] of Object.entries(models)) {
        res.profile[name] = m.profile(x, Math.max(3, Math.min(reps, 9))).map((s) => ({ step: `${s.kind} ${s.name}`, ms: +s.ms.toFixed(3) }));
      }
    }
    out.push(res);
  }
  await sNode.release();
  if (sWeb) await sWeb.release();
  tfm?.dispose();
  Object.values(models).forEach((m) => m.dispose());
  return { simd, threads, peers, batches: out };
}

// ---------------------------------------------------------------- parent: model preparation, accuracy, children

/** Runs one child part; null when it cannot run (e.g. the engine rejects relaxed SIMD). */
function child(simd: string, threads: number, nodeFlags: string[], files: string[]): PartResult | null {
  const r = spawnSync(process.execPath, [...nodeFlags, ...process.execArgv, fileURLToPath(import.meta.url), ...args.filter((a) => a !== '--json'), '--part', `${simd}-${threads}`, '--files', files.join(',')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LUTNN_SIMD: simd },
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) {
    log(`bench/model: the ${simd} ${threads}-thread part exited with ${r.status}`);
    return null;
  }
  return JSON.parse(r.stdout) as PartResult;
}



/** Predicted classes of a runtime model on the test split; `noise` scales every input value by 1 + noise·sin(12.9898·i). */
function predict(m: RuntimeModel, test: Dataset, B: number, noise = 0): Uint8Array {
  const pred = new Uint8Array(test.n);
  for (let i = 0; i < test.n; i += B) {
    const n = Math.min(B, test.n - i);
    const x = images(test, i, n);
    if (noise) for (let j = 0; j < x.length; j++) x[j] *= 1 + noise * Math.sin(j * 12.9898);
    const y = m.run(x);
    for (let s = 0; s < n; s++) {
      let best = 0;
      for (let k = 1; k < 10; k++) if (y[s * 10 + k] > y[s * 10 + best]) best = k;
      pred[i + s] = best;
    }
  }
  return pred;
}

/**
 * Test accuracy of the runtime models (dense, LUT f32, LUT int8 with and without the wide 3×3 conv data) on the
 * embedded test split; how many test predictions each LUT variant changes against the f32 encoder, beside what a
 * tiny relative input noise (1e-4, 1e-3) changes on the f32 encoder (how sensitive the model's hard argmins are);
 * and per LUT layer how many codes the int8 encoder (the wide twin for 3×3 direct convs, as the runtime runs them)
 * picks differently from the f32 one on the same input (the f32 model's activations) over the first `codeImages`
 * test images.
 */
function accuracy(lutFile: string, codeImages: number): Record<string, unknown> {
  const test = loadDataset({ name: 'fashion-mnist' }).test;
  const B = 64;
  const acc: Record<string, number> = {};
  const changed: Record<string, number> = {};
  const variants = [
    ['dense', DENSE, { lutEncoder: 'f32' }, 0], ['lut-f32', lutFile, { lutEncoder: 'f32' }, 0],
    ['lut-int8', lutFile, { lutEncoder: 'int8' }, 0], ['lut-int8-nowide', lutFile, { lutEncoder: 'int8', lutWideConv: false }, 0],
    ['lut-wide', lutFile, { lutEncoder: 'wide' }, 0],
    ['lut-f32-noise1e-4', lutFile, { lutEncoder: 'f32' }, 1e-4], ['lut-f32-noise1e-3', lutFile, { lutEncoder: 'f32' }, 1e-3],
  ] as const;
  let ref: Uint8Array | null = null;
  for (const [name, file, o, noise] of variants) {
    const m = loadSync(file, { maxBatch: B, ...o });
    const t0 = performance.now();
    const pred = predict(m, test, B, noise);
    m.dispose();
    let right = 0;
    pred.forEach((p, i) => (right += p === test.labels[i] ? 1 : 0));
    acc[name] = +((100 * right) / test.n).toFixed(2);
    if (name === 'lut-f32') ref = pred;
    else if (ref) changed[name] = pred.reduce((a, p, i) => a + (p !== ref![i] ? 1 : 0), 0);
    log(`accuracy ${name}: ${acc[name]}%${name in changed ? `, ${changed[name]} predictions differ from lut-f32` : ''} (${test.n} test images, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const f32 = loadSync(lutFile, { maxBatch: 16, lutEncoder: 'f32' });
  const layers: { layer: string; codes: number; changed: number; wide: boolean; changedWideEncoder: number }[] = [];
  try {
    const lutOps = f32.ops.map((op, i) => [op, i] as [Op, number]).filter(([op]) => op.kind === 'lutConv' || op.kind === 'lutLinear');
    const prepared = lutOps.map(([op]) => {
      const s = (op as Extract<Op, { kind: 'lutConv' | 'lutLinear' }>).spec;
      const base = { centroids: s.centroids, lutQ: s.lutQ, scale: s.scale, bias: s.bias, ncodebooks: s.C, k: s.K, subvecLen: s.V, outFeatures: s.M, metric: s.metric };
      const f = prepareLutLayer({ ...base, encoder: 'f32' });
      const q = s.metric === 'l2' ? prepareLutLayer({ ...base, encoder: 'int8' }) : null;
      // What the runtime runs: the wide data on 3×3 direct convs (DirectLutConv), the int8 data elsewhere.
      const wide = q?.wide && op.kind === 'lutConv' && op.win.kh === 3 && op.win.kw === 3 && !directConvUnsupported(op.win, q) ? q.wide : null;
      return { f, q, wide };
    });
    lutOps.forEach(([op], j) => layers.push({ layer: op.name.split('+')[0], codes: 0, changed: 0, wide: prepared[j].wide !== null, changedWideEncoder: 0 }));
    for (let i = 0; i < codeImages; i += 16) {
      const n = Math.min(16, codeImages - i);
      const x = images(test, i, n);
      const acts = f32.activations(x);
      lutOps.forEach(([op, si], j) => {
        const input = si === 0 ? x : acts[si - 1];
        const rows = op.kind === 'lutConv' ? im2row(input, n, op.win) : input;
        const { f, q, wide } = prepared[j];
        if (!q) return;
        const a = encodeLut(f, rows);
        const b = wide ? encodeWideRef(rows, q.D, rows.length / q.D, wide, q.C, q.K, q.V).codes : encodeLut(q, rows);
        // lutEncoder 'wide': the wide data on every layer.
        const c = q.wide ? encodeWideRef(rows, q.D, rows.length / q.D, q.wide, q.C, q.K, q.V).codes : b;
        layers[j].codes += a.length;
        for (let k = 0; k < a.length; k++) {
          if (a[k] !== b[k]) layers[j].changed++;
          if (a[k] !== c[k]) layers[j].changedWideEncoder++;
        }
      });
    }
    prepared.forEach(({ f, q }) => (f.dispose(), q?.dispose()));
  } finally {
    f32.dispose();
  }
  const pct = (n: number, d: number): string => `${((100 * n) / Math.max(1, d)).toFixed(3)}%`;
  for (const l of layers) {
    log(`codes off f32, ${l.layer}: int8 ${l.changed} of ${l.codes}${l.wide ? ' (wide data)' : ''} (${pct(l.changed, l.codes)}), wide ${l.changedWideEncoder} (${pct(l.changedWideEncoder, l.codes)})`);
  }
  return { testImages: test.n, accuracyPct: acc, predictionsChangedVsLutF32: changed, int8CodeChanges: { images: codeImages, layers } };
}

async function main(): Promise<void> {
  if (part) {
    const [simd, t] = part.split('-');
    const [lutFile, onnxFile] = opt('--files')!.split(',');
    process.stdout.write(JSON.stringify(await runPart(simd, Number(t), lutFile, onnxFile)) + '\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-bench-model-'));
  try {
    let lutFile = opt('--lut');
    let lutSource = lutFile ?? '';
    if (!lutFile) {
      const calib = Number(opt('--calib')) || 256;
      log(`converting models/fmnist-cnn.safetensors to LUT-NN (K=16, k-means on ${calib} training images, no refit) ...`);
      const { model: dense, meta } = loadModel(DENSE);
      const train = loadDataset({ name: 'fashion-mnist' }).train;
      const cal: Tensor[] = [];
      for (let i = 0; i < calib; i += 64) cal.push(new Tensor(images(train, i, Math.min(64, calib - i)), [Math.min(64, calib - i), 1, 28, 28]));
      const t0 = performance.now();
      const model = lutFmnist(dense, cal, { k: 16, seed: 0 });
      lutFile = join(dir, 'fmnist-cnn-lut.safetensors');
      writeFileSync(lutFile, serializeModel(model, { dataset: meta.dataset, info: { bench: 'converted on the fly by bench/model.ts' } }));
      lutSource = `models/fmnist-cnn.safetensors converted on the fly (K=16, ${calib} calibration images, no refit, ${((performance.now() - t0) / 1000).toFixed(1)} s)`;
    }
    const onnxFile = join(dir, 'fmnist-cnn.onnx');
    writeFileSync(onnxFile, exportOnnx(loadModel(DENSE).model, { inputShape: [1, 28, 28] }).bytes);
    const acc = args.includes('--accuracy') ? accuracy(lutFile, Number(opt('--code-images')) || 512) : null;
    const rflags = relaxedFlags();
    const parts: PartResult[] = [];
    for (const t of threadList) {
      const p = child('plain', t, [], [lutFile, onnxFile]);
      if (!p) throw new Error(`the plain ${t}-thread part failed`);
      parts.push(p);
      if (rflags) {
        const r = child('relaxed', t, rflags, [lutFile, onnxFile]);
        if (r) parts.push(r);
      }
    }
    const rows = parts.flatMap((p) => p.batches.map((b) => {
      const ratios: Record<string, number> = {};
      for (const enc of ['f32', 'int8', 'wide']) {
        const lut = b.medianMs[`lutnn-lut-${enc}`];
        for (const peer of ['ort-node-fp32', 'ort-web-fp32', 'tfjs-wasm-fp32', 'lutnn-dense']) {
          if (b.medianMs[peer] !== undefined) ratios[`${peer} / lutnn-lut-${enc}`] = +(b.medianMs[peer] / lut).toFixed(2);
        }
      }
      ratios['lutnn-lut-f32-plain / lutnn-lut-f32'] = +(b.medianMs['lutnn-lut-f32-plain'] / b.medianMs['lutnn-lut-f32']).toFixed(2);
      return { simd: p.simd, threads: p.threads, batch: b.batch, medianMs: b.medianMs, ratios, profile: b.profile };
    }));
    const report = {
      benchmark: 'model',
      date: new Date().toISOString(),
      command: `node --import tsx bench/model.ts ${args.join(' ')}`.trim(),
      machine: machineInfo(),
      loadavg: loadavg().map((v) => +v.toFixed(2)),
      reps,
      relaxed: rflags ? (rflags.length ? `with ${rflags.join(' ')}` : 'yes') : 'not supported by this engine',
      lutModel: lutSource,
      peers: Object.assign({}, ...parts.map((p) => p.peers)),
      timing: 'median ms per call of the whole fmnist-cnn on real test images, Float32Array in, logits out. lutnn-dense: the dense '
        + 'model on lutnn\'s runtime; lutnn-lut-f32/int8/wide: the LUT model (conv2-4 and fc1 as LUT-NN layers) with the exact f32, '
        + 'the int8 or the wide encoder (f32: 3x3 convs on the certified encoder, f32-plain: without it, the same logits); ort-*: the dense model exported to ONNX; tfjs-wasm-fp32: the dense model rebuilt in tfjs. Ratios: peer ms / LUT ms (> 1: LUT faster), within one process.',
      rows,
      ...(acc ? { accuracy: acc } : {}),
    };
    if (json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return;
    }
    const mi = report.machine;
    console.log(`${mi.cpu}, ${mi.cores} cores, node ${mi.node}, load ${report.loadavg.join(' ')}, relaxed: ${report.relaxed}, medians of ${reps} (ms)`);
    console.log(`LUT model: ${lutSource}`);
    for (const r of rows) {
      console.log(`\n${r.simd} ${r.threads}T batch ${r.batch}: ${Object.entries(r.medianMs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join('  ')}`);
      for (const [k, v] of Object.entries(r.ratios)) console.log(`  ${k.padEnd(34)} ${v.toFixed(2)}x`);
      for (const [m, steps] of Object.entries(r.profile ?? {})) {
        console.log(`  profile ${m}: ${steps.filter((s) => s.ms >= 0.05).map((s) => `${s.step.split('+')[0]} ${s.ms.toFixed(2)}`).join(' | ')}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    log(`bench/model: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
