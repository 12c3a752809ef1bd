// A compiled model: the plan's steps over one activation arena (liveness-planned), input checks, chunked batches, dispose().
import { ArgumentError, DTypeError, LimitError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import type { GraphInfo } from '../graph/analyze.js';
import { perSample } from '../graph/dims.js';
import { activationLimit } from '../io/model-check.js';
import type { ModelMeta } from '../io/model-format.js';
import type { DeployMeta } from '../io/deploy-format.js';
import { Tensor, shapeSize } from '../tensor/tensor.js';
import type { LutEngine, LutLayerSpec, PreparedLut } from './lut-step.js';
import { planArena, type ArenaPlan, type ArenaSlot, type ArenaValue } from './arena.js';
import { inPlaceInputs, planGraph, valueFloats, type Op, type Plan } from './plan.js';
import { describeOps } from './describe.js';
import { firstBadIndex } from './heap-kernels.js';
import { Blocks, makeStep, type KernelHost, type LutConvMode, type LutConvOptions, type Step } from './steps.js';

const RUN = 'lutnn.run';

/** One input of run(): floats (Float32Array, float32 Tensor) or token ids (Int32Array, BigInt64Array, int32 Tensor). */
export type RunInput = Float32Array | Int32Array | BigInt64Array | Tensor;

/**
 * What run() takes: the input of a one-input model, or every input of the graph, in its order (an array) or by name
 * (an object).
 */
export type RunInputs = RunInput | readonly RunInput[] | Readonly<Record<string, RunInput>>;

/** A graph input of a compiled model: name, per-sample shape and element type. */
export interface RuntimeInput {
  name: string;
  shape: readonly number[];
  dtype: 'float32' | 'int32';
}

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
  /**
   * run() checks the logits and, when one is NaN or ±Infinity, runs the chunk again step by step and throws
   * NonFiniteError naming the first step (its fused node names) whose output is not finite (default false: one
   * pass over the logits per chunk when on).
   */
  checkFinite?: boolean;
  /**
   * Largest activation memory: the arena plus the steps' workspace at maxBatch must fit, else LimitError before they
   * are allocated; a model file's one sample and LUT tables are checked against it on load (src/io/model-check.ts).
   * Default: the LUTNN_MAX_ACTIVATION_BYTES environment variable, else 4 GiB.
   */
  maxActivationBytes?: number;
}


/** What the runtime compiles: a validated graph and its initializers by name (a model file's contents, a GraphModel's). */
export interface RuntimeGraph {
  info: GraphInfo;
  weights: ReadonlyMap<string, Tensor>;
  /**
   * LUT layers given ready (a deployment file's int8 tables, by node name); the others are built from their trained
   * centroids and weight at compile time.
   */
  luts?: ReadonlyMap<string, LutLayerSpec>;
}

function checkShapeOpt(s: unknown): number[] {
  if (!Array.isArray(s) || s.length === 0 || !s.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`lutnn.load: inputShape must be a non-empty array of positive integers, got ${JSON.stringify(s)}`);
  }
  return [...s];
}

/**
 * Where a compiled model's activations live. All figures are bytes at maxBatch unless per sample; activations scale
 * with the batch, so per sample = at maxBatch / maxBatch.
 */
export interface MemoryPlan {
  maxBatch: number;
  /**
   * The liveness peak of the steps: max over steps of the bytes of the values live there (the step's inputs and
   * output, and every value a later step still reads, the graph input and output included; a view or an in-place
   * output shares its input's bytes). The definition of `lutnn info`'s peakActivationBytes applied to the compiled
   * steps (fused nodes are one step, in-place steps add nothing), without workspace (see scratchBytes).
   */
  peakActivationBytes: number;
  /** The step where the peak is reached (its fused node names). */
  peakStep: string;
  /** Bytes the activation arena spans: the peak, plus whatever 64-byte alignment and best-fit holes add. */
  arenaBytes: number;
  /**
   * Workspace, one block shared by every step (they run one at a time): the largest need of a step for its chunk of
   * images (dense conv: im2col columns + packed panels; LUT conv: im2row rows and outputs, or padded planes and codes
   * on the direct path; Linear: packed rows). Not per value, so not in the liveness peak.
   */
  scratchBytes: number;
  perSample: { peakActivationBytes: number; arenaBytes: number };
  /** The arena's slots (byte offsets from its start) and, per value, its slot and live steps. */
  slots: readonly ArenaSlot[];
  values: ReadonlyMap<string, ArenaValue>;
}

