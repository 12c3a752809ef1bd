// Records of the shape ops: Reshape, Flatten, Transpose, Concat, Slice, Split, Squeeze, Unsqueeze (any dtype).
import { shapeSize } from '../../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import { batchCoef, dimDiv, dimEq, dimProd, fmtDims, symDim, type Dim } from '../dims.js';
import { defineOp, type OnnxCtx, type OpDef } from '../op.js';
import { axisOf, req } from '../rules.js';
import { IR_DTYPES, type ValueInfo } from '../types.js';
import { allInputs, axesOf, clampInt, constInts, direct } from '../onnx-in.js';
import { BATCH } from '../dims.js';
import type { LowerCtx } from '../../runtime/lower.js';

/** Input 0 of any dtype. */
const anyX = [{ name: 'x', role: 'data', dtypes: IR_DTYPES }] as const;

/** ONNX Reshape target for `out` from `inp`: a symbolic dim at the same place copies (0), another one is inferred (−1). */
export function reshapeTarget(node: string, inp: readonly Dim[], out: readonly Dim[]): number[] {
  let inferred = false;
  return out.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i < inp.length && dimEq(inp[i], d)) return 0;
    if (inferred) throw new ShapeError(`${node}: output ${fmtDims(out)} has two batch-dependent dims`);
    inferred = true;
    return -1;
  });
}

/** A view op: the output shares input 0's storage (no memory, no compute). */
function viewOp<A extends object>(def: Omit<OpDef<A>, 'inputs' | 'outputs' | 'cost' | 'onnx' | 'lower'> & { reshape?: boolean }): OpDef<A> {
  return defineOp<A>({
    ...def,
    inputs: anyX,
    outputs: 1,
    cost: () => ({ kind: 'shape', view: true }),
    onnx: (c: OnnxCtx<A>) => ({ outputs: [c.e.reshape(c.input(0), reshapeTarget(c.scope, c.info(0).shape, c.outInfo(0).shape), c.scope)], exact: c.exact(0) }),
    // Runtime: both dim 0s are N (the planner checks), a per-sample view; no data moves.
    lower: { ints: true, run: (c) => c.emit({ ...c.base, kind: 'reshape' }) },
  });
}

/** Runtime lowering of Slice (one output) and Split (one strided copy per output) along per-sample axes. */
function lowerSlices(c: LowerCtx<SliceAttrs> | LowerCtx<SplitAttrs>, split: boolean): void {
  const { ni, x, shape } = c;
  const rank = shape.length + 1;
  const norm = (a: number): number => (a < 0 ? a + rank : a) - 1;
  const strides = c.k.contiguousStrides(shape);
  const parts: { y: string; starts: number[] }[] = [];
  if (!split) {
    const a = c.attrs as SliceAttrs;
    const axes = a.axes.map(norm);
    if (axes.some((ax) => ax < 0)) throw new ArgumentError(`lutnn.load: Slice '${ni.node.name}' cuts the batch dim; the runtime keeps [N, ...]`);
    const starts = shape.map(() => 0);
    axes.forEach((ax, k) => {
      const s = a.starts[k];
      const d = shape[ax];
      starts[ax] = Math.min(Math.max(s < 0 ? s + d : s, 0), d); // as sliceRange clamps
    });
    parts.push({ y: ni.node.outputs[0], starts });
  } else {
    const a = c.attrs as SplitAttrs;
    const ax = norm(a.axis);
    if (ax < 0) throw new ArgumentError(`lutnn.load: Split '${ni.node.name}' cuts the batch dim; the runtime keeps [N, ...]`);
    let at = 0;
    for (const [k, len] of a.split.entries()) {
      const starts = shape.map(() => 0);
      starts[ax] = at;
      at += len;
      parts.push({ y: ni.node.outputs[k], starts });
    }
  }
  for (const [k, p] of parts.entries()) {
    const out = c.shapes.get(p.y)!;
    const offset = p.starts.reduce((s, v, d) => s + v * strides[d], 0);
    const copy = c.k.copyPlan(ni.node.name, { src: x, shape: out, strides });
    c.emit({ name: parts.length > 1 ? `${ni.node.name}[${k}]` : ni.node.name, inShape: shape, outShape: out, inputs: [x], output: p.y, kind: 'slice', copy, offset });
  }
}

