// Issue 16's table of bad model files, one test per row with its example mutations, on version 1 and version 2 files:
// each ends in a finite answer or a clear LutnnError (no internal JS error, no hang, no huge allocation, no silent NaN),
// and engine and runtime give one answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { noGrad } from '../src/autograd/engine.js';
import { evaluateOnRuntime } from '../src/app/evaluate.js';
import { FormatError, LimitError, LutnnError, NonFiniteError } from '../src/errors.js';
import { GraphModel } from '../src/graph/model.js';
import { loadModel } from '../src/io/model-file.js';
import { serializeModel } from '../src/io/model-format.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { loadSync } from '../src/runtime/node.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';
import { evaluate } from '../src/train/metrics.js';
import { buildRaw, parseRaw, type RawFile, type RawTensor } from './model-fuzz-mutate.js';
import { modelSeeds, SHIPPED_MODEL } from './model-fuzz-seeds.js';
import { compareSteps, peakRss } from './model-fuzz.js';

/* eslint-disable @typescript-eslint/no-explicit-any */

/** Messages of JS engine errors that a lutnn error must not carry (the first row of the table). */
const INTERNAL = /Invalid typed array length|Invalid array length|Maximum call stack|Array buffer allocation failed|BigInt|RangeError|TypeError|Cannot read/;

const shippedV1 = new Uint8Array(readFileSync(SHIPPED_MODEL));
const shipped = loadModel(shippedV1, 'fmnist-cnn');
const shippedV2 = serializeModel(shipped.model, { dataset: shipped.meta.dataset });
const small = modelSeeds({ shipped: false });
const seed = (name: string): Uint8Array => small.find((s) => s.name === name)!.bytes;
/** The shipped fmnist-cnn as the version 1 file it is and as version 2; the small LUT CNN as both. */
const FILES = { 'v1 fmnist-cnn': shippedV1, 'v2 fmnist-cnn': shippedV2 } as const;
const LUT_FILES = { 'v1 lut-cnn': seed('lut-cnn (v1)'), 'v2 lut-cnn': seed('lut-cnn (v2)') } as const;

function mutate(bytes: Uint8Array, fn: (f: RawFile) => void): Uint8Array {
  const f = parseRaw(bytes);
  fn(f);
  return buildRaw(f);
}

/** The module (v1) or node (v2) named `name`: its args or attrs object, created when missing. */
function settings(f: RawFile, name: string): Record<string, unknown> {
  if (f.meta.version === 1) return f.meta.arch.root.children.find((c: any) => c.name === name).args;
  const n = f.meta.graph.nodes.find((x: any) => x.name === name);
  return (n.attrs ??= {});
}

const tensorOf = (f: RawFile, name: string): RawTensor => f.tensors.find((t) => t.name === name)!;

function setF32(f: RawFile, name: string, fn: (v: Float32Array) => void): void {
  const t = tensorOf(f, name);
  const v = new Float32Array(t.data.slice().buffer);
  fn(v);
  t.data = new Uint8Array(v.buffer);
}

interface Outcome {
  engine: Float32Array | Error;
  runtime: Float32Array | Error;
  onnx: 'exported' | Error | null;
  ms: number;
  rssGrowth: number;
}

/** Loads `bytes` on the engine (forward with the finite check, ONNX export) and on the runtime (run with the check). */
function run(bytes: Uint8Array, x?: Tensor, name = 'mutant.safetensors'): Outcome {
  const rss0 = peakRss();
  const t0 = performance.now();
  const attempt = <T>(fn: () => T): T | Error => {
    try {
      return fn();
    } catch (e) {
      return e as Error;
    }
  };
  let model: GraphModel | null = null;
  const engine = attempt(() => {
    model = loadModel(bytes, name).model;
    const input = x ?? randn([2, ...model.inputShape!], 1, new Rng(3));
    return noGrad(() => model!.run([input], { checkFinite: true })[0].f32);
  });
  const onnx = model ? attempt(() => (exportOnnx(model!), 'exported' as const)) : null;
  const runtime = attempt(() => {
    const rt = loadSync(bytes, { name, checkFinite: true });
    try {
      return rt.run(x ?? randn([2, ...rt.inputShape], 1, new Rng(3)));
    } finally {
      rt.dispose();
    }
  });
  return { engine, runtime, onnx, ms: performance.now() - t0, rssGrowth: peakRss() - rss0 };
}

