// `lutnn compare` and `lutnn demo`: dense vs LUT-NN (k-means, fine-tuned; L2/L1/Chebyshev) vs MADDNESS in one table.
import { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { GraphModel } from '../graph/model.js';
import { writeFileAtomic } from '../io/atomic.js';
import { finishDemo, type DemoResult } from '../app/demo.js';
import { renderReport, speedNote, type ReportData } from '../app/report.js';
import { formatModels, speedSummary } from './report.js';
import { fileURLToPath } from 'node:url';
import type { DatasetName } from '../data/dataset.js';
import { ArgumentError } from '../errors.js';
import { loadModel, saveModel, type ModelMeta } from '../io/model-file.js';
import { runComparison, type CompareOptions, type CompareRow } from '../app/compare.js';
import type { Metric } from '../lut/distance.js';
import { setNumThreads } from '../backend/index.js';
import { checkDistillOptions } from '../train/distill.js';
import { createProgress, fitProgressBar, type Progress } from './progress.js';
import type { FitProgress } from '../train/fit.js';
import { choiceArg, floatArg, intArg, loadDatasetWithProgress, machineInfo, printJson, runCommand } from './common.js';

interface CompareCliOptions {
  epochs: number;
  metrics: string;
  finetuneMetrics?: string;
  maddness: boolean;
  calibMode: 'parallel' | 'sequential';
  refit: boolean;
  batchSize: number;
  distill: boolean;
  distillAlpha: number;
  distillTemperature: number;
  calib: number;
  maxRows: number;
  iters: number;
  dataDir?: string;
  seed: number;
  threads?: number;
  limitTrain?: number;
  limitTest?: number;
  outDir?: string;
  json: boolean;
  quiet: boolean;
  /** demo only: the report file (false: --no-report), the speed section, the shipped LUT model. */
  report?: string | false;
  speed?: boolean;
  speedRepeats?: number;
  shippedLut?: string;
}

function parseMetrics(s: string): Metric[] {
  const list = s.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of list) if (m !== 'l2' && m !== 'l1' && m !== 'chebyshev') throw new ArgumentError(`compare: --metrics takes l2, l1, chebyshev; got '${m}'`);
  return list as Metric[];
}

function addOptions(cmd: Command, defaults: { epochs: number; limitTrain?: number; finetuneMetrics?: string; maxRows?: number; metrics?: string; maddness?: boolean; distill?: boolean }): Command {
  const withMaddness = (c: Command): Command =>
    defaults.maddness === false
      ? c.option('--maddness', 'add the MADDNESS row (about 2 more minutes here; the demo then takes close to 10 minutes)', false)
      : c.option('--no-maddness', 'skip the MADDNESS row');
  const withDistill = (c: Command): Command =>
    defaults.distill
      ? c.option('--no-distill', 'fine-tune with cross-entropy only (the official recipe), no distillation from the dense model')
      : c.option('--distill', 'fine-tune with knowledge distillation from the dense model (see finetune --distill)', false);
  return withDistill(withMaddness(cmd))
    .option('--epochs <n>', 'fine-tuning epochs per metric (fractions allowed, 0 = k-means only)', floatArg('--epochs', 0), defaults.epochs)
    .option('--metrics <list>', 'distance metrics to convert with', defaults.metrics ?? 'l2,l1,chebyshev')
    .option('--finetune-metrics <list>', 'metrics whose LUT model is also fine-tuned (default: all of --metrics)', defaults.finetuneMetrics)
    .option('--batch-size <n>', 'fine-tuning batch size', intArg('--batch-size', 1), 128)
    .option('--distill-alpha <a>', 'weight of the distillation term, in [0, 1]', floatArg('--distill-alpha', 0), 0.5)
    .option('--distill-temperature <T>', 'softening temperature of the distillation term', floatArg('--distill-temperature', 0), 2)
    .option('--calib <n>', 'calibration images', intArg('--calib', 1), 1024)
    .option('--max-rows <n>', 'calibration rows per layer for k-means', intArg('--max-rows', 16), defaults.maxRows ?? 65536)
    .option('--calib-mode <m>', 'parallel (official) or sequential calibration', choiceArg('--calib-mode', ['parallel', 'sequential'] as const), 'parallel')
    .option('--no-refit', 'keep the dense weight after k-means (no least-squares refit)')
    .option('--iters <n>', 'k-means iterations', intArg('--iters', 0), 25)
    .option('--data-dir <dir>', 'IDX directory; default: the embedded Fashion-MNIST')
    .option('--seed <n>', 'seed', intArg('--seed', 0), 0)
    .option('--threads <n>', 'compute threads', intArg('--threads', 1))
    .option('--limit-train <n>', 'fine-tune on the first n training images', intArg('--limit-train', 1), defaults.limitTrain)
    .option('--limit-test <n>', 'evaluate on the first n test images', intArg('--limit-test', 1))
    .option('--out-dir <dir>', 'also save every model of the table here')
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'no progress output', false);
}

