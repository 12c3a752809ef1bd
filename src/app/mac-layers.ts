// The MAC layers of a graph model as plain data for the energy and area model (src/hw/mac-layers.ts): MACs, weight reuse, operand widths.
import type { GraphInfo } from '../graph/analyze.js';
import { graphCost } from '../graph/cost.js';
import type { Tensor } from '../tensor/tensor.js';
import type { MacLayer } from '../hw/mac-layers.js';

/**
 * Conv, Linear and weight-MatMul nodes (dense or quantized) with their MACs per image (src/graph/cost.ts) and rows =
 * MACs / (inputs per output · outputs): how often each weight is used per image. Quantized nodes (QConv, QLinear) bring
 * their act_bits / weight_bits; float nodes are priced at `bitsA` / `bitsW` (default 8 / 9, as if quantized). LUT-NN,
 * MADDNESS and activation × activation MatMul nodes are listed in `skipped`.
 */
export function macLayersOf(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, opts: { bitsA?: number; bitsW?: number } = {}): { layers: MacLayer[]; skipped: { name: string; op: string; reason: string }[] } {
  const bitsA = opts.bitsA ?? 8;
  const bitsW = opts.bitsW ?? 9;
  const cost = graphCost(info, weights);
  const layers: MacLayer[] = [];
  const skipped: { name: string; op: string; reason: string }[] = [];
  info.nodes.forEach((ni, i) => {
    const { name, op } = ni.node;
    const macs = cost.layers[i].macs;
    const w = ni.inputs[1]?.shape as number[] | undefined;
    const q = op === 'QConv' || op === 'QLinear';
    const bits = q ? { bitsA: ni.attrs.act_bits as number, bitsW: ni.attrs.weight_bits as number } : { bitsA, bitsW };
    if (op === 'Conv' || op === 'QConv') {
      const [cout, cinG, kh, kw] = w!;
      layers.push({ name, macs, rows: macs / (cout * cinG * kh * kw), ...bits });
    } else if (op === 'Linear' || op === 'QLinear') {
      const [M, D] = w!;
      layers.push({ name, macs, rows: macs / (M * D), ...bits });
    } else if (op === 'MatMul') {
      if (info.roles.has(ni.node.inputs[1]) && w!.length === 2) layers.push({ name, macs, rows: macs / (w![0] * w![1]), ...bits });
      else if (macs > 0) skipped.push({ name, op, reason: 'activation × activation product (no weight)' });
    } else if (macs > 0) {
      skipped.push({ name, op, reason: `${op} is not a scalar-MAC layer` });
    }
  });
  return { layers, skipped };
}
