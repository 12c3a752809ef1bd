// Writing graphs in code: the OpSink interface modules lower into, and GraphBuilder, the sink that records a graph.
import { ArgumentError, LutnnError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkAttrs } from './attrs.js';
import { fmtDims, type Dim } from './dims.js';
import { opDef } from './registry.js';
import type { Attrs, Graph, GraphNode, IrDType, OpType, ValueInfo } from './types.js';

/** A value while a model is written: its name and info, and in an eager sink its tensor. */
export interface Value {
  readonly name: string;
  readonly info: ValueInfo;
  readonly tensor?: Tensor;
}

/**
 * Where modules write their computation. A recording sink (GraphBuilder) builds a graph; an eager sink (src/graph/
 * eager.ts) runs each op's engine forward at once. A module's `lower` works with either, so one description of a
 * layer gives both its graph nodes and its eager forward.
 */
export interface OpSink {
  readonly eager: boolean;
  /** Training-mode semantics (batch statistics, dropout) of an eager sink; false for a recording one. */
  readonly training: boolean;
  /** A weight under its PyTorch-style name (the same tensor under the same name gives the same value). */
  weight(name: string, t: Tensor): Value;
  /** Applies `op`; `name` names the node (made unique with #2, #3, ...). Returns the outputs. */
  op(op: OpType, inputs: readonly (Value | null)[], attrs?: Attrs, name?: string): Value[];
}

/** Joins a module path and a child name ('' is the root). */
export function subPath(path: string, child: string): string {
  return path === '' ? child : `${path}.${child}`;
}

/** Records a graph: each op's attributes and shapes are checked when it is added (errors name the node). */
export class GraphBuilder implements OpSink {
  readonly eager = false;
  readonly training = false;
  private readonly inputs: Graph['inputs'] = [];
  private readonly nodes: GraphNode[] = [];
  private readonly outputs: string[] = [];
  private readonly weights = new Map<string, Tensor>();
  private readonly infos = new Map<string, ValueInfo>();
  private readonly nodeNames = new Set<string>();

  /** A graph input; its shape's dim 0 is normally the batch "N". */
  input(name: string, dtype: IrDType, shape: readonly Dim[]): Value {
    this.claim(name, `graph input '${name}'`);
    const info = { shape: [...shape], dtype };
    this.inputs.push({ name, dtype, shape: [...shape] });
    this.infos.set(name, info);
    return { name, info };
  }

  weight(name: string, t: Tensor): Value {
    const prev = this.weights.get(name);
    if (prev !== undefined) {
      if (prev !== t) throw new ArgumentError(`GraphBuilder: two different tensors are named '${name}'`);
      return { name, info: this.infos.get(name)! };
    }
    this.claim(name, `weight '${name}'`);
    const info: ValueInfo = { shape: [...t.shape], dtype: t.dtype };
    this.weights.set(name, t);
    this.infos.set(name, info);
    return { name, info };
  }

  op(op: OpType, inputs: readonly (Value | null)[], attrs: Attrs = {}, name?: string): Value[] {
    const def = opDef(op);
    if (!def) throw new ArgumentError(`GraphBuilder: unknown op '${op}'`);
    const node = this.uniqueNode(name ?? op.toLowerCase());
    const where = `node '${node}' (${op})`;
    const checked = checkAttrs<Attrs>(where, def.attrs, attrs);
    let ins = [...inputs];
    while (ins.length > 0 && ins[ins.length - 1] === null) ins = ins.slice(0, -1);
    for (const v of ins) if (v && this.infos.get(v.name) !== v.info) throw new ArgumentError(`${where}: input '${v.name}' does not belong to this graph`);
    let outs: ValueInfo[];
    try {
      outs = def.infer({ node, inputs: ins.map((v) => v?.info ?? null), attrs: checked });
    } catch (e) {
      if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`${where}: ${e.message.replace(`${node}: `, '')}`);
      throw e;
    }
    const names = outs.map((_, i) => this.uniqueValue(outs.length === 1 ? node : `${node}:${i}`));
    names.forEach((n, i) => this.infos.set(n, outs[i]));
    this.nodes.push({ name: node, op, inputs: ins.map((v) => v?.name ?? ''), outputs: names, attrs: checked });
    return names.map((n, i) => ({ name: n, info: outs[i] }));
  }

  /** Marks `v` as a graph output. */
  output(v: Value): void {
    if (this.infos.get(v.name) !== v.info) throw new ArgumentError(`GraphBuilder: output '${v.name}' does not belong to this graph`);
    this.outputs.push(v.name);
  }

  /** The graph and its weights by name. */
  build(): { graph: Graph; weights: Map<string, Tensor> } {
    if (this.outputs.length === 0) throw new ArgumentError('GraphBuilder: the graph has no outputs');
    // Weights that require grad and are read in a data slot (a position embedding) are listed as trained params.
    const params = new Set<string>();
    for (const n of this.nodes) {
      const def = opDef(n.op)!;
      n.inputs.forEach((v, i) => {
        const spec = def.inputs[Math.min(i, def.inputs.length - 1)];
        if (spec.role === 'data' && this.weights.get(v)?.requiresGrad) params.add(v);
      });
    }
    const graph: Graph = { inputs: [...this.inputs], nodes: [...this.nodes], outputs: [...this.outputs], ...(params.size ? { params: [...params] } : {}) };
    return { graph, weights: new Map(this.weights) };
  }

  private claim(name: string, what: string): void {
    if (typeof name !== 'string' || name === '') throw new ArgumentError(`GraphBuilder: ${what} needs a non-empty name`);
    if (this.infos.has(name)) throw new ArgumentError(`GraphBuilder: ${what}: the name is already used (${fmtDims(this.infos.get(name)!.shape)})`);
  }

  private uniqueNode(base: string): string {
    let n = base;
    for (let i = 2; this.nodeNames.has(n) || this.infos.has(n); i++) n = `${base}#${i}`;
    this.nodeNames.add(n);
    return n;
  }

  private uniqueValue(base: string): string {
    let n = base;
    for (let i = 2; this.infos.has(n); i++) n = `${base}#${i}`;
    return n;
  }
}
