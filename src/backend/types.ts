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
