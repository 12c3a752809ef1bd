import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertModel, selectLayers, collectCalibrationRows } from './convert.js';
import { createModel } from '../nn/zoo.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/layers.js';
import { describeModel, buildModel } from '../nn/spec.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { LutConv2d, LutLinear } from './modules.js';
import { MaddnessConv2d, MaddnessLinear } from './maddness-modules.js';
import { maddnessEncode, trainMaddness } from './maddness.js';
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';

test('default layer selection follows LUT-NN: all but the first conv and the last Linear', () => {
  const m = createModel('fmnist-cnn', { rng: new Rng(0) });
  assert.deepEqual(selectLayers(m), ['conv2', 'conv3', 'conv4', 'fc1']);
  assert.deepEqual(selectLayers(m, ['conv3', 'fc1']), ['conv3', 'fc1']);
  assert.deepEqual(selectLayers(m, undefined, ['fc1']), ['conv2', 'conv3', 'conv4']);
  assert.throws(() => selectLayers(m, ['bn1']), ArgumentError);
});

function smallCnn(rng: Rng): Sequential {
  return Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 4, 3, { padding: 1, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(4 * 8 * 8, 32, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(32, 3, { rng })],
  ]);
}

test('calibration keeps a bounded, seeded sample of each layer input rows', () => {
  const rng = new Rng(1);
  const m = smallCnn(rng);
  const batches = [randn([3, 1, 8, 8], 1, rng), randn([2, 1, 8, 8], 1, rng)];
  const a = collectCalibrationRows(m, ['conv2', 'fc1'], batches, 100, 7);
  const b = collectCalibrationRows(m, ['conv2', 'fc1'], batches, 100, 7);
  assert.equal(a.get('conv2')!.seen, 5 * 64);
  assert.equal(a.get('conv2')!.n, 100);
  assert.equal(a.get('conv2')!.D, 36);
  assert.equal(a.get('fc1')!.n, 5);
  assert.deepEqual(a.get('conv2')!.rows, b.get('conv2')!.rows);
});

test('conversion replaces the selected layers and the LUT model tracks the dense one', () => {
  const rng = new Rng(2);
  const dense = smallCnn(rng);
  const spec = describeModel(dense);
  const lut = buildModel(spec);
  lut.loadStateDict(dense.stateDict());
  const calib = Array.from({ length: 8 }, () => randn([8, 1, 8, 8], 1, rng));
  const layers = convertModel(lut, calib, { k: 16, seed: 3 });
  assert.deepEqual(layers.map((l) => l.name), ['conv2', 'fc1']);
  assert.ok(lut.getModule('conv2') instanceof LutConv2d);
  assert.ok(lut.getModule('fc1') instanceof LutLinear);
  assert.equal((lut.getModule('conv2') as LutConv2d).subvecLen, 9);
  // The LUT output correlates strongly with the dense output on calibration data.
  const x = calib[0];
  const [yd, yl] = noGrad(() => [dense.forward(x), lut.eval().forward(x)]) as [Tensor, Tensor];
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < yd.size; i++) { num += yd.data[i] * yl.data[i]; da += yd.data[i] ** 2; db += yl.data[i] ** 2; }
  const cos = num / Math.sqrt(da * db);
  assert.ok(cos > 0.9, `cosine similarity ${cos}`);
  // The converted model describes, rebuilds and reloads.
  const again = buildModel(describeModel(lut));
  again.loadStateDict(lut.stateDict());
  const y2 = noGrad(() => again.eval().forward(x));
  assert.deepEqual(y2.data, yl.data);
});

test('MADDNESS conversion builds tree layers that route and reload', () => {
  const rng = new Rng(4);
  const dense = smallCnn(rng);
  const calib = Array.from({ length: 4 }, () => randn([8, 1, 8, 8], 1, rng));
  convertModel(dense, calib, { method: 'maddness', seed: 1 });
  assert.ok(dense.getModule('conv2') instanceof MaddnessConv2d);
  assert.ok(dense.getModule('fc1') instanceof MaddnessLinear);
  const y = noGrad(() => dense.eval().forward(calib[0]));
  assert.deepEqual(y.shape, [8, 3]);
  assert.ok(Array.from(y.data).every(Number.isFinite));
  const again = buildModel(describeModel(dense));
  again.loadStateDict(dense.stateDict());
  assert.deepEqual(noGrad(() => again.eval().forward(calib[0])).data, y.data);
  assert.throws(() => convertModel(smallCnn(rng), calib, { method: 'maddness', k: 8 }), ArgumentError);
});

test('sequential calibration with the least-squares refit tracks the dense model better than plain k-means', () => {
  const rng = new Rng(5);
  const dense = smallCnn(rng);
  const calib = Array.from({ length: 6 }, () => randn([8, 1, 8, 8], 1, rng));
  const held = randn([16, 1, 8, 8], 1, rng);
  const convertWith = (o: { calibration: 'sequential' | 'parallel'; refit: boolean }) => {
    const m = buildModel(describeModel(dense));
    m.loadStateDict(dense.stateDict());
    const layers = convertModel(m, calib, { k: 16, seed: 3, kmeansIters: 10, ...o });
    return { m, layers };
  };
  const relErr = (m: ReturnType<typeof buildModel>): number => {
    const [yd, yl] = noGrad(() => [dense.eval().forward(held), m.eval().forward(held)]) as [Tensor, Tensor];
    let e = 0, s = 0;
    for (let i = 0; i < yd.size; i++) { e += (yd.data[i] - yl.data[i]) ** 2; s += yd.data[i] ** 2; }
    return e / s;
  };
  const plain = convertWith({ calibration: 'parallel', refit: false });
  const ours = convertWith({ calibration: 'sequential', refit: true });
  assert.ok(plain.layers.every((l) => l.outputError === null));
  for (const l of ours.layers) {
    assert.ok(l.outputError !== null && l.outputError.refit <= l.outputError.kmeans + 1e-9, `${l.name}: ${JSON.stringify(l.outputError)}`);
  }
  const [ePlain, eOurs] = [relErr(plain.m), relErr(ours.m)];
  assert.ok(eOurs < ePlain, `held-out relative logit error: refit ${eOurs} vs plain ${ePlain}`);
  // Deterministic: the same seed gives the same model.
  const again = convertWith({ calibration: 'sequential', refit: true });
  assert.deepEqual(again.m.stateDict()['fc1.weight'].data, ours.m.stateDict()['fc1.weight'].data);
  assert.throws(() => convertModel(smallCnn(rng), calib, { calibration: 'both' as never }), ArgumentError);
});

test('MaddnessLinear forward = scale · Σ_c table[c, code] + bias (exact integer sums), with codes from the trees', () => {
  const rng = new Rng(12);
  const N = 300;
  const D = 24;
  const M = 9;
  const x = randn([N, D], 1, rng);
  const linear = new Linear(D, M, { rng });
  const enc = trainMaddness(x.f32, N, D / 4, 4, { seed: 2 });
  const m = MaddnessLinear.fromDense(linear, enc);
  const y = noGrad(() => m.forward(x));
  const codes = maddnessEncode(x.f32, N, enc);
  const T = m.table.data as Int8Array;
  const scale = m.tableScale.data[0];
  const C = D / 4;
  const want = new Float32Array(N * M);
  for (let r = 0; r < N; r++) {
    for (let o = 0; o < M; o++) {
      let acc = 0;
      for (let c = 0; c < C; c++) acc += T[(c * 16 + codes[r * C + c]) * M + o];
      want[r * M + o] = scale * acc + linear.bias!.f32[o];
    }
  }
  assert.deepEqual(y.f32, want);
});
