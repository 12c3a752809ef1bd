// Tests of the graph's JSON form: a round trip keeps the graph (and its outputs), and malformed JSON from a file is a
// FormatError naming the file and the place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FormatError } from '../errors.js';
import { Rng } from '../tensor/rng.js';
import { randn } from '../tensor/create.js';
import { Tensor } from '../tensor/tensor.js';
import { analyzeGraph } from './analyze.js';
import { GraphBuilder } from './builder.js';
import { GraphModel } from './model.js';
import { GRAPH_LIMITS, graphFromJson, graphToJson } from './serialize.js';
import type { TensorInfo } from './types.js';

const FILE = 'models/bad.safetensors';

/** A small model touching attributes of every kind: ints, lists, floats, null, bools, strings, a trained data-slot weight. */
function sample(): { model: GraphModel; x: Tensor } {
  const rng = new Rng(3);
  const b = new GraphBuilder();
  const x = b.input('image', 'float32', ['N', 2, 6, 6]);
  let h = b.op('Conv', [x, b.weight('conv.weight', randn([4, 2, 3, 3], 0.5, rng)), b.weight('conv.bias', randn([4], 0.1, rng))], { stride: [2, 2], padding: [1, 1] }, 'conv')[0];
  const bn = ['weight', 'bias', 'running_mean', 'running_var'].map((k) => b.weight(`bn.${k}`, k.endsWith('var') ? new Tensor(new Float32Array(4).fill(1), [4]) : randn([4], 0.1, rng)));
  const count = b.weight('bn.num_batches_tracked', new Tensor(Int32Array.of(0), []));
  h = b.op('BatchNorm', [h, ...bn, count], { momentum: null, eps: 1e-3 }, 'bn')[0];
  h = b.op('Clip', [h], { min: 0, max: null }, 'clip')[0];
  h = b.op('Gelu', [h], { approximate: 'tanh' }, 'gelu')[0];
  h = b.op('GlobalAveragePool', [h], { keepdims: false }, 'pool')[0];
  h = b.op('Add', [h, b.weight('pos', randn([4], 0.1, rng).requireGrad())], {}, 'addpos')[0];
  const [p, q] = b.op('Split', [h], { axis: 1, split: [1, 3] }, 'split');
  b.output(p);
  b.output(b.op('Linear', [q, b.weight('fc.weight', randn([5, 3], 0.5, rng))], {}, 'fc')[0]);
  const { graph, weights } = b.build();
  return { model: GraphModel.create(graph, weights).eval(), x: randn([2, 2, 6, 6], 1, rng) };
}

function bad(json: unknown, ...patterns: RegExp[]): void {
  assert.throws(() => graphFromJson(json, FILE), (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    assert.ok(e.message.startsWith(`${FILE}: graph`), e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** A valid graph JSON to break one field of. */
function good(): Record<string, unknown> {
  return {
    inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4] }],
    nodes: [{ name: 'relu', op: 'Relu', inputs: ['x'], outputs: ['y'], attrs: {} }],
    outputs: ['y'],
  };
}

test('serialize: graphToJson → JSON text → graphFromJson keeps the graph, its analysis and its outputs', () => {
  const { model, x } = sample();
  const json = graphToJson(model.graph);
  const text = JSON.stringify(json);
  const back = graphFromJson(JSON.parse(text), 'round-trip.json');
  assert.deepEqual(back, JSON.parse(JSON.stringify(model.graph)));
  assert.deepEqual(back.params, ['pos']);
  // Written again, the same text.
  assert.equal(JSON.stringify(graphToJson(back)), text);
  const infos = new Map<string, TensorInfo>(model.namedWeights().map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype }]));
  const info = analyzeGraph(back, infos);
  assert.deepEqual([...info.values], [...model.info.values]);
  assert.deepEqual([...info.roles], [...model.info.roles]);
  // The same weights on the read graph give the same outputs, bit for bit.
  const again = GraphModel.create(back, new Map(model.namedWeights())).eval();
  const [a0, a1] = model.run([x]);
  const [b0, b1] = again.run([x]);
  assert.deepEqual([...b0.data], [...a0.data]);
  assert.deepEqual([...b1.data], [...a1.data]);
  assert.deepEqual([...again.namedParameters().map(([k]) => k)], [...model.namedParameters().map(([k]) => k)]);
});

test('serialize: graphToJson copies (editing the JSON leaves the graph alone) and omits empty params', () => {
  const { model } = sample();
  const json = graphToJson(model.graph);
  (json.nodes[0].attrs!.stride as number[])[0] = 99;
  json.nodes[0].inputs[0] = 'other';
  assert.deepEqual(model.graph.nodes[0].attrs.stride, [2, 2]);
  assert.equal(model.graph.nodes[0].inputs[0], 'image');
  assert.ok(!('params' in graphToJson({ ...model.graph, params: [] })));
  assert.deepEqual(graphFromJson(good(), FILE), { inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4] }], nodes: [{ name: 'relu', op: 'Relu', inputs: ['x'], outputs: ['y'], attrs: {} }], outputs: ['y'] });
  // attrs may be left out of a node.
  const noAttrs = good();
  delete (noAttrs.nodes as Record<string, unknown>[])[0].attrs;
  assert.deepEqual(graphFromJson(noAttrs, FILE).nodes[0].attrs, {});
});

