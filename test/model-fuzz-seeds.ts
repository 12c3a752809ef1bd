// Seed model files of the model-file fuzzing (test/model-fuzz.ts): the shipped fmnist-cnn and small generated models, as version 1 and 2 files.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphModel } from '../src/graph/model.js';
import type { GraphNode } from '../src/graph/types.js';
import { loadModel } from '../src/io/model-file.js';
import { serializeModel } from '../src/io/model-format.js';
import { LUTNN_METADATA_KEY, serializeSafetensors } from '../src/io/safetensors-format.js';
import { convertModel } from '../src/lut/convert.js';
import { BasicBlock, TransformerBlock } from '../src/nn/blocks.js';
import { BatchNorm2d, Conv2d, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU, Sequential } from '../src/nn/layers.js';
import { lowerModule } from '../src/nn/lower.js';
import { Module } from '../src/nn/module.js';
import { subPath, type OpSink, type Value } from '../src/graph/builder.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import type { Tensor } from '../src/tensor/tensor.js';

export const SHIPPED_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', 'models', 'fmnist-cnn.safetensors');

/** A seed file: its bytes, the per-sample input shape of its model, and its format version. */
export interface ModelSeed {
  name: string;
  bytes: Uint8Array;
  inputShape: number[];
  version: 1 | 2;
}

/** Random BatchNorm statistics and affine parameters (trained-looking, variances in [0.3, 2]). */
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

