// lutnn deployment files without the file system: what inference needs of a model (graph IR, int8 LUT tables and their
// scales, centroids, folded biases) written from a model's graph and weights, read back and validated for the runtime.
//
// A deployment file is a safetensors file whose `lutnn` metadata entry is { format: "lutnn-deploy", version: 1, graph,
// dataset?, info? }. Its graph is the model's graph IR with three rewrites:
//   - every LutConv / LutLinear node reads, in its `weight` slot (input 2), its int8 table [C, K, M] = round(lut/scale)
//     (lut[c] = centroids[c]·weight[c], the table training's hard forward dequantizes), and in its `theta` slot
//     (input 4) the table's scale, a float32 scalar [] (max|lut|/127); the f32 weight [C, V, M] and theta are gone;
//   - a BatchNorm whose input comes from a dense Conv (groups 1) that nothing else reads is folded into that conv's
//     weight and bias, as the runtime folds it at load (same function, src/graph/bn-fold.ts: the same float32 values);
//   - the BatchNorms left (after LUT convs, adds: the runtime folds those into its epilogues) lose num_batches_tracked.
// Centroids, biases and every dense weight are kept as they are. The integer encoders' quantized centroids are not
// stored: they are a function of the f32 centroids (C·K·V operations at load), and a stored copy would have to be
// checked against them, which costs as much as recomputing.
import { ArgumentError, FormatError, fmtShape } from '../errors.js';
import type { Metric } from '../backend/metric.js';
import { analyzeGraph, type GraphInfo } from '../graph/analyze.js';
import { batchNormAffine, foldAffineIntoConv } from '../graph/bn-fold.js';
import { graphFromJson, graphToJson, type GraphJson } from '../graph/serialize.js';
import type { Attrs, Graph, GraphNode, TensorInfo } from '../graph/types.js';
import { buildLut, quantizeLut } from '../ops/lut-table.js';
import { Tensor } from '../tensor/tensor.js';
import { checkModel, type ModelLimits } from './model-check.js';
import { DEPLOY_FORMAT, datasetMeta, readModelContents, type DatasetMeta, type ModelMeta } from './model-format.js';
import { LUTNN_METADATA_KEY, MAX_METADATA_DEPTH, jsonDepthExceeds, parseSafetensors, readJsonMetadata, serializeSafetensors, type SafetensorsContents } from './safetensors-format.js';

export { DEPLOY_FORMAT } from './model-format.js';

/** The deployment file version this build writes and reads. */
export const DEPLOY_FILE_VERSION = 1;

const LUT_OPS = new Set(['LutConv', 'LutLinear']);
/** The largest finite float32. */
const F32_MAX = 3.4028234663852886e38;
/** Input slots of a LUT node in a deployment file: its table (the training graph's weight) and table scale (theta). */
const TABLE = 2;
const SCALE = 4;

/** The `lutnn` metadata entry of a deployment file. */
export interface DeployMeta {
  format: typeof DEPLOY_FORMAT;
  version: typeof DEPLOY_FILE_VERSION;
  graph: GraphJson;
  dataset?: DatasetMeta;
  /** The training file's provenance (copied). */
  info?: Record<string, unknown>;
}

/** One LUT layer as the runtime's LUT engines take it (the fields of src/runtime/lut-step.ts's LutLayerSpec). */
export interface DeployLut {
  /** [C, K, V]. */
  centroids: Float32Array;
  /** [C, K, M], entries in [−127, 127]. */
  lutQ: Int8Array;
  /** Finite, > 0 (float32). */
  scale: number;
  /** [M] or null. */
  bias: Float32Array | null;
  C: number;
  K: number;
  V: number;
  M: number;
  metric: Metric;
}

/** A validated deployment file: its graph as analysed (tables standing as [C, V, M] in their slots), its tensors, LUT layers by node name. */
export interface DeployContents {
  graph: Graph;
  info: GraphInfo;
  /** Every tensor of the file by name (the LUT tables and scales included). */
  weights: Map<string, Tensor>;
  luts: Map<string, DeployLut>;
  meta: DeployMeta;
}

