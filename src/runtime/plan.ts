// Compiles a Module tree into the runtime's flat op list: shapes per sample, batch norm folded, ReLU fused.
// No kernels here: steps.ts turns these ops into resident buffers and kernel calls.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Identity, Linear, MaxPool2d, ReLU, Sequential } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { moduleTypeOf } from '../nn/spec.js';
import { MaddnessConv2d, MaddnessLinear } from '../lut/maddness-modules.js';
import { LutConv2d, LutLinear } from '../lut/modules.js';
import { lutSpecOf, type LutLayerSpec } from './lut-step.js';

const OP = 'lutnn.load';

/** What runs after a producer, in one pass: y = act(y·scale + shift) per channel (or per column of rows). */
export interface Epilogue {
  scale: Float32Array | null;
  shift: Float32Array | null;
  relu: boolean;
}

/** Geometry of one sample's 2-D window op (conv, LUT conv, pooling). */
export interface Window {
  cin: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  outH: number;
  outW: number;
}

interface Base {
  /** Dotted module name(s) the op came from. */
  name: string;
  /** Per-sample shapes (no batch dim). */
  inShape: number[];
  outShape: number[];
}

export type Op =
  | (Base & { kind: 'conv'; win: Window; cout: number; weight: Float32Array; epi: Epilogue })
  | (Base & { kind: 'linear'; inF: number; outF: number; weight: Float32Array; epi: Epilogue })
  | (Base & { kind: 'lutConv'; win: Window; spec: LutLayerSpec; epi: Epilogue })
  | (Base & { kind: 'lutLinear'; spec: LutLayerSpec; epi: Epilogue })
  | (Base & { kind: 'pool'; mode: 'max' | 'avg'; win: Window })
  | (Base & { kind: 'globalAvgPool' })
  | (Base & { kind: 'affine'; epi: Epilogue })
  | (Base & { kind: 'reshape' });

const size = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** The leaves of nested Sequentials, in forward order, with dotted names. */
function leaves(m: Module, name: string, out: [string, Module][]): [string, Module][] {
  if (m instanceof Sequential) {
    for (const [n, c] of m.namedChildren()) leaves(c, name ? `${name}.${n}` : n, out);
  } else {
    out.push([name || '(root)', m]);
  }
  return out;
}

function need4d(name: string, type: string, shape: number[], cin?: number): void {
  if (shape.length !== 3 || (cin !== undefined && shape[0] !== cin)) {
    throw new ShapeError(`${OP}: ${type} '${name}' expects [N, ${cin ?? 'C'}, H, W] input, got [N,${shape.join(',')}]`);
  }
}

function outDim(op: string, name: string, n: number, k: number, s: number, p: number, d: number): number {
  const eff = d * (k - 1) + 1;
  const o = Math.floor((n + 2 * p - eff) / s) + 1;
  if (n + 2 * p < eff || o <= 0) throw new ShapeError(`${OP}: ${op} '${name}': input size ${n} padded by ${p} is smaller than the window ${eff}`);
  return o;
}

function window(type: string, name: string, inShape: number[], k: readonly number[], s: readonly number[], p: readonly number[], d: readonly number[]): Window {
  const [cin, h, w] = inShape;
  return {
    cin, h, w, kh: k[0], kw: k[1], sh: s[0], sw: s[1], ph: p[0], pw: p[1], dh: d[0], dw: d[1],
    outH: outDim(type, name, h, k[0], s[0], p[0], d[0]),
    outW: outDim(type, name, w, k[1], s[1], p[1], d[1]),
  };
}

/** The epilogue of the last op if another per-channel affine map or ReLU may still fuse into it. */
function openEpilogue(ops: Op[]): Epilogue | null {
  const last = ops[ops.length - 1];
  if (!last || !('epi' in last)) return null;
  return last.epi.relu ? null : last.epi;
}

