// `lutnn lutna`: LUT-NA mixed precision on a quantized model (bit widths and exact / approximate LUT multipliers per layer within an accuracy budget).
import { Command, InvalidArgumentError } from 'commander';
import { setNumThreads } from '../backend/index.js';
import { DataLoader } from '../data/loader.js';
import { subsetDataset, takeDataset, type DatasetName } from '../data/dataset.js';
import { loadModel, saveModel } from '../io/model-file.js';
import { writeFileAtomic } from '../io/atomic.js';
import { lutnaSearch, parseApprox, type LutnaObjective, type LutnaResult } from '../app/lutna.js';
import { lutnaSvg } from '../app/lutna-plot.js';
import { TECH_45NM } from '../hw/tech.js';
import { readTechFile } from '../hw/tech-file.js';
import { OBSERVERS, type Observer } from '../quant/quantize.js';
import { Rng } from '../tensor/rng.js';
import type { Batch } from '../train/metrics.js';
import { createProgress, type Progress } from './progress.js';
import { choiceArg, floatArg, fmtPct, intArg, loadDatasetWithProgress, machineInfo, printJson, runCommand } from './common.js';

interface LutnaCliOptions {
  budget: number;
  objective: LutnaObjective;
  out?: string;
  svg?: string;
  actBits: number[];
  weightBits: number[];
  approx: string[];
  rounds: number;
  calib: number;
  limitTest?: number;
  tech?: string;
  dataDir?: string;
  seed: number;
  threads?: number;
  json: boolean;
  quiet: boolean;
}

const intList = (name: string, min: number, max: number) => (v: string): number[] => {
  const out = v.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < min || n > max)) throw new InvalidArgumentError(`${name} must be a comma-separated list of integers in [${min}, ${max}], got '${v}'`);
  return [...new Set(out)];
};

const approxList = (v: string): string[] => {
  const out = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of out) {
    try {
      parseApprox(s);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message.replace(/^lutna: /, '--approx: '));
    }
  }
  return out.filter((s) => s !== 'exact');
};

export function lutnaCommand(): Command {
  return new Command('lutna')
    .description('LUT-NA mixed precision: per quantized layer, bit widths and an exact or approximate LUT multiplier minimising energy (or area) within an accuracy budget')
    .argument('<model>', 'quantized model file (lutnn quantize)')
    .option('--budget <points>', 'accuracy loss allowed, in points', floatArg('--budget', 0), 1)
    .option('--objective <name>', 'what to minimise: energy | area', choiceArg('--objective', ['energy', 'area'] as const), 'energy')
    .option('--out <file>', 'write the chosen configuration as a model file (widths and scales in the graph, multipliers in the metadata)')
    .option('--svg <file>', 'write the plot of accuracy against energy of every configuration tried')
    .option('--act-bits <list>', 'activation widths to try (not above the layer\'s own)', intList('--act-bits', 2, 8), [8, 6])
    .option('--weight-bits <list>', 'weight widths to try (not above the layer\'s own)', intList('--weight-bits', 2, 16), [9, 7, 5])
    .option('--approx <list>', 'approximations to try: drop-ll, drop<T>, trunc<T> (T: product bit)', approxList, ['drop-ll', 'drop4', 'drop6', 'trunc4'])
    .option('--rounds <n>', 'search rounds (knapsack + real evaluation) at most', intArg('--rounds', 1), 5)
    .option('--calib <n>', 'calibration images for narrower activations', intArg('--calib', 1), 512)
    .option('--limit-test <n>', 'sensitivities and search checks on the first n test images (the final check uses all of them)', intArg('--limit-test', 1))
    .option('--tech <file>', 'technology table (JSON) instead of the built-in 45 nm one')
    .option('--data-dir <dir>', 'IDX directory; default: the embedded Fashion-MNIST')
    .option('--seed <n>', 'seed of the calibration sample', intArg('--seed', 0), 0)
    .option('--threads <n>', 'compute threads', intArg('--threads', 1))
    .option('--json', 'print one JSON object on stdout', false)
    .option('--quiet', 'no progress output', false)
    .action((file: string, opts: LutnaCliOptions) => runCommand(() => lutna(file, opts)));
}