/** What the writer did. */
export interface DeployReport {
  lutLayers: { name: string; op: string; C: number; K: number; V: number; M: number; metric: Metric; table: string; scale: string }[];
  /** BatchNorm nodes folded into the dense conv before them. */
  foldedBatchNorms: { batchNorm: string; conv: string }[];
  /** Tensors of the source not in the deployment file (LUT weights and thetas, folded BN statistics, num_batches_tracked). */
  dropped: string[];
  /** Tensors whose values changed (conv weights and biases with a BN folded in) or that are new (tables, scales, folded biases). */
  rewritten: string[];
}

/** A graph with its weights by name (a model file's contents, a GraphModel's graph and namedWeights()). */
export interface GraphAndTensors {
  graph: Graph;
  weights: ReadonlyMap<string, Tensor>;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

// ---------------------------------------------------------------------------------------------------
// Writing

/**
 * The tensors and metadata of the deployment file of `model` (see the file comment), validated by reading them back.
 * `source` names the model in errors. LUT layers with float tables (quantize = false) are refused: the runtime runs int8
 * tables only. The graph is not checked against the runtime's ops here (`lutnn export --deploy` plans it first).
 */
export function deployParts(model: GraphAndTensors, meta: { dataset?: DatasetMeta; info?: Record<string, unknown> } = {}, source = 'model'): { tensors: Record<string, Tensor>; metadata: Record<string, string>; report: DeployReport } {
  const infos = new Map<string, TensorInfo>([...model.weights].map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype }]));
  const info = analyzeGraph(model.graph, infos);
  const tensors = new Map(model.weights);
  const nodes: (GraphNode & { attrs: Record<string, Attrs[string]> })[] = info.nodes.map((ni) => ({ ...ni.node, inputs: [...ni.node.inputs], outputs: [...ni.node.outputs], attrs: { ...ni.node.attrs } }));
  const checked = new Map(info.nodes.map((ni, i) => [nodes[i], ni.attrs]));
  // Reads per value (one per input slot), kept up to date as nodes change.
  const reads = new Map<string, number>();
  const read = (v: string, d: number): void => {
    if (v !== '') reads.set(v, (reads.get(v) ?? 0) + d);
  };
  for (const n of nodes) for (const v of n.inputs) read(v, 1);
  const producer = new Map<string, GraphNode>();
  for (const n of nodes) for (const o of n.outputs) producer.set(o, n);
  const taken = new Set<string>([...tensors.keys(), ...model.graph.inputs.map((i) => i.name), ...nodes.flatMap((n) => n.outputs)]);
  const fresh = (base: string): string => {
    let name = base;
    for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
    taken.add(name);
    return name;
  };
  const report: DeployReport = { lutLayers: [], foldedBatchNorms: [], dropped: [], rewritten: [] };
  const removed = new Set<GraphNode>();
  const f32 = (name: string): Float32Array | null => (name ? tensors.get(name)!.f32 : null);

  for (const n of nodes) {
    if (n.op === 'BatchNorm') {
      const x = n.inputs[0];
      const conv = producer.get(x);
      const convFolds = conv !== undefined && conv.op === 'Conv' && (checked.get(conv)!.groups as number) === 1 && reads.get(x) === 1 &&
        !model.graph.outputs.includes(x) && reads.get(conv.inputs[1]) === 1 && (!conv.inputs[2] || reads.get(conv.inputs[2]) === 1);
      if (convFolds) {
        // As the runtime's planner: w·s per output channel, bias b·s + t (BatchNorm's lowering, src/graph/ops/norm.ts).
        const { s, t } = batchNormAffine(f32(n.inputs[1] ?? ''), f32(n.inputs[2] ?? ''), f32(n.inputs[3])!, f32(n.inputs[4])!, checked.get(n)!.eps as number);
        const w = tensors.get(conv.inputs[1])!;
        const weight = Float32Array.from(w.f32);
        const bias = foldAffineIntoConv(weight, w.shape[0], f32(conv.inputs[2] ?? ''), s, t);
        tensors.set(conv.inputs[1], new Tensor(weight, w.shape));
        const biasName = conv.inputs[2] || fresh(`${conv.name}.bias`);
        tensors.set(biasName, new Tensor(bias, [w.shape[0]]));
        report.rewritten.push(conv.inputs[1], biasName);
        if (!conv.inputs[2]) read(biasName, 1);
        conv.inputs[2] = biasName;
        for (const v of n.inputs) read(v, -1);
        producer.delete(x);
        conv.outputs[0] = n.outputs[0];
        producer.set(n.outputs[0], conv);
        removed.add(n);
        report.foldedBatchNorms.push({ batchNorm: n.name, conv: conv.name });
        continue;
      }
      // Kept (the runtime folds it into an epilogue, or runs it as an affine step): the training counter goes.
      if (n.inputs.length > 5) {
        for (const v of n.inputs.slice(5)) read(v, -1);
        n.inputs.length = 5;
        if (n.attrs.momentum === null) delete n.attrs.momentum; // null (a cumulative average) needs the counter
      }
    } else if (LUT_OPS.has(n.op)) {
      const a = checked.get(n)!;
      if (!a.quantize) {
        throw new ArgumentError(`${source}: ${n.op} '${n.name}' has quantize = false (float table); a deployment file holds int8 tables, which is what the runtime runs`);
      }
      const centroids = tensors.get(n.inputs[1])!;
      // The runtime's own construction for training files (src/runtime/lut-step.ts, lutSpecOf).
      const { table, scale } = quantizeLut(buildLut(centroids, tensors.get(n.inputs[TABLE])!));
      const [C, K, V] = centroids.shape;
      const M = table.shape[2];
      const tableName = fresh(`${n.name}.lut`);
      const scaleName = fresh(`${n.name}.lut_scale`);
      tensors.set(tableName, table);
      tensors.set(scaleName, new Tensor(Float32Array.of(scale), []));
      read(n.inputs[TABLE], -1);
      read(n.inputs[SCALE], -1);
      n.inputs[TABLE] = tableName;
      n.inputs[SCALE] = scaleName;
      read(tableName, 1);
      read(scaleName, 1);
      report.rewritten.push(tableName, scaleName);
      report.lutLayers.push({ name: n.name, op: n.op, C, K, V, M, metric: a.metric as Metric, table: tableName, scale: scaleName });
    }
  }
  // Tensors in the order the nodes first read them (a table where its weight was).
  const kept = nodes.filter((n) => !removed.has(n));
  const out: Record<string, Tensor> = {};
  for (const n of kept) {
    for (const k of n.inputs) {
      if (tensors.has(k) && !hasOwn(out, k)) Object.defineProperty(out, k, { value: tensors.get(k), enumerable: true, writable: true, configurable: true });
    }
  }
  for (const k of tensors.keys()) if (!hasOwn(out, k)) report.dropped.push(k);
  const graph: Graph = {
    inputs: model.graph.inputs,
    nodes: kept,
    outputs: model.graph.outputs,
    ...(model.graph.params ? { params: model.graph.params.filter((p) => hasOwn(out, p)) } : {}),
  };
  const full: DeployMeta = { format: DEPLOY_FORMAT, version: DEPLOY_FILE_VERSION, graph: graphToJson(graph), ...(meta.dataset ? { dataset: meta.dataset } : {}), ...(meta.info ? { info: meta.info } : {}) };
  const metadata = { [LUTNN_METADATA_KEY]: JSON.stringify(full) };
  readDeployContents({ tensors: out, metadata }, `deployment file of ${source}`); // what the runtime will check
  report.rewritten = [...new Set(report.rewritten)];
  return { tensors: out, metadata, report };
}

