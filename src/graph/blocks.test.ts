// Two whole blocks written with GraphBuilder and run by GraphModel against PyTorch (test/fixtures/golden/graph/
// resnet_block.json, transformer_block.json, made by make_graph_golden.py): a ResNet basic block with downsample in
// training mode and a pre-norm transformer block; forward, the input gradient and every parameter's gradient of
// L = sum(y·w), and the BatchNorm buffers after the forward.
//
// The goldens are float64 results rounded to float32; lutnn runs in float32. Per element we require
// |got − want| <= ATOL + RTOL·|want| (RTOL 1e-4, ATOL 1e-5, the single-op bound) and report the worst absolute
// error of the forward and of each gradient next to torch's own float32 error on the same block (stored in the
// fixture), as test diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backward } from '../autograd/engine.js';
import * as ops from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import { GraphBuilder, type Value } from './builder.js';
import { BATCH } from './dims.js';
import { GraphModel } from './model.js';

const RTOL = 1e-4;
const ATOL = 1e-5;

interface TJson {
  shape: number[];
  data: number[];
  dtype?: 'int32';
}

interface BlockFixture {
  op: string;
  gradDtype: string;
  config: Record<string, number | string | boolean>;
  x: TJson;
  params: Record<string, TJson>;
  buffers?: Record<string, TJson>;
  constants?: Record<string, TJson>;
  w: TJson;
  y: TJson;
  gx: TJson;
  grads: Record<string, TJson>;
  buffersAfter?: Record<string, TJson>;
  torchF32MaxAbsErr: Record<string, number>;
}

function load(file: string): BlockFixture {
  const fx = JSON.parse(readFileSync(new URL(`../../test/fixtures/golden/graph/${file}`, import.meta.url), 'utf8')) as BlockFixture;
  assert.equal(fx.gradDtype, 'float64->float32', `${file}: gradDtype`);
  return fx;
}

function toTensor(j: TJson): Tensor {
  return j.dtype === 'int32' ? new Tensor(Int32Array.from(j.data), j.shape) : new Tensor(Float32Array.from(j.data), j.shape);
}

/** Shape and element-wise bound; returns the largest absolute error. */
function assertClose(what: string, got: Tensor | null | undefined, want: TJson): number {
  assert.ok(got, `${what}: missing`);
  assert.deepEqual([...got.shape], want.shape, `${what}: shape [${got.shape.join(',')}] vs [${want.shape.join(',')}]`);
  let maxAbs = 0;
  let bad = 0;
  for (let i = 0; i < want.data.length; i++) {
    const w = Math.fround(want.data[i]);
    const err = Math.abs(got.data[i] - w);
    if (!(err <= maxAbs)) maxAbs = err;
    if (!(err <= ATOL + RTOL * Math.abs(w))) bad++;
  }
  assert.equal(bad, 0, `${what}: ${bad}/${want.data.length} elements out of tolerance (rtol ${RTOL}, atol ${ATOL}); max abs err ${maxAbs}`);
  return maxAbs;
}

/** Runs the model on the fixture's x, backpropagates sum(y·w), checks y, gx and every parameter's gradient. */
function checkBlock(t: { diagnostic(msg: string): void }, name: string, model: GraphModel, fx: BlockFixture): void {
  // Every trained weight of the graph is a PyTorch parameter, and the other way round.
  assert.deepEqual(model.namedParameters().map(([k]) => k).sort(), Object.keys(fx.grads).sort(), `${name}: parameters`);
  const x = toTensor(fx.x).requireGrad();
  const y = model.forward(x);
  const errs: string[] = [];
  const yErr = assertClose(`${name} y`, y, fx.y);
  backward(ops.sum(ops.mul(y, toTensor(fx.w))));
  const gxErr = assertClose(`${name} grad of x`, x.grad, fx.gx);
  let gMax = gxErr;
  let worst = 'x';
  for (const [k, p] of model.namedParameters()) {
    const e = assertClose(`${name} grad of ${k}`, p.grad, fx.grads[k]);
    errs.push(`${k} ${e.toExponential(2)}`);
    if (e > gMax) [gMax, worst] = [e, k];
  }
  const torchErr = fx.torchF32MaxAbsErr;
  const torchGrad = Math.max(...Object.entries(torchErr).filter(([k]) => k !== 'y').map(([, v]) => v));
  t.diagnostic(`${name}: max abs err forward ${yErr.toExponential(2)} (torch float32 ${torchErr.y.toExponential(2)}), ` +
    `gradients ${gMax.toExponential(2)} at ${worst} (torch float32 ${torchGrad.toExponential(2)}); grad x ${gxErr.toExponential(2)}`);
  t.diagnostic(`${name}: per parameter: ${errs.join(', ')}`);
}

