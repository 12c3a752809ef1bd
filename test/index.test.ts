// The package entry point exposes the main API and it works through the compiled-free ESM import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as lutnn from '../src/index.js';

test('src/index re-exports the core API', () => {
  for (const name of ['Tensor', 'tensor', 'randn', 'matmul', 'conv2d', 'backward', 'noGrad', 'createModel', 'Adam', 'SGD', 'cosine',
    'loadDataset', 'DataLoader', 'saveSafetensors', 'loadSafetensors', 'saveModel', 'loadModel', 'fit', 'evaluate', 'LutnnError', 'setNumThreads']) {
    assert.ok(name in lutnn, `missing export ${name}`);
  }
  const y = lutnn.matmul(lutnn.tensor([[1, 2]]), lutnn.tensor([[3], [4]]));
  assert.equal(y.item(), 11);
});
