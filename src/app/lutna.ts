// LUT-NA mixed precision: per quantized layer, choose bit widths and an exact (LUT-NA) or approximate (A-LUT-NA) LUT multiplier
// minimising energy (or area) with the accuracy loss within a budget: measured sensitivities, a knapsack search, real verification.
//
// Candidates per layer: every (act bits, weight bits) of the grids that is not wider than the layer's own; at each width
// the cheapest exact divide-and-conquer split for the objective (every split of either operand into 1..4 near-equal
// parts, larger parts most significant, priced by src/hw/mac-cost.ts), and approximations of that split ('drop-ll': the
// least significant partial product left out; 'dropT': every partial product of weight below 2^T left out; 'truncT':
// table entries rounded to multiples of 2^T in product bits). An approximation that saves nothing over the exact split is
// not a candidate. Narrower activations take a scale recalibrated for their width (the file's observer on histograms
// of the layer's input in the quantized model, over calibration images); narrower weights are requantized per channel.
// 1. Sensitivity: each candidate evaluated with only its layer changed (the rest exact at the file's widths), on the
//    sensitivity images, from the layer on (the values live before it computed once per layer by the base model);
//    loss = correct images of the base model − of the candidate (clamped at 0 for the search). Not measured: a layer's
//    approximations at widths whose exact form alone already loses more than the budget, widths narrower on both
//    operands than such a width, and a stronger approximation of a family (dropT, truncT by T) once a weaker one
//    exceeds the budget.
// 2. Search: a multiple-choice knapsack (dynamic programming over layers and the loss in whole images) minimising the
//    summed cost with the summed single-layer losses within the budget: the optimum of the additive model, not a greedy.
// 3. Verification: the chosen configuration evaluated for real (every layer changed together). Over budget: the budget
//    the knapsack may spend is cut by the overshoot and it searches again (at most `rounds` times); within budget on the
//    sensitivity images, the configuration is evaluated on the verification images (the full test set) and must hold
//    there too. Failing every round, the result is the file's model with exact LUT-NA multipliers (no loss).
// Costs: energy per inference = Σ_layers MACs × energy per MAC of the layer's design; area = one MAC unit per layer (a
// layer-pipelined datapath, which mixed precision implies), Σ of the units' areas; digital MACs on the same terms.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import type { GraphModel } from '../graph/model.js';
import { macCost, type MacDesign } from '../hw/mac-cost.js';
import type { MacLayer } from '../hw/mac-layers.js';
import type { PairRef, Truncation } from '../hw/multiplier.js';
import type { TechTable } from '../hw/tech.js';
import { chooseClip, type Observer } from '../quant/quantize.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Batch, EvalResult } from '../train/metrics.js';
import { macLayersOf } from './mac-layers.js';
import { LutnaRunner, type LayerChoice } from './lutna-runner.js';

export { LutnaRunner, choiceMultiplier, type LayerChoice, type PrefixCache } from './lutna-runner.js';

export type LutnaObjective = 'energy' | 'area';

/** An approximation name: 'exact', 'drop-ll', 'drop<T>', 'trunc<T>'. */
export function parseApprox(s: string): { kind: 'exact' | 'drop-ll' | 'drop' | 'trunc'; t: number } {
  if (s === 'exact' || s === 'drop-ll') return { kind: s, t: 0 };
  const m = /^(drop|trunc)(\d{1,2})$/.exec(s);
  if (!m || Number(m[2]) < 1) throw new ArgumentError(`lutna: approximation '${s}' is not exact, drop-ll, drop<T> or trunc<T> (T a product bit ≥ 1, e.g. drop4, trunc6)`);
  return { kind: m[1] as 'drop' | 'trunc', t: Number(m[2]) };
}

/** n near-equal parts of b bits, larger parts most significant. */
export function evenParts(b: number, n: number): number[] {
  const base = Math.floor(b / n);
  return Array.from({ length: n }, (_, i) => base + (i < b % n ? 1 : 0));
}

export interface LutnaLayer {
  name: string;
  op: 'QConv' | 'QLinear';
  macs: number;
  rows: number;
  baseActBits: number;
  baseWeightBits: number;
}