/** The bytes of the deployment file of `model` (deployParts, serialized). */
export function serializeDeploy(model: GraphAndTensors, meta: { dataset?: DatasetMeta; info?: Record<string, unknown> } = {}, source = 'model'): { bytes: Uint8Array; report: DeployReport } {
  const { tensors, metadata, report } = deployParts(model, meta, source);
  return { bytes: serializeSafetensors(tensors, metadata), report };
}

// ---------------------------------------------------------------------------------------------------
// Reading

/** Whether parsed safetensors metadata is a deployment file's (its `lutnn` entry says format "lutnn-deploy"). */
export function isDeployMetadata(metadata: Record<string, string>): boolean {
  if (!hasOwn(metadata, LUTNN_METADATA_KEY)) return false;
  const text = metadata[LUTNN_METADATA_KEY];
  // Without the format's name in it, it is not one: a training file's (maybe large) graph is not parsed twice, nor
  // metadata nested too deep (which the model reader then reports).
  if (!text.includes(DEPLOY_FORMAT) || jsonDepthExceeds(text, MAX_METADATA_DEPTH)) return false;
  try {
    const raw: unknown = JSON.parse(text);
    return isObj(raw) && raw.format === DEPLOY_FORMAT;
  } catch {
    return false;
  }
}

/**
 * Validates parsed safetensors contents as a deployment file (untrusted): metadata, graph, and for every LUT node its
 * table (int8 [C, K, M] for centroids float32 [C, K, V], entries in [−127, 127]) and table scale (float32 [], finite,
 * > 0), each read in that one slot only; then the graph against every tensor (the analysis sees a table as the
 * weight [C, V, M] it stands for), no unused tensor, finite floats. FormatError naming `file` and the tensor.
 */
