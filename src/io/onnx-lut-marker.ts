// lutnn's marker of the layers `lutnn export` writes as a decomposition of standard ops, so that `lutnn import` reads
// them back as the layer they were (a LUT layer, not a chain of Sub/Mul/ArgMin/Gather ops).
//
// Marked: every LUT layer (LutLinear, LutConv), and a BatchNorm after one (written in float64 ops to stay
// bit-exact). The export records each in the model's metadata_props under `lutnn.layers`: a JSON list of
// { name, op, attrs, input, output, nodes, tensors } with the IR op and its attributes, the ONNX values the layer
// reads and writes, the names of the ONNX nodes that make it, and the names of its IR tensors in input order (LUT:
// centroids [C,K,V], weight [C,V,M], bias [M] or null, theta []; BatchNorm: weight, bias, running_mean,
// running_var, num_batches_tracked, null when absent). Those tensors (the LUT weight and temperature logit are
// training state no ONNX node reads) are stored in the model's training_info (TrainingInfoProto.initialization, a
// graph named `lutnn.training` holding them as initializers), which inference runtimes ignore. On import, each
// marked layer's nodes are replaced by one node of domain `lutnn` that the records' import rules map back to the IR
// op with the same tensors, so outputs and codes are exactly those of the exported model. A marker whose nodes or
// tensors are missing (a file edited after export) is a FormatError naming the layer.
import { FormatError } from '../errors.js';
import type { DecodedModel, DecodedTensor } from './onnx-decode.js';
import type { IAttr, INode } from './onnx-nodes.js';

export const LUT_MARKER_KEY = 'lutnn.layers';
export const LUT_TRAINING_GRAPH = 'lutnn.training';

/** The IR ops the marker records. */
export const MARKED_OPS = ['LutLinear', 'LutConv', 'BatchNorm'] as const;

/** One exported layer as the marker records it. */
export interface LutMarkerLayer {
  name: string;
  op: (typeof MARKED_OPS)[number];
  /** The IR attributes (null ones left out). */
  attrs: Record<string, number | boolean | string | number[]>;
  input: string;
  output: string;
  nodes: string[];
  /** IR tensors of inputs 1, 2, ... (null for an absent optional one). */
  tensors: (string | null)[];
}

/** The training tensors lutnn's export stored in training_info, by name. */
export function trainingTensors(model: DecodedModel): Map<string, DecodedTensor> {
  const out = new Map<string, DecodedTensor>();
  for (const ti of model.trainingInfo ?? []) {
    const g = ti.initialization;
    if (!g || g.name !== LUT_TRAINING_GRAPH) continue;
    for (const t of g.initializer ?? []) out.set(t.name ?? '', t);
  }
  return out;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 1024;

function parseLayers(json: string, file: string): LutMarkerLayer[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new FormatError(`${file}: metadata ${LUT_MARKER_KEY} is not JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(raw) || raw.length > 100_000) throw new FormatError(`${file}: metadata ${LUT_MARKER_KEY} must be a list of LUT layers`);
  return raw.map((l, i) => {
    const where = `${file}: metadata ${LUT_MARKER_KEY}[${i}]`;
    if (!isObj(l) || !isStr(l.name) || !(MARKED_OPS as readonly unknown[]).includes(l.op) || !isStr(l.input) || !isStr(l.output) || !isObj(l.attrs)) {
      throw new FormatError(`${where} must be { name, op: ${MARKED_OPS.join(' | ')}, attrs, input, output, nodes, tensors }`);
    }
    if (!Array.isArray(l.nodes) || l.nodes.length === 0 || l.nodes.length > 1_000_000 || !l.nodes.every(isStr)) throw new FormatError(`${where} (${l.name}): nodes must be a list of node names`);
    if (!Array.isArray(l.tensors) || l.tensors.length > 16 || !l.tensors.every((t) => t === null || isStr(t))) throw new FormatError(`${where} (${l.name}): tensors must be a list of tensor names (null for an absent input)`);
    for (const [k, v] of Object.entries(l.attrs)) {
      const ok = typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || (Array.isArray(v) && v.length <= 16 && v.every((x) => Number.isInteger(x)));
      if (!ok) throw new FormatError(`${where} (${l.name}): attribute '${k}' must be a number, boolean, string or list of integers`);
    }
    return l as unknown as LutMarkerLayer;
  });
}

function attrOf(v: number | boolean | string | number[]): IAttr {
  if (typeof v === 'boolean') return { kind: 'int', v: v ? 1 : 0 };
  if (typeof v === 'string') return { kind: 'string', v };
  if (Array.isArray(v)) return { kind: 'ints', v: [...v] };
  return Number.isInteger(v) ? { kind: 'int', v } : { kind: 'float', v };
}

/**
 * Replaces each marked layer's nodes by one `lutnn` node of its op type (`LutLinear`, `LutConv`, `BatchNorm`). `dropped` holds the values
 * only the removed nodes defined (a layer's codes); readers of those are dropped with them by the import.
 */
export function applyLutMarker(nodes: INode[], metadata: Readonly<Record<string, string>>, tensors: ReadonlySet<string>, file: string): { nodes: INode[]; layers: number; dropped: Set<string> } {
  const dropped = new Set<string>();
  const json = metadata[LUT_MARKER_KEY];
  if (json === undefined) return { nodes, layers: 0, dropped };
  const layers = parseLayers(json, file);
  const byName = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.name) byName.set(n.name, byName.has(n.name) ? -1 : i);
  });
  const removed = new Set<number>();
  const replacement = new Map<number, INode>();
  for (const l of layers) {
    const where = `${file}: layer '${l.name.slice(0, 200)}' (${l.op}) of the ${LUT_MARKER_KEY} marker`;
    const idx = l.nodes.map((name) => {
      const i = byName.get(name);
      if (i === undefined || i < 0) throw new FormatError(`${where}: node '${name.slice(0, 200)}' is ${i === undefined ? 'not in the graph' : 'not unique'} (was the file edited after lutnn export?)`);
      if (removed.has(i)) throw new FormatError(`${where}: node '${name.slice(0, 200)}' belongs to two LUT layers`);
      return i;
    });
    const outs = new Set(idx.flatMap((i) => nodes[i].outputs));
    if (!outs.has(l.output)) throw new FormatError(`${where}: its nodes do not compute its output '${l.output.slice(0, 200)}'`);
    if (outs.has(l.input)) throw new FormatError(`${where}: its input '${l.input.slice(0, 200)}' is computed inside the layer`);
    for (const t of l.tensors) {
      if (t !== null && !tensors.has(t)) throw new FormatError(`${where}: tensor '${t.slice(0, 200)}' is not in the file's training_info (${LUT_TRAINING_GRAPH})`);
    }
    for (const i of idx) removed.add(i);
    for (const o of outs) if (o !== l.output) dropped.add(o);
    const attrs = new Map<string, IAttr>(Object.entries(l.attrs).map(([k, v]) => [k, attrOf(v)]));
    replacement.set(idx.reduce((a, b) => Math.max(a, b), 0), {
      name: l.name, opType: l.op, domain: 'lutnn', attrs,
      inputs: [l.input, ...l.tensors.map((t) => t ?? '')],
      outputs: [l.output],
    });
  }
  const out: INode[] = [];
  nodes.forEach((n, i) => {
    const r = replacement.get(i);
    if (r) out.push(r);
    else if (!removed.has(i)) out.push(n);
  });
  return { nodes: out, layers: layers.length, dropped };
}
