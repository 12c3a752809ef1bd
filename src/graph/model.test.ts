// Tests of GraphBuilder (shapes checked as ops are added, names, weights) and GraphModel (input checks, modes,
// parameters and buffers, state dicts, clones, hooks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';
import * as ops from '../ops/index.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { GraphBuilder } from './builder.js';
import { GraphModel } from './model.js';

/** conv → BN → relu → dropout → global pool → linear, over [N, 2, 5, 5]. */
function small(seed = 1): GraphModel {
  const rng = new Rng(seed);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 2, 5, 5]);
  let h = b.op('Conv', [x, b.weight('conv.weight', randn([3, 2, 3, 3], 0.5, rng)), null], { padding: [1, 1] }, 'conv')[0];
  const ones = new Tensor(new Float32Array(3).fill(1), [3]);
  h = b.op('BatchNorm', [h, b.weight('bn.weight', ones), b.weight('bn.bias', randn([3], 0.1, rng)), b.weight('bn.running_mean', new Tensor(new Float32Array(3), [3])), b.weight('bn.running_var', ones.clone())], {}, 'bn')[0];
  h = b.op('Relu', [h], {}, 'relu')[0];
  h = b.op('Dropout', [h], { p: 0.5 }, 'drop')[0];
  h = b.op('GlobalAveragePool', [h], {}, 'pool')[0];
  b.output(b.op('Linear', [h, b.weight('fc.weight', randn([4, 3], 0.5, rng)), b.weight('fc.bias', randn([4], 0.1, rng))], {}, 'fc')[0]);
  const { graph, weights } = b.build();
  return GraphModel.create(graph, weights);
}

const close = (a: Tensor, b: Tensor): boolean => a.data.every((v, i) => Math.abs(v - b.data[i]) <= 1e-6);

test('builder: shapes are checked as ops are added, errors naming the node', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 3, 8, 8]);
  const w = b.weight('w', new Tensor(new Float32Array(4 * 5 * 9), [4, 5, 3, 3]));
  assert.throws(() => b.op('Conv', [x, w], {}, 'conv1'), (e: unknown) => e instanceof ShapeError && /^node 'conv1' \(Conv\): weight \[4,5,3,3\] takes 5 channels per group/.test(e.message));
  assert.throws(() => b.op('Relu', [x], { alpha: 1 }, 'r'), (e: unknown) => e instanceof ArgumentError && /node 'r' \(Relu\): unknown attribute 'alpha'/.test(e.message));
  assert.throws(() => b.op('Nope' as never, [x]), /unknown op 'Nope'/);
  // Values of another builder, or made up, are refused.
  const other = new GraphBuilder().input('x', 'float32', ['N', 3, 8, 8]);
  assert.throws(() => b.op('Relu', [other], {}, 'r'), /input 'x' does not belong to this graph/);
  assert.throws(() => b.output({ name: 'ghost', info: { shape: ['N'], dtype: 'float32' } }), /output 'ghost' does not belong to this graph/);
  assert.throws(() => b.build(), /the graph has no outputs/);
});

test('builder: unique node names, weight names, trailing absent inputs, trained data-slot weights', () => {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['N', 4]);
  const r1 = b.op('Relu', [x])[0];
  const r2 = b.op('Relu', [r1])[0];
  const r3 = b.op('Relu', [r2], {}, 'relu')[0];
  assert.deepEqual([r1.name, r2.name, r3.name], ['relu', 'relu#2', 'relu#3']);
  const t = new Tensor(new Float32Array(12), [3, 4]);
  assert.equal(b.weight('fc.weight', t).name, 'fc.weight');
  assert.doesNotThrow(() => b.weight('fc.weight', t), 'the same tensor under the same name is the same value');
  assert.throws(() => b.weight('fc.weight', t.clone()), /two different tensors are named 'fc.weight'/);
  assert.throws(() => b.weight('x', t.clone()), /weight 'x': the name is already used/);
  assert.throws(() => b.input('relu', 'float32', ['N']), /graph input 'relu': the name is already used/);
  const y = b.op('Linear', [r3, b.weight('fc.weight', t), null], {}, 'fc')[0];
  const pos = b.weight('pos', new Tensor(new Float32Array(3), [3]).requireGrad());
  const scale = b.weight('scale', new Tensor(Float32Array.of(2), []));
  b.output(b.op('Mul', [b.op('Add', [y, pos], {}, 'addpos')[0], scale], {}, 'mul')[0]);
  const { graph, weights } = b.build();
  assert.deepEqual(graph.nodes.find((n) => n.name === 'fc')!.inputs, ['relu#3', 'fc.weight']);
  assert.deepEqual(graph.params, ['pos']);
  assert.equal(weights.get('fc.weight'), t, 'weights are the tensors given, not copies');
  const m = GraphModel.create(graph, weights);
  assert.deepEqual(m.namedParameters().map(([k]) => k), ['fc.weight', 'pos']);
  assert.deepEqual(m.namedBuffers().map(([k]) => k), ['scale']);
});

