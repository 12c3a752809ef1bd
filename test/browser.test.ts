// The browser bundle in headless Chromium: a LUT fmnist-cnn and a LUT vit-fm (attention graph; its training file and
// its deployment file), and PyTorch models imported from ONNX (a BatchNorm1d MLP, a MobileNet, nn.TransformerEncoder's
// layout, a BERT-style encoder of token ids and a mask), and a quantized fmnist-cnn (QConv / QLinear), run through
// loadInWorker and the in-thread load give the same logits, bit for bit, as the Node runtime on the same inputs (same
// kernels, same arithmetic).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { noGrad } from '../src/autograd/engine.js';
import { loadModel } from '../src/io/model-file.js';
import { serializeModel } from '../src/io/model-format.js';
import { serializeDeploy } from '../src/io/deploy-format.js';
import { loadSync, nodeHost } from '../src/runtime/node.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { lutFmnist } from './lut-models.js';
import { convertModel } from '../src/lut/convert.js';
import { importOnnxFile } from '../src/io/onnx-import-file.js';
import { quantizeModel } from '../src/quant/quantize.js';

const CHROMIUM = process.env.LUTNN_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist-web');
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set LUTNN_CHROMIUM)`;

const N = 20; // samples; the model's maxBatch is 8, so runs are chunked too
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html', '.json': 'application/json' };
const PAGE = '<!doctype html><meta charset="utf-8"><title>lutnn browser test</title><p>lutnn</p>';

let server: Server | undefined;
let browser: Browser | undefined;
let base = '';
let modelBytes: Uint8Array = new Uint8Array(0);
/** The trained vit-fm as LUT-NN (attention, LayerNorm, GELU, LUT Linears on [T, D] rows), its input and Node's logits. */
let vitBytes: Uint8Array = new Uint8Array(0);
/** Its deployment file (lutnn export --deploy). */
let vitDeployBytes: Uint8Array = new Uint8Array(0);
let vitInput: Float32Array = new Float32Array(0);
let vitLogits: Float32Array = new Float32Array(0);
/** The shipped fmnist-cnn quantized (int8 activations × int9 weights: QConv / QLinear) and Node's logits on `input`. */
let quantBytes: Uint8Array = new Uint8Array(0);
let quantLogits: Float32Array = new Float32Array(0);
let input: Float32Array = new Float32Array(0);
let nodeLogits: Float32Array = new Float32Array(0);
let variant = 'plain';
/** Imported ONNX fixtures (test/fixtures/onnx): model file, inputs (float32 or int32 arrays) and Node's logits. */
const imported = new Map<string, { bytes: Uint8Array; inputs: (Float32Array | Int32Array)[]; logits: Float32Array }>();
const IMPORTED = ['mlp', 'mobilenet', 'vit-torch', 'bert'];

/**
 * Serves dist-web, the page and the model under /coi/ (COOP/COEP: cross-origin isolated), /open/ (no headers) and
 * /csp/ (isolated, with a Content-Security-Policy that allows workers from 'self' only: no blob: worker threads).
 */
function serve(): Promise<string> {
  const s = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, scope, ...rest] = url.pathname.split('/');
    const file = rest.join('/');
    if (scope !== 'coi' && scope !== 'open' && scope !== 'csp') return void res.writeHead(404).end();
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (scope !== 'open') Object.assign(headers, { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
    if (scope === 'csp') headers['Content-Security-Policy'] = "worker-src 'self'";
    let body: Uint8Array | string;
    if (file === '' || file === 'index.html') body = PAGE;
    else if (file === 'model.safetensors') body = modelBytes;
    else if (file === 'vit.safetensors') body = vitBytes;
    else if (file === 'quant.safetensors') body = quantBytes;
    else if (file === 'vit.lutnn.safetensors') body = vitDeployBytes;
    else if (file.startsWith('imported-') && imported.has(file.slice(9, -12))) body = imported.get(file.slice(9, -12))!.bytes;
    else {
      const p = normalize(join(DIST, file));
      if (!p.startsWith(DIST + '/') || !existsSync(p)) return void res.writeHead(404, headers).end();
      body = readFileSync(p);
    }
    headers['Content-Type'] = file === '' ? 'text/html' : (TYPES[extname(file)] ?? 'application/octet-stream');
    res.writeHead(200, headers).end(body);
  });
  server = s;
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(s.address() as AddressInfo).port}`)));
}

