// lutnn model files: a safetensors state dict plus the architecture and provenance in `__metadata__.lutnn`.
import { FormatError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { buildModel, describeModel, type ArchSpec } from '../nn/spec.js';
// LUT layer types register themselves on import, so buildModel can rebuild converted models.
import '../lut/modules.js';
import '../lut/maddness-modules.js';
import { LUTNN_METADATA_KEY, loadSafetensors, parseSafetensors, readJsonMetadata, requireFinite, saveSafetensors } from './safetensors.js';

/** What a model file says about itself besides the weights. */
export interface ModelMeta {
  format: 'lutnn-model';
  version: 1;
  arch: ArchSpec;
  /** Dataset the model was trained for and its input normalisation. */
  dataset?: { name: string; mean: number; std: number; classes?: number; inputShape?: number[] };
  /** Free-form provenance (training recipe, conversion settings, figures). */
  info?: Record<string, unknown>;
}

export function saveModel(path: string, model: Module, meta: Omit<ModelMeta, 'format' | 'version' | 'arch'>): void {
  const full: ModelMeta = { format: 'lutnn-model', version: 1, arch: describeModel(model), ...meta };
  saveSafetensors(path, model.stateDict(), { [LUTNN_METADATA_KEY]: JSON.stringify(full) });
}

/** Load and validate a model file (from a path or its bytes): architecture, weights, finiteness. */
export function loadModel(source: string | Uint8Array, nameForErrors = typeof source === 'string' ? source : 'model'): { model: Module; meta: ModelMeta } {
  const { tensors, metadata } =
    typeof source === 'string' ? loadSafetensors(source) : parseSafetensors(source, nameForErrors);
  if (!(LUTNN_METADATA_KEY in metadata)) {
    throw new FormatError(`${nameForErrors}: no '${LUTNN_METADATA_KEY}' entry in __metadata__; not a lutnn model file`);
  }
  const meta = readJsonMetadata(metadata, LUTNN_METADATA_KEY, nameForErrors) as ModelMeta;
  if (!meta || typeof meta !== 'object' || meta.format !== 'lutnn-model') {
    throw new FormatError(`${nameForErrors}: metadata format is ${JSON.stringify((meta as { format?: unknown })?.format)}, expected "lutnn-model"`);
  }
  if (meta.version !== 1) throw new FormatError(`${nameForErrors}: model file version ${JSON.stringify(meta.version)}, this build reads 1`);
  requireFinite(tensors, undefined, nameForErrors);
  let model: Module;
  try {
    model = buildModel(meta.arch);
    model.loadStateDict(tensors);
  } catch (e) {
    throw new FormatError(`${nameForErrors}: ${(e as Error).message}`);
  }
  model.eval();
  return { model, meta };
}
