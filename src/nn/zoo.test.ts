// Tests for the model zoo and writing models as modules: names, sizes, graphs, custom modules, file round trips and v1 files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Linear, Module, ReLU, Sequential, createModel, createModule, listModels, lowerModule } from './index.js';
import { Tensor } from '../tensor/tensor.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, FormatError } from '../errors.js';
import type { OpSink, Value } from '../graph/builder.js';
import { loadModel } from '../io/model-file.js';
import { parseModelContents, serializeModel } from '../io/model-format.js';
import { serializeSafetensors, parseSafetensors, LUTNN_METADATA_KEY } from '../io/safetensors-format.js';
import { noGrad } from '../autograd/engine.js';

// Same keys as PyTorch's nn.Sequential(OrderedDict(conv1=..., bn1=..., ...)) state_dict (checked with torch 1.13).
const FMNIST_KEYS = [
  ...[1, 2, 3, 4].flatMap((i) => [
    `conv${i}.weight`, `conv${i}.bias`,
    `bn${i}.weight`, `bn${i}.bias`, `bn${i}.running_mean`, `bn${i}.running_var`, `bn${i}.num_batches_tracked`,
  ]),
  'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias',
];

test('fmnist-cnn: [2,1,28,28] → [2,10], 871,018 parameters, stable names, graph nodes named by module path', () => {
  const m = createModel('fmnist-cnn', { rng: new Rng(1) });
  const y = m.forward(randn([2, 1, 28, 28], 1, new Rng(2)));
  assert.deepEqual(y.shape, [2, 10]);
  assert.ok(y.f32.every(Number.isFinite));
  const expected =
    (1 * 32 * 9 + 32) + (32 * 32 * 9 + 32) + (32 * 64 * 9 + 64) + (64 * 64 * 9 + 64) + 2 * (32 + 32 + 64 + 64) + (3136 * 256 + 256) + (256 * 10 + 10);
  assert.equal(expected, 871018);
  assert.equal(m.numParameters(), expected);
  assert.deepEqual(Object.keys(m.stateDict()), FMNIST_KEYS);
  assert.deepEqual(m.weight('conv2.weight').shape, [32, 32, 3, 3]);
  assert.deepEqual(m.weight('fc1.weight').shape, [256, 3136]);
  assert.deepEqual(m.graph.nodes.map((n) => n.name), [
    'conv1', 'bn1', 'relu1', 'conv2', 'bn2', 'relu2', 'pool1', 'conv3', 'bn3', 'relu3', 'conv4', 'bn4', 'relu4', 'pool2', 'flatten', 'fc1', 'relu5', 'fc2',
  ]);
  assert.deepEqual(m.graph.inputs, [{ name: 'input', dtype: 'float32', shape: ['N', 1, 28, 28] }]);
  // Training-mode forward updated the BN counters.
  assert.equal(m.weight('bn4.num_batches_tracked').data[0], 1);
});

