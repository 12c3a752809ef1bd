// Shared plumbing of the commands that train (`train`, `finetune`): data loaders, epoch lines, the fit call.
import { DataLoader } from '../data/loader.js';
import { takeDataset, type Dataset, type DatasetName, type DatasetSplits } from '../data/dataset.js';
import { ArgumentError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import type { LrSchedule } from '../optim/schedule.js';
import type { Tensor } from '../tensor/tensor.js';
import { fit, type EpochSummary, type FitResult } from '../train/fit.js';
import type { Command } from 'commander';
import { intArg, loadDatasetWithProgress } from './common.js';
import { fitProgressBar } from './progress.js';

export interface DataCliOptions {
  dataset: DatasetName;
  dataDir?: string;
  batchSize: number;
  seed: number;
  augment?: string;
  limitTrain?: number;
  limitTest?: number;
  quiet: boolean;
  /** Normalisation (defaults: the dataset's). */
  mean?: number;
  std?: number;
}

export interface Loaders {
  splits: DatasetSplits;
  train: Dataset;
  test: Dataset;
  trainLoader: DataLoader;
  testLoader: DataLoader;
  augment: string[];
  loadSeconds: number;
}

export function prepareLoaders(o: DataCliOptions): Loaders {
  const t0 = performance.now();
  const augment = (o.augment ?? '').split(',').filter(Boolean);
  for (const a of augment) if (a !== 'crop' && a !== 'flip') throw new ArgumentError(`--augment takes crop and/or flip, got '${a}'`);
  const splits = loadDatasetWithProgress(o.dataset, o.dataDir, o.quiet);
  const train = o.limitTrain ? takeDataset(splits.train, o.limitTrain) : splits.train;
  const test = o.limitTest ? takeDataset(splits.test, o.limitTest) : splits.test;
  const trainLoader = new DataLoader(train, {
    batchSize: o.batchSize, seed: o.seed, shuffle: true, mean: o.mean, std: o.std,
    augment: { pad: augment.includes('crop') ? 2 : 0, flip: augment.includes('flip') },
  });
  const testLoader = new DataLoader(test, { batchSize: 256, shuffle: false, mean: o.mean, std: o.std });
  return { splits, train, test, trainLoader, testLoader, augment, loadSeconds: (performance.now() - t0) / 1000 };
}

/** One stderr line per epoch (skipped with --json, whose object has the same figures). */
export function epochLine(label: string, json: boolean): (s: EpochSummary) => void {
  return (s) => {
    if (json) return;
    const pct = (v: number | null): string => (v === null ? 'n/a' : `${(100 * v).toFixed(2)}%`);
    process.stderr.write(
      `${label} epoch ${s.epoch}: train loss ${s.trainLoss.toFixed(4)} acc ${pct(s.trainAccuracy)} | ` +
        `test loss ${s.testLoss?.toFixed(4) ?? 'n/a'} acc ${pct(s.testAccuracy)} | ${Math.round(s.imagesPerSecond)} img/s\n`,
    );
  };
}

export interface FitCommandOptions {
  label: string;
  model: GraphModel;
  optimizer: Optimizer<BaseHyper>;
  schedule: LrSchedule;
  loaders: Loaders;
  epochs: number;
  checkpoint: string;
  checkpointEvery: number;
  /** Steps between training-curve points (fit's default when absent). */
  curveEvery?: number;
  config: Record<string, unknown>;
  resume: boolean;
  quiet: boolean;
  json: boolean;
  /** Training loss (cross-entropy by default). */
  loss?: (logits: Tensor, y: Tensor, x: Tensor) => Tensor;
}

/** Run fit(); on an interrupted run print how to resume, set exit code 130 and return null. */
export function runFit(o: FitCommandOptions): FitResult | null {
  const result = fit({
    model: o.model, optimizer: o.optimizer, schedule: o.schedule, train: o.loaders.trainLoader, test: o.loaders.testLoader,
    epochs: o.epochs, checkpoint: o.checkpoint, checkpointEvery: o.checkpointEvery, curveEvery: o.curveEvery, config: o.config, resume: o.resume,
    onProgress: fitProgressBar(o.label, o.quiet), onEpoch: epochLine(o.label, o.json), loss: o.loss,
  });
  if (result.interrupted) {
    process.stderr.write(`${o.label}: stopped at step ${result.steps}; checkpoint saved to ${o.checkpoint}; rerun with --resume to continue\n`);
    process.exitCode = 130;
    return null;
  }
  return result;
}

/** The options every training command shares: data, seed, threads, augmentation, checkpoints, limits, output. */
export function addFitOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'directory with IDX files (train-images-idx3-ubyte[.gz], ...); default: the embedded Fashion-MNIST')
    .option('--seed <n>', 'seed for init, shuffling and augmentation', intArg('--seed', 0), 0)
    .option('--threads <n>', 'compute threads (default: all cores)', intArg('--threads', 1))
    .option('--augment <list>', 'comma list: crop (pad 2 + random crop), flip')
    .option('--checkpoint <file>', 'checkpoint file (default: <out>.ckpt)')
    .option('--checkpoint-every <steps>', 'steps between checkpoints', intArg('--checkpoint-every', 1), 50)
    .option('--resume', 'continue from the checkpoint if it exists', false)
    .option('--limit-train <n>', 'use only the first n training images (quick runs)', intArg('--limit-train', 1))
    .option('--limit-test <n>', 'use only the first n test images', intArg('--limit-test', 1))
    .option('--json', 'print one JSON object with the results on stdout', false)
    .option('--quiet', 'no progress output', false);
}
