// The train/eval CLI end to end on a synthetic IDX directory: --json output, SIGKILL mid-run, --resume.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../src/io/safetensors.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(1280, 1), bandDataset(256, 2));
const tmpDirs: string[] = [dataDir];
after(() => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpDirs.push(d);
  return d;
};
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const common = ['--model', 'mlp', '--data-dir', dataDir, '--epochs', '2', '--batch-size', '32', '--seed', '4', '--threads', '1', '--quiet'];

function weights(file: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(loadSafetensors(file).tensors)) out[k] = Array.from(t.data);
  return out;
}

test('train --json prints one JSON object and eval reads the model back', () => {
  const dir = tempDir('lutnn-cli-');
  const out = join(dir, 'm.safetensors');
  const r = spawnSync(process.execPath, [...cli, 'train', ...common, '--out', out, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.steps, 80);
  assert.equal(j.epochs.length, 2);
  assert.ok(j.testAccuracy > 0.9, `accuracy ${j.testAccuracy}`);
  const e = spawnSync(process.execPath, [...cli, 'eval', out, '--data-dir', dataDir, '--json'], { encoding: 'utf8' });
  assert.equal(e.status, 0, e.stderr);
  const ej = JSON.parse(e.stdout);
  assert.equal(ej.n, 256);
  assert.equal(ej.testAccuracy, j.testAccuracy);
});

test('a training process killed with SIGKILL resumes from its checkpoint to the same weights', async () => {
  const dir = tempDir('lutnn-kill-');
  const ref = join(dir, 'ref.safetensors');
  const r = spawnSync(process.execPath, [...cli, 'train', ...common, '--out', ref], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);

  const out = join(dir, 'killed.safetensors');
  const ckpt = `${out}.ckpt`;
  const child = spawn(process.execPath, [...cli, 'train', ...common, '--out', out, '--checkpoint-every', '3'], { stdio: 'ignore' });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  // Kill as soon as a checkpoint exists (mid-run), without any chance to clean up.
  const t0 = Date.now();
  while (!existsSync(ckpt) && Date.now() - t0 < 60_000) await new Promise((res) => setTimeout(res, 5));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(ckpt), 'checkpoint was written before the kill');
  assert.ok(!existsSync(out), 'the killed run did not finish');

  const resumed = spawnSync(process.execPath, [...cli, 'train', ...common, '--out', out, '--checkpoint-every', '3', '--resume', '--json'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(JSON.parse(resumed.stdout).resumedFrom.globalStep > 0);
  assert.deepEqual(weights(out), weights(ref));
});

test('finetune --distill: converts, fine-tunes with a teacher, records the setting; bad options fail clearly', () => {
  const dir = tempDir('lutnn-distill-');
  const dense = join(dir, 'dense.safetensors');
  const lut = join(dir, 'lut.safetensors');
  const ft = join(dir, 'ft.safetensors');
  const t = spawnSync(process.execPath, [...cli, 'train', ...common, '--out', dense], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);
  const c = spawnSync(process.execPath, [...cli, 'convert', dense, '--out', lut, '--data-dir', dataDir, '--calib', '256', '--threads', '1', '--quiet', '--json'], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const f = spawnSync(process.execPath, [...cli, 'finetune', lut, '--out', ft, '--data-dir', dataDir, '--epochs', '1', '--batch-size', '64', '--threads', '1', '--quiet', '--json',
    '--distill', dense, '--distill-alpha', '0.7', '--distill-temperature', '3'], { encoding: 'utf8' });
  assert.equal(f.status, 0, f.stderr);
  const j = JSON.parse(f.stdout);
  assert.ok(j.testAccuracy > 0.5, `accuracy ${j.testAccuracy}`);
  const meta = JSON.parse(loadSafetensors(ft).metadata.lutnn);
  assert.deepEqual(meta.info.finetune.distill, { teacher: dense, alpha: 0.7, temperature: 3 });
  // eval on the inference runtime: the f32 encoder scores as the training engine; the integer encoders run too.
  const ev = (...extra: string[]): Record<string, unknown> => {
    const e = spawnSync(process.execPath, [...cli, 'eval', ft, '--data-dir', dataDir, '--quiet', '--json', ...extra], { encoding: 'utf8' });
    assert.equal(e.status, 0, e.stderr);
    return JSON.parse(e.stdout);
  };
  const engine = ev();
  assert.equal(engine.evaluatedOn, 'engine');
  assert.equal(engine.encoder, null);
  assert.equal(engine.testAccuracy, j.testAccuracy);
  const f32 = ev('--runtime');
  assert.deepEqual([f32.evaluatedOn, f32.encoder, f32.testAccuracy], ['runtime', 'f32', j.testAccuracy]);
  for (const encoder of ['int8', 'wide']) {
    const q = ev('--encoder', encoder);
    assert.deepEqual([q.evaluatedOn, q.encoder, q.n], ['runtime', encoder, 256]);
    assert.ok(Math.abs((q.testAccuracy as number) - j.testAccuracy) < 0.05, `${encoder}: ${q.testAccuracy} vs ${j.testAccuracy}`);
  }
  const badEnc = spawnSync(process.execPath, [...cli, 'eval', ft, '--data-dir', dataDir, '--encoder', 'int4'], { encoding: 'utf8' });
  assert.equal(badEnc.status, 2, 'a bad option value is a usage error');
  assert.match(badEnc.stderr, /^lutnn: --encoder .*int4.* \(see lutnn eval --help\)\n$/);
  const bad = spawnSync(process.execPath, [...cli, 'finetune', lut, '--out', join(dir, 'bad.safetensors'), '--data-dir', dataDir, '--epochs', '1', '--quiet',
    '--distill', dense, '--distill-temperature', '0'], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /finetune --distill: temperature must be a finite number > 0, got number 0/);
  assert.ok(!existsSync(join(dir, 'bad.safetensors')));
});
