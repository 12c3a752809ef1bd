// Version 1 model files: their `Sequential` architecture (a tree of typed modules) converted to the graph IR on load.
import { FormatError } from '../errors.js';
import { BATCH, type Dim } from '../graph/dims.js';
import type { AttrValue, Graph, GraphNode, OpType } from '../graph/types.js';

/** Deepest module nesting a version 1 file may have (lutnn wrote 2 levels). */
const MAX_DEPTH = 64;
const MAX_MODULES = 50_000; // as the graph's node limit (src/graph/serialize.ts)

type Args = Record<string, unknown>;
/** One leaf type: its op, its attributes from the v1 args, and its weights (suffixes; '' marks an absent optional one). */
type Leaf = {
  op: OpType;
  attrs: (a: Args) => Record<string, AttrValue>;
  weights: (a: Args, has: (s: string) => boolean) => string[];
  /** The weight shapes the v1 constructor arguments imply (checked against the file's tensors, as the v1 loader did). */
  shapes?: (a: Args) => Record<string, unknown[]>;
} | null;

const none = (): Record<string, AttrValue> => ({});
const pick = (a: Args, ...keys: string[]): Record<string, AttrValue> => Object.fromEntries(keys.map((k) => [k, a[k] as AttrValue]));
const withBias = (a: Args, ...before: string[]): string[] => [...before, a.bias === false ? '' : 'bias'];
const window = (a: Args): Record<string, AttrValue> => ({ kernel: a.kernel as AttrValue, stride: a.stride as AttrValue, padding: a.padding as AttrValue });
const pairOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v, v]);
const div = (a: unknown, b: unknown): unknown => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? a / b : NaN);
const mul = (...v: unknown[]): unknown => v.reduce((p: unknown, q) => (typeof p === 'number' && typeof q === 'number' ? p * q : NaN), 1);
const lutShapes = (D: unknown, M: unknown, a: Args): Record<string, unknown[]> => ({
  centroids: [div(D, a.subvecLen), a.k, a.subvecLen], weight: [div(D, a.subvecLen), a.subvecLen, M], bias: [M], theta: [],
});

/** v1 module types (nn/spec.ts and the LUT modules' registrations of lutnn 0.1) → IR ops; null: writes no node. */
const LEAVES: Record<string, Leaf> = {
  Linear: { op: 'Linear', attrs: none, weights: (a) => withBias(a, 'weight'), shapes: (a) => ({ weight: [a.outFeatures, a.inFeatures], bias: [a.outFeatures] }) },
  Conv2d: {
    op: 'Conv',
    attrs: (a) => pick(a, 'stride', 'padding', 'dilation', 'groups'),
    weights: (a) => withBias(a, 'weight'),
    shapes: (a) => ({ weight: [a.outChannels, div(a.inChannels, a.groups), ...pairOf(a.kernelSize)], bias: [a.outChannels] }),
  },
  BatchNorm2d: {
    op: 'BatchNorm',
    attrs: (a) => pick(a, 'eps', 'momentum'),
    weights: (_a, has) => ['weight', 'bias', 'running_mean', 'running_var', has('num_batches_tracked') ? 'num_batches_tracked' : ''],
    shapes: (a) => ({ weight: [a.numFeatures], bias: [a.numFeatures], running_mean: [a.numFeatures], running_var: [a.numFeatures], num_batches_tracked: [] }),
  },
  LayerNorm: { op: 'LayerNorm', attrs: (a) => ({ axis: Array.isArray(a.normalizedShape) ? -a.normalizedShape.length : (a.normalizedShape as AttrValue), eps: a.eps as AttrValue }), weights: () => ['weight', 'bias'] },
  ReLU: { op: 'Relu', attrs: none, weights: () => [] },
  GELU: { op: 'Gelu', attrs: none, weights: () => [] },
  Identity: null,
  Dropout: { op: 'Dropout', attrs: (a) => pick(a, 'p'), weights: () => [] },
  GlobalAvgPool2d: { op: 'GlobalAveragePool', attrs: none, weights: () => [] },
  Flatten: { op: 'Flatten', attrs: (a) => ({ start: a.startDim as AttrValue, end: a.endDim as AttrValue }), weights: () => [] },
  MaxPool2d: { op: 'MaxPool', attrs: window, weights: () => [] },
  AvgPool2d: { op: 'AveragePool', attrs: window, weights: () => [] },
  LutLinear: {
    op: 'LutLinear',
    attrs: (a) => pick(a, 'metric', 'quantize'),
    weights: (a) => [...withBias(a, 'centroids', 'weight'), 'theta'],
    shapes: (a) => lutShapes(a.inFeatures, a.outFeatures, a),
  },
  LutConv2d: {
    op: 'LutConv',
    attrs: (a) => pick(a, 'kernel', 'stride', 'padding', 'dilation', 'metric', 'quantize'),
    weights: (a) => [...withBias(a, 'centroids', 'weight'), 'theta'],
    shapes: (a) => lutShapes(mul(a.cin, ...pairOf(a.kernel)), a.cout, a),
  },
  MaddnessLinear: {
    op: 'MaddnessLinear',
    attrs: none,
    weights: (a) => withBias(a, 'split_dims', 'thresholds', 'table', 'table_scale'),
    shapes: (a) => ({ table: [div(a.inFeatures, a.subvecLen), 16, a.outFeatures], bias: [a.outFeatures] }),
  },
  MaddnessConv2d: {
    op: 'MaddnessConv',
    attrs: (a) => pick(a, 'kernel', 'stride', 'padding', 'dilation'),
    weights: (a) => withBias(a, 'split_dims', 'thresholds', 'table', 'table_scale'),
    shapes: (a) => ({ table: [div(mul(a.cin, ...pairOf(a.kernel)), a.subvecLen), 16, a.cout], bias: [a.cout] }),
  },
};

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The graph of a version 1 architecture `{ format: 'lutnn-arch', version: 1, root }` for inputs [N, ...inputShape]:
 * the leaves of its nested Sequentials in order, one node each (named by the dotted module path, as the weights
 * are), each reading the previous one's output. Checks the tree's form here; attributes and shapes are checked
 * when the graph is analysed, as for any graph.
 */
