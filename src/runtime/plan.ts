// Compiles a graph (the IR, a DAG) into the runtime's op list in run order: each op reads values and writes one, shapes
// per sample, batch norm folded and ReLU fused into producers whose output has one reader. A generic planner: how a
// node runs is its op record's `lower` facet (src/graph/ops/*.ts; context in lower.ts); this file checks the graph,
// follows renames, readers and producers, and asks each node's record. No kernels or memory here: steps.ts turns ops
// into resident buffers and kernel calls, arena.ts places the values.
import { ArgumentError, DTypeError, LutnnError, ShapeError, fmtShape } from '../errors.js';
import { analyzeGraph, type GraphInfo, type NodeInfo } from '../graph/analyze.js';
import { BATCH, fmtDims, perSample, type Dim } from '../graph/dims.js';
import type { Lowering } from '../graph/op.js';
import type { TensorInfo } from '../graph/types.js';
import type { Metric } from '../backend/metric.js';
import type { Tensor } from '../tensor/tensor.js';
import { lutSpecOf, type LutLayerSpec } from './lut-step.js';
import { LOWER_KIT, type LowerCtx } from './lower.js';
import { contiguousStrides, type StridedView } from './plan-transformer.js';
import type { Op, Plan } from './plan-types.js';
import { toBatchFirst } from './plan-layout.js';

export type { Base, Epilogue, Op, Plan, PostAct, Window } from './plan-types.js';

const OP = 'lutnn.load';

/** What the runtime can run today, for the messages that refuse the rest. */
export const RUNTIME_OPS =
  'Conv (groups 1 or depthwise), Linear, LutConv, LutLinear, QConv (groups 1), QLinear, BatchNorm, Relu, Clip, HardSwish, Tanh, Sigmoid, Silu, Add/Sub/Mul/Div (two activations of one shape or broadcast per sample as a row or a column, or an activation and a broadcast constant), Concat, MaxPool, AveragePool, GlobalAveragePool, MatMul, Transpose, Softmax (last axis), LayerNorm, Gelu, ReduceMean, Slice, Split, Gather (embedding rows, constant picks), Cast (int32 to float32), Flatten/Reshape/Squeeze/Unsqueeze, Dropout, Identity';

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
    const low = ni.def.lower;
    const run = low && !('refuse' in low) ? low : null;
    const ints = ni.node.inputs.filter((v, i) => computed(v) && ni.inputs[i]?.dtype !== 'float32');
    if (ints.length > 0 && !run?.ints) {
      throw new DTypeError(`${OP}: ${where(ni)} reads the ${ni.inputs[ni.node.inputs.indexOf(ints[0])]!.dtype} value '${ints[0]}'; the runtime reads integer values only in views, Cast and Gather's indices`);
    }
    const op = ni.node.op;
    if (low && 'refuse' in low) throw new ArgumentError(`${OP}: ${op} '${ni.node.name}' ${low.refuse}`);
    if (!run) throw unsupported(`${where(ni)} is an op the runtime has no step for yet`);
    const ins = ni.node.inputs;
    const data = ins.filter(computed);
    if (data.length === 0) throw unsupported(`${where(ni)} reads no computed value (only initializers)`);
    const reads = run.reads ?? 'x';
    if (reads === 'any') continue; // either operand may be an initializer
    if (reads === 'one') {
      if (data.length !== 1) throw unsupported(`${where(ni)} reads ${data.length} computed values; the runtime gathers rows of a constant table by computed ids, or constant picks of an activation`);
      continue;
    }
    if (reads === 'all') {
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

/** The lowering of a node's record (checkGraph refused the others; this also covers nodes the layout pass made). */
function loweringOf(ni: NodeInfo): Lowering<object> {
  const low = ni.def.lower;
  if (!low || 'refuse' in low) throw unsupported(`${where(ni)} is an op the runtime has no step for yet`);
  return low as Lowering<object>;
}

/** Is node ni's output its input 0 under another name (no op)? */
function isAlias(ni: NodeInfo): boolean {
  const alias = loweringOf(ni).alias;
  return alias === true || (alias !== undefined && alias(ni));
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
  for (const ni of info.nodes) if (isAlias(ni)) alias.set(ni.node.outputs[0], real(ni.node.inputs[0]));
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
  /** `op` takes the place of `old` (which wrote `from`) in the op list. */
  const replace = (old: Op, op: Op, from: string): void => {
    ops[ops.indexOf(old)] = op;
    producer.delete(from);
    producer.set(op.output, op);
  };

  for (const ni of info.nodes) {
    const name = ni.node.name;
    const y = ni.node.outputs[0];
    if (alias.has(y)) continue; // Dropout (eval) and Identity
    const xs = ni.node.inputs.filter(computed).map(real);
    const x = xs[0];
    const out = sampleShape(ni, y, ni.outputs[0].shape);
    const shape = shapes.get(x)!;
    ni.node.outputs.forEach((v, k) => shapes.set(v, k === 0 ? out : sampleShape(ni, v, ni.outputs[k].shape)));
    const run = loweringOf(ni).run;
    if (!run) throw unsupported(`${where(ni)} is an op the runtime has no step for yet`);
    const c: LowerCtx<object> = {
      ni, name, attrs: ni.attrs, xs, x, shape, y, out, base: { name, inShape: shape, outShape: out, inputs: [x], output: y },
      shapes, weights, output, lazy, viewOf, computed, real,
      readerOps: (v) => readerOps.get(v) ?? [],
      weight: (i) => weightOf(weights, ni, i),
      lutSpec: () => lutSpec(ni, weights, luts),
      fusable, emit, extend, replace, k: LOWER_KIT,
    };
    run(c);
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
