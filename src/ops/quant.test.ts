// Tests of the quantized layers: rounding, hand-computed cases, exact integer sums (also where one float32 GEMM would
// not be exact), PyTorch goldens (test/fixtures/golden/quant.json), straight-through gradients and input checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backward } from '../autograd/engine.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { conv2d } from './conv.js';
import { linear } from './linear.js';
import { mul } from './arith.js';
import { sum } from './reduce.js';
import { exactWeightParts, qconv2d, qlinear, quantizeActivations, quantizeWeights, roundHalfEven } from './quant.js';

test('roundHalfEven rounds ties to even, like ONNX QuantizeLinear and torch.round', () => {
  const cases: [number, number][] = [[0.5, 0], [1.5, 2], [2.5, 2], [-0.5, 0], [-1.5, -2], [-2.5, -2], [0.49, 0], [0.51, 1], [-0.51, -1], [3, 3]];
  for (const [v, want] of cases) assert.equal(roundHalfEven(v) + 0, want, `round(${v})`);
});

test('quantizeWeights: per-channel scale max|W|/(2^(b-1)-1), the channel max maps to ±qmax, zero channels get scale 1', () => {
  const W = Float32Array.of(0.5, -1.0, 0.25, /* channel 1 */ 0, 0, 0, /* channel 2 */ 3, 1, -1.5);
  const { q, scales } = quantizeWeights(W, 3, 3); // qmax 3
  assert.deepEqual([...scales], [Math.fround(1 / 3), 1, 1]);
  // 0.5 / (1/3) = 1.5 → 2 (half to even); −1 → −3; 0.25·3 = 0.75 → 1; channel 2: 3/1 = 3, 1, −1.5 → −2.
  assert.deepEqual([...q], [2, -3, 1, 0, 0, 0, 3, 1, -2]);
  assert.throws(() => quantizeWeights(W, 2, 3), ShapeError);
  assert.throws(() => quantizeWeights(W, 3, 1), /bits must be an integer in \[2, 16\]/);
  assert.throws(() => quantizeWeights(Float32Array.of(NaN, 1), 1, 8), /non-finite weight/);
});

test('quantizeActivations: clamp to the signed range after rounding', () => {
  const q = quantizeActivations(Float32Array.of(0.26, -0.26, 10, -10, 0.05, 0.15), 0.1, 4); // range [−8, 7]
  assert.deepEqual([...q], [3, -3, 7, -8, 0, 2]); // 0.5 → 0, 1.5 → 2 (ties to even)
  assert.throws(() => quantizeActivations(Float32Array.of(1), 0, 8), /actScale must be a finite number > 0/);
  assert.throws(() => quantizeActivations(Float32Array.of(1), 1, 9), /bits must be an integer in \[2, 8\]/);
});

test('qlinear on a hand-computed case: integer sums, then act_scale·sw[c], then bias', () => {
  // s = 0.5: x = [1, −0.75, 3] → xq = [2, −2 (−1.5 → −2), 6]; 4-bit activations clamp 6 to 6 (range [−8, 7]).
  // W row 0 = [1, 0.5, −1] with 3-bit weights (qmax 3): sw = 1/3, wq = [3, 2 (1.5 → 2), −3]; acc = 6 − 4 − 18 = −16.
  // W row 1 = [0, 0, 2]: sw = 2/3, wq = [0, 0, 3]; acc = 18.
  const x = tensor([1, -0.75, 3], [1, 3]);
  const w = tensor([1, 0.5, -1, 0, 0, 2], [2, 3]);
  const y = qlinear(x, w, tensor([0.25, -1]), 0.5, { actBits: 4, weightBits: 3 });
  const s0 = Math.fround(0.5 * Math.fround(1 / 3));
  const s1 = Math.fround(0.5 * Math.fround(2 / 3));
  assert.deepEqual([...y.f32], [Math.fround(Math.fround(-16 * s0) + 0.25), Math.fround(Math.fround(18 * s1) - 1)]);
});

