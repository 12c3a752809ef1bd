// lutnn model files: a safetensors state dict plus the architecture and provenance in `__metadata__.lutnn`.
// The format without paths is model-format.ts (shared with the browser build); this adds reading and writing files.
import type { Module } from '../nn/module.js';
import { modelFileParts, modelFromContents, parseModel, type ModelMeta } from './model-format.js';
import { loadSafetensors, saveSafetensors } from './safetensors.js';

export { serializeModel, parseModel, type ModelMeta } from './model-format.js';

export function saveModel(path: string, model: Module, meta: Omit<ModelMeta, 'format' | 'version' | 'arch'>): void {
  const { tensors, metadata } = modelFileParts(model, meta);
  saveSafetensors(path, tensors, metadata);
}

/** Load and validate a model file (from a path or its bytes): architecture, weights, finiteness. */
export function loadModel(source: string | Uint8Array, nameForErrors = typeof source === 'string' ? source : 'model'): { model: Module; meta: ModelMeta } {
  if (typeof source === 'string') return modelFromContents(loadSafetensors(source), nameForErrors);
  return parseModel(source, nameForErrors);
}
