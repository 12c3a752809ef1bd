// The ONNX import's working form of a graph: nodes with typed attributes, topological order with cycle and
// undefined-input checks, attribute readers that name the node in errors, and name sanitising.
import { FormatError } from '../errors.js';
import type { OnnxAttrReader } from '../graph/op.js';
import type { DecodedAttribute, DecodedNode, DecodedTensor } from './onnx-decode.js';

export type IAttr =
  | { kind: 'int'; v: number }
  | { kind: 'float'; v: number }
  | { kind: 'ints'; v: number[] }
  | { kind: 'floats'; v: number[] }
  | { kind: 'string'; v: string }
  | { kind: 'tensor'; v: DecodedTensor }
  | { kind: 'other'; type: number };

/** One ONNX node as the import works on it (fusion passes add nodes of this form). */
export interface INode {
  /** The node's name in the file ('' when it has none). */
  name: string;
  opType: string;
  /** '' for the default ONNX domain ('ai.onnx' is read as ''). */
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, IAttr>;
}

const ATTR_KIND: Readonly<Record<number, IAttr['kind']>> = { 1: 'float', 2: 'int', 3: 'string', 4: 'tensor', 6: 'floats', 7: 'ints' };
const decoder = new TextDecoder('utf-8', { fatal: false });

function attrOf(a: DecodedAttribute): IAttr {
  let type = a.type ?? 0;
  if (type === 0) {
    // Files of IR version < 3 may leave the type out: the field that is set tells it.
    if (a.t) type = 4;
    else if (a.ints?.length) type = 7;
    else if (a.floats?.length) type = 6;
    else if (a.s?.length) type = 3;
    else if (a.i !== undefined && a.i !== 0) type = 2;
    else type = 1;
  }
  switch (ATTR_KIND[type]) {
    case 'float': return { kind: 'float', v: a.f ?? 0 };
    case 'int': return { kind: 'int', v: a.i ?? 0 };
    case 'string': return { kind: 'string', v: decoder.decode(a.s ?? new Uint8Array(0)) };
    case 'tensor': return a.t ? { kind: 'tensor', v: a.t } : { kind: 'other', type };
    case 'floats': return { kind: 'floats', v: [...(a.floats ?? [])] };
    case 'ints': return { kind: 'ints', v: [...(a.ints ?? [])] };
    default: return { kind: 'other', type };
  }
}

