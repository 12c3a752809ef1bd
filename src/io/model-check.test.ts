// Tests of the model-file checks: JSON nesting, the activation limit (option, environment), memory figures, the records' value checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, FormatError, LimitError, NonFiniteError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { GraphModel } from '../graph/model.js';
import { Tensor } from '../tensor/tensor.js';
import { ACTIVATION_LIMIT_ENV, DEFAULT_MAX_ACTIVATION_BYTES, activationLimit, checkModel, modelMemory } from './model-check.js';
import { parseModelContents, serializeModel } from './model-format.js';
import { MAX_METADATA_DEPTH, jsonDepthExceeds, readJsonMetadata } from './safetensors-format.js';

test('jsonDepthExceeds counts nesting outside strings; readJsonMetadata refuses deep metadata before parsing it', () => {
  assert.equal(jsonDepthExceeds('{"a":[1,[2]]}', 3), false);
  assert.equal(jsonDepthExceeds('{"a":[1,[2]]}', 2), true);
  assert.equal(jsonDepthExceeds('{"a":"[[[[[[\\"[[[["}', 1), false, 'brackets in strings, escaped quotes');
  const deep = `${'['.repeat(300)}${']'.repeat(300)}`;
  assert.throws(() => readJsonMetadata({ lutnn: deep }, 'lutnn', 'f.safetensors'), (e: unknown) => e instanceof FormatError && new RegExp(`f\\.safetensors: metadata "lutnn" nests arrays or objects more than ${MAX_METADATA_DEPTH} deep`).test((e as Error).message));
  assert.ok(Array.isArray(readJsonMetadata({ lutnn: `${'['.repeat(200)}${']'.repeat(200)}` }, 'lutnn')));
});

test('activationLimit: the option, else the environment variable, else 4 GiB; anything but a positive number is an ArgumentError', () => {
  const saved = process.env[ACTIVATION_LIMIT_ENV];
  try {
    delete process.env[ACTIVATION_LIMIT_ENV];
    assert.equal(activationLimit(), DEFAULT_MAX_ACTIVATION_BYTES);
    assert.equal(DEFAULT_MAX_ACTIVATION_BYTES, 4 * 2 ** 30);
    process.env[ACTIVATION_LIMIT_ENV] = '1000000';
    assert.equal(activationLimit(), 1e6);
    assert.equal(activationLimit({ maxActivationBytes: 5e6 }), 5e6);
    process.env[ACTIVATION_LIMIT_ENV] = 'lots';
    assert.throws(() => activationLimit(), (e: unknown) => e instanceof ArgumentError && /LUTNN_MAX_ACTIVATION_BYTES must be a positive number of bytes, got "lots"/.test((e as Error).message));
    assert.throws(() => activationLimit({ maxActivationBytes: -1 }), /maxActivationBytes must be a positive number of bytes, got -1/);
  } finally {
    if (saved === undefined) delete process.env[ACTIVATION_LIMIT_ENV];
    else process.env[ACTIVATION_LIMIT_ENV] = saved;
  }
});

/** x [N, 3, 8, 8] → conv 3→16 (3×3, pad 1) → BN → ReLU. */
function convBn(variance = 1): GraphModel {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 3, 8, 8]);
  const w = (n: string, t: Tensor) => b.weight(n, t);
  const f = (n: number, v = 0.1): Tensor => new Tensor(new Float32Array(n).fill(v), [n]);
  const c = b.op('Conv', [x, w('conv.weight', new Tensor(new Float32Array(16 * 27).fill(0.01), [16, 3, 3, 3]))], { padding: [1, 1] }, 'conv')[0];
  const bn = b.op('BatchNorm', [c, w('bn.weight', f(16, 1)), w('bn.bias', f(16)), w('bn.running_mean', f(16)), w('bn.running_var', f(16, variance))], {}, 'bn')[0];
  b.output(b.op('Relu', [bn], {}, 'relu')[0]);
  const { graph, weights } = b.build();
  return GraphModel.create(graph, weights);
}

test('modelMemory: the liveness peak of one sample with the conv workspace; the limit refuses before anything runs', () => {
  const m = convBn();
  const mem = modelMemory(m.info, new Map(m.namedWeights()));
  // At the conv: input 3·64 and output 16·64 floats live, im2col rows 64·27 floats.
  assert.deepEqual(mem, { activationBytes: 4 * (3 * 64 + 16 * 64 + 64 * 27), peakNode: 'conv', tableBytes: 0 });
  const bytes = serializeModel(m, {});
  assert.equal(parseModelContents(bytes, 'm', { maxActivationBytes: mem.activationBytes! }).memory.activationBytes, mem.activationBytes);
  assert.throws(() => parseModelContents(bytes, 'm.safetensors', { maxActivationBytes: mem.activationBytes! - 1 }), (e: unknown) => e instanceof LimitError && /m\.safetensors: the model needs 11776 bytes of activations for one sample \(peak at node 'conv'\), more than the limit of 11775 bytes/.test((e as Error).message));
});

test('checkModel: non-finite tensors and negative variances are refused naming the tensor and the first bad index', () => {
  const m = convBn();
  const w = new Map(m.namedWeights());
  assert.doesNotThrow(() => checkModel(m.info, w, 'f'));
  w.get('bn.running_var')!.f32[3] = -1e-3;
  assert.throws(() => checkModel(m.info, w, 'f.safetensors'), (e: unknown) => e instanceof FormatError && /^f\.safetensors: node 'bn' \(BatchNorm\): running_var 'bn\.running_var' is -0\.001\d* at index 3; variances must be >= 0$/.test((e as Error).message));
  w.get('conv.weight')!.f32[7] = NaN;
  assert.throws(() => checkModel(m.info, w, 'f.safetensors'), (e: unknown) => e instanceof NonFiniteError && /tensor "conv\.weight" \[16,3,3,3\] has NaN at flat index 7/.test((e as Error).message));
  // A zero variance is a valid statistic (eps keeps the division finite).
  assert.doesNotThrow(() => checkModel(convBn(0).info, new Map(convBn(0).namedWeights()), 'f'));
});

test('MADDNESS split dims must index the codebook\'s inputs', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 8]);
  const sd = new Tensor(new Int32Array(8), [2, 4], 'int32');
  const y = b.op('MaddnessLinear', [
    x, b.weight('fc.split_dims', sd), b.weight('fc.thresholds', new Tensor(new Float32Array(30), [2, 15])),
    b.weight('fc.table', new Tensor(new Int8Array(2 * 16 * 3), [2, 16, 3], 'int8')), b.weight('fc.table_scale', new Tensor(Float32Array.of(1), [])),
  ], {}, 'fc')[0];
  b.output(y);
  const { graph, weights } = b.build();
  const m = GraphModel.create(graph, weights);
  assert.doesNotThrow(() => checkModel(m.info, weights, 'f'));
  sd.data[5] = 4; // V = 8 / 2 = 4: dims 0..3
  assert.throws(() => checkModel(m.info, weights, 'f'), /node 'fc' \(MaddnessLinear\): split_dims 'fc\.split_dims' is 4 at index 5; each codebook splits on its 4 inputs, 0\.\.3/);
});