/** Folds y·s + t (per channel) into an epilogue: scale' = scale·s, shift' = shift·s + t, in float64. */
function composeAffine(epi: Epilogue, s: Float64Array, t: Float64Array): void {
  const C = s.length;
  const scale = new Float32Array(C);
  const shift = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    scale[c] = (epi.scale ? epi.scale[c] : 1) * s[c];
    shift[c] = (epi.shift ? epi.shift[c] : 0) * s[c] + t[c];
  }
  epi.scale = scale;
  epi.shift = shift;
}

/**
 * Batch norm (eval): y = x·s + t with s = γ/√(var + ε), t = β − mean·s. Folded into the weights of a preceding
 * dense conv (w·s, b·s + t), into the epilogue of a preceding LUT layer, or run as its own affine op.
 */
function batchNorm(ops: Op[], name: string, bn: BatchNorm2d, shape: number[]): void {
  need4d(name, 'BatchNorm2d', shape, bn.numFeatures);
  const C = bn.numFeatures;
  const s = new Float64Array(C);
  const t = new Float64Array(C);
  const [g, b, mean, v] = [bn.weight.f32, bn.bias.f32, bn.runningMean.f32, bn.runningVar.f32];
  for (let c = 0; c < C; c++) {
    s[c] = g[c] / Math.sqrt(v[c] + bn.eps);
    t[c] = b[c] - mean[c] * s[c];
  }
  const last = ops[ops.length - 1];
  const epi = openEpilogue(ops);
  if (last && epi && last.kind === 'conv' && !epi.scale) {
    const kc = last.weight.length / last.cout;
    for (let co = 0; co < last.cout; co++) for (let i = co * kc; i < (co + 1) * kc; i++) last.weight[i] = last.weight[i] * s[co];
    const shift = new Float32Array(C);
    for (let co = 0; co < C; co++) shift[co] = (epi.shift ? epi.shift[co] : 0) * s[co] + t[co];
    epi.shift = shift;
    last.name += `+${name}`;
    return;
  }
  if (last && epi && (last.kind === 'lutConv' || last.kind === 'affine')) {
    composeAffine(epi, s, t);
    last.name += `+${name}`;
    return;
  }
  const own: Epilogue = { scale: null, shift: null, relu: false };
  composeAffine(own, s, t);
  ops.push({ kind: 'affine', name, inShape: shape, outShape: shape, epi: own });
}

function checkLut(name: string, m: LutLinear | LutConv2d): void {
  if (!m.quantize) {
    throw new ArgumentError(`${OP}: ${moduleTypeOf(m)} '${name}' has quantize = false (float table); the runtime runs int8 tables only`);
  }
}