export interface SensitivityRow {
  layer: string;
  actBits: number;
  weightBits: number;
  approx: string;
  design: string;
  /** Accuracy on the sensitivity images with only this layer changed, and the loss in points (not clamped). */
  accuracy: number;
  drop: number;
  /** The whole model's energy (µJ per inference) and area (mm²) with this layer changed. */
  energyUJ: number;
  areaMm2: number;
}

export interface SearchRound {
  round: number;
  /** Loss the knapsack could spend, in images of the sensitivity set. */
  budgetImages: number;
  predictedDrop: number;
  on: 'sensitivity' | 'verification';
  accuracy: number;
  drop: number;
  withinBudget: boolean;
  energyUJ: number;
  areaMm2: number;
  config: Record<string, string>;
}

export interface LutnaReportLayer extends LutnaLayer {
  chosen: LayerChoice;
  /** Predicted loss (points) of the chosen candidate alone. */
  sensitivityDrop: number;
  energyUJ: number;
  unitAreaUm2: number;
  baseEnergyUJ: number;
  baseUnitAreaUm2: number;
  wallaceEnergyUJ: number;
  wallaceUnitAreaUm2: number;
}

export interface CostTotals {
  energyUJ: number;
  areaMm2: number;
}

export interface LutnaResult {
  objective: LutnaObjective;
  budget: number;
  search: 'knapsack-dp';
  tech: string;
  sensitivityImages: number;
  verificationImages: number;
  candidates: { actBits: number[]; weightBits: number[]; approx: string[]; perLayer: Record<string, number> };
  base: { sensitivityAccuracy: number; verificationAccuracy: number };
  sensitivity: SensitivityRow[];
  rounds: SearchRound[];
  layers: LutnaReportLayer[];
  final: { accuracy: number; drop: number; withinBudget: boolean; evaluatedOn: 'verification'; fellBack: boolean } & CostTotals;
  totals: { mixed: CostTotals; lutnaExact: CostTotals; tLut: CostTotals; wallace: CostTotals; array: CostTotals; wallaceSameWidths: CostTotals };
  ratios: Record<'vsWallace' | 'vsArray' | 'vsLutnaExact' | 'vsTLut' | 'vsWallaceSameWidths', { energy: number; area: number }>;
  evaluations: number;
  /** The chosen configuration as a model (bit widths and scales; its products exact unless run with `run`). */
  model: GraphModel;
  config: Map<string, LayerChoice>;
}

export interface LutnaOptions {
  /** Accuracy loss allowed, in points (default 1). */
  budget?: number;
  objective?: LutnaObjective;
  actBits?: number[];
  weightBits?: number[];
  approx?: string[];
  tech: TechTable;
  /** Calibration batches (inputs) for narrower activations. */
  calibration: Tensor[];
  observer?: Observer;
  percentile?: number;
  bins?: number;
  /** Images for the sensitivities and the search's checks. */
  sensitivity: Batch[];
  /** Images of the final check (the full test set); default: the sensitivity images. */
  verification?: Batch[];
  rounds?: number;
  onProgress?: (stage: string, done: number, total: number) => void;
}

const key = (c: Pick<LayerChoice, 'actBits' | 'weightBits' | 'approx'>): string => `${c.actBits}x${c.weightBits}/${c.approx}`;

/** Cost of a multiplier design at widths (memoised per call of lutnaSearch). */
type Pricer = (partsA: number[], partsW: number[], drop: PairRef[], truncate: Truncation[], a: number, w: number) => { energyPJ: number; areaUm2: number; name: string } | null;

function pricer(tech: TechTable): Pricer {
  const memo = new Map<string, { energyPJ: number; areaUm2: number; name: string } | null>();
  return (partsA, partsW, drop, truncate, a, w) => {
    const k = JSON.stringify([partsA, partsW, drop, truncate, a, w]);
    if (memo.has(k)) return memo.get(k)!;
    let v: { energyPJ: number; areaUm2: number; name: string } | null;
    try {
      const c = macCost({ kind: 'lut', multiplier: { partsA, partsW, drop, truncate } }, tech, { bitsA: a, bitsW: w });
      v = { energyPJ: c.energyPJ, areaUm2: c.areaUm2, name: c.name };
    } catch (e) {
      if (!(e instanceof ArgumentError)) throw e;
      v = null; // a split or truncation the multiplier model refuses (a table over its limit, an empty truncation)
    }
    memo.set(k, v);
    return v;
  };
}

