// Checks every op record of the graph IR (the LUT / MADDNESS / quantized ones have their own goldens) against PyTorch: one-node graphs
// built with GraphBuilder and run by GraphModel, compared with test/fixtures/golden/graph/<Op>.json (made by
// test/fixtures/golden/make_graph_golden.py): forward values, inferred shapes, the gradients of L = Σ_k sum(y_k·w_k)
// with respect to every float input, buffers after the forward; then the same graphs' gradients by finite differences.
//
// Golden values are float64 autograd results rounded to float32 (the true answer to float32 precision). lutnn runs in
// float32, so per element |got − want| <= ATOL + RTOL·|want| with RTOL 1e-4, ATOL 1e-5, the bound the generator checks
// torch's own float32 run against. The worst absolute errors are reported per case (test diagnostics).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { backward } from '../autograd/engine.js';
import { gradCheck } from '../autograd/gradcheck.js';
import * as ops from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { GraphBuilder, type Value } from './builder.js';
import { BATCH, shapeAt, type Dim } from './dims.js';
import { GraphModel } from './model.js';
import { OP_TYPES, type Attrs, type IrDType, type OpType } from './types.js';

const RTOL = 1e-4;
const ATOL = 1e-5;
const FIXTURES = new URL('../../test/fixtures/golden/graph/', import.meta.url);

interface TJson {
  shape: number[];
  data: number[];
  dtype?: 'int32';
}

interface InputJson {
  name: string;
  kind: 'input' | 'init';
  batch: boolean;
  value: TJson;
}

interface OpCase {
  name: string;
  attrs: Attrs;
  training: boolean;
  inputs: (InputJson | null)[];
  w: TJson[];
  outputs: TJson[];
  grads: (TJson | null)[];
  after: (TJson | null)[];
}

interface OpFixture {
  op: string;
  torch: string;
  gradDtype: string;
  cases: OpCase[];
}

/** Ops with goldens here: all but the LUT layers and the quantized ones (src/ops/quant.test.ts, src/graph/ops/quant.test.ts). */
const GOLDEN_OPS = OP_TYPES.filter((op) => !op.startsWith('Lut') && !op.startsWith('Maddness') && op !== 'QConv' && op !== 'QLinear');

function load(op: string): OpFixture {
  const fx = JSON.parse(readFileSync(new URL(`${op}.json`, FIXTURES), 'utf8')) as OpFixture;
  assert.equal(fx.op, op, `${op}.json: op field`);
  assert.equal(fx.gradDtype, 'float64->float32', `${op}.json: gradDtype`);
  assert.ok(fx.cases.length > 0, `${op}.json: no cases`);
  return fx;
}

function toTensor(j: TJson): Tensor {
  return j.dtype === 'int32' ? new Tensor(Int32Array.from(j.data), j.shape) : new Tensor(Float32Array.from(j.data), j.shape);
}

/** Checks shape and the element-wise bound; returns the largest absolute error. */
function assertClose(what: string, got: Tensor | null | undefined, want: TJson, rtol = RTOL, atol = ATOL): number {
  assert.ok(got, `${what}: missing (expected [${want.shape.join(',')}])`);
  assert.deepEqual([...got.shape], want.shape, `${what}: shape [${got.shape.join(',')}] vs expected [${want.shape.join(',')}]`);
  let maxAbs = 0;
  let worst = -1;
  let bad = 0;
  for (let i = 0; i < want.data.length; i++) {
    const w = Math.fround(want.data[i]); // the fixture's float32 value
    const err = Math.abs(got.data[i] - w);
    if (!(err <= maxAbs)) maxAbs = err; // NaN sticks
    if (!(err <= atol + rtol * Math.abs(w))) {
      bad++;
      if (worst < 0) worst = i;
    }
  }
  if (bad > 0) assert.fail(`${what}: ${bad}/${want.data.length} elements out of tolerance (rtol ${rtol}, atol ${atol}); first at flat ${worst}: got ${got.data[worst]}, expected ${want.data[worst]}`);
  return maxAbs;
}

