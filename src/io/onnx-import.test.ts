// ONNX import on hand-made protobufs: folding of shape computations, fusions (against onnxruntime on the same bytes), names, and every error the issue lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { noGrad } from '../autograd/engine.js';
import { FormatError, LutnnError } from '../errors.js';
import { GraphModel } from '../graph/model.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { externalReader } from './onnx-import-file.js';
import { OnnxUnsupportedError, importOnnx, type OnnxImportOptions } from './onnx-import.js';
import { attribute, encodeModel, OnnxDataType, tensorProto, valueInfo, type AttrValue, type Dim, type NodeProto, type TensorProto } from './onnx-proto.js';

// ---------------------------------------------------------------- building ONNX models by hand

interface Spec {
  inputs: [string, number, Dim[]][];
  outputs: [string, number, Dim[]][];
  nodes: NodeProto[];
  inits?: TensorProto[];
  opset?: number;
  meta?: Record<string, string>;
}

function onnx(s: Spec): Uint8Array {
  return encodeModel({
    irVersion: 8,
    opsetImport: s.opset === 0 ? [] : [{ domain: '', version: s.opset ?? 17 }],
    producerName: 'test',
    producerVersion: '0',
    metadataProps: Object.entries(s.meta ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'g',
      node: s.nodes,
      initializer: s.inits ?? [],
      input: s.inputs.map(([n, t, d]) => valueInfo(n, t as 1, d)),
      output: s.outputs.map(([n, t, d]) => valueInfo(n, t as 1, d)),
    },
  });
}

let counter = 0;
function node(op: string, input: string[], output: string[], attrs: Record<string, AttrValue> = {}, name = `${op}_${counter++}`): NodeProto {
  return { name, opType: op, input, output, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) };
}

const F = OnnxDataType.FLOAT;
const I64 = OnnxDataType.INT64;
const f32 = (name: string, dims: number[], data: ArrayLike<number>): TensorProto => tensorProto(name, F, dims, Float32Array.from(data));
const i64 = (name: string, values: number[], dims: number[] = [values.length]): TensorProto => tensorProto(name, I64, dims, values);
const scalar = (name: string, v: number): TensorProto => f32(name, [], [v]);
const rnd = (n: number, seed: number): Float32Array => randn([n], 0.5, new Rng(seed)).f32;

function imp(bytes: Uint8Array, opts: OnnxImportOptions = {}): { model: GraphModel; r: ReturnType<typeof importOnnx> } {
  const r = importOnnx(bytes, { file: 't.onnx', ...opts });
  return { model: GraphModel.create(r.graph, r.weights).eval(), r };
}

/** The model's first output in onnxruntime and in lutnn (imported) for float input x; max relative difference. */
async function againstOrt(bytes: Uint8Array, x: Tensor, opts: OnnxImportOptions = {}): Promise<{ rel: number; r: ReturnType<typeof importOnnx>; model: GraphModel }> {
  const { model, r } = imp(bytes, opts);
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await s.run({ [r.inputs[0].onnxName]: new ort.Tensor('float32', x.f32, x.shape) });
  const want = out[r.outputs[0].onnxName].data as Float32Array;
  const got = noGrad(() => model.forward(x)).f32;
  assert.equal(got.length, want.length);
  let d = 0;
  let m = 1e-12;
  for (let i = 0; i < want.length; i++) {
    d = Math.max(d, Math.abs(got[i] - want[i]));
    m = Math.max(m, Math.abs(want[i]));
  }
  return { rel: d / m, r, model };
}

