// A quantized layer (QConv / QLinear) whose every product goes through a LUT multiplier (src/hw/multiplier.ts), at the speed of the engine's kernels.
//
// The integer operands are the layer's own: xq = act_bits-bit activations (per tensor), wq = weight_bits-bit weights (per
// output channel), as src/ops/quant.ts computes them. With f(a, w) the multiplier's product, the sums are
//   acc = Σ_k f(xq, wq) = Σ_k xq·wq                                          the exact integer layer
//       + Σ_i Σ_k A_i · Wd_i,   Wd_i = −Σ_{j dropped} value(W_j)·2^shift_ij   one conv / GEMM per a-part with dropped pairs
//       + Σ_i Σ_{p} Σ_k [raw(A_i) = p] · C_ip,                                one per a-part and part pattern p whose row
//         C_ip = Σ_{j kept, inexact} err_ij(p, raw(W_j))                       of errors is not all zero (truncated entries)
// (the linear structure of src/hw/multiplier-linear.ts, written as convolutions: A_i [N, Cin, H, W] holds the values of
// part i of every activation, [raw(A_i) = p] is a 0/1 indicator tensor; Wd_i and C_ip have the weight's layout). Every
// term is a sum of integer products run on the float conv / GEMM kernels, split (exactWeightParts) so that every
// float32 partial sum stays below 2^24, and combined in float64: exact. Padding positions hold no product (a padded
// zero is not multiplied), as the engine's conv. Then y = fround(fround(acc·fround(act_scale·sw[c])) + bias[c]), the
// QConv / QLinear epilogue: with an exact multiplier the output equals the engine's bit for bit.
import { getBackend } from '../backend/index.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { NodeInfo } from '../graph/analyze.js';
import type { Conv2dGeom } from '../backend/types.js';
import { conv2dGeom } from '../ops/conv.js';
import { exactWeightParts } from '../ops/quant.js';
import { pairTables, type LutMultiplier } from '../hw/multiplier.js';
import { partPatterns } from '../hw/multiplier-error.js';
import { quantizeActivations, quantizeWeights, weightMax } from '../tensor/quantize.js';
import type { Tensor } from '../tensor/tensor.js';

/** Σ_k a·w over the layer for integer-valued a (|a| ≤ aMax) and integer weights w (|w| ≤ wMax), exact, in float64. */
type IntSums = (a: Float32Array, w: Float32Array, aMax: number, wMax: number) => Float64Array;

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const v = Math.abs(x[i]);
    if (v > m) m = v;
  }
  return m;
}

/** The conv or GEMM of the layer as exact integer sums. */
function layerSums(kind: 'conv' | 'linear', g: Conv2dGeom | null, n: number, K: number, M: number, outLen: number): IntSums {
  const be = getBackend();
  return (a, w, aMax, wMax) => {
    const acc = new Float64Array(outLen);
    if (aMax === 0 || wMax === 0 || outLen === 0) return acc;
    const { parts, shifts } = exactWeightParts(w, K, aMax, wMax);
    const y = new Float32Array(outLen);
    parts.forEach((p, i) => {
      if (kind === 'conv') be.conv2dForward(a, p, null, g!, y);
      else be.gemm(a, p, y, n, M, K, false, true, false); // [n, K]·[M, K]ᵀ
      const s = 2 ** shifts[i];
      for (let k = 0; k < outLen; k++) acc[k] += y[k] * s;
    });
    return acc;
  };
}

/** Checks that the multiplier takes the layer's operands. */
export function checkLayerMultiplier(node: string, m: LutMultiplier, actBits: number, weightBits: number): void {
  if (m.bitsA !== actBits || m.bitsW !== weightBits || !m.signedA || !m.signedW) {
    throw new ArgumentError(
      `multiplier for '${node}': the layer multiplies signed ${actBits}-bit activations by signed ${weightBits}-bit weights, ` +
      `the multiplier takes ${m.signedA ? 'signed' : 'unsigned'} ${m.bitsA}-bit x ${m.signedW ? 'signed' : 'unsigned'} ${m.bitsW}-bit operands`,
    );
  }
}

export interface MultiplierLayerResult {
  /** The layer output (as the node's output: [N, Cout, outH, outW] or [..., out]). */
  y: Float32Array;
  shape: number[];
  /** Exact integer sums through the multiplier, and those of exact products (for error figures). */
  acc: Float64Array;
  exactAcc: Float64Array;
  /** Kernel passes run (exact layer + drop passes + pattern passes). */
  passes: number;
}

/**
 * The output of quantized node `ni` (QConv or QLinear) on input x when its products go through multiplier `m`.
 * `actScale` overrides the node's act_scale input (default: the tensor given).
 */