export function compareCommand(): Command {
  return addOptions(
    new Command('compare')
      .description('dense vs LUT-NN (k-means only and fine-tuned, per metric) vs MADDNESS: accuracy, MACs, bytes, temperatures')
      .argument('<model>', 'dense model file'),
    { epochs: 3 },
  ).action((file: string, opts: CompareCliOptions) => runCommand(() => compare(file, opts, 'compare')));
}

/** The dense fmnist-cnn shipped with lutnn (trained by lutnn itself on the embedded Fashion-MNIST split). */
export function shippedModelPath(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'models', 'fmnist-cnn.safetensors');
    if (existsSync(p)) return p;
  }
  throw new ArgumentError('demo: models/fmnist-cnn.safetensors is missing from the package');
}

export function demoCommand(): Command {
  return addOptions(
    new Command('demo').description('the whole pipeline on the embedded Fashion-MNIST with the shipped fmnist-cnn: convert, fine-tune briefly, evaluate, compare'),
    // Sized to finish in under 3 minutes on a 2-core machine (BENCHMARKS.md has the timing).
    { epochs: 0.1, metrics: 'l2', maxRows: 16384, maddness: false, distill: true },
  )
    .option('--report <file>', 'the HTML report to write', 'lutnn-report.html')
    .option('--no-report', 'write no HTML report')
    .option('--no-speed', 'skip the speed section')
    .option('--speed-repeats <n>', 'timed rounds per batch and thread count in the speed section', intArg('--speed-repeats', 1), 5)
    .option('--shipped-lut <file>', 'the fine-tuned LUT model shown beside the live one (default: models/fmnist-cnn-lut.safetensors when present)')
    .action((opts: CompareCliOptions) => runCommand(() => compare(shippedModelPath(), opts, 'demo')));
}

