// Compiles assembly/ to build/kernels.wasm (SIMD) and build/kernels-relaxed.wasm (SIMD + relaxed SIMD).
// Both import one shared memory (env.memory) so worker threads can run the same kernels on the same buffers.
// build/kernels-single(-relaxed).wasm are the same code importing an unshared memory: the browser build uses
// them, single-threaded, on pages that are not cross-origin isolated (no SharedArrayBuffer there).
import asc from 'assemblyscript/asc';
import { mkdirSync, statSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'build');
mkdirSync(outDir, { recursive: true });

const sources = readdirSync(join(root, 'assembly')).filter((f) => f.endsWith('.ts'));
const newest = Math.max(...sources.map((f) => statSync(join(root, 'assembly', f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);

const variants = [
  { out: 'kernels.wasm', features: ['simd', 'threads'], relaxed: false },
  { out: 'kernels-relaxed.wasm', features: ['simd', 'threads', 'relaxed-simd'], relaxed: true },
  { out: 'kernels-single.wasm', features: ['simd', 'threads'], relaxed: false, unshared: true },
  { out: 'kernels-single-relaxed.wasm', features: ['simd', 'threads', 'relaxed-simd'], relaxed: true, unshared: true },
];

for (const v of variants) {
  const outFile = join(outDir, v.out);
  let fresh = false;
  try {
    fresh = statSync(outFile).mtimeMs > newest;
  } catch {
    fresh = false;
  }
  if (fresh && !process.argv.includes('--force')) continue;
  const args = [
    'assembly/index.ts',
    '--outFile', outFile,
    '--runtime', 'stub',
    '--importMemory',
    ...(v.unshared ? [] : ['--sharedMemory']),
    '--initialMemory', '32',
    '--maximumMemory', '65536',
    '--memoryBase', '1024',
    '-O3',
    '--noAssert',
    '--use', 'abort=',
    '--enable', v.features.join(','),
  ];
  const { error, stderr } = await asc.main(args, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    console.error(`build-wasm: ${v.out} failed: ${error.message}`);
    console.error(stderr.toString());
    process.exit(1);
  }
  console.log(`build-wasm: ${v.out} ${statSync(outFile).size} bytes`);
}
