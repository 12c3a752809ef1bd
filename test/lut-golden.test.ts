// Checks LutConv2d (the fused LUT-NN op on im2col rows) against PyTorch fixtures made by test/fixtures/golden/make_lut_golden.py.
//
// Fixture values are float64 results rounded to float32, from a PyTorch re-implementation of the official operator
// (cdist, softmax(−d·(softplus(θ)+1)), straight-through over an int8-quantized table). Per tensor we require
//   |got − want| <= ATOL·max|want| + RTOL·|want|
// with (RTOL, ATOL) = (1e-5, 1e-5) for the output and for the gradients. The script checks that
// PyTorch's own float32 run meets the same bounds, and that each case is far from argmin ties and int8 rounding
// boundaries, so float32 arithmetic must reproduce the codes and the hard output exactly up to rounding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backward } from '../src/autograd/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { LutConv2d } from '../src/lut/modules.js';
import { buildLut, encodeRows, quantizeLut } from '../src/ops/lut.js';

interface F32Json {
  shape: number[];
  data: number[];
}

interface LutCase {
  name: string;
  cin: number;
  cout: number;
  kernel: [number, number];
  stride: number;
  padding: number;
  subvecLen: number;
  k: number;
  temperature: number;
  bias: boolean;
  x: F32Json;
  centroids: F32Json;
  weight: F32Json;
  biasValue: F32Json | null;
  theta: F32Json;
  gy: F32Json;
  codes: number[];
  lutScale: number;
  out: F32Json;
  gx: F32Json;
  gcentroids: F32Json;
  gweight: F32Json;
  gbias: F32Json | null;
  gtheta: F32Json;
}

interface Fixture {
  torch: string;
  gradDtype: string;
  tolerance: { out: [number, number]; grad: [number, number] };
  cases: LutCase[];
}

const fx = JSON.parse(readFileSync(new URL('./fixtures/golden/lut_conv.json', import.meta.url), 'utf8')) as Fixture;
const OUT_TOL: [number, number] = [1e-5, 1e-5];
const GRAD_TOL: [number, number] = [1e-5, 1e-5];

function t(j: F32Json): Tensor {
  return new Tensor(Float32Array.from(j.data), j.shape);
}

function assertClose(what: string, got: Tensor | null, want: F32Json, [rtol, atol]: [number, number]): void {
  assert.ok(got, `${what}: missing`);
  assert.deepEqual([...got.shape], want.shape, `${what}: shape [${got.shape.join(',')}] vs [${want.shape.join(',')}]`);
  let maxAbs = 0;
  for (const w of want.data) maxAbs = Math.max(maxAbs, Math.abs(w));
  let bad = 0;
  let worst = '';
  let worstEx = 0;
  for (let i = 0; i < want.data.length; i++) {
    const w = want.data[i];
    const ex = Math.abs(got.data[i] - w) - (atol * maxAbs + rtol * Math.abs(w));
    if (!(ex <= 0)) {
      bad++;
      if (!(ex <= worstEx)) {
        worstEx = ex;
        worst = `[${i}] got ${got.data[i]} want ${w}`;
      }
    }
  }
  assert.equal(bad, 0, `${what}: ${bad}/${want.data.length} out of tolerance (rtol ${rtol}, atol ${atol}·max|want|); worst ${worst}`);
}

test('lut golden: fixture header and tolerances match this test', () => {
  assert.ok(fx.torch.length > 0);
  assert.equal(fx.gradDtype, 'float64->float32');
  assert.deepEqual(fx.tolerance.out, OUT_TOL);
  assert.deepEqual(fx.tolerance.grad, GRAD_TOL);
  assert.ok(fx.cases.length >= 2);
});

test('lut golden: assertClose rejects a small perturbation', () => {
  const want: F32Json = { shape: [3], data: [1, -2, 0.5] };
  const got = t(want);
  assertClose('self', got, want, GRAD_TOL);
  got.f32[2] += 1e-4;
  assert.throws(() => assertClose('self', got, want, GRAD_TOL), /1\/3 out of tolerance/);
});

for (const c of fx.cases) {
  test(`lut golden ${c.name}: codes, int8 scale, hard output and every gradient`, () => {
    const m = new LutConv2d({
      cin: c.cin,
      cout: c.cout,
      kernel: c.kernel,
      stride: c.stride,
      padding: c.padding,
      subvecLen: c.subvecLen,
      k: c.k,
      bias: c.bias,
    });
    const sd: Record<string, Tensor> = { centroids: t(c.centroids), weight: t(c.weight), theta: t(c.theta) };
    if (c.biasValue) sd.bias = t(c.biasValue);
    m.loadStateDict(sd);
    assert.ok(Math.abs(m.temperature - c.temperature) < 1e-5 * c.temperature, `temperature ${m.temperature} vs ${c.temperature}`);

    const x = t(c.x).requireGrad();
    const codes = encodeRows(m.inputRows(x), m.centroids);
    assert.deepEqual([...codes], c.codes, 'codes');
    const { scale } = quantizeLut(buildLut(m.centroids, m.weight));
    assert.ok(Math.abs(scale - c.lutScale) <= 1e-6 * c.lutScale, `int8 scale ${scale} vs ${c.lutScale}`);

    const y = m.forward(x);
    assertClose(`${c.name} out`, y, c.out, OUT_TOL);
    backward(y, t(c.gy));
    assertClose(`${c.name} grad x`, x.grad, c.gx, GRAD_TOL);
    assertClose(`${c.name} grad centroids`, m.centroids.grad, c.gcentroids, GRAD_TOL);
    assertClose(`${c.name} grad weight`, m.weight.grad, c.gweight, GRAD_TOL);
    assertClose(`${c.name} grad theta`, m.theta.grad, c.gtheta, GRAD_TOL);
    if (c.gbias) assertClose(`${c.name} grad bias`, m.bias!.grad, c.gbias, GRAD_TOL);
  });
}
