// Chunk pipeline of the fused LUT-NN op: row sources (rows, conv images), one workspace per call, encode, hard forward, soft backward.
//
// A chunk is nb blocks of R rows (a conv block is one image, R = outH·outW; a rows chunk is one block). Per chunk
// everything lives in one LutMem (wasm memory under the wasm backend), so data crosses the boundary once:
//   X   [nb][D][R]   the rows transposed (im2col patches for a conv), then dx in place
//   GW  [nb][D][R]   G·W per block (W [D, M] = the weight [C, V, M]), then xhat = Σ_k a·P in place
//   G   [nb][M][R]   dL/dout for a conv (its NCHW planes), [R][M] for rows; OUT the same for the forward
// Backward of the soft path (see lut.ts), with a = softmax_k(−β·dist):
//   da = G·lutᵀ = (G·Wᵀ)·Pᵀ per codebook   dW = Σ_rows xhatᵀ·G   dP = Σ_rows a·GW − ddist·∂dist/∂x
// so no C·K×M GEMM is needed: the two GEMMs have the dense layer's shapes, the rest is the per-block soft kernel.
import { getBackend } from '../backend/index.js';
import { allocLutMem, lutCol2im, lutGemmDW, lutGemmGW, lutIm2col, lutScratchBytes, type LutMem } from '../backend/lut-train.js';
import { encodeBlocks, gatherBlocks, softBlocks, type BlockSet } from '../backend/lut-train-blocks.js';
import type { Conv2dGeom } from '../backend/types.js';
import { NonFiniteError } from '../errors.js';
import type { Metric } from '../backend/metric.js';

export interface Dims {
  N: number;
  D: number;
  C: number;
  K: number;
  V: number;
  M: number;
}

export interface Chunk {
  /** First row, blocks, rows per block. */
  r0: number;
  nb: number;
  R: number;
}

/** Where a chunk's rows come from and where dx goes; G and the output of a chunk are G[r0·M, (r0 + nb·R)·M) in both. */
export interface Source {
  readonly N: number;
  /** Blocks are [M][R] (a conv's NCHW plane) rather than [R][M]. */
  readonly mMajor: boolean;
  readonly chunks: Chunk[];
  /** Floats of image staging a chunk needs (conv), 0 for rows. */
  readonly imgFloats: number;
  /** X [nb][D][R] at byte offset X (conv images staged at img). */
  loadX(mem: LutMem, ch: Chunk, X: number, img: number): void;
  /** dx of the chunk's rows from dX [nb][D][R] (conv images staged at img). */
  storeDx(mem: LutMem, ch: Chunk, dX: number, img: number, dx: Float32Array): void;
}

/** Rows per block of a rows source: blocks are the unit the thread pool splits a chunk by. */
const ROW_BLOCK = 64;

export function rowSource(X: Float32Array, d: Dims, rowsPerChunk: number): Source {
  const { N, D } = d;
  const chunks: Chunk[] = [];
  // A chunk is nb full blocks of ROW_BLOCK rows (nb >= 1), or one block of what is left (or of a small chunk size).
  const per = Math.max(1, Math.floor(rowsPerChunk / ROW_BLOCK));
  let r = 0;
  if (rowsPerChunk >= ROW_BLOCK) {
    for (; r + ROW_BLOCK <= N; ) {
      const nb = Math.min(per, Math.floor((N - r) / ROW_BLOCK));
      chunks.push({ r0: r, nb, R: ROW_BLOCK });
      r += nb * ROW_BLOCK;
    }
  }
  for (; r < N; r += rowsPerChunk) chunks.push({ r0: r, nb: 1, R: Math.min(rowsPerChunk, N - r) });
  return {
    N,
    mMajor: false,
    chunks,
    imgFloats: 0,
    // X [nb][D][R]: block b holds rows r0 + b·R .. + R transposed.
    loadX: (mem, { r0, nb, R }, Xo) => {
      const F = mem.f32;
      for (let b = 0; b < nb; b++) {
        const o = (Xo >> 2) + b * D * R;
        for (let r = 0; r < R; r++) {
          const s = (r0 + b * R + r) * D;
          for (let i = 0; i < D; i++) F[o + i * R + r] = X[s + i];
        }
      }
    },
    storeDx: (mem, { r0, nb, R }, dXo, _img, dx) => {
      const F = mem.f32;
      for (let b = 0; b < nb; b++) {
        const o = (dXo >> 2) + b * D * R;
        for (let r = 0; r < R; r++) {
          const s = (r0 + b * R + r) * D;
          for (let i = 0; i < D; i++) dx[s + i] = F[o + i * R + r];
        }
      }
    },
  };
}

