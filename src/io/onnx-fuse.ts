// Fusion of the patterns older ONNX exporters decompose, back into one node each, before the import maps nodes to IR ops:
//
// - LayerNorm: ReduceMean → Sub → Pow 2 (or Mul by itself) → ReduceMean → Add eps → Sqrt → Div [→ Mul γ] [→ Add β]
//   becomes LayerNormalization (opset 17's op) with the reduced axes as `axes`.
// - GELU, erf form: Div by √2 (or Mul by 1/√2) → Erf → Add 1 → Mul x → Mul 0.5 (in any of the usual association
//   orders); tanh form: x + 0.044715·x³ (Pow 3 or two Muls) → Mul √(2/π) → Tanh → Add 1 → the same tail. Both become
//   Gelu (opset 20's op) with `approximate` 'none' or 'tanh'.
// - HardSwish below opset 14: HardSigmoid(alpha 1/6, beta 1/2) → Mul x becomes HardSwish.
// - MatMul by a constant 2-D weight whose only reader is an Add of a constant bias [M] becomes MatMul(x, W, b), the
//   import's fused form that the Linear record reads.
// A pattern is fused only when its inner values have no other reader and are not graph outputs, and its constants
// are the expected ones (relative 1e-4), so a near-miss stays as the separate ops.
import type { Const } from './onnx-fold.js';
import { numbers } from './onnx-fold.js';
import type { IAttr, INode } from './onnx-nodes.js';

export interface FuseCounts {
  LayerNorm: number;
  Gelu: number;
  HardSwish: number;
  Linear: number;
}

const close = (v: number | null, want: number): boolean => v !== null && Math.abs(v - want) <= 1e-4 * Math.abs(want);

class Matcher {
  readonly producer = new Map<string, number>();
  readonly consumers = new Map<string, number[]>();
  readonly removed = new Set<number>();

  constructor(
    readonly nodes: INode[],
    readonly constOf: (v: string) => Const | null,
    readonly outputs: ReadonlySet<string>,
  ) {
    nodes.forEach((n, i) => {
      n.outputs.forEach((o) => this.producer.set(o, i));
      for (const v of new Set(n.inputs)) {
        if (v === '') continue;
        const l = this.consumers.get(v);
        if (l) l.push(i);
        else this.consumers.set(v, [i]);
      }
    });
  }

  /** The node that defines v, if live and of type `op`. */
  prod(v: string, op: string): INode | null {
    const i = this.producer.get(v);
    if (i === undefined || this.removed.has(i)) return null;
    const n = this.nodes[i];
    return n.opType === op && n.domain === '' ? n : null;
  }

  /** The only reader of v (v not a graph output), if of type `op`. */
  only(v: string, op: string): INode | null {
    const c = this.consumers.get(v);
    if (!c || c.length !== 1 || this.outputs.has(v) || this.removed.has(c[0])) return null;
    const n = this.nodes[c[0]];
    return n.opType === op && n.domain === '' ? n : null;
  }

  /** A one-element float constant's value. */
  scalar(v: string): number | null {
    const c = this.constOf(v);
    if (!c || c.data.length !== 1 || (c.dtype !== 'float32' && c.dtype !== 'float64')) return null;
    return numbers(c)?.[0] ?? null;
  }

  /** For a binary node reading `v`, its other operand ('' if v is not one of exactly two inputs). */
  other(n: INode, v: string): string {
    if (n.inputs.length !== 2) return '';
    if (n.inputs[0] === v) return n.inputs[1];
    if (n.inputs[1] === v) return n.inputs[0];
    return '';
  }

  /** For a binary node with one constant scalar operand equal to `want`: the other operand. */
  withScalar(n: INode | null, want: number): string | null {
    if (!n || n.inputs.length !== 2) return null;
    if (close(this.scalar(n.inputs[1]), want)) return n.inputs[0];
    if (close(this.scalar(n.inputs[0]), want)) return n.inputs[1];
    return null;
  }

