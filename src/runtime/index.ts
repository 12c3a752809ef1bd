// The inference runtime's public surface: load/loadSync/compile (Node), the compiled model, the LUT engine interface.
export { load, loadSync, compile, nodeHost } from './node.js';
export { compileGraph, compileModel, loadBytes, defaultLutEngine, runtimeGraphOf, type LoadOptions } from './load.js';
export { RuntimeModel, type CompileOptions, type MemoryPlan, type RuntimeGraph, type RunInput, type RunInputs, type RuntimeInput } from './model.js';
export { tsLutEngine, lutSpecOf, encodeTs, scanTs, type LutEngine, type LutLayerSpec, type LutLayerTensors, type PreparedLut } from './lut-step.js';
export { wasmLutEngine } from './lut-wasm.js';
export type { KernelHost } from './steps.js';
export type { Op, Epilogue, Plan } from './plan.js';
export type { ArenaSlot, ArenaValue } from './arena.js';
