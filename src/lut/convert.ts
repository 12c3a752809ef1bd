// Dense → LUT conversion: pick layers, collect calibration rows through the dense model, k-means or MADDNESS, swap layers in.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { Conv2d, Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { conv2dGeom } from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import type { Metric } from './distance.js';
import { trainCodebooks } from './kmeans.js';
import { trainMaddness } from './maddness.js';
import { MaddnessConv2d, MaddnessLinear } from './maddness-modules.js';
import { LutConv2d, LutLinear, im2colRows } from './modules.js';

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
 * Convert `model` in place: each selected layer becomes a LutLinear/LutConv2d (k-means centroids on its
 * calibration rows, weights copied) or a MADDNESS layer. Returns what was replaced.
 */
export function convertModel(model: Module, calibration: Iterable<Tensor>, opts: ConvertOptions = {}): ConvertedLayer[] {
  const method = opts.method ?? 'lutnn';
  const K = opts.k ?? 16;
  if (method === 'maddness' && K !== 16) throw new ArgumentError(`convert: MADDNESS uses K = 16 (trees of depth 4), got --k ${K}`);
  const v: SubvecLens = { ...DEFAULT_V, ...opts.v };
  const metric = opts.metric ?? 'l2';
  const seed = opts.seed ?? 0;
  const names = selectLayers(model, opts.include, opts.exclude);
  if (names.length === 0) throw new ArgumentError('convert: no layer selected for conversion');
  for (const name of names) {
    const V = subvecLenFor(model.getModule(name), v);
    const m = model.getModule(name) as Conv2d | Linear;
    const D = m instanceof Linear ? m.inFeatures : m.inChannels * m.kernelSize[0] * m.kernelSize[1];
    if (D % V !== 0) throw new ArgumentError(`convert: layer '${name}' has D = ${D} inputs, not divisible by V = ${V}`);
  }
  opts.onProgress?.('calibrate', 0, 1);
  const rows = collectCalibrationRows(model, names, calibration, opts.maxRows ?? 65536, seed);
  opts.onProgress?.('calibrate', 1, 1);
  const out: ConvertedLayer[] = [];
  names.forEach((name, li) => {
    const t0 = performance.now();
    const dense = model.getModule(name) as Conv2d | Linear;
    const V = subvecLenFor(dense, v);
    const r = rows.get(name);
    if (!r || r.n === 0) throw new ArgumentError(`convert: layer '${name}' saw no calibration rows (is it used in forward?)`);
    const C = r.D / V;
    const stage = `${method} ${name}`;
    const progress = (done: number, total: number): void => opts.onProgress?.(stage, done, total);
    let replacement: Module;
    if (method === 'lutnn') {
      const cents = trainCodebooks(r.rows, r.n, C, V, K, {
        metric, seed: seed + 1000 * (li + 1), iters: opts.kmeansIters ?? 25, restarts: opts.kmeansRestarts ?? 1, maxRows: r.n, onProgress: progress,
      });
      const centroids = new Tensor(cents, [C, K, V]);
      replacement = dense instanceof Linear ? LutLinear.fromDense(dense, centroids, { metric }) : LutConv2d.fromDense(dense, centroids, { metric });
    } else {
      const enc = trainMaddness(r.rows, r.n, C, V, { seed: seed + 1000 * (li + 1), maxRows: r.n, onProgress: progress });
      replacement = dense instanceof Linear ? MaddnessLinear.fromDense(dense, enc) : MaddnessConv2d.fromDense(dense, enc);
    }
    const dot = name.lastIndexOf('.');
    const parent = model.getModule(dot < 0 ? '' : name.slice(0, dot));
    parent.replaceModule(dot < 0 ? name : name.slice(dot + 1), replacement);
    out.push({ name, kind: dense instanceof Linear ? 'linear' : 'conv', ncodebooks: C, subvecLen: V, k: K, rows: r.n, seconds: (performance.now() - t0) / 1000 });
  });
  return out;
}
