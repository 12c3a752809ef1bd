// ONNX export run in onnxruntime-node against lutnn: dense logits, LUT codes and outputs, the CLI and its errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { createModel } from '../nn/zoo.js';
import { convertModel } from '../lut/convert.js';
import { assignCost, type Metric } from '../lut/distance.js';
import { encodeRows } from '../ops/lut.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { MaddnessLinear } from '../lut/maddness-modules.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { loadModel, saveModel } from './model-file.js';
import { exportOnnx, type OnnxExportOptions } from './onnx-export.js';
import { decodeModel } from './onnx-proto.js';

const METRICS: Metric[] = ['l2', 'l1', 'chebyshev'];
const tmpDirs: string[] = [];
after(() => tmpDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lutnn-onnx-'));
  tmpDirs.push(d);
  return d;
}

type Outputs = Record<string, ort.Tensor>;

/** Export `model`, run it in onnxruntime-node on x, and run lutnn's eval forward on x. */
async function runBoth(model: Module, x: Tensor, opts: Partial<OnnxExportOptions> = {}): Promise<{ out: Outputs; ref: Tensor; res: ReturnType<typeof exportOnnx> }> {
  model.eval();
  const res = exportOnnx(model, { inputShape: x.shape.slice(1), ...opts });
  const session = await ort.InferenceSession.create(res.bytes, { intraOpNumThreads: 1 });
  const out = (await session.run({ input: new ort.Tensor('float32', x.f32, x.shape) })) as Outputs;
  const ref = noGrad(() => model.forward(x));
  return { out, ref, res };
}

/** max |a − b| / max(max |b|, 1e-6). */
function relDiff(a: ArrayLike<number>, b: Tensor): number {
  assert.equal(a.length, b.size);
  let d = 0;
  let m = 1e-6;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b.f32[i]));
    m = Math.max(m, Math.abs(b.f32[i]));
  }
  return d / m;
}

function bitEqual(a: ArrayLike<number>, b: Tensor): boolean {
  return a.length === b.size && Array.from(a).every((v, i) => Object.is(v, b.f32[i]));
}

/** lutnn's codes for a LUT layer's input tensor, as numbers. */
function lutnnCodes(layer: LutLinear | LutConv2d, input: Tensor): number[] {
  return Array.from(encodeRows(layer.inputRows(input), layer.centroids, { metric: layer.metric }));
}

function onnxCodes(out: Outputs, name: string): number[] {
  return Array.from(out[`${name}.codes`].data as BigInt64Array, Number);
}

function tensorOf(t: ort.Tensor): Tensor {
  return new Tensor(Float32Array.from(t.data as Float32Array), t.dims as number[]);
}

/** fmnist-cnn with seeded weights and non-trivial batch-norm statistics. */
function denseCnn(seed: number): Module {
  const rng = new Rng(seed);
  const m = createModel('fmnist-cnn', { rng });
  for (const [, bn] of m.namedModules()) {
    if (!(bn instanceof BatchNorm2d)) continue;
    for (let i = 0; i < bn.numFeatures; i++) {
      bn.runningMean.f32[i] = rng.uniform(-0.2, 0.2);
      bn.runningVar.f32[i] = rng.uniform(0.5, 2);
      bn.weight.f32[i] = rng.uniform(0.5, 1.5);
      bn.bias.f32[i] = rng.uniform(-0.2, 0.2);
    }
  }
  return m;
}

// Tolerance for dense logits: onnxruntime's Conv/Gemm sum in another order than lutnn's kernels, so outputs agree
// to float32 rounding; measured max relative differences are 1e-7..2e-6, asserted with a 10x margin.
const DENSE_REL_TOL = 2e-5;

