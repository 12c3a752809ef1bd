// Page-side handle of a model living in a lutnn module Web Worker: run() returns a Promise and the main thread
// stays free. One worker per model; dispose() frees the model and ends the worker.
import { ArgumentError, BackendError, DTypeError } from '../errors.js';
import type { KernelInfo } from './kernels.js';
import { resolveUrl, type ModelSource } from './load.js';
import type { RuntimeInput } from '../runtime/model.js';
import { reviveError, type LoadedInfo, type Reply, type Request, type WorkerLoadOptions, type WorkerRunInputs } from './protocol.js';

export interface WorkerOptions extends WorkerLoadOptions {
  /** URL of lutnn-worker.js; default: beside the lutnn bundle (`new URL('./lutnn-worker.js', import.meta.url)`). */
  workerUrl?: string | URL;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** A model compiled in its own worker. Calls are answered in order; run() copies the input unless told to transfer it. */
export class WorkerModel {
  readonly inputShape: readonly number[];
  /** Every graph input (token ids and masks are int32). */
  readonly inputs: readonly RuntimeInput[];
  readonly outputShape: readonly number[];
  readonly maxBatch: number;
  readonly lutEngine: string;
  /** The kernels the worker loaded (build, SIMD variant, shared memory). */
  readonly kernels: KernelInfo;
  private readonly info: LoadedInfo;
  private alive = true;

  private constructor(
    private readonly worker: Worker,
    private readonly call: (req: Omit<Request, 'id'> & Record<string, unknown>, transfer?: Transferable[]) => Promise<unknown>,
    info: LoadedInfo,
  ) {
    this.info = info;
    this.inputShape = info.inputShape;
    this.inputs = info.inputs;
    this.outputShape = info.outputShape;
    this.maxBatch = info.maxBatch;
    this.lutEngine = info.lutEngine;
    this.kernels = info.kernels;
  }

  /** Starts a worker, loads its kernels and `source` there. */
  static async create(source: ModelSource, opts: WorkerOptions = {}): Promise<WorkerModel> {
    if (opts === null || typeof opts !== 'object') throw new ArgumentError('lutnn.loadInWorker: options must be an object');
    if (typeof Worker !== 'function') throw new BackendError('lutnn.loadInWorker: this environment has no Web Workers; use lutnn.load()');
    const { workerUrl, ...rest } = opts;
    let src: string | Uint8Array | ArrayBuffer;
    if (source instanceof Uint8Array || source instanceof ArrayBuffer) src = source;
    else if (typeof source === 'string' || source instanceof URL) src = resolveUrl(source).href;
    else throw new ArgumentError(`lutnn.loadInWorker: expected a URL, a Uint8Array or an ArrayBuffer, got ${source === null ? 'null' : typeof source}`);
    // The worker resolves URLs against its own script, so relative ones are made absolute here.
    const loadOpts: WorkerLoadOptions = { ...rest };
    if (rest.wasmBase !== undefined) loadOpts.wasmBase = resolveUrl(rest.wasmBase).href;
    const url = workerUrl === undefined ? new URL('./lutnn-worker.js', import.meta.url) : resolveUrl(workerUrl);
    const worker = new Worker(url, { type: 'module', name: 'lutnn' });
    const pending = new Map<number, Pending>();
    let next = 1;
    let broken: Error | null = null;
    const failAll = (e: Error): void => {
      broken = e;
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    };
    worker.onmessage = (ev: MessageEvent<Reply>) => {
      const r = ev.data;
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(reviveError(r.error));
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      failAll(new BackendError(`lutnn worker (${url.href}) failed: ${ev.message || 'the script did not load (check workerUrl and the server)'}`));
    };
    worker.onmessageerror = () => failAll(new BackendError('lutnn worker: a message could not be deserialized'));
    const call = (req: Omit<Request, 'id'> & Record<string, unknown>, transfer: Transferable[] = []): Promise<unknown> => {
      if (broken) return Promise.reject(broken);
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ ...req, id }, transfer);
      });
    };
    try {
      const info = (await call({ type: 'load', source: src, opts: loadOpts })) as LoadedInfo;
      return new WorkerModel(worker, call, info);
    } catch (e) {
      worker.terminate();
      throw e;
    }
  }

  get disposed(): boolean {
    return !this.alive;
  }

  /** One line per compiled step (as RuntimeModel.summary()). */
  summary(): string[] {
    return [...this.info.summary];
  }

  /**
   * Logits [N, ...outputShape] (flat) for input [N, ...inputShape] as a Float32Array, computed in the worker. A model
   * with several or integer inputs (token ids, masks) takes them as RuntimeModel.run does: an array in the graph's
   * order or an object by name, Int32Array or BigInt64Array for int32 inputs (checked in the worker, errors as their
   * lutnn classes). Inputs are copied; with `transfer: true` a single input's buffer moves to the worker instead (the
   * array is then unusable here).
   */
  async run(input: WorkerRunInputs, opts: { transfer?: boolean } = {}): Promise<Float32Array> {
    if (!this.alive) throw new ArgumentError('lutnn.run: the model was disposed');
    const one = this.inputs.length === 1 && this.inputs[0].dtype === 'float32';
    if (one && !(input instanceof Float32Array) && !Array.isArray(input) && !(input !== null && typeof input === 'object' && !ArrayBuffer.isView(input))) {
      throw new DTypeError(`lutnn.run: input must be a Float32Array [N,${this.inputShape.join(',')}], got ${input === null ? 'null' : (input as object)?.constructor?.name ?? typeof input}`);
    }
    if (one && ArrayBuffer.isView(input) && !(input instanceof Float32Array)) {
      throw new DTypeError(`lutnn.run: input must be a Float32Array [N,${this.inputShape.join(',')}], got ${input.constructor.name}`);
    }
    const single = ArrayBuffer.isView(input) ? (input as Float32Array | Int32Array | BigInt64Array) : null;
    const transfer = opts.transfer === true && single !== null && single.byteOffset === 0 && single.byteLength === single.buffer.byteLength;
    return (await this.call({ type: 'run', input }, transfer ? [single!.buffer as ArrayBuffer] : [])) as Float32Array;
  }

  /**
   * Tasks each thread of the worker ran since the last call (index 0 = the worker itself, then its Web Worker
   * threads); resets the counts. Shows whether the threads take part.
   */
  async taskCounts(): Promise<number[]> {
    if (!this.alive) throw new ArgumentError('lutnn.taskCounts: the model was disposed');
    return (await this.call({ type: 'taskCounts' })) as number[];
  }

  /** Frees the model and ends the worker; idempotent. */
  async dispose(): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    try {
      await this.call({ type: 'dispose' });
    } finally {
      this.worker.terminate();
    }
  }
}

/** `const m = await lutnn.loadInWorker('model.safetensors'); const logits = await m.run(x)`. */
export function loadInWorker(source: ModelSource, opts: WorkerOptions = {}): Promise<WorkerModel> {
  return WorkerModel.create(source, opts);
}
