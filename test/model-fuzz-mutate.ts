// The seeded mutator of lutnn model files (safetensors + graph metadata) used by test/model-fuzz.ts.
//
// Byte level: truncations, byte and bit flips (anywhere, or in the JSON header). Metadata: absurd, non-integer and
// huge attributes, odd conv and pool geometry (paddings 1e4..1e308), huge input dims, deep nesting, changed op and
// module types, renamed values, cycles, dropped and repeated nodes, bad outputs, params, dataset and version; the
// version 1 `arch` likewise (arguments, types, nesting, names). Tensors: other dtypes (converted or reinterpreted),
// other shapes, NaN/Inf, values at the float16 and float32 limits, negative BatchNorm variances, inconsistent LUT
// parameters (K, C, V, M, theta), dropped, renamed, extra and duplicated tensors.
import { OP_TYPES } from '../src/graph/types.js';
import { LUTNN_METADATA_KEY } from '../src/io/safetensors-format.js';
import type { Rng } from '../src/tensor/rng.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

export interface RawTensor {
  name: string;
  dtype: string;
  shape: unknown;
  data: Uint8Array;
}

/** A model file taken apart: its tensors (raw bytes) and metadata, the lutnn entry parsed. */
export interface RawFile {
  tensors: RawTensor[];
  metadata: Record<string, string>;
  meta: Json;
  /** Replaces JSON.stringify(meta) (deep nesting written as text). */
  metaText?: string;
  /** Extra header entries written after the tensors (e.g. a duplicate key). */
  extraHeader?: string;
}

const SIZE: Record<string, number> = { F32: 4, I32: 4, I8: 1, U8: 1, F64: 8, F16: 2, BF16: 2, I16: 2, BOOL: 1, F8_E4M3: 1, I64: 8 };

/** Takes a (valid) safetensors file apart. */
export function parseRaw(bytes: Uint8Array): RawFile {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Json>;
  const base = 8 + n;
  const tensors: RawTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = { ...v };
      continue;
    }
    const [b, e] = v.data_offsets as [number, number];
    tensors.push({ name, dtype: v.dtype, shape: v.shape, data: bytes.slice(base + b, base + e) });
  }
  tensors.sort((a, b) => (header[a.name].data_offsets[0] as number) - (header[b.name].data_offsets[0] as number));
  return { tensors, metadata, meta: JSON.parse(metadata[LUTNN_METADATA_KEY]) };
}

