// Fuzzing of model files (test/model-fuzz.ts): 3,000 seeded mutants of the shipped fmnist-cnn and small generated
// models through loadModel + forward, lutnn.load + run and ONNX export. bench/fuzz-model-files.ts runs any count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { modelSeeds } from './model-fuzz-seeds.js';
import { FAILURES, fuzzModels } from './model-fuzz.js';

test('fuzzed model files end in a finite answer or a LutnnError on the engine, the runtime and the ONNX export; engine = runtime; no case slow or over the memory bound', (t) => {
  const seeds = modelSeeds();
  // Quick mode: nesting at most 10^5 deep and node chains of at most 5,000 (the script goes to 10^6 and 49,990).
  const r = fuzzModels(seeds, 0, 3000, 1, { quick: true });
  const { examples, kinds, ...figures } = r;
  void kinds;
  t.diagnostic(`${seeds.length} seed files; ${JSON.stringify(figures)}`);
  assert.deepEqual(examples.map((e) => `case ${e.index} ${e.seed} [${e.kind}]: ${e.failures.join(',')}: ${e.detail}`), []);
  for (const f of FAILURES) assert.equal(r.failures[f], 0, f);
  // The mutants reach every outcome: answers (compared step by step), clean refusals of several kinds, and errors
  // at run time (non-finite outputs named by node), so the checks above are not vacuous.
  assert.ok(r.compared >= 300, `only ${r.compared} cases compared engine and runtime: ${JSON.stringify(r.outcomes)}`);
  for (const k of ['answer', 'FormatError', 'NonFiniteError']) assert.ok((r.outcomes[k] ?? 0) >= 20, `few cases ended in ${k}: ${JSON.stringify(r.outcomes)}`);
  assert.ok((r.onnx.exported ?? 0) >= 300, `few exports: ${JSON.stringify(r.onnx)}`);
  assert.equal(Object.values(r.outcomes).reduce((a, b) => a + b, 0), r.cases);
});
