// The ONNX import fixtures (test/fixtures/onnx, made by scripts/make_onnx_fixtures.py): manifest and files agree, and onnxruntime-node reproduces PyTorch's outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataLoader } from '../src/data/loader.js';
import { loadEmbeddedFashionMnist } from '../src/data/fashion-mnist.js';
import { decodeModel } from '../src/io/onnx-proto.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'onnx');

type Dtype = 'float32' | 'int64' | 'uint8';
interface TensorRef {
  name: string;
  file: string;
  shape: number[];
  dtype: Dtype;
}
interface Entry {
  name: string;
  opset: number;
  file: string;
  description: string;
  inputShape: number[];
  inputs: TensorRef[];
  outputs: TensorRef[];
  tolerance: number;
  weights: 'raw' | 'external' | 'typed';
  externalData?: string[];
  onnxOps: string[];
  onnxOpCounts: Record<string, number>;
  patterns?: { layerNormOp: number; layerNormDecomposed: number; geluErf: number; geluTanh: number };
  // the trained model only
  testCount?: number;
  testCorrect?: number;
  testAccuracy?: number;
  mean?: number;
  std?: number;
  predictions?: { file: string; shape: number[]; dtype: Dtype };
  testImagesSha256?: string;
  testLabelsSha256?: string;
}

const BYTES: Record<Dtype, number> = { float32: 4, int64: 8, uint8: 1 };
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[];

/** onnxruntime-node when installed (a dev dependency), else null: the consistency checks run without it. */
type Ort = typeof import('onnxruntime-node');
let ort: Ort | null = null;
try {
  const m = (await import('onnxruntime-node')) as Ort & { default?: Ort };
  ort = m.default ?? m; // the CommonJS build arrives as a default export, the ESM build as named exports
} catch {
  ort = null;
}

function readTensor(ref: TensorRef): Float32Array | BigInt64Array | Uint8Array {
  const b = readFileSync(join(DIR, ref.file));
  const copy = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  if (ref.dtype === 'float32') return new Float32Array(copy);
  if (ref.dtype === 'int64') return new BigInt64Array(copy);
  return new Uint8Array(copy);
}

/** max |got - ref| / max |ref|: the manifest's toleranceMetric. */
function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(got.length, ref.length, 'output length');
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num = Math.max(num, Math.abs(got[i] - ref[i]));
    den = Math.max(den, Math.abs(ref[i]));
  }
  assert.ok(den > 0, 'reference output is all zeros');
  return num / den;
}

test('manifest: the issue\'s models at opsets 13 and 17, the trained CNN, the weight-storage variants', () => {
  const have = new Set(manifest.map((e) => `${e.name}@${e.opset}`));
  for (const name of ['mlp', 'resnet', 'mobilenet', 'vit', 'vit-torch', 'bert', 'gelu-tanh-layernorm']) {
    for (const opset of [13, 17]) assert.ok(have.has(`${name}@${opset}`), `${name} opset ${opset}`);
  }
  for (const k of ['fmnist-cnn-trained@17', 'mlp-external-data@17', 'mlp-typed-fields@17']) assert.ok(have.has(k), k);
  assert.equal(new Set(manifest.map((e) => e.file)).size, manifest.length, 'one entry per file');
  for (const e of manifest) {
    assert.ok(e.tolerance > 0 && e.tolerance <= 1e-4, `${e.file}: tolerance ${e.tolerance}`);
    assert.ok(e.inputShape.length > 0 && e.inputShape.every((d) => Number.isInteger(d) && d > 0), `${e.file}: inputShape`);
  }
});

