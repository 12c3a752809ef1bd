// Batch-first rewriting of a graph for the runtime: values whose batch N is not dim 0 ([T, N, D] after PyTorch's
// nn.MultiheadAttention transposes, [4·N, T, d] heads) are stored N-first, and the nodes around them become
// Transposes, Reshapes and per-row ops on those N-first layouts; the planner then sees only [N, ...] values.
//
// A value's logical dims are groups of atoms (sizes, and one atom 'N'); its storage is N followed by the other atoms
// in logical order (every sample's floats contiguous). A Transpose permutes atoms (a copy, or nothing when only N
// moves), a Reshape regroups them (no copy), an op along a last axis without N (Linear, Softmax, LayerNorm, Slice,
// elementwise) runs on the storage as is. Anything else that meets such a value is refused with the node's name.
import { ArgumentError, LutnnError, ShapeError } from '../errors.js';
import { analyzeGraph, type GraphInfo, type NodeInfo } from '../graph/analyze.js';
import { batchCoef, dimEq, fmtDims, perSample, symDim, type Dim } from '../graph/dims.js';
import type { Graph, GraphNode, TensorInfo } from '../graph/types.js';
import type { Tensor } from '../tensor/tensor.js';

const OP = 'lutnn.load';

type Atom = number | 'N';
/** Logical dims, each a list of atoms (size-1 atoms dropped: an empty group is a dim of 1). */
type Groups = Atom[][];