test('exactWeightParts: the parts rebuild the integers and keep every float32 partial sum below 2^24', () => {
  const rng = new Rng(3);
  const q = Float32Array.from({ length: 500 }, () => rng.int(511) - 255);
  for (const K of [10, 600, 5000, 65000]) {
    const { parts, shifts } = exactWeightParts(q, K, 128, 255);
    for (let i = 0; i < q.length; i++) assert.equal(parts.reduce((s, p, j) => s + p[i] * 2 ** shifts[j], 0), q[i]);
    for (const p of parts) assert.ok(K * 128 * Math.max(...p.map(Math.abs)) <= 2 ** 24, `K ${K}: part max ${Math.max(...p.map(Math.abs))}`);
    assert.equal(parts.length, K * 128 * 255 <= 2 ** 24 ? 1 : parts.length); // one part when it already fits
    if (K * 128 * 255 > 2 ** 24) assert.ok(parts.length >= 2);
  }
});

/** The integer reference: acc = Σ xq·wq in float64 (exact), y = fround(fround(acc·fround(s·sw)) + b). */
function refLinear(x: Float32Array, W: Float32Array, b: Float32Array | null, s: number, n: number, D: number, M: number, ab: number, wb: number): Float32Array {
  const xq = quantizeActivations(x, s, ab);
  const { q, scales } = quantizeWeights(W, M, wb);
  const y = new Float32Array(n * M);
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < M; m++) {
      let acc = 0;
      for (let k = 0; k < D; k++) acc += xq[i * D + k] * q[m * D + k];
      y[i * M + m] = Math.fround(Math.fround(acc * Math.fround(s * scales[m])) + (b ? b[m] : 0));
    }
  }
  return y;
}

test('qlinear equals the exact integer reference bit for bit, also with K·128·255 far above 2^24', () => {
  const rng = new Rng(7);
  for (const D of [17, 700, 3000]) {
    const n = 4;
    const M = 5;
    // Activations near the clip so that the integer sums are large (the float32 GEMM of the raw integers would round).
    const x = randn([n, D], 1, rng);
    const W = randn([M, D], 0.2, rng);
    for (let i = 0; i < W.size; i++) if (i % 7 === 0) W.f32[i] = Math.abs(W.f32[i]); // bias the sums away from 0
    for (let i = 0; i < x.size; i++) x.f32[i] = Math.abs(x.f32[i]) + 2;
    const b = randn([M], 0.1, rng);
    const s = 3.5 / 127;
    const y = qlinear(x, W, b, s, { actBits: 8, weightBits: 9 });
    const want = refLinear(x.f32, W.f32, b.f32, s, n, D, M, 8, 9);
    assert.deepEqual([...y.f32], [...want], `D = ${D}`);
  }
});

test('qconv2d equals the exact integer reference (im2col sums), with stride, padding and groups', () => {
  const rng = new Rng(11);
  const x = randn([2, 4, 6, 5], 1, rng);
  const W = randn([6, 2, 3, 3], 0.3, rng);
  const b = randn([6], 0.1, rng);
  const s = 2 / 127;
  const y = qconv2d(x, W, b, s, { stride: [2, 1], padding: 1, groups: 2, actBits: 8, weightBits: 9 });
  const xq = quantizeActivations(x.f32, s, 8);
  const { q, scales } = quantizeWeights(W.f32, 6, 9);
  const [, , oh, ow] = y.shape;
  for (let nb = 0; nb < 2; nb++) {
    for (let co = 0; co < 6; co++) {
      const grp = Math.floor(co / 3);
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let acc = 0;
          for (let ci = 0; ci < 2; ci++) {
            for (let ki = 0; ki < 3; ki++) {
              for (let kj = 0; kj < 3; kj++) {
                const iy = oy * 2 - 1 + ki;
                const ix = ox - 1 + kj;
                if (iy < 0 || iy >= 6 || ix < 0 || ix >= 5) continue;
                acc += xq[((nb * 4 + grp * 2 + ci) * 6 + iy) * 5 + ix] * q[((co * 2 + ci) * 3 + ki) * 3 + kj];
              }
            }
          }
          const want = Math.fround(Math.fround(acc * Math.fround(s * scales[co])) + b.f32[co]);
          assert.equal(y.f32[((nb * 6 + co) * oh + oy) * ow + ox], want);
        }
      }
    }
  }
});

