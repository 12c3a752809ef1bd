// Calibration for conversion: the candidate layers of a graph model and seeded samples of the rows their codebooks see.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import type { GraphModel } from '../graph/model.js';
import { conv2dGeom, im2colRows } from '../ops/index.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';

/** A layer LUT conversion can replace: a Conv (groups 1), a Linear, or a MatMul whose second operand is a weight [D, M]. */
export interface Candidate {
  name: string;
  kind: 'conv' | 'linear';
  node: NodeInfo;
  /** Inputs per row (conv: Cin·kh·kw) and outputs. */
  D: number;
  M: number;
  /** Conv kernel [kh, kw] ([1, 1] for linear layers). */
  kernel: [number, number];
}

/** The candidates of `model` in topological order. */
export function candidates(model: GraphModel): Candidate[] {
  const out: Candidate[] = [];
  for (const n of model.info.nodes) {
    const op = n.node.op;
    if (op === 'Conv' && n.attrs.groups === 1) {
      const [M, cin, kh, kw] = n.inputs[1]!.shape as number[];
      out.push({ name: n.node.name, kind: 'conv', node: n, D: cin * kh * kw, M, kernel: [kh, kw] });
    } else if (op === 'Linear') {
      const [M, D] = n.inputs[1]!.shape as number[];
      out.push({ name: n.node.name, kind: 'linear', node: n, D, M, kernel: [1, 1] });
    } else if (op === 'MatMul' && model.info.roles.has(n.node.inputs[1]) && n.inputs[1]!.shape.length === 2) {
      const [D, M] = n.inputs[1]!.shape as number[];
      out.push({ name: n.node.name, kind: 'linear', node: n, D, M, kernel: [1, 1] });
    }
  }
  return out;
}

/** The rows a layer's codebooks see for its input x: [n, D] for linear layers, im2col rows [N·outH·outW, D] for convs. */
export function inputRows(c: Candidate, x: Tensor): Tensor {
  if (c.kind === 'linear') return new Tensor(x.f32, [x.size / c.D, c.D]);
  const a = c.node.attrs as unknown as { stride: number[]; padding: number[]; dilation: number[] };
  const g = conv2dGeom(x.shape, [c.M, x.shape[1], c.kernel[0], c.kernel[1]], {
    stride: [a.stride[0], a.stride[1]], padding: [a.padding[0], a.padding[1]], dilation: [a.dilation[0], a.dilation[1]],
  });
  return noGrad(() => im2colRows(x, g)); // (cin, ki, kj) columns, as the LUT conv encodes them
}

export interface RowSample {
  rows: Float32Array;
  n: number;
  D: number;
  seen: number;
}

/** A growing reservoir (Algorithm R) of at most maxRows rows of D values. */
class Reservoir {
  rows: Float32Array;
  n = 0;
  seen = 0;

  constructor(readonly D: number, readonly maxRows: number) {
    this.rows = new Float32Array(Math.min(maxRows, 4096) * D);
  }

  /** Slots of the next R rows (−1: not kept), drawn from `rng`. */
  slots(R: number, rng: Rng): Int32Array {
    const s = new Int32Array(R);
    for (let i = 0; i < R; i++, this.seen++) {
      const slot = this.n < this.maxRows ? this.n++ : rng.int(this.seen + 1);
      s[i] = slot < this.maxRows ? slot : -1;
    }
    if (this.n * this.D > this.rows.length) this.rows = grow(this.rows, this.n * this.D, this.maxRows * this.D);
    return s;
  }

  put(slots: Int32Array, R: Float32Array): void {
    const D = this.D;
    for (let i = 0; i < slots.length; i++) if (slots[i] >= 0) this.rows.set(R.subarray(i * D, (i + 1) * D), slots[i] * D);
  }

  sample(): RowSample {
    return { rows: this.rows.subarray(0, this.n * this.D), n: this.n, D: this.D, seen: this.seen };
  }
}

