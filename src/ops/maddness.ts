// The MADDNESS forward primitive (Blalock & Guttag): tree routing of sub-vectors and the int8 table sum; no gradient.
import { NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { allocLutMem, lutKernels, lutScratchBytes } from '../backend/lut-train.js';
import { Tensor } from '../tensor/tensor.js';

/** Tree depth: 4 levels give 16 leaves (codes 0..15). */
export const MADDNESS_DEPTH = 4;
export const MADDNESS_LEAVES = 16;
/** Internal nodes per tree: 1 + 2 + 4 + 8. */
export const MADDNESS_NODES = 15;

/**
 * Routes every row's sub-vectors down their codebook's depth-4 tree (nodes in heap order; x > threshold goes right,
 * so a code's bits are the decisions, root first). rows [N, D], D = C·V, on validated arguments; codes [N, C] in
 * 0..15. A NaN on a visited dimension throws NonFiniteError naming `fn`.
 */
export function maddnessRoute(rows: Float32Array, N: number, C: number, V: number, splitDims: Int32Array, thresholds: Float32Array, fn: string): Uint8Array {
  const D = C * V;
  const codes = new Uint8Array(N * C);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) {
      const xo = i * D + c * V;
      let node = 0;
      for (let l = 0; l < MADDNESS_DEPTH; l++) {
        const x = rows[xo + splitDims[c * MADDNESS_DEPTH + l]];
        if (x !== x) throw new NonFiniteError(`${fn}: NaN in row ${i}, codebook ${c}`);
        node = 2 * node + (x > thresholds[c * MADDNESS_NODES + node] ? 2 : 1);
      }
      codes[i * C + c] = node - MADDNESS_NODES;
    }
  }
  return codes;
}

/**
 * rows [n, D] → [n, M] = tableScale·Σ_c table[c, code(r, c), :] + bias, with codes from the trees (splitDims [C, 4]
 * int32, thresholds [C, 15]) and the int8 table [C, 16, M] summed exactly (every partial sum is an integer below
 * 2^24). Inference only: the output records no gradient. Shapes are checked here; the trees' values by the caller.
 */
export function maddnessRows(rows: Tensor, splitDims: Tensor, thresholds: Tensor, table: Tensor, tableScale: number, bias: Tensor | null): Tensor {
  const op = 'maddness';
  if (rows.ndim !== 2) throw new ShapeError(`${op}: rows must be [n, D], got ${fmtShape(rows.shape)}`);
  const [n, D] = rows.shape;
  if (table.ndim !== 3 || table.shape[1] !== MADDNESS_LEAVES || table.dtype !== 'int8') {
    throw new ShapeError(`${op}: table must be int8 [C, ${MADDNESS_LEAVES}, M], got ${table.dtype} ${fmtShape(table.shape)}`);
  }
  const [C, , M] = table.shape;
  if (D % C !== 0) throw new ShapeError(`${op}: rows of ${D} values do not split into ${C} codebooks`);
  const V = D / C;
  if (splitDims.size !== C * MADDNESS_DEPTH || thresholds.size !== C * MADDNESS_NODES) {
    throw new ShapeError(`${op}: split_dims ${fmtShape(splitDims.shape)} / thresholds ${fmtShape(thresholds.shape)} do not fit C = ${C}`);
  }
  if (bias && bias.size !== M) throw new ShapeError(`${op}: bias ${fmtShape(bias.shape)} vs M = ${M}`);
  if (!Number.isFinite(tableScale)) throw new NonFiniteError(`${op}: table_scale is ${tableScale}`);
  const codes = maddnessRoute(rows.f32, n, C, V, splitDims.data as Int32Array, thresholds.f32, op); // [n, C]
  const out = new Float32Array(n * M);
  if (n === 0) return new Tensor(out, [n, M]);
  // The LUT gather kernel on the int8 entries as floats: every partial sum is an integer below 2^24, so exact.
  let bytes = 0;
  const take = (len: number): number => {
    const o = bytes;
    bytes += Math.ceil(len / 64) * 64;
    return o;
  };
  const lay = { codes: take(n * C), table: take(C * MADDNESS_LEAVES * M * 4), out: take(n * M * 4), scratch: take(lutScratchBytes(C, MADDNESS_LEAVES, 1)) };
  const mem = allocLutMem(bytes);
  try {
    mem.u8.set(codes, lay.codes);
    const T = table.data as Int8Array;
    const tf = mem.f32.subarray(lay.table >> 2, (lay.table >> 2) + T.length);
    for (let i = 0; i < T.length; i++) tf[i] = T[i];
    lutKernels(mem).gather(mem, lay.codes, C, n, lay.table, C, MADDNESS_LEAVES, M, -1, lay.out, false, lay.scratch);
    const acc = mem.f32.subarray(lay.out >> 2, (lay.out >> 2) + n * M);
    const B = bias?.f32;
    for (let r = 0; r < n; r++) for (let m = 0; m < M; m++) out[r * M + m] = tableScale * acc[r * M + m] + (B ? B[m] : 0);
  } finally {
    mem.dispose();
  }
  return new Tensor(out, [n, M]);
}
