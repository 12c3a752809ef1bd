// What the hardware models share: layer descriptors (GEMM shapes, conv geometry, LUT settings), reports and tiling helpers.
import { ArgumentError, ShapeError } from '../errors.js';
import type { GraphInfo, NodeInfo } from '../graph/analyze.js';
import type { Dim } from '../graph/dims.js';
import { zeroBreakdown, type ActionCount, type ComponentEnergy, type EnergyBreakdown } from './tech.js';

/*
 * A layer is a GEMM per image: `rows` input rows of `inDim` values each give `rows` output rows of `outDim` values.
 * A conv is its im2col GEMM: rows = outH·outW, inDim = Cin·kh·kw, outDim = Cout; the hardware reads the input
 * feature map (inputElems = H·W·Cin values per image) from DRAM once and forms the im2col rows on chip by address
 * generation, so DRAM traffic counts H·W·Cin inputs while on-chip reads count the im2col elements.
 * A LUT layer adds its LUT-NN settings: subvecLen V (C = inDim / V codebooks), k centroids, the distance metric,
 * and optionally the table-entry and activation widths (default: the accelerator's).
 */

export type Metric = 'l2' | 'l1' | 'chebyshev';

export const METRICS: readonly Metric[] = ['l2', 'l1', 'chebyshev'];

/** Conv geometry (for the SCALE-Sim export and for reading inputs once). */
export interface ConvGeometry {
  inH: number;
  inW: number;
  cin: number;
  cout: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  outH: number;
  outW: number;
}

/** LUT-NN settings of a layer run on LUT-DLA. */
export interface LutSettings {
  /** V: inputs per sub-vector; inDim must be a multiple of it. */
  subvecLen: number;
  /** K: centroids per codebook. */
  k: number;
  metric: Metric;
  /** Bits of a table entry (default: the accelerator's tableBits). */
  tableBits?: number;
  /** Bits of an activation (default: the accelerator's actBits). */
  actBits?: number;
}

export interface HwLayer {
  name: string;
  /** N: GEMM rows per image (outH·outW for a conv, the leading dims' product for a Linear). */
  rows: number;
  /** D: inputs per row. */
  inDim: number;
  /** M: outputs per row. */
  outDim: number;
  /** Distinct input values per image read from DRAM (conv: H·W·Cin); default rows·inDim. */
  inputElems?: number;
  conv?: ConvGeometry;
  lut?: LutSettings;
}

const posInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1;

/** Checks a layer's numbers (positive integers; V divides inDim); errors name the layer and the field. */
export function checkLayer(l: HwLayer, who: string): void {
  const at = `${who}: layer '${l.name}'`;
  for (const f of ['rows', 'inDim', 'outDim'] as const) {
    if (!posInt(l[f])) throw new ArgumentError(`${at}: ${f} must be an integer >= 1, got ${String(l[f])}`);
  }
  if (l.inputElems !== undefined && !posInt(l.inputElems)) throw new ArgumentError(`${at}: inputElems must be an integer >= 1, got ${String(l.inputElems)}`);
  const lut = l.lut;
  if (!lut) return;
  if (!posInt(lut.subvecLen)) throw new ArgumentError(`${at}: lut.subvecLen must be an integer >= 1, got ${String(lut.subvecLen)}`);
  if (!posInt(lut.k) || lut.k < 2) throw new ArgumentError(`${at}: lut.k must be an integer >= 2, got ${String(lut.k)}`);
  if (!METRICS.includes(lut.metric)) throw new ArgumentError(`${at}: lut.metric must be one of ${METRICS.join(', ')}, got ${String(lut.metric)}`);
  if (l.inDim % lut.subvecLen !== 0) throw new ShapeError(`${at}: inDim ${l.inDim} is not a multiple of subvecLen ${lut.subvecLen}`);
  for (const f of ['tableBits', 'actBits'] as const) {
    if (lut[f] !== undefined && !posInt(lut[f])) throw new ArgumentError(`${at}: lut.${f} must be an integer >= 1, got ${String(lut[f])}`);
  }
}

/** Input values per image read from DRAM. */
export const inputElemsOf = (l: HwLayer): number => l.inputElems ?? l.rows * l.inDim;

const windowOut = (size: number, k: number, s: number, p: number): number => Math.floor((size + 2 * p - k) / s) + 1;

