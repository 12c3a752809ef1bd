// Tests of dense → LUT conversion on graph models: layer selection (names, globs), calibration, node rewrites, MADDNESS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertModel, selectLayers, collectCalibrationRows, candidates, globToRegExp } from './convert.js';
import { createModel } from '../nn/zoo.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import { GraphBuilder } from '../graph/builder.js';
import { GraphModel } from '../graph/model.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { MaddnessLinear } from './maddness-modules.js';
import { maddnessEncode, trainMaddness } from './maddness.js';
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { parseModelContents, serializeModel } from '../io/model-format.js';
import { modelOf } from '../io/model-file.js';
import type { Tensor } from '../tensor/tensor.js';

test('default layer selection follows LUT-NN: all but the first conv and the last Linear; names, globs and exclusions', () => {
  const m = createModel('fmnist-cnn', { rng: new Rng(0) });
  assert.deepEqual(selectLayers(m), ['conv2', 'conv3', 'conv4', 'fc1']);
  assert.deepEqual(selectLayers(m, ['conv3', 'fc1']), ['conv3', 'fc1']);
  assert.deepEqual(selectLayers(m, undefined, ['fc1']), ['conv2', 'conv3', 'conv4']);
  assert.deepEqual(selectLayers(m, ['conv*']), ['conv1', 'conv2', 'conv3', 'conv4']);
  assert.deepEqual(selectLayers(m, undefined, ['conv3', 'conv4']), ['conv2', 'fc1']);
  assert.throws(() => selectLayers(m, ['bn1']), /'bn1' names no Conv, Linear or weight MatMul node/);
  assert.throws(() => selectLayers(m, ['blocks.*']), ArgumentError);
  assert.equal(globToRegExp('blocks.*.mlp.*').test('blocks.0.mlp.fc1'), true);
  assert.equal(globToRegExp('blocks.*.mlp.*').test('blocks.0.attn.q'), false);
  assert.equal(globToRegExp('blocks.*').test('blocks.0.mlp.fc1'), false);
  assert.equal(globToRegExp('blocks.**').test('blocks.0.mlp.fc1'), true);
});

function smallCnn(rng: Rng): GraphModel {
  return lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 4, 3, { padding: 1, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(4 * 8 * 8, 32, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(32, 3, { rng })],
  ]), { inputShape: [1, 8, 8] });
}

const cosine = (a: Tensor, b: Tensor): number => {
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < a.size; i++) { num += a.data[i] * b.data[i]; da += a.data[i] ** 2; db += b.data[i] ** 2; }
  return num / Math.sqrt(da * db);
};

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
  assert.equal(m.training, true, 'the training flag is restored');
});

test('conversion rewrites the selected nodes, keeps the input model, and the LUT model tracks the dense one and reloads', () => {
  const rng = new Rng(2);
  const dense = smallCnn(rng);
  const before = dense.stateDict({ copy: true });
  const calib = Array.from({ length: 8 }, () => randn([8, 1, 8, 8], 1, rng));
  const { model: lut, layers } = convertModel(dense, calib, { k: 16, seed: 3 });
  assert.deepEqual(layers.map((l) => l.name), ['conv2', 'fc1']);
  assert.deepEqual(lut.graph.nodes.map((n) => n.op), ['Conv', 'Relu', 'LutConv', 'Relu', 'Flatten', 'LutLinear', 'Relu', 'Linear']);
  assert.deepEqual(lut.weight('conv2.centroids').shape, [4, 16, 9]);
  assert.deepEqual(lut.weight('conv2.weight').shape, [4, 9, 4]);
  assert.deepEqual(lut.weight('fc1.weight').shape, [16, 16, 32]);
  for (const [k, t] of Object.entries(before)) assert.deepEqual(dense.weight(k).data, t.data, `dense '${k}' unchanged`);
  assert.notEqual(lut.weight('conv1.weight'), dense.weight('conv1.weight'), 'the LUT model has its own copy of the layers it keeps');
  assert.deepEqual(lut.weight('conv1.weight').data, dense.weight('conv1.weight').data);
  const x = calib[0];
  const [yd, yl] = noGrad(() => [dense.eval().forward(x), lut.eval().forward(x)]) as [Tensor, Tensor];
  assert.ok(cosine(yd, yl) > 0.9, `cosine similarity ${cosine(yd, yl)}`);
  const again = modelOf(parseModelContents(serializeModel(lut, {}), 'lut'), 'lut').model;
  assert.deepEqual(noGrad(() => again.forward(x)).data, yl.data);
});

