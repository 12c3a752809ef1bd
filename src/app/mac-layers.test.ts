// Tests of macLayersOf: the MAC layers of fmnist-cnn (dense and quantized) as plain data for the energy and area model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { graphCost } from '../graph/cost.js';
import { macReport } from '../hw/mac-layers.js';
import { TECH_45NM } from '../hw/tech.js';
import { loadModel } from '../io/model-file.js';
import { quantizeModel } from '../quant/quantize.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { macLayersOf } from './mac-layers.js';

const file = new URL('../../models/fmnist-cnn.safetensors', import.meta.url).pathname;

test('fmnist-cnn: six MAC layers whose MACs add up to the model total; rows = uses of each weight per image', () => {
  const { model } = loadModel(file);
  const weights = new Map(model.namedWeights());
  const { layers, skipped } = macLayersOf(model.info, weights);
  assert.deepEqual(skipped, []);
  assert.deepEqual(layers.map((l) => [l.name, l.rows, l.bitsA, l.bitsW]), [
    ['conv1', 784, 8, 9], ['conv2', 784, 8, 9], ['conv3', 196, 8, 9], ['conv4', 196, 8, 9], ['fc1', 1, 8, 9], ['fc2', 1, 8, 9],
  ]);
  assert.equal(layers.reduce((s, l) => s + l.macs, 0), graphCost(model.info, weights).total.macs);
  assert.equal(layers[1].macs, 784 * 32 * 32 * 9);
  // Quantized nodes bring their own widths.
  const { model: q } = quantizeModel(model, [randn([4, 1, 28, 28], 1, new Rng(1))], { actBits: 6, weightBits: 7, include: ['conv2'] });
  const ql = macLayersOf(q.info, new Map(q.namedWeights())).layers;
  assert.deepEqual(ql.map((l) => [l.name, l.bitsA, l.bitsW]).slice(0, 3), [['conv1', 8, 9], ['conv2', 6, 7], ['conv3', 8, 9]]);
  // The whole model on a Wallace-tree MAC: 19.09M MACs x energy per MAC.
  const r = macReport(layers, { kind: 'digital', multiplier: 'wallace' }, TECH_45NM);
  assert.equal(r.macs, 19_094_528);
  assert.ok(r.energyPJ > 0 && Math.abs(r.energyPJ / r.macs - r.layers[0].energyPerMacPJ) < 1e-12);
});
