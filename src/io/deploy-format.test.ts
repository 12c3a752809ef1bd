// Deployment files as untrusted input: every malformed LUT table, scale or graph gives a FormatError (NonFiniteError for
// NaN/Inf) naming the file and the tensor, through the reader and through lutnn.load, before anything is compiled; the
// writer refuses float-table LUT layers; seeded random corruptions end in a LutnnError or an answer, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, FormatError, LutnnError, NonFiniteError } from '../errors.js';
import type { GraphJson } from '../graph/serialize.js';
import type { GraphModel } from '../graph/model.js';
import { convertStructure } from '../lut/convert.js';
import { createModel } from '../nn/zoo.js';
import { loadSync } from '../runtime/node.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { deployParts, parseRuntimeContents, readDeployContents, serializeDeploy } from './deploy-format.js';
import { LUTNN_METADATA_KEY, serializeSafetensors } from './safetensors-format.js';

const FILE = 'bad.lutnn.safetensors';

let cached: GraphModel | null = null;
/** fmnist-cnn (seeded) with conv2..conv4 and fc1 as LUT-NN layers (conv2: C = 32, K = 16, V = 9, M = 32). */
function lutModel(): GraphModel {
  cached ??= convertStructure(createModel('fmnist-cnn', { rng: new Rng(1) }), { seed: 2 }).model.eval();
  return cached;
}

/** The deployment parts of the model, as a fresh copy that a case may change. */
function parts(): { tensors: Record<string, Tensor>; meta: Record<string, unknown> } {
  const m = lutModel();
  const p = deployParts({ graph: m.graph, weights: new Map(m.namedWeights()) });
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(p.tensors)) tensors[k] = new Tensor(t.data.slice(), t.shape, t.dtype);
  return { tensors, meta: JSON.parse(p.metadata[LUTNN_METADATA_KEY]) as Record<string, unknown> };
}

const node = (meta: Record<string, unknown>, name: string): GraphJson['nodes'][number] => (meta.graph as GraphJson).nodes.find((n) => n.name === name)!;

