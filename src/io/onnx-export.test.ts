// ONNX export of graph models run in onnxruntime-node against lutnn: dense, residual and transformer graphs, LUT codes and outputs, the CLI and its errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { noGrad } from '../autograd/engine.js';
import { ArgumentError, ShapeError } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { GraphModel } from '../graph/model.js';
import { OP_TYPES, type Attrs, type OpType } from '../graph/types.js';
import { Conv2d, Flatten, GlobalAvgPool2d, LayerNorm, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import type { Module } from '../nn/module.js';
import { createModel, createModule } from '../nn/zoo.js';
import { assignCost, type Metric } from '../lut/distance.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { MaddnessLinear } from '../lut/maddness-modules.js';
import { conv2dGeom } from '../ops/conv.js';
import { encodeRows, im2colRows } from '../ops/lut.js';
import { rand, randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { loadModel, saveModel } from './model-file.js';
import { exportOnnx, type OnnxExportOptions } from './onnx-export.js';
import { decodeModel } from './onnx-proto.js';

const METRICS: Metric[] = ['l2', 'l1', 'chebyshev'];
const tmpDirs: string[] = [];
after(() => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lutnn-onnx-'));
  tmpDirs.push(d);
  return d;
}

type Outputs = Record<string, ort.Tensor>;

/** Op types of every graph exported and run in onnxruntime by this file (checked against OP_TYPES at the end). */
const exercised = new Set<string>();

function ortTensor(t: Tensor): ort.Tensor {
  return t.dtype === 'int32' ? new ort.Tensor('int32', t.data as Int32Array, t.shape) : new ort.Tensor('float32', t.f32, t.shape);
}

/** Export `model`, run it in onnxruntime-node, and run lutnn's eval forward (with every LUT node's input). */
async function runBoth(model: GraphModel, feeds: Tensor[], opts: OnnxExportOptions = {}): Promise<{ out: Outputs; ref: Tensor[]; res: ReturnType<typeof exportOnnx>; lutIn: Map<string, Tensor> }> {
  model.eval();
  const res = exportOnnx(model, opts);
  const session = await ort.InferenceSession.create(res.bytes, { intraOpNumThreads: 1 });
  const inputs = Object.fromEntries(res.inputs.map((v, i) => [v.name, ortTensor(feeds[i])]));
  const out = (await session.run(inputs)) as Outputs;
  for (const n of model.info.nodes) exercised.add(n.node.op);
  const lutIn = new Map<string, Tensor>();
  const ref = noGrad(() => model.run(feeds, { hook: (ni, xs) => void (ni.node.op.startsWith('Lut') && lutIn.set(ni.node.name, xs[0]!)) }));
  return { out, ref, res, lutIn };
}

/** max |a − b| and max |a − b| / max(max |b|, 1e-6). */
function diffs(a: ArrayLike<number>, b: Tensor): { abs: number; rel: number } {
  assert.equal(a.length, b.size);
  let d = 0;
  let m = 1e-6;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b.f32[i]));
    m = Math.max(m, Math.abs(b.f32[i]));
  }
  return { abs: d, rel: d / m };
}
const relDiff = (a: ArrayLike<number>, b: Tensor): number => diffs(a, b).rel;

function bitEqual(a: ArrayLike<number>, b: Tensor): boolean {
  return a.length === b.size && Array.from(a).every((v, i) => Object.is(v, b.f32[i]));
}

const lutNode = (m: GraphModel, name: string): NodeInfo => m.info.nodes.find((n) => n.node.name === name)!;

/** The rows LUT node `ni` encodes for its input x: x as [n, D] (LutLinear) or its im2col rows (LutConv). */
function nodeRows(m: GraphModel, ni: NodeInfo, x: Tensor): Tensor {
  if (ni.node.op === 'LutLinear') return new Tensor(x.f32, [x.size / x.shape[x.ndim - 1], x.shape[x.ndim - 1]]);
  const a = ni.attrs as { kernel: number[]; stride: number[]; padding: number[]; dilation: number[] };
  const M = m.weight(ni.node.inputs[2]).shape[2];
  const pair = (v: number[]): [number, number] => [v[0], v[1]];
  const g = conv2dGeom(x.shape, [M, x.shape[1], a.kernel[0], a.kernel[1]], { stride: pair(a.stride), padding: pair(a.padding), dilation: pair(a.dilation) });
  return noGrad(() => im2colRows(x, g));
}

/** lutnn's codes of LUT node `name` for its input x. */
function lutnnCodes(m: GraphModel, name: string, x: Tensor): number[] {
  const ni = lutNode(m, name);
  return Array.from(encodeRows(nodeRows(m, ni, x), m.weight(ni.node.inputs[1]), { metric: ni.attrs.metric as Metric }));
}

function onnxCodes(out: Outputs, name: string): number[] {
  return Array.from(out[`${name}.codes`].data as BigInt64Array, Number);
}

function tensorOf(t: ort.Tensor): Tensor {
  return new Tensor(Float32Array.from(t.data as Float32Array), t.dims as number[]);
}

/** Non-trivial batch-norm statistics and affine parameters, seeded, on the graph's initializers (shared with its modules). */
function seedBatchNorms(m: GraphModel, rng: Rng): GraphModel {
  for (const n of m.info.nodes.filter((n) => n.node.op === 'BatchNorm')) {
    const [w, b, mean, vr] = n.node.inputs.slice(1, 5).map((v) => m.weight(v).f32); // weight, bias, running_mean, running_var
    for (let i = 0; i < w.length; i++) {
      mean[i] = rng.uniform(-0.2, 0.2);
      vr[i] = rng.uniform(0.5, 2);
      w[i] = rng.uniform(0.5, 1.5);
      b[i] = rng.uniform(-0.2, 0.2);
    }
  }
  return m;
}

/** fmnist-cnn (createModel) with seeded weights and batch-norm statistics. */
function denseCnn(seed: number): GraphModel {
  const rng = new Rng(seed);
  return seedBatchNorms(createModel('fmnist-cnn', { rng }), rng);
}

/** Centroids [C, K, V] made of sub-vectors of rows drawn (seeded) from `rows` [n, C·V]: a cheap k-means start. */
function centroidsFrom(rows: Tensor, C: number, K: number, V: number, rng: Rng): Tensor {
  const [n, D] = rows.shape;
  const out = new Float32Array(C * K * V);
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < K; k++) {
      const r = rng.int(n);
      out.set(rows.f32.subarray(r * D + c * V, r * D + (c + 1) * V), (c * K + k) * V);
    }
  }
  return new Tensor(out, [C, K, V]);
}

