// ONNX export of graph models (dense and LUT-NN) to standard ONNX ops that any ONNX runtime runs.
//
// The driver walks the analysed graph (GraphInfo) in topological order and lets each node's op record write its ONNX
// nodes through the record's `onnx` facet (src/graph/ops/*.ts), given an emitter (OnnxGraphEmitter below): fresh
// names, nodes, initializers, reshapes, extra outputs, and the LUT table exactly as the engine's forward builds it.
// Names: graph input 0 is "input" (others keep their IR names), the graph outputs are "output", "output_1", ... in
// graph order (an Identity each); an initializer a record reads through ctx.input is written once under its own
// name (with a _1, _2 suffix only when that name is taken, e.g. an initializer called "input"); the records name
// what they make after their node ("conv1/Conv", "conv1.lut_int8").
// Exactness: a value is exact when onnxruntime computes it bit-identically to lutnn. Graph inputs are not (so a
// batch norm on the input stays a BatchNormalization), initializers are, node outputs take their record's flag
// (false for a record that returns a plain list). What the records do with it:
// - LUT layers (LutLinear, LutConv) on rows [R, C, V] (R = N·rows per sample; a conv's im2col rows come from a
//   grouped Conv with fixed one-hot kernels, (cin, ki, kj) order): Split(V) → per v: Sub(x_v [R,C,1], centroids
//   [:,:,v] [C,K]) → Mul (l2) / Abs (l1, chebyshev) → chained Add (l2, l1) or Max (chebyshev) → dist [R,C,K] →
//   ArgMin (first index on ties) → codes [R,C] → + c·K → Pad (bias row index) → Gather(table [C·K (+1), M]) →
//   Split + chained Add from the bias row in lutnn's order (or one ReduceSum with sum 'reduce') → [R, M]. The
//   table is built and int8-quantized exactly as the engine does (buildLut, quantizeLut; int8 + DequantizeLinear),
//   so codes and outputs are bit-identical to lutnn's for the same layer input, and the output is exact.
// - A BatchNorm on an exact input (after a LUT layer, nothing to fold into) is lutnn's own float64 arithmetic
//   (Cast → Mul → Add → Cast), so the next LUT layer sees bit-identical input; Relu, MaxPool, shape ops, Add/Sub/
//   Mul/Div of exact operands keep exactness. Dense ops map to their standard ONNX ops (see README, lutnn export).
// MADDNESS layers are refused by their records (ArgumentError naming the node).
// LUT layers, and batch norms written in float64 after them, are recorded for `lutnn import` (onnx-lut-marker.ts):
// metadata_props `lutnn.layers` names their nodes, training_info holds their IR tensors (LUT weight and theta too).
import { ArgumentError, LutnnError } from '../errors.js';
import { analyzeGraph, type GraphInfo } from '../graph/analyze.js';
import { BATCH, batchCoef, fmtDims, perSample, type Dim as IrDim } from '../graph/dims.js';
import type { DynamicInt8Options } from '../graph/onnx-int8.js';
import type { OnnxAttr, OnnxCtx, OnnxElem, OnnxEmitter, OnnxLutLayer, OnnxOut } from '../graph/op.js';
import type { Attrs, IrDType, TensorInfo, ValueInfo } from '../graph/types.js';
import { buildLut, quantizeLut } from '../ops/lut.js';
import type { Tensor } from '../tensor/tensor.js';
import { foldConvBatchNorms } from './onnx-int8-fold.js';
import { LUT_MARKER_KEY, LUT_TRAINING_GRAPH, type LutMarkerLayer } from './onnx-lut-marker.js';
import {
  attribute,
  encodeModel,
  OnnxDataType,
  tensorProto,
  valueInfo,
  type Dim,
  type NodeProto,
  type OnnxDataTypeCode,
  type TensorProto,
  type ValueInfoProto,
} from './onnx-proto.js';

export const DEFAULT_OPSET = 17;
export const MIN_OPSET = 13;
export const MAX_OPSET = 21;

/** What the export reads of a model: its analysed graph and its initializers (a GraphModel). */
export interface OnnxExportable {
  readonly info: GraphInfo;
  weight(name: string): Tensor;
}

