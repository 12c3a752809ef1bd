// Messages between a page (src/web/worker-model.ts) and the lutnn module worker (src/web/worker.ts).
import * as errors from '../errors.js';
import type { KernelInfo, KernelOptions } from './kernels.js';
import type { RuntimeInput } from '../runtime/model.js';

/** run()'s input as it crosses to the worker: typed arrays (token ids as Int32Array / BigInt64Array), one per graph input. */
export type WorkerRunInput = Float32Array | Int32Array | BigInt64Array;
export type WorkerRunInputs = WorkerRunInput | readonly WorkerRunInput[] | Readonly<Record<string, WorkerRunInput>>;

/** Compile and kernel options that cross to the worker (no LUT engine object: it cannot be cloned). */
export interface WorkerLoadOptions extends KernelOptions {
  maxBatch?: number;
  inputShape?: readonly number[];
  lutEncoder?: 'f32' | 'int8' | 'wide';
  lutWideConv?: boolean;
  lutCertify?: boolean;
  name?: string;
}

export type Request =
  | { id: number; type: 'load'; source: string | Uint8Array | ArrayBuffer; opts: WorkerLoadOptions }
  | { id: number; type: 'run'; input: WorkerRunInputs }
  | { id: number; type: 'taskCounts' }
  | { id: number; type: 'dispose' };

/** What the worker reports once the model is compiled. */
export interface LoadedInfo {
  inputShape: number[];
  /** Every graph input (name, per-sample shape, float32 or int32). */
  inputs: RuntimeInput[];
  outputShape: number[];
  maxBatch: number;
  lutEngine: string;
  summary: string[];
  kernels: KernelInfo;
}

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: { name: string; message: string } };

const CLASSES: Record<string, new (m: string) => Error> = {
  ShapeError: errors.ShapeError,
  DTypeError: errors.DTypeError,
  ArgumentError: errors.ArgumentError,
  NonFiniteError: errors.NonFiniteError,
  FormatError: errors.FormatError,
  AutogradError: errors.AutogradError,
  BackendError: errors.BackendError,
  LutnnError: errors.LutnnError,
};

/** An error as it crosses the worker boundary. */
export function serializeError(e: unknown): { name: string; message: string } {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

/** The error again, as its lutnn class when it was one (plain Error otherwise). */
export function reviveError(e: { name: string; message: string }): Error {
  const Cls = CLASSES[e.name];
  if (Cls) return new Cls(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
