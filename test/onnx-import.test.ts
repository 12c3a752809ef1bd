// ONNX import of the PyTorch fixtures (test/fixtures/onnx, scripts/make_onnx_fixtures.py): each model at each opset
// imported, run on lutnn's engine and on lutnn.load (the runtime), and exported again and run in onnxruntime-node,
// against PyTorch's outputs; their LUT-NN forms on the engine and the runtime; and lutnn's own LUT models exported and
// imported back as LUT layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { loadEmbeddedFashionMnist } from '../src/data/fashion-mnist.js';
import { DataLoader } from '../src/data/loader.js';
import { noGrad } from '../src/autograd/engine.js';
import { GraphModel } from '../src/graph/model.js';
import { serializeModel } from '../src/io/model-format.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { importOnnxFile } from '../src/io/onnx-import-file.js';
import { OnnxUnsupportedError, importOnnx } from '../src/io/onnx-import.js';
import { convertModel, convertStructure } from '../src/lut/convert.js';
import { createModel } from '../src/nn/zoo.js';
import { loadSync } from '../src/runtime/node.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'onnx');

interface Ref {
  name: string;
  file: string;
  shape: number[];
  dtype: 'float32' | 'int64';
}
interface Entry {
  name: string;
  opset: number;
  file: string;
  inputs: Ref[];
  outputs: Ref[];
  tolerance: number;
}

const manifest: Entry[] = existsSync(join(DIR, 'manifest.json')) ? (JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Entry[]) : [];

function bin(file: string): ArrayBuffer {
  const b = readFileSync(join(DIR, file));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
}

/** A fixture tensor as lutnn takes it: float32, or int64 token ids as int32. */
function feed(r: Ref): Tensor {
  const buf = bin(r.file);
  return r.dtype === 'int64' ? new Tensor(Int32Array.from(new BigInt64Array(buf), (v) => Number(v)), r.shape) : new Tensor(new Float32Array(buf), r.shape);
}

/** max |got − ref| / max |ref| (the manifest's tolerance metric). */
function relErr(got: ArrayLike<number>, ref: Float32Array): number {
  assert.equal(got.length, ref.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]);
    d = e > d || Number.isNaN(e) ? e : d;
    m = Math.max(m, Math.abs(ref[i]));
  }
  return d / m;
}

const fmt = (v: number): string => v.toExponential(2);

/** max |got − ref|. */
function maxAbs(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  assert.equal(got.length, ref.length);
  let d = 0;
  for (let i = 0; i < ref.length; i++) d = Math.max(d, Math.abs(got[i] - ref[i]));
  return d;
}

test('fixtures: the manifest lists the issue\'s models at opsets 13 and 17', { skip: manifest.length === 0 ? 'no fixtures (scripts/make_onnx_fixtures.py)' : false }, () => {
  const names = new Set(manifest.map((e) => `${e.name}@${e.opset}`));
  for (const m of ['mlp', 'resnet', 'mobilenet', 'vit', 'bert']) for (const o of [13, 17]) assert.ok(names.has(`${m}@${o}`), `${m} at opset ${o}`);
});