export function graphFromV1(arch: unknown, inputShape: readonly number[], tensorShapes: ReadonlyMap<string, readonly number[]>, file: string): Graph {
  if (!isObj(arch) || arch.format !== 'lutnn-arch') throw new FormatError(`${file}: arch must be { format: 'lutnn-arch', version: 1, root }`);
  if (arch.version !== 1) throw new FormatError(`${file}: arch version ${JSON.stringify(arch.version)}, expected 1`);
  const nodes: GraphNode[] = [];
  let prev = 'input';
  let count = 0;
  const walk = (spec: unknown, path: string, depth: number): void => {
    const where = `${file}: arch ${path || 'root'}`;
    if (depth > MAX_DEPTH) throw new FormatError(`${where}: modules nested more than ${MAX_DEPTH} deep`);
    if (++count > MAX_MODULES) throw new FormatError(`${file}: arch has more than ${MAX_MODULES} modules`);
    if (!isObj(spec)) throw new FormatError(`${where} must be an object { type, args, children }`);
    const type = spec.type;
    const args = spec.args ?? {};
    const children = spec.children ?? [];
    if (typeof type !== 'string') throw new FormatError(`${where}: type must be a string`);
    if (!isObj(args)) throw new FormatError(`${where} (${type}): args must be an object`);
    if (!Array.isArray(children)) throw new FormatError(`${where} (${type}): children must be an array`);
    if (type === 'Sequential') {
      const names = new Set<string>();
      children.forEach((c, i) => {
        const name = isObj(c) ? c.name : undefined;
        if (typeof name !== 'string' || !/^[A-Za-z0-9_]+$/.test(name)) throw new FormatError(`${where}: children[${i}] needs a name of letters, digits or '_'`);
        if (names.has(name)) throw new FormatError(`${where}: two children are named '${name}'`);
        names.add(name);
        walk(c, path ? `${path}.${name}` : name, depth + 1);
      });
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(LEAVES, type)) throw new FormatError(`${where}: unknown module type '${type}' (known: Sequential, ${Object.keys(LEAVES).join(', ')})`);
    if (children.length > 0) throw new FormatError(`${where} (${type}) has children but is a leaf layer`);
    const leaf = LEAVES[type];
    if (leaf === null) return;
    const w = (s: string): string => (path ? `${path}.${s}` : s);
    const weights = leaf.weights(args, (s) => tensorShapes.has(w(s)));
    for (const [suffix, want] of Object.entries(leaf.shapes?.(args) ?? {})) {
      const got = tensorShapes.get(w(suffix));
      if (!weights.includes(suffix) || got === undefined) continue; // absent weights are reported by the graph analysis
      if (got.length !== want.length || got.some((d, i) => d !== want[i])) {
        throw new FormatError(`${where} (${type}): tensor '${w(suffix)}' is [${got.join(',')}] but the module's arguments give [${want.join(',')}]`);
      }
    }
    const inputs = [prev, ...weights.map((s) => (s === '' ? '' : w(s)))];
    while (inputs[inputs.length - 1] === '') inputs.pop();
    const name = path || type.toLowerCase();
    nodes.push({ name, op: leaf.op, inputs, outputs: [name], attrs: leaf.attrs(args) });
    prev = name;
  };
  walk(arch.root, '', 0);
  if (nodes.length === 0) throw new FormatError(`${file}: the architecture has no layer`);
  return { inputs: [{ name: 'input', dtype: 'float32', shape: [BATCH, ...inputShape] as Dim[] }], nodes, outputs: [prev] };
}