/** The cheapest exact split at widths (a, w) for the objective. */
export function cheapestExact(price: Pricer, a: number, w: number, objective: LutnaObjective): LayerChoice {
  let best: LayerChoice | null = null;
  for (let na = 1; na <= Math.min(4, a); na++) {
    for (let nw = 1; nw <= Math.min(4, w); nw++) {
      const partsA = evenParts(a, na);
      const partsW = evenParts(w, nw);
      const p = price(partsA, partsW, [], [], a, w);
      if (!p) continue;
      const c: LayerChoice = { actBits: a, weightBits: w, approx: 'exact', partsA, partsW, drop: [], truncate: [], design: p.name, energyPerMacPJ: p.energyPJ, unitAreaUm2: p.areaUm2 };
      const cost = (x: LayerChoice): number => (objective === 'energy' ? x.energyPerMacPJ : x.unitAreaUm2);
      if (!best || cost(c) < cost(best)) best = c;
    }
  }
  if (!best) throw new ArgumentError(`lutna: no LUT multiplier fits ${a}-bit x ${w}-bit operands`);
  return best;
}

/** An approximation of the exact choice `ex`, or null when it changes nothing or saves nothing. */
export function approxChoice(price: Pricer, ex: LayerChoice, approx: string, objective: LutnaObjective): LayerChoice | null {
  const { kind, t } = parseApprox(approx);
  if (kind === 'exact') return ex;
  const na = ex.partsA.length;
  const nw = ex.partsW.length;
  const offA = ex.partsA.map((_, i) => ex.partsA.slice(i + 1).reduce((s, p) => s + p, 0));
  const offW = ex.partsW.map((_, j) => ex.partsW.slice(j + 1).reduce((s, p) => s + p, 0));
  let drop: PairRef[] = [];
  let truncate: Truncation[] = [];
  if (kind === 'drop-ll') {
    if (na * nw < 2) return null;
    drop = [[na - 1, nw - 1]];
  } else if (kind === 'drop') {
    for (let i = 0; i < na; i++) for (let j = 0; j < nw; j++) if (offA[i] + offW[j] < t) drop.push([i, j]);
    if (drop.length === 0 || drop.length === na * nw) return null;
  } else {
    // Truncation below product bit t: pairs with shift < t lose t − shift LSBs; a pair left with nothing is dropped.
    const pairs: PairRef[] = [];
    for (let i = 0; i < na; i++) {
      for (let j = 0; j < nw; j++) {
        const k = t - offA[i] - offW[j];
        if (k <= 0) continue;
        if (k >= ex.partsA[i] + ex.partsW[j]) drop.push([i, j]);
        else pairs.push([i, j]);
      }
    }
    if (drop.length === 0 && pairs.length === 0) return null;
    if (drop.length === na * nw) return null;
    if (pairs.length > 0) truncate = [{ belowBit: t, mode: 'round', pairs }];
  }
  const p = price(ex.partsA, ex.partsW, drop, truncate, ex.actBits, ex.weightBits);
  if (!p) return null;
  const c: LayerChoice = { ...ex, approx, drop, truncate, design: p.name, energyPerMacPJ: p.energyPJ, unitAreaUm2: p.areaUm2 };
  const cost = (x: LayerChoice): number => (objective === 'energy' ? x.energyPerMacPJ : x.unitAreaUm2);
  return cost(c) < cost(ex) ? c : null;
}

/** |x| histograms of each quantized layer's input in `model` over the calibration batches (two passes: max, then bins). */
function inputHistograms(model: GraphModel, names: string[], batches: Tensor[], bins: number): Map<string, { max: number; counts: Float64Array; zeros: number; total: number }> {
  const want = new Set(names);
  const h = new Map(names.map((n) => [n, { max: 0, counts: new Float64Array(bins), zeros: 0, total: 0 }]));
  const pass = (see: (n: string, x: Float32Array) => void): void => {
    noGrad(() => {
      for (const x of batches) model.run([x], { hook: (ni, ins) => void (want.has(ni.node.name) && see(ni.node.name, ins[0]!.f32)) });
    });
  };
  pass((n, x) => {
    const e = h.get(n)!;
    for (let i = 0; i < x.length; i++) e.max = Math.max(e.max, Math.abs(x[i]));
  });
  pass((n, x) => {
    const e = h.get(n)!;
    const k = e.max > 0 ? bins / e.max : 0;
    for (let i = 0; i < x.length; i++) {
      const a = Math.abs(x[i]);
      if (a === 0) e.zeros++;
      else e.counts[Math.min(bins - 1, Math.floor(a * k))]++;
    }
    e.total += x.length;
  });
  return h;
}

