// LUTBoost (LUT-DLA's multistage conversion): a conversion stage, then centroid-only and joint training stages, resumable, on a budget of training images.
import { existsSync, rmSync } from 'node:fs';
import { noGrad } from '../autograd/engine.js';
import type { DataLoader } from '../data/loader.js';
import { ArgumentError, FormatError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import { loadModel, saveModel, type DatasetMeta } from '../io/model-file.js';
import { Adam } from '../optim/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { cosine } from '../optim/schedule.js';
import { manualSeed } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { distillationLoss, checkDistillOptions, type DistillOptions } from '../train/distill.js';
import { fit, type BatchSource, type CurvePoint, type FitProgress } from '../train/fit.js';
import { evaluate, type Batch } from '../train/metrics.js';
import { convertModel, type ConvertedLayer, type ConvertOptions } from './convert.js';
import { lutParamGroups, lutParamSets, lutTemperatures } from './recipe.js';

/*
 * The stages (LUT-NOTES "LUTBoost": stage 1 trains the centroids with the weights frozen, stage 2 trains centroids and
 * weights jointly; the paper's losses, epochs and STE form are not known, so the choices below are ours):
 *   convert    k-means per layer on the dense model's activations (parallel calibration) + the least-squares refit:
 *              `lutnn convert`'s default, the one-stage LUT-NN initialisation.
 *   layerwise  the same, but layer by layer from the input side, each layer calibrated on what it sees behind the
 *              layers already converted and refitted to the dense layer's output (convert --calib-mode sequential).
 *   centroids  end-to-end training of the centroids and the temperature logits θ; every other parameter frozen
 *              (bit-identical; batch-norm running statistics, which are buffers, still track the batches).
 *   joint      end-to-end training of everything (LUT-NN's fine-tuning).
 * Training stages use the LUT-NN recipe (Adam, cosine decay per step restarted at each stage, temperature lr,
 * no decay on centroids or θ) with, by default, distillation from the dense model (as `finetune --distill`).
 * The training stages read the loader's batches in one continuous sequence (stage 2 starts where stage 1 stopped), so
 * a LUTBoost run with a budget of E epochs sees the same images, in the same order, as `finetune --epochs E`.
 */

export type LutBoostStageKind = 'convert' | 'layerwise' | 'centroids' | 'joint';

export const LUTBOOST_STAGE_KINDS: readonly LutBoostStageKind[] = ['convert', 'layerwise', 'centroids', 'joint'];

/** One stage as planned: its kind and, for a training stage, its share of the budget in epochs (fractions allowed). */
export interface LutBoostStage {
  kind: LutBoostStageKind;
  epochs?: number;
}

/** The default plan: layer-wise conversion, then a third of the budget on the centroids and two thirds on joint training. */
export const DEFAULT_LUTBOOST_BUDGET_EPOCHS = 3;

/** The default plan for a budget (3 epochs: layerwise,centroids:1,joint:2). */
export function defaultLutBoostStages(budgetEpochs = DEFAULT_LUTBOOST_BUDGET_EPOCHS): LutBoostStage[] {
  return parseLutBoostStages(`layerwise,centroids:${budgetEpochs / 3},joint:${(2 * budgetEpochs) / 3}`, budgetEpochs);
}

const isTraining = (k: LutBoostStageKind): boolean => k === 'centroids' || k === 'joint';

/**
 * Parses a plan like "layerwise,centroids:1,joint:2" (kind[:epochs], comma-separated). The first stage converts
 * (convert or layerwise) and is the only one that does; training stages follow. A training stage without epochs
 * gets an equal share of what the others leave of `budgetEpochs`; the stages' epochs must sum to at most the
 * budget. Returns the stages with every training stage's epochs set.
 */
export function parseLutBoostStages(spec: string, budgetEpochs = DEFAULT_LUTBOOST_BUDGET_EPOCHS): LutBoostStage[] {
  const at = 'lutboost';
  if (!(typeof budgetEpochs === 'number' && budgetEpochs >= 0 && Number.isFinite(budgetEpochs))) {
    throw new ArgumentError(`${at}: the budget must be a finite number of epochs >= 0, got ${String(budgetEpochs)}`);
  }
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new ArgumentError(`${at}: --stages is empty (expected e.g. layerwise,centroids:1,joint:2)`);
  const stages = parts.map((p, i): LutBoostStage => {
    const [kind, amount, extra] = p.split(':');
    if (!LUTBOOST_STAGE_KINDS.includes(kind as LutBoostStageKind) || extra !== undefined) {
      throw new ArgumentError(`${at}: stage '${p}' is not kind[:epochs] with kind one of ${LUTBOOST_STAGE_KINDS.join(', ')}`);
    }
    const k = kind as LutBoostStageKind;
    if ((i === 0) === isTraining(k)) {
      throw new ArgumentError(`${at}: stage ${i} is '${k}'; the first stage must convert (convert or layerwise) and only the first (got '${spec}')`);
    }
    if (amount === undefined) return { kind: k };
    if (!isTraining(k)) throw new ArgumentError(`${at}: stage '${p}' converts and takes no epochs`);
    const e = Number(amount);
    if (!(amount.trim() !== '' && Number.isFinite(e) && e > 0)) throw new ArgumentError(`${at}: stage '${p}' needs epochs > 0, got '${amount}'`);
    return { kind: k, epochs: e };
  });
  const given = stages.reduce((a, s) => a + (s.epochs ?? 0), 0);
  const open = stages.filter((s) => isTraining(s.kind) && s.epochs === undefined);
  const eps = 1e-9;
  if (given > budgetEpochs + eps) throw new ArgumentError(`${at}: the stages' ${given} epochs exceed the budget of ${budgetEpochs} epochs`);
  if (open.length > 0) {
    const share = (budgetEpochs - given) / open.length;
    if (!(share > 0)) throw new ArgumentError(`${at}: no budget left for stage(s) ${open.map((s) => s.kind).join(', ')} (budget ${budgetEpochs} epochs, ${given} given)`);
    for (const s of open) s.epochs = share;
  }
  return stages;
}

/** Where a LUTBoost run stands (the CLI draws its bars from it). */
export interface LutBoostProgress {
  /** 0-based stage index, number of stages, the stage's kind. */
  stage: number;
  stages: number;
  kind: LutBoostStageKind;
  /** convert: the conversion's own stages (`calibrate NAME`, `lutnn NAME`, `refit NAME`); train: steps; eval: images. */
  phase: 'convert' | 'train' | 'eval';
  label: string;
  done: number;
  total: number;
  /** Training stages: running mean loss and accuracy of the stage's current epoch, and throughput. */
  loss?: number;
  accuracy?: number;
  imagesPerSecond?: number;
}

/** What one stage did. */
export interface LutBoostStageReport {
  index: number;
  kind: LutBoostStageKind;
  /** Training images this stage stepped on (0 for the conversion) and steps. */
  images: number;
  steps: number;
  epochs: number;
  /** Calibration images (conversion stage). */
  calibImages: number;
  /** Wall seconds of the stage (conversion, training and evaluation), as first run (a stage skipped on resume keeps its figure). */
  seconds: number;
  /** Mean training loss and accuracy over the stage's last epoch (null for the conversion). */
  trainLoss: number | null;
  trainAccuracy: number | null;
  /** Test figures after the stage (null without a test set). */
  testLoss: number | null;
  testAccuracy: number | null;
  /** Per-epoch figures of a training stage. */
  history: { epoch: number; trainLoss: number; trainAccuracy: number; testLoss: number | null; testAccuracy: number | null }[];
  /** Training stage: the training curve (mean loss and accuracy every few steps, src/train/fit.ts CurvePoint). */
  curve?: CurvePoint[];
  /** Conversion stage: the converted layers (with their output errors). */
  layers?: ConvertedLayer[];
  /** Temperatures t = 1/(softplus(θ)+1) after the stage, by layer. */
  temperatures: Record<string, number>;
  /** 'no': run now; 'checkpoint': continued from its checkpoint; 'done': taken from its saved result. */
  resumed: 'no' | 'checkpoint' | 'done';
}

export interface LutBoostOptions {
  /** The conversion's settings (method lutnn; `calibration` is set by the stage kind). */
  convert?: Omit<ConvertOptions, 'method' | 'calibration' | 'onProgress'>;
  /** Calibration batches of the conversion stage (training images). */
  calibration: readonly Tensor[];
  /** Training batches: the stages read its epochs in sequence. */
  train: DataLoader;
  /** Test batches evaluated after each stage (optional). */
  test?: DataLoader;
  /** The plan; parse a string with parseLutBoostStages. Default: defaultLutBoostStages() (3 epochs). */
  stages?: readonly LutBoostStage[];
  /** Budget in training images (default: 3 epochs of `train`); the stages must fit in it. */
  budgetImages?: number;
  lr?: number;
  temperatureLr?: number;
  weightDecay?: number;
  /** Distillation from the dense model in the training stages (default alpha 0.5, T 2); null: cross-entropy only. */
  distill?: DistillOptions | null;
  seed?: number;
  /**
   * Files of a resumable run: `${files}.stage<i>.ckpt` (a training stage's checkpoint, removed once the stage is saved)
   * and `${files}.stage<i>.safetensors` (the model after stage i, with its report). Without it nothing is written.
   */
  files?: string;
  checkpointEvery?: number;
  /** Continue: skip the stages whose saved result matches this plan, continue a stage from its checkpoint. */
  resume?: boolean;
  /** Dataset metadata stored in the stage files. */
  dataset?: DatasetMeta;
  /** Identity of the source model (stored and compared on resume; e.g. its path). */
  source?: string;
  onProgress?: (p: LutBoostProgress) => void;
  /** Called after each stage. */
  onStage?: (r: LutBoostStageReport) => void;
  /**
   * Stop once the plan's training steps reach this count (counted from the start of the plan, as fit counts a stage's;
   * tests of resume): the stage's checkpoint is written and the result has `interrupted`.
   */
  stopAfterSteps?: number;
}

export interface LutBoostResult {
  model: GraphModel;
  stages: LutBoostStageReport[];
  /** Training images over all stages, and the budget. */
  images: number;
  budgetImages: number;
  /** Calibration images of the conversion stage (not counted in the budget, as for the one-stage recipe). */
  calibImages: number;
  seconds: number;
  /** True when stopAfterSteps or SIGINT stopped a training stage (its checkpoint is written; resume continues). */
  interrupted: boolean;
}

/** The images of `count` consecutive batches of `loader` starting at global batch `start` (epoch-major). */
export function imagesOfBatches(loader: DataLoader, start: number, count: number): number {
  const nb = loader.numBatches;
  const n = loader.dataset.n;
  const size = (b: number): number => Math.min(loader.batchSize, n - b * loader.batchSize);
  let images = 0;
  for (let g = start; g < start + count; g++) images += size(g % nb);
  return images;
}

/**
 * A window of `count` batches of `loader` from global batch `start` (batch g is batch g mod nb of epoch g div nb), cut
 * into `epochs` equal fit-epochs (count must divide). Deterministic: epoch e from batch b is always the same batches.
 */
function windowSource(loader: DataLoader, start: number, count: number, epochs: number): BatchSource {
  const per = count / epochs;
  const nb = loader.numBatches;
  return {
    numBatches: per,
    *epoch(e: number, startBatch = 0): Iterable<Batch> {
      for (let b = startBatch; b < per; b++) {
        const g = start + e * per + b;
        yield loader.batch(Math.floor(g / nb), g % nb);
      }
    },
  };
}

interface StagePlan {
  kind: LutBoostStageKind;
  epochs: number;
  /** Fit epochs and batches (training stages). */
  fitEpochs: number;
  batches: number;
  startBatch: number;
  images: number;
}

/**
 * Training stages' batches: stage i ends at batch floor(E_i·nb), E_i the epochs of stages 0..i (so the stages never
 * take more batches together than their epochs); whole loader epochs per fit epoch when a stage's epochs are an integer.
 */
function planStages(stages: readonly LutBoostStage[], loader: DataLoader): StagePlan[] {
  const nb = loader.numBatches;
  let start = 0;
  let cum = 0;
  return stages.map((s) => {
    if (!isTraining(s.kind)) return { kind: s.kind, epochs: 0, fitEpochs: 0, batches: 0, startBatch: start, images: 0 };
    const epochs = s.epochs ?? 0;
    cum += epochs;
    const batches = Math.floor(cum * nb + 1e-9) - start;
    if (batches < 1) throw new ArgumentError(`lutboost: stage '${s.kind}:${epochs}' gets no batch of ${loader.batchSize} images (an epoch has ${nb})`);
    const whole = Number.isInteger(epochs) && batches === epochs * nb;
    const p = { kind: s.kind, epochs, fitEpochs: whole ? epochs : 1, batches, startBatch: start, images: imagesOfBatches(loader, start, batches) };
    start += batches;
    return p;
  });
}

/** Runs LUTBoost on a dense `model` (not changed): the stages in order, resumable, with reports. */
export function lutBoost(dense: GraphModel, o: LutBoostOptions): LutBoostResult {
  const t0 = performance.now();
  const stages = o.stages ?? defaultLutBoostStages();
  if (stages.length === 0 || isTraining(stages[0].kind) || stages.slice(1).some((s) => !isTraining(s.kind))) {
    throw new ArgumentError(`lutboost: the first stage must convert (convert or layerwise) and the others train (got ${stages.map((s) => s.kind).join(', ')})`);
  }
  for (const s of stages.slice(1)) {
    if (!(typeof s.epochs === 'number' && s.epochs > 0 && Number.isFinite(s.epochs))) throw new ArgumentError(`lutboost: training stage '${s.kind}' needs epochs > 0, got ${String(s.epochs)}`);
  }
  const plan = planStages(stages, o.train);
  const epochImages = o.train.dataset.n;
  const budgetImages = o.budgetImages ?? DEFAULT_LUTBOOST_BUDGET_EPOCHS * epochImages;
  const planned = plan.reduce((a, p) => a + p.images, 0);
  if (planned > budgetImages) throw new ArgumentError(`lutboost: the stages step on ${planned} training images, over the budget of ${budgetImages}`);
  const lr = o.lr ?? 1e-3;
  const temperatureLr = o.temperatureLr ?? 0.1;
  const weightDecay = o.weightDecay ?? 0;
  const distill = o.distill === undefined ? { alpha: 0.5, temperature: 2 } : o.distill;
  if (distill) checkDistillOptions('lutboost', distill);
  const seed = o.seed ?? 0;
  const every = o.checkpointEvery ?? 50;
  const calibImages = o.calibration.reduce((a, x) => a + x.shape[0], 0);
  // The run's identity. Stage i depends on the settings and on stages 0..i only (their kinds, epochs and batches): a
  // saved stage or checkpoint is reused by any plan that agrees on those, so e.g. plans sharing a conversion stage share
  // its file (copy it to the new plan's name and --resume).
  const identity = {
    recipe: 'lutboost', source: o.source ?? null, stages: plan.map((p) => ({ kind: p.kind, epochs: p.epochs, batches: p.batches })),
    convert: o.convert ?? {}, calibImages, batchSize: o.train.batchSize, trainImages: epochImages, trainSeed: o.train.seed,
    lr, temperatureLr, weightDecay, distill, seed,
  };
  const prefixId = (id: { stages?: unknown }, i: number): string => JSON.stringify({ ...id, stages: Array.isArray(id.stages) ? id.stages.slice(0, i + 1) : null });
  const stageFile = (i: number): string | null => (o.files ? `${o.files}.stage${i}.safetensors` : null);
  const ckptFile = (i: number): string | null => (o.files ? `${o.files}.stage${i}.ckpt` : null);

  const reports: LutBoostStageReport[] = [];
  let model: GraphModel | null = null;
  let interrupted = false;
  const teacherLoss = distill ? (logits: Tensor, y: Tensor, x: Tensor): Tensor => distillationLoss(logits, noGrad(() => dense.forward(x)), y, distill) : undefined;
  const wasDenseTraining = dense.training;
  dense.eval();
  try {
    for (let i = 0; i < plan.length && !interrupted; i++) {
      const p = plan[i];
      const ts = performance.now();
      const progress = (phase: LutBoostProgress['phase'], label: string, done: number, total: number, extra: Partial<LutBoostProgress> = {}): void =>
        o.onProgress?.({ stage: i, stages: plan.length, kind: p.kind, phase, label, done, total, ...extra });
      // A stage already saved by this plan: take it.
      const saved = stageFile(i);
      if (o.resume && saved && existsSync(saved)) {
        const { model: m, meta } = loadModel(saved);
        const info = (meta.info?.lutboost ?? null) as { identity?: { stages?: unknown }; stage?: number; report?: LutBoostStageReport } | null;
        if (!info || !info.identity || prefixId(info.identity, i) !== prefixId(identity, i) || info.stage !== i || !info.report) {
          throw new FormatError(`${saved}: saved by another LUTBoost plan (stages up to ${i}, data or settings differ); remove the stage files or run without --resume`);
        }
        model = m;
        const r = { ...info.report, resumed: 'done' as const };
        reports.push(r);
        o.onStage?.(r);
        continue;
      }
      let report: LutBoostStageReport;
      if (!isTraining(p.kind)) {
        const { model: converted, layers } = convertModel(dense, o.calibration, {
          ...o.convert, method: 'lutnn', calibration: p.kind === 'layerwise' ? 'sequential' : 'parallel',
          onProgress: (label, done, total) => progress('convert', label, done, total),
        });
        model = converted;
        const test = o.test ? evaluate(model, o.test.epoch(0), (d) => progress('eval', 'eval', d, o.test!.dataset.n)) : null;
        report = {
          index: i, kind: p.kind, images: 0, steps: 0, epochs: 0, calibImages, seconds: 0, trainLoss: null, trainAccuracy: null,
          testLoss: test?.loss ?? null, testAccuracy: test?.accuracy ?? null, history: [], layers, temperatures: lutTemperatures(model), resumed: 'no',
        };
      } else {
        const m = model!;
        // stopAfterSteps counts the steps of the whole plan (as fit counts a stage's): this stage's share of it.
        const before = plan.slice(0, i).reduce((a, q) => a + q.batches, 0);
        const stopAt = o.stopAfterSteps === undefined ? undefined : o.stopAfterSteps - before;
        if (stopAt !== undefined && stopAt <= 0) {
          interrupted = true;
          break;
        }
        // Same seed at each stage's start, so a stage resumed from its predecessor's file runs as in one go.
        manualSeed(seed + 7919 * i);
        const sets = lutParamSets(m);
        const frozen = p.kind === 'centroids' ? sets.weights.filter((t) => t.requiresGrad) : [];
        const groups = lutParamGroups(m, lr, temperatureLr, weightDecay, { weights: p.kind === 'joint' });
        const optimizer = new Adam(groups) as unknown as Optimizer<BaseHyper>;
        const schedule = cosine({ baseLr: lr, totalSteps: p.batches });
        const ckpt = ckptFile(i);
        const resumable = !!(o.resume && ckpt && existsSync(ckpt));
        frozen.forEach((t) => t.requireGrad(false)); // no gradients computed for them, and the optimizer does not hold them
        let r;
        try {
          r = fit({
            model: m, optimizer, schedule, train: windowSource(o.train, p.startBatch, p.batches, p.fitEpochs), test: o.test,
            epochs: p.fitEpochs, loss: teacherLoss, checkpoint: ckpt ?? undefined, checkpointEvery: every,
            config: { ...identity, stages: identity.stages.slice(0, i + 1), stage: i }, resume: o.resume, stopAfterSteps: stopAt,
            onProgress: (f: FitProgress) => progress('train', p.kind, f.epoch * f.batches + f.batch, f.epochs * f.batches, { loss: f.loss, accuracy: f.accuracy, imagesPerSecond: f.imagesPerSecond }),
          });
        } finally {
          frozen.forEach((t) => t.requireGrad(true));
        }
        if (r.interrupted) {
          interrupted = true;
          break;
        }
        const last = r.epochs[r.epochs.length - 1];
        report = {
          index: i, kind: p.kind, images: p.images, steps: r.steps, epochs: p.epochs, calibImages: 0, seconds: 0,
          trainLoss: last?.trainLoss ?? null, trainAccuracy: last?.trainAccuracy ?? null, testLoss: last?.testLoss ?? null, testAccuracy: last?.testAccuracy ?? null,
          history: r.epochs.map((e) => ({ epoch: e.epoch, trainLoss: e.trainLoss, trainAccuracy: e.trainAccuracy, testLoss: e.testLoss, testAccuracy: e.testAccuracy })),
          curve: r.curve, temperatures: lutTemperatures(m), resumed: resumable ? 'checkpoint' : 'no',
        };
      }
      report.seconds = (performance.now() - ts) / 1000;
      if (saved) {
        saveModel(saved, model!, { dataset: o.dataset, info: { lutboost: { identity, stage: i, report } } });
        const ck = ckptFile(i);
        if (ck && existsSync(ck)) rmSync(ck);
      }
      reports.push(report);
      o.onStage?.(report);
    }
  } finally {
    dense.train(wasDenseTraining);
  }
  return {
    model: model ?? dense,
    stages: reports,
    images: reports.reduce((a, r) => a + r.images, 0),
    budgetImages,
    calibImages,
    seconds: (performance.now() - t0) / 1000,
    interrupted,
  };
}
