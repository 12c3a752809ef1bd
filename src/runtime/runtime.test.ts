// The inference runtime against the training engine's eval forward: shipped dense model, random dense and LUT models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../autograd/engine.js';
import { setNumThreads, getNumThreads } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import { loadModel } from '../io/model-file.js';
import { convertModel } from '../lut/convert.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { compile, load, loadSync } from './node.js';
import type { RuntimeModel } from './model.js';
import { tsLutEngine } from './lut-step.js';

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

function evalForward(model: Module, x: Tensor): Float32Array {
  model.eval();
  return noGrad(() => model.forward(x)).f32;
}

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
  for (const [m, shape] of [[zoo, [3, 16, 14]], [gap, [2, 6, 7]]] as const) {
    const rtm = compile(m, { inputShape: shape, maxBatch: 64 });
    try {
      for (const n of [1, 64]) {
        const x = randn([n, ...shape], 1, rng);
        assertClose(rtm.run(x), evalForward(m, x), `${rtm.summary().length} ops, batch ${n}`);
      }
    } finally {
      rtm.dispose();
    }
  }
  const kinds = compile(zoo, { inputShape: [3, 16, 14] });
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

for (const metric of ['l2', 'l1', 'chebyshev'] as const) {
  test(`random LUT model (${metric}): LUT conv and LUT Linear match the eval forward at batch 1 and 64, threads 1 and 2`, () => {
    const rng = new Rng(7);
    const m = lutCandidate(rng);
    randomizeBn(m, rng);
    const calib = Array.from({ length: 4 }, () => randn([8, 1, 8, 8], 1, rng));
    const layers = convertModel(m, calib, { k: 16, seed: 3, metric });
    assert.deepEqual(layers.map((l) => l.name), ['conv2', 'fc1']);
    const rtm = compile(m, { inputShape: [1, 8, 8] });
    // Per segment, each LUT layer sees exactly the engine's input, so its codes are the engine's.
    const head = segment(m, ['conv1', 'relu1', 'conv2', 'bn2', 'relu2', 'pool', 'flatten']);
    const tail = segment(m, ['fc1', 'relu3', 'fc2']);
    const rtHead = compile(head, { inputShape: [1, 8, 8] });
    const rtTail = compile(tail);
    try {
      assert.deepEqual(rtm.summary().map((s) => s.split(':')[0]), [
        'conv conv1+relu1', 'lutConv conv2+bn2+relu2', 'pool pool', 'reshape flatten', 'lutLinear fc1+relu3', 'linear fc2',
      ]);
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
  const m = lutCandidate(rng);
  randomizeBn(m, rng);
  convertModel(m, [randn([8, 1, 8, 8], 1, rng)], { k: 16, seed: 1, metric: 'l2' });
  const wasm = compile(m, { inputShape: [1, 8, 8] });
  const ts = compile(m, { inputShape: [1, 8, 8], lut: tsLutEngine(wasmRuntime()!.memory) });
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

test('clear errors for bad files, unsupported modules and options', async () => {
  const { FormatError, ArgumentError, ShapeError } = await import('../errors.js');
  const { GELU } = await import('../nn/layers.js');
  const bytes = readFileSync(MODEL);
  assert.throws(() => loadSync(bytes.subarray(0, 1000)), FormatError);
  assert.throws(() => loadSync(new Uint8Array(64).fill(7)), FormatError);
  assert.throws(() => loadSync(bytes, { maxBatch: 0 }), /lutnn\.load: maxBatch must be an integer in \[1, 65536\], got 0/);
  assert.throws(() => loadSync(bytes, { inputShape: [1, 32, 32] }), (e: unknown) => e instanceof ShapeError && /Linear 'fc1' expects \[N, 3136\] input \(flatten first\), got \[N,4096\]/.test((e as Error).message));
  const rng = new Rng(1);
  const gelu = Sequential.named([['fc', new Linear(4, 4, { rng })], ['act', new GELU()]]);
  assert.throws(() => compile(gelu), (e: unknown) => e instanceof ArgumentError && /module 'act' of type GELU is not supported/.test((e as Error).message));
  assert.throws(() => compile(Sequential.named([['conv', new Conv2d(1, 2, 3, { rng })]])), /no dataset\.inputShape; pass inputShape/);
  const grouped = Sequential.named([['conv', new Conv2d(2, 2, 3, { groups: 2, rng })]]);
  assert.throws(() => compile(grouped, { inputShape: [2, 5, 5] }), /Conv2d 'conv' has groups = 2/);
  // MADDNESS layers are rejected by name.
  const m = lutCandidate(rng);
  convertModel(m, [randn([4, 1, 8, 8], 1, rng)], { method: 'maddness', seed: 1 });
  assert.throws(() => compile(m, { inputShape: [1, 8, 8] }), /MaddnessConv2d 'conv2' is a MADDNESS layer/);
  // An MLP's input shape is inferred from its first Linear.
  const mlp = compile(Sequential.named([['fc', new Linear(6, 2, { rng })]]));
  try {
    assert.deepEqual(mlp.inputShape, [6]);
  } finally {
    mlp.dispose();
  }
});