  index(n: INode): number {
    return this.producer.get(n.outputs[0])!;
  }

  /** Replaces the pattern's nodes by `fused`, placed where its last node was. */
  replace(parts: INode[], fused: INode): void {
    const idx = parts.map((p) => this.index(p));
    for (const i of idx) this.removed.add(i);
    const at = Math.max(...idx);
    this.nodes[at] = fused;
    this.removed.delete(at);
    fused.outputs.forEach((o) => this.producer.set(o, at));
  }
}

const scopeOf = (name: string): string => (name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : name);

function node(name: string, opType: string, inputs: string[], outputs: string[], attrs: [string, IAttr][]): INode {
  return { name, opType, domain: '', inputs, outputs, attrs: new Map(attrs) };
}

/** Axes of a ReduceMean (attribute before opset 18, input after) and whether it keeps dims. */
function reduceAxes(m: Matcher, n: INode): number[] | null {
  const a = n.attrs.get('axes');
  if (a?.kind === 'ints') return a.v;
  if (n.inputs[1]) {
    const c = m.constOf(n.inputs[1]);
    return c ? numbers(c) : null;
  }
  return null;
}

const keepsDims = (n: INode): boolean => {
  const k = n.attrs.get('keepdims');
  return !k || (k.kind === 'int' && k.v === 1);
};

function fuseLayerNorm(m: Matcher, mean: INode): boolean {
  const x = mean.inputs[0];
  const axes = reduceAxes(m, mean);
  if (!x || !axes || axes.length === 0 || !keepsDims(mean)) return false;
  const sub = m.only(mean.outputs[0], 'Sub');
  if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) return false;
  const d = sub.outputs[0];
  const readers = m.consumers.get(d) ?? [];
  if (readers.length !== 2 || m.outputs.has(d)) return false;
  const sq = readers.map((i) => m.nodes[i]).find((n) => (n.opType === 'Pow' && n.inputs[0] === d && close(m.scalar(n.inputs[1]), 2)) || (n.opType === 'Mul' && n.inputs[0] === d && n.inputs[1] === d));
  if (!sq) return false;
  const mean2 = m.only(sq.outputs[0], 'ReduceMean');
  const axes2 = mean2 ? reduceAxes(m, mean2) : null;
  if (!mean2 || !axes2 || axes2.join() !== axes.join() || !keepsDims(mean2)) return false;
  const addEps = m.only(mean2.outputs[0], 'Add');
  const epsIn = addEps ? m.other(addEps, mean2.outputs[0]) : '';
  const eps = epsIn ? m.scalar(epsIn) : null;
  if (!addEps || eps === null || !(eps > 0)) return false;
  const sqrt = m.only(addEps.outputs[0], 'Sqrt');
  const div = sqrt ? m.only(sqrt.outputs[0], 'Div') : null;
  if (!sqrt || !div || div.inputs[0] !== d || div.inputs[1] !== sqrt.outputs[0]) return false;
  const parts = [mean, sub, sq, mean2, addEps, sqrt, div];
  let out = div.outputs[0];
  let gamma = '';
  let beta = '';
  const mul = m.only(out, 'Mul');
  const g = mul ? m.other(mul, out) : '';
  if (mul && g && m.constOf(g)) {
    gamma = g;
    parts.push(mul);
    out = mul.outputs[0];
  }
  const add = m.only(out, 'Add');
  const b = add ? m.other(add, out) : '';
  if (add && b && m.constOf(b)) {
    beta = b;
    parts.push(add);
    out = add.outputs[0];
  }
  m.replace(parts, node(`${scopeOf(mean.name)}/LayerNormalization`, 'LayerNormalization', [x, gamma, beta], [out], [
    ['axes', { kind: 'ints', v: axes }],
    ['epsilon', { kind: 'float', v: eps }],
  ]));
  return true;
}

