// Loading without the file system: model bytes (or a Module tree) + loaded kernels → a compiled RuntimeModel.
// The Node loader (node.ts) and a browser loader supply the KernelHost; nothing here touches node:fs.
import { ArgumentError } from '../errors.js';
import { parseModel, type ModelMeta } from '../io/model-format.js';
import type { Module } from '../nn/module.js';
import type { LutEncoderKind } from './lut-kernels.js';
import { tsLutEngine, type LutEngine } from './lut-step.js';
import { wasmLutEngine } from './lut-wasm.js';
import { RuntimeModel, type CompileOptions } from './model.js';
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

/** Compiles a Module tree (eval semantics; the module itself is not changed) on `host`. */
export function compileModule(host: KernelHost, module: Module, opts: CompileOptions = {}, meta: ModelMeta | null = null): RuntimeModel {
  return RuntimeModel.compile(host, module, meta, opts.lut ?? defaultLutEngine(host, opts.lutEncoder), opts);
}

/** Parses a lutnn model file (safetensors; FormatError when truncated or malformed) and compiles it on `host`. */
export function loadBytes(host: KernelHost, source: Uint8Array | ArrayBuffer, opts: LoadOptions = {}): RuntimeModel {
  const { model, meta } = parseModel(asBytes(source), opts.name ?? 'model');
  return compileModule(host, model, opts, meta);
}
