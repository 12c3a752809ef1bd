// Lowering of the transformer ops for the runtime's plan: strided views of transposes (read by batched MatMuls without
// a copy, or written by them), materialized transposes, broadcasting constants of Add/Sub/Mul/Div, ReduceMean blocks.
// Pure shape arithmetic on per-sample shapes (no batch dim); plan.ts calls it and owns the op list.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { BinaryOp } from './transformer-kernels-ref.js';

const OP = 'lutnn.load';

/** Row-major strides (in floats) of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/**
 * A value seen through a transpose without moving data: per-sample `shape` whose index i reads `src` at Σ i_d·strides[d]
 * (`src` is stored contiguously).
 */
export interface StridedView {
  src: string;
  shape: number[];
  strides: number[];
}

/**
 * The view of `x` (per-sample shape `xShape`, itself possibly a view with `xStrides`) under a graph Transpose `perm`
 * (over [N, ...]: perm[0] must be 0, the batch stays first). Output dim d is input dim perm[d + 1] − 1.
 */
export function transposeView(node: string, src: string, xShape: readonly number[], xStrides: readonly number[], perm: readonly number[]): StridedView {
  if (perm[0] !== 0) throw new ArgumentError(`${OP}: Transpose '${node}' has perm ${fmtShape(perm)}, which moves the batch dim; the runtime keeps [N, ...] first`);
  const p = perm.slice(1).map((d) => d - 1);
  return { src, shape: p.map((d) => xShape[d]), strides: p.map((d) => xStrides[d]) };
}

/** A strided copy as rtPermute takes it: 4 dims (leading 1s), their input strides. */
export interface CopyPlan {
  dims: [number, number, number, number];
  strides: [number, number, number, number];
}

/**
 * The loop nest of copying a strided view into contiguous memory: size-1 dims dropped, neighbours merged where the
 * outer one's stride is the inner one's times its size; at most 4 loops (else an error naming the node).
 */
export function copyPlan(node: string, v: StridedView): CopyPlan {
  const dims: number[] = [];
  const strides: number[] = [];
  v.shape.forEach((d, i) => {
    if (d === 1) return;
    const k = dims.length - 1;
    if (k >= 0 && strides[k] === v.strides[i] * d) {
      dims[k] *= d;
      strides[k] = v.strides[i];
    } else {
      dims.push(d);
      strides.push(v.strides[i]);
    }
  });
  if (dims.length > 4) throw new ArgumentError(`${OP}: Transpose '${node}' needs a copy of ${dims.length} nested strided loops (at most 4 are supported)`);
  while (dims.length < 4) {
    dims.unshift(1);
    strides.unshift(0);
  }
  return { dims: dims as CopyPlan['dims'], strides: strides as CopyPlan['strides'] };
}

/** One operand of a batched matmul: rows and columns strides, and where each batch entry starts. */
export interface MatOperand {
  /** Index into the op's inputs (the activation read), or −1 for a constant. */
  input: number;
  /** The constant operand's floats, laid out as `strides` say (null for an activation). */
  weight: Float32Array | null;
  /** Floats between two samples (0 for a constant: every sample reads the same matrix). */
  sampleStride: number;
  rowStride: number;
  colStride: number;
}

export interface MatmulPlan {
  m: number;
  k: number;
  n: number;
  a: MatOperand;
  b: MatOperand;
  /** Per batch entry of one sample (the broadcast batch dims, row-major): element offsets of A, B and C, in triples. */
  offsets: Int32Array;
  /** Row stride of C (its columns are contiguous). */
  ldc: number;
}

/** An operand as the planner sees it: a per-sample shape with strides (activation) or a constant's full shape. */
export interface OperandSource {
  /** Per-sample shape (activation) or the constant's shape. */
  shape: number[];
  strides: number[];
  /** Input index for an activation, −1 for a constant. */
  input: number;
  /** Floats per sample of the stored value (activations). */
  sampleFloats: number;
  weight: Float32Array | null;
}

/**
 * The batched GEMMs of MatMul a × b → out (per-sample `out` [...batch, m, n]), broadcasting batch dims from the right as
 * NumPy does. C is written contiguously unless `outStrides` (a fused transpose of the output) say otherwise; its last dim
 * must stay contiguous.
 */