interface Built {
  model: GraphModel;
  /** The tensor of each input slot (graph input fed, or initializer), null for an absent one. */
  slots: (Tensor | null)[];
  feeds: Tensor[];
  /** The batch size the graph inputs imply (1 when none is batched). */
  n: number;
}

/** The one-node graph of a case; `values` replaces slot tensors (fresh random inputs for the gradient check). */
function build(op: OpType, c: OpCase, values: (Tensor | null)[] = c.inputs.map((i) => (i ? toTensor(i.value) : null))): Built {
  const b = new GraphBuilder();
  const names = new Set<string>();
  const feeds: Tensor[] = [];
  let n = 1;
  const ins = c.inputs.map((inp, i): Value | null => {
    if (!inp) return null;
    const t = values[i]!;
    const name = names.has(inp.name) ? `${inp.name}${i}` : inp.name;
    names.add(name);
    if (inp.kind === 'init') {
      // A float initializer with a golden gradient is trained: in a data slot the builder lists it in the graph's
      // params because it requires grad (weights in param slots train anyway). Without one it is a constant.
      if (c.grads[i]) t.requireGrad();
      return b.weight(name, t);
    }
    if (t.dtype === 'float32') t.requireGrad();
    feeds.push(t);
    if (inp.batch) n = t.shape[0];
    const shape: Dim[] = inp.batch ? [BATCH, ...t.shape.slice(1)] : [...t.shape];
    return b.input(name, t.dtype as IrDType, shape);
  });
  for (const v of b.op(op, ins, c.attrs, 'node')) b.output(v);
  const { graph, weights } = b.build();
  const model = GraphModel.create(graph, weights);
  model.train(c.training);
  return { model, slots: values, feeds, n };
}

/** L = Σ_k sum(y_k · w_k). */
function weightedLoss(ys: readonly Tensor[], ws: readonly Tensor[]): Tensor {
  let loss: Tensor | null = null;
  ys.forEach((y, k) => {
    const s = ops.sum(ops.mul(y, ws[k]));
    loss = loss ? ops.add(loss, s) : s;
  });
  return loss!;
}

const fmt = (e: number): string => e.toExponential(2);

// ---------------------------------------------------------------- golden values and gradients

test('graph goldens: a fixture for every op type but the LUT layers', () => {
  assert.ok(GOLDEN_OPS.length >= 30);
  for (const op of GOLDEN_OPS) assert.doesNotThrow(() => load(op), `${op}.json`);
});

test('graph goldens: assertClose rejects a perturbed value and a wrong shape', () => {
  const want: TJson = { shape: [2], data: [1, -2] };
  assert.equal(assertClose('self', toTensor(want), want), 0);
  assert.throws(() => assertClose('off', toTensor({ shape: [2], data: [1, -2.001] }), want), /1\/2 elements/);
  assert.throws(() => assertClose('nan', toTensor({ shape: [2], data: [NaN, -2] }), want), /1\/2 elements/);
  assert.throws(() => assertClose('shape', toTensor({ shape: [1, 2], data: [1, -2] }), want), /shape/);
});

