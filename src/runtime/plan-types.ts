// The runtime's op list: what a graph lowers to (each record's `lower` facet emits these, src/runtime/plan.ts orders
// them), before steps.ts turns them into resident buffers and kernel calls.
import type { UnaryKind } from './heap-kernels.js';
import type { LutLayerSpec } from './lut-step.js';
import type { CopyPlan, MatmulPlan, OperandSource } from './plan-transformer.js';
import type { BinaryOp } from './transformer-kernels-ref.js';

/** A float32 activation applied after a step's epilogue (in the same step, on its output). */
export interface PostAct {
  act: UnaryKind;
  lo: number;
  hi: number;
}

/** What runs after a producer, in one pass: y = act(y·scale + shift) per channel (or per column of rows). */
export interface Epilogue {
  scale: Float32Array | null;
  shift: Float32Array | null;
  relu: boolean;
}

/** An activation run after the epilogue, in the same step (HardSwish, Clip, ...): see the activation records. */
type Post = { post?: PostAct | null };

/** Geometry of one sample's 2-D window op (conv, LUT conv, pooling). */
export interface Window {
  cin: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  outH: number;
  outW: number;
}

export interface Base {
  /** Node name(s) the op came from, joined by '+' where nodes fused (a model's node names are its module paths). */
  name: string;
  /** Per-sample shapes (no batch dim): of input 0 and of the output. */
  inShape: number[];
  outShape: number[];
  /** Values read (computed values: the graph input or earlier ops' outputs; input 0 is the data input) and written. */
  inputs: string[];
  output: string;
}

export type Op =
  /** Dense conv: groups 1 (im2col + GEMM), or depthwise (groups = cin, cout = cin·mult; the direct kernel). */
  | (Base & Post & { kind: 'conv'; win: Window; cout: number; depthwise: boolean; weight: Float32Array; epi: Epilogue })
  /** y [rows, outF] = x [rows, inF]·weightᵀ per sample (rows = the product of the leading dims, 1 for [N, inF]). */
  | (Base & Post & { kind: 'linear'; rows: number; inF: number; outF: number; weight: Float32Array; epi: Epilogue })
  | (Base & Post & { kind: 'lutConv'; win: Window; spec: LutLayerSpec; epi: Epilogue })
  /**
   * Scalar-quantized conv (groups 1) and Linear (rows per sample as for 'linear'): x quantized per tensor,
   * xq = clamp(round(f32(x / actScale))) to actBits bits, integer weights wq [cout, K] (|wq| < 2^15), exact int32 sums,
   * then y = f32(f32(acc·epi.scale[c]) + epi.shift[c]) (epi.scale = f32(actScale·sw[c]), never null; BN folds into it).
   */
  | (Base & Post & { kind: 'qconv'; win: Window; cout: number; wq: Int16Array; actScale: number; actBits: number; epi: Epilogue })
  | (Base & Post & { kind: 'qlinear'; rows: number; inF: number; outF: number; wq: Int16Array; actScale: number; actBits: number; epi: Epilogue })
  /** LUT Linear on `rows` rows of C·V per sample ([N, D] or [N, T, D]: rows = T). */
  | (Base & Post & { kind: 'lutLinear'; rows: number; spec: LutLayerSpec; epi: Epilogue })
  /** Batched matrix products of activations (and constants), operands read through strides (transposes without copies). */
  | (Base & { kind: 'matmul'; mm: MatmulPlan; srcs: [OperandSource, OperandSource] })
  /** A transpose made contiguous (a strided copy of input 0's floats). */
  | (Base & { kind: 'permute'; copy: CopyPlan })
  /** Softmax over the last axis (rows of `cols`), with a fused scalar pre-scale (a Mul by a constant before it). */
  | (Base & { kind: 'softmax'; cols: number; scale: number | null })
  /** Layer norm over the last `cols` floats of each sample's rows. */
  | (Base & { kind: 'layerNorm'; cols: number; eps: number; weight: Float32Array | null; bias: Float32Array | null })
  | (Base & { kind: 'gelu'; approximate: 'none' | 'tanh' })
  /**
   * y = a ∘ b elementwise: two activations of one shape ('same'), or an activation [rows, cols] per sample and a constant
   * row of cols ('row') or scalar ('scalar'); op 'rsub'/'rdiv' when the constant is the first operand. Two activations
   * of one sample broadcast (lower.ts broadcastBinary): input 1 is a row of cols over input 0's rows
   * ('sampleRow'), or one value per row of input 0 ('sampleCol'); 'rsub'/'rdiv' when input 1 was the first operand.
   */
  | (Base & { kind: 'binary'; op: BinaryOp; mode: 'same' | 'row' | 'scalar' | 'sampleRow' | 'sampleCol'; rows: number; cols: number; constant: Float32Array | null })
  /** Mean over a block of adjacent per-sample axes: [outer, n, inner] → [outer, inner]. */
  | (Base & { kind: 'reduceMean'; outer: number; n: number; inner: number })
  | (Base & { kind: 'pool'; mode: 'max' | 'avg'; win: Window })
  | (Base & { kind: 'globalAvgPool' })
  | (Base & Post & { kind: 'affine'; epi: Epilogue })
  /** y = act((a + b)·scale + shift): a residual join (same shapes), with a following ReLU (or BN) fused. */
  | (Base & Post & { kind: 'add'; epi: Epilogue })
  /** y = act(x) elementwise for the activations without a wasm kernel (heap-kernels.ts); Clip's bounds lo, hi. */
  | (Base & { kind: 'unary'; act: UnaryKind; lo: number; hi: number })
  /** int32 → float32 (token masks). */
  | (Base & { kind: 'cast' })
  /**
   * Gather of rows: a constant table (`table` [len, inner], outer 1) by per-sample int32 ids (input 0), or per sample
   * from input 0 ([outer, len, inner]) at constant `indices`: count rows per outer block.
   */
  | (Base & { kind: 'gather'; table: Float32Array | null; indices: Int32Array | null; outer: number; len: number; inner: number; count: number })
  /** A strided copy of input 0 from float `offset` on (Slice, one output of Split). */
  | (Base & { kind: 'slice'; copy: CopyPlan; offset: number })
  /** Per sample, `outer` blocks: block i of every input (blocks[i] floats) in input order (concat along an axis > 0). */
  | (Base & { kind: 'concat'; outer: number; blocks: number[] })
  /** A view (Flatten, Reshape, Squeeze, Unsqueeze): the output shares input 0's floats; no data moves. */
  | (Base & { kind: 'reshape' });

/** A compiled graph: ops in run order over named values. */
export interface Plan {
  ops: Op[];
  /** The graph input (the first one; written before the first op) and output (read after the last). */
  input: string;
  output: string;
  /** Every graph input, in the graph's order, with its per-sample shape and dtype (int32: token ids). */
  inputs: { name: string; shape: number[]; dtype: 'float32' | 'int32' }[];
  /**
   * Per int32 input: the smallest table its ids index (Gather reading it through views), for run()'s range check
   * (ids in [−len, len)); absent when no Gather reads it.
   */
  idRange: Map<string, number>;
  /** Per-sample shape of every value an op reads or writes (the graph input included). */
  shapes: Map<string, number[]>;
}
