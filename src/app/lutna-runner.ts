// Running configurations of a quantized model for LUT-NA mixed precision: per-layer widths (recalibrated scales) and LUT multipliers, whole or from a cached prefix.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import { GraphModel, type NodeHook } from '../graph/model.js';
import type { GraphNode } from '../graph/types.js';
import { createMultiplier, type LutMultiplier, type PairRef, type Truncation } from '../hw/multiplier.js';
import { multiplierLayerForward } from '../quant/multiplier-layer.js';
import { Tensor } from '../tensor/tensor.js';
import { countCorrect, evaluateLogits, type Batch, type EvalResult } from '../train/metrics.js';

/** One choice for one layer. */
export interface LayerChoice {
  actBits: number;
  weightBits: number;
  approx: string;
  partsA: number[];
  partsW: number[];
  drop: PairRef[];
  truncate: Truncation[];
  /** The multiplier's name (src/hw/multiplier.ts). */
  design: string;
  energyPerMacPJ: number;
  unitAreaUm2: number;
}

/** The LUT multiplier of a choice. */
export function choiceMultiplier(c: LayerChoice): LutMultiplier {
  return createMultiplier({ bitsA: c.actBits, bitsW: c.weightBits, partsA: c.partsA, partsW: c.partsW, drop: c.drop, truncate: c.truncate });
}

/** Values computed before node `start` and read from it on (the inputs of the model's suffix). */
function liveBefore(model: GraphModel, start: number): string[] {
  const made = new Set<string>(model.info.graph.inputs.map((i) => i.name));
  model.info.nodes.slice(0, start).forEach((n) => n.node.outputs.forEach((o) => made.add(o)));
  const live = new Set<string>();
  for (const n of model.info.nodes.slice(start)) for (const v of n.node.inputs) if (made.has(v)) live.add(v);
  for (const o of model.info.graph.outputs) if (made.has(o)) live.add(o);
  return [...live];
}

/** The model from node `start` on, its inputs the values live before it. */
function suffixModel(model: GraphModel, start: number): GraphModel {
  if (start === 0) return model;
  const inputs = liveBefore(model, start).map((v) => {
    const vi = model.info.values.get(v)!;
    return { name: v, dtype: vi.dtype, shape: [...vi.shape] };
  });
  const nodes = model.info.nodes.slice(start).map((n) => n.node);
  return GraphModel.create({ ...model.info.graph, inputs, nodes }, new Map(model.namedWeights()), { dropUnused: true }).eval();
}

/** A node's index and the values live before it, per batch, computed once by the base model (single-layer changes reuse them). */
export interface PrefixCache {
  start: number;
  inputs: string[];
  feeds: Tensor[][];
  labels: Tensor[];
}

/** Runs configurations of one quantized model: widths and scales changed per layer, products through chosen multipliers. */
export class LutnaRunner {
  private readonly nodes: Map<string, NodeInfo>;
  private readonly multipliers = new Map<string, LutMultiplier>();
  private readonly variants = new Map<string, GraphModel>();
  private readonly suffixes = new Map<string, GraphModel>();

  constructor(readonly base: GraphModel, private readonly actScaleOf: (layer: string, actBits: number) => number) {
    this.nodes = new Map(base.info.nodes.filter((n) => n.node.op === 'QConv' || n.node.op === 'QLinear').map((n) => [n.node.name, n]));
  }

  private multiplier(c: LayerChoice): LutMultiplier {
    const k = JSON.stringify([c.actBits, c.weightBits, c.partsA, c.partsW, c.drop, c.truncate]);
    let m = this.multipliers.get(k);
    if (!m) this.multipliers.set(k, (m = choiceMultiplier(c)));
    return m;
  }

  private widthsKey(config: ReadonlyMap<string, LayerChoice>): string {
    return [...config].filter(([n, c]) => {
      const ni = this.nodes.get(n)!;
      return c.actBits !== ni.attrs.act_bits || c.weightBits !== ni.attrs.weight_bits;
    }).map(([n, c]) => `${n}:${c.actBits}x${c.weightBits}`).join(',');
  }

