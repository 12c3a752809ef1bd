// Cost accounting of dense and LUT models: per-layer MACs, lookups, parameter/table bytes, activation bytes, and ratios.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError, LutnnError, ShapeError, fmtShape } from '../errors.js';
import {
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  GELU,
  GlobalAvgPool2d,
  Identity,
  LayerNorm,
  Linear,
  MaxPool2d,
  ReLU,
} from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { moduleTypeOf } from '../nn/spec.js';
import { zeros } from '../tensor/create.js';
import { Tensor, bytesPerElement } from '../tensor/tensor.js';
import { MaddnessConv2d, MaddnessLinear } from './maddness-modules.js';
import { LutConv2d, LutLinear } from './modules.js';

/*
 * Conventions (all counts are per image; byte counts of activations are at `batch`):
 * - `macs` of a dense layer: Conv2d outH·outW·Cout·(Cin/groups)·kh·kw, Linear rows·in·out (bias adds not counted).
 * - LUT layer (LutLinear / LutConv2d) with N rows per image (outH·outW for a conv, 1 for a Linear on [N, D]),
 *   D = C·V inputs, M outputs, K centroids: `encodeMacs` = N·D·K multiply-adds (distance of every sub-vector to
 *   K centroids), `lookupAdds` = N·(D/V)·M = N·C·M table adds, and `macs` = encodeMacs + lookupAdds (one lookup-add
 *   counted as one MAC, as the LUT-NN reference counting code does). Its ratio to dense is M/(K + M/V).
 * - MADDNESS layer: `comparisons` = N·C·4 tree comparisons (not MACs), `lookupAdds` = N·C·M, `macs` = lookupAdds.
 * - Norms, activations, pools: 0 MACs; `elementOps` is a rough count of elementwise operations (BN 2 per element
 *   in eval, ReLU/GELU 1, pools kh·kw per output, LayerNorm 5 per element).
 * - `paramBytes`: bytes the layer needs at inference as lutnn runs it. Dense: 4 per fp32 parameter. LUT: fp32
 *   centroids 4·C·K·V + int8 table C·K·M + 4 (its scale) + bias 4·M (float table 4·C·K·M when quantize is off).
 *   The regrouped weight [C,V,M] and θ are only needed to train (`trainingOnlyBytes`).
 *   `deployBytes`: as LUT-NN deploys: int8 centroids C·K·V + a 4-byte scale per codebook, int8 table + scale,
 *   int32 bias. BatchNorm: γ, β in paramBytes (8·C), running stats in bufferBytes (8·C + 4); when it directly
 *   follows a conv/linear/LUT layer it folds into that layer at inference, and its deployBytes is 0 (4·C when the
 *   layer it folds into has no bias).
 * - `inputBytes`/`outputBytes`: fp32 tensors at `batch`; `activationBytes` = their sum. `workspaceBytes`: dense conv
 *   im2col rows N·batch·D·4 (0 for 1x1, stride 1, no padding); LUT/MADDNESS codes N·batch·C bytes (uint8).
 * - `peakActivationBytes` = max over layers of input + output + workspace: the live memory of a sequential
 *   execution that frees each tensor once the next layer has consumed it (a lower bound with skip connections;
 *   reshaping layers count once, their output being a view of their input).
 * - `bitsPerActivation`: 32 for dense layers (fp32 input), log2(K)/V for LUT layers (the code's bits per input).
 */

export type LayerKind = 'dense' | 'lut' | 'maddness' | 'norm' | 'elementwise' | 'pool' | 'shape' | 'other';

/** LUT-NN parameters of a LutLinear / LutConv2d, with its byte breakdown. */
export interface LutLayerInfo {
  ncodebooks: number;
  k: number;
  subvecLen: number;
  outDim: number;
  rowsPerImage: number;
  metric: string;
  temperature: number;
  quantize: boolean;
  bytes: { centroidsF32: number; centroidsInt8: number; centroidScales: number; table: number; tableScale: number; bias: number; weight: number; theta: number };
}