test('model: input checks name the input and the expected shape', () => {
  const m = small();
  assert.deepEqual(m.inputShape, [2, 5, 5]);
  assert.throws(() => m.forward(randn([2, 2, 5])), (e: unknown) => e instanceof ShapeError && /input 'x' must be \[N,2,5,5\], got \[2,2,5\]/.test(e.message));
  assert.throws(() => m.forward(randn([2, 3, 5, 5])), /input 'x' must be \[N,2,5,5\], got \[2,3,5,5\]/);
  assert.throws(() => m.forward(new Tensor(new Int32Array(50), [1, 2, 5, 5])), (e: unknown) => e instanceof DTypeError && /input 'x' must be float32, got int32/.test(e.message));
  assert.throws(() => m.run([]), /expected 1 inputs, got 0/);
  assert.throws(() => m.run({ y: randn([1, 2, 5, 5]) }), /input 'x' must be a Tensor/);
  assert.throws(() => m.weight('nope'), /no weight named 'nope'/);
  // Batch sizes are free.
  for (const n of [1, 3]) assert.deepEqual([...m.eval().forward(randn([n, 2, 5, 5])).shape], [n, 4]);
});

test('model: batch multiples and inputs that disagree on N', () => {
  const b = new GraphBuilder();
  const rows = b.input('rows', 'float32', ['5*N', 8]);
  const other = b.input('other', 'float32', ['N', 5, 8]);
  const back = b.op('Reshape', [rows], { shape: [-1, 5, 8] }, 'back')[0];
  b.output(b.op('Add', [back, other], {}, 'add')[0]);
  const { graph, weights } = b.build();
  const m = GraphModel.create(graph, weights);
  assert.deepEqual([...m.run([randn([10, 8]), randn([2, 5, 8])])[0].shape], [2, 5, 8]);
  assert.throws(() => m.run([randn([7, 8]), randn([2, 5, 8])]), /input 'rows' dim 0 must be a multiple of 5, got \[7,8\]/);
  assert.throws(() => m.run([randn([15, 8]), randn([2, 5, 8])]), /inputs disagree on the batch size \(3 vs 2\)/);
  assert.throws(() => m.forward(randn([10, 8])), /the graph has 2 inputs and 1 outputs; use run\(\)/);
});

test('model: unused weights are an error unless dropped', () => {
  const m = small();
  const w = new Map(m.namedWeights());
  w.set('old.weight', randn([2]));
  assert.throws(() => GraphModel.create(m.graph, w), (e: unknown) => e instanceof ArgumentError && /tensors 'old.weight' are not used by the graph/.test(e.message));
  const kept = GraphModel.create(m.graph, w, { dropUnused: true });
  assert.ok(!kept.namedWeights().some(([k]) => k === 'old.weight'));
  assert.throws(() => GraphModel.create(m.graph, { ...Object.fromEntries(m.namedWeights()), 'conv.weight': [1] as never }), /weight 'conv.weight' is not a Tensor/);
});

