// Compiles a chain graph (the IR) into the runtime's flat op list: shapes per sample, batch norm folded, ReLU fused.
// No kernels here: steps.ts turns these ops into resident buffers and kernel calls.
import { ArgumentError, DTypeError, LutnnError, ShapeError, fmtShape } from '../errors.js';
import { analyzeGraph, type GraphInfo, type NodeInfo } from '../graph/analyze.js';
import { BATCH, fmtDims, perSample, type Dim } from '../graph/dims.js';
import type { TensorInfo } from '../graph/types.js';
import type { Metric } from '../backend/metric.js';
import type { Tensor } from '../tensor/tensor.js';
import { lutSpecOf, type LutLayerSpec } from './lut-step.js';

const OP = 'lutnn.load';

/** What the runtime can run today, for the messages that refuse the rest. */
export const CHAIN_OPS = 'Conv, Linear, LutConv, LutLinear, BatchNorm, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten/Reshape, Dropout, Identity';

const SUPPORTED = new Set<string>([
  'Conv', 'Linear', 'LutConv', 'LutLinear', 'BatchNorm', 'Relu', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Reshape', 'Dropout', 'Identity',
]);

/** What runs after a producer, in one pass: y = act(y·scale + shift) per channel (or per column of rows). */
export interface Epilogue {
  scale: Float32Array | null;
  shift: Float32Array | null;
  relu: boolean;
}

/** Geometry of one sample's 2-D window op (conv, LUT conv, pooling). */
export interface Window {
  cin: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  outH: number;
  outW: number;
}

interface Base {
  /** Node name(s) the op came from, joined by '+' where nodes fused (a model's node names are its module paths). */
  name: string;
  /** Per-sample shapes (no batch dim). */
  inShape: number[];
  outShape: number[];
}

export type Op =
  | (Base & { kind: 'conv'; win: Window; cout: number; weight: Float32Array; epi: Epilogue })
  | (Base & { kind: 'linear'; inF: number; outF: number; weight: Float32Array; epi: Epilogue })
  | (Base & { kind: 'lutConv'; win: Window; spec: LutLayerSpec; epi: Epilogue })
  | (Base & { kind: 'lutLinear'; spec: LutLayerSpec; epi: Epilogue })
  | (Base & { kind: 'pool'; mode: 'max' | 'avg'; win: Window })
  | (Base & { kind: 'globalAvgPool' })
  | (Base & { kind: 'affine'; epi: Epilogue })
  | (Base & { kind: 'reshape' });

/** The refusal of a graph that is not a chain of supported ops. */
function notChain(what: string): ArgumentError {
  return new ArgumentError(`${OP}: ${what}; the graph runtime for such graphs is not there yet (lutnn.load runs chain graphs of ${CHAIN_OPS})`);
}

const where = (ni: NodeInfo): string => `node '${ni.node.name}' (${ni.node.op})`;

/** `info` re-analysed for inputs [N, ...inputShape] (the shapes of every value follow). */
function withInputShape(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, inputShape: readonly number[]): GraphInfo {
  const inits = new Map<string, TensorInfo>();
  for (const [k, t] of weights) inits.set(k, { shape: t.shape, dtype: t.dtype as TensorInfo['dtype'] });
  const [inp] = info.graph.inputs;
  const graph = { ...info.graph, inputs: [{ ...inp, shape: [BATCH, ...inputShape] as Dim[] }] };
  try {
    return analyzeGraph(graph, inits);
  } catch (e) {
    if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`${OP}: inputShape ${fmtShape(inputShape)}: ${e.message}`);
    throw e;
  }
}

/** The per-sample shape of a value [N, ...]; a dim elsewhere that depends on N is refused. */
function sampleShape(ni: NodeInfo | null, name: string, dims: readonly Dim[]): number[] {
  const s = perSample(dims);
  if (!s) {
    const who = ni ? `${where(ni)}: output '${name}'` : `graph input '${name}'`;
    throw new ShapeError(`${OP}: ${who} is ${fmtDims(dims)}; the runtime runs values [N, ...] whose other dims do not depend on the batch N`);
  }
  return s;
}