export function convSource(X: Float32Array, g: Conv2dGeom, rowsPerChunk: number): Source {
  const P = g.outH * g.outW;
  const img = g.cin * g.h * g.w;
  const per = Math.max(1, Math.floor(rowsPerChunk / P)); // images per chunk
  const chunks: Chunk[] = [];
  for (let n = 0; n < g.n; n += per) chunks.push({ r0: n * P, nb: Math.min(per, g.n - n), R: P });
  return {
    N: g.n * P,
    mMajor: true,
    chunks,
    imgFloats: Math.min(per, g.n) * img,
    loadX: (mem, { r0, nb }, Xo, imgo) => {
      const n0 = r0 / P;
      mem.f32.set(X.subarray(n0 * img, (n0 + nb) * img), imgo >> 2);
      lutIm2col(mem, imgo, Xo, g, nb);
    },
    storeDx: (mem, { r0, nb }, dXo, imgo, dx) => {
      const n0 = r0 / P;
      lutCol2im(mem, dXo, imgo, g, nb);
      dx.set(mem.f32.subarray(imgo >> 2, (imgo >> 2) + nb * img), n0 * img);
    },
  };
}

/** Byte offsets of the buffers of one call's workspace (64-byte aligned). */
class Layout {
  bytes = 0;
  take(floats: number): number {
    const o = this.bytes;
    this.bytes += Math.ceil((floats * 4) / 64) * 64;
    return o;
  }
}

function maxRows(src: Source): number {
  return src.chunks.reduce((m, c) => Math.max(m, c.nb * c.R), 0);
}

function maxBlocks(src: Source): number {
  return src.chunks.reduce((m, c) => Math.max(m, c.nb), 1);
}

/** Per-block scratch and result slots for up to `nb` blocks; `blocks` gives a chunk's BlockSet. */
function takeBlockSlots(lay: Layout, nb: number, d: Dims): { scratch: number; scratchStride: number; res: number; blocks(ch: Chunk): BlockSet } {
  const scratchStride = Math.ceil(lutScratchBytes(d.C, d.K, d.V) / 64) * 64;
  const scratch = lay.take((nb * scratchStride) / 4);
  const res = lay.take(2 * nb);
  return { scratch, scratchStride, res, blocks: (ch) => ({ nb: ch.nb, R: ch.R, xStride: d.D * ch.R * 4, scratch, scratchStride, res }) };
}

function nonFinite(row: number, c: number): NonFiniteError {
  return new NonFiniteError(`lutForward: no finite distance for row ${row}, codebook ${c} (NaN or Inf in x or centroids)`);
}

/** Encodes every block of a loaded chunk into codes [rows][C] at `codes`; throws on a sub-vector with no finite distance. */
function encodeChunk(mem: LutMem, bs: BlockSet, ch: Chunk, metric: Metric, d: Dims, X: number, P: number, codes: number): void {
  const { C, K, V } = d;
  const e = encodeBlocks(mem, bs, X, P, C, K, V, metric, codes, C, ch.R * C);
  if (e) throw nonFinite(ch.r0 + e.block * ch.R + (e.bad % ch.R), Math.floor(e.bad / ch.R));
}

