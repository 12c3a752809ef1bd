// `lutnn report`'s driver and the demo's report: accuracy against MACs, bytes and measured latency, per-layer dense vs
// LUT costs and the fine-tuning curves of model files, as one self-contained HTML page (inline SVG from src/app/plot.ts).
import { DataLoader } from '../data/loader.js';
import { takeDataset, type DatasetSplits } from '../data/dataset.js';
import { ArgumentError } from '../errors.js';
import { modelCost } from '../graph/cost.js';
import type { GraphModel } from '../graph/model.js';
import { loadModel, type ModelMeta } from '../io/model-file.js';
import { evaluate } from '../train/metrics.js';
import type { CurvePoint } from '../train/fit.js';
import { wasmRuntime } from '../backend/wasm.js';
import { modelKind, runBench, type BenchReport, type Role, type Runner, type SimdVariant } from './bench.js';
import { evaluateOnRuntime } from './evaluate.js';
import { machineInfo, type MachineInfo } from './machine.js';
import { barSpec, htmlPage, lineSpec, renderSvg, scatterSpec, type ChartSpec, type PageSection, type Point } from './plot.js';

export interface ReportLayer {
  name: string;
  /** The op type (Conv, LutConv, Linear, LutLinear, ...). */
  type: string;
  macs: number;
  /** Bytes needed at inference (deployBytes of src/graph/cost.ts). */
  bytes: number;
}

/** Per-epoch figures of a training run (test figures null when it had no test set). */
export interface ReportEpoch {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number | null;
  testAccuracy: number | null;
}

/** One fine-tuning (or LUTBoost training stage) run recorded in a model file or in the demo. */
export interface ReportTraining {
  /** Where it comes from: 'finetune', 'compare', 'lutboost stage 2 (train)', ... */
  source: string;
  curve: CurvePoint[];
  epochs: ReportEpoch[];
}

/** A speed figure of a model: one runner, thread count and batch size (medians of `repeats` rounds). */
export interface ReportSpeed {
  runner: Runner;
  /** lutnn's SIMD build (null for onnxruntime). */
  simd: SimdVariant | null;
  threads: number;
  batch: number;
  medianMs: number;
  /** Samples per second at the median. */
  throughput: number;
  repeats: number;
}

export interface ReportModel {
  name: string;
  path: string | null;
  /** 'dense', 'lut-nn', 'maddness' or 'quantized'. */
  kind: string;
  testAccuracy: number | null;
  testLoss: number | null;
  testImages: number;
  evaluatedOn: 'runtime' | 'engine' | null;
  macs: number;
  bytes: number;
  layers: ReportLayer[];
  training: ReportTraining[];
  /** Measured in one process beside the dense model; empty when not measured. */
  speed: ReportSpeed[];
  /** Why the runtime does not run this model (it was evaluated on the training engine and is not timed), or null. */
  runtimeRefused?: string | null;
  /** A short note shown in the table (e.g. "live, 0.1 epoch"). */
  note: string;
}

