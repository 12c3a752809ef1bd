// The files a design-space exploration writes: points.json, points.csv, fronts.json, SVG plots and one HTML page.
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { HW_FIELDS, LAYER_KINDS, type DseSpace, type HwField, type LayerKind } from './dse-space.js';
import type { DsePoint, DseResult } from './dse.js';
import { paretoFront } from './pareto.js';
import { htmlPage, renderSvg, scatterSpec, type Point } from './plot.js';

/** Column name of a kind's V. */
const vColumn = (k: LayerKind): string => `v${k[0].toUpperCase()}${k.slice(1)}`;

/**
 * CSV columns: id, model, V per layer kind present (vConv, vConv1x1, vLinear), k, metric, the swept hardware fields,
 * then accuracy, accuracyKmeans, finetuned, energy (µJ per inference), energyExclDram, area (mm²), latency (ms per
 * inference), macEnergy, macArea, macLatency, powerEfficiency, areaEfficiency, speedup, pareto, paretoArea, paretoLatency.
 */
export function csvColumns(kinds: readonly LayerKind[], hw: readonly HwField[]): string[] {
  return [
    'id', 'model', ...kinds.map(vColumn), 'k', 'metric', ...hw, 'accuracy', 'accuracyKmeans', 'finetuned', 'energy', 'energyExclDram',
    'area', 'latency', 'macEnergy', 'macArea', 'macLatency', 'powerEfficiency', 'areaEfficiency', 'speedup', 'pareto', 'paretoArea', 'paretoLatency',
  ];
}

/** The swept hardware fields and the layer kinds present, in a stable order. */
function columnsOf(points: readonly DsePoint[], space: DseSpace, kinds: readonly LayerKind[]): { kinds: LayerKind[]; hw: HwField[] } {
  return { kinds: LAYER_KINDS.filter((k) => kinds.includes(k)), hw: HW_FIELDS.filter((f) => space.hardware[f] !== undefined || points.some((p) => p.hw[f] !== undefined)) };
}

/** points.csv: one row per point (numbers in full precision; booleans as true/false). */
export function pointsCsv(points: readonly DsePoint[], space: DseSpace, kindsPresent: readonly LayerKind[]): string {
  const { kinds, hw } = columnsOf(points, space, kindsPresent);
  const cols = csvColumns(kinds, hw);
  const cell = (x: unknown): string => (x === undefined || x === null ? '' : String(x));
  const rows = points.map((p) => {
    const rec: Record<string, unknown> = { ...p };
    for (const k of kinds) rec[vColumn(k)] = p.v[k];
    for (const f of hw) rec[f] = p.hw[f];
    return cols.map((c) => cell(rec[c])).join(',');
  });
  return [cols.join(','), ...rows].join('\n') + '\n';
}

const AXES = [
  { key: 'energy', front: 'pareto', title: 'energy per inference (µJ)', file: 'accuracy-energy.svg' },
  { key: 'area', front: 'paretoArea', title: 'area (mm²)', file: 'accuracy-area.svg' },
  { key: 'latency', front: 'paretoLatency', title: 'latency per inference (ms)', file: 'accuracy-latency.svg' },
] as const;

function describe(p: DsePoint): string {
  const hw = Object.entries(p.hw).map(([k, v]) => `${k} ${v}`).join(', ');
  return `${p.model} | ${hw} | acc ${(100 * p.accuracy).toFixed(2)}% | ${p.energy.toPrecision(3)} µJ, ${p.area.toPrecision(3)} mm², ${p.latency.toPrecision(3)} ms`;
}

/**
 * One chart per axis: per model point, its own non-dominated hardware points for that axis (coloured by metric), and
 * the front over all points as a dashed line. The x axis is logarithmic when the values span more than a decade.
 */
async function charts(points: readonly DsePoint[], modelName: string): Promise<{ file: string; svg: string }[]> {
  const out: { file: string; svg: string }[] = [];
  const byModel = new Map<string, DsePoint[]>();
  for (const p of points) byModel.set(p.model, [...(byModel.get(p.model) ?? []), p]);
  for (const a of AXES) {
    const dots: Point[] = [];
    for (const ps of byModel.values()) {
      for (const i of paretoFront(ps, (p) => p.accuracy, (p) => p[a.key])) {
        const p = ps[i];
        dots.push({ x: p[a.key], y: 100 * p.accuracy, series: `${p.metric}${p.finetuned ? ' (fine-tuned)' : ''}`, label: describe(p) });
      }
    }
    const line = points.filter((p) => p[a.front]).map((p) => ({ x: p[a.key], y: 100 * p.accuracy, label: describe(p) }));
    // A log axis when the values span more than a decade, else a linear one fitted to the data.
    const xs = dots.map((d) => d.x).filter((x) => x > 0);
    const xLog = xs.length > 0 && Math.max(...xs) / Math.min(...xs) > 10;
    const svg = await renderSvg(scatterSpec(dots, { title: `${modelName}: accuracy vs ${a.key} (LUT-DLA)`, xTitle: a.title, yTitle: 'test accuracy (%)', xLog }, line));
    out.push({ file: a.file, svg });
  }
  return out;
}