export interface ReshapeAttrs {
  /** Target dims: 0 copies the input dim at that index, −1 is inferred (at most one), as in ONNX. */
  shape: readonly number[];
}

export const Reshape = viewOp<ReshapeAttrs>({
  doc: 'same elements, new shape (0 copies the input dim, −1 is inferred), no copy',
  attrs: { shape: { type: 'ints', min: -1 } },
  infer(c) {
    const x = req(c, 0);
    const out: (Dim | null)[] = c.attrs.shape.map((d, i) => {
      if (d === 0) {
        if (i >= x.shape.length) throw new ShapeError(`${c.node}: shape ${fmtDims(c.attrs.shape)} copies dim ${i} of ${fmtDims(x.shape)}, which has none`);
        return x.shape[i];
      }
      return d === -1 ? null : d;
    });
    if (out.filter((d) => d === null).length > 1) throw new ShapeError(`${c.node}: shape ${fmtDims(c.attrs.shape)} has more than one −1`);
    const total = dimProd(x.shape);
    const known = dimProd(out.filter((d): d is Dim => d !== null));
    const j = out.indexOf(null);
    if (j >= 0) {
      const q = dimDiv(total, known);
      if (q === null) throw new ShapeError(`${c.node}: cannot infer −1 in ${fmtDims(c.attrs.shape)} for ${fmtDims(x.shape)}`);
      out[j] = q;
    } else if (!dimEq(known, total)) {
      throw new ShapeError(`${c.node}: ${fmtDims(x.shape)} cannot become ${fmtDims(out as Dim[])} (${total} vs ${known} elements)`);
    }
    return [{ shape: out as Dim[], dtype: x.dtype }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.reshape(x[0]!, a.shape.map((d, i) => (d === 0 ? x[0]!.shape[i] : d)))],
  onnxImport: [
    {
      // A constant target; a batch-dependent entry (x.size(0) folded to "N") copies the input's dim or is inferred.
      types: ['Reshape'],
      map(c) {
        const t = c.ints(1);
        if (!t) return c.unsupported('a target shape computed from tensor values');
        const x = c.info(0).shape;
        const allowzero = c.attr.int('allowzero', 0) === 1;
        let inferred = 0;
        const shape = t.map((d, i) => {
          if (typeof d === 'string') {
            if (i < x.length && dimEq(x[i], d)) return 0;
            inferred++;
            return -1;
          }
          if (d === 0 && allowzero) c.unsupported('allowzero 1 with a 0 in the target');
          // The batch the file was exported with, where the input has the batch: the batch.
          if (i === 0 && c.fileBatch !== null && d === c.fileBatch && x[0] === BATCH) return 0;
          if (d === -1) inferred++;
          return clampInt(d);
        });
        if (inferred > 1) c.unsupported(`target [${t.join(',')}] leaves two dims to infer`);
        return c.emit('Reshape', [c.value(0)], { shape });
      },
    },
  ],
});

export interface FlattenAttrs {
  start: number;
  end: number;
}

function flattenShape(node: string, x: ValueInfo, a: FlattenAttrs): Dim[] {
  const r = x.shape.length;
  const s = axisOf(node, 'start', a.start, r);
  const e = axisOf(node, 'end', a.end, r);
  if (s > e) throw new ArgumentError(`${node}: start ${a.start} comes after end ${a.end} for ${fmtDims(x.shape)}`);
  return [...x.shape.slice(0, s), dimProd(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
}

export const Flatten = viewOp<FlattenAttrs>({
  doc: 'merges dims start..end into one (torch.flatten), no copy',
  attrs: { start: { type: 'int', default: 1 }, end: { type: 'int', default: -1 } },
  infer: (c) => [{ shape: flattenShape(c.node, req(c, 0), c.attrs), dtype: req(c, 0).dtype }],
  forward: ({ x, attrs: a, ops }) => [ops.flatten(x[0]!, a.start, a.end)],
  onnxImport: [
    {
      // ONNX Flatten(axis) makes [prod(dims before axis), prod(dims from axis)].
      types: ['Flatten'],
      map(c) {
        const r = c.info(0).shape.length;
        let a = c.attr.int('axis', 1);
        if (a < 0) a += r;
        if (a <= 0 || a >= r) c.unsupported(`axis ${a} of a rank-${r} input (the batch must stay in dim 0)`);
        let y = c.emit('Flatten', [c.value(0)], { start: a, end: -1 })[0];
        if (a > 1) y = c.emit('Flatten', [y], { start: 0, end: a - 1 })[0];
        return [y];
      },
    },
  ],
});

export interface TransposeAttrs {
  perm: readonly number[];
}

export const Transpose = defineOp<TransposeAttrs>({
  doc: 'reorders dims: output dim i is input dim perm[i] (copies)',
  inputs: anyX,
  outputs: 1,
  attrs: { perm: { type: 'ints', min: 0 } },
  infer(c) {
    const x = req(c, 0);
    const p = c.attrs.perm;
    if (p.length !== x.shape.length || new Set(p).size !== p.length || p.some((d) => d >= p.length)) {
      throw new ArgumentError(`${c.node}: perm ${fmtDims(p)} is not a permutation of the ${x.shape.length} dims of ${fmtDims(x.shape)}`);
    }
    return [{ shape: p.map((d) => x.shape[d]), dtype: x.dtype }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.permute(x[0]!, a.perm)],
  cost: (c) => ({ kind: 'shape', elementOps: shapeSize(c.outShape(0)) }),
  onnx: (c) => ({ outputs: [c.e.one('Transpose', [c.input(0)], c.scope, { perm: [...c.attrs.perm] })], exact: c.exact(0) }),
  onnxImport: [direct('Transpose', ['Transpose'], (c) => ({ perm: c.attr.ints('perm', c.info(0).shape.map((_, i, a) => a.length - 1 - i)) }))],
  // Runtime: written transposed by the MatMul whose output it alone reads; a strided view (no op) when MatMuls are its
  // only readers; else a contiguous copy ('permute').
  lower: {
    run(c) {
      const { x, y, name, out } = c;
      const perm = c.attrs.perm;
      const xv = c.viewOf(x);
      const view = c.k.transposeView(name, xv.src, xv.shape, xv.strides, perm);
      const target = c.lazy.has(x) ? null : c.fusable(x);
      if (target && target.kind === 'matmul') {
        // The product writes the transposed layout itself: C's strides are those of the view of y's layout.
        const yStrides = c.k.contiguousStrides(out);
        const p = perm.slice(1).map((d) => d - 1);
        const cStrides = new Array<number>(out.length);
        p.forEach((d, i) => (cStrides[d] = yStrides[i]));
        if (cStrides[cStrides.length - 1] === 1) {
          target.mm = c.k.matmulPlan(target.name, target.srcs[0], target.srcs[1], c.shapes.get(x)!, cStrides);
          target.name += `+${name}`;
          target.outShape = out;
          c.extend(target, x, y);
          return;
        }
      }
      const ro = c.readerOps(y);
      if (y !== c.output && ro.length > 0 && ro.every((t) => t === 'MatMul')) {
        c.lazy.set(y, view);
        return;
      }
      c.emit({ ...c.base, inShape: c.shapes.get(view.src)!, inputs: [view.src], kind: 'permute', copy: c.k.copyPlan(name, view) });
    },
  },
});

export interface AxisAttrs {
  axis: number;
}

/** Sum of dims along a concat axis (k·N + j·N = (k+j)·N; a constant plus a batch dim is not a dim). */
function dimAdd(node: string, a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (typeof a === 'string' && typeof b === 'string') return symDim(batchCoef(a) + batchCoef(b));
  throw new ShapeError(`${node}: cannot join a batch-dependent dim with a fixed one (${a} + ${b})`);
}

export const Concat = defineOp<AxisAttrs>({
  doc: 'joins its inputs along `axis` (all other dims equal)',
  inputs: [{ name: 'xs', role: 'data', dtypes: IR_DTYPES }],
  variadic: { min: 1 },
  outputs: 1,
  attrs: { axis: { type: 'int' } },
  infer(c) {
    const xs = c.inputs.map((v, i) => {
      if (!v) throw new ArgumentError(`${c.node}: input ${i} is empty`);
      return v;
    });
    const first = xs[0];
    const a = axisOf(c.node, 'axis', c.attrs.axis, first.shape.length);
    let len = first.shape[a];
    xs.slice(1).forEach((v, j) => {
      if (v.dtype !== first.dtype) throw new ShapeError(`${c.node}: input ${j + 1} is ${v.dtype}, input 0 is ${first.dtype}`);
      if (v.shape.length !== first.shape.length || v.shape.some((d, k) => k !== a && !dimEq(d, first.shape[k]))) {
        throw new ShapeError(`${c.node}: input ${j + 1} ${fmtDims(v.shape)} does not match input 0 ${fmtDims(first.shape)} outside axis ${a}`);
      }
      len = dimAdd(c.node, len, v.shape[a]);
    });
    const shape = [...first.shape];
    shape[a] = len;
    return [{ shape, dtype: first.dtype }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.concat(x as never, a.axis)],
  cost: (c) => ({ kind: 'shape', elementOps: shapeSize(c.outShape(0)) }),
  onnx: (c) => {
    const n = c.attrs as AxisAttrs;
    const ins: string[] = [];
    let exact = true;
    for (let i = 0; c.has(i); i++) {
      ins.push(c.input(i));
      exact &&= c.exact(i);
    }
    return { outputs: [c.e.one('Concat', ins, c.scope, { axis: n.axis })], exact };
  },
  onnxImport: [{ types: ['Concat'], map: (c) => c.emit('Concat', allInputs(c).filter((v) => v !== ''), { axis: c.attr.int('axis') }) }],
  // Runtime: along an axis ≥ 1 (along the batch axis it would give [k·N, ...], which the planner refuses), of activations.
  lower: {
    reads: 'all',
    run(c) {
      const rank = c.shape.length + 1;
      const axis = c.attrs.axis < 0 ? c.attrs.axis + rank : c.attrs.axis;
      const all = c.ni.node.inputs.map(c.real); // every input, in order (one value may come twice)
      const prod = (s: number[]): number => s.reduce((p, d) => p * d, 1);
      const outer = prod(c.out.slice(0, axis - 1));
      c.emit({ ...c.base, kind: 'concat', inputs: all, outer, blocks: all.map((v) => prod(c.shapes.get(v)!.slice(axis - 1))) });
    },
  },
});

export interface SliceAttrs {
  axes: readonly number[];
  starts: readonly number[];
  ends: readonly number[];
}

/** [start, end) of a slice on a dim of size n: negative values count from the end, both clamp to [0, n] (ONNX, Python). */
function sliceRange(n: number, start: number, end: number): [number, number] {
  const s = Math.min(Math.max(start < 0 ? start + n : start, 0), n);
  const e = Math.max(Math.min(end < 0 ? end + n : end, n), s);
  return [s, e];
}

export const Slice = defineOp<SliceAttrs>({
  doc: 'elements starts[i]..ends[i]−1 along axes[i] (step 1; negative values count from the end, both clamp)',
  inputs: anyX,
  outputs: 1,
  attrs: { axes: { type: 'ints', minLen: 1 }, starts: { type: 'ints' }, ends: { type: 'ints' } },
  infer(c) {
    const x = req(c, 0);
    const { axes, starts, ends } = c.attrs;
    if (starts.length !== axes.length || ends.length !== axes.length) throw new ArgumentError(`${c.node}: axes, starts and ends must have the same length, got ${axes.length}, ${starts.length}, ${ends.length}`);
    const shape = [...x.shape];
    const seen = new Set<number>();
    axes.forEach((ax, i) => {
      const a = axisOf(c.node, `axes[${i}]`, ax, x.shape.length);
      if (seen.has(a)) throw new ArgumentError(`${c.node}: axis ${a} is sliced twice`);
      seen.add(a);
      const d = x.shape[a];
      if (typeof d !== 'number') throw new ShapeError(`${c.node}: cannot slice the batch-dependent dim ${a} of ${fmtDims(x.shape)}`);
      const [s, e] = sliceRange(d, starts[i], ends[i]);
      shape[a] = e - s;
    });
    return [{ shape, dtype: x.dtype }];
  },
  forward({ x, attrs: a, ops }) {
    let y = x[0]!;
    a.axes.forEach((ax, i) => {
      const axis = ax < 0 ? ax + y.ndim : ax;
      const [s, e] = sliceRange(y.shape[axis], a.starts[i], a.ends[i]);
      y = ops.slice(y, axis, s, e);
    });
    return [y];
  },
  cost: (c) => ({ kind: 'shape', elementOps: shapeSize(c.outShape(0)) }),
  onnx: (c) => {
    const x = c.info(0).shape;
    const axes = c.attrs.axes.map((a) => (a < 0 ? a + x.length : a));
    const ranges = axes.map((a, i) => sliceRange(x[a] as number, c.attrs.starts[i], c.attrs.ends[i]));
    const ins = [c.input(0), c.e.i64(`${c.scope}.starts`, ranges.map((r) => r[0])), c.e.i64(`${c.scope}.ends`, ranges.map((r) => r[1])), c.e.i64(`${c.scope}.axes`, axes)];
    return { outputs: [c.e.one('Slice', ins, c.scope)], exact: c.exact(0) };
  },
  onnxImport: [
    {
      types: ['Slice'],
      map(c) {
        const x = c.info(0).shape;
        const starts = constInts(c, 1, 'starts');
        const ends = constInts(c, 2, 'ends');
        const axes = c.has(3) ? constInts(c, 3, 'axes') : starts.map((_, i) => i);
        if (c.has(4) && constInts(c, 4, 'steps').some((s) => s !== 1)) c.unsupported('steps other than 1');
        if (axes.length !== starts.length || ends.length !== starts.length) c.unsupported('starts, ends and axes of different lengths');
        const keep = { axes: [] as number[], starts: [] as number[], ends: [] as number[] };
        axes.forEach((a, i) => {
          const ax = a < 0 ? a + x.length : a;
          if (typeof x[ax] === 'string') {
            // The whole batch dim (x[:, ...]) is no slice; any other range of it is not supported.
            if (starts[i] === 0 && ends[i] >= 2 ** 31 - 1) return;
            c.unsupported('a slice of the batch dim');
          }
          keep.axes.push(a);
          keep.starts.push(starts[i]);
          keep.ends.push(ends[i]);
        });
        if (keep.axes.length === 0) return c.emit('Identity', [c.value(0)]);
        return c.emit('Slice', [c.value(0)], keep);
      },
    },
  ],
  lower: { run: (c) => lowerSlices(c, false) },
});

export interface SplitAttrs {
  axis: number;
  /** Sizes of the parts along `axis`; one output each. */
  split: readonly number[];
}

export const Split = defineOp<SplitAttrs>({
  doc: 'cuts x along `axis` into parts of the given sizes (one output each)',
  inputs: anyX,
  outputs: (a) => a.split.length,
  attrs: { axis: { type: 'int', default: 0 }, split: { type: 'ints', minLen: 1, min: 1 } },
  infer(c) {
    const x = req(c, 0);
    const a = axisOf(c.node, 'axis', c.attrs.axis, x.shape.length);
    const d = x.shape[a];
    const total = c.attrs.split.reduce((p, q) => p + q, 0);
    if (d !== total) throw new ShapeError(`${c.node}: split ${fmtDims(c.attrs.split)} sums to ${total}, axis ${a} of ${fmtDims(x.shape)} has ${d}`);
    return c.attrs.split.map((n) => {
      const shape = [...x.shape];
      shape[a] = n;
      return { shape, dtype: x.dtype };
    });
  },
  forward({ x, attrs: a, ops }) {
    let at = 0;
    return a.split.map((n) => ops.slice(x[0]!, a.axis, at, (at += n)));
  },
  cost: (c) => ({ kind: 'shape', elementOps: shapeSize(c.inShape(0)!) }),
  onnx: (c) => ({
    outputs: c.e.node('Split', [c.input(0), c.e.i64(`${c.scope}.split`, [...c.attrs.split])], c.scope, { axis: c.attrs.axis }, c.attrs.split.length),
    exact: c.exact(0),
  }),
  onnxImport: [
    {
      // Sizes from the split input (opset 13+), the attribute (before), or equal parts (num_outputs from opset 18).
      types: ['Split'],
      map(c) {
        const x = c.info(0).shape;
        let axis = c.attr.int('axis', 0);
        if (axis < 0) axis += x.length;
        const d = x[axis];
        if (typeof d !== 'number') return c.unsupported('a split of the batch dim');
        let split: number[];
        if (c.opset >= 13 && c.has(1)) split = constInts(c, 1, 'split');
        else if (c.opset < 13 && c.attr.has('split')) split = c.attr.ints('split');
        else {
          const n = c.opset >= 18 && c.attr.has('num_outputs') ? c.attr.int('num_outputs') : c.outputCount;
          if (!(n >= 1 && n <= d)) return c.unsupported(`${n} parts of a dim of ${d}`);
          const part = Math.ceil(d / n);
          if (c.opset < 18 && d % n !== 0) c.unsupported(`${d} does not split into ${n} equal parts`);
          split = Array.from({ length: n }, (_, i) => Math.min(part, d - i * part));
        }
        return c.emit('Split', [c.value(0)], { axis, split });
      },
    },
  ],
  lower: { run: (c) => lowerSlices(c, true) },
});

export interface AxesAttrs {
  axes: readonly number[];
}

export const Squeeze = viewOp<AxesAttrs>({
  doc: 'removes the given dims, each of size 1 (no copy)',
  attrs: { axes: { type: 'ints', minLen: 1 } },
  infer(c) {
    const x = req(c, 0);
    const drop = new Set(c.attrs.axes.map((ax, i) => axisOf(c.node, `axes[${i}]`, ax, x.shape.length)));
    for (const a of drop) if (x.shape[a] !== 1) throw new ShapeError(`${c.node}: dim ${a} of ${fmtDims(x.shape)} has size ${x.shape[a]}, expected 1`);
    return [{ shape: x.shape.filter((_, i) => !drop.has(i)), dtype: x.dtype }];
  },
  forward: ({ x, attrs: a, ops }) => [ops.squeeze(x[0]!, [...a.axes])],
  onnxImport: [
    {
      types: ['Squeeze'],
      map(c) {
        const x = c.info(0).shape;
        const axes = axesOf(c, 1, 13) ?? x.flatMap((d, i) => (d === 1 ? [i] : []));
        return axes.length === 0 ? c.emit('Identity', [c.value(0)]) : c.emit('Squeeze', [c.value(0)], { axes });
      },
    },
  ],
});

export const Unsqueeze = viewOp<AxesAttrs>({
  doc: 'inserts dims of size 1 at the given output positions (no copy)',
  attrs: { axes: { type: 'ints', minLen: 1 } },
  infer(c) {
    const x = req(c, 0);
    const rank = x.shape.length + c.attrs.axes.length;
    const at = new Set(c.attrs.axes.map((ax, i) => axisOf(c.node, `axes[${i}]`, ax, rank)));
    if (at.size !== c.attrs.axes.length) throw new ArgumentError(`${c.node}: axes ${fmtDims(c.attrs.axes)} repeat a position`);
    const shape: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : x.shape[k++]);
    return [{ shape, dtype: x.dtype }];
  },
  forward({ x, attrs: a, ops }) {
    const rank = x[0]!.ndim + a.axes.length;
    const sorted = a.axes.map((ax) => (ax < 0 ? ax + rank : ax)).sort((p, q) => p - q);
    let y = x[0]!;
    for (const ax of sorted) y = ops.unsqueeze(y, ax);
    return [y];
  },
  onnxImport: [
    {
      types: ['Unsqueeze'],
      map(c) {
        const axes = axesOf(c, 1, 13);
        if (!axes || axes.length === 0) return c.unsupported('no axes');
        return c.emit('Unsqueeze', [c.value(0)], { axes });
      },
    },
  ],
});
