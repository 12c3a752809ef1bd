// Checks lutnn's ops (values and gradients) against PyTorch golden fixtures made by test/fixtures/golden/make_golden.py.
//
// Fixture values are the float64 autograd results rounded to float32 (see make_golden.py), so they are the
// true answer to float32 precision. lutnn computes in float32, so per element we require
//   |got - want| <= ATOL + RTOL * |want|   with RTOL = 1e-4, ATOL = 1e-5.
// make_golden.py verifies that PyTorch's own float32 computation of every case meets this same bound, so the
// bound is attainable by a correct float32 implementation; nothing here is loosened per op.
// The elementwise ops and take (each output element computed in float64 and rounded once, or copied) are held to
// a tighter bound, a few float32 ulps: RTOL 1e-6, ATOL 1e-7.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backward } from '../src/autograd/engine.js';
import { tensor } from '../src/tensor/create.js';
import { Tensor, type Shape } from '../src/tensor/tensor.js';
import { batchNorm, clip, conv2d, crossEntropy, gelu, hardswish, layerNorm, matmul, silu, take } from '../src/ops/index.js';

const RTOL = 1e-4;
const ATOL = 1e-5;
const TIGHT_RTOL = 1e-6;
const TIGHT_ATOL = 1e-7;

interface F32Json {
  shape: number[];
  data: number[];
}

interface Fixture<C> {
  op: string;
  torch: string;
  gradDtype: string;
  cases: C[];
}

function load<C>(file: string): Fixture<C> {
  const url = new URL(`./fixtures/golden/${file}`, import.meta.url);
  const fx = JSON.parse(readFileSync(url, 'utf8')) as Fixture<C>;
  assert.ok(typeof fx.torch === 'string' && fx.torch.length > 0, `${file}: missing torch version`);
  assert.equal(fx.gradDtype, 'float64->float32', `${file}: unexpected gradDtype`);
  assert.ok(fx.cases.length > 0, `${file}: no cases`);
  return fx;
}

/** A fresh float32 tensor from a fixture entry (optionally a leaf requiring grad). */
function t(j: F32Json, grad = false): Tensor {
  const x = new Tensor(Float32Array.from(j.data), j.shape);
  return grad ? x.requireGrad() : x;
}

function fmtIndex(flat: number, shape: Shape): string {
  const idx: number[] = [];
  let rem = flat;
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(rem % shape[d]);
    rem = Math.floor(rem / shape[d]);
  }
  return `[${idx.join(',')}]`;
}

/** Shape equality plus the element-wise tolerance; the message names the worst element. */
function assertClose(what: string, got: Tensor | null | undefined, want: F32Json, rtol = RTOL, atol = ATOL): void {
  assert.ok(got, `${what}: missing (expected shape [${want.shape.join(',')}])`);
  assert.deepEqual([...got.shape], want.shape, `${what}: shape [${got.shape.join(',')}] vs expected [${want.shape.join(',')}]`);
  const g = got.data;
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < want.data.length; i++) {
    const w = want.data[i];
    const excess = Math.abs(g[i] - w) - (atol + rtol * Math.abs(w));
    // NaN fails too: !(excess <= 0).
    if (!(excess <= 0)) {
      bad++;
      if (worst < 0 || !(excess <= worstExcess)) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (bad > 0) {
    const w = want.data[worst];
    assert.fail(
      `${what}: ${bad}/${want.data.length} elements out of tolerance (rtol ${rtol}, atol ${atol}); worst at ` +
        `${fmtIndex(worst, want.shape)}: got ${g[worst]}, expected ${w} (abs err ${Math.abs(g[worst] - w).toExponential(3)})`,
    );
  }
}

test('golden: assertClose rejects a perturbed value, a NaN and a wrong shape', () => {
  const want: F32Json = { shape: [2, 2], data: [1, -2, 0.5, 0] };
  assertClose('self', t(want), want);
  const off = t(want);
  off.f32[2] = 0.5 * (1 + 3e-4);
  assert.throws(() => assertClose('self', off, want), /worst at \[1,0\]/);
  const nan = t(want);
  nan.f32[3] = NaN;
  assert.throws(() => assertClose('self', nan, want), /1\/4 elements/);
  assert.throws(() => assertClose('self', t({ shape: [4], data: want.data }), want), /shape/);
});

// ---------------------------------------------------------------- matmul

interface MatmulCase {
  name: string;
  a: F32Json;
  b: F32Json;
  gy: F32Json;
  y: F32Json;
  ga: F32Json;
  gb: F32Json;
}

for (const c of load<MatmulCase>('matmul.json').cases) {
  test(`golden matmul ${c.name}`, () => {
    const a = t(c.a, true);
    const b = t(c.b, true);
    const y = matmul(a, b);
    assertClose(`matmul ${c.name} y`, y, c.y);
    backward(y, t(c.gy));
    assertClose(`matmul ${c.name} grad a`, a.grad, c.ga);
    assertClose(`matmul ${c.name} grad b`, b.grad, c.gb);
  });
}

// ---------------------------------------------------------------- conv2d

type Pair = number | [number, number];

interface ConvCase {
  name: string;
  options: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number };
  x: F32Json;
  weight: F32Json;
  bias: F32Json | null;
  gy: F32Json;
  y: F32Json;
  gx: F32Json;
  gweight: F32Json;
  gbias: F32Json | null;
}