/** The tail 0.5·x·t of both GELU forms from t = 1 + erf(...) or 1 + tanh(...): its nodes and output. */
function geluTail(m: Matcher, t: string, x: string): { parts: INode[]; out: string } | null {
  const m1 = m.only(t, 'Mul');
  if (!m1) return null;
  const q = m.other(m1, t);
  if (q === x) {
    const m2 = m.only(m1.outputs[0], 'Mul');
    return m2 && m.withScalar(m2, 0.5) === m1.outputs[0] ? { parts: [m1, m2], out: m2.outputs[0] } : null;
  }
  const half = m.prod(q, 'Mul');
  if (half && m.withScalar(half, 0.5) === x && m.only(q, 'Mul') === m1) return { parts: [half, m1], out: m1.outputs[0] };
  if (close(m.scalar(q), 0.5)) {
    const m2 = m.only(m1.outputs[0], 'Mul');
    return m2 && m.other(m2, m1.outputs[0]) === x ? { parts: [m1, m2], out: m2.outputs[0] } : null;
  }
  return null;
}

function fuseGeluErf(m: Matcher, erf: INode): boolean {
  const a = erf.inputs[0];
  const div = m.prod(a, 'Div');
  const mul = m.prod(a, 'Mul');
  let x: string | null = null;
  let scale: INode | null = null;
  if (div && close(m.scalar(div.inputs[1]), Math.SQRT2)) [x, scale] = [div.inputs[0], div];
  else if (mul) [x, scale] = [m.withScalar(mul, Math.SQRT1_2), mul];
  if (!x || !scale || m.only(a, 'Erf') !== erf) return false;
  const add = m.only(erf.outputs[0], 'Add');
  if (!add || m.withScalar(add, 1) !== erf.outputs[0]) return false;
  const tail = geluTail(m, add.outputs[0], x);
  if (!tail) return false;
  m.replace([scale, erf, add, ...tail.parts], node(`${scopeOf(erf.name)}/Gelu`, 'Gelu', [x], [tail.out], [['approximate', { kind: 'string', v: 'none' }]]));
  return true;
}

/** x³ as Pow(x, 3) or Mul(x, Mul(x, x)) in either order: its nodes, given the value. */
function cube(m: Matcher, v: string, x: string): INode[] | null {
  const pow = m.prod(v, 'Pow');
  if (pow) return pow.inputs[0] === x && close(m.scalar(pow.inputs[1]), 3) ? [pow] : null;
  const outer = m.prod(v, 'Mul');
  if (!outer || outer.inputs.length !== 2) return null;
  const sqIn = outer.inputs[0] === x ? outer.inputs[1] : outer.inputs[1] === x ? outer.inputs[0] : null;
  const sq = sqIn ? m.prod(sqIn, 'Mul') : null;
  if (!sq || sq.inputs[0] !== x || sq.inputs[1] !== x || m.only(sqIn!, 'Mul') !== outer) return null;
  return [sq, outer];
}

function fuseGeluTanh(m: Matcher, tanh: INode): boolean {
  const kIn = tanh.inputs[0];
  const k = m.prod(kIn, 'Mul');
  const u = k ? m.withScalar(k, Math.sqrt(2 / Math.PI)) : null;
  if (!k || !u || m.only(kIn, 'Tanh') !== tanh) return false;
  const add = m.prod(u, 'Add');
  if (!add || add.inputs.length !== 2 || m.only(u, 'Mul') !== k) return false;
  for (const [x, w] of [[add.inputs[0], add.inputs[1]], [add.inputs[1], add.inputs[0]]]) {
    const cw = m.prod(w, 'Mul');
    const c = cw ? m.withScalar(cw, 0.044715) : null;
    if (!cw || !c || m.only(w, 'Add') !== add || m.only(c, 'Mul') !== cw) continue;
    const cubed = cube(m, c, x);
    if (!cubed) continue;
    const one = m.only(tanh.outputs[0], 'Add');
    if (!one || m.withScalar(one, 1) !== tanh.outputs[0]) return false;
    const tail = geluTail(m, one.outputs[0], x);
    if (!tail) return false;
    m.replace([...cubed, cw, add, k, tanh, one, ...tail.parts], node(`${scopeOf(tanh.name)}/Gelu`, 'Gelu', [x], [tail.out], [['approximate', { kind: 'string', v: 'tanh' }]]));
    return true;
  }
  return false;
}

