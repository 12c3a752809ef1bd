// Compiles a graph (the IR, a DAG) into the runtime's op list in run order: each op reads values and writes one, shapes
// per sample, batch norm folded and ReLU fused into producers whose output has one reader. No kernels or memory here:
// steps.ts turns ops into resident buffers and kernel calls, arena.ts places the values.
import { ArgumentError, DTypeError, LutnnError, ShapeError, fmtShape } from '../errors.js';
import { analyzeGraph, type GraphInfo, type NodeInfo } from '../graph/analyze.js';
import { BATCH, fmtDims, perSample, type Dim } from '../graph/dims.js';
import type { TensorInfo } from '../graph/types.js';
import type { Metric } from '../backend/metric.js';
import type { Tensor } from '../tensor/tensor.js';
import { batchNormAffine, foldAffineIntoConv } from '../graph/bn-fold.js';
import { lutSpecOf, type LutLayerSpec } from './lut-step.js';
import { constBinary, contiguousStrides, copyPlan, matmulPlan, meanBlocks, transposeView, type CopyPlan, type MatmulPlan, type OperandSource, type StridedView } from './plan-transformer.js';
import type { BinaryOp } from './transformer-kernels-ref.js';
import { EXTRA_OPS, broadcastBinary, lowerExtra, type PostAct } from './plan-extra.js';
import { toBatchFirst } from './plan-layout.js';
import type { UnaryKind } from './heap-kernels.js';

const OP = 'lutnn.load';

/** What the runtime can run today, for the messages that refuse the rest. */
export const RUNTIME_OPS =
  'Conv (groups 1 or depthwise), Linear, LutConv, LutLinear, BatchNorm, Relu, Clip, HardSwish, Tanh, Sigmoid, Silu, Add/Sub/Mul/Div (two activations of one shape or broadcast per sample as a row or a column, or an activation and a broadcast constant), Concat, MaxPool, AveragePool, GlobalAveragePool, MatMul, Transpose, Softmax (last axis), LayerNorm, Gelu, ReduceMean, Slice, Split, Gather (embedding rows, constant picks), Cast (int32 to float32), Flatten/Reshape/Squeeze/Unsqueeze, Dropout, Identity';

const SUPPORTED = new Set<string>([
  'Conv', 'Linear', 'LutConv', 'LutLinear', 'BatchNorm', 'Relu', 'Add', 'Sub', 'Mul', 'Div', 'Concat', 'MaxPool', 'AveragePool', 'GlobalAveragePool',
  'MatMul', 'Transpose', 'Softmax', 'LayerNorm', 'Gelu', 'ReduceMean', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Dropout', 'Identity', ...EXTRA_OPS,
]);

/** Ops that may read int32 values (token ids): views, renames, Cast and Gather's indices. */
const INT_READERS = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Dropout', 'Identity', 'Cast', 'Gather']);

/** Ops with two operands, either of which may be an activation or an initializer. */
const BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'MatMul']);

/** Ops whose output is input 0's floats under another shape: a view, no step. */
const VIEWS = new Set(['Flatten', 'Reshape', 'Squeeze', 'Unsqueeze']);

/** What runs after a producer, in one pass: y = act(y·scale + shift) per channel (or per column of rows). */
export interface Epilogue {
  scale: Float32Array | null;
  shift: Float32Array | null;
  relu: boolean;
}

/** An activation run after the epilogue, in the same step (HardSwish, Clip, ...): see plan-extra.ts. */
type Post = { post?: PostAct | null };

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
  /** Per-sample shapes (no batch dim): of input 0 and of the output. */
  inShape: number[];
  outShape: number[];
  /** Values read (computed values: the graph input or earlier ops' outputs; input 0 is the data input) and written. */
  inputs: string[];
  output: string;
}

