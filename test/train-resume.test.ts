// Training end to end on synthetic data: learning happens, and a stopped run resumes bit-exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader } from '../src/data/loader.js';
import { createModel } from '../src/nn/zoo.js';
import { Adam } from '../src/optim/index.js';
import type { BaseHyper, Optimizer } from '../src/optim/optimizer.js';
import { cosine } from '../src/optim/schedule.js';
import { Rng } from '../src/tensor/rng.js';
import { fit, type FitResult } from '../src/train/fit.js';
import { bandDataset } from './helpers.js';

const train = bandDataset(640, 1);
const testSet = bandDataset(200, 2);

function run(checkpoint: string | undefined, opts: { stopAfterSteps?: number; resume?: boolean } = {}) {
  const model = createModel('mlp', { rng: new Rng(5) });
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 }) as unknown as Optimizer<BaseHyper>;
  const trainLoader = new DataLoader(train, { batchSize: 64, seed: 3, augment: { pad: 2, flip: true } });
  const testLoader = new DataLoader(testSet, { batchSize: 100, shuffle: false });
  const result: FitResult = fit({
    model, optimizer, schedule: cosine({ baseLr: 1e-3, totalSteps: 30 }), train: trainLoader, test: testLoader,
    epochs: 3, checkpoint, checkpointEvery: 4, curveEvery: 3, config: { test: 'resume' }, ...opts,
  });
  return { model, result };
}

test('fit learns the synthetic task', () => {
  const { result } = run(undefined);
  assert.equal(result.steps, 30);
  assert.ok(result.finalTest && result.finalTest.accuracy > 0.9, `accuracy ${result.finalTest?.accuracy}`);
});

test('a run stopped mid-epoch and resumed from its checkpoint ends bit-identical to an uninterrupted run', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-resume-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ckpt = join(dir, 'run.ckpt');
  const full = run(undefined);
  const first = run(ckpt, { stopAfterSteps: 13 });
  assert.equal(first.result.interrupted, true);
  const second = run(ckpt, { resume: true });
  assert.deepEqual(second.result.resumedFrom, { epoch: 1, batch: 3, globalStep: 13 });
  const a = full.model.stateDict();
  const b = second.model.stateDict();
  for (const k of Object.keys(a)) assert.deepEqual(b[k].data, a[k].data, `${k} differs after resume`);
  assert.deepEqual(
    second.result.epochs.map((e) => e.trainLoss),
    full.result.epochs.map((e) => e.trainLoss),
  );
  // The training curve too: the points before the stop come from the checkpoint, the window open at step 13 (since
  // step 12) continues across the resume. Points every 3 steps and at each epoch's end (10 steps per epoch).
  assert.deepEqual(full.result.curve.map((p) => p.step), [3, 6, 9, 10, 12, 15, 18, 20, 21, 24, 27, 30]);
  assert.deepEqual(second.result.curve, full.result.curve);
  assert.equal(full.result.curve.find((p) => p.step === 15)!.images, 3 * 64);
});
