// Dense → LUT conversion on graph models: pick layers (names or globs), calibrate, k-means or MADDNESS, rewrite the nodes.
import { getBackend } from '../backend/index.js';
import { ArgumentError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import { GraphModel as GraphModelClass } from '../graph/model.js';
import type { Attrs, GraphNode } from '../graph/types.js';
import { thetaForTemperature } from '../ops/lut.js';
import { Tensor } from '../tensor/tensor.js';
import { candidates, collectCalibrationRows, collectPairedRows, type Candidate, type RowSample } from './calibrate.js';
import type { Metric } from './distance.js';
import { encode } from './distance.js';
import { trainCodebooks } from './kmeans.js';
import { MADDNESS_DEPTH, MADDNESS_LEAVES, MADDNESS_NODES, trainMaddness } from './maddness.js';
import { refitWeights, refitWork } from './refit.js';

export { candidates, collectCalibrationRows, collectPairedRows, type Candidate } from './calibrate.js';

export type ConvertMethod = 'lutnn' | 'maddness';

/** Sub-vector length per layer kind: k×k convs, 1x1 convs, Linear (and weight MatMul). */
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
  /** Node names or glob patterns (`*` any characters but '.', `**` any characters) to replace; default: LUT-NN's choice. */
  include?: string[];
  /** Names or patterns to keep dense. */
  exclude?: string[];
  /** Rows per layer kept for k-means (a seeded uniform sample over all calibration rows). */
  maxRows?: number;
  kmeansIters?: number;
  kmeansRestarts?: number;
  /**
   * LUT-NN only. 'parallel' (default, as the official recipe): every layer calibrates through the dense model in one
   * pass. 'sequential': layers are converted in order, each calibrating on the rows it sees behind the layers already
   * converted (and refitted to the dense model's output on the clean rows); slower.
   */
  calibration?: 'sequential' | 'parallel';
  /** LUT-NN only (default true): refit each layer's weight and bias by ridge least squares to the dense output. */
  refit?: boolean;
  /** Ridge strength of the refit, relative to the mean diagonal of ZᵀZ (default 1e-3). */
  ridge?: number;
  seed?: number;
  /**
   * Called as work proceeds: (stage, done, total). Stages: 'calibrate' (batches; `calibrate NAME` per layer when
   * sequential), `lutnn NAME` / `maddness NAME` (k-means iterations, tree levels), `refit NAME` (percent of the
   * least-squares refit's work). Long steps report at least every ~2 s.
   */
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
  /** Relative output error ||y − y_dense||²/||y_dense||² on the calibration rows after k-means and after the refit (null without). */
  outputError: { kmeans: number; refit: number } | null;
}

/** A glob over dotted node names: `*` matches within one segment, `**` across segments. */
export function globToRegExp(pattern: string): RegExp {
  const esc = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*\*/g, '\u0000').replace(/\*/g, '[^.]*').replace(/\u0000/g, '.*');
  return new RegExp(`^${esc}$`);
}

function matches(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => (p.includes('*') ? globToRegExp(p).test(name) : p === name));
}

/**
 * Names of the layers a conversion replaces: with `include`, the candidates it names or matches (each entry must match
 * one); else LUT-NN's default: every candidate but the first conv and the classifier (the last Linear, when it gives the
 * model's output). Minus `exclude`. In transformers that replaces all six Linears of every block (Q, K, V, attention
 * output, FFN in and out, also in a lone BERT layer whose last Linear feeds a residual add) and keeps the attention's
 * activation × activation MatMuls dense (they are not candidates).
 */
export function selectLayers(model: GraphModel, include?: string[], exclude?: string[]): string[] {
  const cands = candidates(model);
  const all = cands.map((c) => c.name);
  const check = (what: string, list: readonly string[]): void => {
    for (const p of list) {
      if (!all.some((n) => matches([p], n))) throw new ArgumentError(`convert: ${what} '${p}' names no Conv, Linear or weight MatMul node (have: ${all.join(', ')})`);
    }
  };
  let names: string[];
  if (include && include.length > 0) {
    check('--layers', include);
    names = all.filter((n) => matches(include, n));
  } else {
    // The first conv sees the raw input; the last Linear is the classifier when its output is the model's output.
    const firstConv = cands.find((c) => c.kind === 'conv')?.name;
    const linears = cands.filter((c) => c.kind === 'linear');
    const last = linears[linears.length - 1];
    const head = last && last.node.node.outputs.some((o) => model.graph.outputs.includes(o)) ? last.name : undefined;
    names = all.filter((n) => n !== firstConv && n !== head);
  }
  check('excluded layer', exclude ?? []);
  return names.filter((n) => !matches(exclude ?? [], n));
}