/** A 2-D conv (square or [h, w] kernel, stride, padding; no dilation, no groups) as an im2col GEMM layer. */
export function convLayer(
  name: string,
  o: { inH: number; inW: number; cin: number; cout: number; kernel: number | readonly [number, number]; stride?: number | readonly [number, number]; padding?: number | readonly [number, number] },
  lut?: LutSettings,
): HwLayer {
  const pair = (x: number | readonly [number, number]): [number, number] => (typeof x === 'number' ? [x, x] : [x[0], x[1]]);
  const [kh, kw] = pair(o.kernel);
  const [strideH, strideW] = pair(o.stride ?? 1);
  const [padH, padW] = pair(o.padding ?? 0);
  for (const [f, x] of Object.entries({ inH: o.inH, inW: o.inW, cin: o.cin, cout: o.cout, kh, kw, strideH, strideW })) {
    if (!posInt(x)) throw new ArgumentError(`convLayer '${name}': ${f} must be an integer >= 1, got ${String(x)}`);
  }
  if (!Number.isSafeInteger(padH) || padH < 0 || !Number.isSafeInteger(padW) || padW < 0) throw new ArgumentError(`convLayer '${name}': padding must be integers >= 0, got ${padH}, ${padW}`);
  const outH = windowOut(o.inH, kh, strideH, padH);
  const outW = windowOut(o.inW, kw, strideW, padW);
  if (outH < 1 || outW < 1) throw new ShapeError(`convLayer '${name}': kernel ${kh}x${kw} does not fit the ${o.inH}x${o.inW} input with padding ${padH}, ${padW}`);
  const conv: ConvGeometry = { inH: o.inH, inW: o.inW, cin: o.cin, cout: o.cout, kh, kw, strideH, strideW, padH, padW, outH, outW };
  const layer: HwLayer = { name, rows: outH * outW, inDim: o.cin * kh * kw, outDim: o.cout, inputElems: o.inH * o.inW * o.cin, conv, ...(lut ? { lut } : {}) };
  checkLayer(layer, 'convLayer');
  return layer;
}

/** A Linear layer (`rows` rows per image, 1 for a classifier head) as a GEMM layer. */
export function linearLayer(name: string, inDim: number, outDim: number, opts: { rows?: number } = {}, lut?: LutSettings): HwLayer {
  const layer: HwLayer = { name, rows: opts.rows ?? 1, inDim, outDim, ...(lut ? { lut } : {}) };
  checkLayer(layer, 'linearLayer');
  return layer;
}

/** The same layer with other LUT settings (or none). */
export const withLut = (l: HwLayer, lut: LutSettings | undefined): HwLayer => {
  const { lut: _old, ...rest } = l;
  return lut ? { ...rest, lut } : rest;
};

// ---- From a graph (shapes only; the graph module is imported for its types) ----

/** Per-image value of a dim: a number, or k for the symbolic k·N. */
function perImage(d: Dim, where: string): number {
  if (typeof d === 'number') return d;
  const m = /^(?:([1-9][0-9]*)\*)?N$/.exec(d);
  if (!m) throw new ShapeError(`${where}: dim ${JSON.stringify(d)} is not a number or a multiple of N`);
  return m[1] === undefined ? 1 : Number(m[1]);
}

/** Rows per image of an [..., D] input: the product of the leading dims, the batch N counted once. */
function rowsOf(shape: readonly Dim[], where: string): number {
  return shape.slice(0, -1).reduce<number>((p, d) => p * perImage(d, where), 1);
}

const nums = (a: unknown): number[] => (Array.isArray(a) ? (a as number[]) : []);

/**
 * The GEMM layers of an analysed graph: Conv (groups 1, dilation 1) and Linear as dense layers, LutConv and
 * LutLinear with their LUT settings (V and K from the centroids [C, K, V], the metric attribute). Other nodes
 * carry no MACs worth an accelerator here, or are not modelled (MatMul, MADDNESS, grouped or dilated convs): those
 * are listed in `skipped` with the reason.
 */
