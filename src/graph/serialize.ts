// The graph IR as JSON (a model file's metadata): writing, and reading untrusted JSON with structural checks and limits.
import { FormatError } from '../errors.js';
import { isDim } from './dims.js';
import { IR_DTYPES, OP_TYPES, type AttrValue, type Graph, type GraphInput, type GraphNode, type IrDType, type OpType } from './types.js';

/**
 * Limits of a graph read from a file: beyond them it is rejected before anything is built. 50,000 nodes keep every
 * path under a few seconds (a 50,000-node chain loads on the engine or the runtime in about 1 s of CPU; at 100,000
 * the runtime took up to 4 s on a loaded 2-core machine); lutnn's largest graphs have a few thousand.
 */
export const GRAPH_LIMITS = { nodes: 50_000, inputsPerNode: 4096, outputsPerNode: 4096, nameLength: 1024, rank: 16, graphIO: 1024 } as const;

export interface GraphJson {
  inputs: { name: string; dtype: IrDType; shape: (number | string)[] }[];
  nodes: { name: string; op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, AttrValue> }[];
  outputs: string[];
  params?: string[];
}

/** JSON-ready copy of `graph` (attributes without defaults are kept as given). */
export function graphToJson(graph: Graph): GraphJson {
  return {
    inputs: graph.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: [...i.shape] })),
    nodes: graph.nodes.map((n) => {
      const attrs: Record<string, AttrValue> = {};
      for (const [k, v] of Object.entries(n.attrs)) attrs[k] = Array.isArray(v) ? [...v] : v;
      return { name: n.name, op: n.op, inputs: [...n.inputs], outputs: [...n.outputs], attrs };
    }),
    outputs: [...graph.outputs],
    ...(graph.params && graph.params.length ? { params: [...graph.params] } : {}),
  };
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function name(where: string, v: unknown, emptyOk = false): string {
  if (typeof v !== 'string' || (!emptyOk && v === '') || v.length > GRAPH_LIMITS.nameLength) {
    throw new FormatError(`${where} must be a ${emptyOk ? '' : 'non-empty '}string of at most ${GRAPH_LIMITS.nameLength} characters, got ${typeof v === 'string' ? `${v.length} characters` : JSON.stringify(v)?.slice(0, 60)}`);
  }
  return v;
}

function list(where: string, v: unknown, max: number): unknown[] {
  if (!Array.isArray(v)) throw new FormatError(`${where} must be an array`);
  if (v.length > max) throw new FormatError(`${where} has ${v.length} entries, at most ${max} allowed`);
  return v;
}

function attrValue(where: string, v: unknown): AttrValue {
  if (v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'number') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return v as number[];
  throw new FormatError(`${where} must be a number, boolean, string, null or a list of numbers`);
}

/** Reads a graph from parsed JSON (untrusted): types, names, limits. Semantics are checked by analyzeGraph. */
export function graphFromJson(json: unknown, file: string): Graph {
  const at = `${file}: graph`;
  if (!isObj(json)) throw new FormatError(`${at} must be an object { inputs, nodes, outputs }`);
  const inputs: GraphInput[] = list(`${at}.inputs`, json.inputs, GRAPH_LIMITS.graphIO).map((v, i) => {
    const w = `${at}.inputs[${i}]`;
    if (!isObj(v)) throw new FormatError(`${w} must be an object { name, dtype, shape }`);
    const dtype = v.dtype;
    if (typeof dtype !== 'string' || !(IR_DTYPES as readonly string[]).includes(dtype)) throw new FormatError(`${w}.dtype must be one of ${IR_DTYPES.join(', ')}, got ${JSON.stringify(dtype)}`);
    const shape = list(`${w}.shape`, v.shape, GRAPH_LIMITS.rank);
    shape.forEach((d, k) => {
      if (!isDim(d)) throw new FormatError(`${w}.shape[${k}] must be a non-negative integer or a batch dim like "N", got ${JSON.stringify(d)}`);
    });
    return { name: name(`${w}.name`, v.name), dtype: dtype as IrDType, shape: shape as (number | string)[] };
  });
  const nodes: GraphNode[] = list(`${at}.nodes`, json.nodes, GRAPH_LIMITS.nodes).map((v, i) => {
    const w = `${at}.nodes[${i}]`;
    if (!isObj(v)) throw new FormatError(`${w} must be an object { name, op, inputs, outputs, attrs }`);
    const op = v.op;
    if (typeof op !== 'string' || !(OP_TYPES as readonly string[]).includes(op)) {
      throw new FormatError(`${w} ('${typeof v.name === 'string' ? v.name.slice(0, 80) : '?'}'): unknown op ${JSON.stringify(op)?.slice(0, 80)} (known: ${OP_TYPES.join(', ')})`);
    }
    const attrs: Record<string, AttrValue> = {};
    if (v.attrs !== undefined) {
      if (!isObj(v.attrs)) throw new FormatError(`${w}.attrs must be an object`);
      const keys = Object.keys(v.attrs);
      if (keys.length > 64) throw new FormatError(`${w}.attrs has ${keys.length} keys, at most 64 allowed`);
      for (const k of keys) {
        const a = v.attrs[k];
        if (Array.isArray(a)) list(`${w}.attrs.${k}`, a, 4096);
        attrs[k] = attrValue(`${w}.attrs.${k}`, a);
      }
    }
    return {
      name: name(`${w}.name`, v.name),
      op: op as OpType,
      inputs: list(`${w}.inputs`, v.inputs, GRAPH_LIMITS.inputsPerNode).map((x, k) => name(`${w}.inputs[${k}]`, x, true)),
      outputs: list(`${w}.outputs`, v.outputs, GRAPH_LIMITS.outputsPerNode).map((x, k) => name(`${w}.outputs[${k}]`, x)),
      attrs,
    };
  });
  const outputs = list(`${at}.outputs`, json.outputs, GRAPH_LIMITS.graphIO).map((x, k) => name(`${at}.outputs[${k}]`, x));
  if (json.params === undefined) return { inputs, nodes, outputs };
  const params = list(`${at}.params`, json.params, GRAPH_LIMITS.nodes).map((x, k) => name(`${at}.params[${k}]`, x));
  return { inputs, nodes, outputs, params };
}
