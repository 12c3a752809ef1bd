// Experiment driver: the LUT-NN comparison, dense vs k-means-only vs fine-tuned LUT-NN (per metric) vs MADDNESS, on one dataset.
import { DataLoader } from '../data/loader.js';
import { subsetDataset, takeDataset, type DatasetSplits } from '../data/dataset.js';
import type { ModelMeta } from '../io/model-file.js';
import type { GraphModel } from '../graph/model.js';
import { Adam } from '../optim/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { cosine } from '../optim/schedule.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { evaluateOnRuntime } from './evaluate.js';
import { fit, type CurvePoint, type EpochSummary, type FitProgress } from '../train/fit.js';
import { evaluate } from '../train/metrics.js';
import { convertModel, type ConvertOptions } from '../lut/convert.js';
import { modelCost } from '../graph/cost.js';
import type { Metric } from '../lut/distance.js';
import { lutParamGroups, lutTemperatures } from '../lut/recipe.js';
import { noGrad } from '../autograd/engine.js';
import { distillationLoss, type DistillOptions } from '../train/distill.js';

export interface CompareOptions {
  metrics: Metric[];
  /** Metrics whose k-means model is also fine-tuned (default: all of `metrics`). */
  finetuneMetrics?: Metric[];
  maddness: boolean;
  /** Fine-tuning epochs (fractions allowed: 0.25 runs a quarter of an epoch's batches). 0 skips fine-tuning. */
  epochs: number;
  batchSize: number;
  lr: number;
  temperatureLr: number;
  /** Distil the fine-tuning from the dense model (see src/train/distill.ts); null or absent: cross-entropy only. */
  distill?: DistillOptions | null;
  calib: number;
  convert: Pick<ConvertOptions, 'k' | 'v' | 'maxRows' | 'kmeansIters' | 'kmeansRestarts' | 'include' | 'exclude' | 'calibration' | 'refit' | 'ridge'>;
  seed: number;
  limitTrain?: number;
  limitTest?: number;
  /** Progress of each fine-tuning run (label "finetune <metric>"). */
  onFitProgress?: (label: string, p: FitProgress) => void;
  /** Called when a row is done (for progress lines and saving models). */
  onRow?: (row: CompareRow, model: GraphModel) => void;
  /** Called with a line of what is being done. */
  log?: (line: string) => void;
  /** Progress of conversions and evaluations: (stage, done, total), as ConvertOptions.onProgress. */
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface CompareRow {
  /** dense | lutnn-kmeans | lutnn-finetuned | maddness; the demo adds lutnn-shipped (a fine-tuned LUT model file). */
  method: 'dense' | 'lutnn-kmeans' | 'lutnn-finetuned' | 'maddness' | 'lutnn-shipped';
  /** The model file of a lutnn-shipped row. */
  file?: string;
  metric: Metric | null;
  testAccuracy: number;
  testLoss: number;
  /** Multiply-adds per image (LUT layers: encoding + lookups). */
  macs: number;
  /** Bytes needed at inference: dense fp32 weights, LUT int8 tables + centroids + biases. */
  modelBytes: number;
  /** Learned temperature per LUT layer (after fine-tuning; 0.065 at k-means init). */
  temperatures: Record<string, number> | null;
  /** Fine-tuning epochs run (0 for the others) and their throughput. */
  finetuneEpochs: number;
  finetuneImagesPerSecond: number | null;
  finetuneHistory: EpochSummary[] | null;
  /** The fine-tuning's training curve (loss and accuracy every few steps, src/train/fit.ts CurvePoint). */
  finetuneCurve: CurvePoint[] | null;
  /**
   * Where the test figures come from: 'runtime' (lutnn's inference runtime, f32 encoder: the training engine's codes,
   * BN folded) for dense and LUT-NN models, 'engine' (the training engine's eval forward) for MADDNESS, which the
   * runtime has no kernels for.
   */
  evaluatedOn: 'runtime' | 'engine';
  seconds: number;
}

/** A source of the first `limit` batches of each epoch of `loader` (for fractional epochs). */
function limitBatches(loader: DataLoader, limit: number): { numBatches: number; epoch(e: number, start?: number): Iterable<ReturnType<DataLoader['batch']>> } {
  return {
    numBatches: Math.min(limit, loader.numBatches),
    *epoch(e: number, start = 0) {
      for (let b = start; b < Math.min(limit, loader.numBatches); b++) yield loader.batch(e, b);
    },
  };
}

export function runComparison(dense: GraphModel, meta: ModelMeta, splits: DatasetSplits, o: CompareOptions): CompareRow[] {
  const log = o.log ?? (() => {});
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const train = o.limitTrain ? takeDataset(splits.train, o.limitTrain) : splits.train;
  const test = o.limitTest ? takeDataset(splits.test, o.limitTest) : splits.test;
  const testLoader = new DataLoader(test, { batchSize: 256, shuffle: false, ...norm });
  const inputShape = dense.inputShape ?? meta.dataset?.inputShape ?? [1, 28, 28];
  const pick = new Rng(o.seed).permutation(splits.train.n).subarray(0, Math.min(o.calib, splits.train.n));
  const calibLoader = new DataLoader(subsetDataset(splits.train, pick), { batchSize: 128, shuffle: false, ...norm });
  const calibration = (): Iterable<Tensor> => (function* () {
    for (const b of calibLoader.epoch(0)) yield b.x;
  })();
  const rows: CompareRow[] = [];
  const row = (method: CompareRow['method'], metric: Metric | null, model: GraphModel, t0: number, extra: Partial<CompareRow> = {}): void => {
    log(`evaluating ${method}${metric ? ` (${metric})` : ''} on ${test.n} test images`);
    const stage = `eval ${method}${metric ? ` ${metric}` : ''}`;
    o.onProgress?.(stage, 0, test.n);
    // The runtime evaluates about 2.3x faster than the training engine; it has no MADDNESS layers.
    const onBatch = (done: number): void => o.onProgress?.(stage, done, test.n);
    const evaluatedOn = method !== 'maddness' ? 'runtime' : 'engine';
    const ev = evaluatedOn === 'runtime' ? evaluateOnRuntime(model, testLoader.epoch(0), inputShape, 'f32', onBatch) : evaluate(model, testLoader.epoch(0), onBatch);
    const cost = modelCost(model, inputShape);
    const r: CompareRow = {
      method, metric, testAccuracy: ev.accuracy, testLoss: ev.loss, macs: cost.total.macs, modelBytes: cost.total.deployBytes,
      temperatures: method.startsWith('lutnn') ? lutTemperatures(model) : null, finetuneEpochs: 0, finetuneImagesPerSecond: null,
      finetuneHistory: null, finetuneCurve: null, evaluatedOn, seconds: (performance.now() - t0) / 1000, ...extra,
    };
    rows.push(r);
    o.onRow?.(r, model);
  };

  row('dense', null, dense, performance.now());
  for (const metric of o.metrics) {
    const t0 = performance.now();
    log(`converting with k-means (${metric})`);
    const { model: lut } = convertModel(dense, calibration(), { ...o.convert, method: 'lutnn', metric, seed: o.seed, onProgress: o.onProgress });
    row('lutnn-kmeans', metric, lut, t0);
    if (o.epochs <= 0 || !(o.finetuneMetrics ?? o.metrics).includes(metric)) continue;
    const t1 = performance.now();
    const loader = new DataLoader(train, { batchSize: o.batchSize, seed: o.seed, ...norm });
    const whole = Math.floor(o.epochs);
    const perEpoch = whole >= 1 ? loader.numBatches : Math.max(1, Math.round(o.epochs * loader.numBatches));
    const epochs = Math.max(1, whole);
    const groups = lutParamGroups(lut, o.lr, o.temperatureLr);
    const opt = new Adam(groups) as unknown as Optimizer<BaseHyper>;
    log(`fine-tuning (${metric}) for ${o.epochs} epoch(s) of ${train.n} images`);
    const kd = o.distill ?? null;
    if (kd) dense.eval();
    const res = fit({
      model: lut, optimizer: opt, schedule: cosine({ baseLr: o.lr, totalSteps: epochs * perEpoch }),
      train: limitBatches(loader, perEpoch), epochs, onProgress: o.onFitProgress && ((p) => o.onFitProgress!(`finetune ${metric}`, p)),
      loss: kd ? (logits, y, x) => distillationLoss(logits, noGrad(() => dense.forward(x)), y, kd) : undefined,
    });
    row('lutnn-finetuned', metric, lut, t1, { finetuneEpochs: o.epochs, finetuneImagesPerSecond: res.imagesPerSecond, finetuneHistory: res.epochs, finetuneCurve: res.curve });
  }
  if (o.maddness) {
    const t0 = performance.now();
    log('converting with MADDNESS');
    const { model: m } = convertModel(dense, calibration(), { ...o.convert, k: 16, method: 'maddness', calibration: undefined, refit: undefined, seed: o.seed, onProgress: o.onProgress });
    row('maddness', null, m, t0);
  }
  return rows;
}