for (const e of manifest) {
  test(`fixture ${e.file}: files, byte lengths, opset, graph inputs/outputs and op types agree with the manifest`, () => {
    const bytes = readFileSync(join(DIR, e.file));
    const refs = [...e.inputs, ...e.outputs, ...(e.predictions ? [{ ...e.predictions, name: 'predictions' }] : [])];
    for (const r of refs) {
      const p = join(DIR, r.file);
      assert.ok(existsSync(p), `${r.file} missing`);
      const want = r.shape.reduce((a, b) => a * b, 1) * BYTES[r.dtype];
      assert.equal(statSync(p).size, want, `${r.file}: ${r.dtype} [${r.shape.join(',')}]`);
    }
    const batch = e.inputs[0].shape[0];
    for (const r of [...e.inputs, ...e.outputs]) assert.equal(r.shape[0], batch, `${e.file}: batch of ${r.name}`);
    assert.ok(batch >= 2, `${e.file}: reference batch ${batch}`);
    for (const r of e.inputs) assert.deepEqual(r.shape.slice(1), e.inputShape, `${e.file}: inputShape vs ${r.name}`);

    const model = decodeModel(bytes, e.file);
    const defaultOpset = model.opsetImport.filter((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
    assert.equal(defaultOpset.length, 1, `${e.file}: one default-domain opset import`);
    assert.equal(defaultOpset[0].version, e.opset, `${e.file}: opset_import`);

    const g = model.graph;
    const inits = new Set((g.initializer ?? []).map((t) => t.name));
    const graphInputs = g.input.filter((v) => !inits.has(v.name));
    assert.deepEqual(graphInputs.map((v) => v.name), e.inputs.map((r) => r.name), `${e.file}: graph inputs`);
    assert.deepEqual(g.output.map((v) => v.name), e.outputs.map((r) => r.name), `${e.file}: graph outputs`);
    for (const [vi, r] of [...graphInputs.map((v, i) => [v, e.inputs[i]] as const), ...g.output.map((v, i) => [v, e.outputs[i]] as const)]) {
      const dims = vi.type.tensorType.shape.dim;
      assert.equal(dims.length, r.shape.length, `${e.file}: rank of ${r.name}`);
      assert.ok('dimParam' in dims[0] && typeof dims[0].dimParam === 'string', `${e.file}: ${r.name} has a dynamic batch axis`);
      assert.deepEqual(dims.slice(1).map((d) => ('dimValue' in d ? d.dimValue : d.dimParam)), r.shape.slice(1), `${e.file}: dims of ${r.name}`);
      assert.equal(vi.type.tensorType.elemType, r.dtype === 'int64' ? 7 : 1, `${e.file}: element type of ${r.name}`);
    }

    const counts: Record<string, number> = {};
    for (const n of g.node) counts[n.opType] = (counts[n.opType] ?? 0) + 1;
    assert.deepEqual(Object.keys(counts).sort(), e.onnxOps, `${e.file}: op types`);
    assert.deepEqual(counts, e.onnxOpCounts, `${e.file}: op counts`);
    if (e.patterns) {
      assert.equal(counts.LayerNormalization ?? 0, e.patterns.layerNormOp, `${e.file}: LayerNormalization ops`);
      assert.equal(counts.Sqrt ?? 0, e.patterns.layerNormDecomposed, `${e.file}: decomposed LayerNorms (one Sqrt each)`);
      assert.equal(counts.Erf ?? 0, e.patterns.geluErf, `${e.file}: erf GELUs`);
      if (e.opset < 17) assert.equal(e.patterns.layerNormOp, 0, 'LayerNormalization is an opset-17 op');
    }

    // How the initializers store their bytes.
    const init = g.initializer as unknown as { name: string; dims: number[]; dataType: number; rawData?: Uint8Array; floatData?: number[]; int64Data?: number[] }[];
    assert.ok(init.length > 0, `${e.file}: initializers`);
    for (const t of init) {
      const n = (t.dims ?? []).reduce((a, b) => a * b, 1);
      const raw = t.rawData?.length ?? 0;
      if (e.weights === 'raw') assert.equal(raw, n * (t.dataType === 7 ? 8 : 4), `${e.file}: ${t.name} raw_data length`);
      else if (e.weights === 'external') assert.equal(raw + (t.floatData?.length ?? 0), 0, `${e.file}: ${t.name} holds no data inline`);
      else {
        assert.equal(raw, 0, `${e.file}: ${t.name} has no raw_data`);
        const typed = t.dataType === 1 ? t.floatData : t.int64Data;
        assert.equal(typed?.length ?? 0, n, `${e.file}: ${t.name} typed data length`);
      }
    }
    if (e.weights === 'external') {
      assert.ok(e.externalData && e.externalData.length > 0);
      for (const f of e.externalData) assert.ok(existsSync(join(DIR, f)), `${f} missing`);
    }
  });
}

test('fixtures: the weight-storage variants hold the same numbers as the raw mlp file', () => {
  const dec = (f: string) => decodeModel(readFileSync(join(DIR, f)), f).graph.initializer as unknown as { name: string; rawData?: Uint8Array; floatData?: number[] }[];
  const raw = dec('mlp-opset17.onnx');
  const typed = dec('mlp-typed-fields-opset17.onnx');
  assert.deepEqual(typed.map((t) => t.name), raw.map((t) => t.name));
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i].rawData!;
    const want = new Float32Array(r.buffer.slice(r.byteOffset, r.byteOffset + r.byteLength));
    assert.deepEqual(Float32Array.from(typed[i].floatData!), want, `typed ${raw[i].name}`);
  }
});