test('graph block: ResNet basic block with downsample (training mode) vs PyTorch, forward and all gradients', (t) => {
  const fx = load('resnet_block.json');
  const { cin, stride, eps, momentum } = fx.config as { cin: number; stride: number; eps: number; momentum: number };
  const hw = fx.x.shape[2];
  const b = new GraphBuilder();
  const W = (k: string): Value => b.weight(k, toTensor(fx.params[k] ?? fx.buffers![k]));
  const conv = (x: Value, p: string, s: number, pad: number): Value =>
    b.op('Conv', [x, W(`${p}.weight`)], { stride: [s, s], padding: [pad, pad] }, p)[0];
  const bn = (x: Value, p: string): Value =>
    b.op('BatchNorm', [x, W(`${p}.weight`), W(`${p}.bias`), W(`${p}.running_mean`), W(`${p}.running_var`), W(`${p}.num_batches_tracked`)], { eps, momentum }, p)[0];
  const relu = (x: Value, name: string): Value => b.op('Relu', [x], {}, name)[0];
  const x = b.input('x', 'float32', [BATCH, cin, hw, hw]);
  let h = relu(bn(conv(x, 'conv1', stride, 1), 'bn1'), 'relu1'); // [N, cout, hw/2, hw/2]
  h = bn(conv(h, 'conv2', 1, 1), 'bn2');
  const shortcut = bn(conv(x, 'downsample.0', stride, 0), 'downsample.1');
  const y = relu(b.op('Add', [h, shortcut], {}, 'add')[0], 'relu2');
  b.output(y);
  const { graph, weights } = b.build();
  const model = GraphModel.create(graph, weights).train(true);
  assert.deepEqual(model.info.values.get(y.name)!.shape, [BATCH, fx.y.shape[1], fx.y.shape[2], fx.y.shape[3]]);
  checkBlock(t, 'resnet block', model, fx);
  // Training mode updated the running statistics and counted the batch, as PyTorch did.
  for (const [k, want] of Object.entries(fx.buffersAfter!)) {
    const got = model.weight(k);
    if (want.dtype === 'int32') assert.deepEqual([...got.data], want.data, `${k} after`);
    else assertClose(`resnet block ${k} after`, got, want);
  }
});

test('graph block: pre-norm transformer block (MHA + MLP) vs PyTorch, forward and all gradients', (t) => {
  const fx = load('transformer_block.json');
  const { tokens: T, dim: D, heads: H, eps } = fx.config as { tokens: number; dim: number; heads: number; eps: number };
  const hd = D / H;
  const b = new GraphBuilder();
  const W = (k: string): Value => b.weight(k, toTensor(fx.params[k] ?? fx.constants![k]));
  const ln = (x: Value, p: string): Value => b.op('LayerNorm', [x, W(`${p}.weight`), W(`${p}.bias`)], { axis: -1, eps }, p)[0];
  const lin = (x: Value, p: string): Value => b.op('Linear', [x, W(`${p}.weight`), W(`${p}.bias`)], {}, p)[0];
  /** [N, T, D] → [N, T, H, hd] → permuted by `perm`. */
  const heads = (v: Value, perm: number[], name: string): Value =>
    b.op('Transpose', [b.op('Reshape', [v], { shape: [0, 0, H, hd] }, `${name}.split`)[0]], { perm }, `${name}.heads`)[0];
  const x = b.input('x', 'float32', [BATCH, T, D]);
  const h = ln(x, 'ln1');
  const q = heads(lin(h, 'attn.q'), [0, 2, 1, 3], 'attn.q'); // [N, H, T, hd]
  const k = heads(lin(h, 'attn.k'), [0, 2, 3, 1], 'attn.k'); // [N, H, hd, T]
  const v = heads(lin(h, 'attn.v'), [0, 2, 1, 3], 'attn.v'); // [N, H, T, hd]
  const scores = b.op('Mul', [b.op('MatMul', [q, k], {}, 'attn.scores')[0], W('attn.scale')], {}, 'attn.scaled')[0]; // [N, H, T, T]
  const att = b.op('Softmax', [scores], { axis: -1 }, 'attn.softmax')[0];
  const o = b.op('MatMul', [att, v], {}, 'attn.mix')[0]; // [N, H, T, hd]
  const merged = b.op('Reshape', [b.op('Transpose', [o], { perm: [0, 2, 1, 3] }, 'attn.merge')[0]], { shape: [0, 0, D] }, 'attn.concat')[0]; // [N, T, D]
  const x1 = b.op('Add', [x, lin(merged, 'attn.proj')], {}, 'residual1')[0];
  const m = lin(b.op('Gelu', [lin(ln(x1, 'ln2'), 'mlp.fc1')], { approximate: 'none' }, 'mlp.gelu')[0], 'mlp.fc2');
  const y = b.op('Add', [x1, m], {}, 'residual2')[0];
  b.output(y);
  const { graph, weights } = b.build();
  const model = GraphModel.create(graph, weights);
  assert.deepEqual(model.info.values.get(y.name)!.shape, [BATCH, T, D]);
  // The attention scale is a constant (a buffer), not a trained parameter.
  assert.equal(model.info.roles.get('attn.scale'), 'buffer');
  checkBlock(t, 'transformer block', model, fx);
  assert.equal(model.weight('attn.scale').grad, null);
});
