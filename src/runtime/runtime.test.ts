// The inference runtime against the engine's eval forward (GraphModel.forward): shipped dense model (file versions 1
// and 2), random dense and LUT models lowered from modules, and the graphs it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../autograd/engine.js';
import { setNumThreads, getNumThreads } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import { GraphBuilder } from '../graph/builder.js';
import { GraphModel } from '../graph/model.js';
import { loadModel } from '../io/model-file.js';
import { parseModelContents, serializeModel } from '../io/model-format.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import type { Module } from '../nn/module.js';
import { randn, scalar } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { lutify } from '../../test/lut-models.js';
import { compile, load, loadSync } from './node.js';
import type { RuntimeModel } from './model.js';
import { tsLutEngine } from './lut-step.js';
import { RUNTIME_OPS } from './plan.js';
import { ArgumentError, ShapeError } from '../errors.js';

const MODEL = fileURLToPath(new URL('../../models/fmnist-cnn.safetensors', import.meta.url));

/** Max |a − b| and max |b|. */
function diff(a: Float32Array, b: Float32Array): { d: number; m: number } {
  assert.equal(a.length, b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return { d, m };
}

/**
 * Tolerance vs the engine: folding batch norm into the conv weights and the epilogue changes float32 rounding, and
 * the LUT scan sums int8 entries exactly before scaling (the engine sums dequantized floats): 1e-4 of the logits' scale.
 */
function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  const { d, m } = diff(got, want);
  assert.ok(d <= 1e-4 * (1 + m), `${what}: max diff ${d} vs max |logit| ${m}`);
}

/** The engine's eval forward of a GraphModel (the runtime's reference). */
function evalForward(model: GraphModel, x: Tensor): Float32Array {
  model.eval();
  return noGrad(() => model.forward(x)).f32;
}

/** The GraphModel of a module tree for samples of `inputShape`. */
const lower = (m: Module, inputShape: readonly number[]): GraphModel => lowerModule(m, { inputShape }).eval();

function withThreads<T>(n: number, fn: () => T): T {
  const prev = getNumThreads();
  setNumThreads(n);
  try {
    return fn();
  } finally {
    setNumThreads(prev);
  }
}

/** Random eval-mode statistics for every batch norm (so folding is really exercised). */
function randomizeBn(m: Module, rng: Rng): void {
  for (const [, bn] of m.namedModules()) {
    if (!(bn instanceof BatchNorm2d)) continue;
    for (let c = 0; c < bn.numFeatures; c++) {
      bn.runningMean.f32[c] = rng.uniform(-0.3, 0.3);
      bn.runningVar.f32[c] = rng.uniform(0.3, 2);
      bn.weight.f32[c] = rng.uniform(-1.5, 1.5);
      bn.bias.f32[c] = rng.uniform(-0.3, 0.3);
    }
  }
}

test('shipped fmnist-cnn: logits match the eval forward at batch 1 and 64; batch, chunking and threads do not change them', () => {
  const model = loadSync(MODEL);
  const { model: ref } = loadModel(MODEL);
  try {
    assert.deepEqual(model.inputShape, [1, 28, 28]);
    assert.deepEqual(model.outputShape, [10]);
    assert.equal(model.summary()[0], 'conv conv1+bn1+relu1: [1,28,28] → [32,28,28]');
    const x64 = randn([64, 1, 28, 28], 1, new Rng(1));
    const y64 = withThreads(1, () => model.run(x64));
    assertClose(y64, evalForward(ref, x64), 'batch 64');
    const x1 = randn([1, 1, 28, 28], 1, new Rng(2));
    assertClose(model.run(x1), evalForward(ref, x1), 'batch 1');
    // Per-sample arithmetic does not depend on the batch or on the thread count: bit-identical.
    for (const i of [0, 37, 63]) {
      const yi = model.run(x64.f32.subarray(i * 784, (i + 1) * 784));
      assert.deepEqual(yi, y64.subarray(i * 10, (i + 1) * 10), `sample ${i} alone`);
    }
    assert.deepEqual(withThreads(2, () => model.run(x64)), y64, '2 threads vs 1');
  } finally {
    model.dispose();
  }
});