/** MADDNESS parameters (depth-4 trees, 16 leaves per codebook). */
export interface MaddnessLayerInfo {
  ncodebooks: number;
  leaves: number;
  subvecLen: number;
  outDim: number;
  rowsPerImage: number;
  /** As stored (split dims int32, thresholds fp32, table int8) and as deployed (thresholds int8, split dims uint8). */
  bytes: { table: number; tableScale: number; thresholdsF32: number; thresholdsInt8: number; splitDimsInt32: number; splitDimsUint8: number; bias: number };
}

export interface LayerCost {
  /** Dotted module path ('' for a root that is itself a leaf); a shared module's second call gets '#2'. */
  name: string;
  /** Registered type name (describeModel's), else the class name. */
  type: string;
  kind: LayerKind;
  /** 1 for an entry made by a call (a shared module gets one entry per call, parameters on the first); 0: never called (parameters still counted). */
  calls: number;
  /** Shapes at batch 1 (null when not called). */
  inputShape: number[] | null;
  outputShape: number[] | null;
  macs: number;
  encodeMacs: number;
  lookupAdds: number;
  comparisons: number;
  elementOps: number;
  /** Scalar parameters the module stores (trainable tensors, all of them). */
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
  /** For a foldable BatchNorm: the layer it folds into. */
  foldedInto: string | null;
  lut?: LutLayerInfo;
  maddness?: MaddnessLayerInfo;
  note?: string;
}

export interface CostTotal {
  batch: number;
  inputShape: number[];
  outputShape: number[];
  macs: number;
  /** MACs of dense Conv2d/Linear layers. */
  denseMacs: number;
  /** MACs of LUT and MADDNESS layers (encode + lookups). */
  lutMacs: number;
  encodeMacs: number;
  lookupAdds: number;
  comparisons: number;
  elementOps: number;
  /** macs · batch. */
  macsPerBatch: number;
  params: number;
  paramBytes: number;
  /** paramBytes of dense Conv2d/Linear layers. */
  denseParamBytes: number;
  /** paramBytes of LUT and MADDNESS layers (centroids or trees, tables, biases). */
  lutParamBytes: number;
  deployBytes: number;
  trainingOnlyBytes: number;
  bufferBytes: number;
  peakActivationBytes: number;
  peakLayer: string | null;
  /** Layers whose compute could not be counted (unknown types, containers with their own parameters). */
  unknownLayers: string[];
}

export interface ModelCost {
  layers: LayerCost[];
  total: CostTotal;
}

/** What a per-type cost function sees: the module, its type, and the shapes of one call at batch 1. */
export interface LayerCostContext {
  module: Module;
  name: string;
  type: string;
  input: readonly number[];
  output: readonly number[];
  batch: number;
}

/** What a per-type cost function returns; unset numbers are 0, paramBytes/deployBytes default to the stored bytes. */
export interface LayerCostPart {
  kind: LayerKind;
  macs?: number;
  encodeMacs?: number;
  lookupAdds?: number;
  comparisons?: number;
  elementOps?: number;
  paramBytes?: number;
  deployBytes?: number;
  trainingOnlyBytes?: number;
  /** Default: the module's own buffers as stored. */
  bufferBytes?: number;
  workspaceBytes?: number;
  bitsPerActivation?: number | null;
  lut?: LutLayerInfo;
  maddness?: MaddnessLayerInfo;
  note?: string;
}

export type LayerCostFn = (ctx: LayerCostContext) => LayerCostPart;

const custom = new Map<string, LayerCostFn>();

/**
 * Extension point: cost of a module type by its registered type name (registerModuleType's). Used before the
 * built-in rules, so it can also override them. MaddnessLinear / MaddnessConv2d are registered below.
 */
export function registerLayerCost(typeName: string, fn: LayerCostFn): void {
  if (typeof typeName !== 'string' || typeName === '') throw new ArgumentError(`registerLayerCost: typeName must be a non-empty string, got ${String(typeName)}`);
  if (typeof fn !== 'function') throw new ArgumentError(`registerLayerCost: '${typeName}' needs a function`);
  custom.set(typeName, fn);
}

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Bytes of a module's own parameters (or buffers) as stored. */
function ownBytes(list: [string, Tensor][]): number {
  let b = 0;
  for (const [n, t] of list) if (!n.includes('.')) b += t.size * bytesPerElement(t.dtype);
  return b;
}

