// lutnn model files without the file system: the metadata type, the graph and weights of a file's bytes, and bytes of a model.
// Version 2 (written): the graph IR in the metadata, weights as PyTorch-named tensors. Version 1 (read): a Sequential
// architecture, converted to the graph IR on load (model-v1.ts). Nothing here needs the training engine, so the
// inference runtime and the browser build read model files through this module.
import { FormatError } from '../errors.js';
import { analyzeGraph, type GraphInfo } from '../graph/analyze.js';
import { graphFromJson, graphToJson, type GraphJson } from '../graph/serialize.js';
import type { Graph, TensorInfo } from '../graph/types.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkModel, type ModelLimits, type ModelMemory } from './model-check.js';
import { graphFromV1 } from './model-v1.js';
import { LUTNN_METADATA_KEY, parseSafetensors, readJsonMetadata, serializeSafetensors, type SafetensorsContents } from './safetensors-format.js';

/** The model file version this build writes (it reads 1 and 2). */
export const MODEL_FILE_VERSION = 2;

/** The metadata format of a deployment file (src/io/deploy-format.ts): the runtime reads it, the engine refuses it. */
export const DEPLOY_FORMAT = 'lutnn-deploy';

/** Dataset a model was trained for and its input normalisation. */
export interface DatasetMeta {
  name: string;
  mean: number;
  std: number;
  classes?: number;
  inputShape?: number[];
}

/** What a model file says about itself besides the weights. */
export interface ModelMeta {
  format: 'lutnn-model';
  version: 2;
  graph: GraphJson;
  dataset?: DatasetMeta;
  /** Free-form provenance (training recipe, conversion settings, figures). */
  info?: Record<string, unknown>;
}

/** The graph, its analysis and the weights of a model file (validated), with the metadata (as version 2). */
export interface ModelContents {
  graph: Graph;
  info: GraphInfo;
  weights: Map<string, Tensor>;
  meta: ModelMeta;
  /** The version of the file read (1 files are converted). */
  fileVersion: 1 | 2;
  /** What one sample needs beyond the stored tensors (checked against the activation limit). */
  memory: ModelMemory;
}

/** Anything with a graph and weights by name (a GraphModel). */
export interface GraphAndWeights {
  readonly graph: Graph;
  stateDict(): Record<string, Tensor>;
}

/** The state dict and the lutnn metadata entry of a model file. */
export function modelFileParts(model: GraphAndWeights, meta: Omit<ModelMeta, 'format' | 'version' | 'graph'>): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const full: ModelMeta = { format: 'lutnn-model', version: MODEL_FILE_VERSION, graph: graphToJson(model.graph), ...meta };
  return { tensors: model.stateDict(), metadata: { [LUTNN_METADATA_KEY]: JSON.stringify(full) } };
}

/** The bytes of the model file saveModel writes. */
export function serializeModel(model: GraphAndWeights, meta: Omit<ModelMeta, 'format' | 'version' | 'graph'>): Uint8Array {
  const { tensors, metadata } = modelFileParts(model, meta);
  return serializeSafetensors(tensors, metadata);
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The metadata's dataset entry, validated (undefined when absent). */
export function datasetMeta(v: unknown, file: string): DatasetMeta | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v) || typeof v.name !== 'string' || typeof v.mean !== 'number' || typeof v.std !== 'number' || !Number.isFinite(v.mean) || !(v.std > 0) || !Number.isFinite(v.std)) {
    throw new FormatError(`${file}: metadata dataset must be { name, mean, std > 0, ... }, got ${JSON.stringify(v)?.slice(0, 120)}`);
  }
  const s = v.inputShape;
  if (s !== undefined && (!Array.isArray(s) || s.length === 0 || s.length > 8 || !s.every((d) => Number.isInteger(d) && d >= 1 && d <= 2 ** 24))) {
    throw new FormatError(`${file}: metadata dataset.inputShape must be a list of positive integers, got ${JSON.stringify(s)?.slice(0, 120)}`);
  }
  return v as unknown as DatasetMeta;
}

/** The per-sample input shape of a version 1 file: its dataset's, else [1, 28, 28] for the MNIST family. */
function v1InputShape(ds: DatasetMeta | undefined, file: string): number[] {
  if (ds?.inputShape) return [...ds.inputShape];
  if (ds?.name === 'fashion-mnist' || ds?.name === 'mnist') return [1, 28, 28];
  throw new FormatError(`${file}: a version 1 model file without dataset.inputShape; lutnn cannot tell its input shape`);
}

/**
 * Validates parsed safetensors contents as a lutnn model file: metadata, graph (checked against the tensors), then
 * memory, finite weights and the records' value checks (model-check.ts).
 */
export function readModelContents({ tensors, metadata }: SafetensorsContents, file: string, limits: ModelLimits = {}): ModelContents {
  if (!(LUTNN_METADATA_KEY in metadata)) throw new FormatError(`${file}: no '${LUTNN_METADATA_KEY}' entry in __metadata__; not a lutnn model file`);
  const raw = readJsonMetadata(metadata, LUTNN_METADATA_KEY, file);
  if (isObj(raw) && raw.format === DEPLOY_FORMAT) {
    throw new FormatError(`${file}: a lutnn deployment file, for inference only (int8 LUT tables, no trained weights): run it with lutnn.load or lutnn eval; train, convert, quantize, compare and export to ONNX from the training file it was written from`);
  }
  if (!isObj(raw) || raw.format !== 'lutnn-model') {
    throw new FormatError(`${file}: metadata format is ${JSON.stringify(isObj(raw) ? raw.format : raw)?.slice(0, 80)}, expected "lutnn-model"`);
  }
  const dataset = datasetMeta(raw.dataset, file);
  if (raw.info !== undefined && !isObj(raw.info)) throw new FormatError(`${file}: metadata info must be an object`);
  let graph: Graph;
  let fileVersion: 1 | 2;
  if (raw.version === 1) {
    graph = graphFromV1(raw.arch, v1InputShape(dataset, file), new Map(Object.entries(tensors).map(([k, t]) => [k, t.shape])), file);
    fileVersion = 1;
  } else if (raw.version === 2) {
    graph = graphFromJson(raw.graph, file);
    fileVersion = 2;
  } else {
    throw new FormatError(`${file}: model file version ${JSON.stringify(raw.version)?.slice(0, 40)}, this build reads 1 and 2`);
  }
  const infos = new Map<string, TensorInfo>(Object.entries(tensors).map(([k, t]) => [k, { shape: t.shape, dtype: t.dtype }]));
  const info = analyzeGraph(graph, infos, { file });
  if (info.unused.length > 0) {
    throw new FormatError(`${file}: tensors ${info.unused.slice(0, 8).map((k) => `'${k}'`).join(', ')}${info.unused.length > 8 ? ` and ${info.unused.length - 8} more` : ''} are not used by the graph`);
  }
  const weights = new Map(Object.entries(tensors));
  const memory = checkModel(info, weights, file, limits);
  const meta: ModelMeta = { format: 'lutnn-model', version: 2, graph: graphToJson(info.graph), ...(dataset ? { dataset } : {}), ...(raw.info ? { info: raw.info as Record<string, unknown> } : {}) };
  return { graph: info.graph, info, weights, meta, fileVersion, memory };
}

/** Reads and validates a model file from its bytes. */
export function parseModelContents(bytes: Uint8Array, file = 'model', limits: ModelLimits = {}): ModelContents {
  return readModelContents(parseSafetensors(bytes, file), file, limits);
}