export interface ReportData {
  title: string;
  subtitle: string;
  dataset: string | null;
  models: ReportModel[];
  /** How the speed was measured (null when it was not). */
  speedNote: string | null;
  machine: MachineInfo;
  date: string;
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const rec = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

function curvePoints(v: unknown): CurvePoint[] {
  if (!Array.isArray(v)) return [];
  return v.filter((p): p is CurvePoint => {
    const r = rec(p);
    return !!r && num(r.step) && num(r.epoch) && num(r.loss) && num(r.accuracy);
  });
}

function epochRows(v: unknown): ReportEpoch[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((e) => {
    const r = rec(e);
    if (!r || !num(r.epoch) || !num(r.trainLoss) || !num(r.trainAccuracy)) return [];
    return [{ epoch: r.epoch, trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy, testLoss: num(r.testLoss) ? r.testLoss : null, testAccuracy: num(r.testAccuracy) ? r.testAccuracy : null }];
  });
}

/** The training runs a model file's metadata records: `finetune`, `compare --out-dir` rows, LUTBoost stages. */
export function trainingFromMeta(meta: ModelMeta): ReportTraining[] {
  const info = rec(meta.info) ?? {};
  const out: ReportTraining[] = [];
  const push = (source: string, curve: unknown, epochs: unknown): void => {
    const t = { source, curve: curvePoints(curve), epochs: epochRows(epochs) };
    if (t.curve.length > 0 || t.epochs.length > 0) out.push(t);
  };
  const stages = rec(info.conversion)?.stages;
  if (Array.isArray(stages)) for (const s of stages) {
    const r = rec(s);
    if (r && r.kind !== 'convert') push(`lutboost stage ${String(r.index)} (${String(r.kind)})`, r.curve, r.history);
  }
  const row = rec(info.comparisonRow);
  if (row) push(`compare (${String(row.method)})`, row.finetuneCurve, row.finetuneHistory);
  const ft = rec(info.finetune);
  if (ft) push('finetune', ft.curve, ft.epochs);
  return out;
}

/** MACs, inference bytes and the per-layer figures of the layers that compute (MACs > 0). */
export function layerCosts(model: GraphModel, inputShape: number[]): { macs: number; bytes: number; layers: ReportLayer[] } {
  const cost = modelCost(model, inputShape);
  return {
    macs: cost.total.macs,
    bytes: cost.total.deployBytes,
    layers: cost.layers.filter((l) => l.macs > 0).map((l) => ({ name: l.name, type: l.type, macs: l.macs, bytes: l.deployBytes })),
  };
}

/** The rows of a bench report for one of its files (lutnn and the onnxruntime peers). */
export function speedOf(bench: BenchReport, role: Role): ReportSpeed[] {
  return bench.rows.filter((r) => r.role === role).map((r) => ({ runner: r.runner, simd: r.simd, threads: r.threads, batch: r.batch, medianMs: r.medianMs, throughput: r.throughput, repeats: r.repeats }));
}

/** The SIMD build lutnn's runtime picks in this process (the one a user gets), for the speed figures. */
export function defaultSimd(): SimdVariant {
  return wasmRuntime()?.variant === 'relaxed' ? 'relaxed' : 'plain';
}

// ---------------------------------------------------------------- page

/** Vega's default categorical colours (tableau10), assigned by a series' place in the report's list. */
const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

/**
 * Renders a chart with the legend below it (long model names are not cut short) and, given `colours`, the series in
 * that order, so that a model keeps its colour from chart to chart.
 */
function svg(spec: ChartSpec, colours?: string[]): Promise<string> {
  type Part = { encoding?: Record<string, unknown>; data?: { values?: { series?: string }[] } };
  const s = structuredClone(spec) as Part & { layer?: Part[] };
  const parts = [s, ...(s.layer ?? [])];
  const present = new Set(parts.flatMap((p) => (p.data?.values ?? []).map((v) => v.series)));
  const domain = (colours ?? []).filter((c) => present.has(c));
  for (const p of parts) {
    const color = p.encoding?.color as Record<string, unknown> | undefined;
    if (color && colours) color.scale = { domain, range: domain.map((c) => PALETTE[colours.indexOf(c) % PALETTE.length]) };
  }
  return renderSvg({ ...s, config: { legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } } } as ChartSpec);
}
const kib = (b: number): number => +(b / 1024).toFixed(1);
const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);
const ms = (v: number | undefined): string => (v === undefined ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** The speed cells the report and the demo's table show: (threads, batch) pairs measured, in order. */
export function speedCells(models: ReportModel[]): { threads: number; batch: number }[] {
  const seen = new Map<string, { threads: number; batch: number }>();
  for (const m of models) for (const s of m.speed) seen.set(`${s.threads}:${s.batch}`, { threads: s.threads, batch: s.batch });
  return [...seen.values()].sort((a, b) => a.batch - b.batch || a.threads - b.threads);
}

/** A model × runner that was timed ("fmnist-cnn" on lutnn, "fmnist-cnn (onnxruntime-node)"). */
export function speedSeries(models: ReportModel[]): { label: string; model: ReportModel; runner: Runner }[] {
  const out: { label: string; model: ReportModel; runner: Runner }[] = [];
  for (const m of models) {
    for (const runner of [...new Set(m.speed.map((s) => s.runner))]) out.push({ label: runner === 'lutnn' ? m.name : `${m.name} (${runner})`, model: m, runner });
  }
  return out;
}

/** The HTML page of a report: summary table, accuracy against cost and latency, per-layer bars, training curves. */
export async function renderReport(d: ReportData): Promise<string> {
  const order = (label: string): number => {
    const i = d.models.findIndex((m) => label === m.name || label.startsWith(`${m.name} (`));
    return 2 * i + (label === d.models[i]?.name ? 0 : 1);
  };
  const sections: PageSection[] = [];
  const dense = d.models.find((m) => m.kind === 'dense');
  const cells = speedCells(d.models);
  const series = speedSeries(d.models);
  // One colour per model (and per model in another runner) across the cost, speed and layer charts.
  const colours = [...new Set([...d.models.map((m) => m.name), ...series.map((x) => x.label)])].sort((a, b) => order(a) - order(b));
  const rows: (string | number)[][] = [];
  for (const m of d.models) {
    for (const runner of m.speed.length ? [...new Set(m.speed.map((s) => s.runner))] : ['lutnn' as Runner]) {
      const t = (c: { threads: number; batch: number }): string => ms(m.speed.find((s) => s.runner === runner && s.threads === c.threads && s.batch === c.batch)?.medianMs);
      rows.push([
        runner === 'lutnn' ? m.name : `${m.name} (${runner})`, m.kind, m.note, pct(m.testAccuracy),
        dense && m !== dense && m.testAccuracy !== null && dense.testAccuracy !== null ? (100 * (m.testAccuracy - dense.testAccuracy)).toFixed(2) : '-',
        `${(m.macs / 1e6).toFixed(2)}M`, `${kib(m.bytes).toFixed(0)} KiB`, ...cells.map(t),
      ]);
    }
  }
  sections.push({
    heading: 'Models',
    text: `Test accuracy on ${d.models[0]?.testImages ?? 0} test images${d.dataset ? ` of ${d.dataset}` : ''}; MACs per image (LUT layers: encoding + lookups); bytes needed at inference. ` +
      (d.speedNote ? `Speed: ms per call of a whole batch, ${d.speedNote}.` : 'Speed not measured.'),
    table: { head: ['model', 'kind', 'note', 'test acc', 'vs dense', 'MACs/img', 'bytes', ...cells.map((c) => `ms b${c.batch} ${c.threads}T`)], rows },
  });

  const evaluated = d.models.filter((m) => m.testAccuracy !== null);
  const pt = (m: ReportModel, x: number, label: string): Point => ({ x, y: 100 * m.testAccuracy!, series: m.name, label: `${m.name}: ${pct(m.testAccuracy)}, ${label}` });
  const costCharts = [
    await svg(scatterSpec(evaluated.map((m) => pt(m, m.macs / 1e6, `${(m.macs / 1e6).toFixed(2)}M MACs`)), { title: 'Accuracy against MACs per image', xTitle: 'million MACs per image', yTitle: 'test accuracy (%)', width: 400, height: 260 }), colours),
    await svg(scatterSpec(evaluated.map((m) => pt(m, kib(m.bytes), `${kib(m.bytes)} KiB`)), { title: 'Accuracy against inference bytes', xTitle: 'KiB at inference', yTitle: 'test accuracy (%)', width: 400, height: 260 }), colours),
  ];
  const c0 = cells.find((c) => c.batch === 1) ?? cells[0];
  if (c0) {
    const pts = series.flatMap(({ label, model, runner }) => {
      const s = model.speed.find((x) => x.runner === runner && x.threads === c0.threads && x.batch === c0.batch);
      return s && model.testAccuracy !== null ? [{ x: s.medianMs / s.batch, y: 100 * model.testAccuracy, series: label, label: `${label}: ${pct(model.testAccuracy)}, ${ms(s.medianMs / s.batch)} ms per image` }] : [];
    });
    costCharts.push(await svg(scatterSpec(pts, { title: `Accuracy against latency (batch ${c0.batch}, ${c0.threads} thread${c0.threads > 1 ? 's' : ''})`, xTitle: 'ms per image (median)', yTitle: 'test accuracy (%)', width: 400, height: 260 }), colours));
  }
  sections.push({ heading: 'Accuracy against cost', svgs: costCharts });

  if (cells.length > 0) {
    const bars = series.flatMap(({ label, model, runner }) => cells.flatMap((c) => {
      const s = model.speed.find((x) => x.runner === runner && x.threads === c.threads && x.batch === c.batch);
      return s ? [{ category: `batch ${c.batch}, ${c.threads}T`, series: label, value: +(s.medianMs / s.batch).toFixed(4) }] : [];
    }));
    sections.push({
      heading: 'Speed',
      text: `Median ms per image (a batch's time / its size), ${d.speedNote ?? ''}. Lower is faster.`,
      svgs: [await svg(barSpec(bars, { title: 'ms per image', xTitle: 'batch size, threads', yTitle: 'ms per image', width: 160 * cells.length + 200, height: 280 }), colours)],
    });
  }

  const layerModels = d.models.filter((m) => m.layers.length > 0);
  if (layerModels.length > 0) {
    const names = [...new Set(layerModels.flatMap((m) => m.layers.map((l) => l.name)))];
    const rowsFor = (f: (l: ReportLayer) => number): { category: string; series: string; value: number }[] =>
      layerModels.flatMap((m) => m.layers.map((l) => ({ category: l.name, series: m.name, value: f(l) })));
    const w = Math.max(400, 28 * names.length * layerModels.length);
    sections.push({
      heading: 'Per-layer cost, dense against LUT',
      text: 'The layers that compute (MACs > 0). A LUT layer\'s MACs are its encoding (distances to the centroids) plus its table lookups; its bytes are the int8 tables, the centroids and the bias.',
      svgs: [
        await svg(barSpec(rowsFor((l) => +(l.macs / 1e6).toFixed(4)), { title: 'MACs per image by layer', xTitle: 'layer', yTitle: 'million MACs', width: w, height: 260 }), colours),
        await svg(barSpec(rowsFor((l) => kib(l.bytes)), { title: 'Inference bytes by layer', xTitle: 'layer', yTitle: 'KiB', width: w, height: 260 }), colours),
      ],
    });
  }

  const runs = d.models.flatMap((m) => m.training.map((t) => ({ m, t, label: d.models.filter((x) => x.training.length > 0).length > 1 || m.training.length > 1 ? `${m.name}: ${t.source}` : m.name })));
  if (runs.length > 0) {
    const line = (f: (p: CurvePoint) => number, g: (e: ReportEpoch) => number | null): Point[] => runs.flatMap(({ t, label }) => [
      ...t.curve.map((p) => ({ x: p.epoch, y: f(p), series: `${label} (train, running)` })),
      // Files written before the curve was recorded have the per-epoch training figures only.
      ...(t.curve.length ? [] : t.epochs.map((e) => ({ x: e.epoch, y: f({ step: 0, epoch: e.epoch, loss: e.trainLoss, accuracy: e.trainAccuracy, images: 0, lr: 0 }), series: `${label} (train, per epoch)` }))),
      ...t.epochs.flatMap((e) => (g(e) === null ? [] : [{ x: e.epoch, y: g(e)!, series: `${label} (test, per epoch)` }])),
    ]);
    const steps = runs.map(({ t, label }) => `${label}: ${t.curve.length} points${t.curve.length > 1 ? ` every ${t.curve[1].step - t.curve[0].step} steps` : ''}, ${t.epochs.length} epoch summar${t.epochs.length === 1 ? 'y' : 'ies'}`);
    sections.push({
      heading: 'Fine-tuning curves',
      text: `Training loss and accuracy: mean over the batches since the previous point, recorded as the run went (${steps.join('; ')}). Test figures after each whole epoch where the run had a test set.`,
      svgs: [
        await svg(lineSpec(line((p) => p.loss, (e) => e.testLoss), { title: 'Fine-tuning loss', xTitle: 'epoch', yTitle: 'loss', width: 400, height: 260 })),
        await svg(lineSpec(line((p) => 100 * p.accuracy, (e) => (e.testAccuracy === null ? null : 100 * e.testAccuracy)), { title: 'Fine-tuning accuracy', xTitle: 'epoch', yTitle: 'accuracy (%)', width: 400, height: 260 })),
      ],
    });
  } else {
    sections.push({ heading: 'Fine-tuning curves', text: 'No model here records a fine-tuning run (lutnn finetune, compare --out-dir and LUTBoost write theirs into the model file).' });
  }
  const m = d.machine;
  return htmlPage(d.title, sections, `${d.subtitle} ${d.date}; ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}.`);
}

// ---------------------------------------------------------------- from files (lutnn report)

export interface ReportOptions {
  /** Model files (LUT models usually). */
  models: string[];
  /** The dense model they came from: first in the report, timed beside each. */
  dense?: string | null;
  /** The test set (null: no evaluation; accuracy then comes from nothing and is left out). */
  splits: DatasetSplits | null;
  limitTest?: number;
  /** Speed: batch sizes and thread counts (null: no speed measurement). */
  bench?: { batches: number[]; threads?: number[]; repeats: number; warmup: number; onnxruntime: boolean } | null;
  title?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

/**
 * Evaluates a model on the first `limitTest` test images: lutnn's runtime (f32 encoder), or the training engine for a
 * model the runtime cannot run (MADDNESS, quantized layers), saying why in `runtimeRefused`.
 */
export function evaluateModel(model: GraphModel, meta: ModelMeta, splits: DatasetSplits, limitTest: number | undefined, inputShape: number[], onBatch?: (done: number, total: number) => void): { accuracy: number; loss: number; images: number; on: 'runtime' | 'engine'; runtimeRefused: string | null } {
  const test = limitTest ? takeDataset(splits.test, limitTest) : splits.test;
  const loader = new DataLoader(test, { batchSize: 256, shuffle: false, mean: meta.dataset?.mean, std: meta.dataset?.std });
  const each = (done: number): void => onBatch?.(done, test.n);
  const onEngine = (why: string): { accuracy: number; loss: number; images: number; on: 'engine'; runtimeRefused: string } => {
    const r = evaluate(model, loader.epoch(0), each);
    return { accuracy: r.accuracy, loss: r.loss, images: test.n, on: 'engine', runtimeRefused: why };
  };
  if (modelKind(model) === 'maddness') return onEngine('the runtime has no MADDNESS layers');
  try {
    const r = evaluateOnRuntime(model, loader.epoch(0), inputShape, 'f32', each);
    return { accuracy: r.accuracy, loss: r.loss, images: test.n, on: 'runtime', runtimeRefused: null };
  } catch (e) {
    // lutnn.load refuses a graph with an op it has no step for (QConv, say) with an ArgumentError before running.
    if (!(e instanceof ArgumentError) || !/has no step/.test(e.message)) throw e;
    return onEngine(e.message.replace(/ \(lutnn\.load runs graphs of[\s\S]*$/, ''));
  }
}

/** Loads, evaluates and times the files, and renders the page. */
export async function runReport(o: ReportOptions): Promise<{ data: ReportData; html: string; bench: BenchReport[] }> {
  if (o.models.length === 0) throw new ArgumentError('report: give at least one model file');
  const progress = o.onProgress ?? (() => {});
  const files = [...(o.dense ? [{ path: o.dense, role: 'dense' as Role }] : []), ...o.models.map((path) => ({ path, role: 'model' as Role }))];
  const models: ReportModel[] = [];
  let datasetName: string | null = null;
  const names = new Set<string>();
  for (const f of files) {
    const { model, meta } = loadModel(f.path);
    const inputShape = model.inputShape ?? meta.dataset?.inputShape ?? null;
    if (!inputShape) throw new ArgumentError(`report: ${f.path} gives no per-sample input shape (its graph input and dataset.inputShape are both unset)`);
    datasetName ??= meta.dataset?.name ?? null;
    let name = f.path.replace(/^.*[\\/]/, '').replace(/\.safetensors$/, '');
    for (let i = 2; names.has(name); i++) name = `${name} (${i})`;
    names.add(name);
    const ev = o.splits ? evaluateModel(model, meta, o.splits, o.limitTest, inputShape, (d, n) => progress(`eval ${name}`, d, n)) : null;
    const training = trainingFromMeta(meta);
    const refused = ev?.runtimeRefused ?? (modelKind(model) === 'maddness' ? 'the runtime has no MADDNESS layers' : null);
    models.push({
      name, path: f.path, kind: modelKind(model), testAccuracy: ev?.accuracy ?? null, testLoss: ev?.loss ?? null, testImages: ev?.images ?? 0,
      evaluatedOn: ev?.on ?? null, ...layerCosts(model, inputShape), training, speed: [], runtimeRefused: refused,
      note: [
        f.role === 'dense' ? 'the dense model (--dense)' : training.length ? `fine-tuned: ${training.map((t) => `${t.source}, ${t.epochs.length} epoch${t.epochs.length === 1 ? '' : 's'}`).join('; ')}` : '',
        refused ? `on the training engine, not timed: ${refused}` : '',
      ].filter(Boolean).join('; '),
    });
  }
  const benches: BenchReport[] = [];
  if (o.bench) {
    const simd = defaultSimd();
    const denseModel = o.dense ? models[0] : null;
    for (const m of models) {
      if (m === denseModel || m.runtimeRefused) continue;
      const b = await runBench({
        model: m.path!, dense: o.dense ?? null, batches: o.bench.batches, threads: o.bench.threads, repeats: o.bench.repeats, warmup: o.bench.warmup,
        simd: [simd], baselines: { onnxruntimeNode: o.bench.onnxruntime ? 'onnxruntime-node' : false, onnxruntimeWeb: false }, peerRoles: ['dense'],
        onProgress: (stage, d, n) => progress(`speed ${m.name}: ${stage}`, d, n),
      });
      benches.push(b);
      m.speed = speedOf(b, 'model');
      // The dense model's figures from the first process that timed it; later ones time it again beside their model.
      if (denseModel && denseModel.speed.length === 0) denseModel.speed = speedOf(b, 'dense');
    }
    if (denseModel && denseModel.speed.length === 0) {
      // No model beside it could be timed: the dense model alone (with onnxruntime-node).
      const b = await runBench({
        model: denseModel.path!, dense: null, batches: o.bench.batches, threads: o.bench.threads, repeats: o.bench.repeats, warmup: o.bench.warmup,
        simd: [simd], baselines: { onnxruntimeNode: o.bench.onnxruntime ? 'onnxruntime-node' : false, onnxruntimeWeb: false }, peerRoles: ['model'],
        onProgress: (stage, d, n) => progress(`speed ${denseModel.name}: ${stage}`, d, n),
      });
      benches.push(b);
      denseModel.speed = speedOf(b, 'model');
    }
  }
  const ort = benches[0]?.baselines['onnxruntime-node'];
  const data: ReportData = {
    title: o.title ?? 'lutnn report',
    subtitle: `${models.length} model${models.length > 1 ? 's' : ''}${datasetName ? ` on ${datasetName}` : ''}.`,
    dataset: datasetName,
    models,
    speedNote: benches.length ? speedNote(benches[0], ort?.available ? `onnxruntime-node ${ort.version ?? ''} fp32 on the dense model's ONNX export` : null) : null,
    machine: machineInfo(),
    date: new Date().toISOString(),
  };
  return { data, html: await renderReport(data), bench: benches };
}

/** How a bench report measured: build, repeats, the load. */
export function speedNote(b: BenchReport, peer: string | null): string {
  return `lutnn runtime (${b.rows.find((r) => r.runner === 'lutnn')?.simd ?? 'plain'} SIMD build, f32 LUT encoder), medians of ${b.repeats} interleaved round${b.repeats === 1 ? '' : 's'} after ${b.warmup} warm-up round${b.warmup === 1 ? '' : 's'}, dense and LUT models timed in the same process${peer ? `, beside ${peer}` : ''}; load average ${b.loadavg.join(' ')}`;
}