test('zoo listing; mlp; unknown names', () => {
  const m = createModel('mlp', { rng: new Rng(1) });
  assert.equal(m.numParameters(), 784 * 128 + 128 + 128 * 10 + 10);
  assert.deepEqual(m.forward(randn([3, 1, 28, 28], 1, new Rng(2))).shape, [3, 10]);
  assert.deepEqual(listModels().map((e) => e.name), ['fmnist-cnn', 'mlp', 'resnet-fm', 'resnet18-cifar', 'vit-fm', 'bert-base-layer']);
  assert.throws(() => createModel('resnet50'), (e: Error) => e instanceof ArgumentError && /unknown model 'resnet50' \(known: fmnist-cnn, mlp, resnet-fm/.test(e.message));
});

test('resnet-fm and resnet18-cifar: ResNet-18 layout with torchvision names, residual adds and downsample shortcuts', () => {
  const r = createModel('resnet-fm', { rng: new Rng(1) });
  const ops = (name: string): string => r.graph.nodes.find((n) => n.name === name)!.op;
  assert.equal(ops('layer1.0.add'), 'Add');
  assert.deepEqual(r.graph.nodes.find((n) => n.name === 'layer1.0.add')!.inputs, ['layer1.0.bn2', 'relu']);
  assert.equal(ops('layer2.0.downsample.0'), 'Conv');
  assert.deepEqual(r.weight('layer2.0.downsample.0.weight').shape, [32, 16, 1, 1]);
  assert.equal(r.graph.nodes.filter((n) => n.op === 'Conv').length, 20, '1 stem + 16 block convs + 3 downsample convs');
  assert.deepEqual(r.weight('fc.weight').shape, [10, 128]);
  const y = r.eval().forward(randn([2, 1, 28, 28], 1, new Rng(2)));
  assert.deepEqual(y.shape, [2, 10]);
  // The standard CIFAR ResNet-18: 11,173,962 parameters (torchvision resnet18 with a 3x3 stride-1 stem, no max pool, 10 classes).
  const c = createModel('resnet18-cifar', { rng: new Rng(1) });
  assert.equal(c.numParameters(), 11173962);
  assert.deepEqual(c.info.values.get('layer4.1.relu2')!.shape, ['N', 512, 4, 4]);
});

test('vit-fm and bert-base-layer: transformer blocks with q, k, v, output and MLP Linears; attention MatMuls of activations', () => {
  const v = createModel('vit-fm', { rng: new Rng(1) });
  const names = v.graph.nodes.map((n) => n.name);
  for (const s of ['patch_embed.proj', 'pos_add', 'blocks.0.norm1', 'blocks.0.attn.q', 'blocks.0.attn.k', 'blocks.0.attn.v', 'blocks.0.attn.scores', 'blocks.0.attn.softmax', 'blocks.0.attn.proj', 'blocks.0.mlp.fc1', 'blocks.0.mlp.act', 'blocks.0.mlp.fc2', 'blocks.3.add2', 'norm', 'pool', 'head']) {
    assert.ok(names.includes(s), `vit-fm has node ${s}`);
  }
  assert.deepEqual(v.info.values.get('blocks.0.attn.scores')!.shape, ['N', 4, 49, 49]);
  assert.equal(v.info.roles.get('pos_embed'), 'param', 'the position embedding trains');
  assert.equal(v.info.roles.get('blocks.0.attn.scale'), 'buffer', 'the attention scale is a constant');
  assert.ok(v.parameters().includes(v.weight('pos_embed')));
  assert.deepEqual(v.eval().forward(randn([2, 1, 28, 28], 1, new Rng(2))).shape, [2, 10]);
  const b = createModel('bert-base-layer', { rng: new Rng(1) });
  assert.equal(b.numParameters(), 4 * (768 * 768 + 768) + 2 * 768 * 3072 + 3072 + 768 + 2 * 2 * 768);
  assert.deepEqual(b.graph.nodes.filter((n) => n.op === 'Linear').map((n) => n.name), [
    'attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense', 'intermediate.dense', 'output.dense',
  ]);
  assert.deepEqual(b.info.values.get('output.LayerNorm')!.shape, ['N', 128, 768]);
});

test('modules lower to the graph their eager forward computes; a module without lower says so', () => {
  class Scale extends Module {
    constructor(readonly factor: number) {
      super();
    }
    override lower(g: OpSink, x: Value, path: string): Value {
      return g.op('Mul', [x, g.weight(`${path || 'scale'}.factor`, new Tensor(Float32Array.of(this.factor), []))], {}, path || undefined)[0];
    }
  }
  const m = Sequential.named([['fc', new Linear(3, 2, { rng: new Rng(1) })], ['act', new ReLU()], ['scale', new Scale(3)]]);
  const x = randn([4, 3], 1, new Rng(2));
  const eager = m.forward(x);
  const g = lowerModule(m, { inputShape: [3] });
  assert.deepEqual(g.graph.nodes.map((n) => [n.name, n.op]), [['fc', 'Linear'], ['act', 'Relu'], ['scale', 'Mul']]);
  assert.deepEqual([...g.forward(x).f32], [...eager.f32]);
  assert.ok(g.weight('fc.weight') === (m.getModule('fc') as Linear).weight, 'the graph shares the module weights');
  class OnlyForward extends Module {
    override forward(t: Tensor): Tensor {
      return t;
    }
  }
  assert.deepEqual(new OnlyForward().forward(x).shape, [4, 3]);
  assert.throws(() => lowerModule(Sequential.named([['f', new OnlyForward()]]), { inputShape: [3] }), /module OnlyForward 'f' cannot be written as a graph/);
  assert.throws(() => lowerModule(new Linear(3, 2), { inputShape: [4] }), /input last dim 4 vs inFeatures 3/);
});

test('every zoo model saves as a version 2 file and loads back to the same outputs; createModule gives the module tree', () => {
  for (const { name, inputShape } of listModels()) {
    if (name === 'bert-base-layer' || name === 'resnet18-cifar') continue; // large: covered by info and export tests
    const m = createModel(name, { rng: new Rng(3) }).eval();
    const bytes = serializeModel(m, { dataset: { name: 'fashion-mnist', mean: 0.286, std: 0.353, inputShape } });
    const back = loadModel(bytes, name);
    assert.equal(back.fileVersion, 2);
    assert.equal(back.meta.version, 2);
    const x = randn([2, ...inputShape], 1, new Rng(4));
    assert.deepEqual([...noGrad(() => back.model.forward(x)).f32], [...noGrad(() => m.forward(x)).f32], name);
  }
  assert.ok(createModule('mlp') instanceof Sequential);
});

const fromHex = (hex: string): Float32Array => {
  const b = Buffer.from(hex, 'hex');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

test('version 1 files load as graphs with the same outputs bit for bit: the shipped fmnist-cnn and a small LUT/MADDNESS file', () => {
  const fx = JSON.parse(readFileSync('test/fixtures/fmnist-cnn-v1-logits.json', 'utf8'));
  const { model, fileVersion } = loadModel('models/fmnist-cnn.safetensors');
  assert.equal(fileVersion, 1);
  const r = new Rng(fx.seed);
  const x = new Float32Array(16 * 784);
  for (let i = 0; i < x.length; i++) x[i] = r.normal();
  assert.deepEqual(noGrad(() => model.forward(new Tensor(x, [16, 1, 28, 28]))).f32, fromHex(fx.logitsF32Hex));
  // Written by the version 1 writer (test/fixtures/io/make-v1-fixture.txt): LutConv2d (l1) in a nested Sequential, pools,
  // Dropout, Identity, LutLinear (chebyshev), LayerNorm, GELU, MaddnessLinear.
  const small = loadModel('test/fixtures/io/v1-small-lut.safetensors');
  const want = JSON.parse(readFileSync('test/fixtures/io/v1-small-lut.expected.json', 'utf8'));
  assert.deepEqual(small.model.graph.nodes.map((n) => n.op), ['Conv', 'BatchNorm', 'Relu', 'LutConv', 'MaxPool', 'AveragePool', 'Dropout', 'Flatten', 'LutLinear', 'LayerNorm', 'Gelu', 'MaddnessLinear']);
  assert.deepEqual(small.model.graph.nodes[3].name, 'block.conv2');
  assert.deepEqual(noGrad(() => small.model.forward(randn([5, 1, 12, 12], 1, new Rng(8)))).f32, fromHex(want.logitsF32Hex));
  // Saved again, it is a version 2 file with the same outputs.
  const again = loadModel(serializeModel(small.model, small.meta));
  assert.equal(again.fileVersion, 2);
  assert.deepEqual(noGrad(() => again.model.forward(randn([5, 1, 12, 12], 1, new Rng(8)))).f32, fromHex(want.logitsF32Hex));
});

test('malformed version 1 architectures get FormatErrors naming the module', () => {
  const base = parseSafetensors(new Uint8Array(readFileSync('test/fixtures/io/v1-small-lut.safetensors')), 'v1');
  const meta = JSON.parse(base.metadata[LUTNN_METADATA_KEY]);
  const withArch = (f: (root: Record<string, unknown>) => void): Uint8Array => {
    const m = JSON.parse(JSON.stringify(meta));
    f(m.arch.root);
    return serializeSafetensors(base.tensors, { [LUTNN_METADATA_KEY]: JSON.stringify(m) });
  };
  type Node = { type: string; name?: string; args: Record<string, unknown>; children: Node[] };
  const bad = (bytes: Uint8Array, re: RegExp): void => assert.throws(() => parseModelContents(bytes, 'v1.safetensors'), (e: Error) => e instanceof FormatError && re.test(e.message), String(re));
  bad(withArch((r) => ((r.children as Node[])[0].type = 'Conv3d')), /v1\.safetensors: arch conv1: unknown module type 'Conv3d'/);
  bad(withArch((r) => ((r.children as Node[])[0].args.stride = [0, 1])), /node 'conv1' \(Conv\): attribute 'stride\[0\]' = 0 is out of range 1/);
  bad(withArch((r) => ((r.children as Node[])[1].name = 'conv1')), /two children are named 'conv1'/);
  bad(withArch((r) => delete (r.children as Node[])[0].name), /children\[0\] needs a name/);
  bad(withArch((r) => ((r.children as Node[])[2].children = [{ type: 'ReLU', name: 'x', args: {}, children: [] }])), /relu1 \(ReLU\) has children but is a leaf layer/);
  bad(withArch((r) => {
    let n = r as Node;
    for (let i = 0; i < 100; i++) {
      const c: Node = { type: 'Sequential', name: 's', args: {}, children: [] };
      n.children = [c];
      n = c;
    }
  }), /nested more than 64 deep/);
  bad(withArch((r) => ((r.children as Node[])[0].args.outChannels = 5)), /arch conv1 \(Conv2d\): tensor 'conv1.weight' is \[4,1,3,3\] but the module's arguments give \[5,1,3,3\]/);
});
