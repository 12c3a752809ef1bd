// Deployment files on the runtime: for fmnist-cnn, resnet-fm and vit-fm, dense and LUT-NN, the deployment file's logits
// are bit-identical to the training file's (f32 and int8 encoders, TS engine); its LUT specs are used as read (no table
// built at load); it holds no training tensor; the training engine refuses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { wasmRuntime } from '../backend/wasm.js';
import { FormatError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import { parseRuntimeContents, serializeDeploy, type DeployReport } from '../io/deploy-format.js';
import { loadModel } from '../io/model-file.js';
import { serializeModel } from '../io/model-format.js';
import { convertStructure } from '../lut/convert.js';
import { createModel } from '../nn/zoo.js';
import { buildLut, quantizeLut } from '../ops/lut-table.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { compileGraph } from './load.js';
import { tsLutEngine } from './lut-step.js';
import type { CompileOptions, RuntimeModel } from './model.js';
import { loadSync, nodeHost } from './node.js';

const SHIPPED = (name: string): string => fileURLToPath(new URL(`../../models/${name}.safetensors`, import.meta.url));

/** Seeded eval statistics and affine parameters for every BatchNorm (so folding really changes the weights). */
function seedBatchNorms(model: GraphModel, rng: Rng): GraphModel {
  for (const n of model.graph.nodes) {
    if (n.op !== 'BatchNorm') continue;
    const [g, b, mean, v] = n.inputs.slice(1, 5).map((name) => (name ? model.weight(name).f32 : null));
    for (let c = 0; c < mean!.length; c++) {
      mean![c] = rng.uniform(-0.3, 0.3);
      v![c] = rng.uniform(0.4, 2);
      if (g) g[c] = rng.uniform(0.5, 1.5);
      if (b) b[c] = rng.uniform(-0.3, 0.3);
    }
  }
  return model.eval();
}

interface Case {
  name: string;
  model: GraphModel;
  inputShape: number[];
}

function cases(): Case[] {
  const fm = loadModel(SHIPPED('fmnist-cnn')).model;
  const resnet = seedBatchNorms(createModel('resnet-fm', { rng: new Rng(21) }), new Rng(22));
  const vit = createModel('vit-fm', { rng: new Rng(41) }).eval();
  const lut = (m: GraphModel, seed: number): GraphModel => convertStructure(m, { seed }).model.eval();
  const s = [1, 28, 28];
  return [
    { name: 'fmnist-cnn dense (shipped)', model: fm, inputShape: s },
    { name: 'fmnist-cnn lut', model: lut(fm, 5), inputShape: s },
    { name: 'resnet-fm dense', model: resnet, inputShape: s },
    { name: 'resnet-fm lut', model: lut(resnet, 23), inputShape: s },
    { name: 'vit-fm dense', model: vit, inputShape: s },
    { name: 'vit-fm lut', model: lut(vit, 42), inputShape: s },
  ];
}

/** The float32 bits of logits (bit identity, -0 and NaN payloads included). */
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

function both(training: Uint8Array, deploy: Uint8Array, opts: CompileOptions, fn: (t: RuntimeModel, d: RuntimeModel) => void): void {
  const t = loadSync(training, { name: 'training', ...opts });
  try {
    const d = loadSync(deploy, { name: 'deploy', ...opts });
    try {
      fn(t, d);
    } finally {
      d.dispose();
    }
  } finally {
    t.dispose();
  }
}

function deployOf(m: GraphModel): { bytes: Uint8Array; report: DeployReport } {
  return serializeDeploy({ graph: m.graph, weights: new Map(m.namedWeights()) }, { dataset: { name: 'fashion-mnist', mean: 0.286, std: 0.353 } }, 'test model');
}

test('deployment files run bit-identically to their training files (dense and LUT-NN: fmnist-cnn, resnet-fm, vit-fm)', (t) => {
  const rng = new Rng(7);
  for (const c of cases()) {
    const training = serializeModel(c.model, {});
    const { bytes, report } = deployOf(c.model);
    const luts = c.model.graph.nodes.filter((n) => n.op === 'LutConv' || n.op === 'LutLinear');
    t.diagnostic(`${c.name}: training file ${training.length} B, deployment file ${bytes.length} B (${(100 * bytes.length / training.length).toFixed(1)}%); ${report.lutLayers.length} LUT tables, ${report.foldedBatchNorms.length} BNs folded, ${report.dropped.length} tensors dropped`);
    assert.equal(report.lutLayers.length, luts.length, c.name);
    const x = randn([9, ...c.inputShape], 1, rng); // chunks of 4, 4, 1
    both(training, bytes, { maxBatch: 4 }, (a, b) => {
      assert.equal(b.ops.length, a.ops.length, `${c.name}: same steps (BN fused at load or folded in the file)`);
      assert.deepEqual(b.ops.map((o) => o.kind), a.ops.map((o) => o.kind), c.name);
      assert.deepEqual(bits(b.run(x)), bits(a.run(x)), `${c.name}: logits, f32 encoder`);
    });
    if (luts.length > 0) {
      both(training, bytes, { maxBatch: 4, lutEncoder: 'int8' }, (a, b) => assert.deepEqual(bits(b.run(x)), bits(a.run(x)), `${c.name}: int8 encoder`));
      both(training, bytes, { maxBatch: 4, lut: tsLutEngine(wasmRuntime()!.memory), lutConv: 'im2row' }, (a, b) => assert.deepEqual(bits(b.run(x)), bits(a.run(x)), `${c.name}: TS engine, im2row`));
    }
  }
});

test('a deployment file holds the tables training builds, no training tensor, and batch norms folded where the runtime folds them', () => {
  for (const c of cases()) {
    const { bytes, report } = deployOf(c.model);
    const d = parseRuntimeContents(bytes, 'deploy');
    assert.equal(d.kind, 'deploy');
    const names = [...d.weights.keys()];
    const lutNodes = c.model.graph.nodes.filter((n) => n.op === 'LutConv' || n.op === 'LutLinear');
    for (const n of lutNodes) {
      const [, centroids, weight, , theta] = n.inputs;
      assert.ok(!names.includes(weight) && !names.includes(theta), `${c.name}: ${n.name}'s f32 weight and theta are gone`);
      const spec = d.luts.get(n.name)!;
      const { table, scale } = quantizeLut(buildLut(c.model.weight(centroids), c.model.weight(weight)));
      assert.deepEqual(spec.lutQ, table.data, `${c.name}: ${n.name} table`);
      assert.equal(spec.scale, scale);
      assert.deepEqual(spec.centroids, c.model.weight(centroids).f32);
    }
    assert.ok(!names.some((k) => k.endsWith('num_batches_tracked')), `${c.name}: no num_batches_tracked`);
    const bns = c.model.graph.nodes.filter((n) => n.op === 'BatchNorm');
    const keptBns = d.info.nodes.filter((ni) => ni.node.op === 'BatchNorm').length;
    assert.equal(keptBns + report.foldedBatchNorms.length, bns.length);
    // Dense models: every BN follows a dense conv read by nothing else, so none is left; LUT models keep those after LUT convs.
    if (lutNodes.length === 0) assert.equal(keptBns, 0, c.name);
    else assert.ok(d.info.nodes.filter((ni) => ni.node.op === 'BatchNorm').every((ni) => d.info.producer.get(ni.node.inputs[0])?.node.op !== 'Conv'), c.name);
    // Unchanged tensors are the training file's bytes.
    for (const [k, tn] of d.weights) if (!report.rewritten.includes(k)) assert.deepEqual(tn.data, c.model.weight(k).data, `${c.name}: '${k}' unchanged`);
  }
});

test('loading a deployment file uses its tables as read (nothing rebuilt) and the engine refuses it', () => {
  const fm = convertStructure(loadModel(SHIPPED('fmnist-cnn')).model, { seed: 5 }).model.eval();
  const { bytes } = deployOf(fm);
  const d = parseRuntimeContents(bytes, 'fm.lutnn.safetensors');
  const rtm = compileGraph(nodeHost(), d, { maxBatch: 2 }, d.meta);
  try {
    const tables = new Set([...d.luts.values()].map((l) => l.lutQ));
    const lutOps = rtm.ops.filter((o) => o.kind === 'lutConv' || o.kind === 'lutLinear');
    assert.equal(lutOps.length, d.luts.size);
    for (const o of lutOps) assert.ok(tables.has(o.spec.lutQ), `${o.name}: the file's table itself`);
    assert.equal(rtm.meta?.format, 'lutnn-deploy');
  } finally {
    rtm.dispose();
  }
  assert.throws(() => loadModel(bytes, 'fm.lutnn.safetensors'), (e: Error) => e instanceof FormatError && /^fm\.lutnn\.safetensors: a lutnn deployment file, for inference only/.test(e.message));
});