/** codes [N, C] for every row of the source. */
export function encodeSource(src: Source, metric: Metric, P: Float32Array, d: Dims): Uint8Array {
  const { D, C } = d;
  const codes = new Uint8Array(src.N * C);
  const R = maxRows(src);
  const lay = new Layout();
  const pO = lay.take(P.length);
  const xO = lay.take(R * D);
  const cO = lay.take(Math.ceil((R * C) / 4));
  const imgO = lay.take(src.imgFloats);
  const slots = takeBlockSlots(lay, maxBlocks(src), d);
  const mem = allocLutMem(lay.bytes);
  try {
    mem.f32.set(P, pO >> 2);
    for (const ch of src.chunks) {
      src.loadX(mem, ch, xO, imgO);
      encodeChunk(mem, slots.blocks(ch), ch, metric, d, xO, pO, cO);
      codes.set(mem.u8.subarray(cO, cO + ch.nb * ch.R * C), ch.r0 * C);
    }
  } finally {
    mem.dispose();
  }
  return codes;
}

/** Hard forward: out = Σ_c table[c, code] + bias, chunk by chunk, in the source's layout. */
export function forwardSource(src: Source, metric: Metric, P: Float32Array, table: Float32Array, B: Float32Array | null, d: Dims): Float32Array {
  const { D, C, K, M } = d;
  const Y = new Float32Array(src.N * M);
  const R = maxRows(src);
  const lay = new Layout();
  const pO = lay.take(P.length);
  const tO = lay.take(table.length);
  const bO = B ? lay.take(M) : -1;
  const xO = lay.take(R * D);
  const oO = lay.take(R * M);
  const cO = lay.take(Math.ceil((R * C) / 4));
  const imgO = lay.take(src.imgFloats);
  const slots = takeBlockSlots(lay, maxBlocks(src), d);
  const mem = allocLutMem(lay.bytes);
  try {
    const F = mem.f32;
    F.set(P, pO >> 2);
    F.set(table, tO >> 2);
    if (B) F.set(B, bO >> 2);
    for (const ch of src.chunks) {
      src.loadX(mem, ch, xO, imgO);
      const bs = slots.blocks(ch);
      encodeChunk(mem, bs, ch, metric, d, xO, pO, cO);
      gatherBlocks(mem, bs, cO, C, ch.R * C, tO, C, K, M, bO, oO, M * ch.R * 4, src.mMajor);
      const rows = ch.nb * ch.R;
      Y.set(F.subarray(oO >> 2, (oO >> 2) + rows * M), ch.r0 * M);
    }
  } finally {
    mem.dispose();
  }
  return Y;
}

export interface Wants {
  x: boolean;
  centroids: boolean;
  weight: boolean;
  bias: boolean;
  theta: boolean;
}

export interface Grads {
  dx: Float32Array | null;
  dP: Float32Array | null;
  dW: Float32Array | null;
  dBias: Float32Array | null;
  /** dL/dβ (the caller applies dβ/dθ). */
  dBeta: number;
}

/** dbias [M] = Σ over rows of G [N, M] (rows) or [n][M][P] planes (conv), in float64. */
function biasGrad(G: Float32Array, N: number, M: number, mMajor: boolean, planeLen: number): Float32Array {
  const acc = new Float64Array(M);
  if (mMajor) {
    for (let o = 0; o < N * M; o += planeLen) {
      const m = (o / planeLen) % M;
      let s = 0;
      for (let i = o; i < o + planeLen; i++) s += G[i];
      acc[m] += s;
    }
  } else {
    for (let r = 0; r < N; r++) for (let m = 0; m < M; m++) acc[m] += G[r * M + m];
  }
  return Float32Array.from(acc);
}

/** 2^k with max|G|·2^k in [1, 2), k clamped to [−64, 64] (1 for an all-zero or non-finite G). */
function gradScale(G: Float32Array): number {
  let m = 0;
  for (let i = 0; i < G.length; i++) {
    const a = Math.abs(G[i]);
    if (a > m) m = a;
  }
  if (!(m > 0 && m < Infinity)) return 1;
  return 2 ** Math.max(-64, Math.min(64, -Math.floor(Math.log2(m))));
}