/** A small pre-norm transformer on [N, T, D] tokens: one block, mean over the tokens, a Linear head. */
class TinyTransformer extends Module {
  constructor(dim: number, rng: Rng) {
    super();
    this.registerModule('block', new TransformerBlock(dim, 2, 2 * dim, { rng }));
    this.registerModule('head', new Linear(dim, 5, { rng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const h = this.lowerChild(g, 'block', x, path); // [N, T, D]
    const p = g.op('ReduceMean', [h], { axes: [1] }, subPath(path, 'pool'))[0]; // [N, D]
    return this.lowerChild(g, 'head', p, path);
  }
}

/** LUT-NN conversion of `dense` (k-means on a few random batches, no refit): cheap, and centroids near the data. */
function toLut(dense: GraphModel, inputShape: number[], rng: Rng, include: string[], k = 16, linearV = 16): GraphModel {
  const calib = [randn([16, ...inputShape], 1, rng)];
  return convertModel(dense, calib, { include, k, v: { linear: linearV }, refit: false, kmeansIters: 4, seed: 3 }).model.eval();
}

const lower = (m: Module, inputShape: number[]): GraphModel => lowerModule(m.eval(), { inputShape }).eval();

/**
 * The version 1 form of a chain GraphModel (each node reads the previous one's output, named by module paths as
 * lowerModule names them): a Sequential `arch` of the v1 module types, the same tensors. Throws for other graphs.
 */
export function v1Bytes(model: GraphModel, inputShape: number[]): Uint8Array {
  const children: unknown[] = [];
  let prev = model.graph.inputs[0].name;
  const shape = (name: string): readonly number[] => model.weight(name).shape;
  for (const n of model.graph.nodes as GraphNode[]) {
    if (n.inputs[0] !== prev) throw new Error(`v1Bytes: node '${n.name}' does not read the previous node's output`);
    prev = n.outputs[0];
    const a = n.attrs as Record<string, unknown>;
    const w = n.inputs[1];
    const hasBias = (i: number): boolean => (n.inputs[i] ?? '') !== '';
    let type: string;
    let args: Record<string, unknown>;
    switch (n.op) {
      case 'Conv': {
        const [cout, cinG, kh, kw] = shape(w);
        type = 'Conv2d';
        args = { inChannels: cinG * (a.groups as number), outChannels: cout, kernelSize: [kh, kw], stride: a.stride, padding: a.padding, dilation: a.dilation, groups: a.groups, bias: hasBias(2) };
        break;
      }
      case 'BatchNorm':
        type = 'BatchNorm2d';
        args = { numFeatures: shape(n.inputs[3])[0], eps: a.eps, momentum: a.momentum };
        break;
      case 'Relu':
        type = 'ReLU';
        args = {};
        break;
      case 'MaxPool':
      case 'AveragePool':
        type = n.op === 'MaxPool' ? 'MaxPool2d' : 'AvgPool2d';
        args = { kernel: a.kernel, stride: a.stride, padding: a.padding };
        break;
      case 'GlobalAveragePool':
        type = 'GlobalAvgPool2d';
        args = {};
        break;
      case 'Flatten':
        type = 'Flatten';
        args = { startDim: a.start, endDim: a.end };
        break;
      case 'Linear': {
        const [out, inF] = shape(w);
        type = 'Linear';
        args = { inFeatures: inF, outFeatures: out, bias: hasBias(2) };
        break;
      }
      case 'LutLinear':
      case 'LutConv': {
        const [C, K, V] = shape(n.inputs[1]);
        const M = shape(n.inputs[2])[2];
        const common = { subvecLen: V, k: K, metric: a.metric, quantize: a.quantize, bias: hasBias(3) };
        if (n.op === 'LutLinear') {
          type = 'LutLinear';
          args = { inFeatures: C * V, outFeatures: M, ...common };
        } else {
          const [kh, kw] = a.kernel as number[];
          type = 'LutConv2d';
          args = { cin: (C * V) / (kh * kw), cout: M, kernel: [kh, kw], stride: a.stride, padding: a.padding, dilation: a.dilation, ...common };
        }
        break;
      }
      default:
        throw new Error(`v1Bytes: no version 1 module for ${n.op}`);
    }
    children.push({ type, name: n.name, args, children: [] });
  }
  const meta = {
    format: 'lutnn-model',
    version: 1,
    arch: { format: 'lutnn-arch', version: 1, root: { type: 'Sequential', args: {}, children } },
    dataset: { name: 'fuzz', mean: 0, std: 1, inputShape },
  };
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of model.namedWeights()) tensors[k] = t;
  return serializeSafetensors(tensors, { [LUTNN_METADATA_KEY]: JSON.stringify(meta) });
}

const v2Bytes = (m: GraphModel, inputShape: number[]): Uint8Array => serializeModel(m, { dataset: { name: 'fuzz', mean: 0, std: 1, inputShape } });

/**
 * The seed files: the shipped fmnist-cnn (a version 1 file) and its LUT-NN form (conv2-4 and fc1, version 2) when
 * `shipped`, and small generated models: a dense CNN and a LUT CNN (both versions), a LUT CNN ending in global
 * pooling (both versions), a residual graph with a LUT conv, and a transformer graph with LUT Linears (version 2).
 */
export function modelSeeds(opts: { shipped?: boolean } = {}): ModelSeed[] {
  const rng = new Rng(11);
  const seeds: ModelSeed[] = [];
  const add = (name: string, m: GraphModel, inputShape: number[], v1 = false): void => {
    seeds.push({ name: `${name} (v2)`, bytes: v2Bytes(m, inputShape), inputShape, version: 2 });
    if (v1) seeds.push({ name: `${name} (v1)`, bytes: v1Bytes(m, inputShape), inputShape, version: 1 });
  };
  if (opts.shipped ?? true) {
    const bytes = new Uint8Array(readFileSync(SHIPPED_MODEL));
    seeds.push({ name: 'fmnist-cnn (v1, shipped)', bytes, inputShape: [1, 28, 28], version: 1 });
    const dense = loadModel(bytes, 'fmnist-cnn').model;
    const lut = toLut(dense, [1, 28, 28], rng, ['conv2', 'conv3', 'conv4', 'fc1']);
    seeds.push({ name: 'fmnist-cnn LUT (v2)', bytes: v2Bytes(lut, [1, 28, 28]), inputShape: [1, 28, 28], version: 2 });
  }
  const cnn = (): Sequential => {
    const s = Sequential.named([
      ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
      ['bn1', new BatchNorm2d(4)],
      ['relu1', new ReLU()],
      ['conv2', new Conv2d(4, 8, 3, { padding: 1, rng })],
      ['bn2', new BatchNorm2d(8)],
      ['relu2', new ReLU()],
      ['pool', new MaxPool2d(2)], // [N, 8, 4, 4]
      ['flatten', new Flatten(1)],
      ['fc1', new Linear(128, 16, { rng })],
      ['relu3', new ReLU()],
      ['fc2', new Linear(16, 5, { rng })],
    ]);
    randomizeBn(s, rng);
    return s;
  };
  const dense = lower(cnn(), [1, 8, 8]);
  add('dense-cnn', dense, [1, 8, 8], true);
  add('lut-cnn', toLut(lower(cnn(), [1, 8, 8]), [1, 8, 8], rng, ['conv2', 'fc1']), [1, 8, 8], true);
  const gap = Sequential.named([
    ['conv1', new Conv2d(2, 4, 3, { padding: 1, rng })],
    ['bn1', new BatchNorm2d(4)],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 8, 3, { stride: 2, padding: 1, rng })],
    ['relu2', new ReLU()],
    ['pool', new GlobalAvgPool2d()], // [N, 8]
    ['fc', new Linear(8, 4, { rng })],
  ]);
  randomizeBn(gap, rng);
  add('gap-lut', toLut(lower(gap, [2, 6, 6]), [2, 6, 6], rng, ['conv2', 'fc'], 8, 2), [2, 6, 6], true);
  const res = Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['block', new BasicBlock(4, 4, 1, { rng })],
    ['pool', new GlobalAvgPool2d()],
    ['fc', new Linear(4, 3, { rng })],
  ]);
  randomizeBn(res, rng);
  add('residual-lut', toLut(lower(res, [1, 6, 6]), [1, 6, 6], rng, ['block.conv2']), [1, 6, 6]);
  const tr = new TinyTransformer(8, rng);
  add('transformer-lut', toLut(lower(tr, [4, 8]), [4, 8], rng, ['block.attn.q', 'block.mlp.fc1'], 8, 4), [4, 8]);
  return seeds;
}
