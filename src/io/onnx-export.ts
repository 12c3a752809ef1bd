// ONNX export of lutnn models (dense layers and LUT-NN layers) to standard ONNX ops that any ONNX runtime runs.
//
// LUT layers (LutLinear, LutConv2d) become, on rows [R, C, V] (R = N for a Linear, N·outH·outW for a conv):
//   Split(V) → per v: Sub(x_v [R,C,1], centroids[:,:,v] [C,K]) → Mul/Abs → chained Add (l2, l1) or Max (Chebyshev)
//   → dist [R, C, K] → ArgMin(axis 2, first index on ties) → codes [R, C] → + c·K → Pad (bias row index)
//   → Gather(table [C·K (+1), M]) → [R, C(+1), M] → Split + chained Add from the bias row (or one ReduceSum) → [R, M].
// The per-v chain adds (x−c)² in lutnn's order with float32 rounding after each op, so the distances, and hence the
// codes, are bit-identical to lutnn's encoder (plain SIMD build) for the same layer input. The table is built and
// int8-quantized here exactly as lutnn's forward does (buildLut, quantizeLut) and stored as int8 + DequantizeLinear,
// whose q·scale in float32 equals lutnn's dequantized table; the bias is the table's last row, and the chained
// sum adds bias + t[0] + t[1] + ... in lutnn's order, so a LUT layer's output is bit-identical to lutnn's too.
// A conv's im2col rows come from a grouped Conv (group = Cin) with fixed one-hot kernels, which copies each patch
// element to its own channel ((cin, ki, kj) order, the conv's padding, stride and dilation).
// Dense layers map to their standard ops; a batch norm whose input is exact (a LUT layer's output) is exported as
// lutnn computes it (float64 x·a + sh, then float32), so whole LUT stacks stay bit-identical to lutnn.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GELU, GlobalAvgPool2d, Identity, LayerNorm, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { moduleTypeOf } from '../nn/spec.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { buildLut, quantizeLut } from '../ops/lut.js';
import type { Metric } from '../lut/distance.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  attribute,
  encodeModel,
  OnnxDataType,
  tensorProto,
  valueInfo,
  type AttrValue,
  type Dim,
  type NodeProto,
  type OnnxDataTypeCode,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.js';

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

export interface OnnxExportOptions {
  /** Per-sample input shape, e.g. [1, 28, 28] (a model file's `dataset.inputShape`). */
  inputShape: readonly number[];
  /** ONNX opset of the default domain, MIN_OPSET..MAX_OPSET (default 17). */
  opset?: number;
  /** Fixed batch size, or 'dynamic' for a symbolic batch dim named "N" (default). */
  batch?: number | 'dynamic';
  /** Add each LUT layer's codes as an extra int64 output `<layer>.codes` [rows, C]. */
  codes?: boolean;
  /**
   * How a LUT layer sums its C table rows: 'chain' (default) adds them one by one from the bias, in lutnn's order,
   * so outputs are bit-identical to lutnn's; 'reduce' uses one ReduceSum (fewer nodes, 12–25% faster in
   * onnxruntime on fmnist-cnn, outputs within float32 rounding, so a later layer's codes can differ at near-ties).
   */
  sum?: 'chain' | 'reduce';
  /** Add each LUT layer's input as an extra float output `<layer>.input` (cross-checks). */
  layerInputs?: boolean;
  /** Graph name and model doc string. */
  graphName?: string;
  docString?: string;
  /** Extra metadata_props entries. */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

export interface OnnxLutLayerInfo {
  name: string;
  kind: 'linear' | 'conv';
  metric: Metric;
  quantize: boolean;
  ncodebooks: number;
  subvecLen: number;
  k: number;
  outDim: number;
  /** int8 (with DequantizeLinear) when quantize, else float32. */
  tableDtype: 'int8' | 'float32';
  /** The int8 table's scale (null for a float table). */
  scale: number | null;
  /** Rows per sample: 1 for a Linear on [N, D], outH·outW for a conv. */
  rowsPerSample: number;
  codesOutput: string | null;
}

export interface OnnxExportResult {
  bytes: Uint8Array;
  opset: number;
  irVersion: number;
  input: { name: string; shape: Dim[] };
  output: { name: string; shape: Dim[] };
  /** Every graph output beyond the main one (codes, layer inputs). */
  extraOutputs: { name: string; shape: Dim[]; dtype: 'float32' | 'int64' }[];
  /** How LUT layers sum their table rows ('chain': bit-identical to lutnn). */
  sum: 'chain' | 'reduce';
  nodes: number;
  initializers: number;
  /** Node count per op type. */
  ops: Record<string, number>;
  lutLayers: OnnxLutLayerInfo[];
  /** Every exported layer (dense and LUT) with its lutnn type name and the ONNX nodes it became. */
  layers: { name: string; type: string; nodes: number }[];
}

/** ONNX IR version matching an opset (ONNX 1.8: IR 7 / opset 13, 1.10: 8 / 15, 1.14: 9 / 19, 1.16: 10 / 21). */
function irVersionFor(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  return 7;
}

/** A value in the graph: its name and static shape (dim 0 is the batch, -1 when dynamic). */
interface Value {
  name: string;
  shape: number[];
  /** Produced by a LUT layer (bit-identical to lutnn's), so a batch norm on it is worth computing exactly. */
  exact?: boolean;
}

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();

