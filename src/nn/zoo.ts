// Model zoo: named architectures (fmnist-cnn, mlp, resnet-fm, resnet18-cifar, vit-fm, bert-base-layer) with PyTorch-style names and seeded init.
import { ArgumentError } from '../errors.js';
import type { Rng } from '../tensor/rng.js';
import { subPath, type OpSink, type Value } from '../graph/builder.js';
import { zeros } from '../tensor/create.js';
import { globalRng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { BasicBlock, BertLayer, PatchEmbed, TransformerBlock } from './blocks.js';
import { BatchNorm2d, Conv2d, Flatten, LayerNorm, Linear, MaxPool2d, ReLU, Sequential } from './layers.js';
import type { GraphModel } from '../graph/model.js';
import { lowerModule } from './lower.js';
import { Module } from './module.js';

export interface ZooOptions {
  /** Init generator (default: the global one, reseeded by manualSeed). */
  rng?: Rng;
}

interface ZooEntry {
  description: string;
  /** Input shape of one sample, [C, H, W] or [features]. */
  inputShape: number[];
  build(opts: ZooOptions): Module;
}

/**
 * fmnist-cnn: 4 conv3x3 (pad 1, with bias) + BN + ReLU in two blocks, each ending in a 2x2 max pool, then
 * Linear(3136→256)+ReLU and Linear(256→10). Input [N,1,28,28]; shapes: 28→28→14→14→14→7, 64·7·7 = 3136.
 */
function fmnistCnn({ rng }: ZooOptions): Module {
  return Sequential.named([
    ['conv1', new Conv2d(1, 32, 3, { padding: 1, rng })],
    ['bn1', new BatchNorm2d(32)],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(32, 32, 3, { padding: 1, rng })],
    ['bn2', new BatchNorm2d(32)],
    ['relu2', new ReLU()],
    ['pool1', new MaxPool2d(2)], // [N,32,14,14]
    ['conv3', new Conv2d(32, 64, 3, { padding: 1, rng })],
    ['bn3', new BatchNorm2d(64)],
    ['relu3', new ReLU()],
    ['conv4', new Conv2d(64, 64, 3, { padding: 1, rng })],
    ['bn4', new BatchNorm2d(64)],
    ['relu4', new ReLU()],
    ['pool2', new MaxPool2d(2)], // [N,64,7,7]
    ['flatten', new Flatten(1)], // [N,3136]
    ['fc1', new Linear(3136, 256, { rng })],
    ['relu5', new ReLU()],
    ['fc2', new Linear(256, 10, { rng })],
  ]);
}

/** mlp: flatten → Linear(784→128) + ReLU → Linear(128→10); small enough for fast tests. */
function mlp({ rng }: ZooOptions): Module {
  return Sequential.named([
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(784, 128, { rng })],
    ['relu1', new ReLU()],
    ['fc2', new Linear(128, 10, { rng })],
  ]);
}

/**
 * ResNet-18 layout (He et al., torchvision's names): stem conv3x3 (stride 1, for small images) + BN + ReLU, four
 * stages of two BasicBlocks with widths w, 2w, 4w, 8w (stages 2-4 start with stride 2 and a 1x1 conv + BN shortcut),
 * global average pooling, Linear to `classes`.
 */
