// Quantized models (QConv / QLinear from lutnn quantize) on the runtime against the engine: bit-identical logits without
// batch norm; with batch norm folded into the output scale (fmnist-cnn) the bound stated in quant-step.ts; errors for
// malformed quantized parameters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../autograd/engine.js';
import { getNumThreads, setNumThreads } from '../backend/pool.js';
import { ArgumentError, FormatError, NonFiniteError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { BATCH } from '../graph/dims.js';
import { GraphModel } from '../graph/model.js';
import { loadModel, saveModel } from '../io/model-file.js';
import { quantizeModel } from '../quant/quantize.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { compile, loadSync } from './node.js';

const MODEL = fileURLToPath(new URL('../../models/fmnist-cnn.safetensors', import.meta.url));

const engine = (m: GraphModel, x: Tensor): Float32Array => noGrad(() => m.eval().forward(x)).f32;

/** x [N, 3, 9, 9] → conv 3×3 stride 2 pad 1 → relu → conv 1×1 → flatten → fc (5) → relu → fc (4): no batch norm. */
function smallModel(seed: number): GraphModel {
  const rng = new Rng(seed);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 3, 9, 9]);
  const [c1] = b.op('Conv', [x, b.weight('c1.weight', randn([6, 3, 3, 3], 0.4, rng)), b.weight('c1.bias', randn([6], 0.1, rng))], { stride: [2, 2], padding: [1, 1] }, 'c1');
  const [r1] = b.op('Relu', [c1], {}, 'r1');
  const [c2] = b.op('Conv', [r1, b.weight('c2.weight', randn([7, 6, 1, 1], 0.4, rng)), null], {}, 'c2');
  const [f] = b.op('Flatten', [c2], {}, 'flatten');
  const [l1] = b.op('Linear', [f, b.weight('fc1.weight', randn([5, 7 * 25], 0.1, rng)), b.weight('fc1.bias', randn([5], 0.1, rng))], {}, 'fc1');
  const [r2] = b.op('Relu', [l1], {}, 'r2');
  const [y] = b.op('Linear', [r2, b.weight('fc2.weight', randn([4, 5], 0.5, rng)), b.weight('fc2.bias', randn([4], 0.1, rng))], {}, 'fc2');
  b.output(y);
  const { graph, weights } = b.build();
  return GraphModel.create(graph, weights);
}

test('a quantized model without batch norm: runtime logits bit-identical to the engine (9- and 16-bit weights, 8- and 4-bit activations)', () => {
  for (const [actBits, weightBits] of [[8, 9], [4, 16], [8, 2]] as const) {
    const { model: q } = quantizeModel(smallModel(1), [randn([16, 3, 9, 9], 1, new Rng(2))], { actBits, weightBits });
    const rt = compile(q);
    try {
      assert.deepEqual(rt.summary().map((s) => s.split(':')[0]), ['qconv c1+r1', 'qconv c2', 'reshape flatten', 'qlinear fc1+r2', 'qlinear fc2']);
      const x = randn([37, 3, 9, 9], 1.5, new Rng(3));
      const want = engine(q, x);
      assert.deepEqual(rt.run(x), want, `${actBits}x${weightBits}`);
      assert.deepEqual(rt.run(x.f32.subarray(5 * 243, 6 * 243)), want.subarray(20, 24), 'one sample alone');
    } finally {
      rt.dispose();
    }
  }
});

/**
 * Folding batch norm into the output scale rounds twice (scale' = f32(f32(sx·sw)·s), shift' = f32(b·s + t)) where the
 * engine rounds the layer's output, then the BN: per element the two differ by at most a few float32 ulps of
 * |acc·scale'| + |shift'|. The next quantized layer may round such a value to the neighbouring integer when it sits on a
 * half step, so later layers differ by whole quantization steps at rare positions: the logits are compared with a
 * tolerance and the predicted classes must agree on almost every sample.
 */
test('quantized fmnist-cnn (BN folded into the output scales, ReLU fused): the engine\'s logits on the runtime', (t) => {
  const { model: dense } = loadModel(MODEL);
  const { model: q } = quantizeModel(dense, [randn([24, 1, 28, 28], 1, new Rng(7))]);
  const prev = getNumThreads();
  setNumThreads(1);
  const rt = compile(q);
  try {
    const names = rt.summary().map((s) => s.split(':')[0]);
    assert.deepEqual(names.slice(0, 2), ['qconv conv1+bn1+relu1', 'qconv conv2+bn2+relu2']);
    assert.ok(names.includes('qlinear fc1+relu5') && names.at(-1) === 'qlinear fc2', names.join(', '));
    const x = randn([64, 1, 28, 28], 1, new Rng(8));
    const want = engine(q, x);
    const got = rt.run(x);
    let d = 0;
    let m = 0;
    let agree = 0;
    for (let i = 0; i < 64; i++) {
      const row = (a: Float32Array): number[] => [...a.subarray(i * 10, i * 10 + 10)];
      const [g, w] = [row(got), row(want)];
      if (g.indexOf(Math.max(...g)) === w.indexOf(Math.max(...w))) agree++;
      for (let j = 0; j < 10; j++) {
        d = Math.max(d, Math.abs(g[j] - w[j]));
        m = Math.max(m, Math.abs(w[j]));
      }
    }
    t.diagnostic(`max |Δ logit| ${d} (max |logit| ${m}), ${agree}/64 predictions agree`);
    assert.ok(d <= 2e-2 * (1 + m), `max |Δ| ${d} vs max |logit| ${m}`);
    assert.ok(agree >= 63, `${agree}/64 predictions agree`);
  } finally {
    rt.dispose();
    setNumThreads(prev);
  }
});