/** The ops of `root` for samples of shape `inputShape` (no batch dim). Throws on modules the runtime cannot run. */
export function planOps(root: Module, inputShape: readonly number[]): Op[] {
  const ops: Op[] = [];
  let shape = [...inputShape];
  for (const [name, m] of leaves(root, '', [])) {
    if (m instanceof Identity || m instanceof Dropout) continue; // eval mode: identity
    if (m instanceof Conv2d) {
      need4d(name, 'Conv2d', shape, m.inChannels);
      if (m.groups !== 1) throw new ArgumentError(`${OP}: Conv2d '${name}' has groups = ${m.groups}; the runtime runs groups = 1 only`);
      const win = window('Conv2d', name, shape, m.kernelSize, m.stride, m.padding, m.dilation);
      const out = [m.outChannels, win.outH, win.outW];
      ops.push({
        kind: 'conv', name, inShape: shape, outShape: out, win, cout: m.outChannels,
        weight: Float32Array.from(m.weight.f32),
        epi: { scale: null, shift: m.bias ? Float32Array.from(m.bias.f32) : null, relu: false },
      });
      shape = out;
    } else if (m instanceof LutConv2d) {
      checkLut(name, m);
      need4d(name, 'LutConv2d', shape, m.cin);
      const win = window('LutConv2d', name, shape, m.kernel, m.stride, m.padding, m.dilation);
      const out = [m.cout, win.outH, win.outW];
      ops.push({ kind: 'lutConv', name, inShape: shape, outShape: out, win, spec: lutSpecOf(m), epi: { scale: null, shift: null, relu: false } });
      shape = out;
    } else if (m instanceof Linear || m instanceof LutLinear) {
      const inF = m instanceof Linear ? m.inFeatures : m.inFeatures;
      if (shape.length !== 1 || shape[0] !== inF) {
        throw new ShapeError(`${OP}: ${moduleTypeOf(m)} '${name}' expects [N, ${inF}] input (flatten first), got [N,${shape.join(',')}]`);
      }
      const outF = m.outFeatures;
      if (m instanceof Linear) {
        ops.push({
          kind: 'linear', name, inShape: shape, outShape: [outF], inF, outF, weight: Float32Array.from(m.weight.f32),
          epi: { scale: null, shift: m.bias ? Float32Array.from(m.bias.f32) : null, relu: false },
        });
      } else {
        checkLut(name, m);
        ops.push({ kind: 'lutLinear', name, inShape: shape, outShape: [outF], spec: lutSpecOf(m), epi: { scale: null, shift: null, relu: false } });
      }
      shape = [outF];
    } else if (m instanceof BatchNorm2d) {
      batchNorm(ops, name, m, shape);
    } else if (m instanceof ReLU) {
      const epi = openEpilogue(ops);
      if (epi) {
        epi.relu = true;
        ops[ops.length - 1].name += `+${name}`;
      } else {
        ops.push({ kind: 'affine', name, inShape: shape, outShape: shape, epi: { scale: null, shift: null, relu: true } });
      }
    } else if (m instanceof MaxPool2d || m instanceof AvgPool2d) {
      const type = m instanceof MaxPool2d ? 'MaxPool2d' : 'AvgPool2d';
      need4d(name, type, shape);
      const win = window(type, name, shape, m.kernel, m.stride, m.padding, [1, 1]);
      const out = [shape[0], win.outH, win.outW];
      ops.push({ kind: 'pool', mode: m instanceof MaxPool2d ? 'max' : 'avg', name, inShape: shape, outShape: out, win });
      shape = out;
    } else if (m instanceof GlobalAvgPool2d) {
      need4d(name, 'GlobalAvgPool2d', shape);
      ops.push({ kind: 'globalAvgPool', name, inShape: shape, outShape: [shape[0]] });
      shape = [shape[0]];
    } else if (m instanceof Flatten) {
      const nd = shape.length + 1; // with the batch dim
      const s = m.startDim < 0 ? m.startDim + nd : m.startDim;
      const e = m.endDim < 0 ? m.endDim + nd : m.endDim;
      if (!(s >= 1 && s <= e && e < nd)) {
        throw new ArgumentError(`${OP}: Flatten '${name}' (startDim ${m.startDim}, endDim ${m.endDim}) must keep the batch dim of [N,${shape.join(',')}]`);
      }
      const out = [...shape.slice(0, s - 1), size(shape.slice(s - 1, e)), ...shape.slice(e)];
      ops.push({ kind: 'reshape', name, inShape: shape, outShape: out });
      shape = out;
    } else if (m instanceof MaddnessLinear || m instanceof MaddnessConv2d) {
      throw new ArgumentError(`${OP}: ${moduleTypeOf(m)} '${name}' is a MADDNESS layer; the runtime runs dense and LUT-NN layers only`);
    } else {
      let type = m.constructor.name;
      try {
        type = moduleTypeOf(m);
      } catch {
        // an unregistered class: its constructor name is the best we have
      }
      throw new ArgumentError(`${OP}: module '${name}' of type ${type} is not supported by the runtime (supported: Conv2d, Linear, LutConv2d, LutLinear, BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, GlobalAvgPool2d, Flatten, Dropout, Identity, Sequential)`);
    }
  }
  if (ops.length === 0) throw new ArgumentError(`${OP}: the model has no layer to run`);
  return ops;
}

/** A one-line description per op (for summaries and error messages). */
export function describeOps(ops: readonly Op[]): string[] {
  return ops.map((o) => `${o.kind} ${o.name}: ${fmtShape(o.inShape)} → ${fmtShape(o.outShape)}`);
}
