// Standard layers (Linear, Conv2d, norms, activations, pooling, dropout, Sequential) with PyTorch's default init.
import { ArgumentError, ShapeError } from '../errors.js';
import { subPath, type OpSink, type Value } from '../graph/builder.js';
import { fmtDims } from '../graph/dims.js';
import { dropout } from '../ops/index.js';
import { full, zeros } from '../tensor/create.js';
import { globalRng, type Rng } from '../tensor/rng.js';
import { Tensor, type Shape } from '../tensor/tensor.js';
import { Module } from './module.js';

export type Pair = number | readonly [number, number];

function posInt(op: string, arg: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ArgumentError(`${op}: ${arg} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

function toPair(op: string, arg: string, v: Pair, min: number): [number, number] {
  if (typeof v === 'number') return [posInt(op, arg, v, min), v];
  if (!Array.isArray(v) || v.length !== 2) throw new ArgumentError(`${op}: ${arg} must be a number or [h, w], got ${String(v)}`);
  return [posInt(op, `${arg}[0]`, v[0], min), posInt(op, `${arg}[1]`, v[1], min)];
}

function probability(op: string, arg: string, v: unknown, maxIncl: boolean): number {
  if (typeof v !== 'number' || !(v >= 0) || (maxIncl ? v > 1 : v >= 1)) {
    throw new ArgumentError(`${op}: ${arg} must be in [0, ${maxIncl ? '1]' : '1)'}, got ${String(v)}`);
  }
  return v;
}

/** The weight `name` of the module at `path` as a value of `g` (null for an absent optional weight). */
export function weight(g: OpSink, path: string, name: string, t: Tensor | null): Value | null {
  return t === null ? null : g.weight(subPath(path, name), t);
}

/** U(−bound, bound) with bound = 1/√fanIn: PyTorch's kaiming_uniform(a=√5) for weights and its bias init. */
export function uniformInit(shape: Shape, fanIn: number, rng: Rng): Tensor {
  const t = zeros(shape);
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  const d = t.f32;
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(-bound, bound);
  return t;
}

export interface LinearOptions {
  bias?: boolean;
  rng?: Rng;
}

/** y = x·Wᵀ + b over the last dim; weight [out, in] as in PyTorch. */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = posInt('Linear', 'inFeatures', inFeatures);
    this.outFeatures = posInt('Linear', 'outFeatures', outFeatures);
    const rng = opts.rng ?? globalRng;
    this.weight = this.registerParameter('weight', uniformInit([outFeatures, inFeatures], inFeatures, rng));
    this.bias = (opts.bias ?? true) ? this.registerParameter('bias', uniformInit([outFeatures], inFeatures, rng)) : null;
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const last = x.info.shape[x.info.shape.length - 1];
    if (x.info.shape.length < 1 || last !== this.inFeatures) {
      throw new ShapeError(`Linear${path ? ` '${path}'` : ''}: input last dim ${last ?? 'none'} vs inFeatures ${this.inFeatures} for ${fmtDims(x.info.shape)}`);
    }
    return g.op('Linear', [x, weight(g, path, 'weight', this.weight), weight(g, path, 'bias', this.bias)], {}, path || undefined)[0]; // [..., out]
  }
}

export interface Conv2dLayerOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  rng?: Rng;
}

/** 2-D convolution over NCHW; weight [out, in/groups, kh, kw]; init with fanIn = in/groups·kh·kw. */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dLayerOptions = {}) {
    super();
    const op = 'Conv2d';
    this.inChannels = posInt(op, 'inChannels', inChannels);
    this.outChannels = posInt(op, 'outChannels', outChannels);
    this.kernelSize = toPair(op, 'kernelSize', kernelSize, 1);
    this.stride = toPair(op, 'stride', opts.stride ?? 1, 1);
    this.padding = toPair(op, 'padding', opts.padding ?? 0, 0);
    this.dilation = toPair(op, 'dilation', opts.dilation ?? 1, 1);
    this.groups = posInt(op, 'groups', opts.groups ?? 1);
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new ArgumentError(`${op}: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${this.groups}`);
    }
    const [kh, kw] = this.kernelSize;
    const fanIn = (inChannels / this.groups) * kh * kw;
    const rng = opts.rng ?? globalRng;
    this.weight = this.registerParameter('weight', uniformInit([outChannels, inChannels / this.groups, kh, kw], fanIn, rng));
    this.bias = (opts.bias ?? true) ? this.registerParameter('bias', uniformInit([outChannels], fanIn, rng)) : null;
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const attrs = { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups };
    return g.op('Conv', [x, weight(g, path, 'weight', this.weight), weight(g, path, 'bias', this.bias)], attrs, path || undefined)[0];
  }
}

export interface BatchNorm2dOptions {
  eps?: number;
  /** Running-stat update weight; null uses the cumulative average 1/numBatchesTracked (PyTorch's momentum=None). */
  momentum?: number | null;
}

/**
 * Batch norm over the channels of NCHW input: weight 1, bias 0, running_mean 0, running_var 1 and an int32
 * num_batches_tracked counter (names as in PyTorch's state dict).
 */
export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;

  constructor(numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super();
    this.numFeatures = posInt('BatchNorm2d', 'numFeatures', numFeatures);
    const eps = opts.eps ?? 1e-5;
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new ArgumentError(`BatchNorm2d: eps must be > 0, got ${String(eps)}`);
    this.eps = eps;
    const m = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.momentum = m === null ? null : probability('BatchNorm2d', 'momentum', m, true);
    this.weight = this.registerParameter('weight', full([numFeatures], 1));
    this.bias = this.registerParameter('bias', zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', full([numFeatures], 1));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', zeros([], 'int32'));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    if (x.info.shape.length !== 4 || x.info.shape[1] !== this.numFeatures) {
      throw new ShapeError(`BatchNorm2d${path ? ` '${path}'` : ''}: expected [N, ${this.numFeatures}, H, W], got ${fmtDims(x.info.shape)}`);
    }
    const w = (n: string, t: Tensor): Value => weight(g, path, n, t)!;
    const ins = [x, w('weight', this.weight), w('bias', this.bias), w('running_mean', this.runningMean), w('running_var', this.runningVar), w('num_batches_tracked', this.numBatchesTracked)];
    return g.op('BatchNorm', ins, { eps: this.eps, momentum: this.momentum }, path || undefined)[0];
  }
}

/** Layer norm over the trailing `normalizedShape` dims with elementwise weight (1) and bias (0). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(normalizedShape: number | readonly number[], opts: { eps?: number } = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...(normalizedShape ?? [])];
    if (shape.length === 0) throw new ArgumentError('LayerNorm: normalizedShape must have at least one dim');
    shape.forEach((d, i) => posInt('LayerNorm', `normalizedShape[${i}]`, d));
    this.normalizedShape = shape;
    const eps = opts.eps ?? 1e-5;
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new ArgumentError(`LayerNorm: eps must be > 0, got ${String(eps)}`);
    this.eps = eps;
    this.weight = this.registerParameter('weight', full(shape, 1));
    this.bias = this.registerParameter('bias', zeros(shape));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const k = this.normalizedShape.length;
    const tail = x.info.shape.slice(x.info.shape.length - k);
    if (k >= x.info.shape.length || fmtDims(tail) !== fmtDims(this.normalizedShape)) {
      throw new ShapeError(`LayerNorm${path ? ` '${path}'` : ''}: normalizedShape ${fmtDims(this.normalizedShape)} does not match the trailing dims of ${fmtDims(x.info.shape)}`);
    }
    return g.op('LayerNorm', [x, weight(g, path, 'weight', this.weight), weight(g, path, 'bias', this.bias)], { axis: -k, eps: this.eps }, path || undefined)[0];
  }
}

export class ReLU extends Module {
  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('Relu', [x], {}, path || undefined)[0];
  }
}

/** GELU: the exact (erf) form, or PyTorch's tanh approximation with `approximate: 'tanh'`. */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    const a = opts.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new ArgumentError(`GELU: approximate must be 'none' or 'tanh', got ${String(a)}`);
    this.approximate = a;
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('Gelu', [x], { approximate: this.approximate }, path || undefined)[0];
  }
}

/** y = x (writes no node). */
export class Identity extends Module {
  override lower(_g: OpSink, x: Value): Value {
    return x;
  }
}

/** Merge dims startDim..endDim into one (default: everything but the batch dim). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(startDim = 1, endDim = -1) {
    super();
    if (!Number.isInteger(startDim) || !Number.isInteger(endDim)) {
      throw new ArgumentError(`Flatten: startDim and endDim must be integers, got ${startDim}, ${endDim}`);
    }
    this.startDim = startDim;
    this.endDim = endDim;
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('Flatten', [x], { start: this.startDim, end: this.endDim }, path || undefined)[0];
  }
}

export interface PoolLayerOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  padding?: Pair;
}

abstract class Pool2d extends Module {
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];

  constructor(op: string, kernel: Pair, opts: PoolLayerOptions) {
    super();
    this.kernel = toPair(op, 'kernel', kernel, 1);
    this.stride = toPair(op, 'stride', opts.stride ?? this.kernel, 1);
    this.padding = toPair(op, 'padding', opts.padding ?? 0, 0);
  }
}

export class MaxPool2d extends Pool2d {
  constructor(kernel: Pair, opts: PoolLayerOptions = {}) {
    super('MaxPool2d', kernel, opts);
  }
  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('MaxPool', [x], { kernel: this.kernel, stride: this.stride, padding: this.padding }, path || undefined)[0];
  }
}

/** Average pooling (padding counted in the divisor, PyTorch's default). */
export class AvgPool2d extends Pool2d {
  constructor(kernel: Pair, opts: PoolLayerOptions = {}) {
    super('AvgPool2d', kernel, opts);
  }
  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('AveragePool', [x], { kernel: this.kernel, stride: this.stride, padding: this.padding }, path || undefined)[0];
  }
}

/** Mean over each channel's H×W plane. */
export class GlobalAvgPool2d extends Module {
  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('GlobalAveragePool', [x], {}, path || undefined)[0];
  }
}

/** Zeroes each element with probability p in training (scaling the rest by 1/(1−p)); identity in eval. */
export class Dropout extends Module {
  readonly p: number;
  private readonly rng: Rng;

  constructor(p = 0.5, opts: { rng?: Rng } = {}) {
    super();
    this.p = probability('Dropout', 'p', p, false);
    this.rng = opts.rng ?? globalRng;
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('Dropout', [x], { p: this.p }, path || undefined)[0];
  }

  /** Eager forward with this module's own generator (a graph's Dropout uses the model's). */
  override forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this.rng);
  }
}

/** Children run in order. Positional children are named "0", "1", ...; `Sequential.named` gives names. */
export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  /** From `[[name, module], ...]` or an object (mind that JS orders integer-like keys first). */
  static named(entries: readonly (readonly [string, Module])[] | Record<string, Module>): Sequential {
    const s = new Sequential();
    const list = Array.isArray(entries) ? entries : Object.entries(entries as Record<string, Module>);
    for (const [n, m] of list) s.registerModule(n, m);
    return s;
  }

  /** Add a child at the end (named by its position unless a name is given); returns this. */
  append(m: Module, name?: string): this {
    this.registerModule(name ?? String(this.length), m);
    return this;
  }

  get length(): number {
    return this.children().length;
  }

  /** Child by position (negative counts from the end). */
  at(i: number): Module {
    const cs = this.children();
    const m = cs[i < 0 ? cs.length + i : i];
    if (!m) throw new ArgumentError(`Sequential.at: index ${i} out of range for ${cs.length} children`);
    return m;
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    let y = x;
    for (const [name] of this.namedChildren()) y = this.lowerChild(g, name, y, path);
    return y;
  }
}
