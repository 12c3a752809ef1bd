// Cost accounting on the graph IR: per-node MACs, lookups, parameter/table bytes, activations with a liveness peak, ratios.
import { ArgumentError, LutnnError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { shapeSize } from '../tensor/tensor.js';
import { analyzeGraph, type GraphInfo, type NodeInfo } from './analyze.js';
import { BATCH, perSample, shapeAt, type Dim } from './dims.js';
import type { GraphModel } from './model.js';
import type { CostCtx, CostPart, LayerKind, LutLayerInfo, MaddnessLayerInfo } from './op.js';
import type { Attrs, IrDType, TensorInfo, ValueInfo } from './types.js';

export type { LayerKind, LutLayerInfo, MaddnessLayerInfo } from './op.js';

/*
 * Conventions (all counts are per image; byte counts of activations are at `batch`). One entry per graph node, in
 * topological order; the per-op rules are the `cost` facets of the op records (src/graph/ops/*.ts, CostPart).
 * - `macs` of a dense node: Conv outH·outW·Cout·(Cin/groups)·kh·kw, Linear rows·in·out, MatMul (weight or two
 *   activations) out-elements·k per image (bias adds not counted).
 * - LUT node (LutLinear / LutConv) with N rows per image (outH·outW for a conv, output elements / M for a Linear),
 *   D = C·V inputs, M outputs, K centroids: `encodeMacs` = N·D·K multiply-adds (distance of every sub-vector to
 *   K centroids), `lookupAdds` = N·(D/V)·M = N·C·M table adds, and `macs` = encodeMacs + lookupAdds (one lookup-add
 *   counted as one MAC, as the LUT-NN reference counting code does). Its ratio to dense is M/(K + M/V).
 * - MADDNESS node: `comparisons` = N·C·4 tree comparisons (not MACs), `lookupAdds` = N·C·M, `macs` = lookupAdds.
 * - Norms, activations, pools, copies: 0 MACs; `elementOps` is a rough count of elementwise operations (BN 2 per
 *   element in eval, ReLU/GELU 1, Softmax 3, pools kh·kw per output, LayerNorm 5 per element, copies 1 per element).
 * - Parameters of a node are its initializer inputs, split into trained ('param') and carried ('buffer') by
 *   GraphInfo.roles; an initializer read by several nodes counts once, at its first reader. `params` counts the
 *   param scalars. `paramBytes` (bytes needed at inference as lutnn runs it) and `deployBytes` default to the stored
 *   bytes of the param initializers, `bufferBytes` to those of the buffers; a record may override them (when the node
 *   is the first reader of all its initializers). LUT: fp32 centroids 4·C·K·V + int8 table C·K·M + 4 (its scale) +
 *   bias 4·M (float table 4·C·K·M when quantize is off); the regrouped weight [C,V,M] and θ are only needed to train
 *   (`trainingOnlyBytes`); deployBytes as LUT-NN deploys: int8 centroids C·K·V + a 4-byte scale per codebook, int8
 *   table + scale, int32 bias. MADDNESS: its buffers are its inference parameters (paramBytes, bufferBytes 0).
 *   BatchNorm: γ, β in paramBytes (8·C), running stats in bufferBytes (8·C + 4).
 * - BatchNorm folding: a BatchNorm whose input is the output of a Conv, Linear, MatMul with an initializer operand,
 *   LUT, MADDNESS or quantized node (QConv, QLinear: into its per-channel output scale) that no other node reads (and
 *   that is no graph output) folds into that node at inference: `foldedInto` names it and its deployBytes is 0 (4·C
 *   when that node has no bias). For Linear-like producers the output must be [N, C] (BN's channel axis is then the
 *   feature axis).
 * - Activation bytes by dtype (float32 and int32 4 bytes, int8 and uint8 1 per element) at `batch`. `inputBytes`: the
 *   node's computed inputs (not initializers; a value read twice once); `outputBytes`: its outputs; `activationBytes`
 *   = their sum. `inputShape` is the shape of the node's first computed input (input 0 when all are initializers),
 *   `outputShape` of its output 0, both at batch 1. `workspaceBytes`: dense conv im2col rows N·batch·D·4 (0 for 1x1,
 *   stride 1, no padding); LUT/MADDNESS codes N·batch·C bytes (uint8).
 * - `peakActivationBytes` is liveness-based over the topological order: at node i, the values produced so far (graph
 *   inputs included) that node i or a later node still reads, or that are graph outputs, plus node i's outputs, plus
 *   its workspace. A node whose rule says `view` (reshapes, identity, eval dropout) adds no memory: its output aliases
 *   input 0, which stays live as long as any alias is read. For a chain this is input + output + workspace of the
 *   node; with skip connections it counts the skip value while the branch runs. `peakLayer` names the node.
 * - `bitsPerActivation`: 32 for dense nodes (fp32 input), log2(K)/V for LUT nodes (the code's bits per input),
 *   4/V for MADDNESS, null otherwise.
 */

export interface LayerCost {
  /** The node's name (module path for lowered modules). */
  name: string;
  /** The op type. */
  type: string;
  kind: LayerKind;
  /** 1: every node runs once per forward. */
  calls: number;
  /** Shapes at batch 1 (leading 1 included). */
  inputShape: number[] | null;
  outputShape: number[] | null;
  macs: number;
  encodeMacs: number;
  lookupAdds: number;
  comparisons: number;
  elementOps: number;
  /** Scalars of the trained initializers this node is the first reader of. */
  params: number;
  paramBytes: number;
  deployBytes: number;
  trainingOnlyBytes: number;
  bufferBytes: number;
  inputBytes: number;
  outputBytes: number;
  activationBytes: number;
  workspaceBytes: number;
  bitsPerActivation: number | null;
  /** For a foldable BatchNorm: the node it folds into. */
  foldedInto: string | null;
  lut?: LutLayerInfo;
  maddness?: MaddnessLayerInfo;
  note?: string;
}

export interface CostTotal {
  batch: number;
  /** One sample of graph input 0 / output 0 (no batch dim). */
  inputShape: number[];
  outputShape: number[];
  macs: number;
  /** MACs of dense nodes (Conv, Linear, MatMul). */
  denseMacs: number;
  /** MACs of LUT and MADDNESS nodes (encode + lookups). */
  lutMacs: number;
  encodeMacs: number;
  lookupAdds: number;
  comparisons: number;
  elementOps: number;
  /** macs · batch. */
  macsPerBatch: number;
  params: number;
  paramBytes: number;
  /** paramBytes of dense nodes. */
  denseParamBytes: number;
  /** paramBytes of LUT and MADDNESS nodes (centroids or trees, tables, biases). */
  lutParamBytes: number;
  deployBytes: number;
  trainingOnlyBytes: number;
  bufferBytes: number;
  peakActivationBytes: number;
  peakLayer: string | null;
  /** Nodes whose compute is not counted (their record says kind 'other'). */
  unknownLayers: string[];
}

export interface ModelCost {
  layers: LayerCost[];
  total: CostTotal;
}

/** Bytes of one element of an IR dtype. */
export function irBytesPerElement(dtype: IrDType): number {
  return dtype === 'int8' || dtype === 'uint8' ? 1 : 4;
}


/** Bytes of a value for `batch` samples. */
const valueBytes = (v: ValueInfo, batch: number): number => shapeSize(shapeAt(v.shape, batch)) * irBytesPerElement(v.dtype);

/** One sample's shape: dims after the leading N, else the shape at N = 1. */
const sampleShape = (dims: readonly Dim[]): number[] => perSample(dims) ?? shapeAt(dims, 1);

/** Producers BatchNorm folds into, with the index of their bias input (−1: none) and whether they are Linear-like. */
const FOLDS_INTO: Readonly<Record<string, { bias: number; linear: boolean }>> = {
  Conv: { bias: 2, linear: false },
  LutConv: { bias: 3, linear: false },
  MaddnessConv: { bias: 5, linear: false },
  Linear: { bias: 2, linear: true },
  LutLinear: { bias: 3, linear: true },
  MaddnessLinear: { bias: 5, linear: true },
  MatMul: { bias: -1, linear: true },
  QConv: { bias: 2, linear: false },
  QLinear: { bias: 2, linear: true },
};

/** The node a BatchNorm folds into (see the conventions), or null. */
function foldTarget(info: GraphInfo, bn: NodeInfo, outputs: ReadonlySet<string>): NodeInfo | null {
  const x = bn.node.inputs[0];
  const p = info.producer.get(x);
  if (!p || outputs.has(x)) return null;
  const readers = info.consumers.get(x) ?? [];
  if (readers.length !== 1 || readers[0] !== bn) return null;
  const rule = FOLDS_INTO[p.node.op];
  if (!rule) return null;
  if (p.node.op === 'MatMul' && !p.node.inputs.some((v) => info.roles.has(v))) return null;
  if (rule.linear && p.outputs[0].shape.length !== 2) return null;
  return p;
}

const hasBias = (p: NodeInfo): boolean => {
  const i = FOLDS_INTO[p.node.op].bias;
  return i >= 0 && (p.node.inputs[i] ?? '') !== '';
};

/** The record's cost of one node, errors naming it. */
function nodeCost(ni: NodeInfo, weights: ReadonlyMap<string, Tensor>, info: GraphInfo, batch: number): CostPart {
  const ins = ni.node.inputs;
  const ctx: CostCtx<Attrs> = {
    node: ni.node.name,
    attrs: ni.attrs,
    inShape: (i) => (ni.inputs[i] ? shapeAt(ni.inputs[i]!.shape, 1) : null),
    outShape: (i) => shapeAt(ni.outputs[i].shape, 1),
    weight: (i) => (i < ins.length && info.roles.has(ins[i]) ? weights.get(ins[i]) ?? null : null),
    batch,
  };
  try {
    return ni.def.cost(ctx);
  } catch (e) {
    if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`cost of node '${ni.node.name}' (${ni.node.op}): ${e.message}`);
    throw e;
  }
}

