// Executable steps of a compiled plan: resident weights and scratch on the wasm heap, kernel calls and pool jobs per run.
// Steps take byte pointers to their input(s) and output activations [n, ...shape]; they never allocate or throw.
import { BackendError } from '../errors.js';
import { LAYOUT, type ConvDesc, type GemmDesc } from '../backend/layout.js';
import type { WasmRuntime } from '../backend/wasm.js';
import { gemmBlocks } from '../backend/wasm-gemm.js';
import { DirectLutConv, directConvUnsupported } from './lut-conv.js';
import type { LutEngine, PreparedLut } from './lut-step.js';
import { wasmLayerOf } from './lut-wasm.js';
import { transformerStep } from './steps-transformer.js';
import { extraStep, withPost } from './steps-extra.js';
import { quantStep } from './quant-step.js';
import type { Epilogue, Op, Window } from './plan.js';

/** What the steps need from the loaded kernels: the runtime, the job runner and the thread policy (Node: the pool). */
export interface KernelHost {
  readonly rt: WasmRuntime;
  /** Runs the job just written with `threads` threads and waits for it. */
  runJob(threads: number): void;
  /** Threads worth using for `macs` multiply-adds split into `tasks` tasks. */
  threadsFor(macs: number, tasks: number): number;
}

export interface Step {
  readonly op: Op;
  /**
   * Writes its output for n samples at y from its inputs at xs (op.inputs' order; x = xs[0]). y may equal an input
   * the plan lets it overwrite (inPlaceInputs), and equals x for views; otherwise it shares no byte with an input.
   */
  run(n: number, x: number, y: number, xs: readonly number[]): void;
  /** Bytes of shared scratch it uses at most (granted at `scratch` before the first run). */
  readonly scratchBytes: number;
  scratch: number;
}

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const roundUp = (a: number, b: number): number => ceilDiv(a, b) * b;
const align = (b: number): number => roundUp(b, 64);

/** Scratch budget of one chunk of images of a conv (patches + packed panels): about an L2-sized working set. */
export const CONV_CHUNK_BYTES = 4 << 20;

/** Scratch budget of one chunk of a direct LUT conv (padded planes + codes, read again by the job's next phase). */
export const DIRECT_CHUNK_BYTES = 2 << 20;

/** How LUT convs run: 'direct' (default; codes read from padded planes where the layer allows) or 'im2row' (the oracle). */
export type LutConvMode = 'direct' | 'im2row';

/** How LUT conv steps run (see CompileOptions in model.ts): direct or im2row, wide data, certified f32 encoder. */
export interface LutConvOptions {
  mode: LutConvMode;
  wide: boolean;
  certify: boolean;
}

/** Heap blocks owned by a plan, freed together. */
export class Blocks {
  private readonly ptrs: number[] = [];
  constructor(private readonly rt: WasmRuntime) {}

  alloc(bytes: number): number {
    const p = this.rt.heap.alloc(bytes);
    this.ptrs.push(p);
    return p;
  }

  /** A resident copy of `a` (null → pointer 0, which the kernels read as "absent"). */
  put(a: Float32Array | null): number {
    if (!a) return 0;
    const p = this.alloc(a.length * 4);
    this.rt.f32(p, a.length).set(a);
    return p;
  }

  freeAll(): void {
    while (this.ptrs.length) this.rt.heap.free(this.ptrs.pop()!);
  }
}

export const emptyGemm = (): GemmDesc => ({
  M: 0, N: 0, K: 0, ACC: 0, NB: 1, MC: 256, NC: 256, A: 0, ASI: 0, ASK: 0, AKL: 1, AKBS: 0,
  B: 0, BSK: 0, BSJ: 0, BKL: 1, BKBS: 0, BBATCH: 0, C: 0, LDC: 0, CBATCH: 0, PA: 0, PB: 0, PBBATCH: 0,
});

