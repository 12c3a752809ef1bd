// `lutnn convert`: a dense model file → a LUT-NN (k-means) or MADDNESS model file, calibrated on training images.
import { Command } from 'commander';
import { DataLoader } from '../data/loader.js';
import { subsetDataset, takeDataset, type DatasetName } from '../data/dataset.js';
import { ArgumentError } from '../errors.js';
import { loadModel, saveModel } from '../io/model-file.js';
import { convertModel, type ConvertMethod } from '../lut/convert.js';
import type { Metric } from '../lut/distance.js';
import { setNumThreads } from '../backend/index.js';
import { Rng } from '../tensor/rng.js';
import { evaluate } from '../train/metrics.js';
import { createProgress, type Progress } from './progress.js';
import { addLutBoostOptions, runLutBoost, type LutBoostCliOptions } from './lutboost.js';
import { choiceArg, floatArg, fmtPct, intArg, loadDatasetWithProgress, machineInfo, printJson, runCommand } from './common.js';

interface ConvertCliOptions extends LutBoostCliOptions {
  recipe: 'kmeans' | 'lutboost';
  out: string;
  method: ConvertMethod;
  k: number;
  v?: string;
  metric: Metric;
  calib: number;
  maxRows: number;
  iters: number;
  restarts: number;
  calibMode: 'sequential' | 'parallel';
  refit: boolean;
  ridge: number;
  layers?: string;
  dataDir?: string;
  seed: number;
  threads?: number;
  eval: boolean;
  limitTest?: number;
  json: boolean;
  quiet: boolean;
}

/** "conv=9,conv1x1=4,linear=16" (any subset) → per-kind V. */
export function parseV(spec: string | undefined): { conv?: number; conv1x1?: number; linear?: number } {
  const out: { conv?: number; conv1x1?: number; linear?: number } = {};
  for (const part of (spec ?? '').split(',').filter(Boolean)) {
    const [k, v] = part.split('=');
    const n = Number(v);
    if (!['conv', 'conv1x1', 'linear'].includes(k) || !Number.isInteger(n) || n < 1) {
      throw new ArgumentError(`convert: --v takes kind=V pairs (conv, conv1x1, linear), got '${part}'`);
    }
    out[k as 'conv' | 'conv1x1' | 'linear'] = n;
  }
  return out;
}

/** "conv2,fc1,-conv4": names to include; a leading '-' excludes. */
export function parseLayers(spec: string | undefined): { include: string[]; exclude: string[] } {
  const parts = (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  return { include: parts.filter((p) => !p.startsWith('-')), exclude: parts.filter((p) => p.startsWith('-')).map((p) => p.slice(1)) };
}

export function convertCommand(): Command {
  const cmd = new Command('convert')
    .description('convert a dense model into a LUT model (LUT-NN k-means init, or MADDNESS)')
    .argument('<model>', 'dense model file (.safetensors) written by lutnn')
    .requiredOption('--out <file>', 'output LUT model file')
    .option('--method <m>', 'lutnn | maddness', choiceArg('--method', ['lutnn', 'maddness'] as const), 'lutnn')
    .option('--k <n>', 'centroids per codebook', intArg('--k', 2), 16)
    .option('--v <spec>', 'sub-vector length per kind, e.g. conv=9,conv1x1=4,linear=16 (defaults: kh·kw, 4, 16)')
    .option('--metric <m>', 'l2 | l1 | chebyshev', choiceArg('--metric', ['l2', 'l1', 'chebyshev'] as const), 'l2')
    .option('--calib <n>', 'calibration images from the training set', intArg('--calib', 1), 1024)
    .option('--max-rows <n>', 'calibration rows per layer kept for k-means (seeded sample)', intArg('--max-rows', 16), 65536)
    .option('--iters <n>', 'k-means iterations', intArg('--iters', 0), 25)
    .option('--restarts <n>', 'k-means restarts (best inertia kept)', intArg('--restarts', 1), 1)
    .option('--calib-mode <m>', 'parallel: all layers through the dense model (official); sequential: each layer behind the already converted ones', choiceArg('--calib-mode', ['parallel', 'sequential'] as const), 'parallel')
    .option('--no-refit', 'keep the dense weight instead of refitting weight and bias by least squares to the dense output (LUT-NN only)')
    .option('--ridge <x>', 'ridge strength of the refit, relative to the mean diagonal of ZᵀZ', floatArg('--ridge', 0), 1e-3)
    .option('--layers <list>', 'node names or globs to convert, comma-separated (blocks.*.mlp.*); "-name" keeps a layer dense (default: all but the first conv and last Linear)')
    .option('--data-dir <dir>', 'IDX directory for calibration and evaluation data; default: the embedded Fashion-MNIST')
    .option('--seed <n>', 'seed for the calibration sample and k-means', intArg('--seed', 0), 0)
    .option('--threads <n>', 'compute threads', intArg('--threads', 1))
    .option('--no-eval', 'skip the test evaluation of the result')
    .option('--limit-test <n>', 'evaluate on the first n test images', intArg('--limit-test', 1))
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'no progress output', false)
    .option('--recipe <r>', 'kmeans: conversion only (fine-tune after with `lutnn finetune`); lutboost: LUT-DLA\'s multistage conversion with training stages (see --stages)', choiceArg('--recipe', ['kmeans', 'lutboost'] as const), 'kmeans');
  return addLutBoostOptions(cmd).action((file: string, opts: ConvertCliOptions) => runCommand(() => convert(file, opts)));
}

