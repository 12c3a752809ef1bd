// What an op record's `lower` facet works with (src/graph/op.ts, Lowering): the planner's state for one node
// (LowerCtx, made by src/runtime/plan.ts) and the runtime's plan builders (the kit, handed in as `c.k`, as the engine
// forward gets `ops`), so the records in src/graph import the runtime's types only, never its code.
import { ShapeError } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import type { Attrs } from '../graph/types.js';
import type { Tensor } from '../tensor/tensor.js';
import type { LutLayerSpec } from './lut-step.js';
import type { Base, Epilogue, Op, Window } from './plan-types.js';
import { constBinary, contiguousStrides, copyPlan, matmulPlan, meanBlocks, transposeView, type StridedView } from './plan-transformer.js';
import type { BinaryOp } from './transformer-kernels-ref.js';

const OP = 'lutnn.load';

/** The planner's state for one node, as its record's lowering sees it. Output shapes are already in `shapes`. */
export interface LowerCtx<A extends object = Attrs> {
  readonly ni: NodeInfo;
  readonly name: string;
  readonly attrs: A;
  /** Computed inputs (after Dropout/Identity renames), x = xs[0] with its per-sample shape `shape`. */
  readonly xs: string[];
  readonly x: string;
  readonly shape: number[];
  /** Output 0 and its per-sample shape. */
  readonly y: string;
  readonly out: number[];
  /** { name, inShape: shape, outShape: out, inputs: [x], output: y }: the fields every op has. */
  readonly base: Base;
  /** Per-sample shapes of the values planned so far. */
  readonly shapes: Map<string, number[]>;
  readonly weights: ReadonlyMap<string, Tensor>;
  /** The graph output (after renames). */
  readonly output: string;
  /** Transposes not materialized: values read through strides by the MatMuls that are their only readers. */
  readonly lazy: Map<string, StridedView>;
  /** A value as stored (contiguous) or as a lazy view of a stored one. */
  viewOf(v: string): StridedView;
  /** The op types of the nodes reading v. */
  readerOps(v: string): string[];
  computed(v: string): boolean;
  /** A value after the renames. */
  real(v: string): string;
  /** The initializer named by input i (null for an absent optional input). */
  weight(i: number): Tensor | null;
  /** The LUT spec of a LutLinear / LutConv node: a deployment file's, else built from centroids and weight. */
  lutSpec(): LutLayerSpec;
  /** The op that produced x if a node reading x may fuse into it: its only reader, not the graph output. */
  fusable(x: string): Op | null;
  emit(op: Op): void;
  /** `op` (which wrote `from`) now ends in the node: it writes `to`. */
  extend(op: Op, from: string, to: string): void;
  /** `op` takes the place of `old` (which wrote `from`) in the op list. */
  replace(old: Op, op: Op, from: string): void;
  readonly k: LowerKit;
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

function need4d(ni: NodeInfo, shape: number[]): void {
  if (shape.length !== 3) throw new ShapeError(`${OP}: ${ni.node.op} '${ni.node.name}' expects [N, C, H, W] input, got [N,${shape.join(',')}]`);
}

/** Geometry of one sample's 2-D window op from its input [C, H, W], output [C', H', W'] and window attributes. */
function window(shape: number[], out: number[], k: readonly number[], s: readonly number[], p: readonly number[], d: readonly number[]): Window {
  const [cin, h, w] = shape;
  return { cin, h, w, kh: k[0], kw: k[1], sh: s[0], sw: s[1], ph: p[0], pw: p[1], dh: d[0], dw: d[1], outH: out[1], outW: out[2] };
}

const prod = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/**
 * a ∘ b for two activations whose per-sample shapes differ, within each sample: the smaller one is a row (its leading
 * dims 1, the rest the other's trailing dims) broadcast over the other's rows, e.g. scores [H, T, T] + mask [1, 1, T];
 * or a column (its trailing dims 1, the rest the other's leading dims), one value per row, e.g. x [C, H, W] · gate
 * [C, 1, 1] (squeeze-and-excite).
 */
export function broadcastBinary(node: string, opType: string, a: { v: string; shape: number[] }, b: { v: string; shape: number[] }, out: number[]): Extract<Op, { kind: 'binary' }> {
  const same = (s: number[]): boolean => s.length === out.length && s.every((d, i) => d === out[i]);
  const reversed = !same(a.shape);
  const [big, small] = reversed ? [b, a] : [a, b];
  const refuse = (): never => {
    throw new ShapeError(`${OP}: ${opType} '${node}' takes [N,${a.shape.join(',')}] ('${a.v}') and [N,${b.shape.join(',')}] ('${b.v}'); the runtime broadcasts between activations of one sample a row (leading dims 1) or a column (trailing dims 1) only`);
  };
  if (!same(big.shape) || small.shape.length > out.length) refuse();
  const s = [...small.shape];
  while (s.length < out.length) s.unshift(1);
  const base = { add: 'add', sub: 'sub', mul: 'mul', div: 'div' }[opType.toLowerCase()] as 'add' | 'sub' | 'mul' | 'div';
  const op: BinaryOp = reversed && base === 'sub' ? 'rsub' : reversed && base === 'div' ? 'rdiv' : base;
  const binary = { kind: 'binary' as const, name: node, inShape: big.shape, outShape: out, inputs: [big.v, small.v], output: '', op, constant: null };
  // A row: 1s, then the output's trailing dims.
  const j = s.findIndex((d) => d !== 1);
  const tail = j < 0 ? [] : out.slice(j);
  if (j < 0 || s.slice(j).every((d, i) => d === tail[i])) return { ...binary, mode: 'sampleRow', rows: prod(out) / prod(tail), cols: prod(tail) };
  // A column: the output's leading dims, then 1s.
  const e = s.length - [...s].reverse().findIndex((d) => d !== 1);
  if (s.slice(0, e).every((d, i) => d === out[i])) return { ...binary, mode: 'sampleCol', rows: prod(out.slice(0, e)), cols: prod(out.slice(e)) };
  return refuse();
}

/** The runtime's plan builders the lowerings use. */
export const LOWER_KIT = Object.freeze({
  openEpilogue, composeAffine, need4d, window, broadcastBinary,
  constBinary, contiguousStrides, copyPlan, matmulPlan, meanBlocks, transposeView,
});
export type LowerKit = typeof LOWER_KIT;