function convDesc(w: Window): ConvDesc {
  return {
    C: w.cin, H: w.h, W: w.w, KH: w.kh, KW: w.kw, SH: w.sh, SW: w.sw, PH: w.ph, PW: w.pw, DH: w.dh, DW: w.dw, OH: w.outH, OW: w.outW,
    X: 0, XB: 0, COLS: 0, COLSB: 0, Y: 0, YB: 0, CH: 0, BIAS: 0, NB: 0, WT: 0,
  };
}

/** Resident epilogue operands. */
function putEpilogue(blocks: Blocks, e: Epilogue): { scale: number; shift: number; relu: number } {
  return { scale: blocks.put(e.scale), shift: blocks.put(e.shift), relu: e.relu ? 1 : 0 };
}

/**
 * Dense conv (groups 1) as im2col + GEMM, per chunk of images in one pool job: IM2COL, PACK_B, TILES against the
 * weight [cout, kc] packed once into MR-row panels, then bias (+ folded BN) and ReLU in one pass while the chunk
 * is still in cache.
 */
function convStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'conv' }>, maxBatch: number): Step {
  if (op.depthwise) return depthwiseStep(host, blocks, op);
  const { rt } = host;
  const { win, cout } = op;
  const kc = win.cin * win.kh * win.kw;
  const L = win.outH * win.outW;
  const hw = win.h * win.w;
  const { mr, nr, panelsPerTask } = rt.tiles;
  const pointwise = win.kh === 1 && win.kw === 1 && win.sh === 1 && win.sw === 1 && win.ph === 0 && win.pw === 0;
  const pa = blocks.alloc(roundUp(cout, mr) * kc * 4);
  rt.scoped(() => {
    const src = rt.put(op.weight);
    rt.ex.packPanels(src, mr, cout, kc, 1, kc, kc, 0, pa, mr * kc * 4);
  });
  const epi = putEpilogue(blocks, op.epi);
  const pbBytes = align(roundUp(L, nr) * kc * 4);
  const colsBytes = pointwise ? 0 : align(kc * L * 4);
  const perImage = pbBytes + colsBytes;
  const chunkMax = Math.max(1, Math.min(maxBatch, Math.floor(CONV_CHUNK_BYTES / perImage)));
  const step: Step = {
    op,
    scratch: 0,
    scratchBytes: chunkMax * perImage,
    run(n, x, y) {
      const chunk = Math.min(chunkMax, n);
      const cols = step.scratch;
      const pb = cols + chunk * colsBytes;
      for (let b0 = 0; b0 < n; b0 += chunk) {
        const nb = Math.min(chunk, n - b0);
        const xg = x + b0 * win.cin * hw * 4;
        const yg = y + b0 * cout * L * 4;
        const threads = host.threadsFor(nb * cout * L * kc, nb * ceilDiv(cout, 16) * ceilDiv(L, 32));
        const { mc, nc } = gemmBlocks(cout, L, nb, threads);
        const g = emptyGemm();
        Object.assign(g, { M: cout, N: L, K: kc, NB: nb, MC: mc, NC: nc, C: yg, LDC: L, CBATCH: cout * L, PA: pa, PB: pb, PBBATCH: pbBytes });
        if (pointwise) Object.assign(g, { B: xg, BSK: hw, BSJ: 1, BKL: kc, BBATCH: win.cin * hw });
        else Object.assign(g, { B: cols, BSK: L, BSJ: 1, BKL: kc, BBATCH: kc * L });
        rt.job.reset().conv({ ...convDesc(win), X: xg, XB: win.cin * hw, COLS: cols, COLSB: kc * L, NB: nb }).gemm(g);
        if (!pointwise) rt.job.phase(LAYOUT.K_IM2COL, nb);
        rt.job.phase(LAYOUT.K_PACK_B, nb * ceilDiv(ceilDiv(L, nr), panelsPerTask)).phase(LAYOUT.K_TILES, nb * ceilDiv(cout, mc) * ceilDiv(L, nc));
        // Bias (+ folded BN) and ReLU per image, in the same job (rtEpilogueChannels per task).
        const ppt = threads > 1 ? ceilDiv(nb, 2 * threads) : nb;
        rt.job.rt({ NB: nb, C: cout, OH: win.outH, OW: win.outW, Y: yg, ESCALE: epi.scale, ESHIFT: epi.shift, RELU: epi.relu, PPT: ppt });
        rt.job.phase(LAYOUT.K_RT_EPI, ceilDiv(nb, ppt));
        host.runJob(threads);
      }
    },
  };
  return step;
}