/**
 * Replaces the top-level layers `names` of `module`, in order, by LUT layers holding their dense weights, each
 * with K = 16 centroids drawn from the rows it sees on `calib` once the earlier layers are replaced.
 */
function lutify(module: Sequential, names: string[], inputShape: number[], calib: Tensor, metric: Metric, vLinear: number, rng: Rng): GraphModel {
  module.eval();
  for (const name of names) {
    let seen: Tensor | null = null;
    noGrad(() => lowerModule(module, { inputShape }).run([calib], { hook: (ni, xs) => void (ni.node.name === name && (seen = xs[0])) }));
    const layer = module.getModule(name);
    if (layer instanceof Conv2d) {
      const [kh, kw] = layer.kernelSize;
      const g = conv2dGeom(seen!.shape, layer.weight.shape, { stride: layer.stride, padding: layer.padding, dilation: layer.dilation });
      const rows = noGrad(() => im2colRows(seen!, g));
      module.replaceModule(name, LutConv2d.fromDense(layer, centroidsFrom(rows, rows.shape[1] / (kh * kw), 16, kh * kw, rng), { metric }));
    } else if (layer instanceof Linear) {
      const rows = new Tensor(seen!.f32, [seen!.size / layer.inFeatures, layer.inFeatures]);
      module.replaceModule(name, LutLinear.fromDense(layer, centroidsFrom(rows, layer.inFeatures / vLinear, 16, vLinear, rng), { metric }));
    } else {
      throw new Error(`lutify: '${name}' is neither Conv2d nor Linear`);
    }
  }
  return lowerModule(module, { inputShape }).eval();
}

// Tolerance for dense logits: onnxruntime's Conv/Gemm sum in another order than lutnn's kernels, so outputs agree
// to float32 rounding; measured max relative differences are 1e-7..2e-6, asserted with a 10x margin.
const DENSE_REL_TOL = 2e-5;
// Residual and transformer graphs: more ops in a row (softmax, erf, layer norm, which onnxruntime may fuse).
const GRAPH_REL_TOL = 1e-4;

test('protobuf encoding round-trips through the ONNX field numbers', () => {
  const m = lowerModule(Sequential.named([['fc', new Linear(4, 3, { rng: new Rng(1) })]]), { inputShape: [4] });
  const r = exportOnnx(m, { opset: 13, batch: 2, metadata: { k: 'v' } });
  const d = decodeModel(r.bytes);
  assert.equal(r.bytes[0], 0x08); // field 1 (ir_version), varint
  assert.equal(d.irVersion, 7);
  assert.deepEqual(d.opsetImport.map((o) => [o.domain ?? '', o.version]), [['', 13]]);
  assert.deepEqual(d.graph.node.map((n) => n.opType), ['Gemm', 'Identity']);
  assert.deepEqual(d.graph.input[0].type.tensorType.shape.dim, [{ dimValue: 2 }, { dimValue: 4 }]);
  assert.deepEqual(d.graph.output.map((o) => o.name), ['output']);
  assert.deepEqual(d.metadataProps, [{ key: 'k', value: 'v' }]);
  const w = d.graph.initializer.find((t) => t.name === 'fc.weight')!;
  assert.deepEqual(w.dims, [3, 4]);
  assert.deepEqual(Array.from(new Float32Array(new Uint8Array(w.rawData).buffer)), Array.from(m.weight('fc.weight').f32));
  assert.deepEqual(r.layers, [{ name: 'fc', type: 'Linear', nodes: 1 }]);
  assert.deepEqual(r.inputShape, [4]);
});

test('names: input 0 is "input", an initializer of that name moves aside, outputs are "output", "output_1"', async () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 4]);
  const y = b.op('Add', [x, b.weight('input', randn([4], 1, new Rng(3)))], {}, 'add')[0];
  const z = b.op('Clip', [y], {}, 'noclip')[0]; // no bounds: the identity, no ONNX node
  b.output(b.op('Relu', [z], {}, 'relu')[0]);
  b.output(y);
  const { graph, weights: ws } = b.build();
  const model = GraphModel.create(graph, ws);
  const x0 = randn([3, 4], 1, new Rng(4));
  const { out, ref, res } = await runBoth(model, [x0]);
  assert.deepEqual(res.inputs.map((v) => [v.name, v.value]), [['input', 'x']]);
  assert.deepEqual(res.outputs.map((v) => [v.name, v.value]), [['output', 'relu'], ['output_1', 'add']]);
  assert.deepEqual(decodeModel(res.bytes).graph.initializer.map((t) => t.name), ['input_1']);
  assert.deepEqual(res.layers, [{ name: 'add', type: 'Add', nodes: 1 }, { name: 'noclip', type: 'Clip', nodes: 0 }, { name: 'relu', type: 'Relu', nodes: 1 }]);
  assert.ok(bitEqual(out.output.data as Float32Array, ref[0]) && bitEqual(out.output_1.data as Float32Array, ref[1]));
});

test('dense fmnist-cnn (seeded init and the shipped model) matches lutnn eval logits', async (t) => {
  const x = randn([3, 1, 28, 28], 1, new Rng(7));
  const models: [string, GraphModel][] = [['seeded', denseCnn(3)]];
  const shipped = join(process.cwd(), 'models', 'fmnist-cnn.safetensors');
  if (existsSync(shipped)) models.push(['shipped', loadModel(shipped).model]);
  else t.diagnostic('models/fmnist-cnn.safetensors not found; shipped-model case skipped');
  for (const [name, model] of models) {
    for (const opts of [{}, { opset: 13, batch: 3 }, { opset: 21 }] as OnnxExportOptions[]) {
      const { out, ref, res } = await runBoth(model, [x], opts);
      const { abs, rel } = diffs(out.output.data as Float32Array, ref[0]);
      t.diagnostic(`${name} opset ${res.opset} batch ${opts.batch ?? 'dynamic'}: max abs logit difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)}`);
      assert.ok(rel <= DENSE_REL_TOL, `${name} opset ${res.opset}: relative difference ${rel} > ${DENSE_REL_TOL}`);
      assert.deepEqual(out.output.dims, [3, 10]);
      assert.deepEqual(res.input, { name: 'input', shape: [opts.batch ?? 'N', 1, 28, 28] });
      assert.deepEqual(res.ops.BatchNormalization, 4); // on a dense conv's output: not exact, a standard BatchNormalization
    }
  }
});

