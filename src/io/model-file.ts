// lutnn model files on the engine: load a file (path or bytes) as a GraphModel, save a GraphModel atomically.
// The format without paths and without the engine is model-format.ts (shared with the runtime and the browser build).
import { GraphModel } from '../graph/model.js';
import type { ModelLimits } from './model-check.js';
import { modelFileParts, parseModelContents, readModelContents, type ModelContents, type ModelMeta } from './model-format.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

export { serializeModel, type ModelMeta, type DatasetMeta } from './model-format.js';

export function saveModel(path: string, model: GraphModel, meta: Omit<ModelMeta, 'format' | 'version' | 'graph'>): void {
  const { tensors, metadata } = modelFileParts(model, meta);
  saveSafetensors(path, tensors, metadata);
}

/** The GraphModel (eval mode) of validated file contents (their analysis is used as is). */
export function modelOf(c: ModelContents, file: string): { model: GraphModel; meta: ModelMeta; fileVersion: 1 | 2 } {
  void file;
  const model = GraphModel.fromAnalysis(c.info, c.weights);
  model.eval();
  return { model, meta: c.meta, fileVersion: c.fileVersion };
}

/**
 * Load and validate a model file (from a path or its bytes): graph, weights, finiteness, value checks, memory of one
 * sample against `limits` (model-check.ts); the model in eval mode.
 */
export function loadModel(source: string | Uint8Array, nameForErrors = typeof source === 'string' ? source : 'model', limits: ModelLimits = {}): { model: GraphModel; meta: ModelMeta; fileVersion: 1 | 2 } {
  const c = typeof source === 'string' ? readModelContents(loadSafetensors(source), nameForErrors, limits) : parseModelContents(source, nameForErrors, limits);
  return modelOf(c, nameForErrors);
}

/** Same as loadModel on bytes (kept for callers of the version 1 API). */
export function parseModel(bytes: Uint8Array, nameForErrors = 'model'): { model: GraphModel; meta: ModelMeta } {
  return loadModel(bytes, nameForErrors);
}