export function layersFromGraph(info: GraphInfo): { layers: HwLayer[]; skipped: { name: string; op: string; reason: string }[] } {
  const layers: HwLayer[] = [];
  const skipped: { name: string; op: string; reason: string }[] = [];
  const shapeIn = (ni: NodeInfo, i: number): readonly Dim[] => {
    const s = ni.inputs[i]?.shape;
    if (!s) throw new ShapeError(`layersFromGraph: node '${ni.node.name}' (${ni.node.op}) has no input ${i}`);
    return s;
  };
  for (const ni of info.nodes) {
    const { name, op } = ni.node;
    const where = `layersFromGraph: node '${name}' (${op})`;
    const a = ni.attrs;
    if (op === 'Conv' || op === 'LutConv') {
      const dil = nums(a.dilation);
      if (op === 'Conv' && a.groups !== 1) {
        skipped.push({ name, op, reason: `groups ${String(a.groups)} (grouped convs are not modelled)` });
        continue;
      }
      if (dil.some((d) => d !== 1)) {
        skipped.push({ name, op, reason: `dilation ${dil.join('x')} (dilated convs are not modelled)` });
        continue;
      }
      const x = shapeIn(ni, 0);
      const [cin, inH, inW] = [x[1], x[2], x[3]].map((d) => perImage(d, where));
      let kernel: [number, number];
      let cout: number;
      let lut: LutSettings | undefined;
      if (op === 'Conv') {
        const w = shapeIn(ni, 1).map((d) => perImage(d, where));
        kernel = [w[2], w[3]];
        cout = w[0];
      } else {
        const [, K, V] = shapeIn(ni, 1).map((d) => perImage(d, where));
        const k = nums(a.kernel);
        kernel = [k[0], k[1]];
        cout = perImage(shapeIn(ni, 2)[2], where);
        lut = { subvecLen: V, k: K, metric: a.metric as Metric };
      }
      const s = nums(a.stride);
      const p = nums(a.padding);
      layers.push(convLayer(name, { inH, inW, cin, cout, kernel, stride: [s[0], s[1]], padding: [p[0], p[1]] }, lut));
    } else if (op === 'Linear' || op === 'LutLinear') {
      const x = shapeIn(ni, 0);
      const rows = rowsOf(x, where);
      const inDim = perImage(x[x.length - 1], where);
      if (op === 'Linear') {
        layers.push(linearLayer(name, inDim, perImage(shapeIn(ni, 1)[0], where), { rows }));
      } else {
        const [, K, V] = shapeIn(ni, 1).map((d) => perImage(d, where));
        const M = perImage(shapeIn(ni, 2)[2], where);
        layers.push(linearLayer(name, inDim, M, { rows }, { subvecLen: V, k: K, metric: a.metric as Metric }));
      }
    } else if (op === 'MatMul' || op === 'MaddnessLinear' || op === 'MaddnessConv') {
      skipped.push({ name, op, reason: `${op} is not modelled by the accelerator models` });
    }
  }
  return { layers, skipped };
}

// ---- Reports the hardware models share ----

/** DRAM traffic of a layer in bytes (reads split by what is read). */
export interface DramTraffic {
  input: number;
  /** Tables + centroids (LUT-DLA) or weights (MAC array), re-reads included. */
  params: number;
  output: number;
  read: number;
  write: number;
}

/** One layer on one design (counts for the whole batch). */
export interface LayerReport {
  name: string;
  /**
   * total = max(compute-side cycles, DRAM cycles) + fill. LUT-DLA: compute = max(encode, lookup); the MAC array
   * counts its fill and drain inside `compute` (SCALE-Sim's weight-stationary count), so its `fill` is 0.
   */
  cycles: { total: number; compute: number; encode: number; lookup: number; dram: number; fill: number };
  seconds: number;
  energyPJ: number;
  energyByCategory: EnergyBreakdown;
  dramBytes: DramTraffic;
  /** How the layer was tiled to fit the buffers (design-specific fields). */
  tiling: Record<string, number | boolean>;
  actions: ActionCount[];
}

/** Area of a design by component (um2). */
export interface AreaReport {
  totalUm2: number;
  byComponent: Record<string, number>;
}

