// Tests of graph validation (analyzeGraph): every error names the node and the thing, topological order, symbolic batch
// dims through shape ops, initializer roles, unused initializers, size limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, DTypeError, FormatError, ShapeError } from '../errors.js';
import { analyzeGraph, MAX_VALUE_ELEMENTS } from './analyze.js';
import type { Dim } from './dims.js';
import type { Attrs, Graph, GraphNode, IrDType, OpType, TensorInfo } from './types.js';

const f32 = (...shape: number[]): TensorInfo => ({ shape, dtype: 'float32' });
const i32 = (...shape: number[]): TensorInfo => ({ shape, dtype: 'int32' });

function node(name: string, op: string, inputs: string[], outputs: string[] = [name], attrs: Attrs = {}): GraphNode {
  return { name, op: op as OpType, inputs, outputs, attrs };
}

/** A graph over one input x (float32 [N, 3, 8, 8] unless given). */
function graph(nodes: GraphNode[], outputs: string[], x: { shape?: Dim[]; dtype?: IrDType; more?: Graph['inputs'] } = {}): Graph {
  return { inputs: [{ name: 'x', dtype: x.dtype ?? 'float32', shape: x.shape ?? ['N', 3, 8, 8] }, ...(x.more ?? [])], nodes, outputs };
}

const convInits = (): Map<string, TensorInfo> => new Map([['conv.weight', f32(4, 3, 3, 3)], ['conv.bias', f32(4)]]);

/** Throws an error of class `cls` whose message matches every pattern. */
function throwsWith(fn: () => unknown, cls: new (...a: never[]) => Error, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

test('analyze: a valid conv graph gives shapes, producers, consumers and roles', () => {
  const g = graph([node('conv', 'Conv', ['x', 'conv.weight', 'conv.bias'], ['c'], { padding: [1, 1] }), node('relu', 'Relu', ['c'], ['y'])], ['y']);
  const info = analyzeGraph(g, convInits());
  assert.deepEqual(info.values.get('c'), { shape: ['N', 4, 8, 8], dtype: 'float32' });
  assert.deepEqual(info.values.get('y')!.shape, ['N', 4, 8, 8]);
  assert.equal(info.producer.get('y')!.node.name, 'relu');
  assert.deepEqual(info.consumers.get('x')!.map((n) => n.node.name), ['conv']);
  assert.deepEqual([...info.roles], [['conv.weight', 'param'], ['conv.bias', 'param']]);
  // Attributes come back checked, with their defaults filled in.
  assert.deepEqual(info.nodes[0].attrs, { stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 });
  assert.deepEqual(info.unused, []);
});

test('analyze: unknown op, unknown attribute, missing attribute, attribute out of range', () => {
  throwsWith(() => analyzeGraph(graph([node('n1', 'Frobnicate', ['x'], ['y'])], ['y']), new Map()), ArgumentError, /node 'n1'/, /unknown op 'Frobnicate'/);
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], ['y'], { alpha: 1 })], ['y']), new Map()), ArgumentError, /node 'r' \(Relu\)/, /unknown attribute 'alpha'/);
  throwsWith(() => analyzeGraph(graph([node('t', 'Transpose', ['x'], ['y'])], ['y']), new Map()), ArgumentError, /node 't' \(Transpose\)/, /attribute 'perm' is required/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'], { stride: [0, 1] })], ['y']), convInits()), ArgumentError, /node 'conv' \(Conv\)/, /'stride\[0\]' = 0 is out of range 1\.\.inf/);
  throwsWith(() => analyzeGraph(graph([node('drop', 'Dropout', ['x'], ['y'], { p: 1 })], ['y']), new Map()), ArgumentError, /node 'drop' \(Dropout\)/, /'p' = 1 is out of range \[0, 1\)/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'], { padding: [1] })], ['y']), convInits()), ArgumentError, /'padding' must have 2 entries/);
  throwsWith(() => analyzeGraph(graph([node('g', 'Gelu', ['x'], ['y'], { approximate: 'fast' })], ['y']), new Map()), ArgumentError, /'approximate' must be one of none, tanh, got 'fast'/);
  throwsWith(() => analyzeGraph(graph([node('s', 'Softmax', ['x'], ['y'], { axis: 1.5 })], ['y']), new Map()), ArgumentError, /'axis' must be an integer/);
});

