// Records of the LUT layers: LutLinear and LutConv (LUT-NN with l2, l1 or chebyshev encoding), MaddnessLinear and MaddnessConv.
//
// LUT-NN: centroids [C, K, V], weight [C, V, M] (the dense weight regrouped per codebook), bias [M], theta [] (the
// temperature logit). MADDNESS: split_dims [C, 4] int32, thresholds [C, 15], table [C, 16, M] int8, table_scale [],
// bias [M]. A Linear encodes every row of x [..., D] (B·T rows of a [B, T, D] input); a conv its im2col rows.
import { ArgumentError, ShapeError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { shapeSize } from '../../tensor/tensor.js';
import { batchCoef, dimMul, dimProd, fmtDims, type Dim } from '../dims.js';
import { defineOp, type CostCtx, type CostPart, type OnnxCtx, type OnnxOut, type OpDef, type WeightCheckCtx } from '../op.js';
import { fixed, needDType, needRank, req, windowOut } from '../rules.js';
import type { InferCtx, OnnxImportRule } from '../op.js';
import type { AttrValue } from '../types.js';
import { windowAttrs } from './conv.js';
import { allInputs } from '../onnx-in.js';

const METRICS = ['l2', 'l1', 'chebyshev'] as const;
const LEAVES = 16;
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

export interface LutAttrs {
  metric: 'l2' | 'l1' | 'chebyshev';
  /** Hard forward on the int8 table (true) or the float table. */
  quantize: boolean;
}

export interface LutConvAttrs extends LutAttrs {
  kernel: readonly number[];
  stride: readonly number[];
  padding: readonly number[];
  dilation: readonly number[];
}

const lutInputs = [
  { name: 'x', role: 'data' },
  { name: 'centroids', role: 'param' },
  { name: 'weight', role: 'param' },
  { name: 'bias', role: 'param', optional: true },
  { name: 'theta', role: 'param' },
] as const;

const lutAttrs = {
  metric: { type: 'string', choices: METRICS, default: 'l2' },
  quantize: { type: 'bool', default: true },
} as const;

/** Checks centroids [C, K, V], weight [C, V, M], bias [M], theta [] against D inputs; returns C, K, V, M. */
function lutDims(c: InferCtx<object>, D: number): { C: number; K: number; V: number; M: number } {
  const p = req(c, 1);
  const w = req(c, 2);
  needRank(c.node, 'centroids', p, 3, '[C, K, V]');
  needRank(c.node, 'weight', w, 3, '[C, V, M]');
  const [C, K, V] = p.shape.map((d, i) => fixed(c.node, `centroids dim ${i}`, d));
  const [wc, wv, M] = w.shape.map((d, i) => fixed(c.node, `weight dim ${i}`, d));
  if (K < 1 || K > 256) throw new ShapeError(`${c.node}: k = ${K} centroids per codebook, expected 1..256 (uint8 codes)`);
  if (C < 1 || V < 1 || M < 1) throw new ShapeError(`${c.node}: centroids ${fmtDims(p.shape)} and weight ${fmtDims(w.shape)} must not be empty`);
  if (wc !== C || wv !== V) throw new ShapeError(`${c.node}: weight ${fmtDims(w.shape)} must be [${C}, ${V}, M] for centroids ${fmtDims(p.shape)}`);
  if (C * V !== D) throw new ShapeError(`${c.node}: centroids ${fmtDims(p.shape)} cover C·V = ${C * V} inputs, the layer has ${D}`);
  const b = c.inputs[3];
  if (b && (b.shape.length !== 1 || b.shape[0] !== M)) throw new ShapeError(`${c.node}: bias must be [${M}], got ${fmtDims(b.shape)}`);
  const th = req(c, 4);
  if (th.shape.length !== 0) throw new ShapeError(`${c.node}: theta must be a scalar [], got ${fmtDims(th.shape)}`);
  return { C, K, V, M };
}

/** LUT-NN cost: N rows per image; encoding N·D·K multiply-adds, lookups N·C·M adds (see src/graph/cost.ts). */
function lutCost(c: CostCtx<LutAttrs>, N: number): CostPart {
  const [C, K, V] = c.inShape(1)!;
  const M = c.inShape(2)![2];
  const D = C * V;
  const quantize = c.attrs.quantize;
  const bytes = {
    centroidsF32: 4 * C * K * V,
    centroidsInt8: C * K * V,
    centroidScales: 4 * C,
    table: quantize ? C * K * M : 4 * C * K * M,
    tableScale: quantize ? 4 : 0,
    bias: c.inShape(3) ? 4 * M : 0,
    weight: 4 * C * V * M,
    theta: 4,
  };
  const encodeMacs = N * D * K;
  const lookupAdds = N * C * M;
  const theta = c.weight(4);
  return {
    kind: 'lut',
    macs: encodeMacs + lookupAdds,
    encodeMacs,
    lookupAdds,
    paramBytes: bytes.centroidsF32 + bytes.table + bytes.tableScale + bytes.bias,
    deployBytes: bytes.centroidsInt8 + bytes.centroidScales + C * K * M + 4 + bytes.bias,
    trainingOnlyBytes: bytes.weight + bytes.theta,
    workspaceBytes: N * c.batch * C,
    bitsPerActivation: Math.log2(K) / V,
    lut: {
      ncodebooks: C, k: K, subvecLen: V, outDim: M, rowsPerImage: N, metric: c.attrs.metric,
      temperature: theta ? 1 / (softplus(theta.data[0]) + 1) : NaN, quantize, bytes,
    },
  };
}

/**
 * The LUT core in ONNX on rows [R, C, V] → [R, M]: per sub-vector element v, Sub the centroids' v-th coordinates
 * [C, K], Mul (l2) or Abs (l1, chebyshev), accumulated by Add or Max in lutnn's order → distances [R, C, K] →
 * ArgMin (first index on ties) → codes [R, C] → + c·K → Gather from the table [C·K (+ bias row), M] → summed from
 * the bias in lutnn's order (chained Add), or one ReduceSum. Codes and outputs are then bit-identical to lutnn's.
 */
function onnxLutRows(c: OnnxCtx<LutAttrs>, rows: string, kind: 'linear' | 'conv', rowsDim: Dim): string {
  const { e, scope } = c;
  const centroids = c.weight(1);
  const [C, K, V] = centroids.shape;
  const M = c.weight(2).shape[2];
  const P = centroids.f32;
  const xs = V === 1 ? [rows] : e.node('Split', [rows, e.i64(`${scope}.split`, new Array(V).fill(1))], scope, { axis: 2 }, V); // V × [R, C, 1]
  let dist = '';
  for (let v = 0; v < V; v++) {
    const cv = new Float32Array(C * K); // centroids[:, :, v] → [C, K]
    for (let i = 0; i < C * K; i++) cv[i] = P[i * V + v];
    const t = e.one('Sub', [xs[v], e.f32(`${scope}.centroids_v${v}`, cv, [C, K])], scope); // [R, C, K]
    const term = c.attrs.metric === 'l2' ? e.one('Mul', [t, t], scope) : e.one('Abs', [t], scope);
    dist = v === 0 ? term : e.one(c.attrs.metric === 'chebyshev' ? 'Max' : 'Add', [dist, term], scope);
  }
  const codes = e.one('ArgMin', [dist], scope, { axis: 2, keepdims: 0, select_last_index: 0 }); // [R, C] int64
  let codesOut: string | null = null;
  if (e.options.codes) codesOut = e.addOutput(`${scope}.codes`, codes, [rowsDim, C], 'int64');
  // Rows per sample (all the rows when the input has no batch dim).
  const rowsPerSample = typeof rowsDim === 'number' ? rowsDim : batchCoef(rowsDim);
  let idx = e.one('Add', [codes, e.i64(`${scope}.offsets`, Array.from({ length: C }, (_, i) => i * K))], scope); // rows of the flat table
  const lut = e.lutTable(centroids, c.weight(2));
  let table: string;
  if (c.attrs.quantize) {
    table = e.one('DequantizeLinear', [
      e.init(`${scope}.lut_int8`, 'int8', [C * K, M], lut.q),
      e.f32(`${scope}.lut_scale`, Float32Array.of(lut.scale), []),
      e.init(`${scope}.lut_zero_point`, 'int8', [], Int8Array.of(0)),
    ], scope);
  } else {
    table = e.f32(`${scope}.lut`, lut.table, [C * K, M]);
  }
  const hasBias = c.has(3);
  if (hasBias) {
    // The bias is row C·K of the table, gathered as column C of idx; the chained sum starts from it, as lutnn's does.
    table = e.one('Concat', [table, e.f32(`${scope}.bias`, c.weight(3).f32, [1, M])], scope, { axis: 0 });
    idx = e.one('Pad', [idx, e.i64(`${scope}.pads`, [0, 0, 0, 1]), e.i64(`${scope}.bias_index`, [C * K], [])], scope, { mode: 'constant' });
  }
  const picked = e.one('Gather', [table, idx], scope, { axis: 0 }); // [R, C(+1), M]
  let out: string;
  if (e.options.sum === 'reduce') {
    out = e.one('ReduceSum', [picked, e.i64(`${scope}.axes`, [1])], scope, { keepdims: 0 }); // [R, M]
  } else {
    const n = C + (hasBias ? 1 : 0);
    const parts = e.node('Split', [picked, e.i64(`${scope}.split_c`, new Array(n).fill(1))], scope, { axis: 1 }, n); // n × [R, 1, M]
    let acc = hasBias ? parts[n - 1] : parts[0];
    for (let i = hasBias ? 0 : 1; i < (hasBias ? n - 1 : n); i++) acc = e.one('Add', [acc, parts[i]], scope);
    out = e.reshape(acc, [-1, M], scope);
  }
  e.lutLayer({
    name: scope, kind, metric: c.attrs.metric, quantize: c.attrs.quantize, ncodebooks: C, subvecLen: V, k: K, outDim: M,
    tableDtype: c.attrs.quantize ? 'int8' : 'float32', scale: c.attrs.quantize ? lut.scale : null, rowsPerSample, codesOutput: codesOut,
  });
  return out;
}

/** Import of lutnn's own marked LUT layers (src/io/onnx-lut-marker.ts): the same tensors and attributes back. */
function lutImport(op: 'LutLinear' | 'LutConv'): OnnxImportRule {
  return {
    types: [op],
    domain: 'lutnn',
    map(c) {
      const metric = c.attr.string('metric', 'l2');
      const attrs: Record<string, AttrValue> = { metric, quantize: c.attr.int('quantize', 1) === 1 };
      if (op === 'LutConv') for (const k of ['kernel', 'stride', 'padding', 'dilation']) if (c.attr.has(k)) attrs[k] = c.attr.ints(k);
      return c.emit(op, allInputs(c), attrs);
    },
  };
}

function layerInput(c: OnnxCtx<object>): void {
  if (c.e.options.layerInputs) c.e.addOutput(`${c.scope}.input`, c.input(0), c.info(0).shape, 'float32');
}

export const LutLinear = defineOp<LutAttrs>({
  doc: 'LUT-NN Linear: x [..., D] rows encoded to their nearest centroids per codebook, output Σ_c lut[c, code] + bias → [..., M]',
  inputs: lutInputs,
  outputs: 1,
  attrs: lutAttrs,
  infer(c) {
    const x = req(c, 0);
    if (x.shape.length < 1) throw new ShapeError(`${c.node}: x must be [..., D], got ${fmtDims(x.shape)}`);
    const D = fixed(c.node, 'input features', x.shape[x.shape.length - 1]);
    const { M } = lutDims(c, D);
    return [{ shape: [...x.shape.slice(0, -1), M], dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    const xi = x[0]!;
    const D = x[1]!.shape[0] * x[1]!.shape[2];
    const rows = ops.reshape(xi, [-1, D]); // [n, D]
    const y = ops.lutForward(rows, x[1]!, x[2]!, x[3], x[4]!, { metric: a.metric, quantize: a.quantize }); // [n, M]
    return [ops.reshape(y, [...xi.shape.slice(0, -1), y.shape[1]])]; // [..., M]
  },
  cost: (c) => lutCost(c, shapeSize(c.outShape(0)) / c.inShape(2)![2]),
  onnx(c) {
    layerInput(c);
    const x = c.info(0).shape;
    const [C, , V] = c.weight(1).shape;
    const rows = c.e.reshape(c.input(0), [-1, C, V], c.scope); // [R, C, V], R = the product of x's leading dims
    const y = onnxLutRows(c, rows, 'linear', dimProd(x.slice(0, -1))); // [R, M]
    const outShape = c.outInfo(0).shape; // [..., M]
    if (outShape.filter((d) => typeof d !== 'number').length > 1) throw new ShapeError(`${c.scope}: output ${fmtDims(outShape)} has two batch-dependent dims`);
    const out = x.length === 2 ? y : c.e.reshape(y, outShape.map((d) => (typeof d === 'number' ? d : -1)), c.scope);
    return { outputs: [out], exact: c.e.options.sum !== 'reduce' };
  },
  onnxImport: [lutImport('LutLinear')],
  // Runtime: the int8 table scanned per row (rows = T on [N, T, D]); BN (on [N, C]) and ReLU fuse into its epilogue.
  lower: {
    run(c) {
      const rows = c.shape.slice(0, -1).reduce((p, d) => p * d, 1);
      c.emit({ ...c.base, kind: 'lutLinear', rows, spec: c.lutSpec(), epi: { scale: null, shift: null, relu: false } });
    },
  },
});

function convInfer(c: InferCtx<{ kernel: readonly number[]; stride: readonly number[]; padding: readonly number[]; dilation: readonly number[] }>): { cin: number; oh: number; ow: number } {
  const x = req(c, 0);
  needRank(c.node, 'x', x, 4, '[N, Cin, H, W]');
  const { kernel: k, stride: s, padding: p, dilation: d } = c.attrs;
  const cin = fixed(c.node, 'input channels', x.shape[1]);
  const oh = windowOut(c.node, 'height', x.shape[2], k[0], s[0], p[0], d[0]);
  const ow = windowOut(c.node, 'width', x.shape[3], k[1], s[1], p[1], d[1]);
  return { cin, oh, ow };
}

export const LutConv = defineOp<LutConvAttrs>({
  doc: 'LUT-NN conv on im2col rows (cin, ki, kj order; with V = kh·kw a codebook is one input channel\'s patch): [N, Cin, H, W] → [N, M, outH, outW]',
  inputs: lutInputs,
  outputs: 1,
  attrs: { kernel: { type: 'ints', len: 2, min: 1 }, ...windowAttrs, ...lutAttrs },
  infer(c) {
    const { cin, oh, ow } = convInfer(c);
    const { M } = lutDims(c, cin * c.attrs.kernel[0] * c.attrs.kernel[1]);
    return [{ shape: [req(c, 0).shape[0], M, oh, ow], dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    const pair = (v: readonly number[]): [number, number] => [v[0], v[1]];
    return [ops.lutConv2d(x[0]!, x[1]!, x[2]!, x[3], x[4]!, {
      kernel: pair(a.kernel), stride: pair(a.stride), padding: pair(a.padding), dilation: pair(a.dilation), metric: a.metric, quantize: a.quantize,
    })];
  },
  cost: (c) => lutCost(c, c.outShape(0)[2] * c.outShape(0)[3]),
  onnx(c) {
    layerInput(c);
    const { e, scope } = c;
    const [, cin] = c.info(0).shape as number[];
    const [kh, kw] = c.attrs.kernel;
    const [, M, oh, ow] = c.outInfo(0).shape as number[];
    const [C, , V] = c.weight(1).shape;
    const D = cin * kh * kw;
    const P = oh * ow;
    // Patches [N, D, oh, ow]: channel cin·kh·kw + ki·kw + kj holds x[cin] at offset (ki, kj) of each window.
    const onehot = new Float32Array(D * kh * kw);
    for (let o = 0; o < D; o++) onehot[o * kh * kw + (o % (kh * kw))] = 1;
    const patches = e.one('Conv', [c.input(0), e.f32(`${scope}.im2col_kernel`, onehot, [D, 1, kh, kw])], scope, {
      kernel_shape: [kh, kw], strides: [...c.attrs.stride], dilations: [...c.attrs.dilation], group: cin,
      pads: [c.attrs.padding[0], c.attrs.padding[1], c.attrs.padding[0], c.attrs.padding[1]],
    });
    const flat = e.reshape(patches, [0, D, P], scope); // [N, D, P]
    const t = e.one('Transpose', [flat], scope, { perm: [0, 2, 1] }); // [N, P, D]: row (n, oy, ox) as lutnn's im2col
    const rows = e.reshape(t, [-1, C, V], scope); // [N·P, C, V]
    const y = onnxLutRows(c, rows, 'conv', dimMul(c.info(0).shape[0], P)); // [N·P, M]
    const yp = e.reshape(y, [-1, P, M], scope); // [N, P, M]
    const yt = e.one('Transpose', [yp], scope, { perm: [0, 2, 1] }); // [N, M, P]
    return { outputs: [e.reshape(yt, [0, M, oh, ow], scope)], exact: e.options.sum !== 'reduce' };
  },
  onnxImport: [lutImport('LutConv')],
  // Runtime: encoder over the conv's patches, then the int8 table scan; BN and ReLU fuse into its epilogue.
  lower: {
    run(c) {
      const a = c.attrs;
      c.k.need4d(c.ni, c.shape);
      const win = c.k.window(c.shape, c.out, a.kernel, a.stride, a.padding, a.dilation);
      c.emit({ ...c.base, kind: 'lutConv', win, spec: c.lutSpec(), epi: { scale: null, shift: null, relu: false } });
    },
  },
});

const maddnessInputs = [
  { name: 'x', role: 'data' },
  { name: 'split_dims', role: 'buffer', dtypes: ['int32'] },
  { name: 'thresholds', role: 'buffer' },
  { name: 'table', role: 'buffer', dtypes: ['int8'] },
  { name: 'table_scale', role: 'buffer' },
  { name: 'bias', role: 'buffer', optional: true },
] as const;

/** Checks the MADDNESS buffers against D inputs; returns C, V, M. */
function maddnessDims(c: InferCtx<object>, D: number): { C: number; V: number; M: number } {
  const t = req(c, 3);
  needDType(c.node, 'table', t, ['int8']);
  needRank(c.node, 'table', t, 3, `[C, ${LEAVES}, M]`);
  const [C, L, M] = t.shape.map((d, i) => fixed(c.node, `table dim ${i}`, d));
  if (L !== LEAVES || C < 1 || M < 1) throw new ShapeError(`${c.node}: table must be [C, ${LEAVES}, M], got ${fmtDims(t.shape)}`);
  if (D % C !== 0) throw new ShapeError(`${c.node}: ${D} inputs do not split into ${C} codebooks`);
  const sd = req(c, 1);
  const th = req(c, 2);
  if (fmtDims(sd.shape) !== fmtDims([C, 4])) throw new ShapeError(`${c.node}: split_dims must be [${C}, 4], got ${fmtDims(sd.shape)}`);
  if (fmtDims(th.shape) !== fmtDims([C, 15])) throw new ShapeError(`${c.node}: thresholds must be [${C}, 15], got ${fmtDims(th.shape)}`);
  if (req(c, 4).shape.length !== 0) throw new ShapeError(`${c.node}: table_scale must be a scalar []`);
  const b = c.inputs[5];
  if (b && (b.shape.length !== 1 || b.shape[0] !== M)) throw new ShapeError(`${c.node}: bias must be [${M}], got ${fmtDims(b.shape)}`);
  return { C, V: D / C, M };
}

/** split_dims [C, 4] index each codebook's V inputs: every entry in [0, V). */
function checkSplitDims(c: WeightCheckCtx<object>, D: number): void {
  const sd = c.weight(1);
  const table = c.weight(3);
  if (!sd || !table) return;
  const V = D / table.shape[0];
  const d = sd.data;
  for (let i = 0; i < d.length; i++) {
    if (!(d[i] >= 0 && d[i] < V)) throw new ArgumentError(`${c.node}: split_dims '${c.inputName(1)}' is ${d[i]} at index ${i}; each codebook splits on its ${V} inputs, 0..${V - 1}`);
  }
}

function maddnessCost(c: CostCtx<object>, N: number, D: number): CostPart {
  const [C, , M] = c.inShape(3)!;
  const V = D / C;
  const bytes = {
    table: C * LEAVES * M, tableScale: 4, thresholdsF32: 4 * C * 15, thresholdsInt8: C * 15,
    splitDimsInt32: 4 * C * 4, splitDimsUint8: C * 4, bias: c.inShape(5) ? 4 * M : 0,
  };
  const lookupAdds = N * C * M;
  return {
    kind: 'maddness',
    macs: lookupAdds,
    lookupAdds,
    comparisons: N * C * 4,
    paramBytes: bytes.table + bytes.tableScale + bytes.thresholdsF32 + bytes.splitDimsInt32 + bytes.bias,
    deployBytes: bytes.table + bytes.tableScale + bytes.thresholdsInt8 + bytes.splitDimsUint8 + bytes.bias,
    bufferBytes: 0,
    workspaceBytes: N * c.batch * C,
    bitsPerActivation: 4 / V,
    maddness: { ncodebooks: C, leaves: LEAVES, subvecLen: V, outDim: M, rowsPerImage: N, bytes },
  };
}

function noOnnx(op: string): (c: OnnxCtx<object>) => OnnxOut {
  return (c) => {
    throw new ArgumentError(`onnx export: node '${c.scope}' (${op}) is a MADDNESS layer, which ONNX export does not support (convert with --method lutnn for an exportable LUT model)`);
  };
}

/** rows [n, D] → [n, M] through the trees and the table (no gradient). */
function maddnessRowsOf(x: readonly (Tensor | null)[], rows: Tensor, ops: Parameters<OpDef['forward']>[0]['ops']): Tensor {
  return ops.maddnessRows(rows, x[1]!, x[2]!, x[3]!, x[4]!.data[0], x[5]);
}

export const MaddnessLinear = defineOp<Record<string, never>>({
  doc: 'MADDNESS Linear: x [..., D] rows routed down per-codebook hash trees, output scale·Σ_c table[c, leaf] + bias (inference only)',
  inputs: maddnessInputs,
  outputs: 1,
  attrs: {},
  infer(c) {
    const x = req(c, 0);
    if (x.shape.length < 1) throw new ShapeError(`${c.node}: x must be [..., D], got ${fmtDims(x.shape)}`);
    const { M } = maddnessDims(c, fixed(c.node, 'input features', x.shape[x.shape.length - 1]));
    return [{ shape: [...x.shape.slice(0, -1), M], dtype: 'float32' }];
  },
  forward({ x, ops }) {
    const xi = x[0]!;
    const D = xi.shape[xi.ndim - 1];
    const y = maddnessRowsOf(x, ops.reshape(xi.detach(), [-1, D]), ops);
    return [ops.reshape(y, [...xi.shape.slice(0, -1), y.shape[1]])];
  },
  cost: (c) => maddnessCost(c, shapeSize(c.outShape(0)) / c.inShape(3)![2], c.inShape(0)!.at(-1)!),
  checkWeights: (c) => checkSplitDims(c, c.inShape(0)!.at(-1)!),
  onnx: noOnnx('MaddnessLinear'),
  lower: { refuse: 'is a MADDNESS layer; the runtime runs dense and LUT-NN layers only' },
});

export const MaddnessConv = defineOp<{ kernel: readonly number[]; stride: readonly number[]; padding: readonly number[]; dilation: readonly number[] }>({
  doc: 'MADDNESS conv on im2col rows: [N, Cin, H, W] → [N, M, outH, outW] (inference only)',
  inputs: maddnessInputs,
  outputs: 1,
  attrs: { kernel: { type: 'ints', len: 2, min: 1 }, ...windowAttrs },
  infer(c) {
    const { cin, oh, ow } = convInfer(c);
    const { M } = maddnessDims(c, cin * c.attrs.kernel[0] * c.attrs.kernel[1]);
    return [{ shape: [req(c, 0).shape[0], M, oh, ow], dtype: 'float32' }];
  },
  forward({ x, attrs: a, ops }) {
    const xi = x[0]!.detach();
    const M = x[3]!.shape[2];
    const g = ops.conv2dGeom(xi.shape, [M, xi.shape[1], a.kernel[0], a.kernel[1]], {
      stride: [a.stride[0], a.stride[1]], padding: [a.padding[0], a.padding[1]], dilation: [a.dilation[0], a.dilation[1]],
    });
    const y = maddnessRowsOf(x, ops.im2colRows(xi, g), ops); // [N·outH·outW, M]
    return [ops.permute(ops.reshape(y, [g.n, g.outH, g.outW, M]), [0, 3, 1, 2])]; // [N, M, outH, outW]
  },
  cost: (c) => maddnessCost(c, c.outShape(0)[2] * c.outShape(0)[3], c.inShape(0)![1] * c.attrs.kernel[0] * c.attrs.kernel[1]),
  checkWeights: (c) => checkSplitDims(c, c.inShape(0)![1] * c.attrs.kernel[0] * c.attrs.kernel[1]),
  onnx: noOnnx('MaddnessConv'),
  lower: { refuse: 'is a MADDNESS layer; the runtime runs dense and LUT-NN layers only' },
});
