// Tests of LutLinear and LutConv2d: exactness against the dense layers, im2col rows, specs, state dicts and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { Conv2d, Flatten, Linear, Sequential } from '../nn/layers.js';
import { lowerModule } from '../nn/lower.js';
import { GraphModel } from '../graph/model.js';
import { loadModel } from '../io/model-file.js';
import { serializeModel } from '../io/model-format.js';
import { conv2dGeom } from '../ops/index.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { encodeRows, lutConv2d, lutForward, thetaForTemperature } from '../ops/lut.js';
import { LutConv2d, LutLinear } from './modules.js';
import { im2colRows } from '../ops/lut.js';

function assertNear(what: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol: number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= rtol * scale, `${what} [${i}]: got ${got[i]}, want ${want[i]} (max|want| ${scale})`);
  }
}

/** Centroids [C, K, V] whose k-th entry per codebook is row k's sub-vector (K = number of rows). */
function centroidsFromRows(rows: Tensor, V: number): Tensor {
  const [N, D] = rows.shape;
  const C = D / V;
  const P = new Tensor(new Float32Array(C * N * V), [C, N, V]);
  for (let k = 0; k < N; k++) for (let c = 0; c < C; c++) for (let v = 0; v < V; v++) P.f32[(c * N + k) * V + v] = rows.f32[k * D + c * V + v];
  return P;
}

test('LutLinear with centroids = the calibration rows reproduces the Linear layer exactly (float table)', () => {
  const rng = new Rng(1);
  const lin = new Linear(12, 5, { rng });
  const x = randn([2, 3, 12], 1, rng); // leading dims are kept
  const m = LutLinear.fromDense(lin, centroidsFromRows(new Tensor(x.f32, [6, 12]), 4), { quantize: false });
  assert.equal(m.ncodebooks, 3);
  assert.equal(m.k, 6);
  const y = m.forward(x);
  assert.deepEqual([...y.shape], [2, 3, 5]);
  assertNear('LutLinear vs Linear', y.f32, lin.forward(x).f32, 1e-6);
  assert.deepEqual([...m.inputRows(x).shape], [6, 12]);
  // The weight is the dense one regrouped: weight[c, v, m] = dense[m, c·V + v].
  for (let c = 0; c < 3; c++)
    for (let v = 0; v < 4; v++) for (let o = 0; o < 5; o++) assert.equal(m.weight.f32[(c * 4 + v) * 5 + o], lin.weight.f32[o * 12 + c * 4 + v]);
});

for (const cfg of [
  { name: '3x3, stride 2, padding 1', cin: 3, cout: 4, kernel: 3, stride: 2, padding: 1, dilation: 1, V: undefined, h: 7, w: 7 },
  { name: '3x2, stride [1,2], padding [2,0], dilation 2, no bias', cin: 2, cout: 3, kernel: [3, 2] as [number, number], stride: [1, 2] as [number, number], padding: [2, 0] as [number, number], dilation: 2, V: undefined, h: 6, w: 7, bias: false },
  { name: '1x1 with V = 4', cin: 8, cout: 5, kernel: 1, stride: 1, padding: 0, dilation: 1, V: 4, h: 4, w: 3 },
]) {
  test(`LutConv2d (${cfg.name}) with centroids = the im2col rows reproduces Conv2d exactly (float table)`, () => {
    const rng = new Rng(2);
    const conv = new Conv2d(cfg.cin, cfg.cout, cfg.kernel, { stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation, bias: cfg.bias ?? true, rng });
    const x = randn([2, cfg.cin, cfg.h, cfg.w], 1, rng);
    const probe = new LutConv2d({ cin: cfg.cin, cout: cfg.cout, kernel: cfg.kernel, stride: cfg.stride, padding: cfg.padding, dilation: cfg.dilation, subvecLen: cfg.V });
    const rows = probe.inputRows(x);
    const V = cfg.V ?? conv.kernelSize[0] * conv.kernelSize[1];
    assert.equal(probe.subvecLen, V);
    const m = LutConv2d.fromDense(conv, centroidsFromRows(rows, V), { quantize: false });
    const want = conv.forward(x);
    const y = m.forward(x);
    assert.deepEqual([...y.shape], [...want.shape]);
    assertNear('LutConv2d vs Conv2d', y.f32, want.f32, 1e-6);
    // With the int8 table the output moves, but stays within C·scale/2 (checked in lut.test.ts) — here just close.
    m.quantize = true;
    assertNear('int8 table', m.forward(x).f32, want.f32, 0.05);
  });
}