test('single LUT layers: codes and outputs bit-identical to lutnn (every metric, int8 and float tables)', async () => {
  const rng = new Rng(11);
  const one = (name: string, layer: Module, inputShape: number[]): GraphModel => lowerModule(Sequential.named([[name, layer]]), { inputShape });
  for (const metric of METRICS) {
    for (const quantize of [true, false]) {
      const cases: [GraphModel, Tensor, string][] = [
        [one('lc', new LutConv2d({ cin: 6, cout: 10, kernel: 3, padding: 1, stride: 2, metric, quantize, rng }), [6, 9, 9]), randn([2, 6, 9, 9], 1, rng), 'lc'],
        [one('lc', new LutConv2d({ cin: 4, cout: 5, kernel: [3, 2], padding: [2, 0], dilation: [2, 1], subvecLen: 4, metric, quantize, rng }), [4, 7, 6]), randn([2, 4, 7, 6], 1, rng), 'lc'],
        [one('ll', new LutLinear({ inFeatures: 48, outFeatures: 7, subvecLen: 8, k: 32, metric, quantize, rng }), [48]), randn([5, 48], 1, rng), 'll'],
        [one('ll', new LutLinear({ inFeatures: 12, outFeatures: 3, subvecLen: 3, bias: false, metric, quantize, rng }), [3, 12]), randn([2, 3, 12], 1, rng), 'll'],
      ];
      for (const [model, x, name] of cases) {
        for (const batch of ['dynamic', 2] as const) {
          if (batch === 2 && x.shape[0] !== 2) continue;
          const { out, ref, res } = await runBoth(model, [x], { codes: true, batch });
          assert.deepEqual(onnxCodes(out, name), lutnnCodes(model, name, x), `${metric} ${name} codes`);
          assert.ok(bitEqual(out.output.data as Float32Array, ref[0]), `${metric} quantize=${quantize} ${name}: output differs from lutnn (max rel ${relDiff(out.output.data as Float32Array, ref[0])})`);
          assert.deepEqual(out.output.dims, ref[0].shape);
          const l = res.lutLayers[0];
          assert.equal(l.tableDtype, quantize ? 'int8' : 'float32');
          assert.equal(l.scale === null, !quantize);
          const rows = name === 'lc' ? ref[0].shape[2] * ref[0].shape[3] : x.ndim === 3 ? x.shape[1] : 1;
          assert.equal(l.rowsPerSample, rows);
          const rowsDim = batch === 2 ? 2 * rows : rows === 1 ? 'N' : `${rows}*N`;
          assert.deepEqual(res.extraOutputs, [{ name: `${name}.codes`, shape: [rowsDim, l.ncodebooks], dtype: 'int64' }]);
        }
      }
    }
  }
});

test('argmin ties go to the lowest centroid index, as in lutnn', async () => {
  const rng = new Rng(5);
  for (const metric of METRICS) {
    const layer = new LutLinear({ inFeatures: 8, outFeatures: 4, subvecLen: 4, k: 8, metric, rng });
    const P = layer.centroids.f32; // [2, 8, 4]: centroid k+4 duplicates centroid k, so every distance has a tie
    for (let c = 0; c < 2; c++) for (let k = 0; k < 4; k++) for (let v = 0; v < 4; v++) P[(c * 8 + k + 4) * 4 + v] = P[(c * 8 + k) * 4 + v];
    const model = lowerModule(Sequential.named([['ll', layer]]), { inputShape: [8] });
    const x = randn([64, 8], 1, rng);
    const { out } = await runBoth(model, [x], { codes: true });
    const got = onnxCodes(out, 'll');
    assert.deepEqual(got, lutnnCodes(model, 'll', x));
    assert.ok(got.every((k) => k < 4), `${metric}: a duplicate (higher) index was chosen`);
  }
});

