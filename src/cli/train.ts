// `lutnn train`: train a zoo model on a dataset with progress, per-epoch evaluation, checkpoints and resume.
import { Command } from 'commander';
import { NORMALIZATION, type DatasetName } from '../data/dataset.js';
import { saveModel } from '../io/model-file.js';
import { createModel } from '../nn/zoo.js';
import { Adam, AdamW, SGD } from '../optim/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { constant, cosine, step } from '../optim/schedule.js';
import { manualSeed, globalRng } from '../tensor/rng.js';
import { addFitOptions, prepareLoaders, runFit } from './fit-command.js';
import { setNumThreads } from '../backend/index.js';
import { choiceArg, floatArg, fmtPct, intArg, machineInfo, printJson, runCommand } from './common.js';

interface TrainCliOptions {
  model: string;
  dataset: DatasetName;
  dataDir?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'adam' | 'adamw' | 'sgd';
  momentum: number;
  weightDecay: number;
  schedule: 'cosine' | 'constant' | 'step';
  warmup: number;
  seed: number;
  threads?: number;
  augment?: string;
  out: string;
  checkpoint?: string;
  checkpointEvery: number;
  resume: boolean;
  limitTrain?: number;
  limitTest?: number;
  json: boolean;
  quiet: boolean;
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train a zoo model (e.g. fmnist-cnn) and save it as safetensors')
    .option('--model <name>', 'zoo model', 'fmnist-cnn')
    .option('--dataset <name>', 'fashion-mnist | mnist', choiceArg('--dataset', ['fashion-mnist', 'mnist'] as const), 'fashion-mnist')
    .option('--epochs <n>', 'epochs', intArg('--epochs', 1), 4)
    .option('--batch-size <n>', 'batch size', intArg('--batch-size', 1), 128)
    .option('--lr <lr>', 'base learning rate', floatArg('--lr', 0), 1e-3)
    .option('--optimizer <name>', 'adam | adamw | sgd', choiceArg('--optimizer', ['adam', 'adamw', 'sgd'] as const), 'adam')
    .option('--momentum <m>', 'SGD momentum', floatArg('--momentum', 0), 0.9)
    .option('--weight-decay <wd>', 'weight decay', floatArg('--weight-decay', 0), 0)
    .option('--schedule <name>', 'cosine (per iteration) | constant | step', choiceArg('--schedule', ['cosine', 'constant', 'step'] as const), 'cosine')
    .option('--warmup <steps>', 'linear warm-up steps', intArg('--warmup', 0), 0)
    .requiredOption('--out <file>', 'output model file (.safetensors)');
  return addFitOptions(cmd).action((opts: TrainCliOptions) => runCommand(() => train(opts)));
}

function makeOptimizer(o: TrainCliOptions, params: ReturnType<ReturnType<typeof createModel>['parameters']>): Optimizer<BaseHyper> {
  switch (o.optimizer) {
    case 'adam':
      return new Adam(params, { lr: o.lr, weightDecay: o.weightDecay }) as unknown as Optimizer<BaseHyper>;
    case 'adamw':
      return new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay }) as unknown as Optimizer<BaseHyper>;
    case 'sgd':
      return new SGD(params, { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay }) as unknown as Optimizer<BaseHyper>;
  }
}

async function train(o: TrainCliOptions): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads);
  const loaders = prepareLoaders(o);
  const { train: trainSet, trainLoader } = loaders;
  const norm = NORMALIZATION[o.dataset];
  manualSeed(o.seed);
  const model = createModel(o.model, { rng: globalRng });
  const optimizer = makeOptimizer(o, model.parameters());
  const totalSteps = o.epochs * trainLoader.numBatches;
  const schedule =
    o.schedule === 'cosine'
      ? cosine({ baseLr: o.lr, totalSteps, warmupSteps: o.warmup })
      : o.schedule === 'step'
        ? step({ baseLr: o.lr, stepSize: Math.max(1, Math.floor(totalSteps / 3)), gamma: 0.1 })
        : constant({ baseLr: o.lr });
  const config = {
    model: o.model, dataset: o.dataset, dataDir: o.dataDir ?? null, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr,
    optimizer: o.optimizer, weightDecay: o.weightDecay, schedule: o.schedule, warmup: o.warmup, seed: o.seed,
    augment: loaders.augment, limitTrain: o.limitTrain ?? null,
  };
  const checkpoint = o.checkpoint ?? `${o.out}.ckpt`;
  const result = runFit({
    label: 'train', model, optimizer, schedule, loaders, epochs: o.epochs, checkpoint, checkpointEvery: o.checkpointEvery,
    config, resume: o.resume, quiet: o.quiet, json: o.json,
  });
  if (!result) return;
  const last = result.epochs[result.epochs.length - 1];
  saveModel(o.out, model, {
    dataset: { name: o.dataset, mean: norm.mean, std: norm.std, classes: trainSet.classes, inputShape: [trainSet.channels, trainSet.height, trainSet.width] },
    info: { training: config, epochs: result.epochs, testAccuracy: last?.testAccuracy ?? null },
  });
  const summary = {
    command: 'train',
    model: o.model,
    dataset: o.dataset,
    dataSource: loaders.splits.source,
    out: o.out,
    checkpoint,
    seed: o.seed,
    epochs: result.epochs,
    steps: result.steps,
    testAccuracy: last?.testAccuracy ?? null,
    testLoss: last?.testLoss ?? null,
    trainSeconds: result.trainSeconds,
    imagesPerSecond: result.imagesPerSecond,
    resumedFrom: result.resumedFrom,
    dataLoadSeconds: loaders.loadSeconds,
    threads: o.threads ?? null,
    machine: machineInfo(),
  };
  if (o.json) printJson(summary);
  else process.stdout.write(`saved ${o.out}: test accuracy ${fmtPct(last?.testAccuracy ?? null)} after ${result.epochs.length} epochs (${Math.round(result.imagesPerSecond)} img/s)\n`);
}
