// A quantized layer through a LUT multiplier at kernel speed: the engine's output for exact multipliers, the per-product model's sums for approximate ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { BATCH } from '../graph/dims.js';
import { GraphModel } from '../graph/model.js';
import { createMultiplier, lutMultiply, tLut, type LutMultiplier } from '../hw/multiplier.js';
import { lutLinearReference } from '../hw/multiplier-linear.js';
import { randn } from '../tensor/create.js';
import { quantizeActivations, quantizeWeights } from '../tensor/quantize.js';
import { Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { multiplierLayerForward } from './multiplier-layer.js';
import { quantizeModel } from './quantize.js';

/** x [N, 4, 7, 7] → conv a (6×4×3×3, pad 1) → conv b (6×2×3×3, stride 2, groups 3, signed input) → flatten → fc (5 × 96). */
function model(actBits: number, weightBits: number): GraphModel {
  const rng = new Rng(11);
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', [BATCH, 4, 7, 7]);
  const [c1] = b.op('Conv', [x, b.weight('a.weight', randn([6, 4, 3, 3], 0.4, rng)), b.weight('a.bias', randn([6], 0.1, rng))], { padding: [1, 1] }, 'a');
  const [c2] = b.op('Conv', [c1, b.weight('b.weight', randn([6, 2, 3, 3], 0.4, rng))], { padding: [1, 1], stride: [2, 2], groups: 3 }, 'b');
  const [f] = b.op('Flatten', [c2], {}, 'flatten');
  const [y] = b.op('Linear', [f, b.weight('fc.weight', randn([5, 96], 0.2, rng)), b.weight('fc.bias', randn([5], 0.1, rng))], {}, 'fc');
  b.output(y);
  const { graph, weights } = b.build();
  const float = GraphModel.create(graph, weights);
  return quantizeModel(float, [randn([16, 4, 7, 7], 1, new Rng(3))], { actBits, weightBits }).model.eval();
}

/** Each node's input and output on x. */
function trace(q: GraphModel, x: Tensor): Map<string, { x: Tensor; y: Tensor }> {
  const out = new Map<string, { x: Tensor; y: Tensor }>();
  noGrad(() => q.run([x], { hook: (n, ins, outs) => void out.set(n.node.name, { x: ins[0]!, y: outs[0] }) }));
  return out;
}

/** Per-product sums of a node through multiplier m (direct conv loops / lutLinearReference). */
function referenceSums(q: GraphModel, name: string, x: Tensor, m: LutMultiplier): number[] {
  const ni = q.info.nodes.find((n) => n.node.name === name)!;
  const w = q.weight(ni.node.inputs[1]);
  const s = q.weight(ni.node.inputs[3]).f32[0];
  const xq = quantizeActivations(x.f32, s, ni.attrs.act_bits as number);
  const { q: wq } = quantizeWeights(w.f32, w.shape[0], ni.attrs.weight_bits as number);
  if (ni.node.op === 'QLinear') {
    const [M, K] = w.shape;
    const N = xq.length / K;
    const W = new Int32Array(K * M);
    for (let o = 0; o < M; o++) for (let k = 0; k < K; k++) W[k * M + o] = wq[o * K + k];
    return [...lutLinearReference(m, Int32Array.from(xq), W, { N, K, M })];
  }
  const [N, Cin, H, Wd] = x.shape;
  const [Cout, CinG, kh, kw] = w.shape;
  const a = ni.attrs as unknown as { stride: number[]; padding: number[]; groups: number };
  const oh = Math.floor((H + 2 * a.padding[0] - kh) / a.stride[0]) + 1;
  const ow = Math.floor((Wd + 2 * a.padding[1] - kw) / a.stride[1]) + 1;
  const coutG = Cout / a.groups;
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const g = Math.floor(co / coutG);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = 0;
          for (let ci = 0; ci < CinG; ci++) {
            for (let ky = 0; ky < kh; ky++) {
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * a.stride[0] - a.padding[0] + ky;
                const ix = ox * a.stride[1] - a.padding[1] + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= Wd) continue;
                const av = xq[((n * Cin + g * CinG + ci) * H + iy) * Wd + ix];
                acc += lutMultiply(m, av, wq[((co * CinG + ci) * kh + ky) * kw + kx]);
              }
            }
          }
          out.push(acc);
        }
      }
    }
  }
  void Cin;
  return out;
}