test('analyze: wrong input count, required input empty, wrong output count', () => {
  throwsWith(() => analyzeGraph(graph([node('add', 'Add', ['x'], ['y'])], ['y']), new Map()), ArgumentError, /node 'add' \(Add\)/, /takes 2 inputs \(a, b\), got 1/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight', 'conv.bias', 'x'], ['y'])], ['y']), convInits()), ArgumentError, /node 'conv'/, /takes 2\.\.3 inputs/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', '', 'conv.bias'], ['y'])], ['y']), convInits()), ArgumentError, /node 'conv' \(Conv\)/, /input 1 \(weight\) is required but empty/);
  throwsWith(() => analyzeGraph(graph([node('cat', 'Concat', [], ['y'], { axis: 1 })], ['y']), new Map()), ArgumentError, /node 'cat'/, /at least 1 inputs/);
  throwsWith(() => analyzeGraph(graph([node('split', 'Split', ['x'], ['a'], { axis: 1, split: [1, 2] })], ['a']), new Map()), ArgumentError, /node 'split' \(Split\)/, /has 2 outputs, got 1/);
});

test('analyze: undefined values, values defined twice, nameless nodes, graph outputs', () => {
  throwsWith(() => analyzeGraph(graph([node('relu', 'Relu', ['nope'], ['y'])], ['y']), new Map()), ArgumentError, /node 'relu' \(Relu\) reads 'nope', which no input, initializer or node defines/);
  throwsWith(() => analyzeGraph(graph([node('a', 'Relu', ['x'], ['y']), node('b', 'Tanh', ['x'], ['y'])], ['y']), new Map()), ArgumentError, /value 'y' is defined twice \(by node 'a' \(Relu\) and by node 'b' \(Tanh\)\)/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['conv.bias'])], ['conv.bias']), convInits()), ArgumentError, /value 'conv.bias' is defined twice \(by initializer 'conv.bias' and by node 'conv' \(Conv\)\)/);
  throwsWith(() => analyzeGraph(graph([node('relu', 'Relu', ['x'], ['x'])], ['x']), new Map()), ArgumentError, /value 'x' is defined twice \(by graph input 'x' and by node 'relu' \(Relu\)\)/);
  throwsWith(() => analyzeGraph(graph([], ['x']), new Map([['x', f32(3)]])), ArgumentError, /value 'x' is defined twice \(by initializer 'x' and by graph input 'x'\)/);
  throwsWith(() => analyzeGraph(graph([node('a', 'Relu', ['x'], ['y']), node('a', 'Tanh', ['y'], ['z'])], ['z']), new Map()), ArgumentError, /two nodes are named 'a'/);
  throwsWith(() => analyzeGraph(graph([node('', 'Relu', ['x'], ['y'])], ['y']), new Map()), ArgumentError, /node 0 has no name/);
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], [''])], ['y']), new Map()), ArgumentError, /node 'r' \(Relu\) defines a value with an empty name/);
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], ['y'])], ['z']), new Map()), ArgumentError, /output 'z' is not defined/);
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], ['y'])], ['y', 'y']), new Map()), ArgumentError, /output 'y' is listed twice/);
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], ['y'])], []), new Map()), ArgumentError, /no outputs/);
  throwsWith(() => analyzeGraph({ inputs: [], nodes: [], outputs: ['w'] }, new Map([['w', f32(2)]])), ArgumentError, /no inputs/);
});

test('analyze: a cycle is named, with its nodes', () => {
  const g = graph([node('a', 'Add', ['x', 'b_out'], ['a_out']), node('b', 'Relu', ['a_out'], ['b_out']), node('c', 'Relu', ['x'], ['y'])], ['y']);
  throwsWith(() => analyzeGraph(g, new Map()), ArgumentError, /cycle among nodes 'a', 'b'$/);
  throwsWith(() => analyzeGraph(graph([node('self', 'Relu', ['y'], ['y'])], ['y']), new Map()), ArgumentError, /cycle among nodes 'self'/);
});

