// The browser bundle's public surface (dist-web/lutnn.js): loadInWorker for pages, load inside your own worker.
export { loadInWorker, WorkerModel, type WorkerOptions } from './worker-model.js';
export { load, type ModelSource, type WebLoadOptions } from './load.js';
export { loadKernels, kernelInfo, relaxedSimdSupported, crossOriginIsolatedNow, type KernelOptions, type KernelInfo } from './kernels.js';
export { RuntimeModel, type CompileOptions } from '../runtime/model.js';
export { LutnnError, ShapeError, DTypeError, ArgumentError, NonFiniteError, FormatError, BackendError } from '../errors.js';
