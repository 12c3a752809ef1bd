// A seeded mutator of ONNX files and a runner that imports each mutant: the fuzzing of test/onnx-fuzz.test.ts and bench/fuzz-onnx-import.ts.
//
// Mutations: byte-level (truncation, byte and bit flips, inserted, deleted and repeated spans) and structural, on the
// decoded model re-encoded (huge, negative and zero dims; raw data cut or grown; huge attribute values; op types
// swapped; inputs rewired, which makes cycles and undefined values; nodes and initializers dropped; graph input
// dims changed; the opset moved). Every case must end in a model or a LutnnError subclass.
import { LutnnError } from '../src/errors.js';
import { GraphModel } from '../src/graph/model.js';
import { importOnnx } from '../src/io/onnx-import.js';
import { decodeModel, encodeModel, type ModelProto } from '../src/io/onnx-proto.js';
import { Rng } from '../src/tensor/rng.js';

const OPS = ['Relu', 'Conv', 'Gemm', 'MatMul', 'Add', 'Reshape', 'Concat', 'Gather', 'Shape', 'Slice', 'Expand', 'ConstantOfShape', 'Range', 'Transpose', 'Softmax', 'LayerNormalization', 'Split', 'Cast', 'Unsqueeze', 'Squeeze', 'ReduceMean', 'MaxPool', 'Where', 'Einsum', 'Loop'];
const HUGE = [2 ** 31 - 1, 2 ** 31, 2 ** 40, 2 ** 53, -1, -(2 ** 31), 0, 1e15];

export interface Mutant {
  bytes: Uint8Array;
  kind: string;
}

function byteMutant(src: Uint8Array, rng: Rng): Mutant {
  const n = src.length;
  const b = new Uint8Array(src);
  switch (rng.int(6)) {
    case 0:
      return { bytes: src.subarray(0, rng.int(n)), kind: 'truncate' };
    case 1: {
      const k = 1 + rng.int(8);
      for (let i = 0; i < k; i++) b[rng.int(n)] = rng.int(256);
      return { bytes: b, kind: 'bytes' };
    }
    case 2: {
      b[rng.int(n)] ^= 1 << rng.int(8);
      return { bytes: b, kind: 'bit' };
    }
    case 3: {
      const at = rng.int(n);
      const ins = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
      const out = new Uint8Array(n + ins.length);
      out.set(src.subarray(0, at));
      out.set(ins, at);
      out.set(src.subarray(at), at + ins.length);
      return { bytes: out, kind: 'insert' };
    }
    case 4: {
      const at = rng.int(n);
      const len = 1 + rng.int(Math.min(64, n - at));
      const out = new Uint8Array(n - len);
      out.set(src.subarray(0, at));
      out.set(src.subarray(at + len), at);
      return { bytes: out, kind: 'delete' };
    }
    default: {
      const from = rng.int(n);
      const len = 1 + rng.int(Math.min(256, n - from));
      const at = rng.int(n);
      const out = new Uint8Array(n + len);
      out.set(src.subarray(0, at));
      out.set(src.subarray(from, from + len), at);
      out.set(src.subarray(at), at + len);
      return { bytes: out, kind: 'repeat' };
    }
  }
}

function pick<T>(rng: Rng, a: readonly T[]): T | undefined {
  return a.length ? a[rng.int(a.length)] : undefined;
}