async function convert(file: string, o: ConvertCliOptions): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads);
  if (o.recipe === 'lutboost') {
    if (o.method !== 'lutnn') throw new ArgumentError('convert: --recipe lutboost converts with --method lutnn (MADDNESS has no training stages)');
    return runLutBoost(file, { ...o, v: parseV(o.v), layers: parseLayers(o.layers) });
  }
  const t0 = performance.now();
  const { model, meta } = loadModel(file);
  const name = (meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  const splits = loadDatasetWithProgress(name, o.dataDir, o.quiet || o.json);
  const rng = new Rng(o.seed);
  const pick = rng.permutation(splits.train.n).subarray(0, Math.min(o.calib, splits.train.n));
  const calibSet = subsetDataset(splits.train, pick);
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const calibLoader = new DataLoader(calibSet, { batchSize: 128, shuffle: false, ...norm });
  const { include, exclude } = parseLayers(o.layers);
  let bar: Progress | null = null;
  let barStage = '';
  const { model: converted, layers } = convertModel(model, (function* () {
    for (const b of calibLoader.epoch(0)) yield b.x;
  })(), {
    method: o.method, k: o.k, v: parseV(o.v), metric: o.metric, include, exclude, maxRows: o.maxRows,
    kmeansIters: o.iters, kmeansRestarts: o.restarts, calibration: o.calibMode, refit: o.refit, ridge: o.ridge, seed: o.seed,
    onProgress: (stage, done, total) => {
      if (stage !== barStage) {
        bar?.stop();
        barStage = stage;
        bar = createProgress({ label: stage, total, quiet: o.quiet || o.json });
      }
      bar?.update(done);
    },
  });
  (bar as Progress | null)?.stop();
  const convertSeconds = (performance.now() - t0) / 1000;
  let test = null;
  if (o.eval) {
    const testSet = o.limitTest ? takeDataset(splits.test, o.limitTest) : splits.test;
    const ev = createProgress({ label: 'eval', total: testSet.n, quiet: o.quiet || o.json });
    test = evaluate(converted, new DataLoader(testSet, { batchSize: 256, shuffle: false, ...norm }).epoch(0), (d) => ev.update(d));
    ev.stop();
  }
  const settings = { method: o.method, k: o.k, v: parseV(o.v), metric: o.metric, calib: calibSet.n, maxRows: o.maxRows, iters: o.iters, restarts: o.restarts, calibMode: o.calibMode, refit: o.method === 'lutnn' && o.refit, ridge: o.ridge, seed: o.seed, from: file };
  saveModel(o.out, converted, { dataset: meta.dataset, info: { ...(meta.info ?? {}), conversion: { ...settings, layers }, testAccuracy: test?.accuracy ?? null } });
  const out = {
    command: 'convert', model: file, out: o.out, ...settings, layers, convertSeconds,
    testAccuracy: test?.accuracy ?? null, testLoss: test?.loss ?? null, denseTestAccuracy: (meta.info?.testAccuracy as number | undefined) ?? null,
    machine: machineInfo(),
  };
  if (o.json) printJson(out);
  else process.stdout.write(`saved ${o.out}: ${layers.map((l) => `${l.name} (C=${l.ncodebooks}, V=${l.subvecLen}, K=${l.k})`).join(', ')}; test accuracy ${fmtPct(test?.accuracy ?? null)} (${convertSeconds.toFixed(1)} s)\n`);
}