export function matmulPlan(node: string, a: OperandSource, b: OperandSource, out: readonly number[], outStrides: readonly number[]): MatmulPlan {
  const r = out.length;
  if (r < 2) throw new ShapeError(`${OP}: MatMul '${node}' gives ${fmtShape(out)} per sample; the runtime multiplies matrices per sample ([N, ..., m, n])`);
  if (outStrides[r - 1] !== 1) throw new ArgumentError(`${OP}: MatMul '${node}': its output columns would not be contiguous`);
  const batch = out.slice(0, r - 2);
  const [m, n] = [out[r - 2], out[r - 1]];
  const k = a.shape[a.shape.length - 1];
  const side = (o: OperandSource, what: string): { rs: number; cs: number; bs: number[] } => {
    if (o.shape.length < 2) throw new ShapeError(`${OP}: MatMul '${node}': operand ${what} is ${fmtShape(o.shape)} per sample; the runtime multiplies matrices per sample ([N, ..., rows, cols])`);
    const q = o.shape.length;
    // Batch dims aligned to out's from the right; a broadcast (size-1) or missing dim has stride 0.
    const bs = batch.map((d, i) => {
      const j = i - (batch.length - (q - 2));
      if (j < 0) return 0;
      const dj = o.shape[j];
      if (dj === d) return o.strides[j];
      if (dj === 1) return 0;
      throw new ShapeError(`${OP}: MatMul '${node}': operand ${what} ${fmtShape(o.shape)} does not broadcast to ${fmtShape(out)}`);
    });
    // A constant with more batch dims than the sample (aligned with N) must have 1s there.
    for (let j = 0; j < q - 2 - batch.length; j++) {
      if (o.shape[j] !== 1) throw new ShapeError(`${OP}: MatMul '${node}': operand ${what} ${fmtShape(o.shape)} has more batch dims than the output ${fmtShape(out)} per sample`);
    }
    return { rs: o.strides[q - 2], cs: o.strides[q - 1], bs };
  };
  const sa = side(a, 'a');
  const sb = side(b, 'b');
  const total = batch.reduce((p, d) => p * d, 1);
  const offsets = new Int32Array(3 * total);
  const idx = new Array<number>(batch.length).fill(0);
  for (let t = 0; t < total; t++) {
    let [oa, ob, oc] = [0, 0, 0];
    idx.forEach((v, d) => {
      oa += v * sa.bs[d];
      ob += v * sb.bs[d];
      oc += v * outStrides[d];
    });
    offsets.set([oa, ob, oc], 3 * t);
    for (let d = batch.length - 1; d >= 0; d--) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  const operand = (o: OperandSource, s: { rs: number; cs: number }): MatOperand => ({
    input: o.input, weight: o.weight, sampleStride: o.input < 0 ? 0 : o.sampleFloats, rowStride: s.rs, colStride: s.cs,
  });
  return { m, k, n, a: operand(a, sa), b: operand(b, sb), offsets, ldc: outStrides[r - 2] };
}

/** How a constant operand of Add/Sub/Mul/Div is applied to the activation's rows (see rtBinary). */
export interface ConstBinary {
  mode: 'row' | 'scalar';
  op: BinaryOp;
  /** Rows per sample and their length: the activation is [rows, cols] per sample. */
  rows: number;
  cols: number;
  /** The constant over one row (cols floats), or one float. */
  constant: Float32Array;
}

/**
 * x ∘ c for an activation x (per-sample shape `xShape`) and a constant c (full shape `cShape`, aligned with [N, ...x]
 * from the right): c broadcast over the per-sample dims from its first non-1 dim on (one row, at most one sample of
 * floats), or a scalar. `reversed`: c is the first operand (c − x, c / x). The output must have x's shape.
 */
export function constBinary(node: string, opType: string, xShape: readonly number[], c: { shape: readonly number[]; data: Float32Array }, reversed: boolean): ConstBinary {
  const base = { Add: 'add', Sub: 'sub', Mul: 'mul', Div: 'div' }[opType] as 'add' | 'sub' | 'mul' | 'div';
  const op: BinaryOp = reversed && base === 'sub' ? 'rsub' : reversed && base === 'div' ? 'rdiv' : base;
  const r = xShape.length;
  const cs = [...c.shape];
  // Leading dims beyond the sample's rank (the batch position and before) must be 1.
  while (cs.length > r) {
    if (cs[0] !== 1) throw new ShapeError(`${OP}: ${opType} '${node}': the constant ${fmtShape(c.shape)} would broadcast the activation [N,${xShape.join(',')}] to a larger shape`);
    cs.shift();
  }
  while (cs.length < r) cs.unshift(1);
  cs.forEach((d, i) => {
    if (d !== 1 && d !== xShape[i]) throw new ShapeError(`${OP}: ${opType} '${node}': the constant ${fmtShape(c.shape)} does not broadcast to [N,${xShape.join(',')}]`);
  });
  const size = xShape.reduce((p, d) => p * d, 1);
  const j = cs.findIndex((d) => d !== 1);
  if (j < 0) return { mode: 'scalar', op, rows: 1, cols: size, constant: Float32Array.of(c.data[0]) };
  const tail = xShape.slice(j);
  const cols = tail.reduce((p, d) => p * d, 1);
  // Expand c (dims j.. of cs) to the tail shape: index i of the row reads c at the broadcast position.
  const cStrides = contiguousStrides(cs.slice(j));
  const tStrides = contiguousStrides(tail);
  const row = new Float32Array(cols);
  for (let i = 0; i < cols; i++) {
    let off = 0;
    let rem = i;
    tail.forEach((_, d) => {
      const id = Math.floor(rem / tStrides[d]);
      rem -= id * tStrides[d];
      if (cs[j + d] !== 1) off += id * cStrides[d];
    });
    row[i] = c.data[off];
  }
  return { mode: 'row', op, rows: size / cols, cols, constant: row };
}

/** ReduceMean over per-sample axes `axes` (sorted, contiguous): the [outer, n, inner] blocks of one sample. */
export function meanBlocks(node: string, shape: readonly number[], axes: readonly number[]): { outer: number; n: number; inner: number } {
  const sorted = [...axes].sort((p, q) => p - q);
  if (sorted.some((a, i) => i > 0 && a !== sorted[i - 1] + 1)) {
    throw new ArgumentError(`${OP}: ReduceMean '${node}' reduces axes ${fmtShape(axes.map((a) => a + 1))} that are not neighbours; the runtime reduces one block of adjacent axes`);
  }
  const prod = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);
  return { outer: prod(shape.slice(0, sorted[0])), n: prod(shape.slice(sorted[0], sorted[sorted.length - 1] + 1)), inner: prod(shape.slice(sorted[sorted.length - 1] + 1)) };
}
