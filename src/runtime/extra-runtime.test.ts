// The runtime on the ops of imported PyTorch models (plan-extra.ts, heap-kernels.ts, depthwise convs, 2-D batch norm,
// several and integer inputs) against the engine: MobileNet-style blocks, an MLP with BatchNorm1d, a BERT-style text
// encoder with token ids and a mask, slices and splits; run()'s input checks and the plan's refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../autograd/engine.js';
import { getNumThreads, setNumThreads } from '../backend/pool.js';
import { ArgumentError, DTypeError, LutnnError, ShapeError } from '../errors.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { GraphModel } from '../graph/model.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { compile } from './node.js';

/** max |a − b| ≤ tol·(1 + max |b|): folded batch norm changes float32 roundings by a few ulps per layer. */
function assertClose(got: Float32Array, want: Float32Array, what: string, tol = 1e-5): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let d = 0;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    d = e > d || Number.isNaN(e) ? e : d;
    m = Math.max(m, Math.abs(want[i]));
  }
  assert.ok(d <= tol * (1 + m), `${what}: max diff ${d} vs max |value| ${m}`);
}

const engine = (m: GraphModel, xs: Tensor[]): Float32Array => noGrad(() => m.run(xs))[0].f32;
const kinds = (lines: string[]): string[] => lines.map((l) => l.split(':')[0]);

function bnOf(b: GraphBuilder, rng: Rng, name: string, x: Value, c: number): Value {
  const v = (n: string, lo: number, hi: number): Value => b.weight(`${name}.${n}`, new Tensor(Float32Array.from({ length: c }, () => rng.uniform(lo, hi)), [c]));
  return b.op('BatchNorm', [x, v('weight', 0.5, 1.5), v('bias', -0.3, 0.3), v('running_mean', -0.3, 0.3), v('running_var', 0.4, 2)], {}, name)[0];
}

test('MobileNet-style blocks: depthwise convs (multiplier 1 and 2) with BN folded, ReLU6, HardSwish and a sigmoid fused into their convs (after the epilogue), equal to the engine', () => {
  const rng = new Rng(5);
  const b = new GraphBuilder();
  const w = (name: string, shape: number[]): Value => b.weight(name, randn(shape, 0.4, rng));
  const x = b.input('input', 'float32', ['N', 3, 9, 9]);
  let h = b.op('Conv', [x, w('stem.weight', [8, 3, 3, 3])], { stride: [2, 2], padding: [1, 1] }, 'stem')[0]; // [N,8,5,5]
  h = b.op('HardSwish', [bnOf(b, rng, 'stem.bn', h, 8)], {}, 'stem.act')[0];
  let d = b.op('Conv', [h, w('dw.weight', [8, 1, 3, 3]), w('dw.bias', [8])], { padding: [1, 1], groups: 8 }, 'dw')[0];
  d = b.op('Clip', [bnOf(b, rng, 'dw.bn', d, 8)], { min: 0, max: 6 }, 'dw.relu6')[0];
  d = b.op('HardSwish', [d], {}, 'dw.hs')[0]; // after a fused Clip: its own step
  let p = b.op('Conv', [d, w('pw.weight', [8, 8, 1, 1])], {}, 'pw')[0];
  p = b.op('Add', [p, h], {}, 'res')[0];
  const d2 = b.op('Conv', [p, w('dw2.weight', [16, 1, 3, 3])], { stride: [2, 2], padding: [1, 1], groups: 8 }, 'dw2')[0]; // [N,16,3,3]
  const r = b.op('Relu', [bnOf(b, rng, 'dw2.bn', d2, 16)], {}, 'dw2.relu')[0];
  const s = b.op('Sigmoid', [r], {}, 'gate')[0];
  const g = b.op('Flatten', [b.op('GlobalAveragePool', [s], {}, 'gap')[0]], {}, 'flat')[0];
  b.output(b.op('Tanh', [b.op('Linear', [g, w('fc.weight', [4, 16]), w('fc.bias', [4])], {}, 'fc')[0]], {}, 'tanh')[0]);
  const built = b.build();
  const m = GraphModel.create(built.graph, built.weights).eval();
  const rtm = compile(m, { maxBatch: 3 });
  try {
    assert.deepEqual(kinds(rtm.summary()), [
      'conv stem+stem.bn+stem.act', 'conv dw+dw.bn+dw.relu6', 'unary dw.hs', 'conv pw', 'add res', 'conv dw2+dw2.bn+dw2.relu+gate',
      'globalAvgPool gap', 'reshape flat', 'linear fc+tanh',
    ]);
    const x5 = randn([5, 3, 9, 9], 1, rng);
    assertClose(rtm.run(x5), engine(m, [x5]), 'batch 5 in chunks of 3');
    const prev = getNumThreads();
    setNumThreads(2);
    try {
      assertClose(rtm.run(x5), engine(m, [x5]), '2 threads');
    } finally {
      setNumThreads(prev);
    }
  } finally {
    rtm.dispose();
  }
});

