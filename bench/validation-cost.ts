// What validating a model file costs against loading it: models/fmnist-cnn.safetensors (version 1, as shipped) and the
// same model as a version 2 file, in one process, medians of interleaved repetitions of CPU time (process.cpuUsage:
// user + system, so the figures hold on a shared machine; the garbage collector's helper threads count too).
//   npx tsx bench/validation-cost.ts [--reps 100] [--json] [FILE.safetensors]
// Two measures. (1) Whole loads: loadModel from the path, and the same pipeline without model-check.ts's checks and
// the metadata nesting scan (parse, JSON, graph, analysis, GraphModel); the difference of their medians is what the
// checks cost (allocation and garbage collection included, which timing stages alone misattributes). (2) Stages of
// loadModel timed one by one: parse (safetensors header and tensors), metadata (nesting scan + JSON.parse), graph (v1
// conversion or the v2 JSON reader), analysis (analyzeGraph: attributes, shapes, dtypes), memory (activation peak and
// tables), finite (every float), values (the records' checks: BatchNorm variances).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeGraph } from '../src/graph/analyze.js';
import { graphFromJson } from '../src/graph/serialize.js';
import type { TensorInfo } from '../src/graph/types.js';
import { checkFinite, checkWeightValues, modelMemory } from '../src/io/model-check.js';
import { GraphModel } from '../src/graph/model.js';
import { loadModel } from '../src/io/model-file.js';
import { serializeModel } from '../src/io/model-format.js';
import { graphFromV1 } from '../src/io/model-v1.js';
import { MAX_METADATA_DEPTH, jsonDepthExceeds, parseSafetensors } from '../src/io/safetensors-format.js';
import { loadSync } from '../src/runtime/node.js';

const args = process.argv.slice(2);
const reps = args.includes('--reps') ? Number(args[args.indexOf('--reps') + 1]) : 100;
const json = args.includes('--json');
const file = args.find((a) => a.endsWith('.safetensors')) ?? 'models/fmnist-cnn.safetensors';
const v1 = new Uint8Array(readFileSync(file));
const loaded = loadModel(v1, file);
const v2 = serializeModel(loaded.model, { dataset: loaded.meta.dataset });

/** CPU milliseconds (user + system) since process.cpuUsage() gave `c0`. */
const cpuMs = (c0: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};

const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};

/** One pass of loadModel's stages on `bytes`, each timed (ms). */
function stages(bytes: Uint8Array): Record<string, number> {
  const t: Record<string, number> = {};
  let t0 = process.cpuUsage();
  const lap = (k: string): void => {
    t[k] = cpuMs(t0);
    t0 = process.cpuUsage();
  };
  const st = parseSafetensors(bytes, 'm');
  lap('parse');
  const text = st.metadata.lutnn;
  if (jsonDepthExceeds(text, MAX_METADATA_DEPTH)) throw new Error('deep');
  lap('metadataDepth');
  const raw = JSON.parse(text);
  lap('metadataParse');
  const graph = raw.version === 1
    ? graphFromV1(raw.arch, raw.dataset.inputShape, new Map(Object.entries(st.tensors).map(([k, x]) => [k, x.shape])), 'm')
    : graphFromJson(raw.graph, 'm');
  lap('graph');
  const infos = new Map<string, TensorInfo>(Object.entries(st.tensors).map(([k, x]) => [k, { shape: x.shape, dtype: x.dtype }]));
  const info = analyzeGraph(graph, infos, { file: 'm' });
  lap('analysis');
  const weights = new Map(Object.entries(st.tensors));
  modelMemory(info, weights);
  lap('memory');
  checkFinite(weights, 'm');
  lap('finite');
  checkWeightValues(info, weights, 'm');
  lap('values');
  return t;
}

