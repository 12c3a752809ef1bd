// Every zoo model, dense and in its LUT-NN form (convertStructure: default layers, seeded centroids), exported to ONNX and
// run in onnxruntime-node against lutnn's forward (src/io/onnx-export.test.ts checks codes bit for bit on smaller models).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { noGrad } from '../src/autograd/engine.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { convertStructure } from '../src/lut/convert.js';
import { createModel, listModels } from '../src/nn/zoo.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import type { GraphModel } from '../src/graph/model.js';
import type { Tensor } from '../src/tensor/tensor.js';

/** ONNX output vs lutnn's eval forward (relative L2 error), and how many LUT codes the ONNX graph output. */
async function compare(model: GraphModel, x: Tensor): Promise<{ rel: number; codes: number; ms: number }> {
  model.eval();
  const t0 = performance.now();
  const res = exportOnnx(model, { codes: true });
  const session = await ort.InferenceSession.create(res.bytes, { intraOpNumThreads: 2 });
  const out = await session.run({ input: new ort.Tensor('float32', x.f32, [...x.shape]) });
  const ms = performance.now() - t0;
  const y = noGrad(() => model.forward(x));
  const got = out.output.data as Float32Array;
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.size; i++) {
    num += (got[i] - y.f32[i]) ** 2;
    den += y.f32[i] ** 2;
  }
  let codes = 0;
  for (const o of res.extraOutputs) codes += (out[o.name].data as BigInt64Array).length;
  return { rel: Math.sqrt(num / Math.max(den, 1e-30)), codes, ms };
}

for (const { name, inputShape } of listModels()) {
  test(`zoo ${name}: dense and LUT-NN graphs exported to ONNX run in onnxruntime-node with lutnn's outputs`, async (t) => {
    const dense = createModel(name, { rng: new Rng(11) }).eval();
    const x = randn([1, ...inputShape], 1, new Rng(12));
    const d = await compare(dense, x);
    t.diagnostic(`${name} dense: relative L2 error ${d.rel.toExponential(2)} (${d.ms.toFixed(0)} ms export + run)`);
    assert.ok(d.rel < 1e-5, `${name} dense: relative error ${d.rel}`);
    if (name === 'mlp') return; // its only Linear after the first is the last one: nothing to convert by default
    const lut = convertStructure(dense, { seed: 1 }).model.eval();
    const l = await compare(lut, x);
    t.diagnostic(`${name} LUT: relative L2 error ${l.rel.toExponential(2)}, ${l.codes} codes (${l.ms.toFixed(0)} ms)`);
    assert.ok(l.codes > 0);
    assert.ok(l.rel < 1e-3, `${name} LUT: relative error ${l.rel}`);
  });
}