/**
 * Depthwise conv (groups = cin, cout = cin·mult) by the training backend's direct kernel (DEPTHWISE: one task per
 * image and channel, the bias added there), then the rest of the epilogue (folded BN scale, ReLU) in place. One
 * thread: the kernel wants a scratch plane per thread id that may claim a task, and the pool's size may change after
 * compile.
 */
function depthwiseStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'conv' }>): Step {
  const { rt } = host;
  const { win, cout } = op;
  const wt = blocks.put(op.weight);
  const biasInKernel = op.epi.scale === null;
  const bias = biasInKernel ? blocks.put(op.epi.shift) : 0;
  const epi = putEpilogue(blocks, biasInKernel ? { ...op.epi, shift: null } : op.epi);
  const rest = !biasInKernel || op.epi.relu;
  const per = rt.ex.depthwiseScratch(win.outH, win.sh, win.kh, win.dh, win.outW, win.sw, win.kw, win.dw);
  const L = win.outH * win.outW;
  const step: Step = {
    op,
    scratch: 0,
    scratchBytes: per * 4,
    run(n, x, y) {
      rt.job.reset().conv({
        ...convDesc(win), X: x, XB: win.cin * win.h * win.w, COLS: step.scratch, COLSB: per, Y: y, YB: cout * L, CH: cout / win.cin, BIAS: bias, NB: n, WT: wt,
      }).phase(LAYOUT.K_DEPTHWISE, n * win.cin);
      host.runJob(1);
      if (rest) rt.ex.rtEpilogueChannels(y, n, cout, L, epi.scale, epi.shift, epi.relu);
    },
  };
  return step;
}

/** Rows of one Linear GEMM pass: the packed rows (rows · in · 4 bytes) stay within this budget. */
export const LINEAR_CHUNK_BYTES = 4 << 20;

/**
 * Linear: y [rows, out] = x [rows, in] · Wᵀ (+ bias) for the n·op.rows rows of a batch, with Wᵀ packed once into
 * NR-column panels; PACK_A + TILES per chunk of rows. Without a folded scale the bias is written first and the GEMM
 * accumulates onto it (the engine's order: bias + Σ_k, so the same float32 sums); else the epilogue applies it after.
 */
function linearStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'linear' }>, maxBatch: number): Step {
  const { rt } = host;
  const { inF: K, outF: N } = op;
  const { mr, nr, panelsPerTask } = rt.tiles;
  const pb = blocks.alloc(roundUp(N, nr) * K * 4);
  rt.scoped(() => {
    const src = rt.put(op.weight); // [out, in]: lanes j = output rows, steps k contiguous
    rt.ex.packPanels(src, nr, N, K, 1, K, K, 0, pb, nr * K * 4);
  });
  const biasFirst = op.epi.scale === null && op.epi.shift !== null;
  const bias = biasFirst ? op.epi.shift! : null;
  const epi = putEpilogue(blocks, biasFirst ? { ...op.epi, shift: null } : op.epi);
  const afterwards = epi.scale !== 0 || epi.shift !== 0;
  const maxRows = maxBatch * op.rows;
  const chunk = Math.min(roundUp(maxRows, mr), Math.max(mr, Math.floor(LINEAR_CHUNK_BYTES / (K * 4 * mr)) * mr));
  const g = emptyGemm();
  const step: Step = {
    op,
    scratch: 0,
    scratchBytes: chunk * K * 4,
    run(n, x, y) {
      const rows = n * op.rows;
      if (bias) {
        const out = rt.f32(y, rows * N);
        for (let r = 0; r < rows; r++) out.set(bias, r * N);
      }
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const m = Math.min(chunk, rows - r0);
        const threads = host.threadsFor(m * N * K, ceilDiv(m, 16) * ceilDiv(N, 32));
        const { mc, nc } = gemmBlocks(m, N, 1, threads);
        Object.assign(g, { M: m, N, K, ACC: bias ? 1 : 0, NB: 1, MC: mc, NC: nc, A: x + r0 * K * 4, ASI: K, ASK: 1, AKL: K, C: y + r0 * N * 4, LDC: N, PA: step.scratch, PB: pb });
        rt.job.reset().gemm(g)
          .phase(LAYOUT.K_PACK_A, ceilDiv(ceilDiv(m, mr), panelsPerTask))
          .phase(LAYOUT.K_TILES, ceilDiv(m, mc) * ceilDiv(N, nc));
        host.runJob(threads);
      }
      if (afterwards) rt.ex.rtEpilogueRows(y, rows, N, epi.scale, epi.shift, epi.relu);
      else if (epi.relu) rt.ex.relu(y, y, rows * N);
    },
  };
  return step;
}

/** LUT Linear: the engine's encode + scan on the n·op.rows rows, then the epilogue (folded BN, ReLU) in place. */
function lutLinearStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'lutLinear' }>, lut: PreparedLut): Step {
  const { rt } = host;
  const epi = putEpilogue(blocks, op.epi);
  const trivial = !op.epi.scale && !op.epi.shift && !op.epi.relu;
  const { C, K, M } = op.spec;
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, x, y) {
      const rows = n * op.rows;
      lut.run(x, y, rows, host.threadsFor(rows * C * (K + M), rows));
      if (!trivial) rt.ex.rtEpilogueRows(y, rows, M, epi.scale, epi.shift, epi.relu);
    },
  };
}

/**
 * LUT conv. Direct (lut-conv.ts, when the layer has one codebook per input channel and wasm kernels): per chunk of
 * images one job pads the planes, encodes every output pixel from them and scans into NCHW planes with the epilogue.
 * im2row (the oracle, and the fallback for other layers or when the direct job meets a non-finite value): per chunk,
 * im2col rows [(b, oy, ox)][(cin, ki, kj)], encode + scan, then rows → NCHW planes with the epilogue.
 */
function lutConvStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'lutConv' }>, lut: PreparedLut, chunkImages: number, maxBatch: number, conv: LutConvOptions): Step {
  const { rt } = host;
  const { win } = op;
  const { C, K, V, M } = op.spec;
  const D = C * V;
  const P = win.outH * win.outW;
  const epi = putEpilogue(blocks, op.epi);
  const rowsBytes = align(chunkImages * P * D * 4);
  const layer = conv.mode === 'direct' ? wasmLayerOf(lut) : null;
  const direct = layer && !directConvUnsupported(win, layer) ? new DirectLutConv(rt, blocks, win, layer, epi, { wide: conv.wide, certify: conv.certify }) : null;
  const directChunk = direct ? Math.max(1, Math.min(maxBatch, Math.floor(DIRECT_CHUNK_BYTES / direct.bytesPerImage))) : 0;
  const img = win.cin * win.h * win.w;
  const im2row = (n: number, x: number, y: number): void => {
    const rows = step.scratch;
    const outRows = rows + rowsBytes;
    for (let b0 = 0; b0 < n; b0 += chunkImages) {
      const nb = Math.min(chunkImages, n - b0);
      rt.ex.rtIm2row(x + b0 * img * 4, rows, nb, win.cin, win.h, win.w, win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, win.outH, win.outW);
      lut.run(rows, outRows, nb * P, host.threadsFor(nb * P * C * (K + M), nb * P));
      rt.ex.rtRowsToPlanes(outRows, y + b0 * M * P * 4, nb, P, M, epi.scale, epi.shift, epi.relu);
    }
  };
  const step: Step & { readonly direct: DirectLutConv | null } = {
    op,
    direct,
    scratch: 0,
    scratchBytes: Math.max(rowsBytes + align(chunkImages * P * M * 4), direct ? direct.scratchBytes(directChunk) : 0),
    run(n, x, y) {
      if (!direct) return im2row(n, x, y);
      for (let b0 = 0; b0 < n; b0 += directChunk) {
        const nb = Math.min(directChunk, n - b0);
        const xg = x + b0 * img * 4;
        const yg = y + b0 * M * P * 4;
        // A non-finite value: the im2row path recomputes the chunk and throws with the exact row and codebook.
        if (!direct.run(host, nb, xg, yg, step.scratch)) im2row(nb, xg, yg);
      }
    },
  };
  return step;
}