function subvecLenFor(c: Candidate, v: SubvecLens): number {
  if (c.kind === 'linear') return v.linear;
  const [kh, kw] = c.kernel;
  if (kh === 1 && kw === 1) return v.conv1x1;
  return v.conv ?? kh * kw;
}

/** The dense layer's weight as [M, D] (row m = output m, columns in the LUT row order) and its bias. */
function denseWeight(model: GraphModel, c: Candidate): { W: Float32Array; bias: Float32Array | null } {
  const w = model.weight(c.node.node.inputs[1]).f32;
  let W = w;
  if (c.node.node.op === 'MatMul') {
    W = new Float32Array(c.D * c.M); // [D, M] → [M, D]
    for (let d = 0; d < c.D; d++) for (let m = 0; m < c.M; m++) W[m * c.D + d] = w[d * c.M + m];
  }
  const b = c.node.node.op === 'MatMul' ? '' : c.node.node.inputs[2] ?? '';
  return { W, bias: b ? model.weight(b).f32 : null };
}

/** rows [n, D] · Wᵀ + b → [n, M]. */
function denseOutput(W: Float32Array, bias: Float32Array | null, rows: Float32Array, n: number, D: number, M: number): Float32Array {
  const y = new Float32Array(n * M);
  getBackend().gemm(rows, W, y, n, M, D, false, true, false);
  if (bias) for (let i = 0; i < n; i++) for (let m = 0; m < M; m++) y[i * M + m] += bias[m];
  return y;
}

/** encode() in chunks of rows, calling `onRows(done)` after each (a conv layer has up to maxRows = 65536 rows). */
function encodeChunked(rows: Float32Array, n: number, D: number, cents: Float32Array, C: number, K: number, V: number, metric: Metric, onRows: (done: number) => void): Uint8Array {
  const codes = new Uint8Array(n * C);
  const chunk = Math.max(1, Math.floor(2 ** 22 / (C * K * V))); // ~4M distance terms, a fraction of a second
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    codes.set(encode(rows.subarray(i * D, (i + m) * D), cents, C, K, V, metric), i * C);
    onRows(i + m);
  }
  return codes;
}

/** The replacement of one node: its new node and the initializers it adds (and the ones it drops). */
interface Rewrite {
  node: GraphNode;
  add: Map<string, Tensor>;
  drop: string[];
}

/** A name for a new initializer of layer `c`: `<base>.<what>`, base = the weight's name without '.weight' or the node's. */
function initName(model: GraphModel, c: Candidate, what: string, taken: Set<string>): string {
  const w = c.node.node.inputs[1];
  const base = w.endsWith('.weight') ? w.slice(0, -'.weight'.length) : c.name;
  let n = `${base}.${what}`;
  for (let i = 2; taken.has(n) || (model.info.values.has(n) && !(what === 'weight' && n === w)); i++) n = `${base}.${what}_${i}`;
  taken.add(n);
  return n;
}

/** Where the new layer's bias goes: the dense bias's name when only this node reads it (its value is replaced), else a new one. */
function biasSlot(model: GraphModel, c: Candidate, taken: Set<string>, what: string): string {
  const old = c.node.node.op === 'MatMul' ? '' : c.node.node.inputs[2] ?? '';
  if (old && (model.info.consumers.get(old) ?? []).length === 1) return old;
  return initName(model, c, what, taken);
}

/** weight[c, v, m] = dense[m, c·V + v]: the dense [M, D] regrouped per codebook into [C, V, M]. */
export function regroupWeight(W: Float32Array, M: number, D: number): Float32Array {
  const out = new Float32Array(D * M);
  for (let m = 0; m < M; m++) for (let d = 0; d < D; d++) out[d * M + m] = W[m * D + d];
  return out;
}

function windowAttrs(c: Candidate): Attrs {
  const a = c.node.attrs as unknown as { stride: number[]; padding: number[]; dilation: number[] };
  return { kernel: [...c.kernel], stride: [...a.stride], padding: [...a.padding], dilation: [...a.dilation] };
}