test('analyze: shape mismatches name the node and both shapes', () => {
  const inits = new Map([['conv.weight', f32(4, 5, 3, 3)]]);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'])], ['y']), inits), ShapeError, /node 'conv' \(Conv\)/, /weight \[4,5,3,3\] takes 5 channels per group, x \[N,3,8,8\] with groups 1 gives 3/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'], { groups: 2 })], ['y']), convInits()), ShapeError, /channels 3 in, 4 out must both be divisible by groups 2/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight', 'b'], ['y'])], ['y']), new Map([...convInits(), ['b', f32(5)]])), ShapeError, /bias must be \[4\], got \[5\]/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'])], ['y'], { shape: ['N', 3, 2, 2] }), convInits()), ShapeError, /input height 2 padded by 0 is smaller than the window 3/);
  throwsWith(() => analyzeGraph(graph([node('mm', 'MatMul', ['x', 'w'], ['y'])], ['y'], { shape: ['N', 5, 4] }), new Map([['w', f32(3, 6)]])), ShapeError, /node 'mm' \(MatMul\)/, /inner dims 4 vs 3 for \[N,5,4\] × \[3,6\]/);
  throwsWith(() => analyzeGraph(graph([node('add', 'Add', ['x', 'b'], ['y'])], ['y'], { shape: ['N', 3, 4] }), new Map([['b', f32(2, 4)]])), ShapeError, /node 'add' \(Add\)/, /shapes \[N,3,4\] and \[2,4\] do not broadcast \(dim 1: 3 vs 2\)/);
  throwsWith(() => analyzeGraph(graph([node('lin', 'Linear', ['x', 'w'], ['y'])], ['y'], { shape: ['N', 7] }), new Map([['w', f32(3, 6)]])), ShapeError, /node 'lin' \(Linear\)/, /input last dim 7 vs in features 6/);
  throwsWith(() => analyzeGraph(graph([node('bn', 'BatchNorm', ['x', '', '', 'm', 'v'], ['y'])], ['y']), new Map([['m', f32(3)], ['v', f32(4)]])), ShapeError, /node 'bn' \(BatchNorm\)/, /running_var must be \[3\], got \[4\]/);
  // A batch dim meets a fixed one: N only matches itself (or a 1 that broadcasts).
  throwsWith(() => analyzeGraph(graph([node('add', 'Add', ['x', 'b'], ['y'])], ['y'], { shape: ['N', 4] }), new Map([['b', f32(2, 4)]])), ShapeError, /dim 0: N vs 2/);
});

test('analyze: dtype mismatches', () => {
  throwsWith(() => analyzeGraph(graph([node('relu', 'Relu', ['x'], ['y'])], ['y'], { dtype: 'int32', shape: ['N', 4] }), new Map()), DTypeError, /node 'relu' \(Relu\)/, /input 'x' \('x'\) must be float32, got int32/);
  const table = new Map([['table', f32(10, 4)]]);
  throwsWith(() => analyzeGraph(graph([node('emb', 'Gather', ['table', 'x'], ['y'])], ['y'], { shape: ['N', 5] }), table), DTypeError, /node 'emb' \(Gather\)/, /input 'indices' \('x'\) must be int32, got float32/);
  throwsWith(() => analyzeGraph(graph([node('bn', 'BatchNorm', ['x', '', '', 'm', 'v', 'n'], ['y'])], ['y']), new Map([['m', f32(3)], ['v', f32(3)], ['n', f32()]])), DTypeError, /input 'num_batches_tracked' \('n'\) must be int32, got float32/);
  // int32 flows through shape ops and Identity, and into Gather as indices.
  const ok = graph([node('flat', 'Flatten', ['x'], ['ids']), node('emb', 'Gather', ['table', 'ids'], ['y'])], ['y'], { dtype: 'int32', shape: ['N', 5, 1] });
  const info = analyzeGraph(ok, table);
  assert.deepEqual(info.values.get('ids'), { shape: ['N', 5], dtype: 'int32' });
  assert.deepEqual(info.values.get('y'), { shape: ['N', 5, 4], dtype: 'float32' });
  throwsWith(() => analyzeGraph(graph([node('cat', 'Concat', ['x', 'i'], ['y'], { axis: 1 })], ['y'], { shape: ['N', 2] }), new Map([['i', i32(1, 2)]])), ShapeError, /input 1 is int32, input 0 is float32/);
});

test('analyze: weight slots take initializers only', () => {
  const g = graph([node('w', 'Relu', ['x'], ['wt'], {}), node('conv', 'Conv', ['x', 'wt'], ['y'])], ['y'], { shape: ['N', 3, 3, 3] });
  throwsWith(() => analyzeGraph(g, new Map()), ArgumentError, /node 'conv' \(Conv\)/, /input 'weight' must be an initializer \(a param\), got the computed value 'wt'/);
  const more: Graph['inputs'] = [{ name: 'stats', dtype: 'float32', shape: [3] }];
  const bn = graph([node('m', 'Relu', ['stats'], ['mean']), node('bn', 'BatchNorm', ['x', '', '', 'mean', 'v'], ['y'])], ['y'], { more });
  throwsWith(() => analyzeGraph(bn, new Map([['v', f32(3)]])), ArgumentError, /node 'bn' \(BatchNorm\)/, /input 'running_mean' must be an initializer \(a buffer\)/);
});

