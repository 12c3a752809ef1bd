// The browser bundle in headless Chromium: a LUT model through loadInWorker on 1 and 2 threads (Web Workers over the shared memory).
// Usage: node --import tsx bench/browser.ts --lut model.safetensors [--reps N] [--batch N] [--json]
// Builds dist-web (scripts/build-web.mjs), serves it cross-origin isolated (COOP/COEP) on 127.0.0.1, and in the page
// loads the model twice with loadInWorker ({ threads: 1 } and { threads: 2 }), checks both give the same logits, then
// times run() on the first --batch real test images (default 64), interleaved after two warm-up rounds, medians.
// Needs Debian's chromium (or LUTNN_CHROMIUM). --json fields: benchmark ("browser"), date, machine, loadavg, chromium,
// kernels { variant, shared, url, threads } per thread count, batch, reps, lutModel, medianMs { "threads-1", "threads-2" },
// ratio ("threads-1 / threads-2"), taskCounts (per thread, of the 2-thread model over the timed runs).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from '../src/cli/common.js';
import { NORMALIZATION } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/loader.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const reps = Number(opt('--reps')) || 15;
const batch = Number(opt('--batch')) || 64;
const lutFile = opt('--lut');
const log = (s: string): void => void process.stderr.write(s + '\n');
const CHROMIUM = process.env.LUTNN_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist-web');
if (!lutFile) {
  log('bench/browser: --lut model.safetensors is required');
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  log(`bench/browser: no Chromium at ${CHROMIUM} (apt-get install chromium, or set LUTNN_CHROMIUM)`);
  process.exit(1);
}

async function main(): Promise<void> {
  const built = spawnSync(process.execPath, [join(ROOT, 'scripts/build-web.mjs'), '--json'], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`build-web failed: ${built.stderr}`);
  const model = readFileSync(lutFile!);
  const test = loadDataset({ name: 'fashion-mnist' }).test;
  const { mean, std } = NORMALIZATION['fashion-mnist'];
  const x = Array.from({ length: batch * 784 }, (_, i) => (test.images[i] / 255 - mean) / std);
  const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer((req, res) => {
    const file = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
    const headers: Record<string, string> = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
    if (file === '' || file === 'index.html') return void res.writeHead(200, { ...headers, 'Content-Type': 'text/html' }).end('<!doctype html><title>lutnn bench</title>');
    if (file === 'model.safetensors') return void res.writeHead(200, headers).end(model);
    const p = normalize(join(DIST, file));
    if (!p.startsWith(DIST + '/') || !existsSync(p)) return void res.writeHead(404).end();
    res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(p)] ?? 'application/octet-stream' }).end(readFileSync(p));
  });
  const base = await new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.goto(`${base}/index.html`);
    log(`bench/browser: ${reps} interleaved repetitions of batch ${batch} ...`);
    const r = await page.evaluate(async ({ input, batch, reps }) => {
      const lutnn = await import(new URL('./lutnn.js', location.href).href);
      const xs = new Float32Array(input);
      const models = { 'threads-1': await lutnn.loadInWorker('model.safetensors', { maxBatch: batch, threads: 1 }), 'threads-2': await lutnn.loadInWorker('model.safetensors', { maxBatch: batch, threads: 2 }) };
      const a: Float32Array = await models['threads-1'].run(xs);
      const b: Float32Array = await models['threads-2'].run(xs);
      const same = a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
      const t: Record<string, number[]> = { 'threads-1': [], 'threads-2': [] };
      const names = Object.keys(models) as (keyof typeof models)[];
      for (let i = 0; i < reps + 2; i++) {
        if (i === 2) await models['threads-2'].taskCounts();
        for (const name of i % 2 ? names.slice().reverse() : names) {
          const t0 = performance.now();
          await models[name].run(xs);
          if (i >= 2) t[name].push(performance.now() - t0);
        }
      }
      const counts: number[] = await models['threads-2'].taskCounts();
      const kernels = { 'threads-1': models['threads-1'].kernels, 'threads-2': models['threads-2'].kernels };
      for (const m of Object.values(models)) await m.dispose();
      return { same, t, counts, kernels, ua: navigator.userAgent };
    }, { input: x, batch, reps });
    if (!r.same) throw new Error('the 1- and 2-thread models gave different logits');
    const med = (v: number[]): number => v.slice().sort((p, q) => p - q)[v.length >> 1];
    const medianMs = { 'threads-1': +med(r.t['threads-1']).toFixed(2), 'threads-2': +med(r.t['threads-2']).toFixed(2) };
    const report = {
      benchmark: 'browser', date: new Date().toISOString(), machine: machineInfo(), loadavg: loadavg().map((v) => +v.toFixed(2)),
      chromium: r.ua, kernels: r.kernels, batch, reps, lutModel: lutFile, medianMs,
      ratio: { 'threads-1 / threads-2': +(medianMs['threads-1'] / medianMs['threads-2']).toFixed(2) }, taskCounts: r.counts,
    };
    if (json) console.log(JSON.stringify(report));
    else {
      log(`${r.ua}`);
      log(`kernels: ${JSON.stringify(r.kernels)}`);
      log(`batch ${batch}, medians of ${reps}: 1 thread ${medianMs['threads-1']} ms, 2 threads ${medianMs['threads-2']} ms (x${report.ratio['threads-1 / threads-2']}); tasks per thread ${r.counts.join(', ')}`);
    }
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e: unknown) => {
  log(`bench/browser: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