/** A structural change of the decoded model; its name, or null when it did not apply. */
function mutateModel(m: ModelProto, rng: Rng): string | null {
  const g = m.graph;
  const nodes = g.node;
  const values = [...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name), ...nodes.flatMap((n) => n.output), '', 'ghost'];
  switch (rng.int(10)) {
    case 0: {
      const t = pick(rng, g.initializer);
      if (!t) return null;
      t.dims = t.dims.length ? t.dims.map((d) => (rng.int(3) === 0 ? pick(rng, HUGE)! : d)) : [pick(rng, HUGE)!];
      return 'tensor-dims';
    }
    case 1: {
      const t = pick(rng, g.initializer);
      if (!t || !t.rawData) return null;
      t.rawData = rng.int(2) === 0 ? t.rawData.subarray(0, rng.int(t.rawData.length + 1)) : Uint8Array.from([...t.rawData, ...new Uint8Array(1 + rng.int(8))]);
      return 'tensor-length';
    }
    case 2: {
      const n = pick(rng, nodes.filter((x) => (x.attribute ?? []).length > 0));
      const a = n ? pick(rng, n.attribute) : undefined;
      if (!a) return null;
      if (a.ints && a.ints.length) a.ints = a.ints.map((v) => (rng.int(2) ? pick(rng, HUGE)! : v));
      else if (a.t) a.t = { ...a.t, dims: [pick(rng, HUGE)!] };
      else a.i = pick(rng, HUGE)!;
      return 'attribute-value';
    }
    case 3: {
      const n = pick(rng, nodes);
      if (!n) return null;
      n.opType = pick(rng, OPS)!;
      return 'op-type';
    }
    case 4: {
      const n = pick(rng, nodes);
      if (!n || n.input.length === 0) return null;
      n.input[rng.int(n.input.length)] = pick(rng, values)!;
      return 'rewire';
    }
    case 5: {
      if (nodes.length === 0) return null;
      nodes.splice(rng.int(nodes.length), 1);
      return 'drop-node';
    }
    case 6: {
      if (g.initializer.length === 0) return null;
      g.initializer.splice(rng.int(g.initializer.length), 1);
      return 'drop-initializer';
    }
    case 7: {
      const i = pick(rng, g.input);
      const dims = i?.type?.tensorType?.shape?.dim;
      if (!dims || dims.length === 0) return null;
      dims[rng.int(dims.length)] = rng.int(3) === 0 ? { dimParam: 'S' } : { dimValue: pick(rng, HUGE)! };
      return 'input-dims';
    }
    case 8: {
      m.opsetImport = [{ domain: '', version: pick(rng, [1, 12, 13, 14, 18, 20, 21, 22, 1000])! }];
      return 'opset';
    }
    default: {
      const n = pick(rng, nodes);
      if (!n) return null;
      n.output = n.output.length ? [pick(rng, values)!] : n.output;
      return 'redefine';
    }
  }
}

/** One mutant of `src` (`decoded`: its decoded model, for structural mutations). */
export function mutate(src: Uint8Array, decoded: ModelProto | null, rng: Rng): Mutant {
  if (decoded && rng.int(2) === 0) {
    const m = structuredClone(decoded);
    const kinds: string[] = [];
    for (let k = 1 + rng.int(2); k > 0; k--) {
      const kind = mutateModel(m, rng);
      if (kind) kinds.push(kind);
    }
    try {
      if (kinds.length) return { bytes: encodeModel(m), kind: kinds.join('+') };
    } catch {
      // a value the writer refuses (an int64 beyond 2^63): fall back to a byte mutation
    }
  }
  return byteMutant(src, rng);
}

export interface FuzzReport {
  cases: number;
  /** Outcomes: 'model' or the LutnnError class name. */
  outcomes: Record<string, number>;
  /** Mutation kinds and how many of each imported as a model. */
  kinds: Record<string, { cases: number; models: number }>;
  /** Anything other than a model or a LutnnError (must stay empty). */
  crashes: { seed: number; index: number; kind: string; error: string }[];
  maxMs: number;
  slowest: { index: number; kind: string; ms: number } | null;
  seconds: number;
}

/**
 * Imports `cases` mutants of the `seeds` files (round robin), each into a GraphModel. The mutants of case i depend only
 * on (seed, i), so a failing case can be replayed.
 */
export function fuzzImport(seeds: readonly Uint8Array[], cases: number, seed: number, onProgress?: (done: number) => void): FuzzReport {
  const decoded = seeds.map((s) => {
    try {
      return decodeModel(s);
    } catch {
      return null;
    }
  });
  const r: FuzzReport = { cases, outcomes: {}, kinds: {}, crashes: [], maxMs: 0, slowest: null, seconds: 0 };
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const rng = new Rng(seed * 1_000_003 + i);
    const k = i % seeds.length;
    const { bytes, kind } = mutate(seeds[k], decoded[k], rng);
    const t = performance.now();
    let outcome: string;
    try {
      const res = importOnnx(bytes, { file: `case${i}.onnx`, ...(rng.int(4) === 0 ? { inputShape: [1 + rng.int(4), 1 + rng.int(40)] } : {}) });
      GraphModel.create(res.graph, res.weights);
      outcome = 'model';
    } catch (e) {
      if (e instanceof LutnnError) outcome = e.constructor.name;
      else {
        outcome = 'crash';
        r.crashes.push({ seed, index: i, kind, error: `${(e as Error)?.constructor?.name}: ${String((e as Error)?.message ?? e).slice(0, 300)}` });
      }
    }
    const ms = performance.now() - t;
    if (ms > r.maxMs) {
      r.maxMs = ms;
      r.slowest = { index: i, kind, ms };
    }
    r.outcomes[outcome] = (r.outcomes[outcome] ?? 0) + 1;
    const kk = kind.split('+')[0];
    const e = (r.kinds[kk] ??= { cases: 0, models: 0 });
    e.cases++;
    if (outcome === 'model') e.models++;
    if (onProgress && (i + 1) % 100 === 0) onProgress(i + 1);
  }
  r.seconds = (performance.now() - t0) / 1000;
  return r;
}
