// The kernel interface ops call: plain typed arrays in, results written into caller-allocated outputs.
// Two implementations: `reference` (scalar TypeScript, the test oracle) and `wasm` (AssemblyScript SIMD, threads).

/** Geometry of one 2-D convolution (NCHW input, [cout, cin/groups, kh, kw] weight). */
export interface Conv2dGeom {
  n: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilH: number;
  dilW: number;
  groups: number;
  outH: number;
  outW: number;
}

/**
 * op(B) (K×N) prepared once by `packGemmB` for many `gemmPacked` calls (constant weights): the wasm backend keeps
 * it packed in its memory, the reference backend keeps a plain copy. It owns that memory until `dispose()`
 * (a finalizer frees it if the object is dropped undisposed, but weights should be disposed explicitly).
 */
export interface PackedMatrix {
  readonly backend: 'reference' | 'wasm';
  readonly K: number;
  readonly N: number;
  readonly disposed: boolean;
  /** Frees the packed copy; idempotent. Using the matrix afterwards throws. */
  dispose(): void;
}

/**
 * A Float32Array allocated in the backend's memory. Passing `view` itself as A or C of `gemm`/`gemmPacked` lets
 * the wasm backend read or write it in place instead of copying (an inference runtime writes activations into
 * it directly). The view stays valid until `dispose()`; do not use it afterwards.
 */
export interface ResidentArray {
  readonly view: Float32Array;
  /** Byte address of view[0] in the kernels' memory (wasm), or -1 (reference). */
  readonly ptr: number;
  readonly disposed: boolean;
  dispose(): void;
}

export interface Backend {
  readonly name: 'reference' | 'wasm';
  /**
   * C = op(A)·op(B) (+ C when `accumulate`). op(A) is M×K: A is stored M×K row-major, or K×M when transA.
   * op(B) is K×N: B is stored K×N, or N×K when transB. C is M×N row-major.
   */
  gemm(
    A: Float32Array,
    B: Float32Array,
    C: Float32Array,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    accumulate: boolean,
  ): void;
  /** Prepares op(B) (K×N; B stored K×N, or N×K when transB) for `gemmPacked`; the copy does not alias B. */
  packGemmB(B: Float32Array, K: number, N: number, transB: boolean): PackedMatrix;
  /** C = op(A)·packed (+ C when `accumulate`), op(A) M×K as in `gemm`; same results as `gemm` on the unpacked B. */
  gemmPacked(A: Float32Array, packed: PackedMatrix, C: Float32Array, M: number, transA: boolean, accumulate: boolean): void;
  /** A zero-filled array of `length` floats in the backend's memory (see ResidentArray). */
  allocResident(length: number): ResidentArray;
  /**
   * One image's patches: x is [cin, h, w] (the group's channels), cols is [cin·kh·kw, outH·outW].
   * `cin` here is the channel count of the slice passed in.
   */
  im2col(x: Float32Array, g: Conv2dGeom, cin: number, cols: Float32Array): void;
  /** Adjoint of im2col: adds the patches in cols [cin·kh·kw, outH·outW] into dx [cin, h, w]. */
  col2im(cols: Float32Array, g: Conv2dGeom, cin: number, dx: Float32Array): void;
  /** y [n, cout, outH, outW] = conv(x [n, cin, h, w], w [cout, cin/groups, kh, kw]) + bias[cout]. */
  conv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, g: Conv2dGeom, y: Float32Array): void;
  /** dx [n, cin, h, w] = gradient of the conv w.r.t. its input (overwritten). */
  conv2dBackwardInput(dy: Float32Array, w: Float32Array, g: Conv2dGeom, dx: Float32Array): void;
  /** dw [cout, cin/groups, kh, kw] (overwritten) and dbias [cout] (overwritten, if given). */
  conv2dBackwardWeight(
    x: Float32Array,
    dy: Float32Array,
    g: Conv2dGeom,
    dw: Float32Array,
    dbias: Float32Array | null,
  ): void;
}
