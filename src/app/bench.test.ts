// Tests of `lutnn bench` (src/app/bench.ts, src/cli/bench.ts) on a small LUT model: the report's structure, positive
// finite figures, absent and skipped baselines reported as such, --json printing one object. No timing is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../io/model-file.js';
import { convertModel } from '../lut/convert.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { findPackage, runBench, type BenchReport } from './bench.js';
import { formatBench } from '../cli/bench.js';

/** A dense CNN on 1×8×8 inputs and its LUT-NN conversion (conv2 and fc1), saved under `dir`. */
function models(dir: string): { dense: string; lut: string } {
  const rng = new Rng(3);
  const dense = lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })], ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 4, 3, { padding: 1, rng })], ['relu2', new ReLU()],
    ['flatten', new Flatten(1)], ['fc1', new Linear(4 * 8 * 8, 32, { rng })], ['relu3', new ReLU()],
    ['fc2', new Linear(32, 3, { rng })],
  ]), { inputShape: [1, 8, 8] });
  const { model: lut } = convertModel(dense, [randn([16, 1, 8, 8], 1, rng)], { k: 16, seed: 1, kmeansIters: 2 });
  const paths = { dense: join(dir, 'dense.safetensors'), lut: join(dir, 'lut.safetensors') };
  saveModel(paths.dense, dense, {});
  saveModel(paths.lut, lut, {});
  return paths;
}

const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

function checkRows(r: BenchReport, runners: { runner: string; role: string; simd: string | null }[]): void {
  for (const t of r.threads) {
    for (const batch of r.batches) {
      for (const want of runners) {
        const rows = r.rows.filter((x) => x.runner === want.runner && x.role === want.role && x.simd === want.simd && x.threads === t && x.batch === batch);
        assert.equal(rows.length, 1, `one row for ${JSON.stringify(want)} at ${t} threads, batch ${batch}`);
        const [x] = rows;
        assert.ok(positive(x.medianMs) && positive(x.minMs) && positive(x.throughput), JSON.stringify(x));
        assert.ok(x.minMs <= x.medianMs);
        assert.ok(Math.abs(x.throughput - (batch * 1000) / x.medianMs) <= 0.05 + 1e-3 * x.throughput, 'throughput = batch / median');
        assert.equal(x.repeats, r.repeats);
      }
    }
  }
  assert.equal(r.rows.length, runners.length * r.threads.length * r.batches.length, 'no other rows');
}