/** A model compiled for inference: run() is synchronous and reuses the same buffers, so one run at a time. */
export class RuntimeModel {
  /** Shape of one sample of the first input (the only one of most models). */
  readonly inputShape: readonly number[];
  /** Every graph input in the graph's order (token ids and masks are int32). */
  readonly inputs: readonly RuntimeInput[];
  readonly outputShape: readonly number[];
  readonly maxBatch: number;
  readonly lutEngine: string;
  readonly ops: readonly Op[];
  /** The values the graph input is written to and the logits are read from (names in ops' inputs / output). */
  readonly inputName: string;
  readonly outputName: string;
  /** The activation arena and its liveness peak (see MemoryPlan). */
  readonly memory: MemoryPlan;
  private readonly steps: Step[];
  /** Per step: byte pointers of its inputs and output in the arena. */
  private readonly io: { xs: number[]; y: number }[];
  private readonly inPtrs: number[];
  private readonly outPtr: number;
  private readonly arenaPtr: number;
  private readonly arena: ArenaPlan;
  private readonly inSizes: number[];
  private readonly outSize: number;
  private alive = true;

  private constructor(
    private readonly host: KernelHost,
    private readonly plan: Plan,
    readonly meta: ModelMeta | DeployMeta | null,
    private readonly blocks: Blocks,
    private readonly prepared: PreparedLut[],
    inputShape: number[],
    maxBatch: number,
    lut: LutEngine,
    conv: LutConvOptions,
    private readonly checks: { finite: boolean; limit: number; name?: string },
  ) {
    const { ops } = plan;
    this.ops = ops;
    this.inputName = plan.input;
    this.outputName = plan.output;
    this.inputShape = inputShape;
    this.inputs = plan.inputs.map((i) => ({ name: i.name, shape: i.shape, dtype: i.dtype }));
    this.maxBatch = maxBatch;
    this.lutEngine = lut.name;
    this.outputShape = plan.shapes.get(plan.output)!;
    this.inSizes = plan.inputs.map((i) => shapeSize(i.shape));
    this.outSize = shapeSize(this.outputShape);
    this.steps = ops.map((op) => makeStep(host, blocks, op, maxBatch, lut, prepared, conv));
    const arena = planArena(
      ops.map((o) => ({ name: o.name, inputs: o.inputs, output: o.output, view: o.kind === 'reshape', inPlace: inPlaceInputs(o) })),
      valueFloats(plan), plan.inputs.map((i) => i.name), plan.output, maxBatch,
    );
    this.arena = arena;
    const scratchBytes = Math.max(64, ...this.steps.map((s) => s.scratchBytes));
    if (arena.arenaBytes + scratchBytes > checks.limit) {
      throw new LimitError(`lutnn.load${checks.name ? ` ${checks.name}` : ''}: activations need ${arena.arenaBytes} bytes of arena (peak at step '${ops[arena.peakStep].name}') and ${scratchBytes} of workspace at maxBatch = ${maxBatch}, more than the limit of ${checks.limit} bytes (maxActivationBytes); lower maxBatch or raise the limit`);
    }
    this.arenaPtr = blocks.alloc(Math.max(64, arena.arenaBytes));
    const ptr = (v: string): number => this.arenaPtr + arena.slots[arena.values.get(v)!.slot].offset;
    this.io = ops.map((o) => ({ xs: o.inputs.map(ptr), y: ptr(o.output) }));
    this.inPtrs = plan.inputs.map((i) => ptr(i.name));
    this.outPtr = ptr(plan.output);
    const scratch = blocks.alloc(scratchBytes);
    for (const s of this.steps) s.scratch = scratch;
    this.memory = {
      maxBatch,
      peakActivationBytes: arena.peakActivationBytes,
      peakStep: ops[arena.peakStep].name,
      arenaBytes: arena.arenaBytes,
      scratchBytes,
      perSample: { peakActivationBytes: arena.peakActivationBytes / maxBatch, arenaBytes: arena.arenaBytes / maxBatch },
      slots: arena.slots,
      values: arena.values,
    };
  }

