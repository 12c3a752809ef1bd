// GraphModel: a graph and its weights run on the engine (training and eval), with parameters and state dicts.
import { ArgumentError, DTypeError, FormatError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import * as ops from '../ops/index.js';
import { globalRng, type Rng } from '../tensor/rng.js';
import { loadStateInto, type LoadStateDictOptions, type LoadStateDictResult } from '../tensor/state.js';
import { Tensor } from '../tensor/tensor.js';
import { analyzeGraph, type GraphInfo, type NodeInfo } from './analyze.js';
import { batchCoef, fmtDims, perSample } from './dims.js';
import type { Graph, TensorInfo } from './types.js';

/** What training code needs of a model (GraphModel, and nn's Module). */
export interface Trainable {
  training: boolean;
  forward(x: Tensor): Tensor;
  train(on?: boolean): unknown;
  eval(): unknown;
  parameters(): Tensor[];
  namedParameters(): [string, Tensor][];
  stateDict(opts?: { copy?: boolean }): Record<string, Tensor>;
  loadStateDict(dict: Record<string, Tensor>, opts?: LoadStateDictOptions): LoadStateDictResult;
}

/** Throws NonFiniteError when the float32 output `t` of node `ni` holds NaN or ±Infinity. */
function requireFiniteOutput(ni: NodeInfo, name: string, t: Tensor): void {
  if (t.dtype !== 'float32') return;
  const d = t.f32;
  for (let i = 0; i < d.length; i++) {
    if (d[i] - d[i] !== 0) {
      const per = t.shape.length > 0 && t.shape[0] > 0 ? d.length / t.shape[0] : d.length;
      throw new NonFiniteError(`node '${ni.node.name}' (${ni.node.op}): output '${name}' ${fmtShape(t.shape)} is ${d[i]} at element ${i} (sample ${Math.floor(i / per)}); the first node whose output is not finite`);
    }
  }
}

/** Called after each node of a run with its inputs and outputs (calibration, analysis). */
export type NodeHook = (node: NodeInfo, inputs: readonly (Tensor | null)[], outputs: readonly Tensor[]) => void;

export interface GraphModelOptions {
  /** Name for errors (a file): errors become FormatErrors naming it. */
  file?: string;
  /** Accept initializers no node reads (dropped); default false: they are an error. */
  dropUnused?: boolean;
}

export class GraphModel implements Trainable {
  training = true;
  /** Randomness of training-mode ops (dropout). */
  rng: Rng = globalRng;
  readonly info: GraphInfo;
  private readonly weights: Map<string, Tensor>;
  /** Per node (in order): the values whose last reader it is (freed after it runs). */
  private readonly frees: string[][];

  private constructor(info: GraphInfo, weights: Map<string, Tensor>) {
    this.info = info;
    this.weights = weights;
    const last = new Map<string, number>();
    info.nodes.forEach((n, i) => n.node.inputs.forEach((v) => last.set(v, i)));
    const outputs = new Set(info.graph.outputs);
    this.frees = info.nodes.map(() => []);
    for (const [v, i] of last) if (!weights.has(v) && !outputs.has(v)) this.frees[i].push(v);
    for (const [name, t] of weights) {
      t.name = name;
      if (info.roles.get(name) === 'param' && !t.requiresGrad) t.requireGrad(true);
    }
  }

  /** Validates `graph` against `weights` (see analyzeGraph) and wraps them; the tensors are used, not copied. */
  static create(graph: Graph, weights: ReadonlyMap<string, Tensor> | Record<string, Tensor>, opts: GraphModelOptions = {}): GraphModel {
    const w = new Map(weights instanceof Map ? weights : Object.entries(weights));
    const infos = new Map<string, TensorInfo>();
    for (const [k, t] of w) {
      if (!(t instanceof Tensor)) throw new ArgumentError(`GraphModel: weight '${k}' is not a Tensor`);
      infos.set(k, { shape: t.shape, dtype: t.dtype });
    }
    const info = analyzeGraph(graph, infos, { file: opts.file });
    if (info.unused.length > 0) {
      if (!opts.dropUnused) {
        const where = opts.file ?? 'GraphModel';
        const list = info.unused.slice(0, 8).map((k) => `'${k}'`).join(', ');
        throw new (opts.file ? FormatError : ArgumentError)(`${where}: tensors ${list}${info.unused.length > 8 ? ` and ${info.unused.length - 8} more` : ''} are not used by the graph`);
      }
      for (const k of info.unused) w.delete(k);
    }
    return new GraphModel(info, w);
  }

  /**
   * Wraps an analysis already made of `weights`' infos (a loader's: analyzeGraph, no unused initializers) without
   * analysing the graph again; the tensors are used, not copied.
   */
  static fromAnalysis(info: GraphInfo, weights: ReadonlyMap<string, Tensor>): GraphModel {
    const w = new Map(weights);
    for (const k of info.roles.keys()) if (!(w.get(k) instanceof Tensor)) throw new ArgumentError(`GraphModel.fromAnalysis: no weight named '${k}'`);
    if (w.size !== info.roles.size) throw new ArgumentError(`GraphModel.fromAnalysis: ${w.size} weights for ${info.roles.size} initializers the graph reads`);
    return new GraphModel(info, w);
  }

  get graph(): Graph {
    return this.info.graph;
  }

  /** Shape of one sample of the (first) graph input when its dim 0 is the batch; null otherwise. */
  get inputShape(): number[] | null {
    return perSample(this.info.graph.inputs[0].shape);
  }

  /** The initializer `name`. */
  weight(name: string): Tensor {
    const t = this.weights.get(name);
    if (!t) throw new ArgumentError(`GraphModel: no weight named '${name}'`);
    return t;
  }

  /** Every initializer by name (graph order of first use). */
  namedWeights(): [string, Tensor][] {
    const seen = new Set<string>();
    const out: [string, Tensor][] = [];
    for (const n of this.info.nodes) {
      for (const v of n.node.inputs) {
        const t = this.weights.get(v);
        if (t && !seen.has(v)) {
          seen.add(v);
          out.push([v, t]);
        }
      }
    }
    return out;
  }

  namedParameters(): [string, Tensor][] {
    return this.namedWeights().filter(([k]) => this.info.roles.get(k) === 'param');
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return this.namedWeights().filter(([k]) => this.info.roles.get(k) === 'buffer');
  }

  numParameters(): number {
    return this.parameters().reduce((a, t) => a + t.size, 0);
  }

  /** Every weight by name; shares storage unless `copy`. */
  stateDict(opts: { copy?: boolean } = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [k, t] of this.namedWeights()) {
      const v = opts.copy ? t.clone() : t.detach();
      v.name = k;
      out[k] = v;
    }
    return out;
  }

  loadStateDict(dict: Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    return loadStateInto(this.stateDict(), dict, opts);
  }

  train(on = true): this {
    this.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** A copy with its own weights (same graph); training mode carried over. */
  clone(): GraphModel {
    const w = new Map<string, Tensor>();
    for (const [k, t] of this.weights) w.set(k, t.clone());
    const m = new GraphModel(this.info, w);
    m.training = this.training;
    return m;
  }

  /** The single output for the single input. */
  forward(x: Tensor): Tensor {
    if (this.info.graph.inputs.length !== 1 || this.info.graph.outputs.length !== 1) {
      throw new ArgumentError(`GraphModel.forward: the graph has ${this.info.graph.inputs.length} inputs and ${this.info.graph.outputs.length} outputs; use run()`);
    }
    return this.run([x])[0];
  }

  /**
   * The graph outputs for inputs in graph order (or by name); `hook` sees every node's inputs and outputs. With
   * `checkFinite`, a node whose float output holds NaN or ±Infinity throws NonFiniteError naming it (the first such
   * node in run order), the element and its sample: one pass over each output.
   */
  run(feeds: readonly Tensor[] | Record<string, Tensor>, opts: { hook?: NodeHook; checkFinite?: boolean } = {}): Tensor[] {
    const g = this.info.graph;
    const env = new Map<string, Tensor>();
    const list = Array.isArray(feeds) ? feeds : g.inputs.map((i) => (feeds as Record<string, Tensor>)[i.name]);
    if (list.length !== g.inputs.length) throw new ArgumentError(`GraphModel.run: expected ${g.inputs.length} inputs, got ${list.length}`);
    let n = -1;
    g.inputs.forEach((inp, i) => {
      const t = list[i];
      if (!(t instanceof Tensor)) throw new ArgumentError(`GraphModel.run: input '${inp.name}' must be a Tensor`);
      if (t.dtype !== inp.dtype) throw new DTypeError(`GraphModel.run: input '${inp.name}' must be ${inp.dtype}, got ${t.dtype}`);
      if (t.ndim !== inp.shape.length) throw new ShapeError(`GraphModel.run: input '${inp.name}' must be ${fmtDims(inp.shape)}, got ${fmtShape(t.shape)}`);
      inp.shape.forEach((d, k) => {
        const coef = batchCoef(d);
        if (coef > 0) {
          if (t.shape[k] % coef !== 0) throw new ShapeError(`GraphModel.run: input '${inp.name}' dim ${k} must be a multiple of ${coef}, got ${fmtShape(t.shape)}`);
          const nk = t.shape[k] / coef;
          if (n >= 0 && nk !== n) throw new ShapeError(`GraphModel.run: inputs disagree on the batch size (${n} vs ${nk})`);
          n = nk;
        } else if (t.shape[k] !== d) {
          throw new ShapeError(`GraphModel.run: input '${inp.name}' must be ${fmtDims(inp.shape)}, got ${fmtShape(t.shape)}`);
        }
      });
      env.set(inp.name, t);
    });
    const get = (v: string): Tensor | null => (v === '' ? null : env.get(v) ?? this.weights.get(v)!);
    this.info.nodes.forEach((ni, i) => {
      // Absent optional inputs (left off at the end, or '') are null, as every record expects.
      const x = ni.def.inputs.map((_, k) => get(ni.node.inputs[k] ?? ''));
      for (let k = ni.def.inputs.length; k < ni.node.inputs.length; k++) x.push(get(ni.node.inputs[k])); // variadic
      let ys: Tensor[];
      try {
        ys = ni.def.forward({ node: ni.node.name, x, attrs: ni.attrs, training: this.training, ops, rng: this.rng });
      } catch (e) {
        // A primitive that meets NaN or Inf (a LUT layer's distances overflowing) says which node it was in.
        if (e instanceof NonFiniteError && !e.message.startsWith('node ')) throw new NonFiniteError(`node '${ni.node.name}' (${ni.node.op}): ${e.message}`);
        throw e;
      }
      if (ys.length !== ni.node.outputs.length) throw new ArgumentError(`node '${ni.node.name}' (${ni.node.op}) gave ${ys.length} outputs, expected ${ni.node.outputs.length}`);
      opts.hook?.(ni, x, ys);
      if (opts.checkFinite) ys.forEach((t, k) => requireFiniteOutput(ni, ni.node.outputs[k], t));
      ni.node.outputs.forEach((o, k) => env.set(o, ys[k]));
      for (const v of this.frees[i]) env.delete(v);
    });
    return g.outputs.map((o) => env.get(o) ?? this.weights.get(o)!);
  }
}

