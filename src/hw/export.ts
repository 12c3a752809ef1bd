// Exports of the hardware models for cross-checking elsewhere: Accelergy ERT and action counts (YAML), SCALE-Sim topology CSV.
import { ArgumentError } from '../errors.js';
import type { DesignReport, HwLayer, LayerReport } from './lut-dla-layers.js';
import type { ActionCount, ComponentEnergy } from './tech.js';

/*
 * Accelergy (v0.3 formats, written by hand: no YAML dependency):
 *   ERT.yaml            ERT: { version: 0.3, tables: [ { name, actions: [ { name, arguments: null, energy } ] } ] }
 *   action_counts.yaml  action_counts: { version: 0.3, local: [ { name, action_counts: [ { name, counts } ] } ] }
 * Energies are in pJ per action; a component stands for all its instances (counts are summed over them), and memory
 * actions are per bit (`read_bit`, `write_bit`), so Σ counts × energy reproduces the model's energy exactly.
 * Component names are `<prefix>.<component>` (prefix `lut_dla` or `systolic`).
 *
 * SCALE-Sim (v2) topology CSV, one image, every row ending in a comma as SCALE-Sim's reader expects:
 *   conv:  Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
 *          SCALE-Sim pads nothing and computes ofmap = ceil((H − kh + s) / s), so IFMAP is written as the padded
 *          height actually covered by the windows, (outH − 1)·s + kh, which gives our outH. A layer with unequal
 *          strides gets two stride columns (h, w). A Linear layer is written as SCALE-Sim writes GEMMs internally:
 *          rows × D input, a 1 × D filter, 1 channel, M filters.
 *   GEMM:  Layer, M, N, K,   with M = rows, N = outputs, K = inputs per row (SCALE-Sim's --mnk convention).
 * Commas and line breaks in layer names become '_' (SCALE-Sim splits on commas).
 */

/** A number as YAML that PyYAML reads back as the same int or float (6 significant digits for non-integers). */
export function yamlNumber(x: number): string {
  if (!Number.isFinite(x)) throw new ArgumentError(`yamlNumber: ${x} is not finite`);
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return x.toFixed(0);
  const s = String(Number(x.toPrecision(6)));
  if (!s.includes('e')) return s;
  return x.toExponential(5); // d.ddddde±X: PyYAML needs the dot and the sign
}

const comment = (s: string): string => `# ${s.replace(/[\r\n]+/g, ' ')}\n`;

/** The energy reference table of a design as Accelergy ERT YAML. */
export function accelergyErt(table: readonly ComponentEnergy[], opts: { prefix: string; title?: string }): string {
  let out = comment(opts.title ?? `lutnn ${opts.prefix} energy reference table (pJ per action)`);
  out += 'ERT:\n  version: 0.3\n  tables:\n';
  for (const comp of table) {
    out += `  - name: ${opts.prefix}.${comp.name}\n    actions:\n`;
    for (const a of comp.actions) out += `    - name: ${a.name}\n      arguments: null\n      energy: ${yamlNumber(a.energyPJ)}\n`;
  }
  return out;
}

/** Action counts (one layer's, or any list) as Accelergy action-counts YAML, components in first-seen order. */
export function accelergyActionCounts(actions: readonly ActionCount[], opts: { prefix: string; title?: string }): string {
  const byComp = new Map<string, ActionCount[]>();
  for (const a of actions) {
    const list = byComp.get(a.component) ?? [];
    list.push(a);
    byComp.set(a.component, list);
  }
  let out = comment(opts.title ?? `lutnn ${opts.prefix} action counts (summed over all instances of a component)`);
  out += 'action_counts:\n  version: 0.3\n  local:\n';
  for (const [comp, list] of byComp) {
    out += `  - name: ${opts.prefix}.${comp}\n    action_counts:\n`;
    for (const a of list) out += `    - name: ${a.action}\n      counts: ${yamlNumber(a.count)}\n`;
  }
  return out;
}

/** Counts of the same action summed over layers (for a whole-model action-counts file). */
export function sumActionCounts(layers: readonly Pick<LayerReport, 'actions'>[]): ActionCount[] {
  const total = new Map<string, ActionCount>();
  for (const l of layers) {
    for (const a of l.actions) {
      const key = `${a.component}\u0000${a.action}`;
      const t = total.get(key);
      if (t) t.count += a.count;
      else total.set(key, { ...a });
    }
  }
  return [...total.values()];
}

/** Everything Accelergy needs for a design report: the ERT, one action-counts file per layer and one for the model. */
export function accelergyExport(report: DesignReport): { ert: string; layers: { name: string; actionCounts: string }[]; model: string } {
  const prefix = report.design === 'lut-dla' ? 'lut_dla' : 'systolic';
  return {
    ert: accelergyErt(report.energyTable, { prefix, title: `lutnn ${prefix} energy reference table (pJ per action; tech ${report.techName})` }),
    layers: report.layers.map((l) => ({
      name: l.name,
      actionCounts: accelergyActionCounts(l.actions, { prefix, title: `lutnn ${prefix} action counts of layer ${l.name}, batch ${report.batch} (summed over all instances of a component)` }),
    })),
    model: accelergyActionCounts(sumActionCounts(report.layers), { prefix, title: `lutnn ${prefix} action counts of the model, batch ${report.batch} (summed over layers and instances)` }),
  };
}

const csvName = (s: string): string => s.replace(/[,\r\n]/g, '_');

/** The layers as a SCALE-Sim convolution topology CSV. */
export function scaleSimConvCsv(layers: readonly HwLayer[]): string {
  let out = 'Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n';
  for (const l of layers) {
    const g = l.conv;
    if (g) {
      const h = (g.outH - 1) * g.strideH + g.kh;
      const w = (g.outW - 1) * g.strideW + g.kw;
      const strides = g.strideH === g.strideW ? `${g.strideH}` : `${g.strideH}, ${g.strideW}`;
      out += `${csvName(l.name)}, ${h}, ${w}, ${g.kh}, ${g.kw}, ${g.cin}, ${g.cout}, ${strides},\n`;
    } else {
      out += `${csvName(l.name)}, ${l.rows}, ${l.inDim}, 1, ${l.inDim}, 1, ${l.outDim}, 1,\n`;
    }
  }
  return out;
}

/** The layers as a SCALE-Sim GEMM topology CSV (M = rows, N = outputs, K = inputs per row). */
export function scaleSimGemmCsv(layers: readonly HwLayer[]): string {
  let out = 'Layer, M, N, K,\n';
  for (const l of layers) out += `${csvName(l.name)}, ${l.rows}, ${l.outDim}, ${l.inDim},\n`;
  return out;
}
