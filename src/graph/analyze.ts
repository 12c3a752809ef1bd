// Validation of a graph: known ops, checked attributes, every value defined once, no cycles, topological order,
// per-op shape and dtype inference, and the role (trained parameter or buffer) of every initializer.
import { ArgumentError, DTypeError, FormatError, LutnnError, ShapeError } from '../errors.js';
import { checkAttrs } from './attrs.js';
import { fmtDims, isDim, sizePerSample, type Dim } from './dims.js';
import type { InputRole, OpDef } from './op.js';
import { opDef } from './registry.js';
import type { Attrs, Graph, GraphNode, TensorInfo, ValueInfo } from './types.js';

/** Largest number of elements one value may hold per sample (keeps a hostile file from asking for huge buffers). */
export const MAX_VALUE_ELEMENTS = 2 ** 31 - 1;

/** What an initializer is to the model: trained ('param') or carried along ('buffer': statistics, tables, indices). */
export type InitRole = 'param' | 'buffer';

/** A node with its record, checked attributes and the infos of its inputs and outputs. */
export interface NodeInfo {
  node: GraphNode;
  def: OpDef;
  attrs: Attrs;
  inputs: (ValueInfo | null)[];
  outputs: ValueInfo[];
}

export interface GraphInfo {
  /** The graph with its nodes in topological order (stable: file order where dependencies allow). */
  graph: Graph;
  /** The nodes in that order. */
  nodes: NodeInfo[];
  /** Shape and dtype of every value: graph inputs, initializers, node outputs. */
  values: Map<string, ValueInfo>;
  /** The node that defines each node output. */
  producer: Map<string, NodeInfo>;
  /** The nodes that read each value, in order. */
  consumers: Map<string, NodeInfo[]>;
  /** Roles of the initializers the nodes read. */
  roles: Map<string, InitRole>;
  /** Initializers no node reads. */
  unused: string[];
}

export interface AnalyzeOptions {
  /** Report errors as FormatErrors prefixed by this name (a file); otherwise the records' own error classes. */
  file?: string;
}

const nodeWhere = (n: { name: string; op: string }): string => `node '${n.name}' (${n.op})`;

/** Input specs of a node with `count` inputs (the last spec repeats for a variadic op). */
function specsFor(def: OpDef, count: number): InputRole[] {
  const roles = def.inputs.map((s) => s.role);
  if (def.variadic) while (roles.length < count) roles.push(def.inputs[def.inputs.length - 1].role);
  return roles;
}

/**
 * Checks `graph` against its initializers and infers every value's shape. Throws (FormatError naming `file` when
 * given) on: an unknown op, bad attributes, a wrong number of inputs or outputs, a value defined twice or never,
 * a cycle, shapes or dtypes an op does not take, a weight slot fed by a computed value, and values too large.
 */
export function analyzeGraph(graph: Graph, inits: ReadonlyMap<string, TensorInfo>, opts: AnalyzeOptions = {}): GraphInfo {
  try {
    return analyze(graph, inits);
  } catch (e) {
    if (opts.file !== undefined && e instanceof LutnnError && !(e instanceof FormatError)) throw new FormatError(`${opts.file}: ${e.message}`);
    throw e;
  }
}

