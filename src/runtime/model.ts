// A compiled model: the plan's steps over preallocated heap buffers, input checks, chunked batches, dispose().
import { ArgumentError, DTypeError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import type { GraphInfo } from '../graph/analyze.js';
import { perSample } from '../graph/dims.js';
import type { ModelMeta } from '../io/model-format.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { LutEngine, PreparedLut } from './lut-step.js';
import { describeOps, planOps, type Op } from './plan.js';
import { Blocks, makeStep, type KernelHost, type LutConvMode, type LutConvOptions, type Step } from './steps.js';

const RUN = 'lutnn.run';

export interface CompileOptions {
  /**
   * Largest batch one pass runs (default 64): buffers are sized for it once. Larger inputs are run in chunks of
   * maxBatch samples, with the same results per sample (every kernel's per-sample arithmetic is independent of the
   * batch).
   */
  maxBatch?: number;
  /**
   * Shape of one sample, e.g. [1, 28, 28]; default: the graph input's shape without its batch dim N, else the model
   * file's dataset.inputShape. Another shape re-derives every layer's shapes (errors name the node that cannot take it).
   */
  inputShape?: readonly number[];
  /** The engine for LUT layers (default: the wasm kernels when present, else the TypeScript engine). */
  lut?: LutEngine;
  /**
   * Encoder of the default wasm LUT engine: 'f32' (default) picks the same codes as training's forward; 'int8'
   * (l2 layers only) computes distances with int8 dot products, faster, and may pick other codes near ties (3×3
   * direct convs use the wide data, see lutWideConv); 'wide' computes every l2 layer's distances at 12-bit x and
   * 10-bit centroids (about ten times fewer codes off 'f32'; its rows encoder is slower than int8 on the relaxed build).
   */
  lutEncoder?: 'f32' | 'int8' | 'wide';
  /**
   * LUT convs: 'direct' (default) encodes output pixels straight from padded input planes when the layer has one
   * codebook per input channel (V = kh·kw); 'im2row' materialises the patch rows first (the reference path; same outputs).
   */
  lutConv?: LutConvMode;
  /**
   * With the int8 encoder, direct 3×3 LUT convs compute distances at 12-bit x and 10-bit centroid precision on the
   * same i16 dot products (true, default: about ten times fewer codes off the f32 encoder, at no extra cost); false
   * keeps the int8 data of every other layer (then direct and im2row give the same codes).
   */
  lutWideConv?: boolean;
  /**
   * With the f32 encoder, direct 3×3 l2 LUT convs compute integer keys first and re-encode in f32 only the
   * sub-vectors whose two nearest centroids are within the keys' error bound: the same codes as the f32 encoder,
   * faster (true, default); false runs the f32 encoder on every sub-vector.
   */
  lutCertify?: boolean;
}


/** What the runtime compiles: a validated graph and its initializers by name (a model file's contents, a GraphModel's). */
export interface RuntimeGraph {
  info: GraphInfo;
  weights: ReadonlyMap<string, Tensor>;
}

function checkShapeOpt(s: unknown): number[] {
  if (!Array.isArray(s) || s.length === 0 || !s.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`lutnn.load: inputShape must be a non-empty array of positive integers, got ${JSON.stringify(s)}`);
  }
  return [...s];
}

/** A model compiled for inference: run() is synchronous and reuses the same buffers, so one run at a time. */
export class RuntimeModel {
  readonly inputShape: readonly number[];
  readonly outputShape: readonly number[];
  readonly maxBatch: number;
  readonly lutEngine: string;
  private readonly steps: Step[];
  /** Per step: activation buffer index of its input and output. */
  private readonly io: [number, number][];
  private readonly act: [number, number];
  private readonly outBuf: number;
  private readonly inSize: number;
  private readonly outSize: number;
  private alive = true;

  private constructor(
    private readonly host: KernelHost,
    readonly ops: readonly Op[],
    readonly meta: ModelMeta | null,
    private readonly blocks: Blocks,
    private readonly prepared: PreparedLut[],
    inputShape: number[],
    maxBatch: number,
    lut: LutEngine,
    conv: LutConvOptions,
  ) {
    this.inputShape = inputShape;
    this.maxBatch = maxBatch;
    this.lutEngine = lut.name;
    this.outputShape = ops[ops.length - 1].outShape;
    this.inSize = shapeSize(inputShape);
    this.outSize = shapeSize(this.outputShape);
    this.steps = ops.map((op) => makeStep(host, blocks, op, maxBatch, lut, prepared, conv));
    const actFloats = maxBatch * Math.max(this.inSize, ...ops.map((o) => shapeSize(o.outShape)));
    this.act = [blocks.alloc(actFloats * 4), blocks.alloc(actFloats * 4)];
    const scratchBytes = Math.max(64, ...this.steps.map((s) => s.scratchBytes));
    const scratch = blocks.alloc(scratchBytes);
    let cur = 0;
    this.io = this.steps.map((s) => {
      s.scratch = scratch;
      if (s.inPlace) return [cur, cur];
      const io: [number, number] = [cur, 1 - cur];
      cur = 1 - cur;
      return io;
    });
    this.outBuf = cur;
  }