  constructor(readonly opset: number) {}

  /** A name not used yet (base, base_1, base_2, ...). */
  fresh(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  node(op: string, inputs: string[], scope: string, attrs: Record<string, AttrValue> = {}, outputs: number | string[] = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.fresh(`${scope}/${op}${outputs > 1 ? `_${i}` : ''}`)) : outputs.map((o) => this.fresh(o));
    this.nodes.push({ name: this.fresh(`${scope}/${op}#node`), opType: op, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outs;
  }

  one(op: string, inputs: string[], scope: string, attrs: Record<string, AttrValue> = {}): string {
    return this.node(op, inputs, scope, attrs, 1)[0];
  }

  init(name: string, dtype: OnnxDataTypeCode, dims: readonly number[], data: Float32Array | Float64Array | Int8Array | number[] | BigInt64Array): string {
    const n = this.fresh(name);
    this.inits.push(tensorProto(n, dtype, dims, data));
    return n;
  }

  f32(name: string, t: Tensor | Float32Array, dims?: readonly number[]): string {
    const data = t instanceof Float32Array ? t : t.f32;
    return this.init(name, OnnxDataType.FLOAT, dims ?? (t instanceof Float32Array ? [t.length] : t.shape), data);
  }

  i64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.init(name, OnnxDataType.INT64, dims, [...values]);
  }

  /** Reshape with a target whose batch dim is copied (0) or inferred (-1). */
  reshape(x: string, target: number[], scope: string): string {
    return this.one('Reshape', [x, this.i64(`${scope}.shape`, target)], scope);
  }
}

function posIntOpt(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${arg} must be an integer >= 1, got ${String(v)}`);
  return v;
}

const SUPPORTED = 'Sequential, Conv2d, BatchNorm2d, ReLU, GELU, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Linear, LayerNorm, Dropout, Identity, LutLinear, LutConv2d';

function convOut(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

function need(op: string, name: string, x: Value, rank: number, what: string): void {
  if (x.shape.length !== rank) throw new ShapeError(`onnx export: ${op} '${name}' expects ${what}, got input ${fmtShape(x.shape)}`);
}

/** Lowers one module tree, layer by layer, into a GraphBuilder. */
class Exporter {
  readonly lut: OnnxLutLayerInfo[] = [];
  readonly layers: { name: string; type: string; nodes: number }[] = [];
  readonly extra: { name: string; shape: Dim[]; dtype: 'float32' | 'int64' }[] = [];

  constructor(private readonly g: GraphBuilder, private readonly opts: OnnxExportOptions, private readonly batchDim: Dim) {}

  private dims(shape: number[]): Dim[] {
    return shape.map((d, i) => (i === 0 && d < 0 ? this.batchDim : d < 0 ? `${this.batchDim}_${i}` : d));
  }

  private addOutput(name: string, value: string, shape: Dim[], dtype: 'float32' | 'int64'): string {
    const out = this.g.node('Identity', [value], name, {}, [name])[0];
    if (out !== name) throw new ArgumentError(`onnx export: output name '${name}' is already used in the graph`);
    this.g.outputs.push(valueInfo(out, dtype === 'int64' ? OnnxDataType.INT64 : OnnxDataType.FLOAT, shape));
    this.extra.push({ name: out, shape, dtype });
    return out;
  }

  run(m: Module, name: string, x: Value): Value {
    const before = this.g.nodes.length;
    const type = safeType(m);
    const y = this.lower(m, name, x, type);
    if (!(m instanceof Sequential) && type !== 'Dropout' && type !== 'Identity') {
      this.layers.push({ name: name || '(root)', type, nodes: this.g.nodes.length - before });
    }
    return y;
  }

  private lower(m: Module, name: string, x: Value, type: string): Value {
    const scope = name || 'model';
    const g = this.g;
    if (m instanceof Sequential) {
      let y = x;
      for (const [n, c] of m.namedChildren()) y = this.run(c, name ? `${name}.${n}` : n, y);
      return y;
    }
    if (m instanceof LutLinear) return this.lutLinear(m, scope, x);
    if (m instanceof LutConv2d) return this.lutConv(m, scope, x);
    if (m instanceof Conv2d) {
      need('Conv2d', scope, x, 4, `[N, ${m.inChannels}, H, W]`);
      if (x.shape[1] !== m.inChannels) throw new ShapeError(`onnx export: Conv2d '${scope}' has ${m.inChannels} input channels, got input ${fmtShape(x.shape)}`);
      const [kh, kw] = m.kernelSize;
      const ins = [x.name, g.f32(`${scope}.weight`, m.weight)];
      if (m.bias) ins.push(g.f32(`${scope}.bias`, m.bias));
      const y = g.one('Conv', ins, scope, {
        kernel_shape: [kh, kw], strides: [...m.stride], dilations: [...m.dilation], group: m.groups,
        pads: [m.padding[0], m.padding[1], m.padding[0], m.padding[1]],
      });
      const oh = convOut(x.shape[2], kh, m.stride[0], m.padding[0], m.dilation[0]);
      const ow = convOut(x.shape[3], kw, m.stride[1], m.padding[1], m.dilation[1]);
      if (oh < 1 || ow < 1) throw new ShapeError(`onnx export: Conv2d '${scope}' gives an empty output for input ${fmtShape(x.shape)}`);
      return { name: y, shape: [x.shape[0], m.outChannels, oh, ow] };
    }
    if (m instanceof BatchNorm2d) {
      need('BatchNorm2d', scope, x, 4, `[N, ${m.numFeatures}, H, W]`);
      if (x.exact) {
        // After a LUT layer (nothing to fold into): lutnn's own arithmetic, y = f32(x·a + sh) in float64 with
        // a = γ/√(var+ε) and sh = β − mean·a, so the next LUT layer sees bit-identical input.
        const C = m.numFeatures;
        const a = new Float64Array(C);
        const sh = new Float64Array(C);
        for (let c = 0; c < C; c++) {
          a[c] = m.weight.f32[c] * (1 / Math.sqrt(m.runningVar.f32[c] + m.eps));
          sh[c] = m.bias.f32[c] - m.runningMean.f32[c] * a[c];
        }
        const xd = g.one('Cast', [x.name], scope, { to: OnnxDataType.DOUBLE });
        const yd = g.one('Add', [g.one('Mul', [xd, g.init(`${scope}.scale_f64`, OnnxDataType.DOUBLE, [C, 1, 1], a)], scope), g.init(`${scope}.shift_f64`, OnnxDataType.DOUBLE, [C, 1, 1], sh)], scope);
        return { name: g.one('Cast', [yd], scope, { to: OnnxDataType.FLOAT }), shape: x.shape, exact: true };
      }
      const y = g.one('BatchNormalization', [
        x.name, g.f32(`${scope}.weight`, m.weight), g.f32(`${scope}.bias`, m.bias),
        g.f32(`${scope}.running_mean`, m.runningMean), g.f32(`${scope}.running_var`, m.runningVar),
      ], scope, { epsilon: { float: m.eps } });
      return { name: y, shape: x.shape };
    }
    if (m instanceof ReLU) return { name: g.one('Relu', [x.name], scope), shape: x.shape, exact: x.exact };
    if (m instanceof GELU) {
      // Exact GELU: 0.5·x·(1 + erf(x/√2)) (the Gelu op needs opset 20).
      const e = g.one('Erf', [g.one('Mul', [x.name, g.f32(`${scope}.rsqrt2`, Float32Array.of(Math.SQRT1_2), [])], scope)], scope);
      const h = g.one('Add', [e, g.f32(`${scope}.one`, Float32Array.of(1), [])], scope);
      return { name: g.one('Mul', [g.one('Mul', [x.name, g.f32(`${scope}.half`, Float32Array.of(0.5), [])], scope), h], scope), shape: x.shape };
    }
    if (m instanceof Dropout || m instanceof Identity) return x; // eval mode: identity
    if (m instanceof MaxPool2d || m instanceof AvgPool2d) {
      need(type, scope, x, 4, '[N, C, H, W]');
      const attrs: Record<string, AttrValue> = { kernel_shape: [...m.kernel], strides: [...m.stride], pads: [m.padding[0], m.padding[1], m.padding[0], m.padding[1]] };
      if (m instanceof AvgPool2d) attrs.count_include_pad = 1;
      const y = g.one(m instanceof MaxPool2d ? 'MaxPool' : 'AveragePool', [x.name], scope, attrs);
      const oh = convOut(x.shape[2], m.kernel[0], m.stride[0], m.padding[0], 1);
      const ow = convOut(x.shape[3], m.kernel[1], m.stride[1], m.padding[1], 1);
      return { name: y, shape: [x.shape[0], x.shape[1], oh, ow], exact: x.exact && m instanceof MaxPool2d };
    }
    if (m instanceof GlobalAvgPool2d) {
      need(type, scope, x, 4, '[N, C, H, W]');
      const p = g.one('GlobalAveragePool', [x.name], scope); // [N, C, 1, 1]
      return { name: g.reshape(p, [0, x.shape[1]], scope), shape: [x.shape[0], x.shape[1]] };
    }
    if (m instanceof Flatten) {
      const r = x.shape.length;
      const s = m.startDim < 0 ? m.startDim + r : m.startDim;
      const e = m.endDim < 0 ? m.endDim + r : m.endDim;
      if (s < 1 || e >= r || s > e) {
        throw new ArgumentError(`onnx export: Flatten '${scope}' with startDim ${m.startDim}, endDim ${m.endDim} on ${fmtShape(x.shape)}: only dims after the batch dim can be merged`);
      }
      const merged = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
      const shape = [...x.shape.slice(0, s), merged, ...x.shape.slice(e + 1)];
      return { name: g.reshape(x.name, [0, ...shape.slice(1)], scope), shape, exact: x.exact };
    }
    if (m instanceof Linear) {
      if (x.shape[x.shape.length - 1] !== m.inFeatures || x.shape.length < 2) {
        throw new ShapeError(`onnx export: Linear '${scope}' has inFeatures ${m.inFeatures}, got input ${fmtShape(x.shape)}`);
      }
      const shape = [...x.shape.slice(0, -1), m.outFeatures];
      if (x.shape.length === 2) {
        const ins = [x.name, g.f32(`${scope}.weight`, m.weight)];
        if (m.bias) ins.push(g.f32(`${scope}.bias`, m.bias));
        return { name: g.one('Gemm', ins, scope, { transB: 1 }), shape };
      }
      const W = m.weight.f32;
      const Wt = new Float32Array(W.length); // [in, out]
      for (let o = 0; o < m.outFeatures; o++) for (let i = 0; i < m.inFeatures; i++) Wt[i * m.outFeatures + o] = W[o * m.inFeatures + i];
      let y = g.one('MatMul', [x.name, g.f32(`${scope}.weight_t`, Wt, [m.inFeatures, m.outFeatures])], scope);
      if (m.bias) y = g.one('Add', [y, g.f32(`${scope}.bias`, m.bias)], scope);
      return { name: y, shape };
    }
    if (m instanceof LayerNorm) {
      if (g.opset < 17) throw new ArgumentError(`onnx export: LayerNorm '${scope}' needs opset >= 17 (LayerNormalization), got --opset ${g.opset}`);
      const k = m.normalizedShape.length;
      if (fmtShape(x.shape.slice(-k)) !== fmtShape(m.normalizedShape)) throw new ShapeError(`onnx export: LayerNorm '${scope}' normalizes ${fmtShape(m.normalizedShape)}, got input ${fmtShape(x.shape)}`);
      const y = g.one('LayerNormalization', [x.name, g.f32(`${scope}.weight`, m.weight), g.f32(`${scope}.bias`, m.bias)], scope, { axis: -k, epsilon: { float: m.eps } });
      return { name: y, shape: x.shape };
    }
    throw new ArgumentError(`onnx export: layer '${scope}' is a ${type}, which ONNX export does not support (supported: ${SUPPORTED})`);
  }

  /** The LUT core on rows [R, C, V] → [R, M]; records the layer. */
  private lutRows(m: LutLinear | LutConv2d, scope: string, rows: string, kind: 'linear' | 'conv', rowsPerSample: number, batch: number): string {
    const g = this.g;
    const C = m.ncodebooks;
    const K = m.k;
    const V = m.subvecLen;
    const M = m.outDim;
    const P = m.centroids.f32;
    // x_v [R, C, 1] for v = 0..V−1.
    const xs = V === 1 ? [rows] : g.node('Split', [rows, g.i64(`${scope}.split`, new Array(V).fill(1))], scope, { axis: 2 }, V);
    let dist = '';
    for (let v = 0; v < V; v++) {
      const cv = new Float32Array(C * K); // centroids[:, :, v] → [C, K]
      for (let i = 0; i < C * K; i++) cv[i] = P[i * V + v];
      const t = g.one('Sub', [xs[v], g.f32(`${scope}.centroids_v${v}`, cv, [C, K])], scope); // [R, C, K]
      const term = m.metric === 'l2' ? g.one('Mul', [t, t], scope) : g.one('Abs', [t], scope);
      if (v === 0) dist = term;
      else dist = g.one(m.metric === 'chebyshev' ? 'Max' : 'Add', [dist, term], scope);
    }
    const codes = g.one('ArgMin', [dist], scope, { axis: 2, keepdims: 0, select_last_index: 0 }); // [R, C] int64
    let codesOut: string | null = null;
    const rowsDim: Dim = batch < 0 ? `${this.batchDim}*${rowsPerSample}` : batch * rowsPerSample;
    if (this.opts.codes) codesOut = this.addOutput(`${scope}.codes`, codes, [rowsPerSample === 1 ? this.dims([batch])[0] : rowsDim, C], 'int64');
    const offsets = Array.from({ length: C }, (_, c) => c * K);
    let idx = g.one('Add', [codes, g.i64(`${scope}.offsets`, offsets)], scope); // [R, C] rows of the flat table
    // Table [C·K, M] exactly as lutnn's forward builds it, int8 + DequantizeLinear when the layer quantizes.
    const lut = buildLut(m.centroids, m.weight);
    let table: string;
    let scale: number | null = null;
    if (m.quantize) {
      const q = quantizeLut(lut);
      scale = q.scale;
      table = g.one('DequantizeLinear', [
        g.init(`${scope}.lut_int8`, OnnxDataType.INT8, [C * K, M], q.table.data as Int8Array),
        g.f32(`${scope}.lut_scale`, Float32Array.of(q.scale), []),
        g.init(`${scope}.lut_zero_point`, OnnxDataType.INT8, [], Int8Array.of(0)),
      ], scope);
    } else {
      table = g.f32(`${scope}.lut`, lut.f32, [C * K, M]);
    }
    if (m.bias) {
      // The bias is row C·K of the table, gathered as column C of idx; the chained sum starts from it, as lutnn's does.
      table = g.one('Concat', [table, g.f32(`${scope}.bias`, m.bias, [1, M])], scope, { axis: 0 });
      idx = g.one('Pad', [idx, g.i64(`${scope}.pads`, [0, 0, 0, 1]), g.i64(`${scope}.bias_index`, [C * K], [])], scope, { mode: 'constant' });
    }
    const picked = g.one('Gather', [table, idx], scope, { axis: 0 }); // [R, C(+1), M]
    let out: string;
    if (this.opts.sum === 'reduce') {
      out = g.one('ReduceSum', [picked, g.i64(`${scope}.axes`, [1])], scope, { keepdims: 0 }); // [R, M]
    } else {
      const n = C + (m.bias ? 1 : 0);
      const parts = g.node('Split', [picked, g.i64(`${scope}.split_c`, new Array(n).fill(1))], scope, { axis: 1 }, n); // n × [R, 1, M]
      let acc = m.bias ? parts[n - 1] : parts[0];
      for (let i = m.bias ? 0 : 1; i < (m.bias ? n - 1 : n); i++) acc = g.one('Add', [acc, parts[i]], scope);
      out = g.reshape(acc, [-1, M], scope);
    }
    this.lut.push({
      name: scope, kind, metric: m.metric, quantize: m.quantize, ncodebooks: C, subvecLen: V, k: K, outDim: M,
      tableDtype: m.quantize ? 'int8' : 'float32', scale, rowsPerSample, codesOutput: codesOut,
    });
    return out;
  }

  private layerInput(scope: string, x: Value): void {
    if (this.opts.layerInputs) this.addOutput(`${scope}.input`, x.name, this.dims(x.shape), 'float32');
  }

  private lutLinear(m: LutLinear, scope: string, x: Value): Value {
    if (x.shape.length < 2 || x.shape[x.shape.length - 1] !== m.inFeatures) {
      throw new ShapeError(`onnx export: LutLinear '${scope}' has inFeatures ${m.inFeatures}, got input ${fmtShape(x.shape)}`);
    }
    this.layerInput(scope, x);
    const perSample = x.shape.slice(1, -1).reduce((a, b) => a * b, 1);
    const rows = this.g.reshape(x.name, [-1, m.ncodebooks, m.subvecLen], scope); // [R, C, V]
    const y = this.lutRows(m, scope, rows, 'linear', perSample, x.shape[0]); // [R, M]
    const shape = [...x.shape.slice(0, -1), m.outFeatures];
    const out = x.shape.length === 2 ? y : this.g.reshape(y, [-1, ...shape.slice(1)], scope);
    return { name: out, shape, exact: this.opts.sum !== 'reduce' };
  }

  private lutConv(m: LutConv2d, scope: string, x: Value): Value {
    const g = this.g;
    need('LutConv2d', scope, x, 4, `[N, ${m.cin}, H, W]`);
    if (x.shape[1] !== m.cin) throw new ShapeError(`onnx export: LutConv2d '${scope}' has ${m.cin} input channels, got input ${fmtShape(x.shape)}`);
    this.layerInput(scope, x);
    const [kh, kw] = m.kernel;
    const oh = convOut(x.shape[2], kh, m.stride[0], m.padding[0], m.dilation[0]);
    const ow = convOut(x.shape[3], kw, m.stride[1], m.padding[1], m.dilation[1]);
    if (oh < 1 || ow < 1) throw new ShapeError(`onnx export: LutConv2d '${scope}' gives an empty output for input ${fmtShape(x.shape)}`);
    const D = m.inDim;
    const P = oh * ow;
    // Patches [N, D, oh, ow]: channel cin·kh·kw + ki·kw + kj holds x[cin] at offset (ki, kj) of each window.
    const onehot = new Float32Array(D * kh * kw);
    for (let o = 0; o < D; o++) onehot[o * kh * kw + (o % (kh * kw))] = 1;
    const patches = g.one('Conv', [x.name, g.f32(`${scope}.im2col_kernel`, onehot, [D, 1, kh, kw])], scope, {
      kernel_shape: [kh, kw], strides: [...m.stride], dilations: [...m.dilation], group: m.cin,
      pads: [m.padding[0], m.padding[1], m.padding[0], m.padding[1]],
    });
    const flat = g.reshape(patches, [0, D, P], scope); // [N, D, P]
    const t = g.one('Transpose', [flat], scope, { perm: [0, 2, 1] }); // [N, P, D]: row (n, oy, ox) as lutnn's im2col
    const rows = g.reshape(t, [-1, m.ncodebooks, m.subvecLen], scope); // [N·P, C, V]
    const y = this.lutRows(m, scope, rows, 'conv', P, x.shape[0]); // [N·P, M]
    const yp = g.reshape(y, [-1, P, m.cout], scope); // [N, P, M]
    const yt = g.one('Transpose', [yp], scope, { perm: [0, 2, 1] }); // [N, M, P]
    return { name: g.reshape(yt, [0, m.cout, oh, ow], scope), shape: [x.shape[0], m.cout, oh, ow], exact: this.opts.sum !== 'reduce' };
  }
}

function safeType(m: Module): string {
  try {
    return moduleTypeOf(m);
  } catch {
    return m.constructor?.name ?? 'unknown module';
  }
}

/**
 * Export `model` (eval-mode semantics: batch norm on running statistics, dropout off) to ONNX bytes. The graph
 * has one float input "input" [N, ...inputShape] and one output "output", plus `<layer>.codes` per LUT layer with
 * `codes`. Throws ArgumentError for modules it cannot express (MADDNESS layers, custom containers).
 */
export function exportOnnx(model: Module, opts: OnnxExportOptions): OnnxExportResult {
  const op = 'exportOnnx';
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: opts must be an object`);
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ArgumentError(`${op}: opset must be an integer in ${MIN_OPSET}..${MAX_OPSET}, got ${String(opset)}`);
  }
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic') posIntOpt(op, 'batch', batch);
  const shape = opts.inputShape;
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`${op}: inputShape must be a non-empty list of positive integers (one sample, e.g. [1,28,28]), got ${JSON.stringify(shape)}`);
  }
  const sum = opts.sum ?? 'chain';
  if (sum !== 'chain' && sum !== 'reduce') throw new ArgumentError(`${op}: sum must be 'chain' or 'reduce', got ${String(sum)}`);
  const g = new GraphBuilder(opset);
  const batchDim: Dim = batch === 'dynamic' ? 'N' : batch;
  const ex = new Exporter(g, opts, batchDim);
  const inName = g.fresh('input');
  const inShape = [batch === 'dynamic' ? -1 : batch, ...shape];
  const wasTraining = model.training;
  model.eval();
  let y: Value;
  try {
    y = ex.run(model, '', { name: inName, shape: inShape });
  } finally {
    if (wasTraining) model.train();
  }
  const outName = g.node('Identity', [y.name], 'output', {}, ['output'])[0];
  const outDims: Dim[] = y.shape.map((d, i) => (i === 0 && d < 0 ? batchDim : d));
  const inDims: Dim[] = [batchDim, ...shape];
  const graphOutputs = [valueInfo(outName, OnnxDataType.FLOAT, outDims), ...g.outputs];
  const bytes = encodeModel({
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'lutnn',
    producerVersion: opts.producerVersion ?? '0',
    docString: opts.docString ?? 'exported by lutnn',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: opts.graphName ?? 'lutnn',
      node: g.nodes,
      initializer: g.inits,
      input: [valueInfo(inName, OnnxDataType.FLOAT, inDims)],
      output: graphOutputs,
    },
  });
  const ops: Record<string, number> = {};
  for (const n of g.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return {
    bytes, opset, irVersion: irVersionFor(opset), sum,
    input: { name: inName, shape: inDims }, output: { name: outName, shape: outDims }, extraOutputs: ex.extra,
    nodes: g.nodes.length, initializers: g.inits.length, ops, lutLayers: ex.lut, layers: ex.layers,
  };
}
