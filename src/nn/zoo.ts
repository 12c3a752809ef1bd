// Model zoo: named architectures (fmnist-cnn, mlp) built with stable, table-friendly layer names and seeded init.
import { ArgumentError } from '../errors.js';
import type { Rng } from '../tensor/rng.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from './layers.js';
import type { GraphModel } from '../graph/model.js';
import { lowerModule } from './lower.js';
import type { Module } from './module.js';

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

const ZOO: Record<string, ZooEntry> = {
  'fmnist-cnn': { description: '4x conv3x3+BN+ReLU, 2 max pools, 3136→256→10 (871k params)', inputShape: [1, 28, 28], build: fmnistCnn },
  mlp: { description: '784→128→10 MLP', inputShape: [1, 28, 28], build: mlp },
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
