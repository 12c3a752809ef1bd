// The op record: one description per op type (inputs, attributes, shape rule, engine forward, cost rule, ONNX export,
// ONNX import, runtime lowering).
//
// Records are pure descriptions. Each facet gets what it works with through its context: the forward pass gets the
// engine's primitives (src/ops) as `ops`, the ONNX export an emitter, the runtime lowering the runtime's plan builders
// (`c.k`). So src/graph only imports types of the engine, the protobuf writer and the runtime, and code that only reads
// graphs (the inference runtime, the browser bundle) carries no training code.
import type { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../tensor/rng.js';
import type * as EngineOpsModule from '../ops/index.js';
import type { AttrSchema } from './attrs.js';
import type { Dim } from './dims.js';
import type { DynamicInt8Options } from './onnx-int8.js';
import type { Attrs, IrDType, OpType, ValueInfo } from './types.js';
import type { NodeInfo } from './analyze.js';
import type { LowerCtx } from '../runtime/lower.js';

/** The engine primitives a forward pass is built from (src/ops/index.ts): autodiff comes with them. */
export type EngineOps = typeof EngineOpsModule;

/**
 * What an input is to the op. 'data': an activation (an initializer given here is a constant unless the graph lists
 * it in `params`, e.g. a position embedding added by Add); 'param': a trainable weight, always an initializer;
 * 'buffer': state that is not trained (running statistics, MADDNESS trees and tables), always an initializer.
 */
export type InputRole = 'data' | 'param' | 'buffer';

export interface InputSpec {
  name: string;
  role: InputRole;
  /** May be absent ('' in the node's inputs, or left off at the end). */
  optional?: boolean;
  /** Accepted dtypes (default float32). */
  dtypes?: readonly IrDType[];
}

/** Shape rule context: infos of the inputs (null for absent optional ones), the checked attributes. */
export interface InferCtx<A extends object> {
  readonly node: string;
  readonly inputs: readonly (ValueInfo | null)[];
  readonly attrs: A;
}

/** Engine forward context: input tensors (null for absent optional ones), attributes, mode. */
export interface ForwardCtx<A extends object> {
  readonly node: string;
  readonly x: readonly (Tensor | null)[];
  readonly attrs: A;
  /** Training mode: batch statistics in BatchNorm, dropout active. */
  readonly training: boolean;
  readonly ops: EngineOps;
  /** Randomness of the training-mode forward (dropout). */
  readonly rng: Rng;
}

export type LayerKind = 'dense' | 'lut' | 'maddness' | 'norm' | 'elementwise' | 'pool' | 'shape' | 'other';

/** LUT-NN parameters of a LUT layer, with its byte breakdown. */
export interface LutLayerInfo {
  ncodebooks: number;
  k: number;
  subvecLen: number;
  outDim: number;
  rowsPerImage: number;
  metric: string;
  temperature: number;
  quantize: boolean;
  bytes: { centroidsF32: number; centroidsInt8: number; centroidScales: number; table: number; tableScale: number; bias: number; weight: number; theta: number };
}

/** MADDNESS parameters (depth-4 trees, 16 leaves per codebook). */
export interface MaddnessLayerInfo {
  ncodebooks: number;
  leaves: number;
  subvecLen: number;
  outDim: number;
  rowsPerImage: number;
  /** As stored (split dims int32, thresholds fp32, table int8) and as deployed (thresholds int8, split dims uint8). */
  bytes: { table: number; tableScale: number; thresholdsF32: number; thresholdsInt8: number; splitDimsInt32: number; splitDimsUint8: number; bias: number };
}

/**
 * A node's cost per image (conventions at the top of src/graph/cost.ts). Unset numbers are 0; paramBytes and
 * deployBytes default to the bytes of the node's trainable initializers as stored, bufferBytes to its buffers.
 */
export interface CostPart {
  kind: LayerKind;
  macs?: number;
  encodeMacs?: number;
  lookupAdds?: number;
  comparisons?: number;
  elementOps?: number;
  paramBytes?: number;
  deployBytes?: number;
  trainingOnlyBytes?: number;
  bufferBytes?: number;
  workspaceBytes?: number;
  bitsPerActivation?: number | null;
  /** The output is a view of input 0 (no new memory: reshapes, identity). */
  view?: boolean;
  lut?: LutLayerInfo;
  maddness?: MaddnessLayerInfo;
  note?: string;
}

/** Cost rule context: shapes at batch 1, attributes, initializer values (for figures like the LUT temperature). */
export interface CostCtx<A extends object> {
  readonly node: string;
  readonly attrs: A;
  /** Shape of input i at batch 1 (null when absent). */
  inShape(i: number): number[] | null;
  /** Shape of output i at batch 1. */
  outShape(i: number): number[];
  /** The initializer given as input i, or null when that input is absent or computed. */
  weight(i: number): Tensor | null;
  /** Activation bytes are counted at this batch. */
  readonly batch: number;
}

/** Weight check context: the node, its attributes, and its initializer inputs with their names. */
export interface WeightCheckCtx<A extends object> {
  readonly node: string;
  readonly attrs: A;
  /** The initializer given as input i, or null when that input is absent or computed. */
  weight(i: number): Tensor | null;
  /** The value name of input i ('' when absent). */
  inputName(i: number): string;
  /** Shape of input i at batch 1 (null when absent). */
  inShape(i: number): number[] | null;
}

/** An ONNX attribute value: an int, ints, a string, or a tagged float / floats. */
export type OnnxAttr = number | number[] | string | { float: number } | { floats: number[] };

/** ONNX tensor element types the export writes. */
export type OnnxElem = 'float32' | 'float64' | 'int64' | 'int8';

/** What an exported LUT layer reports (the `lutLayers` of `lutnn export --json`). */
export interface OnnxLutLayer {
  name: string;
  kind: 'linear' | 'conv';
  metric: string;
  quantize: boolean;
  ncodebooks: number;
  subvecLen: number;
  k: number;
  outDim: number;
  tableDtype: 'int8' | 'float32';
  scale: number | null;
  rowsPerSample: number;
  codesOutput: string | null;
}

/** Writes ONNX nodes and initializers (implemented by src/io/onnx-export.ts). Names returned are unique. */
export interface OnnxEmitter {
  readonly opset: number;
  /** dynamicInt8: the dense ops' weights in onnxruntime's dynamic int8 form (src/graph/onnx-int8.ts), or null. */
  readonly options: { codes: boolean; sum: 'chain' | 'reduce'; layerInputs: boolean; dynamicInt8: DynamicInt8Options | null };
  /** One node; returns its output names (`outputs` fixed names or a count). */
  node(op: string, inputs: string[], scope: string, attrs?: Record<string, OnnxAttr>, outputs?: number | string[]): string[];
  one(op: string, inputs: string[], scope: string, attrs?: Record<string, OnnxAttr>): string;
  f32(name: string, data: Float32Array, dims: readonly number[]): string;
  i64(name: string, values: readonly number[], dims?: readonly number[]): string;
  init(name: string, elem: OnnxElem, dims: readonly number[], data: Float32Array | Float64Array | Int8Array | number[]): string;
  /** Reshape to `target` (0 copies a dim, -1 infers it). */
  reshape(x: string, target: readonly number[], scope: string): string;
  /** An extra graph output (codes, layer inputs) for cross-checks. */
  addOutput(name: string, value: string, shape: readonly Dim[], elem: 'float32' | 'int64'): string;
  /** The LUT table [C·K, M] exactly as the engine's forward builds it, and its int8 quantization. */
  lutTable(centroids: Tensor, weight: Tensor): { table: Float32Array; q: Int8Array; scale: number };
  /** Report an exported LUT layer. */
  lutLayer(info: OnnxLutLayer): void;
}

/** ONNX export context of one node. */
export interface OnnxCtx<A extends object> {
  readonly e: OnnxEmitter;
  /** The node's name: a scope for the ONNX names it makes. */
  readonly scope: string;
  readonly attrs: A;
  /** ONNX value name of input i (an initializer is written on first use under its own name); '' when absent. */
  input(i: number): string;
  has(i: number): boolean;
  /** IR info of input i / output i (dim 0 is the batch N). */
  info(i: number): ValueInfo;
  outInfo(i: number): ValueInfo;
  /** The initializer given as input i (the export may reshape or rebuild it instead of writing it as is). */
  weight(i: number): Tensor;
  /** Input i is an initializer (a constant of the model, readable with weight(i)). */
  initializer(i: number): boolean;
  /** Input i is computed exactly as lutnn computes it (an output of LUT layers and exact ops on them). */
  exact(i: number): boolean;
}

/** Output value names, or the names and whether they are exact (bit-identical to lutnn's for an exact input). */
export type OnnxOut = string[] | { outputs: string[]; exact: boolean };

/** Reads the attributes of the ONNX node being imported (defaults as the ONNX spec gives them, passed by the rule). */
export interface OnnxAttrReader {
  has(name: string): boolean;
  int(name: string, def?: number): number;
  float(name: string, def?: number): number;
  ints(name: string, def?: readonly number[]): number[];
  floats(name: string, def?: readonly number[]): number[];
  string(name: string, def?: string): string;
}

/**
 * What an import rule sees of one ONNX node (src/io/onnx-import.ts implements it): its attributes, its inputs (IR
 * values, or constants the importer knows: initializers and folded shape computations), and an emitter of IR nodes.
 */
export interface OnnxImportCtx {
  /** The IR name of the node (its ONNX name, sanitised and unique): a scope for what the rule adds. */
  readonly node: string;
  readonly opType: string;
  /** Opset of the node's domain. */
  readonly opset: number;
  readonly attr: OnnxAttrReader;
  /** Number of ONNX inputs / outputs (absent optional inputs count). */
  readonly inputCount: number;
  readonly outputCount: number;
  /** Input i is given (not '' nor left off). */
  has(i: number): boolean;
  /** Shape (dim 0 is the batch N for activations) and IR dtype of input i. */
  info(i: number): ValueInfo;
  /** Input i is a constant (an initializer or a folded value). */
  isConst(i: number): boolean;
  /** The values of a constant integer input (shape vectors may hold the batch "N"); null if not a constant. */
  ints(i: number): Dim[] | null;
  /** A constant float input (float32 values); null if not a constant. */
  floats(i: number): { shape: number[]; data: Float32Array } | null;
  /**
   * The IR value of input i; a constant becomes an initializer (int64 as int32). A constant that depends on the
   * batch (zeros of the input's shape) is written for one sample, which only ops that broadcast may read (`broadcast`).
   */
  value(i: number, opts?: { broadcast?: boolean }): string;
  /** A new initializer, named after the node (`<node>.<name>`); its IR value name. */
  weight(name: string, shape: readonly number[], data: Float32Array | Int32Array | Uint8Array): string;
  /** Adds an IR node (its shapes are inferred at once); its output values. */
  emit(op: OpType, inputs: readonly string[], attrs?: Attrs): string[];
  /** An IR value whose dim 0 is the batch N (a graph input), for ops that need the batch size (Expand). */
  batch(): string;
  /** The node uses a feature lutnn lacks: it is listed in the import's unsupported-op error with `reason`. */
  unsupported(reason: string): never;
  /** The batch size the file fixed for its inputs (e.g. 1 of a [1, 3, 224, 224] input), or null when symbolic. */
  readonly fileBatch: number | null;
}

/** How a record reads ONNX nodes: the op types (and opsets) it maps, and the mapping. */
export interface OnnxImportRule {
  /** ONNX op types this rule reads. */
  types: readonly string[];
  /** Their domain: '' (the default ONNX domain, also 'ai.onnx') or another, e.g. 'lutnn' for lutnn's own markers. */
  domain?: string;
  /** Opsets of that domain the rule covers (default 1..∞; the default domain is read at 13..21). */
  since?: number;
  until?: number;
  /** When several records read one op type, each takes the nodes it accepts (exactly one may accept a node). */
  accepts?(c: OnnxImportCtx): boolean;
  /** Emits the IR nodes of one ONNX node; returns the IR values of its outputs, in order. */
  map(c: OnnxImportCtx): string[];
}

/**
 * How the inference runtime (lutnn.load, src/runtime/plan.ts) runs the op: which inputs may be computed values, and
 * the ops of the runtime's plan it emits (src/runtime/plan-types.ts), fusing into the producer of its input where the
 * planner allows (`c.fusable`).
 */
export interface Lowering<A extends object> {
  /**
   * Where computed values (not initializers) may stand: 'x' (default) input 0 only; 'any' either operand (Add, MatMul);
   * 'one' exactly one computed input in any slot (Gather: ids or data); 'all' every input, no initializer (Concat).
   */
  reads?: 'x' | 'any' | 'one' | 'all';
  /** The op may read int32 values (views, Cast, Gather's indices); others take float32 only. */
  ints?: boolean;
  /** The output is input 0 under another name, no op: always (Dropout, Identity) or for some nodes (a same-dtype Cast). */
  alias?: true | ((ni: NodeInfo) => boolean);
  /** Emits the node's ops (through c.emit, or by extending the producer of its input); absent when always an alias. */
  run?(c: LowerCtx<A>): void;
}

/** The record of one op type. */
export interface OpDef<A extends object = Attrs> {
  /** One line: what the op computes. */
  doc: string;
  inputs: readonly InputSpec[];
  /** The last input repeats: at least `min` of it (Concat). */
  variadic?: { min: number };
  /** Number of outputs (Split: from its attributes). */
  outputs: number | ((a: A) => number);
  attrs: AttrSchema;
  /** Output infos from the inputs' infos; throws ShapeError / DTypeError / ArgumentError on misfit inputs. */
  infer(c: InferCtx<A>): ValueInfo[];
  /** The engine forward, from src/ops primitives (their backward passes make it differentiable). */
  forward(c: ForwardCtx<A>): Tensor[];
  cost(c: CostCtx<A>): CostPart;
  /**
   * Checks of initializer values that shapes and dtypes cannot tell (a BatchNorm variance below zero), run when a model
   * file is loaded (src/io/model-check.ts): throws naming the tensor and the first bad index. Finiteness is checked
   * for every tensor already.
   */
  checkWeights?(c: WeightCheckCtx<A>): void;
  onnx(c: OnnxCtx<A>): OnnxOut;
  /** ONNX import: the ONNX ops that become this op (src/io/onnx-import.ts applies them). */
  onnxImport?: readonly OnnxImportRule[];
  /**
   * Runtime lowering; null: the runtime has no step for the op yet; { refuse }: why the runtime does not run it (the
   * message follows "<op> '<node>' ").
   */
  lower: Lowering<A> | { refuse: string } | null;
}

/** Type helper: a record whose attributes are typed as A. */
export function defineOp<A extends object>(def: OpDef<A>): OpDef<A> {
  return def;
}
