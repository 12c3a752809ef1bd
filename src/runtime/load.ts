// Loading without the file system: model bytes (or an in-memory graph model) + loaded kernels → a compiled RuntimeModel.
// The Node loader (node.ts) and a browser loader supply the KernelHost; nothing here touches node:fs or the training engine.
import { ArgumentError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import type { ModelMeta } from '../io/model-format.js';
import { parseRuntimeContents, type DeployMeta } from '../io/deploy-format.js';
import type { LutEncoderKind } from './lut-kernels.js';
import { tsLutEngine, type LutEngine } from './lut-step.js';
import { wasmLutEngine } from './lut-wasm.js';
import { RuntimeModel, type CompileOptions, type RuntimeGraph } from './model.js';
import type { KernelHost } from './steps.js';

export interface LoadOptions extends CompileOptions {
  /** Name used in error messages (default: the path, or "model"). */
  name?: string;
}

/**
 * The default LUT engine: the wasm kernels (f32 encoder unless `encoder` says int8) when the loaded build has them,
 * with the TypeScript engine for layers they cannot take (K > 16); the TypeScript engine alone otherwise.
 */
export function defaultLutEngine(host: KernelHost, encoder: LutEncoderKind = 'f32'): LutEngine {
  const ts = tsLutEngine(host.rt.memory);
  return 'LUT_ROWS' in host.rt.ex ? wasmLutEngine({ encoder, fallback: ts }) : ts;
}

/** Bytes of a model file as a Uint8Array (copying nothing). */
export function asBytes(source: Uint8Array | ArrayBuffer): Uint8Array {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  throw new ArgumentError(`lutnn.load: expected a path, a Uint8Array or an ArrayBuffer, got ${source === null ? 'null' : typeof source}`);
}

/**
 * The graph and weights of an in-memory GraphModel (its analysis and the initializers its nodes read; the tensors
 * are read, not kept). Anything else is an error: a Module tree is lowered first (lowerModule(module, { inputShape })).
 */
export function runtimeGraphOf(model: GraphModel): RuntimeGraph {
  const m = model as Partial<GraphModel> | null;
  if (m === null || typeof m !== 'object' || typeof m.info !== 'object' || typeof m.namedWeights !== 'function') {
    const got = m === null ? 'null' : typeof m === 'object' ? (m as object).constructor?.name ?? 'object' : typeof m;
    throw new ArgumentError(`lutnn.compile: expected a GraphModel (lowerModule(module, { inputShape }) gives one for a Module tree), got ${got}`);
  }
  return { info: model.info, weights: new Map(model.namedWeights()) };
}

/** Compiles a graph (eval semantics; nothing of it is changed) on `host`. */
export function compileGraph(host: KernelHost, graph: RuntimeGraph, opts: CompileOptions = {}, meta: ModelMeta | DeployMeta | null = null): RuntimeModel {
  return RuntimeModel.compile(host, graph, meta, opts.lut ?? defaultLutEngine(host, opts.lutEncoder), opts);
}

/** Compiles an in-memory GraphModel (eval semantics, whatever its mode; the model is not changed) on `host`. */
export function compileModel(host: KernelHost, model: GraphModel, opts: CompileOptions = {}, meta: ModelMeta | null = null): RuntimeModel {
  return compileGraph(host, runtimeGraphOf(model), opts, meta);
}

/**
 * Parses a lutnn model file and compiles it on `host`: a training file (version 1 or 2; LUT tables built from the
 * trained centroids and weights) or a deployment file (`lutnn export --deploy`: its int8 tables are used as they are).
 * FormatError when truncated or malformed.
 */
export function loadBytes(host: KernelHost, source: Uint8Array | ArrayBuffer, opts: LoadOptions = {}): RuntimeModel {
  const { info, weights, luts, meta } = parseRuntimeContents(asBytes(source), opts.name ?? 'model', { maxActivationBytes: opts.maxActivationBytes });
  return compileGraph(host, { info, weights, luts }, opts, meta);
}