export interface OnnxExportOptions {
  /**
   * Per-sample shape of graph input 0, e.g. [1, 28, 28]. Default: the graph's own. When it differs, the graph is
   * re-analysed with input 0 as [N, ...inputShape] (an error names the node that does not fit the new shape).
   */
  inputShape?: readonly number[];
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
  /**
   * Mark LUT layers for `lutnn import` (default true): metadata_props `lutnn.layers` and their tensors in
   * training_info (onnx-lut-marker.ts). false leaves both out: a smaller file that imports as standard ops.
   */
  lutMarker?: boolean;
  /**
   * Write the dense layers (Linear, MatMul by a constant, Conv) in onnxruntime's dynamic int8 form, as
   * onnxruntime.quantization.quantize_dynamic does (src/graph/onnx-int8.ts): int8 weights (per tensor, its default, or
   * { perChannel: true }), activations quantized at run time (DynamicQuantizeLinear, uint8), MatMulInteger /
   * ConvInteger, Cast, Mul by the scales, Add the bias; a batch norm that alone reads a Conv is folded into it first
   * (src/io/onnx-int8-fold.ts). Default false: the float export. LUT layers are unchanged.
   */
  dynamicInt8?: boolean | { perChannel?: boolean };
  /** Graph name and model doc string. */
  graphName?: string;
  docString?: string;
  /** Extra metadata_props entries. */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** An exported LUT layer (the record's report): int8 table with DequantizeLinear when quantize, else float32. */
export type OnnxLutLayerInfo = OnnxLutLayer;

/** A graph input or output: its ONNX name, the IR value it stands for, its ONNX dims and element type. */
export interface OnnxGraphValue {
  name: string;
  value: string;
  shape: Dim[];
  dtype: IrDType;
}

export interface OnnxExportResult {
  bytes: Uint8Array;
  opset: number;
  irVersion: number;
  /** Graph input 0 ("input") and graph output 0 ("output"). */
  input: { name: string; shape: Dim[] };
  output: { name: string; shape: Dim[] };
  /** Every graph input / output of the model, in graph order (the first ones are `input` and `output`). */
  inputs: OnnxGraphValue[];
  outputs: OnnxGraphValue[];
  /** Per-sample shape of input 0 the export used (null when its dim 0 is not the batch N). */
  inputShape: number[] | null;
  /** Every graph output beyond the model's own (codes, layer inputs). */
  extraOutputs: { name: string; shape: Dim[]; dtype: 'float32' | 'int64' }[];
  /** How LUT layers sum their table rows ('chain': bit-identical to lutnn). */
  sum: 'chain' | 'reduce';
  nodes: number;
  initializers: number;
  /** Node count per ONNX op type. */
  ops: Record<string, number>;
  lutLayers: OnnxLutLayerInfo[];
  /** Every IR node in graph order with its op type and the number of ONNX nodes it became (0 for Dropout, Identity). */
  layers: { name: string; type: string; nodes: number }[];
  /**
   * Bytes of the LUT layers' tensors stored for `lutnn import` (training_info, see onnx-lut-marker.ts): centroids,
   * weight [C,V,M], bias, theta of each LUT layer; 0 without LUT layers.
   */
  lutTrainingBytes: number;
}

/** ONNX IR version matching an opset (ONNX 1.8: IR 7 / opset 13, 1.10: 8 / 15, 1.14: 9 / 19, 1.16: 10 / 21). */
function irVersionFor(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  return 7;
}

const ELEM: Record<OnnxElem, OnnxDataTypeCode> = { float32: OnnxDataType.FLOAT, float64: OnnxDataType.DOUBLE, int64: OnnxDataType.INT64, int8: OnnxDataType.INT8 };
const IR_ELEM: Record<IrDType, OnnxDataTypeCode> = { float32: OnnxDataType.FLOAT, int32: OnnxDataType.INT32, int8: OnnxDataType.INT8, uint8: OnnxDataType.UINT8 };

/** Collects ONNX nodes, initializers and extra outputs for the records (the OnnxEmitter of src/graph/op.ts). */
export class OnnxGraphEmitter implements OnnxEmitter {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  /** Extra graph outputs (codes, layer inputs) and what the result reports of them. */
  readonly outputs: ValueInfoProto[] = [];
  readonly extra: { name: string; shape: Dim[]; dtype: 'float32' | 'int64' }[] = [];
  readonly lut: OnnxLutLayer[] = [];
  private readonly used = new Set<string>();

  constructor(
    readonly opset: number,
    readonly options: { codes: boolean; sum: 'chain' | 'reduce'; layerInputs: boolean; dynamicInt8: DynamicInt8Options | null },
    /** The batch the ONNX dims are written for. */
    readonly batch: number | 'dynamic',
  ) {}

  /** A name not used yet (base, base_1, base_2, ...), now used. */
  fresh(base: string): string {
    let n = base;
    for (let i = 1; this.used.has(n); i++) n = `${base}_${i}`;
    this.used.add(n);
    return n;
  }

  /** ONNX dims of IR dims: k·N becomes k·batch, or the dim_param "N" / "k*N" for a dynamic batch. */
  dims(shape: readonly IrDim[]): Dim[] {
    return shape.map((d) => {
      if (typeof d === 'number') return d;
      const k = batchCoef(d);
      if (k < 1) throw new ArgumentError(`onnx export: '${d}' is not a dim`);
      if (this.batch === 'dynamic') return k === 1 ? BATCH : `${k}*${BATCH}`;
      return k * this.batch;
    });
  }

  node(op: string, inputs: string[], scope: string, attrs: Record<string, OnnxAttr> = {}, outputs: number | string[] = 1): string[] {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => this.fresh(`${scope}/${op}${outputs > 1 ? `_${i}` : ''}`)) : outputs.map((o) => this.fresh(o));
    this.push(op, inputs, scope, attrs, outs);
    return outs;
  }

  /** A node whose outputs are names already claimed (the graph outputs). */
  push(op: string, inputs: string[], scope: string, attrs: Record<string, OnnxAttr>, outs: string[]): void {
    this.nodes.push({ name: this.fresh(`${scope}/${op}#node`), opType: op, input: inputs, output: outs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
  }

  one(op: string, inputs: string[], scope: string, attrs: Record<string, OnnxAttr> = {}): string {
    return this.node(op, inputs, scope, attrs, 1)[0];
  }

  init(name: string, elem: OnnxElem, dims: readonly number[], data: Float32Array | Float64Array | Int8Array | number[]): string {
    return this.initCode(this.fresh(name), ELEM[elem], dims, data);
  }

  /** An initializer under `name` (already claimed). */
  initCode(name: string, code: OnnxDataTypeCode, dims: readonly number[], data: Parameters<typeof tensorProto>[3]): string {
    this.inits.push(tensorProto(name, code, dims, data));
    return name;
  }

  f32(name: string, data: Float32Array, dims: readonly number[]): string {
    return this.init(name, 'float32', dims, data);
  }

  i64(name: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.init(name, 'int64', dims, [...values]);
  }

  reshape(x: string, target: readonly number[], scope: string): string {
    return this.one('Reshape', [x, this.i64(`${scope}.shape`, target)], scope);
  }

  addOutput(name: string, value: string, shape: readonly IrDim[], elem: 'float32' | 'int64'): string {
    const out = this.node('Identity', [value], name, {}, [name])[0];
    if (out !== name) throw new ArgumentError(`onnx export: output name '${name}' is already used in the graph`);
    const dims = this.dims(shape);
    this.outputs.push(valueInfo(out, ELEM[elem], dims));
    this.extra.push({ name: out, shape: dims, dtype: elem });
    return out;
  }

  lutTable(centroids: Tensor, weight: Tensor): { table: Float32Array; q: Int8Array; scale: number } {
    const lut = buildLut(centroids, weight); // [C, K, M], as the engine's forward builds it
    let quant: { q: Int8Array; scale: number } | null = null;
    // Quantized on first use: a float-table layer never needs (nor checks) the int8 table.
    const quantized = (): { q: Int8Array; scale: number } => {
      if (!quant) {
        const r = quantizeLut(lut);
        quant = { q: r.table.data as Int8Array, scale: r.scale };
      }
      return quant;
    };
    return {
      table: lut.f32,
      get q() {
        return quantized().q;
      },
      get scale() {
        return quantized().scale;
      },
    };
  }

  lutLayer(info: OnnxLutLayer): void {
    this.lut.push(info);
  }
}

function posIntOpt(op: string, arg: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${arg} must be an integer >= 1, got ${String(v)}`);
  return v;
}

function boolOpt(op: string, arg: string, v: unknown): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ArgumentError(`${op}: ${arg} must be true or false, got ${String(v)}`);
  return v;
}

function int8Opt(op: string, v: unknown): DynamicInt8Options | null {
  if (v === undefined || v === false) return null;
  if (v === true) return { perChannel: false };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const pc = (v as { perChannel?: unknown }).perChannel;
    const extra = Object.keys(v).filter((k) => k !== 'perChannel');
    if (extra.length === 0 && (pc === undefined || typeof pc === 'boolean')) return { perChannel: pc === true };
  }
  throw new ArgumentError(`${op}: dynamicInt8 must be true, false or { perChannel: true|false }, got ${JSON.stringify(v)}`);
}

/** Shape and dtype of every initializer of an analysed graph (values that are neither graph inputs nor node outputs). */
function initializerInfos(info: GraphInfo): Map<string, TensorInfo> {
  const inputs = new Set(info.graph.inputs.map((i) => i.name));
  const out = new Map<string, TensorInfo>();
  for (const [k, v] of info.values) if (!inputs.has(k) && !info.producer.has(k)) out.set(k, { shape: v.shape as number[], dtype: v.dtype });
  return out;
}

/** `info`, or the graph re-analysed with input 0 as [N, ...shape] when that differs from its current shape. */
function withInputShape(op: string, info: GraphInfo, shape: readonly number[] | undefined): GraphInfo {
  if (shape === undefined) return info;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`${op}: inputShape must be a list of positive integers (one sample, e.g. [1,28,28]), got ${JSON.stringify(shape)}`);
  }
  const inp = info.graph.inputs[0];
  const current = perSample(inp.shape);
  if (current && current.length === shape.length && current.every((d, i) => d === shape[i])) return info;
  const graph = { ...info.graph, inputs: info.graph.inputs.map((g, i) => (i === 0 ? { ...g, shape: [BATCH, ...shape] as IrDim[] } : g)) };
  try {
    return analyzeGraph(graph, initializerInfos(info));
  } catch (e) {
    if (!(e instanceof LutnnError)) throw e;
    const Err = e.constructor as new (m: string) => LutnnError;
    throw new Err(`${op}: inputShape ${fmtDims(shape)} does not fit the graph (input '${inp.name}' is ${fmtDims(inp.shape)}): ${e.message}`);
  }
}

/**
 * Export a graph model (eval-mode semantics: batch norm on running statistics, dropout off) to ONNX bytes. Graph
 * input 0 is named "input", the outputs "output", "output_1", ...; with `codes` / `layerInputs` each LUT layer
 * adds `<layer>.codes` / `<layer>.input`. Throws ArgumentError naming the node for ops the export cannot express
 * (MADDNESS layers; LayerNorm below opset 17).
 */
export function exportOnnx(model: OnnxExportable, opts: OnnxExportOptions = {}): OnnxExportResult {
  const op = 'exportOnnx';
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: opts must be an object`);
  if (model === null || typeof model !== 'object' || !model.info || typeof model.weight !== 'function') {
    throw new ArgumentError(`${op}: model must be a graph model (with info and weight(name)), got ${model === null ? 'null' : typeof model}`);
  }
  const opset = opts.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ArgumentError(`${op}: opset must be an integer in ${MIN_OPSET}..${MAX_OPSET}, got ${String(opset)}`);
  }
  const batch = opts.batch ?? 'dynamic';
  if (batch !== 'dynamic') posIntOpt(op, 'batch', batch);
  const sum = opts.sum ?? 'chain';
  if (sum !== 'chain' && sum !== 'reduce') throw new ArgumentError(`${op}: sum must be 'chain' or 'reduce', got ${String(sum)}`);
  const options = { codes: boolOpt(op, 'codes', opts.codes), sum, layerInputs: boolOpt(op, 'layerInputs', opts.layerInputs), dynamicInt8: int8Opt(op, opts.dynamicInt8) };
  const shaped = withInputShape(op, model.info, opts.inputShape);
  // The int8 form quantizes each Conv with its batch norm folded in (as quantize_dynamic sees a PyTorch eval export).
  if (options.dynamicInt8) {
    const given = model;
    model = foldConvBatchNorms({ info: shaped, weight: (n) => given.weight(n) }, initializerInfos(shaped));
  }
  const info = options.dynamicInt8 ? model.info : shaped;
  const g = info.graph;
  const e = new OnnxGraphEmitter(opset, options, batch);

  // Names: "input" and the outputs first (fixed), then the other graph inputs and every initializer the graph
  // reads (their own names unless taken). Graph inputs are not exact (the exact map's default).
  const onnxName = new Map<string, string>();
  const exact = new Map<string, boolean>();
  const inNames = g.inputs.map((_, i) => (i === 0 ? e.fresh('input') : ''));
  const outNames = g.outputs.map((_, i) => e.fresh(i === 0 ? 'output' : `output_${i}`));
  const inputs: OnnxGraphValue[] = g.inputs.map((inp, i) => {
    const name = i === 0 ? inNames[0] : e.fresh(inp.name);
    onnxName.set(inp.name, name);
    return { name, value: inp.name, shape: e.dims(inp.shape), dtype: inp.dtype };
  });
  const inits = initializerInfos(info);
  const initName = new Map<string, string>();
  for (const ni of info.nodes) for (const v of ni.node.inputs) if (inits.has(v) && !initName.has(v)) initName.set(v, e.fresh(v));
  for (const v of g.outputs) if (inits.has(v) && !initName.has(v)) initName.set(v, e.fresh(v));

  /** The ONNX name of IR value v, writing an initializer on first use. */
  const nameOf = (v: string): string => {
    const n = onnxName.get(v);
    if (n !== undefined) return n;
    const iname = initName.get(v);
    if (iname === undefined) throw new ArgumentError(`onnx export: value '${v}' is used before it is defined`);
    const t = model.weight(v);
    e.initCode(iname, IR_ELEM[t.dtype], t.shape, t.data as Parameters<typeof tensorProto>[3]);
    onnxName.set(v, iname);
    exact.set(v, true);
    return iname;
  };

  const layers: OnnxExportResult['layers'] = [];
  const marker: LutMarkerLayer[] = [];
  const withMarker = boolOpt(op, 'lutMarker', opts.lutMarker ?? true);
  const extraNames = (): Set<string> => new Set(e.extra.map((x) => x.name));
  for (const ni of info.nodes) {
    const { node } = ni;
    const where = `node '${node.name}' (${node.op})`;
    const present = (i: number): boolean => i >= 0 && i < node.inputs.length && node.inputs[i] !== '';
    const ctx: OnnxCtx<Attrs> = {
      e,
      scope: node.name,
      attrs: ni.attrs,
      input: (i) => (present(i) ? nameOf(node.inputs[i]) : ''),
      has: present,
      info: (i): ValueInfo => {
        const v = ni.inputs[i];
        if (!v) throw new ArgumentError(`onnx export: ${where}: input ${i} is absent`);
        return v;
      },
      outInfo: (i): ValueInfo => {
        const v = ni.outputs[i];
        if (!v) throw new ArgumentError(`onnx export: ${where}: has no output ${i}`);
        return v;
      },
      weight: (i) => {
        if (!present(i) || !inits.has(node.inputs[i])) throw new ArgumentError(`onnx export: ${where}: input ${i} is not an initializer`);
        return model.weight(node.inputs[i]);
      },
      initializer: (i) => present(i) && inits.has(node.inputs[i]),
      exact: (i) => present(i) && (inits.has(node.inputs[i]) || exact.get(node.inputs[i]) === true),
    };
    const before = e.nodes.length;
    let res: OnnxOut;
    try {
      res = ni.def.onnx(ctx);
    } catch (err) {
      if (err instanceof LutnnError && !err.message.startsWith('onnx export')) {
        const Err = err.constructor as new (m: string) => LutnnError;
        throw new Err(`onnx export: ${where}: ${err.message}`);
      }
      throw err;
    }
    const outs = Array.isArray(res) ? res : res.outputs;
    const isExact = Array.isArray(res) ? false : res.exact;
    if (outs.length !== node.outputs.length) throw new ArgumentError(`onnx export: ${where} wrote ${outs.length} outputs, expected ${node.outputs.length}`);
    node.outputs.forEach((v, k) => {
      onnxName.set(v, outs[k]);
      exact.set(v, isExact);
    });
    layers.push({ name: node.name, type: node.op, nodes: e.nodes.length - before });
    if (withMarker && (node.op === 'LutLinear' || node.op === 'LutConv' || (node.op === 'BatchNorm' && isExact))) {
      // lutnn's marker (onnx-lut-marker.ts): the layer's ONNX nodes (not the Identity of an extra output) and its
      // IR tensors, so that import restores the layer rather than its decomposition.
      const extra = extraNames();
      const attrs = Object.entries(ni.attrs).filter(([, v]) => v !== null).map(([k, v]) => [k, Array.isArray(v) ? [...v] : v]);
      marker.push({
        name: node.name,
        op: node.op,
        attrs: Object.fromEntries(attrs) as LutMarkerLayer['attrs'],
        input: onnxName.get(node.inputs[0])!,
        output: outs[0],
        nodes: e.nodes.slice(before).filter((n) => !n.output.some((o) => extra.has(o))).map((n) => n.name),
        tensors: node.inputs.slice(1).map((v) => (v === '' ? null : v)),
      });
    }
  }
  const training: TensorProto[] = [];
  const stored = new Set<string>();
  for (const l of marker) {
    for (const v of l.tensors) {
      if (v === null || stored.has(v)) continue;
      stored.add(v);
      const t = model.weight(v);
      training.push(tensorProto(v, IR_ELEM[t.dtype], t.shape, t.data as Parameters<typeof tensorProto>[3]));
    }
  }
  const metadataProps = Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value }));
  if (marker.length > 0) metadataProps.push({ key: LUT_MARKER_KEY, value: JSON.stringify(marker) });

  // The graph outputs, each an Identity to its fixed name.
  const outputs: OnnxGraphValue[] = g.outputs.map((v, i) => {
    const vi = info.values.get(v)!;
    e.push('Identity', [nameOf(v)], outNames[i], {}, [outNames[i]]);
    return { name: outNames[i], value: v, shape: e.dims(vi.shape), dtype: vi.dtype };
  });
  const gv = (v: OnnxGraphValue): ValueInfoProto => valueInfo(v.name, IR_ELEM[v.dtype], v.shape);
  const irVersion = irVersionFor(opset);
  const bytes = encodeModel({
    irVersion,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'lutnn',
    producerVersion: opts.producerVersion ?? '0',
    docString: opts.docString ?? 'exported by lutnn',
    metadataProps,
    ...(training.length > 0 ? { trainingInfo: [{ initialization: { name: LUT_TRAINING_GRAPH, node: [], initializer: training, input: [], output: [] } }] } : {}),
    graph: {
      name: opts.graphName ?? 'lutnn',
      node: e.nodes,
      initializer: e.inits,
      input: inputs.map(gv),
      output: [...outputs.map(gv), ...e.outputs],
    },
  });
  const ops: Record<string, number> = {};
  for (const n of e.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return {
    bytes, opset, irVersion, sum,
    input: { name: inputs[0].name, shape: inputs[0].shape },
    output: { name: outputs[0].name, shape: outputs[0].shape },
    inputs, outputs,
    inputShape: perSample(g.inputs[0].shape),
    extraOutputs: e.extra,
    nodes: e.nodes.length, initializers: e.inits.length, ops, lutLayers: e.lut, layers,
    lutTrainingBytes: training.reduce((a, t) => a + t.rawData.length, 0),
  };
}
