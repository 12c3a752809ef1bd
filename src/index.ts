// The public API of lutnn: re-exports only.
export * from './errors.js';
export { Tensor, type DType, type Shape, type TypedArray, type GradFn } from './tensor/tensor.js';
export * from './tensor/create.js';
export { Rng, globalRng, manualSeed } from './tensor/rng.js';
export { backward, noGrad, isGradEnabled, setGradEnabled, type BackwardOptions } from './autograd/engine.js';
export { gradCheck, type GradCheckOptions, type GradCheckResult } from './autograd/gradcheck.js';
export * from './ops/index.js';
export { getBackend, setBackend, getWasmBackend, referenceBackend, getNumThreads, setNumThreads, type Backend, type Conv2dGeom } from './backend/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './data/index.js';
export * from './io/index.js';
export { saveModel, loadModel, type ModelMeta } from './io/model-file.js';
export { fit, type FitOptions, type FitResult, type EpochSummary, type BatchSource } from './train/fit.js';
export { evaluate, countCorrect, type EvalResult } from './train/metrics.js';
export { saveCheckpoint, loadCheckpoint, type TrainPosition } from './train/checkpoint.js';