before(async () => {
  if (skip) return;
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs'), '--json'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `build-web failed: ${built.stderr}`);
  const sizes = JSON.parse(built.stdout) as { files: Record<string, { bytes: number; gzip: number }> };
  assert.ok(sizes.files['lutnn.js'].bytes > 0 && sizes.files['lutnn-worker.js'].bytes > 0);

  // A LUT fmnist-cnn: the shipped dense model converted quickly (k-means on random calibration images, no refit).
  const rng = new Rng(7);
  const { model: dense, meta } = loadModel(join(ROOT, 'models/fmnist-cnn.safetensors'));
  const model = lutFmnist(dense, [randn([16, 1, 28, 28], 1, rng)], { seed: 1, kmeansIters: 3, maxRows: 2048 });
  modelBytes = serializeModel(model, { dataset: meta.dataset, info: { test: 'browser' } });
  input = noGrad(() => randn([N, 1, 28, 28], 1, rng)).f32.slice();
  const rt = loadSync(modelBytes, { maxBatch: 8 });
  assert.ok(rt.lutEngine.startsWith('wasm'), `Node runs the LUT layers on ${rt.lutEngine}`);
  nodeLogits = rt.run(input);
  rt.dispose();
  variant = nodeHost().rt.variant;

  // The shipped fmnist-cnn quantized on random calibration images (int8 × int9, BN folded into the output scales).
  const { model: quant } = quantizeModel(dense, [randn([8, 1, 28, 28], 1, new Rng(9))]);
  quantBytes = serializeModel(quant, { dataset: meta.dataset, info: { test: 'browser' } });
  const qrt = loadSync(quantBytes, { maxBatch: 8 });
  assert.ok(qrt.ops.some((o) => o.kind === 'qconv') && qrt.ops.some((o) => o.kind === 'qlinear'));
  quantLogits = qrt.run(input);
  qrt.dispose();

  // vit-fm: the shipped dense model converted (k-means on random images, no refit): every Linear but the head is LUT-NN.
  const { model: vit, meta: vitMeta } = loadModel(join(ROOT, 'models/vit-fm.safetensors'));
  const { model: vitLut } = convertModel(vit, [randn([8, 1, 28, 28], 1, rng)], { seed: 2, kmeansIters: 3, maxRows: 2048, refit: false });
  vitBytes = serializeModel(vitLut, { dataset: vitMeta.dataset, info: { test: 'browser' } });
  vitDeployBytes = serializeDeploy({ graph: vitLut.graph, weights: new Map(vitLut.namedWeights()) }, { dataset: vitMeta.dataset }).bytes;
  vitInput = noGrad(() => randn([6, 1, 28, 28], 1, rng)).f32.slice();
  const vrt = loadSync(vitBytes, { maxBatch: 4 });
  assert.equal(vrt.ops.filter((o) => o.kind === 'lutLinear').length, 24);
  vitLogits = vrt.run(vitInput);
  vrt.dispose();

  // The imported fixtures, as `lutnn import` writes them, run in Node on their reference inputs.
  const fixtures = join(ROOT, 'test/fixtures/onnx');
  const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { name: string; opset: number; file: string; inputs: { file: string; dtype: string }[] }[];
  for (const name of IMPORTED) {
    const e = manifest.find((m) => m.name === name && m.opset === 17)!;
    const { model } = importOnnxFile(join(fixtures, e.file));
    const bytes = serializeModel(model, { info: { test: 'browser' } });
    const inputs = e.inputs.map((i) => {
      const b = readFileSync(join(fixtures, i.file));
      const buf = b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
      return i.dtype === 'int64' ? Int32Array.from(new BigInt64Array(buf), (v) => Number(v)) : new Float32Array(buf);
    });
    const irt = loadSync(bytes, { maxBatch: 2 });
    imported.set(name, { bytes, inputs, logits: irt.run(inputs.length === 1 ? inputs[0] : inputs) });
    irt.dispose();
  }

  base = await serve();
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

async function openPage(scope: 'coi' | 'open' | 'csp'): Promise<Page> {
  const page = await browser!.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/${scope}/index.html`);
  assert.deepEqual(errors, []);
  return page;
}

interface PageResult {
  coi: boolean;
  worker: number[];
  workerChunks: number[];
  direct: number[];
  workerKernels: { variant: string; shared: boolean; url: string };
  directKernels: { variant: string; shared: boolean; url: string };
  lutEngine: string;
  errors: { name: string; message: string }[];
}

/** In the page: the worker API (whole batch and one sample at a time), bad inputs, then the in-thread load. */
async function runInPage(page: Page, simd: string): Promise<PageResult> {
  return page.evaluate(
    async ({ simd, input, N }) => {
      const lutnn = await import(new URL('./lutnn.js', location.href).href);
      const x = new Float32Array(input);
      const m = await lutnn.loadInWorker('model.safetensors', { simd, maxBatch: 8 });
      const worker = await m.run(x);
      const size = x.length / N;
      const parts = await Promise.all(Array.from({ length: N }, (_, i) => m.run(x.slice(i * size, (i + 1) * size), { transfer: true })));
      const errors: { name: string; message: string }[] = [];
      for (const bad of [new Float32Array(size + 1), new Float32Array(size).fill(NaN)]) {
        try {
          await m.run(bad);
          errors.push({ name: 'none', message: 'no error' });
        } catch (e) {
          errors.push({ name: (e as Error).name, message: (e as Error).message });
        }
      }
      await m.dispose();
      const d = await lutnn.load('model.safetensors', { simd, maxBatch: 8 });
      const direct = d.run(x);
      d.dispose();
      return {
        coi: crossOriginIsolated,
        worker: Array.from(worker as Float32Array),
        workerChunks: parts.flatMap((p: Float32Array) => Array.from(p)),
        direct: Array.from(direct as Float32Array),
        workerKernels: m.kernels,
        directKernels: lutnn.kernelInfo(),
        lutEngine: m.lutEngine,
        errors,
      };
    },
    { simd, input: Array.from(input), N },
  );
}

/** Bitwise equality of float32 logits (the browser runs the same kernels in the same order: nothing to tolerate). */
function assertSame(got: number[], what: string, want: Float32Array = nodeLogits): void {
  assert.equal(got.length, want.length, `${what}: ${got.length} logits vs ${want.length}`);
  const g = Float32Array.from(got);
  const a = new Uint32Array(g.buffer);
  const b = new Uint32Array(want.buffer, want.byteOffset, want.length);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  assert.equal(bad, 0, `${what}: ${bad} of ${a.length} logits differ from Node's; first at ${first}: ${g[first]} vs ${want[first]}`);
}

test('browser bundle: cross-origin isolated page, worker and in-thread load match Node bit for bit', { skip, timeout: 60_000 }, async () => {
  const page = await openPage('coi');
  try {
    const r = await runInPage(page, variant);
    assert.equal(r.coi, true);
    assert.equal(r.workerKernels.shared, true);
    assert.equal(r.workerKernels.variant, variant);
    assert.ok(r.workerKernels.url.endsWith(variant === 'relaxed' ? '/kernels-relaxed.wasm' : '/kernels.wasm'), r.workerKernels.url);
    assert.ok(r.lutEngine.startsWith('wasm'), r.lutEngine);
    assertSame(r.worker, 'loadInWorker');
    assertSame(r.workerChunks, 'loadInWorker, one sample per run');
    assertSame(r.direct, 'load (in-thread)');
    assert.equal(r.errors[0].name, 'ShapeError', r.errors[0].message);
    assert.match(r.errors[0].message, /not a multiple of the sample size 784/);
    assert.equal(r.errors[1].name, 'NonFiniteError', r.errors[1].message);
  } finally {
    await page.close();
  }
});

test('browser bundle: Web Worker threads over the shared memory take part and keep the logits bit for bit', { skip, timeout: 60_000 }, async () => {
  for (const scope of ['coi', 'open', 'csp'] as const) {
    const page = await openPage(scope);
    try {
      const r = await page.evaluate(
        async ({ simd, input }) => {
          const lutnn = await import(new URL('./lutnn.js', location.href).href);
          const x = new Float32Array(input);
          const m = await lutnn.loadInWorker('model.safetensors', { simd, maxBatch: 8, threads: 2 });
          await m.taskCounts(); // reset
          let out: Float32Array = new Float32Array(0);
          for (let i = 0; i < 6; i++) out = await m.run(x);
          const counts: number[] = await m.taskCounts();
          const threads: number = m.kernels.threads;
          await m.dispose();
          const one = await lutnn.loadInWorker('model.safetensors', { simd, maxBatch: 8, threads: 1 });
          const oneThreads: number = one.kernels.threads;
          const single: Float32Array = await one.run(x);
          await one.dispose();
          let mainThread = 'no error';
          try {
            await lutnn.load('model.safetensors', { simd, threads: 2 });
          } catch (e) {
            mainThread = `${(e as Error).name}: ${(e as Error).message}`;
          }
          return { out: Array.from(out), single: Array.from(single), counts, threads, oneThreads, mainThread };
        },
        { simd: variant, input: Array.from(input) },
      );
      assertSame(r.out, `${scope}: 2 threads`);
      assertSame(r.single, `${scope}: 1 thread`);
      assert.equal(r.oneThreads, 1);
      if (scope === 'coi') {
        assert.equal(r.threads, 2);
        assert.ok(r.counts.length >= 2 && r.counts[0] > 0 && r.counts[1] > 0, `tasks per thread: ${r.counts.join(', ')}`);
      } else {
        // 'open': no shared memory; 'csp': the policy stops the blob: worker threads, so the model runs on one.
        assert.equal(r.threads, 1, `${scope}: one thread`);
        assert.ok(r.counts.slice(1).every((c) => c === 0), `tasks per thread: ${r.counts.join(', ')}`);
      }
      assert.match(r.mainThread, /^ArgumentError: setNumThreads: 2 threads need a worker/);
    } finally {
      await page.close();
    }
  }
});

test('browser bundle: page without COOP/COEP uses the unshared build, same logits', { skip, timeout: 60_000 }, async () => {
  const page = await openPage('open');
  try {
    const r = await runInPage(page, variant);
    assert.equal(r.coi, false);
    assert.equal(r.workerKernels.shared, false);
    assert.equal(r.directKernels.shared, false);
    assert.ok(r.directKernels.url.includes('/kernels-single'), r.directKernels.url);
    assertSame(r.worker, 'loadInWorker (unshared)');
    assertSame(r.direct, 'load (unshared, in-thread)');
    // Asking for shared memory here is a clear error, not a crash.
    const err = await page.evaluate(async () => {
      const lutnn = await import(new URL('./lutnn.js', location.href).href);
      try {
        await lutnn.loadInWorker('model.safetensors', { memory: 'shared' });
        return 'no error';
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    });
    assert.match(err, /^BackendError: .*cross-origin isolated/);
  } finally {
    await page.close();
  }
});

test('browser bundle: the relaxed-SIMD build matches Node running the relaxed build', { skip, timeout: 60_000 }, async (t) => {
  // Node 20 needs --experimental-wasm-relaxed-simd; a child process runs the same model file and inputs with it.
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-browser-'));
  let want: Float32Array;
  try {
    writeFileSync(join(dir, 'model.safetensors'), modelBytes);
    writeFileSync(join(dir, 'input.bin'), input);
    const child = spawnSync(
      process.execPath,
      ['--experimental-wasm-relaxed-simd', '--import', 'tsx', join(ROOT, 'test/fixtures/run-model.ts'), join(dir, 'model.safetensors'), join(dir, 'input.bin'), '8'],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LUTNN_SIMD: 'relaxed' } },
    );
    if (child.status !== 0 && /rejects relaxed SIMD/.test(child.stderr)) return t.skip('this Node cannot run the relaxed build');
    assert.equal(child.status, 0, child.stderr);
    const out = JSON.parse(child.stdout) as { variant: string; logits: string };
    assert.equal(out.variant, 'relaxed');
    const b = Buffer.from(out.logits, 'base64');
    want = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const page = await openPage('coi');
  try {
    const relaxed = await page.evaluate(async () => (await import(new URL('./lutnn.js', location.href).href)).relaxedSimdSupported());
    if (!relaxed) return t.skip('this Chromium rejects relaxed SIMD');
    const r = await runInPage(page, 'relaxed');
    assert.equal(r.workerKernels.variant, 'relaxed');
    assert.ok(r.workerKernels.url.endsWith('/kernels-relaxed.wasm'), r.workerKernels.url);
    // Relaxed SIMD lets engines choose fused or unfused multiply-adds; Node's V8 and Chromium's pick the same here.
    assertSame(r.worker, 'loadInWorker (relaxed)', want);
    assertSame(r.direct, 'load (relaxed, in-thread)', want);
  } finally {
    await page.close();
  }
});

test('browser bundle: a LUT-NN vit-fm (attention, LayerNorm, GELU, LUT Linears on token rows; training and deployment file) matches Node bit for bit, 1 and 2 threads', { skip, timeout: 60_000 }, async () => {
  const page = await openPage('coi');
  try {
    const r = await page.evaluate(
      async ({ simd, input }) => {
        const lutnn = await import(new URL('./lutnn.js', location.href).href);
        const x = new Float32Array(input);
        const out: number[][] = [];
        for (const threads of [1, 2]) {
          const m = await lutnn.loadInWorker('vit.safetensors', { simd, maxBatch: 4, threads });
          out.push(Array.from((await m.run(x)) as Float32Array));
          await m.dispose();
        }
        const d = await lutnn.load('vit.safetensors', { simd, maxBatch: 4 });
        out.push(Array.from(d.run(x) as Float32Array));
        d.dispose();
        const w = await lutnn.loadInWorker('vit.lutnn.safetensors', { simd, maxBatch: 4, threads: 2 });
        out.push(Array.from((await w.run(x)) as Float32Array));
        await w.dispose();
        const e = await lutnn.load('vit.lutnn.safetensors', { simd, maxBatch: 4 });
        out.push(Array.from(e.run(x) as Float32Array));
        e.dispose();
        return out;
      },
      { simd: variant, input: Array.from(vitInput) },
    );
    assertSame(r[0], 'vit-fm LUT, loadInWorker, 1 thread', vitLogits);
    assertSame(r[1], 'vit-fm LUT, loadInWorker, 2 threads', vitLogits);
    assertSame(r[2], 'vit-fm LUT, load (in-thread)', vitLogits);
    assertSame(r[3], 'vit-fm LUT deployment file, loadInWorker, 2 threads', vitLogits);
    assertSame(r[4], 'vit-fm LUT deployment file, load (in-thread)', vitLogits);
  } finally {
    await page.close();
  }
});

test('browser bundle: PyTorch models imported from ONNX (BatchNorm1d MLP, MobileNet, nn.TransformerEncoder layout, BERT with int32 ids and mask) match Node bit for bit', { skip, timeout: 60_000 }, async () => {
  const page = await openPage('coi');
  try {
    const cases = IMPORTED.map((name) => ({ name, inputs: imported.get(name)!.inputs.map((a) => ({ int: a instanceof Int32Array, values: Array.from(a) })) }));
    const r = await page.evaluate(
      async ({ simd, cases }) => {
        const lutnn = await import(new URL('./lutnn.js', location.href).href);
        const out: Record<string, { worker: number[]; direct: number[]; inputs: string[] }> = {};
        for (const c of cases) {
          const xs = c.inputs.map((i) => (i.int ? Int32Array.from(i.values) : Float32Array.from(i.values)));
          const arg = xs.length === 1 ? xs[0] : xs;
          const w = await lutnn.loadInWorker(`imported-${c.name}.safetensors`, { simd, maxBatch: 2, threads: 2 });
          const worker = Array.from((await w.run(arg)) as Float32Array);
          const inputs = (w.inputs as { name: string; dtype: string }[]).map((i) => `${i.name} ${i.dtype}`);
          await w.dispose();
          const d = await lutnn.load(`imported-${c.name}.safetensors`, { simd, maxBatch: 2 });
          const direct = Array.from(d.run(arg) as Float32Array);
          d.dispose();
          out[c.name] = { worker, direct, inputs };
        }
        return out;
      },
      { simd: variant, cases },
    );
    assert.deepEqual(r.bert.inputs, ['input_ids int32', 'attention_mask int32']);
    for (const name of IMPORTED) {
      assertSame(r[name].worker, `imported ${name}, loadInWorker, 2 threads`, imported.get(name)!.logits);
      assertSame(r[name].direct, `imported ${name}, load (in-thread)`, imported.get(name)!.logits);
    }
  } finally {
    await page.close();
  }
});

test('browser bundle: a quantized fmnist-cnn (QConv / QLinear, int16 dot products) matches Node bit for bit, worker and in-thread', { skip, timeout: 60_000 }, async () => {
  const page = await openPage('coi');
  try {
    const r = await page.evaluate(
      async ({ simd, input }) => {
        const lutnn = await import(new URL('./lutnn.js', location.href).href);
        const x = new Float32Array(input);
        const w = await lutnn.loadInWorker('quant.safetensors', { simd, maxBatch: 8, threads: 2 });
        const worker = Array.from((await w.run(x)) as Float32Array);
        await w.dispose();
        const d = await lutnn.load('quant.safetensors', { simd, maxBatch: 8 });
        const direct = Array.from(d.run(x) as Float32Array);
        d.dispose();
        return { worker, direct };
      },
      { simd: variant, input: Array.from(input) },
    );
    assertSame(r.worker, 'quantized fmnist-cnn, loadInWorker', quantLogits);
    assertSame(r.direct, 'quantized fmnist-cnn, load (in-thread)', quantLogits);
  } finally {
    await page.close();
  }
});
