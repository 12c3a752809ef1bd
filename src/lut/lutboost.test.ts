// Tests of LUTBoost: the plan parser and budget, each stage runs, the centroid stage freezes the weights, resume is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDataset, type Dataset } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { ArgumentError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import { loadModel } from '../io/model-file.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import { Adam } from '../optim/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { constant } from '../optim/schedule.js';
import { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { fit } from '../train/fit.js';
import { defaultLutBoostStages, imagesOfBatches, lutBoost, parseLutBoostStages, type LutBoostOptions } from './lutboost.js';
import { lutNodes } from './recipe.js';


/** 12×12 images whose class (of 4) is a bright horizontal band's position, with noise. */
function bands(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 144);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(4);
    labels[i] = y;
    for (let p = 0; p < 144; p++) {
      const row = Math.floor(p / 12);
      const band = row >= 3 * y && row < 3 * y + 3;
      images[i * 144 + p] = Math.min(255, Math.floor((band ? 140 : 30) + rng.uniform(0, 110)));
    }
  }
  return makeDataset('bands', { images, labels, n, height: 12, width: 12, classes: 4, name: 'fashion-mnist' });
}

const train = bands(192, 1);
const testSet = bands(96, 2);
const loader = (): DataLoader => new DataLoader(train, { batchSize: 32, seed: 3 });
const testLoader = new DataLoader(testSet, { batchSize: 64, shuffle: false });

/** A small dense CNN trained briefly (so conversion and training have something to keep). */
function denseModel(): GraphModel {
  const rng = new Rng(5);
  const m = lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['bn1', new BatchNorm2d(4)],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 4, 3, { stride: 2, padding: 1, rng })],
    ['bn2', new BatchNorm2d(4)],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(4 * 6 * 6, 16, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(16, 4, { rng })],
  ]), { inputShape: [1, 12, 12] });
  const optimizer = new Adam(m.parameters(), { lr: 3e-3 }) as unknown as Optimizer<BaseHyper>;
  fit({ model: m, optimizer, schedule: constant({ baseLr: 3e-3 }), train: loader(), epochs: 2 });
  return m.eval();
}

const dense = denseModel();
const calibration: Tensor[] = [...new DataLoader(train, { batchSize: 64, shuffle: false }).epoch(0)].slice(0, 2).map((b) => b.x);

function options(extra: Partial<LutBoostOptions> = {}): LutBoostOptions {
  return {
    convert: { v: { linear: 8 }, kmeansIters: 5, seed: 1 },
    calibration, train: loader(), test: testLoader, seed: 2, checkpointEvery: 2, ...extra,
  };
}

function tensorsOf(file: string): Map<string, ArrayLike<number>> {
  const { model } = loadModel(file);
  return new Map(model.namedWeights().map(([k, t]) => [k, t.data.slice()]));
}

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'lutnn-lutboost-'));

