// Tests of the hardware layer descriptors: conv/linear shapes, the example models, checks, and layers read from a graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError } from '../errors.js';
import { Conv2d, Linear, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import type { Module } from '../nn/module.js';
import { createModel, createModule } from '../nn/zoo.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { checkLayer, convLayer, laneSteps, layersFromGraph, linearLayer, withLut } from './lut-dla-layers.js';
import { fmnistCnnLutLayers, resnet18CifarConvLayers } from './lut-dla-examples.js';

const gemm = (l: { name: string; rows: number; inDim: number; outDim: number }): [string, number, number, number] => [l.name, l.rows, l.inDim, l.outDim];

test('convLayer: im2col GEMM shape, input read once, stride and padding', () => {
  const c = convLayer('c', { inH: 32, inW: 32, cin: 64, cout: 128, kernel: 3, stride: 2, padding: 1 });
  assert.deepEqual(gemm(c), ['c', 16 * 16, 576, 128]);
  assert.equal(c.inputElems, 32 * 32 * 64);
  assert.deepEqual(c.conv, { inH: 32, inW: 32, cin: 64, cout: 128, kh: 3, kw: 3, strideH: 2, strideW: 2, padH: 1, padW: 1, outH: 16, outW: 16 });
  assert.throws(() => convLayer('k', { inH: 2, inW: 2, cin: 1, cout: 1, kernel: 5 }), (e: Error) => e instanceof ShapeError && /convLayer 'k': kernel 5x5 does not fit the 2x2 input/.test(e.message));
  assert.throws(() => convLayer('k', { inH: 2, inW: 2, cin: 0, cout: 1, kernel: 1 }), /convLayer 'k': cin must be an integer >= 1, got 0/);
});

test('the example models: fmnist-cnn LUT layers as given, resnet18-cifar stage convs (547M MACs)', () => {
  assert.deepEqual(fmnistCnnLutLayers().map(gemm), [['conv2', 784, 288, 32], ['conv3', 196, 288, 64], ['conv4', 196, 576, 64], ['fc1', 1, 3136, 256]]);
  assert.deepEqual(fmnistCnnLutLayers().map((l) => l.lut!.subvecLen), [9, 9, 9, 16]);
  const r = resnet18CifarConvLayers(32, 'l1');
  assert.equal(r.length, 16);
  assert.deepEqual(r.slice(0, 6).map(gemm), [
    ['layer1.0.conv1', 1024, 576, 64], ['layer1.0.conv2', 1024, 576, 64], ['layer1.1.conv1', 1024, 576, 64], ['layer1.1.conv2', 1024, 576, 64],
    ['layer2.0.conv1', 256, 576, 128], ['layer2.0.conv2', 256, 1152, 128],
  ]);
  assert.deepEqual(gemm(r[15]), ['layer4.1.conv2', 16, 4608, 512]);
  assert.equal(r.reduce((s, l) => s + l.rows * l.inDim * l.outDim, 0), 547_356_672);
  assert.ok(r.every((l) => l.lut!.k === 32 && l.lut!.metric === 'l1' && l.lut!.subvecLen === 9));
});

test('checkLayer: non-integers, bad LUT settings and V not dividing D are errors naming the layer', () => {
  assert.throws(() => checkLayer({ name: 'a', rows: 0, inDim: 4, outDim: 4 }, 'test'), (e: Error) => e instanceof ArgumentError && /test: layer 'a': rows must be an integer >= 1, got 0/.test(e.message));
  assert.throws(() => checkLayer(linearLayer('b', 8, 4, {}, { subvecLen: 3, k: 16, metric: 'l2' }), 'test'), /inDim 8 is not a multiple of subvecLen 3/);
  assert.throws(() => linearLayer('c', 8, 4, {}, { subvecLen: 4, k: 1, metric: 'l2' }), /lut\.k must be an integer >= 2, got 1/);
  assert.throws(() => linearLayer('d', 8, 4, {}, { subvecLen: 4, k: 16, metric: 'cosine' as 'l2' }), /lut\.metric must be one of l2, l1, chebyshev, got cosine/);
  assert.deepEqual(withLut(linearLayer('e', 8, 4, {}, { subvecLen: 4, k: 16, metric: 'l2' }), undefined), { name: 'e', rows: 1, inDim: 8, outDim: 4 });
});

test('laneSteps: Σ over tiles of ceil(tile / lanes)', () => {
  assert.equal(laneSteps(3, 3, 2), 2);
  assert.equal(laneSteps(8, 4, 2), 4);
  assert.equal(laneSteps(10, 4, 4), 3); // tiles 4, 4, 2
  assert.equal(laneSteps(10, 4, 3), 5); // 2 + 2 + 1
});

test('layersFromGraph: dense fmnist-cnn and its LUT conversion give the example shapes', () => {
  const dense = layersFromGraph(createModel('fmnist-cnn', { rng: new Rng(0) }).info);
  assert.deepEqual(dense.skipped, []);
  assert.deepEqual(dense.layers.map(gemm), [['conv1', 784, 9, 32], ['conv2', 784, 288, 32], ['conv3', 196, 288, 64], ['conv4', 196, 576, 64], ['fc1', 1, 3136, 256], ['fc2', 1, 256, 10]]);
  assert.ok(dense.layers.every((l) => l.lut === undefined));
  assert.equal(dense.layers[0].inputElems, 784);

  const rng = new Rng(1);
  const entries = createModule('fmnist-cnn', { rng }).namedChildren().map(([n, m]): [string, Module] => {
    if (m instanceof Conv2d && n !== 'conv1') return [n, LutConv2d.fromDense(m, randn([m.inChannels, 16, 9], 1, rng), { metric: 'chebyshev' })];
    if (m instanceof Linear && n === 'fc1') return [n, LutLinear.fromDense(m, randn([3136 / 16, 16, 16], 1, rng))];
    return [n, m];
  });
  const lut = layersFromGraph(lowerModule(Sequential.named(entries), { inputShape: [1, 28, 28] }).info);
  const luts = lut.layers.filter((l) => l.lut);
  const want = fmnistCnnLutLayers();
  assert.deepEqual(luts.map(gemm), want.map(gemm));
  assert.deepEqual(luts.map((l) => l.lut), [
    { subvecLen: 9, k: 16, metric: 'chebyshev' }, { subvecLen: 9, k: 16, metric: 'chebyshev' }, { subvecLen: 9, k: 16, metric: 'chebyshev' }, { subvecLen: 16, k: 16, metric: 'l2' },
  ]);
  assert.deepEqual(luts.map((l) => l.conv), want.map((l) => l.conv));
});

test('layersFromGraph on the zoo resnet18-cifar: its 3x3 stage convs are the example list', () => {
  const { layers, skipped } = layersFromGraph(createModel('resnet18-cifar', { rng: new Rng(2) }).info);
  assert.deepEqual(skipped, []);
  const stage3x3 = layers.filter((l) => l.name.startsWith('layer') && l.conv?.kh === 3);
  const want = resnet18CifarConvLayers();
  assert.deepEqual(stage3x3.map(gemm), want.map(gemm));
  assert.deepEqual(stage3x3.map((l) => l.conv), want.map((l) => l.conv));
  // Besides: the stem conv, three 1x1 stride-2 shortcuts and the classifier.
  assert.deepEqual(layers.filter((l) => !stage3x3.includes(l)).map(gemm).map((g) => g.slice(1)), [[1024, 27, 64], [256, 64, 128], [64, 128, 256], [16, 256, 512], [1, 512, 10]]);
});
