// The comparison pipeline end to end on synthetic data: every row is produced and fine-tuning helps a weak start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader } from '../src/data/loader.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../src/nn/layers.js';
import { Adam } from '../src/optim/index.js';
import type { BaseHyper, Optimizer } from '../src/optim/optimizer.js';
import { constant } from '../src/optim/schedule.js';
import { Rng } from '../src/tensor/rng.js';
import { fit } from '../src/train/fit.js';
import { evaluate } from '../src/train/metrics.js';
import { runComparison } from '../src/app/compare.js';
import { lowerModule } from '../src/nn/lower.js';
import { graphToJson } from '../src/graph/serialize.js';
import type { GraphModel } from '../src/graph/model.js';
import { bandDataset } from './helpers.js';
import { noGrad } from '../src/autograd/engine.js';
import { softmax } from '../src/ops/index.js';

function trainedModel(): { model: GraphModel; train: ReturnType<typeof bandDataset>; testSet: ReturnType<typeof bandDataset> } {
  const rng = new Rng(1);
  const model = lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['pool1', new MaxPool2d(4)], // [N,4,7,7]
    ['conv2', new Conv2d(4, 4, 3, { padding: 1, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)], // [N,196]
    ['fc1', new Linear(196, 16, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(16, 10, { rng })],
  ]), { inputShape: [1, 28, 28] });
  const train = bandDataset(512, 3);
  const testSet = bandDataset(200, 4);
  fit({
    model, optimizer: new Adam(model.parameters(), { lr: 3e-3 }) as unknown as Optimizer<BaseHyper>, schedule: constant({ baseLr: 3e-3 }),
    train: new DataLoader(train, { batchSize: 32, seed: 1 }), epochs: 3,
  });
  return { model, train, testSet };
}

const META = (model: GraphModel) => ({ format: 'lutnn-model' as const, version: 2 as const, graph: graphToJson(model.graph), dataset: { name: 'fashion-mnist', mean: 0.286, std: 0.353, inputShape: [1, 28, 28] } });

test('runComparison gives dense, k-means, fine-tuned and MADDNESS rows with costs', () => {
  const { model, train, testSet } = trainedModel();
  const meta = META(model);
  const engineAcc: number[] = [];
  const rows = runComparison(model, meta, { train, test: testSet, source: 'synthetic' }, {
    metrics: ['l2', 'chebyshev'], maddness: true, epochs: 1, batchSize: 32, lr: 1e-3, temperatureLr: 0.1, calib: 64,
    convert: { k: 4, kmeansIters: 5, v: { linear: 4 } }, seed: 0,
    onRow: (row, m) => engineAcc.push(evaluate(m, new DataLoader(testSet, { batchSize: 64, shuffle: false, mean: 0.286, std: 0.353 }).epoch(0)).accuracy),
  });
  // Every row's accuracy (runtime or engine) equals the training engine's eval forward, up to one near-tie sample.
  rows.forEach((r, i) => assert.ok(Math.abs(r.testAccuracy - engineAcc[i]) <= 1 / testSet.n, `${r.method} ${r.metric}: ${r.testAccuracy} vs engine ${engineAcc[i]}`));
  assert.deepEqual(rows.map((r) => `${r.method}:${r.metric}`), [
    'dense:null', 'lutnn-kmeans:l2', 'lutnn-finetuned:l2', 'lutnn-kmeans:chebyshev', 'lutnn-finetuned:chebyshev', 'maddness:null',
  ]);
  const dense = rows[0];
  assert.ok(dense.testAccuracy > 0.9, `dense accuracy ${dense.testAccuracy}`);
  assert.deepEqual(rows.map((r) => r.evaluatedOn), ['runtime', 'runtime', 'runtime', 'runtime', 'runtime', 'engine']);
  // The runtime's figures agree with the training engine's eval forward (BN folding moves logits by rounding only).
  const engine = evaluate(model, new DataLoader(testSet, { batchSize: 64, shuffle: false, mean: 0.286, std: 0.353 }).epoch(0));
  assert.ok(Math.abs(engine.accuracy - dense.testAccuracy) <= 1 / testSet.n, `engine ${engine.accuracy} vs runtime ${dense.testAccuracy}`);
  assert.ok(Math.abs(engine.loss - dense.testLoss) <= 1e-4 * Math.max(1, engine.loss), `loss engine ${engine.loss} vs runtime ${dense.testLoss}`);
  for (const r of rows.slice(1)) {
    assert.ok(r.macs > 0 && r.macs !== dense.macs, `${r.method} macs ${r.macs}`);
    assert.ok(Number.isFinite(r.testAccuracy));
  }
  const ft = rows[2];
  assert.ok(ft.temperatures && Object.keys(ft.temperatures).length === 2, 'conv2 and fc1 have temperatures');
  assert.ok(ft.finetuneImagesPerSecond! > 0);
  assert.ok(ft.testAccuracy >= rows[1].testAccuracy - 0.05, `fine-tuning kept accuracy: ${rows[1].testAccuracy} → ${ft.testAccuracy}`);
});

/** Mean KL(softmax(teacher) ‖ softmax(student)) over the test images. */
function meanKl(teacher: GraphModel, student: GraphModel, ds: ReturnType<typeof bandDataset>): number {
  teacher.eval();
  student.eval();
  let kl = 0;
  let n = 0;
  for (const { x } of new DataLoader(ds, { batchSize: 50, shuffle: false }).epoch(0)) {
    const [pt, ps] = noGrad(() => [softmax(teacher.forward(x), 1), softmax(student.forward(x), 1)]);
    for (let i = 0; i < pt.size; i++) kl += pt.f32[i] * (Math.log(pt.f32[i] + 1e-12) - Math.log(ps.f32[i] + 1e-12));
    n += x.shape[0];
  }
  return kl / n;
}

test('runComparison with distill: fine-tuning pulls the LUT model toward the dense teacher', () => {
  const { model, train, testSet } = trainedModel();
  const kl: Record<string, number> = {}; // measured when each row is done (fine-tuning trains the k-means model in place)
  runComparison(model, META(model), { train, test: testSet, source: 'synthetic' }, {
    metrics: ['l2'], maddness: false, epochs: 1, batchSize: 32, lr: 1e-3, temperatureLr: 0.1, calib: 64,
    convert: { k: 4, kmeansIters: 5, v: { linear: 4 } }, seed: 0, distill: { alpha: 1, temperature: 2 },
    onRow: (row, m) => {
      if (row.method !== 'dense') kl[row.method] = meanKl(model, m, testSet);
    },
  });
  const before = kl['lutnn-kmeans'];
  const after = kl['lutnn-finetuned'];
  assert.ok(after < 0.8 * before, `KL to the teacher ${before} → ${after}`);
});