/**
 * Per-node and total cost of an analysed graph; activation and workspace bytes at `batch` (default 1). `weights`
 * gives the initializer values a rule reads (the LUT temperature); sizes come from the analysis.
 */
export function graphCost(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, opts: { batch?: number } = {}): ModelCost {
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new ArgumentError(`graphCost: batch must be an integer >= 1, got ${String(batch)}`);
  const graphOutputs = new Set(info.graph.outputs);
  const counted = new Set<string>();
  const parts: CostPart[] = [];
  const layers: LayerCost[] = info.nodes.map((ni) => {
    const part = nodeCost(ni, weights, info, batch);
    parts.push(part);
    const inits = [...new Set(ni.node.inputs.filter((v) => info.roles.has(v)))];
    const fresh = inits.filter((v) => !counted.has(v));
    fresh.forEach((v) => counted.add(v));
    const stored = { params: 0, param: 0, buffer: 0 };
    for (const v of fresh) {
      const t = info.values.get(v)!;
      const n = shapeSize(shapeAt(t.shape, 1));
      if (info.roles.get(v) === 'param') {
        stored.params += n;
        stored.param += n * irBytesPerElement(t.dtype);
      } else stored.buffer += n * irBytesPerElement(t.dtype);
    }
    const own = fresh.length === inits.length; // first reader of all its initializers (or has none)
    const computed = [...new Set(ni.node.inputs.filter((v) => v !== '' && !info.roles.has(v)))];
    const inputBytes = computed.reduce((a, v) => a + valueBytes(info.values.get(v)!, batch), 0);
    const outputBytes = ni.outputs.reduce((a, o) => a + valueBytes(o, batch), 0);
    const first = computed.length > 0 ? info.values.get(computed[0])! : ni.inputs[0];
    const layer: LayerCost = {
      name: ni.node.name,
      type: ni.node.op,
      kind: part.kind,
      calls: 1,
      inputShape: first ? shapeAt(first.shape, 1) : null,
      outputShape: shapeAt(ni.outputs[0].shape, 1),
      macs: part.macs ?? 0,
      encodeMacs: part.encodeMacs ?? 0,
      lookupAdds: part.lookupAdds ?? 0,
      comparisons: part.comparisons ?? 0,
      elementOps: part.elementOps ?? 0,
      params: stored.params,
      paramBytes: own ? part.paramBytes ?? stored.param : stored.param,
      deployBytes: own ? part.deployBytes ?? part.paramBytes ?? stored.param : stored.param,
      trainingOnlyBytes: own ? part.trainingOnlyBytes ?? 0 : 0,
      bufferBytes: own ? part.bufferBytes ?? stored.buffer : stored.buffer,
      inputBytes,
      outputBytes,
      activationBytes: inputBytes + outputBytes,
      workspaceBytes: part.workspaceBytes ?? 0,
      bitsPerActivation: part.bitsPerActivation ?? null,
      foldedInto: null,
    };
    if (part.lut) layer.lut = part.lut;
    if (part.maddness) layer.maddness = part.maddness;
    if (part.note) layer.note = part.note;
    if (!own) {
      const shared = inits.filter((v) => !fresh.includes(v));
      layer.note = `shares ${shared.map((v) => `'${v}'`).join(', ')} with an earlier node: counted there`;
    }
    if (part.kind === 'other') layer.note ??= 'compute not counted';
    if (ni.node.op === 'BatchNorm') {
      const p = foldTarget(info, ni, graphOutputs);
      if (p) {
        layer.foldedInto = p.node.name;
        layer.deployBytes = own && fresh.length > 0 && !hasBias(p) ? 4 * shapeAt(ni.outputs[0].shape, 1)[1] : 0;
        layer.note = `folds into ${p.node.name} at inference`;
      }
    }
    return layer;
  });

  const { peak, peakLayer } = livenessPeak(info, parts, layers.map((l) => l.workspaceBytes), batch);
  const sum = (f: (l: LayerCost) => number, pick: (l: LayerCost) => boolean = () => true): number =>
    layers.reduce((a, l) => (pick(l) ? a + f(l) : a), 0);
  const isLut = (l: LayerCost): boolean => l.kind === 'lut' || l.kind === 'maddness';
  const isDense = (l: LayerCost): boolean => l.kind === 'dense';
  const macs = sum((l) => l.macs);
  const total: CostTotal = {
    batch,
    inputShape: sampleShape(info.graph.inputs[0].shape),
    outputShape: sampleShape(info.values.get(info.graph.outputs[0])!.shape),
    macs,
    denseMacs: sum((l) => l.macs, isDense),
    lutMacs: sum((l) => l.macs, isLut),
    encodeMacs: sum((l) => l.encodeMacs),
    lookupAdds: sum((l) => l.lookupAdds),
    comparisons: sum((l) => l.comparisons),
    elementOps: sum((l) => l.elementOps),
    macsPerBatch: macs * batch,
    params: sum((l) => l.params),
    paramBytes: sum((l) => l.paramBytes),
    denseParamBytes: sum((l) => l.paramBytes, isDense),
    lutParamBytes: sum((l) => l.paramBytes, isLut),
    deployBytes: sum((l) => l.deployBytes),
    trainingOnlyBytes: sum((l) => l.trainingOnlyBytes),
    bufferBytes: sum((l) => l.bufferBytes),
    peakActivationBytes: peak,
    peakLayer,
    unknownLayers: layers.filter((l) => l.kind === 'other').map((l) => l.name),
  };
  return { layers, total };
}