test('model: parameters, buffers, training and eval modes', () => {
  const m = small();
  assert.deepEqual(m.namedParameters().map(([k]) => k), ['conv.weight', 'bn.weight', 'bn.bias', 'fc.weight', 'fc.bias']);
  assert.deepEqual(m.namedBuffers().map(([k]) => k), ['bn.running_mean', 'bn.running_var']);
  assert.equal(m.numParameters(), 54 + 3 + 3 + 12 + 4);
  assert.ok(m.parameters().every((p) => p.requiresGrad) && m.namedBuffers().every(([, t]) => !t.requiresGrad));
  const x = randn([4, 2, 5, 5], 1, new Rng(9));
  // Eval: running statistics, no dropout, repeatable, buffers untouched.
  m.eval();
  const mean0 = m.weight('bn.running_mean').clone();
  const e1 = m.forward(x);
  assert.ok(close(m.forward(x), e1));
  assert.deepEqual([...m.weight('bn.running_mean').data], [...mean0.data]);
  // Training: batch statistics (the running mean moves) and dropout (two runs differ).
  m.train();
  const t1 = m.forward(x);
  assert.ok(!m.weight('bn.running_mean').data.every((v, i) => v === mean0.data[i]));
  const t2 = m.forward(x);
  assert.ok(!close(t1, t2), 'dropout draws a new mask each run');
  // Gradients reach every parameter.
  m.zeroGrad();
  backward(ops.sum(m.forward(x)));
  for (const [k, p] of m.namedParameters()) assert.ok(p.grad && p.grad.data.some((v) => v !== 0), `${k} has a gradient`);
  m.zeroGrad();
  assert.ok(m.parameters().every((p) => p.grad === null));
});

test('model: state dicts and clones', () => {
  const a = small(1);
  const b = small(2).eval();
  const x = randn([2, 2, 5, 5], 1, new Rng(4));
  assert.ok(!close(a.eval().forward(x), b.forward(x)));
  b.loadStateDict(a.stateDict({ copy: true }));
  assert.ok(close(a.forward(x), b.forward(x)));
  assert.deepEqual(Object.keys(a.stateDict()), a.namedWeights().map(([k]) => k));
  // stateDict shares storage unless copied.
  assert.equal(a.stateDict()['fc.bias'].data, a.weight('fc.bias').data);
  assert.notEqual(a.stateDict({ copy: true })['fc.bias'].data, a.weight('fc.bias').data);
  assert.throws(() => b.loadStateDict({}), /missing keys/);
  // A clone has its own weights and keeps the mode.
  const c = a.clone();
  assert.equal(c.training, false);
  c.weight('fc.bias').f32[0] += 1;
  assert.ok(!close(c.forward(x), a.forward(x)));
  assert.equal(c.graph, a.graph);
});

test('model: the hook sees every node in order with its inputs and outputs', () => {
  const m = small().eval();
  const seen: string[] = [];
  const y = m.run([randn([2, 2, 5, 5])], {
    hook: (n, inputs, outputs) => {
      seen.push(n.node.name);
      assert.equal(inputs.length, Math.max(n.def.inputs.length, n.node.inputs.length), "absent optional inputs are passed as null");
      assert.deepEqual(outputs.map((t) => t.ndim), n.outputs.map((o) => o.shape.length));
    },
  })[0];
  assert.deepEqual(seen, ['conv', 'bn', 'relu', 'drop', 'pool', 'fc']);
  assert.deepEqual([...y.shape], [2, 4]);
});

test('model: int32 token ids into an embedding table', () => {
  const b = new GraphBuilder();
  const ids = b.input('ids', 'int32', ['N', 3]);
  const table = randn([10, 4], 1, new Rng(5)).requireGrad();
  b.output(b.op('Gather', [b.weight('embed.weight', table), ids], { axis: 0 }, 'embed')[0]);
  const { graph, weights } = b.build();
  const m = GraphModel.create(graph, weights);
  assert.deepEqual(m.namedParameters().map(([k]) => k), ['embed.weight']);
  const y = m.forward(new Tensor(Int32Array.of(0, 9, -1, 2, 2, 2), [2, 3]));
  assert.deepEqual([...y.shape], [2, 3, 4]);
  assert.deepEqual([...y.data.slice(4, 8)], [...table.data.slice(36, 40)]);
  assert.deepEqual([...y.data.slice(8, 12)], [...table.data.slice(36, 40)], 'index -1 is the last row');
  assert.throws(() => m.forward(new Tensor(Int32Array.of(10, 0, 0), [1, 3])), /out of range/);
});