for (const e of manifest) {
  test(`onnxruntime-node runs ${e.file} with PyTorch's outputs (tolerance ${e.tolerance}), also at batch 1`, { skip: ort === null ? 'onnxruntime-node is not installed' : false }, async (t) => {
    const o = ort!;
    const session = await o.InferenceSession.create(join(DIR, e.file), { intraOpNumThreads: 2 });
    const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
    const feeds1: Record<string, InstanceType<Ort['Tensor']>> = {};
    for (const r of e.inputs) {
      const data = readTensor(r);
      const per = data.length / r.shape[0];
      if (r.dtype === 'int64') {
        feeds[r.name] = new o.Tensor('int64', data as BigInt64Array, r.shape);
        feeds1[r.name] = new o.Tensor('int64', (data as BigInt64Array).slice(0, per), [1, ...r.shape.slice(1)]);
      } else {
        feeds[r.name] = new o.Tensor('float32', data as Float32Array, r.shape);
        feeds1[r.name] = new o.Tensor('float32', (data as Float32Array).slice(0, per), [1, ...r.shape.slice(1)]);
      }
    }
    const out = await session.run(feeds);
    const out1 = await session.run(feeds1);
    for (const r of e.outputs) {
      const ref = readTensor(r) as Float32Array;
      const got = out[r.name].data as Float32Array;
      assert.deepEqual([...out[r.name].dims], r.shape, `${e.file}: ${r.name} dims`);
      const err = relErr(got, ref);
      const per = ref.length / r.shape[0];
      const err1 = relErr(out1[r.name].data as Float32Array, ref.subarray(0, per));
      t.diagnostic(`${e.file} ${r.name}: max |ort - torch| / max |torch| = ${err.toExponential(2)} (batch ${r.shape[0]}), ${err1.toExponential(2)} (batch 1)`);
      assert.ok(err <= e.tolerance, `${e.file}: ${r.name} error ${err} > ${e.tolerance}`);
      assert.ok(err1 <= e.tolerance, `${e.file}: ${r.name} at batch 1: error ${err1} > ${e.tolerance}`);
      // the model is not constant: the samples' outputs differ
      assert.ok(relErr(ref.subarray(per, 2 * per), ref.subarray(0, per)) > 1e-2, `${e.file}: samples 0 and 1 give (nearly) the same ${r.name}`);
    }
  });
}

const trained = manifest.find((e) => e.name === 'fmnist-cnn-trained');

test('fmnist-cnn-trained: recorded accuracy matches its predictions and lutnn\'s embedded test split', () => {
  assert.ok(trained, 'no fmnist-cnn-trained entry');
  const ds = loadEmbeddedFashionMnist().test;
  assert.equal(ds.n, trained.testCount);
  assert.equal(createHash('sha256').update(ds.images).digest('hex'), trained.testImagesSha256, 'test images differ from the script\'s split');
  assert.equal(createHash('sha256').update(ds.labels).digest('hex'), trained.testLabelsSha256, 'test labels differ from the script\'s split');
  const pred = readTensor({ ...trained.predictions!, name: 'predictions' }) as Uint8Array;
  assert.equal(pred.length, ds.n);
  let correct = 0;
  for (let i = 0; i < ds.n; i++) if (pred[i] === ds.labels[i]) correct++;
  assert.equal(correct, trained.testCorrect);
  assert.equal(trained.testAccuracy, correct / ds.n);
  assert.ok(correct / ds.n > 0.88, `accuracy ${correct / ds.n}`);
  // the reference input is the first test images, normalised as lutnn's DataLoader does
  const x = new DataLoader(ds, { batchSize: trained.inputs[0].shape[0], shuffle: false, mean: trained.mean, std: trained.std }).batch(0, 0).x;
  assert.deepEqual(x.f32, readTensor(trained.inputs[0]));
});

test('fmnist-cnn-trained: onnxruntime-node on all 10,000 test images (lutnn\'s DataLoader) gives PyTorch\'s predictions', { skip: ort === null ? 'onnxruntime-node is not installed' : false }, async (t) => {
  assert.ok(trained);
  const o = ort!;
  const session = await o.InferenceSession.create(join(DIR, trained.file), { intraOpNumThreads: 2 });
  const ds = loadEmbeddedFashionMnist().test;
  const pred = readTensor({ ...trained.predictions!, name: 'predictions' }) as Uint8Array;
  const loader = new DataLoader(ds, { batchSize: 1000, shuffle: false, mean: trained.mean, std: trained.std });
  let differ = 0;
  let correct = 0;
  let i = 0;
  for (const b of loader.epoch(0)) {
    const out = await session.run({ input: new o.Tensor('float32', b.x.f32, [...b.x.shape]) });
    const logits = out.logits.data as Float32Array;
    for (let r = 0; r < b.x.shape[0]; r++, i++) {
      const row = logits.subarray(r * 10, r * 10 + 10);
      let best = 0;
      for (let c = 1; c < 10; c++) if (row[c] > row[best]) best = c;
      if (best === ds.labels[i]) correct++;
      if (best !== pred[i]) {
        differ++;
        // only a near tie may flip under a different summation order
        assert.ok(row[best] - row[pred[i]] <= 1e-4 * Math.max(1, Math.abs(row[best])), `image ${i}: ort ${best}, torch ${pred[i]}`);
      }
    }
  }
  t.diagnostic(`onnxruntime-node: ${correct}/${ds.n} correct (${((100 * correct) / ds.n).toFixed(2)}%), PyTorch ${trained.testCorrect}; ${differ} predictions differ (near ties)`);
  assert.ok(Math.abs(correct - trained.testCorrect!) <= differ);
});
