// The LUT training kernels over the nb blocks of a chunk: one pool job (a task per block) on wasm memory, the twins in block order otherwise.
//
// Offsets are bytes from the start of the LutMem, block b's operand at offset + b·stride; −1 marks an absent operand.
// Every block has its own scratch (scratchStride bytes apart), dp and 8-byte result slot at res + 8·b, so the
// blocks are independent and the caller's block-order sums are the same for any thread count.
import type { Metric } from './metric.js';
import { LAYOUT } from './layout.js';
import { lutKernels, lutWasm, METRIC_CODE, type LutMem } from './lut-train.js';
import { runJob, threadsFor } from './pool.js';

/** The blocks of a chunk: count, rows per block, bytes between blocks of x (and gw), scratch and its stride. */
export interface BlockSet {
  nb: number;
  R: number;
  xStride: number;
  scratch: number;
  scratchStride: number;
  /** 8·nb bytes, 8-aligned: per-block results. */
  res: number;
}

const f32Bits = (v: number): number => new Int32Array(Float32Array.of(v).buffer)[0];

function wasmJob(mem: LutMem): ReturnType<typeof lutWasm> {
  return mem.ptr >= 0 ? lutWasm() : null;
}

/** Codes of every block; returns the first block (in order) with a sub-vector of no finite distance and its index, or null. */
export function encodeBlocks(
  mem: LutMem, bs: BlockSet, x: number, P: number, C: number, K: number, V: number, metric: Metric, codes: number, ldc: number, codeStride: number,
): { block: number; bad: number } | null {
  const w = wasmJob(mem);
  if (!w) {
    const kern = lutKernels(mem);
    for (let b = 0; b < bs.nb; b++) {
      const bad = kern.encode(mem, x + b * bs.xStride, bs.R, P, C, K, V, metric, codes + b * codeStride, ldc, bs.scratch + b * bs.scratchStride);
      if (bad >= 0) return { block: b, bad };
    }
    return null;
  }
  const at = (o: number): number => mem.ptr + o;
  w.rt.job.reset().lt({
    X: at(x), XB: bs.xStride, R: bs.R, P: at(P), C, K, V, METRIC: METRIC_CODE[metric], CODES: at(codes), LDC: ldc, CB: codeStride,
    SCR: at(bs.scratch), SCRB: bs.scratchStride, RES: at(bs.res),
  }).phase(LAYOUT.K_LT_ENCODE, bs.nb);
  runJob(w.rt, threadsFor(bs.nb * bs.R * C * K * V, bs.nb));
  const res = new Int32Array(mem.u8.buffer, mem.u8.byteOffset + bs.res, 2 * bs.nb);
  for (let b = 0; b < bs.nb; b++) if (res[2 * b] >= 0) return { block: b, bad: res[2 * b] };
  return null;
}

/** out_b = bias + Σ_c T[c][code] for every block ([R][M], or [M][R] when mMajor; blocks outStride bytes apart). */
export function gatherBlocks(
  mem: LutMem, bs: BlockSet, codes: number, ldc: number, codeStride: number, T: number, C: number, K: number, M: number, bias: number, out: number, outStride: number, mMajor: boolean,
): void {
  const w = wasmJob(mem);
  if (!w) {
    const kern = lutKernels(mem);
    for (let b = 0; b < bs.nb; b++) {
      kern.gather(mem, codes + b * codeStride, ldc, bs.R, T, C, K, M, bias, out + b * outStride, mMajor, bs.scratch + b * bs.scratchStride);
    }
    return;
  }
  const at = (o: number): number => (o >= 0 ? mem.ptr + o : 0);
  w.rt.job.reset().lt({
    CODES: at(codes), LDC: ldc, CB: codeStride, R: bs.R, T: at(T), C, K, M, BIAS: at(bias), OUT: at(out), OB: outStride, MMAJOR: mMajor ? 1 : 0,
    SCR: at(bs.scratch), SCRB: bs.scratchStride,
  }).phase(LAYOUT.K_LT_GATHER, bs.nb);
  runJob(w.rt, threadsFor(bs.nb * bs.R * C * M, bs.nb));
}

/**
 * The soft pass's backward on every block (see lutSoft): gw and xhat (−1: none; xhat may alias gw) share x's block
 * stride; dx is written over x when asked; dp_b [C][K][V] at dp + b·dpStride (−1: none). Returns dL/dβ per block.
 */
export function softBlocks(
  mem: LutMem, bs: BlockSet, metric: Metric, x: number, gw: number, P: number, C: number, K: number, V: number, beta: number,
  xhat: number, dx: boolean, dp: number, dpStride: number,
): Float64Array {
  const out = new Float64Array(bs.nb);
  const w = wasmJob(mem);
  if (!w) {
    const kern = lutKernels(mem);
    for (let b = 0; b < bs.nb; b++) {
      const o = b * bs.xStride;
      out[b] = kern.soft(mem, metric, x + o, gw >= 0 ? gw + o : -1, bs.R, P, C, K, V, beta, xhat >= 0 ? xhat + o : -1, dx ? x + o : -1, dp >= 0 ? dp + b * dpStride : -1, bs.scratch + b * bs.scratchStride);
    }
    return out;
  }
  const at = (o: number): number => (o >= 0 ? mem.ptr + o : 0);
  w.rt.job.reset().lt({
    X: at(x), XB: bs.xStride, R: bs.R, P: at(P), C, K, V, METRIC: METRIC_CODE[metric], GW: at(gw), BETA: f32Bits(beta),
    XHAT: at(xhat), DX: dx ? 1 : 0, DP: at(dp), DPB: dpStride, SCR: at(bs.scratch), SCRB: bs.scratchStride, RES: at(bs.res),
  }).phase(LAYOUT.K_LT_SOFT, bs.nb);
  runJob(w.rt, threadsFor(3 * bs.nb * bs.R * C * K * V, bs.nb));
  out.set(new Float64Array(mem.u8.buffer, mem.u8.byteOffset + bs.res, bs.nb));
  return out;
}
