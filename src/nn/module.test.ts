// Tests for the Module base: dotted names, state dicts (round trip and validation), train/eval, seeded init.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchNorm2d, Linear, ReLU, Sequential, createModel } from './index.js';
import { Module } from './module.js';
import { Tensor } from '../tensor/tensor.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng, manualSeed } from '../tensor/rng.js';
import { ArgumentError, DTypeError, NonFiniteError, ShapeError } from '../errors.js';

function nested(rng = new Rng(1)): Sequential {
  return new Sequential(new Sequential(new Linear(4, 3, { rng }), new ReLU()), new Linear(3, 2, { rng, bias: false }));
}

test('parameters, buffers and modules get PyTorch-style dotted names', () => {
  const m = nested();
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['0.0.weight', '0.0.bias', '1.weight']);
  assert.deepEqual(m.parameters().map((p) => p.name), ['0.0.weight', '0.0.bias', '1.weight']);
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  assert.deepEqual(m.namedModules().map(([n]) => n), ['', '0', '0.0', '0.1', '1']);
  assert.deepEqual(m.namedChildren().map(([n]) => n), ['0', '1']);
  assert.equal(m.numParameters(), 4 * 3 + 3 + 3 * 2);

  const bn = Sequential.named([['conv_block', new Sequential(new BatchNorm2d(3))]]);
  const sd = bn.stateDict();
  assert.deepEqual(Object.keys(sd), [
    'conv_block.0.weight', 'conv_block.0.bias', 'conv_block.0.running_mean', 'conv_block.0.running_var', 'conv_block.0.num_batches_tracked',
  ]);
  assert.equal(sd['conv_block.0.num_batches_tracked'].dtype, 'int32');
  assert.deepEqual(sd['conv_block.0.num_batches_tracked'].shape, []);
  assert.deepEqual(bn.namedBuffers().map(([n]) => n), ['conv_block.0.running_mean', 'conv_block.0.running_var', 'conv_block.0.num_batches_tracked']);
});

test('register* validates names and kinds', () => {
  class M extends Module {
    override forward(x: Tensor): Tensor {
      return x;
    }
  }
  const m = new M();
  m.registerParameter('w', zeros([2]));
  assert.throws(() => m.registerParameter('a.b', zeros([2])), /no dots/);
  assert.throws(() => m.registerBuffer('w', zeros([2])), /already registered as another kind/);
  assert.throws(() => m.registerModule('w', new M()), ArgumentError);
  assert.throws(() => m.registerParameter('i', zeros([2], 'int32')), DTypeError);
  assert.throws(() => m.registerModule('self', m), /cannot be the module itself/);
});

test('stateDict round trip: loading copies values in place and reproduces outputs', () => {
  const a = nested(new Rng(1));
  const b = nested(new Rng(2));
  const x = randn([5, 4], 1, new Rng(3));
  const ya = a.forward(x);
  assert.notDeepEqual([...b.forward(x).f32], [...ya.f32]);
  const paramsBefore = b.parameters();
  const res = b.loadStateDict(a.stateDict());
  assert.deepEqual(res, { missingKeys: [], unexpectedKeys: [] });
  assert.deepEqual([...b.forward(x).f32], [...ya.f32]);
  // Same tensor objects (optimizers keep working), storage not shared with the source.
  b.parameters().forEach((p, i) => assert.equal(p, paramsBefore[i]));
  assert.notEqual(b.parameters()[0].data, a.parameters()[0].data);
  // stateDict shares storage by default, copies on request.
  const live = a.stateDict();
  const snap = a.stateDict({ copy: true });
  a.parameters()[0].f32[0] = 42;
  assert.equal(live['0.0.weight'].f32[0], 42);
  assert.notEqual(snap['0.0.weight'].f32[0], 42);
});