/** Both paths refused with `cls`, messages matching `re`, no internal error inside, within 5 s. */
function refused(o: Outcome, cls: typeof LutnnError, re: RegExp, what: string): void {
  for (const [path, r] of [['engine', o.engine], ['runtime', o.runtime]] as const) {
    assert.ok(r instanceof cls, `${what}, ${path}: expected ${cls.name}, got ${r instanceof Error ? `${r.constructor.name}: ${r.message}` : 'an answer'}`);
    assert.match(r.message, re, `${what}, ${path}`);
    assert.doesNotMatch(r.message, INTERNAL, `${what}, ${path}`);
  }
  assert.ok(o.ms < 5000, `${what}: ${o.ms.toFixed(0)} ms`);
}

function answer(r: Float32Array | Error, what: string): Float32Array {
  if (r instanceof Error) assert.fail(`${what}: ${r.constructor.name}: ${r.message}`);
  assert.ok(r.every(Number.isFinite), `${what}: non-finite answer`);
  return r;
}

/**
 * One answer: both paths answer, every runtime step agrees with the engine's node on the same inputs (compareSteps:
 * float32 rounding, the LUT layers picking the same codes), and for dense models the logits agree within 1e-4 of
 * their scale end to end. (A LUT layer fed the runtime's rounding of its input instead of the engine's may flip a code
 * where two centroids are within an ulp, so end to end only the step-wise check holds for LUT models.)
 */
function sameAnswer(bytes: Uint8Array, x: Tensor | undefined, what: string): void {
  const o = run(bytes, x);
  const e = answer(o.engine, `${what}, engine`);
  const r = answer(o.runtime, `${what}, runtime`);
  const model = loadModel(bytes).model;
  const rt = loadSync(bytes, { maxBatch: 2 });
  try {
    const input = x ?? randn([2, ...model.inputShape!], 1, new Rng(3));
    assert.equal(compareSteps(model, rt, input), null, what);
  } finally {
    rt.dispose();
  }
  if (model.graph.nodes.some((n) => n.op.startsWith('Lut'))) return;
  let d = 0;
  let m = 0;
  for (let i = 0; i < e.length; i++) {
    d = Math.max(d, Math.abs(e[i] - r[i]));
    m = Math.max(m, Math.abs(e[i]));
  }
  assert.ok(d <= 1e-4 * (1 + m), `${what}: engine and runtime differ by ${d} (logits up to ${m})`);
}

