// LUT-NN tables without the autograd engine: lut = centroids·weight per codebook, its int8 quantization, and the
// argument checks they share with the LUT ops (src/ops/lut.ts re-exports buildLut, quantizeLut and dequantizedLut).
// The inference runtime and the browser bundle build their tables here, with the same arithmetic as training.
import { ArgumentError, DTypeError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';
import { lutInto } from './lut-kernels.js';

/** The data of a float32 tensor argument. */
export function checkTensorF32(op: string, arg: string, t: unknown): Float32Array {
  if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${arg} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (t.dtype !== 'float32') throw new DTypeError(`${op}: ${arg} must be float32, got ${t.dtype}`);
  return t.data as Float32Array;
}

/** Checks centroids [C, K, V] (K <= 256 for uint8 codes); returns C, K, V. */
export function centroidDims(op: string, centroids: Tensor): { C: number; K: number; V: number } {
  checkTensorF32(op, 'centroids', centroids);
  if (centroids.ndim !== 3) throw new ShapeError(`${op}: centroids must be [C, K, V], got ${fmtShape(centroids.shape)}`);
  const [C, K, V] = centroids.shape;
  if (C < 1 || K < 1 || V < 1) throw new ShapeError(`${op}: centroids ${fmtShape(centroids.shape)} has an empty dim`);
  if (K > 256) throw new ShapeError(`${op}: k must be <= 256 (uint8 codes), got centroids ${fmtShape(centroids.shape)}`);
  return { C, K, V };
}

/** Checks weight [C, V, M] against centroids [C, K, V]; returns M. */
export function weightDims(op: string, centroids: Tensor, weight: Tensor): number {
  checkTensorF32(op, 'weight', weight);
  const { C, V } = centroidDims(op, centroids);
  if (weight.ndim !== 3 || weight.shape[0] !== C || weight.shape[1] !== V) {
    throw new ShapeError(`${op}: weight must be [C, V, M] = [${C}, ${V}, M] to match centroids ${fmtShape(centroids.shape)}, got ${fmtShape(weight.shape)}`);
  }
  if (weight.shape[2] < 1) throw new ShapeError(`${op}: weight ${fmtShape(weight.shape)} has no outputs`);
  return weight.shape[2];
}

/** lut[c] = centroids[c] [K, V] · weight[c] [V, M] → [C, K, M] (a plain tensor, no graph). */
export function buildLut(centroids: Tensor, weight: Tensor): Tensor {
  const op = 'buildLut';
  const { C, K, V } = centroidDims(op, centroids);
  const M = weightDims(op, centroids, weight);
  const lut = new Float32Array(C * K * M);
  lutInto(centroids.f32, weight.f32, lut, C, K, V, M);
  return new Tensor(lut, [C, K, M]);
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
export function quantizeInto(op: string, lut: Float32Array, q: Int8Array, deq: Float32Array): number {
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
