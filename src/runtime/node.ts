// The Node loader: kernels from build/*.wasm with the worker-thread pool, model files read from disk.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { runJob, threadsFor } from '../backend/pool.js';
import { wasmLoadError, wasmRuntime } from '../backend/wasm.js';
import { BackendError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import { compileModel, loadBytes, type LoadOptions } from './load.js';
import type { CompileOptions, RuntimeModel } from './model.js';
import type { KernelHost } from './steps.js';

let host: KernelHost | undefined;

/** The process-wide kernels (shared with the training backend) and the pool (setNumThreads sets its size). */
export function nodeHost(): KernelHost {
  if (!host) {
    const rt = wasmRuntime();
    if (!rt) throw wasmLoadError() ?? new BackendError('lutnn.load: the wasm kernels did not load');
    host = { rt, runJob: (threads) => runJob(rt, threads), threadsFor };
  }
  return host;
}

/** Loads and compiles a model file (a path, or its bytes) synchronously. */
export function loadSync(source: string | Uint8Array | ArrayBuffer, opts: LoadOptions = {}): RuntimeModel {
  if (typeof source === 'string') return loadBytes(nodeHost(), readFileSync(source), { name: source, ...opts });
  return loadBytes(nodeHost(), source, opts);
}

/** `const model = await load('model.safetensors'); const logits = model.run(x)`. */
export async function load(source: string | Uint8Array | ArrayBuffer, opts: LoadOptions = {}): Promise<RuntimeModel> {
  if (typeof source === 'string') return loadBytes(nodeHost(), await readFile(source), { name: source, ...opts });
  return loadBytes(nodeHost(), source, opts);
}

/**
 * Compiles an in-memory GraphModel (loadModel's, createModel's, lowerModule's) for the runtime; default inputShape:
 * its graph input's per-sample shape.
 */
export function compile(model: GraphModel, opts: CompileOptions = {}): RuntimeModel {
  return compileModel(nodeHost(), model, opts);
}
