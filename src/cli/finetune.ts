// `lutnn finetune`: end-to-end centroid learning of a LUT model with the LUT-NN recipe (or quantization-aware fine-tuning of a quantized model), progress, resume, --json.
import { Command } from 'commander';
import { noGrad } from '../autograd/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkDistillOptions, distillationLoss } from '../train/distill.js';
import type { DatasetName } from '../data/dataset.js';
import { loadModel, saveModel } from '../io/model-file.js';
import { lutNodes, lutParamGroups, lutTemperatures } from '../lut/recipe.js';
import { quantizedLayers } from '../quant/quantize.js';
import { ArgumentError } from '../errors.js';
import { Adam } from '../optim/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { cosine } from '../optim/schedule.js';
import { manualSeed } from '../tensor/rng.js';
import { setNumThreads } from '../backend/index.js';
import { addFitOptions, prepareLoaders, runFit } from './fit-command.js';
import { floatArg, fmtPct, intArg, machineInfo, printJson, runCommand } from './common.js';

interface FinetuneCliOptions {
  out?: string;
  epochs: number;
  batchSize: number;
  lr: number;
  temperatureLr: number;
  weightDecay: number;
  distill?: string;
  distillAlpha: number;
  distillTemperature: number;
  dataDir?: string;
  seed: number;
  threads?: number;
  augment?: string;
  checkpoint?: string;
  checkpointEvery: number;
  curveEvery?: number;
  resume: boolean;
  limitTrain?: number;
  limitTest?: number;
  json: boolean;
  quiet: boolean;
}

export function finetuneCommand(): Command {
  const cmd = new Command('finetune')
    .description('fine-tune a LUT model end to end (LUT-NN recipe: Adam, cosine lr, learned temperatures), or a quantized model (quantization-aware, straight-through rounding)')
    .argument('<model>', 'LUT model file written by `lutnn convert`, or a quantized one written by `lutnn quantize`')
    .option('--out <file>', 'output file (default: <model> with -ft before .safetensors)')
    .option('--epochs <n>', 'epochs', intArg('--epochs', 1), 3)
    .option('--batch-size <n>', 'batch size', intArg('--batch-size', 1), 128)
    .option('--lr <lr>', 'learning rate (cosine decay per iteration)', floatArg('--lr', 0), 1e-3)
    .option('--temperature-lr <lr>', 'learning rate of the temperature logits', floatArg('--temperature-lr', 0), 0.1)
    .option('--weight-decay <wd>', 'weight decay (never on centroids or temperatures)', floatArg('--weight-decay', 0), 0)
    .option('--distill <teacher>', 'distil from this model file (usually the dense model converted): loss = (1 − alpha)·CE + alpha·T²·KL')
    .option('--distill-alpha <a>', 'weight of the distillation term, in [0, 1]', floatArg('--distill-alpha', 0), 0.5)
    .option('--distill-temperature <T>', 'softening temperature of the distillation term', floatArg('--distill-temperature', 0), 2)
    .option('--curve-every <steps>', 'steps between training-curve points (default: about 100 points over the run)', intArg('--curve-every', 1));
  return addFitOptions(cmd).action((file: string, opts: FinetuneCliOptions) => runCommand(() => finetune(file, opts)));
}

async function finetune(file: string, o: FinetuneCliOptions): Promise<void> {
  const kd = { alpha: o.distillAlpha, temperature: o.distillTemperature };
  if (o.distill !== undefined) checkDistillOptions('finetune --distill', kd); // before any loading
  if (o.threads !== undefined) setNumThreads(o.threads);
  const { model, meta } = loadModel(file);
  model.train();
  const teacher = o.distill !== undefined ? loadModel(o.distill).model : null;
  teacher?.eval();
  const name = (meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  const loaders = prepareLoaders({ ...o, dataset: name, mean: meta.dataset?.mean, std: meta.dataset?.std });
  manualSeed(o.seed);
  // LUT-NN models: the recipe's groups. Quantized models without LUT layers: every parameter at --lr (QAT; the
  // activation scales are buffers and stay as calibrated).
  let groups: ReturnType<typeof lutParamGroups>;
  if (lutNodes(model).length > 0) groups = lutParamGroups(model, o.lr, o.temperatureLr, o.weightDecay);
  else if (quantizedLayers(model).length > 0) groups = [{ params: model.parameters(), lr: o.lr, weightDecay: o.weightDecay }];
  else throw new ArgumentError(`finetune: ${file} has no LUT-NN or quantized layers (make one with \`lutnn convert\` or \`lutnn quantize\` first)`);
  const optimizer = new Adam(groups) as unknown as Optimizer<BaseHyper>;
  const schedule = cosine({ baseLr: o.lr, totalSteps: o.epochs * loaders.trainLoader.numBatches });
  const out = o.out ?? file.replace(/(\.safetensors)?$/, '-ft.safetensors');
  const checkpoint = o.checkpoint ?? `${out}.ckpt`;
  const config = { from: file, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, temperatureLr: o.temperatureLr, weightDecay: o.weightDecay, seed: o.seed, augment: loaders.augment, limitTrain: o.limitTrain ?? null, dataDir: o.dataDir ?? null, distill: o.distill === undefined ? null : { teacher: o.distill, alpha: o.distillAlpha, temperature: o.distillTemperature } };
  const temperaturesBefore = lutTemperatures(model);
  let loss: ((logits: Tensor, y: Tensor, x: Tensor) => Tensor) | undefined;
  if (teacher) loss = (logits, y, x) => distillationLoss(logits, noGrad(() => teacher.forward(x)), y, kd);
  const result = runFit({ loss, label: 'finetune', model, optimizer, schedule, loaders, epochs: o.epochs, checkpoint, checkpointEvery: o.checkpointEvery, curveEvery: o.curveEvery, config, resume: o.resume, quiet: o.quiet, json: o.json });
  if (!result) return;
  const last = result.epochs[result.epochs.length - 1];
  const temperatures = lutTemperatures(model);
  saveModel(out, model, { dataset: meta.dataset, info: { ...(meta.info ?? {}), finetune: { ...config, epochs: result.epochs, curve: result.curve, temperatures }, testAccuracy: last?.testAccuracy ?? null } });
  const summary = {
    command: 'finetune', model: file, out, checkpoint, epochs: result.epochs, curve: result.curve, steps: result.steps,
    testAccuracy: last?.testAccuracy ?? null, testLoss: last?.testLoss ?? null, trainSeconds: result.trainSeconds,
    imagesPerSecond: result.imagesPerSecond, temperaturesBefore, temperatures, resumedFrom: result.resumedFrom, machine: machineInfo(),
  };
  if (o.json) printJson(summary);
  else process.stdout.write(`saved ${out}: test accuracy ${fmtPct(last?.testAccuracy ?? null)} after ${result.epochs.length} epochs (${Math.round(result.imagesPerSecond)} img/s)\n`);
}
