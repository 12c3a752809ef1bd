// Tests for the layers: Linear/Conv2d against direct loops, init bounds, BatchNorm2d statistics, Dropout, gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, GlobalAvgPool2d, LayerNorm, Linear, MaxPool2d, ReLU, Sequential,
} from './index.js';
import { Tensor } from '../tensor/tensor.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { ArgumentError, ShapeError } from '../errors.js';

function allClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])), `[${i}] ${got[i]} vs ${want[i]}`);
}

test('Linear computes x·Wᵀ + b for 2-D, 1-D and batched 3-D input', () => {
  const lin = new Linear(3, 2);
  lin.weight.f32.set([1, 2, 3, -1, 0, 0.5]); // W [2,3]
  lin.bias!.f32.set([0.5, -2]);
  const x = tensor([[1, 0, -1], [2, 1, 1]]);
  // row 0: [1−3+0.5, −1−0.5−2] ; row 1: [2+2+3+0.5, −2+0.5−2]
  assert.deepEqual(lin.forward(x).toArray(), [[-1.5, -3.5], [7.5, -3.5]]);
  assert.deepEqual(lin.forward(tensor([1, 0, -1])).toArray(), [-1.5, -3.5]);
  const x3 = randn([2, 4, 3], 1, new Rng(1));
  const y3 = lin.forward(x3);
  assert.deepEqual(y3.shape, [2, 4, 2]);
  const X = x3.f32;
  const want: number[] = [];
  for (let r = 0; r < 8; r++) {
    for (let o = 0; o < 2; o++) {
      let s = lin.bias!.f32[o];
      for (let i = 0; i < 3; i++) s += X[r * 3 + i] * lin.weight.f32[o * 3 + i];
      want.push(s);
    }
  }
  allClose(y3.f32, want);
  assert.throws(() => lin.forward(randn([2, 4])), (e: Error) => e instanceof ShapeError && e.message === 'Linear: input last dim 4 vs inFeatures 3 for [2,4]');
  const nb = new Linear(3, 2, { bias: false });
  assert.equal(nb.bias, null);
  assert.deepEqual(nb.namedParameters().map(([n]) => n), ['weight']);
});

test('init is U(−1/√fanIn, 1/√fanIn) for weights and biases', () => {
  const lin = new Linear(400, 300, { rng: new Rng(2) });
  const conv = new Conv2d(8, 16, 3, { groups: 2, rng: new Rng(2) }); // fanIn = 8/2·9 = 36
  for (const [t, fanIn] of [[lin.weight, 400], [lin.bias!, 400], [conv.weight, 36], [conv.bias!, 36]] as const) {
    const bound = 1 / Math.sqrt(fanIn);
    const d = t.f32;
    let maxAbs = 0;
    let sq = 0;
    for (const v of d) {
      maxAbs = Math.max(maxAbs, Math.abs(v));
      sq += v * v;
    }
    assert.ok(maxAbs <= bound, `${maxAbs} > ${bound}`);
    if (d.length > 1000) {
      assert.ok(maxAbs > 0.99 * bound);
      const std = Math.sqrt(sq / d.length);
      assert.ok(Math.abs(std - bound / Math.sqrt(3)) < 0.02 * bound, `std ${std}`);
    }
  }
  assert.deepEqual(conv.weight.shape, [16, 4, 3, 3]);
});

/** Direct convolution loop (NCHW, grouped, strided, padded, dilated). */
function naiveConv(x: Tensor, c: Conv2d): { data: number[]; shape: number[] } {
  const [n, cin, h, w] = x.shape;
  const [kh, kw] = c.kernelSize;
  const [sh, sw] = c.stride;
  const [ph, pw] = c.padding;
  const [dh, dw] = c.dilation;
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const cinG = cin / c.groups;
  const coutG = c.outChannels / c.groups;
  const X = x.f32;
  const W = c.weight.f32;
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let co = 0; co < c.outChannels; co++) {
      const g = Math.floor(co / coutG);
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = c.bias ? c.bias.f32[co] : 0;
          for (let ci = 0; ci < cinG; ci++)
            for (let a = 0; a < kh; a++)
              for (let bb = 0; bb < kw; bb++) {
                const y = i * sh - ph + a * dh;
                const z = j * sw - pw + bb * dw;
                if (y < 0 || y >= h || z < 0 || z >= w) continue;
                s += X[((b * cin + g * cinG + ci) * h + y) * w + z] * W[((co * cinG + ci) * kh + a) * kw + bb];
              }
          out.push(s);
        }
    }
  return { data: out, shape: [n, c.outChannels, oh, ow] };
}

test('Conv2d matches a direct convolution loop', () => {
  const rng = new Rng(4);
  const cases = [
    new Conv2d(3, 4, 3, { padding: 1, rng }),
    new Conv2d(4, 6, [3, 2], { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2, rng }),
    new Conv2d(2, 3, 1, { bias: false, rng }),
  ];
  for (const c of cases) {
    const x = randn([2, c.inChannels, 7, 6], 1, rng);
    const want = naiveConv(x, c);
    const y = c.forward(x);
    assert.deepEqual(y.shape, want.shape);
    allClose(y.f32, want.data);
  }
  assert.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), /divisible by groups 2/);
  assert.throws(() => new Conv2d(3, 4, 0), ArgumentError);
});