export type Op =
  /** Dense conv: groups 1 (im2col + GEMM), or depthwise (groups = cin, cout = cin·mult; the direct kernel). */
  | (Base & Post & { kind: 'conv'; win: Window; cout: number; depthwise: boolean; weight: Float32Array; epi: Epilogue })
  /** y [rows, outF] = x [rows, inF]·weightᵀ per sample (rows = the product of the leading dims, 1 for [N, inF]). */
  | (Base & Post & { kind: 'linear'; rows: number; inF: number; outF: number; weight: Float32Array; epi: Epilogue })
  | (Base & Post & { kind: 'lutConv'; win: Window; spec: LutLayerSpec; epi: Epilogue })
  /** LUT Linear on `rows` rows of C·V per sample ([N, D] or [N, T, D]: rows = T). */
  | (Base & Post & { kind: 'lutLinear'; rows: number; spec: LutLayerSpec; epi: Epilogue })
  /** Batched matrix products of activations (and constants), operands read through strides (transposes without copies). */
  | (Base & { kind: 'matmul'; mm: MatmulPlan; srcs: [OperandSource, OperandSource] })
  /** A transpose made contiguous (a strided copy of input 0's floats). */
  | (Base & { kind: 'permute'; copy: CopyPlan })
  /** Softmax over the last axis (rows of `cols`), with a fused scalar pre-scale (a Mul by a constant before it). */
  | (Base & { kind: 'softmax'; cols: number; scale: number | null })
  /** Layer norm over the last `cols` floats of each sample's rows. */
  | (Base & { kind: 'layerNorm'; cols: number; eps: number; weight: Float32Array | null; bias: Float32Array | null })
  | (Base & { kind: 'gelu'; approximate: 'none' | 'tanh' })
  /**
   * y = a ∘ b elementwise: two activations of one shape ('same'), or an activation [rows, cols] per sample and a constant
   * row of cols ('row') or scalar ('scalar'); op 'rsub'/'rdiv' when the constant is the first operand. Two activations
   * of one sample broadcast (plan-extra.ts broadcastBinary): input 1 is a row of cols over input 0's rows
   * ('sampleRow'), or one value per row of input 0 ('sampleCol'); 'rsub'/'rdiv' when input 1 was the first operand.
   */
  | (Base & { kind: 'binary'; op: BinaryOp; mode: 'same' | 'row' | 'scalar' | 'sampleRow' | 'sampleCol'; rows: number; cols: number; constant: Float32Array | null })
  /** Mean over a block of adjacent per-sample axes: [outer, n, inner] → [outer, inner]. */
  | (Base & { kind: 'reduceMean'; outer: number; n: number; inner: number })
  | (Base & { kind: 'pool'; mode: 'max' | 'avg'; win: Window })
  | (Base & { kind: 'globalAvgPool' })
  | (Base & Post & { kind: 'affine'; epi: Epilogue })
  /** y = act((a + b)·scale + shift): a residual join (same shapes), with a following ReLU (or BN) fused. */
  | (Base & Post & { kind: 'add'; epi: Epilogue })
  /** y = act(x) elementwise for the activations without a wasm kernel (heap-kernels.ts); Clip's bounds lo, hi. */
  | (Base & { kind: 'unary'; act: UnaryKind; lo: number; hi: number })
  /** int32 → float32 (token masks). */
  | (Base & { kind: 'cast' })
  /**
   * Gather of rows: a constant table (`table` [len, inner], outer 1) by per-sample int32 ids (input 0), or per sample
   * from input 0 ([outer, len, inner]) at constant `indices`: count rows per outer block.
   */
  | (Base & { kind: 'gather'; table: Float32Array | null; indices: Int32Array | null; outer: number; len: number; inner: number; count: number })
  /** A strided copy of input 0 from float `offset` on (Slice, one output of Split). */
  | (Base & { kind: 'slice'; copy: CopyPlan; offset: number })
  /** Per sample, `outer` blocks: block i of every input (blocks[i] floats) in input order (concat along an axis > 0). */
  | (Base & { kind: 'concat'; outer: number; blocks: number[] })
  /** A view (Flatten, Reshape, Squeeze, Unsqueeze): the output shares input 0's floats; no data moves. */
  | (Base & { kind: 'reshape' });

