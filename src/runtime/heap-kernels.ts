// Plain TypeScript kernels of the runtime on the wasm heap (byte pointers into `memory`): the activations without a
// wasm kernel (Clip, HardSwish, Tanh, Sigmoid, Silu), int32 → float32 casts and gathers (embedding rows, constant picks).
// Each computes exactly as the engine's op (src/ops: float64 arithmetic, one rounding to float32), so results are
// bit-identical to it. Like every kernel: no allocation of results, no throw (the plan and run() check sizes and ids).

/** Activation codes of `unaryKernel`. */
export const UNARY = { clip: 0, hardswish: 1, tanh: 2, sigmoid: 3, silu: 4 } as const;
export type UnaryKind = keyof typeof UNARY;

const f32 = (m: WebAssembly.Memory, p: number, n: number): Float32Array => new Float32Array(m.buffer, p, n);
const i32 = (m: WebAssembly.Memory, p: number, n: number): Int32Array => new Int32Array(m.buffer, p, n);

function sigmoid64(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

/**
 * y[i] = act(x[i]) for n floats (y may equal x). Clip takes its bounds lo, hi (float32 values, ±Infinity when open);
 * the others ignore them.
 */
export function unaryKernel(m: WebAssembly.Memory, x: number, y: number, n: number, kind: UnaryKind, lo = -Infinity, hi = Infinity): void {
  const X = f32(m, x, n);
  const Y = f32(m, y, n);
  switch (kind) {
    case 'clip':
      for (let i = 0; i < n; i++) {
        const v = X[i];
        Y[i] = v < lo ? lo : v > hi ? hi : v; // NaN stays
      }
      return;
    case 'hardswish':
      for (let i = 0; i < n; i++) {
        const v = X[i];
        Y[i] = (v * Math.min(Math.max(v + 3, 0), 6)) / 6;
      }
      return;
    case 'tanh':
      for (let i = 0; i < n; i++) Y[i] = Math.tanh(X[i]);
      return;
    case 'sigmoid':
      for (let i = 0; i < n; i++) Y[i] = sigmoid64(X[i]);
      return;
    case 'silu':
      for (let i = 0; i < n; i++) Y[i] = X[i] * sigmoid64(X[i]);
      return;
  }
}

/** y[i] = float32(x[i]) for n int32 values (y may equal x: each element is read before it is written). */
export function castI32ToF32(m: WebAssembly.Memory, x: number, y: number, n: number): void {
  const X = i32(m, x, n);
  const Y = f32(m, y, n);
  for (let i = 0; i < n; i++) Y[i] = X[i];
}

/**
 * Gather along one axis of [outer, len, inner] data for nb samples: y [outer, m, inner] with row j of each outer block
 * copied from row idx[j] (negative: from the end; run() and the plan keep them in [−len, len)).
 * Data per sample at x + s·xStride floats (xStride 0: one table for all samples); indices per sample at
 * idx + s·idxStride int32s (idxStride 0: one constant list).
 */
export function gatherKernel(
  m: WebAssembly.Memory, x: number, xStride: number, idx: number, idxStride: number, y: number,
  nb: number, outer: number, len: number, inner: number, count: number,
): void {
  const heap = new Float32Array(m.buffer);
  const ids = new Int32Array(m.buffer);
  const out = count * inner * outer;
  for (let s = 0; s < nb; s++) {
    const xs = (x >> 2) + s * xStride;
    const is = (idx >> 2) + s * idxStride;
    const ys = (y >> 2) + s * out;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) {
        const v = ids[is + j];
        const r = v < 0 ? v + len : v;
        const src = xs + (o * len + r) * inner;
        heap.copyWithin(ys + (o * count + j) * inner, src, src + inner);
      }
    }
  }
}

/** The first index i < n with x[i] outside [−len, len), or −1 (the id check run() does before a gather). */
export function firstBadIndex(ids: ArrayLike<number>, len: number): number {
  for (let i = 0; i < ids.length; i++) if (!(ids[i] >= -len && ids[i] < len)) return i;
  return -1;
}