/** A model (a list of layers) on one design. */
export interface DesignReport {
  design: 'lut-dla' | 'systolic';
  techName: string;
  clockMHz: number;
  batch: number;
  layers: LayerReport[];
  /** Energy per action (the Accelergy ERT). */
  energyTable: ComponentEnergy[];
  area: AreaReport;
  /** Sums over the layers for the batch (layers run one after another). */
  total: { cycles: number; seconds: number; energyPJ: number; energyByCategory: EnergyBreakdown; dramBytes: DramTraffic };
  /** Per image: energy (with and without DRAM), the batch's latency per image, and the efficiencies. */
  perInference: { energyPJ: number; energyExclDramPJ: number; seconds: number; inferencesPerJoule: number; inferencesPerSecond: number; inferencesPerSecondPerMm2: number };
}

/** Adds up a design's layer reports. */
export function summarise(design: DesignReport['design'], o: { techName: string; clockMHz: number; batch: number; layers: LayerReport[]; energyTable: ComponentEnergy[]; area: AreaReport }): DesignReport {
  const energyByCategory = zeroBreakdown();
  const dramBytes: DramTraffic = { input: 0, params: 0, output: 0, read: 0, write: 0 };
  let cycles = 0;
  let energyPJ = 0;
  for (const l of o.layers) {
    cycles += l.cycles.total;
    energyPJ += l.energyPJ;
    for (const k of Object.keys(energyByCategory) as (keyof EnergyBreakdown)[]) energyByCategory[k] += l.energyByCategory[k];
    for (const k of Object.keys(dramBytes) as (keyof DramTraffic)[]) dramBytes[k] += l.dramBytes[k];
  }
  const seconds = cycles / (o.clockMHz * 1e6);
  const per = energyPJ / o.batch;
  const ips = seconds > 0 ? o.batch / seconds : 0;
  return {
    design,
    techName: o.techName,
    clockMHz: o.clockMHz,
    batch: o.batch,
    layers: o.layers,
    energyTable: o.energyTable,
    area: o.area,
    total: { cycles, seconds, energyPJ, energyByCategory, dramBytes },
    perInference: {
      energyPJ: per,
      energyExclDramPJ: (energyPJ - energyByCategory.dram) / o.batch,
      seconds: seconds / o.batch,
      inferencesPerJoule: per > 0 ? 1e12 / per : 0,
      inferencesPerSecond: ips,
      inferencesPerSecondPerMm2: ips / (o.area.totalUm2 / 1e6),
    },
  };
}

/**
 * LUT-DLA against the MAC array on the same layers: powerEfficiency = MAC energy per inference / LUT-DLA's (with
 * DRAM, and without it: the core alone), areaEfficiency = (inferences/s/mm²) LUT-DLA / MAC, speedup = MAC latency /
 * LUT-DLA latency, area = LUT-DLA area / MAC area.
 */
export function compareDesigns(lut: DesignReport, mac: DesignReport): { powerEfficiency: number; powerEfficiencyExclDram: number; areaEfficiency: number; speedup: number; areaRatio: number } {
  return {
    powerEfficiency: mac.perInference.energyPJ / lut.perInference.energyPJ,
    powerEfficiencyExclDram: mac.perInference.energyExclDramPJ / lut.perInference.energyExclDramPJ,
    areaEfficiency: lut.perInference.inferencesPerSecondPerMm2 / mac.perInference.inferencesPerSecondPerMm2,
    speedup: mac.perInference.seconds / lut.perInference.seconds,
    areaRatio: lut.area.totalUm2 / mac.area.totalUm2,
  };
}

/** Positive-integer (or positive-number) fields of a config, with errors naming the design and the field. */
export function checkConfigFields(who: string, cfg: object, ints: readonly string[], reals: readonly string[]): void {
  const rec = cfg as Record<string, unknown>;
  for (const f of ints) {
    const x = rec[f];
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 1) throw new ArgumentError(`${who}: config.${f} must be an integer >= 1, got ${String(x)}`);
  }
  for (const f of reals) {
    const x = rec[f];
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new ArgumentError(`${who}: config.${f} must be a finite number > 0, got ${String(x)}`);
  }
}

/** Σ over the tiles of `n` in tiles of `t` of ceil(tile / lanes): steps to stream n items through `lanes` lanes. */
export function laneSteps(n: number, t: number, lanes: number): number {
  const full = Math.floor(n / t);
  const rest = n - full * t;
  return full * Math.ceil(t / lanes) + (rest > 0 ? Math.ceil(rest / lanes) : 0);
}
