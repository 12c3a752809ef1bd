// `lutnn bench MODEL`: latency and throughput of a model file in lutnn's runtime beside its dense model and onnxruntime.
import { Command, InvalidArgumentError } from 'commander';
import { runBench, type BenchReport, type EncoderKind, type SimdVariant } from '../app/bench.js';
import { choiceArg, floatArg, intArg, printJson, runCommand } from './common.js';
import { createProgress, type Progress } from './progress.js';

interface BenchCliOptions {
  dense?: string;
  batch: number[];
  threads?: number[];
  repeats: number;
  warmup: number;
  simd: SimdVariant[];
  encoder: EncoderKind;
  baselines: boolean;
  seed: number;
  budget: number;
  json: boolean;
  quiet: boolean;
}

/** "1,64" → [1, 64]: integers in [min, max]. */
export function intListArg(name: string, min: number, max: number): (v: string) => number[] {
  return (v: string) => {
    const parts = v.split(',').map((s) => s.trim());
    const xs = parts.map(Number);
    if (parts.length === 0 || parts.some((p) => p === '') || xs.some((x) => !Number.isInteger(x) || x < min || x > max)) {
      throw new InvalidArgumentError(`${name} takes comma-separated integers in [${min}, ${max}], got '${v}'`);
    }
    return xs;
  };
}

function simdListArg(v: string): SimdVariant[] {
  const xs = v.split(',').map((s) => s.trim());
  if (xs.length === 0 || xs.some((x) => x !== 'plain' && x !== 'relaxed')) throw new InvalidArgumentError(`--simd takes plain, relaxed or plain,relaxed, got '${v}'`);
  return xs as SimdVariant[];
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('latency and throughput of a model file in the lutnn runtime (plain and relaxed SIMD, 1..N threads), beside --dense and onnxruntime-node/-web on its ONNX export')
    .argument('<model>', 'model file (.safetensors) written by lutnn, e.g. a LUT model from lutnn convert or finetune')
    .option('--dense <file>', 'the dense model it came from, timed beside it')
    .option('--batch <list>', 'batch sizes', intListArg('--batch', 1, 4096), [1, 64])
    .option('--threads <list>', 'thread counts (default: 1 and the number of CPUs)', intListArg('--threads', 1, 64))
    .option('--repeats <n>', 'timed rounds per batch and thread count (medians are reported)', intArg('--repeats', 1), 15)
    .option('--warmup <n>', 'untimed rounds first', intArg('--warmup', 0), 2)
    .option('--simd <list>', 'SIMD builds of the lutnn kernels to time (relaxed where this Node accepts it)', simdListArg, ['plain', 'relaxed'])
    .option('--encoder <e>', 'the runtime\'s LUT encoder: f32 (the training engine\'s codes), int8 or wide', choiceArg('--encoder', ['f32', 'int8', 'wide'] as const), 'f32')
    .option('--no-baselines', 'skip onnxruntime-node and onnxruntime-web')
    .option('--seed <n>', 'seed of the input data', intArg('--seed', 0), 0)
    .option('--budget <s>', 'a method slower than this many seconds in total per batch and thread count stops after 5 timed rounds (0: no cap)', floatArg('--budget', 0), 8)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'no progress output', false)
    .action((file: string, opts: BenchCliOptions) => runCommand(() => bench(file, opts)));
}

async function bench(file: string, o: BenchCliOptions): Promise<void> {
  let bar: Progress | null = null;
  let barStage = '';
  const stop = (): void => (bar as Progress | null)?.stop();
  const report = await runBench({
    model: file, dense: o.dense ?? null, batches: o.batch, threads: o.threads, repeats: o.repeats, warmup: o.warmup,
    simd: o.simd, encoder: o.encoder, seed: o.seed, budget: o.budget > 0 ? { ms: o.budget * 1000, minSamples: 5 } : null,
    baselines: o.baselines ? undefined : { onnxruntimeNode: false, onnxruntimeWeb: false },
    onProgress: (stage, done, total) => {
      if (stage !== barStage) {
        bar?.stop();
        barStage = stage;
        bar = createProgress({ label: stage === 'prepare' ? 'bench: loading and exporting ONNX' : `bench: ${stage}`, total, quiet: o.quiet || o.json });
      }
      bar?.update(done);
    },
  }).finally(stop);
  if (o.json) printJson(report);
  else process.stdout.write(formatBench(report));
}