test('no allocation per run: heap stats unchanged across runs, and dispose gives everything back', () => {
  const rt = wasmRuntime()!;
  const before = rt.heap.stats();
  const model = loadSync(readFileSync(MODEL), { maxBatch: 16 });
  const compiled = rt.heap.stats();
  assert.ok(compiled.liveBytes > before.liveBytes);
  const x = randn([40, 1, 28, 28], 1, new Rng(3)); // 3 chunks of 16
  const out = new Float32Array(400);
  const first = model.run(x, out);
  assert.equal(first, out);
  for (let i = 0; i < 3; i++) model.run(x, out);
  assert.deepEqual(rt.heap.stats(), compiled);
  // Chunks of 16 give the rows of a single pass.
  const whole = loadSync(MODEL, { maxBatch: 64 });
  try {
    assert.deepEqual(whole.run(x), out);
  } finally {
    whole.dispose();
  }
  model.dispose();
  model.dispose();
  assert.deepEqual(rt.heap.stats(), before);
  assert.throws(() => model.run(x), /lutnn\.run: the model was disposed/);
});

test('async load from a path, bytes and an ArrayBuffer', async () => {
  const bytes = readFileSync(MODEL);
  const x = randn([2, 1, 28, 28], 1, new Rng(4));
  const models = [await load(MODEL), await load(new Uint8Array(bytes)), await load(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))];
  try {
    const ys = models.map((m) => m.run(x));
    assert.deepEqual(ys[1], ys[0]);
    assert.deepEqual(ys[2], ys[0]);
  } finally {
    models.forEach((m) => m.dispose());
  }
});

/** A dense model touching every fold and step: strided/padded/bias-less conv, BN after ReLU, 1x1 conv, both pools, GAP. */
function denseZoo(rng: Rng): Sequential {
  return Sequential.named([
    ['conv1', new Conv2d(3, 8, 3, { padding: 1, stride: 2, rng })],
    ['bn1', new BatchNorm2d(8)],
    ['relu1', new ReLU()],
    ['pool1', new MaxPool2d(3, { stride: 2, padding: 1 })],
    ['conv2', new Conv2d(8, 12, 1, { bias: false, rng })],
    ['relu2', new ReLU()],
    ['bn2', new BatchNorm2d(12)],
    ['conv3', new Conv2d(12, 6, [3, 2], { padding: [1, 0], dilation: [2, 1], rng })],
    ['pool2', new AvgPool2d(2, { stride: 1 })],
    ['relu3', new ReLU()],
    ['flatten', new Flatten(1)],
    ['drop', new Dropout(0.5)],
    ['fc1', new Linear(6 * 1 * 2, 5, { rng })],
  ]);
}

test('random dense models: folds, fusions, pooling and GAP match the eval forward', () => {
  const rng = new Rng(5);
  const zoo = denseZoo(rng);
  randomizeBn(zoo, rng);
  const gap = Sequential.named([['conv', new Conv2d(2, 4, 3, { rng })], ['relu', new ReLU()], ['gap', new GlobalAvgPool2d()], ['fc', new Linear(4, 3, { rng })]]);
  for (const [mod, shape] of [[zoo, [3, 16, 14]], [gap, [2, 6, 7]]] as const) {
    const m = lower(mod, shape);
    const rtm = compile(m, { maxBatch: 64 });
    try {
      for (const n of [1, 64]) {
        const x = randn([n, ...shape], 1, rng);
        assertClose(rtm.run(x), evalForward(m, x), `${rtm.summary().length} ops, batch ${n}`);
      }
    } finally {
      rtm.dispose();
    }
  }
  const kinds = compile(lower(zoo, [3, 16, 14]));
  try {
    assert.deepEqual(kinds.summary().map((s) => s.split(':')[0]), [
      'conv conv1+bn1+relu1', 'pool pool1', 'conv conv2+relu2', 'affine bn2', 'conv conv3', 'pool pool2', 'affine relu3', 'reshape flatten', 'linear fc1',
    ]);
  } finally {
    kinds.dispose();
  }
});

/** Conv (dense, first) → conv (LUT, then BN + ReLU folded into its epilogue) → pool → LUT Linear → Linear. */
function lutCandidate(rng: Rng): Sequential {
  return Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 8, 3, { padding: 1, rng })],
    ['bn2', new BatchNorm2d(8)],
    ['relu2', new ReLU()],
    ['pool', new MaxPool2d(2)],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(8 * 4 * 4, 32, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(32, 3, { rng })],
  ]);
}

