// `lutnn dse MODEL --out DIR`: design-space exploration of LUT settings × LUT-DLA hardware (src/app/dse.ts), progress, --json.
import { Command, Option } from 'commander';
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setNumThreads } from '../backend/index.js';
import { subsetDataset, takeDataset, type DatasetName } from '../data/dataset.js';
import { DataLoader } from '../data/loader.js';
import { readTechFile } from '../hw/tech-file.js';
import { TECH_45NM } from '../hw/tech.js';
import { loadModel } from '../io/model-file.js';
import { runDse, type DseProgress } from '../app/dse.js';
import { writeDseReport } from '../app/dse-report.js';
import { DEFAULT_SPACE, parseSpace } from '../app/dse-space.js';
import { Rng } from '../tensor/rng.js';
import { createProgress, type Progress } from './progress.js';
import { fmtPct, intArg, loadDatasetWithProgress, machineInfo, printJson, runCommand } from './common.js';

interface DseCliOptions {
  out: string;
  space?: string;
  finetune: number;
  limitTrain?: number;
  tech?: string;
  dataDir?: string;
  threads?: number;
  limit?: number;
  jobs: number;
  shard?: string;
  printSpace: boolean;
  json: boolean;
  quiet: boolean;
}

export function dseCommand(): Command {
  const cmd: Command = new Command('dse')
    .description('design-space exploration: LUT settings (V, K, metric) × LUT-DLA hardware, accuracy from real conversions, Pareto fronts and plots')
    .argument('[model]', 'dense model file (.safetensors) written by lutnn')
    .option('--out <dir>', 'output directory (points.json, points.csv, fronts.json, SVG plots, dse.html; cache/ makes reruns resume)')
    .option('--space <file>', 'design space as JSON (any section or key; missing ones take the default, see --print-space)')
    .option('--finetune <epochs>', 'fine-tune the model points on the accuracy–energy front this many epochs (0: conversion only)', intArg('--finetune', 0), 0)
    .option('--limit-train <n>', 'fine-tune on the first n training images', intArg('--limit-train', 1))
    .option('--tech <file>', 'technology table (JSON, as src/hw/tech-45nm.json); default: the built-in 45 nm table')
    .option('--data-dir <dir>', 'IDX directory for calibration, fine-tuning and test data; default: the embedded Fashion-MNIST')
    .option('--threads <n>', 'compute threads', intArg('--threads', 1))
    .option('--limit <n>', 'convert at most n new model points in this run (the rest on the next run)', intArg('--limit', 1))
    .option('--jobs <n>', 'processes converting model points in parallel (each takes a share of the K × metric combinations)', intArg('--jobs', 1), Math.min(2, availableParallelism()))
    .addOption(new Option('--shard <i/n>', 'internal: convert share i of n and exit (what --jobs starts)').hideHelp())
    .option('--print-space', 'print the default design space as JSON and exit', false)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'no progress output', false)
    .action((file: string | undefined, opts: DseCliOptions) => runCommand(() => dse(cmd, file, opts)));
  return cmd;
}