test('BatchNorm on [N, C] folds into the Linear before it (BatchNorm1d of an MLP), on [N, C, L] runs per channel; both equal the engine', () => {
  const rng = new Rng(6);
  const b = new GraphBuilder();
  const w = (name: string, shape: number[]): Value => b.weight(name, randn(shape, 0.3, rng));
  const x = b.input('input', 'float32', ['N', 4, 6]);
  const seq = bnOf(b, rng, 'bn1d', x, 4); // [N, C=4, L=6]: a standalone per-channel step
  const f = b.op('Flatten', [b.op('Relu', [seq], {}, 'r0')[0]], {}, 'flat')[0]; // [N, 24]
  let h = b.op('Linear', [f, w('fc1.weight', [16, 24]), w('fc1.bias', [16])], {}, 'fc1')[0];
  h = b.op('Relu', [bnOf(b, rng, 'bn', h, 16)], {}, 'relu')[0];
  h = b.op('Linear', [h, w('fc2.weight', [5, 16])], {}, 'fc2')[0];
  b.output(bnOf(b, rng, 'bn_out', h, 5)); // after a Linear without bias
  const built = b.build();
  const m = GraphModel.create(built.graph, built.weights).eval();
  const rtm = compile(m, { maxBatch: 4 });
  try {
    assert.deepEqual(kinds(rtm.summary()), ['affine bn1d+r0', 'reshape flat', 'linear fc1+bn+relu', 'linear fc2+bn_out']);
    const x3 = randn([3, 4, 6], 1, rng);
    assertClose(rtm.run(x3), engine(m, [x3]), 'mlp');
  } finally {
    rtm.dispose();
  }
});