test('MADDNESS conversion writes tree nodes that route, reload and refuse K != 16', () => {
  const rng = new Rng(4);
  const dense = smallCnn(rng);
  const calib = Array.from({ length: 4 }, () => randn([8, 1, 8, 8], 1, rng));
  const { model: m } = convertModel(dense, calib, { method: 'maddness', seed: 1 });
  assert.deepEqual(m.graph.nodes.filter((n) => n.op.startsWith('Maddness')).map((n) => [n.name, n.op]), [['conv2', 'MaddnessConv'], ['fc1', 'MaddnessLinear']]);
  const y = noGrad(() => m.eval().forward(calib[0]));
  assert.deepEqual(y.shape, [8, 3]);
  assert.ok(Array.from(y.data).every(Number.isFinite));
  const again = modelOf(parseModelContents(serializeModel(m, {}), 'm'), 'm').model;
  assert.deepEqual(noGrad(() => again.forward(calib[0])).data, y.data);
  assert.throws(() => convertModel(dense, calib, { method: 'maddness', k: 8 }), ArgumentError);
});

test('sequential calibration with the least-squares refit tracks the dense model better than plain k-means; deterministic', () => {
  const rng = new Rng(5);
  const dense = smallCnn(rng).eval();
  const calib = Array.from({ length: 6 }, () => randn([8, 1, 8, 8], 1, rng));
  const held = randn([16, 1, 8, 8], 1, rng);
  const convertWith = (o: { calibration: 'sequential' | 'parallel'; refit: boolean }) => convertModel(dense, calib, { k: 16, seed: 3, kmeansIters: 10, ...o });
  const relErr = (m: GraphModel): number => {
    const [yd, yl] = noGrad(() => [dense.forward(held), m.eval().forward(held)]) as [Tensor, Tensor];
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
  const [ePlain, eOurs] = [relErr(plain.model), relErr(ours.model)];
  assert.ok(eOurs < ePlain, `held-out relative logit error: refit ${eOurs} vs plain ${ePlain}`);
  const again = convertWith({ calibration: 'sequential', refit: true });
  assert.deepEqual(again.model.weight('fc1.weight').data, ours.model.weight('fc1.weight').data);
  assert.throws(() => convertModel(dense, calib, { calibration: 'both' as never }), ArgumentError);
});

test('transformer-style graphs: Linear and weight MatMul nodes are candidates, activation × activation MatMuls are not; [B, T, D] rows', () => {
  const rng = new Rng(6);
  const T = 4;
  const D = 16;
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', T, D]);
  const w = (name: string, shape: number[]) => b.weight(name, randn(shape, 0.3, rng));
  const q = b.op('Linear', [x, w('blocks.0.attn.q.weight', [D, D]), w('blocks.0.attn.q.bias', [D])], {}, 'blocks.0.attn.q')[0];
  const k = b.op('MatMul', [x, w('blocks.0.attn.k.weight', [D, D])], {}, 'blocks.0.attn.k')[0];
  const kt = b.op('Transpose', [k], { perm: [0, 2, 1] }, 'blocks.0.attn.kt')[0];
  const s = b.op('Softmax', [b.op('MatMul', [q, kt], {}, 'blocks.0.attn.scores')[0]], { axis: -1 }, 'blocks.0.attn.softmax')[0];
  const a = b.op('MatMul', [s, x], {}, 'blocks.0.attn.mix')[0];
  const h = b.op('Linear', [a, w('blocks.0.mlp.fc1.weight', [32, D]), w('blocks.0.mlp.fc1.bias', [32])], {}, 'blocks.0.mlp.fc1')[0];
  const y = b.op('Linear', [b.op('Relu', [h], {}, 'blocks.0.mlp.act')[0], w('head.weight', [3, 32])], {}, 'head')[0];
  b.output(y);
  const g = b.build();
  const model = GraphModel.create(g.graph, g.weights).eval();
  assert.deepEqual(candidates(model).map((c) => c.name), ['blocks.0.attn.q', 'blocks.0.attn.k', 'blocks.0.mlp.fc1', 'head']);
  assert.deepEqual(selectLayers(model), ['blocks.0.attn.q', 'blocks.0.attn.k', 'blocks.0.mlp.fc1']);
  assert.deepEqual(selectLayers(model, ['blocks.*.mlp.*']), ['blocks.0.mlp.fc1']);
  const calib = Array.from({ length: 6 }, () => randn([16, T, D], 1, rng));
  const rows = collectCalibrationRows(model, ['blocks.0.mlp.fc1'], calib, 1000, 0);
  assert.equal(rows.get('blocks.0.mlp.fc1')!.seen, 6 * 16 * T, 'a Linear on [B, T, D] encodes B·T rows');
  const { model: lut } = convertModel(model, calib, { seed: 1, v: { linear: 2 } });
  const ops = Object.fromEntries(lut.graph.nodes.map((n) => [n.name, n.op]));
  assert.equal(ops['blocks.0.attn.q'], 'LutLinear');
  assert.equal(ops['blocks.0.attn.k'], 'LutLinear');
  assert.equal(ops['blocks.0.attn.scores'], 'MatMul');
  assert.equal(ops['head'], 'Linear');
  // The MatMul weight [D, M] became a LUT weight [C, V, M] and gained a bias (the refit's intercept).
  assert.deepEqual(lut.weight('blocks.0.attn.k.weight').shape, [8, 2, 16]);
  assert.deepEqual(lut.weight('blocks.0.attn.k.bias').shape, [16]);
  // Each converted layer reproduces its dense output on calibration-like data (the whole random attention graph less
  // so: errors of q and k are amplified by the softmax).
  const xt = calib[0];
  const outputsOf = (m: GraphModel): Map<string, Tensor> => {
    const got = new Map<string, Tensor>();
    noGrad(() => m.eval().run([xt], { hook: (n, _ins, outs) => got.set(n.node.name, outs[0]) }));
    return got;
  };
  const [od, ol] = [outputsOf(model), outputsOf(lut)];
  for (const name of ['blocks.0.attn.q', 'blocks.0.attn.k']) assert.ok(cosine(od.get(name)!, ol.get(name)!) > 0.9, `${name}: cosine ${cosine(od.get(name)!, ol.get(name)!)}`);
  assert.deepEqual(ol.get('head')!.shape, [16, T, 3]);
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
  const Tb = m.table.data as Int8Array;
  const scale = m.tableScale.data[0];
  const C = D / 4;
  const want = new Float32Array(N * M);
  for (let r = 0; r < N; r++) {
    for (let o = 0; o < M; o++) {
      let acc = 0;
      for (let c = 0; c < C; c++) acc += Tb[(c * 16 + codes[r * C + c]) * M + o];
      want[r * M + o] = scale * acc + linear.bias!.f32[o];
    }
  }
  assert.deepEqual(y.f32, want);
});

test('default selection keeps the classifier dense only when it is the output: all six Linears of a BERT layer convert', () => {
  const bert = createModel('bert-base-layer', { rng: new Rng(0) });
  assert.deepEqual(selectLayers(bert), ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'intermediate.dense', 'output.dense']);
  const vit = createModel('vit-fm', { rng: new Rng(0) });
  const sel = selectLayers(vit);
  assert.equal(sel.length, 24, 'six Linears in each of 4 blocks');
  assert.ok(!sel.includes('head') && !sel.includes('patch_embed.proj'));
  assert.deepEqual(selectLayers(vit, ['blocks.*.mlp.*']), ['blocks.0.mlp.fc1', 'blocks.0.mlp.fc2', 'blocks.1.mlp.fc1', 'blocks.1.mlp.fc2', 'blocks.2.mlp.fc1', 'blocks.2.mlp.fc2', 'blocks.3.mlp.fc1', 'blocks.3.mlp.fc2']);
  assert.equal(selectLayers(vit, undefined, ['blocks.0.**']).length, 18);
  const res = createModel('resnet-fm', { rng: new Rng(0) });
  assert.equal(selectLayers(res).length, 19, '16 block convs and 3 downsample convs; the stem and fc stay dense');
});