test('serialize: wrong types are FormatErrors naming the file and the field', () => {
  const edit = (f: (g: Record<string, any>) => void): Record<string, unknown> => {
    const g = good();
    f(g);
    return g;
  };
  bad(null, /must be an object \{ inputs, nodes, outputs \}/);
  bad([good()], /must be an object/);
  bad(edit((g) => (g.inputs = 'x')), /graph\.inputs must be an array/);
  bad(edit((g) => (g.inputs[0] = 7)), /graph\.inputs\[0\] must be an object/);
  bad(edit((g) => (g.inputs[0].dtype = 'float64')), /graph\.inputs\[0\]\.dtype must be one of float32, int32, int8, uint8, got "float64"/);
  bad(edit((g) => (g.inputs[0].name = 3)), /graph\.inputs\[0\]\.name must be a non-empty string/);
  bad(edit((g) => (g.nodes = {})), /graph\.nodes must be an array/);
  bad(edit((g) => (g.nodes[0] = 'relu')), /graph\.nodes\[0\] must be an object/);
  bad(edit((g) => (g.nodes[0].inputs = 'x')), /graph\.nodes\[0\]\.inputs must be an array/);
  bad(edit((g) => (g.nodes[0].inputs = [1])), /graph\.nodes\[0\]\.inputs\[0\] must be a string/);
  bad(edit((g) => (g.nodes[0].outputs = [''])), /graph\.nodes\[0\]\.outputs\[0\] must be a non-empty string/);
  bad(edit((g) => (g.nodes[0].attrs = [1])), /graph\.nodes\[0\]\.attrs must be an object/);
  bad(edit((g) => (g.nodes[0].attrs = { axis: { v: 1 } })), /graph\.nodes\[0\]\.attrs\.axis must be a number, boolean, string, null or a list of numbers/);
  bad(edit((g) => (g.nodes[0].attrs = { perm: [1, '0'] })), /attrs\.perm must be a number/);
  bad(edit((g) => (g.nodes[0].attrs = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])))), /attrs has 65 keys, at most 64 allowed/);
  bad(edit((g) => (g.nodes[0].attrs = { shape: new Array(4097).fill(1) })), /attrs\.shape has 4097 entries, at most 4096 allowed/);
  bad(edit((g) => (g.outputs = [null])), /graph\.outputs\[0\] must be a non-empty string/);
  bad(edit((g) => (g.params = 'pos')), /graph\.params must be an array/);
  bad(edit((g) => (g.params = [''])), /graph\.params\[0\] must be a non-empty string/);
});

test('serialize: unknown op names are refused with the node and the known ops', () => {
  const g = good();
  (g.nodes as Record<string, unknown>[])[0].op = 'Conv3D';
  bad(g, /graph\.nodes\[0\] \('relu'\): unknown op "Conv3D"/, /known: Conv, BatchNorm/);
  (g.nodes as Record<string, unknown>[])[0].op = 'toString';
  bad(g, /unknown op "toString"/);
  (g.nodes as Record<string, unknown>[])[0].op = 42;
  bad(g, /unknown op 42/);
});

test('serialize: limits: too many nodes, names too long, too many dims', () => {
  const many = good();
  many.nodes = new Array(GRAPH_LIMITS.nodes + 1).fill(null);
  bad(many, /graph\.nodes has 50001 entries, at most 50000 allowed/);
  const long = 'n'.repeat(GRAPH_LIMITS.nameLength + 1);
  const g1 = good();
  (g1.nodes as Record<string, unknown>[])[0].name = long;
  bad(g1, /graph\.nodes\[0\]\.name must be a non-empty string of at most 1024 characters, got 1025 characters/);
  const g2 = good();
  (g2.nodes as Record<string, unknown>[])[0].inputs = [long];
  bad(g2, /inputs\[0\] must be a string of at most 1024 characters, got 1025 characters/);
  const g3 = good();
  (g3.inputs as Record<string, unknown>[])[0].shape = new Array(17).fill(1);
  bad(g3, /graph\.inputs\[0\]\.shape has 17 entries, at most 16 allowed/);
  const g4 = good();
  g4.inputs = new Array(GRAPH_LIMITS.graphIO + 1).fill(null);
  bad(g4, /graph\.inputs has 1025 entries, at most 1024 allowed/);
  const g5 = good();
  (g5.nodes as Record<string, unknown>[])[0].inputs = new Array(GRAPH_LIMITS.inputsPerNode + 1).fill('x');
  bad(g5, /graph\.nodes\[0\]\.inputs has 4097 entries/);
});

test('serialize: bad dims of graph inputs', () => {
  for (const d of [-1, 1.5, 'M', '0*N', 'N*2', '2N', '', null, 1e300, '12345678901*N']) {
    const g = good();
    (g.inputs as Record<string, unknown>[])[0].shape = ['N', d];
    bad(g, /graph\.inputs\[0\]\.shape\[1\] must be a non-negative integer or a batch dim like "N"/);
  }
  const ok = good();
  (ok.inputs as Record<string, unknown>[])[0].shape = ['4*N', 0, 7];
  assert.deepEqual(graphFromJson(ok, FILE).inputs[0].shape, ['4*N', 0, 7]);
});

test('serialize: structure is checked here, meaning by analyzeGraph (with the file in the message)', () => {
  const g = good();
  (g.nodes as Record<string, unknown>[])[0].inputs = ['missing'];
  const graph = graphFromJson(g, FILE);
  assert.throws(() => analyzeGraph(graph, new Map(), { file: FILE }), (e: unknown) => e instanceof FormatError && e.message === `${FILE}: graph: node 'relu' (Relu) reads 'missing', which no input, initializer or node defines`);
});
