// Post-training static quantization of graph models: Conv and Linear nodes become QConv / QLinear with calibrated activation scales.
//
// Weights: symmetric per output channel, recomputed from the float weight in every forward pass (src/ops/quant.ts), so
// the file keeps the float weight (quantization-aware fine-tuning trains it) and the integers are a function of it.
// Activations: symmetric per tensor, zero point 0, scale = clip / (2^(actBits−1) − 1), the clip chosen by an observer
// from calibration images run through the float model (every layer calibrates on the float model's activations):
// - 'max': the largest |x| seen.
// - 'percentile': the p-th percentile of |x| over every calibration value (default 99.99), from a histogram.
// - 'mse' (default): the clip minimising the expected squared quantization error over the histogram of |x|: values
//   above the clip cost (|x| − clip)², values below it min(x², Δ²/12) with Δ = the step clip / qmax (rounding noise;
//   a value under half a step rounds to 0 and costs x²).
// The histogram has `bins` bins over [0, max|x|] (second pass over the calibration batches, after the max pass).
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import { GraphModel } from '../graph/model.js';
import type { Attrs, GraphNode } from '../graph/types.js';
import { globToRegExp } from '../lut/convert.js';
import { MAX_ACT_BITS, MAX_WEIGHT_BITS, MIN_QUANT_BITS, weightMax } from '../tensor/quantize.js';
import { Tensor } from '../tensor/tensor.js';

export type Observer = 'max' | 'percentile' | 'mse';
export const OBSERVERS: readonly Observer[] = ['max', 'percentile', 'mse'];