/** A small all-LUT CNN (every conv and the hidden Linear as LUT layers, no batch norm) on 10x10 inputs. */
function smallLutCnn(metric: Metric, seed: number): { model: GraphModel; x: Tensor } {
  const rng = new Rng(seed);
  const module = Sequential.named([
    ['conv1', new Conv2d(2, 6, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(6, 8, 3, { padding: 1, stride: 2, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(8 * 5 * 5, 16, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(16, 4, { rng })],
  ]);
  const model = lutify(module, ['conv1', 'conv2', 'fc1'], [2, 10, 10], randn([16, 2, 10, 10], 1, rng), metric, 8, rng);
  return { model, x: randn([6, 2, 10, 10], 1, rng) };
}

test('all-LUT CNN: codes of every layer identical to lutnn forward, logits within tolerance', async (t) => {
  for (const metric of METRICS) {
    const { model, x } = smallLutCnn(metric, 21);
    const { out, ref, res, lutIn } = await runBoth(model, [x], { codes: true });
    assert.deepEqual(res.lutLayers.map((l) => [l.name, l.kind, l.metric]), [['conv1', 'conv', metric], ['conv2', 'conv', metric], ['fc1', 'linear', metric]]);
    let total = 0;
    for (const name of ['conv1', 'conv2', 'fc1']) {
      const want = lutnnCodes(model, name, lutIn.get(name)!); // lutnn's codes on its own activations
      assert.deepEqual(onnxCodes(out, name), want, `${metric} ${name}: codes differ from lutnn's forward`);
      total += want.length;
    }
    const { abs, rel } = diffs(out.output.data as Float32Array, ref[0]);
    t.diagnostic(`${metric}: ${total} codes, 0 mismatches; max abs logit difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)} (only the dense fc2 rounds differently)`);
    assert.ok(rel <= DENSE_REL_TOL, `${metric}: relative logit difference ${rel}`);
    // sum 'reduce': one ReduceSum per LUT layer, outputs within float32 rounding, so a later layer's code can flip
    // at a near-tie; codes are still lutnn's for the input onnxruntime computed for each layer.
    const red = await runBoth(model, [x], { codes: true, layerInputs: true, sum: 'reduce' });
    assert.equal(red.res.ops.ReduceSum, 3);
    assert.equal(red.res.sum, 'reduce');
    let flips = 0;
    for (const name of ['conv1', 'conv2', 'fc1']) {
      const got = onnxCodes(red.out, name);
      assert.deepEqual(got, lutnnCodes(model, name, tensorOf(red.out[`${name}.input`])), `${metric} ${name} (sum reduce): codes differ for the same input`);
      const want = lutnnCodes(model, name, lutIn.get(name)!);
      flips += want.filter((k, i) => k !== got[i]).length;
    }
    const rr = relDiff(red.out.output.data as Float32Array, ref[0]);
    t.diagnostic(`${metric} sum reduce: ${flips} of ${total} codes differ from lutnn's forward; max relative logit difference ${rr.toExponential(2)}`);
    assert.ok(flips <= 1e-2 * total, `${metric} sum reduce: ${flips} code flips`);
    if (flips === 0) assert.ok(rr <= DENSE_REL_TOL, `${metric} sum reduce: no code differs, yet logits differ by ${rr} relative`);
  }
});

test('LUT fmnist-cnn (conv1 dense, batch norm): codes identical given the same input; whole-model flips only at near-ties', async (t) => {
  const rng = new Rng(6);
  const x = randn([2, 1, 28, 28], 1, rng);
  for (const metric of ['l2', 'chebyshev'] as Metric[]) {
    const module = createModule('fmnist-cnn', { rng: new Rng(4) }) as Sequential;
    seedBatchNorms(lowerModule(module, { inputShape: [1, 28, 28] }), new Rng(4));
    const luts = ['conv2', 'conv3', 'conv4', 'fc1'];
    const model = lutify(module, luts, [1, 28, 28], randn([6, 1, 28, 28], 1, rng), metric, 16, new Rng(2));
    const { out, ref, res, lutIn } = await runBoth(model, [x], { codes: true, layerInputs: true });
    assert.deepEqual(res.lutLayers.map((l) => l.name), luts);
    // bn1 follows a dense conv (BatchNormalization); bn2..bn4 follow LUT convs (lutnn's float64 arithmetic).
    assert.equal(res.ops.BatchNormalization, 1);
    assert.equal(res.ops.Cast, 6);
    // Exact: lutnn's encoder on the very input onnxruntime computed for each layer.
    for (const name of luts) {
      assert.deepEqual(onnxCodes(out, name), lutnnCodes(model, name, tensorOf(out[`${name}.input`])), `${metric} ${name}: codes differ for the same input`);
    }
    // Whole model against lutnn's own forward: the dense conv1 and bn1 round differently in onnxruntime (~1e-6),
    // so a conv2 code whose two nearest centroids are that close can flip. The first flip must be such a
    // near-tie on lutnn's own input (later layers then see the flip's effect, not rounding).
    let total = 0;
    let flips = 0;
    for (const name of luts) {
      if (flips > 0) break;
      const h = lutIn.get(name)!;
      // Until a flip, every LUT layer after the first sees lutnn's exact input: LUT outputs are bit-identical
      // and a batch norm after a LUT layer is exported with lutnn's float64 arithmetic.
      if (name !== 'conv2') assert.ok(bitEqual(out[`${name}.input`].data as Float32Array, h), `${metric} ${name}: input differs from lutnn's`);
      const got = onnxCodes(out, name);
      const want = lutnnCodes(model, name, h);
      const ni = lutNode(model, name);
      const P = model.weight(ni.node.inputs[1]);
      const [C, K, V] = P.shape;
      const rows = nodeRows(model, ni, h).f32;
      for (let i = 0; i < want.length; i++) {
        if (want[i] === got[i]) continue;
        if (flips++ > 0) continue;
        const r = Math.floor(i / C);
        const c = i % C;
        const dist = (k: number): number => assignCost(metric, rows, r * C * V + c * V, P.f32, (c * K + k) * V, V);
        const gap = dist(got[i]) - dist(want[i]);
        assert.ok(gap <= 1e-4 * Math.max(1, dist(want[i])), `${metric} ${name} row ${r} codebook ${c}: code ${got[i]} vs ${want[i]} is no near-tie (gap ${gap})`);
      }
      total += want.length;
    }
    const { abs, rel } = diffs(out.output.data as Float32Array, ref[0]);
    t.diagnostic(`${metric}: whole-model code flips vs lutnn: ${flips} of ${total} codes checked; max abs logit difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)}`);
    assert.ok(flips <= 1e-3 * total, `${metric}: ${flips} flips in ${total} codes`);
    if (flips === 0) assert.ok(rel <= 1e-4, `${metric}: no code differs, yet logits differ by ${rel} relative`);
  }
});

/** A GraphBuilder with seeded weights (w: N(0, std²), pos: U(0.5, 1.5)) and `op` for single-output ops. */
function seededBuilder(seed: number) {
  const rng = new Rng(seed);
  const b = new GraphBuilder();
  return {
    b,
    w: (name: string, shape: number[], std = 0.3): Value => b.weight(name, randn(shape, std, rng)),
    pos: (name: string, shape: number[]): Value => b.weight(name, rand(shape, 0.5, 1.5, rng)),
    op: (type: OpType, ins: (Value | null)[], attrs: Attrs, name: string): Value => b.op(type, ins, attrs, name)[0],
  };
}

/**
 * A residual CNN on [N, 3, 12, 12]: Conv/BN/Relu and LeakyRelu branches joined by Add, a squeeze-excite gate (GlobalAveragePool,
 * 1x1 convs, Silu, Sigmoid, Mul), max and average pooling joined by Concat, Split into a depthwise-conv/HardSwish
 * branch and a Clip/Tanh branch, Sub/Div by per-channel constants, Dropout, Identity, and two Linear heads added.
 */
function residualGraph(seed: number): GraphModel {
  const { b, w, pos, op } = seededBuilder(seed);
  const conv = (name: string, x: Value, cin: number, cout: number, k: number, attrs: Attrs = {}): Value => {
    const groups = (attrs.groups as number | undefined) ?? 1;
    return op('Conv', [x, w(`${name}.weight`, [cout, cin / groups, k, k]), w(`${name}.bias`, [cout], 0.1)], attrs, name);
  };
  const bn = (name: string, x: Value, C: number, affine = true): Value =>
    op('BatchNorm', [x, affine ? pos(`${name}.weight`, [C]) : null, affine ? w(`${name}.bias`, [C], 0.1) : null, w(`${name}.running_mean`, [C], 0.1), pos(`${name}.running_var`, [C])], {}, name);
  const x = b.input('image', 'float32', ['N', 3, 12, 12]);
  const s = op('Relu', [bn('stem.bn', conv('stem.conv', x, 3, 8, 3, { padding: [1, 1] }), 8)], {}, 'stem.relu'); // [N, 8, 12, 12]
  const a1 = op('LeakyRelu', [bn('a.bn1', conv('a.conv1', s, 8, 8, 3, { padding: [2, 2], dilation: [2, 2] }), 8, false)], { alpha: 0.1 }, 'a.relu');
  const a2 = bn('a.bn2', conv('a.conv2', a1, 8, 8, 3, { padding: [1, 1] }), 8);
  const r = op('Relu', [op('Add', [s, a2], {}, 'a.add')], {}, 'a.out'); // [N, 8, 12, 12]
  const gp = op('GlobalAveragePool', [r], { keepdims: true }, 'se.pool'); // [N, 8, 1, 1]
  const gate = op('Sigmoid', [conv('se.fc2', op('Silu', [conv('se.fc1', gp, 8, 4, 1)], {}, 'se.silu'), 4, 8, 1)], {}, 'se.gate');
  const r2 = op('Mul', [r, gate], {}, 'se.mul');
  const d1 = op('MaxPool', [r2], { kernel: [2, 2], stride: [2, 2] }, 'down.max'); // [N, 8, 6, 6]
  const d2 = op('AveragePool', [r2], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }, 'down.avg'); // [N, 8, 6, 6]
  const cat = op('Concat', [d1, d2], { axis: 1 }, 'down.cat'); // [N, 16, 6, 6]
  const [p, q] = b.op('Split', [cat], { axis: 1, split: [6, 10] }, 'split'); // [N, 6, 6, 6], [N, 10, 6, 6]
  const p2 = op('HardSwish', [conv('p.dw', p, 6, 6, 3, { padding: [1, 1], groups: 6 })], {}, 'p.act');
  const q2 = op('Tanh', [op('Clip', [op('Clip', [q], { min: -1.5, max: null }, 'q.clip_lo')], { min: null, max: 0.8 }, 'q.clip_hi')], {}, 'q.tanh');
  let m = op('Concat', [p2, q2], { axis: -3 }, 'join'); // [N, 16, 6, 6]
  m = op('Div', [op('Sub', [m, w('norm.shift', [16, 1, 1], 0.1)], {}, 'norm.sub'), pos('norm.scale', [16, 1, 1])], {}, 'norm.div');
  m = op('Identity', [op('Dropout', [m], { p: 0.3 }, 'drop')], {}, 'id');
  const h1 = op('Linear', [op('Flatten', [m], {}, 'flat'), w('head1.weight', [10, 576], 0.05), w('head1.bias', [10], 0.1)], {}, 'head1');
  const h2 = op('Linear', [op('GlobalAveragePool', [m], {}, 'gap'), w('head2.weight', [10, 16]), null], {}, 'head2');
  b.output(op('Add', [h1, h2], {}, 'logits'));
  const { graph, weights: ws } = b.build();
  return GraphModel.create(graph, ws).eval();
}

test('residual CNN graph (Conv/BN/Relu branches joined by Add and more) matches lutnn in onnxruntime', async (t) => {
  const model = residualGraph(31);
  const x = randn([3, 3, 12, 12], 1, new Rng(32));
  for (const opts of [{}, { opset: 13, batch: 3 }, { opset: 21 }] as OnnxExportOptions[]) {
    const { out, ref, res } = await runBoth(model, [x], opts);
    const { abs, rel } = diffs(out.output.data as Float32Array, ref[0]);
    t.diagnostic(`opset ${res.opset}: max abs difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)}`);
    assert.ok(rel <= GRAPH_REL_TOL, `opset ${res.opset}: relative difference ${rel} > ${GRAPH_REL_TOL}`);
    assert.deepEqual(out.output.dims, [3, 10]);
    // HardSwish is an ONNX op from opset 14; before, HardSigmoid·x.
    assert.equal(res.ops.HardSwish ?? 0, res.opset >= 14 ? 1 : 0);
    assert.equal(res.ops.HardSigmoid ?? 0, res.opset >= 14 ? 0 : 1);
    assert.deepEqual(res.layers.filter((l) => l.nodes === 0).map((l) => l.name), ['drop', 'id']);
  }
});

/**
 * A transformer block on token ids [N, 6] (int32): Gather (embedding) + position embedding, LayerNorm, a Linear
 * to q, k, v, Split, Reshape/Transpose to 2 heads, MatMul, scaling Mul, Softmax, MatMul, back to [N, 6, 8],
 * output projection and residual Add, LayerNorm (no bias), MLP with erf Gelu, residual; then the mean over tokens
 * (ReduceMean) plus the first token (Slice, Squeeze), tanh Gelu, a 2-D Linear (Gemm) and Unsqueeze. Two outputs:
 * the logits [N, 1, 5] and the pooled features [N, 8].
 */
function transformerGraph(seed: number): GraphModel {
  const { b, w, pos, op } = seededBuilder(seed);
  const T = 6;
  const D = 8;
  const H = 2;
  const linear = (name: string, x: Value, din: number, dout: number): Value => op('Linear', [x, w(`${name}.weight`, [dout, din], 1 / Math.sqrt(din)), w(`${name}.bias`, [dout], 0.1)], {}, name);
  const ids = b.input('ids', 'int32', ['N', T]);
  const emb = op('Gather', [w('tok_emb', [11, D], 1), ids], { axis: 0 }, 'embed'); // [N, T, D]
  const h = op('Add', [emb, w('pos_emb', [T, D], 0.5)], {}, 'embed.pos');
  const ln1 = op('LayerNorm', [h, pos('ln1.weight', [D]), w('ln1.bias', [D], 0.1)], {}, 'ln1');
  const [q, k, v] = b.op('Split', [linear('attn.qkv', ln1, D, 3 * D)], { axis: 2, split: [D, D, D] }, 'attn.split'); // 3 × [N, T, D]
  const heads = (x: Value, name: string, perm: number[]): Value => op('Transpose', [op('Reshape', [x], { shape: [0, T, H, D / H] }, `${name}.split_heads`)], { perm }, `${name}.t`);
  const qh = heads(q, 'attn.q', [0, 2, 1, 3]); // [N, H, T, D/H]
  const kt = heads(k, 'attn.k', [0, 2, 3, 1]); // [N, H, D/H, T]
  const vh = heads(v, 'attn.v', [0, 2, 1, 3]); // [N, H, T, D/H]
  const scores = op('Mul', [op('MatMul', [qh, kt], {}, 'attn.qk'), b.weight('attn.scale', new Tensor(Float32Array.of(1 / Math.sqrt(D / H)), []))], {}, 'attn.scaled'); // [N, H, T, T]
  const probs = op('Softmax', [scores], { axis: -1 }, 'attn.softmax');
  const ctx = op('Transpose', [op('MatMul', [probs, vh], {}, 'attn.pv')], { perm: [0, 2, 1, 3] }, 'attn.merge_t'); // [N, T, H, D/H]
  const h2 = op('Add', [h, linear('attn.proj', op('Reshape', [ctx], { shape: [0, 0, -1] }, 'attn.merge'), D, D)], {}, 'attn.residual');
  const ln2 = op('LayerNorm', [h2, pos('ln2.weight', [D])], { eps: 1e-6 }, 'ln2');
  const ff = linear('mlp.fc2', op('Gelu', [linear('mlp.fc1', ln2, D, 2 * D)], {}, 'mlp.gelu'), 2 * D, D);
  const h3 = op('Add', [h2, ff], {}, 'mlp.residual'); // [N, T, D]
  const pooled = op('ReduceMean', [h3], { axes: [1] }, 'pool'); // [N, D]
  const first = op('Squeeze', [op('Slice', [h3], { axes: [1], starts: [0], ends: [1] }, 'first.slice')], { axes: [1] }, 'first'); // [N, D]
  const z = op('Gelu', [op('Add', [pooled, first], {}, 'head.in')], { approximate: 'tanh' }, 'head.gelu');
  b.output(op('Unsqueeze', [linear('head', z, D, 5)], { axes: [1] }, 'logits')); // [N, 1, 5]
  b.output(pooled);
  const { graph, weights: ws } = b.build();
  return GraphModel.create(graph, ws).eval();
}

test('transformer block graph (GraphBuilder) matches GraphModel.run in onnxruntime; two outputs', async (t) => {
  const model = transformerGraph(41);
  const rng = new Rng(42);
  const ids = new Tensor(Int32Array.from({ length: 4 * 6 }, () => rng.int(11)), [4, 6], 'int32');
  for (const opts of [{}, { opset: 18, batch: 4 }, { opset: 21 }] as OnnxExportOptions[]) {
    const { out, ref, res } = await runBoth(model, [ids], opts);
    assert.deepEqual(res.inputs.map((i) => [i.name, i.value, i.dtype]), [['input', 'ids', 'int32']]);
    assert.deepEqual(res.outputs.map((o) => [o.name, o.value, o.shape]), [['output', 'logits', [opts.batch ?? 'N', 1, 5]], ['output_1', 'pool', [opts.batch ?? 'N', 8]]]);
    for (const [name, i] of [['output', 0], ['output_1', 1]] as const) {
      const { abs, rel } = diffs(out[name].data as Float32Array, ref[i]);
      t.diagnostic(`opset ${res.opset} ${name}: max abs difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)}`);
      assert.ok(rel <= GRAPH_REL_TOL, `opset ${res.opset} ${name}: relative difference ${rel} > ${GRAPH_REL_TOL}`);
      assert.deepEqual(out[name].dims, ref[i].shape);
    }
    assert.equal(res.ops.LayerNormalization, 2);
    assert.equal(res.ops.Erf, 1);
  }
  assert.throws(() => exportOnnx(model, { opset: 16 }), (e: Error) => e instanceof ArgumentError && /LayerNorm 'ln1' needs opset >= 17/.test(e.message));
});

test('Cast, Expand, Equal and Where (an int mask made float, a class token repeated over the batch, masked_fill) match lutnn in onnxruntime', async (t) => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 3, 4]);
  const mask = b.input('mask', 'int32', ['N', 4]);
  const cls = b.op('Expand', [b.weight('cls', randn([1, 1, 4], 1, new Rng(81)).requireGrad()), x], { shape: [1, 1, 4] }, 'cls')[0]; // [N, 1, 4]
  const seq = b.op('Concat', [cls, x], { axis: 1 }, 'cat')[0]; // [N, 4, 4]
  const m = b.op('Unsqueeze', [b.op('Cast', [mask], { to: 'float32' }, 'mask_f')[0]], { axes: [1] }, 'mask_u')[0]; // [N, 1, 4]
  const wide = b.op('Expand', [m], { shape: [1, 4, 4] }, 'mask_wide')[0]; // [N, 4, 4]
  const masked = b.op('Mul', [seq, wide], {}, 'masked')[0];
  // masked_fill(mask == 0, -1e4) over the [N, 1, 4] mask.
  const isPad = b.op('Unsqueeze', [b.op('Equal', [mask, b.weight('zero', new Tensor(Int32Array.of(0), []))], {}, 'is_pad')[0]], { axes: [1] }, 'is_pad_u')[0];
  b.output(b.op('Where', [isPad, b.weight('neg', new Tensor(Float32Array.of(-1e4), [])), masked], {}, 'fill')[0]);
  const { graph, weights } = b.build();
  const model = GraphModel.create(graph, weights);
  const rng = new Rng(82);
  const feeds = [randn([3, 3, 4], 1, rng), new Tensor(Int32Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? 0 : i % 3)), [3, 4])];
  for (const opts of [{}, { opset: 13, batch: 3 }] as OnnxExportOptions[]) {
    const { out, ref, res } = await runBoth(model, feeds, opts);
    assert.ok(bitEqual(out.output.data as Float32Array, ref[0]), `opset ${res.opset}: outputs differ`);
    assert.deepEqual(out.output.dims, [3, 4, 4]);
    t.diagnostic(`opset ${res.opset}: ${JSON.stringify(res.ops)}`);
  }
});