/** Pooling; planes split over the pool (tasks of whole planes) when the batch is worth threads. */
function poolStep(host: KernelHost, op: Extract<Op, { kind: 'pool' }>): Step {
  const w = op.win;
  const mode = op.mode === 'max' ? 0 : 1;
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, x, y) {
      const planes = n * w.cin;
      const threads = host.threadsFor(planes * w.outH * w.outW * w.kh * w.kw, planes);
      if (threads <= 1) {
        host.rt.ex.rtPool2d(x, y, planes, w.h, w.w, w.kh, w.kw, w.sh, w.sw, w.ph, w.pw, w.outH, w.outW, mode);
        return;
      }
      const ppt = ceilDiv(planes, 4 * threads);
      host.rt.job.reset().rt({
        NB: planes, H: w.h, W: w.w, KH: w.kh, KW: w.kw, SH: w.sh, SW: w.sw, PH: w.ph, PW: w.pw, OH: w.outH, OW: w.outW, X: x, Y: y, PPT: ppt, MODE: mode,
      }).phase(LAYOUT.K_RT_POOL, ceilDiv(planes, ppt));
      host.runJob(threads);
    },
  };
}

function globalAvgPoolStep(host: KernelHost, op: Extract<Op, { kind: 'globalAvgPool' }>): Step {
  const [c, h, w] = op.inShape;
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtPlaneMeans(x, y, n * c, h * w) };
}

/** Copies `bytes` bytes from x to y on the heap (regions that do not overlap, or the same one). */
function copyBytes(host: KernelHost, x: number, y: number, bytes: number): void {
  if (x !== y) new Uint8Array(host.rt.memory.buffer).copyWithin(y, x, x + bytes);
}

/**
 * y = act(y·scale + shift) in place, per channel (batch norm's dim 1 of [N, C, ...]): on [C, H, W] and [C, L]
 * samples per plane, on [C] samples per column of the rows; a ReLU alone on any shape.
 */
function runEpilogue(host: KernelHost, y: number, n: number, shape: readonly number[], epi: { scale: number; shift: number; relu: number }): void {
  const { ex } = host.rt;
  if (epi.scale === 0 && epi.shift === 0) ex.rtEpilogueRows(y, n, shape.reduce((a, b) => a * b, 1), 0, 0, epi.relu);
  else if (shape.length === 3) ex.rtEpilogueChannels(y, n, shape[0], shape[1] * shape[2], epi.scale, epi.shift, epi.relu);
  else if (shape.length === 2) ex.rtEpilogueChannels(y, n, shape[0], shape[1], epi.scale, epi.shift, epi.relu);
  else ex.rtEpilogueRows(y, n, shape[0], epi.scale, epi.shift, epi.relu);
}

/**
 * A standalone epilogue (batch norm or ReLU that could not fuse): in place when the plan gives y = x, else a copy
 * first. Per-channel scale/shift come from batch norm ([C, H, W], [C, L] or [C] samples); a ReLU alone on rows.
 */
function affineStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'affine' }>): Step {
  const epi = putEpilogue(blocks, op.epi);
  const len = op.inShape.reduce((a, b) => a * b, 1);
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, x, y) {
      copyBytes(host, x, y, n * len * 4);
      runEpilogue(host, y, n, op.inShape, epi);
    },
  };
}

/**
 * Residual add y = act((a + b)·scale + shift): the elementwise kernel (exact float32 sums, y may be a or b), then the
 * fused epilogue in place (a ReLU alone: the relu kernel).
 */
function addStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'add' }>): Step {
  const { ex } = host.rt;
  const epi = putEpilogue(blocks, op.epi);
  const len = op.outShape.reduce((a, b) => a * b, 1);
  const affine = op.epi.scale !== null || op.epi.shift !== null;
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, _x, y, xs) {
      ex.add(xs[0], xs[1], y, n * len);
      if (affine) runEpilogue(host, y, n, op.outShape, epi);
      else if (op.epi.relu) ex.relu(y, y, n * len);
    },
  };
}

/** Concat along a per-sample axis: per sample and outer index, each input's block copied in turn. */
function concatStep(host: KernelHost, op: Extract<Op, { kind: 'concat' }>): Step {
  const total = op.blocks.reduce((a, b) => a + b, 0);
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, _x, y, xs) {
      const heap = new Uint8Array(host.rt.memory.buffer);
      for (let o = 0; o < n * op.outer; o++) {
        let dst = y + o * total * 4;
        op.blocks.forEach((b, i) => {
          const src = xs[i] + o * b * 4;
          heap.copyWithin(dst, src, src + b * 4);
          dst += b * 4;
        });
      }
    },
  };
}

/** The step of one op (LUT layers are made resident by `lut`, which may use `blocks` too). */
export function makeStep(host: KernelHost, blocks: Blocks, op: Op, maxBatch: number, lut: LutEngine, prepared: PreparedLut[], conv: LutConvOptions = { mode: 'direct', wide: true, certify: true }): Step {
  return withPost(host, baseStep(host, blocks, op, maxBatch, lut, prepared, conv));
}

function baseStep(host: KernelHost, blocks: Blocks, op: Op, maxBatch: number, lut: LutEngine, prepared: PreparedLut[], conv: LutConvOptions): Step {
  switch (op.kind) {
    case 'conv':
      return convStep(host, blocks, op, maxBatch);
    case 'linear':
      return linearStep(host, blocks, op, maxBatch);
    case 'lutLinear': {
      const p = lut.prepare(op.spec, maxBatch * op.rows);
      prepared.push(p);
      return lutLinearStep(host, blocks, op, p);
    }
    case 'lutConv': {
      const P = op.win.outH * op.win.outW;
      const rowBytes = (op.spec.C * op.spec.V + op.spec.M) * 4;
      const chunkImages = Math.max(1, Math.min(maxBatch, Math.floor(CONV_CHUNK_BYTES / (P * rowBytes))));
      const p = lut.prepare(op.spec, chunkImages * P);
      prepared.push(p);
      return lutConvStep(host, blocks, op, p, chunkImages, maxBatch, conv);
    }
    case 'pool':
      return poolStep(host, op);
    case 'globalAvgPool':
      return globalAvgPoolStep(host, op);
    case 'affine':
      return affineStep(host, blocks, op);
    case 'add':
      return addStep(host, blocks, op);
    case 'concat':
      return concatStep(host, op);
    case 'reshape':
      return { op, scratch: 0, scratchBytes: 0, run: () => {} }; // a view: the plan gives y = x
    default: {
      const step = transformerStep(host, blocks, op) ?? extraStep(host, blocks, op) ?? quantStep(host, blocks, op, maxBatch);
      if (!step) throw new BackendError(`lutnn.load: no step for op ${op.kind}`);
      return step;
    }
  }
}