/** A BERT-style encoder of token ids and an attention mask, as torch exports it (see test/fixtures/onnx bert). */
function textEncoder(rng: Rng): GraphModel {
  const b = new GraphBuilder();
  const w = (name: string, shape: number[], s = 0.4): Value => b.weight(name, randn(shape, s, rng));
  const T = 6;
  const ids = b.input('input_ids', 'int32', ['N', T]);
  const mask = b.input('attention_mask', 'int32', ['N', T]);
  let am = b.op('Unsqueeze', [b.op('Unsqueeze', [mask], { axes: [1] }, 'm1')[0]], { axes: [2] }, 'm2')[0]; // [N,1,1,T]
  am = b.op('Cast', [am], { to: 'float32' }, 'mcast')[0];
  am = b.op('Sub', [b.weight('one', new Tensor(Float32Array.of(1), [])), am], {}, 'minv')[0];
  am = b.op('Mul', [am, b.weight('big', new Tensor(Float32Array.of(-10000), []))], {}, 'madd')[0];
  let h = b.op('Gather', [w('emb.weight', [11, 8], 1), ids], { axis: 0 }, 'emb')[0]; // [N,T,8]
  h = b.op('Add', [h, w('pos', [1, T, 8], 0.2)], {}, 'pos_add')[0];
  const q = b.op('Transpose', [b.op('Reshape', [b.op('Linear', [h, w('q.weight', [8, 8])], {}, 'q')[0]], { shape: [0, T, 2, 4] }, 'qh')[0]], { perm: [0, 2, 1, 3] }, 'qt')[0];
  const k = b.op('Transpose', [b.op('Reshape', [b.op('Linear', [h, w('k.weight', [8, 8])], {}, 'k')[0]], { shape: [0, T, 2, 4] }, 'kh')[0]], { perm: [0, 2, 3, 1] }, 'kt')[0];
  const v = b.op('Transpose', [b.op('Reshape', [b.op('Linear', [h, w('v.weight', [8, 8])], {}, 'v')[0]], { shape: [0, T, 2, 4] }, 'vh')[0]], { perm: [0, 2, 1, 3] }, 'vt')[0];
  let s = b.op('MatMul', [q, k], {}, 'scores')[0]; // [N,2,T,T]
  s = b.op('Add', [s, am], {}, 'masked')[0]; // + [N,1,1,T]
  const p = b.op('Softmax', [s], { axis: -1 }, 'probs')[0];
  let o = b.op('Transpose', [b.op('MatMul', [p, v], {}, 'mix')[0]], { perm: [0, 2, 1, 3] }, 'mix_t')[0];
  o = b.op('Reshape', [o], { shape: [0, T, 8] }, 'merge')[0];
  o = b.op('Add', [o, h], {}, 'res')[0];
  const cls = b.op('Gather', [o, b.weight('cls_index', new Tensor(Int32Array.of(0), []))], { axis: 1 }, 'cls')[0]; // [N,8]
  b.output(b.op('Tanh', [b.op('Linear', [cls, w('pool.weight', [3, 8]), w('pool.bias', [3])], {}, 'pool')[0]], {}, 'act')[0]);
  const built = b.build();
  return GraphModel.create(built.graph, built.weights).eval();
}

function tokens(rng: Rng, n: number, T: number, vocab: number): { ids: Int32Array; mask: Int32Array } {
  const ids = Int32Array.from({ length: n * T }, () => Math.floor(rng.uniform(0, vocab)));
  const mask = Int32Array.from({ length: n * T }, (_, i) => (i % T < T - (Math.floor(i / T) % 3) ? 1 : 0)); // padded tails
  return { ids, mask };
}

test('a BERT-style encoder: int32 ids and mask as inputs, embedding Gather, mask cast and broadcast over the scores, CLS pick; equal to the engine in every input form', () => {
  const rng = new Rng(7);
  const m = textEncoder(rng);
  const rtm = compile(m, { maxBatch: 2 });
  try {
    assert.deepEqual(rtm.inputs.map((i) => `${i.name} ${i.dtype} [${i.shape.join(',')}]`), ['input_ids int32 [6]', 'attention_mask int32 [6]']);
    const k = kinds(rtm.summary());
    for (const want of ['cast mcast', 'gather emb', 'binary masked', 'gather cls', 'linear pool+act']) assert.ok(k.includes(want), `${want} in ${k.join(', ')}`);
    const { ids, mask } = tokens(rng, 5, 6, 11);
    ids[3] = -2; // from the end, as ONNX Gather
    const want = engine(m, [new Tensor(ids, [5, 6]), new Tensor(mask, [5, 6])]);
    const y = rtm.run([ids, mask]);
    assertClose(y, want, 'arrays in order, batch 5 in chunks of 2');
    assert.deepEqual(rtm.run({ attention_mask: mask, input_ids: ids }), y, 'by name');
    assert.deepEqual(rtm.run([BigInt64Array.from(ids, (q) => BigInt(q)), new Tensor(mask, [5, 6])]), y, 'BigInt64Array (ONNX int64) and an int32 Tensor');
    // The mask matters: masking the last token changes the outputs.
    const mask2 = mask.slice();
    mask2[5] = 0;
    assert.notDeepEqual(rtm.run([ids, mask2]).subarray(0, 3), y.subarray(0, 3));
    assertClose(rtm.run([ids, mask2]), engine(m, [new Tensor(ids, [5, 6]), new Tensor(mask2, [5, 6])]), 'another mask');
  } finally {
    rtm.dispose();
  }
});