/** Ops that act on each element alone (the layout passes through). */
const ELEMENTWISE = new Set(['Relu', 'LeakyRelu', 'Clip', 'Gelu', 'Silu', 'Sigmoid', 'Tanh', 'HardSwish', 'Dropout', 'Identity', 'Cast']);
const VIEWS = new Set(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze']);
const ARITH = new Set(['Add', 'Sub', 'Mul', 'Div']);

/** Does every value of the graph keep the batch N as dim 0 alone? */
export function batchFirst(info: GraphInfo): boolean {
  for (const ni of info.nodes) for (const o of ni.outputs) if (!perSample(o.shape)) return false;
  return true;
}

const prod = (xs: readonly Atom[]): number => xs.reduce<number>((p, a) => (a === 'N' ? p : p * a), 1);
const hasN = (g: readonly Atom[]): boolean => g.includes('N');

/** The logical dim of a group ("N", "4*N" or a number). */
function dimOf(g: readonly Atom[]): Dim {
  return hasN(g) ? symDim(prod(g)) : prod(g);
}

/** Groups of a batch-first shape [N, d1, ...]. */
function standardGroups(shape: readonly Dim[]): Groups {
  return shape.map((d, i) => (i === 0 ? ['N'] : (d as number) === 1 ? [] : [d as number]));
}

const isStandard = (g: Groups): boolean => g.length > 0 && g[0].length === 1 && g[0][0] === 'N' && g.slice(1).every((x) => !hasN(x));

/** The storage shape with groups `merged` kept whole (they hold no N) and the others as their atoms: [N, ...]. */
function storage(g: Groups, merged: (i: number) => boolean): Dim[] {
  const dims: Dim[] = ['N'];
  g.forEach((grp, i) => {
    if (merged(i)) {
      if (hasN(grp)) throw new Error('merged group holds N');
      dims.push(prod(grp));
    } else for (const a of grp) if (a !== 'N') dims.push(a);
  });
  return dims;
}

/** `x` (groups) regrouped into dims `out` (a Reshape: same atoms in the same order); null when N would have to split. */
function regroup(x: Groups, out: readonly Dim[]): Groups | null {
  const atoms: Atom[] = x.flat();
  const res: Groups = [];
  for (const d of out) {
    const grp: Atom[] = [];
    let k = typeof d === 'number' ? d : batchCoef(d);
    let needN = typeof d !== 'number';
    while (k !== 1 || needN) {
      const a = atoms.shift();
      if (a === undefined) return null;
      if (a === 'N') {
        if (!needN) return null;
        needN = false;
        grp.push('N');
        continue;
      }
      if (k % a === 0) {
        grp.push(a);
        k /= a;
      } else if (!needN && a % k === 0) {
        grp.push(k);
        atoms.unshift(a / k);
        k = 1;
      } else return null;
    }
    res.push(grp);
  }
  return atoms.length === 0 ? res : null;
}

/** Canonical form for comparing layouts: per group, its size, or [before N, after N] for the group with N. */
function canon(g: Groups): string {
  return JSON.stringify(g.map((grp) => {
    const j = grp.indexOf('N');
    return j < 0 ? prod(grp) : [prod(grp.slice(0, j)), prod(grp.slice(j + 1))];
  }));
}

/**
 * `info` rewritten so that every value is [N, ...] (see the top of the file), re-analysed; `info` itself when it is
 * already. Errors name the node whose input cannot be laid out batch-first.
 */
export function toBatchFirst(info: GraphInfo, weights: ReadonlyMap<string, Tensor>): GraphInfo {
  if (batchFirst(info)) return info;
  const computed = (v: string): boolean => v !== '' && !weights.has(v);
  const groups = new Map<string, Groups>();
  /** Where each value is stored in the new graph and under which shape ([N, ...]). */
  const stored = new Map<string, { name: string; shape: Dim[] }>();
  const nodes: GraphNode[] = [];
  let fresh = 0;
  for (const inp of info.graph.inputs) {
    if (!perSample(inp.shape)) throw new ShapeError(`${OP}: graph input '${inp.name}' is ${fmtDims(inp.shape)}; the runtime takes inputs [N, ...]`);
    groups.set(inp.name, standardGroups(inp.shape));
    stored.set(inp.name, { name: inp.name, shape: [...inp.shape] });
  }
  /** The new-graph name of `v` stored under `shape` (a Reshape view when it is stored under another shape). */
  const as = (v: string, shape: Dim[], node: string): string => {
    const s = stored.get(v)!;
    if (s.shape.length === shape.length && s.shape.every((d, i) => dimEq(d, shape[i]))) return s.name;
    const name = `${node}#layout${fresh++}`;
    nodes.push({ name, op: 'Reshape', inputs: [s.name], outputs: [name], attrs: { shape: [0, ...shape.slice(1).map((d) => d as number)] } });
    return name;
  };
  const refuse = (ni: NodeInfo, why: string): never => {
    const v = ni.node.inputs.find((x) => computed(x) && !isStandard(groups.get(x)!));
    const follows = '(the runtime follows N through Transpose, Reshape and ops along a last axis without N)';
    if (v === undefined) {
      // Batch-first inputs, an output that is not: the op moves or mixes N itself (a Concat or Reshape over the batch).
      const k = ni.outputs.findIndex((o) => !perSample(o.shape));
      throw new ShapeError(`${OP}: node '${ni.node.name}' (${ni.node.op}): output '${ni.node.outputs[k]}' is ${fmtDims(ni.outputs[k].shape)}, whose batch N is not its first dim; ${why} ${follows}`);
    }
    throw new ArgumentError(`${OP}: node '${ni.node.name}' (${ni.node.op}) reads '${v}' ${fmtDims(info.values.get(v)?.shape ?? [])}, whose batch N is not its first dim; ${why} ${follows}`);
  };

  for (const ni of info.nodes) {
    const { node } = ni;
    const ins = node.inputs.filter(computed);
    const inG = ins.map((v) => groups.get(v)!);
    const outStd = ni.outputs.every((o) => perSample(o.shape));
    /** Records output k: its groups (checked against the analysis) and where it is stored. */
    const put = (k: number, g: Groups, name: string, shape: Dim[]): void => {
      const want = ni.outputs[k].shape;
      if (g.length !== want.length || g.some((grp, i) => !dimEq(dimOf(grp), want[i]))) {
        throw new ArgumentError(`${OP}: node '${node.name}' (${node.op}): batch-first layout ${fmtDims(g.map(dimOf))} does not match its output ${fmtDims(want)}`);
      }
      const y = node.outputs[k];
      groups.set(y, g);
      if (isStandard(g) && !shape.every((d, i) => dimEq(d, want[i]))) {
        // A value back in [N, ...] order is kept under its own shape (the nodes after it are copied as they are).
        const r = `${node.name}#layout${fresh++}`;
        nodes.push({ name: r, op: 'Reshape', inputs: [name], outputs: [r], attrs: { shape: [0, ...want.slice(1).map((d) => d as number)] } });
        stored.set(y, { name: r, shape: [...want] });
      } else stored.set(y, { name, shape });
    };
    if (inG.every(isStandard) && outStd) {
      nodes.push({ ...node, inputs: node.inputs.map((v) => (computed(v) ? as(v, [...info.values.get(v)!.shape], node.name) : v)) });
      node.outputs.forEach((y, k) => {
        groups.set(y, standardGroups(ni.outputs[k].shape));
        stored.set(y, { name: y, shape: [...ni.outputs[k].shape] });
      });
      continue;
    }
    const op = node.op;
    const x = ins[0];
    const g = inG[0];
    const emit = (attrs: GraphNode['attrs'], inputs: string[], outs = node.outputs): void => {
      nodes.push({ ...node, inputs, outputs: outs, attrs });
    };
    if (op === 'Transpose') {
      const perm = ni.attrs.perm as number[];
      const og = perm.map((p) => g[p]);
      // Atom positions: the output's atoms (N excluded) in the input's storage order.
      const ids: number[][] = [];
      let at = 0;
      for (const grp of g) ids.push(grp.filter((a) => a !== 'N').map(() => at++));
      const order = perm.flatMap((p) => ids[p]);
      const inShape = storage(g, () => false);
      const outShape = storage(og, () => false);
      if (order.every((a, i) => a === i)) {
        put(0, og, as(x, inShape, node.name), outShape); // only N moved: the same floats
      } else {
        emit({ perm: [0, ...order.map((a) => a + 1)] }, [as(x, inShape, node.name)]);
        put(0, og, node.outputs[0], outShape);
      }
      continue;
    }
    if (VIEWS.has(op)) {
      const og = regroup(g, ni.outputs[0].shape);
      if (!og) refuse(ni, `the reshape to ${fmtDims(ni.outputs[0].shape)} would split N`);
      put(0, og!, stored.get(x)!.name, stored.get(x)!.shape);
      continue;
    }
    const last = g.length - 1;
    const lastFree = !hasN(g[last]);
    if (ELEMENTWISE.has(op) && ins.length === 1) {
      const s = stored.get(x)!;
      emit(node.attrs, node.inputs.map((v) => (v === x ? s.name : v)));
      put(0, g, node.outputs[0], s.shape);
      continue;
    }
    const constMatrix = op === 'MatMul' && ins.length === 1 && computed(node.inputs[0]) && weights.get(node.inputs[1])?.shape.length === 2;
    if ((op === 'Linear' || op === 'LutLinear' || constMatrix) && lastFree) {
      const sh = storage(g, (i) => i === last);
      const out = ni.outputs[0].shape[ni.outputs[0].shape.length - 1] as number;
      emit(node.attrs, node.inputs.map((v) => (v === x ? as(x, sh, node.name) : v)));
      const og = [...g.slice(0, last), out === 1 ? [] : [out]];
      put(0, og, node.outputs[0], [...sh.slice(0, -1), out]);
      continue;
    }
    if ((op === 'Softmax' || op === 'LayerNorm') && lastFree) {
      const axis = ni.attrs.axis as number;
      if ((axis < 0 ? axis + g.length : axis) !== last) refuse(ni, `${op} along axis ${axis} is not along the last one`);
      const sh = storage(g, (i) => i === last);
      emit({ ...node.attrs, axis: -1 }, node.inputs.map((v) => (v === x ? as(x, sh, node.name) : v)));
      put(0, g, node.outputs[0], sh);
      continue;
    }
    if (op === 'Slice' || op === 'Split') {
      const axes = (op === 'Slice' ? (ni.attrs.axes as number[]) : [ni.attrs.axis as number]).map((a) => (a < 0 ? a + g.length : a));
      if (axes.some((a) => hasN(g[a]))) refuse(ni, `it cuts along the dim that holds N`);
      const sh = storage(g, (i) => axes.includes(i));
      // Storage dims after group a: one per cut group, one per atom of the others.
      const physAxis = (a: number): number => sh.length - 1 - g.reduce((p, grp, i) => (i <= a ? p : p + (axes.includes(i) ? 1 : grp.filter((q) => q !== 'N').length)), 0);
      const attrs = op === 'Slice' ? { ...node.attrs, axes: axes.map(physAxis) } : { ...node.attrs, axis: physAxis(axes[0]) };
      emit(attrs, [as(x, sh, node.name)]);
      node.outputs.forEach((y, k) => {
        const os = ni.outputs[k].shape;
        const og = g.map((grp, i) => (axes.includes(i) ? ((os[i] as number) === 1 ? [] : [os[i] as number]) : grp));
        put(k, og, y, sh.map((d, j) => { const a = axes.find((q) => physAxis(q) === j); return a === undefined ? d : os[a]; }));
      });
      continue;
    }
    if (ARITH.has(op) || op === 'MatMul') {
      const [a, b] = node.inputs;
      if (computed(a) && computed(b)) {
        const [ga, gb] = [groups.get(a)!, groups.get(b)!];
        if (op === 'MatMul') {
          const k = ga.length;
          if (gb.length !== k || k < 3 || ga.slice(-2).some(hasN) || gb.slice(-2).some(hasN) || canon(ga.slice(0, -2)) !== canon(gb.slice(0, -2))) {
            refuse(ni, 'the two operands do not share one batch-first layout');
          }
          const sa = storage(ga, (i) => i >= k - 2);
          const sb = storage(gb, (i) => i >= k - 2);
          emit(node.attrs, [as(a, sa, node.name), as(b, sb, node.name)]);
          const os = ni.outputs[0].shape;
          const m = os[os.length - 2] as number;
          const n = os[os.length - 1] as number;
          put(0, [...ga.slice(0, -2), m === 1 ? [] : [m], n === 1 ? [] : [n]], node.outputs[0], [...sa.slice(0, -2), m, n]);
          continue;
        }
        if (canon(ga) !== canon(gb)) refuse(ni, 'its two operands have different layouts');
        const sh = storage(ga, () => false);
        emit(node.attrs, [as(a, sh, node.name), as(b, sh, node.name)]);
        put(0, ga, node.outputs[0], sh);
        continue;
      }
      // An activation and a constant that spans only trailing dims without N (a scalar, a row).
      const c = weights.get(computed(a) ? b : a)!;
      const cs = [...c.shape];
      while (cs.length > 0 && cs[0] === 1) cs.shift();
      const from = g.length - cs.length;
      if (op !== 'MatMul' && from >= 0 && g.slice(from).every((grp) => !hasN(grp))) {
        const sh = storage(g, (i) => i >= from);
        if (c.shape.length > sh.length) refuse(ni, `the constant ${fmtDims(c.shape)} has more dims than the batch-first value`);
        emit(node.attrs, node.inputs.map((v) => (v === x ? as(x, sh, node.name) : v)));
        put(0, g, node.outputs[0], sh);
        continue;
      }
    }
    refuse(ni, `the runtime cannot run ${op} there`);
  }
  const outputs = info.graph.outputs.map((o) => {
    if (!isStandard(groups.get(o)!)) throw new ShapeError(`${OP}: the graph output '${o}' is ${fmtDims(info.values.get(o)!.shape)}; the runtime gives outputs [N, ...]`);
    return stored.get(o)!.name;
  });
  const graph: Graph = { ...info.graph, nodes, outputs };
  const inits = new Map<string, TensorInfo>();
  for (const [k, t] of weights) {
    const v = info.values.get(k);
    inits.set(k, v ? { shape: v.shape as number[], dtype: v.dtype } : { shape: t.shape, dtype: t.dtype as TensorInfo['dtype'] });
  }
  try {
    return analyzeGraph(graph, inits);
  } catch (e) {
    if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`${OP}: the batch-first form of the graph: ${e.message}`);
    throw e;
  }
}