/**
 * The liveness peak (see the conventions). Each computed value belongs to a storage: its own, or for a view node's
 * output the storage of input 0. A storage is live from the node that makes it (−1 for graph inputs) to its last
 * reader through any alias (the last node for graph outputs); initializers are not activations. `workspace[i]` is node
 * i's workspace. Linear in nodes + values (the live bytes per node come from a difference array).
 */
function livenessPeak(info: GraphInfo, parts: readonly CostPart[], workspace: readonly number[], batch: number): { peak: number; peakLayer: string | null } {
  const n = info.nodes.length;
  const storage = new Map<string, string>(); // value → the value whose memory it uses
  const span = new Map<string, { from: number; to: number; bytes: number }>();
  for (const inp of info.graph.inputs) {
    storage.set(inp.name, inp.name);
    span.set(inp.name, { from: -1, to: -1, bytes: valueBytes(info.values.get(inp.name)!, batch) });
  }
  const use = (v: string, at: number): void => {
    const s = storage.get(v);
    if (s === undefined) return; // an initializer
    const sp = span.get(s)!;
    sp.to = Math.max(sp.to, at);
  };
  info.nodes.forEach((ni, i) => {
    for (const v of ni.node.inputs) if (v !== '') use(v, i);
    ni.node.outputs.forEach((o, k) => {
      const src = ni.node.inputs[0];
      if (parts[i].view && k === 0 && src !== undefined && src !== '') {
        const s = storage.get(src);
        if (s !== undefined) storage.set(o, s);
        return; // a view of an initializer holds no activation memory
      }
      storage.set(o, o);
      span.set(o, { from: i, to: i, bytes: valueBytes(info.nodes[i].outputs[k], batch) });
    });
  });
  for (const o of info.graph.outputs) use(o, n - 1);
  const delta = new Float64Array(n + 1);
  for (const { from, to, bytes } of span.values()) {
    const lo = Math.max(from, 0);
    if (lo > to || lo >= n) continue;
    delta[lo] += bytes;
    delta[Math.min(to, n - 1) + 1] -= bytes;
  }
  let peak = 0;
  let peakLayer: string | null = null;
  for (let i = 0, live = 0; i < n; i++) {
    live += delta[i];
    const b = live + workspace[i];
    if (b > peak) {
      peak = b;
      peakLayer = info.nodes[i].node.name;
    }
  }
  return { peak, peakLayer };
}