  /** Compiles `graph` (eval semantics) for samples of `inputShape`; frees everything it took if it fails. */
  static compile(host: KernelHost, graph: RuntimeGraph, meta: ModelMeta | DeployMeta | null, lut: LutEngine, opts: CompileOptions = {}): RuntimeModel {
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
    const plan = planGraph(graph.info, graph.weights, inputShape, graph.luts);
    const blocks = new Blocks(host.rt);
    const prepared: PreparedLut[] = [];
    try {
      const name = (opts as { name?: unknown }).name; // lutnn.load's file name, for messages
      const checks = { finite: opts.checkFinite ?? false, limit: activationLimit({ maxActivationBytes: opts.maxActivationBytes }), name: typeof name === 'string' ? name : undefined };
      if (typeof checks.finite !== 'boolean') throw new ArgumentError(`lutnn.load: checkFinite must be a boolean, got ${String(checks.finite)}`);
      return new RuntimeModel(host, plan, meta, blocks, prepared, inputShape, maxBatch, lut, { mode: lutConv, wide: lutWideConv, certify: lutCertify }, checks);
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
  activations(input: RunInputs): Float32Array[] {
    const outs: Float32Array[] = [];
    this.trace(input, (i, read) => outs.push(read(this.ops[i].output)));
    return outs;
  }

  /**
   * Runs input [N, ...inputShape], N <= maxBatch, step by step, calling visit(i, read) after step i: read(value)
   * copies a value's current bytes from the arena ([N, ...shape] of any value of the plan: the graph input, an op's
   * input or output). A value is only meaningful while live (memory.values gives its steps): later steps reuse its
   * bytes. For analysis and for checking the plan. Returns the logits, as run().
   */
  trace(input: RunInputs, visit: (step: number, read: (value: string) => Float32Array) => void): Float32Array {
    if (!this.alive) throw new ArgumentError(`${RUN}: the model was disposed`);
    const feed = this.checkInputs(input);
    const { n } = feed;
    if (n > this.maxBatch) throw new ShapeError(`${RUN}: trace and activations take at most maxBatch = ${this.maxBatch} samples, got ${n}`);
    this.loadChunk(feed, 0, n);
    const read = (v: string): Float32Array => {
      const a = this.arena.values.get(v);
      if (!a) throw new ArgumentError(`${RUN}: '${v}' is not a value of the compiled plan`);
      return this.host.rt.f32(this.arenaPtr + this.arena.slots[a.slot].offset, n * a.floats).slice();
    };
    this.steps.forEach((s, i) => {
      const { xs, y } = this.io[i];
      s.run(n, xs[0], y, xs);
      visit(i, read);
    });
    return read(this.plan.output);
  }

  /** One line per step: kind, fused node names, per-sample shapes. */
  summary(): string[] {
    return describeOps(this.ops, this.plan.shapes);
  }

  /**
   * Logits [N, ...outputShape] (flat, row-major) for input [N, ...inputShape]: a Float32Array (N from its length)
   * or a float32 Tensor. A model with several inputs (or int32 ones: token ids, masks) takes them as an array in the
   * graph's order or an object by name (see `inputs`): Float32Array / float32 Tensor for float inputs, Int32Array,
   * BigInt64Array (ONNX int64) or int32 Tensor for integer ones, every input with the same N. Writes into `out` when
   * given (length N·outputSize), else into a fresh array. Checks shapes, dtypes, finiteness and token ids (within
   * the tables they index) first; on a NaN/Inf in a later chunk of a large batch, `out` may hold earlier chunks.
   */
  run(input: RunInputs, out?: Float32Array): Float32Array {
    if (!this.alive) throw new ArgumentError(`${RUN}: the model was disposed`);
    return this.runFeed(this.checkInputs(input), out);
  }

  private runFeed(feed: Feed, out?: Float32Array): Float32Array {
    const { n } = feed;
    const want = n * this.outSize;
    if (out !== undefined && !(out instanceof Float32Array)) throw new DTypeError(`${RUN}: out must be a Float32Array, got ${describe(out)}`);
    if (out !== undefined && out.length !== want) {
      throw new ShapeError(`${RUN}: out has ${out.length} floats, expected N·${this.outSize} = ${want} for [${n},${this.outputShape.join(',')}]`);
    }
    const y = out ?? new Float32Array(want);
    for (let b0 = 0; b0 < n; b0 += this.maxBatch) {
      const nb = Math.min(this.maxBatch, n - b0);
      this.loadChunk(feed, b0, nb);
      for (let s = 0; s < this.steps.length; s++) {
        const { xs, y: yp } = this.io[s];
        try {
          this.steps[s].run(nb, xs[0], yp, xs);
        } catch (e) {
          // A kernel that meets NaN or Inf (a LUT layer's distances overflowing) says which step it was in.
          if (e instanceof NonFiniteError) throw new NonFiniteError(`${RUN}: step '${this.ops[s].name}' (${this.ops[s].kind}): ${e.message}`);
          throw e;
        }
      }
      if (this.checks.finite && this.host.rt.ex.rtFirstNonFinite(this.outPtr, nb * this.outSize) >= 0) this.firstNonFiniteStep(feed, b0, nb);
      y.set(this.host.rt.f32(this.outPtr, nb * this.outSize), b0 * this.outSize);
    }
    return y;
  }

  /** Runs samples b0 .. b0 + nb again step by step and throws NonFiniteError at the first step whose output is not finite. */
  private firstNonFiniteStep(feed: Feed, b0: number, nb: number): never {
    const { rt } = this.host;
    this.loadChunk(feed, b0, nb);
    for (let s = 0; s < this.steps.length; s++) {
      const { xs, y: yp } = this.io[s];
      this.steps[s].run(nb, xs[0], yp, xs);
      const op = this.ops[s];
      const floats = this.arena.values.get(op.output)!.floats;
      const bad = rt.ex.rtFirstNonFinite(yp, nb * floats);
      if (bad >= 0) {
        const v = rt.f32(yp, nb * floats)[bad];
        throw new NonFiniteError(`${RUN}: step '${op.name}' (${op.kind}): output '${op.output}' is ${v} at element ${bad % floats} of sample ${b0 + Math.floor(bad / floats)}; the first step whose output is not finite`);
      }
    }
    throw new NonFiniteError(`${RUN}: the logits of samples ${b0}..${b0 + nb - 1} are not finite`);
  }

  /** Copies samples b0 .. b0 + nb of every input into its slot; NonFiniteError names the first NaN/Inf of a float input. */
  private loadChunk(feed: Feed, b0: number, nb: number): void {
    const { rt } = this.host;
    feed.data.forEach((data, k) => {
      const size = this.inSizes[k];
      const len = nb * size;
      const part = data.subarray(b0 * size, b0 * size + len);
      if (data instanceof Int32Array) {
        new Int32Array(rt.memory.buffer, this.inPtrs[k], len).set(part);
        return;
      }
      rt.f32(this.inPtrs[k], len).set(part);
      const bad = rt.ex.rtFirstNonFinite(this.inPtrs[k], len);
      if (bad >= 0) {
        const i = b0 * size + bad;
        throw new NonFiniteError(`${RUN}: ${this.inputs.length > 1 ? `input '${this.inputs[k].name}'` : 'input'} element ${i} (sample ${Math.floor(i / size)}) is ${data[i]}; expected finite values`);
      }
    });
  }

  /**
   * Milliseconds per step for one batch (the median of `reps` runs of `input` after one warm-up run), with the step's
   * kind and fused node names: where the time of run() goes. Runs the same steps as run().
   */
  profile(input: RunInputs, reps = 5): { name: string; kind: string; ms: number }[] {
    if (!this.alive) throw new ArgumentError(`${RUN}: the model was disposed`);
    if (!Number.isInteger(reps) || reps < 1) throw new ArgumentError(`${RUN}: profile reps must be a positive integer, got ${String(reps)}`);
    const feed = this.checkInputs(input);
    const { n } = feed;
    if (n === 0 || n > this.maxBatch) throw new ShapeError(`${RUN}: profile takes 1..maxBatch = ${this.maxBatch} samples, got ${n}`);
    this.runFeed(feed); // warm-up, and the finiteness check
    const times = this.steps.map(() => [] as number[]);
    for (let r = 0; r < reps; r++) {
      this.loadChunk(feed, 0, n);
      for (let s = 0; s < this.steps.length; s++) {
        const { xs, y } = this.io[s];
        const t0 = performance.now();
        this.steps[s].run(n, xs[0], y, xs);
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

  /** Every input of run() checked (one per graph input, the same N), as the arrays loadChunk copies. */
  private checkInputs(input: unknown): Feed {
    const ins = this.inputs;
    let list: unknown[];
    // An array of inputs; a one-input model given an array of something else (numbers) gets that input's error.
    if (Array.isArray(input) && (ins.length > 1 || input.every((v) => v !== null && typeof v === 'object'))) list = input;
    else if (input !== null && typeof input === 'object' && !Array.isArray(input) && !(input instanceof Tensor) && !ArrayBuffer.isView(input)) {
      const rec = input as Record<string, unknown>;
      const extra = Object.keys(rec).find((k) => !ins.some((i) => i.name === k));
      if (extra !== undefined) throw new ArgumentError(`${RUN}: no input named '${extra}' (the model's inputs: ${ins.map((i) => `'${i.name}'`).join(', ')})`);
      list = ins.map((i) => {
        if (!(i.name in rec)) throw new ArgumentError(`${RUN}: input '${i.name}' is missing (the model's inputs: ${ins.map((q) => `'${q.name}'`).join(', ')})`);
        return rec[i.name];
      });
    } else list = [input];
    if (list.length !== ins.length) {
      throw new ArgumentError(`${RUN}: got ${list.length} input${list.length === 1 ? '' : 's'}, the model takes ${ins.length} (${ins.map((i) => `'${i.name}' ${i.dtype} [N,${i.shape.join(',')}]`).join(', ')}), as an array in that order or an object by name`);
    }
    const data = list.map((v, k) => this.checkInput(v, k));
    const n = data[0].n;
    data.forEach((d, k) => {
      if (d.n !== n) throw new ShapeError(`${RUN}: input '${ins[k].name}' has ${d.n} samples, input '${ins[0].name}' ${n}; every input takes the same batch N`);
    });
    // Token ids within the tables they index (a Gather reading the input).
    data.forEach((d, k) => {
      const len = this.plan.idRange.get(ins[k].name);
      if (len === undefined || !(d.data instanceof Int32Array)) return;
      const bad = firstBadIndex(d.data, len);
      if (bad >= 0) {
        const size = this.inSizes[k];
        throw new ArgumentError(`${RUN}: input '${ins[k].name}' element ${bad} (sample ${Math.floor(bad / size)}) is ${d.data[bad]}; ids index a table of ${len} rows, expected [${-len}, ${len})`);
      }
    });
    return { data: data.map((d) => d.data), n };
  }

  private checkInput(input: unknown, k: number): { data: Float32Array | Int32Array; n: number } {
    const { shape, dtype, name } = this.inputs[k];
    const inSize = this.inSizes[k];
    const who = this.inputs.length > 1 || dtype !== 'float32' ? `input '${name}'` : 'input';
    const expected = `[N,${shape.join(',')}]`;
    const kinds = dtype === 'float32' ? 'a Float32Array or a float32 Tensor' : 'an Int32Array, a BigInt64Array or an int32 Tensor (token ids)';
    const n = (len: number): number => {
      if (len % inSize !== 0) throw new ShapeError(`${RUN}: ${who} length ${len} is not a multiple of the sample size ${inSize} (${who} ${expected})`);
      return len / inSize;
    };
    if (input instanceof Tensor) {
      if (input.dtype !== dtype) throw new DTypeError(`${RUN}: ${who} dtype ${input.dtype}, expected ${dtype}`);
      const s = input.shape;
      if (s.length !== shape.length + 1 || !shape.every((d, i) => s[i + 1] === d)) {
        throw new ShapeError(`${RUN}: ${who} shape ${fmtShape(s)} vs expected ${expected}`);
      }
      return { data: dtype === 'float32' ? input.f32 : (input.data as Int32Array), n: s[0] };
    }
    if (dtype === 'float32' && input instanceof Float32Array) return { data: input, n: n(input.length) };
    if (dtype === 'int32' && input instanceof Int32Array) return { data: input, n: n(input.length) };
    if (dtype === 'int32' && input instanceof BigInt64Array) {
      const bad = input.findIndex((v) => v < -2147483648n || v > 2147483647n);
      if (bad >= 0) throw new ArgumentError(`${RUN}: ${who} element ${bad} is ${input[bad]}, outside int32`);
      const count = n(input.length);
      return { data: Int32Array.from(input, (v) => Number(v)), n: count };
    }
    if (ArrayBuffer.isView(input)) throw new DTypeError(`${RUN}: ${who} is a ${input.constructor.name}, expected ${kinds}`);
    throw new ArgumentError(`${RUN}: ${who} must be ${kinds} ${expected}, got ${describe(input)}`);
  }
}

/** run()'s inputs, checked: one array per graph input (int32 ids as Int32Array), N samples each. */
interface Feed {
  data: (Float32Array | Int32Array)[];
  n: number;
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