/** Multiple-choice knapsack: per layer one option, minimum Σ cost with Σ loss ≤ budget (integer losses). */
export function knapsack(options: { cost: number; loss: number }[][], budget: number): { picks: number[]; cost: number; loss: number } | null {
  const B = Math.max(0, Math.floor(budget));
  let best: { cost: number; picks: number[] }[] = Array.from({ length: B + 1 }, () => ({ cost: 0, picks: [] }));
  for (const opts of options) {
    const next: { cost: number; picks: number[] }[] = Array.from({ length: B + 1 }, () => ({ cost: Infinity, picks: [] }));
    for (let b = 0; b <= B; b++) {
      opts.forEach((o, k) => {
        if (o.loss > b) return;
        const prev = best[b - o.loss];
        if (prev.cost === Infinity) return;
        const c = prev.cost + o.cost;
        if (c < next[b].cost - 1e-12) next[b] = { cost: c, picks: [...prev.picks, k] };
      });
    }
    best = next;
  }
  const end = best[B];
  if (end.cost === Infinity) return null;
  const loss = end.picks.reduce((s, k, l) => s + options[l][k].loss, 0);
  return { picks: end.picks, cost: end.cost, loss };
}

/** The quantized layers of a model with their MACs and weight reuse. */
export function lutnaLayers(model: GraphModel): LutnaLayer[] {
  const { layers } = macLayersOf(model.info, new Map(model.namedWeights()));
  const byName = new Map<string, MacLayer>(layers.map((l) => [l.name, l]));
  const out = model.info.nodes
    .filter((n) => n.node.op === 'QConv' || n.node.op === 'QLinear')
    .map((n) => ({
      name: n.node.name, op: n.node.op as 'QConv' | 'QLinear', macs: byName.get(n.node.name)!.macs, rows: byName.get(n.node.name)!.rows,
      baseActBits: n.attrs.act_bits as number, baseWeightBits: n.attrs.weight_bits as number,
    }));
  if (out.length === 0) throw new ArgumentError('lutna: the model has no quantized layers (QConv / QLinear); run lutnn quantize first');
  return out;
}

function digitalTotals(layers: LutnaLayer[], tech: TechTable, kind: 'wallace' | 'array', widths?: Map<string, LayerChoice>): CostTotals {
  let e = 0;
  let a = 0;
  for (const l of layers) {
    const c = widths?.get(l.name);
    const d = macCost({ kind: 'digital', multiplier: kind } as MacDesign, tech, { bitsA: c?.actBits ?? l.baseActBits, bitsW: c?.weightBits ?? l.baseWeightBits });
    e += l.macs * d.energyPJ;
    a += d.areaUm2;
  }
  return { energyUJ: e / 1e6, areaMm2: a / 1e6 };
}

function totalsOf(layers: LutnaLayer[], config: ReadonlyMap<string, LayerChoice>): CostTotals {
  let e = 0;
  let a = 0;
  for (const l of layers) {
    const c = config.get(l.name)!;
    e += l.macs * c.energyPerMacPJ;
    a += c.unitAreaUm2;
  }
  return { energyUJ: e / 1e6, areaMm2: a / 1e6 };
}

const ratio = (a: CostTotals, b: CostTotals): { energy: number; area: number } => ({ energy: b.energyUJ / a.energyUJ, area: b.areaMm2 / a.areaMm2 });