/**
 * The activation peak of an analysed graph at `batch` (graphCost's peakActivationBytes and peakLayer, without the
 * per-layer report), with each node's cost part: what a loader checks against a memory limit before running anything.
 */
export function activationPeak(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, batch = 1): { peak: number; peakLayer: string | null; parts: CostPart[] } {
  const parts = info.nodes.map((ni) => nodeCost(ni, weights, info, batch));
  return { ...livenessPeak(info, parts, parts.map((p) => p.workspaceBytes ?? 0), batch), parts };
}

/** What modelCost needs of a model: its analysis and its initializers by name (a GraphModel). */
export type CostModel = Pick<GraphModel, 'info' | 'weight'>;

function checkShape(inputShape: unknown): number[] {
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`modelCost: inputShape must be a non-empty list of positive integers (one sample, e.g. [1,28,28]), got ${JSON.stringify(inputShape)}`);
  }
  return inputShape as number[];
}

/** The analysis of `info`'s graph with input 0 made [N, ...shape]. */
function withInputShape(info: GraphInfo, shape: number[]): GraphInfo {
  const inits = new Map<string, TensorInfo>();
  for (const k of info.roles.keys()) {
    const v = info.values.get(k)!;
    inits.set(k, { shape: v.shape as number[], dtype: v.dtype });
  }
  const graph = { ...info.graph, inputs: info.graph.inputs.map((inp, i) => (i === 0 ? { ...inp, shape: [BATCH, ...shape] as Dim[] } : inp)) };
  try {
    return analyzeGraph(graph, inits);
  } catch (e) {
    if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`modelCost: input ${fmtShape(shape)} per sample: ${e.message}`);
    throw e;
  }
}

