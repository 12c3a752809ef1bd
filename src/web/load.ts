// In-thread browser loading: kernels by URL (kernels.ts), model bytes from a URL or a buffer, compiled with the
// shared runtime code (src/runtime/load.ts). Use it inside your own worker; pages should use loadInWorker.
import { ArgumentError, BackendError } from '../errors.js';
import { loadBytes, type LoadOptions } from '../runtime/load.js';
import type { RuntimeModel } from '../runtime/model.js';
import { loadKernels, type KernelOptions } from './kernels.js';
import { setNumThreads, startWorkers } from './pool.js';

/** A model file: its URL (fetched; relative to the page), or its bytes. */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

/** Compile options (maxBatch, inputShape, lutEncoder, lut engine, name) and kernel options (wasmBase, simd, memory, threads). */
export type WebLoadOptions = LoadOptions & KernelOptions;

function here(): string {
  return (globalThis as { location?: { href: string } }).location?.href ?? import.meta.url;
}

/** An absolute URL for a string or URL source. */
export function resolveUrl(source: string | URL): URL {
  try {
    return new URL(String(source), here());
  } catch {
    throw new ArgumentError(`lutnn.load: ${JSON.stringify(String(source))} is not a valid URL`);
  }
}

/** The bytes of a model source (fetching URLs) and a name for error messages. */
export async function modelBytes(source: ModelSource): Promise<{ bytes: Uint8Array; name: string }> {
  if (source instanceof Uint8Array) return { bytes: source, name: 'model' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: 'model' };
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new ArgumentError(`lutnn.load: expected a URL, a Uint8Array or an ArrayBuffer, got ${source === null ? 'null' : typeof source}`);
  }
  const url = resolveUrl(source);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new BackendError(`lutnn.load: cannot fetch ${url.href}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new BackendError(`lutnn.load: fetching ${url.href} gave HTTP ${res.status}`);
  return { bytes: new Uint8Array(await res.arrayBuffer()), name: url.pathname.split('/').pop() || url.href };
}

/**
 * `const model = await lutnn.load('model.safetensors'); const logits = model.run(x)` on the calling thread: the
 * kernels are fetched on first use. run() is synchronous, so call this inside a worker, not on a page's main thread.
 */
export async function load(source: ModelSource, opts: WebLoadOptions = {}): Promise<RuntimeModel> {
  if (opts === null || typeof opts !== 'object') throw new ArgumentError('lutnn.load: options must be an object');
  const host = await loadKernels(opts);
  if (opts.threads !== undefined) setNumThreads(opts.threads);
  await startWorkers(host.rt);
  const { bytes, name } = await modelBytes(source);
  return loadBytes(host, bytes, { name, ...opts });
}