  /** Compiles `graph` (eval semantics) for samples of `inputShape`; frees everything it took if it fails. */
  static compile(host: KernelHost, graph: RuntimeGraph, meta: ModelMeta | null, lut: LutEngine, opts: CompileOptions = {}): RuntimeModel {
    const maxBatch = opts.maxBatch ?? 64;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 65536) {
      throw new ArgumentError(`lutnn.load: maxBatch must be an integer in [1, 65536], got ${String(maxBatch)}`);
    }
    const inputShape = checkShapeOpt(opts.inputShape ?? perSample(graph.info.graph.inputs[0].shape) ?? meta?.dataset?.inputShape ?? noInputShape());
    const lutConv = opts.lutConv ?? 'direct';
    if (lutConv !== 'direct' && lutConv !== 'im2row') throw new ArgumentError(`lutnn.load: lutConv must be direct or im2row, got ${String(lutConv)}`);
    const lutWideConv = opts.lutWideConv ?? true;
    if (typeof lutWideConv !== 'boolean') throw new ArgumentError(`lutnn.load: lutWideConv must be a boolean, got ${String(lutWideConv)}`);
    const lutCertify = opts.lutCertify ?? true;
    if (typeof lutCertify !== 'boolean') throw new ArgumentError(`lutnn.load: lutCertify must be a boolean, got ${String(lutCertify)}`);
    const ops = planOps(graph.info, graph.weights, inputShape);
    const blocks = new Blocks(host.rt);
    const prepared: PreparedLut[] = [];
    try {
      return new RuntimeModel(host, ops, meta, blocks, prepared, inputShape, maxBatch, lut, { mode: lutConv, wide: lutWideConv, certify: lutCertify });
    } catch (e) {
      prepared.forEach((p) => p.dispose());
      blocks.freeAll();
      throw e;
    }
  }

  get disposed(): boolean {
    return !this.alive;
  }

  /** LUT conv steps that run on the direct kernels (lut-conv.ts); the others use the im2row path. */
  get directLutConvs(): number {
    return this.steps.filter((s) => (s as { direct?: unknown }).direct).length;
  }

  /**
   * The output of every step (flat [N, ...op.outShape], in op order) for input [N, ...inputShape], N <= maxBatch:
   * for analysis (e.g. what each LUT layer sees). Allocates its results.
   */
  activations(input: Float32Array | Tensor): Float32Array[] {
    if (!this.alive) throw new ArgumentError(`${RUN}: the model was disposed`);
    const { data, n } = this.checkInput(input);
    if (n > this.maxBatch) throw new ShapeError(`${RUN}: activations takes at most maxBatch = ${this.maxBatch} samples, got ${n}`);
    this.run(data); // the finiteness check
    const { rt } = this.host;
    rt.f32(this.act[0], n * this.inSize).set(data);
    return this.steps.map((s, i) => {
      const [xi, yi] = this.io[i];
      s.run(n, this.act[xi], this.act[yi]);
      return rt.f32(this.act[yi], n * shapeSize(s.op.outShape)).slice();
    });
  }

  /** One line per step: kind, fused node names, per-sample shapes. */
  summary(): string[] {
    return describeOps(this.ops);
  }

  /**
   * Logits [N, ...outputShape] (flat, row-major) for input [N, ...inputShape]: a Float32Array (N from its length)
   * or a float32 Tensor. Writes into `out` when given (length N·outputSize), else into a fresh array. Checks shape,
   * dtype and finiteness first; on a NaN/Inf in a later chunk of a large batch, `out` may hold earlier chunks.
   */
  run(input: Float32Array | Tensor, out?: Float32Array): Float32Array {
    if (!this.alive) throw new ArgumentError(`${RUN}: the model was disposed`);
    const { data, n } = this.checkInput(input);
    const want = n * this.outSize;
    if (out !== undefined && !(out instanceof Float32Array)) throw new DTypeError(`${RUN}: out must be a Float32Array, got ${describe(out)}`);
    if (out !== undefined && out.length !== want) {
      throw new ShapeError(`${RUN}: out has ${out.length} floats, expected N·${this.outSize} = ${want} for [${n},${this.outputShape.join(',')}]`);
    }
    const y = out ?? new Float32Array(want);
    const { rt } = this.host;
    const ptr = (i: number): number => this.act[i];
    for (let b0 = 0; b0 < n; b0 += this.maxBatch) {
      const nb = Math.min(this.maxBatch, n - b0);
      const len = nb * this.inSize;
      rt.f32(this.act[0], len).set(data.subarray(b0 * this.inSize, b0 * this.inSize + len));
      const bad = rt.ex.rtFirstNonFinite(this.act[0], len);
      if (bad >= 0) {
        const i = b0 * this.inSize + bad;
        throw new NonFiniteError(`${RUN}: input element ${i} (sample ${Math.floor(i / this.inSize)}) is ${data[i]}; expected finite values`);
      }
      for (let s = 0; s < this.steps.length; s++) {
        const [xi, yi] = this.io[s];
        this.steps[s].run(nb, ptr(xi), ptr(yi));
      }
      y.set(rt.f32(this.act[this.outBuf], nb * this.outSize), b0 * this.outSize);
    }
    return y;
  }

  /**
   * Milliseconds per step for one batch (the median of `reps` runs of `input` after one warm-up run), with the step's
   * kind and fused node names: where the time of run() goes. Runs the same steps as run().
   */
  profile(input: Float32Array | Tensor, reps = 5): { name: string; kind: string; ms: number }[] {
    if (!this.alive) throw new ArgumentError(`${RUN}: the model was disposed`);
    if (!Number.isInteger(reps) || reps < 1) throw new ArgumentError(`${RUN}: profile reps must be a positive integer, got ${String(reps)}`);
    const { data, n } = this.checkInput(input);
    if (n === 0 || n > this.maxBatch) throw new ShapeError(`${RUN}: profile takes 1..maxBatch = ${this.maxBatch} samples, got ${n}`);
    this.run(data.subarray(0, n * this.inSize)); // warm-up, and the finiteness check
    const times = this.steps.map(() => [] as number[]);
    const { rt } = this.host;
    for (let r = 0; r < reps; r++) {
      rt.f32(this.act[0], n * this.inSize).set(data.subarray(0, n * this.inSize));
      for (let s = 0; s < this.steps.length; s++) {
        const [xi, yi] = this.io[s];
        const t0 = performance.now();
        this.steps[s].run(n, this.act[xi], this.act[yi]);
        times[s].push(performance.now() - t0);
      }
    }
    return this.steps.map((s, i) => {
      const t = times[i].sort((a, b) => a - b);
      return { name: s.op.name, kind: s.op.kind, ms: t[t.length >> 1] };
    });
  }

  /** Frees the resident weights, tables and buffers; idempotent. run() afterwards throws. */
  dispose(): void {
    if (!this.alive) return;
    this.alive = false;
    this.prepared.forEach((p) => p.dispose());
    this.blocks.freeAll();
  }

  private checkInput(input: unknown): { data: Float32Array; n: number } {
    const expected = `[N,${this.inputShape.join(',')}]`;
    if (input instanceof Tensor) {
      if (input.dtype !== 'float32') throw new DTypeError(`${RUN}: input dtype ${input.dtype}, expected float32`);
      const s = input.shape;
      if (s.length !== this.inputShape.length + 1 || !this.inputShape.every((d, i) => s[i + 1] === d)) {
        throw new ShapeError(`${RUN}: input shape ${fmtShape(s)} vs expected ${expected}`);
      }
      return { data: input.f32, n: s[0] };
    }
    if (input instanceof Float32Array) {
      if (input.length % this.inSize !== 0) {
        throw new ShapeError(`${RUN}: input length ${input.length} is not a multiple of the sample size ${this.inSize} (input ${expected})`);
      }
      return { data: input, n: input.length / this.inSize };
    }
    if (ArrayBuffer.isView(input)) throw new DTypeError(`${RUN}: input is a ${input.constructor.name}, expected a Float32Array or a float32 Tensor`);
    throw new ArgumentError(`${RUN}: input must be a Float32Array or a float32 Tensor ${expected}, got ${describe(input)}`);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** The error when neither the graph nor the file says what one sample is. */
function noInputShape(): never {
  throw new ArgumentError('lutnn.load: the graph input has no per-sample shape [N, ...] and the model file gives no dataset.inputShape; pass inputShape (one sample, e.g. [1, 28, 28])');
}