/** The weight named by input `i` of a node (null for an absent optional input). */
function weightOf(weights: ReadonlyMap<string, Tensor>, ni: NodeInfo, i: number): Tensor | null {
  const v = ni.node.inputs[i];
  if (v === undefined || v === '') return null;
  const t = weights.get(v);
  if (!t) throw new ArgumentError(`${OP}: ${where(ni)} reads '${v}', which is not among the model's weights`);
  return t;
}

function need4d(ni: NodeInfo, shape: number[]): void {
  if (shape.length !== 3) throw new ShapeError(`${OP}: ${ni.node.op} '${ni.node.name}' expects [N, C, H, W] input, got [N,${shape.join(',')}]`);
}

function window(shape: number[], out: number[], k: readonly number[], s: readonly number[], p: readonly number[], d: readonly number[]): Window {
  const [cin, h, w] = shape;
  return { cin, h, w, kh: k[0], kw: k[1], sh: s[0], sw: s[1], ph: p[0], pw: p[1], dh: d[0], dw: d[1], outH: out[1], outW: out[2] };
}

/** The epilogue of the last op if another per-channel affine map or ReLU may still fuse into it. */
function openEpilogue(ops: Op[]): Epilogue | null {
  const last = ops[ops.length - 1];
  if (!last || !('epi' in last)) return null;
  return last.epi.relu ? null : last.epi;
}

/** Folds y·s + t (per channel) into an epilogue: scale' = scale·s, shift' = shift·s + t, in float64. */
function composeAffine(epi: Epilogue, s: Float64Array, t: Float64Array): void {
  const C = s.length;
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    scale[c] = (epi.scale ? epi.scale[c] : 1) * s[c];
    shift[c] = (epi.shift ? epi.shift[c] : 0) * s[c] + t[c];
  }
  epi.scale = scale;
  epi.shift = shift;
}

/**
 * Batch norm (eval): y = x·s + t with s = γ/√(var + ε), t = β − mean·s (γ = 1, β = 0 when absent). Folded into the
 * weights of a preceding dense conv (w·s, b·s + t), into the epilogue of a preceding LUT conv, or run as its own affine op.
 */
function batchNorm(ops: Op[], ni: NodeInfo, weights: ReadonlyMap<string, Tensor>, shape: number[]): void {
  need4d(ni, shape);
  const name = ni.node.name;
  const C = shape[0];
  const eps = ni.attrs.eps as number;
  const s = new Float64Array(C);
  const t = new Float64Array(C);
  const [g, b] = [weightOf(weights, ni, 1)?.f32 ?? null, weightOf(weights, ni, 2)?.f32 ?? null];
  const [mean, v] = [weightOf(weights, ni, 3)!.f32, weightOf(weights, ni, 4)!.f32];
  for (let c = 0; c < C; c++) {
    s[c] = (g ? g[c] : 1) / Math.sqrt(v[c] + eps);
    t[c] = (b ? b[c] : 0) - mean[c] * s[c];
  }
  const last = ops[ops.length - 1];
  const epi = openEpilogue(ops);
  if (last && epi && last.kind === 'conv' && !epi.scale) {
    const kc = last.weight.length / last.cout;
    for (let co = 0; co < last.cout; co++) for (let i = co * kc; i < (co + 1) * kc; i++) last.weight[i] = last.weight[i] * s[co];
    const shift = new Float32Array(C);
    for (let co = 0; co < C; co++) shift[co] = (epi.shift ? epi.shift[co] : 0) * s[co] + t[co];
    epi.shift = shift;
    last.name += `+${name}`;
    return;
  }
  if (last && epi && (last.kind === 'lutConv' || last.kind === 'affine')) {
    composeAffine(epi, s, t);
    last.name += `+${name}`;
    return;
  }
  const own: Epilogue = { scale: null, shift: null, relu: false };
  composeAffine(own, s, t);
  ops.push({ kind: 'affine', name, inShape: shape, outShape: shape, epi: own });
}