for (const e of manifest) {
  test(`import ${e.file}: engine, runtime and export round trip match PyTorch within ${e.tolerance}`, async (t) => {
    const r = importOnnxFile(join(DIR, e.file));
    const model = r.model;
    assert.equal(r.opset, e.opset);
    assert.deepEqual(r.inputs.map((i) => i.onnxName), e.inputs.map((i) => i.name));
    const feeds = e.inputs.map(feed);
    const refs = e.outputs.map((o) => new Float32Array(bin(o.file)));
    const ys = noGrad(() => model.run(feeds));
    const engine = ys.map((y, k) => relErr(y.f32, refs[k]));
    engine.forEach((err, k) => assert.ok(err <= e.tolerance, `${e.file} output ${k}: engine relative error ${err} > ${e.tolerance}`));
    const notes = [`engine ${engine.map(fmt).join(',')}`, `ops ${JSON.stringify(r.ops)}`, `fused ${JSON.stringify(r.fused)}`];

    // lutnn.load on the model file's bytes: every fixture runs on the runtime (token ids and masks as int32 inputs,
    // also given as ONNX's int64 and by name).
    const rt = loadSync(serializeModel(model, { dataset: { name: 'fashion-mnist', mean: 0, std: 1 } }));
    try {
      assert.deepEqual(rt.inputs.map((i) => i.name), r.inputs.map((i) => i.name));
      const y = rt.run(feeds.length === 1 ? feeds[0] : feeds);
      const err = relErr(y, refs[0]);
      assert.ok(err <= e.tolerance, `${e.file}: runtime relative error ${err} > ${e.tolerance}`);
      notes.push(`runtime ${fmt(err)} (max |runtime − torch| ${fmt(maxAbs(y, refs[0]))}, max |runtime − engine| ${fmt(maxAbs(y, ys[0].f32))})`);
      if (e.inputs.some((i) => i.dtype === 'int64')) {
        const byName = Object.fromEntries(e.inputs.map((i, k) => [rt.inputs[k].name, i.dtype === 'int64' ? new BigInt64Array(bin(i.file)) : feeds[k]]));
        assert.deepEqual(rt.run(byName), y, `${e.file}: int64 ids by name`);
      }
      const one = feeds.map((f) => new Tensor(f.data.slice(0, f.data.length / f.shape[0]) as Float32Array | Int32Array, [1, ...f.shape.slice(1)]));
      const y1 = rt.run(one.length === 1 ? one[0] : one);
      assert.deepEqual(y1, y.subarray(0, y.length / e.outputs[0].shape[0]), `${e.file}: sample 0 alone`);
    } finally {
      rt.dispose();
    }

    // Round trip: the imported model exported again runs in onnxruntime with PyTorch's outputs.
    const ex = exportOnnx(model, { opset: 17 });
    const session = await ort.InferenceSession.create(ex.bytes, { intraOpNumThreads: 1 });
    const ins = Object.fromEntries(ex.inputs.map((v, k) => [v.name, feeds[k].dtype === 'int32' ? new ort.Tensor('int32', feeds[k].data as Int32Array, feeds[k].shape) : new ort.Tensor('float32', feeds[k].f32, feeds[k].shape)]));
    const out = await session.run(ins);
    const trip = ex.outputs.map((o, k) => relErr(out[o.name].data as Float32Array, refs[k]));
    trip.forEach((err, k) => assert.ok(err <= e.tolerance, `${e.file} output ${k}: exported again, onnxruntime relative error ${err} > ${e.tolerance}`));
    notes.push(`export→onnxruntime ${trip.map(fmt).join(',')}`);
    t.diagnostic(notes.join('; '));
  });
}

test('LUT-NN forms of the imported mlp, mobilenet, vit-torch and bert (lutnn convert\'s default layers): the runtime equals the engine', (t) => {
  for (const name of ['mlp', 'mobilenet', 'vit-torch', 'bert']) {
    const e = manifest.find((x) => x.name === name && x.opset === 17);
    assert.ok(e, `${name} fixture`);
    const { model } = importOnnxFile(join(DIR, e.file));
    const feeds = e.inputs.map(feed);
    // Seeded centroids (no data), and for one-input models centroids fitted on data (k-means over calibration rows).
    const forms: [string, GraphModel][] = [['seeded', convertStructure(model, { seed: 7 }).model.eval()]];
    if (feeds.length === 1) forms.push(['calibrated', convertModel(model, [randn([32, ...e.inputs[0].shape.slice(1)], 1, new Rng(3)), feeds[0]], { seed: 7 }).model.eval()]);
    for (const [how, lut] of forms) {
      const luts = lut.info.nodes.filter((n) => n.node.op.startsWith('Lut')).length;
      assert.ok(luts > 0, `${name} ${how}: LUT layers`);
      const want = noGrad(() => lut.run(feeds))[0].f32;
      const rt = loadSync(serializeModel(lut, { dataset: { name: 'fashion-mnist', mean: 0, std: 1 } }));
      try {
        const got = rt.run(feeds.length === 1 ? feeds[0] : feeds);
        assert.equal(rt.ops.filter((o) => o.kind === 'lutLinear' || o.kind === 'lutConv').length, luts, `${name} ${how}: LUT steps`);
        const err = relErr(got, want);
        assert.ok(err <= 1e-4, `${name} ${how}: runtime vs engine relative error ${err}`);
        t.diagnostic(`${name} ${how}: ${luts} LUT layers; max |runtime − engine| ${fmt(maxAbs(got, want))} (relative ${fmt(err)})`);
      } finally {
        rt.dispose();
      }
    }
  }
});