export function readDeployContents({ tensors, metadata }: SafetensorsContents, file: string, limits: ModelLimits = {}): DeployContents {
  const fail = (msg: string): never => {
    throw new FormatError(`${file}: ${msg}`);
  };
  const raw = readJsonMetadata(metadata, LUTNN_METADATA_KEY, file);
  if (!isObj(raw) || raw.format !== DEPLOY_FORMAT) fail(`metadata format is ${JSON.stringify(isObj(raw) ? raw.format : raw)?.slice(0, 80)}, expected "${DEPLOY_FORMAT}"`);
  const r = raw as Record<string, unknown>;
  if (r.version !== DEPLOY_FILE_VERSION) fail(`deployment file version ${JSON.stringify(r.version)?.slice(0, 40)}, this build reads ${DEPLOY_FILE_VERSION}`);
  const dataset = datasetMeta(r.dataset, file);
  if (r.info !== undefined && !isObj(r.info)) fail('metadata info must be an object');
  const graph = graphFromJson(r.graph, file);
  const tensor = (name: string): Tensor | undefined => (typeof name === 'string' && name !== '' && hasOwn(tensors, name) ? tensors[name] : undefined);

  // The LUT slots first: the analysis needs each table's [C, V, M].
  const infos = new Map<string, TensorInfo>(Object.entries(tensors).map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype }]));
  const slotOf = new Map<string, { node: number; slot: number }>();
  graph.nodes.forEach((n, ni) => {
    if (!LUT_OPS.has(n.op)) return;
    const where = `${n.op} '${n.name}'`;
    if (n.inputs.length !== 5) fail(`${where} has ${n.inputs.length} inputs; a deployment file's LUT node reads [x, centroids, table, bias or '', table_scale]`);
    const c = tensor(n.inputs[1]);
    if (!c) fail(`${where}: its centroids '${n.inputs[1]}' are not a tensor of the file`);
    if (c!.dtype !== 'float32' || c!.ndim !== 3) fail(`${where}: centroids '${n.inputs[1]}' must be float32 [C, K, V], got ${c!.dtype} ${fmtShape(c!.shape)}`);
    const [C, K, V] = c!.shape;
    const t = tensor(n.inputs[TABLE]);
    if (!t) fail(`${where}: its table '${n.inputs[TABLE]}' (input ${TABLE}) is not a tensor of the file`);
    if (t!.dtype !== 'int8' || t!.ndim !== 3 || t!.shape[0] !== C || t!.shape[1] !== K || t!.shape[2] < 1) {
      fail(`${where}: table '${n.inputs[TABLE]}' must be int8 [${C}, ${K}, M] (M >= 1) for centroids [${C}, ${K}, ${V}], got ${t!.dtype} ${fmtShape(t!.shape)}`);
    }
    const s = tensor(n.inputs[SCALE]);
    if (!s) fail(`${where}: its table scale '${n.inputs[SCALE]}' (input ${SCALE}) is not a tensor of the file`);
    if (s!.dtype !== 'float32' || s!.ndim !== 0) fail(`${where}: table scale '${n.inputs[SCALE]}' must be a float32 scalar [], got ${s!.dtype} ${fmtShape(s!.shape)}`);
    const scale = s!.f32[0];
    if (!Number.isFinite(scale) || !(scale > 0)) fail(`${where}: table scale '${n.inputs[SCALE]}' is ${scale}, expected finite and > 0`);
    // The scan sums C entries of at most 127 before scaling: that sum times the scale must stay a float32.
    if (127 * C * scale > F32_MAX) fail(`${where}: table scale '${n.inputs[SCALE]}' is ${scale}; 127·C·scale = ${127 * C * scale} overflows float32`);
    const q = t!.data as Int8Array;
    const bad = q.indexOf(-128);
    if (bad >= 0) fail(`${where}: table '${n.inputs[TABLE]}' holds -128 at flat index ${bad}; tables are symmetric int8, entries in [-127, 127]`);
    for (const slot of [TABLE, SCALE]) {
      const v = n.inputs[slot];
      if (slotOf.has(v)) fail(`tensor '${v}' is the table or table scale of two LUT slots; each LUT node has its own`);
      slotOf.set(v, { node: ni, slot });
    }
    infos.set(n.inputs[TABLE], { shape: [C, V, t!.shape[2]], dtype: 'float32' });
  });
  // A table or scale is read in its own slot only (elsewhere its stand-in shape would be taken for the real one).
  graph.nodes.forEach((n, ni) =>
    n.inputs.forEach((v, i) => {
      const own = slotOf.get(v);
      if (own && (own.node !== ni || own.slot !== i)) fail(`node '${n.name}' (${n.op}) reads '${v}' as input ${i}, but it is the ${own.slot === TABLE ? 'table' : 'table scale'} of '${graph.nodes[own.node].name}'; LUT tables and scales are read by their LUT node only`);
    }),
  );
  const info = analyzeGraph(graph, infos, { file });
  if (info.unused.length > 0) {
    fail(`tensors ${info.unused.slice(0, 8).map((k) => `'${k}'`).join(', ')}${info.unused.length > 8 ? ` and ${info.unused.length - 8} more` : ''} are not used by the graph`);
  }
  checkModel(info, new Map(Object.entries(tensors)), file, limits); // memory, finite floats, the records' value checks
  const luts = new Map<string, DeployLut>();
  for (const ni of info.nodes) {
    if (!LUT_OPS.has(ni.node.op)) continue;
    if (!ni.attrs.quantize) fail(`${ni.node.op} '${ni.node.name}' has quantize = false; a deployment file's LUT layers run their int8 table`);
    const c = tensors[ni.node.inputs[1]];
    const t = tensors[ni.node.inputs[TABLE]];
    const b = tensor(ni.node.inputs[3]);
    const [C, K, V] = c.shape;
    luts.set(ni.node.name, { centroids: c.f32, lutQ: t.data as Int8Array, scale: tensors[ni.node.inputs[SCALE]].f32[0], bias: b ? b.f32 : null, C, K, V, M: t.shape[2], metric: ni.attrs.metric as Metric });
  }
  const meta: DeployMeta = { format: DEPLOY_FORMAT, version: DEPLOY_FILE_VERSION, graph: graphToJson(info.graph), ...(dataset ? { dataset } : {}), ...(r.info ? { info: r.info as Record<string, unknown> } : {}) };
  return { graph: info.graph, info, weights: new Map(Object.entries(tensors)), luts, meta };
}

/** What the runtime compiles from a model file of either kind. */
export interface RuntimeContents {
  kind: 'training' | 'deploy';
  info: GraphInfo;
  weights: Map<string, Tensor>;
  /** A deployment file's LUT layers by node name (empty for a training file: the runtime builds them). */
  luts: Map<string, DeployLut>;
  meta: ModelMeta | DeployMeta;
}

/** Parses a training or a deployment file (told apart by the metadata's format) and validates it. */
export function parseRuntimeContents(bytes: Uint8Array, file = 'model', limits: ModelLimits = {}): RuntimeContents {
  const st = parseSafetensors(bytes, file);
  if (isDeployMetadata(st.metadata)) {
    const d = readDeployContents(st, file, limits);
    return { kind: 'deploy', info: d.info, weights: d.weights, luts: d.luts, meta: d.meta };
  }
  const c = readModelContents(st, file, limits);
  return { kind: 'training', info: c.info, weights: c.weights, luts: new Map(), meta: c.meta };
}