export interface QuantizeOptions {
  /** Activation bits (2..8, default 8). */
  actBits?: number;
  /** Weight bits (2..16, default 9). */
  weightBits?: number;
  observer?: Observer;
  /** Percentile of |x| for the 'percentile' observer (default 99.99). */
  percentile?: number;
  /** Histogram bins of the 'percentile' and 'mse' observers (default 2048). */
  bins?: number;
  /** Node names or globs to quantize (default: every Conv and Linear). */
  include?: string[];
  /** Names or globs to keep float. */
  exclude?: string[];
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface QuantizedLayer {
  name: string;
  op: 'QConv' | 'QLinear';
  /** Products per output (K) and outputs per row (M). */
  inDim: number;
  outDim: number;
  actBits: number;
  weightBits: number;
  /** The chosen clip and the resulting activation scale (clip / (2^(actBits−1) − 1), as float32). */
  clip: number;
  actScale: number;
  /** Largest |x| seen in calibration and the fraction of calibration values above the clip. */
  absMax: number;
  clippedFraction: number;
  /** Calibration values seen. */
  values: number;
}

/** The Conv and Linear nodes of a model, in topological order. */
export function quantCandidates(model: GraphModel): NodeInfo[] {
  return model.info.nodes.filter((n) => n.node.op === 'Conv' || n.node.op === 'Linear');
}

/** Names to quantize: `include` (names or globs; each must match) or every candidate, minus `exclude`. */
export function selectQuantLayers(model: GraphModel, include?: string[], exclude?: string[]): string[] {
  const all = quantCandidates(model).map((n) => n.node.name);
  const match = (p: string, n: string): boolean => (p.includes('*') ? globToRegExp(p).test(n) : p === n);
  for (const [what, list] of [['--layers', include ?? []], ['excluded layer', exclude ?? []]] as const) {
    for (const p of list) if (!all.some((n) => match(p, n))) throw new ArgumentError(`quantize: ${what} '${p}' names no Conv or Linear node (have: ${all.join(', ')})`);
  }
  const picked = include && include.length > 0 ? all.filter((n) => include.some((p) => match(p, n))) : all;
  return picked.filter((n) => !(exclude ?? []).some((p) => match(p, n)));
}

/** Histogram of |x| over [0, max] plus exact zeros. */
interface AbsHistogram {
  max: number;
  counts: Float64Array;
  zeros: number;
  total: number;
}

/** The clip an observer picks from a histogram (see the file comment). */
export function chooseClip(h: AbsHistogram, observer: Observer, actBits: number, percentile = 99.99): number {
  if (h.max === 0) return 0;
  if (observer === 'max') return h.max;
  const bins = h.counts.length;
  const width = h.max / bins;
  if (observer === 'percentile') {
    const want = (percentile / 100) * h.total;
    let cum = h.zeros;
    for (let i = 0; i < bins; i++) {
      cum += h.counts[i];
      if (cum >= want) return (i + 1) * width;
    }
    return h.max;
  }
  const qmax = 2 ** (actBits - 1) - 1;
  let best = h.max;
  let bestErr = Infinity;
  // Candidate clips at bin edges from 1/bins·max upward (the full range included).
  for (let e = 1; e <= bins; e++) {
    const clip = e * width;
    const step = clip / qmax;
    const noise = (step * step) / 12;
    let err = 0;
    for (let i = 0; i < bins; i++) {
      const c = h.counts[i];
      if (c === 0) continue;
      const v = (i + 0.5) * width;
      err += c * (v > clip ? (v - clip) ** 2 : Math.min(v * v, noise));
    }
    if (err < bestErr) {
      bestErr = err;
      best = clip;
    }
  }
  return best;
}

function checkOptions(o: QuantizeOptions): Required<Pick<QuantizeOptions, 'actBits' | 'weightBits' | 'observer' | 'percentile' | 'bins'>> {
  const actBits = o.actBits ?? 8;
  const weightBits = o.weightBits ?? 9;
  const observer = o.observer ?? 'mse';
  const percentile = o.percentile ?? 99.99;
  const bins = o.bins ?? 2048;
  if (!Number.isInteger(actBits) || actBits < MIN_QUANT_BITS || actBits > MAX_ACT_BITS) throw new ArgumentError(`quantize: actBits must be an integer in [${MIN_QUANT_BITS}, ${MAX_ACT_BITS}], got ${actBits}`);
  if (!Number.isInteger(weightBits) || weightBits < MIN_QUANT_BITS || weightBits > MAX_WEIGHT_BITS) throw new ArgumentError(`quantize: weightBits must be an integer in [${MIN_QUANT_BITS}, ${MAX_WEIGHT_BITS}], got ${weightBits}`);
  if (!OBSERVERS.includes(observer)) throw new ArgumentError(`quantize: observer must be one of ${OBSERVERS.join(', ')}, got ${String(observer)}`);
  if (!(percentile > 0 && percentile <= 100)) throw new ArgumentError(`quantize: percentile must be in (0, 100], got ${percentile}`);
  if (!Number.isInteger(bins) || bins < 16 || bins > 65536) throw new ArgumentError(`quantize: bins must be an integer in [16, 65536], got ${bins}`);
  return { actBits, weightBits, observer, percentile, bins };
}

/** Runs the batches through the float model in eval mode, calling `see(layer, x)` with each selected node's input. */
function observe(model: GraphModel, names: ReadonlySet<string>, batches: readonly Tensor[], see: (name: string, x: Float32Array) => void, progress: (done: number) => void): void {
  const was = model.training;
  model.eval();
  try {
    noGrad(() => {
      batches.forEach((x, i) => {
        model.run([x], { hook: (n, ins) => void (names.has(n.node.name) && see(n.node.name, ins[0]!.f32)) });
        progress(i + 1);
      });
    });
  } finally {
    model.train(was);
  }
}

/**
 * A new model (copies of the weights) whose selected Conv / Linear nodes are QConv / QLinear, with activation scales
 * calibrated on `calibration` (float model, eval mode); `model` is not changed.
 */
export function quantizeModel(model: GraphModel, calibration: Iterable<Tensor>, opts: QuantizeOptions = {}): { model: GraphModel; layers: QuantizedLayer[] } {
  const o = checkOptions(opts);
  const names = selectQuantLayers(model, opts.include, opts.exclude);
  if (names.length === 0) throw new ArgumentError('quantize: no Conv or Linear layer selected');
  const batches = [...calibration];
  if (batches.length === 0) throw new ArgumentError('quantize: no calibration batches');
  const selected = new Set(names);
  const bar = (stage: string) => (done: number): void => opts.onProgress?.(stage, done, batches.length);

  const absMax = new Map<string, number>(names.map((n) => [n, 0]));
  bar('calibrate max')(0);
  observe(model, selected, batches, (n, x) => {
    let m = absMax.get(n)!;
    let finite = true;
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      if (a > m) m = a;
      else if (!(a <= m)) finite = false; // NaN
    }
    if (!finite || !Number.isFinite(m)) throw new ArgumentError(`quantize: layer '${n}' saw a non-finite activation in calibration`);
    absMax.set(n, m);
  }, bar('calibrate max'));
  const hists = new Map<string, AbsHistogram>(names.map((n) => [n, { max: absMax.get(n)!, counts: new Float64Array(o.bins), zeros: 0, total: 0 }]));
  const fill = (n: string, x: Float32Array): void => {
    const h = hists.get(n)!;
    const k = h.max > 0 ? o.bins / h.max : 0;
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      if (a === 0) h.zeros++;
      else h.counts[Math.min(o.bins - 1, Math.floor(a * k))]++;
    }
    h.total += x.length;
  };
  bar('calibrate histogram')(0);
  observe(model, selected, batches, fill, bar('calibrate histogram'));

  const layers: QuantizedLayer[] = [];
  const weights = new Map(model.namedWeights().map(([k, t]) => [k, t.clone()]));
  const taken = new Set(weights.keys());
  const qmax = 2 ** (o.actBits - 1) - 1;
  const nodes: GraphNode[] = model.graph.nodes.map((node) => {
    if (!selected.has(node.name)) return node;
    const ni = model.info.nodes.find((n) => n.node.name === node.name)!;
    const h = hists.get(node.name)!;
    const clip = chooseClip(h, o.observer, o.actBits, o.percentile);
    const actScale = clip > 0 ? Math.fround(clip / qmax) : 1;
    let above = 0;
    for (let i = 0; i < o.bins; i++) if ((i + 0.5) * (h.max / o.bins) > clip) above += h.counts[i];
    const w = node.inputs[1];
    let scaleName = `${w.endsWith('.weight') ? w.slice(0, -'.weight'.length) : node.name}.act_scale`;
    for (let i = 2; taken.has(scaleName); i++) scaleName = `${node.name}.act_scale_${i}`;
    taken.add(scaleName);
    weights.set(scaleName, new Tensor(Float32Array.of(actScale), []));
    const conv = node.op === 'Conv';
    const [M, ...rest] = ni.inputs[1]!.shape as number[];
    const K = rest.reduce((a, b) => a * b, 1);
    if (K * 2 ** (o.actBits - 1) * weightMax(o.weightBits) >= 2 ** 31) {
      throw new ArgumentError(`quantize: layer '${node.name}' sums ${K} products; ${o.actBits}-bit × ${o.weightBits}-bit products may overflow int32 (use fewer bits)`);
    }
    layers.push({
      name: node.name, op: conv ? 'QConv' : 'QLinear', inDim: K, outDim: M, actBits: o.actBits, weightBits: o.weightBits,
      clip, actScale, absMax: h.max, clippedFraction: h.total > 0 ? above / h.total : 0, values: h.total,
    });
    const attrs: Attrs = { ...(conv ? ni.attrs : {}), act_bits: o.actBits, weight_bits: o.weightBits };
    return { ...node, op: conv ? 'QConv' : 'QLinear', inputs: [node.inputs[0], node.inputs[1], node.inputs[2] ?? '', scaleName], attrs };
  });
  const q = GraphModel.create({ ...model.graph, nodes }, weights);
  q.train(model.training);
  return { model: q, layers };
}

/** The quantized layers of a model (QConv / QLinear nodes) with their settings and activation scales. */
export function quantizedLayers(model: GraphModel): { name: string; op: 'QConv' | 'QLinear'; actBits: number; weightBits: number; actScale: number; weight: string }[] {
  return model.info.nodes
    .filter((n) => n.node.op === 'QConv' || n.node.op === 'QLinear')
    .map((n) => ({
      name: n.node.name, op: n.node.op as 'QConv' | 'QLinear', actBits: n.attrs.act_bits as number, weightBits: n.attrs.weight_bits as number,
      actScale: model.weight(n.node.inputs[3]).f32[0], weight: n.node.inputs[1],
    }));
}
