// lutnn model files without the file system: the metadata type, bytes of a model, and a model rebuilt from bytes.
// model-file.ts adds paths (Node); the browser build reads model files through this module only.
import { FormatError } from '../errors.js';
import type { Module } from '../nn/module.js';
import { buildModel, describeModel, type ArchSpec } from '../nn/spec.js';
// LUT layer types register themselves on import, so buildModel can rebuild converted models.
import '../lut/modules.js';
import '../lut/maddness-modules.js';
import { LUTNN_METADATA_KEY, parseSafetensors, readJsonMetadata, requireFinite, serializeSafetensors, type SafetensorsContents } from './safetensors-format.js';

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

/** The state dict and the lutnn metadata entry of a model file. */
export function modelFileParts(model: Module, meta: Omit<ModelMeta, 'format' | 'version' | 'arch'>): { tensors: ReturnType<Module['stateDict']>; metadata: Record<string, string> } {
  const full: ModelMeta = { format: 'lutnn-model', version: 1, arch: describeModel(model), ...meta };
  return { tensors: model.stateDict(), metadata: { [LUTNN_METADATA_KEY]: JSON.stringify(full) } };
}

/** The bytes of the model file saveModel writes. */
export function serializeModel(model: Module, meta: Omit<ModelMeta, 'format' | 'version' | 'arch'>): Uint8Array {
  const { tensors, metadata } = modelFileParts(model, meta);
  return serializeSafetensors(tensors, metadata);
}

/** Validates parsed safetensors contents as a lutnn model: architecture, weights, finiteness; the model in eval mode. */
export function modelFromContents({ tensors, metadata }: SafetensorsContents, nameForErrors: string): { model: Module; meta: ModelMeta } {
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

/** Loads and validates a model file from its bytes. */
export function parseModel(bytes: Uint8Array, nameForErrors = 'model'): { model: Module; meta: ModelMeta } {
  return modelFromContents(parseSafetensors(bytes, nameForErrors), nameForErrors);
}