/** A Sequential of the named children of m (the same module objects). */
function segment(m: Sequential, names: string[]): Sequential {
  return Sequential.named(names.map((n) => [n, m.getModule(n)] as [string, Module]));
}

/** The LUT model of lutCandidate: conv2 and fc1 as LUT-NN layers (k-means codebooks on `calib`, K = 16). */
function lutModel(rng: Rng, calib: Tensor[], metric: 'l2' | 'l1' | 'chebyshev', seed: number): Sequential {
  const dense = lutCandidate(rng);
  randomizeBn(dense, rng);
  return lutify(dense, calib, { include: ['conv2', 'fc1'], k: 16, seed, metric });
}

for (const metric of ['l2', 'l1', 'chebyshev'] as const) {
  test(`random LUT model (${metric}): LUT conv and LUT Linear match the eval forward at batch 1 and 64, threads 1 and 2`, () => {
    const rng = new Rng(7);
    const calib = Array.from({ length: 4 }, () => randn([8, 1, 8, 8], 1, rng));
    const lm = lutModel(rng, calib, metric, 3);
    const m = lower(lm, [1, 8, 8]);
    assert.deepEqual(m.graph.nodes.filter((n) => n.op.startsWith('Lut')).map((n) => `${n.op} ${n.name}`), ['LutConv conv2', 'LutLinear fc1']);
    const rtm = compile(m);
    // Per segment, each LUT layer sees exactly the engine's input, so its codes are the engine's.
    const head = lower(segment(lm, ['conv1', 'relu1', 'conv2', 'bn2', 'relu2', 'pool', 'flatten']), [1, 8, 8]);
    const tail = lower(segment(lm, ['fc1', 'relu3', 'fc2']), [128]);
    const rtHead = compile(head);
    const rtTail = compile(tail);
    try {
      assert.deepEqual(rtm.summary().map((s) => s.split(':')[0]), [
        'conv conv1+relu1', 'lutConv conv2+bn2+relu2', 'pool pool', 'reshape flatten', 'lutLinear fc1+relu3', 'linear fc2',
      ]);
      assert.deepEqual(rtTail.inputShape, [128]);
      const x = randn([64, 1, 8, 8], 1, rng);
      const y = withThreads(1, () => rtm.run(x));
      const h = evalForward(head, x);
      assertClose(rtHead.run(x), h, 'conv1 → LUT conv2 (+BN, ReLU) → pool');
      assertClose(rtTail.run(h), evalForward(tail, new Tensor(h, [64, 128])), 'LUT fc1 → fc2 on the engine\'s features');
      // The whole plan is the two segments back to back, bit for bit.
      assert.deepEqual(rtTail.run(rtHead.run(x)), y);
      // End to end, a LUT layer's input differs from the engine's by float32 rounding (folded BN, integer scan), which
      // may flip a code where two centroids are within an ulp. Chebyshev's midrange centroids make such near-ties
      // common (a few samples in 64); l2 and l1 show none on this model.
      if (metric !== 'chebyshev') assertClose(y, evalForward(m, x), 'whole model, batch 64');
      assert.deepEqual(withThreads(2, () => rtm.run(x)), y, '2 threads vs 1');
      const y1 = rtm.run(x.f32.subarray(5 * 64, 6 * 64));
      assert.deepEqual(y1, y.subarray(15, 18), 'sample 5 alone');
    } finally {
      rtm.dispose();
      rtHead.dispose();
      rtTail.dispose();
    }
  });
}

test('the default wasm LUT engine and the TypeScript engine give identical logits', () => {
  const rng = new Rng(8);
  const m = lower(lutModel(rng, [randn([8, 1, 8, 8], 1, rng)], 'l2', 1), [1, 8, 8]);
  const wasm = compile(m);
  const ts = compile(m, { lut: tsLutEngine(wasmRuntime()!.memory) });
  try {
    assert.equal(ts.lutEngine, 'ts');
    const x = randn([64, 1, 8, 8], 1, rng);
    if (wasm.lutEngine === 'wasm-f32' && wasmRuntime()!.variant === 'plain') assert.deepEqual(wasm.run(x), ts.run(x));
    else assertClose(wasm.run(x), ts.run(x), `${wasm.lutEngine} vs ts (${wasmRuntime()!.variant} SIMD fuses multiply-adds)`);
  } finally {
    wasm.dispose();
    ts.dispose();
  }
});