test('im2colRows: rows in (cin, ki, kj) column order, row (n, oy, ox); its backward (col2im) passes gradCheck', () => {
  const rng = new Rng(3);
  const x = randn([2, 3, 5, 4], 1, rng).requireGrad();
  const g = conv2dGeom(x.shape, [1, 3, 3, 2], { stride: [2, 1], padding: 1 });
  const rows = im2colRows(x, g);
  const P = g.outH * g.outW;
  assert.deepEqual([...rows.shape], [2 * P, 3 * 3 * 2]);
  for (let n = 0; n < 2; n++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let ci = 0; ci < 3; ci++)
          for (let ki = 0; ki < 3; ki++)
            for (let kj = 0; kj < 2; kj++) {
              const iy = oy * 2 - 1 + ki;
              const ix = ox - 1 + kj;
              const v = iy < 0 || iy >= 5 || ix < 0 || ix >= 4 ? 0 : x.f32[((n * 3 + ci) * 5 + iy) * 4 + ix];
              assert.equal(rows.f32[(n * P + oy * g.outW + ox) * 18 + ci * 6 + ki * 2 + kj], v);
            }
  const r = gradCheck((t) => im2colRows(t, g), [x]);
  assert.ok(r.ok, r.worst);
});

test('LutConv2d: gradients reach x, centroids, weight, bias and theta; x gradient equals lutForward on its rows', () => {
  const rng = new Rng(4);
  const m = new LutConv2d({ cin: 2, cout: 3, kernel: 3, padding: 1, k: 4, temperature: 0.5, rng });
  m.centroids.f32.forEach((_, i, a) => (a[i] *= 0.5));
  const x = randn([2, 2, 4, 4], 1, rng).requireGrad();
  const y = m.forward(x);
  const gy = randn(y.shape, 1, rng);
  backward(y, gy);
  // Same thing by hand: rows → lutForward → [N, M, H, W].
  const rows = m.inputRows(x).clone().requireGrad();
  const yr = lutForward(rows, m.centroids.detach(), m.weight.detach(), m.bias!.detach(), m.theta.detach());
  const G = new Float32Array(yr.size); // [N·H·W, M] from [N, M, H, W]
  for (let n = 0; n < 2; n++) for (let o = 0; o < 3; o++) for (let p = 0; p < 16; p++) G[(n * 16 + p) * 3 + o] = gy.f32[(n * 3 + o) * 16 + p];
  for (let n = 0; n < 2; n++) for (let o = 0; o < 3; o++) for (let p = 0; p < 16; p++) assert.equal(y.f32[(n * 3 + o) * 16 + p], yr.f32[(n * 16 + p) * 3 + o]);
  backward(yr, new Tensor(G, yr.shape));
  // x grad = col2im of the rows' grad: check it on a few pixels by summing the patches that contain them.
  const dx = new Float32Array(x.size);
  for (let n = 0; n < 2; n++)
    for (let oy = 0; oy < 4; oy++)
      for (let ox = 0; ox < 4; ox++)
        for (let ci = 0; ci < 2; ci++)
          for (let ki = 0; ki < 3; ki++)
            for (let kj = 0; kj < 3; kj++) {
              const iy = oy - 1 + ki;
              const ix = ox - 1 + kj;
              if (iy < 0 || iy >= 4 || ix < 0 || ix >= 4) continue;
              dx[((n * 2 + ci) * 4 + iy) * 4 + ix] += rows.grad!.f32[(n * 16 + oy * 4 + ox) * 18 + ci * 9 + ki * 3 + kj];
            }
  assertNear('dx', x.grad!.f32, dx, 1e-6);
  for (const p of [m.centroids, m.weight, m.bias!, m.theta]) {
    assert.ok(p.grad && p.grad.f32.some((v) => v !== 0), `${p.name} has a gradient`);
  }
});

for (const metric of ['l2', 'l1', 'chebyshev'] as const) {
  test(`lutConv2d (${metric}) on NCHW, one or several images per chunk, = lutForward on im2colRows`, () => {
    const rng = new Rng(7);
    const x0 = randn([3, 2, 5, 4], 1, rng);
    const g = conv2dGeom(x0.shape, [4, 2, 3, 3], { stride: 1, padding: 1 });
    const P0 = randn([2, 6, 9], 0.7, rng);
    const W0 = randn([2, 9, 4], 1, rng);
    const b0 = randn([4], 1, rng);
    const th0 = new Tensor(Float32Array.of(thetaForTemperature(0.4)), []);
    const gy = randn([3, 4, 5, 4], 1, rng);
    // Reference: rows → lutForward → [N, M, H, W] by hand.
    const xr = x0.clone().requireGrad();
    const ref = [P0, W0, b0, th0].map((t) => t.clone().requireGrad());
    const yr = lutForward(im2colRows(xr, g), ref[0], ref[1], ref[2], ref[3], { metric }); // [N·H·W, M]
    const Pn = 20;
    const gr = new Float32Array(yr.size);
    for (let n = 0; n < 3; n++) for (let m = 0; m < 4; m++) for (let p = 0; p < Pn; p++) gr[(n * Pn + p) * 4 + m] = gy.f32[(n * 4 + m) * Pn + p];
    backward(yr, new Tensor(gr, yr.shape));
    for (const chunkRows of [undefined, 1, 40, 45, 60]) {
      const x = x0.clone().requireGrad();
      const ps = [P0, W0, b0, th0].map((t) => t.clone().requireGrad());
      const y = lutConv2d(x, ps[0], ps[1], ps[2], ps[3], { kernel: [3, 3], padding: 1, metric, chunkRows });
      for (let n = 0; n < 3; n++) for (let m = 0; m < 4; m++) for (let p = 0; p < Pn; p++) assert.equal(y.f32[(n * 4 + m) * Pn + p], yr.f32[(n * Pn + p) * 4 + m]);
      backward(y, gy);
      assertNear(`dx (chunkRows ${chunkRows})`, x.grad!.f32, xr.grad!.f32, 1e-5);
      ps.forEach((t, i) => assertNear(`param ${i} (chunkRows ${chunkRows})`, t.grad!.f32, ref[i].grad!.f32, 1e-5));
    }
  });
}