/** The dense weight is dropped unless another node reads it. */
function dropsOf(model: GraphModel, c: Candidate): string[] {
  const w = c.node.node.inputs[1];
  return (model.info.consumers.get(w) ?? []).length === 1 ? [w] : [];
}

function lutRewrite(model: GraphModel, c: Candidate, centroids: Float32Array, C: number, K: number, V: number, weight: Float32Array, bias: Float32Array | null, metric: Metric): Rewrite {
  const taken = new Set<string>();
  const drop = dropsOf(model, c);
  const ownWeight = drop.length === 1 && c.node.node.inputs[1].endsWith('.weight');
  const names = {
    centroids: initName(model, c, 'centroids', taken),
    weight: ownWeight ? c.node.node.inputs[1] : initName(model, c, 'lut_weight', taken),
    theta: initName(model, c, 'theta', taken),
  };
  const add = new Map<string, Tensor>([
    [names.centroids, new Tensor(centroids, [C, K, V])],
    [names.weight, new Tensor(weight, [C, V, c.M])],
    [names.theta, new Tensor(Float32Array.of(thetaForTemperature()), [])],
  ]);
  const biasName = bias ? biasSlot(model, c, taken, 'bias') : '';
  if (bias) add.set(biasName, new Tensor(Float32Array.from(bias), [c.M]));
  const attrs: Attrs = c.kind === 'conv' ? { ...windowAttrs(c), metric, quantize: true } : { metric, quantize: true };
  const node: GraphNode = { name: c.name, op: c.kind === 'conv' ? 'LutConv' : 'LutLinear', inputs: [c.node.node.inputs[0], names.centroids, names.weight, biasName, names.theta], outputs: [...c.node.node.outputs], attrs };
  return { node, add, drop: drop.filter((d) => d !== names.weight) };
}

/** A new model with the rewrites applied (nodes replaced under the same names and outputs, initializers added and dropped). */
export function applyRewrites(model: GraphModel, rewrites: readonly Rewrite[]): GraphModel {
  const byNode = new Map(rewrites.map((r) => [r.node.name, r]));
  const nodes = model.graph.nodes.map((n) => byNode.get(n.name)?.node ?? n);
  // Copies: the converted model trains on its own (the dense model it came from stays as it is).
  const weights = new Map(model.namedWeights().map(([k, t]) => [k, t.clone()]));
  for (const r of rewrites) {
    for (const d of r.drop) weights.delete(d);
    for (const [k, t] of r.add) weights.set(k, t);
  }
  const m = GraphModelClass.create({ ...model.graph, nodes }, weights);
  m.train(model.training);
  return m;
}

/**
 * Converts `model` (not changed) into a new GraphModel where each selected layer is a LutLinear/LutConv (LUT-NN: k-means
 * centroids, the dense weight regrouped, by default refitted by least squares to the dense output) or a MADDNESS layer.
 */