for (const op of GOLDEN_OPS) {
  const fx = load(op);
  for (const c of fx.cases) {
    test(`graph golden ${op} ${c.name}`, (t) => {
      const { model, slots, feeds, n } = build(op, c);
      const ys = model.run(feeds);
      assert.equal(ys.length, c.outputs.length, `${op} ${c.name}: outputs`);
      let yErr = 0;
      ys.forEach((y, k) => {
        // The shape rule agrees with what the forward made, at this batch size.
        const inferred = model.info.values.get(model.graph.outputs[k])!.shape;
        assert.deepEqual(shapeAt(inferred, n), [...y.shape], `${op} ${c.name}: inferred [${inferred.join(',')}] at N=${n} vs forward [${y.shape.join(',')}]`);
        yErr = Math.max(yErr, assertClose(`${op} ${c.name} output ${k}`, y, c.outputs[k]));
      });
      if (ys.some((y) => y.requiresGrad)) backward(weightedLoss(ys, c.w.map(toTensor))); // a cast of integers has no gradient
      let gErr = 0;
      c.inputs.forEach((inp, i) => {
        const want = c.grads[i];
        if (!inp) return;
        if (want) gErr = Math.max(gErr, assertClose(`${op} ${c.name} grad of ${inp.name} (input ${i})`, slots[i]!.grad, want));
        else assert.equal(slots[i]!.grad, null, `${op} ${c.name}: input ${i} (${inp.name}) should get no gradient`);
        const after = c.after[i];
        if (after) assertClose(`${op} ${c.name} ${inp.name} after the forward`, slots[i], after, 1e-6, 1e-7);
        else if (inp.kind === 'init') assertClose(`${op} ${c.name} ${inp.name} unchanged`, slots[i], inp.value, 0, 0);
      });
      t.diagnostic(`max abs err: forward ${fmt(yErr)}, gradients ${fmt(gErr)}`);
    });
  }
}

// ---------------------------------------------------------------- finite differences

/** Fresh random values for float input `slot` of a case, in a range where the op is smooth (kinks kept 0.05 away). */
function randomInput(op: OpType, c: OpCase, slot: number, shape: readonly number[], rng: Rng): Float32Array {
  const size = shape.reduce((p, d) => p * d, 1);
  const away = (v: number, kinks: number[]): number => {
    for (const k of kinks) if (Math.abs(v - k) < 0.05) return v < k ? k - 0.05 : k + 0.05;
    return v;
  };
  const out = new Float32Array(size);
  if (op === 'MaxPool') {
    // A shuffled ramp 0.05 apart: the maximum of a window never changes under the ±0.01 steps.
    const perm = rng.permutation(size);
    for (let i = 0; i < size; i++) out[i] = (perm[i] - size / 2) * 0.05;
    return out;
  }
  for (let i = 0; i < size; i++) {
    let v = rng.uniform(-1.5, 1.5);
    if (op === 'Relu' || op === 'LeakyRelu') v = away(v, [0]);
    if (op === 'HardSwish') v = away(rng.uniform(-5, 5), [-3, 3]);
    if (op === 'Clip') {
      const lo = (c.attrs.min as number | null) ?? (c.attrs.max as number) - 2;
      const hi = (c.attrs.max as number | null) ?? lo + 2;
      v = away(rng.uniform(lo - 1, hi + 1), [lo, hi]);
    }
    if (op === 'Div' && slot === 1) v = (v < 0 ? -1 : 1) * rng.uniform(0.8, 1.6);
    out[i] = v;
  }
  return out;
}

for (const op of GOLDEN_OPS) {
  const fx = load(op);
  for (const c of fx.cases) {
    if (!c.grads.some((g) => g !== null)) continue;
    test(`graph gradcheck ${op} ${c.name}`, (t) => {
      const rng = new Rng(7);
      const values = c.inputs.map((inp, i) => {
        if (!inp) return null;
        if (!c.grads[i]) return toTensor(inp.value); // buffers and indices as in the fixture
        return new Tensor(randomInput(op, c, i, inp.value.shape, rng), inp.value.shape);
      });
      const { model, feeds } = build(op, c, values);
      const checked = values.filter((v, i): v is Tensor => v !== null && c.grads[i] !== null);
      const f = (): Tensor => {
        const ys = model.run(feeds);
        return ys.length === 1 ? ys[0] : ops.concat(ys.map((y) => ops.reshape(y, [-1])), 0);
      };
      const r = gradCheck(f, checked, { seed: 11 });
      t.diagnostic(`max rel err ${fmt(r.maxRelErr)}`);
      assert.ok(r.ok, `${op} ${c.name}: ${r.worst} (max rel err ${r.maxRelErr})`);
    });
  }
}