test('zoo graphs (resnet-fm, vit-fm) match lutnn in onnxruntime', async (t) => {
  const x = randn([2, 1, 28, 28], 1, new Rng(61));
  for (const name of ['resnet-fm', 'vit-fm']) {
    const model = createModel(name, { rng: new Rng(62) });
    const { out, ref, res } = await runBoth(model, [x]);
    const { abs, rel } = diffs(out.output.data as Float32Array, ref[0]);
    t.diagnostic(`${name}: ${model.info.nodes.length} graph nodes → ${res.nodes} ONNX nodes; max abs difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)}`);
    assert.ok(rel <= GRAPH_REL_TOL, `${name}: relative difference ${rel} > ${GRAPH_REL_TOL}`);
    assert.deepEqual(out.output.dims, ref[0].shape);
  }
});

/**
 * One quantized layer per graph: a grouped QConv (8-bit activations, 9-bit weights), a 3-D QLinear (MatMul path, 6-bit
 * activations: QDQ then Clip) and a 2-D QLinear without bias and 7-bit weights (Gemm path). One layer each because in a
 * chain a float-rounding difference of one layer's output can move the next layer's input across a rounding tie, as
 * with the LUT layers' codes.
 */
function quantGraphs(seed: number): { model: GraphModel; x: Tensor; ops: Record<string, number> }[] {
  const one = (xs: number[], make: (b: GraphBuilder, x: Value, w: (n: string, s: number[], std: number) => Value, scale: (s: number) => Value) => Value, ops: Record<string, number>) => {
    const { b, w } = seededBuilder(seed++);
    const x = b.input('x', 'float32', ['N', ...xs.slice(1)]);
    b.output(make(b, x, w, (s) => b.weight('act_scale', new Tensor(Float32Array.of(s), []))));
    const { graph, weights } = b.build();
    return { model: GraphModel.create(graph, weights).eval(), x: randn(xs, 1, new Rng(seed)), ops };
  };
  return [
    one([3, 2, 8, 8], (b, x, w, s) => b.op('QConv', [x, w('conv.weight', [4, 1, 3, 3], 0.5), w('conv.bias', [4], 0.1), s(2.5 / 127)], { padding: [1, 1], groups: 2 }, 'conv')[0], { Conv: 1, QuantizeLinear: 1, DequantizeLinear: 1 }),
    one([3, 4, 64], (b, x, w, s) => b.op('QLinear', [x, w('tok.weight', [5, 64], 0.2), w('tok.bias', [5], 0.1), s(1.5 / 31)], { act_bits: 6 }, 'tok')[0], { MatMul: 1, Clip: 1, QuantizeLinear: 1 }),
    one([3, 20], (b, x, w, s) => b.op('QLinear', [x, w('head.weight', [3, 20], 0.3), null, s(3 / 127)], { weight_bits: 7 }, 'head')[0], { Gemm: 1, QuantizeLinear: 1 }),
  ];
}