interface TJ {
  shape: number[];
  data: number[];
}
interface GoldenCase {
  name: string;
  kind: 'linear' | 'conv';
  actBits: number;
  weightBits: number;
  conv: { stride: number; padding: number; groups: number } | null;
  x: TJ;
  weight: TJ;
  bias: TJ | null;
  actScale: number;
  xq: TJ;
  wq: TJ;
  weightScales: TJ;
  acc: TJ;
  y: TJ;
  gy: TJ;
  dx: TJ;
  dweight: TJ;
  dbias: TJ | null;
}

const golden = JSON.parse(readFileSync(new URL('../../test/fixtures/golden/quant.json', import.meta.url), 'utf8')) as { cases: GoldenCase[] };
const t = (j: TJ): Tensor => new Tensor(Float32Array.from(j.data), j.shape);

/** |got − want| ≤ atol·max|want| + rtol·|want| per element (float32 sums of gradients cancel: atol is per tensor). */
function close(what: string, got: ArrayLike<number>, want: TJ, rtol: number, atol: number): void {
  assert.equal(got.length, want.data.length, `${what}: length`);
  const scale = Math.max(...want.data.map(Math.abs));
  for (let i = 0; i < got.length; i++) {
    const w = Math.fround(want.data[i]);
    assert.ok(Math.abs(got[i] - w) <= atol * scale + rtol * Math.abs(w), `${what}[${i}]: ${got[i]} vs ${w}`);
  }
}

for (const c of golden.cases) {
  test(`PyTorch golden ${c.name}: integers, outputs and straight-through gradients`, () => {
    const x = t(c.x).requireGrad();
    const w = t(c.weight).requireGrad();
    const b = c.bias ? t(c.bias).requireGrad() : null;
    const bits = { actBits: c.actBits, weightBits: c.weightBits };
    // The integers themselves: exactly PyTorch's.
    assert.deepEqual([...quantizeActivations(x.f32, Math.fround(c.actScale), c.actBits)], c.xq.data.map((v) => v + 0)); // torch keeps −0
    const qw = quantizeWeights(w.f32, c.weight.shape[0], c.weightBits);
    assert.deepEqual([...qw.q], c.wq.data.map((v) => v + 0));
    assert.deepEqual([...qw.scales], c.weightScales.data.map(Math.fround));
    const y = c.kind === 'linear'
      ? qlinear(x, w, b, Math.fround(c.actScale), bits)
      : qconv2d(x, w, b, Math.fround(c.actScale), { ...bits, stride: c.conv!.stride, padding: c.conv!.padding, groups: c.conv!.groups });
    assert.deepEqual([...y.shape], c.y.shape);
    // PyTorch's float64 value rounded once; ours rounds twice (scale, bias): within 2 ulps.
    close('y', y.f32, c.y, 3e-7, 1e-7);
    backward(sum(mul(y, t(c.gy))));
    close('dx', x.grad!.f32, c.dx, 1e-5, 1e-6);
    close('dweight', w.grad!.f32, c.dweight, 1e-5, 1e-6);
    if (c.dbias) close('dbias', b!.grad!.f32, c.dbias, 1e-5, 1e-6);
  });
}

