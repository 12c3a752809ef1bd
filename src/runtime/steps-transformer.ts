// Executable steps of the transformer ops: batched MatMul (one packed GEMM job per sample and batch entry, operands and
// output read/written through strides), strided copies, softmax, layer norm, GELU, binary ops and means.
// Like steps.ts: byte pointers in, no allocation, no throw (the plan checked every size).
import { LAYOUT } from '../backend/layout.js';
import { gemmBlocks } from '../backend/wasm-gemm.js';
import type { Op } from './plan.js';
import { emptyGemm, type Blocks, type KernelHost, type Step } from './steps.js';
import { BINARY_OPS } from './transformer-kernels-ref.js';

const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);
const align = (b: number): number => Math.ceil(b / 64) * 64;

/**
 * MatMul: for each sample and batch entry (op.mm.offsets), C [m, n] = A [m, k] · B [k, n] on the packed GEMM (PACK_A,
 * PACK_B, TILES): A and B are packed from their strides (a transposed view costs no copy), C is written with row stride
 * ldc (a fused transpose of the output). Every element sums k in order, as the engine's GEMM does.
 */
function matmulStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'matmul' }>): Step {
  const { rt } = host;
  const { m, k, n, a, b, offsets } = op.mm;
  const { mr, nr, panelsPerTask } = rt.tiles;
  const aConst = a.weight ? blocks.put(a.weight) : 0;
  const bConst = b.weight ? blocks.put(b.weight) : 0;
  const paBytes = align(Math.ceil(m / mr) * mr * k * 4);
  const pbBytes = align(Math.ceil(n / nr) * nr * k * 4);
  const outFloats = op.outShape.reduce((p, d) => p * d, 1);
  const entries = offsets.length / 3;
  const g = emptyGemm();
  const step: Step = {
    op,
    scratch: 0,
    scratchBytes: paBytes + pbBytes,
    run(nb, _x, y, xs) {
      const aBase = a.input >= 0 ? xs[a.input] : aConst;
      const bBase = b.input >= 0 ? xs[b.input] : bConst;
      const threads = host.threadsFor(m * n * k, ceilDiv(m, 16) * ceilDiv(n, 32));
      const { mc, nc } = gemmBlocks(m, n, 1, threads);
      Object.assign(g, {
        M: m, N: n, K: k, ACC: 0, NB: 1, MC: mc, NC: nc, ASI: a.rowStride, ASK: a.colStride, AKL: k, AKBS: 0,
        BSK: b.rowStride, BSJ: b.colStride, BKL: k, BKBS: 0, BBATCH: 0, LDC: op.mm.ldc, CBATCH: 0, PA: step.scratch, PB: step.scratch + paBytes, PBBATCH: 0,
      });
      for (let s = 0; s < nb; s++) {
        for (let t = 0; t < entries; t++) {
          g.A = aBase + 4 * (s * a.sampleStride + offsets[3 * t]);
          g.B = bBase + 4 * (s * b.sampleStride + offsets[3 * t + 1]);
          g.C = y + 4 * (s * outFloats + offsets[3 * t + 2]);
          rt.job.reset().gemm(g)
            .phase(LAYOUT.K_PACK_A, ceilDiv(ceilDiv(m, mr), panelsPerTask))
            .phase(LAYOUT.K_PACK_B, ceilDiv(ceilDiv(n, nr), panelsPerTask))
            .phase(LAYOUT.K_TILES, ceilDiv(m, mc) * ceilDiv(n, nc));
          host.runJob(threads);
        }
      }
    },
  };
  return step;
}

/** A transpose made contiguous: rtPermute over each sample. */
function permuteStep(host: KernelHost, op: Extract<Op, { kind: 'permute' }>): Step {
  const { dims: d, strides: s } = op.copy;
  const inSample = op.inShape.reduce((p, q) => p * q, 1);
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtPermute(x, y, n, inSample, d[0], d[1], d[2], d[3], s[0], s[1], s[2], s[3]) };
}

function softmaxStep(host: KernelHost, op: Extract<Op, { kind: 'softmax' }>): Step {
  const rowsPer = op.outShape.reduce((p, d) => p * d, 1) / op.cols;
  const [scale, has] = op.scale === null ? [1, 0] : [op.scale, 1];
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtSoftmaxRows(x, y, n * rowsPer, op.cols, scale, has) };
}

function layerNormStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'layerNorm' }>): Step {
  const rowsPer = op.outShape.reduce((p, d) => p * d, 1) / op.cols;
  const g = blocks.put(op.weight);
  const b = blocks.put(op.bias);
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtLayerNormRows(x, y, n * rowsPer, op.cols, g, b, op.eps) };
}

function geluStep(host: KernelHost, op: Extract<Op, { kind: 'gelu' }>): Step {
  const len = op.outShape.reduce((p, d) => p * d, 1);
  const mode = op.approximate === 'none' ? 0 : 1;
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtGelu(x, y, n * len, mode) };
}

/** Elementwise a ∘ b: two activations of one shape (one pass over n samples), or a resident constant row / scalar. */
function binaryStep(host: KernelHost, blocks: Blocks, op: Extract<Op, { kind: 'binary' }>): Step {
  const c = blocks.put(op.constant);
  const mode = op.mode === 'same' ? 0 : op.mode === 'row' || op.mode === 'sampleRow' ? 1 : 2;
  const big = op.rows * op.cols;
  const code = BINARY_OPS[op.op];
  return {
    op,
    scratch: 0,
    scratchBytes: 0,
    run(n, x, y, xs) {
      if (op.mode === 'same') host.rt.ex.rtBinary(x, xs[1], y, 1, n * op.cols, 0, code);
      else if (op.mode === 'sampleRow') {
        // Per sample: input 1's row (cols floats) over input 0's rows.
        for (let s = 0; s < n; s++) host.rt.ex.rtBinary(x + 4 * s * big, xs[1] + 4 * s * op.cols, y + 4 * s * big, op.rows, op.cols, mode, code);
      } else if (op.mode === 'sampleCol') {
        // Per sample and row r of input 0: input 1's value r as a scalar over the row.
        for (let r = 0; r < n * op.rows; r++) host.rt.ex.rtBinary(x + 4 * r * op.cols, xs[1] + 4 * r, y + 4 * r * op.cols, 1, op.cols, 2, code);
      }
      else host.rt.ex.rtBinary(x, c, y, n * op.rows, op.cols, mode, code);
    },
  };
}

function reduceMeanStep(host: KernelHost, op: Extract<Op, { kind: 'reduceMean' }>): Step {
  return { op, scratch: 0, scratchBytes: 0, run: (n, x, y) => host.rt.ex.rtMeanAxis(x, y, n * op.outer, op.n, op.inner, 1 / op.n) };
}

/** The step of a transformer op, or null for the other kinds (steps.ts makes those). */
export function transformerStep(host: KernelHost, blocks: Blocks, op: Op): Step | null {
  switch (op.kind) {
    case 'matmul':
      return matmulStep(host, blocks, op);
    case 'permute':
      return permuteStep(host, op);
    case 'softmax':
      return softmaxStep(host, op);
    case 'layerNorm':
      return layerNormStep(host, blocks, op);
    case 'gelu':
      return geluStep(host, op);
    case 'binary':
      return binaryStep(host, blocks, op);
    case 'reduceMean':
      return reduceMeanStep(host, op);
    default:
      return null;
  }
}