function ownCount(list: [string, Tensor][]): number {
  let c = 0;
  for (const [n, t] of list) if (!n.includes('.')) c += t.size;
  return c;
}

/** Rows per image of a layer mapping [..., D] → [..., M] (Linear-like): output elements / M at batch 1. */
function linearRows(output: readonly number[], M: number): number {
  return size(output) / M;
}

function lutCost(m: LutLinear | LutConv2d, ctx: LayerCostContext): LayerCostPart {
  const C = m.ncodebooks;
  const K = m.k;
  const V = m.subvecLen;
  const M = m.outDim;
  const D = m.inDim;
  // Conv: output [1, M, outH, outW] → N = outH·outW; Linear: [1, ..., M] → N = product of the middle dims.
  const N = m instanceof LutConv2d ? ctx.output[2] * ctx.output[3] : linearRows(ctx.output, M);
  const hasBias = m.bias !== null;
  const bytes = {
    centroidsF32: 4 * C * K * V,
    centroidsInt8: C * K * V,
    centroidScales: 4 * C,
    table: m.quantize ? C * K * M : 4 * C * K * M,
    tableScale: m.quantize ? 4 : 0,
    bias: hasBias ? 4 * M : 0,
    weight: 4 * C * V * M,
    theta: 4,
  };
  const encodeMacs = N * D * K;
  const lookupAdds = N * C * M;
  return {
    kind: 'lut',
    macs: encodeMacs + lookupAdds,
    encodeMacs,
    lookupAdds,
    paramBytes: bytes.centroidsF32 + bytes.table + bytes.tableScale + bytes.bias,
    deployBytes: bytes.centroidsInt8 + bytes.centroidScales + C * K * M + 4 + bytes.bias,
    trainingOnlyBytes: bytes.weight + bytes.theta,
    workspaceBytes: N * ctx.batch * C,
    bitsPerActivation: Math.log2(K) / V,
    lut: { ncodebooks: C, k: K, subvecLen: V, outDim: M, rowsPerImage: N, metric: m.metric, temperature: m.temperature, quantize: m.quantize, bytes },
  };
}

/**
 * MADDNESS layers (src/lut/maddness-modules.ts): buffers split_dims [C,4] int32, thresholds [C,15] fp32, table
 * [C,16,M] int8 + table_scale, bias [M]; no trainable parameters. N rows per image: outH·outW for the conv, output
 * elements / M for the linear. Encoding: N·C·4 tree comparisons; lookups N·C·M adds (= macs). paramBytes: the
 * buffers as stored (they are the layer's inference parameters, so bufferBytes is 0); deployBytes: int8 table +
 * scale, int8 thresholds, one byte per split dim, int32 bias.
 */
function maddnessCost(m: MaddnessLinear | MaddnessConv2d, ctx: LayerCostContext): LayerCostPart {
  const C = m.ncodebooks;
  const M = m.outDim;
  const V = m.subvecLen;
  const N = m instanceof MaddnessConv2d ? ctx.output[2] * ctx.output[3] : linearRows(ctx.output, M);
  const bytes = {
    table: C * 16 * M,
    tableScale: 4,
    thresholdsF32: 4 * C * 15,
    thresholdsInt8: C * 15,
    splitDimsInt32: 4 * C * 4,
    splitDimsUint8: C * 4,
    bias: m.bias ? 4 * M : 0,
  };
  const lookupAdds = N * C * M;
  return {
    kind: 'maddness',
    macs: lookupAdds,
    lookupAdds,
    comparisons: N * C * 4,
    paramBytes: bytes.table + bytes.tableScale + bytes.thresholdsF32 + bytes.splitDimsInt32 + bytes.bias,
    deployBytes: bytes.table + bytes.tableScale + bytes.thresholdsInt8 + bytes.splitDimsUint8 + bytes.bias,
    bufferBytes: 0,
    workspaceBytes: N * ctx.batch * C,
    bitsPerActivation: 4 / V,
    maddness: { ncodebooks: C, leaves: 16, subvecLen: V, outDim: M, rowsPerImage: N, bytes },
  };
}