test('BatchNorm2d: batch statistics in training (updating running stats and the counter), running stats in eval', () => {
  const bn = new BatchNorm2d(2, { momentum: 0.5 });
  bn.weight.f32.set([2, 1]);
  bn.bias.f32.set([0, 1]);
  // x [2,2,1,2]: channel 0 values {1,3,5,7} (mean 4, biased var 5, unbiased 20/3); channel 1 all 2.
  const x = tensor([1, 3, 2, 2, 5, 7, 2, 2], [2, 2, 1, 2]);
  const y = bn.forward(x);
  const s = Math.sqrt(5 + 1e-5);
  allClose(y.f32, [(2 * (1 - 4)) / s, (2 * (3 - 4)) / s, 1, 1, (2 * (5 - 4)) / s, (2 * (7 - 4)) / s, 1, 1]);
  allClose(bn.runningMean.f32, [0.5 * 4, 0.5 * 2]);
  allClose(bn.runningVar.f32, [0.5 + 0.5 * (20 / 3), 0.5]);
  assert.equal(bn.numBatchesTracked.data[0], 1);
  bn.eval();
  const ye = bn.forward(x);
  const rv = 0.5 + 0.5 * (20 / 3);
  allClose([ye.f32[0], ye.f32[2]], [(2 * (1 - 2)) / Math.sqrt(rv + 1e-5), 1 + (2 - 1) / Math.sqrt(0.5 + 1e-5)]);
  assert.equal(bn.numBatchesTracked.data[0], 1, 'eval does not count batches');
  assert.throws(() => bn.forward(randn([2, 3, 2, 2])), /BatchNorm2d: expected \[N, 2, H, W\], got \[2,3,2,2\]/);

  // momentum null: cumulative average of the batch means.
  const cum = new BatchNorm2d(1, { momentum: null });
  cum.forward(tensor([1, 3], [2, 1, 1, 1]));
  cum.forward(tensor([5, 7], [2, 1, 1, 1]));
  allClose(cum.runningMean.f32, [(2 + 6) / 2]);
  assert.equal(cum.numBatchesTracked.data[0], 2);
});

test('Dropout: seeded masks in training, identity in eval', () => {
  const x = randn([1000], 1, new Rng(1));
  const d1 = new Dropout(0.25, { rng: new Rng(7) });
  const d2 = new Dropout(0.25, { rng: new Rng(7) });
  const y1 = d1.forward(x);
  assert.deepEqual([...y1.f32], [...d2.forward(x).f32]);
  let zeros = 0;
  y1.f32.forEach((v, i) => {
    if (v === 0) zeros++;
    else assert.ok(Math.abs(v - x.f32[i] / 0.75) < 1e-6);
  });
  assert.ok(zeros > 200 && zeros < 300, `${zeros} zeros`);
  d1.eval();
  assert.deepEqual([...d1.forward(x).f32], [...x.f32]);
  assert.throws(() => new Dropout(1), /p must be in \[0, 1\)/);
});

test('gradients through Sequential(Linear, ReLU, Linear) match finite differences', () => {
  const rng = new Rng(11);
  const net = new Sequential(new Linear(4, 5, { rng }), new ReLU(), new Linear(5, 3, { rng }));
  const x = randn([3, 4], 1, rng).requireGrad();
  const inputs = [x, ...net.parameters()];
  const r = gradCheck(() => net.forward(x), inputs, { eps: 1e-3 });
  assert.ok(r.ok, r.worst);
  // Every parameter received a gradient of its own shape.
  for (const p of net.parameters()) assert.deepEqual(p.grad?.shape, p.shape);
});

test('gradients through Conv2d + BatchNorm2d + GELU + pooling match finite differences', () => {
  // GELU, not ReLU: batch norm moves every pre-activation when a conv weight moves, and a ReLU kink within
  // eps of one of them would spoil the central difference.
  const rng = new Rng(12);
  const net = new Sequential(new Conv2d(2, 3, 3, { padding: 1, rng }), new BatchNorm2d(3), new GELU(), new AvgPool2d(2), new Flatten(), new Linear(12, 2, { rng }));
  const x = randn([2, 2, 4, 4], 1, rng).requireGrad();
  // Running stats change every call, but training-mode outputs do not depend on them.
  const r = gradCheck(() => net.forward(x), [x, ...net.parameters()], { eps: 1e-2, maxPerInput: 16 });
  assert.ok(r.ok, r.worst);
});

test('LayerNorm, GELU, pooling and Flatten layers forward to the ops with their settings', () => {
  const ln = new LayerNorm(4);
  const y = ln.forward(tensor([[1, 2, 3, 4]]));
  const m = 2.5;
  const v = 1.25;
  allClose(y.f32, [1, 2, 3, 4].map((t) => (t - m) / Math.sqrt(v + 1e-5)));
  allClose(new GELU().forward(tensor([1])).f32, [0.8413447460685429]);
  const img = randn([1, 2, 6, 6], 1, new Rng(3));
  assert.deepEqual(new MaxPool2d(2).forward(img).shape, [1, 2, 3, 3]);
  assert.deepEqual(new MaxPool2d(3, { stride: 1, padding: 1 }).forward(img).shape, [1, 2, 6, 6]);
  assert.deepEqual(new AvgPool2d([2, 3]).forward(img).shape, [1, 2, 3, 2]);
  const mp = new MaxPool2d(2).forward(tensor([1, 5, 2, 0], [1, 1, 2, 2]));
  assert.deepEqual([...mp.f32], [5]);
  assert.deepEqual(new Flatten().forward(img).shape, [1, 72]);
  assert.deepEqual(new Flatten(2).forward(img).shape, [1, 2, 36]);
  assert.equal(new GlobalAvgPool2d().forward(img).size, 2);
});
