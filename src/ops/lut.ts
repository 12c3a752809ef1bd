// The fused LUT-NN operator (MobiCom'23): table build, int8 table, encoding, hard forward and straight-through soft backward.
//
// Shapes: x [N, D] rows, D = C·V; centroids P [C, K, V]; weight Wc [C, V, M]; bias [M]; thetaLogit θ [].
//   lut[c] = P[c]·Wc[c] [C, K, M]          dist[n,c,k] = d(x[n, c·V:(c+1)·V], P[c,k])
//   forward value  out = Σ_c lutQ[c, argmin_k dist, :] + bias          (hard, int8 table unless quantize: false)
//   gradient of    soft = Σ_c Σ_k softmax_k(−dist·β)[n,c,k]·lut[c,k,:] + bias, β = softplus(θ) + 1
// Backward, given G = dL/dout, with dlut[c] = a[:,c,:]ᵀ·G never formed: GW = G·Wᵀ [N, D] (one dense-shaped GEMM);
// da[n,c,k] = (G·lut[c]ᵀ) = P[c,k]·GW[n,c]; dz = a·(da − Σ_k a·da) with z = −β·dist; dβ = Σ dz·(−dist),
// dθ = dβ·sigmoid(θ); ddist = −β·dz → dx, dP through the metric (direct differences x − p, no expansion);
// dP[c,k] += Σ_n a·GW[n,c] (= dlut[c]·Wc[c]ᵀ); dWc = Σ_n xhatᵀ·G with xhat[n,c] = Σ_k a·P[c,k] (= P[c]ᵀ·dlut[c]);
// dbias = Σ_n G. That is 2·N·D·M + O(N·D·K) multiply-adds instead of 3·N·C·K·M.
// Rows are processed in chunks of whole images (convs) so that a chunk's buffers stay near CHUNK_FLOATS; the backward
// pass recomputes each chunk's distances instead of keeping N×C×K values from the forward pass. The chunk pipeline is
// in lut-kernels.ts, its per-block kernels (SIMD, with TypeScript twins) in src/backend/lut-train.ts.
import { record } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import type { Conv2dGeom } from '../backend/types.js';
import { ArgumentError, DTypeError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { conv2dGeom } from './conv.js';
import { Tensor } from '../tensor/tensor.js';
import { checkMetric, type Metric } from '../backend/metric.js';
import { backwardSource, convSource, encodeSource, forwardSource, lutInto, rowSource, type Dims, type Grads, type Source, type Wants } from './lut-kernels.js';
import { centroidDims, checkTensorF32, quantizeInto, weightDims } from './lut-table.js';

// The table math lives in lut-table.ts (no autograd import, for the runtime and the browser bundle).
export { buildLut, quantizeLut, dequantizedLut } from './lut-table.js';

export { expNeg } from '../backend/lut-train.js';

/** LUT-NN's default initial temperature t = 1/β. */
export const DEFAULT_TEMPERATURE = 0.065;

export interface LutForwardOptions {
  /** Distance between sub-vectors and centroids (default 'l2', the plain Euclidean distance). */
  metric?: Metric;
  /** Hard path on the int8-quantized, dequantized table (default true); false uses the float table. */
  quantize?: boolean;
  /** Rows per chunk (default: sized so one chunk's [rows, D] buffers hold about CHUNK_FLOATS floats). */
  chunkRows?: number;
}

/** Target size of one chunk's [rows, D] buffers, in floats (a chunk holds about three of them). */
const CHUNK_FLOATS = 1 << 19;

// ---------------------------------------------------------------- scalars: softplus, temperature

/** log(1 + e^x), stable for any x. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** The x with softplus(x) = y (y > 0): log(e^y − 1) computed as y + log(1 − e^−y). */
export function inverseSoftplus(y: number): number {
  if (!(y > 0) || !Number.isFinite(y)) throw new ArgumentError(`inverseSoftplus: y must be finite and > 0, got ${y}`);
  return y + Math.log(-Math.expm1(-y));
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** The logit θ whose temperature 1/(softplus(θ)+1) is `t` (0 < t < 1); LUT-NN starts at t = 0.065. */
export function thetaForTemperature(t = DEFAULT_TEMPERATURE): number {
  if (typeof t !== 'number' || !(t > 0 && t < 1)) throw new ArgumentError(`thetaForTemperature: t must be in (0, 1), got ${String(t)}`);
  return inverseSoftplus(1 / t - 1);
}

/** Temperature t = 1/β = 1/(softplus(θ)+1) of a logit θ (a number or a one-element tensor). */
export function temperatureOf(thetaLogit: Tensor | number): number {
  const th = typeof thetaLogit === 'number' ? thetaLogit : thetaLogit.item();
  return 1 / (softplus(th) + 1);
}

// ---------------------------------------------------------------- checks

/** Checks rows x [N, D] against centroids [C, K, V] (D = C·V). */
function rowDims(op: string, x: Tensor, centroids: Tensor): { N: number; D: number; C: number; K: number; V: number } {
  checkTensorF32(op, 'x', x);
  const { C, K, V } = centroidDims(op, centroids);
  if (x.ndim !== 2) throw new ShapeError(`${op}: x must be 2-D rows [N, D], got ${fmtShape(x.shape)}`);
  const [N, D] = x.shape;
  if (D !== C * V) {
    throw new ShapeError(`${op}: x row length ${D} vs C·V = ${C}·${V} = ${C * V} for x ${fmtShape(x.shape)} and centroids ${fmtShape(centroids.shape)}`);
  }
  return { N, D, C, K, V };
}

function checkChunkRows(op: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: chunkRows must be an integer >= 1, got ${String(v)}`);
  return v;
}

function chunkRowsFor(N: number, D: number, want?: number): number {
  const r = want ?? Math.max(16, Math.floor(CHUNK_FLOATS / D));
  return Math.max(1, Math.min(r, N));
}

// ---------------------------------------------------------------- the ops

/**
 * codes [N, C] (uint8, row-major): the nearest centroid of each sub-vector under `metric` (first on ties).
 * x is [N, D] rows, centroids [C, K, V].
 */
export function encodeRows(x: Tensor, centroids: Tensor, opts: { metric?: Metric; chunkRows?: number } = {}): Uint8Array {
  const op = 'encodeRows';
  const metric = checkMetric(op, opts.metric ?? 'l2');
  const { N, D, C, K, V } = rowDims(op, x, centroids);
  const d: Dims = { N, D, C, K, V, M: 0 };
  if (N === 0) return new Uint8Array(0);
  return encodeSource(rowSource(x.f32, d, chunkRowsFor(N, D, checkChunkRows(op, opts.chunkRows))), metric, centroids.f32, d);
}

interface Checked {
  metric: Metric;
  quantize: boolean;
  chunkRows: number | undefined;
  M: number;
  theta: number;
}

function checkCommon(op: string, centroids: Tensor, weight: Tensor, bias: Tensor | null, thetaLogit: Tensor, opts: LutForwardOptions): Checked {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: opts must be an object`);
  const metric = checkMetric(op, opts.metric ?? 'l2');
  const quantize = opts.quantize ?? true;
  if (typeof quantize !== 'boolean') throw new ArgumentError(`${op}: quantize must be a boolean, got ${String(quantize)}`);
  const chunkRows = checkChunkRows(op, opts.chunkRows);
  const M = weightDims(op, centroids, weight);
  if (bias !== null && bias !== undefined) {
    checkTensorF32(op, 'bias', bias);
    if (bias.ndim !== 1 || bias.shape[0] !== M) throw new ShapeError(`${op}: bias must be [${M}], got ${fmtShape(bias.shape)}`);
  }
  checkTensorF32(op, 'thetaLogit', thetaLogit);
  if (thetaLogit.size !== 1 || thetaLogit.ndim > 1) throw new ShapeError(`${op}: thetaLogit must be a scalar [], got ${fmtShape(thetaLogit.shape)}`);
  const theta = thetaLogit.f32[0];
  if (!Number.isFinite(theta)) throw new NonFiniteError(`${op}: thetaLogit is ${theta}, expected finite`);
  return { metric, quantize, chunkRows, M, theta };
}

/** The shared body of lutForward and lutConv2d: table, hard forward, recorded straight-through backward. */
function run(op: string, x: Tensor, src: Source, outShape: number[], centroids: Tensor, weight: Tensor, bias: Tensor | null, thetaLogit: Tensor, d: Dims, k: Checked): Tensor {
  const P = centroids.f32;
  const W = weight.f32;
  const { C, K, V, M } = d;
  const lut = new Float32Array(C * K * M);
  lutInto(P, W, lut, C, K, V, M);
  let table = lut;
  if (k.quantize) {
    table = new Float32Array(lut.length);
    quantizeInto(op, lut, new Int8Array(0), table);
  }
  const Y = src.N > 0 ? forwardSource(src, k.metric, P, table, bias ? bias.f32 : null, d) : new Float32Array(0);
  const out = new Tensor(Y, outShape);
  const inputs = bias ? [x, centroids, weight, bias, thetaLogit] : [x, centroids, weight, thetaLogit];
  return record(out, op, inputs, (g) => {
    const want: Wants = {
      x: x.requiresGrad,
      centroids: centroids.requiresGrad,
      weight: weight.requiresGrad,
      bias: bias !== null && bias.requiresGrad,
      theta: thetaLogit.requiresGrad,
    };
    const gr: Grads =
      src.N > 0
        ? backwardSource(src, g.f32, k.metric, P, W, softplus(k.theta) + 1, d, x.size, want)
        : { dx: new Float32Array(0), dP: new Float32Array(P.length), dW: new Float32Array(W.length), dBias: new Float32Array(M), dBeta: 0 };
    const dTheta = gr.dBeta * sigmoid(k.theta);
    const gx = want.x && gr.dx ? new Tensor(gr.dx, x.shape) : null;
    const gp = want.centroids && gr.dP ? new Tensor(gr.dP, centroids.shape) : null;
    const gw = want.weight && gr.dW ? new Tensor(gr.dW, weight.shape) : null;
    const gt = want.theta ? new Tensor(Float32Array.of(dTheta), thetaLogit.shape) : null;
    if (bias) return [gx, gp, gw, want.bias && gr.dBias ? new Tensor(gr.dBias, bias.shape) : null, gt];
    return [gx, gp, gw, gt];
  });
}

/**
 * The LUT-NN layer on rows: x [N, D], centroids [C, K, V], weight [C, V, M], bias [M] or null, thetaLogit [].
 * Returns [N, M]: the hard value Σ_c lutQ[c, code[n,c]] + bias, with the soft path's exact gradient w.r.t. every
 * input (straight-through). The table is rebuilt from centroids and weight at every call.
 */
export function lutForward(x: Tensor, centroids: Tensor, weight: Tensor, bias: Tensor | null, thetaLogit: Tensor, opts: LutForwardOptions = {}): Tensor {
  const op = 'lutForward';
  const k = checkCommon(op, centroids, weight, bias, thetaLogit, opts);
  const { N, D, C, K, V } = rowDims(op, x, centroids);
  const d: Dims = { N, D, C, K, V, M: k.M };
  const src = rowSource(x.f32, d, N > 0 ? chunkRowsFor(N, D, k.chunkRows) : 1);
  return run(op, x, src, [N, k.M], centroids, weight, bias, thetaLogit, d, k);
}

export interface LutConv2dOptions extends LutForwardOptions {
  /** Kernel [kh, kw] (the weight [C, V, M] does not fix it). */
  kernel: readonly [number, number];
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
}

/**
 * The LUT-NN layer on a convolution's im2col rows, straight from NCHW: x [N, Cin, H, W] → [N, M, outH, outW].
 * Row (n, oy, ox) is the patch in (cin, ki, kj) order, so D = Cin·kh·kw = C·V (with V = kh·kw, codebook c is
 * input channel c's patch). Chunks are whole images; no rows matrix or output permutation is materialised.
 * `chunkRows` sets the rows per chunk (rounded down to whole images, at least one).
 */
export function lutConv2d(x: Tensor, centroids: Tensor, weight: Tensor, bias: Tensor | null, thetaLogit: Tensor, opts: LutConv2dOptions): Tensor {
  const op = 'lutConv2d';
  if (opts === null || typeof opts !== 'object' || !Array.isArray(opts.kernel)) throw new ArgumentError(`${op}: opts.kernel [kh, kw] is required`);
  const k = checkCommon(op, centroids, weight, bias, thetaLogit, opts);
  checkTensorF32(op, 'x', x);
  const { C, K, V } = centroidDims(op, centroids);
  if (x.ndim !== 4) throw new ShapeError(`${op}: x must be [N, Cin, H, W], got ${fmtShape(x.shape)}`);
  const [kh, kw] = opts.kernel;
  const g = conv2dGeom(x.shape, [k.M, x.shape[1], kh, kw], { stride: opts.stride, padding: opts.padding, dilation: opts.dilation });
  const D = g.cin * kh * kw;
  if (D !== C * V) {
    throw new ShapeError(`${op}: patch length Cin·kh·kw = ${g.cin}·${kh}·${kw} = ${D} vs C·V = ${C}·${V} = ${C * V} for x ${fmtShape(x.shape)} and centroids ${fmtShape(centroids.shape)}`);
  }
  const N = g.n * g.outH * g.outW;
  const d: Dims = { N, D, C, K, V, M: k.M };
  const src = convSource(x.f32, g, chunkRowsFor(Math.max(N, 1), D, k.chunkRows));
  return run(op, x, src, [g.n, k.M, g.outH, g.outW], centroids, weight, bias, thetaLogit, d, k);
}

/**
 * im2col rows of a batch: x [N, Cin, H, W] → [N·outH·outW, Cin·kh·kw], row (n, oy, ox), columns in (cin, ki, kj)
 * order, so with V = kh·kw codebook c is input channel c's kh×kw patch. Backward scatters back with col2im.
 * `g` is the geometry from conv2dGeom (groups 1).
 */
export function im2colRows(x: Tensor, g: Conv2dGeom): Tensor {
  if (!(x instanceof Tensor) || x.dtype !== 'float32') throw new DTypeError('im2colRows: x must be a float32 tensor');
  if (g.groups !== 1) throw new ArgumentError(`im2colRows: groups must be 1, got ${g.groups}`);
  if (x.ndim !== 4 || x.shape[0] !== g.n || x.shape[1] !== g.cin || x.shape[2] !== g.h || x.shape[3] !== g.w) {
    throw new ShapeError(`im2colRows: x ${fmtShape(x.shape)} vs geometry [${g.n},${g.cin},${g.h},${g.w}]`);
  }
  const be = getBackend();
  const X = x.f32;
  const D = g.cin * g.kh * g.kw;
  const Pn = g.outH * g.outW;
  const img = g.cin * g.h * g.w;
  const rows = new Float32Array(g.n * Pn * D);
  const cols = new Float32Array(D * Pn); // one image's patches [D, P]
  for (let n = 0; n < g.n; n++) {
    be.im2col(X.subarray(n * img, (n + 1) * img), g, g.cin, cols);
    const base = n * Pn * D;
    for (let d = 0; d < D; d++) {
      let src = d * Pn;
      for (let p = 0; p < Pn; p++) rows[base + p * D + d] = cols[src++]; // [D, P] → [P, D]
    }
  }
  const out = new Tensor(rows, [g.n * Pn, D]);
  return record(out, 'lutConvRows', [x], (grad) => {
    const Gr = grad.f32;
    const dx = new Float32Array(X.length);
    for (let n = 0; n < g.n; n++) {
      const base = n * Pn * D;
      for (let d = 0; d < D; d++) {
        let dst = d * Pn;
        for (let p = 0; p < Pn; p++) cols[dst++] = Gr[base + p * D + d]; // [P, D] → [D, P]
      }
      be.col2im(cols, g, g.cin, dx.subarray(n * img, (n + 1) * img));
    }
    return [new Tensor(dx, x.shape)];
  });
}