function expectRunError(model: RuntimeModel, input: unknown, type: new (...a: never[]) => Error, re: RegExp): void {
  assert.throws(() => model.run(input as Float32Array), (e: unknown) => e instanceof type && re.test((e as Error).message));
}

test('clear errors for bad input: shape, dtype, NaN/Inf, output buffer', async () => {
  const { ShapeError, DTypeError, NonFiniteError, ArgumentError } = await import('../errors.js');
  const model = loadSync(MODEL, { maxBatch: 4 });
  try {
    expectRunError(model, randn([2, 1, 28, 27], 1, new Rng(1)), ShapeError, /lutnn\.run: input shape \[2,1,28,27\] vs expected \[N,1,28,28\]/);
    expectRunError(model, randn([1, 28, 28], 1, new Rng(1)), ShapeError, /lutnn\.run: input shape \[1,28,28\] vs expected \[N,1,28,28\]/);
    expectRunError(model, new Float32Array(785), ShapeError, /input length 785 is not a multiple of the sample size 784/);
    expectRunError(model, new Float64Array(784), DTypeError, /lutnn\.run: input is a Float64Array, expected a Float32Array/);
    expectRunError(model, new Tensor(new Int32Array(784), [1, 1, 28, 28]), DTypeError, /lutnn\.run: input dtype int32, expected float32/);
    expectRunError(model, [1, 2, 3], ArgumentError, /lutnn\.run: input must be a Float32Array or a float32 Tensor/);
    const x = new Float32Array(6 * 784);
    x[5 * 784 + 17] = NaN;
    expectRunError(model, x, NonFiniteError, /lutnn\.run: input element 3937 \(sample 5\) is NaN; expected finite values/);
    x[5 * 784 + 17] = 0;
    x[3] = -Infinity;
    expectRunError(model, x, NonFiniteError, /input element 3 \(sample 0\) is -Infinity/);
    x[3] = 0;
    assert.throws(() => model.run(x, new Float32Array(59)), /lutnn\.run: out has 59 floats, expected N·10 = 60/);
    assert.equal(model.run(new Float32Array(0)).length, 0);
  } finally {
    model.dispose();
  }
});

