// The fused LUT-NN operator (MobiCom'23): table build, int8 table, encoding, hard forward and straight-through soft backward.
//
// Shapes: x [N, D] rows, D = C·V; centroids P [C, K, V]; weight Wc [C, V, M]; bias [M]; thetaLogit θ [].
//   lut[c] = P[c]·Wc[c] [C, K, M]          dist[n,c,k] = d(x[n, c·V:(c+1)·V], P[c,k])
//   forward value  out = Σ_c lutQ[c, argmin_k dist, :] + bias          (hard, int8 table unless quantize: false)
//   gradient of    soft = Σ_c Σ_k softmax_k(−dist·β)[n,c,k]·lut[c,k,:] + bias, β = softplus(θ) + 1
// Backward, given G = dL/dout: dlut[c] = a[:,c,:]ᵀ·G; da = G·lut[c]ᵀ; dz = a·(da − Σ_k a·da) with z = −β·dist;
// dβ = Σ dz·(−dist), dθ = dβ·sigmoid(θ); ddist = −β·dz → dx, dP through the metric; dP[c] += dlut[c]·Wc[c]ᵀ;
// dWc[c] = P[c]ᵀ·dlut[c]; dbias = Σ_n G.
// Rows are processed in chunks so that only about CHUNK_FLOATS × a few floats of N×C×K data live at once; the
// backward pass recomputes each chunk's distances instead of keeping N×C×K values from the forward pass. The
// per-chunk kernels are in lut-op-kernels.ts.
import { record } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import type { Conv2dGeom } from '../backend/types.js';
import { ArgumentError, DTypeError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { conv2dGeom } from '../ops/conv.js';
import { Tensor } from '../tensor/tensor.js';
import { checkMetric, type Metric } from './distance.js';
import {
  NearList,
  augRow,
  centroidTables,
  chunkArgmin,
  chunkDirectBackward,
  chunkDots,
  chunkL2Backward,
  chunkSoft,
  newWork,
  onesRows,
  transposeRows,
  untransposeRows,
  type Dims,
} from './lut-op-kernels.js';

export { expNeg } from './lut-op-kernels.js';

/** LUT-NN's default initial temperature t = 1/β. */
export const DEFAULT_TEMPERATURE = 0.065;

export interface LutForwardOptions {
  /** Distance between sub-vectors and centroids (default 'l2', the plain Euclidean distance). */
  metric?: Metric;
  /** Hard path on the int8-quantized, dequantized table (default true); false uses the float table. */
  quantize?: boolean;
  /** Rows per chunk (default: sized so one chunk's N×C×K buffers hold about 1M floats). */
  chunkRows?: number;
}

/** Target size of one chunk's [rows, C, K] buffers, in floats. */
const CHUNK_FLOATS = 1 << 20;

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

function checkTensorF32(op: string, arg: string, t: unknown): Float32Array {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${arg} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${arg} must be float32, got ${t.dtype}`);
  return t.data as Float32Array;
}

/** Checks centroids [C, K, V] (K <= 256 for uint8 codes); returns C, K, V. */
function centroidDims(op: string, centroids: Tensor): { C: number; K: number; V: number } {
  checkTensorF32(op, 'centroids', centroids);
  if (centroids.ndim !== 3) throw new ShapeError(`${op}: centroids must be [C, K, V], got ${fmtShape(centroids.shape)}`);
  const [C, K, V] = centroids.shape;
  if (C < 1 || K < 1 || V < 1) throw new ShapeError(`${op}: centroids ${fmtShape(centroids.shape)} has an empty dim`);
  if (K > 256) throw new ShapeError(`${op}: k must be <= 256 (uint8 codes), got centroids ${fmtShape(centroids.shape)}`);
  return { C, K, V };
}

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

function weightDims(op: string, centroids: Tensor, weight: Tensor): number {
  checkTensorF32(op, 'weight', weight);
  const { C, V } = centroidDims(op, centroids);
  if (weight.ndim !== 3 || weight.shape[0] !== C || weight.shape[1] !== V) {
    throw new ShapeError(`${op}: weight must be [C, V, M] = [${C}, ${V}, M] to match centroids ${fmtShape(centroids.shape)}, got ${fmtShape(weight.shape)}`);
  }
  if (weight.shape[2] < 1) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} has no outputs`);
  return weight.shape[2];
}