/** A LUT model of a zoo graph (seeded centroids, lutnn convert's default layers). */
function lutModel(name: string): GraphModel {
  const m = convertStructure(createModel(name, { rng: new Rng(3) }), { seed: 1 }).model;
  return m.eval();
}

test('LUT models exported by lutnn come back as LUT layers with the same tensors: outputs bit-identical, onnxruntime agrees', async (t) => {
  for (const name of ['fmnist-cnn', 'vit-fm']) {
    const lut = lutModel(name);
    const ex = exportOnnx(lut, { opset: 17, codes: true });
    const r = importOnnx(ex.bytes, { file: `${name}.onnx` });
    const luts = lut.info.nodes.filter((n) => n.node.op.startsWith('Lut') || (n.node.op === 'BatchNorm' && n.inputs[0] !== null && lut.info.producer.get(n.node.inputs[0])?.node.op.startsWith('Lut')));
    assert.equal(r.lutLayers, luts.length, `${name}: marked layers`);
    for (const op of ['LutConv', 'LutLinear'] as const) assert.equal(r.ops[op] ?? 0, lut.info.nodes.filter((n) => n.node.op === op).length, `${name}: ${op}`);
    assert.equal(r.ops.ArgMin, undefined);
    // The same node names and tensors as the model exported; the codes outputs are dropped with the layers.
    const back = importOnnx(ex.bytes, { file: 'x' });
    assert.deepEqual(back.outputs.map((o) => o.onnxName), ['output']);
    const model = GraphModel.create(r.graph, r.weights).eval();
    for (const n of lut.info.nodes.filter((x) => x.node.op.startsWith('Lut'))) {
      const same = model.info.nodes.find((x) => x.node.name === n.node.name);
      assert.ok(same, `${name}: LUT layer ${n.node.name} restored`);
      assert.equal(same.node.op, n.node.op);
      assert.deepEqual(same.attrs, n.attrs);
      n.node.inputs.slice(1).forEach((v, k) => v && assert.deepEqual(Array.from(model.weight(same.node.inputs[k + 1]).data), Array.from(lut.weight(v).data), `${name}: ${n.node.name} input ${k + 1}`));
    }
    const x = randn([4, 1, 28, 28], 1, new Rng(5));
    const want = noGrad(() => lut.forward(x));
    const got = noGrad(() => model.forward(x));
    assert.ok(got.f32.every((v, i) => Object.is(v, want.f32[i])), `${name}: imported LUT model's outputs differ from the exported one's`);
    const session = await ort.InferenceSession.create(ex.bytes, { intraOpNumThreads: 1 });
    const o = (await session.run({ input: new ort.Tensor('float32', x.f32, x.shape) })).output.data as Float32Array;
    const err = relErr(o, got.f32);
    assert.ok(err < 1e-5, `${name}: onnxruntime vs imported ${err}`);
    t.diagnostic(`${name}: ${r.lutLayers} marked layers (${JSON.stringify(r.ops)}), ${ex.bytes.length} bytes of which ${ex.lutTrainingBytes} training tensors; onnxruntime vs imported ${fmt(err)}`);
  }
});

test('a LUT marker that no longer fits its file (a node renamed after export) is a FormatError naming the layer', () => {
  const lut = lutModel('fmnist-cnn');
  const ex = exportOnnx(lut, { opset: 17 });
  const name = lut.info.nodes.find((n) => n.node.op === 'LutConv')!.node.name;
  // Rename the layer's first ONNX node in place (same byte length, so the protobuf stays valid).
  const text = Buffer.from(ex.bytes);
  const at = text.indexOf(`${name}/Conv#node`);
  assert.ok(at > 0);
  const edited = new Uint8Array(text);
  edited[at + name.length + 1] = 'X'.charCodeAt(0);
  assert.throws(() => importOnnx(edited, { file: 'edited.onnx' }), new RegExp(`^FormatError|edited\\.onnx: layer '${name}' \\(LutConv\\) of the lutnn\\.layers marker: node '${name}/Conv#node' is not in the graph`));
});

const trained = manifest.find((e) => e.name === 'fmnist-cnn-trained') as (Entry & { mean: number; std: number; testAccuracy: number; testCorrect: number; predictions: { file: string } }) | undefined;