test('clear errors for bad files, unsupported ops and options', async () => {
  const { FormatError, ArgumentError, ShapeError } = await import('../errors.js');
  const { GELU } = await import('../nn/layers.js');
  const bytes = readFileSync(MODEL);
  assert.throws(() => loadSync(bytes.subarray(0, 1000)), FormatError);
  assert.throws(() => loadSync(new Uint8Array(64).fill(7)), FormatError);
  assert.throws(() => loadSync(bytes, { maxBatch: 0 }), /lutnn\.load: maxBatch must be an integer in \[1, 65536\], got 0/);
  // Another input shape re-derives every layer's shapes: the node that cannot take it is named.
  assert.throws(() => loadSync(bytes, { inputShape: [1, 32, 32] }), (e: unknown) => e instanceof ShapeError && /lutnn\.load: inputShape \[1,32,32\]: node 'fc1' \(Linear\): input last dim 4096 vs in features 3136/.test((e as Error).message));
  const rng = new Rng(1);
  // GELU runs (transformer graphs); an op without a step is refused by name.
  const gelu = lower(Sequential.named([['fc', new Linear(4, 4, { rng })], ['act', new GELU()]]), [4]);
  const grt = compile(gelu);
  try {
    const xs = randn([3, 4], 1, rng);
    assertClose(grt.run(xs), evalForward(gelu, xs), 'Linear → GELU');
  } finally {
    grt.dispose();
  }
  {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['N', 4]);
    b.output(b.op('LeakyRelu', [x], {}, 'act')[0]);
    const { graph, weights } = b.build();
    assert.throws(() => compile(GraphModel.create(graph, weights)), (e: unknown) => e instanceof ArgumentError && /node 'act' \(LeakyRelu\) is an op the runtime has no step for yet \(lutnn\.load runs graphs of Conv \(groups 1 or depthwise\), /.test((e as Error).message));
  }
  const grouped = lower(Sequential.named([['conv', new Conv2d(4, 4, 3, { groups: 2, rng })]]), [4, 5, 5]);
  assert.throws(() => compile(grouped), /Conv 'conv' has groups = 2/);
  assert.throws(() => compile(Sequential.named([['fc', new Linear(4, 4, { rng })]]) as unknown as GraphModel), (e: unknown) => e instanceof ArgumentError && /lutnn\.compile: expected a GraphModel \(lowerModule/.test((e as Error).message));
  // A graph input without the batch dim N: no default shape; with inputShape, the graph is re-derived for [N, ...].
  {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 1, 5, 5]);
    b.output(b.op('Conv', [x, b.weight('conv.weight', randn([3, 1, 3, 3], 1, rng))], {}, 'conv')[0]);
    const { graph, weights } = b.build();
    const fixedBatch = GraphModel.create(graph, weights);
    assert.throws(() => compile(fixedBatch), /no per-sample shape \[N, \.\.\.\] and the model file gives no dataset\.inputShape; pass inputShape/);
    const rtm = compile(fixedBatch, { inputShape: [1, 5, 5] });
    try {
      const xs = randn([2, 1, 5, 5], 1, rng);
      assert.deepEqual(rtm.outputShape, [3, 3, 3]);
      assertClose(rtm.run(xs), evalForward(fixedBatch, xs), 'fixed-batch graph compiled for [N,1,5,5]');
    } finally {
      rtm.dispose();
    }
  }
  // MADDNESS layers are rejected by name.
  {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['N', 8]);
    const w = (n: string, t: Tensor) => b.weight(`fc.${n}`, t);
    const y = b.op('MaddnessLinear', [
      x, w('split_dims', new Tensor(new Int32Array(8), [2, 4], 'int32')), w('thresholds', new Tensor(new Float32Array(30), [2, 15])),
      w('table', new Tensor(new Int8Array(2 * 16 * 3), [2, 16, 3], 'int8')), w('table_scale', scalar(1)),
    ], {}, 'fc')[0];
    b.output(y);
    const { graph, weights } = b.build();
    assert.throws(() => compile(GraphModel.create(graph, weights)), /MaddnessLinear 'fc' is a MADDNESS layer; the runtime runs dense and LUT-NN layers only/);
  }
  // A LUT layer on the float table is refused.
  const floatLut = lower(lutify(Sequential.named([['fc', new Linear(16, 4, { rng })]]), [randn([32, 16], 1, rng)], { include: ['fc'], quantize: false }), [16]);
  assert.throws(() => compile(floatLut), /LutLinear 'fc' has quantize = false \(float table\); the runtime runs int8 tables only/);
  // An MLP's input shape is its graph input's.
  const mlp = compile(lower(Sequential.named([['fc', new Linear(6, 2, { rng })]]), [6]));
  try {
    assert.deepEqual(mlp.inputShape, [6]);
  } finally {
    mlp.dispose();
  }
});

test('a version 1 file and the same model saved as version 2 compile to the same steps and give identical logits', () => {
  const v1 = readFileSync(MODEL);
  const { model, meta } = loadModel(MODEL);
  const v2 = serializeModel(model, { dataset: meta.dataset, info: meta.info });
  assert.equal(parseModelContents(v1).fileVersion, 1);
  assert.equal(parseModelContents(v2).fileVersion, 2);
  const [a, b] = [loadSync(v1, { maxBatch: 16 }), loadSync(v2, { maxBatch: 16 })];
  try {
    assert.deepEqual(b.summary(), a.summary());
    // The same ops: kinds, names, shapes, windows, folded weights and epilogues, bit for bit.
    assert.deepEqual(b.ops, a.ops);
    const x = randn([21, 1, 28, 28], 1, new Rng(12));
    assert.deepEqual(b.run(x), a.run(x));
  } finally {
    a.dispose();
    b.dispose();
  }
});

test('a LUT model saved as version 2 loads to the steps and logits of the in-memory model', () => {
  const rng = new Rng(9);
  const m = lower(lutModel(rng, [randn([8, 1, 8, 8], 1, rng)], 'l2', 2), [1, 8, 8]);
  const mem = compile(m);
  const file = loadSync(serializeModel(m, { dataset: { name: 'test', mean: 0, std: 1 } }));
  try {
    assert.deepEqual(file.ops, mem.ops);
    const x = randn([9, 1, 8, 8], 1, rng);
    assert.deepEqual(file.run(x), mem.run(x));
  } finally {
    mem.dispose();
    file.dispose();
  }
});

