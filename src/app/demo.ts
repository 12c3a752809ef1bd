// `lutnn demo`'s driver after the comparison: the shipped fine-tuned LUT model's row, the speed section (dense vs LUT
// in lutnn's runtime at batch 1 and 64, 1 and all threads, onnxruntime-node fp32 beside them) and the report's models.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatasetSplits } from '../data/dataset.js';
import type { GraphModel } from '../graph/model.js';
import { loadModel, saveModel, type ModelMeta } from '../io/model-file.js';
import { lutTemperatures } from '../lut/recipe.js';
import type { Metric } from '../lut/distance.js';
import type { CompareRow } from './compare.js';
import { modelKind, runBench, type BenchReport } from './bench.js';
import { defaultSimd, evaluateModel, layerCosts, speedOf, trainingFromMeta, type ReportModel } from './report.js';

export interface DemoSpeedOptions {
  batches: number[];
  /** Thread counts (default 1 and the number of CPUs). */
  threads?: number[];
  repeats: number;
  warmup: number;
  /** Time onnxruntime-node (when installed) on the dense model's ONNX export. */
  onnxruntime: boolean;
}

export interface DemoOptions {
  /** The dense model file the comparison started from. */
  densePath: string;
  meta: ModelMeta;
  /** The comparison's rows and the model of each (runComparison's onRow). */
  rows: CompareRow[];
  models: Map<CompareRow, GraphModel>;
  /** A shipped fine-tuned LUT model file to add as a row (null: none). */
  shippedLut: string | null;
  splits: DatasetSplits;
  limitTest?: number;
  /** Fine-tuning epochs of the live row (for its label). */
  liveEpochs: number;
  speed: DemoSpeedOptions | null;
  onProgress?: (stage: string, done: number, total: number) => void;
  log?: (line: string) => void;
}

export interface DemoResult {
  /** The comparison's rows, then the shipped model's (method 'lutnn-shipped'). */
  rows: CompareRow[];
  /** The same models with their per-layer costs, training curves and speed, for the table and the report. */
  models: ReportModel[];
  /** The speed measurement (null when skipped) and the name of the LUT row it timed beside the dense model. */
  bench: BenchReport | null;
  benchedModel: string | null;
}

/** A table and report name for a comparison row. */
export function rowName(r: CompareRow, liveEpochs: number): { name: string; note: string } {
  const m = r.metric ? ` ${r.metric}` : '';
  switch (r.method) {
    case 'dense': return { name: 'dense fp32', note: 'the shipped dense model' };
    case 'lutnn-kmeans': return { name: `LUT k-means${m}`, note: 'converted now, no fine-tuning' };
    case 'lutnn-finetuned': return { name: `LUT fine-tuned${m} (live)`, note: `converted and fine-tuned now, ${liveEpochs} epoch` };
    case 'maddness': return { name: 'MADDNESS', note: 'converted now' };
    case 'lutnn-shipped': return { name: `LUT fine-tuned${m} (shipped)`, note: `shipped, ${r.finetuneEpochs} epoch${r.finetuneEpochs === 1 ? '' : 's'} of fine-tuning` };
  }
}

/** The row of a model file: evaluated on the same test images as the comparison (lutnn's runtime, f32 encoder). */
export function fileRow(path: string, splits: DatasetSplits, limitTest: number | undefined, onProgress?: (stage: string, done: number, total: number) => void): { row: CompareRow; model: GraphModel; meta: ModelMeta } {
  const t0 = performance.now();
  const { model, meta } = loadModel(path);
  const inputShape = model.inputShape ?? meta.dataset?.inputShape ?? [1, 28, 28];
  const ev = evaluateModel(model, meta, splits, limitTest, inputShape, (d, n) => onProgress?.('eval lutnn-shipped', d, n));
  const cost = layerCosts(model, inputShape);
  const training = trainingFromMeta(meta);
  const info = (meta.info ?? {}) as { conversion?: { metric?: Metric }; finetune?: { epochs?: unknown; imagesPerSecond?: number } };
  const epochs = training.reduce((a, t) => a + t.epochs.length, 0);
  const row: CompareRow = {
    method: 'lutnn-shipped', metric: info.conversion?.metric ?? null, testAccuracy: ev.accuracy, testLoss: ev.loss, macs: cost.macs, modelBytes: cost.bytes,
    temperatures: modelKind(model) === 'lut-nn' ? lutTemperatures(model) : null, finetuneEpochs: epochs, finetuneImagesPerSecond: null,
    finetuneHistory: null, finetuneCurve: null, evaluatedOn: ev.on, seconds: (performance.now() - t0) / 1000, file: path,
  };
  return { row, model, meta };
}