test('run() on integer inputs: DTypeError, ShapeError and ArgumentError name lutnn.run and the input', () => {
  const m = textEncoder(new Rng(8));
  const rtm = compile(m, { maxBatch: 2 });
  try {
    const { ids, mask } = tokens(new Rng(9), 2, 6, 11);
    assert.throws(() => rtm.run([Float32Array.from(ids), mask]), (e: Error) => e instanceof DTypeError && /^lutnn\.run: input 'input_ids' is a Float32Array, expected an Int32Array, a BigInt64Array or an int32 Tensor/.test(e.message));
    assert.throws(() => rtm.run([new Tensor(Float32Array.from(ids), [2, 6]), mask]), (e: Error) => e instanceof DTypeError && /lutnn\.run: input 'input_ids' dtype float32, expected int32/.test(e.message));
    assert.throws(() => rtm.run([ids, mask.subarray(0, 6)]), (e: Error) => e instanceof ShapeError && /lutnn\.run: input 'attention_mask' has 1 samples, input 'input_ids' 2/.test(e.message));
    assert.throws(() => rtm.run([ids.subarray(0, 5), mask]), (e: Error) => e instanceof ShapeError && /lutnn\.run: input 'input_ids' length 5 is not a multiple of the sample size 6/.test(e.message));
    assert.throws(() => rtm.run([new Tensor(ids, [3, 4]), mask]), (e: Error) => e instanceof ShapeError && /input 'input_ids' shape \[3,4\] vs expected \[N,6\]/.test(e.message));
    assert.throws(() => rtm.run(ids), (e: Error) => e instanceof ArgumentError && /lutnn\.run: got 1 input, the model takes 2 \('input_ids' int32 \[N,6\], 'attention_mask' int32 \[N,6\]\)/.test(e.message));
    assert.throws(() => rtm.run({ input_ids: ids }), (e: Error) => e instanceof ArgumentError && /input 'attention_mask' is missing/.test(e.message));
    assert.throws(() => rtm.run({ input_ids: ids, attention_mask: mask, token_type_ids: mask }), (e: Error) => e instanceof ArgumentError && /no input named 'token_type_ids'/.test(e.message));
    const bad = ids.slice();
    bad[7] = 11;
    assert.throws(() => rtm.run([bad, mask]), (e: Error) => e instanceof ArgumentError && /lutnn\.run: input 'input_ids' element 7 \(sample 1\) is 11; ids index a table of 11 rows, expected \[-11, 11\)/.test(e.message));
    bad[7] = -12;
    assert.throws(() => rtm.run([bad, mask]), /is -12; ids index a table of 11 rows/);
    assert.throws(() => rtm.run([BigInt64Array.from([...ids].map(() => 1n << 40n)), mask]), (e: Error) => e instanceof ArgumentError && /input 'input_ids' element 0 is 1099511627776, outside int32/.test(e.message));
    // Masks need no range: any int32 passes.
    assert.equal(rtm.run([ids, mask.map((q) => q * 5)]).length, 6);
  } finally {
    rtm.dispose();
  }
});

