// `lutnn convert --recipe lutboost` end to end on a synthetic IDX directory: --json stages, SIGKILL mid-stage, --resume.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSafetensors } from '../src/io/safetensors.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(640, 1), bandDataset(256, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-lutboost-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const dense = join(dir, 'dense.safetensors');
// Budget 1 epoch of 640 images at batch 32: 20 steps, 6 in the centroid stage (floor of a third) and 14 in the joint one.
const boost = ['--recipe', 'lutboost', '--data-dir', dataDir, '--calib', '128', '--budget', '1', '--batch-size', '32', '--checkpoint-every', '3', '--threads', '1', '--quiet'];

function weights(file: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(loadSafetensors(file).tensors)) out[k] = Array.from(t.data);
  return out;
}

test('convert --recipe lutboost: stages in --json, stage files, and a SIGKILLed run resumes to the same model', async () => {
  const t = spawnSync(process.execPath, [...cli, 'train', '--model', 'mlp', '--data-dir', dataDir, '--epochs', '1', '--batch-size', '32', '--threads', '1', '--quiet', '--out', dense], { encoding: 'utf8' });
  assert.equal(t.status, 0, t.stderr);

  const ref = join(dir, 'ref.safetensors');
  const r = spawnSync(process.execPath, [...cli, 'convert', dense, '--out', ref, ...boost, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.recipe, 'lutboost');
  assert.equal(j.stagesSpec, 'layerwise,centroids:0.3333333333333333,joint:0.6666666666666666');
  assert.deepEqual(j.stages.map((s: { kind: string; images: number; steps: number }) => [s.kind, s.images, s.steps]), [['layerwise', 0, 0], ['centroids', 192, 6], ['joint', 448, 14]]);
  assert.deepEqual([j.images, j.budgetImages, j.calibImages], [640, 640, 128]);
  for (const s of j.stages) assert.ok(typeof s.testAccuracy === 'number' && typeof s.seconds === 'number', JSON.stringify(s));
  assert.equal(j.testAccuracy, j.stages[2].testAccuracy);
  assert.ok(j.testAccuracy > 0.5, `accuracy ${j.testAccuracy}`);
  for (const i of [0, 1, 2]) assert.ok(existsSync(join(dir, `ref.stage${i}.safetensors`)), `stage ${i} file`);
  const meta = JSON.parse(loadSafetensors(ref).metadata.lutnn);
  assert.equal(meta.info.conversion.recipe, 'lutboost');
  assert.equal(meta.info.conversion.stages.length, 3);

  const out = join(dir, 'killed.safetensors');
  const ckpt = join(dir, 'killed.stage2.ckpt');
  const child = spawn(process.execPath, [...cli, 'convert', dense, '--out', out, ...boost], { stdio: 'ignore' });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const t0 = Date.now();
  while (!existsSync(ckpt) && Date.now() - t0 < 120_000) await new Promise((res) => setTimeout(res, 5));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(ckpt), 'the joint stage wrote a checkpoint before the kill');
  assert.ok(!existsSync(out), 'the killed run did not finish');
  const resumed = spawnSync(process.execPath, [...cli, 'convert', dense, '--out', out, ...boost, '--resume', '--json'], { encoding: 'utf8' });
  assert.equal(resumed.status, 0, resumed.stderr);
  const rj = JSON.parse(resumed.stdout);
  assert.deepEqual(rj.stages.map((s: { resumed: string }) => s.resumed), ['done', 'done', 'checkpoint']);
  assert.deepEqual(weights(out), weights(ref));
  assert.equal(rj.testAccuracy, j.testAccuracy);
});

test('convert --recipe lutboost: a bad plan fails before any work, with the reason', () => {
  const bad = (...args: string[]) => spawnSync(process.execPath, [...cli, 'convert', dense, '--out', join(dir, 'bad.safetensors'), ...boost, ...args], { encoding: 'utf8' });
  const a = bad('--stages', 'joint:1');
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /the first stage must convert/);
  const b = bad('--stages', 'layerwise,joint:2');
  assert.match(b.stderr, /the stages' 2 epochs exceed the budget of 1 epochs/);
  const c = bad('--method', 'maddness');
  assert.match(c.stderr, /--recipe lutboost converts with --method lutnn/);
});