for (const c of load<ConvCase>('conv2d.json').cases) {
  test(`golden conv2d ${c.name}`, () => {
    const x = t(c.x, true);
    const w = t(c.weight, true);
    const b = c.bias ? t(c.bias, true) : null;
    const y = conv2d(x, w, b, c.options);
    assertClose(`conv2d ${c.name} y`, y, c.y);
    backward(y, t(c.gy));
    assertClose(`conv2d ${c.name} grad x`, x.grad, c.gx);
    assertClose(`conv2d ${c.name} grad weight`, w.grad, c.gweight);
    if (b && c.gbias) assertClose(`conv2d ${c.name} grad bias`, b.grad, c.gbias);
  });
}

// ---------------------------------------------------------------- batch norm

interface BatchNormCase {
  name: string;
  training: boolean;
  momentum: number;
  eps: number;
  x: F32Json;
  weight: F32Json;
  bias: F32Json;
  runningMean: F32Json;
  runningVar: F32Json;
  gy: F32Json;
  y: F32Json;
  gx: F32Json;
  gweight: F32Json;
  gbias: F32Json;
  runningMeanAfter: F32Json;
  runningVarAfter: F32Json;
}

for (const c of load<BatchNormCase>('batchnorm.json').cases) {
  test(`golden batchNorm ${c.name}`, () => {
    const x = t(c.x, true);
    const w = t(c.weight, true);
    const b = t(c.bias, true);
    const rm = t(c.runningMean);
    const rv = t(c.runningVar);
    const y = batchNorm(x, w, b, rm, rv, { training: c.training, momentum: c.momentum, eps: c.eps });
    assertClose(`batchNorm ${c.name} y`, y, c.y);
    // Training mode updates the running stats in place (unbiased variance); eval mode leaves them as given.
    assertClose(`batchNorm ${c.name} running mean after`, rm, c.runningMeanAfter);
    assertClose(`batchNorm ${c.name} running var after`, rv, c.runningVarAfter);
    backward(y, t(c.gy));
    assertClose(`batchNorm ${c.name} grad x`, x.grad, c.gx);
    assertClose(`batchNorm ${c.name} grad weight`, w.grad, c.gweight);
    assertClose(`batchNorm ${c.name} grad bias`, b.grad, c.gbias);
  });
}

// ---------------------------------------------------------------- layer norm

interface LayerNormCase {
  name: string;
  normalizedShape: number[];
  eps: number;
  x: F32Json;
  weight: F32Json;
  bias: F32Json;
  gy: F32Json;
  y: F32Json;
  gx: F32Json;
  gweight: F32Json;
  gbias: F32Json;
}

for (const c of load<LayerNormCase>('layernorm.json').cases) {
  test(`golden layerNorm ${c.name}`, () => {
    const x = t(c.x, true);
    const w = t(c.weight, true);
    const b = t(c.bias, true);
    const y = layerNorm(x, c.normalizedShape, w, b, c.eps);
    assertClose(`layerNorm ${c.name} y`, y, c.y);
    backward(y, t(c.gy));
    assertClose(`layerNorm ${c.name} grad x`, x.grad, c.gx);
    assertClose(`layerNorm ${c.name} grad weight`, w.grad, c.gweight);
    assertClose(`layerNorm ${c.name} grad bias`, b.grad, c.gbias);
  });
}

// ---------------------------------------------------------------- cross-entropy

interface CrossEntropyCase {
  name: string;
  reduction: 'mean' | 'sum' | 'none';
  labelSmoothing: number;
  logits: F32Json;
  target: number[];
  gy: F32Json;
  loss: F32Json;
  glogits: F32Json;
}

