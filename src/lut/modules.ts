// LutLinear and LutConv2d: LUT-NN layers (centroids, regrouped weight, bias, temperature logit θ) on the fused lutForward op.
import { noGrad } from '../autograd/engine.js';
import type { Conv2dGeom } from '../backend/types.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import type { OpSink, Value } from '../graph/builder.js';
import { Conv2d, Linear, uniformInit, weight, type Pair } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { conv2dGeom } from '../ops/index.js';
import { randn, scalar } from '../tensor/create.js';
import { globalRng, type Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { checkMetric, type Metric } from './distance.js';
import { DEFAULT_TEMPERATURE, im2colRows, temperatureOf, thetaForTemperature } from '../ops/lut.js';

function posInt(op: string, arg: string, v: unknown, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ArgumentError(`${op}: ${arg} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function toPair(op: string, arg: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  if (typeof v === 'number') return [posInt(op, arg, v, min), v];
  if (!Array.isArray(v) || v.length !== 2) throw new ArgumentError(`${op}: ${arg} must be a number or [h, w], got ${String(v)}`);
  return [posInt(op, `${arg}[0]`, v[0], min), posInt(op, `${arg}[1]`, v[1], min)];
}

function boolOpt(op: string, arg: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw new ArgumentError(`${op}: ${arg} must be a boolean, got ${String(v)}`);
  return v;
}

/** Options shared by both LUT layers. */
export interface LutLayerOptions {
  /** Sub-vector length V (D must be a multiple of it). */
  subvecLen?: number;
  /** Centroids per codebook (<= 256). */
  k?: number;
  metric?: Metric;
  bias?: boolean;
  /** Hard forward on the int8 table (default true). */
  quantize?: boolean;
  /** Initial temperature (default 0.065). */
  temperature?: number;
  /** Seeded init for the fresh parameters (normally replaced by k-means centroids and the dense weight). */
  rng?: Rng;
}

/**
 * Parameters of a LUT layer with D inputs and M outputs: centroids [C, K, V] (N(0,1) init), weight [C, V, M]
 * (U(±1/√D), as the dense layer), bias [M], theta [] (temperature logit).
 */
abstract class LutBase extends Module {
  readonly inDim: number;
  readonly outDim: number;
  readonly subvecLen: number;
  readonly ncodebooks: number;
  readonly k: number;
  readonly metric: Metric;
  /** Hard forward on the int8 table; false uses the float table (analysis, exactness checks). */
  quantize: boolean;
  readonly centroids: Tensor;
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly theta: Tensor;

  constructor(op: string, D: number, M: number, V: number, opts: LutLayerOptions) {
    super();
    const K = posInt(op, 'k', opts.k ?? 16);
    if (K > 256) throw new ArgumentError(`${op}: k must be <= 256 (uint8 codes), got ${K}`);
    if (D % V !== 0) throw new ShapeError(`${op}: input length D = ${D} is not divisible by subvecLen ${V}`);
    this.inDim = D;
    this.outDim = M;
    this.subvecLen = V;
    this.ncodebooks = D / V;
    this.k = K;
    this.metric = checkMetric(op, opts.metric ?? 'l2');
    this.quantize = boolOpt(op, 'quantize', opts.quantize, true);
    const rng = opts.rng ?? globalRng;
    const C = this.ncodebooks;
    this.centroids = this.registerParameter('centroids', randn([C, K, V], 1, rng));
    this.weight = this.registerParameter('weight', uniformInit([C, V, M], D, rng));
    this.bias = boolOpt(op, 'bias', opts.bias, true) ? this.registerParameter('bias', uniformInit([M], D, rng)) : null;
    this.theta = this.registerParameter('theta', scalar(thetaForTemperature(opts.temperature ?? DEFAULT_TEMPERATURE)));
  }

  /** t = 1/(softplus(θ)+1), the softmax temperature of the soft path. */
  get temperature(): number {
    return temperatureOf(this.theta);
  }

  /** The inputs of the layer's graph node: x, centroids, weight, bias, theta. */
  protected lutInputs(g: OpSink, x: Value, path: string): (Value | null)[] {
    return [x, weight(g, path, 'centroids', this.centroids), weight(g, path, 'weight', this.weight), weight(g, path, 'bias', this.bias), weight(g, path, 'theta', this.theta)];
  }

  /** Copy a dense weight viewed as [M, D] (row m = output m) into weight [C, V, M], and the bias. */
  protected loadDense(op: string, dense: Float32Array, bias: Tensor | null, centroids: Tensor | Float32Array): void {
    const C = this.ncodebooks;
    const V = this.subvecLen;
    const M = this.outDim;
    const D = this.inDim;
    const Pd = centroids instanceof Tensor ? centroids.f32 : centroids;
    if (centroids instanceof Tensor && (centroids.ndim !== 3 || centroids.shape[0] !== C || centroids.shape[1] !== this.k || centroids.shape[2] !== V)) {
      throw new ShapeError(`${op}: centroids must be [${C}, ${this.k}, ${V}], got ${fmtShape(centroids.shape)}`);
    }
    if (!(Pd instanceof Float32Array) || Pd.length !== C * this.k * V) {
      throw new ShapeError(`${op}: centroids must hold C·K·V = ${C}·${this.k}·${V} = ${C * this.k * V} floats, got ${Pd?.length}`);
    }
    this.centroids.f32.set(Pd);
    const W = this.weight.f32;
    // weight[c, v, m] = dense[m, c·V + v]: rows c·V..c·V+V−1 of the dense [D, M] matrix, per codebook.
    for (let m = 0; m < M; m++) for (let d = 0; d < D; d++) W[d * M + m] = dense[m * D + d];
    if (this.bias && bias) this.bias.f32.set(bias.f32);
    else if (this.bias) this.bias.f32.fill(0);
  }
}

export interface LutLinearOptions extends LutLayerOptions {
  inFeatures: number;
  outFeatures: number;
}

/** A Linear layer replaced by LUT-NN: x [..., inFeatures] → [..., outFeatures]. Default V = 16, K = 16. */
export class LutLinear extends LutBase {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(opts: LutLinearOptions) {
    const op = 'LutLinear';
    if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: expected an options object`);
    const D = posInt(op, 'inFeatures', opts.inFeatures);
    const M = posInt(op, 'outFeatures', opts.outFeatures);
    super(op, D, M, posInt(op, 'subvecLen', opts.subvecLen ?? 16), opts);
    this.inFeatures = D;
    this.outFeatures = M;
  }

  /** The rows the codebooks see: x reshaped to [n, inFeatures] (no graph). */
  inputRows(x: Tensor): Tensor {
    this.checkInput(x);
    if (x.dtype !== 'float32') throw new DTypeError(`LutLinear: x must be float32, got ${x.dtype}`);
    return new Tensor(x.data, [x.size / this.inFeatures, this.inFeatures]);
  }

  private checkInput(x: Tensor): void {
    if (!(x instanceof Tensor) || x.ndim < 1 || x.shape[x.ndim - 1] !== this.inFeatures) {
      throw new ShapeError(`LutLinear: input last dim ${x instanceof Tensor ? x.shape[x.ndim - 1] ?? 'none' : 'none'} vs inFeatures ${this.inFeatures} for ${x instanceof Tensor ? fmtShape(x.shape) : String(x)}`);
    }
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('LutLinear', this.lutInputs(g, x, path), { metric: this.metric, quantize: this.quantize }, path || undefined)[0]; // [..., M]
  }

  /** From a trained Linear: its weight regrouped into [C, V, M], its bias, and the given centroids [C, K, V]. */
  static fromDense(linear: Linear, centroids: Tensor, opts: Omit<LutLayerOptions, 'k' | 'bias'> = {}): LutLinear {
    if (!(linear instanceof Linear)) throw new ArgumentError('LutLinear.fromDense: expected a Linear layer');
    if (!(centroids instanceof Tensor) || centroids.ndim !== 3) {
      throw new ShapeError(`LutLinear.fromDense: centroids must be a [C, K, V] tensor, got ${centroids instanceof Tensor ? fmtShape(centroids.shape) : String(centroids)}`);
    }
    const [C, K, V] = centroids.shape;
    if (opts.subvecLen !== undefined && opts.subvecLen !== V) throw new ShapeError(`LutLinear.fromDense: subvecLen ${opts.subvecLen} vs centroids ${fmtShape(centroids.shape)}`);
    if (C * V !== linear.inFeatures) throw new ShapeError(`LutLinear.fromDense: centroids ${fmtShape(centroids.shape)} cover C·V = ${C * V} inputs, layer has ${linear.inFeatures}`);
    const m = new LutLinear({ ...opts, inFeatures: linear.inFeatures, outFeatures: linear.outFeatures, subvecLen: V, k: K, bias: linear.bias !== null });
    m.loadDense('LutLinear.fromDense', linear.weight.f32, linear.bias, centroids);
    return m;
  }
}