class ResNet18 extends Module {
  constructor(cin: number, width: number, classes: number, rng?: Rng) {
    super();
    this.registerModule('conv1', new Conv2d(cin, width, 3, { padding: 1, bias: false, rng }));
    this.registerModule('bn1', new BatchNorm2d(width));
    let c = width;
    [1, 2, 4, 8].forEach((mult, i) => {
      const cout = width * mult;
      const stride = i === 0 ? 1 : 2;
      this.registerModule(`layer${i + 1}`, Sequential.named([
        ['0', new BasicBlock(c, cout, stride, { rng })],
        ['1', new BasicBlock(cout, cout, 1, { rng })],
      ]));
      c = cout;
    });
    this.registerModule('fc', new Linear(c, classes, { rng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    let h = this.lowerChild(g, 'bn1', this.lowerChild(g, 'conv1', x, path), path);
    h = g.op('Relu', [h], {}, subPath(path, 'relu'))[0];
    for (const l of ['layer1', 'layer2', 'layer3', 'layer4']) h = this.lowerChild(g, l, h, path);
    h = g.op('GlobalAveragePool', [h], {}, subPath(path, 'avgpool'))[0]; // [N, 8w]
    return this.lowerChild(g, 'fc', h, path);
  }
}

/**
 * A small vision transformer: patch embedding by a strided conv (`patch_embed.proj`), a learned position embedding
 * (`pos_embed`, added), `depth` pre-norm blocks (`blocks.i`: norm1, attn.{q,k,v,proj}, norm2, mlp.{fc1,fc2}), a final
 * LayerNorm (`norm`), mean pooling over the tokens and a Linear `head`.
 */
class VisionTransformer extends Module {
  readonly posEmbed: Tensor;

  constructor(o: { cin: number; image: number; patch: number; dim: number; depth: number; heads: number; mlp: number; classes: number; rng?: Rng }) {
    super();
    const rng = o.rng ?? globalRng;
    const tokens = (o.image / o.patch) ** 2;
    this.registerModule('patch_embed', new PatchEmbed(o.cin, o.dim, o.patch, { rng }));
    const pos = zeros([1, tokens, o.dim]);
    for (let i = 0; i < pos.size; i++) pos.f32[i] = 0.02 * rng.normal();
    this.posEmbed = this.registerParameter('pos_embed', pos);
    this.registerModule('blocks', Sequential.named(Array.from({ length: o.depth }, (_, i) => [String(i), new TransformerBlock(o.dim, o.heads, o.mlp, { rng, eps: 1e-6 })] as const)));
    this.registerModule('norm', new LayerNorm(o.dim, { eps: 1e-6 }));
    this.registerModule('head', new Linear(o.dim, o.classes, { rng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const t = this.lowerChild(g, 'patch_embed', x, path); // [N, T, dim]
    let h = g.op('Add', [t, g.weight(subPath(path, 'pos_embed'), this.posEmbed)], {}, subPath(path, 'pos_add'))[0];
    h = this.lowerChild(g, 'norm', this.lowerChild(g, 'blocks', h, path), path);
    h = g.op('ReduceMean', [h], { axes: [1] }, subPath(path, 'pool'))[0]; // [N, dim]
    return this.lowerChild(g, 'head', h, path);
  }
}

const ZOO: Record<string, ZooEntry> = {
  'fmnist-cnn': { description: '4x conv3x3+BN+ReLU, 2 max pools, 3136→256→10 (871k params)', inputShape: [1, 28, 28], build: fmnistCnn },
  mlp: { description: '784→128→10 MLP', inputShape: [1, 28, 28], build: mlp },
  'resnet-fm': {
    description: 'ResNet-18 layout for 1x28x28: stem conv3x3, 4 stages of 2 basic blocks (16-32-64-128 channels), GAP, Linear (0.70M params)',
    inputShape: [1, 28, 28],
    build: ({ rng }) => new ResNet18(1, 16, 10, rng),
  },
  'resnet18-cifar': {
    description: 'the standard CIFAR ResNet-18: 3x32x32, stem conv3x3, 64-128-256-512 channels, GAP, Linear (11.2M params); for speed and cost figures',
    inputShape: [3, 32, 32],
    build: ({ rng }) => new ResNet18(3, 64, 10, rng),
  },
  'vit-fm': {
    description: 'vision transformer for 1x28x28: 4x4 patches (49 tokens), dim 64, 4 pre-norm blocks of 4-head attention and a 128-wide GELU MLP, mean pooling (0.14M params)',
    inputShape: [1, 28, 28],
    build: ({ rng }) => new VisionTransformer({ cin: 1, image: 28, patch: 4, dim: 64, depth: 4, heads: 4, mlp: 128, classes: 10, rng }),
  },
  'bert-base-layer': {
    description: 'one BERT-base encoder layer: hidden 768, 12 heads, FFN 3072, input [N, 128, 768] (7.1M params); for speed and cost figures',
    inputShape: [128, 768],
    build: ({ rng }) => new BertLayer(768, 12, 3072, { rng }),
  },
};

/** Zoo names with their description and per-sample input shape. */
export function listModels(): { name: string; description: string; inputShape: number[] }[] {
  return Object.entries(ZOO).map(([name, e]) => ({ name, description: e.description, inputShape: [...e.inputShape] }));
}

function entry(fn: string, name: string): ZooEntry {
  const e = Object.prototype.hasOwnProperty.call(ZOO, name) ? ZOO[name] : undefined;
  if (!e) throw new ArgumentError(`${fn}: unknown model '${name}' (known: ${Object.keys(ZOO).join(', ')})`);
  return e;
}

/** Whether `name` is a zoo model. */
export function isZooModel(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(ZOO, name);
}

/** The module tree of a zoo model with fresh seeded weights (the way it is written). */
export function createModule(name: string, opts: ZooOptions = {}): Module {
  return entry('createModule', name).build(opts);
}

/** A zoo model with fresh seeded weights, as a graph model (training mode). */
export function createModel(name: string, opts: ZooOptions = {}): GraphModel {
  const e = entry('createModel', name);
  return lowerModule(e.build(opts), { inputShape: e.inputShape });
}