test('protobuf encoding round-trips through the ONNX field numbers', () => {
  const m = Sequential.named([['fc', new Linear(4, 3, { rng: new Rng(1) })]]);
  const r = exportOnnx(m, { inputShape: [4], opset: 13, batch: 2, metadata: { k: 'v' } });
  const d = decodeModel(r.bytes);
  assert.equal(r.bytes[0], 0x08); // field 1 (ir_version), varint
  assert.equal(d.irVersion, 7);
  assert.deepEqual(d.opsetImport.map((o) => [o.domain ?? '', o.version]), [['', 13]]);
  assert.deepEqual(d.graph.node.map((n) => n.opType), ['Gemm', 'Identity']);
  assert.deepEqual(d.graph.input[0].type.tensorType.shape.dim, [{ dimValue: 2 }, { dimValue: 4 }]);
  assert.deepEqual(d.metadataProps, [{ key: 'k', value: 'v' }]);
  const w = d.graph.initializer.find((t) => t.name === 'fc.weight')!;
  assert.deepEqual(w.dims, [3, 4]);
  assert.deepEqual(Array.from(new Float32Array(new Uint8Array(w.rawData).buffer)), Array.from((m.getModule('fc') as Linear).weight.f32));
});

test('dense fmnist-cnn (seeded init and the shipped model) matches lutnn eval logits', async (t) => {
  const x = randn([3, 1, 28, 28], 1, new Rng(7));
  const models: [string, Module][] = [['seeded', denseCnn(3)]];
  const shipped = join(process.cwd(), 'models', 'fmnist-cnn.safetensors');
  if (existsSync(shipped)) models.push(['shipped', loadModel(shipped).model]);
  else t.diagnostic('models/fmnist-cnn.safetensors not found; shipped-model case skipped');
  for (const [name, model] of models) {
    for (const opts of [{}, { opset: 13, batch: 3 }, { opset: 21 }] as Partial<OnnxExportOptions>[]) {
      const { out, ref, res } = await runBoth(model, x, opts);
      const rel = relDiff(out.output.data as Float32Array, ref);
      t.diagnostic(`${name} opset ${res.opset} batch ${opts.batch ?? 'dynamic'}: max relative logit difference ${rel.toExponential(2)}`);
      assert.ok(rel <= DENSE_REL_TOL, `${name} opset ${res.opset}: relative difference ${rel} > ${DENSE_REL_TOL}`);
      assert.deepEqual(out.output.dims, [3, 10]);
    }
  }
});

test('single LUT layers: codes and outputs bit-identical to lutnn (every metric, int8 and float tables)', async () => {
  const rng = new Rng(11);
  for (const metric of METRICS) {
    for (const quantize of [true, false]) {
      const cases: [Module, Tensor, string][] = [
        [Sequential.named([['lc', new LutConv2d({ cin: 6, cout: 10, kernel: 3, padding: 1, stride: 2, metric, quantize, rng })]]), randn([2, 6, 9, 9], 1, rng), 'lc'],
        [Sequential.named([['lc', new LutConv2d({ cin: 4, cout: 5, kernel: [3, 2], padding: [2, 0], dilation: [2, 1], subvecLen: 4, metric, quantize, rng })]]), randn([2, 4, 7, 6], 1, rng), 'lc'],
        [Sequential.named([['ll', new LutLinear({ inFeatures: 48, outFeatures: 7, subvecLen: 8, k: 32, metric, quantize, rng })]]), randn([5, 48], 1, rng), 'll'],
        [Sequential.named([['ll', new LutLinear({ inFeatures: 12, outFeatures: 3, subvecLen: 3, bias: false, metric, quantize, rng })]]), randn([2, 3, 12], 1, rng), 'll'],
      ];
      for (const [model, x, name] of cases) {
        const { out, ref, res } = await runBoth(model, x, { codes: true });
        const layer = model.getModule(name) as LutLinear | LutConv2d;
        assert.deepEqual(onnxCodes(out, name), lutnnCodes(layer, x), `${metric} ${name} codes`);
        assert.ok(bitEqual(out.output.data as Float32Array, ref), `${metric} quantize=${quantize} ${name}: output differs from lutnn (max rel ${relDiff(out.output.data as Float32Array, ref)})`);
        assert.deepEqual(out.output.dims, ref.shape);
        assert.equal(res.lutLayers[0].tableDtype, quantize ? 'int8' : 'float32');
      }
    }
  }
});

