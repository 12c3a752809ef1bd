import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from './index.js';

test('ops/index re-exports every op', () => {
  const names = [
    'add', 'sub', 'mul', 'div', 'mulScalar', 'addScalar', 'matmul',
    'relu', 'gelu', 'sigmoid', 'tanh', 'exp', 'log', 'neg', 'sqrt', 'square',
    'sum', 'mean', 'max', 'argmax', 'softmax', 'logSoftmax', 'crossEntropy', 'mseLoss',
    'reshape', 'flatten', 'transpose', 'permute', 'slice', 'concat', 'unsqueeze', 'squeeze',
    'linear', 'conv2d', 'maxPool2d', 'avgPool2d', 'globalAvgPool2d', 'batchNorm', 'layerNorm', 'dropout', 'embedding', 'gather',
  ];
  const table = ops as unknown as Record<string, unknown>;
  for (const n of names) assert.equal(typeof table[n], 'function', n);
});