  /** The model with each configured layer at its widths (act scale recalibrated); other layers as in the base. */
  model(config: ReadonlyMap<string, LayerChoice>): GraphModel {
    const k = this.widthsKey(config);
    if (k === '') return this.base;
    const hit = this.variants.get(k);
    if (hit) return hit;
    const weights = new Map(this.base.namedWeights());
    const nodes: GraphNode[] = this.base.graph.nodes.map((node) => {
      const c = config.get(node.name);
      const ni = this.nodes.get(node.name);
      if (!c || !ni || (c.actBits === ni.attrs.act_bits && c.weightBits === ni.attrs.weight_bits)) return node;
      const scale = ni.attrs.act_bits === c.actBits ? this.base.weight(node.inputs[3]).f32[0] : this.actScaleOf(node.name, c.actBits);
      const scaleName = `${node.inputs[3]}@a${c.actBits}`;
      weights.set(scaleName, new Tensor(Float32Array.of(scale), []));
      return { ...node, inputs: [node.inputs[0], node.inputs[1], node.inputs[2] ?? '', scaleName], attrs: { ...node.attrs, act_bits: c.actBits, weight_bits: c.weightBits } };
    });
    const m = GraphModel.create({ ...this.base.graph, nodes }, weights, { dropUnused: true }).eval();
    if (this.variants.size > 64) this.variants.clear();
    this.variants.set(k, m);
    return m;
  }

  private hook(config: ReadonlyMap<string, LayerChoice>): NodeHook | undefined {
    const approx = new Map([...config].filter(([, c]) => c.approx !== 'exact').map(([n, c]) => [n, this.multiplier(c)]));
    if (approx.size === 0) return undefined;
    return (ni, ins, outs) => {
      const m = approx.get(ni.node.name);
      if (!m) return;
      const r = multiplierLayerForward(ni, ins[0]!, ins[1]!, ins[2] ?? null, ins[3]!.f32[0], m);
      // The node's output is replaced in place before any later node reads it.
      outs[0].f32.set(r.y);
    };
  }

  /** Logits of x under the configuration (approximate layers recomputed through their multipliers). */
  run(config: ReadonlyMap<string, LayerChoice>, x: Tensor): Tensor {
    const model = this.model(config);
    const hook = this.hook(config);
    return noGrad(() => model.run([x], { checkFinite: true, hook })[0]);
  }

  evaluate(config: ReadonlyMap<string, LayerChoice>, batches: Iterable<Batch>, onBatch?: (done: number) => void): EvalResult {
    return evaluateLogits(batches, (x) => this.run(config, x), onBatch);
  }

  /** The values live before layer `layer` for every batch, from the base model. */
  prefix(layer: string, batches: readonly Batch[]): PrefixCache {
    const start = this.base.info.nodes.findIndex((n) => n.node.name === layer);
    if (start < 0) throw new ArgumentError(`lutna: no node '${layer}'`);
    const inputs = liveBefore(this.base, start);
    const feeds: Tensor[][] = [];
    const labels: Tensor[] = [];
    const g = this.base.info.graph;
    noGrad(() => {
      for (const b of batches) {
        const got = new Map<string, Tensor>(g.inputs.map((i) => [i.name, b.x]));
        if (start > 0) {
          // Run the prefix nodes only (a model of nodes [0, start) whose outputs are the live values).
          const pre = this.prefixModel(start, inputs);
          const outs = pre.run([b.x]);
          pre.info.graph.outputs.forEach((o, k) => got.set(o, outs[k]));
        }
        feeds.push(inputs.map((v) => got.get(v)!));
        labels.push(b.y);
      }
    });
    return { start, inputs, feeds, labels };
  }

  private prefixModel(start: number, live: string[]): GraphModel {
    const k = `prefix|${start}`;
    let m = this.suffixes.get(k);
    if (!m) {
      const nodes = this.base.info.nodes.slice(0, start).map((n) => n.node);
      const outputs = live.filter((v) => !this.base.info.graph.inputs.some((i) => i.name === v));
      m = GraphModel.create({ ...this.base.info.graph, nodes, outputs }, new Map(this.base.namedWeights()), { dropUnused: true }).eval();
      this.suffixes.set(k, m);
    }
    return m;
  }

  /** Correct answers of a configuration that agrees with the base before the cache's node, run from that node on. */
  evaluateFrom(config: ReadonlyMap<string, LayerChoice>, cache: PrefixCache): { accuracy: number; n: number } {
    const model = this.model(config);
    const k = `${this.widthsKey(config)}|${cache.start}`;
    let suffix = this.suffixes.get(k);
    if (!suffix) {
      suffix = suffixModel(model, cache.start);
      if (this.suffixes.size > 64) this.suffixes.clear();
      this.suffixes.set(k, suffix);
    }
    const hook = this.hook(config);
    let correct = 0;
    let n = 0;
    noGrad(() => {
      cache.feeds.forEach((f, i) => {
        const y = suffix!.run(f, { checkFinite: true, hook })[0];
        correct += countCorrect(y, cache.labels[i]);
        n += cache.labels[i].shape[0];
      });
    });
    return { accuracy: n ? correct / n : NaN, n };
  }
}