/** Built-in rules by class (subclasses included). */
function builtinCost(m: Module, ctx: LayerCostContext): LayerCostPart | null {
  const { input, output, batch } = ctx;
  if (m instanceof LutLinear || m instanceof LutConv2d) return lutCost(m, ctx);
  if (m instanceof MaddnessLinear || m instanceof MaddnessConv2d) return maddnessCost(m, ctx);
  if (m instanceof Conv2d) {
    const [kh, kw] = m.kernelSize;
    const N = output[2] * output[3];
    const D = m.inChannels * kh * kw;
    const direct = kh === 1 && kw === 1 && m.stride[0] === 1 && m.stride[1] === 1 && m.padding[0] === 0 && m.padding[1] === 0;
    return {
      kind: 'dense',
      macs: N * m.outChannels * (m.inChannels / m.groups) * kh * kw,
      workspaceBytes: direct ? 0 : N * batch * D * 4,
      bitsPerActivation: 32,
    };
  }
  if (m instanceof Linear) {
    return { kind: 'dense', macs: linearRows(output, m.outFeatures) * m.inFeatures * m.outFeatures, bitsPerActivation: 32 };
  }
  if (m instanceof BatchNorm2d) return { kind: 'norm', elementOps: 2 * size(output) };
  if (m instanceof LayerNorm) return { kind: 'norm', elementOps: 5 * size(output) };
  if (m instanceof ReLU || m instanceof GELU) return { kind: 'elementwise', elementOps: size(output) };
  if (m instanceof MaxPool2d || m instanceof AvgPool2d) return { kind: 'pool', elementOps: size(output) * m.kernel[0] * m.kernel[1] };
  if (m instanceof GlobalAvgPool2d) return { kind: 'pool', elementOps: size(input) };
  if (m instanceof Flatten || m instanceof Identity || m instanceof Dropout) return { kind: 'shape' };
  return null;
}

function typeName(m: Module): string {
  try {
    return moduleTypeOf(m);
  } catch {
    return m.constructor.name;
  }
}

interface Call {
  name: string;
  module: Module;
  input: Tensor;
  output: Tensor;
}

/** One no-grad, eval-mode forward of zeros [1, ...inputShape], recording every leaf call in order. */
function traceLeaves(model: Module, inputShape: number[]): { calls: Call[]; output: Tensor } {
  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
  const calls: Call[] = [];
  const wrapped: { m: Module; had: boolean; prev: unknown }[] = [];
  const modes = model.modules().map((m) => [m, m.training] as const);
  try {
    for (const [name, m] of leaves) {
      const had = Object.prototype.hasOwnProperty.call(m, 'forward');
      const prev: unknown = (m as unknown as { forward: unknown }).forward;
      const orig = m.forward;
      wrapped.push({ m, had, prev });
      m.forward = (x: Tensor): Tensor => {
        const y = orig.call(m, x);
        calls.push({ name, module: m, input: x, output: y });
        return y;
      };
    }
    model.eval();
    const x = zeros([1, ...inputShape]);
    let output: Tensor;
    try {
      output = noGrad(() => model.forward(x));
    } catch (e) {
      if (e instanceof LutnnError) throw new ShapeError(`modelCost: forward of a zero input ${fmtShape(x.shape)} failed: ${e.message}`);
      throw e;
    }
    return { calls, output };
  } finally {
    for (const { m, had, prev } of wrapped) {
      if (had) (m as unknown as { forward: unknown }).forward = prev;
      else delete (m as unknown as { forward?: unknown }).forward;
    }
    for (const [m, on] of modes) m.training = on;
  }
}

function checkShape(inputShape: unknown): number[] {
  if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`modelCost: inputShape must be a non-empty list of positive integers (one sample, e.g. [1,28,28]), got ${JSON.stringify(inputShape)}`);
  }
  return inputShape as number[];
}

