// `lutnn report MODEL...`: one standalone HTML page (inline SVG) comparing model files: accuracy against MACs, bytes and
// measured latency, per-layer dense vs LUT costs, the fine-tuning curves their metadata records.
import { Command } from 'commander';
import { resolve } from 'node:path';
import type { DatasetName } from '../data/dataset.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-file.js';
import { runReport, speedCells, type ReportData, type ReportModel } from '../app/report.js';
import type { BenchReport } from '../app/bench.js';
import { intListArg } from './bench.js';
import { intArg, loadDatasetWithProgress, printJson, runCommand } from './common.js';
import { createProgress, type Progress } from './progress.js';

interface ReportCliOptions {
  dense?: string;
  out: string;
  title?: string;
  limitTest?: number;
  dataDir?: string;
  eval: boolean;
  bench: boolean;
  batch: number[];
  threads?: number[];
  repeats: number;
  warmup: number;
  baselines: boolean;
  json: boolean;
  quiet: boolean;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('one standalone HTML page comparing model files: accuracy against MACs, bytes and measured latency, per-layer costs, fine-tuning curves')
    .argument('<models...>', 'model files (.safetensors), e.g. LUT models from lutnn convert / finetune')
    .option('--dense <file>', 'the dense model they came from: first in the report, timed beside each model')
    .option('--out <file>', 'the HTML file to write', 'lutnn-report.html')
    .option('--title <text>', 'page title', 'lutnn report')
    .option('--limit-test <n>', 'evaluate on the first n test images', intArg('--limit-test', 1))
    .option('--data-dir <dir>', 'IDX directory; default: the embedded Fashion-MNIST')
    .option('--no-eval', 'no test evaluation (accuracy charts are left out)')
    .option('--no-bench', 'no speed measurement')
    .option('--batch <list>', 'batch sizes timed', intListArg('--batch', 1, 4096), [1, 64])
    .option('--threads <list>', 'thread counts timed (default: 1 and the number of CPUs)', intListArg('--threads', 1, 64))
    .option('--repeats <n>', 'timed rounds per batch and thread count (medians are reported)', intArg('--repeats', 1), 5)
    .option('--warmup <n>', 'untimed rounds first', intArg('--warmup', 0), 1)
    .option('--no-baselines', 'do not time onnxruntime-node on the dense model')
    .option('--json', 'print one JSON object on stdout (the figures the page draws)', false)
    .option('--quiet', 'no progress output', false)
    .action((files: string[], opts: ReportCliOptions) => runCommand(() => report(files, opts)));
}

/** The JSON form of a report: the page's figures and where the page went. */
export function reportJson(command: string, out: string | null, data: ReportData, seconds: number): Record<string, unknown> {
  return { command, out, title: data.title, subtitle: data.subtitle, dataset: data.dataset, models: data.models, speedNote: data.speedNote, machine: data.machine, date: data.date, seconds: +seconds.toFixed(1) };
}

async function report(files: string[], o: ReportCliOptions): Promise<void> {
  const t0 = performance.now();
  const quiet = o.quiet || o.json;
  const first = loadModel(o.dense ?? files[0]).meta; // validates the first file before the data set loads
  const splits = o.eval ? loadDatasetWithProgress((first.dataset?.name ?? 'fashion-mnist') as DatasetName, o.dataDir, quiet) : null;
  let bar: Progress | null = null;
  let barStage = '';
  const { data, html } = await runReport({
    models: files, dense: o.dense ?? null, splits, limitTest: o.limitTest, title: o.title,
    bench: o.bench ? { batches: o.batch, threads: o.threads, repeats: o.repeats, warmup: o.warmup, onnxruntime: o.baselines } : null,
    onProgress: (stage, done, total) => {
      if (stage !== barStage) {
        bar?.stop();
        barStage = stage;
        bar = createProgress({ label: `report: ${stage}`, total, quiet });
      }
      bar?.update(done);
    },
  }).finally(() => (bar as Progress | null)?.stop());
  writeFileAtomic(o.out, html);
  const seconds = (performance.now() - t0) / 1000;
  if (o.json) printJson(reportJson('report', resolve(o.out), data, seconds));
  else process.stdout.write(`${formatModels(data.models)}${data.speedNote ? `speed: ${data.speedNote}\n` : ''}wrote ${o.out} (${seconds.toFixed(0)} s)\n`);
}

const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);
const fmtMs = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/**
 * One table: how accurate, how small, how fast. A row per model and runner (lutnn; onnxruntime-node on the dense
 * model); speed columns per (batch, threads) measured: ms per call at batch 1, samples/s above.
 */
export function formatModels(models: ReportModel[]): string {
  const dense = models.find((m) => m.kind === 'dense');
  const cells = speedCells(models);
  const head = ['model', 'test acc', 'vs dense', 'MACs/img', 'bytes', ...cells.map((c) => (c.batch === 1 ? `b1 ${c.threads}T ms` : `b${c.batch} ${c.threads}T img/s`)), 'note'];
  const body: string[][] = [];
  for (const m of models) {
    const runners = m.speed.length ? [...new Set(m.speed.map((s) => s.runner))] : ['lutnn'];
    for (const runner of runners) {
      const speed = cells.map((c) => {
        const s = m.speed.find((x) => x.runner === runner && x.threads === c.threads && x.batch === c.batch);
        return s ? (c.batch === 1 ? fmtMs(s.medianMs) : s.throughput.toFixed(0)) : '-';
      });
      const vs = dense && m !== dense && m.testAccuracy !== null && dense.testAccuracy !== null ? (100 * (m.testAccuracy - dense.testAccuracy)).toFixed(2) : '-';
      body.push(runner === 'lutnn'
        ? [m.name, pct(m.testAccuracy), vs, `${(m.macs / 1e6).toFixed(2)}M`, `${(m.bytes / 1024).toFixed(0)} KiB`, ...speed, m.note]
        : [`${m.name} (${runner})`, pct(m.testAccuracy), vs, `${(m.macs / 1e6).toFixed(2)}M`, `${(m.bytes / 1024).toFixed(0)} KiB`, ...speed, `the same model in ${runner} (its ONNX export)`]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const left = new Set([0, head.length - 1]);
  const line = (cells: string[]): string => cells.map((c, i) => (left.has(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

/** Plain sentences from a bench report: LUT against dense in lutnn, and against onnxruntime-node on the dense model. */
export function speedSummary(b: BenchReport, lutName: string): string[] {
  const out: string[] = [];
  const say = (ratio: number, what: string): string => (ratio >= 1 ? `${ratio.toFixed(2)}x faster than ${what}` : `${(1 / ratio).toFixed(2)}x slower than ${what}`);
  for (const c of b.comparisons) {
    const where = `batch ${c.batch}, ${c.threads} thread${c.threads > 1 ? 's' : ''}`;
    const parts: string[] = [];
    if (c.speedup['lutnn:dense'] !== undefined) parts.push(`${say(c.speedup['lutnn:dense'], 'the dense model in lutnn')}`);
    if (c.speedup['onnxruntime-node:dense'] !== undefined) parts.push(`${say(c.speedup['onnxruntime-node:dense'], 'the dense model in onnxruntime-node')}`);
    if (parts.length) out.push(`${where}: ${lutName} in lutnn is ${parts.join(', and ')}`);
  }
  return out;
}