/** loadModel without the checks of model-check.ts and the nesting scan: what loading would cost without them. */
function loadUnchecked(bytes: Uint8Array): GraphModel {
  const st = parseSafetensors(bytes, 'm');
  const raw = JSON.parse(st.metadata.lutnn);
  const graph = raw.version === 1
    ? graphFromV1(raw.arch, raw.dataset.inputShape, new Map(Object.entries(st.tensors).map(([k, x]) => [k, x.shape])), 'm')
    : graphFromJson(raw.graph, 'm');
  const infos = new Map<string, TensorInfo>(Object.entries(st.tensors).map(([k, x]) => [k, { shape: x.shape, dtype: x.dtype }]));
  const model = GraphModel.fromAnalysis(analyzeGraph(graph, infos, { file: 'm' }), new Map(Object.entries(st.tensors)));
  model.eval();
  return model;
}

const VALIDATION = ['metadataDepth', 'graph', 'analysis', 'memory', 'finite', 'values'];
const CHECKS = ['metadataDepth', 'memory', 'finite', 'values'];
const tmpPath = join(mkdtempSync(join(tmpdir(), 'lutnn-vcost-')), 'm.safetensors');
const out: Record<string, unknown> = { command: 'validation-cost', file, reps };
for (const [name, bytes] of [['v1', v1], ['v2', v2]] as const) {
  writeFileSync(tmpPath, bytes);
  const times: Record<string, number[]> = {};
  const push = (k: string, ms: number): void => void (times[k] ??= []).push(ms);
  for (let r = 0; r < reps + 5; r++) {
    // Interleaved: loadModel from the file, the unchecked pipeline on the same bytes read from it, lutnn.load, stages.
    let t0 = process.cpuUsage();
    loadModel(tmpPath);
    const load = cpuMs(t0);
    t0 = process.cpuUsage();
    loadUnchecked(new Uint8Array(readFileSync(tmpPath)));
    const unchecked = cpuMs(t0);
    t0 = process.cpuUsage();
    loadSync(tmpPath).dispose();
    const rt = cpuMs(t0);
    const s = stages(bytes);
    if (r < 5) continue; // warm-up
    push('loadModel', load);
    push('unchecked', unchecked);
    push('lutnn.load', rt);
    for (const [k, v] of Object.entries(s)) push(k, v);
  }
  const med = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, +median(v).toFixed(3)]));
  const checks = med.loadModel - med.unchecked;
  out[name] = {
    bytes: bytes.length,
    medianMs: med,
    checksMs: +checks.toFixed(3),
    checksShareOfLoadModel: +(checks / med.loadModel).toFixed(4),
    checksShareOfRuntimeLoad: +(checks / med['lutnn.load']).toFixed(4),
    stageChecksMs: +CHECKS.reduce((a, k) => a + med[k], 0).toFixed(3),
    stageValidationMs: +VALIDATION.reduce((a, k) => a + med[k], 0).toFixed(3),
  };
}
out.machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadAverage: loadavg().map((x) => +x.toFixed(2)) };
if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
else {
  for (const v of ['v1', 'v2'] as const) {
    const r = out[v] as { bytes: number; medianMs: Record<string, number>; checksMs: number; checksShareOfLoadModel: number; checksShareOfRuntimeLoad: number; stageChecksMs: number; stageValidationMs: number };
    process.stdout.write(`${file} as ${v} (${r.bytes} bytes), medians of ${reps} (CPU ms): ${JSON.stringify(r.medianMs)}\n`);
    process.stdout.write(`  checks (nesting, memory, finite, values): ${r.checksMs} ms by whole loads = ${(100 * r.checksShareOfLoadModel).toFixed(2)}% of loadModel, ${(100 * r.checksShareOfRuntimeLoad).toFixed(2)}% of lutnn.load; ${r.stageChecksMs} ms by stages; with graph reading and analysis ${r.stageValidationMs} ms by stages\n`);
  }
  process.stdout.write(`machine: ${JSON.stringify(out.machine)}\n`);
}
