// Deployment files on disk: save a GraphModel's deployment file atomically (the format is deploy-format.ts).
import type { GraphModel } from '../graph/model.js';
import { writeFileAtomic } from './atomic.js';
import { serializeDeploy, type DeployReport } from './deploy-format.js';
import type { DatasetMeta } from './model-format.js';

/**
 * Writes the deployment file of `model` (eval semantics: int8 LUT tables, BN folded into dense convs, no training
 * tensors) to `path` atomically; `lutnn.load(path)` runs it with the same outputs as the model's training file.
 */
export function saveDeploy(path: string, model: GraphModel, meta: { dataset?: DatasetMeta; info?: Record<string, unknown> } = {}): DeployReport {
  const { bytes, report } = serializeDeploy({ graph: model.graph, weights: new Map(model.namedWeights()) }, meta, path);
  writeFileAtomic(path, bytes);
  return report;
}