const f3 = (x: number): string => (x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(3));

/** The human-readable report. */
export function lutnaTable(r: LutnaResult, file: string): string {
  const out: string[] = [];
  out.push(`${file}: LUT-NA mixed precision, objective ${r.objective}, budget ${r.budget} points; ${r.search} search over ${r.sensitivity.length} measured candidates, ${r.evaluations} evaluations`);
  out.push(`sensitivities on ${r.sensitivityImages} test images (base ${fmtPct(r.base.sensitivityAccuracy)}), final check on ${r.verificationImages} (base ${fmtPct(r.base.verificationAccuracy)}); technology ${r.tech}`);
  out.push('');
  out.push('| layer | MACs | widths | multiplier | alone: loss (pts) | energy uJ | base LUT-NA uJ | Wallace uJ | unit area um2 | base LUT-NA um2 | Wallace um2 |');
  out.push('|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const l of r.layers) {
    out.push(`| ${l.name} | ${l.macs.toLocaleString('en-US')} | ${l.chosen.actBits}x${l.chosen.weightBits} | ${l.chosen.approx === 'exact' ? '' : `${l.chosen.approx}: `}${l.chosen.design} | ${l.sensitivityDrop.toFixed(2)} | ${f3(l.energyUJ)} | ${f3(l.baseEnergyUJ)} | ${f3(l.wallaceEnergyUJ)} | ${Math.round(l.unitAreaUm2).toLocaleString('en-US')} | ${Math.round(l.baseUnitAreaUm2).toLocaleString('en-US')} | ${Math.round(l.wallaceUnitAreaUm2).toLocaleString('en-US')} |`);
  }
  out.push('');
  out.push('search rounds:');
  for (const s of r.rounds) {
    out.push(`  ${s.round}: may lose ${s.budgetImages} images, predicted ${s.predictedDrop.toFixed(2)} pts; on ${s.on} images ${fmtPct(s.accuracy)} (loss ${s.drop.toFixed(2)} pts, ${s.withinBudget ? 'within' : 'over'} budget), ${f3(s.energyUJ)} uJ, ${f3(s.areaMm2)} mm2`);
    if (s.on === 'sensitivity') out.push(`     ${Object.entries(s.config).map(([l, c]) => `${l} ${c}`).join(', ')}`);
  }
  const t = r.totals;
  out.push('');
  out.push(`final: ${fmtPct(r.final.accuracy)} on ${r.verificationImages} test images, loss ${r.final.drop.toFixed(2)} points (${r.final.withinBudget ? 'within' : 'OVER'} budget${r.final.fellBack ? '; no configuration held: the exact base' : ''})`);
  out.push(`energy per inference ${f3(t.mixed.energyUJ)} uJ, area ${f3(t.mixed.areaMm2)} mm2 (one MAC unit per layer)`);
  out.push(`  exact LUT-NA at the file's widths ${f3(t.lutnaExact.energyUJ)} uJ, ${f3(t.lutnaExact.areaMm2)} mm2; T-LUT ${f3(t.tLut.energyUJ)} uJ, ${f3(t.tLut.areaMm2)} mm2`);
  out.push(`  Wallace MACs ${f3(t.wallace.energyUJ)} uJ, ${f3(t.wallace.areaMm2)} mm2; array ${f3(t.array.energyUJ)} uJ, ${f3(t.array.areaMm2)} mm2; Wallace at the chosen widths ${f3(t.wallaceSameWidths.energyUJ)} uJ, ${f3(t.wallaceSameWidths.areaMm2)} mm2`);
  const x = (v: { energy: number; area: number }): string => `${f3(v.energy)}x energy, ${f3(v.area)}x area`;
  out.push(`savings (>1: mixed is cheaper): vs Wallace ${x(r.ratios.vsWallace)}; vs array ${x(r.ratios.vsArray)}; vs exact LUT-NA ${x(r.ratios.vsLutnaExact)}; vs T-LUT ${x(r.ratios.vsTLut)}; vs Wallace at the same widths ${x(r.ratios.vsWallaceSameWidths)}`);
  out.push(`LUT-NA (paper): mixed precision vs digital MAC 1.35-2.14x less area, 1.99-3.38x less energy at about 1 point loss`);
  return out.join('\n') + '\n';
}