/** The bytes of a RawFile: tensors packed in order, offsets from the data lengths (shape and dtype as given). */
export function buildRaw(f: RawFile): Uint8Array {
  const parts: string[] = [];
  let off = 0;
  for (const t of f.tensors) {
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.data.length] })}`);
    off += t.data.length;
  }
  if (f.extraHeader) parts.push(f.extraHeader);
  const md = { ...f.metadata, [LUTNN_METADATA_KEY]: '\u0000' };
  const mdText = JSON.stringify(md).replace('"\\u0000"', JSON.stringify(f.metaText ?? JSON.stringify(f.meta)));
  parts.push(`"__metadata__":${mdText}`);
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const hl = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + hl + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hl), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + hl);
  let p = 8 + hl;
  for (const t of f.tensors) {
    out.set(t.data, p);
    p += t.data.length;
  }
  return out;
}

const pick = <T>(rng: Rng, a: readonly T[]): T => a[rng.int(a.length)];

// ---------------------------------------------------------------------------------------------------
// Value conversions

function f32Of(t: RawTensor): Float32Array {
  return new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
}

function setF32(t: RawTensor, v: Float32Array): void {
  t.data = new Uint8Array(v.buffer.slice(0));
}

/** float → IEEE binary16 bits (round to nearest even; overflow to Inf). */
function toHalf(x: number): number {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  f[0] = x;
  const b = u[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  if (h >= 0x7c00) return sign | 0x7c00;
  e = 0;
  return sign | h;
}

/** The tensor's float32 values written as `dtype` (converted: rounded, clamped for integers). */
function convert(t: RawTensor, dtype: string): void {
  const v = f32Of(t);
  const n = v.length;
  const out = new Uint8Array(n * SIZE[dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = v[i];
    switch (dtype) {
      case 'F64': dv.setFloat64(8 * i, x, true); break;
      case 'F16': dv.setUint16(2 * i, toHalf(x), true); break;
      case 'BF16': dv.setUint16(2 * i, new Uint32Array(Float32Array.of(x).buffer)[0] >>> 16, true); break;
      case 'I32': dv.setInt32(4 * i, Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(x) || 0)), true); break;
      case 'I16': dv.setInt16(2 * i, Math.max(-32768, Math.min(32767, Math.round(x) || 0)), true); break;
      case 'I8': dv.setInt8(i, Math.max(-128, Math.min(127, Math.round(x) || 0))); break;
      case 'U8': case 'BOOL': case 'F8_E4M3': dv.setUint8(i, Math.max(0, Math.min(255, Math.round(x) || 0))); break;
      case 'I64': dv.setBigInt64(8 * i, BigInt(Math.round(x) || 0), true); break;
    }
  }
  t.dtype = dtype;
  t.data = out;
}

// ---------------------------------------------------------------------------------------------------
// Metadata mutations

const ABSURD: readonly Json[] = [
  1e9, 2 ** 31 - 1, 2 ** 31, 2 ** 53, 1e308, -1e308, -1, 0, 1.5, 0.5, -0.5, 3, 100000, 'x', '', null, true, false, [], {}, [0],
  [1e9, 1e9], [1e4, 1e4], [30000, 30000], [1e5, 1e5], [1e308, 1e308], [2 ** 31 - 1, 1], [0.5, 0.5], [-5, -5], [0, 0], [1, 2, 3], [[1], [2]],
];
const GEOMETRY = [1e4, 3e4, 1e5, 1e6, 1e9, 2 ** 31 - 1, 2 ** 31, 1e15, 1e308, 0, -1, 0.5, 2, 7, 100];
const WINDOW_KEYS = ['padding', 'stride', 'dilation', 'kernel'];
const ATTR_KEYS = ['stride', 'padding', 'dilation', 'kernel', 'groups', 'axis', 'axes', 'eps', 'momentum', 'perm', 'start', 'end', 'shape', 'metric', 'quantize', 'approximate', 'keepdims', 'p', 'alpha', 'min', 'max', 'to', 'split'];
const DIMS: readonly Json[] = [0, 2 ** 16, 2 ** 24, 1e9, 2 ** 31 - 1, 2 ** 53, -1, 1.5, 'N', '1000000*N', '2*N', 'M', null, 3, 1];
const DEEP = [100, 1_000, 10_000, 100_000, 1_000_000];
const DEEP_QUICK = [100, 1_000, 10_000, 100_000];
const CHAIN = [1000, 20_000, 49_990, 50_001, 100_001];
const CHAIN_QUICK = [1000, 5000, 50_001];

/** Quick mode (the unit test's): nesting and chains of nodes at most 10^5 deep and 5,000 long (the script: 10^6 and 49,990). */
let quick = false;
const DEEP_MARK = '__lutnn_fuzz_deep__';

/** Text of `n` nested arrays (or objects) around 1. */
function deepText(n: number, objects: boolean): string {
  return objects ? `${'{"a":'.repeat(n)}1${'}'.repeat(n)}` : `${'['.repeat(n)}1${']'.repeat(n)}`;
}

/** Marks a place for deep nesting: metaText gets it written as text (JSON.stringify would overflow the stack). */
function markDeep(f: RawFile, rng: Rng, set: (v: string) => void, v1Seq = false): string {
  set(DEEP_MARK);
  const n = pick(rng, quick ? DEEP_QUICK : DEEP);
  let text: string;
  if (v1Seq) {
    const child = '{"type":"ReLU","name":"r","args":{},"children":[]}';
    text = `${'{"type":"Sequential","name":"s","args":{},"children":['.repeat(n)}${child}${']}'.repeat(n)}`;
  } else text = deepText(n, rng.int(2) === 0);
  f.metaText = JSON.stringify(f.meta).replace(JSON.stringify(DEEP_MARK), text);
  return `deep-${n}`;
}

type Mutation = (f: RawFile, rng: Rng) => string | null;

/** Mutations of a version 2 graph. */
const GRAPH: Mutation[] = [
  (f, rng) => {
    const nodes = f.meta.graph?.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) return null;
    const n = pick(rng, nodes);
    n.attrs ??= {};
    const keys = Object.keys(n.attrs);
    const k = keys.length && rng.int(4) ? pick(rng, keys) : pick(rng, ATTR_KEYS);
    n.attrs[k] = pick(rng, ABSURD);
    return 'attr';
  },
  (f, rng) => {
    const nodes = (f.meta.graph?.nodes ?? []).filter((n: Json) => ['Conv', 'LutConv', 'MaxPool', 'AveragePool'].includes(n.op));
    if (nodes.length === 0) return null;
    const n: Json = pick(rng, nodes as Json[]);
    const k = pick(rng, WINDOW_KEYS);
    const v = pick(rng, GEOMETRY);
    const old = Array.isArray(n.attrs?.[k]) ? n.attrs[k] : [1, 1];
    n.attrs = { ...n.attrs, [k]: rng.int(2) ? [v, v] : [v, old[1]] };
    if (rng.int(4) === 0) n.attrs.groups = n.op === 'Conv' ? pick(rng, GEOMETRY) : undefined;
    return 'geometry';
  },
  (f, rng) => {
    const inp = f.meta.graph?.inputs?.[0];
    if (!inp || !Array.isArray(inp.shape)) return null;
    const i = rng.int(inp.shape.length + 1);
    if (i === inp.shape.length) inp.shape.push(pick(rng, DIMS));
    else inp.shape[i] = pick(rng, DIMS);
    return 'input-dims';
  },
  (f, rng) => {
    const nodes = f.meta.graph?.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) return null;
    pick(rng, nodes).op = rng.int(8) ? pick(rng, OP_TYPES) : pick(rng, ['Foo', '', 42, null, ['Conv']]);
    return 'op-type';
  },
  (f, rng) => {
    const g = f.meta.graph;
    const nodes = g?.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) return null;
    const names = [...g.inputs.map((i: Json) => i.name), ...nodes.flatMap((n: Json) => n.outputs), ...f.tensors.map((t) => t.name), 'ghost', ''];
    const n = pick(rng, nodes);
    if (rng.int(3) === 0) n.outputs = [pick(rng, names)];
    else if (n.inputs.length) n.inputs[rng.int(n.inputs.length)] = pick(rng, names);
    else return null;
    return 'rename';
  },
  (f, rng) => {
    const nodes = f.meta.graph?.nodes;
    if (!Array.isArray(nodes) || nodes.length < 2) return null;
    const i = rng.int(nodes.length - 1);
    const j = i + 1 + rng.int(nodes.length - 1 - i);
    nodes[i].inputs[0] = nodes[j].outputs[0];
    return 'cycle';
  },
  (f, rng) => {
    const nodes = f.meta.graph?.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) return null;
    const i = rng.int(nodes.length);
    switch (rng.int(3)) {
      case 0: nodes.splice(i, 1); return 'drop-node';
      case 1: nodes.splice(i, 0, structuredClone(nodes[i])); return 'dup-node';
      default: rng.shuffle(nodes); return 'shuffle-nodes';
    }
  },
  (f, rng) => {
    const g = f.meta.graph;
    if (!g) return null;
    const where = rng.int(6);
    const node: Json = g.nodes.length ? pick(rng, g.nodes as Json[]) : null;
    return markDeep(f, rng, (v) => {
      if (where === 0 && node) node.attrs = { ...node.attrs, stride: v };
      else if (where === 1 && g.nodes.length) g.nodes[rng.int(g.nodes.length)] = v;
      else if (where === 2) f.meta.dataset = v;
      else if (where === 3) f.meta.info = { x: v };
      else if (where === 4 && node) node.op = v;
      else f.meta.graph = v;
    });
  },
  (f, rng) => {
    const g = f.meta.graph;
    if (!g?.nodes?.length) return null;
    // A long chain of ReLUs before the output (around the node limit).
    const n = pick(rng, quick ? CHAIN_QUICK : CHAIN);
    let prev = g.outputs[0];
    for (let i = 0; i < n; i++) {
      g.nodes.push({ name: `fz${i}`, op: 'Relu', inputs: [prev], outputs: [`fz${i}`], attrs: {} });
      prev = `fz${i}`;
    }
    g.outputs = [prev];
    return `chain-${n}`;
  },
  (f, rng) => {
    const g = f.meta.graph;
    if (!g) return null;
    const names = [...g.nodes.flatMap((n: Json) => n.outputs), ...f.tensors.map((t) => t.name)];
    g.outputs = pick(rng, [[], ['ghost'], [pick(rng, names)], [g.outputs[0], pick(rng, names)], [g.outputs[0], g.outputs[0]], 'x']);
    return 'outputs';
  },
  (f, rng) => {
    const g = f.meta.graph;
    if (!g) return null;
    g.params = pick(rng, [['ghost'], [pick(rng, f.tensors).name], 'x', [1]]);
    return 'params';
  },
];

/** Mutations of a version 1 architecture. */
const ARCH: Mutation[] = [
  (f, rng) => {
    const kids = f.meta.arch?.root?.children;
    if (!Array.isArray(kids) || kids.length === 0) return null;
    const c = pick(rng, kids);
    c.args ??= {};
    const keys = Object.keys(c.args);
    const k = keys.length && rng.int(5) ? pick(rng, keys) : pick(rng, ['inFeatures', 'outFeatures', 'inChannels', 'outChannels', 'kernelSize', 'numFeatures', 'k', 'subvecLen', 'groups', 'cin', 'cout', 'startDim']);
    c.args[k] = pick(rng, ABSURD);
    return 'v1-args';
  },
  (f, rng) => {
    const kids = (f.meta.arch?.root?.children ?? []).filter((c: Json) => ['Conv2d', 'LutConv2d', 'MaxPool2d', 'AvgPool2d'].includes(c.type));
    if (kids.length === 0) return null;
    const c: Json = pick(rng, kids as Json[]);
    const k = pick(rng, c.type === 'Conv2d' ? ['padding', 'stride', 'dilation', 'kernelSize'] : ['padding', 'stride', 'kernel', 'dilation']);
    const v = pick(rng, GEOMETRY);
    c.args[k] = rng.int(2) ? v : [v, v];
    return 'v1-geometry';
  },
  (f, rng) => {
    const kids = f.meta.arch?.root?.children;
    if (!Array.isArray(kids) || kids.length === 0) return null;
    pick(rng, kids).type = pick(rng, ['Linear', 'Conv2d', 'BatchNorm2d', 'ReLU', 'MaxPool2d', 'AvgPool2d', 'Flatten', 'GlobalAvgPool2d', 'LutLinear', 'LutConv2d', 'MaddnessLinear', 'LayerNorm', 'Identity', 'Dropout', 'GELU', 'Sequential', 'Foo', 7]);
    return 'v1-type';
  },
  (f, rng) => {
    const kids = f.meta.arch?.root?.children;
    if (!Array.isArray(kids) || kids.length === 0) return null;
    const i = rng.int(kids.length);
    if (rng.int(2)) return markDeep(f, rng, (v) => (kids[i] = v), true);
    // Nesting just around the limit, as lutnn writes it (the weights then no longer match the paths).
    const depth = pick(rng, [2, 63, 64, 65, 200]);
    let c = kids[i];
    for (let d = 0; d < depth; d++) c = { type: 'Sequential', name: 's', args: {}, children: [c] };
    kids[i] = c;
    return `v1-nest-${depth}`;
  },
  (f, rng) => {
    const kids = f.meta.arch?.root?.children;
    if (!Array.isArray(kids) || kids.length === 0) return null;
    const i = rng.int(kids.length);
    switch (rng.int(4)) {
      case 0: kids[i].name = pick(rng, ['x', kids[0].name, '', 'a.b', 5]); return 'v1-name';
      case 1: kids.splice(i, 1); return 'v1-drop';
      case 2: kids.splice(i, 0, structuredClone(kids[i])); return 'v1-dup';
      default: rng.shuffle(kids); return 'v1-shuffle';
    }
  },
];

/** Mutations of the metadata around the graph. */
const META: Mutation[] = [
  (f, rng) => {
    const ds = (f.meta.dataset ??= { name: 'fuzz', mean: 0, std: 1 });
    switch (rng.int(4)) {
      case 0: ds.inputShape = pick(rng, [[1e9], [2 ** 31 - 1, 2], [0], [], [1, 1e4, 1e4], [1.5], 'x', [-1], [65536, 65536]]); break;
      case 1: ds.std = pick(rng, [0, -1, 'x', null, 1e-300]); break;
      case 2: ds.mean = pick(rng, ['x', null, 1e308]); break;
      default: f.meta.dataset = pick(rng, [null, 5, 'x', []]);
    }
    return 'dataset';
  },
  (f, rng) => {
    if (rng.int(2)) f.meta.version = pick(rng, [1, 2, 3, '2', null, 2.5]);
    else f.meta.format = pick(rng, ['lutnn', null, 5]);
    return 'version';
  },
];

function bnVars(f: RawFile): RawTensor[] {
  return f.tensors.filter((t) => t.name.endsWith('running_var') && t.dtype === 'F32');
}

const f32Tensors = (f: RawFile): RawTensor[] => f.tensors.filter((t) => t.dtype === 'F32' && t.data.length > 0);

const LIMITS = [65504, -65504, 65520, 1e10, 1e20, 3.4e38, -3.4e38, 3.4028234663852886e38, 1e38, 1e-45, 1.17549435e-38, 1e-30, -0, 2 ** 24 + 1];

/** Tensor mutations. */
const TENSOR: Mutation[] = [
  (f, rng) => {
    const t = pick(rng, f.tensors);
    if (t.dtype !== 'F32') return null;
    if (rng.int(5) === 0) {
      t.dtype = pick(rng, ['I32', 'U8', 'I8']); // the bytes reinterpreted (I32: same size; U8/I8: the shape no longer fits)
      return 'dtype-reinterpret';
    }
    const d = pick(rng, ['F16', 'BF16', 'F64', 'I32', 'I8', 'U8', 'I16', 'BOOL', 'F8_E4M3', 'I64']);
    convert(t, d);
    return `dtype-${d}`;
  },
  (f, rng) => {
    const t = pick(rng, f.tensors);
    const s = Array.isArray(t.shape) ? [...(t.shape as number[])] : [];
    const el = SIZE[t.dtype] ?? 4;
    switch (rng.int(8)) {
      case 0: if (s.length) s[rng.int(s.length)] += 1; break;
      case 1: if (s.length) s[rng.int(s.length)] = Math.max(0, s[rng.int(s.length)] - 1); break;
      case 2: if (s.length) s[rng.int(s.length)] *= 2; break;
      case 3: if (s.length > 1) { const i = rng.int(s.length); const j = rng.int(s.length); [s[i], s[j]] = [s[j], s[i]]; } break;
      case 4: s.splice(rng.int(s.length + 1), 0, 1); break;
      case 5: s.splice(rng.int(s.length), 1); break;
      case 6: if (s.length) s[rng.int(s.length)] = 0; break;
      default: if (s.length) s[rng.int(s.length)] = pick(rng, [2 ** 20, 2 ** 31, 1e9, 1e15]);
    }
    t.shape = s;
    const n = s.reduce((a, b) => a * b, 1);
    if (n * el <= 2 ** 26 && rng.int(6) !== 0) {
      // Resize the data to fit (zero-filled or cut), so the file parses and the graph sees the shape.
      const d = new Uint8Array(n * el);
      d.set(t.data.subarray(0, Math.min(d.length, t.data.length)));
      t.data = d;
    }
    return 'shape';
  },
  (f, rng) => {
    const ts = f32Tensors(f);
    if (!ts.length) return null;
    const t = pick(rng, ts);
    const v = f32Of(t);
    v[rng.int(v.length)] = pick(rng, [NaN, Infinity, -Infinity]);
    setF32(t, v);
    return 'nonfinite';
  },
  (f, rng) => {
    const ts = f32Tensors(f);
    if (!ts.length) return null;
    const t = pick(rng, ts);
    const v = f32Of(t);
    const x = pick(rng, LIMITS);
    switch (rng.int(3)) {
      case 0: v[rng.int(v.length)] = x; break;
      case 1: v.fill(x); break;
      default: for (let i = 0; i < v.length; i++) v[i] *= Math.abs(x) > 1 ? x : 1 / (x || 1e-30);
    }
    setF32(t, v);
    return 'extreme';
  },
  (f, rng) => {
    const ts = bnVars(f);
    if (!ts.length) return null;
    const t = pick(rng, ts);
    const v = f32Of(t);
    const x = pick(rng, [-0.001, -1e-5, -1e-6, 0, -1, -1e-5 + 1e-12, 1e-30, 3.4e38]);
    if (rng.int(3)) v[rng.int(v.length)] = x;
    else v.fill(x);
    setF32(t, v);
    return 'bn-var';
  },
  (f, rng) => {
    // LUT parameters out of step: centroids [C, K, V] with another K (up to 300), C or V; weight [C, V, M]; theta.
    const cs = f.tensors.filter((t) => /(centroids|\.weight|theta)$/.test(t.name) && t.dtype === 'F32' && Array.isArray(t.shape));
    const lut = cs.filter((t) => t.name.endsWith('centroids') || t.name.endsWith('theta') || (t.shape as number[]).length === 3);
    if (!lut.length) return null;
    const t = pick(rng, lut);
    const s = [...(t.shape as number[])];
    if (s.length === 0) s.push(pick(rng, [1, 2]));
    else s[rng.int(s.length)] = pick(rng, [1, 2, 15, 17, 255, 256, 257, 300, 1024]);
    const n = s.reduce((a, b) => a * b, 1);
    t.shape = s;
    if (n > 2 ** 24) return 'lut-params'; // (after an earlier shape mutation) the data no longer fits: a parse error
    const d = new Float32Array(n);
    const old = f32Of(t);
    for (let i = 0; i < n; i++) d[i] = old[i % Math.max(1, old.length)];
    setF32(t, d);
    return 'lut-params';
  },
  (f, rng) => {
    const i = rng.int(f.tensors.length);
    const t = f.tensors[i];
    switch (rng.int(4)) {
      case 0: f.tensors.splice(i, 1); return 'drop-tensor';
      case 1: t.name = pick(rng, [`${t.name}x`, f.tensors[0].name === t.name ? 'y' : f.tensors[0].name, '__proto__', 'constructor']); return 'rename-tensor';
      case 2: f.tensors.push({ name: 'extra', dtype: 'F32', shape: [2], data: new Uint8Array(8) }); return 'extra-tensor';
      default: f.extraHeader = `${JSON.stringify(t.name)}:${JSON.stringify({ dtype: 'F32', shape: [0], data_offsets: [0, 0] })}`; return 'dup-tensor';
    }
  },
];

/** Byte-level mutations of the whole file (or of its header). */
function byteMutant(src: Uint8Array, rng: Rng): { bytes: Uint8Array; kind: string } {
  const n = src.length;
  const headerEnd = 8 + Number(new DataView(src.buffer, src.byteOffset).getBigUint64(0, true));
  const b = new Uint8Array(src);
  switch (rng.int(5)) {
    case 0: return { bytes: src.slice(0, rng.int(n)), kind: 'truncate' };
    case 1: return { bytes: src.slice(0, n - 1 - rng.int(Math.min(n - 1, 64))), kind: 'truncate-tail' };
    case 2: {
      const k = 1 + rng.int(8);
      for (let i = 0; i < k; i++) b[8 + rng.int(headerEnd - 8)] = pick(rng, [0x30 + rng.int(10), 0x22, 0x2c, 0x7b, 0x5d, 0x2d, 0x65, rng.int(256)]);
      return { bytes: b, kind: 'header-bytes' };
    }
    case 3: {
      const k = 1 + rng.int(8);
      for (let i = 0; i < k; i++) b[rng.int(n)] = rng.int(256);
      return { bytes: b, kind: 'bytes' };
    }
    default: {
      // Bit flips in the tensor data (exponent bits make huge values, NaN and Inf).
      const k = 1 + rng.int(4);
      for (let i = 0; i < k; i++) b[headerEnd + rng.int(n - headerEnd)] ^= 1 << rng.int(8);
      return { bytes: b, kind: 'data-bits' };
    }
  }
}

/** One mutant of a seed file; `kind` names the mutations applied ('+'-joined). */
export function mutateModelFile(src: Uint8Array, rng: Rng, opts: { quick?: boolean } = {}): { bytes: Uint8Array; kind: string } {
  quick = opts.quick ?? false;
  if (rng.int(6) === 0) return byteMutant(src, rng);
  const f = parseRaw(src);
  const v1 = f.meta.version === 1;
  const kinds: string[] = [];
  for (let tries = 0, want = 1 + (rng.int(4) === 0 ? 1 : 0); kinds.length < want && tries < 20; tries++) {
    const r = rng.int(20);
    const pool = r < 9 ? (v1 ? ARCH : GRAPH) : r < 10 ? META : TENSOR;
    const k = pick(rng, pool)(f, rng);
    if (k) kinds.push(k);
    if (f.metaText) break; // deep nesting is written as text: no further edits of the metadata
  }
  return { bytes: buildRaw(f), kind: kinds.join('+') || 'none' };
}