/** The LUT spec of a LutLinear / LutConv node (int8 tables only). */
function lutSpec(ni: NodeInfo, weights: ReadonlyMap<string, Tensor>): LutLayerSpec {
  if (!ni.attrs.quantize) {
    throw new ArgumentError(`${OP}: ${ni.node.op} '${ni.node.name}' has quantize = false (float table); the runtime runs int8 tables only`);
  }
  return lutSpecOf({ centroids: weightOf(weights, ni, 1)!, weight: weightOf(weights, ni, 2)!, bias: weightOf(weights, ni, 3), metric: ni.attrs.metric as Metric });
}

/**
 * Checks that `info` is a chain: one float32 input [N, ...], one output, every node a supported op reading exactly
 * one computed value (the previous node's output; the rest are initializers), which no other node reads.
 */
function checkChain(info: GraphInfo, weights: ReadonlyMap<string, Tensor>): void {
  const g = info.graph;
  if (g.inputs.length !== 1) throw notChain(`the graph has ${g.inputs.length} inputs (${g.inputs.map((i) => `'${i.name}'`).join(', ')})`);
  if (g.outputs.length !== 1) throw notChain(`the graph has ${g.outputs.length} outputs (${g.outputs.map((o) => `'${o}'`).join(', ')})`);
  const inp = g.inputs[0];
  if (inp.dtype !== 'float32') throw new DTypeError(`${OP}: graph input '${inp.name}' is ${inp.dtype}; the runtime takes float32 inputs`);
  const computed = (v: string): boolean => v !== '' && !weights.has(v);
  for (const ni of info.nodes) {
    const data = ni.node.inputs.filter(computed);
    if (data.length > 1) throw notChain(`${where(ni)} joins ${data.length} computed values (${data.map((v) => `'${v}'`).join(', ')})`);
    if (ni.node.op === 'MaddnessLinear' || ni.node.op === 'MaddnessConv') {
      throw new ArgumentError(`${OP}: ${ni.node.op} '${ni.node.name}' is a MADDNESS layer; the runtime runs dense and LUT-NN layers only`);
    }
    if (!SUPPORTED.has(ni.node.op)) throw notChain(`${where(ni)} is an op the runtime has no step for`);
    if (data.length === 0) throw notChain(`${where(ni)} reads no computed value (only initializers)`);
    if (!computed(ni.node.inputs[0])) throw notChain(`${where(ni)} reads the computed value '${data[0]}' in place of its data input x`);
  }
  let cur = inp.name;
  for (const ni of info.nodes) {
    const x = ni.node.inputs[0];
    if (x !== cur) throw notChain(`${where(ni)} reads '${x}', not '${cur}' (the output of the node before it)`);
    const readers = info.consumers.get(cur) ?? [];
    const producer = info.producer.get(cur);
    const who = producer ? `${where(producer)}: its output '${cur}'` : `graph input '${cur}'`;
    if (readers.length > 1) throw notChain(`${who} is read by ${readers.length} nodes (${readers.map((r) => `'${r.node.name}'`).join(', ')})`);
    if (g.outputs[0] === cur) throw notChain(`${who} is both the graph output and read by node '${ni.node.name}'`);
    cur = ni.node.outputs[0];
  }
  if (g.outputs[0] !== cur) throw notChain(`the graph output '${g.outputs[0]}' is not the output of the last node`);
}

/**
 * The ops of a chain graph (eval semantics) for samples of shape `inputShape` (no batch dim): `info` as analysed
 * (with `weights`, its initializers by name), re-analysed when `inputShape` differs from its input's. Throws
 * ArgumentError naming the node for graphs the runtime cannot run (joins, fan-out, other ops), ShapeError for shapes.
 */
