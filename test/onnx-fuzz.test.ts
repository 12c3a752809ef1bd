// Fuzzing of the ONNX import (test/onnx-fuzz.ts): 3,000 seeded mutants of small ONNX files, each ends in a model or a LutnnError, quickly.
// bench/fuzz-onnx-import.ts runs any number of cases (the 100,000) with the same mutator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzSeeds } from './onnx-fuzz-seeds.js';
import { fuzzImport } from './onnx-fuzz.js';

test('fuzzed ONNX files (truncations, byte flips, huge dims, wrong data lengths, rewired graphs) end in a model or a LutnnError', (t) => {
  const seeds = fuzzSeeds();
  const r = fuzzImport(seeds.map((s) => s.bytes), 3000, 1);
  t.diagnostic(`${seeds.length} seed files; ${r.cases} cases in ${r.seconds.toFixed(1)} s: ${JSON.stringify(r.outcomes)}; slowest ${r.maxMs.toFixed(0)} ms (${r.slowest?.kind})`);
  assert.deepEqual(r.crashes, []);
  assert.ok(r.maxMs < 5000, `slowest case ${r.maxMs} ms (${JSON.stringify(r.slowest)})`);
  // The mutants reach every outcome: malformed files, unsupported ops, and models that still import.
  for (const k of ['model', 'FormatError', 'OnnxUnsupportedError']) assert.ok((r.outcomes[k] ?? 0) > 0, `no case ended in ${k}: ${JSON.stringify(r.outcomes)}`);
  assert.equal(Object.values(r.outcomes).reduce((a, b) => a + b, 0), r.cases);
});