test('the plan parser: defaults, shares of the budget, fractions, and clear errors', () => {
  assert.deepEqual(parseLutBoostStages('layerwise,centroids,joint:2'), [{ kind: 'layerwise' }, { kind: 'centroids', epochs: 1 }, { kind: 'joint', epochs: 2 }]);
  assert.deepEqual(parseLutBoostStages('convert,centroids,joint', 2), [{ kind: 'convert' }, { kind: 'centroids', epochs: 1 }, { kind: 'joint', epochs: 1 }]);
  assert.deepEqual(parseLutBoostStages('layerwise, joint:0.5', 3), [{ kind: 'layerwise' }, { kind: 'joint', epochs: 0.5 }]);
  assert.deepEqual(parseLutBoostStages('convert', 3), [{ kind: 'convert' }]);
  assert.deepEqual(defaultLutBoostStages(), [{ kind: 'layerwise' }, { kind: 'centroids', epochs: 1 }, { kind: 'joint', epochs: 2 }]);
  assert.deepEqual(defaultLutBoostStages(1.5), [{ kind: 'layerwise' }, { kind: 'centroids', epochs: 0.5 }, { kind: 'joint', epochs: 1 }]);
  assert.throws(() => parseLutBoostStages('centroids:1,joint:2'), /the first stage must convert/);
  assert.throws(() => parseLutBoostStages('layerwise,convert'), /the first stage must convert \(convert or layerwise\) and only the first/);
  assert.throws(() => parseLutBoostStages('layerwise,joint:2,centroids:2'), /the stages' 4 epochs exceed the budget of 3 epochs/);
  assert.throws(() => parseLutBoostStages('layerwise,joint:3,centroids'), /no budget left for stage\(s\) centroids/);
  assert.throws(() => parseLutBoostStages('layerwise:2,joint'), /converts and takes no epochs/);
  assert.throws(() => parseLutBoostStages('layerwise,joint:x'), /needs epochs > 0, got 'x'/);
  assert.throws(() => parseLutBoostStages('layerwise,boost'), ArgumentError);
  assert.throws(() => parseLutBoostStages(''), /--stages is empty/);
});

test('budget accounting: every training image is counted once, consecutive across stages, within the budget', () => {
  const l = loader(); // 192 images, batch 32: 6 batches
  assert.equal(imagesOfBatches(l, 0, 6), 192);
  assert.equal(imagesOfBatches(new DataLoader(bands(70, 1), { batchSize: 32 }), 2, 4), 6 + 32 + 32 + 6); // partial last batch of each epoch
  // Count what the stages actually step on: every batch the training loader hands out.
  class Counting extends DataLoader {
    images = 0;
    override batch(epoch: number, index: number) {
      const b = super.batch(epoch, index);
      this.images += b.x.shape[0];
      return b;
    }
  }
  const counting = new Counting(train, { batchSize: 32, seed: 3 });
  const r = lutBoost(dense, options({ train: counting, stages: parseLutBoostStages('convert,centroids:0.5,joint:1', 2) }));
  assert.deepEqual(r.stages.map((s) => [s.kind, s.images, s.steps]), [['convert', 0, 0], ['centroids', 96, 3], ['joint', 192, 6]]);
  assert.equal(r.images, 288);
  assert.equal(counting.images, 288);
  assert.equal(r.budgetImages, 3 * 192);
  assert.equal(r.calibImages, 128);
  assert.throws(() => lutBoost(dense, options({ stages: parseLutBoostStages('convert,centroids:0.1,joint:0.5') })), /stage 'centroids:0.1' gets no batch of 32 images \(an epoch has 6\)/);
  assert.throws(() => lutBoost(dense, options({ budgetImages: 100, stages: parseLutBoostStages('convert,joint:1') })), /step on 192 training images, over the budget of 100/);
});

test('each stage runs and is reported; the centroid stage leaves every other parameter bit-identical', () => {
  const dir = tempDir();
  try {
    const files = join(dir, 'run');
    const seen: string[] = [];
    const r = lutBoost(dense, options({ files, onProgress: (p) => { if (!seen.includes(`${p.stage}:${p.phase}`)) seen.push(`${p.stage}:${p.phase}`); } }));
    assert.equal(r.interrupted, false);
    assert.deepEqual(r.stages.map((s) => s.kind), ['layerwise', 'centroids', 'joint']);
    assert.deepEqual(r.stages.map((s) => s.images), [0, 192, 384]); // the default plan: 1 + 2 epochs of a 3-epoch budget
    assert.equal(r.images, r.budgetImages);
    assert.deepEqual(seen, ['0:convert', '0:eval', '1:train', '2:train']);
    for (const s of r.stages) {
      assert.ok(s.testAccuracy !== null && s.testAccuracy > 0.25, `stage ${s.kind}: test accuracy ${s.testAccuracy}`);
      assert.ok(s.seconds > 0);
      assert.equal(s.resumed, 'no');
    }
    assert.deepEqual(r.stages[0].layers!.map((l) => l.name), ['conv2', 'fc1']);
    assert.ok(r.stages[1].trainLoss !== null && r.stages[2].history.length === 2);
    assert.ok(!existsSync(`${files}.stage1.ckpt`) && !existsSync(`${files}.stage2.ckpt`), 'checkpoints are removed once the stage is saved');

    const s0 = tensorsOf(`${files}.stage0.safetensors`);
    const s1 = tensorsOf(`${files}.stage1.safetensors`);
    const s2 = tensorsOf(`${files}.stage2.safetensors`);
    const { model: m1 } = loadModel(`${files}.stage1.safetensors`);
    const trained = new Set(lutNodes(m1).flatMap((l) => [l.centroids, l.theta]));
    const params = m1.namedParameters().map(([k]) => k);
    const frozen = params.filter((k) => !trained.has(k));
    assert.ok(frozen.includes('fc1.weight') && frozen.includes('conv1.weight') && frozen.includes('bn2.weight'));
    for (const k of frozen) assert.deepEqual(s1.get(k), s0.get(k), `${k} changed in the centroid stage`);
    const changed = (a: Map<string, ArrayLike<number>>, b: Map<string, ArrayLike<number>>, k: string): boolean => Array.from(a.get(k)!).some((v, i) => v !== b.get(k)![i]);
    for (const k of trained) assert.ok(changed(s0, s1, k), `${k} was not trained in the centroid stage`);
    for (const k of ['fc1.weight', 'conv1.weight', 'fc2.weight']) assert.ok(changed(s1, s2, k), `${k} was not trained in the joint stage`);
    // The final model is the last stage's.
    for (const [k, t] of r.model.namedWeights()) assert.deepEqual(t.data.slice(), s2.get(k), k);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a run stopped mid-stage resumes to the same weights as an uninterrupted one (in stage 1 and in stage 2)', () => {
  const dir = tempDir();
  try {
    const stages = parseLutBoostStages('convert,centroids,joint', 2); // 6 + 6 steps
    const ref = lutBoost(dense, options({ stages, files: join(dir, 'ref') }));
    const refW = new Map(ref.model.namedWeights().map(([k, t]) => [k, t.data.slice()]));
    for (const stop of [3, 9]) {
      const files = join(dir, `stop${stop}`);
      const a = lutBoost(dense, options({ stages, files, stopAfterSteps: stop }));
      assert.equal(a.interrupted, true);
      assert.equal(a.stages.length, stop < 6 ? 1 : 2);
      assert.ok(existsSync(`${files}.stage${stop < 6 ? 1 : 2}.ckpt`));
      const b = lutBoost(dense, options({ stages, files, resume: true }));
      assert.equal(b.interrupted, false);
      assert.deepEqual(b.stages.map((s) => s.resumed), stop < 6 ? ['done', 'checkpoint', 'no'] : ['done', 'done', 'checkpoint']);
      for (const [k, t] of b.model.namedWeights()) assert.deepEqual(t.data.slice(), refW.get(k), `stop at ${stop}: ${k}`);
      assert.deepEqual(b.stages.map((s) => s.testAccuracy), ref.stages.map((s) => s.testAccuracy));
    }
    // Another plan does not take the saved stages...
    assert.throws(() => lutBoost(dense, options({ stages, files: join(dir, 'ref'), resume: true, lr: 2e-3 })), /saved by another LUTBoost plan/);
    // ...but a plan that shares its first stages takes their files (here the conversion and the centroid stage).
    for (const i of [0, 1]) copyFileSync(join(dir, `ref.stage${i}.safetensors`), join(dir, `other.stage${i}.safetensors`));
    const other = lutBoost(dense, options({ stages: parseLutBoostStages('convert,centroids:1,joint:0.5', 2), files: join(dir, 'other'), resume: true }));
    assert.deepEqual(other.stages.map((s) => [s.resumed, s.steps]), [['done', 0], ['done', 6], ['no', 3]]);
    assert.deepEqual(other.stages[1].testAccuracy, ref.stages[1].testAccuracy);
    assert.throws(() => lutBoost(dense, options({ stages: parseLutBoostStages('convert,joint:1', 2), files: join(dir, 'ref'), resume: true })), /stage1.safetensors: saved by another LUTBoost plan \(stages up to 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