test('graphs that are not chains run: a residual Add, a value read twice, a dead branch; two outputs and broadcasting Adds are refused', () => {
  const rng = new Rng(4);
  assert.equal(RUNTIME_OPS, 'Conv (groups 1 or depthwise), Linear, LutConv, LutLinear, QConv (groups 1), QLinear, BatchNorm, Relu, Clip, HardSwish, Tanh, Sigmoid, Silu, Add/Sub/Mul/Div (two activations of one shape or broadcast per sample as a row or a column, or an activation and a broadcast constant), Concat, MaxPool, AveragePool, GlobalAveragePool, MatMul, Transpose, Softmax (last axis), LayerNorm, Gelu, ReduceMean, Slice, Split, Gather (embedding rows, constant picks), Cast (int32 to float32), Flatten/Reshape/Squeeze/Unsqueeze, Dropout, Identity');
  /** x → conv1 → relu → conv2, then `tail` (the residual join, or nothing). */
  const build = (tail: (b: GraphBuilder, x: ReturnType<GraphBuilder['input']>, y: ReturnType<GraphBuilder['input']>) => void): GraphModel => {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 2, 5, 5]);
    let y = b.op('Conv', [x, b.weight('conv1.weight', randn([2, 2, 3, 3], 0.3, rng))], { padding: [1, 1] }, 'conv1')[0];
    y = b.op('Relu', [y], {}, 'relu')[0];
    y = b.op('Conv', [y, b.weight('conv2.weight', randn([2, 2, 3, 3], 0.3, rng))], { padding: [1, 1] }, 'conv2')[0];
    tail(b, x, y);
    const { graph, weights } = b.build();
    return GraphModel.create(graph, weights);
  };
  const runs = (m: GraphModel, steps: string[], what: string): void => {
    const rtm = compile(m, { maxBatch: 2 });
    try {
      assert.deepEqual(rtm.summary(), steps, what);
      const x = randn([3, 2, 5, 5], 1, rng); // two chunks
      assertClose(rtm.run(x), evalForward(m, x), what);
    } finally {
      rtm.dispose();
    }
  };
  const residual = build((b, x, y) => b.output(b.op('Relu', [b.op('Add', [y, x], {}, 'add')[0]], {}, 'relu2')[0]));
  runs(residual, [
    'conv conv1+relu: [2,5,5] → [2,5,5]', 'conv conv2: [2,5,5] → [2,5,5]', 'add add+relu2: [2,5,5] + [2,5,5] → [2,5,5]',
  ], 'conv → relu → conv, + input, relu');
  // From a model file too.
  const file = loadSync(serializeModel(residual, {}));
  try {
    const x = randn([2, 2, 5, 5], 1, rng);
    assertClose(file.run(x), evalForward(residual, x), 'residual from a file');
  } finally {
    file.dispose();
  }
  // conv2's output read twice (a ReLU and the Add): nothing fuses into conv2; the ReLU runs on its own.
  runs(build((b, _x, y) => b.output(b.op('Add', [b.op('Relu', [y], {}, 'a')[0], y], {}, 'sum')[0])), [
    'conv conv1+relu: [2,5,5] → [2,5,5]', 'conv conv2: [2,5,5] → [2,5,5]', 'affine a: [2,5,5] → [2,5,5]', 'add sum: [2,5,5] + [2,5,5] → [2,5,5]',
  ], 'relu(y) + y');
  // A branch nobody reads still runs (as the engine runs it); the output is the other one.
  runs(build((b, _x, y) => {
    const a = b.op('Relu', [y], {}, 'a')[0];
    b.op('Relu', [y], {}, 'b');
    b.output(a);
  }), ['conv conv1+relu: [2,5,5] → [2,5,5]', 'conv conv2: [2,5,5] → [2,5,5]', 'affine a: [2,5,5] → [2,5,5]', 'affine b: [2,5,5] → [2,5,5]'], 'dead branch');
  const refused = (m: GraphModel, type: typeof ArgumentError, what: RegExp): void => {
    assert.throws(() => compile(m), (e: unknown) => e instanceof type && what.test((e as Error).message));
  };
  refused(build((b, _x, y) => {
    b.output(b.op('Relu', [y], {}, 'a')[0]);
    b.output(b.op('Relu', [y], {}, 'b')[0]);
  }), ArgumentError, /^lutnn\.load: the graph has 2 outputs \('a', 'b'\); the runtime runs graphs of one output$/);
  // Add with broadcasting between activations: a per-channel bias as an activation runs (one value per row of each
  // sample); a broadcast in the middle dims is refused; Add of a weight runs.
  runs(build((b, _x, y) => {
    const bias = b.op('GlobalAveragePool', [y], { keepdims: true }, 'gap')[0]; // [N,2,1,1]
    b.output(b.op('Add', [y, bias], {}, 'add')[0]);
  }), ['conv conv1+relu: [2,5,5] → [2,5,5]', 'conv conv2: [2,5,5] → [2,5,5]', 'globalAvgPool gap: [2,5,5] → [2,1,1]', 'binary add: [2,5,5] + [2,1,1] → [2,5,5]'], 'a per-channel bias');
  refused(build((b, _x, y) => {
    const mid = b.op('ReduceMean', [b.op('ReduceMean', [y], { axes: [1], keepdims: true }, 'mc')[0]], { axes: [3], keepdims: true }, 'mid')[0]; // [N,1,5,1]
    b.output(b.op('Add', [y, mid], {}, 'add')[0]);
  }), ShapeError, /^lutnn\.load: Add 'add' takes \[N,2,5,5\] \('conv2'\) and \[N,1,5,1\] \('mid'\); the runtime broadcasts between activations of one sample a row \(leading dims 1\) or a column \(trailing dims 1\) only$/);
  runs(build((b, _x, y) => b.output(b.op('Add', [y, b.weight('shift', randn([1, 2, 5, 5], 1, rng))], {}, 'add')[0])), [
    'conv conv1+relu: [2,5,5] → [2,5,5]', 'conv conv2: [2,5,5] → [2,5,5]', 'binary add: [2,5,5] + const[50] → [2,5,5]',
  ], 'conv → relu → conv, + a constant');
});

