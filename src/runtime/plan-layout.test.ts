// Batch-first rewriting (plan-layout.ts): PyTorch's nn.MultiheadAttention layout ([T, N, D] values, heads folded
// into the batch as [H·N, T, d]) runs on the runtime with the engine's outputs; what cannot be laid out is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { GraphBuilder, type Value } from '../graph/builder.js';
import { GraphModel } from '../graph/model.js';
import { perSample } from '../graph/dims.js';
import { convertStructure } from '../lut/convert.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { compile } from './node.js';
import { batchFirst, toBatchFirst } from './plan-layout.js';

function maxDiff(a: Float32Array, b: Float32Array): { d: number; m: number } {
  assert.equal(a.length, b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return { d, m };
}

/**
 * Self-attention as torch.onnx exports nn.MultiheadAttention (batch_first = False): x [N, T, D] → [T, N, D], the packed
 * in-projection sliced into q, k, v, heads folded into the batch ([T, H·N, d] → [H·N, T, d]), scores, softmax, mix,
 * back to [T·N, D] rows for the out-projection, [T, N, D] and [N, T, D].
 */
function torchAttention(rng: Rng): GraphModel {
  const [T, D, H] = [5, 16, 2];
  const d = D / H;
  const b = new GraphBuilder();
  const w = (name: string, shape: number[]): Value => b.weight(name, randn(shape, 0.4, rng));
  const x = b.input('input', 'float32', ['N', T, D]);
  const tnd = b.op('Transpose', [x], { perm: [1, 0, 2] }, 'to_tnd')[0];
  const qkv = b.op('Linear', [tnd, w('in_proj.weight', [3 * D, D]), w('in_proj.bias', [3 * D])], {}, 'in_proj')[0]; // [T,N,3D]
  const part = (i: number, nm: string): Value => b.op('Slice', [qkv], { axes: [-1], starts: [i * D], ends: [(i + 1) * D] }, `${nm}_slice`)[0];
  const heads = (v: Value, nm: string): Value => b.op('Reshape', [v], { shape: [T, -1, d] }, `${nm}_heads`)[0]; // [T, H·N, d]
  let q = b.op('Transpose', [heads(part(0, 'q'), 'q')], { perm: [1, 0, 2] }, 'q_t')[0]; // [H·N, T, d]
  q = b.op('Div', [q, b.weight('sqrt_d', new Tensor(Float32Array.of(Math.sqrt(d)), []))], {}, 'q_scaled')[0];
  const k = b.op('Transpose', [heads(part(1, 'k'), 'k')], { perm: [1, 2, 0] }, 'k_t')[0]; // [H·N, d, T]
  const v = b.op('Transpose', [heads(part(2, 'v'), 'v')], { perm: [1, 0, 2] }, 'v_t')[0];
  const p = b.op('Softmax', [b.op('MatMul', [q, k], {}, 'scores')[0]], { axis: -1 }, 'probs')[0];
  let o = b.op('Transpose', [b.op('MatMul', [p, v], {}, 'mix')[0]], { perm: [1, 0, 2] }, 'mix_t')[0]; // [T, H·N, d]
  o = b.op('Reshape', [o], { shape: [-1, D] }, 'rows')[0]; // [T·N, D]
  o = b.op('Gelu', [b.op('Linear', [o, w('out_proj.weight', [D, D]), w('out_proj.bias', [D])], {}, 'out_proj')[0]], {}, 'act')[0];
  o = b.op('Reshape', [o], { shape: [T, -1, D] }, 'back')[0]; // [T, N, D]
  o = b.op('LayerNorm', [o, w('ln.weight', [D]), w('ln.bias', [D])], { axis: 2 }, 'ln')[0];
  o = b.op('Transpose', [o], { perm: [1, 0, 2] }, 'to_ntd')[0]; // [N, T, D]
  b.output(b.op('Add', [o, x], {}, 'res')[0]);
  const g = b.build();
  return GraphModel.create(g.graph, g.weights).eval();
}

test('toBatchFirst: every value of the rewritten graph is [N, ...]; moving only N costs nothing, head folds become 4-D transposes', () => {
  const m = torchAttention(new Rng(1));
  assert.equal(batchFirst(m.info), false);
  const info = toBatchFirst(m.info, new Map(m.namedWeights()));
  assert.ok(batchFirst(info));
  for (const ni of info.nodes) for (const o of ni.outputs) assert.ok(perSample(o.shape), `${ni.node.name}: ${o.shape}`);
  const ops = info.nodes.map((ni) => `${ni.node.op} ${ni.node.name}`);
  // [N,T,D] → [T,N,D] and back move only N: no Transpose node is left for them.
  assert.ok(!ops.includes('Transpose to_tnd') && !ops.includes('Transpose to_ntd'), ops.join(', '));
  const qt = info.nodes.find((ni) => ni.node.name === 'q_t')!;
  assert.deepEqual(qt.attrs.perm, [0, 2, 1, 3]);
  assert.deepEqual(qt.outputs[0].shape, ['N', 2, 5, 8]);
  const slice = info.nodes.find((ni) => ni.node.name === 'q_slice')!;
  assert.deepEqual(slice.outputs[0].shape, ['N', 5, 16]);
  // A graph already batch-first comes back as it is.
  const again = toBatchFirst(info, new Map(m.namedWeights()));
  assert.equal(again, info);
});

test('torch-layout attention (dense and LUT-NN) on the runtime equals the engine, at several batch sizes', () => {
  const rng = new Rng(2);
  const dense = torchAttention(rng);
  const lut = convertStructure(dense, { seed: 3 }).model.eval();
  for (const [what, m] of [['dense', dense], ['lut', lut]] as const) {
    const rtm = compile(m, { maxBatch: 3 });
    try {
      assert.ok(!rtm.summary().some((l) => /to_tnd|to_ntd/.test(l)), 'the batch moves vanish');
      for (const n of [1, 4]) {
        const x = randn([n, 5, 16], 1, rng);
        const want = noGrad(() => m.forward(x)).f32;
        const { d, m: mx } = maxDiff(rtm.run(x), want);
        assert.ok(d <= 1e-5 * (1 + mx), `${what} batch ${n}: max diff ${d}`);
      }
    } finally {
      rtm.dispose();
    }
  }
});

test('toBatchFirst refuses, naming the node, an op it cannot run on a value whose batch is not first, and a reshape that splits N', () => {
  {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 3, 4]);
    const t = b.op('Transpose', [x], { perm: [1, 0, 2] }, 'tnd')[0]; // [3, N, 4]
    const r = b.op('ReduceMean', [t], { axes: [0], keepdims: false }, 'mean_t')[0]; // [N, 4]
    b.output(r);
    const g = b.build();
    const m = GraphModel.create(g.graph, g.weights).eval();
    assert.throws(() => compile(m), (e: Error) => e instanceof ArgumentError && /lutnn\.load: node 'mean_t' \(ReduceMean\) reads 'tnd' \[3,N,4\], whose batch N is not its first dim/.test(e.message));
  }
  {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 3, 4]);
    const t = b.op('Transpose', [x], { perm: [1, 0, 2] }, 'tnd')[0]; // [3, N, 4]
    const s = b.op('Softmax', [t], { axis: 1 }, 'over_batch')[0];
    b.output(b.op('Transpose', [s], { perm: [1, 0, 2] }, 'back')[0]);
    const g = b.build();
    const m = GraphModel.create(g.graph, g.weights).eval();
    assert.throws(() => compile(m), /node 'over_batch' \(Softmax\) reads 'tnd' \[3,N,4\]/);
  }
  {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 6]);
    const t = b.op('Transpose', [x], { perm: [1, 0] }, 'cols')[0]; // [6, N]
    const flat = b.op('Reshape', [t], { shape: [-1] }, 'flat')[0]; // [6·N]: N inside, 6 before it
    const r = b.op('Reshape', [flat], { shape: [-1, 3] }, 'fold')[0]; // [2·N, 3]: no regrouping of the same floats
    b.output(b.op('Relu', [r], {}, 'r')[0]);
    const g = b.build();
    const m = GraphModel.create(g.graph, g.weights).eval();
    assert.throws(() => compile(m), (e: Error) => e instanceof ArgumentError && /lutnn\.load: node 'fold' \(Reshape\) reads 'flat' \[6\*N\].*the reshape to \[2\*N,3\] would split N/.test(e.message));
  }
});