test('row 1: absurd arguments and deep nesting give a FormatError of their own, not a wrapped internal error', () => {
  // v1: Linear inFeatures 32 → 1e9 (here fc1's 3136) and absurd channel counts.
  refused(run(mutate(shippedV1, (f) => (settings(f, 'fc1').inFeatures = 1e9))), FormatError, /arch fc1 \(Linear\): tensor 'fc1\.weight' is \[256,3136\] but the module's arguments give \[256,1000000000\]/, 'v1 fc1.inFeatures 1e9');
  refused(run(mutate(shippedV1, (f) => (settings(f, 'conv1').outChannels = 1e9))), FormatError, /conv1\.weight' is \[32,1,3,3\] but the module's arguments give \[1000000000,1,3,3\]/, 'v1 conv1.outChannels 1e9');
  // v2: the graph input's dims (what the arguments were in v1) at 1e9, and a non-integer.
  refused(run(mutate(shippedV2, (f) => (f.meta.graph.inputs[0].shape = ['N', 1, 28, 1e9]))), FormatError, /node 'conv1' \(Conv\): output \[N,32,28,1000000000\] holds 896000000000 elements per sample/, 'v2 input width 1e9');
  refused(run(mutate(shippedV2, (f) => (f.meta.graph.inputs[0].shape = ['N', 1, 28, 28.5]))), FormatError, /graph\.inputs\[0\]\.shape\[3\] must be a non-negative integer/, 'v2 input width 28.5');
  // Nested 100,000 deep: a v1 architecture of Sequentials, a v2 attribute, the metadata's info.
  const deep = (text: string) => (f: RawFile): void => {
    f.metaText = JSON.stringify(f.meta).replace('"@@"', text);
  };
  const seqs = `${'{"type":"Sequential","name":"s","args":{},"children":['.repeat(100_000)}{"type":"ReLU","name":"r","args":{},"children":[]}${']}'.repeat(100_000)}`;
  const nested = `${'['.repeat(100_000)}1${']'.repeat(100_000)}`;
  refused(run(mutate(shippedV1, (f) => (f.meta.arch.root.children[2] = '@@', deep(seqs)(f)))), FormatError, /metadata "lutnn" nests arrays or objects more than 256 deep/, 'v1 arch nested 100,000 deep');
  refused(run(mutate(shippedV2, (f) => (settings(f, 'conv2').stride = '@@', deep(nested)(f)))), FormatError, /nests arrays or objects more than 256 deep/, 'v2 attribute nested 100,000 deep');
  refused(run(mutate(shippedV2, (f) => (f.meta.info = { x: '@@' }, deep(nested)(f)))), FormatError, /nests arrays or objects more than 256 deep/, 'v2 info nested 100,000 deep');
  // Just past the module limit, written the ordinary way: the v1 reader's own depth check names the path.
  refused(run(mutate(shippedV1, (f) => {
    let c = f.meta.arch.root.children[2];
    for (let d = 0; d < 70; d++) c = { type: 'Sequential', name: 's', args: {}, children: [c] };
    f.meta.arch.root.children[2] = c;
  })), FormatError, /modules nested more than 64 deep/, 'v1 arch nested 70 deep');
});

test('row 2: negative BatchNorm variances are refused naming the tensor and index; weights at 1e10 answer, at 3.4e38 the first non-finite layer is named (engine, runtime, evaluation)', () => {
  for (const [v, bytes] of Object.entries(FILES)) {
    const o = run(mutate(bytes, (f) => setF32(f, 'bn2.running_var', (d) => (d[5] = -0.001))));
    refused(o, FormatError, /node 'bn2' \(BatchNorm\): running_var 'bn2\.running_var' is -0\.0010\d* at index 5; variances must be >= 0/, `${v} running_var[5] = -0.001`);
    for (const big of [1e10, 3.4e38]) {
      // conv2's weights overflow conv2 itself; fc1's bias passes fc1 and ReLU (3.4e38 is finite) and overflows fc2.
      for (const [t, node] of [['conv2.weight', 'conv2'], ['fc1.bias', 'fc2']]) {
        const o2 = run(mutate(bytes, (f) => setF32(f, t, (d) => d.fill(big))));
        if (big === 1e10) {
          answer(o2.engine, `${v} ${t} = 1e10, engine`);
          answer(o2.runtime, `${v} ${t} = 1e10, runtime`);
          assert.equal(o2.onnx, 'exported');
          continue;
        }
        refused(o2, NonFiniteError, new RegExp(`(node '${node}' \\(\\w+\\)|step '${node}[+\\w]*' \\(\\w+\\)): output '\\w+' .*is (-?Infinity|NaN) at element \\d+`), `${v} ${t} = 3.4e38`);
      }
    }
  }
  // lutnn eval's paths: a NonFiniteError naming the layer instead of a NaN accuracy.
  const bad = loadModel(mutate(shippedV1, (f) => setF32(f, 'conv2.weight', (d) => d.fill(3.4e38))), 'big.safetensors').model;
  const batches = [{ x: randn([4, 1, 28, 28], 1, new Rng(1)), y: new Tensor(Int32Array.of(0, 1, 2, 3), [4], 'int32') }];
  assert.throws(() => evaluate(bad, batches), (e: unknown) => e instanceof NonFiniteError && /node 'conv2' \(Conv\)/.test((e as Error).message));
  assert.throws(() => evaluateOnRuntime(bad, batches, [1, 28, 28], 'f32'), (e: unknown) => e instanceof NonFiniteError && /step 'conv2\+bn2\+relu2'/.test((e as Error).message));
  assert.ok(Number.isNaN(evaluate(bad, batches, undefined, { checkFinite: false }).loss), 'the check can be turned off (the old NaN figures)');
});

test('rows 3 and 4: absurd channel counts and paddings of 1e4..1e9 are refused within 5 s, before allocating (LUT tables and activations against the limit)', () => {
  for (const [v, bytes] of Object.entries(FILES)) {
    for (const p of [1e4, 3e4, 1e5, 1e9]) {
      const o = run(mutate(bytes, (f) => (settings(f, 'conv2').padding = [p, p])));
      refused(o, FormatError, /node 'conv2' \(Conv\): output \[N,32,\d+,\d+\] holds \d+ elements per sample, more than 2147483647/, `${v} conv2 padding ${p}`);
      assert.ok(o.rssGrowth < 256 * 2 ** 20, `${v} conv2 padding ${p}: resident memory grew by ${o.rssGrowth} bytes`);
    }
  }
  // A conv of 10^6 output channels (a 36 MB file) would need 6 GB of activations for one sample: LimitError naming the
  // peak, before any of it is allocated; with a smaller limit a 200,000-channel one is refused as well.
  const wide = (cout: number): Uint8Array => mutate(shippedV2, (f) => {
    const g = f.meta.graph;
    g.nodes = [{ name: 'conv1', op: 'Conv', inputs: ['input', 'conv1.weight'], outputs: ['conv1'], attrs: { padding: [1, 1] } }, { name: 'relu1', op: 'Relu', inputs: ['conv1'], outputs: ['relu1'], attrs: {} }];
    g.outputs = ['relu1'];
    f.tensors = [{ name: 'conv1.weight', dtype: 'F32', shape: [cout, 1, 3, 3], data: new Uint8Array(cout * 9 * 4) }];
  });
  const o = run(wide(1_000_000));
  refused(o, LimitError, /the model needs 5\.84 GiB of activations for one sample \(peak at node 'relu1'\), more than the limit of 4\.00 GiB \(maxActivationBytes, or the LUTNN_MAX_ACTIVATION_BYTES environment variable\)/, 'conv with 10^6 output channels');
  assert.ok(o.rssGrowth < 512 * 2 ** 20, `resident memory grew by ${o.rssGrowth} bytes`);
  const file = wide(200_000);
  assert.throws(() => loadModel(file, 'w.safetensors', { maxActivationBytes: 2 ** 30 }), (e: unknown) => e instanceof LimitError && /1\.17 GiB of activations/.test((e as Error).message));
  assert.throws(() => loadSync(file, { maxActivationBytes: 2 ** 30 }), LimitError);
  // The runtime checks its arena at maxBatch before allocating it: fine at 1 sample, refused at 64 with a 1 GiB limit.
  const ok = loadSync(file, { maxBatch: 1, maxActivationBytes: 2 ** 30 + 2 ** 29 });
  ok.dispose();
  assert.throws(() => loadSync(file, { maxBatch: 64, maxActivationBytes: 2 ** 30 + 2 ** 29 }), (e: unknown) => e instanceof LimitError && /at maxBatch = 64, more than the limit .*lower maxBatch or raise the limit/.test((e as Error).message));
});

test('row 5: paddings that threw RangeError (conv 30,000, LUT conv 100,000, pool 1e9, 1e308 in the export) are clean errors on every path', () => {
  for (const [v, bytes] of Object.entries(FILES)) {
    refused(run(mutate(bytes, (f) => (settings(f, 'conv2').padding = [30_000, 30_000]))), FormatError, /node 'conv2' \(Conv\): output \[N,32,60026,60026\]/, `${v} conv padding 30,000`);
    refused(run(mutate(bytes, (f) => (settings(f, 'pool1').padding = [1e9, 1e9]))), FormatError, /node 'pool1' \(MaxPool\): padding 1000000000x1000000000 must be at most half the kernel 2x2/, `${v} pool padding 1e9`);
    refused(run(mutate(bytes, (f) => (settings(f, 'conv2').padding = [1e308, 1e308]))), FormatError, /node 'conv2' \(Conv\): attribute 'padding\[0\]' must be an integer \(\|v\| <= 2\^31-1\), got 1e\+308/, `${v} conv padding 1e308`);
  }
  for (const [v, bytes] of Object.entries(LUT_FILES)) {
    refused(run(mutate(bytes, (f) => (settings(f, 'conv2').padding = [100_000, 100_000]))), FormatError, /node 'conv2' \(LutConv\): output \[N,8,\d+,\d+\] holds \d+ elements per sample, more than 2147483647/, `${v} LUT conv padding 100,000`);
  }
  // The ONNX export never sees such a graph: a GraphModel with padding 1e308 is refused when it is made.
  const { graph, weights } = (() => {
    const m = loadModel(shippedV2).model;
    return { graph: structuredClone(m.graph), weights: new Map(m.namedWeights()) };
  })();
  graph.nodes.find((n) => n.name === 'conv2')!.attrs = { ...graph.nodes.find((n) => n.name === 'conv2')!.attrs, padding: [1e308, 1e308] };
  assert.throws(() => exportOnnx(GraphModel.create(graph, weights)), (e: unknown) => e instanceof LutnnError && /attribute 'padding\[0\]' must be an integer/.test((e as Error).message));
});

test('row 6: float parameters stored as I32 are refused naming the tensor; float16 files (a bias at 65504) load the same way on the engine and the runtime', () => {
  const toI32 = (t: RawTensor): void => {
    const v = new Float32Array(t.data.slice().buffer);
    t.data = new Uint8Array(Int32Array.from(v, (x) => Math.round(x)).buffer);
    t.dtype = 'I32';
  };
  for (const [v, bytes] of Object.entries(FILES)) {
    refused(run(mutate(bytes, (f) => toI32(tensorOf(f, 'bn1.weight')))), FormatError, /node 'bn1' \(BatchNorm\): input 'weight' \('bn1\.weight'\) must be float32, got int32/, `${v} bn1.weight as I32`);
  }
  for (const [v, bytes] of Object.entries(LUT_FILES)) {
    refused(run(mutate(bytes, (f) => toI32(tensorOf(f, 'conv2.centroids')))), FormatError, /node 'conv2' \(LutConv\): input 'centroids' \('conv2\.centroids'\) must be float32, got int32/, `${v} centroids as I32`);
  }
  // Every float tensor stored as F16, fc2's bias at 65504 (the largest float16): both paths widen it exactly.
  const toF16 = (f: RawFile): void => {
    setF32(f, 'fc2.bias', (d) => (d[0] = 65504));
    for (const t of f.tensors) {
      if (t.dtype !== 'F32') continue;
      const v = new Float32Array(t.data.slice().buffer);
      const out = new Uint16Array(v.length);
      for (let i = 0; i < v.length; i++) out[i] = half(v[i]);
      t.data = new Uint8Array(out.buffer);
      t.dtype = 'F16';
    }
  };
  for (const [v, bytes] of Object.entries({ ...FILES, ...LUT_FILES })) {
    const f16 = mutate(bytes, toF16);
    sameAnswer(f16, undefined, `${v} as float16 with a bias at 65504`);
    if (v.includes('fmnist')) assert.ok(Math.abs((run(f16).engine as Float32Array)[0]) > 60000, 'the 65504 bias reaches the logits');
  }
});

test('row 7: extreme but finite inputs: float32 throughout, both paths agree while values stay finite; the first layer that overflows is named', () => {
  for (const [v, bytes] of Object.entries({ ...FILES, ...LUT_FILES })) {
    const lut = v.includes('lut');
    const shape = lut ? [2, 1, 8, 8] : [2, 1, 28, 28];
    const n = shape.reduce((a, b) => a * b, 1);
    const filled = (x: number): Tensor => new Tensor(new Float32Array(n).fill(x), shape);
    const scaled = (s: number): Tensor => {
      const t = randn(shape, 1, new Rng(5));
      for (let i = 0; i < n; i++) t.f32[i] *= s;
      return t;
    };
    for (const x of [filled(0), filled(65504), scaled(1e10)]) sameAnswer(bytes, x, `${v}, input up to ${Math.max(...x.f32)}`);
    if (!lut) sameAnswer(bytes, scaled(1e30), `${v}, input up to 1e30`);
    // A LUT layer whose squared distances overflow float32 (here at 1e30; |x| past about 1e19) has no nearest
    // centroid: both paths name it.
    else refused(run(bytes, scaled(1e30)), NonFiniteError, /(node 'conv2' \(LutConv\)|step 'conv2\+bn2\+relu2' \(lutConv\)): .*no finite distance/, `${v}, input 1e30`);
    // At 3.4e38 the first conv overflows float32 on the engine. The runtime folds bn1 into conv1's weights, so its
    // conv1 step may stay finite where the engine's conv1 node does not; then the next layer overflows: each names
    // the first layer where its float32 values left the range.
    const o = run(bytes, filled(3.4e38));
    refused(o, NonFiniteError, /(node 'conv1' \(Conv\)|step '(conv1\+bn1\+relu1|conv2\+bn2\+relu2)' \((conv|lutConv)\)): (output '\w+' .*is (-?Infinity|NaN)|.*no finite distance)/, `${v}, input 3.4e38`);
    assert.match((o.engine as Error).message, /node 'conv1' \(Conv\)/);
  }
  // Without the check the engine returns the non-finite logits as they come (documented).
  const m = loadModel(shippedV1).model;
  const y = noGrad(() => m.forward(new Tensor(new Float32Array(784).fill(3.4e38), [1, 1, 28, 28]))).f32;
  assert.ok(y.some((x) => !Number.isFinite(x)));
});

/** IEEE binary16 bits of a float (round to nearest; the values here are exact or well inside the range). */
function half(x: number): number {
  const f = new Float32Array([x]);
  const b = new Uint32Array(f.buffer)[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = ((b >>> 23) & 0xff) - 127 + 15;
  const mant = b & 0x7fffff;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    const m = (mant | 0x800000) >> (14 - exp);
    return sign | m;
  }
  const h = (exp << 10) | (mant >> 13);
  return sign | (h + ((mant & 0x1fff) > 0x1000 ? 1 : 0));
}