test('straight-through gradients equal the float layer on the dequantized operands, zero where x was clamped', () => {
  const rng = new Rng(5);
  const x = randn([2, 3, 5, 5], 1, rng).requireGrad();
  const W = randn([4, 3, 3, 3], 0.3, rng).requireGrad();
  const b = randn([4], 0.1, rng).requireGrad();
  const s = 1.2 / 127; // about a third of the activations clamp
  const gy = randn([2, 4, 5, 5], 1, rng);
  backward(sum(mul(qconv2d(x, W, b, s, { padding: 1, actBits: 8, weightBits: 9 }), gy)));
  // The reference: conv2d on x̂ = xq·s and Ŵ = wq·sw (leaves), dx masked.
  const xq = quantizeActivations(x.f32, s, 8);
  const xh = new Tensor(xq.map((v) => v * s), x.shape).requireGrad();
  const { q, scales } = quantizeWeights(W.f32, 4, 9);
  const wh = new Tensor(q.map((v, i) => v * scales[Math.floor(i / 27)]), W.shape).requireGrad();
  const bh = new Tensor(Float32Array.from(b.f32), [4]).requireGrad();
  backward(sum(mul(conv2d(xh, wh, bh, { padding: 1 }), gy)));
  let clamped = 0;
  for (let i = 0; i < x.size; i++) {
    const inside = Math.abs(Math.round(x.f32[i] / s)) <= 127;
    if (!inside) clamped++;
    assert.equal(x.grad!.f32[i], inside ? xh.grad!.f32[i] : 0);
  }
  assert.ok(clamped > 10, `${clamped} clamped activations`);
  assert.deepEqual([...W.grad!.f32], [...wh.grad!.f32]);
  assert.deepEqual([...b.grad!.f32], [...bh.grad!.f32]);
  // Linear: the same rule.
  const xl = randn([3, 8], 1, rng).requireGrad();
  const wl = randn([2, 8], 0.5, rng).requireGrad();
  backward(sum(qlinear(xl, wl, null, 1 / 127, { actBits: 8, weightBits: 9 })));
  const ql = quantizeWeights(wl.f32, 2, 9);
  const xhl = new Tensor(quantizeActivations(xl.f32, 1 / 127, 8).map((v) => v / 127), [3, 8]).requireGrad();
  const whl = new Tensor(ql.q.map((v, i) => v * ql.scales[Math.floor(i / 8)]), [2, 8]);
  backward(sum(linear(xhl, whl, null)));
  for (let i = 0; i < xl.size; i++) assert.equal(xl.grad!.f32[i], Math.abs(Math.round(xl.f32[i] * 127)) <= 127 ? xhl.grad!.f32[i] : 0);
});

test('input checks: bits, scale, shapes and the accumulator bound', () => {
  const x = randn([2, 8], 1, new Rng(1));
  const w = randn([3, 8], 1, new Rng(2));
  assert.throws(() => qlinear(x, w, null, 0.1, { actBits: 9, weightBits: 9 }), (e: Error) => e instanceof ArgumentError && /actBits must be an integer in \[2, 8\], got 9/.test(e.message));
  assert.throws(() => qlinear(x, w, null, 0.1, { actBits: 8, weightBits: 17 }), /weightBits must be an integer in \[2, 16\]/);
  assert.throws(() => qlinear(x, w, null, NaN, { actBits: 8, weightBits: 9 }), /actScale must be a finite number > 0, got NaN/);
  assert.throws(() => qlinear(x, randn([3, 7], 1), null, 0.1, { actBits: 8, weightBits: 9 }), ShapeError);
  assert.throws(() => qlinear(x, w, randn([2], 1), 0.1, { actBits: 8, weightBits: 9 }), /bias must have shape \[3\]/);
  assert.throws(() => qlinear(randn([1, 70000], 1), randn([1, 70000], 1), null, 0.1, { actBits: 8, weightBits: 9 }), /may overflow the int32 accumulator/);
  assert.throws(() => qconv2d(randn([1, 2, 4, 4], 1), randn([3, 2, 3, 3], 1), null, 0.1, { actBits: 8, weightBits: 9, padding: 5, stride: 1, groups: 3 }), ShapeError);
});