/**
 * Per-node and total cost of a graph model (see graphCost). `inputShape` (one sample, e.g. [1, 28, 28]) re-analyses
 * the graph with input 0 [N, ...inputShape] when it differs from the graph's; omitted, the graph's own is used.
 */
export function modelCost(model: CostModel, inputShape?: readonly number[] | null, opts: { batch?: number } = {}): ModelCost {
  if (model === null || typeof model !== 'object' || !model.info || !Array.isArray(model.info.nodes) || typeof model.weight !== 'function') {
    throw new ArgumentError('modelCost: expected a GraphModel (lower a Module with lowerModule first)');
  }
  let info = model.info;
  if (inputShape !== undefined && inputShape !== null) {
    const shape = checkShape(inputShape);
    const own = perSample(info.graph.inputs[0].shape);
    if (!own || own.length !== shape.length || own.some((d, i) => d !== shape[i])) info = withInputShape(info, shape);
  }
  const weights = new Map<string, Tensor>();
  for (const k of info.roles.keys()) weights.set(k, model.weight(k));
  return graphCost(info, weights, opts);
}

/** LUT-NN's MAC ratio of a dense layer to its LUT version: D·M / (D·K + (D/V)·M) = M / (K + M/V). */
export function lutMacRatio(M: number, K: number, V: number): number {
  for (const [n, v] of [['M', M], ['K', K], ['V', V]] as const) {
    if (!(v > 0) || !Number.isFinite(v)) throw new ArgumentError(`lutMacRatio: ${n} must be a finite number > 0, got ${v}`);
  }
  return M / (K + M / V);
}