test('Slice and Split along per-sample axes are strided copies; Gather picks along inner axes; equal to the engine', () => {
  const rng = new Rng(10);
  const b = new GraphBuilder();
  const x = b.input('input', 'float32', ['N', 4, 12]);
  const [a, c] = b.op('Split', [x], { axis: 2, split: [5, 7] }, 'split');
  const s = b.op('Slice', [c], { axes: [1, -1], starts: [1, -4], ends: [3, 100] }, 'slice')[0]; // [N,2,4]
  const g = b.op('Gather', [a, b.weight('idx', new Tensor(Int32Array.of(4, -5, 2, 2), [2, 2]))], { axis: 2 }, 'pick')[0]; // [N,4,2,2]
  const f = b.op('Flatten', [g], {}, 'f')[0];
  const f2 = b.op('Flatten', [s], {}, 'f2')[0];
  b.output(b.op('Concat', [f, f2], { axis: 1 }, 'cat')[0]);
  const built = b.build();
  const m = GraphModel.create(built.graph, built.weights).eval();
  const rtm = compile(m, { maxBatch: 2 });
  try {
    assert.deepEqual(kinds(rtm.summary()).slice(0, 3), ['slice split[0]', 'slice split[1]', 'slice slice']);
    const x3 = randn([3, 4, 12], 1, rng);
    assert.deepEqual(rtm.run(x3), engine(m, [x3]), 'copies are exact');
  } finally {
    rtm.dispose();
  }
});

test('the plan refuses what it cannot run, naming the node: ids computed inside the graph, grouped convs, a float input given ints', () => {
  const rng = new Rng(11);
  {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 4]);
    const ids = b.op('Cast', [x], { to: 'int32' }, 'to_ids')[0];
    b.output(b.op('Gather', [b.weight('t', randn([5, 3], 1, rng)), ids], { axis: 0 }, 'lookup')[0]);
    const built = b.build();
    const m = GraphModel.create(built.graph, built.weights).eval();
    assert.throws(() => compile(m), (e: Error) => e instanceof LutnnError && /lutnn\.load: .*'to_ids'/.test(e.message));
  }
  {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 4, 5, 5]);
    b.output(b.op('Conv', [x, b.weight('w', randn([4, 2, 3, 3], 1, rng))], { groups: 2 }, 'grouped')[0]);
    const built = b.build();
    const m = GraphModel.create(built.graph, built.weights).eval();
    assert.throws(() => compile(m), (e: Error) => e instanceof ArgumentError && /Conv 'grouped' has groups = 2 for 4 input channels; the runtime runs groups = 1 and depthwise convs/.test(e.message));
  }
  const m = textEncoder(rng);
  const rtm = compile(m, { maxBatch: 1 });
  try {
    assert.throws(() => rtm.run([new Int8Array(6) as unknown as Int32Array, new Int32Array(6)]), (e: Error) => e instanceof DTypeError && /input 'input_ids' is a Int8Array/.test(e.message));
  } finally {
    rtm.dispose();
  }
});

test('two activations broadcast per sample as a column: x − mean over the last axis, a squeeze-and-excite gate [C, 1, 1]; equal to the engine', () => {
  const rng = new Rng(12);
  const b = new GraphBuilder();
  const x = b.input('input', 'float32', ['N', 3, 4, 5]);
  const centred = b.op('Sub', [x, b.op('ReduceMean', [x], { axes: [3], keepdims: true }, 'mean')[0]], {}, 'centre')[0];
  const gate = b.op('Sigmoid', [b.op('GlobalAveragePool', [centred], { keepdims: true }, 'squeeze')[0]], {}, 'excite')[0]; // [N,3,1,1]
  const y = b.op('Mul', [gate, centred], {}, 'scaled')[0]; // the column first: rmul
  b.output(b.op('Div', [b.op('ReduceMean', [y], { axes: [2, 3], keepdims: true }, 'm2')[0], y], {}, 'ratio')[0]); // column / x: rdiv
  const built = b.build();
  const m = GraphModel.create(built.graph, built.weights).eval();
  const rtm = compile(m, { maxBatch: 2 });
  try {
    const lines = rtm.summary();
    assert.ok(lines.includes('binary centre: [3,4,5] − [3,4,1] → [3,4,5]'), lines.join('\n'));
    assert.ok(lines.some((l) => /^binary ratio: \[3,1,1\] \/ \[3,4,5\]/.test(l)), lines.join('\n'));
    const x3 = randn([3, 3, 4, 5], 1, rng);
    assertClose(rtm.run(x3), engine(m, [x3]), 'column broadcasts');
  } finally {
    rtm.dispose();
  }
});
