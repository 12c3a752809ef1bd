// Executable steps of the scalar-quantized layers (QConv, QLinear; plan ops 'qconv' / 'qlinear'): activations quantized
// to int16 lanes, resident int16 weights, exact int32 dot products and the engine's output rounding (assembly/quant.ts).
// Like steps.ts: byte pointers in, no allocation. One thread: the kernels are not split into pool jobs yet.
import { BackendError, NonFiniteError } from '../errors.js';
import { actRange } from '../tensor/quantize.js';
import type { Op } from './plan-types.js';
import type { Blocks, KernelHost, Step } from './steps.js';

/** Scratch budget of one chunk of a quantized layer (int16 input planes + patches). */
export const QUANT_CHUNK_BYTES = 2 << 20;

const roundUp = (a: number, b: number): number => Math.ceil(a / b) * b;

/** Integer weights [rows, K] as resident int16 rows of Kp (a multiple of 8) with zero tails. */
function putWeights(host: KernelHost, blocks: Blocks, wq: Int16Array, rows: number, K: number, Kp: number): number {
  const p = blocks.alloc(rows * Kp * 2);
  const dst = new Int16Array(host.rt.memory.buffer, p, rows * Kp);
  dst.fill(0);
  for (let r = 0; r < rows; r++) dst.set(wq.subarray(r * K, (r + 1) * K), r * Kp);
  return p;
}

type QOp = Extract<Op, { kind: 'qconv' } | { kind: 'qlinear' }>;

/** Resident output scale and shift, the activation range; the plan guarantees a scale (BackendError otherwise). */
function residentEpilogue(blocks: Blocks, op: QOp): { scale: number; shift: number; relu: number; lo: number; hi: number } {
  if (!op.epi.scale) throw new BackendError(`lutnn.load: ${op.kind} step '${op.name}' has no output scale`);
  const { min, max } = actRange(op.actBits);
  return { scale: blocks.put(op.epi.scale), shift: blocks.put(op.epi.shift), relu: op.epi.relu ? 1 : 0, lo: min, hi: max };
}

function nonFinite(op: QOp, index: number, perSample: number, b0: number): NonFiniteError {
  return new NonFiniteError(`${op.kind} '${op.name}' input is NaN at element ${index % perSample} of sample ${b0 + Math.floor(index / perSample)}; a quantized layer cannot round it`);
}

/**
 * QConv (groups 1): per chunk of images, the input planes quantized to int16, int16 patches [P][Kp] per image, then
 * y[c][p] = epi(Σ_k wq[c][k]·patch[p][k]) straight into the NCHW planes.
 */
function qconvStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'qconv' }>, maxBatch: number): Step {
  const { ex } = host.rt;
  const { win, cout } = op;
  const K = win.cin * win.kh * win.kw;
  const Kp = roundUp(K, 8);
  const P = win.outH * win.outW;
  const img = win.cin * win.h * win.w;
  const wq = putWeights(host, blocks, op.wq, cout, K, Kp);
  const e = residentEpilogue(blocks, op);
  // 16 bytes of slack after each: rtQIm2row reads and writes whole vectors at the ends.
  const planeBytes = roundUp(img * 2 + 16, 64);
  const patchBytes = roundUp(P * Kp * 2 + 16, 64);
  const chunk = Math.max(1, Math.min(maxBatch, Math.floor(QUANT_CHUNK_BYTES / (planeBytes + patchBytes))));
  const step: Step = {
    op,
    scratch: 0,
    scratchBytes: chunk * (planeBytes + patchBytes),
    run(n, x, y) {
      const xq = step.scratch;
      const rows = xq + chunk * planeBytes;
      for (let b0 = 0; b0 < n; b0 += chunk) {
        const nb = Math.min(chunk, n - b0);
        for (let b = 0; b < nb; b++) {
          const bad = ex.rtQuantizeRows(x + (b0 + b) * img * 4, xq + b * planeBytes, 1, img, img, op.actScale, e.lo, e.hi);
          if (bad >= 0) throw nonFinite(op, bad, img, b0 + b);
        }
        for (let b = 0; b < nb; b++) {
          ex.rtQIm2row(xq + b * planeBytes, rows, 1, win.cin, win.h, win.w, win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw, win.outH, win.outW, Kp);
          ex.rtQGemm(rows, wq, y + (b0 + b) * cout * P * 4, P, cout, Kp, e.scale, e.shift, e.relu, 1, P);
        }
      }
    },
  };
  return step;
}

/** QLinear: per chunk of rows, x quantized into int16 rows of Kp, then y[r][o] = epi(Σ_k xq[r][k]·wq[o][k]). */
function qlinearStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'qlinear' }>, maxBatch: number): Step {
  const { ex } = host.rt;
  const { inF: K, outF: N } = op;
  const Kp = roundUp(K, 8);
  const wq = putWeights(host, blocks, op.wq, N, K, Kp);
  const e = residentEpilogue(blocks, op);
  const chunk = Math.max(1, Math.min(maxBatch * op.rows, Math.floor(QUANT_CHUNK_BYTES / (Kp * 2))));
  const step: Step = {
    op,
    scratch: 0,
    scratchBytes: chunk * Kp * 2,
    run(n, x, y) {
      const rows = n * op.rows;
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const m = Math.min(chunk, rows - r0);
        const bad = ex.rtQuantizeRows(x + r0 * K * 4, step.scratch, m, K, Kp, op.actScale, e.lo, e.hi);
        if (bad >= 0) throw nonFinite(op, r0 * K + bad, op.rows * K, 0);
        ex.rtQGemm(step.scratch, wq, y + r0 * N * 4, m, N, Kp, e.scale, e.shift, e.relu, N, 1);
      }
    },
  };
  return step;
}

/** The step of a quantized op, or null for the other kinds. */
export function quantStep(host: KernelHost, blocks: Blocks, op: Op, maxBatch: number): Step | null {
  if (op.kind === 'qconv') return qconvStep(host, blocks, op, maxBatch);
  if (op.kind === 'qlinear') return qlinearStep(host, blocks, op, maxBatch);
  return null;
}
