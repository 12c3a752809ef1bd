// Layering: the inference runtime (src/runtime/index.ts) and the browser bundle's entries (src/web) import no training
// code — no nn/ modules, train/, optim/, autograd/, lut/ (the LUT training op and conversion), app/ or cli/ — checked
// on the files esbuild bundles from each entry (its metafile), without writing anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TRAINING = /^src\/(nn|train|optim|autograd|lut|app|cli)\//;

async function closure(entry: string, platform: 'node' | 'browser'): Promise<string[]> {
  const r = await esbuild.build({
    absWorkingDir: ROOT, entryPoints: [entry], bundle: true, write: false, metafile: true, platform, format: 'esm', logLevel: 'silent',
    external: ['node:*'], packages: 'external',
  });
  return Object.keys(r.metafile.inputs);
}

test('the runtime and the browser entries bundle no training code', async () => {
  for (const [entry, platform] of [['src/runtime/index.ts', 'node'], ['src/web/index.ts', 'browser'], ['src/web/worker.ts', 'browser']] as const) {
    const files = await closure(entry, platform);
    assert.ok(files.includes('src/runtime/plan.ts') && files.includes('src/runtime/steps-transformer.ts'), `${entry} bundles the runtime`);
    assert.deepEqual(files.filter((f) => TRAINING.test(f)), [], `${entry} reaches training code`);
  }
});
