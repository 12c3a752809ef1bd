// Lowering of the runtime's simple ops beyond convs and attention: activations without a wasm kernel (Clip, HardSwish,
// Tanh, Sigmoid, Silu; fused into the producing step where it has one reader), int → float casts, Gather (embedding
// rows of a constant table by token ids, or constant picks such as x[:, 0]), Slice and Split (strided copies), and
// Add/Sub/Mul/Div of two activations where one broadcasts over the other per sample (an attention mask).
// plan.ts calls lowerExtra from its switch and owns the op list.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import type { Tensor } from '../tensor/tensor.js';
import type { UnaryKind } from './heap-kernels.js';
import type { Op } from './plan.js';
import { contiguousStrides, copyPlan } from './plan-transformer.js';
import type { BinaryOp } from './transformer-kernels-ref.js';

const OP = 'lutnn.load';

const UNARY_OPS: Record<string, UnaryKind> = { Clip: 'clip', HardSwish: 'hardswish', Tanh: 'tanh', Sigmoid: 'sigmoid', Silu: 'silu' };

/** Op types lowerExtra takes. */
export const EXTRA_OPS = ['Clip', 'HardSwish', 'Tanh', 'Sigmoid', 'Silu', 'Cast', 'Gather', 'Slice', 'Split'] as const;

/** What lowerExtra works with: planGraph's state for one node. */
export interface LowerCtx {
  ni: NodeInfo;
  /** Computed inputs (after Dropout/Identity renames); x = xs[0]. */
  xs: string[];
  shapes: Map<string, number[]>;
  weights: ReadonlyMap<string, Tensor>;
  computed(v: string): boolean;
  /** The op that produced x if a node reading x may fuse into it. */
  fusable(x: string): Op | null;
  emit(op: Op): void;
  /** `op` (which wrote `from`) now ends in the node: it writes `to`. */
  extend(op: Op, from: string, to: string): void;
}

/** A float32 activation applied after a step's epilogue (in the same step, on its output). */
export interface PostAct {
  act: UnaryKind;
  lo: number;
  hi: number;
}

const prod = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);

/** Lowers one node of EXTRA_OPS (its output shapes are already in c.shapes). */
export function lowerExtra(c: LowerCtx): void {
  const { ni } = c;
  const name = ni.node.name;
  const x = c.xs[0];
  const shape = c.shapes.get(x)!;
  const y = ni.node.outputs[0];
  const out = c.shapes.get(y)!;
  const base = { name, inShape: shape, outShape: out, inputs: [x], output: y };
  const op = ni.node.op;
  const unary = UNARY_OPS[op];
  if (unary) {
    const lo = op === 'Clip' && ni.attrs.min !== null ? Math.fround(ni.attrs.min as number) : -Infinity;
    const hi = op === 'Clip' && ni.attrs.max !== null ? Math.fround(ni.attrs.max as number) : Infinity;
    const t = c.fusable(x);
    if (t && 'epi' in t && !t.post) {
      t.post = { act: unary, lo, hi };
      t.name += `+${name}`;
      c.extend(t, x, y);
      return;
    }
    c.emit({ ...base, kind: 'unary', act: unary, lo, hi });
    return;
  }
  switch (op) {
    case 'Cast':
      // int32 → float32 (the same-dtype casts are renames, see planGraph).
      if (ni.inputs[0]!.dtype !== 'int32' || ni.outputs[0].dtype !== 'float32') {
        throw new ArgumentError(`${OP}: Cast '${name}' from ${ni.inputs[0]!.dtype} to ${ni.outputs[0].dtype}; the runtime casts int32 to float32 only`);
      }
      c.emit({ ...base, kind: 'cast' });
      return;
    case 'Gather':
      return gather(c, base);
    case 'Slice':
    case 'Split':
      return slices(c);
  }
}

