// `lutnn convert --recipe lutboost`: the LUTBoost multistage conversion (src/lut/lutboost.ts) with progress bars, resume and --json.
import type { Command } from 'commander';
import { DataLoader } from '../data/loader.js';
import { subsetDataset, type DatasetName } from '../data/dataset.js';
import { loadModel, saveModel } from '../io/model-file.js';
import type { SubvecLens } from '../lut/convert.js';
import type { Metric } from '../lut/distance.js';
import { DEFAULT_LUTBOOST_BUDGET_EPOCHS, defaultLutBoostStages, lutBoost, parseLutBoostStages, type LutBoostStageReport } from '../lut/lutboost.js';
import { Rng } from '../tensor/rng.js';
import { floatArg, fmtPct, intArg, machineInfo, printJson } from './common.js';
import { prepareLoaders } from './fit-command.js';
import { createProgress, type Progress } from './progress.js';

export interface LutBoostCliOptions {
  stages?: string;
  budget: number;
  batchSize: number;
  lr: number;
  temperatureLr: number;
  weightDecay: number;
  distill: boolean;
  distillAlpha: number;
  distillTemperature: number;
  checkpointEvery: number;
  resume: boolean;
  limitTrain?: number;
}

/** The options of `convert` the LUTBoost recipe reads (v and layers parsed). */
export interface LutBoostRunOptions extends LutBoostCliOptions {
  out: string;
  k: number;
  v: Partial<SubvecLens>;
  metric: Metric;
  calib: number;
  maxRows: number;
  iters: number;
  restarts: number;
  ridge: number;
  refit: boolean;
  layers: { include: string[]; exclude: string[] };
  dataDir?: string;
  seed: number;
  eval: boolean;
  limitTest?: number;
  json: boolean;
  quiet: boolean;
}

export function addLutBoostOptions(cmd: Command): Command {
  return cmd
    .option('--stages <list>', 'lutboost: stages as kind[:epochs], comma-separated; kinds convert, layerwise (first), centroids, joint; a stage without epochs gets an equal share of the budget left (default layerwise,centroids:B/3,joint:2B/3 for a budget of B epochs)')
    .option('--budget <epochs>', 'lutboost: training images over all stages, in epochs of the training set', floatArg('--budget', 0), DEFAULT_LUTBOOST_BUDGET_EPOCHS)
    .option('--batch-size <n>', 'lutboost: batch size of the training stages', intArg('--batch-size', 1), 128)
    .option('--lr <lr>', 'lutboost: learning rate (cosine decay per step, restarted at each stage)', floatArg('--lr', 0), 1e-3)
    .option('--temperature-lr <lr>', 'lutboost: learning rate of the temperature logits', floatArg('--temperature-lr', 0), 0.1)
    .option('--weight-decay <wd>', 'lutboost: weight decay of the weights in joint stages (never on centroids or temperatures)', floatArg('--weight-decay', 0), 0)
    .option('--no-distill', 'lutboost: train on labels only (default: distillation from the dense model, as finetune --distill)')
    .option('--distill-alpha <a>', 'lutboost: weight of the distillation term, in [0, 1]', floatArg('--distill-alpha', 0), 0.5)
    .option('--distill-temperature <T>', 'lutboost: softening temperature of the distillation term', floatArg('--distill-temperature', 0), 2)
    .option('--checkpoint-every <steps>', 'lutboost: steps between checkpoints of a training stage', intArg('--checkpoint-every', 1), 50)
    .option('--resume', 'lutboost: continue a stopped run (saved stages are kept, a stage continues from its checkpoint)', false)
    .option('--limit-train <n>', 'lutboost: train on the first n training images only (quick runs; one epoch = n images)', intArg('--limit-train', 1));
}