test('argmin ties go to the lowest centroid index, as in lutnn', async () => {
  const rng = new Rng(5);
  for (const metric of METRICS) {
    const layer = new LutLinear({ inFeatures: 8, outFeatures: 4, subvecLen: 4, k: 8, metric, rng });
    const P = layer.centroids.f32; // [2, 8, 4]: centroid k+4 duplicates centroid k, so every distance has a tie
    for (let c = 0; c < 2; c++) for (let k = 0; k < 4; k++) for (let v = 0; v < 4; v++) P[(c * 8 + k + 4) * 4 + v] = P[(c * 8 + k) * 4 + v];
    const model = Sequential.named([['ll', layer]]);
    const x = randn([64, 8], 1, rng);
    const { out } = await runBoth(model, x, { codes: true });
    const got = onnxCodes(out, 'll');
    assert.deepEqual(got, lutnnCodes(layer, x));
    assert.ok(got.every((k) => k < 4), `${metric}: a duplicate (higher) index was chosen`);
  }
});

/** A small all-LUT CNN (every conv and the hidden Linear converted, no batch norm) on 10x10 inputs. */
function convertedSmallCnn(metric: Metric, seed: number): { model: Sequential; x: Tensor } {
  const rng = new Rng(seed);
  const model = Sequential.named([
    ['conv1', new Conv2d(2, 6, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(6, 8, 3, { padding: 1, stride: 2, rng })],
    ['relu2', new ReLU()],
    ['flatten', new Flatten(1)],
    ['fc1', new Linear(8 * 5 * 5, 16, { rng })],
    ['relu3', new ReLU()],
    ['fc2', new Linear(16, 4, { rng })],
  ]);
  const calib = Array.from({ length: 4 }, () => randn([8, 2, 10, 10], 1, rng));
  // No least-squares refit: the export reads whatever weights a layer has, and the refit costs seconds.
  convertModel(model, calib, { include: ['conv1', 'conv2', 'fc1'], metric, k: 16, v: { linear: 8 }, seed, kmeansIters: 8, refit: false });
  return { model, x: randn([6, 2, 10, 10], 1, rng) };
}

test('converted all-LUT CNN: codes of every layer identical to lutnn forward, logits within tolerance', async (t) => {
  for (const metric of METRICS) {
    const { model, x } = convertedSmallCnn(metric, 21);
    const { out, ref, res } = await runBoth(model, x, { codes: true });
    assert.deepEqual(res.lutLayers.map((l) => [l.name, l.kind, l.metric]), [['conv1', 'conv', metric], ['conv2', 'conv', metric], ['fc1', 'linear', metric]]);
    // lutnn's own activations at each LUT layer, then its codes there.
    let h = x;
    let total = 0;
    for (const [name, m] of model.namedChildren()) {
      if (m instanceof LutConv2d || m instanceof LutLinear) {
        const want = lutnnCodes(m, h);
        assert.deepEqual(onnxCodes(out, name), want, `${metric} ${name}: codes differ from lutnn's forward`);
        total += want.length;
      }
      h = noGrad(() => m.forward(h));
    }
    const rel = relDiff(out.output.data as Float32Array, ref);
    t.diagnostic(`${metric}: ${total} codes, 0 mismatches; max relative logit difference ${rel.toExponential(2)} (only the dense fc2 rounds differently)`);
    assert.ok(rel <= DENSE_REL_TOL, `${metric}: relative logit difference ${rel}`);
  }
});

test('converted fmnist-cnn (conv1 dense, batch norm): codes identical given the same input; whole-model flips only at near-ties', async (t) => {
  const base = denseCnn(4);
  const rng = new Rng(6);
  const x = randn([2, 1, 28, 28], 1, rng);
  for (const metric of ['l2', 'chebyshev'] as Metric[]) {
    const model = createModel('fmnist-cnn');
    model.loadStateDict(base.stateDict());
    convertModel(model, [randn([6, 1, 28, 28], 1, rng)], { metric, k: 16, seed: 2, kmeansIters: 2, maxRows: 512, refit: false });
    const { out, ref } = await runBoth(model, x, { codes: true, layerInputs: true });
    const luts = (model as Sequential).namedChildren().filter((e): e is [string, LutConv2d | LutLinear] => e[1] instanceof LutConv2d || e[1] instanceof LutLinear);
    assert.deepEqual(luts.map(([n]) => n), ['conv2', 'conv3', 'conv4', 'fc1']);
    // Exact: lutnn's encoder on the very input onnxruntime computed for each layer.
    for (const [name, m] of luts) {
      assert.deepEqual(onnxCodes(out, name), lutnnCodes(m, tensorOf(out[`${name}.input`])), `${metric} ${name}: codes differ for the same input`);
    }
    // Whole model against lutnn's own forward: the dense conv1 and bn1 round differently in onnxruntime (~1e-6),
    // so a conv2 code whose two nearest centroids are that close can flip. The first flip must be such a
    // near-tie on lutnn's own input (later layers then see the flip's effect, not rounding).
    let h = x;
    let total = 0;
    let flips = 0;
    for (const [name, m] of (model as Sequential).namedChildren()) {
      if ((m instanceof LutConv2d || m instanceof LutLinear) && flips === 0) {
        // Until a flip, every LUT layer after the first sees lutnn's exact input: LUT outputs are bit-identical
        // and a batch norm after a LUT layer is exported with lutnn's float64 arithmetic.
        if (name !== 'conv2') assert.ok(bitEqual(out[`${name}.input`].data as Float32Array, h), `${metric} ${name}: input differs from lutnn's`);
        const got = onnxCodes(out, name);
        const want = lutnnCodes(m, h);
        const rows = m.inputRows(h).f32;
        const { ncodebooks: C, k: K, subvecLen: V } = m;
        for (let i = 0; i < want.length; i++) {
          if (want[i] === got[i]) continue;
          if (flips++ > 0) continue;
          const r = Math.floor(i / C);
          const c = i % C;
          const dist = (k: number) => assignCost(metric, rows, r * C * V + c * V, m.centroids.f32, (c * K + k) * V, V);
          const gap = dist(got[i]) - dist(want[i]);
          assert.ok(gap <= 1e-4 * Math.max(1, dist(want[i])), `${metric} ${name} row ${r} codebook ${c}: code ${got[i]} vs ${want[i]} is no near-tie (gap ${gap})`);
        }
        total += want.length;
      }
      h = noGrad(() => m.forward(h));
    }
    const rel = relDiff(out.output.data as Float32Array, ref);
    t.diagnostic(`${metric}: whole-model code flips vs lutnn: ${flips} of ${total} codes checked; max relative logit difference ${rel.toExponential(2)}`);
    assert.ok(flips <= 1e-3 * total, `${metric}: ${flips} flips in ${total} codes`);
    if (flips === 0) assert.ok(rel <= 1e-4, `${metric}: no code differs, yet logits differ by ${rel} relative`);
  }
});

test('unsupported modules and bad options give clear errors', () => {
  const madd = Sequential.named([['flatten', new Flatten(1)], ['fc', new MaddnessLinear(16, 4, 4)]]);
  assert.throws(() => exportOnnx(madd, { inputShape: [16] }), (e: Error) => e instanceof ArgumentError && /layer 'fc' is a MaddnessLinear, which ONNX export does not support/.test(e.message));
  const m = Sequential.named([['fc', new Linear(4, 2)]]);
  assert.throws(() => exportOnnx(m, { inputShape: [4], opset: 9 }), /exportOnnx: opset must be an integer in 13\.\.21, got 9/);
  assert.throws(() => exportOnnx(m, { inputShape: [5] }), /Linear 'fc' has inFeatures 4, got input \[-1,5\]/);
  assert.throws(() => exportOnnx(m, { inputShape: [4], batch: 0 }), /exportOnnx: batch must be an integer >= 1, got 0/);
  assert.throws(() => exportOnnx(Sequential.named([['pool', new MaxPool2d(2)]]), { inputShape: [8] }), /MaxPool2d 'pool' expects \[N, C, H, W\], got input \[-1,8\]/);
});

const cli = ['--import', 'tsx', 'src/cli/main.ts'];

/** Run `lutnn export ...` in a child process; resolves with its exit status and output. */
function runCli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...cli, 'export', ...args], { encoding: 'utf8', timeout: 60000 }, (err, stdout, stderr) => {
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

test('lutnn export CLI: atomic file, one JSON object, codes outputs, and errors', async () => {
  const dir = tempDir();
  const { model } = convertedSmallCnn('l2', 31);
  const modelFile = join(dir, 'lut.safetensors');
  saveModel(modelFile, model, { dataset: { name: 'fashion-mnist', mean: 0.5, std: 0.25, inputShape: [2, 10, 10] } });
  const onnxFile = join(dir, 'lut.onnx');
  const madd = Sequential.named([['flatten', new Flatten(1)], ['fc', new MaddnessLinear(16, 4, 4)]]);
  const maddFile = join(dir, 'madd.safetensors');
  saveModel(maddFile, madd, { dataset: { name: 'fashion-mnist', mean: 0, std: 1, inputShape: [16] } });
  const errors: [string[], RegExp][] = [
    [[maddFile, '--onnx', join(dir, 'm.onnx')], /^lutnn: onnx export: layer 'fc' is a MaddnessLinear, which ONNX export does not support/],
    [[join(dir, 'missing.safetensors'), '--onnx', join(dir, 'x.onnx')], /^lutnn: open .*missing\.safetensors: ENOENT/],
    [[modelFile, '--onnx', join(dir, 'no', 'such', 'x.onnx')], /^lutnn: export: --onnx .*x\.onnx: directory .*such does not exist/],
    [[modelFile, '--onnx', dir], /^lutnn: export: --onnx .* is a directory, expected a file path/],
  ];
  // Two processes at a time (the machine has 2 cores).
  const [r, ...errs] = await Promise.all([runCli([modelFile, '--onnx', onnxFile, '--codes', '--batch', '3', '--json']), ...errors.slice(0, 1).map(([a]) => runCli(a))]);
  errs.push(...(await Promise.all(errors.slice(1).map(([a]) => runCli(a)))));
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.command, 'export');
  assert.equal(j.model, modelFile);
  assert.equal(j.out, onnxFile);
  assert.equal(j.bytes, statSync(onnxFile).size);
  assert.equal(j.opset, 17);
  assert.equal(j.batch, 3);
  assert.deepEqual(j.inputShape, [2, 10, 10]);
  assert.deepEqual(j.lutLayers.map((l: { name: string }) => l.name), ['conv1', 'conv2', 'fc1']);
  assert.ok(j.nodes > 20 && j.ops.ArgMin === 3, JSON.stringify(j.ops));
  assert.deepEqual(readdirSync(dir).sort(), ['lut.onnx', 'lut.safetensors', 'madd.safetensors']); // no temporary file left behind
  const session = await ort.InferenceSession.create(readFileSync(onnxFile));
  assert.deepEqual(session.outputNames, ['output', 'conv1.codes', 'conv2.codes', 'fc1.codes']);
  const x = randn([3, 2, 10, 10], 1, new Rng(2));
  const out = (await session.run({ input: new ort.Tensor('float32', x.f32, x.shape) })) as Outputs;
  assert.deepEqual(onnxCodes(out, 'conv1'), lutnnCodes(model.getModule('conv1') as LutConv2d, x));

  errors.forEach(([args, re], i) => {
    const e = errs[i];
    assert.equal(e.status, 1, `${args.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, re);
    assert.equal(e.stdout, '');
  });
  assert.deepEqual(readdirSync(dir).sort(), ['lut.onnx', 'lut.safetensors', 'madd.safetensors']);
});
