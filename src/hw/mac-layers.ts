// Energy per inference and area of a model's MAC layers on a MAC design (digital, T-LUT, LUT-NA, A-LUT-NA), per layer and in total.
//
// A layer is plain data: its MACs per image, its rows (outputs per weight per image: outH·outW for a conv, the leading
// dims' product for a Linear: how often each weight is reused per image) and its operand widths. Energy per inference
// = Σ_layers MACs × energy per MAC of the layer's design at the layer's widths (a weight-stationary design gets
// weightReuse = rows × batch). Area = `units` MAC units of every distinct design the model uses (a design at given
// widths that several layers share counts once; its largest unit when the weight reuse differs). Pruned MACs are whatever the caller leaves out
// of `macs`. Only MACs are priced: activations, pooling, normalisation and data movement are the same for every design
// and left out (see mac-cost.ts).
import { ArgumentError } from '../errors.js';
import { macCost, type MacCost, type MacDesign } from './mac-cost.js';
import type { TechTable } from './tech.js';

export interface MacLayer {
  name: string;
  /** MACs per image (after any pruning). */
  macs: number;
  /** Uses of each weight per image (conv: outH·outW; Linear: the rows per image). */
  rows: number;
  bitsA: number;
  bitsW: number;
}

export interface MacLayerReport {
  name: string;
  design: string;
  kind: MacCost['kind'];
  macs: number;
  bitsA: number;
  bitsW: number;
  energyPerMacPJ: number;
  /** Energy per inference (pJ) at batch 1, per image at `batch`. */
  energyPJ: number;
  /** Area of one MAC unit of this layer's design. */
  unitAreaUm2: number;
  cyclesPerMac: number;
  approximate: boolean;
}

export interface MacModelReport {
  techName: string;
  batch: number;
  units: number;
  accBits: number;
  layers: MacLayerReport[];
  macs: number;
  /** Energy per inference (pJ per image). */
  energyPJ: number;
  /** `units` units of every distinct design (name → area of one unit). */
  designs: { name: string; unitAreaUm2: number; layers: string[] }[];
  areaUm2: number;
}

export interface MacReportOptions {
  /** MAC units of each design (default 1: the area of one unit). */
  units?: number;
  /** Images per weight load for weight-stationary designs (default 1). */
  batch?: number;
  accBits?: number;
  romMaxEntries?: number;
}

function checkLayer(l: MacLayer): void {
  const at = `macReport: layer '${l.name}'`;
  if (!Number.isFinite(l.macs) || l.macs < 0) throw new ArgumentError(`${at}: macs must be a finite number >= 0, got ${String(l.macs)}`);
  if (!Number.isFinite(l.rows) || l.rows < 1) throw new ArgumentError(`${at}: rows must be a finite number >= 1, got ${String(l.rows)}`);
  for (const f of ['bitsA', 'bitsW'] as const) {
    if (!Number.isInteger(l[f]) || l[f] < 1 || l[f] > 16) throw new ArgumentError(`${at}: ${f} must be an integer in [1, 16], got ${String(l[f])}`);
  }
}

/** Per-layer and total energy and area of `layers` on `design` (one for all layers, or chosen per layer). */
export function macReport(layers: readonly MacLayer[], design: MacDesign | ((l: MacLayer) => MacDesign), tech: TechTable, opts: MacReportOptions = {}): MacModelReport {
  const units = opts.units ?? 1;
  const batch = opts.batch ?? 1;
  const accBits = opts.accBits ?? 32;
  if (!Number.isInteger(units) || units < 1) throw new ArgumentError(`macReport: units must be an integer >= 1, got ${String(units)}`);
  if (!Number.isInteger(batch) || batch < 1) throw new ArgumentError(`macReport: batch must be an integer >= 1, got ${String(batch)}`);
  const pick = typeof design === 'function' ? design : () => design;
  const designs = new Map<string, { unitAreaUm2: number; layers: string[] }>();
  const out: MacLayerReport[] = layers.map((l) => {
    checkLayer(l);
    const cost = macCost(pick(l), tech, { bitsA: l.bitsA, bitsW: l.bitsW, accBits, weightReuse: l.rows * batch, romMaxEntries: opts.romMaxEntries });
    const d = designs.get(cost.name) ?? { unitAreaUm2: 0, layers: [] };
    d.unitAreaUm2 = Math.max(d.unitAreaUm2, cost.areaUm2);
    d.layers.push(l.name);
    designs.set(cost.name, d);
    return {
      name: l.name, design: cost.name, kind: cost.kind, macs: l.macs, bitsA: l.bitsA, bitsW: l.bitsW,
      energyPerMacPJ: cost.energyPJ, energyPJ: l.macs * cost.energyPJ, unitAreaUm2: cost.areaUm2, cyclesPerMac: cost.cyclesPerMac, approximate: cost.approximate,
    };
  });
  const ds = [...designs].map(([name, d]) => ({ name, ...d }));
  return {
    techName: tech.name, batch, units, accBits, layers: out,
    macs: out.reduce((s, l) => s + l.macs, 0),
    energyPJ: out.reduce((s, l) => s + l.energyPJ, 0),
    designs: ds,
    areaUm2: units * ds.reduce((s, d) => s + d.unitAreaUm2, 0),
  };
}

/** How many times less energy and area `a` needs than `b` (b / a; > 1 means a is cheaper). */
export function macSavings(a: MacModelReport, b: MacModelReport): { energy: number; area: number } {
  return { energy: b.energyPJ / a.energyPJ, area: b.areaUm2 / a.areaUm2 };
}