export async function runLutBoost(file: string, o: LutBoostRunOptions): Promise<void> {
  const stages = o.stages === undefined ? defaultLutBoostStages(o.budget) : parseLutBoostStages(o.stages, o.budget); // before any loading
  const { model: dense, meta } = loadModel(file);
  const name = (meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  const quiet = o.quiet || o.json;
  const loaders = prepareLoaders({ dataset: name, dataDir: o.dataDir, batchSize: o.batchSize, seed: o.seed, limitTrain: o.limitTrain, limitTest: o.limitTest, quiet, mean: meta.dataset?.mean, std: meta.dataset?.std });
  // Calibration images as `convert` picks them (same seed, same images).
  const splits = loaders.splits;
  const pick = new Rng(o.seed).permutation(splits.train.n).subarray(0, Math.min(o.calib, splits.train.n));
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const calibration = [...new DataLoader(subsetDataset(splits.train, pick), { batchSize: 128, shuffle: false, ...norm }).epoch(0)].map((b) => b.x);

  let bar: Progress | null = null;
  let barKey = '';
  const pct = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(4));
  const result = lutBoost(dense, {
    convert: { k: o.k, v: o.v, metric: o.metric, include: o.layers.include, exclude: o.layers.exclude, maxRows: o.maxRows, kmeansIters: o.iters, kmeansRestarts: o.restarts, refit: o.refit, ridge: o.ridge, seed: o.seed },
    calibration, train: loaders.trainLoader, test: o.eval ? loaders.testLoader : undefined, stages,
    budgetImages: Math.floor(o.budget * loaders.train.n), lr: o.lr, temperatureLr: o.temperatureLr, weightDecay: o.weightDecay,
    distill: o.distill ? { alpha: o.distillAlpha, temperature: o.distillTemperature } : null,
    seed: o.seed, files: o.out.replace(/\.safetensors$/, ''), checkpointEvery: o.checkpointEvery, resume: o.resume, dataset: meta.dataset, source: file,
    onProgress: (p) => {
      const key = `${p.stage}:${p.phase}:${p.label}`;
      if (key !== barKey) {
        bar?.stop();
        barKey = key;
        const what = p.phase === 'convert' ? p.label : p.phase === 'eval' ? 'eval' : `${p.kind} (${p.total} steps)`;
        bar = createProgress({ label: `stage ${p.stage}/${p.stages - 1} ${what}`, total: p.total, fields: p.phase === 'train' ? ['loss', 'acc', 'img/s'] : [], quiet });
      }
      bar?.update(p.done, p.phase === 'train' ? { loss: pct(p.loss), acc: pct(p.accuracy), 'img/s': Math.round(p.imagesPerSecond ?? 0) } : undefined);
    },
    onStage: (r: LutBoostStageReport) => {
      bar?.stop();
      bar = null;
      barKey = '';
      if (!o.json) {
        const train = r.trainLoss === null ? '' : `train loss ${r.trainLoss.toFixed(4)} acc ${fmtPct(r.trainAccuracy)}, `;
        const how = r.resumed === 'done' ? ' (saved earlier)' : r.resumed === 'checkpoint' ? ' (resumed)' : '';
        process.stderr.write(`stage ${r.index} ${r.kind}: ${r.images} training images, ${train}test accuracy ${fmtPct(r.testAccuracy)}, ${r.seconds.toFixed(1)} s${how}\n`);
      }
    },
  });
  (bar as Progress | null)?.stop();
  if (result.interrupted) {
    process.stderr.write(`convert: LUTBoost stopped; the finished stages and the checkpoint are saved beside ${o.out} (${o.out.replace(/\.safetensors$/, '')}.stage<i>.*); rerun with --resume to continue\n`);
    process.exitCode = 130;
    return;
  }
  const last = result.stages[result.stages.length - 1];
  const settings = {
    recipe: 'lutboost', method: 'lutnn', k: o.k, v: o.v, metric: o.metric, calib: calibration.reduce((a, x) => a + x.shape[0], 0), maxRows: o.maxRows, iters: o.iters,
    restarts: o.restarts, refit: o.refit, ridge: o.ridge, seed: o.seed, from: file,
    stagesSpec: stages.map((s) => (s.epochs === undefined ? s.kind : `${s.kind}:${s.epochs}`)).join(','),
    budgetEpochs: o.budget, batchSize: o.batchSize, lr: o.lr, temperatureLr: o.temperatureLr, weightDecay: o.weightDecay,
    distill: o.distill ? { teacher: file, alpha: o.distillAlpha, temperature: o.distillTemperature } : null,
    limitTrain: o.limitTrain ?? null,
  };
  const layers = result.stages[0]?.layers ?? [];
  saveModel(o.out, result.model, { dataset: meta.dataset, info: { ...(meta.info ?? {}), conversion: { ...settings, layers, stages: result.stages.map(({ layers: _l, ...r }) => r) }, testAccuracy: last?.testAccuracy ?? null } });
  const out = {
    command: 'convert', model: file, out: o.out, ...settings, layers, stages: result.stages,
    images: result.images, budgetImages: result.budgetImages, calibImages: result.calibImages, seconds: result.seconds,
    testAccuracy: last?.testAccuracy ?? null, testLoss: last?.testLoss ?? null, denseTestAccuracy: (meta.info?.testAccuracy as number | undefined) ?? null,
    machine: machineInfo(),
  };
  if (o.json) printJson(out);
  else process.stdout.write(`saved ${o.out}: LUTBoost ${settings.stagesSpec} on ${result.images} training images; test accuracy ${fmtPct(last?.testAccuracy ?? null)} (${result.seconds.toFixed(1)} s)\n`);
}
