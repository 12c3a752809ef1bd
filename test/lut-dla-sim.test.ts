// The LUT-DLA simulation (src/hw/lut-dla-sim.ts) on real LUT layers of the shipped fmnist-cnn against lutnn's runtime: same codes, same integer sums, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wasmRuntime } from '../src/backend/wasm.js';
import { loadEmbeddedFashionMnist, subsetDataset, DataLoader, type Dataset } from '../src/data/index.js';
import type { GraphModel } from '../src/graph/model.js';
import { convLayer, linearLayer, type HwLayer, type Metric } from '../src/hw/lut-dla-layers.js';
import { lutDlaConfigFor, lutDlaLayer } from '../src/hw/lut-dla.js';
import { simulateLutDla, type LutDlaSimResult } from '../src/hw/lut-dla-sim.js';
import { TECH_45NM } from '../src/hw/tech.js';
import { loadModel } from '../src/io/model-file.js';
import { collectCalibrationRows, convertModel } from '../src/lut/convert.js';
import { encodeLut, prepareLutLayer, runLutLayer, scanLut, type LutLayer } from '../src/runtime/lut-kernels.js';
import { finishRef, quantizeX } from '../src/runtime/lut-kernels-ref.js';
import { lutSpecOf } from '../src/runtime/lut-step.js';
import { Tensor } from '../src/tensor/tensor.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const rt = wasmRuntime() ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');
const relaxed = rt.variant === 'relaxed';

const splits = loadEmbeddedFashionMnist();
const { model: dense } = loadModel(join(ROOT, 'models/fmnist-cnn.safetensors'));
const batches = (ds: Dataset, n: number): Tensor[] =>
  [...new DataLoader(subsetDataset(ds, Array.from({ length: n }, (_, i) => i)), { batchSize: 64, shuffle: false }).epoch(0)].map((b) => b.x);
const calibration = batches(splits.train, 64);
/** Images whose rows the layers encode: conv3 sees 196 rows per image, fc1 one. */
const IMAGES = 8;
const inputs = batches(splits.test, IMAGES);

/** The hardware's view of the layers (fmnist-cnn's conv3 and fc1). */
const hwLayer = (name: string, metric: Metric): HwLayer => name === 'conv3'
  ? convLayer('conv3', { inH: 14, inW: 14, cin: 32, cout: 64, kernel: 3, padding: 1 }, { subvecLen: 9, k: 16, metric })
  : linearLayer('fc1', 3136, 256, { rows: 1 }, { subvecLen: 16, k: 16, metric });

/**
 * A real LUT layer: the shipped model's layer converted alone by k-means on its activations (64 training images), and
 * the rows it encodes for the test images (the layers before it are dense, so they are the dense model's).
 */
function converted(metric: Metric, name: string): { model: GraphModel; rows: Float32Array; n: number } {
  const model = convertModel(dense, calibration, { include: [name], metric, kmeansIters: 8, maxRows: 8192, refit: false, seed: 1 }).model.eval();
  const r = collectCalibrationRows(dense, [name], inputs, 1 << 30, 0).get(name)!;
  assert.equal(r.n, r.seen, 'every row kept');
  return { model, rows: r.rows, n: r.n };
}

function tensorsOf(model: GraphModel, name: string): { centroids: Tensor; weight: Tensor; bias: Tensor | null } {
  const node = model.graph.nodes.find((n) => n.name === name)!;
  const [, c, w, b] = node.inputs;
  return { centroids: model.weight(c), weight: model.weight(w), bias: b ? model.weight(b) : null };
}

function withLayer<T>(spec: Parameters<typeof prepareLutLayer>[0], fn: (l: LutLayer) => T): T {
  const l = prepareLutLayer(spec);
  try {
    return fn(l);
  } finally {
    l.dispose();
  }
}

/** The runtime's codes, its exact integer sums (the scan on a scale-1, bias-free copy of the layer) and its outputs. */
function runtimeOf(spec: Parameters<typeof prepareLutLayer>[0], x: Float32Array): { codes: Uint8Array; sums: Float32Array; out: Float32Array } {
  return withLayer(spec, (layer) => {
    const codes = encodeLut(layer, x);
    const out = runLutLayer(layer, x);
    const sums = withLayer({ ...spec, encoder: 'f32', scale: 1, bias: null, calibration: undefined }, (plain) => scanLut(plain, codes));
    return { codes, sums, out };
  });
}

function assertSame(what: string, sim: LutDlaSimResult, r: ReturnType<typeof runtimeOf>, scale: number, bias: Float32Array | null, N: number, M: number): void {
  let diff = 0;
  for (let i = 0; i < r.codes.length; i++) if (sim.codes[i] !== r.codes[i]) diff++;
  assert.equal(diff, 0, `${what}: ${diff} of ${r.codes.length} codes differ`);
  assert.ok(new Set(r.codes).size > 8, `${what}: the layer uses many centroids`);
  assert.deepEqual(Float32Array.from(sim.acc), r.sums, `${what}: integer sums`);
  // The outputs: scale·acc + bias as the runtime rounds it (two roundings on the plain build; the relaxed build fuses them).
  const out = finishRef(sim.acc, N, M, scale, bias);
  for (let i = 0; i < out.length; i++) {
    const tol = relaxed ? 4e-7 * Math.max(1, Math.abs(out[i])) : 0;
    if (!(Math.abs(out[i] - r.out[i]) <= tol)) assert.fail(`${what}: output ${i}: simulation ${out[i]}, runtime ${r.out[i]}`);
  }
}