test('Reshape keeping the batch dim runs as a view; GlobalAveragePool with keepdims; a Reshape over the batch is refused', () => {
  const rng = new Rng(6);
  const b = new GraphBuilder();
  const x = b.input('input', 'float32', ['N', 3, 4, 4]);
  let y = b.op('Conv', [x, b.weight('conv.weight', randn([4, 3, 3, 3], 0.3, rng)), b.weight('conv.bias', randn([4], 0.1, rng))], {}, 'conv')[0]; // [N,4,2,2]
  y = b.op('Reshape', [y], { shape: [0, -1] }, 'reshape')[0]; // [N,16]
  y = b.op('Identity', [y], {}, 'id')[0];
  y = b.op('Linear', [y, b.weight('fc.weight', randn([5, 16], 0.3, rng))], {}, 'fc')[0];
  b.output(y);
  const g = b.build();
  const m = GraphModel.create(g.graph, g.weights).eval();
  const rtm = compile(m);
  try {
    assert.deepEqual(rtm.summary().map((s) => s.split(':')[0]), ['conv conv', 'reshape reshape', 'linear fc']);
    const xs = randn([7, 3, 4, 4], 1, rng);
    assertClose(rtm.run(xs), evalForward(m, xs), 'conv → reshape → linear');
  } finally {
    rtm.dispose();
  }
  const gb = new GraphBuilder();
  const gx = gb.input('input', 'float32', ['N', 3, 4, 4]);
  const gp = gb.op('GlobalAveragePool', [gx], { keepdims: true }, 'gap')[0]; // [N,3,1,1]
  gb.output(gb.op('Flatten', [gp], {}, 'flatten')[0]);
  const gg = gb.build();
  const gm = GraphModel.create(gg.graph, gg.weights);
  const grt = compile(gm);
  try {
    const xs = randn([5, 3, 4, 4], 1, rng);
    assert.deepEqual(grt.outputShape, [3]);
    assertClose(grt.run(xs), evalForward(gm, xs), 'GAP keepdims → flatten');
  } finally {
    grt.dispose();
  }
  const rb = new GraphBuilder();
  const rx = rb.input('input', 'float32', ['N', 4, 2]);
  rb.output(rb.op('Reshape', [rx], { shape: [-1, 4] }, 'rows')[0]); // [2*N,4]
  const rg = rb.build();
  assert.throws(() => compile(GraphModel.create(rg.graph, rg.weights)), (e: unknown) => e instanceof ShapeError && /lutnn\.load: the graph output 'rows' is \[2\*N,4\]; the runtime gives outputs \[N, \.\.\.\]/.test((e as Error).message));
});