/** The search of the file comment on a quantized model. */
export function lutnaSearch(model: GraphModel, o: LutnaOptions): LutnaResult {
  const budget = o.budget ?? 1;
  const objective = o.objective ?? 'energy';
  const actGrid = [...new Set(o.actBits ?? [8, 6])].sort((a, b) => b - a);
  const weightGrid = [...new Set(o.weightBits ?? [9, 7, 5])].sort((a, b) => b - a);
  const approxList = [...new Set(o.approx ?? ['drop-ll', 'drop4', 'drop6', 'trunc4'])].filter((a) => a !== 'exact');
  // Within a family, weaker approximations first (a stronger one is skipped once a weaker one is over the budget).
  const rank = { exact: 0, 'drop-ll': 1, drop: 2, trunc: 3 } as const;
  approxList.sort((a, b) => {
    const x = parseApprox(a);
    const y = parseApprox(b);
    return rank[x.kind] - rank[y.kind] || x.t - y.t;
  });
  const rounds = o.rounds ?? 5;
  if (!(budget >= 0) || !Number.isFinite(budget)) throw new ArgumentError(`lutna: budget must be a number of points ≥ 0, got ${budget}`);
  if (objective !== 'energy' && objective !== 'area') throw new ArgumentError(`lutna: objective must be energy or area, got ${String(objective)}`);
  for (const b of actGrid) if (!Number.isInteger(b) || b < 2 || b > 8) throw new ArgumentError(`lutna: act bits must be integers in [2, 8], got ${b}`);
  for (const b of weightGrid) if (!Number.isInteger(b) || b < 2 || b > 16) throw new ArgumentError(`lutna: weight bits must be integers in [2, 16], got ${b}`);
  approxList.forEach(parseApprox);
  if (!Number.isInteger(rounds) || rounds < 1) throw new ArgumentError(`lutna: rounds must be an integer ≥ 1, got ${rounds}`);
  if (o.sensitivity.length === 0) throw new ArgumentError('lutna: no sensitivity images');
  const progress = o.onProgress ?? (() => {});
  const layers = lutnaLayers(model);
  const price = pricer(o.tech);
  const costOf = (l: LutnaLayer, c: LayerChoice): number => (objective === 'energy' ? l.macs * c.energyPerMacPJ : c.unitAreaUm2);

  // Activation scales at other widths: the file's observer over the quantized model's layer inputs.
  const bins = o.bins ?? 2048;
  const needCalib = layers.some((l) => actGrid.some((b) => b < l.baseActBits));
  if (needCalib && o.calibration.length === 0) throw new ArgumentError('lutna: narrower activations need calibration images');
  progress('calibrate', 0, 1);
  const hists = needCalib ? inputHistograms(model, layers.map((l) => l.name), o.calibration, bins) : new Map();
  progress('calibrate', 1, 1);
  const actScaleOf = (layer: string, bits: number): number => {
    const h = hists.get(layer)!;
    const clip = chooseClip(h, o.observer ?? 'mse', bits, o.percentile ?? 99.99);
    return clip > 0 ? Math.fround(clip / (2 ** (bits - 1) - 1)) : 1;
  };
  const runner = new LutnaRunner(model, actScaleOf);

  const baseConfig = new Map(layers.map((l) => [l.name, cheapestExact(price, l.baseActBits, l.baseWeightBits, objective)]));
  let evaluations = 0;
  const evalOn = (config: Map<string, LayerChoice>, batches: Batch[]): EvalResult => {
    evaluations++;
    return runner.evaluate(config, batches);
  };
  const verification = o.verification ?? o.sensitivity;
  const sameSets = verification === o.sensitivity;
  progress('baseline', 0, 1);
  const baseSens = evalOn(baseConfig, o.sensitivity);
  const nSens = baseSens.n;
  const baseCorrect = Math.round(baseSens.accuracy * nSens);
  progress('baseline', 1, 1);
  const budgetImages = Math.floor((budget / 100) * nSens + 1e-9);

  // Candidates.
  const cands = new Map<string, LayerChoice[]>(); // per layer, exact first per width, then approximations in list order
  for (const l of layers) {
    const list: LayerChoice[] = [];
    for (const a of actGrid) {
      if (a > l.baseActBits) continue;
      for (const w of weightGrid) {
        if (w > l.baseWeightBits) continue;
        const ex = a === l.baseActBits && w === l.baseWeightBits ? baseConfig.get(l.name)! : cheapestExact(price, a, w, objective);
        list.push(ex);
        for (const ap of approxList) {
          const c = approxChoice(price, ex, ap, objective);
          if (c && c !== ex && !list.some((x) => key(x) === key(c))) list.push(c);
        }
      }
    }
    cands.set(l.name, list);
  }
  const total = [...cands.values()].reduce((s, l) => s + l.length, 0);

  // 1. Sensitivities.
  const sens: SensitivityRow[] = [];
  const loss = new Map<string, Map<string, number>>(layers.map((l) => [l.name, new Map()]));
  let done = 0;
  progress('sensitivity', 0, total);
  for (const l of layers) {
    const lossL = loss.get(l.name)!;
    const exactLoss = new Map<string, number>();
    const familyOver = new Set<string>();
    const widthsOver: [number, number][] = [];
    const cache = runner.prefix(l.name, o.sensitivity);
    for (const c of cands.get(l.name)!) {
      done++;
      const wk = `${c.actBits}x${c.weightBits}`;
      const fam = parseApprox(c.approx).kind;
      const base = baseConfig.get(l.name)!;
      if (key(c) === key(base)) {
        lossL.set(key(c), 0);
        progress('sensitivity', done, total);
        continue;
      }
      const narrowerThanFailed = widthsOver.some(([a, w]) => c.actBits <= a && c.weightBits <= w);
      if (narrowerThanFailed || (c.approx !== 'exact' && ((exactLoss.get(wk) ?? 0) > budgetImages || familyOver.has(`${wk}/${fam}`)))) {
        progress('sensitivity', done, total);
        continue;
      }
      const config = new Map(baseConfig);
      config.set(l.name, c);
      evaluations++;
      const r = runner.evaluateFrom(config, cache);
      const lost = baseCorrect - Math.round(r.accuracy * nSens);
      if (c.approx === 'exact') {
        exactLoss.set(wk, lost);
        if (lost > budgetImages) widthsOver.push([c.actBits, c.weightBits]);
      } else if (lost > budgetImages && (fam === 'drop' || fam === 'trunc')) familyOver.add(`${wk}/${fam}`);
      lossL.set(key(c), Math.max(0, lost));
      const t = totalsOf(layers, config);
      sens.push({ layer: l.name, actBits: c.actBits, weightBits: c.weightBits, approx: c.approx, design: c.design, accuracy: r.accuracy, drop: (100 * lost) / nSens, energyUJ: t.energyUJ, areaMm2: t.areaMm2 });
      progress('sensitivity', done, total);
    }
  }

  // 2-3. Knapsack and verification rounds.
  const options = layers.map((l) => cands.get(l.name)!.filter((c) => loss.get(l.name)!.has(key(c))).map((c) => ({ c, cost: costOf(l, c), loss: loss.get(l.name)!.get(key(c))! })));
  const baseVer = sameSets ? baseSens : evalOn(baseConfig, verification);
  const nVer = baseVer.n;
  const baseVerCorrect = Math.round(baseVer.accuracy * nVer);
  const verBudget = Math.floor((budget / 100) * nVer + 1e-9);
  const roundsOut: SearchRound[] = [];
  let spend = budgetImages;
  let chosen: Map<string, LayerChoice> | null = null;
  let finalEval: EvalResult | null = null;
  const tried = new Map<string, { sens: EvalResult; ver: EvalResult | null }>();
  progress('search', 0, rounds);
  for (let r = 0; r < rounds && spend >= 0; r++) {
    const ks = knapsack(options.map((os) => os.map(({ cost, loss: lo }) => ({ cost, loss: lo }))), spend);
    if (!ks) break;
    const config = new Map(layers.map((l, i) => [l.name, options[i][ks.picks[i]].c]));
    const ck = layers.map((l) => key(config.get(l.name)!)).join(',');
    const prev = tried.get(ck);
    const sensR = prev?.sens ?? evalOn(config, o.sensitivity);
    const lost = baseCorrect - Math.round(sensR.accuracy * nSens);
    const t = totalsOf(layers, config);
    const cfg = Object.fromEntries(layers.map((l) => [l.name, key(config.get(l.name)!)]));
    roundsOut.push({ round: r, budgetImages: spend, predictedDrop: (100 * ks.loss) / nSens, on: 'sensitivity', accuracy: sensR.accuracy, drop: (100 * lost) / nSens, withinBudget: lost <= budgetImages, ...t, config: cfg });
    if (lost > budgetImages) {
      tried.set(ck, { sens: sensR, ver: null });
      spend = Math.min(spend - 1, spend - (lost - budgetImages));
      progress('search', r + 1, rounds);
      continue;
    }
    if (sameSets) {
      chosen = config;
      finalEval = sensR;
      break;
    }
    const verR = prev?.ver ?? evalOn(config, verification);
    tried.set(ck, { sens: sensR, ver: verR });
    const lostV = baseVerCorrect - Math.round(verR.accuracy * nVer);
    roundsOut.push({ round: r, budgetImages: spend, predictedDrop: (100 * ks.loss) / nSens, on: 'verification', accuracy: verR.accuracy, drop: (100 * lostV) / nVer, withinBudget: lostV <= verBudget, ...t, config: cfg });
    if (lostV <= verBudget) {
      chosen = config;
      finalEval = verR;
      break;
    }
    const over = Math.ceil(((lostV - verBudget) / nVer) * nSens);
    spend = Math.min(spend - 1, spend - over);
    progress('search', r + 1, rounds);
  }
  progress('search', rounds, rounds);
  const fellBack = chosen === null;
  if (!chosen) {
    chosen = baseConfig;
    finalEval = baseVer;
  }
  const final = chosen;
  const fin = finalEval!;
  const finLost = baseVerCorrect - Math.round(fin.accuracy * nVer);

  const mixed = totalsOf(layers, final);
  const lutnaExact = totalsOf(layers, baseConfig);
  const tl = new Map(layers.map((l) => {
    const p = price([l.baseActBits], [l.baseWeightBits], [], [], l.baseActBits, l.baseWeightBits)!;
    return [l.name, { ...baseConfig.get(l.name)!, energyPerMacPJ: p.energyPJ, unitAreaUm2: p.areaUm2 }];
  }));
  const tLut = totalsOf(layers, tl);
  const wallace = digitalTotals(layers, o.tech, 'wallace');
  const array = digitalTotals(layers, o.tech, 'array');
  const wallaceSameWidths = digitalTotals(layers, o.tech, 'wallace', final);
  const reportLayers: LutnaReportLayer[] = layers.map((l) => {
    const c = final.get(l.name)!;
    const b = baseConfig.get(l.name)!;
    const wal = macCost({ kind: 'digital', multiplier: 'wallace' }, o.tech, { bitsA: l.baseActBits, bitsW: l.baseWeightBits });
    return {
      ...l, chosen: c, sensitivityDrop: (100 * (loss.get(l.name)!.get(key(c)) ?? 0)) / nSens,
      energyUJ: (l.macs * c.energyPerMacPJ) / 1e6, unitAreaUm2: c.unitAreaUm2,
      baseEnergyUJ: (l.macs * b.energyPerMacPJ) / 1e6, baseUnitAreaUm2: b.unitAreaUm2,
      wallaceEnergyUJ: (l.macs * wal.energyPJ) / 1e6, wallaceUnitAreaUm2: wal.areaUm2,
    };
  });
  const perLayer = Object.fromEntries(layers.map((l) => [l.name, cands.get(l.name)!.length]));
  return {
    objective, budget, search: 'knapsack-dp', tech: o.tech.name,
    sensitivityImages: nSens, verificationImages: nVer,
    candidates: { actBits: actGrid, weightBits: weightGrid, approx: approxList, perLayer },
    base: { sensitivityAccuracy: baseSens.accuracy, verificationAccuracy: baseVer.accuracy },
    sensitivity: sens, rounds: roundsOut, layers: reportLayers,
    final: { accuracy: fin.accuracy, drop: (100 * finLost) / nVer, withinBudget: finLost <= verBudget, evaluatedOn: 'verification', fellBack, ...mixed },
    totals: { mixed, lutnaExact, tLut, wallace, array, wallaceSameWidths },
    ratios: {
      vsWallace: ratio(mixed, wallace), vsArray: ratio(mixed, array), vsLutnaExact: ratio(mixed, lutnaExact),
      vsTLut: ratio(mixed, tLut), vsWallaceSameWidths: ratio(mixed, wallaceSameWidths),
    },
    evaluations,
    model: runner.model(final),
    config: final,
  };
}