function checkChunkRows(op: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: chunkRows must be an integer >= 1, got ${String(v)}`);
  return v;
}

function chunkRowsFor(N: number, C: number, K: number, want?: number): number {
  const r = want ?? Math.min(8192, Math.max(16, Math.floor(CHUNK_FLOATS / (C * K))));
  return Math.max(1, Math.min(r, N));
}

// ---------------------------------------------------------------- table

/** lut[c] = centroids[c] [K, V] · weight[c] [V, M] → [C, K, M] (a plain tensor, no graph). */
export function buildLut(centroids: Tensor, weight: Tensor): Tensor {
  const op = 'buildLut';
  const { C, K, V } = centroidDims(op, centroids);
  const M = weightDims(op, centroids, weight);
  const lut = new Float32Array(C * K * M);
  lutInto(centroids.f32, weight.f32, lut, C, K, V, M);
  return new Tensor(lut, [C, K, M]);
}

function lutInto(P: Float32Array, W: Float32Array, lut: Float32Array, C: number, K: number, V: number, M: number): void {
  const be = getBackend();
  for (let c = 0; c < C; c++) {
    be.gemm(P.subarray(c * K * V), W.subarray(c * V * M), lut.subarray(c * K * M), K, M, V, false, false, false);
  }
}

const ROUND_MAGIC = 6755399441055744; // 1.5·2⁵²

/** Per-tensor symmetric int8 scale: max|lut|/127 in float32 (1 for an all-zero table); throws on non-finite entries. */
function lutScale(op: string, lut: Float32Array): number {
  let maxAbs = 0;
  for (let i = 0; i < lut.length; i++) {
    const a = Math.abs(lut[i]);
    if (!(a <= maxAbs)) {
      if (!Number.isFinite(a)) throw new NonFiniteError(`${op}: lut[${i}] is ${lut[i]}; the table must be finite (check centroids and weight)`);
      maxAbs = a;
    }
  }
  return maxAbs > 0 ? Math.fround(maxAbs / 127) : 1;
}

/**
 * q = round(lut/scale) with float32 division and round half to even (as torch.round on float32), so |q| <= 127.
 * Writes q (when `q` is non-empty) and q·scale in float32 (when `deq` is non-empty); returns the scale.
 */
function quantizeInto(op: string, lut: Float32Array, q: Int8Array, deq: Float32Array): number {
  const scale = lutScale(op, lut);
  const n = lut.length;
  const withQ = q.length > 0;
  const withDeq = deq.length > 0;
  for (let i = 0; i < n; i++) {
    // x + 1.5·2⁵² rounds x (|x| <= 127) to an integer, half to even, in the default rounding mode; much faster
    // here than Math.round, which rounds half up.
    const r = Math.fround(lut[i] / scale) + ROUND_MAGIC - ROUND_MAGIC;
    if (withQ) q[i] = r;
    if (withDeq) deq[i] = r * scale;
  }
  return scale;
}

/** The int8 table (same shape as lut, [C, K, M]) and its scale: lut ≈ table · scale, |error| <= scale/2. */
export function quantizeLut(lut: Tensor): { table: Tensor; scale: number } {
  const L = checkTensorF32('quantizeLut', 'lut', lut);
  const q = new Int8Array(L.length);
  const scale = quantizeInto('quantizeLut', L, q, new Float32Array(0));
  return { table: new Tensor(q, lut.shape, 'int8'), scale };
}

/** round(lut/scale)·scale (float32), the table the hard forward path reads; returns it with its scale. */
export function dequantizedLut(lut: Tensor): { lutQ: Tensor; scale: number } {
  const L = checkTensorF32('dequantizedLut', 'lut', lut);
  const deq = new Float32Array(L.length);
  const scale = quantizeInto('dequantizedLut', L, new Int8Array(0), deq);
  return { lutQ: new Tensor(deq, lut.shape), scale };
}

// ---------------------------------------------------------------- row sources: plain rows and conv images

/**
 * Where a chunk's rows come from and where its results go (XT and dXT are [C·(V+1), Rc], see lut-op-kernels.ts).
 * Rows: x [N, D] row-major, G and out [N, M].
 * Conv: rows are im2col patches of whole images (row = (n, oy, ox)); G and out are NCHW, so a chunk's G and out
 * are [M, Rc] ("mMajor"), one [M, outH·outW] plane per image side by side.
 */
interface Source {
  readonly N: number;
  readonly mMajor: boolean;
  /** Chunk starts, in rows, followed by N. */
  readonly bounds: number[];
  /** XT [C·(V+1), Rc] for rows r0..r0+Rc. */
  loadX(r0: number, Rc: number, XT: Float32Array): void;
  /** The chunk of G = dL/dout in the chunk layout (a view or a copy into buf). */
  gradChunk(G: Float32Array, r0: number, Rc: number, buf: Float32Array): Float32Array;
  /** Where the chunk's output goes: a view of Y or buf (then commitOut copies it). */
  outChunk(Y: Float32Array, r0: number, Rc: number, buf: Float32Array): Float32Array;
  commitOut(Y: Float32Array, r0: number, Rc: number, chunk: Float32Array): void;
  /** dx for the chunk's rows from dXT [C·(V+1), Rc] (written or accumulated into dx). */
  storeDx(dXT: Float32Array, dx: Float32Array, r0: number, Rc: number): void;
}

function rowSource(X: Float32Array, d: Dims, R: number): Source {
  const { N, C, V, M } = d;
  const bounds: number[] = [];
  for (let r = 0; r < N; r += R) bounds.push(r);
  bounds.push(N);
  return {
    N,
    mMajor: false,
    bounds,
    loadX: (r0, Rc, XT) => transposeRows(X, XT, r0, Rc, C, V),
    gradChunk: (G, r0, Rc) => G.subarray(r0 * M, (r0 + Rc) * M),
    outChunk: (Y, r0, Rc) => Y.subarray(r0 * M, (r0 + Rc) * M),
    commitOut: () => {},
    storeDx: (dXT, dx, r0, Rc) => untransposeRows(dXT, dx, r0, Rc, C, V),
  };
}

function convSource(X: Float32Array, g: Conv2dGeom, d: Dims, rowsPerChunk: number): Source {
  const { D, C, V, M } = d;
  const Pn = g.outH * g.outW;
  const img = g.cin * g.h * g.w;
  const per = Math.max(1, Math.floor(rowsPerChunk / Pn)); // images per chunk
  const bounds: number[] = [];
  for (let n = 0; n < g.n; n += per) bounds.push(n * Pn);
  bounds.push(g.n * Pn);
  const be = getBackend();
  const cols = new Float32Array(D * Pn); // one image's patches [D, P]
  const rowOf = Int32Array.from({ length: D }, (_, i) => augRow(i, V)); // row of XT for patch column i
  // Copies between a chunk buffer [rowsOfBlock, Rc] and per-image planes [rowsOfBlock, P] (image i at column i·P).
  const gather = (src: Float32Array, n0: number, ni: number, rowsOfBlock: number, dst: Float32Array): void => {
    const Rc = ni * Pn;
    for (let i = 0; i < ni; i++) {
      for (let m = 0; m < rowsOfBlock; m++) {
        const s = ((n0 + i) * rowsOfBlock + m) * Pn;
        dst.set(src.subarray(s, s + Pn), m * Rc + i * Pn);
      }
    }
  };
  return {
    N: g.n * Pn,
    mMajor: true,
    bounds,
    loadX: (r0, Rc, XT) => {
      const n0 = r0 / Pn;
      const ni = Rc / Pn;
      for (let i = 0; i < ni; i++) {
        be.im2col(X.subarray((n0 + i) * img, (n0 + i + 1) * img), g, g.cin, cols); // [D, P]
        for (let dd = 0; dd < D; dd++) XT.set(cols.subarray(dd * Pn, (dd + 1) * Pn), rowOf[dd] * Rc + i * Pn);
      }
      onesRows(XT, Rc, C, V);
    },
    gradChunk: (G, r0, Rc, buf) => {
      const n0 = r0 / Pn;
      const ni = Rc / Pn;
      if (ni === 1) return G.subarray(n0 * M * Pn, (n0 + 1) * M * Pn);
      gather(G, n0, ni, M, buf);
      return buf;
    },
    outChunk: (Y, r0, Rc, buf) => (Rc === Pn ? Y.subarray((r0 / Pn) * M * Pn, (r0 / Pn + 1) * M * Pn) : buf),
    commitOut: (Y, r0, Rc, chunk) => {
      const n0 = r0 / Pn;
      const ni = Rc / Pn;
      if (ni === 1) return;
      for (let i = 0; i < ni; i++) {
        for (let m = 0; m < M; m++) Y.set(chunk.subarray(m * Rc + i * Pn, m * Rc + (i + 1) * Pn), ((n0 + i) * M + m) * Pn);
      }
    },
    storeDx: (dXT, dx, r0, Rc) => {
      const n0 = r0 / Pn;
      const ni = Rc / Pn;
      for (let i = 0; i < ni; i++) {
        for (let dd = 0; dd < D; dd++) cols.set(dXT.subarray(rowOf[dd] * Rc + i * Pn, rowOf[dd] * Rc + (i + 1) * Pn), dd * Pn);
        be.col2im(cols, g, g.cin, dx.subarray((n0 + i) * img, (n0 + i + 1) * img));
      }
    },
  };
}

function maxChunk(src: Source): number {
  let R = 0;
  for (let i = 0; i + 1 < src.bounds.length; i++) R = Math.max(R, src.bounds[i + 1] - src.bounds[i]);
  return R;
}

// ---------------------------------------------------------------- engine

/** codes [N, C] for every row of the source. */
function encodeSource(src: Source, metric: Metric, P: Float32Array, d: Dims): Uint8Array {
  const codes = new Uint8Array(src.N * d.C);
  const w = newWork(maxChunk(src), d);
  const tb = centroidTables(P, d);
  for (let i = 0; i + 1 < src.bounds.length; i++) {
    const r0 = src.bounds[i];
    const Rc = src.bounds[i + 1] - r0;
    src.loadX(r0, Rc, w.XT);
    chunkDots(metric, P, tb, w, Rc, d);
    chunkArgmin(metric, P, tb.psq, w, Rc, r0, d, null, codes);
  }
  return codes;
}

/** Hard forward: out = onehot(codes) · table + bias, chunk by chunk, in the source's layout. */
function forwardSource(src: Source, metric: Metric, P: Float32Array, table: Float32Array, B: Float32Array | null, d: Dims): Float32Array {
  const { C, K, M } = d;
  const CK = C * K;
  const Y = new Float32Array(src.N * M);
  const R = maxChunk(src);
  const w = newWork(R, d);
  const tb = centroidTables(P, d);
  const onehot = new Float32Array(R * CK); // [Rc][C·K]
  const buf = new Float32Array(src.mMajor ? R * M : 0);
  const be = getBackend();
  for (let i = 0; i + 1 < src.bounds.length; i++) {
    const r0 = src.bounds[i];
    const Rc = src.bounds[i + 1] - r0;
    src.loadX(r0, Rc, w.XT);
    chunkDots(metric, P, tb, w, Rc, d);
    onehot.fill(0, 0, Rc * CK);
    chunkArgmin(metric, P, tb.psq, w, Rc, r0, d, onehot, null);
    const out = src.outChunk(Y, r0, Rc, buf);
    if (B) {
      if (src.mMajor) for (let m = 0; m < M; m++) out.fill(B[m], m * Rc, (m + 1) * Rc);
      else for (let r = 0; r < Rc; r++) out.set(B, r * M);
    }
    // rows: [Rc, C·K]·[C·K, M]; conv: [C·K, M]ᵀ·[Rc, C·K]ᵀ = [M, Rc]
    if (src.mMajor) be.gemm(table, onehot, out, M, Rc, CK, true, true, B !== null);
    else be.gemm(onehot, table, out, Rc, M, CK, false, false, B !== null);
    src.commitOut(Y, r0, Rc, out);
  }
  return Y;
}

interface Wants {
  x: boolean;
  centroids: boolean;
  weight: boolean;
  bias: boolean;
  theta: boolean;
}

interface Grads {
  dx: Float32Array | null;
  dP: Float32Array | null;
  dW: Float32Array | null;
  dBias: Float32Array | null;
  dTheta: number | null;
}

const EMPTY32 = new Float32Array(0);
const EMPTY64 = new Float64Array(0);

/** Gradient of the soft path given G = dL/dout in the source's layout (see the file header for the formulas). */
function backwardSource(src: Source, G: Float32Array, metric: Metric, P: Float32Array, W: Float32Array, lut: Float32Array, theta: number, d: Dims, xLen: number, want: Wants): Grads {
  const { C, K, V, M } = d;
  const CK = C * K;
  const be = getBackend();
  const res: Grads = { dx: null, dP: null, dW: null, dBias: null, dTheta: null };
  const needDz = want.x || want.centroids || want.theta; // gradient through the distances
  const needLut = want.centroids || want.weight; // gradient through the table
  const l2 = metric === 'l2';
  const R = maxChunk(src);
  const gbuf = new Float32Array(src.mMajor ? R * M : 0);
  const dbias = want.bias ? new Float64Array(M) : null;
  const dx = want.x ? new Float32Array(xLen) : null;
  const dlut = needLut ? new Float32Array(CK * M) : null;
  const dPdist = want.centroids ? new Float64Array(CK * V) : EMPTY64; // direct (non-GEMM) distance terms of dP
  const xwT = want.centroids && l2 ? new Float32Array(CK * (V + 1)) : EMPTY32; // Σ_r W·(x, 1) [C·K, V+1] (GEMM part of dP)
  const beta = softplus(theta) + 1;
  let dBeta = 0;
  if (needDz || needLut) {
    const w = newWork(R, d);
    const tb = centroidTables(P, d);
    const A = new Float32Array(R * CK);
    const DA = needDz ? new Float32Array(R * CK) : EMPTY32;
    const dXT = want.x ? new Float32Array(R * C * (V + 1)) : EMPTY32;
    const near = new NearList();
    for (let i = 0; i + 1 < src.bounds.length; i++) {
      const r0 = src.bounds[i];
      const Rc = src.bounds[i + 1] - r0;
      const Gc = src.gradChunk(G, r0, Rc, gbuf);
      if (dbias) sumGrad(Gc, Rc, M, src.mMajor, dbias);
      src.loadX(r0, Rc, w.XT);
      chunkDots(metric, P, tb, w, Rc, d);
      // DA [Rc, C·K] = G [Rc, M] · lut [C·K, M]ᵀ
      if (needDz) be.gemm(Gc, lut, DA, Rc, CK, M, src.mMajor, true, false);
      near.n = 0;
      dBeta += chunkSoft(metric, P, tb.psq, w, Rc, r0, d, beta, A, needDz ? DA : EMPTY32, near);
      // dlut [C·K, M] += A [Rc, C·K]ᵀ · G [Rc, M]
      if (dlut) be.gemm(A, Gc, dlut, CK, M, Rc, true, src.mMajor, true);
      if (!(want.x || want.centroids)) continue;
      if (l2) chunkL2Backward(P, tb, w, Rc, d, near, dXT, xwT, dPdist);
      else chunkDirectBackward(metric, P, w, Rc, d, dXT, dPdist);
      if (dx) src.storeDx(dXT, dx, r0, Rc);
    }
  } else if (dbias) {
    for (let i = 0; i + 1 < src.bounds.length; i++) {
      const r0 = src.bounds[i];
      const Rc = src.bounds[i + 1] - r0;
      sumGrad(src.gradChunk(G, r0, Rc, gbuf), Rc, M, src.mMajor, dbias);
    }
  }
  if (dbias) res.dBias = Float32Array.from(dbias);
  if (want.centroids) {
    const dP = new Float32Array(CK * V);
    for (let i = 0; i < CK; i++) {
      for (let v = 0; v < V; v++) {
        const j = i * V + v;
        // l2: Σ_r W·(p − x) = (Σ_r W)·p − Σ_r W·x, from xwT [C·K, V+1]
        dP[j] = l2 ? dPdist[j] + xwT[i * (V + 1) + V] * P[j] - xwT[i * (V + 1) + v] : dPdist[j];
      }
    }
    for (let c = 0; c < C; c++) {
      // dP[c] += dlut[c] [K, M] · Wc[c] [V, M]ᵀ
      be.gemm(dlut!.subarray(c * K * M), W.subarray(c * V * M), dP.subarray(c * K * V), K, V, M, false, true, true);
    }
    res.dP = dP;
  }
  if (want.weight) {
    const dW = new Float32Array(C * V * M);
    for (let c = 0; c < C; c++) {
      // dWc[c] = P[c]ᵀ [V, K] · dlut[c] [K, M]
      be.gemm(P.subarray(c * K * V), dlut!.subarray(c * K * M), dW.subarray(c * V * M), V, M, K, true, false, false);
    }
    res.dW = dW;
  }
  if (want.theta) res.dTheta = dBeta * sigmoid(theta);
  res.dx = dx;
  return res;
}

/** acc[m] += Σ over the chunk's rows of Gc ([Rc, M], or [M, Rc] when mMajor). */
function sumGrad(Gc: Float32Array, Rc: number, M: number, mMajor: boolean, acc: Float64Array): void {
  if (mMajor) {
    for (let m = 0; m < M; m++) {
      let s = 0;
      for (let r = 0; r < Rc; r++) s += Gc[m * Rc + r];
      acc[m] += s;
    }
  } else {
    for (let r = 0; r < Rc; r++) for (let m = 0; m < M; m++) acc[m] += Gc[r * M + m];
  }
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
  return encodeSource(rowSource(x.f32, d, chunkRowsFor(N, C, K, checkChunkRows(op, opts.chunkRows))), metric, centroids.f32, d);
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
    const gr =
      src.N > 0
        ? backwardSource(src, g.f32, k.metric, P, W, lut, k.theta, d, x.size, want)
        : { dx: new Float32Array(0), dP: new Float32Array(P.length), dW: new Float32Array(W.length), dBias: new Float32Array(M), dTheta: 0 };
    const gx = want.x && gr.dx ? new Tensor(gr.dx, x.shape) : null;
    const gp = want.centroids && gr.dP ? new Tensor(gr.dP, centroids.shape) : null;
    const gw = want.weight && gr.dW ? new Tensor(gr.dW, weight.shape) : null;
    const gt = want.theta && gr.dTheta !== null ? new Tensor(Float32Array.of(gr.dTheta), thetaLogit.shape) : null;
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
  const src = rowSource(x.f32, d, N > 0 ? chunkRowsFor(N, C, K, k.chunkRows) : 1);
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
  const src = convSource(x.f32, g, d, chunkRowsFor(Math.max(N, 1), C, K, k.chunkRows));
  return run(op, x, src, [g.n, k.M, g.outH, g.outW], centroids, weight, bias, thetaLogit, d, k);
}