const fmtMs = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3));
const fmtRate = (r: number): string => (r >= 1000 ? `${(r / 1000).toFixed(1)}k` : r.toFixed(0));

/** The human-readable report: machine, what ran, one table row per (threads, batch, method), ratios to MODEL. */
export function formatBench(r: BenchReport): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`lutnn bench ${r.model.path} (${r.model.kind}, input [${r.inputShape.join(', ')}])${r.dense ? ` beside ${r.dense.path} (${r.dense.kind})` : ''}`);
  out.push(`machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, Node ${m.node}, ${m.platform}; load ${r.loadavg.join(' ')}`);
  const cap = r.budget ? `; a method past ${(r.budget.ms / 1000).toFixed(0)} s stops after ${r.budget.minSamples} (column n)` : '';
  out.push(`medians of ${r.repeats} interleaved rounds after ${r.warmup} warm-up rounds${cap}; seeded random input; LUT encoder ${r.encoder}`);
  const rel = r.simd.relaxed;
  out.push(`lutnn SIMD builds: plain${rel.available ? `, relaxed${rel.flags.length ? ` (${rel.flags.join(' ')})` : ''}` : `; relaxed: ${rel.reason}`}`);
  for (const [name, b] of Object.entries(r.baselines)) out.push(`${name}: ${b.available ? `${b.version ?? 'installed'}` : b.reason}`);
  const head = ['threads', 'batch', 'runner', 'model', 'simd', 'median ms', 'min ms', 'n', 'samples/s', 'vs MODEL'];
  const body: string[][] = [];
  for (const t of r.threads) {
    for (const batch of r.batches) {
      // lutnn (plain, then relaxed; MODEL, then dense), then the onnxruntime peers.
      const rank = (x: BenchReport['rows'][number]): number =>
        (x.runner === 'lutnn' ? (x.simd === 'plain' ? 0 : 1) : x.runner === 'onnxruntime-node' ? 2 : 3) * 2 + (x.role === 'model' ? 0 : 1);
      const rows = r.rows.filter((x) => x.threads === t && x.batch === batch).sort((a, b) => rank(a) - rank(b));
      for (const x of rows) {
        // This row's time over MODEL's in the same process (> 1: MODEL is faster than this row).
        const ref = r.rows.find((y) => y.runner === 'lutnn' && y.role === 'model' && y.threads === t && y.batch === batch && y.simd === (x.simd ?? 'plain'));
        const vs = x.runner === 'lutnn' && x.role === 'model' ? '1' : ref ? (x.medianMs / ref.medianMs).toFixed(2) : '-';
        body.push([String(t), String(batch), x.runner, x.role === 'model' ? 'MODEL' : 'dense', x.simd ?? '-', fmtMs(x.medianMs), fmtMs(x.minMs), String(x.repeats), fmtRate(x.throughput), vs === '1' ? '-' : `${vs}x`]);
      }
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const right = new Set([0, 1, 5, 6, 7, 8, 9]);
  const line = (cells: string[]): string => cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  out.push('', line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line));
  out.push('', 'vs MODEL: this row\'s median time / lutnn on MODEL in the same process (same SIMD build; the onnxruntime rows beside the plain build); > 1: MODEL is faster.');
  for (const [k, v] of Object.entries(r.agreement)) out.push(`${k} output vs lutnn: relative L2 difference ${v.toExponential(1)}`);
  for (const [k, v] of Object.entries(r.errors)) out.push(`${k}: not timed: ${v}`);
  out.push(`(${r.seconds.toFixed(0)} s)`);
  return out.join('\n') + '\n';
}
