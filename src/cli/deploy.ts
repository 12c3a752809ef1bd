// `lutnn export MODEL --deploy OUT`: the deployment file of a training file (src/io/deploy-format.ts), checked to plan on
// the runtime, written atomically; the figures (sizes, LUT layers, folded batch norms, dropped tensors) as text or JSON.
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ArgumentError, LutnnError } from '../errors.js';
import { perSample } from '../graph/dims.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readDeployContents, serializeDeploy } from '../io/deploy-format.js';
import { readModelContents } from '../io/model-format.js';
import { loadSafetensors, parseSafetensors } from '../io/safetensors.js';
import { planOps } from '../runtime/plan.js';
import { printJson } from './common.js';

/** Writes the deployment file of training file `file` to `out`; prints what it did. */
export async function exportDeploy(file: string, out: string, o: { json: boolean }): Promise<void> {
  const t0 = performance.now();
  if (resolve(out) === resolve(file)) throw new ArgumentError(`export: --deploy ${out} is the input model file; choose another output path`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ArgumentError(`export: --deploy ${out}: directory ${dirname(out)} does not exist`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new ArgumentError(`export: --deploy ${out} is a directory, expected a file path`);
  const c = readModelContents(loadSafetensors(file), file);
  const { bytes, report } = serializeDeploy({ graph: c.graph, weights: c.weights }, { dataset: c.meta.dataset, info: c.meta.info }, file);
  // The file as the runtime will read it, planned (no kernels): a graph the runtime cannot run is refused here.
  const d = readDeployContents(parseSafetensors(bytes, out), out);
  const inputShape = perSample(d.info.graph.inputs[0]?.shape ?? []) ?? d.meta.dataset?.inputShape;
  if (inputShape) {
    try {
      planOps(d.info, d.weights, inputShape, d.luts);
    } catch (e) {
      if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`export: ${file}: lutnn's runtime cannot run this model, so it has no deployment file: ${e.message}`);
      throw e;
    }
  }
  writeFileAtomic(out, bytes);
  const sourceBytes = statSync(file).size;
  const res = {
    command: 'export',
    format: 'deploy',
    model: file,
    out,
    bytes: bytes.length,
    sourceBytes,
    /** Deployment file bytes / training file bytes. */
    sizeRatio: bytes.length / sourceBytes,
    tensors: d.weights.size,
    lutLayers: report.lutLayers.map((l) => ({ name: l.name, op: l.op, ncodebooks: l.C, k: l.K, subvecLen: l.V, outFeatures: l.M, metric: l.metric, table: l.table, tableScale: l.scale, tableBytes: l.C * l.K * l.M })),
    foldedBatchNorms: report.foldedBatchNorms,
    droppedTensors: report.dropped,
    plannedInputShape: inputShape ?? null,
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.json) printJson(res);
  else {
    const pct = (100 * bytes.length / sourceBytes).toFixed(1);
    process.stdout.write(
      `wrote ${out}: ${bytes.length} bytes (${pct}% of the ${sourceBytes}-byte training file); ${report.lutLayers.length} LUT layers as int8 tables, ` +
        `${report.foldedBatchNorms.length} batch norms folded into convs, ${report.dropped.length} training tensors dropped\n`,
    );
  }
}
