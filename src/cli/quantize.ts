// `lutnn quantize`: post-training static quantization of a model file's Conv and Linear layers (QConv / QLinear), calibrated on training images.
import { Command } from 'commander';
import { setNumThreads } from '../backend/index.js';
import { DataLoader } from '../data/loader.js';
import { subsetDataset, takeDataset, type DatasetName } from '../data/dataset.js';
import { loadModel, saveModel } from '../io/model-file.js';
import { OBSERVERS, quantizeModel, type Observer } from '../quant/quantize.js';
import { Rng } from '../tensor/rng.js';
import { evaluate } from '../train/metrics.js';
import { parseLayers } from './convert.js';
import { createProgress, type Progress } from './progress.js';
import { choiceArg, floatArg, fmtPct, intArg, loadDatasetWithProgress, machineInfo, printJson, runCommand } from './common.js';

interface QuantizeCliOptions {
  out: string;
  actBits: number;
  weightBits: number;
  calib: number;
  observer: Observer;
  percentile: number;
  bins: number;
  layers?: string;
  dataDir?: string;
  seed: number;
  threads?: number;
  eval: boolean;
  evalDense: boolean;
  limitTest?: number;
  json: boolean;
  quiet: boolean;
}

export function quantizeCommand(): Command {
  return new Command('quantize')
    .description('post-training static quantization: Conv and Linear layers become QConv / QLinear (int activations per tensor, int weights per output channel, exact integer sums)')
    .argument('<model>', 'model file (.safetensors) written by lutnn')
    .requiredOption('--out <file>', 'output quantized model file')
    .option('--act-bits <n>', 'activation bits (signed, symmetric), 2..8', intArg('--act-bits', 2), 8)
    .option('--weight-bits <n>', 'weight bits (symmetric, per output channel), 2..16', intArg('--weight-bits', 2), 9)
    .option('--calib <n>', 'calibration images from the training set', intArg('--calib', 1), 1024)
    .option('--observer <name>', 'activation clip: mse (least squared quantization error) | percentile | max', choiceArg('--observer', OBSERVERS), 'mse')
    .option('--percentile <p>', 'percentile of |x| for --observer percentile', floatArg('--percentile', 0), 99.99)
    .option('--bins <n>', 'histogram bins of the mse and percentile observers', intArg('--bins', 16), 2048)
    .option('--layers <list>', 'node names or globs to quantize, comma-separated; "-name" keeps a layer float (default: every Conv and Linear)')
    .option('--data-dir <dir>', 'IDX directory for calibration and evaluation data; default: the embedded Fashion-MNIST')
    .option('--seed <n>', 'seed of the calibration sample', intArg('--seed', 0), 0)
    .option('--threads <n>', 'compute threads', intArg('--threads', 1))
    .option('--no-eval', 'skip the test evaluation of the result')
    .option('--eval-dense', 'also evaluate the input model on the same test images (the accuracy drop side by side)', false)
    .option('--limit-test <n>', 'evaluate on the first n test images', intArg('--limit-test', 1))
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'no progress output', false)
    .action((file: string, opts: QuantizeCliOptions) => runCommand(() => quantize(file, opts)));
}

async function quantize(file: string, o: QuantizeCliOptions): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads);
  const quiet = o.quiet || o.json;
  const t0 = performance.now();
  const { model, meta } = loadModel(file);
  const name = (meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  const splits = loadDatasetWithProgress(name, o.dataDir, quiet);
  const pick = new Rng(o.seed).permutation(splits.train.n).subarray(0, Math.min(o.calib, splits.train.n));
  const calibSet = subsetDataset(splits.train, pick);
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const calib = [...new DataLoader(calibSet, { batchSize: 128, shuffle: false, ...norm }).epoch(0)].map((b) => b.x);
  const { include, exclude } = parseLayers(o.layers);
  let bar: Progress | null = null;
  let barStage = '';
  const { model: q, layers } = quantizeModel(model, calib, {
    actBits: o.actBits, weightBits: o.weightBits, observer: o.observer, percentile: o.percentile, bins: o.bins, include, exclude,
    onProgress: (stage, done, total) => {
      if (stage !== barStage) {
        bar?.stop();
        barStage = stage;
        bar = createProgress({ label: stage, total, quiet });
      }
      bar?.update(done);
    },
  });
  (bar as Progress | null)?.stop();
  const quantizeSeconds = (performance.now() - t0) / 1000;
  const testSet = o.limitTest ? takeDataset(splits.test, o.limitTest) : splits.test;
  const run = (label: string, m: typeof q): ReturnType<typeof evaluate> => {
    const ev = createProgress({ label, total: testSet.n, quiet });
    const r = evaluate(m, new DataLoader(testSet, { batchSize: 256, shuffle: false, ...norm }).epoch(0), (d) => ev.update(d));
    ev.stop();
    return r;
  };
  const test = o.eval ? run('eval quantized', q) : null;
  const dense = o.eval && o.evalDense ? run('eval dense', model) : null;
  const metaDense = (meta.info?.testAccuracy as number | undefined) ?? null;
  const denseTestAccuracy = dense?.accuracy ?? (o.limitTest ? null : metaDense);
  const settings = { actBits: o.actBits, weightBits: o.weightBits, observer: o.observer, percentile: o.observer === 'percentile' ? o.percentile : null, bins: o.bins, calib: calibSet.n, seed: o.seed, from: file };
  saveModel(o.out, q, { dataset: meta.dataset, info: { ...(meta.info ?? {}), quantization: { ...settings, layers }, testAccuracy: test?.accuracy ?? null } });
  const out = {
    command: 'quantize', model: file, out: o.out, ...settings, layers, quantizeSeconds,
    evaluatedOn: 'engine', n: test?.n ?? null,
    testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null,
    denseTestAccuracy, denseAccuracySource: dense ? 'measured' : denseTestAccuracy !== null ? 'metadata' : null,
    accuracyDrop: test && denseTestAccuracy !== null ? denseTestAccuracy - test.accuracy : null,
    machine: machineInfo(),
  };
  if (o.json) printJson(out);
  else {
    const drop = out.accuracyDrop === null ? '' : ` (dense ${fmtPct(denseTestAccuracy)}, drop ${(100 * out.accuracyDrop).toFixed(2)} points)`;
    process.stdout.write(`saved ${o.out}: ${layers.length} layers at int${o.actBits} x int${o.weightBits} (${o.observer} observer); test accuracy ${fmtPct(test?.accuracy ?? null)}${drop}\n`);
  }
}