test('quantized layers (QConv, QLinear) in QDQ form match lutnn in onnxruntime', async (t) => {
  for (const { model, x, ops } of quantGraphs(71)) {
    for (const opts of [{}, { opset: 13 }] as OnnxExportOptions[]) {
      const { out, ref, res } = await runBoth(model, [x], opts);
      const { abs, rel } = diffs(out.output.data as Float32Array, ref[0]);
      const name = model.info.nodes[0].node.name;
      t.diagnostic(`${name}, opset ${res.opset}: max abs difference ${abs.toExponential(2)}, relative ${rel.toExponential(2)} (float sums in onnxruntime, exact integer sums in lutnn)`);
      // The same integers on both sides; only the float summation order differs.
      assert.ok(rel <= 1e-6, `${name}, opset ${res.opset}: relative difference ${rel} > 1e-6`);
      assert.deepEqual(out.output.dims, ref[0].shape);
      for (const [op, n] of Object.entries(ops)) assert.equal(res.ops[op], n, `${name}: ${op}`);
    }
  }
});

test('inputShape re-analyses the graph for another input shape', async (t) => {
  const rng = new Rng(51);
  const module = Sequential.named([
    ['conv', new Conv2d(2, 4, 3, { padding: 1, rng })],
    ['relu', new ReLU()],
    ['pool', new GlobalAvgPool2d()],
    ['fc', new Linear(4, 3, { rng })],
  ]);
  const small = lowerModule(module, { inputShape: [2, 8, 8] });
  const big = lowerModule(module, { inputShape: [2, 11, 13] }); // the same weights, written for the new shape
  const x = randn([2, 2, 11, 13], 1, rng);
  const res = exportOnnx(small, { inputShape: [2, 11, 13] });
  assert.deepEqual(res.inputShape, [2, 11, 13]);
  assert.deepEqual(res.input.shape, ['N', 2, 11, 13]);
  const session = await ort.InferenceSession.create(res.bytes, { intraOpNumThreads: 1 });
  const out = (await session.run({ input: ortTensor(x) })) as Outputs;
  const rel = relDiff(out.output.data as Float32Array, noGrad(() => big.forward(x)));
  t.diagnostic(`relative difference ${rel.toExponential(2)}`);
  assert.ok(rel <= DENSE_REL_TOL);
  assert.equal(small.info.graph.inputs[0].shape[2], 8); // the model itself is unchanged
  // A shape the graph cannot take: the error names the node.
  const flat = lowerModule(Sequential.named([['flatten', new Flatten(1)], ['fc', new Linear(4, 2)]]), { inputShape: [4] });
  assert.throws(() => exportOnnx(flat, { inputShape: [5] }), (e: Error) => e instanceof ShapeError && /^exportOnnx: inputShape \[5\] does not fit the graph \(input 'input' is \[N,4\]\): node 'fc' \(Linear\): input last dim 5 vs in features 4/.test(e.message));
});

