// The benchmark suite's JSON (bench/suite.ts, bench/suite-layout.ts): the layout of a `lutnn bench` report as
// model → variant → batch → threads with ratios beside the times, and `npm run -s bench -- --json --only fmnist-cnn`
// printing one such object. No timing is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { BenchReport, BenchRow } from '../src/app/bench.js';
import { modelEntry } from '../bench/suite-layout.js';

const row = (runner: BenchRow['runner'], role: BenchRow['role'], simd: BenchRow['simd'], batch: number, threads: number, medianMs: number): BenchRow =>
  ({ runner, role, simd, batch, threads, medianMs, minMs: medianMs, throughput: (batch * 1000) / medianMs, repeats: 5 });

/** A report of two batches × two thread counts; onnxruntime-web absent, tfjs failed on the model, int8 at batch 1 only. */
function report(): BenchReport {
  const rows: BenchRow[] = [];
  for (const b of [1, 16]) {
    for (const t of [1, 2]) {
      rows.push(row('lutnn', 'model', 'plain', b, t, 2 * b), row('lutnn', 'model', 'relaxed', b, t, 1.6 * b));
      rows.push(row('lutnn', 'dense', 'plain', b, t, 3 * b), row('lutnn', 'dense', 'relaxed', b, t, 3 * b));
      rows.push(row('onnxruntime-node', 'dense', null, b, t, 4 * b));
      if (b === 1) rows.push(row('onnxruntime-node-int8', 'dense', null, b, t, 5));
    }
  }
  return {
    command: 'bench', rows, batches: [1, 16], threads: [1, 2], repeats: 5, seconds: 12.5, loadavg: [1, 1, 1], inputShape: [3, 32, 32],
    model: { path: 'lut.safetensors', kind: 'lut-nn', params: 100, lutEngine: 'wasm-f32' },
    dense: { path: 'dense.safetensors', kind: 'dense', params: 90, lutEngine: null },
    baselines: {
      'onnxruntime-node': { available: true, version: '1.30.0', reason: null },
      'onnxruntime-node-int8': { available: true, version: '1.30.0', reason: null },
      'onnxruntime-web': { available: false, version: null, reason: 'not installed (test)' },
      'tfjs-wasm': { available: true, version: '4.22.0', reason: null },
    },
    errors: { 'tfjs-wasm:dense': 'tfjs model: op add (layer1.0.add) has no tfjs counterpart' },
    agreement: { 'onnxruntime-node:dense': 1e-7, 'onnxruntime-node-int8:dense': 0.01 },
  } as unknown as BenchReport;
}

test('suite layout: model entry keyed variant → bN → tN; ratios are peer ms / lutnn plain ms of the same cell; absent peers null with a reason', () => {
  const e = modelEntry(report(), 'random', { k: 16 });
  assert.equal(e.weights, 'random');
  assert.deepEqual(Object.keys(e.lut), ['b1', 'b16']);
  assert.deepEqual(Object.keys(e.lut.b1), ['t1', 't2']);
  const c = e.lut.b16.t2;
  assert.equal(c.ms, 32);
  assert.equal(c.msRelaxed, 25.6);
  assert.equal(c.relaxedSpeedup, 1.25);
  assert.equal(c.vsOrtNodeFp32, 2); // 64 / 32
  assert.equal(c.vsOrtNodeInt8, null); // int8 ran at batch 1 only
  assert.equal(c.vsOrtWeb, null);
  assert.equal(c.vsTfjsWasm, null);
  assert.equal(c.vsLutnnDense, 1.5); // 48 / 32
  assert.equal(c.samples, 5);
  assert.equal(e.lut.b1.t1.vsOrtNodeInt8, 2.5); // 5 / 2
  // The dense variant carries the same ratios against lutnn's dense runtime, and no vsLutnnDense.
  assert.equal(e.dense.b1.t1.vsOrtNodeFp32, +(4 / 3).toFixed(3));
  assert.equal(e.dense.b1.t1.vsLutnnDense, undefined);
  // Peers: their own cells, or null with the reason.
  assert.deepEqual(e.ortNodeFp32?.b16.t1, { ms: 64, samples: 5 });
  assert.deepEqual(Object.keys(e.ortNodeInt8!), ['b1']);
  assert.equal(e.ortWeb, null);
  assert.equal(e.missing.ortWeb, 'not installed (test)');
  assert.equal(e.tfjsWasm, null);
  assert.match(e.missing.tfjsWasm!, /no tfjs counterpart/);
  assert.deepEqual(e.agreement, { ortNodeFp32: 1e-7, ortNodeInt8: 0.01 });
  assert.deepEqual(e.info, { k: 16, inputShape: [3, 32, 32], lutParams: 100, denseParams: 90, lutEngine: 'wasm-f32' });
});

test('npm run -s bench -- --json --only fmnist-cnn prints one JSON object: the model keyed lut → b1 → t1 with ratios, machine and run', { timeout: 600_000 }, async () => {
  const args = ['--import', 'tsx', 'bench/run.ts', '--json', '--only', 'fmnist-cnn', '--reps', '2', '--warmup', '0', '--threads', '1', '--batches', '1', '--simd', 'plain'];
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (c) => resolve({ code: c, stdout, stderr }));
  });
  assert.equal(code, 0, stderr.slice(-2000));
  const r = JSON.parse(stdout) as Record<string, any>; // one object, nothing else on stdout
  assert.deepEqual(Object.keys(r).sort(), ['fmnist-cnn', 'machine', 'run']);
  const m = r['fmnist-cnn'];
  const cell = m.lut.b1.t1;
  for (const k of ['ms', 'vsOrtNodeFp32', 'vsOrtNodeInt8', 'vsOrtWeb', 'vsTfjsWasm', 'vsLutnnDense']) {
    assert.ok(typeof cell[k] === 'number' && Number.isFinite(cell[k]) && cell[k] > 0, `${k}: ${cell[k]}`);
  }
  assert.equal(cell.msRelaxed, null); // --simd plain
  assert.equal(cell.samples, 2);
  for (const p of ['ortNodeFp32', 'ortNodeInt8', 'ortWeb', 'tfjsWasm']) assert.ok(m[p].b1.t1.ms > 0, p);
  // Every peer computed the dense model's output: fp32 peers to float rounding, int8 within a few percent.
  assert.ok(m.agreement.ortNodeFp32 < 1e-5 && m.agreement.ortWeb < 1e-5 && m.agreement.tfjsWasm < 1e-5, JSON.stringify(m.agreement));
  assert.ok(m.agreement.ortNodeInt8 > 0 && m.agreement.ortNodeInt8 < 0.05, JSON.stringify(m.agreement));
  assert.match(m.weights, /k-means on 64 training images/);
  assert.equal(r.machine.cores > 0, true);
  assert.ok(r.run.seconds > 0);
  assert.deepEqual(r.run.models, ['fmnist-cnn']);
});