async function dse(cmd: Command, file: string | undefined, o: DseCliOptions): Promise<void> {
  if (o.printSpace) {
    process.stdout.write(JSON.stringify(DEFAULT_SPACE, null, 2) + '\n');
    return;
  }
  // Usage errors (exit 2), as commander reports a missing argument or option (the model is optional for --print-space).
  if (!file) cmd.error("error: missing required argument 'model'");
  if (!o.out) cmd.error("error: required option '--out <dir>' not specified");
  if (o.threads !== undefined) setNumThreads(o.threads);
  const space = o.space ? parseSpace(readFileSync(o.space, 'utf8'), o.space) : parseSpace({});
  const tech = o.tech ? readTechFile(o.tech) : TECH_45NM;
  const bytes = readFileSync(file);
  const { model, meta } = loadModel(file);
  const modelId = createHash('sha256').update(bytes).digest('hex');
  const quiet = o.quiet || o.json;
  const splits = loadDatasetWithProgress((meta.dataset?.name ?? 'fashion-mnist') as DatasetName, o.dataDir, quiet);
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const c = space.conversion;
  const pick = new Rng(c.seed).permutation(splits.train.n).subarray(0, Math.min(c.calib, splits.train.n));
  const calibration = [...new DataLoader(subsetDataset(splits.train, pick), { batchSize: 128, shuffle: false, ...norm }).epoch(0)].map((b) => b.x);
  const test = new DataLoader(takeDataset(splits.test, c.testImages), { batchSize: 256, shuffle: false, ...norm });
  const train = o.finetune > 0 ? new DataLoader(o.limitTrain ? takeDataset(splits.train, o.limitTrain) : splits.train, { batchSize: 128, seed: c.seed, shuffle: true, ...norm }) : undefined;

  // One bar over the model points (created at the first point converted now, so cached points do not skew the ETA),
  // one over the fine-tuned points.
  let bar: Progress | null = null;
  let ftBar: Progress | null = null;
  const onProgress = (p: DseProgress): void => {
    if (quiet) return;
    if (p.phase === 'convert' || p.phase === 'eval') {
      bar ??= createProgress({ label: 'dse model points', total: p.points, fields: ['point', 'step'], quiet });
      const step = p.phase === 'convert' ? `${p.step ?? ''}${p.total ? ` ${p.done}/${p.total}` : ''}` : 'eval';
      bar.update(p.point, { point: p.name, step });
    } else if (p.phase === 'finetune') {
      if (!ftBar) {
        bar?.stop();
        ftBar = createProgress({ label: 'dse fine-tune', total: p.points, fields: ['point', 'step'], quiet });
      }
      ftBar.update(p.point, { point: p.name, step: `${p.step} ${p.done}/${p.total}` });
    }
  };
  const ac = new AbortController();
  const onSigint = (): void => ac.abort();
  process.once('SIGINT', onSigint);
  const base = { dense: model, modelId, modelName: file, space, out: o.out, calibration, test, tech, signal: ac.signal };
  if (o.shard !== undefined) {
    // A child of --jobs: its share of the model points into the cache, nothing printed.
    const m = /^(\d+)\/(\d+)$/.exec(o.shard);
    if (!m || Number(m[1]) >= Number(m[2])) cmd.error(`error: --shard must be i/n with i < n, got '${o.shard}'`);
    const part = await runDse({ ...base, limit: o.limit, shard: { index: Number(m![1]), count: Number(m![2]) } });
    process.removeListener('SIGINT', onSigint);
    process.send?.({ cpuSeconds: part.cpuSeconds });
    return;
  }
  let r;
  const children: ChildProcess[] = [];
  let childCpu = 0;
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  try {
    if (o.jobs > 1) {
      // Shares 1..jobs-1 in child processes (same command, --shard i/jobs), share 0 here; then one run over everything
      // (all cached by then, or converted now if a child failed) gives the results.
      const args = [file, '--out', o.out, '--quiet', ...(o.space ? ['--space', o.space] : []), ...(o.tech ? ['--tech', o.tech] : []), ...(o.dataDir ? ['--data-dir', o.dataDir] : []), ...(o.threads ? ['--threads', String(o.threads)] : []), ...(o.limit ? ['--limit', String(o.limit)] : [])];
      const exits: Promise<number | null>[] = [];
      for (let i = 1; i < o.jobs; i++) {
        const child = fork(process.argv[1], ['dse', ...args, '--shard', `${i}/${o.jobs}`], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        children.push(child);
        child.on('message', (msg: { cpuSeconds?: number }) => (childCpu += msg.cpuSeconds ?? 0));
        exits.push(new Promise((res) => child.on('exit', (code) => res(code))));
      }
      await runDse({ ...base, limit: o.limit, shard: { index: 0, count: o.jobs }, onProgress });
      const codes = await Promise.all(exits);
      if (codes.some((c) => c !== 0) && !quiet) process.stderr.write(`dse: a --jobs process exited with ${codes.join(', ')}; its points are converted now\n`);
    }
    r = await runDse({ ...base, train, finetuneEpochs: o.finetune, limit: o.limit, onProgress });
  } finally {
    process.removeListener('SIGINT', onSigint);
    (bar as Progress | null)?.stop();
    (ftBar as Progress | null)?.stop();
  }
  // The whole sweep: wall time since the data were loaded, CPU time of this process and the --jobs processes.
  const seconds = (performance.now() - wall0) / 1000;
  const cpuSeconds = ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu0)) + childCpu;
  r = { ...r, seconds, cpuSeconds };
  const files = await writeDseReport(o.out, r, space, { modelName: file, tech: tech.name, finetuneEpochs: o.finetune });
  const front = r.fronts.energy.map((i) => r.points[i]).sort((a, b) => a.energy - b.energy);
  if (!r.complete) process.stderr.write(`dse: stopped after ${r.modelPointsDone} of ${r.modelPoints} model points; the same command continues from ${o.out}/cache\n`);
  if (ac.signal.aborted) process.exitCode = 130;
  if (o.json) {
    const { points, ...rest } = r;
    printJson({ command: 'dse', model: file, out: o.out, space: o.space ?? null, tech: tech.name, finetuneEpochs: o.finetune, jobs: o.jobs, ...rest, seconds, cpuSeconds, points: points.length, front, files, machine: machineInfo() });
    return;
  }
  process.stdout.write(`${r.points.length} points (${r.modelPointsDone}/${r.modelPoints} model points × ${r.hardwarePoints} hardware points) in ${r.seconds.toFixed(0)} s (${r.cpuSeconds.toFixed(0)} s CPU); dense ${fmtPct(r.denseAccuracy)} on ${r.testImages} test images\n`);
  process.stdout.write(`accuracy–energy front (${front.length}):\n`);
  for (const p of front) process.stdout.write(`  ${fmtPct(p.accuracy)}  ${p.energy.toPrecision(3)} µJ  ${p.area.toPrecision(3)} mm²  ${p.latency.toPrecision(3)} ms  ${p.model} ${Object.entries(p.hw).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  process.stdout.write(`wrote ${files.pointsCsv}, ${files.html}\n`);
}