test('unsupported ops and bad options give clear errors', () => {
  const madd = lowerModule(Sequential.named([['flatten', new Flatten(1)], ['fc', new MaddnessLinear(16, 4, 4)]]), { inputShape: [16] });
  assert.throws(() => exportOnnx(madd), (e: Error) => e instanceof ArgumentError && /^onnx export: node 'fc' \(MaddnessLinear\) is a MADDNESS layer, which ONNX export does not support/.test(e.message));
  const m = lowerModule(Sequential.named([['fc', new Linear(4, 2)]]), { inputShape: [4] });
  assert.throws(() => exportOnnx(m, { opset: 9 }), /exportOnnx: opset must be an integer in 13\.\.21, got 9/);
  assert.throws(() => exportOnnx(m, { batch: 0 }), /exportOnnx: batch must be an integer >= 1, got 0/);
  assert.throws(() => exportOnnx(m, { sum: 'tree' as 'chain' }), /exportOnnx: sum must be 'chain' or 'reduce', got tree/);
  assert.throws(() => exportOnnx(m, { inputShape: [0] }), /exportOnnx: inputShape must be a list of positive integers/);
  assert.throws(() => exportOnnx(Sequential.named([['fc', new Linear(4, 2)]]) as never), /exportOnnx: model must be a graph model/);
  const pool = lowerModule(Sequential.named([['pool', new MaxPool2d(2)]]), { inputShape: [1, 4, 4] });
  assert.throws(() => exportOnnx(pool, { inputShape: [8] }), (e: Error) => e instanceof ShapeError && /node 'pool' \(MaxPool\): x must be \[N, C, H, W\], got \[N,8\]/.test(e.message));
  const ln = lowerModule(Sequential.named([['ln', new LayerNorm([4])]]), { inputShape: [4] });
  assert.throws(() => exportOnnx(ln, { opset: 13 }), /onnx export: LayerNorm 'ln' needs opset >= 17 \(LayerNormalization\), got --opset 13/);
});

