// Builds the browser bundle with esbuild: dist-web/lutnn.js (ESM, minified), dist-web/lutnn-worker.js (the module
// worker entry), the chunk they share (lutnn-shared-<hash>.js) and copies of build/kernels*.wasm; prints raw and gzip sizes and writes them to dist-web/sizes.json.
// Node-only modules are swapped for browser stand-ins: src/backend/wasm.ts → src/web/wasm-host.ts (kernels fetched by
// URL) and src/backend/pool.ts → src/web/pool.ts (one thread); `process` is src/web/process-shim.ts. Any other node:*
// import reaching the bundle fails the build. Usage: node scripts/build-web.mjs [--json] [--no-minify]
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist-web');
const json = process.argv.includes('--json');
const minify = !process.argv.includes('--no-minify');
const log = (s) => (json ? process.stderr : process.stdout).write(`${s}\n`);

const WASM = ['kernels.wasm', 'kernels-relaxed.wasm', 'kernels-single.wasm', 'kernels-single-relaxed.wasm'];
const ALIASES = {
  [join(root, 'src/backend/wasm.ts')]: join(root, 'src/web/wasm-host.ts'),
  [join(root, 'src/backend/pool.ts')]: join(root, 'src/web/pool.ts'),
};

/** Resolves `.js` specifiers to the `.ts` sources (NodeNext style) and applies the browser aliases. */
const browserGraph = {
  name: 'lutnn-browser-graph',
  setup(build) {
    build.onResolve({ filter: /^node:|^(fs|path|url|os|worker_threads|crypto|zlib)$/ }, (args) => ({
      errors: [{ text: `${args.path} imported by ${args.importer.replace(root + '/', '')} would reach the browser bundle` }],
    }));
    build.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      const ts = join(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return { path: ALIASES[ts] ?? ts };
    });
  },
};

export async function buildWeb() {
  for (const f of WASM) {
    try {
      readFileSync(join(root, 'build', f));
    } catch {
      throw new Error(`build-web: build/${f} is missing; run npm run build:wasm first`);
    }
  }
  // Build into a fresh temporary folder, then swap it in, so a failed build leaves the old bundle intact.
  const tmp = `${outDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { lutnn: 'src/web/index.ts', 'lutnn-worker': 'src/web/worker.ts' },
    outdir: tmp,
    bundle: true,
    format: 'esm',
    // The code both entries share goes to one chunk, fetched once by the page and its worker.
    splitting: true,
    chunkNames: 'lutnn-shared-[hash]',
    platform: 'browser',
    target: ['es2022'],
    minify,
    // Error classes name themselves (this.name = new.target.name): keep class names through minification.
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    inject: [join(root, 'src/web/process-shim.ts')],
    plugins: [browserGraph],
    metafile: true,
    logLevel: 'silent',
  });
  for (const f of WASM) copyFileSync(join(root, 'build', f), join(tmp, f));
  const chunks = readdirSync(tmp).filter((f) => f.startsWith('lutnn-shared-') && f.endsWith('.js'));
  const files = ['lutnn.js', 'lutnn-worker.js', ...chunks, ...WASM];
  const sizes = {};
  for (const f of files) {
    const bytes = readFileSync(join(tmp, f));
    sizes[f] = { bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  }
  // What a cross-origin isolated page on a relaxed-SIMD engine downloads for loadInWorker: every .js file, one .wasm.
  const fetched = [...files.filter((f) => f.endsWith('.js')), 'kernels-relaxed.wasm'];
  const page = {
    files: fetched,
    bytes: fetched.reduce((a, f) => a + sizes[f].bytes, 0),
    gzip: fetched.reduce((a, f) => a + sizes[f].gzip, 0),
  };
  const report = { minify, files: sizes, loadInWorkerDownload: page, builtAt: new Date().toISOString() };
  writeFileSync(join(tmp, 'sizes.json'), `${JSON.stringify(report, null, 2)}\n`);
  rmSync(outDir, { recursive: true, force: true });
  renameSync(tmp, outDir);
  return { report, metafile: result.metafile };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const { report } = await buildWeb();
    if (json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      for (const [f, s] of Object.entries(report.files)) log(`build-web: dist-web/${f} ${s.bytes} bytes (${s.gzip} gzip)`);
      log(`build-web: loadInWorker downloads ${report.loadInWorkerDownload.bytes} bytes (${report.loadInWorkerDownload.gzip} gzip) with the relaxed build`);
    }
  } catch (e) {
    const errs = e.errors?.map((x) => `${x.location ? `${x.location.file}:${x.location.line}: ` : ''}${x.text}`).join('\n');
    process.stderr.write(`build-web: ${errs || e.message}\n`);
    process.exit(1);
  }
}