export interface LutConv2dOptions extends LutLayerOptions {
  cin: number;
  cout: number;
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Only 1 is supported. */
  groups?: number;
}

/** A Conv2d replaced by LUT-NN on its im2col rows: x [N, Cin, H, W] → [N, Cout, outH, outW]. Default V = kh·kw. */
export class LutConv2d extends LutBase {
  readonly cin: number;
  readonly cout: number;
  readonly kernel: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(opts: LutConv2dOptions) {
    const op = 'LutConv2d';
    if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: expected an options object`);
    const cin = posInt(op, 'cin', opts.cin);
    const cout = posInt(op, 'cout', opts.cout);
    if (opts.kernel === undefined) throw new ArgumentError(`${op}: kernel is required`);
    const kernel = toPair(op, 'kernel', opts.kernel, 0, 1);
    const groups = opts.groups ?? 1;
    if (groups !== 1) throw new ArgumentError(`${op}: groups must be 1 (grouped or depthwise convolutions cannot become LUT layers), got ${String(groups)}`);
    const D = cin * kernel[0] * kernel[1];
    super(op, D, cout, posInt(op, 'subvecLen', opts.subvecLen ?? kernel[0] * kernel[1]), opts);
    this.cin = cin;
    this.cout = cout;
    this.kernel = kernel;
    this.stride = toPair(op, 'stride', opts.stride, 1, 1);
    this.padding = toPair(op, 'padding', opts.padding, 0, 0);
    this.dilation = toPair(op, 'dilation', opts.dilation, 1, 1);
  }

  private geom(x: Tensor): Conv2dGeom {
    if (!(x instanceof Tensor) || x.ndim !== 4 || x.shape[1] !== this.cin) {
      throw new ShapeError(`LutConv2d: expected x [N, ${this.cin}, H, W], got ${x instanceof Tensor ? fmtShape(x.shape) : String(x)}`);
    }
    if (x.dtype !== 'float32') throw new DTypeError(`LutConv2d: x must be float32, got ${x.dtype}`);
    return conv2dGeom(x.shape, [this.cout, this.cin, this.kernel[0], this.kernel[1]], {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
    });
  }

  /** The im2col rows [N·outH·outW, Cin·kh·kw] the codebooks see (no graph). */
  inputRows(x: Tensor): Tensor {
    const g = this.geom(x);
    return noGrad(() => im2colRows(x, g));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    // lutForward on the im2col rows [N·outH·outW, D], taken image by image without materialising them.
    const attrs = { kernel: this.kernel, stride: this.stride, padding: this.padding, dilation: this.dilation, metric: this.metric, quantize: this.quantize };
    return g.op('LutConv', this.lutInputs(g, x, path), attrs, path || undefined)[0]; // [N, Cout, outH, outW]
  }

  /** From a trained Conv2d (groups 1): weight [Cout, Cin, kh, kw] → [C, V, Cout] over rows (cin, ki, kj), its bias, and centroids [C, K, V]. */
  static fromDense(conv: Conv2d, centroids: Tensor, opts: Omit<LutLayerOptions, 'k' | 'bias'> = {}): LutConv2d {
    if (!(conv instanceof Conv2d)) throw new ArgumentError('LutConv2d.fromDense: expected a Conv2d layer');
    if (conv.groups !== 1) throw new ArgumentError(`LutConv2d.fromDense: groups must be 1, got ${conv.groups}`);
    if (!(centroids instanceof Tensor) || centroids.ndim !== 3) {
      throw new ShapeError(`LutConv2d.fromDense: centroids must be a [C, K, V] tensor, got ${centroids instanceof Tensor ? fmtShape(centroids.shape) : String(centroids)}`);
    }
    const [C, K, V] = centroids.shape;
    const D = conv.inChannels * conv.kernelSize[0] * conv.kernelSize[1];
    if (opts.subvecLen !== undefined && opts.subvecLen !== V) throw new ShapeError(`LutConv2d.fromDense: subvecLen ${opts.subvecLen} vs centroids ${fmtShape(centroids.shape)}`);
    if (C * V !== D) throw new ShapeError(`LutConv2d.fromDense: centroids ${fmtShape(centroids.shape)} cover C·V = ${C * V} inputs, the conv has Cin·kh·kw = ${D}`);
    const m = new LutConv2d({
      ...opts,
      cin: conv.inChannels,
      cout: conv.outChannels,
      kernel: conv.kernelSize,
      stride: conv.stride,
      padding: conv.padding,
      dilation: conv.dilation,
      subvecLen: V,
      k: K,
      bias: conv.bias !== null,
    });
    // The conv weight [Cout, Cin, kh, kw] is already [M, D] with D in (cin, ki, kj) order.
    m.loadDense('LutConv2d.fromDense', conv.weight.f32, conv.bias, centroids);
    return m;
  }
}