/** A compiled graph: ops in run order over named values. */
export interface Plan {
  ops: Op[];
  /** The graph input (the first one; written before the first op) and output (read after the last). */
  input: string;
  output: string;
  /** Every graph input, in the graph's order, with its per-sample shape and dtype (int32: token ids). */
  inputs: { name: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  /**
   * Per int32 input: the smallest table its ids index (Gather reading it through views), for run()'s range check
   * (ids in [−len, len)); absent when no Gather reads it.
   */
  idRange: Map<string, number>;
  /** Per-sample shape of every value an op reads or writes (the graph input included). */
  shapes: Map<string, number[]>;
}

/** The refusal of a graph the runtime has no plan for. */
function unsupported(what: string): ArgumentError {
  return new ArgumentError(`${OP}: ${what} (lutnn.load runs graphs of ${RUNTIME_OPS})`);
}

/** Inputs whose storage an op may overwrite with its output (it reads each element before writing it). */
export function inPlaceInputs(op: Op): number[] {
  switch (op.kind) {
    case 'affine':
    case 'softmax':
    case 'layerNorm':
    case 'gelu':
    case 'unary':
    case 'cast':
      return [0];
    case 'add':
      return [0, 1];
    case 'binary':
      return op.mode === 'same' ? [0, 1] : [0];
    default:
      return [];
  }
}

const where = (ni: NodeInfo): string => `node '${ni.node.name}' (${ni.node.op})`;

/**
 * `info` re-analysed for inputs [N, ...inputShape] (the shapes of every value follow). Initializers keep the infos
 * `info` was analysed with (a deployment file's LUT table stands in a weight slot as [C, V, M]).
 */
function withInputShape(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, inputShape: readonly number[]): GraphInfo {
  const inits = new Map<string, TensorInfo>();
  for (const [k, t] of weights) {
    const v = info.values.get(k);
    inits.set(k, v ? { shape: v.shape as number[], dtype: v.dtype } : { shape: t.shape, dtype: t.dtype as TensorInfo['dtype'] });
  }
  const [inp, ...rest] = info.graph.inputs;
  const graph = { ...info.graph, inputs: [{ ...inp, shape: [BATCH, ...inputShape] as Dim[] }, ...rest] };
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

/** The epilogue of `op` if another per-channel affine map or ReLU may still fuse into it. */
function openEpilogue(op: Op | null): Epilogue | null {
  if (!op || !('epi' in op) || op.post) return null;
  return op.epi.relu ? null : op.epi;
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
 * Batch norm (eval): y = x·s + t with s = γ/√(var + ε), t = β − mean·s (γ = 1, β = 0 when absent), on [N, C, H, W],
 * [N, C, L] or [N, C] (channels are dim 1). Folded into the weights of the dense conv (or, on [N, C], the Linear) that
 * produced x (w·s, b·s + t), into the epilogue of a LUT conv (LUT Linear on [N, C]), affine or add op that did, when x
 * has no other reader (`target`); else run as its own affine op. Returns the op that now ends in the BN.
 */
function batchNorm(target: Op | null, ni: NodeInfo, weights: ReadonlyMap<string, Tensor>, shape: number[], x: string): Op {
  if (shape.length < 1 || shape.length > 3) throw new ShapeError(`${OP}: BatchNorm '${ni.node.name}' expects [N, C], [N, C, L] or [N, C, H, W] input, got [N,${shape.join(',')}]`);
  const name = ni.node.name;
  const [g, b] = [weightOf(weights, ni, 1)?.f32 ?? null, weightOf(weights, ni, 2)?.f32 ?? null];
  const { s, t } = batchNormAffine(g, b, weightOf(weights, ni, 3)!.f32, weightOf(weights, ni, 4)!.f32, ni.attrs.eps as number);
  const epi = openEpilogue(target);
  const planes = shape.length === 3;
  const rows = shape.length === 1;
  if (target && epi && ((planes && target.kind === 'conv') || (rows && target.kind === 'linear' && target.rows === 1)) && !epi.scale) {
    // The deployment writer (src/io/deploy-format.ts) folds the same pairs with the same function: same bytes.
    epi.shift = foldAffineIntoConv(target.weight, target.kind === 'conv' ? target.cout : target.outF, epi.shift, s, t);
    target.name += `+${name}`;
    return target;
  }
  if (target && epi && ((planes && target.kind === 'lutConv') || (rows && target.kind === 'lutLinear' && target.rows === 1) || target.kind === 'affine' || target.kind === 'add')) {
    composeAffine(epi, s, t);
    target.name += `+${name}`;
    return target;
  }
  const own: Epilogue = { scale: null, shift: null, relu: false };
  composeAffine(own, s, t);
  return { kind: 'affine', name, inShape: shape, outShape: shape, inputs: [x], output: '', epi: own };
}

/**
 * The LUT spec of a LutLinear / LutConv node (int8 tables only): given (a deployment file's, by node name), else built
 * from the trained centroids and weight.
 */
function lutSpec(ni: NodeInfo, weights: ReadonlyMap<string, Tensor>, luts: ReadonlyMap<string, LutLayerSpec> | undefined): LutLayerSpec {
  const given = luts?.get(ni.node.name);
  if (given) return given;
  if (!ni.attrs.quantize) {
    throw new ArgumentError(`${OP}: ${ni.node.op} '${ni.node.name}' has quantize = false (float table); the runtime runs int8 tables only`);
  }
  return lutSpecOf({ centroids: weightOf(weights, ni, 1)!, weight: weightOf(weights, ni, 2)!, bias: weightOf(weights, ni, 3), metric: ni.attrs.metric as Metric });
}

/**
 * Checks what the runtime can plan: float32 or int32 inputs [N, ...] and one output; every node a supported op whose
 * computed inputs (not initializers) are where it expects activations: either or both operands of Add/Sub/Mul/Div and
 * MatMul, every input of Concat, the data or the indices of Gather, input 0 (only) of the others; int32 values read
 * only by views, Cast and Gather's indices.
 */
function checkGraph(info: GraphInfo, weights: ReadonlyMap<string, Tensor>): void {
  const g = info.graph;
  if (g.outputs.length !== 1) throw new ArgumentError(`${OP}: the graph has ${g.outputs.length} outputs (${g.outputs.map((o) => `'${o}'`).join(', ')}); the runtime runs graphs of one output`);
  if (g.inputs.length === 0) throw new ArgumentError(`${OP}: the graph has no input`);
  for (const inp of g.inputs) {
    if (inp.dtype !== 'float32' && inp.dtype !== 'int32') throw new DTypeError(`${OP}: graph input '${inp.name}' is ${inp.dtype}; the runtime takes float32 and int32 inputs`);
  }
  const out = info.values.get(g.outputs[0]);
  if (out && out.dtype !== 'float32') throw new DTypeError(`${OP}: the graph output '${g.outputs[0]}' is ${out.dtype}; the runtime gives float32 outputs`);
  const computed = (v: string): boolean => v !== '' && !weights.has(v);
  for (const ni of info.nodes) {
    const ints = ni.node.inputs.filter((v, i) => computed(v) && ni.inputs[i]?.dtype !== 'float32');
    if (ints.length > 0 && !INT_READERS.has(ni.node.op)) {
      throw new DTypeError(`${OP}: ${where(ni)} reads the ${ni.inputs[ni.node.inputs.indexOf(ints[0])]!.dtype} value '${ints[0]}'; the runtime reads integer values only in views, Cast and Gather's indices`);
    }
    const op = ni.node.op;
    if (op === 'MaddnessLinear' || op === 'MaddnessConv') {
      throw new ArgumentError(`${OP}: ${op} '${ni.node.name}' is a MADDNESS layer; the runtime runs dense and LUT-NN layers only`);
    }
    if (!SUPPORTED.has(op)) throw unsupported(`${where(ni)} is an op the runtime has no step for yet`);
    const ins = ni.node.inputs;
    const data = ins.filter(computed);
    if (data.length === 0) throw unsupported(`${where(ni)} reads no computed value (only initializers)`);
    if (BINARY.has(op)) continue; // either operand may be an initializer
    if (op === 'Gather') {
      if (data.length !== 1) throw unsupported(`${where(ni)} reads ${data.length} computed values; the runtime gathers rows of a constant table by computed ids, or constant picks of an activation`);
      continue;
    }
    if (op === 'Concat') {
      const w = ins.find((v) => v !== '' && !computed(v));
      if (w !== undefined) {
        throw unsupported(`${where(ni)} reads the initializer '${w}' as an operand; the runtime's ${op} joins activations only`);
      }
    } else {
      if (data.length > 1) throw unsupported(`${where(ni)} reads ${data.length} computed values (${data.map((v) => `'${v}'`).join(', ')}); it takes one activation, input 0`);
      if (!computed(ins[0])) throw unsupported(`${where(ni)} reads the computed value '${data[0]}' in place of its data input x`);
    }
  }
}

/** Per-sample floats of every value in `plan` (for the arena). */
export function valueFloats(plan: Plan): Map<string, number> {
  return new Map([...plan.shapes].map(([v, s]) => [v, s.reduce((a, b) => a * b, 1)]));
}

/**
 * The plan of a graph (eval semantics) for samples of shape `inputShape` (no batch dim): `info` as analysed (with
 * `weights`, its initializers by name), re-analysed when `inputShape` differs from its input's. Ops come in the graph's
 * topological order; Dropout and Identity vanish (their output is their input), views become 'reshape' ops. BatchNorm
 * and Relu fuse into the op producing their input when nothing else reads that value (and it is not the graph output).
 * Attention: a Transpose read only by MatMuls becomes a strided view (no op; the MatMuls read through it), one that
 * alone reads a MatMul's output is written by that MatMul, any other is copied ('permute'); a Mul by a scalar constant
 * whose only reader is a Softmax becomes the softmax's pre-scale; MatMul by a constant matrix runs as a Linear.
 * LUT nodes take their spec from `luts` (by node name) when it has one, else build it from centroids and weight.
 * Throws ArgumentError naming the node for graphs the runtime cannot run (ops without a step, several inputs or
 * outputs), ShapeError for shapes.
 */
export function planGraph(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, inputShape: readonly number[], luts?: ReadonlyMap<string, LutLayerSpec>): Plan {
  checkGraph(info, weights);
  const inp = info.graph.inputs[0];
  const own = perSample(inp.shape);
  if (!own || own.length !== inputShape.length || own.some((d, i) => d !== inputShape[i])) info = withInputShape(info, weights, inputShape);
  // Values whose batch N is not dim 0 (PyTorch's [T, N, D] attention): stored N-first, the graph rewritten around them.
  info = toBatchFirst(info, weights);
  const computed = (v: string): boolean => v !== '' && !weights.has(v);
  // Dropout / Identity / same-dtype Cast outputs are their inputs; `real` follows such renames.
  const alias = new Map<string, string>();
  const real = (v: string): string => alias.get(v) ?? v;
  const rename = (ni: NodeInfo): boolean => ni.node.op === 'Dropout' || ni.node.op === 'Identity' || (ni.node.op === 'Cast' && ni.inputs[0]?.dtype === ni.outputs[0].dtype);
  for (const ni of info.nodes) if (rename(ni)) alias.set(ni.node.outputs[0], real(ni.node.inputs[0]));
  const output = real(info.graph.outputs[0]);
  // Nodes reading each value (after the renames), and their op types.
  const readers = new Map<string, number>();
  const readerOps = new Map<string, string[]>();
  for (const ni of info.nodes) {
    if (alias.has(ni.node.outputs[0])) continue;
    for (const v of new Set(ni.node.inputs.filter(computed).map(real))) {
      readers.set(v, (readers.get(v) ?? 0) + 1);
      readerOps.set(v, [...(readerOps.get(v) ?? []), ni.node.op]);
    }
  }
  /** Transposes not materialized: values read through strides by the MatMuls that are their only readers. */
  const lazy = new Map<string, StridedView>();
  /** A value as stored (contiguous) or as a lazy view of a stored one. */
  const viewOf = (v: string): StridedView => lazy.get(v) ?? { src: v, shape: shapes.get(v)!, strides: contiguousStrides(shapes.get(v)!) };

  const shapes = new Map<string, number[]>(info.graph.inputs.map((i) => [i.name, sampleShape(null, i.name, info.values.get(i.name)!.shape)]));
  const ops: Op[] = [];
  /** The op that writes each value. */
  const producer = new Map<string, Op>();
  /** The op that produced `x` if a node reading `x` may fuse into it: its only reader, not the graph output. */
  const fusable = (x: string): Op | null => (readers.get(x) === 1 && x !== output ? producer.get(x) ?? null : null);
  const emit = (op: Op): void => {
    ops.push(op);
    producer.set(op.output, op);
  };
  /** `op` (which wrote `from`) now ends in node `ni`: it writes ni's output. */
  const extend = (op: Op, from: string, to: string): void => {
    producer.delete(from);
    op.output = to;
    producer.set(to, op);
  };

  for (const ni of info.nodes) {
    const name = ni.node.name;
    const a = ni.attrs;
    const y = ni.node.outputs[0];
    if (alias.has(y)) continue; // Dropout (eval) and Identity
    const xs = ni.node.inputs.filter(computed).map(real);
    const x = xs[0];
    const out = sampleShape(ni, y, ni.outputs[0].shape);
    const shape = shapes.get(x)!;
    ni.node.outputs.forEach((v, k) => shapes.set(v, k === 0 ? out : sampleShape(ni, v, ni.outputs[k].shape)));
    const base = { name, inShape: shape, outShape: out, inputs: [x], output: y };
    switch (ni.node.op) {
      case 'Conv': {
        need4d(ni, shape);
        const w = weightOf(weights, ni, 1)!;
        const [cout, , kh, kw] = w.shape;
        const depthwise = a.groups !== 1 && a.groups === shape[0] && cout % shape[0] === 0;
        if (a.groups !== 1 && !depthwise) throw new ArgumentError(`${OP}: Conv '${name}' has groups = ${String(a.groups)} for ${shape[0]} input channels; the runtime runs groups = 1 and depthwise convs (groups = input channels)`);
        const win = window(shape, out, [kh, kw], a.stride as number[], a.padding as number[], a.dilation as number[]);
        const bias = weightOf(weights, ni, 2);
        emit({ ...base, kind: 'conv', win, cout, depthwise, weight: Float32Array.from(w.f32), epi: { scale: null, shift: bias ? Float32Array.from(bias.f32) : null, relu: false } });
        break;
      }
      case 'LutConv': {
        need4d(ni, shape);
        const win = window(shape, out, a.kernel as number[], a.stride as number[], a.padding as number[], a.dilation as number[]);
        emit({ ...base, kind: 'lutConv', win, spec: lutSpec(ni, weights, luts), epi: { scale: null, shift: null, relu: false } });
        break;
      }
      case 'Linear':
      case 'LutLinear': {
        // [N, ..., inF] → [N, ..., outF]: the rows of every sample (the analysis checked the in features).
        const inF = shape[shape.length - 1];
        const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
        if (ni.node.op === 'Linear') {
          const w = weightOf(weights, ni, 1)!;
          const bias = weightOf(weights, ni, 2);
          emit({
            ...base, kind: 'linear', rows, inF, outF: out[out.length - 1], weight: Float32Array.from(w.f32),
            epi: { scale: null, shift: bias ? Float32Array.from(bias.f32) : null, relu: false },
          });
        } else {
          emit({ ...base, kind: 'lutLinear', rows, spec: lutSpec(ni, weights, luts), epi: { scale: null, shift: null, relu: false } });
        }
        break;
      }
      case 'BatchNorm': {
        const target = fusable(x);
        const op = batchNorm(target, ni, weights, shape, x);
        if (op === target) extend(op, x, y);
        else emit({ ...op, output: y });
        break;
      }
      case 'Relu': {
        const target = fusable(x);
        const epi = openEpilogue(target);
        if (target && epi) {
          epi.relu = true;
          target.name += `+${name}`;
          extend(target, x, y);
        } else {
          emit({ ...base, kind: 'affine', epi: { scale: null, shift: null, relu: true } });
        }
        break;
      }
      case 'Add':
      case 'Sub':
      case 'Mul':
      case 'Div': {
        const opType = ni.node.op;
        const [i0, i1] = ni.node.inputs;
        if (computed(i0) && computed(i1)) {
          const b = real(i1); // x + x lists x twice
          const bs = shapes.get(b)!;
          if (bs.length !== shape.length || bs.some((d, i) => d !== shape[i])) {
            emit({ ...broadcastBinary(name, opType, { v: x, shape }, { v: b, shape: bs }, out), output: y });
            break;
          }
          if (opType === 'Add') emit({ ...base, kind: 'add', inputs: [x, b], epi: { scale: null, shift: null, relu: false } });
          else emit({ ...base, kind: 'binary', inputs: [x, b], op: opType.toLowerCase() as BinaryOp, mode: 'same', rows: 1, cols: shape.reduce((p, d) => p * d, 1), constant: null });
          break;
        }
        const reversed = !computed(i0);
        const c = weights.get(reversed ? i0 : i1)!;
        if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
          throw new ShapeError(`${OP}: ${opType} '${name}': the constant ${fmtShape(c.shape)} broadcasts the activation [N,${shape.join(',')}] to [N,${out.join(',')}]; the runtime keeps the activation's shape`);
        }
        const cb = constBinary(name, opType, shape, { shape: c.shape, data: c.f32 }, reversed);
        emit({ ...base, kind: 'binary', op: cb.op, mode: cb.mode, rows: cb.rows, cols: cb.cols, constant: cb.constant });
        break;
      }
      case 'MatMul': {
        const target = ni.node.inputs.map((v) => (computed(v) ? real(v) : v));
        // A [N, ..., k] activation times a constant matrix [k, n], read contiguously: a Linear without bias.
        const wb = weights.get(target[1]);
        if (computed(target[0]) && !lazy.has(target[0]) && wb && wb.shape.length === 2) {
          const [k, n] = wb.shape;
          const wt = new Float32Array(k * n); // [n, k]
          for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) wt[j * k + i] = wb.f32[i * n + j];
          const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
          emit({ ...base, kind: 'linear', rows, inF: k, outF: n, weight: wt, epi: { scale: null, shift: null, relu: false } });
          break;
        }
        const inputs: string[] = [];
        const src = (v: string): OperandSource => {
          const w = weights.get(v);
          if (w) return { shape: [...w.shape], strides: contiguousStrides(w.shape), input: -1, sampleFloats: 0, weight: Float32Array.from(w.f32) };
          const view = viewOf(v);
          if (!inputs.includes(view.src)) inputs.push(view.src);
          const stored = shapes.get(view.src)!.reduce((p, d) => p * d, 1);
          return { shape: view.shape, strides: view.strides, input: inputs.indexOf(view.src), sampleFloats: stored, weight: null };
        };
        const [sa, sb] = [src(target[0]), src(target[1])];
        const mm = matmulPlan(name, sa, sb, out, contiguousStrides(out));
        emit({ ...base, inShape: shapes.get(inputs[0])!, inputs, kind: 'matmul', mm, srcs: [sa, sb] });
        break;
      }
      case 'Transpose': {
        const xv = viewOf(x);
        const view = transposeView(name, xv.src, xv.shape, xv.strides, a.perm as number[]);
        const target = lazy.has(x) ? null : fusable(x);
        if (target && target.kind === 'matmul') {
          // The product writes the transposed layout itself: C's strides are those of the view of y's layout.
          const yStrides = contiguousStrides(out);
          const perm = (a.perm as number[]).slice(1).map((d) => d - 1);
          const cStrides = new Array<number>(out.length);
          perm.forEach((d, i) => (cStrides[d] = yStrides[i]));
          if (cStrides[cStrides.length - 1] === 1) {
            target.mm = matmulPlan(target.name, target.srcs[0], target.srcs[1], shapes.get(x)!, cStrides);
            target.name += `+${name}`;
            target.outShape = out;
            extend(target, x, y);
            break;
          }
        }
        const ro = readerOps.get(y) ?? [];
        if (y !== output && ro.length > 0 && ro.every((t) => t === 'MatMul')) {
          lazy.set(y, view);
          break;
        }
        emit({ ...base, inShape: shapes.get(view.src)!, inputs: [view.src], kind: 'permute', copy: copyPlan(name, view) });
        break;
      }
      case 'Softmax': {
        const axis = (a.axis as number) < 0 ? (a.axis as number) + shape.length + 1 : (a.axis as number);
        if (axis !== shape.length) throw new ArgumentError(`${OP}: Softmax '${name}' is along axis ${String(a.axis)} of [N,${shape.join(',')}]; the runtime runs softmax along the last axis`);
        const cols = shape[shape.length - 1];
        // A Mul by a scalar constant just before (attention's 1/√d) runs as the softmax's pre-scale.
        const t = fusable(x);
        if (t && t.kind === 'binary' && t.mode === 'scalar' && t.op === 'mul') {
          const fused: Op = { ...t, kind: 'softmax', name: `${t.name}+${name}`, outShape: out, output: y, cols, scale: t.constant![0] };
          ops[ops.indexOf(t)] = fused;
          producer.delete(x);
          producer.set(y, fused);
          break;
        }
        emit({ ...base, kind: 'softmax', cols, scale: null });
        break;
      }
      case 'LayerNorm': {
        const axis = (a.axis as number) < 0 ? (a.axis as number) + shape.length + 1 : (a.axis as number);
        const cols = shape.slice(axis - 1).reduce((p, d) => p * d, 1);
        const w = weightOf(weights, ni, 1);
        const bias = weightOf(weights, ni, 2);
        emit({ ...base, kind: 'layerNorm', cols, eps: a.eps as number, weight: w ? Float32Array.from(w.f32) : null, bias: bias ? Float32Array.from(bias.f32) : null });
        break;
      }
      case 'Gelu':
        emit({ ...base, kind: 'gelu', approximate: a.approximate as 'none' | 'tanh' });
        break;
      case 'ReduceMean': {
        const axes = (a.axes as number[]).map((ax) => (ax < 0 ? ax + shape.length + 1 : ax) - 1);
        if (axes.includes(-1)) throw new ArgumentError(`${OP}: ReduceMean '${name}' reduces over the batch dim; the runtime keeps [N, ...]`);
        emit({ ...base, kind: 'reduceMean', ...meanBlocks(name, shape, axes) });
        break;
      }
      case 'Concat': {
        // Along axis ≥ 1: one along the batch axis gives [k*N, ...], which sampleShape refused above.
        const rank = shape.length + 1;
        const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
        const all = ni.node.inputs.map(real); // every input, in order (one value may come twice)
        const prod = (s: number[]): number => s.reduce((p, d) => p * d, 1);
        const outer = prod(out.slice(0, axis - 1));
        emit({ ...base, kind: 'concat', inputs: all, outer, blocks: all.map((v) => prod(shapes.get(v)!.slice(axis - 1))) });
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        need4d(ni, shape);
        const win = window(shape, out, a.kernel as number[], a.stride as number[], a.padding as number[], [1, 1]);
        emit({ ...base, kind: 'pool', mode: ni.node.op === 'MaxPool' ? 'max' : 'avg', win });
        break;
      }
      case 'GlobalAveragePool':
        // [C] (or [C, 1, 1] with keepdims: the same floats).
        need4d(ni, shape);
        emit({ ...base, kind: 'globalAvgPool' });
        break;
      default:
        if ((EXTRA_OPS as readonly string[]).includes(ni.node.op)) {
          lowerExtra({ ni, xs, shapes, weights, computed, fusable, emit, extend });
          break;
        }
        if (!VIEWS.has(ni.node.op)) throw unsupported(`${where(ni)} is an op the runtime has no step for yet`);
        // Flatten, Reshape, Squeeze, Unsqueeze: both dim 0s are N (sampleShape), a per-sample view; no data moves.
        emit({ ...base, kind: 'reshape' });
    }
  }
  if (ops.length === 0) throw new ArgumentError(`${OP}: the model has no layer to run`);
  // Only the values the ops read or write (fused intermediates are gone); every graph input is written by run().
  const used = new Map<string, number[]>(info.graph.inputs.map((i) => [i.name, shapes.get(i.name)!]));
  for (const op of ops) for (const v of [...op.inputs, op.output]) used.set(v, shapes.get(v)!);
  if (!used.has(output)) throw new ArgumentError(`${OP}: the graph output '${output}' is written by no op`);
  // The tables each int32 input indexes (through views): run() checks ids against the smallest.
  const origin = new Map<string, string>(info.graph.inputs.map((i) => [i.name, i.name]));
  const idRange = new Map<string, number>();
  for (const op of ops) {
    if (op.kind === 'reshape' && origin.has(op.inputs[0])) origin.set(op.output, origin.get(op.inputs[0])!);
    if (op.kind === 'gather' && op.table) {
      const src = origin.get(op.inputs[0]);
      if (src === undefined) throw unsupported(`Gather '${op.name}' reads ids computed from '${op.inputs[0]}'; the runtime looks up ids given as a graph input`);
      idRange.set(src, Math.min(idRange.get(src) ?? Infinity, op.len));
    }
  }
  const inputs = info.graph.inputs.map((i) => ({ name: i.name, shape: shapes.get(i.name)!, dtype: i.dtype as 'float32' | 'int32' }));
  return { ops, input: inp.name, output, shapes: used, inputs, idRange };
}

/** The ops of planGraph (a dry run tells whether the runtime runs a graph). */
export function planOps(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, inputShape: readonly number[], luts?: ReadonlyMap<string, LutLayerSpec>): Op[] {
  return planGraph(info, weights, inputShape, luts).ops;
}