export interface DseFiles {
  pointsJson: string;
  pointsCsv: string;
  frontsJson: string;
  svgs: string[];
  html: string;
  space: string;
}

const fmt = (x: number, d = 3): string => (Number.isFinite(x) ? x.toPrecision(d) : 'n/a');

/** Writes every output file into `dir` (atomically) and returns their paths. */
export async function writeDseReport(dir: string, r: DseResult, space: DseSpace, meta: { modelName: string; tech: string; finetuneEpochs: number }): Promise<DseFiles> {
  const kinds = [...new Set(r.layers.map((l) => l.kind))];
  const files: DseFiles = {
    pointsJson: join(dir, 'points.json'), pointsCsv: join(dir, 'points.csv'), frontsJson: join(dir, 'fronts.json'),
    svgs: AXES.map((a) => join(dir, a.file)), html: join(dir, 'dse.html'), space: join(dir, 'space.json'),
  };
  writeFileAtomic(files.space, JSON.stringify(space, null, 2) + '\n');
  writeFileAtomic(files.pointsJson, JSON.stringify(r.points) + '\n');
  writeFileAtomic(files.pointsCsv, pointsCsv(r.points, space, kinds));
  const front = (ids: number[]): DsePoint[] => ids.map((i) => r.points[i]).sort((a, b) => a.accuracy - b.accuracy);
  writeFileAtomic(files.frontsJson, JSON.stringify({ energy: front(r.fronts.energy), area: front(r.fronts.area), latency: front(r.fronts.latency) }, null, 1) + '\n');
  const svgs = await charts(r.points, meta.modelName);
  for (const s of svgs) writeFileAtomic(join(dir, s.file), s.svg);

  // The front tables show the hardware fields the space varies (the CSV has every swept field).
  const hw = columnsOf(r.points, space, kinds).hw.filter((f) => (space.hardware[f]?.length ?? 0) > 1);
  const head = ['model', ...hw, 'accuracy %', 'energy µJ', 'area mm²', 'latency ms', 'MAC energy µJ', 'MAC area mm²', 'power eff. ×', 'area eff. ×'];
  const row = (p: DsePoint): (string | number)[] => [
    p.model + (p.finetuned ? ' (ft)' : ''), ...hw.map((f) => p.hw[f] ?? ''), (100 * p.accuracy).toFixed(2), fmt(p.energy), fmt(p.area), fmt(p.latency),
    fmt(p.macEnergy), fmt(p.macArea), fmt(p.powerEfficiency), fmt(p.areaEfficiency),
  ];
  const notes = [
    `${r.modelPointsDone} of ${r.modelPoints} model points converted (k-means + least-squares refit${r.finetuned ? `, ${r.finetuned} fine-tuned ${meta.finetuneEpochs} epochs` : ''}) × ${r.hardwarePoints} hardware points = ${r.points.length} points (${r.infeasible.count} combinations infeasible).`,
    `Accuracy on ${r.testImages} test images (dense model: ${(100 * r.denseAccuracy).toFixed(2)}%), calibration on ${r.calibImages} training images.`,
    `Energy, area and latency per inference (batch ${space.batch}) of the converted layers (${r.layers.map((l) => l.name).join(', ')}) on LUT-DLA, technology ${meta.tech}; the INT8 MAC array (${space.mac.rows}×${space.mac.cols}, same buffers and clock) beside it.`,
    r.skippedV.length > 0 ? `V values left out (they do not divide a layer's inputs): ${r.skippedV.map((x) => `${x.kind} V ${x.v} (${x.layer}: ${x.inDim} inputs)`).join(', ')}.` : '',
    r.complete ? '' : 'The sweep was stopped before every model point was converted; run the same command again to continue.',
  ].filter(Boolean).join(' ');
  const sections = [
    { heading: 'Summary', text: notes },
    { heading: 'Accuracy against energy, area and latency', text: 'Dots: each model point on its own non-dominated hardware points for the axis, coloured by metric. Dashed line: the Pareto front over all points.', svgs: svgs.map((s) => s.svg) },
    { heading: `Accuracy–energy front (${r.fronts.energy.length} points)`, table: { head, rows: front(r.fronts.energy).map(row) } },
    { heading: `Accuracy–area front (${r.fronts.area.length} points)`, table: { head, rows: front(r.fronts.area).map(row) } },
    { heading: `Accuracy–latency front (${r.fronts.latency.length} points)`, table: { head, rows: front(r.fronts.latency).map(row) } },
  ];
  if (r.infeasible.reasons.length > 0) sections.push({ heading: 'Infeasible combinations (first reasons)', text: r.infeasible.reasons.join(' · ') });
  writeFileAtomic(files.html, htmlPage(`lutnn dse: ${meta.modelName}`, sections, `${r.points.length} points; this run ${r.seconds.toFixed(1)} s wall, ${r.cpuSeconds.toFixed(1)} s CPU (cached points cost nothing)`));
  return files;
}