test('the PyTorch-trained Fashion-MNIST CNN, imported, reproduces PyTorch\'s test accuracy (engine and runtime) on all 10,000 test images', { skip: trained ? false : 'no fmnist-cnn-trained fixture' }, (t) => {
  const e = trained!;
  const { model } = importOnnxFile(join(DIR, e.file));
  const ds = loadEmbeddedFashionMnist().test;
  const pred = new Uint8Array(bin(e.predictions.file));
  const rt = loadSync(serializeModel(model, { dataset: { name: 'fashion-mnist', mean: e.mean, std: e.std } }));
  try {
    const loader = new DataLoader(ds, { batchSize: 500, shuffle: false, mean: e.mean, std: e.std });
    const correct = { engine: 0, runtime: 0 };
    const differ = { engine: 0, runtime: 0 };
    let i0 = 0;
    for (const b of loader.epoch(0)) {
      const outs = { engine: noGrad(() => model.forward(b.x)).f32, runtime: rt.run(b.x) };
      for (const [k, logits] of Object.entries(outs) as ['engine' | 'runtime', Float32Array][]) {
        for (let r = 0; r < b.x.shape[0]; r++) {
          const row = logits.subarray(r * 10, r * 10 + 10);
          let best = 0;
          for (let c = 1; c < 10; c++) if (row[c] > row[best]) best = c;
          if (best === ds.labels[i0 + r]) correct[k]++;
          if (best !== pred[i0 + r]) differ[k]++;
        }
      }
      i0 += b.x.shape[0];
    }
    assert.equal(i0, 10000);
    for (const k of ['engine', 'runtime'] as const) {
      t.diagnostic(`${k}: ${correct[k]}/10000 correct (${(correct[k] / 100).toFixed(2)}%), PyTorch ${e.testCorrect} (${(100 * e.testAccuracy).toFixed(2)}%); ${differ[k]} predictions differ from PyTorch's`);
      assert.ok(Math.abs(correct[k] / 10000 - e.testAccuracy) <= 1e-4, `${k}: accuracy ${correct[k] / 10000} vs PyTorch ${e.testAccuracy} (more than 0.01 point apart)`);
      assert.ok(differ[k] <= 1, `${k}: ${differ[k]} predictions differ from PyTorch's`);
    }
  } finally {
    rt.dispose();
  }
});

test('lutnn\'s own exports at opsets 13 to 21 import back to the same outputs (ReduceMean axes as input from 18, Split, LayerNormalization)', (t) => {
  const x = randn([2, 1, 28, 28], 1, new Rng(9));
  for (const [name, opsets] of [['resnet-fm', [13, 15, 18, 21]], ['vit-fm', [17, 18, 20, 21]]] as const) {
    const model = createModel(name, { rng: new Rng(4) }).eval();
    const want = noGrad(() => model.forward(x));
    for (const opset of opsets) {
      const r = importOnnx(exportOnnx(model, { opset }).bytes, { file: `${name}-${opset}.onnx` });
      assert.equal(r.opset, opset);
      const got = noGrad(() => GraphModel.create(r.graph, r.weights).eval().forward(x));
      const err = relErr(got.f32, want.f32);
      assert.ok(err < 1e-6, `${name} at opset ${opset}: relative difference ${err}`);
      t.diagnostic(`${name} opset ${opset}: ${r.nodes} nodes from ${r.onnxNodes} ONNX nodes, relative difference ${fmt(err)}`);
    }
  }
});

test('lutnn export --no-lut-marker (lutMarker: false): a smaller file whose LUT layers import as their standard ops, which lutnn lacks', () => {
  const lut = lutModel('fmnist-cnn');
  const marked = exportOnnx(lut, { opset: 17 });
  const plain = exportOnnx(lut, { opset: 17, lutMarker: false });
  assert.equal(plain.lutTrainingBytes, 0);
  assert.ok(marked.bytes.length - plain.bytes.length >= marked.lutTrainingBytes, `${marked.bytes.length} vs ${plain.bytes.length}`);
  assert.throws(() => importOnnx(plain.bytes, { file: 'plain.onnx' }), (e: Error) => e instanceof OnnxUnsupportedError && /ArgMin ×4/.test(e.message) && /DequantizeLinear ×4/.test(e.message));
});