export function planOps(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, inputShape: readonly number[]): Op[] {
  checkChain(info, weights);
  const inp = info.graph.inputs[0];
  const own = perSample(inp.shape);
  if (!own || own.length !== inputShape.length || own.some((d, i) => d !== inputShape[i])) info = withInputShape(info, weights, inputShape);
  const ops: Op[] = [];
  let shape = sampleShape(null, inp.name, info.values.get(inp.name)!.shape);
  for (const ni of info.nodes) {
    const name = ni.node.name;
    const a = ni.attrs;
    const out = sampleShape(ni, ni.node.outputs[0], ni.outputs[0].shape);
    switch (ni.node.op) {
      case 'Dropout':
      case 'Identity':
        break; // eval mode: identity
      case 'Conv': {
        if (a.groups !== 1) throw new ArgumentError(`${OP}: Conv '${name}' has groups = ${String(a.groups)}; the runtime runs groups = 1 only`);
        const w = weightOf(weights, ni, 1)!;
        const [cout, , kh, kw] = w.shape;
        const win = window(shape, out, [kh, kw], a.stride as number[], a.padding as number[], a.dilation as number[]);
        const bias = weightOf(weights, ni, 2);
        ops.push({
          kind: 'conv', name, inShape: shape, outShape: out, win, cout, weight: Float32Array.from(w.f32),
          epi: { scale: null, shift: bias ? Float32Array.from(bias.f32) : null, relu: false },
        });
        break;
      }
      case 'LutConv': {
        const win = window(shape, out, a.kernel as number[], a.stride as number[], a.padding as number[], a.dilation as number[]);
        ops.push({ kind: 'lutConv', name, inShape: shape, outShape: out, win, spec: lutSpec(ni, weights), epi: { scale: null, shift: null, relu: false } });
        break;
      }
      case 'Linear':
      case 'LutLinear': {
        const inF = shape[shape.length - 1]; // the layer's in features (the analysis checked them)
        if (shape.length !== 1) {
          throw new ShapeError(`${OP}: ${ni.node.op} '${name}' expects [N, ${inF}] input (flatten first), got [N,${shape.join(',')}]`);
        }
        if (ni.node.op === 'Linear') {
          const w = weightOf(weights, ni, 1)!;
          const bias = weightOf(weights, ni, 2);
          ops.push({
            kind: 'linear', name, inShape: shape, outShape: out, inF, outF: out[0], weight: Float32Array.from(w.f32),
            epi: { scale: null, shift: bias ? Float32Array.from(bias.f32) : null, relu: false },
          });
        } else {
          ops.push({ kind: 'lutLinear', name, inShape: shape, outShape: out, spec: lutSpec(ni, weights), epi: { scale: null, shift: null, relu: false } });
        }
        break;
      }
      case 'BatchNorm':
        batchNorm(ops, ni, weights, shape);
        break;
      case 'Relu': {
        const epi = openEpilogue(ops);
        if (epi) {
          epi.relu = true;
          ops[ops.length - 1].name += `+${name}`;
        } else {
          ops.push({ kind: 'affine', name, inShape: shape, outShape: shape, epi: { scale: null, shift: null, relu: true } });
        }
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        need4d(ni, shape);
        const win = window(shape, out, a.kernel as number[], a.stride as number[], a.padding as number[], [1, 1]);
        ops.push({ kind: 'pool', mode: ni.node.op === 'MaxPool' ? 'max' : 'avg', name, inShape: shape, outShape: out, win });
        break;
      }
      case 'GlobalAveragePool':
        // [C] (or [C, 1, 1] with keepdims: the same floats).
        ops.push({ kind: 'globalAvgPool', name, inShape: shape, outShape: out });
        break;
      case 'Flatten':
      case 'Reshape':
        // Both dim 0s are N (sampleShape): a per-sample view, no data moves.
        ops.push({ kind: 'reshape', name, inShape: shape, outShape: out });
        break;
      default:
        throw notChain(`${where(ni)} is an op the runtime has no step for`);
    }
    shape = out;
  }
  if (ops.length === 0) throw new ArgumentError(`${OP}: the model has no layer to run`);
  return ops;
}

/** A one-line description per op (for summaries and error messages). */
export function describeOps(ops: readonly Op[]): string[] {
  return ops.map((o) => `${o.kind} ${o.name}: ${fmtShape(o.inShape)} → ${fmtShape(o.outShape)}`);
}