export function multiplierLayerForward(ni: NodeInfo, x: Tensor, weight: Tensor, bias: Tensor | null, actScale: number, m: LutMultiplier): MultiplierLayerResult {
  const op = ni.node.op;
  if (op !== 'QConv' && op !== 'QLinear') throw new ArgumentError(`multiplierLayerForward: node '${ni.node.name}' is ${op}, expected QConv or QLinear`);
  const actBits = ni.attrs.act_bits as number;
  const weightBits = ni.attrs.weight_bits as number;
  checkLayerMultiplier(ni.node.name, m, actBits, weightBits);
  const X = x.f32;
  const W = weight.f32;
  const cout = weight.shape[0];
  let g: Conv2dGeom | null = null;
  let n: number;
  let K: number;
  let outShape: number[];
  let plane: number;
  if (op === 'QConv') {
    const a = ni.attrs as unknown as { stride: number[]; padding: number[]; dilation: number[]; groups: number };
    g = conv2dGeom(x.shape, weight.shape, {
      stride: [a.stride[0], a.stride[1]], padding: [a.padding[0], a.padding[1]], dilation: [a.dilation[0], a.dilation[1]], groups: a.groups,
    });
    n = g.n;
    K = (g.cin / g.groups) * g.kh * g.kw;
    outShape = [g.n, g.cout, g.outH, g.outW];
    plane = g.outH * g.outW;
  } else {
    K = weight.shape[1];
    if (x.shape[x.ndim - 1] !== K) throw new ShapeError(`multiplierLayerForward: '${ni.node.name}' input ${fmtShape(x.shape)} vs weight ${fmtShape(weight.shape)}`);
    n = X.length / K;
    outShape = [...x.shape.slice(0, -1), cout];
    plane = 1;
  }
  const outLen = outShape.reduce((s, d) => s * d, 1);
  const sums = layerSums(op === 'QConv' ? 'conv' : 'linear', g, n, K, cout, outLen);
  const xq = quantizeActivations(X, actScale, actBits);
  const { q, scales } = quantizeWeights(W, cout, weightBits);
  const aMax = 2 ** (actBits - 1);
  const exactAcc = sums(xq, q, aMax, weightMax(weightBits));
  const acc = Float64Array.from(exactAcc);
  let passes = 1;

  // Raw part patterns and values of every operand (lookup by operand − min).
  const patA = partPatterns(m, 'a');
  const patW = partPatterns(m, 'w');
  const rawOf = (pat: Int32Array, v: Float32Array, min: number): Uint16Array => {
    const out = new Uint16Array(v.length);
    for (let k = 0; k < v.length; k++) out[k] = pat[v[k] - min];
    return out;
  };
  const valueOf = (raw: Uint16Array, width: number, signed: boolean): Float32Array => {
    const out = new Float32Array(raw.length);
    const half = 2 ** (width - 1);
    for (let k = 0; k < raw.length; k++) out[k] = signed && raw[k] >= half ? raw[k] - 2 * half : raw[k];
    return out;
  };
  const rawW = m.partsW.map((_, j) => rawOf(patW[j], q, m.wMin));
  const valW = m.partsW.map((w, j) => valueOf(rawW[j], w, j === 0));
  const pt = pairTables(m);
  const add = (t: Float64Array): void => {
    for (let k = 0; k < acc.length; k++) acc[k] += t[k];
  };

  for (let i = 0; i < m.partsA.length; i++) {
    const width = m.partsA[i];
    const dropped = m.pairs.filter((p) => p.i === i && p.dropped);
    const inexact = m.pairs.map((p, idx) => ({ p, idx })).filter(({ p, idx }) => p.i === i && !p.dropped && !pt[idx].exact);
    if (dropped.length === 0 && inexact.length === 0) continue;
    const rawA = rawOf(patA[i], xq, m.aMin);
    if (dropped.length > 0) {
      const Wd = new Float32Array(q.length);
      for (const p of dropped) {
        const v = valW[p.j];
        const s = 2 ** p.shift;
        for (let k = 0; k < Wd.length; k++) Wd[k] -= v[k] * s;
      }
      const Ai = valueOf(rawA, width, i === 0);
      add(sums(Ai, Wd, maxAbs(Ai), maxAbs(Wd)));
      passes++;
    }
    if (inexact.length > 0) {
      const rows = 2 ** width;
      const ind = new Float32Array(xq.length);
      for (let pat = 0; pat < rows; pat++) {
        const C = new Float32Array(q.length);
        for (const { p, idx } of inexact) {
          const err = pt[idx].err;
          const cols = 2 ** p.widthW;
          const rw = rawW[p.j];
          for (let k = 0; k < C.length; k++) C[k] += err[pat * cols + rw[k]];
        }
        const cMax = maxAbs(C);
        if (cMax === 0) continue;
        let any = false;
        for (let k = 0; k < ind.length; k++) {
          const hit = rawA[k] === pat ? 1 : 0;
          ind[k] = hit;
          if (hit) any = true;
        }
        if (!any) continue;
        add(sums(ind, C, 1, cMax));
        passes++;
      }
    }
  }

  const y = new Float32Array(outLen);
  const outScale = scales.map((s) => Math.fround(actScale * s));
  const B = bias ? bias.f32 : null;
  for (let k = 0; k < outLen; k++) {
    const c = Math.floor(k / plane) % cout;
    y[k] = Math.fround(Math.fround(acc[k] * outScale[c]) + (B ? B[c] : 0));
  }
  return { y, shape: outShape, acc, exactAcc, passes };
}