test('QConv + BatchNorm + ReLU alone: the folded output scale is within 2^-20 of the engine\'s value (relative, plus 2^-20 absolute)', () => {
  const rng = new Rng(11);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 2, 8, 8]);
  const [c] = b.op('Conv', [x, b.weight('conv.weight', randn([5, 2, 3, 3], 0.5, rng)), b.weight('conv.bias', randn([5], 0.2, rng))], { padding: [1, 1] }, 'conv');
  const C = 5;
  const vec = (f: () => number): Tensor => new Tensor(Float32Array.from({ length: C }, f), [C]);
  const [n] = b.op('BatchNorm', [c, b.weight('bn.weight', vec(() => rng.uniform(-1.5, 1.5))), b.weight('bn.bias', vec(() => rng.uniform(-0.3, 0.3))), b.weight('bn.running_mean', vec(() => rng.uniform(-0.3, 0.3))), b.weight('bn.running_var', vec(() => rng.uniform(0.3, 2))), null], {}, 'bn');
  const [y] = b.op('Relu', [n], {}, 'relu');
  b.output(y);
  const { graph, weights } = b.build();
  const { model: q } = quantizeModel(GraphModel.create(graph, weights), [randn([8, 2, 8, 8], 1, new Rng(12))]);
  const rt = compile(q);
  try {
    assert.deepEqual(rt.summary().map((s) => s.split(':')[0]), ['qconv conv+bn+relu']);
    const xt = randn([9, 2, 8, 8], 1, new Rng(13));
    const want = engine(q, xt);
    const got = rt.run(xt);
    let exact = 0;
    for (let i = 0; i < got.length; i++) {
      assert.ok(Math.abs(got[i] - want[i]) <= 2 ** -20 * (Math.abs(want[i]) + 1), `element ${i}: ${got[i]} vs engine ${want[i]}`);
      if (got[i] === want[i]) exact++;
    }
    assert.ok(exact > got.length / 4, `${exact} of ${got.length} equal`); // most agree to the bit; the rest by ulps
  } finally {
    rt.dispose();
  }
});

test('malformed quantized parameters: act_scale 0, negative or overflowing, groups > 1, NaN inputs', () => {
  const { model: q } = quantizeModel(smallModel(4), [randn([8, 3, 9, 9], 1, new Rng(5))]);
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-qrt-'));
  try {
    const scale = q.namedBuffers().find(([k]) => k === 'c2.act_scale')![1];
    const keep = scale.f32[0];
    const w = q.namedParameters().find(([k]) => k === 'c2.weight')![1];
    const w0 = Float32Array.from(w.f32);
    for (const [v, re] of [[0, /c2.*act_scale must be a finite number > 0, got 0/], [-0.5, /act_scale must be a finite number > 0, got -0\.5/], [3e38, /act_scale 3[\d.]*e\+38 times the weight scale .* of output channel \d+ is Infinity/]] as const) {
      scale.f32[0] = v;
      if (v > 1) for (let i = 0; i < w.size; i++) w.f32[i] = w0[i] * 1000; // weight scales > 1: the product overflows
      const f = join(dir, 'bad.safetensors');
      saveModel(f, q, { info: {} });
      assert.throws(() => loadSync(f), (e: Error) => e instanceof FormatError && re.test(e.message), `act_scale ${v}`);
      assert.throws(() => compile(q), (e: Error) => e instanceof ArgumentError && /lutnn\.load: QConv 'c2'/.test(e.message) && re.test(e.message), `compile, act_scale ${v}`);
    }
    scale.f32[0] = keep;
    w.f32.set(w0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // NaN reaching a quantized layer (Inf − Inf in a float layer before it; run() checks the graph input only): a
  // NonFiniteError naming the step, not a trap or a silent 0.
  {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [BATCH, 2]);
    const [h] = b.op('Linear', [x, b.weight('big.weight', new Tensor(Float32Array.of(3e38, 3e38, 1, 1), [2, 2])), null], {}, 'big');
    const [y] = b.op('Linear', [h, b.weight('fc.weight', randn([3, 2], 0.5, new Rng(1))), null], {}, 'fc');
    b.output(y);
    const { graph, weights } = b.build();
    const { model: q } = quantizeModel(GraphModel.create(graph, weights), [new Tensor(Float32Array.of(1e-39, 0, 0, 1e-39), [2, 2])], { include: ['fc'] });
    const rt = compile(q);
    try {
      assert.throws(() => rt.run(new Tensor(Float32Array.of(0, 0, 10, -10), [2, 2])), (e: Error) => e instanceof NonFiniteError && /qlinear 'fc' input is NaN at element 0 of sample 1/.test(e.message));
    } finally {
      rt.dispose();
    }
  }
  // Grouped quantized convs are refused by the runtime with the node's name.
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 4, 5, 5]);
  const [y] = b.op('Conv', [x, b.weight('g.weight', randn([4, 2, 3, 3], 0.5, new Rng(1))), null], { groups: 2 }, 'g');
  b.output(y);
  const { graph, weights } = b.build();
  const { model: g } = quantizeModel(GraphModel.create(graph, weights), [randn([4, 4, 5, 5], 1, new Rng(2))]);
  assert.throws(() => compile(g), (e: Error) => e instanceof ArgumentError && /QConv 'g' has groups = 2; the runtime runs quantized convs with groups = 1/.test(e.message));
});