/** Asserts `f` throws a FormatError whose message matches `re`. */
function formatError(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: Error) => {
    assert.ok(e instanceof FormatError, `expected a FormatError, got ${e.constructor.name}: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

/** conv → relu → x.view(x.size(0), -1) as torch exports it → Gemm; input [N, 1, 6, 6]. */
function smallCnn(): Uint8Array {
  return onnx({
    inputs: [['x', F, ['batch', 1, 6, 6]]],
    outputs: [['y', F, ['batch', 3]]],
    inits: [f32('conv.weight', [2, 1, 3, 3], rnd(18, 1)), f32('conv.bias', [2], [0.1, -0.2]), f32('fc.weight', [3, 72], rnd(216, 2)), f32('fc.bias', [3], [0, 1, 2]), i64('zero', [0], []), i64('axes0', [0]), i64('minus1', [-1])],
    nodes: [
      node('Conv', ['x', 'conv.weight', 'conv.bias'], ['c'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }, '/conv/Conv'),
      node('Relu', ['c'], ['r'], {}, '/Relu'),
      node('Shape', ['r'], ['s']),
      node('Gather', ['s', 'zero'], ['n'], { axis: 0 }),
      node('Unsqueeze', ['n', 'axes0'], ['n1']),
      node('Concat', ['n1', 'minus1'], ['target'], { axis: 0 }),
      node('Reshape', ['r', 'target'], ['flat'], {}, '/Reshape'),
      node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['y'], { transB: 1 }, '/fc/Gemm'),
    ],
  });
}

// ---------------------------------------------------------------- mapping and folding

test('a small CNN: x.view(x.size(0), -1) folds for the symbolic batch; weights keep their ONNX names; outputs as onnxruntime', async () => {
  const x = randn([3, 1, 6, 6], 1, new Rng(3));
  const { rel, r, model } = await againstOrt(smallCnn(), x);
  assert.ok(rel < 1e-6, `relative difference ${rel}`);
  assert.deepEqual(r.ops, { Conv: 1, Relu: 1, Reshape: 1, Linear: 1 });
  assert.equal(r.folded, 4); // Shape, Gather, Unsqueeze, Concat
  assert.deepEqual(model.graph.nodes.map((n) => n.name), ['conv', 'Relu', 'Reshape', 'fc']);
  assert.deepEqual(model.graph.nodes.find((n) => n.op === 'Reshape')!.attrs.shape, [0, -1]);
  assert.deepEqual(model.namedWeights().map(([k]) => k), ['conv.weight', 'conv.bias', 'fc.weight', 'fc.bias']);
  assert.deepEqual(r.inputs, [{ name: 'x', onnxName: 'x', dtype: 'float32', shape: ['N', 1, 6, 6] }]);
  assert.deepEqual(r.outputs.map((o) => [o.onnxName, o.shape]), [['y', ['N', 3]]]);
  // Another batch size runs too: the batch is symbolic.
  assert.deepEqual([...noGrad(() => model.forward(randn([5, 1, 6, 6], 1, new Rng(4)))).shape], [5, 3]);
});

test('a file exported with a fixed batch of 1: its Reshape target [1, 72] copies the batch', async () => {
  const bytes = onnx({
    inputs: [['x', F, [1, 8, 9]]],
    outputs: [['y', F, [1, 72]]],
    inits: [i64('target', [1, 72])],
    nodes: [node('Reshape', ['x', 'target'], ['y'])],
  });
  const { model, r } = imp(bytes);
  assert.deepEqual(r.inputs[0].shape, ['N', 8, 9]);
  assert.deepEqual(model.graph.nodes[0].attrs.shape, [0, 72]);
  const x = randn([4, 8, 9], 1, new Rng(5));
  assert.deepEqual(Array.from(noGrad(() => model.forward(x)).f32), Array.from(x.f32));
});

test('Gemm with transB 0, alpha and beta; MatMul by a 2-D constant + Add becomes one Linear; MatMul of two activations stays', async () => {
  const bytes = onnx({
    inputs: [['x', F, ['N', 4, 6]]],
    outputs: [['y', F, ['N', 4, 4]]],
    inits: [f32('w1', [6, 5], rnd(30, 6)), f32('b1', [5], rnd(5, 7)), f32('w2', [5, 3], rnd(15, 8)), f32('b2', [3], rnd(3, 9)), i64('shape2', [-1, 5]), i64('shape3', [-1, 4, 3])],
    nodes: [
      node('MatMul', ['x', 'w1'], ['m1'], {}, '/l1/MatMul'),
      node('Add', ['b1', 'm1'], ['h'], {}, '/l1/Add'),
      node('Reshape', ['h', 'shape2'], ['h2']),
      node('Gemm', ['h2', 'w2', 'b2'], ['g'], { alpha: { float: 0.5 }, beta: { float: 2 } }, '/l2/Gemm'),
      node('Reshape', ['g', 'shape3'], ['g3']),
      node('Transpose', ['g3'], ['t'], { perm: [0, 2, 1] }),
      node('MatMul', ['g3', 't'], ['y'], {}, '/attn/MatMul'),
    ],
  });
  const { rel, r } = await againstOrt(bytes, randn([2, 4, 6], 1, new Rng(10)));
  assert.ok(rel < 1e-6, `relative difference ${rel}`);
  assert.equal(r.fused.Linear, 1);
  assert.deepEqual(r.ops, { Linear: 2, Reshape: 2, Transpose: 1, MatMul: 1 });
});

// ---------------------------------------------------------------- fusions

/** A decomposed LayerNorm over the last dim as older exporters write it (variance by Mul(d, d), γ and β commuted). */
function decomposedLayerNorm(): { nodes: NodeProto[]; inits: TensorProto[] } {
  return {
    inits: [scalar('eps', 1e-5), f32('gamma', [8], rnd(8, 11)), f32('beta', [8], rnd(8, 12))],
    nodes: [
      node('ReduceMean', ['x'], ['m'], { axes: [-1] }, '/ln/ReduceMean'),
      node('Sub', ['x', 'm'], ['d'], {}, '/ln/Sub'),
      node('Mul', ['d', 'd'], ['d2'], {}, '/ln/Mul_sq'),
      node('ReduceMean', ['d2'], ['v'], { axes: [-1] }, '/ln/ReduceMean_1'),
      node('Add', ['v', 'eps'], ['ve'], {}, '/ln/Add'),
      node('Sqrt', ['ve'], ['s'], {}, '/ln/Sqrt'),
      node('Div', ['d', 's'], ['n'], {}, '/ln/Div'),
      node('Mul', ['gamma', 'n'], ['ng'], {}, '/ln/Mul'),
      node('Add', ['ng', 'beta'], ['y'], {}, '/ln/Add_1'),
    ],
  };
}

test('fusion: a decomposed LayerNorm becomes one LayerNorm node (opset 13 keeps it decomposed otherwise)', async () => {
  const ln = decomposedLayerNorm();
  const bytes = onnx({ opset: 13, inputs: [['x', F, ['N', 3, 8]]], outputs: [['y', F, ['N', 3, 8]]], ...ln });
  const { rel, r, model } = await againstOrt(bytes, randn([2, 3, 8], 2, new Rng(13)));
  assert.ok(rel < 1e-5, `relative difference ${rel}`);
  assert.deepEqual(r.ops, { LayerNorm: 1 });
  assert.equal(r.fused.LayerNorm, 1);
  assert.equal(model.graph.nodes[0].name, 'ln');
  assert.equal(model.graph.nodes[0].attrs.eps, Math.fround(1e-5));
});

/** GELU head/tail variants: erf with Mul by 1/√2 and 0.5 applied first; tanh with Pow(x, 3). */
function geluNodes(form: 'erf' | 'tanh' | 'near-miss'): { nodes: NodeProto[]; inits: TensorProto[] } {
  if (form === 'tanh') {
    return {
      inits: [scalar('three', 3), scalar('c', 0.044715), scalar('k', Math.sqrt(2 / Math.PI)), scalar('one', 1), scalar('half', 0.5)],
      nodes: [
        node('Pow', ['x', 'three'], ['x3']),
        node('Mul', ['c', 'x3'], ['cx3']),
        node('Add', ['x', 'cx3'], ['u']),
        node('Mul', ['u', 'k'], ['ku']),
        node('Tanh', ['ku'], ['t'], {}, '/act/Tanh'),
        node('Add', ['one', 't'], ['t1']),
        node('Mul', ['x', 'half'], ['hx']),
        node('Mul', ['hx', 't1'], ['y']),
      ],
    };
  }
  return {
    inits: [scalar('r', form === 'erf' ? Math.SQRT1_2 : 0.66), scalar('one', 1), scalar('half', 0.5)],
    nodes: [
      node('Mul', ['x', 'r'], ['a']),
      node('Erf', ['a'], ['e'], {}, '/act/Erf'),
      node('Add', ['e', 'one'], ['t1']),
      node('Mul', ['half', 'x'], ['hx']),
      node('Mul', ['t1', 'hx'], ['y']),
    ],
  };
}

test('fusion: GELU in its erf and tanh forms becomes Gelu; a near miss (1/√2 off) is left alone and Erf is reported', async () => {
  for (const form of ['erf', 'tanh'] as const) {
    const bytes = onnx({ opset: 13, inputs: [['x', F, ['N', 10]]], outputs: [['y', F, ['N', 10]]], ...geluNodes(form) });
    const { rel, r, model } = await againstOrt(bytes, randn([3, 10], 2, new Rng(14)));
    assert.ok(rel < 1e-5, `${form}: relative difference ${rel}`);
    assert.deepEqual(r.ops, { Gelu: 1 }, form);
    assert.equal(model.graph.nodes[0].attrs.approximate, form === 'erf' ? 'none' : 'tanh');
  }
  const near = onnx({ opset: 13, inputs: [['x', F, ['N', 10]]], outputs: [['y', F, ['N', 10]]], ...geluNodes('near-miss') });
  assert.throws(() => importOnnx(near, { file: 'near.onnx' }), (e: Error) => e instanceof OnnxUnsupportedError && /^near\.onnx: 1 unsupported op type: Erf ×1 \(first: '\/act\/Erf'\)$/.test(e.message));
});

test('fusion: HardSigmoid(1/6, 1/2)·x of opset 13 becomes HardSwish; Pow 2 and Neg map to Mul', async () => {
  const bytes = onnx({
    opset: 13,
    inputs: [['x', F, ['N', 12]]],
    outputs: [['y', F, ['N', 12]]],
    inits: [scalar('two', 2)],
    nodes: [
      node('HardSigmoid', ['x'], ['h'], { alpha: { float: 1 / 6 }, beta: { float: 0.5 } }),
      node('Mul', ['x', 'h'], ['hs']),
      node('Pow', ['hs', 'two'], ['p']),
      node('Neg', ['p'], ['y']),
    ],
  });
  const { rel, r } = await againstOrt(bytes, randn([3, 12], 3, new Rng(15)));
  assert.ok(rel < 1e-6, `relative difference ${rel}`);
  assert.deepEqual(r.ops, { HardSwish: 1, Mul: 2 });
});

// ---------------------------------------------------------------- names

test('names: control characters sanitised, duplicate node names made unique, an output that is an input gets an Identity', () => {
  const bytes = onnx({
    inputs: [['in\u0001put', F, ['N', 2]]],
    outputs: [['a', F, ['N', 2]], ['in\u0001put', F, ['N', 2]]],
    inits: [f32('w\u0007', [2], [1, 2])],
    nodes: [node('Mul', ['in\u0001put', 'w\u0007'], ['m'], {}, 'same'), node('Relu', ['m'], ['a'], {}, 'same')],
  });
  const { model, r } = imp(bytes);
  assert.deepEqual(model.graph.inputs.map((i) => i.name), ['in_put']);
  assert.deepEqual(model.graph.nodes.map((n) => n.name), ['same', 'same_1', 'in_put/output']);
  assert.deepEqual(model.namedWeights().map(([k]) => k), ['w_']);
  assert.deepEqual(r.outputs.map((o) => o.onnxName), ['a', 'in\u0001put']);
});

// ---------------------------------------------------------------- errors

test('unsupported ops: one error listing every unsupported op type with its count, first node and reason', () => {
  const bytes = onnx({
    inputs: [['x', F, ['N', 4, 5]]],
    outputs: [['y', F, ['N', 4, 5]], ['z', F, ['N', 2, 5]]],
    inits: [f32('w1d', [2, 4, 1], rnd(8, 1))],
    nodes: [
      node('Sin', ['x'], ['s1'], {}, 'first_sin'),
      node('Relu', ['s1'], ['r']), // known: not listed, its input being unsupported
      node('Sin', ['r'], ['s2'], {}, 'second_sin'),
      node('Cos', ['s2'], ['y'], {}, 'the_cos'),
      node('Conv', ['x', 'w1d'], ['z'], { kernel_shape: [1] }, 'conv1d'),
      { ...node('Custom', ['x'], ['q'], {}, 'vendor_op'), domain: 'com.vendor' },
    ],
  });
  assert.throws(() => importOnnx(bytes, { file: 'm.onnx' }), (e: Error) => {
    assert.ok(e instanceof OnnxUnsupportedError && e instanceof LutnnError);
    assert.deepEqual(e.ops.map((o) => [o.op, o.count, o.firstNode]), [['Sin', 2, 'first_sin'], ['Cos', 1, 'the_cos'], ['Conv', 1, 'conv1d'], ['com.vendor.Custom', 1, 'vendor_op']]);
    assert.match(e.message, /^m\.onnx: 4 unsupported op types: Sin ×2 \(first: 'first_sin'\), Cos ×1 \(first: 'the_cos'\), Conv ×1 \(first: 'conv1d'; a 1-D convolution \(lutnn's Conv is 2-D\)\), com\.vendor\.Custom ×1 \(first: 'vendor_op'; domain 'com\.vendor'\)$/);
    return true;
  });
  const old = onnx({ opset: 11, inputs: [['x', F, ['N', 2]]], outputs: [['x', F, ['N', 2]]], nodes: [] });
  assert.throws(() => importOnnx(old, { file: 'old.onnx' }), /old\.onnx: 1 unsupported op type: opset 11 ×1 \(first: '\(model\)'; lutnn imports opsets 13\.\.21/);
  formatError(() => importOnnx(onnx({ opset: 0, inputs: [['x', F, ['N', 2]]], outputs: [['x', F, ['N', 2]]], nodes: [] }), { file: 'no.onnx' }), /^no\.onnx: no opset_import for the default ONNX domain$/);
});

test('malformed and truncated files are FormatErrors naming the file and the byte and field', () => {
  const good = smallCnn();
  formatError(() => importOnnx(new Uint8Array(0), { file: 'e.onnx' }), /^e\.onnx: empty file/);
  formatError(() => importOnnx(new TextEncoder().encode('hello, this is not protobuf'), { file: 'h.onnx' }), /^h\.onnx: malformed ONNX protobuf at byte \d+/);
  formatError(() => importOnnx(good.subarray(0, good.length - 7), { file: 'cut.onnx' }), /^cut\.onnx: malformed ONNX protobuf at byte \d+ in graph(\.[a-z]+(\[\d+\])?)*: /);
  formatError(() => importOnnx(Uint8Array.of(0x0b, 0x0c), { file: 'g.onnx' }), /wire type 3 \(group start\) does not occur in ONNX files/);
  formatError(() => importOnnx(Uint8Array.of(0x08, 0x07), { file: 'ng.onnx' }), /^ng\.onnx: no graph in the ONNX model/);
  // A length prefix claiming far more than the file holds.
  formatError(() => importOnnx(Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00), { file: 'big.onnx' }), /message of \d+ bytes runs past the end of its container/);
});

test('tensors: byte length against dims, overflowing dims, unsupported element types, external data paths', () => {
  const withInit = (t: TensorProto): Uint8Array =>
    onnx({ inputs: [['x', F, ['N', 3]]], outputs: [['y', F, ['N', 3]]], inits: [t], nodes: [node('Add', ['x', t.name], ['y'])] });
  formatError(() => importOnnx(withInit({ name: 'w', dims: [3], dataType: 1, rawData: new Uint8Array(10) }), { file: 'l.onnx' }), /^l\.onnx: initializer 'w': raw_data holds 10 bytes, dims \[3\] of float32 need 12$/);
  formatError(() => importOnnx(withInit({ name: 'w', dims: [2 ** 30, 2 ** 30, 2 ** 30], dataType: 1, rawData: new Uint8Array(4) }), { file: 'o.onnx' }), /initializer 'w': dims \[1073741824,1073741824,1073741824\] overflow/);
  formatError(() => importOnnx(withInit({ name: 'w', dims: [1e6, 1e6], dataType: 1, rawData: new Uint8Array(0) }), { file: 't.onnx' }), /initializer 'w': float_data holds 0 values, dims \[1000000,1000000\] need 1000000000000/);
  formatError(() => importOnnx(withInit({ name: 'w', dims: [-1], dataType: 1, rawData: new Uint8Array(0) }), { file: 'n.onnx' }), /dims \[-1\] hold an invalid dim -1/);
  formatError(() => importOnnx(withInit({ name: 's', dims: [3], dataType: 8 as 1, rawData: new Uint8Array(3) }), { file: 's.onnx' }), /initializer 's': element type STRING is not supported/);
  const ext = (location: string, length = 12): TensorProto =>
    ({ name: 'w', dims: [3], dataType: 1, dataLocation: 1, externalData: [{ key: 'location', value: location }, { key: 'length', value: String(length) }] }) as unknown as TensorProto;
  formatError(() => importOnnx(withInit(ext('w.bin')), { file: 'x.onnx' }), /initializer 'w': the tensor's data is in the external file 'w\.bin', which cannot be read here/);
  formatError(() => importOnnx(withInit(ext('w.bin', 16)), { file: 'x.onnx' }), /external data length 16 bytes, dims \[3\] of float32 need 12/);
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-onnx-ext-'));
  try {
    writeFileSync(join(dir, 'w.bin'), new Uint8Array(new Float32Array([1, 2, 3]).buffer));
    writeFileSync(join(dir, 'short.bin'), new Uint8Array(5));
    const reader = externalReader(join(dir, 'm.onnx'));
    const { model } = imp(withInit(ext('w.bin')), { external: reader });
    assert.deepEqual(Array.from(model.weight('w').f32), [1, 2, 3]);
    formatError(() => importOnnx(withInit(ext('../w.bin')), { file: 'x.onnx', external: reader }), /external data '\.\.\/w\.bin': the location must be a relative path inside the model's directory/);
    formatError(() => importOnnx(withInit(ext('/etc/passwd')), { file: 'x.onnx', external: reader }), /the location must be a relative path/);
    formatError(() => importOnnx(withInit(ext('short.bin')), { file: 'x.onnx', external: reader }), /external data 'short\.bin': 12 bytes at offset 0 run past its end \(5 bytes\)/);
    formatError(() => importOnnx(withInit(ext('none.bin')), { file: 'x.onnx', external: reader }), /external data 'none\.bin': cannot open it \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('graph structure: cycles, undefined inputs, values defined twice, symbolic dims without an input shape', () => {
  const io = { inputs: [['x', F, ['N', 2]]] as Spec['inputs'], outputs: [['y', F, ['N', 2]]] as Spec['outputs'] };
  formatError(() => importOnnx(onnx({ ...io, nodes: [node('Relu', ['b'], ['a'], {}, 'na'), node('Relu', ['a'], ['b'], {}, 'nb'), node('Relu', ['x'], ['y'])] }), { file: 'c.onnx' }), /^c\.onnx: the graph has a cycle through nodes 'na' \(Relu\), 'nb' \(Relu\)$/);
  formatError(() => importOnnx(onnx({ ...io, nodes: [node('Add', ['x', 'ghost'], ['y'], {}, 'adder')] }), { file: 'u.onnx' }), /^u\.onnx: node 'adder' \(Add\) reads 'ghost', which no graph input, initializer or node defines$/);
  formatError(() => importOnnx(onnx({ ...io, nodes: [node('Relu', ['x'], ['y'], {}, 'r1'), node('Relu', ['x'], ['y'], {}, 'r2')] }), { file: 'd.onnx' }), /value 'y' is the output of two nodes, 'r1' \(Relu\) and 'r2' \(Relu\)/);
  formatError(() => importOnnx(onnx({ ...io, nodes: [node('Relu', ['x'], ['x'], {}, 'self')] }), { file: 's.onnx' }), /node 'self' \(Relu\) redefines 'x'/);
  const sym = onnx({ inputs: [['x', F, ['N', 'seq', 4]], ['m', F, ['N', 'seq']]], outputs: [['y', F, ['N', 'seq', 4]]], nodes: [node('Relu', ['x'], ['y'])] });
  formatError(() => importOnnx(sym, { file: 'sym.onnx' }), /^sym\.onnx: graph input 'x': dim 1 is symbolic \('seq'\); give the input shape with --input-shape$/);
  const { r } = imp(sym, { inputShape: [7, 4] });
  assert.deepEqual(r.inputs.map((i) => i.shape), [['N', 7, 4], ['N', 7]]); // 'seq' of input 1 by name
  formatError(() => importOnnx(sym, { file: 'sym.onnx', inputShape: [7, 5] }), /graph input 'x': dim 2 is 4 in the file, --input-shape gives 5/);
  const conv = onnx({ inputs: [['x', F, ['N', 1, 4, 4]]], outputs: [['y', F, ['N', 1, 2, 2]]], inits: [f32('w', [1, 1, 3, 3], rnd(9, 3))], nodes: [node('Conv', ['x', 'w'], ['y'], { group: { float: 1 } }, 'cv')] });
  formatError(() => importOnnx(conv, { file: 'a.onnx' }), /^a\.onnx: node 'cv' \(Conv\): attribute 'group' is a float, expected int$/);
  // A Reshape that the records reject for this input shape: a FormatError naming the ONNX node.
  const bad = onnx({ ...io, inits: [i64('t', [3, -1, 5])], nodes: [node('Reshape', ['x', 't'], ['y'], {}, '/bad/Reshape')] });
  formatError(() => importOnnx(bad, { file: 'r.onnx' }), /^r\.onnx: node '\/bad\/Reshape' \(Reshape\): .*cannot infer/);
});

test('limits: folded constants are bounded by the file size, one by one and together; 20,000 equally named nodes import in linear time', () => {
  const io = { inputs: [['x', F, ['N', 2]]] as Spec['inputs'], outputs: [['y', F, ['N', 2]]] as Spec['outputs'] };
  const huge = onnx({ ...io, inits: [i64('shape', [2 ** 40])], nodes: [node('ConstantOfShape', ['shape'], ['z'], {}, 'zeros'), node('Add', ['x', 'z'], ['y'])] });
  formatError(() => importOnnx(huge, { file: 'h.onnx' }), /^h\.onnx: node 'zeros': a constant of shape \[1099511627776\] \(1099511627776 elements\) is larger than this file can justify \(4194304 elements\)$/);
  // Each value within the limit, but a chain of them would hold many: refused once they exceed four values' worth.
  const chain = [node('ConstantOfShape', ['shape'], ['c0'], {}, 'c0')];
  for (let k = 1; k <= 6; k++) chain.push(node('Neg', [`c${k - 1}`], [`c${k}`], {}, `neg${k}`));
  const many = onnx({ ...io, inits: [i64('shape', [2 ** 22])], nodes: [...chain, node('Add', ['x', 'c6'], ['y'])] });
  formatError(() => importOnnx(many, { file: 'm.onnx' }), /^m\.onnx: node 'neg4': the folded constants of this file hold more elements than it can justify/);
  const n = 20000;
  const nodes = Array.from({ length: n }, (_, k) => node('Relu', [k === 0 ? 'x' : `v${k - 1}`], [k === n - 1 ? 'y' : `v${k}`], {}, 'same'));
  const t0 = performance.now();
  const { r } = imp(onnx({ ...io, nodes }));
  const ms = performance.now() - t0;
  assert.equal(r.nodes, n);
  assert.ok(ms < 20000, `${n} nodes took ${ms.toFixed(0)} ms`);
});

test('masked_fill as torch exports it (Equal, Cast to bool, Where with −inf, Not, ReduceSum) matches onnxruntime', async () => {
  const bytes = onnx({
    inputs: [['scores', F, ['N', 4, 4]], ['mask', I64, ['N', 4]]],
    outputs: [['y', F, ['N', 4, 4]], ['pads', F, ['N', 1]]],
    inits: [i64('axes1', [1]), i64('zero', [0], []), scalar('ninf', -Infinity), i64('axes_last', [-1])],
    nodes: [
      node('Unsqueeze', ['mask', 'axes1'], ['m3']),
      node('Equal', ['m3', 'zero'], ['is_pad']),
      node('Where', ['is_pad', 'ninf', 'scores'], ['filled']),
      node('Softmax', ['filled'], ['y'], { axis: -1 }),
      node('Cast', ['mask'], ['mb'], { to: 9 }),
      node('Not', ['mb'], ['nb']),
      node('Cast', ['nb'], ['nf'], { to: 1 }),
      node('ReduceSum', ['nf', 'axes_last'], ['pads'], { keepdims: 1 }),
    ],
  });
  const { model, r } = imp(bytes);
  assert.deepEqual(r.ops, { Unsqueeze: 1, Equal: 4, Where: 1, Softmax: 1, Cast: 1, ReduceMean: 1, Mul: 1 });
  const x = randn([3, 4, 4], 2, new Rng(21));
  const m = [1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0];
  const [y, pads] = noGrad(() => model.run([x, new Tensor(Int32Array.from(m), [3, 4])]));
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const out = await s.run({ scores: new ort.Tensor('float32', x.f32, [3, 4, 4]), mask: new ort.Tensor('int64', BigInt64Array.from(m, BigInt), [3, 4]) });
  const want = out.y.data as Float32Array;
  want.forEach((v, i) => assert.ok(Math.abs(v - y.f32[i]) <= 1e-6, `y[${i}]: ${y.f32[i]} vs ${v}`));
  assert.deepEqual(Array.from(pads.f32), Array.from(out.pads.data as Float32Array));
  assert.deepEqual(Array.from(pads.f32), [2, 0, 2]);
});