function fuseHardSwish(m: Matcher, hs: INode): boolean {
  const x = hs.inputs[0];
  const alpha = hs.attrs.get('alpha');
  const beta = hs.attrs.get('beta');
  if (!close(alpha?.kind === 'float' ? alpha.v : 0.2, 1 / 6) || !close(beta?.kind === 'float' ? beta.v : 0.5, 0.5)) return false;
  const mul = m.only(hs.outputs[0], 'Mul');
  if (!mul || m.other(mul, hs.outputs[0]) !== x) return false;
  m.replace([hs, mul], node(`${scopeOf(hs.name)}/HardSwish`, 'HardSwish', [x], [mul.outputs[0]], []));
  return true;
}

function fuseMatMulAdd(m: Matcher, mm: INode): boolean {
  if (mm.inputs.length !== 2) return false;
  const w = m.constOf(mm.inputs[1]);
  if (!w || w.dtype !== 'float32' || w.shape.length !== 2 || w.batched) return false;
  const add = m.only(mm.outputs[0], 'Add');
  const b = add ? m.other(add, mm.outputs[0]) : '';
  const bias = b ? m.constOf(b) : null;
  const M = w.shape[1];
  if (!add || !bias || bias.dtype !== 'float32' || bias.batched || bias.data.length !== M || bias.shape.some((d, i) => i < bias.shape.length - 1 && d !== 1)) return false;
  // The bias must not broadcast the output to more dims than the MatMul gives (rank ≤ 1 is always safe).
  if (bias.shape.length > 1) return false;
  m.replace([mm, add], { ...mm, inputs: [mm.inputs[0], mm.inputs[1], b], outputs: [add.outputs[0]] });
  return true;
}

/**
 * Fuses the patterns above in `nodes` (any order; the result keeps positions, with each fused node where the
 * pattern's last node was). `constOf` gives the constants known before the import (initializers, Constant nodes
 * and what folds from them); `outputs` are the graph outputs.
 */
export function fusePatterns(nodes: readonly INode[], constOf: (v: string) => Const | null, outputs: ReadonlySet<string>): { nodes: INode[]; counts: FuseCounts } {
  const m = new Matcher([...nodes], constOf, outputs);
  const counts: FuseCounts = { LayerNorm: 0, Gelu: 0, HardSwish: 0, Linear: 0 };
  const n0 = m.nodes.length;
  for (let i = 0; i < n0; i++) {
    if (m.removed.has(i)) continue;
    const n = m.nodes[i];
    if (n.domain !== '') continue;
    if (n.opType === 'ReduceMean' && fuseLayerNorm(m, n)) counts.LayerNorm++;
    else if (n.opType === 'Erf' && fuseGeluErf(m, n)) counts.Gelu++;
    else if (n.opType === 'Tanh' && fuseGeluTanh(m, n)) counts.Gelu++;
    else if (n.opType === 'HardSigmoid' && fuseHardSwish(m, n)) counts.HardSwish++;
  }
  // MatMul + Add after the others (a GELU's or LayerNorm's input may be a MatMul + Add, which stays one Linear).
  for (let i = 0; i < n0; i++) {
    if (m.removed.has(i)) continue;
    const n = m.nodes[i];
    if (n.domain === '' && n.opType === 'MatMul' && fuseMatMulAdd(m, n)) counts.Linear++;
  }
  return { nodes: m.nodes.filter((_, i) => !m.removed.has(i)), counts };
}