/** Gather: an embedding lookup (constant table, ids computed) or a constant pick from an activation. */
function gather(c: LowerCtx, base: { name: string; inShape: number[]; outShape: number[]; inputs: string[]; output: string }): void {
  const { ni } = c;
  const [d, i] = ni.node.inputs;
  const axis0 = ni.attrs.axis as number;
  if (!c.computed(d)) {
    // data is a table [..., len, ...] (no batch), indices [N, ...] per sample: out [N, ...table[:axis], ...ids, ...table[axis+1:]].
    const table = c.weights.get(d)!;
    const a = axis0 < 0 ? axis0 + table.shape.length : axis0;
    if (a !== 0) throw new ArgumentError(`${OP}: Gather '${base.name}' picks along axis ${axis0} of the table ${fmtShape(table.shape)}; the runtime looks up rows (axis 0)`);
    const len = table.shape[0];
    const inner = prod(table.shape.slice(1));
    const ids = c.shapes.get(i)!;
    c.emit({ ...base, inShape: ids, inputs: [i], kind: 'gather', table: Float32Array.from(table.f32), indices: null, outer: 1, len, inner, count: prod(ids) });
    return;
  }
  // data is an activation [N, ...]; indices a constant (int32): per sample, along axis − 1.
  const shape = c.shapes.get(d)!;
  const a = (axis0 < 0 ? axis0 + shape.length + 1 : axis0) - 1;
  if (a < 0) throw new ArgumentError(`${OP}: Gather '${base.name}' picks along the batch dim; the runtime keeps [N, ...]`);
  const idx = c.weights.get(i)!;
  const len = shape[a];
  const bad = Array.from(idx.data as Int32Array).findIndex((v) => !(v >= -len && v < len));
  if (bad >= 0) throw new ShapeError(`${OP}: Gather '${base.name}': index ${(idx.data as Int32Array)[bad]} is out of range [${-len}, ${len}) for axis ${axis0} of [N,${shape.join(',')}]`);
  c.emit({ ...base, kind: 'gather', table: null, indices: Int32Array.from(idx.data as Int32Array), outer: prod(shape.slice(0, a)), len, inner: prod(shape.slice(a + 1)), count: idx.data.length });
}

/** Slice (one output) and Split (one strided copy per output) along per-sample axes. */
function slices(c: LowerCtx): void {
  const { ni } = c;
  const x = c.xs[0];
  const shape = c.shapes.get(x)!;
  const rank = shape.length + 1;
  const norm = (a: number): number => (a < 0 ? a + rank : a) - 1;
  const strides = contiguousStrides(shape);
  const parts: { y: string; starts: number[] }[] = [];
  if (ni.node.op === 'Slice') {
    const axes = (ni.attrs.axes as number[]).map(norm);
    if (axes.some((a) => a < 0)) throw new ArgumentError(`${OP}: Slice '${ni.node.name}' cuts the batch dim; the runtime keeps [N, ...]`);
    const starts = shape.map(() => 0);
    axes.forEach((a, k) => {
      const s = (ni.attrs.starts as number[])[k];
      const d = shape[a];
      starts[a] = Math.min(Math.max(s < 0 ? s + d : s, 0), d); // as the record's sliceRange clamps
    });
    parts.push({ y: ni.node.outputs[0], starts });
  } else {
    const a = norm(ni.attrs.axis as number);
    if (a < 0) throw new ArgumentError(`${OP}: Split '${ni.node.name}' cuts the batch dim; the runtime keeps [N, ...]`);
    let at = 0;
    for (const [k, len] of (ni.attrs.split as number[]).entries()) {
      const starts = shape.map(() => 0);
      starts[a] = at;
      at += len;
      parts.push({ y: ni.node.outputs[k], starts });
    }
  }
  for (const [k, p] of parts.entries()) {
    const out = c.shapes.get(p.y)!;
    const offset = p.starts.reduce((s, v, d) => s + v * strides[d], 0);
    const copy = copyPlan(ni.node.name, { src: x, shape: out, strides });
    c.emit({ name: parts.length > 1 ? `${ni.node.name}[${k}]` : ni.node.name, inShape: shape, outShape: out, inputs: [x], output: p.y, kind: 'slice', copy, offset });
  }
}

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
