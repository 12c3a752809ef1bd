// Tests for the model zoo and architecture specs: fmnist-cnn shape/size/names, describe/build round trips, registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Linear, Module, ReLU, Sequential, buildModel, createModel, describeModel, listModels, moduleTypes, registerModuleType,
  type ArchSpec,
} from './index.js';
import { Tensor } from '../tensor/tensor.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { mulScalar } from '../ops/index.js';
import { ArgumentError, FormatError } from '../errors.js';

// Same keys as PyTorch's nn.Sequential(OrderedDict(conv1=..., bn1=..., ...)) state_dict (checked with torch 1.13).
const FMNIST_KEYS = [
  ...[1, 2, 3, 4].flatMap((i) => [
    `conv${i}.weight`, `conv${i}.bias`,
    `bn${i}.weight`, `bn${i}.bias`, `bn${i}.running_mean`, `bn${i}.running_var`, `bn${i}.num_batches_tracked`,
  ]),
  'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias',
];

test('fmnist-cnn: [2,1,28,28] → [2,10], 871,018 parameters, stable names', () => {
  const m = createModel('fmnist-cnn', { rng: new Rng(1) });
  const y = m.forward(randn([2, 1, 28, 28], 1, new Rng(2)));
  assert.deepEqual(y.shape, [2, 10]);
  assert.ok(y.f32.every(Number.isFinite));
  const expected =
    (1 * 32 * 9 + 32) + (32 * 32 * 9 + 32) + (32 * 64 * 9 + 64) + (64 * 64 * 9 + 64) + 2 * (32 + 32 + 64 + 64) + (3136 * 256 + 256) + (256 * 10 + 10);
  assert.equal(expected, 871018);
  assert.equal(m.numParameters(), expected);
  assert.deepEqual(Object.keys(m.stateDict()), FMNIST_KEYS);
  assert.deepEqual(m.stateDict()['conv2.weight'].shape, [32, 32, 3, 3]);
  assert.deepEqual(m.stateDict()['fc1.weight'].shape, [256, 3136]);
  assert.deepEqual(m.namedChildren().map(([n]) => n), [
    'conv1', 'bn1', 'relu1', 'conv2', 'bn2', 'relu2', 'pool1', 'conv3', 'bn3', 'relu3', 'conv4', 'bn4', 'relu4', 'pool2', 'flatten', 'fc1', 'relu5', 'fc2',
  ]);
  // Training-mode forward updated the BN counters.
  assert.equal(m.stateDict()['bn4.num_batches_tracked'].data[0], 1);
});

test('mlp zoo entry and zoo listing', () => {
  const m = createModel('mlp', { rng: new Rng(1) });
  assert.equal(m.numParameters(), 784 * 128 + 128 + 128 * 10 + 10);
  assert.deepEqual(m.forward(randn([3, 1, 28, 28], 1, new Rng(2))).shape, [3, 10]);
  assert.deepEqual(listModels().map((e) => e.name), ['fmnist-cnn', 'mlp']);
  assert.throws(() => createModel('resnet50'), (e: Error) => e instanceof ArgumentError && /unknown model 'resnet50' \(known: fmnist-cnn, mlp\)/.test(e.message));
});

test('describe → JSON → build reproduces the tree; same weights give the same output', () => {
  for (const name of ['fmnist-cnn', 'mlp']) {
    const a = createModel(name, { rng: new Rng(3) });
    const spec = describeModel(a);
    assert.equal(spec.format, 'lutnn-arch');
    assert.equal(spec.version, 1);
    const json = JSON.stringify(spec);
    const b = buildModel(JSON.parse(json), { rng: new Rng(4) });
    assert.equal(JSON.stringify(describeModel(b)), json);
    const sa = a.stateDict();
    const sb = b.stateDict();
    assert.deepEqual(Object.keys(sb), Object.keys(sa));
    for (const k of Object.keys(sa)) assert.deepEqual(sb[k].shape, sa[k].shape, k);
    assert.notDeepEqual([...sb[Object.keys(sb)[0]].f32], [...sa[Object.keys(sa)[0]].f32], 'fresh init differs');
    b.loadStateDict(sa);
    a.eval();
    b.eval();
    const x = randn([2, 1, 28, 28], 1, new Rng(5));
    assert.deepEqual([...b.forward(x).f32], [...a.forward(x).f32]);
  }
  const conv = describeModel(createModel('fmnist-cnn')).root.children[0];
  assert.deepEqual(conv, {
    type: 'Conv2d', name: 'conv1',
    args: { inChannels: 1, outChannels: 32, kernelSize: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1, bias: true },
    children: [],
  });
});

test('buildModel rejects malformed specs with errors naming the node', () => {
  const good = describeModel(createModel('mlp'));
  const mut = (f: (s: ArchSpec) => void): ArchSpec => {
    const s = JSON.parse(JSON.stringify(good)) as ArchSpec;
    f(s);
    return s;
  };
  const bad = (spec: unknown, re: RegExp): void => assert.throws(() => buildModel(spec), (e: Error) => e instanceof FormatError && re.test(e.message), String(re));
  bad(null, /spec must be an object/);
  bad(mut((s) => ((s as { format: string }).format = 'onnx')), /format must be 'lutnn-arch'/);
  bad(mut((s) => ((s as { version: number }).version = 2)), /unsupported version 2/);
  bad(mut((s) => (s.root.children[1].type = 'Conv3d')), /root\.fc1: unknown module type 'Conv3d' \(known: .*Linear/);
  bad(mut((s) => delete s.root.children[1].args.outFeatures), /root\.fc1 \(Linear\): 'outFeatures' must be a finite number, got undefined/);
  bad(mut((s) => (s.root.children[1].args.inFeatures = 0)), /root\.fc1 \(Linear\): Linear: inFeatures must be an integer >= 1, got 0/);
  bad(mut((s) => (s.root.children[2].name = 'fc1')), /two children named 'fc1'/);
  bad(mut((s) => delete s.root.children[0].name), /children\[0\] needs a name/);
  bad(mut((s) => s.root.children[2].children.push({ type: 'ReLU', name: 'x', args: {}, children: [] })), /root\.relu1 \(ReLU\) has children \[\] but the spec lists \[x\]/);
});

test('custom module types register, describe and rebuild; unregistered classes are refused', () => {
  class Scale extends Module {
    constructor(readonly factor: number) {
      super();
    }
    override forward(x: Tensor): Tensor {
      return mulScalar(x, this.factor);
    }
  }
  class Unknown extends ReLU {}
  assert.throws(() => describeModel(new Sequential(new Unknown())), /class Unknown is not registered/);
  registerModuleType('test.Scale', { cls: Scale, toSpec: (m) => ({ factor: m.factor }), fromSpec: (_a, { read }) => new Scale(read.num('factor')) });
  assert.ok(moduleTypes().includes('test.Scale'));
  assert.throws(() => registerModuleType('Linear', { cls: Scale, toSpec: () => ({}), fromSpec: () => new Scale(1) }), /already registered/);
  const m = new Sequential(new Linear(3, 2, { rng: new Rng(1) }), new Scale(3));
  const b = buildModel(JSON.parse(JSON.stringify(describeModel(m))));
  assert.ok(b.children()[1] instanceof Scale);
  assert.equal((b.children()[1] as Scale).factor, 3);
  b.loadStateDict(m.stateDict());
  const x = randn([4, 3], 1, new Rng(2));
  assert.deepEqual([...b.forward(x).f32], [...m.forward(x).f32]);
});
