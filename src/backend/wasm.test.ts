// Loading, layout check, arena, thread setting and backend selection of the wasm runtime (some in child processes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BackendError, ArgumentError } from '../errors.js';
import { checkLayout, LAYOUT } from './layout.js';
import { setNumThreads } from './pool.js';
import { wasmRuntime } from './wasm.js';

const rt = wasmRuntime() ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');

interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs an ES module snippet (through tsx) in a fresh node with the given env and flags. */
function child(code: string, env: Record<string, string>, flags: string[] = []): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...flags, '--import', 'tsx', '--input-type=module', '-e', code],
      { env: { ...process.env, LUTNN_BACKEND: '', LUTNN_SIMD: '', LUTNN_THREADS: '', ...env }, timeout: 60000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

const BACKEND = new URL('./index.ts', import.meta.url).href;

test('the kernels load, match the layout mirror and keep static data below the control block', () => {
  assert.ok(rt.ex.heapBase() <= LAYOUT.CTRL);
  assert.ok(['plain', 'relaxed'].includes(rt.variant));
  assert.match(rt.path, /build[\\/]kernels(-relaxed)?\.wasm$/);
  // Instantiating on the shared memory (as every worker does) must not write anything: no data segments.
  const probe = rt.scoped(() => {
    const p = rt.arena.alloc(4096);
    rt.f32(p, 1024).fill(1.5);
    return p;
  });
  const ctl = new Int32Array(rt.memory.buffer, LAYOUT.CTRL, (LAYOUT.ARENA - LAYOUT.CTRL) / 4).slice();
  const fake = new WebAssembly.Instance(rt.module, { env: { memory: rt.memory } }).exports;
  assert.ok(rt.f32(probe, 1024).every((v) => v === 1.5));
  assert.deepEqual(new Int32Array(rt.memory.buffer, LAYOUT.CTRL, (LAYOUT.ARENA - LAYOUT.CTRL) / 4), ctl);
  assert.doesNotThrow(() => checkLayout(fake));
  assert.throws(() => checkLayout({ ...fake, CONV: new WebAssembly.Global({ value: 'i32' }, 600) }),
    (e: Error) => e instanceof BackendError && e.message === 'wasm: layout CONV is 600 in the kernels but 512 in src/backend/layout.ts');
  assert.throws(() => checkLayout({ ...fake, G_PB: undefined as unknown as WebAssembly.Global }),
    (e: Error) => e instanceof BackendError && /kernels export no global G_PB/.test(e.message));
  // Tile sizes come from the kernels themselves.
  assert.equal(rt.tiles.mr, (fake.MR as WebAssembly.Global).value);
  assert.equal(rt.tiles.nr, (fake.NR as WebAssembly.Global).value);
});

test('the arena aligns, grows the memory, releases in scoped() and reports out-of-memory clearly', () => {
  const before = rt.arena.mark();
  const grown = rt.scoped(() => {
    const a = rt.arena.alloc(3);
    const b = rt.arena.alloc(100 << 20);
    assert.equal(a % 64, 0);
    assert.equal(b % 64, 0);
    assert.ok(b >= a + 3);
    rt.f32(b, 25 << 20).fill(1);
    return rt.memory.buffer.byteLength;
  });
  assert.ok(grown >= 100 << 20);
  assert.equal(rt.arena.mark(), before);
  assert.throws(() => rt.scoped(() => rt.arena.alloc(5 * 2 ** 30)), (e: Error) => e instanceof BackendError && /out of memory/.test(e.message));
  assert.equal(rt.arena.mark(), before);
});

test('setNumThreads rejects counts outside [1, 64]', () => {
  for (const bad of [0, -1, 1.5, 65, NaN]) {
    assert.throws(() => setNumThreads(bad), (e: Error) => e instanceof ArgumentError && e.message.startsWith('setNumThreads: expected an integer in [1, 64]'));
  }
});

test('backend selection: env overrides, relaxed fallback with a warning, bad settings, exit with live workers', async () => {
  const relaxedOk = WebAssembly.validate(readFileSync(new URL('../../build/kernels-relaxed.wasm', import.meta.url)));
  const show = `import { getBackend } from '${BACKEND}'; console.log(getBackend().name);`;
  const threaded = `import { getBackend } from '${BACKEND}';
    const n = 256, a = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
    getBackend().gemm(a, a, c, n, n, n, false, false, false); console.log(getBackend().name, c[0]);`;
  const [ref, forcedRelaxed, badBackend, badThreads, exits] = await Promise.all([
    child(show, { LUTNN_BACKEND: 'reference' }),
    child(show, { LUTNN_SIMD: 'relaxed' }),
    child(show, { LUTNN_BACKEND: 'gpu' }),
    child(show, { LUTNN_THREADS: 'many' }),
    child(threaded, { LUTNN_THREADS: '2' }),
  ]);
  assert.equal(ref.stdout.trim(), 'reference');
  if (relaxedOk) {
    assert.equal(forcedRelaxed.stdout.trim(), 'wasm');
  } else {
    assert.equal(forcedRelaxed.stdout.trim(), 'reference');
    assert.match(forcedRelaxed.stderr, /^lutnn: wasm: LUTNN_SIMD=relaxed but this engine rejects relaxed SIMD .*; using the reference backend\n$/);
  }
  assert.notEqual(badBackend.code, 0);
  assert.match(badBackend.stderr, /LUTNN_BACKEND: expected reference or wasm, got gpu/);
  assert.notEqual(badThreads.code, 0);
  assert.match(badThreads.stderr, /LUTNN_THREADS: expected an integer in \[1, 64\], got many/);
  assert.equal(exits.code, 0, exits.stderr);
  assert.equal(exits.stdout.trim(), 'wasm 256');
});

test('the relaxed-SIMD build passes the kernel tests where the engine accepts it', { timeout: 120000 }, async () => {
  const flag = '--experimental-wasm-relaxed-simd';
  const probe = await child(`console.log(WebAssembly.validate(new Uint8Array([0,97,115,109,1,0,0,0])))`, {}, [flag]);
  if (probe.code !== 0) return; // this node does not know the flag (relaxed SIMD is then on by default or absent)
  const files = ['gemm', 'conv', 'elementwise'].map((f) => new URL(`./${f}.test.ts`, import.meta.url).pathname);
  // A nested runner must not inherit NODE_TEST_CONTEXT, or it reports to us in the runner's wire format.
  const env: NodeJS.ProcessEnv = { ...process.env, LUTNN_SIMD: 'relaxed' };
  delete env.NODE_TEST_CONTEXT;
  const r = await new Promise<ChildResult>((resolve) => {
    execFile(process.execPath, [flag, '--import', 'tsx', '--test', ...files], { env, timeout: 110000 },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr.slice(-2000));
  assert.match(r.stdout, /# pass [1-9]\d*\n# fail 0/);
});