test('loadStateDict reports missing/unexpected keys, shapes and non-finite values, writing nothing on error', () => {
  const m = nested(new Rng(1));
  const before = m.stateDict({ copy: true });
  const sd = nested(new Rng(9)).stateDict({ copy: true });

  const missing = { ...sd };
  delete missing['0.0.bias'];
  assert.throws(() => m.loadStateDict(missing), (e: Error) => e instanceof ArgumentError && e.message === "loadStateDict: missing keys '0.0.bias'");
  const extra = { ...sd, 'fc9.weight': zeros([1]) };
  assert.throws(() => m.loadStateDict(extra), (e: Error) => e instanceof ArgumentError && /unexpected keys 'fc9.weight'/.test(e.message));
  const res = m.loadStateDict({ ...missing, 'fc9.weight': zeros([1]) }, { strict: false });
  assert.deepEqual(res, { missingKeys: ['0.0.bias'], unexpectedKeys: ['fc9.weight'] });
  assert.deepEqual([...m.parameters()[0].f32], [...sd['0.0.weight'].f32]);
  assert.deepEqual([...m.parameters()[1].f32], [...before['0.0.bias'].f32], 'missing key left as it was');

  const fresh = nested(new Rng(1));
  const wrong = { ...sd, '1.weight': zeros([2, 4]) };
  assert.throws(() => fresh.loadStateDict(wrong), (e: Error) => e instanceof ShapeError && e.message === "loadStateDict: '1.weight' expected shape [2,3], got [2,4]");
  const nan = { ...sd, '1.weight': sd['1.weight'].clone() };
  nan['1.weight'].f32[4] = NaN;
  assert.throws(() => fresh.loadStateDict(nan), (e: Error) => e instanceof NonFiniteError && /'1.weight' has non-finite value NaN at index 4/.test(e.message));
  // Nothing was written by the failed loads (0.0.weight comes before the bad key).
  assert.deepEqual([...fresh.parameters()[0].f32], [...before['0.0.weight'].f32]);
  assert.throws(() => fresh.loadStateDict({ ...sd, '1.weight': [1, 2] as unknown as Tensor }), /'1.weight' is not a Tensor/);
});

test('num_batches_tracked loads from int32 or integral float tensors', () => {
  const bn = new BatchNorm2d(2);
  const sd = bn.stateDict({ copy: true });
  bn.loadStateDict({ ...sd, num_batches_tracked: tensor([7], []) });
  assert.equal(bn.numBatchesTracked.data[0], 7);
  assert.equal(bn.numBatchesTracked.dtype, 'int32');
  assert.throws(() => bn.loadStateDict({ ...sd, num_batches_tracked: tensor([1.5], []) }), /does not fit/);
});

test('train/eval propagate to every descendant; zeroGrad clears grads', () => {
  const m = nested();
  assert.ok(m.modules().every((c) => c.training));
  assert.equal(m.eval(), m);
  assert.ok(m.modules().every((c) => !c.training));
  m.train();
  assert.ok(m.modules().every((c) => c.training));
  m.at(0).train(false);
  assert.deepEqual(m.modules().map((c) => c.training), [true, false, false, false, true]);
  for (const p of m.parameters()) p.grad = zeros(p.shape);
  m.zeroGrad();
  assert.ok(m.parameters().every((p) => p.grad === null));
});

test('seeded init: same seed, same weights; another seed, other weights', () => {
  manualSeed(123);
  const a = createModel('mlp').stateDict();
  manualSeed(123);
  const b = createModel('mlp').stateDict();
  manualSeed(124);
  const c = createModel('mlp').stateDict();
  for (const k of Object.keys(a)) assert.deepEqual([...a[k].data], [...b[k].data], k);
  assert.notDeepEqual([...a['fc1.weight'].f32], [...c['fc1.weight'].f32]);
  const d = createModel('mlp', { rng: new Rng(5) }).stateDict();
  const e = createModel('mlp', { rng: new Rng(5) }).stateDict();
  assert.deepEqual([...d['fc2.bias'].f32], [...e['fc2.bias'].f32]);
});