/** Gradient of the soft path given G = dL/dout in the source's layout. */
export function backwardSource(src: Source, G: Float32Array, metric: Metric, P: Float32Array, W: Float32Array, beta: number, d: Dims, xLen: number, want: Wants): Grads {
  const { D, C, K, V, M } = d;
  const res: Grads = { dx: null, dP: null, dW: null, dBias: null, dBeta: 0 };
  if (want.bias) res.dBias = biasGrad(G, src.N, M, src.mMajor, src.mMajor ? src.chunks[0].R : 1);
  const needDz = want.x || want.centroids || want.theta; // gradient through the distances: needs G·W
  if (!(needDz || want.weight)) return res;
  const R = maxRows(src);
  const lay = new Layout();
  const pO = lay.take(P.length);
  const wO = needDz ? lay.take(D * M) : -1;
  const dwO = want.weight ? lay.take(D * M) : -1;
  const nbMax = maxBlocks(src);
  const dpStride = Math.ceil((C * K * V * 4) / 64) * 64;
  const dpO = want.centroids ? lay.take((nbMax * dpStride) / 4) : -1;
  const xO = lay.take(R * D);
  const gwO = lay.take(R * D);
  const gO = lay.take(R * M);
  const imgO = lay.take(src.imgFloats);
  const slots = takeBlockSlots(lay, nbMax, d);
  const mem = allocLutMem(lay.bytes);
  try {
    const F = mem.f32;
    F.set(P, pO >> 2);
    // The soft kernel is linear in GW: it runs on GW·2^k (W scaled by 2^k, exact) with max|G·2^k| near 1, and its
    // gw-linear outputs are scaled back by 2^−k. Bit-identical barring underflow, which is the point: gradients of
    // 1e-10 and below would otherwise drive products into float32 subnormals, 10–30x slower on x86.
    const up = needDz ? gradScale(G) : 1;
    const down = 1 / up;
    if (needDz) for (let i = 0, o = wO >> 2; i < W.length; i++) F[o + i] = W[i] * up;
    const dP = want.centroids ? new Float64Array(C * K * V) : null;
    const dx = want.x ? new Float32Array(xLen) : null;
    let dBeta = 0;
    let first = true;
    for (const ch of src.chunks) {
      const { nb, R: Rb } = ch;
      const rows = nb * Rb;
      src.loadX(mem, ch, xO, imgO);
      F.set(G.subarray(ch.r0 * M, (ch.r0 + rows) * M), gO >> 2);
      if (needDz) lutGemmGW(mem, wO, gO, gwO, D, M, Rb, nb, src.mMajor);
      const blockBeta = softBlocks(mem, slots.blocks(ch), metric, xO, needDz ? gwO : -1, pO, C, K, V, beta, want.weight ? gwO : -1, dx !== null, dpO, dpStride);
      for (let b = 0; b < nb; b++) {
        dBeta += down * blockBeta[b];
        if (dP) for (let i = 0, o = (dpO + b * dpStride) >> 2; i < dP.length; i++) dP[i] += down * F[o + i];
      }
      if (want.weight) lutGemmDW(mem, gwO, gO, dwO, D, M, Rb, nb, src.mMajor, !first);
      first = false;
      if (dx) src.storeDx(mem, ch, xO, imgO, dx);
    }
    if (dx && down !== 1) for (let i = 0; i < dx.length; i++) dx[i] *= down;
    res.dBeta = dBeta;
    res.dx = dx;
    if (dP) res.dP = Float32Array.from(dP);
    if (want.weight) res.dW = F.slice(dwO >> 2, (dwO >> 2) + D * M);
  } finally {
    mem.dispose();
  }
  return res;
}

/** lut[c] = P[c] [K, V] · W[c] [V, M] → [C, K, M] via the backend's GEMM. */
export function lutInto(P: Float32Array, W: Float32Array, lut: Float32Array, C: number, K: number, V: number, M: number): void {
  const be = getBackend();
  for (let c = 0; c < C; c++) {
    be.gemm(P.subarray(c * K * V), W.subarray(c * V * M), lut.subarray(c * K * M), K, M, V, false, false, false);
  }
}