test('temperature starts at 0.065; both layers lower to LutConv / LutLinear nodes and round-trip through a model file', () => {
  const rng = new Rng(5);
  const model = Sequential.named([
    ['conv', new LutConv2d({ cin: 2, cout: 4, kernel: 3, stride: 2, padding: 1, k: 8, metric: 'l1', rng })],
    ['flat', new Flatten(1)],
    ['fc', new LutLinear({ inFeatures: 4 * 3 * 3, outFeatures: 3, subvecLen: 6, k: 4, metric: 'chebyshev', bias: false, quantize: false, rng })],
  ]);
  const conv = model.at(0) as LutConv2d;
  assert.ok(Math.abs(conv.temperature - 0.065) < 1e-7);
  conv.theta.f32[0] = 3; // a trained temperature survives the file
  const g = lowerModule(model, { inputShape: [2, 5, 5] });
  const nodes = g.graph.nodes;
  assert.deepEqual(nodes.map((n) => n.op), ['LutConv', 'Flatten', 'LutLinear']);
  assert.deepEqual(nodes[0].attrs, { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], metric: 'l1', quantize: true });
  assert.deepEqual(nodes[2].attrs, { metric: 'chebyshev', quantize: false });
  assert.deepEqual(nodes[2].inputs, ['flat', 'fc.centroids', 'fc.weight', '', 'fc.theta']);
  assert.deepEqual(Object.keys(g.stateDict()), ['conv.centroids', 'conv.weight', 'conv.bias', 'conv.theta', 'fc.centroids', 'fc.weight', 'fc.theta']);
  const back = loadModel(serializeModel(g, {})).model;
  const x = randn([2, 2, 5, 5], 1, rng);
  model.eval();
  assert.deepEqual([...back.forward(x).f32], [...model.forward(x).f32]);
  assert.equal(back.weight('conv.theta').data[0], 3);
  const json = JSON.parse(JSON.stringify(g.graph));
  json.nodes[2].attrs.metric = 'cosine';
  assert.throws(() => GraphModel.create(json, new Map(g.namedWeights())), /node 'fc' \(LutLinear\): attribute 'metric' must be one of l2, l1, chebyshev, got 'cosine'/);
});

test('LutLinear/LutConv2d: inputRows feed encodeRows (the converter path)', () => {
  const rng = new Rng(6);
  const m = new LutConv2d({ cin: 3, cout: 2, kernel: 3, k: 5, rng });
  const x = randn([1, 3, 5, 5], 1, rng);
  const codes = encodeRows(m.inputRows(x), m.centroids);
  assert.equal(codes.length, 9 * 3);
  assert.ok(codes.every((c) => c < 5));
});

test('bad arguments: groups, divisibility, k, metric, shapes', () => {
  assert.throws(() => new LutConv2d({ cin: 4, cout: 4, kernel: 3, groups: 2 }), /groups must be 1/);
  assert.throws(() => new LutConv2d({ cin: 3, cout: 4, kernel: 3, subvecLen: 4 }), /D = 27 is not divisible by subvecLen 4/);
  assert.throws(() => new LutLinear({ inFeatures: 10, outFeatures: 2 }), /D = 10 is not divisible by subvecLen 16/);
  assert.throws(() => new LutLinear({ inFeatures: 16, outFeatures: 2, k: 300 }), /k must be <= 256/);
  assert.throws(() => new LutLinear({ inFeatures: 16, outFeatures: 2, metric: 'cos' as 'l2' }), ArgumentError);
  assert.throws(() => new LutConv2d({ cin: 3, cout: 4 } as never), /kernel is required/);
  const m = new LutLinear({ inFeatures: 16, outFeatures: 2 });
  assert.throws(() => m.forward(randn([2, 8])), /LutLinear\): centroids \[1,16,16\] cover C·V = 16 inputs, the layer has 8/);
  const c = new LutConv2d({ cin: 3, cout: 4, kernel: 3 });
  assert.throws(() => c.forward(randn([1, 2, 5, 5])), /LutConv\): centroids \[3,16,9\] cover C·V = 27 inputs, the layer has 18/);
  assert.throws(() => c.forward(randn([1, 3, 2, 2])), ShapeError);
  assert.throws(() => LutConv2d.fromDense(new Conv2d(4, 4, 3, { groups: 2 }), randn([4, 16, 9])), /groups must be 1/);
  assert.throws(() => LutLinear.fromDense(new Linear(12, 3), randn([4, 16, 4])), /cover C·V = 16 inputs, layer has 12/);
});
