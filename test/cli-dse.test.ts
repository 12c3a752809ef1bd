// lutnn dse end to end on a tiny CNN file and small IDX data, with --jobs 2 (child processes): the JSON object, the files, resume, errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveModel } from '../src/io/model-file.js';
import { lowerModule } from '../src/nn/lower.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../src/nn/layers.js';
import { Rng } from '../src/tensor/rng.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(128, 1), bandDataset(64, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-dse-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8' });

function tinyModelFile(): string {
  const rng = new Rng(2);
  const m = lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 2, 3, { padding: 1, stride: 2, rng })], // 14x14
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(2, 2, 3, { padding: 1, stride: 2, rng })], // 7x7, D = 18
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(98, 16, { rng })], // D = 98
    ['relu3', new ReLU()],
    ['fc2', new Linear(16, 10, { rng })],
  ]), { inputShape: [1, 28, 28] });
  const file = join(dir, 'tiny.safetensors');
  saveModel(file, m, { dataset: { name: 'fashion-mnist', mean: 0.286, std: 0.353 } });
  return file;
}

test('lutnn dse --jobs 2 --json: one JSON object, every model point, the files; a second run takes everything from the cache; errors', () => {
  const model = tinyModelFile();
  const space = join(dir, 'space.json');
  writeFileSync(space, JSON.stringify({
    model: { v: { conv: [9, 4], linear: [7, 14] }, k: [4], metric: ['l2', 'l1'] },
    hardware: { ccus: [2], pesPerCcu: [4], lanes: [4, 8], tableBits: [8], tableBankBytes: [1024], actBufferBytes: [8192], centroidBufferBytes: [4096] },
    conversion: { calib: 32, maxRows: 256, iters: 3, testImages: 64 },
  }));
  const out = join(dir, 'dse');
  const r = run('dse', model, '--space', space, '--out', out, '--jobs', '2', '--data-dir', dataDir, '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.command, 'dse');
  assert.equal(j.jobs, 2);
  assert.deepEqual([j.modelPoints, j.modelPointsDone, j.hardwarePoints, j.complete], [4, 4, 2, true], 'conv V 4 does not divide 18');
  assert.deepEqual(j.skippedV, [{ kind: 'conv', v: 4, layer: 'conv2', inDim: 18 }]);
  assert.equal(j.cached, 4, 'the final pass reads what the two processes converted');
  assert.equal(j.points + j.infeasible.count, 8);
  assert.equal(j.testImages, 64);
  assert.equal(j.calibImages, 32);
  assert.ok(j.front.length >= 1 && j.front.every((p: { pareto: boolean }) => p.pareto));
  assert.ok(j.seconds > 0 && j.cpuSeconds > 0);
  for (const f of [j.files.pointsJson, j.files.pointsCsv, j.files.frontsJson, j.files.html, ...j.files.svgs]) assert.ok(existsSync(f), f);
  const head = readFileSync(j.files.pointsCsv, 'utf8').split('\n')[0];
  assert.ok(head.startsWith('id,model,vConv,vLinear,k,metric,ccus,pesPerCcu,lanes,tableBits,actBufferBytes,centroidBufferBytes,tableBankBytes,accuracy,'), head);

  const again = run('dse', model, '--space', space, '--out', out, '--jobs', '1', '--data-dir', dataDir, '--json');
  assert.equal(again.status, 0, again.stderr);
  const j2 = JSON.parse(again.stdout);
  assert.deepEqual([j2.cached, j2.converted], [4, 0]);
  assert.deepEqual(j2.front, j.front);

  writeFileSync(join(dir, 'bad.json'), '{"model": {"metric": ["l3"]}}');
  const bad = run('dse', model, '--space', join(dir, 'bad.json'), '--out', out, '--data-dir', dataDir);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^lutnn: .*bad\.json: 'model\.metric' must be a non-empty list of l2, l1, chebyshev, got \["l3"\]\n$/);
  const noOut = run('dse', model);
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /required option '--out <dir>'/);
});