test('runBench: lutnn rows per SIMD build, thread count and batch beside --dense and onnxruntime-node; a missing peer is reported absent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-bench-'));
  try {
    const p = models(dir);
    const stages = new Set<string>();
    const r = await runBench({
      model: p.lut, dense: p.dense, batches: [1, 3], threads: [1], repeats: 2, warmup: 1,
      baselines: { onnxruntimeWeb: 'onnxruntime-web-not-installed-for-this-test' },
      onProgress: (s, d, t) => {
        stages.add(s);
        assert.ok(d >= 0 && d <= t, `${s} ${d}/${t}`);
      },
    });
    assert.equal(r.command, 'bench');
    assert.equal(r.model.path, p.lut);
    assert.equal(r.model.kind, 'lut-nn');
    assert.equal(r.dense?.kind, 'dense');
    assert.deepEqual(r.inputShape, [1, 8, 8]);
    assert.deepEqual([r.batches, r.threads, r.repeats, r.warmup, r.encoder], [[1, 3], [1], 2, 1, 'f32']);
    assert.deepEqual(r.baselines['onnxruntime-web'].available, false);
    assert.match(r.baselines['onnxruntime-web'].reason!, /^not installed \(onnxruntime-web-not-installed-for-this-test is a dev dependency/);
    assert.equal(r.baselines['onnxruntime-node'].available, true, 'onnxruntime-node is a dev dependency of this repository');
    assert.match(r.baselines['onnxruntime-node'].version!, /^\d+\.\d+\.\d+/);
    const runners = [
      { runner: 'lutnn', role: 'model', simd: 'plain' }, { runner: 'lutnn', role: 'dense', simd: 'plain' },
      { runner: 'onnxruntime-node', role: 'model', simd: null }, { runner: 'onnxruntime-node', role: 'dense', simd: null },
    ];
    if (r.simd.relaxed.available) runners.push({ runner: 'lutnn', role: 'model', simd: 'relaxed' }, { runner: 'lutnn', role: 'dense', simd: 'relaxed' });
    else assert.ok(r.simd.relaxed.reason, 'an unavailable relaxed build says why');
    checkRows(r, runners);
    assert.deepEqual(Object.keys(r.errors), []);
    // The peer computes what lutnn computes.
    assert.ok(r.agreement['onnxruntime-node:model'] < 1e-3 && r.agreement['onnxruntime-node:dense'] < 1e-5, JSON.stringify(r.agreement));
    for (const c of r.comparisons) {
      assert.ok(positive(c.modelMs));
      const want = ['lutnn:dense', ...(c.simd === 'plain' ? ['onnxruntime-node:model', 'onnxruntime-node:dense'] : ['lutnn:model@plain'])];
      assert.deepEqual(Object.keys(c.speedup).sort(), want.sort());
      for (const v of Object.values(c.speedup)) assert.ok(positive(v));
    }
    assert.equal(r.comparisons.length, (r.simd.relaxed.available ? 2 : 1) * r.batches.length);
    assert.ok(r.machine.cores >= 1 && r.machine.cpu.length > 0 && r.machine.node === process.version);
    assert.ok(r.loadavg.length === 3 && positive(r.seconds));
    assert.ok(stages.has('prepare') && stages.has('plain 1T'));
    // The text report names the machine, the absent peer and every row.
    const text = formatBench(r);
    assert.match(text, new RegExp(`machine: .*, ${r.machine.cores} cores, .*Node ${r.machine.node.replace(/\./g, '\\.')}`));
    assert.match(text, /onnxruntime-web: not installed/);
    assert.equal(text.split('\n').filter((l) => /^\s+1\s+[13]\s+(lutnn|onnxruntime)/.test(l)).length, r.rows.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runBench refuses bad settings and files with named errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-bench-'));
  try {
    const p = models(dir);
    await assert.rejects(runBench({ model: p.lut, batches: [0] }), /bench: batches must be a non-empty list of integers in \[1, 4096\], got \[0\]/);
    await assert.rejects(runBench({ model: p.lut, threads: [] }), /threads must be a non-empty list/);
    await assert.rejects(runBench({ model: p.lut, repeats: 0 }), /repeats must be an integer >= 1/);
    await assert.rejects(runBench({ model: dir }), { name: 'FileError', message: `${dir}: is a directory, expected a .safetensors file` });
    assert.equal(findPackage('no-such-package-for-lutnn-tests').available, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lutnn bench --json prints exactly one JSON object on stdout; --no-baselines reports the peers as skipped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-bench-'));
  try {
    const p = models(dir);
    const args = ['--import', 'tsx', 'src/cli/main.ts', 'bench', p.lut, '--batch', '2', '--threads', '1', '--repeats', '2', '--warmup', '0', '--simd', 'plain', '--no-baselines', '--json'];
    const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => (stdout += d));
      c.stderr.on('data', (d) => (stderr += d));
      c.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(res.code, 0, res.stderr);
    const r = JSON.parse(res.stdout) as BenchReport; // the whole of stdout is one JSON document
    assert.equal(r.command, 'bench');
    assert.equal(r.dense, null);
    assert.deepEqual(r.baselines['onnxruntime-node'], { available: false, version: null, reason: 'skipped (--no-baselines)' });
    assert.deepEqual(r.baselines['onnxruntime-web'], { available: false, version: null, reason: 'skipped (--no-baselines)' });
    assert.deepEqual(r.simd.relaxed, { available: false, flags: [], reason: 'not requested' });
    checkRows(r, [{ runner: 'lutnn', role: 'model', simd: 'plain' }]);
    assert.equal(res.stderr, '', '--json shows no progress');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