/** The JSON report (LutnaResult without the model objects). */
export function lutnaJson(r: LutnaResult): Record<string, unknown> {
  const { model, config, ...rest } = r;
  void model;
  void config;
  return { ...rest, paper: { mixedVsDigitalMac: { area: [1.35, 2.14], energy: [1.99, 3.38] }, source: 'LUT-NA (arXiv 2406.05282)' } };
}

async function lutna(file: string, o: LutnaCliOptions): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads);
  const quiet = o.quiet || o.json;
  const t0 = performance.now();
  const tech = o.tech ? readTechFile(o.tech) : TECH_45NM;
  const { model, meta } = loadModel(file);
  const name = (meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  const splits = loadDatasetWithProgress(name, o.dataDir, quiet);
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const batches = (ds: typeof splits.test): Batch[] => [...new DataLoader(ds, { batchSize: 256, shuffle: false, ...norm }).epoch(0)];
  const full = batches(splits.test);
  const sens = o.limitTest && o.limitTest < splits.test.n ? batches(takeDataset(splits.test, o.limitTest)) : full;
  const pick = new Rng(o.seed).permutation(splits.train.n).subarray(0, Math.min(o.calib, splits.train.n));
  const calibration = batches(subsetDataset(splits.train, pick)).map((b) => b.x);
  const q = (meta.info?.quantization ?? {}) as { observer?: Observer; percentile?: number | null; bins?: number };
  let bar: Progress | null = null;
  let stage = '';
  const r = lutnaSearch(model, {
    budget: o.budget, objective: o.objective, actBits: o.actBits, weightBits: o.weightBits, approx: o.approx, rounds: o.rounds, tech,
    calibration, sensitivity: sens, verification: full,
    observer: q.observer && OBSERVERS.includes(q.observer) ? q.observer : 'mse', percentile: q.percentile ?? undefined, bins: q.bins,
    onProgress: (s, done, total) => {
      if (s !== stage) {
        bar?.stop();
        stage = s;
        bar = createProgress({ label: s, total, quiet });
      }
      bar?.update(done);
    },
  });
  (bar as Progress | null)?.stop();
  const seconds = (performance.now() - t0) / 1000;
  const report = { command: 'lutna', model: file, out: o.out ?? null, svg: o.svg ?? null, ...lutnaJson(r), seconds, machine: machineInfo() };
  if (o.out) {
    const lutna = {
      from: file, objective: r.objective, budget: r.budget, accuracy: r.final.accuracy, drop: r.final.drop, energyUJ: r.totals.mixed.energyUJ, areaMm2: r.totals.mixed.areaMm2,
      layers: r.layers.map((l) => ({ name: l.name, ...l.chosen })),
      note: 'widths and activation scales are in the graph; the multipliers (approx, parts, drop, truncate) are hardware: lutnn eval computes exact products',
    };
    saveModel(o.out, r.model, { dataset: meta.dataset, info: { ...(meta.info ?? {}), testAccuracy: null, lutna } });
  }
  if (o.svg) writeFileAtomic(o.svg, await lutnaSvg(r, file));
  if (o.json) printJson(report);
  else process.stdout.write(lutnaTable(r, file) + (o.out ? `saved ${o.out}\n` : '') + (o.svg ? `plot ${o.svg}\n` : '') + `${seconds.toFixed(1)} s\n`);
}