/** Adds the shipped row, measures the speed, and gathers the report's models. */
export async function finishDemo(o: DemoOptions): Promise<DemoResult> {
  const rows = [...o.rows];
  const models = new Map(o.models);
  const extraTraining = new Map<CompareRow, ReportModel['training']>();
  if (o.shippedLut) {
    o.log?.(`evaluating the shipped fine-tuned LUT model ${o.shippedLut}`);
    const { row, model, meta } = fileRow(o.shippedLut, o.splits, o.limitTest, o.onProgress);
    rows.push(row);
    models.set(row, model);
    extraTraining.set(row, trainingFromMeta(meta));
  }
  const inputShape = (m: GraphModel): number[] => m.inputShape ?? o.meta.dataset?.inputShape ?? [1, 28, 28];
  const out: ReportModel[] = rows.map((r) => {
    const m = models.get(r)!;
    const { name, note } = rowName(r, o.liveEpochs);
    const training = extraTraining.get(r) ?? (r.finetuneCurve || r.finetuneHistory ? [{ source: 'demo', curve: r.finetuneCurve ?? [], epochs: r.finetuneHistory ?? [] }] : []);
    return {
      name, path: r.method === 'dense' ? o.densePath : r.file ?? null, kind: modelKind(m), testAccuracy: r.testAccuracy, testLoss: r.testLoss,
      testImages: o.limitTest ? Math.min(o.limitTest, o.splits.test.n) : o.splits.test.n, evaluatedOn: r.evaluatedOn, ...layerCosts(m, inputShape(m)), training, speed: [], note,
    };
  });

  let bench: BenchReport | null = null;
  let benchedModel: string | null = null;
  if (o.speed) {
    // The shipped LUT model when there is one, else the live fine-tuned one (or the k-means one) saved to a temporary file.
    const pick = rows.find((r) => r.method === 'lutnn-shipped') ?? rows.find((r) => r.method === 'lutnn-finetuned') ?? rows.find((r) => r.method === 'lutnn-kmeans');
    if (pick) {
      const dir = mkdtempSync(join(tmpdir(), 'lutnn-demo-'));
      try {
        const file = pick.file ?? join(dir, 'lut.safetensors');
        if (!pick.file) saveModel(file, models.get(pick)!, { dataset: o.meta.dataset });
        benchedModel = rowName(pick, o.liveEpochs).name;
        const finished = new Set<string>();
        o.log?.(`timing dense and ${rowName(pick, o.liveEpochs).name} in lutnn's runtime${o.speed.onnxruntime ? ' and onnxruntime-node' : ''}`);
        bench = await runBench({
          model: file, dense: o.densePath, batches: o.speed.batches, threads: o.speed.threads, repeats: o.speed.repeats, warmup: o.speed.warmup,
          simd: [defaultSimd()], baselines: { onnxruntimeNode: o.speed.onnxruntime ? 'onnxruntime-node' : false, onnxruntimeWeb: false }, peerRoles: ['dense'],
          onProgress: (stage, d, n) => {
            // A measurement process may report its last round twice (the round, then its result): one line per stage.
            if (finished.has(stage)) return;
            if (d >= n) finished.add(stage);
            o.onProgress?.(`speed ${stage}`, d, n);
          },
        });
        out[rows.indexOf(pick)].speed = speedOf(bench, 'model');
        out[rows.findIndex((r) => r.method === 'dense')].speed = speedOf(bench, 'dense');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return { rows, models: out, bench, benchedModel };
}