/** A bigger copy (geometric growth up to `max` floats): a layer with few rows, like a Linear, stays small. */
function grow(a: Float32Array, want: number, max: number): Float32Array {
  const g = new Float32Array(Math.min(max, Math.max(want, 2 * a.length)));
  g.set(a);
  return g;
}

function byName(model: GraphModel, names: readonly string[]): Map<string, Candidate> {
  const all = new Map(candidates(model).map((c) => [c.name, c]));
  const out = new Map<string, Candidate>();
  for (const n of names) {
    const c = all.get(n);
    if (!c) throw new ArgumentError(`convert: '${n}' is not a Conv, Linear or weight MatMul node of the model`);
    out.set(n, c);
  }
  return out;
}

/**
 * Runs `batches` through `model` (eval mode, no gradients) and keeps, per named layer, a seeded uniform sample of at most
 * `maxRows` of its input rows (reservoir sampling, so memory stays bounded however many images calibrate).
 * `onBatch(done)` after each batch.
 */
export function collectCalibrationRows(model: GraphModel, names: readonly string[], batches: Iterable<Tensor>, maxRows: number, seed: number, onBatch?: (done: number) => void): Map<string, RowSample> {
  const rng = new Rng(seed);
  const want = byName(model, names);
  const store = new Map<string, Reservoir>();
  let done = 0;
  const was = model.training;
  model.eval();
  try {
    noGrad(() => {
      for (const x of batches) {
        model.run([x], {
          hook: (n, ins) => {
            const c = want.get(n.node.name);
            if (!c) return;
            const r = inputRows(c, ins[0]!);
            let s = store.get(c.name);
            if (!s) store.set(c.name, (s = new Reservoir(c.D, maxRows)));
            s.put(s.slots(r.shape[0], rng), r.f32);
          },
        });
        onBatch?.(++done);
      }
    });
  } finally {
    model.train(was);
  }
  return new Map([...store].map(([k, s]) => [k, s.sample()]));
}

/**
 * One layer's input rows in several models run on the same batches (the dense model and a partly converted one),
 * sampled at the same positions: rows[j] comes from models[j]. Reservoir sampling as collectCalibrationRows; `onBatch(done)`
 * after each batch.
 */
export function collectPairedRows(models: readonly GraphModel[], name: string, batches: Iterable<Tensor>, maxRows: number, seed: number, onBatch?: (done: number) => void): { rows: Float32Array[]; n: number; D: number; seen: number } {
  const rng = new Rng(seed);
  const cands = models.map((m) => byName(m, [name]).get(name)!);
  const stores = cands.map((c) => new Reservoir(c.D, maxRows));
  if (cands.some((c) => c.D !== cands[0].D)) throw new ArgumentError(`convert: layer '${name}' has rows of different lengths across models`);
  const was = models.map((m) => m.training);
  let done = 0;
  try {
    models.forEach((m) => m.eval());
    noGrad(() => {
      for (const x of batches) {
        let slots: Int32Array = new Int32Array(0);
        models.forEach((m, j) => {
          m.run([x], {
            hook: (n, ins) => {
              if (n.node.name !== name) return;
              const r = inputRows(cands[j], ins[0]!);
              if (j === 0) slots = stores[0].slots(r.shape[0], rng);
              else {
                if (r.shape[0] !== slots.length) throw new ArgumentError(`convert: layer '${name}' saw ${r.shape[0]} rows in model ${j} vs ${slots.length} in model 0`);
                stores[j].n = stores[0].n;
                stores[j].seen = stores[0].seen;
                if (stores[j].n * stores[j].D > stores[j].rows.length) stores[j].rows = grow(stores[j].rows, stores[j].n * stores[j].D, maxRows * stores[j].D);
              }
              stores[j].put(slots, r.f32);
            },
          });
        });
        onBatch?.(++done);
      }
    });
  } finally {
    models.forEach((m, j) => m.train(was[j]));
  }
  const s0 = stores[0].sample();
  return { rows: stores.map((s) => s.sample().rows), n: s0.n, D: s0.D, seen: s0.seen };
}