/** The cycles of the simulated layer are the analytical model's (these layers are lookup-bound). */
function assertCycles(what: string, sim: LutDlaSimResult, layer: HwLayer, cfg: ReturnType<typeof lutDlaConfigFor>, batch: number): void {
  const a = lutDlaLayer(layer, cfg, TECH_45NM, { batch });
  assert.equal(sim.cycles.total, a.cycles.compute + a.cycles.fill, `${what}: simulated ${sim.cycles.total} cycles, model ${JSON.stringify(a.cycles)}`);
}

test("L2: the simulation on the int8 operands of the runtime's int8 encoder gives its codes and integer sums bit for bit (conv3, fc1)", () => {
  for (const name of ['conv3', 'fc1']) {
    const { model, rows: x, n: N } = converted('l2', name);
    const t = tensorsOf(model, name);
    const s = lutSpecOf({ ...t, metric: 'l2' });
    const spec = { centroids: s.centroids, lutQ: s.lutQ, scale: s.scale, bias: s.bias, ncodebooks: s.C, k: s.K, subvecLen: s.V, outFeatures: s.M, metric: 'l2' as const, encoder: 'int8' as const, calibration: x, maxRows: N };
    const r = runtimeOf(spec, x);
    // The operands the hardware gets: the int8 encoder's centroids (7-bit), its x shifts and the activations it quantizes.
    const p = withLayer(spec, (l) => l.int8!);
    const xq = new Int8Array(N * s.C * s.V);
    for (let i = 0; i < xq.length; i++) xq[i] = quantizeX(x[i], p.inv[Math.floor((i % (s.C * s.V)) / s.V)], 127);
    const layer = hwLayer(name, 'l2');
    const cfg = lutDlaConfigFor([layer]);
    const sim = simulateLutDla({ rows: N, codebooks: s.C, k: s.K, subvecLen: s.V, outDim: s.M, metric: 'l2', centroids: p.cq, table: s.lutQ, inputs: xq, shift: p.xShift }, cfg, { layer, batch: IMAGES });
    assertSame(`l2 ${name}`, sim, r, s.scale, s.bias, N, s.M);
    assertCycles(`l2 ${name}`, sim, layer, cfg, IMAGES);
  }
});

/**
 * The layer on a power-of-two int8 grid: centroids p = cq·sc (sc = 2^e, cq in ±127) and activations x = xq·sc·2^s
 * (xq in −128..127). On it the runtime's f32 encoder computes every distance exactly (integers times a power of two,
 * far below 2^24), so its codes are the integer datapath's; the table is built from the grid centroids.
 */
function onGrid(t: ReturnType<typeof tensorsOf>, x: Float32Array, N: number): { centroids: Float32Array; cq: Int8Array; xg: Float32Array; xq: Int8Array; shift: Int8Array } {
  const [C, K, V] = t.centroids.shape;
  const p = t.centroids.f32;
  const cq = new Int8Array(C * K * V);
  const centroids = new Float32Array(C * K * V);
  const xq = new Int8Array(N * C * V);
  const xg = new Float32Array(N * C * V);
  const shift = new Int8Array(C);
  for (let c = 0; c < C; c++) {
    let pmax = 0;
    for (let i = c * K * V; i < (c + 1) * K * V; i++) pmax = Math.max(pmax, Math.abs(p[i]));
    const sc = 2 ** Math.ceil(Math.log2(Math.max(pmax, 1e-30) / 127));
    for (let i = c * K * V; i < (c + 1) * K * V; i++) {
      cq[i] = Math.max(-127, Math.min(127, Math.round(p[i] / sc)));
      centroids[i] = cq[i] * sc;
    }
    let xmax = 0;
    for (let n = 0; n < N; n++) for (let v = 0; v < V; v++) xmax = Math.max(xmax, Math.abs(x[n * C * V + c * V + v]));
    const s = Math.max(-3, Math.min(3, Math.ceil(Math.log2(Math.max(xmax, 1e-30) / (127 * sc)))));
    shift[c] = s;
    for (let n = 0; n < N; n++) {
      for (let v = 0; v < V; v++) {
        const i = n * C * V + c * V + v;
        xq[i] = Math.max(-128, Math.min(127, Math.round(x[i] / (sc * 2 ** s))));
        xg[i] = xq[i] * sc * 2 ** s;
      }
    }
  }
  return { centroids, cq, xg, xq, shift };
}

test("L1, Chebyshev (and L2): on an int8 grid the simulation gives the runtime f32 encoder's codes and integer sums bit for bit (conv3)", () => {
  for (const metric of ['l1', 'chebyshev', 'l2'] as const) {
    const { model, rows: x, n: N } = converted(metric, 'conv3');
    const t = tensorsOf(model, 'conv3');
    const g = onGrid(t, x, N);
    const s = lutSpecOf({ centroids: new Tensor(g.centroids, t.centroids.shape), weight: t.weight, bias: t.bias, metric });
    const spec = { centroids: s.centroids, lutQ: s.lutQ, scale: s.scale, bias: s.bias, ncodebooks: s.C, k: s.K, subvecLen: s.V, outFeatures: s.M, metric, encoder: 'f32' as const, maxRows: N };
    const r = runtimeOf(spec, g.xg);
    const layer = hwLayer('conv3', metric);
    const cfg = lutDlaConfigFor([layer]);
    const sim = simulateLutDla({ rows: N, codebooks: s.C, k: s.K, subvecLen: s.V, outDim: s.M, metric, centroids: g.cq, table: s.lutQ, inputs: g.xq, shift: g.shift }, cfg, { layer, batch: IMAGES });
    assertSame(`${metric} conv3`, sim, r, s.scale, s.bias, N, s.M);
    assertCycles(`${metric} conv3`, sim, layer, cfg, IMAGES);
  }
});