/**
 * Per-layer and total cost of `model` for one sample of `inputShape` (e.g. [1, 28, 28]); activation bytes at
 * `batch` (default 1). Shapes come from one no-grad eval-mode forward of zeros at batch 1, recorded by temporary
 * per-instance wrappers on the leaf modules (removed afterwards, training flags restored). Layers are listed in
 * call order; leaves forward never called, and containers with parameters of their own, come last.
 */
export function modelCost(model: Module, inputShape: number[], opts: { batch?: number } = {}): ModelCost {
  if (!(model instanceof Module)) throw new ArgumentError('modelCost: expected a Module');
  const shape = checkShape(inputShape);
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new ArgumentError(`modelCost: batch must be an integer >= 1, got ${String(batch)}`);
  const { calls, output } = traceLeaves(model, shape);

  const layers: LayerCost[] = [];
  const seenCount = new Map<Module, number>();
  const unknownLayers: string[] = [];
  const base = (m: Module, first: boolean): Pick<LayerCost, 'params' | 'paramBytes' | 'deployBytes' | 'bufferBytes'> => {
    const stored = first ? ownBytes(m.namedParameters()) : 0;
    return { params: first ? ownCount(m.namedParameters()) : 0, paramBytes: stored, deployBytes: stored, bufferBytes: first ? ownBytes(m.namedBuffers()) : 0 };
  };
  const empty = {
    macs: 0, encodeMacs: 0, lookupAdds: 0, comparisons: 0, elementOps: 0, trainingOnlyBytes: 0,
    inputBytes: 0, outputBytes: 0, activationBytes: 0, workspaceBytes: 0, bitsPerActivation: null, foldedInto: null,
  };

  for (const [i, call] of calls.entries()) {
    const m = call.module;
    const n = (seenCount.get(m) ?? 0) + 1;
    seenCount.set(m, n);
    const type = typeName(m);
    const name = n === 1 ? call.name : `${call.name}#${n}`;
    const input = [...call.input.shape];
    const outShape = [...call.output.shape];
    const ctx: LayerCostContext = { module: m, name: call.name, type, input, output: outShape, batch };
    const part = (custom.get(type) ?? ((c: LayerCostContext) => builtinCost(m, c)))(ctx);
    const b = base(m, n === 1);
    const inputBytes = 4 * size(input) * batch;
    const outputBytes = 4 * size(outShape) * batch;
    const layer: LayerCost = {
      name, type, kind: part?.kind ?? 'other', calls: 1, inputShape: input, outputShape: outShape, ...empty, ...b,
      inputBytes, outputBytes, activationBytes: inputBytes + outputBytes,
    };
    if (!part) {
      layer.note = 'unknown layer type: compute not counted (registerLayerCost)';
      unknownLayers.push(name);
    } else {
      const first = n === 1;
      Object.assign(layer, {
        macs: part.macs ?? 0, encodeMacs: part.encodeMacs ?? 0, lookupAdds: part.lookupAdds ?? 0, comparisons: part.comparisons ?? 0,
        elementOps: part.elementOps ?? 0, workspaceBytes: part.workspaceBytes ?? 0, bitsPerActivation: part.bitsPerActivation ?? null,
        paramBytes: first ? part.paramBytes ?? b.paramBytes : 0, deployBytes: first ? part.deployBytes ?? part.paramBytes ?? b.deployBytes : 0,
        trainingOnlyBytes: first ? part.trainingOnlyBytes ?? 0 : 0,
        bufferBytes: first ? part.bufferBytes ?? b.bufferBytes : 0,
      });
      if (part.lut) layer.lut = part.lut;
      if (part.maddness) layer.maddness = part.maddness;
      if (part.note) layer.note = part.note;
    }
    // BatchNorm right after a conv/linear/LUT layer (its input is that layer's output) folds into it.
    const prev = layers[layers.length - 1];
    if (m instanceof BatchNorm2d && i > 0 && prev && calls[i - 1].output === call.input && ['dense', 'lut', 'maddness'].includes(prev.kind)) {
      layer.foldedInto = prev.name;
      const prevModule = calls[i - 1].module as unknown as { bias?: unknown };
      layer.deployBytes = n === 1 && prevModule.bias === null ? 4 * m.numFeatures : 0;
      layer.note = `folds into ${prev.name || prev.type} at inference`;
    }
    layers.push(layer);
  }

  // Leaves never called and containers with parameters of their own: parameters only.
  for (const [name, m] of model.namedModules()) {
    const isLeaf = m.children().length === 0;
    if (isLeaf ? seenCount.has(m) : ownCount(m.namedParameters()) + ownCount(m.namedBuffers()) === 0) continue;
    const b = base(m, true);
    layers.push({
      name, type: typeName(m), kind: 'other', calls: 0, inputShape: null, outputShape: null, ...empty, ...b,
      note: isLeaf ? 'not called by forward' : 'parameters of a container: their compute is not counted',
    });
    if (!isLeaf) unknownLayers.push(name);
  }

  for (const [i, l] of layers.entries()) layers[i] = ordered(l);

  const sum = (f: (l: LayerCost) => number, pick: (l: LayerCost) => boolean = () => true): number =>
    layers.reduce((a, l) => (pick(l) ? a + f(l) : a), 0);
  const isLut = (l: LayerCost): boolean => l.kind === 'lut' || l.kind === 'maddness';
  let peak = 0;
  let peakLayer: string | null = null;
  for (const l of layers) {
    // Flatten/Identity/Dropout in eval return views: their input and output are one buffer.
    const live = (l.kind === 'shape' ? l.inputBytes : l.inputBytes + l.outputBytes) + l.workspaceBytes;
    if (l.calls > 0 && live > peak) {
      peak = live;
      peakLayer = l.name;
    }
  }
  const macs = sum((l) => l.macs);
  const total: CostTotal = {
    batch,
    inputShape: [...shape],
    outputShape: [...output.shape.slice(1)],
    macs,
    denseMacs: sum((l) => l.macs, (l) => l.kind === 'dense'),
    lutMacs: sum((l) => l.macs, isLut),
    encodeMacs: sum((l) => l.encodeMacs),
    lookupAdds: sum((l) => l.lookupAdds),
    comparisons: sum((l) => l.comparisons),
    elementOps: sum((l) => l.elementOps),
    macsPerBatch: macs * batch,
    params: sum((l) => l.params),
    paramBytes: sum((l) => l.paramBytes),
    denseParamBytes: sum((l) => l.paramBytes, (l) => l.kind === 'dense'),
    lutParamBytes: sum((l) => l.paramBytes, isLut),
    deployBytes: sum((l) => l.deployBytes),
    trainingOnlyBytes: sum((l) => l.trainingOnlyBytes),
    bufferBytes: sum((l) => l.bufferBytes),
    peakActivationBytes: peak,
    peakLayer,
    unknownLayers,
  };
  return { layers, total };
}