/** Asserts that both the reader and lutnn.load refuse the changed parts with `cls` and a message matching `re`. */
function refuses(change: (p: { tensors: Record<string, Tensor>; meta: Record<string, unknown> }) => void, cls: typeof LutnnError, re: RegExp): void {
  const p = parts();
  change(p);
  const metadata = { [LUTNN_METADATA_KEY]: JSON.stringify(p.meta) };
  const check = (e: unknown): boolean => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error).constructor.name}: ${(e as Error).message}`);
    assert.match((e as Error).message, new RegExp(`^${FILE.replace(/\./g, '\\.')}: `));
    assert.match((e as Error).message, re);
    return true;
  };
  assert.throws(() => readDeployContents({ tensors: p.tensors, metadata }, FILE), check);
  assert.throws(() => loadSync(serializeSafetensors(p.tensors, metadata), { name: FILE, maxBatch: 1 }), check);
}

test('the parts as written load, and run', () => {
  const p = parts();
  const bytes = serializeSafetensors(p.tensors, { [LUTNN_METADATA_KEY]: JSON.stringify(p.meta) });
  const rtm = loadSync(bytes, { maxBatch: 1 });
  try {
    assert.equal(rtm.run(randn([1, 1, 28, 28], 1, new Rng(3))).length, 10);
  } finally {
    rtm.dispose();
  }
});

test('tables: dtype, shape against the centroids and the outputs, -128, missing, shared or read elsewhere', () => {
  refuses((p) => (p.tensors['conv2.lut'] = new Tensor(Float32Array.from(p.tensors['conv2.lut'].data), p.tensors['conv2.lut'].shape)), FormatError, /LutConv 'conv2': table 'conv2\.lut' must be int8 \[32, 16, M\] \(M >= 1\) for centroids \[32, 16, 9\], got float32 \[32,16,32\]/);
  refuses((p) => (p.tensors['conv2.lut'] = new Tensor(new Int8Array(32 * 15 * 32), [32, 15, 32], 'int8')), FormatError, /table 'conv2\.lut' must be int8 \[32, 16, M\].*got int8 \[32,15,32\]/);
  refuses((p) => (p.tensors['conv2.lut'] = new Tensor(new Int8Array(32 * 16 * 31), [32, 16, 31], 'int8')), FormatError, /conv2.*bias must be \[31\], got \[32\]/);
  refuses((p) => ((p.tensors['conv3.lut'].data as Int8Array)[77] = -128), FormatError, /LutConv 'conv3': table 'conv3\.lut' holds -128 at flat index 77/);
  refuses((p) => delete p.tensors['fc1.lut'], FormatError, /LutLinear 'fc1': its table 'fc1\.lut' \(input 2\) is not a tensor of the file/);
  refuses((p) => (node(p.meta, 'conv3').inputs[2] = 'conv2.lut'), FormatError, /tensor 'conv2\.lut' is the table or table scale of two LUT slots/);
  refuses((p) => (node(p.meta, 'fc2').inputs[2] = 'fc1.lut_scale'), FormatError, /node 'fc2' \(Linear\) reads 'fc1\.lut_scale' as input 2, but it is the table scale of 'fc1'/);
  refuses((p) => (p.tensors['conv2.weight'] = new Tensor(new Float32Array(32 * 9 * 32), [32, 9, 32])), FormatError, /tensors 'conv2\.weight' are not used by the graph/);
});

test('table scales: zero, negative, NaN, Inf, overflowing, not a scalar, missing', () => {
  for (const v of [0, -0.5, NaN, Infinity]) {
    refuses((p) => (p.tensors['conv4.lut_scale'] = new Tensor(Float32Array.of(v), [])), FormatError, new RegExp(`LutConv 'conv4': table scale 'conv4\\.lut_scale' is ${v}, expected finite and > 0`));
  }
  refuses((p) => (p.tensors['conv4.lut_scale'] = new Tensor(Float32Array.of(1e37), [])), FormatError, /table scale 'conv4\.lut_scale' is 9\.99\d*e\+36; 127·C·scale = .* overflows float32/);
  refuses((p) => (p.tensors['conv4.lut_scale'] = new Tensor(Float32Array.of(0.1), [1])), FormatError, /table scale 'conv4\.lut_scale' must be a float32 scalar \[\], got float32 \[1\]/);
  refuses((p) => delete p.tensors['conv4.lut_scale'], FormatError, /its table scale 'conv4\.lut_scale' \(input 4\) is not a tensor of the file/);
});

test('centroids, LUT nodes, metadata', () => {
  refuses((p) => ((p.tensors['conv2.centroids'].data as Float32Array)[5] = NaN), NonFiniteError, /tensor "conv2\.centroids" \[32,16,9\] has NaN at flat index 5/);
  refuses((p) => (p.tensors['conv2.centroids'] = new Tensor(new Int8Array(32 * 16 * 9), [32, 16, 9], 'int8')), FormatError, /centroids 'conv2\.centroids' must be float32 \[C, K, V\], got int8/);
  refuses((p) => (node(p.meta, 'conv2').attrs!.quantize = false), FormatError, /LutConv 'conv2' has quantize = false/);
  refuses((p) => node(p.meta, 'conv2').inputs.pop(), FormatError, /LutConv 'conv2' has 4 inputs; a deployment file's LUT node reads \[x, centroids, table, bias or '', table_scale\]/);
  refuses((p) => (p.meta.version = 2), FormatError, /deployment file version 2, this build reads 1/);
  refuses((p) => (p.meta.dataset = { name: 'fashion-mnist', mean: 0, std: -1 }), FormatError, /metadata dataset must be/);
});

test('the writer refuses float-table LUT layers; a deployment file is not a training file and vice versa', () => {
  const m = lutModel();
  const g = structuredClone(m.graph);
  g.nodes.find((n) => n.name === 'conv3')!.attrs = { ...g.nodes.find((n) => n.name === 'conv3')!.attrs, quantize: false };
  assert.throws(() => deployParts({ graph: g, weights: new Map(m.namedWeights()) }, {}, 'm.safetensors'), (e: Error) => e instanceof ArgumentError && /^m\.safetensors: LutConv 'conv3' has quantize = false \(float table\)/.test(e.message));
  const { bytes } = serializeDeploy({ graph: m.graph, weights: new Map(m.namedWeights()) });
  assert.throws(() => parseRuntimeContents(bytes.subarray(0, bytes.length - 3), FILE), (e: Error) => e instanceof FormatError && e.message.startsWith(`${FILE}: `));
});

test('seeded random corruptions of a deployment file end in a LutnnError or an answer (300 cases)', (t) => {
  const m = lutModel();
  const { bytes } = serializeDeploy({ graph: m.graph, weights: new Map(m.namedWeights()) });
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const rng = new Rng(11);
  const x = randn([1, 1, 28, 28], 1, new Rng(4));
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const b = bytes.slice();
    // Half the cases in the JSON header, half in the tensor data; 1 to 4 bytes each.
    const inHeader = i % 2 === 0;
    for (let j = 0, n = 1 + rng.int(4); j < n; j++) {
      const at = inHeader ? 8 + rng.int(headerEnd - 8) : headerEnd + rng.int(b.length - headerEnd);
      b[at] = rng.int(256);
    }
    let outcome: string;
    try {
      const rtm = loadSync(b, { name: FILE, maxBatch: 1 });
      try {
        rtm.run(x);
        outcome = 'answer';
      } finally {
        rtm.dispose();
      }
    } catch (e) {
      if (!(e instanceof LutnnError)) throw new Error(`case ${i}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
      assert.ok(e.message.startsWith(`${FILE}: `) || e.message.startsWith('lutnn.'), `case ${i}: ${e.message}`);
      outcome = e.constructor.name;
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
  t.diagnostic(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
  assert.ok((outcomes.get('FormatError') ?? 0) > 50, `outcomes ${JSON.stringify([...outcomes])}`);
});