function analyze(graph: Graph, inits: ReadonlyMap<string, TensorInfo>): GraphInfo {
  const values = new Map<string, ValueInfo>();
  const definedBy = new Map<string, string>();
  const define = (name: string, by: string): void => {
    if (typeof name !== 'string' || name === '') throw new ArgumentError(`graph: ${by} defines a value with an empty name`);
    const prev = definedBy.get(name);
    if (prev !== undefined) throw new ArgumentError(`graph: value '${name}' is defined twice (by ${prev} and by ${by})`);
    definedBy.set(name, by);
  };
  for (const [name, t] of inits) {
    define(name, `initializer '${name}'`);
    values.set(name, { shape: [...t.shape], dtype: t.dtype });
  }
  if (graph.inputs.length === 0) throw new ArgumentError('graph: no inputs');
  for (const inp of graph.inputs) {
    define(inp.name, `graph input '${inp.name}'`);
    if (!Array.isArray(inp.shape) || !inp.shape.every(isDim)) throw new ShapeError(`graph: input '${inp.name}' has an invalid shape ${JSON.stringify(inp.shape)}`);
    values.set(inp.name, { shape: [...inp.shape], dtype: inp.dtype });
  }

  // Records, attributes and arity first, so that the ordering below works on checked nodes.
  const names = new Set<string>();
  const pending: { node: GraphNode; def: OpDef; attrs: Attrs; index: number }[] = graph.nodes.map((node, index) => {
    if (typeof node.name !== 'string' || node.name === '') throw new ArgumentError(`graph: node ${index} has no name`);
    if (names.has(node.name)) throw new ArgumentError(`graph: two nodes are named '${node.name}'`);
    names.add(node.name);
    const def = opDef(node.op);
    if (!def) throw new ArgumentError(`graph: ${nodeWhere(node)}: unknown op '${node.op}'`);
    const where = nodeWhere(node);
    const attrs = checkAttrs<Attrs>(where, def.attrs, node.attrs);
    const n = node.inputs.length;
    const required = def.inputs.filter((s) => !s.optional).length;
    if (def.variadic ? n < def.variadic.min : n > def.inputs.length || n < required) {
      const want = def.variadic ? `at least ${def.variadic.min}` : required === def.inputs.length ? `${required}` : `${required}..${def.inputs.length}`;
      throw new ArgumentError(`${where}: takes ${want} inputs (${def.inputs.map((s) => s.name).join(', ')}), got ${n}`);
    }
    node.inputs.forEach((v, i) => {
      const spec = def.inputs[Math.min(i, def.inputs.length - 1)];
      if (v === '' && !spec.optional) throw new ArgumentError(`${where}: input ${i} (${spec.name}) is required but empty`);
    });
    const outs = typeof def.outputs === 'number' ? def.outputs : def.outputs(attrs);
    if (node.outputs.length !== outs) throw new ArgumentError(`${where}: has ${outs} output${outs === 1 ? '' : 's'}, got ${node.outputs.length}`);
    node.outputs.forEach((o) => define(o, where));
    return { node, def, attrs, index };
  });
  for (const p of pending) {
    for (const v of p.node.inputs) {
      if (v !== '' && !definedBy.has(v)) throw new ArgumentError(`graph: ${nodeWhere(p.node)} reads '${v}', which no input, initializer or node defines`);
    }
  }

  // Topological order (Kahn), stable in file order.
  const producerIndex = new Map<string, number>();
  pending.forEach((p, i) => p.node.outputs.forEach((o) => producerIndex.set(o, i)));
  const waiting = pending.map((p) => new Set(p.node.inputs.filter((v) => producerIndex.has(v)).map((v) => producerIndex.get(v)!)).size);
  const dependents = pending.map(() => [] as number[]);
  pending.forEach((p, i) => {
    for (const j of new Set(p.node.inputs.filter((v) => producerIndex.has(v)).map((v) => producerIndex.get(v)!))) dependents[j].push(i);
  });
  const ready = new MinHeap();
  pending.forEach((_, i) => waiting[i] === 0 && ready.push(i));
  const order: number[] = [];
  while (ready.size > 0) {
    const i = ready.pop();
    order.push(i);
    for (const j of dependents[i]) if (--waiting[j] === 0) ready.push(j);
  }
  if (order.length < pending.length) {
    const stuck = pending.filter((_, i) => waiting[i] > 0).map((p) => `'${p.node.name}'`);
    throw new ArgumentError(`graph: cycle among nodes ${stuck.slice(0, 8).join(', ')}${stuck.length > 8 ? ` and ${stuck.length - 8} more` : ''}`);
  }

  const trainable = new Set(graph.params ?? []);
  for (const p of trainable) {
    const t = inits.get(p);
    if (!t) throw new ArgumentError(`graph: params lists '${p}', which is not an initializer`);
    if (t.dtype !== 'float32') throw new DTypeError(`graph: params lists '${p}', which is ${t.dtype}; trained weights are float32`);
  }

  // Shapes, dtypes, roles, in order.
  const roles = new Map<string, InitRole>();
  const nodes: NodeInfo[] = [];
  const producer = new Map<string, NodeInfo>();
  const consumers = new Map<string, NodeInfo[]>();
  for (const i of order) {
    const { node, def, attrs } = pending[i];
    const where = nodeWhere(node);
    const roleList = specsFor(def, node.inputs.length);
    const inputs = node.inputs.map((v, k) => {
      if (v === '') return null;
      const spec = def.inputs[Math.min(k, def.inputs.length - 1)];
      const info = values.get(v)!;
      const dtypes = spec.dtypes ?? ['float32'];
      if (!dtypes.includes(info.dtype)) throw new DTypeError(`${where}: input '${spec.name}' ('${v}') must be ${dtypes.join(' or ')}, got ${info.dtype}`);
      const isInit = inits.has(v);
      const role = roleList[k];
      if (role !== 'data' && !isInit) throw new ArgumentError(`${where}: input '${spec.name}' must be an initializer (a ${role}), got the computed value '${v}'`);
      if (isInit) {
        const r: InitRole = role === 'param' || (role === 'data' && trainable.has(v)) ? 'param' : 'buffer';
        if (role === 'buffer' && trainable.has(v)) throw new ArgumentError(`${where}: initializer '${v}' is listed in the graph's params but is a buffer of this node`);
        const prev = roles.get(v);
        if (prev !== undefined && prev !== r) throw new ArgumentError(`${where}: initializer '${v}' is a ${r} here but a ${prev} for another node`);
        roles.set(v, r);
      }
      return info;
    });
    let outputs: ValueInfo[];
    try {
      outputs = def.infer({ node: node.name, inputs, attrs });
    } catch (e) {
      if (e instanceof LutnnError) {
        const msg = e.message.startsWith(`${node.name}: `) ? e.message.slice(node.name.length + 2) : e.message;
        throw new (e.constructor as typeof LutnnError)(`${where}: ${msg}`);
      }
      throw e;
    }
    outputs.forEach((o, k) => {
      if (!o.shape.every(isDim)) throw new ShapeError(`${where}: output ${k} has an invalid shape ${fmtDims(o.shape as Dim[])}`);
      const n = sizePerSample(o.shape);
      if (!(n <= MAX_VALUE_ELEMENTS)) throw new ShapeError(`${where}: output ${fmtDims(o.shape)} holds ${n} elements per sample, more than ${MAX_VALUE_ELEMENTS}`);
      values.set(node.outputs[k], o);
    });
    const info: NodeInfo = { node: { ...node, attrs }, def, attrs, inputs, outputs };
    nodes.push(info);
    node.outputs.forEach((o) => producer.set(o, info));
    for (const v of new Set(node.inputs)) {
      if (v === '') continue;
      const list = consumers.get(v);
      if (list) list.push(info);
      else consumers.set(v, [info]);
    }
  }
  if (graph.outputs.length === 0) throw new ArgumentError('graph: no outputs');
  const outSeen = new Set<string>();
  for (const o of graph.outputs) {
    if (!values.has(o)) throw new ArgumentError(`graph: output '${o}' is not defined by any node or input`);
    if (outSeen.has(o)) throw new ArgumentError(`graph: output '${o}' is listed twice`);
    outSeen.add(o);
  }
  const unused = [...inits.keys()].filter((k) => !roles.has(k));
  return {
    graph: { inputs: graph.inputs, nodes: nodes.map((n) => n.node), outputs: graph.outputs, ...(trainable.size ? { params: [...trainable] } : {}) },
    nodes, values, producer, consumers, roles, unused,
  };
}

/** A binary min-heap of node indices: the topological order takes the earliest ready node in O(log n). */
class MinHeap {
  private readonly a: number[] = [];

  get size(): number {
    return this.a.length;
  }

  push(v: number): void {
    const a = this.a;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p] <= a[i]) break;
      [a[p], a[i]] = [a[i], a[p]];
      i = p;
    }
  }

  pop(): number {
    const a = this.a;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l] < a[m]) m = l;
        if (r < a.length && a[r] < a[m]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
}