export function convertModel(model: GraphModel, calibration: Iterable<Tensor>, opts: ConvertOptions = {}): { model: GraphModel; layers: ConvertedLayer[] } {
  const method = opts.method ?? 'lutnn';
  const K = opts.k ?? 16;
  if (method === 'maddness' && K !== 16) throw new ArgumentError(`convert: MADDNESS uses K = 16 (trees of depth 4), got --k ${K}`);
  const v: SubvecLens = { ...DEFAULT_V, ...opts.v };
  const metric = opts.metric ?? 'l2';
  const seed = opts.seed ?? 0;
  const maxRows = opts.maxRows ?? 65536;
  if (opts.calibration !== undefined && opts.calibration !== 'sequential' && opts.calibration !== 'parallel') {
    throw new ArgumentError(`convert: calibration must be 'sequential' or 'parallel', got ${String(opts.calibration)}`);
  }
  const sequential = method === 'lutnn' && (opts.calibration ?? 'parallel') === 'sequential';
  const refit = method === 'lutnn' && (opts.refit ?? true);
  const names = selectLayers(model, opts.include, opts.exclude);
  if (names.length === 0) throw new ArgumentError('convert: no layer selected for conversion');
  const byName = new Map(candidates(model).map((c) => [c.name, c]));
  for (const name of names) {
    const c = byName.get(name)!;
    const V = subvecLenFor(c, v);
    if (c.D % V !== 0) throw new ArgumentError(`convert: layer '${name}' has D = ${c.D} inputs, not divisible by V = ${V} (set --v)`);
  }
  const batches = sequential || refit || Array.isArray(calibration) ? [...calibration] : calibration;
  // Calibration progress per batch when their number is known (an array, or materialised for the refit), else 0/1 → 1/1.
  const nBatches = Array.isArray(batches) ? batches.length : 0;
  const calibProgress = (stage: string): ((done: number) => void) | undefined =>
    nBatches > 0 && opts.onProgress ? (done) => opts.onProgress!(stage, done, nBatches) : undefined;
  let parallelRows: Map<string, RowSample> | null = null;
  if (!sequential) {
    opts.onProgress?.('calibrate', 0, nBatches || 1);
    parallelRows = collectCalibrationRows(model, names, batches, maxRows, seed, calibProgress('calibrate'));
    if (!nBatches) opts.onProgress?.('calibrate', 1, 1);
  }
  let current = model;
  const rewrites: Rewrite[] = [];
  const out: ConvertedLayer[] = [];
  names.forEach((name, li) => {
    const t0 = performance.now();
    const c = byName.get(name)!;
    const V = subvecLenFor(c, v);
    // clean: the dense model's rows; rows: what this layer sees in the (partly converted) model.
    let rows: Float32Array;
    let clean: Float32Array;
    let n: number;
    if (sequential) {
      opts.onProgress?.(`calibrate ${name}`, 0, nBatches || 1);
      const p = collectPairedRows([model, current], name, batches, maxRows, seed + li, calibProgress(`calibrate ${name}`));
      if (!nBatches) opts.onProgress?.(`calibrate ${name}`, 1, 1);
      [clean, rows] = p.rows;
      n = p.n;
    } else {
      const r = parallelRows!.get(name);
      if (!r) throw new ArgumentError(`convert: layer '${name}' saw no calibration rows (is it used in the forward pass?)`);
      rows = clean = r.rows;
      n = r.n;
    }
    if (n === 0) throw new ArgumentError(`convert: layer '${name}' saw no calibration rows (is it used in the forward pass?)`);
    const D = c.D;
    const C = D / V;
    const stage = `${method} ${name}`;
    const progress = (done: number, total: number): void => opts.onProgress?.(stage, done, total);
    const { W, bias } = denseWeight(model, c);
    let rw: Rewrite;
    let outputError: ConvertedLayer['outputError'] = null;
    if (method === 'lutnn') {
      const cents = trainCodebooks(rows, n, C, V, K, { metric, seed: seed + 1000 * (li + 1), iters: opts.kmeansIters ?? 25, restarts: opts.kmeansRestarts ?? 1, maxRows: n, onProgress: progress });
      let weight = regroupWeight(W, c.M, D);
      let b = bias;
      if (refit) {
        // Progress in percent of the estimated multiply-adds (encoding the rows, then refitWeights' phases), the
        // last report being 100/100.
        const stage = `refit ${name}`;
        const encWork = n * C * K * V;
        const fitWork = refitWork(n, C, K, V, c.M).total;
        const pct = (macs: number): number => Math.min(99, Math.floor((100 * macs) / (encWork + fitWork)));
        opts.onProgress?.(stage, 0, 100);
        const codes = encodeChunked(rows, n, D, cents, C, K, V, metric, (done) => opts.onProgress?.(stage, pct((encWork * done) / n), 100));
        const target = denseOutput(W, bias, clean, n, D, c.M);
        const onRefit = (d: number): void => opts.onProgress?.(stage, d >= 100 ? 100 : pct(encWork + (fitWork * d) / 100), 100);
        const r = refitWeights(codes, cents, C, K, V, target, n, c.M, { ridge: opts.ridge, onProgress: onRefit }, { weight, bias: bias ?? new Float32Array(c.M) });
        weight = r.weight;
        b = r.bias;
        outputError = { kmeans: r.relErrorBefore, refit: r.relErrorAfter };
      }
      rw = lutRewrite(model, c, cents, C, K, V, weight, b, metric);
    } else {
      rw = maddnessRewrite(model, c, rows, n, C, V, W, bias, seed + 1000 * (li + 1), progress);
    }
    rewrites.push(rw);
    if (sequential) current = applyRewrites(model, rewrites);
    out.push({ name, kind: c.kind, ncodebooks: C, subvecLen: V, k: K, rows: n, seconds: (performance.now() - t0) / 1000, outputError });
  });
  return { model: sequential ? current : applyRewrites(model, rewrites), layers: out };
}