test('analyze: initializer roles (param, buffer, constant, graph params) and conflicts', () => {
  const inits = new Map([['w', f32(3)], ['b', f32(3)], ['m', f32(3)], ['v', f32(3)], ['n', i32()], ['pos', f32(3, 8, 8)], ['scale', f32()]]);
  const nodes = [
    node('bn', 'BatchNorm', ['x', 'w', 'b', 'm', 'v', 'n'], ['h']),
    node('addpos', 'Add', ['h', 'pos'], ['h2']),
    node('mul', 'Mul', ['h2', 'scale'], ['y']),
  ];
  const info = analyzeGraph(graph(nodes, ['y']), inits);
  // Weights in param slots train; statistics, counters and float constants in data slots do not.
  assert.deepEqual(Object.fromEntries(info.roles), { w: 'param', b: 'param', m: 'buffer', v: 'buffer', n: 'buffer', pos: 'buffer', scale: 'buffer' });
  // Listed in the graph's params, a data-slot initializer (a position embedding) trains.
  const trained = analyzeGraph({ ...graph(nodes, ['y']), params: ['pos'] }, inits);
  assert.equal(trained.roles.get('pos'), 'param');
  assert.deepEqual(trained.graph.params, ['pos']);
  throwsWith(() => analyzeGraph({ ...graph(nodes, ['y']), params: ['ghost'] }, inits), ArgumentError, /params lists 'ghost', which is not an initializer/);
  throwsWith(() => analyzeGraph({ ...graph(nodes, ['y']), params: ['n'] }, inits), DTypeError, /params lists 'n', which is int32/);
  throwsWith(() => analyzeGraph({ ...graph(nodes, ['y']), params: ['m'] }, inits), ArgumentError, /node 'bn' \(BatchNorm\)/, /initializer 'm' is listed in the graph's params but is a buffer of this node/);
  // One tensor as a trained weight of one node and running statistics of another.
  const clash = [node('bn', 'BatchNorm', ['x', 'w', 'b', 'm', 'v'], ['h']), node('bn2', 'BatchNorm', ['h', 'm', 'b', 'w', 'v'], ['y'])];
  throwsWith(() => analyzeGraph(graph(clash, ['y']), inits), ArgumentError, /node 'bn2' \(BatchNorm\)/, /initializer 'm' is a param here but a buffer for another node/);
});

test('analyze: unused initializers are reported, not an error', () => {
  const inits = new Map([...convInits(), ['stale.weight', f32(2, 2)], ['old.bias', f32(4)]]);
  const info = analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'])], ['y']), inits);
  assert.deepEqual(info.unused, ['conv.bias', 'stale.weight', 'old.bias']);
  assert.deepEqual([...info.roles.keys()], ['conv.weight']);
});

test('analyze: shuffled nodes come back in topological order, stable in file order', () => {
  const nodes = [
    node('d', 'Add', ['b', 'c'], ['d']),
    node('c', 'Tanh', ['a'], ['c']),
    node('b', 'Sigmoid', ['a'], ['b']),
    node('e', 'Relu', ['x'], ['e']),
    node('a', 'Relu', ['x'], ['a']),
    node('f', 'Mul', ['d', 'e'], ['f']),
  ];
  const info = analyzeGraph(graph(nodes, ['f']), new Map());
  assert.deepEqual(info.graph.nodes.map((n) => n.name), ['e', 'a', 'c', 'b', 'd', 'f']);
  assert.deepEqual(info.nodes.map((n) => n.node.name), ['e', 'a', 'c', 'b', 'd', 'f']);
  // Every node comes after the producers of its inputs.
  const pos = new Map(info.graph.nodes.map((n, i) => [n.name, i]));
  for (const n of info.graph.nodes) for (const v of n.inputs) if (pos.has(v)) assert.ok(pos.get(v)! < pos.get(n.name)!, `${v} before ${n.name}`);
  // The caller's graph is not reordered in place.
  assert.equal(nodes[0].name, 'd');
});

test('analyze: symbolic batch dims through Reshape [N,T,D] → [N·T, D] → back', () => {
  const nodes = [
    node('rows', 'Reshape', ['x'], ['rows'], { shape: [-1, 8] }),
    node('lin', 'Linear', ['rows', 'w'], ['h']),
    node('back', 'Reshape', ['h'], ['back'], { shape: [-1, 5, 6] }),
    node('copy', 'Reshape', ['back'], ['y'], { shape: [0, 30] }),
    node('flat', 'Flatten', ['x'], ['flat'], { start: 0 }),
    node('cat', 'Concat', ['x', 'x'], ['cat'], { axis: 0 }),
    node('t', 'Transpose', ['x'], ['t'], { perm: [1, 0, 2] }),
  ];
  const info = analyzeGraph(graph(nodes, ['y', 'flat', 'cat', 't'], { shape: ['N', 5, 8] }), new Map([['w', f32(6, 8)]]));
  const shape = (v: string): readonly Dim[] => info.values.get(v)!.shape;
  assert.deepEqual(shape('rows'), ['5*N', 8]);
  assert.deepEqual(shape('h'), ['5*N', 6]);
  assert.deepEqual(shape('back'), ['N', 5, 6]);
  assert.deepEqual(shape('y'), ['N', 30]);
  assert.deepEqual(shape('flat'), ['40*N']);
  assert.deepEqual(shape('cat'), ['2*N', 5, 8]);
  assert.deepEqual(shape('t'), [5, 'N', 8]);
  // Splitting 5·N back with a fixed leading dim keeps the batch in the other dim.
  const split = analyzeGraph(graph([node('r', 'Reshape', ['x'], ['y'], { shape: [5, -1] })], ['y'], { shape: ['5*N', 8] }), new Map());
  assert.deepEqual(split.values.get('y')!.shape, [5, '8*N']);
});

test('analyze: a Reshape that would fix the batch size is refused', () => {
  const reshape = (shape: number[], x: Dim[] = ['N', 4, 6]): Graph => graph([node('r', 'Reshape', ['x'], ['y'], { shape })], ['y'], { shape: x });
  throwsWith(() => analyzeGraph(reshape([2, 24]), new Map()), ShapeError, /node 'r' \(Reshape\)/, /\[N,4,6\] cannot become \[2,24\] \(24\*N vs 48 elements\)/);
  throwsWith(() => analyzeGraph(reshape([7, -1]), new Map()), ShapeError, /cannot infer −1 in \[7,-1\] for \[N,4,6\]/);
  // A fixed leading dim is fine when the batch stays in the inferred one: 24·N = 8 × 3·N for every N.
  assert.deepEqual(analyzeGraph(reshape([8, -1]), new Map()).values.get('y')!.shape, [8, '3*N']);
  throwsWith(() => analyzeGraph(reshape([-1, 5]), new Map()), ShapeError, /cannot infer −1/);
  throwsWith(() => analyzeGraph(reshape([-1, -1]), new Map()), ShapeError, /more than one −1/);
  throwsWith(() => analyzeGraph(reshape([0, 0, 0, 0]), new Map()), ShapeError, /copies dim 3 of \[N,4,6\], which has none/);
  throwsWith(() => analyzeGraph(reshape([0, 5, -1]), new Map()), ShapeError, /cannot infer −1/);
  // Ops that would need a concrete batch refuse it by name.
  throwsWith(() => analyzeGraph(graph([node('s', 'Slice', ['x'], ['y'], { axes: [0], starts: [0], ends: [1] })], ['y']), new Map()), ShapeError, /cannot slice the batch-dependent dim 0/);
  throwsWith(() => analyzeGraph(graph([node('m', 'ReduceMean', ['x'], ['y'], { axes: [0] })], ['y']), new Map()), ShapeError, /cannot reduce over the batch-dependent dim 0/);
  throwsWith(() => analyzeGraph(graph([node('c', 'Concat', ['x', 'w'], ['y'], { axis: 0 })], ['y']), new Map([['w', f32(2, 3, 8, 8)]])), ShapeError, /cannot join a batch-dependent dim with a fixed one \(N \+ 2\)/);
});

test('analyze: a value with two batch-dependent dims (N·N elements) is refused', () => {
  const more: Graph['inputs'] = [{ name: 'row', dtype: 'float32', shape: [1, 'N'] }];
  throwsWith(() => analyzeGraph(graph([node('add', 'Add', ['x', 'row'], ['y'])], ['y'], { shape: ['N', 1], more }), new Map()), ShapeError, /node 'add' \(Add\)/, /broadcasting \[N,1\] with \[1,N\] gives \[N,N\], with more than one batch-dependent dim/);
  throwsWith(() => analyzeGraph(graph([node('mm', 'MatMul', ['x', 'row'], ['y'])], ['y'], { shape: ['N', 4, 1], more }), new Map()), ShapeError, /node 'mm' \(MatMul\)/, /\[N,4,1\] × \[1,N\] gives \[N,4,N\]/);
  const ids: Graph['inputs'] = [{ name: 'ids', dtype: 'int32', shape: ['N'] }];
  throwsWith(() => analyzeGraph(graph([node('g', 'Gather', ['x', 'ids'], ['y'], { axis: 1 })], ['y'], { shape: ['N', 4], more: ids }), new Map()), ShapeError, /node 'g' \(Gather\)/, /indices \[N\] into \[N,4\] gives \[N,N\]/);
  // One batch dim, wherever it sits, is fine.
  const ok = analyzeGraph(graph([node('add', 'Add', ['x', 'b'], ['y'])], ['y'], { shape: [1, 'N'] }), new Map([['b', f32(3, 1)]]));
  assert.deepEqual(ok.values.get('y')!.shape, [3, 'N']);
});

test('analyze: values larger than MAX_VALUE_ELEMENTS per sample are refused', () => {
  assert.equal(MAX_VALUE_ELEMENTS, 2 ** 31 - 1);
  // [N, 65536, 1] × [1, 65536] → [N, 65536, 65536]: 2^32 elements per sample (only shapes are analysed, nothing is allocated).
  const g = graph([node('outer', 'MatMul', ['x', 'w'], ['y'])], ['y'], { shape: ['N', 65536, 1] });
  throwsWith(() => analyzeGraph(g, new Map([['w', f32(1, 65536)]])), ShapeError, /node 'outer' \(MatMul\)/, /output \[N,65536,65536\] holds 4294967296 elements per sample, more than 2147483647/);
  const up = graph([node('big', 'Relu', ['x'], ['y'])], ['y'], { shape: ['N', 100000, 100000] });
  throwsWith(() => analyzeGraph(up, new Map()), ShapeError, /node 'big' \(Relu\)/, /10000000000 elements per sample/);
  // Just under the limit passes.
  const fits = analyzeGraph(graph([node('ok', 'Relu', ['x'], ['y'])], ['y'], { shape: ['N', 2 ** 31 - 1] }), new Map());
  assert.deepEqual(fits.values.get('y')!.shape, ['N', 2 ** 31 - 1]);
});

test('analyze: bad graph inputs and the file option', () => {
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], ['y'])], ['y'], { shape: ['N', 'M'] }), new Map()), ShapeError, /input 'x' has an invalid shape \["N","M"\]/);
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['x'], ['y'])], ['y'], { shape: ['N', -1] }), new Map()), ShapeError, /input 'x' has an invalid shape/);
  // With `file`, every error becomes a FormatError naming the file, the message kept.
  throwsWith(() => analyzeGraph(graph([node('r', 'Relu', ['nope'], ['y'])], ['y']), new Map(), { file: 'models/m.safetensors' }), FormatError, /^models\/m\.safetensors: graph: node 'r' \(Relu\) reads 'nope'/);
  throwsWith(() => analyzeGraph(graph([node('conv', 'Conv', ['x', 'conv.weight'], ['y'], { stride: [0, 1] })], ['y']), convInits(), { file: 'a.json' }), FormatError, /^a\.json: node 'conv' \(Conv\): attribute 'stride\[0\]' = 0/);
});

test('analysis stays fast on large graphs: 100,000 independent and 100,000 chained nodes', () => {
  for (const chained of [false, true]) {
    const nodes = Array.from({ length: 100_000 }, (_, i) => ({
      name: `n${i}`, op: 'Relu' as const, inputs: [chained && i > 0 ? `v${i - 1}` : 'x'], outputs: [`v${i}`], attrs: {},
    }));
    const t0 = performance.now();
    const info = analyzeGraph({ inputs: [{ name: 'x', dtype: 'float32', shape: ['N', 4] }], nodes: nodes.reverse(), outputs: ['v0'] }, new Map());
    const ms = performance.now() - t0;
    assert.equal(info.nodes.length, 100_000);
    if (chained) assert.equal(info.nodes[0].node.name, 'n0', 'topological: n0 first even when listed last');
    // A hang guard, not a timing test: ~1 s here on a quiet machine, minutes for the quadratic order it replaced.
    assert.ok(ms < 60000, `${chained ? 'chain' : 'independent'}: ${ms.toFixed(0)} ms`);
  }
});
