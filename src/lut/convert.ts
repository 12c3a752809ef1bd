// Dense → LUT conversion: pick layers, collect calibration rows through the dense model, k-means or MADDNESS, swap layers in.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { Conv2d, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { buildModel, describeModel } from '../nn/spec.js';
import { getBackend } from '../backend/index.js';
import { conv2dGeom } from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import type { Metric } from './distance.js';
import { encode } from './distance.js';
import { trainCodebooks } from './kmeans.js';
import { refitWeights } from './refit.js';
import { trainMaddness } from './maddness.js';
import { MaddnessConv2d, MaddnessLinear } from './maddness-modules.js';
import { LutConv2d, LutLinear } from './modules.js';
import { im2colRows } from '../ops/lut.js';

export type ConvertMethod = 'lutnn' | 'maddness';

/** Sub-vector length per layer kind: 3x3 convs (and other k×k), 1x1 convs, Linear. */
export interface SubvecLens {
  conv: number | null; // null: kh·kw (one input channel's patch per codebook)
  conv1x1: number;
  linear: number;
}

export const DEFAULT_V: SubvecLens = { conv: null, conv1x1: 4, linear: 16 };

export interface ConvertOptions {
  method?: ConvertMethod;
  k?: number;
  v?: Partial<SubvecLens>;
  metric?: Metric;
  /** Layer names to replace (exact dotted names); default: every Conv2d (groups 1) and Linear but the first conv and the last Linear. */
  include?: string[];
  /** Layer names to keep dense. */
  exclude?: string[];
  /** Rows per layer kept for k-means (a seeded uniform sample over all calibration rows). */
  maxRows?: number;
  kmeansIters?: number;
  kmeansRestarts?: number;
  /**
   * LUT-NN only. 'parallel' (default, as the official recipe): every layer calibrates through the dense model in
   * one pass. 'sequential': layers are converted in order, and each one calibrates on the rows it sees with the
   * earlier layers already converted (and is refitted to the dense model's output on the clean rows); slower, and
   * on fmnist-cnn no more accurate (see BENCHMARKS.md).
   */
  calibration?: 'sequential' | 'parallel';
  /**
   * LUT-NN only (default true): after k-means, refit each layer's weight and bias by ridge least squares so
   * that its hard output on the calibration rows matches the dense model's output on the clean rows.
   */
  refit?: boolean;
  /** Ridge strength of the refit, relative to the mean diagonal of ZᵀZ (default 1e-3). */
  ridge?: number;
  seed?: number;
  /** Called as work proceeds: (stage, done, total). */
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface ConvertedLayer {
  name: string;
  kind: 'conv' | 'linear';
  ncodebooks: number;
  subvecLen: number;
  k: number;
  rows: number;
  seconds: number;
  /**
   * Relative output error ||y − y_dense||²/||y_dense||² on the calibration rows (dense output on the clean rows
   * as the reference): with the dense weight after k-means, and after the refit (null without a refit).
   */
  outputError: { kmeans: number; refit: number } | null;
}

/** Names of the layers a conversion replaces: the defaults of LUT-NN, or `include`, minus `exclude`. */
export function selectLayers(model: Module, include?: string[], exclude?: string[]): string[] {
  const candidates = model.namedModules().filter(([, m]) => (m instanceof Conv2d && m.groups === 1) || m instanceof Linear);
  const all = new Set(candidates.map(([n]) => n));
  let names: string[];
  if (include && include.length > 0) {
    for (const n of include) if (!all.has(n)) throw new ArgumentError(`convert: --layers names '${n}', which is not a Conv2d or Linear layer (have: ${[...all].join(', ')})`);
    names = candidates.map(([n]) => n).filter((n) => include.includes(n));
  } else {
    const convs = candidates.filter(([, m]) => m instanceof Conv2d).map(([n]) => n);
    const linears = candidates.filter(([, m]) => m instanceof Linear).map(([n]) => n);
    const skip = new Set([convs[0], linears[linears.length - 1]]);
    names = candidates.map(([n]) => n).filter((n) => !skip.has(n));
  }
  for (const n of exclude ?? []) if (!all.has(n)) throw new ArgumentError(`convert: excluded layer '${n}' is not a Conv2d or Linear layer`);
  return names.filter((n) => !(exclude ?? []).includes(n));
}

function subvecLenFor(m: Module, v: SubvecLens): number {
  if (m instanceof Linear) return v.linear;
  const c = m as Conv2d;
  const [kh, kw] = c.kernelSize;
  if (kh === 1 && kw === 1) return v.conv1x1;
  return v.conv ?? kh * kw;
}

/** The rows a layer's codebooks see: x [n, D] for Linear, im2col rows [N·outH·outW, D] for Conv2d. */
function denseInputRows(m: Module, x: Tensor): Tensor {
  if (m instanceof Linear) return new Tensor(x.f32, [x.size / m.inFeatures, m.inFeatures]);
  const c = m as Conv2d;
  // The same im2col row layout (cin, ki, kj) the LUT layer encodes.
  const g = conv2dGeom(x.shape, c.weight.shape, { stride: c.stride, padding: c.padding, dilation: c.dilation });
  return noGrad(() => im2colRows(x, g));
}

/**
 * Run `batches` through the dense model and keep, per layer, a seeded uniform sample of at most `maxRows`
 * of its input rows (reservoir sampling, so memory stays bounded however many images calibrate).
 */
export function collectCalibrationRows(model: Module, names: string[], batches: Iterable<Tensor>, maxRows: number, seed: number): Map<string, { rows: Float32Array; n: number; D: number; seen: number }> {
  const rng = new Rng(seed);
  const store = new Map<string, { rows: Float32Array; n: number; D: number; seen: number }>();
  const restore: (() => void)[] = [];
  try {
    for (const name of names) {
      const layer = model.getModule(name);
      const orig = layer.forward;
      layer.forward = (x: Tensor): Tensor => {
        const r = denseInputRows(layer, x);
        const D = r.shape[1];
        let s = store.get(name);
        if (!s) {
          s = { rows: new Float32Array(Math.min(maxRows, 4096) * D), n: 0, D, seen: 0 };
          store.set(name, s);
        }
        const R = r.f32;
        const want = Math.min(maxRows, s.n + r.shape[0]) * D;
        if (want > s.rows.length) {
          // Grow geometrically up to maxRows rows (a layer with few rows, like a Linear, stays small).
          const grown = new Float32Array(Math.min(maxRows * D, Math.max(want, 2 * s.rows.length)));
          grown.set(s.rows);
          s.rows = grown;
        }
        for (let i = 0; i < r.shape[0]; i++, s.seen++) {
          // Reservoir sampling (Algorithm R): row i replaces a random slot with probability maxRows/seen.
          const slot = s.n < maxRows ? s.n++ : rng.int(s.seen + 1);
          if (slot < maxRows) s.rows.set(R.subarray(i * D, (i + 1) * D), slot * D);
        }
        return orig.call(layer, x);
      };
      restore.push(() => {
        layer.forward = orig;
      });
    }
    const wasTraining = model.training;
    model.eval();
    try {
      noGrad(() => {
        for (const x of batches) model.forward(x);
      });
    } finally {
      model.train(wasTraining);
    }
  } finally {
    restore.forEach((r) => r());
  }
  for (const [name, s] of store) store.set(name, { ...s, rows: s.rows.subarray(0, s.n * s.D) });
  return store;
}

/**
 * One layer's input rows in several models run on the same batches (e.g. the dense model and a partly converted
 * one), sampled at the same positions: rows[j] comes from models[j]. Reservoir sampling as collectCalibrationRows.
 */
export function collectPairedRows(models: Module[], name: string, batches: Iterable<Tensor>, maxRows: number, seed: number): { rows: Float32Array[]; n: number; D: number; seen: number } {
  const rng = new Rng(seed);
  let slots = new Int32Array(0);
  let store: Float32Array[] = [];
  let n = 0;
  let seen = 0;
  let D = 0;
  const restore: (() => void)[] = [];
  const was = models.map((m) => m.training);
  try {
    models.forEach((model, j) => {
      const layer = model.getModule(name);
      const orig = layer.forward;
      layer.forward = (x: Tensor): Tensor => {
        const r = denseInputRows(layer, x);
        const R = r.shape[0];
        if (store.length === 0) {
          D = r.shape[1];
          store = models.map(() => new Float32Array(Math.min(maxRows, 4096) * D));
        }
        if (r.shape[1] !== D) throw new ArgumentError(`convert: layer '${name}' rows of ${r.shape[1]} vs ${D} across models`);
        if (j === 0) {
          // The first model draws the sample positions for this batch; the others reuse them.
          slots = new Int32Array(R);
          for (let i = 0; i < R; i++, seen++) {
            const slot = n < maxRows ? n++ : rng.int(seen + 1);
            slots[i] = slot < maxRows ? slot : -1;
          }
          if (n * D > store[0].length) {
            store = store.map((s) => {
              const grown = new Float32Array(Math.min(maxRows * D, Math.max(n * D, 2 * s.length)));
              grown.set(s);
              return grown;
            });
          }
        } else if (slots.length !== R) throw new ArgumentError(`convert: layer '${name}' saw ${R} rows in model ${j} vs ${slots.length} in model 0`);
        const dst = store[j];
        for (let i = 0; i < R; i++) if (slots[i] >= 0) dst.set(r.f32.subarray(i * D, (i + 1) * D), slots[i] * D);
        return orig.call(layer, x);
      };
      restore.push(() => {
        layer.forward = orig;
      });
    });
    models.forEach((m) => m.eval());
    noGrad(() => {
      for (const x of batches) for (const m of models) m.forward(x);
    });
  } finally {
    restore.forEach((r) => r());
    models.forEach((m, j) => m.train(was[j]));
  }
  return { rows: store.map((s) => s.subarray(0, n * D)), n, D, seen };
}

/** The dense layer's output on rows [n, D]: rows·Wᵀ + b → [n, M] (W viewed as [M, D]). */
function denseOutput(layer: Conv2d | Linear, rows: Float32Array, n: number, D: number): Float32Array {
  const M = layer instanceof Linear ? layer.outFeatures : layer.outChannels;
  const y = new Float32Array(n * M);
  getBackend().gemm(rows, layer.weight.f32, y, n, M, D, false, true, false);
  if (layer.bias) {
    const b = layer.bias.f32;
    for (let i = 0; i < n; i++) for (let m = 0; m < M; m++) y[i * M + m] += b[m];
  }
  return y;
}

/**
 * Convert `model` in place: each selected layer becomes a LutLinear/LutConv2d or a MADDNESS layer. Returns what
 * was replaced. LUT-NN layers get k-means centroids and the dense weight; by default (see ConvertOptions) they
 * are converted in order on the rows they really see, and their weight and bias are refitted by least squares
 * to the dense model's output. MADDNESS calibrates every layer through the dense model in one pass.
 */
export function convertModel(model: Module, calibration: Iterable<Tensor>, opts: ConvertOptions = {}): ConvertedLayer[] {
  const method = opts.method ?? 'lutnn';
  const K = opts.k ?? 16;
  if (method === 'maddness' && K !== 16) throw new ArgumentError(`convert: MADDNESS uses K = 16 (trees of depth 4), got --k ${K}`);
  const v: SubvecLens = { ...DEFAULT_V, ...opts.v };
  const metric = opts.metric ?? 'l2';
  const seed = opts.seed ?? 0;
  const maxRows = opts.maxRows ?? 65536;
  const sequential = method === 'lutnn' && (opts.calibration ?? 'parallel') === 'sequential';
  if (opts.calibration !== undefined && opts.calibration !== 'sequential' && opts.calibration !== 'parallel') {
    throw new ArgumentError(`convert: calibration must be 'sequential' or 'parallel', got ${String(opts.calibration)}`);
  }
  const refit = method === 'lutnn' && (opts.refit ?? true);
  const names = selectLayers(model, opts.include, opts.exclude);
  if (names.length === 0) throw new ArgumentError('convert: no layer selected for conversion');
  for (const name of names) {
    const V = subvecLenFor(model.getModule(name), v);
    const m = model.getModule(name) as Conv2d | Linear;
    const D = m instanceof Linear ? m.inFeatures : m.inChannels * m.kernelSize[0] * m.kernelSize[1];
    if (D % V !== 0) throw new ArgumentError(`convert: layer '${name}' has D = ${D} inputs, not divisible by V = ${V}`);
  }
  // Sequential calibration and the refit pass the calibration batches more than once.
  const batches = sequential || refit ? [...calibration] : calibration;
  // The dense reference (clean rows and target outputs) while `model` is converted layer by layer.
  let dense: Module | null = null;
  if (sequential) {
    dense = buildModel(describeModel(model));
    dense.loadStateDict(model.stateDict());
  }
  let parallelRows: ReturnType<typeof collectCalibrationRows> | null = null;
  if (!sequential) {
    opts.onProgress?.('calibrate', 0, 1);
    parallelRows = collectCalibrationRows(model, names, batches, maxRows, seed);
    opts.onProgress?.('calibrate', 1, 1);
  }
  const out: ConvertedLayer[] = [];
  names.forEach((name, li) => {
    const t0 = performance.now();
    const layer = model.getModule(name) as Conv2d | Linear;
    const V = subvecLenFor(layer, v);
    // clean: the dense model's rows; rows: what this layer sees in the (partly converted) model.
    let rows: Float32Array;
    let clean: Float32Array;
    let n: number;
    let D: number;
    if (sequential) {
      opts.onProgress?.(`calibrate ${name}`, 0, 1);
      const p = collectPairedRows([dense!, model], name, batches, maxRows, seed + li);
      opts.onProgress?.(`calibrate ${name}`, 1, 1);
      [clean, rows] = p.rows;
      n = p.n;
      D = p.D;
    } else {
      const r = parallelRows!.get(name);
      if (!r) throw new ArgumentError(`convert: layer '${name}' saw no calibration rows (is it used in forward?)`);
      rows = clean = r.rows;
      n = r.n;
      D = r.D;
    }
    if (n === 0) throw new ArgumentError(`convert: layer '${name}' saw no calibration rows (is it used in forward?)`);
    const C = D / V;
    const stage = `${method} ${name}`;
    const progress = (done: number, total: number): void => opts.onProgress?.(stage, done, total);
    let replacement: Module;
    let outputError: ConvertedLayer['outputError'] = null;
    if (method === 'lutnn') {
      const cents = trainCodebooks(rows, n, C, V, K, {
        metric, seed: seed + 1000 * (li + 1), iters: opts.kmeansIters ?? 25, restarts: opts.kmeansRestarts ?? 1, maxRows: n, onProgress: progress,
      });
      const centroids = new Tensor(cents, [C, K, V]);
      const lut = layer instanceof Linear ? LutLinear.fromDense(layer, centroids, { metric }) : LutConv2d.fromDense(layer, centroids, { metric });
      if (refit) {
        opts.onProgress?.(`refit ${name}`, 0, 1);
        const codes = encode(rows, cents, C, K, V, metric);
        const target = denseOutput(layer, clean, n, D);
        const r = refitWeights(codes, cents, C, K, V, target, n, lut.outDim, { ridge: opts.ridge }, { weight: lut.weight.f32, bias: lut.bias?.f32 ?? null });
        lut.weight.f32.set(r.weight);
        if (lut.bias) lut.bias.f32.set(r.bias);
        outputError = { kmeans: r.relErrorBefore, refit: r.relErrorAfter };
        opts.onProgress?.(`refit ${name}`, 1, 1);
      }
      replacement = lut;
    } else {
      // The table is solved directly (prototypes times the dense weight): M instead of D right-hand sides.
      const enc = trainMaddness(rows, n, C, V, { seed: seed + 1000 * (li + 1), maxRows: n, onProgress: progress, project: layer.weight.f32 });
      replacement = layer instanceof Linear ? MaddnessLinear.fromDense(layer, enc) : MaddnessConv2d.fromDense(layer, enc);
    }
    const dot = name.lastIndexOf('.');
    const parent = model.getModule(dot < 0 ? '' : name.slice(0, dot));
    parent.replaceModule(dot < 0 ? name : name.slice(dot + 1), replacement);
    out.push({ name, kind: layer instanceof Linear ? 'linear' : 'conv', ncodebooks: C, subvecLen: V, k: K, rows: n, seconds: (performance.now() - t0) / 1000, outputError });
  });
  return out;
}