const x = randn([3, 4, 7, 7], 1, new Rng(5));

test('exact multipliers (LUT-NA splits, sign-magnitude, T-LUT): the engine output bit for bit, one kernel pass', () => {
  const q = model(8, 9);
  const tr = trace(q, x);
  for (const m of [createMultiplier({ partsA: [4, 4], partsW: [5, 4] }), createMultiplier({ partsA: [2, 3, 3], partsW: [3, 3, 3], sign: 'magnitude' }), tLut()]) {
    for (const ni of q.info.nodes.filter((n) => n.node.op === 'QConv' || n.node.op === 'QLinear')) {
      const t = tr.get(ni.node.name)!;
      const bias = ni.node.inputs[2] ? q.weight(ni.node.inputs[2]) : null;
      const r = multiplierLayerForward(ni, t.x, q.weight(ni.node.inputs[1]), bias, q.weight(ni.node.inputs[3]).f32[0], m);
      assert.deepEqual(r.shape, t.y.shape);
      assert.deepEqual([...r.y], [...t.y.f32], `${m.name} ${ni.node.name}`);
      assert.deepEqual([...r.acc], [...r.exactAcc]);
      assert.equal(r.passes, 1);
    }
  }
});

test('approximate multipliers (dropped pairs, truncated entries, ones\' complement): the per-product model\'s sums on every layer', () => {
  for (const [ab, wb] of [[8, 9], [6, 5]] as const) {
    const q = model(ab, wb);
    const tr = trace(q, x);
    const h = (b: number): number[] => [Math.ceil(b / 2), Math.floor(b / 2)];
    const ms = [
      createMultiplier({ bitsA: ab, bitsW: wb, partsA: h(ab), partsW: h(wb), drop: [[1, 1]] }),
      createMultiplier({ bitsA: ab, bitsW: wb, partsA: h(ab), partsW: h(wb), truncate: [{ belowBit: 4, mode: 'round' }] }),
      createMultiplier({ bitsA: ab, bitsW: wb, partsA: [2, ab - 4, 2], partsW: [3, wb - 3], drop: [[2, 1]], truncate: [{ bits: 2 }] }),
      createMultiplier({ bitsA: ab, bitsW: wb, partsA: h(ab), partsW: h(wb), sign: 'ones' }),
    ];
    for (const m of ms) {
      for (const name of ['a', 'b', 'fc']) {
        const ni = q.info.nodes.find((n) => n.node.name === name)!;
        const t = tr.get(name)!;
        const bias = ni.node.inputs[2] ? q.weight(ni.node.inputs[2]) : null;
        const r = multiplierLayerForward(ni, t.x, q.weight(ni.node.inputs[1]), bias, q.weight(ni.node.inputs[3]).f32[0], m);
        const want = referenceSums(q, name, t.x, m);
        assert.deepEqual([...r.acc], want, `${m.name} ${name}`);
        assert.ok(r.passes > 1, `${m.name} ${name}: correction passes`);
        assert.ok(r.acc.some((v, k) => v !== r.exactAcc[k]), `${m.name} ${name}: the approximation changes some sum`);
        assert.ok(r.y.every(Number.isFinite));
      }
    }
  }
});

test('a multiplier of other operand widths, or a float node, is refused naming the layer', () => {
  const q = model(8, 9);
  const tr = trace(q, x);
  const ni = q.info.nodes.find((n) => n.node.name === 'a')!;
  const args = [tr.get('a')!.x, q.weight('a.weight'), q.weight('a.bias'), 0.1] as const;
  assert.throws(() => multiplierLayerForward(ni, ...args, createMultiplier({ bitsA: 8, bitsW: 8 })), (e: Error) => e instanceof ArgumentError && /'a'.*9-bit weights/.test(e.message));
  const flat = q.info.nodes.find((n) => n.node.name === 'flatten')!;
  assert.throws(() => multiplierLayerForward(flat, ...args, createMultiplier()), /is Flatten, expected QConv or QLinear/);
});