/** The shipped fine-tuned LUT model beside the dense one, or null when the package has none. */
export function shippedLutPath(densePath: string): string | null {
  const p = join(dirname(densePath), 'fmnist-cnn-lut.safetensors');
  return existsSync(p) ? p : null;
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

export function formatTable(rows: CompareRow[]): string {
  const dense = rows.find((r) => r.method === 'dense');
  const head = ['method', 'metric', 'test acc', 'vs dense', 'MACs/img', 'model bytes', 'temperatures', 'ft img/s'];
  const body = rows.map((r) => {
    const temps = r.temperatures ? Object.values(r.temperatures) : [];
    return [
      r.method,
      r.metric ?? '-',
      pct(r.testAccuracy),
      dense && r !== dense ? `${(100 * (r.testAccuracy - dense.testAccuracy)).toFixed(2)}` : '-',
      `${(r.macs / 1e6).toFixed(2)}M`,
      `${(r.modelBytes / 1024).toFixed(0)} KiB`,
      temps.length ? `${Math.min(...temps).toFixed(4)}–${Math.max(...temps).toFixed(4)}` : '-',
      r.finetuneImagesPerSecond !== null ? r.finetuneImagesPerSecond.toFixed(0) : '-',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

async function compare(file: string, o: CompareCliOptions, command: 'compare' | 'demo'): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads);
  if (o.distill) checkDistillOptions(`${command} --distill`, { alpha: o.distillAlpha, temperature: o.distillTemperature });
  const t0 = performance.now();
  const { model, meta } = loadModel(file);
  const name = (meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  const splits = loadDatasetWithProgress(name, o.dataDir, o.quiet || o.json);
  if (o.outDir) mkdirSync(o.outDir, { recursive: true });
  const opts: CompareOptions = {
    metrics: parseMetrics(o.metrics), finetuneMetrics: o.finetuneMetrics === undefined ? undefined : parseMetrics(o.finetuneMetrics), maddness: o.maddness, epochs: o.epochs, batchSize: o.batchSize, lr: 1e-3, temperatureLr: 0.1,
    distill: o.distill ? { alpha: o.distillAlpha, temperature: o.distillTemperature } : null,
    calib: o.calib, convert: { k: 16, maxRows: o.maxRows, kmeansIters: o.iters, calibration: o.calibMode, refit: o.refit }, seed: o.seed,
    limitTrain: o.limitTrain, limitTest: o.limitTest,
    log: (line) => {
      if (!o.quiet && !o.json) process.stderr.write(`${command}: ${line}\n`);
    },
    onRow: (row, m) => {
      if (!o.quiet && !o.json) process.stderr.write(`${command}: ${row.method}${row.metric ? ` ${row.metric}` : ''}: test accuracy ${pct(row.testAccuracy)}\n`);
      if (o.outDir) {
        const fileName = `${row.method}${row.metric ? `-${row.metric}` : ''}.safetensors`;
        saveModel(join(o.outDir, fileName), m, { dataset: meta.dataset, info: { ...(meta.info ?? {}), comparisonRow: { ...row, finetuneHistory: undefined } } as ModelMeta['info'] });
      }
    },
  };
  const fitBars = new Map<string, (p: FitProgress) => void>();
  opts.onFitProgress = (label, p) => {
    if (!fitBars.has(label)) fitBars.set(label, fitProgressBar(label, o.quiet || o.json));
    fitBars.get(label)!(p);
  };
  let bar: Progress | null = null;
  let barStage = '';
  opts.onProgress = (stage, done, total) => {
    if (stage !== barStage) {
      bar?.stop();
      barStage = stage;
      bar = createProgress({ label: stage, total, quiet: o.quiet || o.json });
    }
    bar?.update(done);
    if (done >= total) {
      bar?.stop();
      bar = null;
      barStage = '';
    }
  };
  const rowModels = new Map<CompareRow, GraphModel>();
  const onRow = opts.onRow!;
  opts.onRow = (row, m) => {
    rowModels.set(row, m);
    onRow(row, m);
  };
  let rows = runComparison(model, meta, splits, opts);
  (bar as Progress | null)?.stop();
  let demo: DemoResult | null = null;
  let reportFile: string | null = null;
  if (command === 'demo') {
    const shippedLut = o.shippedLut ?? shippedLutPath(file);
    demo = await finishDemo({
      densePath: file, meta, rows, models: rowModels, shippedLut, splits, limitTest: o.limitTest, liveEpochs: o.epochs,
      speed: o.speed === false ? null : { batches: [1, 64], repeats: o.speedRepeats ?? 5, warmup: 1, onnxruntime: true },
      onProgress: opts.onProgress, log: opts.log,
    });
    (bar as Progress | null)?.stop();
    rows = demo.rows;
    if (o.report) {
      const ort = demo.bench?.baselines['onnxruntime-node'];
      const data: ReportData = {
        title: 'lutnn demo: fmnist-cnn as a LUT network', subtitle: `The demo's models on ${splits.test.n} Fashion-MNIST test images${o.limitTest ? ` (first ${o.limitTest})` : ''}.`,
        dataset: name, models: demo.models, machine: machineInfo(), date: new Date().toISOString(),
        speedNote: demo.bench ? speedNote(demo.bench, ort?.available ? `onnxruntime-node ${ort.version ?? ''} fp32 on the dense model's ONNX export` : null) : null,
      };
      writeFileAtomic(o.report, await renderReport(data));
      reportFile = resolve(o.report);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (o.json) {
    const settings = { ...opts, quiet: o.quiet || o.json, log: undefined, onRow: undefined, onProgress: undefined, onFitProgress: undefined };
    const extra = demo ? { speed: demo.bench, speedModel: demo.benchedModel, models: demo.models, report: reportFile } : {};
    printJson({ command, model: file, dataset: name, dataSource: splits.source, settings, rows, ...extra, seconds, machine: machineInfo() });
  } else if (demo) {
    process.stdout.write(formatModels(demo.models));
    const ft = opts.epochs > 0 ? `; live fine-tune ${opts.epochs} epoch with ${opts.distill ? 'distillation from the dense model' : 'cross-entropy'}` : '';
    process.stdout.write(`accuracy on ${o.limitTest ?? splits.test.n} test images${ft}; bytes needed at inference\n`);
    if (demo.bench) {
      const ort = demo.bench.baselines['onnxruntime-node'];
      process.stdout.write(`speed: ${speedNote(demo.bench, ort.available ? 'onnxruntime-node fp32' : null)}${ort.available ? '' : `; onnxruntime-node: ${ort.reason}`}\n`);
      for (const l of speedSummary(demo.bench, demo.benchedModel ?? 'the LUT model')) process.stdout.write(`  ${l}\n`);
    }
    if (reportFile) process.stdout.write(`report: ${reportFile}\n`);
    process.stdout.write(`(${seconds.toFixed(0)} s)\n`);
  } else {
    process.stdout.write(formatTable(rows));
    const ft = opts.epochs > 0
      ? `; fine-tuned ${opts.epochs} epoch(s) with ${opts.distill ? `distillation from the dense model (alpha ${opts.distill.alpha}, T ${opts.distill.temperature})` : 'cross-entropy (official recipe)'}`
      : '';
    process.stdout.write(`(${seconds.toFixed(0)} s; test set ${o.limitTest ?? splits.test.n} images of ${splits.source}${ft})\n`);
  }
}