export interface LayerComparison {
  name: string;
  denseType: string | null;
  lutType: string | null;
  denseMacs: number | null;
  lutMacs: number | null;
  /** dense / LUT (how many times fewer); null when either side is missing or the LUT side is 0. */
  macRatio: number | null;
  denseBytes: number | null;
  lutBytes: number | null;
  byteRatio: number | null;
  /** dense paramBytes / LUT deployBytes. */
  deployByteRatio: number | null;
}

export interface CostComparison {
  layers: LayerComparison[];
  total: {
    denseMacs: number;
    lutMacs: number;
    macRatio: number | null;
    denseBytes: number;
    lutBytes: number;
    byteRatio: number | null;
    deployByteRatio: number | null;
    /** The same ratios over the layers whose kind changed from dense to lut/maddness only. */
    replaced: { names: string[]; macRatio: number | null; byteRatio: number | null; deployByteRatio: number | null };
  };
}

const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** Per-layer and total MAC and byte ratios of a dense model's cost against its LUT version's, matched by layer name. */
export function compareCost(dense: ModelCost, lut: ModelCost): CostComparison {
  const byName = new Map(lut.layers.map((l) => [l.name, l]));
  const dByName = new Map(dense.layers.map((l) => [l.name, l]));
  const names = [...dense.layers.map((l) => l.name), ...lut.layers.map((l) => l.name).filter((n) => !dByName.has(n))];
  const layers: LayerComparison[] = [];
  const rep = { names: [] as string[], dm: 0, lm: 0, db: 0, lb: 0, ld: 0 };
  for (const name of names) {
    const d = dByName.get(name) ?? null;
    const l = byName.get(name) ?? null;
    layers.push({
      name,
      denseType: d?.type ?? null,
      lutType: l?.type ?? null,
      denseMacs: d?.macs ?? null,
      lutMacs: l?.macs ?? null,
      macRatio: ratio(d?.macs ?? null, l?.macs ?? null),
      denseBytes: d?.paramBytes ?? null,
      lutBytes: l?.paramBytes ?? null,
      byteRatio: ratio(d?.paramBytes ?? null, l?.paramBytes ?? null),
      deployByteRatio: ratio(d?.paramBytes ?? null, l?.deployBytes ?? null),
    });
    if (d && l && d.kind === 'dense' && (l.kind === 'lut' || l.kind === 'maddness')) {
      rep.names.push(name);
      rep.dm += d.macs;
      rep.lm += l.macs;
      rep.db += d.paramBytes;
      rep.lb += l.paramBytes;
      rep.ld += l.deployBytes;
    }
  }
  const t = { d: dense.total, l: lut.total };
  return {
    layers,
    total: {
      denseMacs: t.d.macs,
      lutMacs: t.l.macs,
      macRatio: ratio(t.d.macs, t.l.macs),
      denseBytes: t.d.paramBytes,
      lutBytes: t.l.paramBytes,
      byteRatio: ratio(t.d.paramBytes, t.l.paramBytes),
      deployByteRatio: ratio(t.d.paramBytes, t.l.deployBytes),
      replaced: { names: rep.names, macRatio: ratio(rep.dm, rep.lm), byteRatio: ratio(rep.db, rep.lb), deployByteRatio: ratio(rep.db, rep.ld) },
    },
  };
}
