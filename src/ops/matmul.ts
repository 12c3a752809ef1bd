// Batched matrix multiply [..., m, k] x [..., k, n] with broadcasting over batch dims; backward via GEMM.
import { record } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import { broadcastShapes, unbroadcast } from './broadcast.js';

interface Plan {
  batch: number[];
  m: number;
  k: number;
  n: number;
  aBatch: number[]; // per output batch index: offset of the A matrix
  bBatch: number[];
}

function plan(a: Tensor, b: Tensor): Plan {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new DTypeError(`matmul: expected float32 operands, got ${a.dtype} and ${b.dtype}`);
  }
  if (a.ndim < 2 || b.ndim < 2) {
    throw new ShapeError(`matmul: operands need at least 2 dims, got ${fmtShape(a.shape)}x${fmtShape(b.shape)}`);
  }
  const m = a.shape[a.ndim - 2];
  const k = a.shape[a.ndim - 1];
  const k2 = b.shape[b.ndim - 2];
  const n = b.shape[b.ndim - 1];
  if (k !== k2) throw new ShapeError(`matmul: inner dims ${k} vs ${k2} for ${fmtShape(a.shape)}x${fmtShape(b.shape)}`);
  const aB = a.shape.slice(0, -2);
  const bB = b.shape.slice(0, -2);
  const batch = broadcastShapes('matmul', aB, bB);
  const total = shapeSize(batch);
  const aBatch: number[] = [];
  const bBatch: number[] = [];
  const idxOf = (sub: readonly number[], flat: number): number => {
    // Map an output batch index to the operand's (broadcast) batch index.
    let rem = flat;
    let off = 0;
    let mult = 1;
    for (let d = batch.length - 1; d >= 0; d--) {
      const i = rem % batch[d];
      rem = Math.floor(rem / batch[d]);
      const sd = d - (batch.length - sub.length);
      if (sd >= 0) {
        off += (sub[sd] === 1 ? 0 : i) * mult;
        mult *= sub[sd];
      }
    }
    return off;
  };
  for (let i = 0; i < total; i++) {
    aBatch.push(idxOf(aB, i) * m * k);
    bBatch.push(idxOf(bB, i) * k * n);
  }
  return { batch, m, k, n, aBatch, bBatch };
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  const p = plan(a, b);
  const { m, k, n } = p;
  const be = getBackend();
  const out = new Float32Array(shapeSize(p.batch) * m * n);
  const A = a.f32;
  const B = b.f32;
  for (let i = 0; i < p.aBatch.length; i++) {
    be.gemm(A.subarray(p.aBatch[i], p.aBatch[i] + m * k), B.subarray(p.bBatch[i], p.bBatch[i] + k * n),
      out.subarray(i * m * n, (i + 1) * m * n), m, n, k, false, false, false);
  }
  const y = new Tensor(out, [...p.batch, m, n]);
  return record(y, 'matmul', [a, b], (g) => {
    const G = g.f32;
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      // dA[i] = G[i] · B[i]ᵀ, summed over broadcast batch entries.
      const full = new Float32Array(p.aBatch.length * m * k);
      for (let i = 0; i < p.aBatch.length; i++) {
        be.gemm(G.subarray(i * m * n, (i + 1) * m * n), B.subarray(p.bBatch[i], p.bBatch[i] + k * n),
          full.subarray(i * m * k, (i + 1) * m * k), m, k, n, false, true, false);
      }
      da = unbroadcast(new Tensor(full, [...p.batch, m, k]), a.shape);
    }
    if (b.requiresGrad) {
      // dB[i] = A[i]ᵀ · G[i]
      const full = new Float32Array(p.bBatch.length * k * n);
      for (let i = 0; i < p.bBatch.length; i++) {
        be.gemm(A.subarray(p.aBatch[i], p.aBatch[i] + m * k), G.subarray(i * m * n, (i + 1) * m * n),
          full.subarray(i * k * n, (i + 1) * k * n), k, n, m, true, false, false);
      }
      db = unbroadcast(new Tensor(full, [...p.batch, k, n]), b.shape);
    }
    return [da, db];
  });
}