/** The working node of a decoded node. */
export function nodeOf(n: DecodedNode): INode {
  const attrs = new Map<string, IAttr>();
  for (const a of n.attribute ?? []) attrs.set(a.name ?? '', attrOf(a));
  const domain = n.domain === 'ai.onnx' ? '' : n.domain ?? '';
  return { name: n.name ?? '', opType: n.opType ?? '', domain, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
}

/** How a node is named in messages: its name, or its op type and position. */
export function nodeLabel(n: INode, index: number): string {
  return n.name ? `'${n.name.slice(0, 200)}' (${n.opType.slice(0, 80)})` : `#${index} (${n.opType.slice(0, 80)})`;
}

/** Reads a node's attributes with ONNX defaults; a missing required one or one of the wrong type is a FormatError. */
export function attrReader(n: INode, where: string): OnnxAttrReader {
  const get = (name: string, kinds: IAttr['kind'][]): (IAttr & { v: unknown }) | undefined => {
    const a = n.attrs.get(name);
    if (a && !kinds.includes(a.kind)) throw new FormatError(`${where}: attribute '${name}' is ${a.kind === 'other' ? `of type ${a.type}` : `a ${a.kind}`}, expected ${kinds.join(' or ')}`);
    return a as (IAttr & { v: unknown }) | undefined;
  };
  const missing = (name: string): never => {
    throw new FormatError(`${where}: attribute '${name}' is required`);
  };
  return {
    has: (name) => n.attrs.has(name),
    int(name, def) {
      const a = get(name, ['int']);
      return a ? (a.v as number) : def ?? missing(name);
    },
    float(name, def) {
      const a = get(name, ['float', 'int']);
      return a ? (a.v as number) : def ?? missing(name);
    },
    ints(name, def) {
      const a = get(name, ['ints', 'int']);
      if (!a) return def ? [...def] : missing(name);
      return a.kind === 'int' ? [a.v] : [...(a.v as number[])];
    },
    floats(name, def) {
      const a = get(name, ['floats']);
      return a ? [...(a.v as number[])] : def ? [...def] : missing(name);
    },
    string(name, def) {
      const a = get(name, ['string']);
      return a ? (a.v as string) : def ?? missing(name);
    },
  };
}

/**
 * The nodes in topological order (stable: file order where dependencies allow). Every input must be a graph input,
 * an initializer or the output of a node, and every value defined once; a cycle is a FormatError naming its nodes.
 */
export function topoOrder(nodes: readonly INode[], defined: ReadonlySet<string>, file: string): number[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (o === '') continue;
      if (defined.has(o)) throw new FormatError(`${file}: node ${nodeLabel(n, i)} redefines '${o.slice(0, 200)}', a graph input or initializer`);
      const prev = producer.get(o);
      if (prev !== undefined) throw new FormatError(`${file}: value '${o.slice(0, 200)}' is the output of two nodes, ${nodeLabel(nodes[prev], prev)} and ${nodeLabel(n, i)}`);
      producer.set(o, i);
    }
  });
  const waiting = new Int32Array(nodes.length);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const deps = new Set<number>();
    for (const v of n.inputs) {
      if (v === '') continue;
      const p = producer.get(v);
      if (p === undefined) {
        if (!defined.has(v)) throw new FormatError(`${file}: node ${nodeLabel(n, i)} reads '${v.slice(0, 200)}', which no graph input, initializer or node defines`);
        continue;
      }
      if (p === i) throw new FormatError(`${file}: node ${nodeLabel(n, i)} reads its own output '${v.slice(0, 200)}' (a cycle)`);
      deps.add(p);
    }
    waiting[i] = deps.size;
    for (const p of deps) dependents[p].push(i);
  });
  // Ready nodes in file order: a queue sorted by index (a binary heap would do; ready sets stay small in practice).
  const ready: number[] = [];
  nodes.forEach((_, i) => waiting[i] === 0 && ready.push(i));
  const order: number[] = [];
  const heap = new MinHeap(ready);
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(i);
    for (const j of dependents[i]) if (--waiting[j] === 0) heap.push(j);
  }
  if (order.length < nodes.length) {
    const stuck = nodes.map((n, i) => [n, i] as const).filter(([, i]) => waiting[i] > 0);
    const names = stuck.slice(0, 6).map(([n, i]) => nodeLabel(n, i)).join(', ');
    throw new FormatError(`${file}: the graph has a cycle through nodes ${names}${stuck.length > 6 ? ` and ${stuck.length - 6} more` : ''}`);
  }
  return order;
}

class MinHeap {
  private readonly a: number[];

  constructor(init: number[]) {
    this.a = [...init].sort((x, y) => x - y);
  }

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

/** Longest IR name the import makes. */
const NAME_MAX = 200;

/** Makes unique, printable names from ONNX names (control characters become '_', long names are cut). */
export class Names {
  private readonly used = new Set<string>();
  /** The next suffix to try per base (so that many equal names stay linear, not quadratic). */
  private readonly next = new Map<string, number>();

  /** A name not used yet, from `base` (base, base_1, base_2, ...). */
  fresh(base: string, fallback = 'value'): string {
    let b = base.replace(/[^\x20-\x7e]/g, '_').slice(0, NAME_MAX);
    if (b.trim() === '') b = fallback;
    let n = b;
    let i = this.next.get(b) ?? 1;
    while (this.used.has(n)) n = `${b}_${i++}`;
    this.next.set(b, i);
    this.used.add(n);
    return n;
  }

  has(name: string): boolean {
    return this.used.has(name);
  }
}