/** MADDNESS: trees on the calibration rows, the table solved directly (prototypes times the dense weight), int8. */
function maddnessRewrite(model: GraphModel, c: Candidate, rows: Float32Array, n: number, C: number, V: number, W: Float32Array, bias: Float32Array | null, seed: number, progress: (d: number, t: number) => void): Rewrite {
  const enc = trainMaddness(rows, n, C, V, { seed, maxRows: n, onProgress: progress, project: W });
  const M = c.M;
  const lut = enc.prototypes; // [C·16, M]
  let maxAbs = 0;
  for (let i = 0; i < lut.length; i++) maxAbs = Math.max(maxAbs, Math.abs(lut[i]));
  const scale = maxAbs > 0 ? maxAbs / 127 : 1;
  const table = new Int8Array(lut.length);
  for (let i = 0; i < lut.length; i++) table[i] = Math.max(-127, Math.min(127, Math.round(lut[i] / scale)));
  const taken = new Set<string>();
  const names = {
    split: initName(model, c, 'split_dims', taken),
    thr: initName(model, c, 'thresholds', taken),
    table: initName(model, c, 'table', taken),
    scale: initName(model, c, 'table_scale', taken),
  };
  const add = new Map<string, Tensor>([
    [names.split, new Tensor(Int32Array.from(enc.splitDims), [C, MADDNESS_DEPTH])],
    [names.thr, new Tensor(Float32Array.from(enc.thresholds), [C, MADDNESS_NODES])],
    [names.table, new Tensor(table, [C, MADDNESS_LEAVES, M])],
    [names.scale, new Tensor(Float32Array.of(scale), [])],
  ]);
  const drop = dropsOf(model, c);
  const biasName = bias ? biasSlot(model, c, taken, 'bias') : '';
  if (bias) add.set(biasName, new Tensor(Float32Array.from(bias), [M]));
  const attrs: Attrs = c.kind === 'conv' ? windowAttrs(c) : {};
  const node: GraphNode = { name: c.name, op: c.kind === 'conv' ? 'MaddnessConv' : 'MaddnessLinear', inputs: [c.node.node.inputs[0], names.split, names.thr, names.table, names.scale, biasName], outputs: [...c.node.node.outputs], attrs };
  return { node, add, drop };
}

/**
 * The LUT-NN form of `model` without data: the same selection, V and rewrites as convertModel, with seeded N(0, 1)
 * centroids and the dense weights regrouped. For cost and speed figures of shapes only (e.g. `lutnn info MODEL --lut`);
 * its outputs mean nothing.
 */
export function convertStructure(model: GraphModel, opts: Pick<ConvertOptions, 'k' | 'v' | 'metric' | 'include' | 'exclude' | 'seed'> = {}): { model: GraphModel; layers: string[] } {
  const K = opts.k ?? 16;
  const v: SubvecLens = { ...DEFAULT_V, ...opts.v };
  const names = selectLayers(model, opts.include, opts.exclude);
  if (names.length === 0) throw new ArgumentError('convert: no layer selected for conversion');
  const byName = new Map(candidates(model).map((c) => [c.name, c]));
  let seed = (opts.seed ?? 0) >>> 0;
  const normal = (): number => {
    // A small seeded generator (mulberry32 + Box-Muller): the centroids only need to be reproducible.
    const u = (): number => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    return Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  };
  const rewrites = names.map((name) => {
    const c = byName.get(name)!;
    const V = subvecLenFor(c, v);
    if (c.D % V !== 0) throw new ArgumentError(`convert: layer '${name}' has D = ${c.D} inputs, not divisible by V = ${V} (set --v)`);
    const C = c.D / V;
    const centroids = new Float32Array(C * K * V);
    for (let i = 0; i < centroids.length; i++) centroids[i] = normal();
    const { W, bias } = denseWeight(model, c);
    return lutRewrite(model, c, centroids, C, K, V, regroupWeight(W, c.M, c.D), bias, opts.metric ?? 'l2');
  });
  return { model: applyRewrites(model, rewrites), layers: names };
}