/** The same layer with its keys in the documented order (stable JSON). */
function ordered(l: LayerCost): LayerCost {
  const out: LayerCost = {
    name: l.name, type: l.type, kind: l.kind, calls: l.calls, inputShape: l.inputShape, outputShape: l.outputShape,
    macs: l.macs, encodeMacs: l.encodeMacs, lookupAdds: l.lookupAdds, comparisons: l.comparisons, elementOps: l.elementOps,
    params: l.params, paramBytes: l.paramBytes, deployBytes: l.deployBytes, trainingOnlyBytes: l.trainingOnlyBytes, bufferBytes: l.bufferBytes,
    inputBytes: l.inputBytes, outputBytes: l.outputBytes, activationBytes: l.activationBytes, workspaceBytes: l.workspaceBytes,
    bitsPerActivation: l.bitsPerActivation, foldedInto: l.foldedInto,
  };
  if (l.lut) out.lut = l.lut;
  if (l.maddness) out.maddness = l.maddness;
  if (l.note !== undefined) out.note = l.note;
  return out;
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
  const names = [...dense.layers.map((l) => l.name), ...lut.layers.map((l) => l.name).filter((n) => !dense.layers.some((d) => d.name === n))];
  const dByName = new Map(dense.layers.map((l) => [l.name, l]));
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