for (const c of load<CrossEntropyCase>('cross_entropy.json').cases) {
  test(`golden crossEntropy ${c.name}`, () => {
    const z = t(c.logits, true);
    const target = tensor(c.target, [c.target.length], 'int32');
    const loss = crossEntropy(z, target, { reduction: c.reduction, labelSmoothing: c.labelSmoothing });
    assertClose(`crossEntropy ${c.name} loss`, loss, c.loss);
    backward(loss, t(c.gy));
    assertClose(`crossEntropy ${c.name} grad logits`, z.grad, c.glogits);
  });
}

// ---------------------------------------------------------------- elementwise activations and take

/**
 * max |got − want| over a fixture tensor, want taken as the float32 it spells (the JSON holds the shortest decimal
 * that round-trips it). Reported as a diagnostic; the assertion is assertClose's bound.
 */
function maxAbsErr(got: Tensor | null | undefined, want: F32Json): number {
  if (!got) return NaN;
  let m = 0;
  for (let i = 0; i < want.data.length; i++) {
    const e = Math.abs(got.data[i] - Math.fround(want.data[i]));
    m = Number.isNaN(e) ? NaN : Math.max(m, e);
  }
  return m;
}

interface UnaryCase {
  name: string;
  x: F32Json;
  gy: F32Json;
  y: F32Json;
  gx: F32Json;
}

/** y = f(x) and gx = d(sum(y·gy))/dx against the fixture, reporting the max abs errors. */
function checkUnary(ctx: { diagnostic: (msg: string) => void }, op: string, c: UnaryCase, f: (x: Tensor) => Tensor): void {
  const x = t(c.x, true);
  const y = f(x);
  assertClose(`${op} ${c.name} y`, y, c.y, TIGHT_RTOL, TIGHT_ATOL);
  backward(y, t(c.gy));
  assertClose(`${op} ${c.name} grad x`, x.grad, c.gx, TIGHT_RTOL, TIGHT_ATOL);
  ctx.diagnostic(`${op} ${c.name}: max abs err y ${maxAbsErr(y, c.y).toExponential(2)}, gx ${maxAbsErr(x.grad, c.gx).toExponential(2)}`);
}

for (const c of load<UnaryCase>('silu.json').cases) {
  test(`golden silu ${c.name}`, (ctx) => checkUnary(ctx, 'silu', c, silu));
}

// The 'kinks' case sits on x = ±3 (gradient −1/2 at −3, 3/2 at 3: hardswish_backward's convention).
for (const c of load<UnaryCase>('hardswish.json').cases) {
  test(`golden hardswish ${c.name}`, (ctx) => checkUnary(ctx, 'hardswish', c, hardswish));
}

for (const c of load<UnaryCase & { approximate: 'none' | 'tanh' }>('gelu.json').cases) {
  test(`golden gelu ${c.name}`, (ctx) => checkUnary(ctx, `gelu(${c.approximate})`, c, (x) => gelu(x, c.approximate)));
}

// Cases with min only, max only, both, ties on both bounds, and a bound (0.7) that rounds to float32 onto x.
for (const c of load<UnaryCase & { min: number | null; max: number | null }>('clip.json').cases) {
  test(`golden clip ${c.name}`, (ctx) => checkUnary(ctx, 'clip', c, (x) => clip(x, c.min, c.max)));
}

interface TakeCase {
  name: string;
  axis: number;
  indices: { shape: number[]; data: number[] };
  x: F32Json;
  gy: F32Json;
  y: F32Json;
  gx: F32Json;
}

for (const c of load<TakeCase>('take.json').cases) {
  test(`golden take ${c.name}`, (ctx) => {
    const x = t(c.x, true);
    const indices = new Tensor(Int32Array.from(c.indices.data), c.indices.shape, 'int32');
    const y = take(x, c.axis, indices);
    assertClose(`take ${c.name} y`, y, c.y, TIGHT_RTOL, TIGHT_ATOL);
    assert.equal(maxAbsErr(y, c.y), 0, `take ${c.name} y: a copy of x, so exact`);
    backward(y, t(c.gy));
    // float32 accumulation of repeated rows: within an ulp or two of the float64 sum.
    assertClose(`take ${c.name} grad x`, x.grad, c.gx, TIGHT_RTOL, TIGHT_ATOL);
    ctx.diagnostic(`take ${c.name}: max abs err y ${maxAbsErr(y, c.y).toExponential(2)}, gx ${maxAbsErr(x.grad, c.gx).toExponential(2)}`);
  });
}