const cli = ['--import', 'tsx', 'src/cli/main.ts'];

/** Run `lutnn export ...` in a child process; resolves with its exit status and output. */
function runCli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cli, 'export', ...args], { encoding: 'utf8', timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('lutnn export CLI: atomic file, one JSON object, codes outputs, and errors', async () => {
  const dir = tempDir();
  const { model } = smallLutCnn('l2', 31);
  const modelFile = join(dir, 'lut.safetensors');
  saveModel(modelFile, model, { dataset: { name: 'fashion-mnist', mean: 0.5, std: 0.25, inputShape: [2, 10, 10] } });
  const onnxFile = join(dir, 'lut.onnx');
  const madd = lowerModule(Sequential.named([['flatten', new Flatten(1)], ['fc', new MaddnessLinear(16, 4, 4)]]), { inputShape: [16] });
  const maddFile = join(dir, 'madd.safetensors');
  saveModel(maddFile, madd, { dataset: { name: 'fashion-mnist', mean: 0, std: 1, inputShape: [16] } });
  const errors: [string[], RegExp][] = [
    [[maddFile, '--onnx', join(dir, 'm.onnx')], /^lutnn: onnx export: node 'fc' \(MaddnessLinear\) is a MADDNESS layer, which ONNX export does not support/],
    [[join(dir, 'missing.safetensors'), '--onnx', join(dir, 'x.onnx')], /^lutnn: .*missing\.safetensors: no such file or directory, expected a \.safetensors file/],
    [[modelFile, '--onnx', join(dir, 'no', 'such', 'x.onnx')], /^lutnn: export: --onnx .*x\.onnx: directory .*such does not exist/],
    [[modelFile, '--onnx', dir], /^lutnn: export: --onnx .* is a directory, expected a file path/],
    [[modelFile, '--onnx', join(dir, 'y.onnx'), '--input-shape', '2,12,12'], /^lutnn: exportOnnx: inputShape \[2,12,12\] does not fit the graph \(input 'input' is \[N,2,10,10\]\): node 'fc1' \(LutLinear\)/],
  ];
  // Two processes at a time (the machine has 2 cores).
  const [r, ...errs] = await Promise.all([runCli([modelFile, '--onnx', onnxFile, '--codes', '--batch', '3', '--json']), ...errors.slice(0, 1).map(([a]) => runCli(a))]);
  for (let i = 1; i < errors.length; i += 2) errs.push(...(await Promise.all(errors.slice(i, i + 2).map(([a]) => runCli(a)))));
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.command, 'export');
  assert.equal(j.model, modelFile);
  assert.equal(j.out, onnxFile);
  assert.equal(j.bytes, statSync(onnxFile).size);
  assert.equal(j.opset, 17);
  assert.equal(j.batch, 3);
  assert.deepEqual(j.inputShape, [2, 10, 10]);
  assert.deepEqual(j.input, { name: 'input', shape: [3, 2, 10, 10] });
  assert.deepEqual(j.output, { name: 'output', shape: [3, 4] });
  assert.deepEqual(j.lutLayers.map((l: { name: string }) => l.name), ['conv1', 'conv2', 'fc1']);
  assert.deepEqual(j.layers.map((l: { name: string; type: string }) => `${l.name}:${l.type}`), ['conv1:LutConv', 'relu1:Relu', 'conv2:LutConv', 'relu2:Relu', 'flatten:Flatten', 'fc1:LutLinear', 'relu3:Relu', 'fc2:Linear']);
  assert.deepEqual(j.extraOutputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape]), [['conv1.codes', [300, 2]], ['conv2.codes', [75, 6]], ['fc1.codes', [3, 25]]]);
  assert.ok(j.nodes > 20 && j.ops.ArgMin === 3, JSON.stringify(j.ops));
  assert.deepEqual(readdirSync(dir).sort(), ['lut.onnx', 'lut.safetensors', 'madd.safetensors']); // no temporary file left behind
  const session = await ort.InferenceSession.create(readFileSync(onnxFile));
  assert.deepEqual(session.outputNames, ['output', 'conv1.codes', 'conv2.codes', 'fc1.codes']);
  const x = randn([3, 2, 10, 10], 1, new Rng(2));
  const out = (await session.run({ input: ortTensor(x) })) as Outputs;
  assert.deepEqual(onnxCodes(out, 'conv1'), lutnnCodes(model, 'conv1', x));

  errors.forEach(([args, re], i) => {
    const e = errs[i];
    assert.equal(e.status, 1, `${args.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, re);
    assert.equal(e.stdout, '');
  });
  assert.deepEqual(readdirSync(dir).sort(), ['lut.onnx', 'lut.safetensors', 'madd.safetensors']);
});

test('every op type but the MADDNESS ones was exported and run in onnxruntime above', () => {
  const want = OP_TYPES.filter((op) => !op.startsWith('Maddness'));
  const missing = want.filter((op) => !exercised.has(op));
  assert.deepEqual(missing, [], `op types never exported and run: ${missing.join(', ')}`);
  assert.deepEqual([...exercised].filter((op) => !(OP_TYPES as readonly string[]).includes(op)), []);
});