test('conversion progress: calibration per batch, k-means per iteration, the refit ending once at 100/100', () => {
  const rng = new Rng(6);
  const dense = smallCnn(rng);
  const calib = Array.from({ length: 5 }, () => randn([4, 1, 8, 8], 1, rng));
  const events: [string, number, number][] = [];
  convertModel(dense, calib, { k: 16, seed: 3, kmeansIters: 3, onProgress: (s, d, t) => events.push([s, d, t]) });
  const of = (stage: string) => events.filter(([s]) => s === stage).map(([, d, t]) => `${d}/${t}`);
  assert.deepEqual(of('calibrate'), ['0/5', '1/5', '2/5', '3/5', '4/5', '5/5']);
  for (const layer of ['conv2', 'fc1']) {
    assert.ok(of(`lutnn ${layer}`).length >= 2, `k-means progress of ${layer}: ${of(`lutnn ${layer}`)}`);
    const refit = of(`refit ${layer}`);
    assert.equal(refit[0], '0/100');
    assert.equal(refit.at(-1), '100/100');
    assert.equal(refit.filter((r) => r === '100/100').length, 1, `refit ${layer} reports its end once: ${refit}`);
  }
  // Stages come in order, each once: no stage restarts after another began (a restart would print its lines twice).
  const order = events.map(([s]) => s).filter((s, i, a) => i === 0 || a[i - 1] !== s);
  assert.deepEqual(order, ['calibrate', 'lutnn conv2', 'refit conv2', 'lutnn fc1', 'refit fc1']);
  // A streamed calibration source without the refit: its length is unknown, so 0/1 then 1/1.
  const streamed: string[] = [];
  convertModel(dense, (function* () { yield* calib; })(), { k: 16, seed: 3, kmeansIters: 1, refit: false, onProgress: (s, d, t) => s === 'calibrate' && streamed.push(`${d}/${t}`) });
  assert.deepEqual(streamed, ['0/1', '1/1']);
});
