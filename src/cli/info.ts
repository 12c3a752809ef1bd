// `lutnn info MODEL`: per-node and total cost (MACs, lookups, bytes, activations, bits/activation) of a model file or zoo model.
/*
 * lutnn info MODEL [--json] [--batch N] [--input-shape C,H,W] [--compare DENSE] [--lut [--v SPEC] [--k K] [--layers LIST]]
 *
 * MODEL is a model file (loaded with loadModel: its graph, version 1 files converted) or, when no such file exists, a
 * zoo model name (fmnist-cnn, mlp, ...: its graph with fresh seeded weights). The cost is pure arithmetic on the
 * graph (src/graph/cost.ts, modelCost; conventions at its top): one entry per node, in topological order. The input
 * shape of one sample is the graph input's; --input-shape re-analyses the graph for another one. MACs and element
 * ops are per image; activation and workspace bytes are at --batch (default 1). --compare adds ratios against a
 * dense model (a file or a zoo name), matched by node name. --lut reports the model's LUT-NN form instead (the layers
 * `lutnn convert` replaces by default, or --layers; V and K as convert's --v and --k), built without data (seeded
 * centroids: costs depend on shapes only), compared against MODEL itself.
 *
 * --json prints one object:
 *   command: 'info'
 *   file: MODEL as given;  source: 'file' | 'zoo'
 *   batch: N;  inputShape: one sample's shape (no batch dim)
 *   arch: summary of the graph: { root: 'graph', nodes (node count), modules and leafLayers (= nodes, kept from the
 *     module-tree format), types: {opType: count}, params (trained scalars), inputs / outputs: [{ name, dtype,
 *     shape }] (graph inputs and outputs, dim 0 the batch 'N') }
 *   layers: LayerCost[], one per node in topological order, each with
 *     name (node name: the module path for lowered modules), type (op type), kind ('dense'|'lut'|'maddness'|'norm'|
 *     'elementwise'|'pool'|'shape'|'other'), calls (1), inputShape (first computed input) / outputShape (output 0)
 *     at batch 1, leading 1 included,
 *     macs (dense: Conv outH·outW·Cout·Cin/groups·kh·kw, Linear rows·in·out, MatMul out·k; LUT: encodeMacs +
 *       lookupAdds; MADDNESS: lookupAdds), encodeMacs (N·D·K), lookupAdds (N·C·M), comparisons (MADDNESS N·C·4),
 *       elementOps,
 *     params (trained scalars of the initializers it reads first), paramBytes (inference bytes: fp32 params; LUT fp32
 *       centroids + int8 table + scale + bias), deployBytes (LUT: int8 centroids + per-codebook scales + int8 table +
 *       scale + int32 bias; a BN that folds: 0, or 4·C when the node it folds into has no bias),
 *     trainingOnlyBytes (LUT: weight [C,V,M] and θ), bufferBytes (BN running stats),
 *     inputBytes (computed inputs), outputBytes, activationBytes (= input + output at batch, by dtype),
 *       workspaceBytes (dense conv im2col rows, LUT codes N·C bytes), bitsPerActivation (32 dense, log2(K)/V LUT,
 *       4/V MADDNESS, null otherwise),
 *     foldedInto (BN: the node it folds into, else null), note,
 *     lut (LUT nodes): { ncodebooks, k, subvecLen, outDim, rowsPerImage, metric, temperature (1/(softplus(θ)+1)),
 *       quantize, bytes: { centroidsF32, centroidsInt8, centroidScales, table, tableScale, bias, weight, theta } },
 *     maddness (MADDNESS nodes): { ncodebooks, leaves, subvecLen, outDim, rowsPerImage, bytes: { table, tableScale,
 *       thresholdsF32, thresholdsInt8, splitDimsInt32, splitDimsUint8, bias } }
 *   total: { batch, inputShape, outputShape, macs, denseMacs, lutMacs, encodeMacs, lookupAdds, comparisons, elementOps,
 *     macsPerBatch, params, paramBytes, denseParamBytes, lutParamBytes, deployBytes, trainingOnlyBytes, bufferBytes,
 *     peakActivationBytes (liveness over the node order: values still to be read + the node's outputs + workspace),
 *     peakLayer, unknownLayers }
 *   comparison: null, or with --compare: { denseFile, layers: [{ name, denseType, lutType, denseMacs, lutMacs,
 *     macRatio, denseBytes, lutBytes, byteRatio, deployByteRatio }], total: { denseMacs, lutMacs, macRatio,
 *     denseBytes, lutBytes, byteRatio, deployByteRatio, replaced: { names, macRatio, byteRatio, deployByteRatio } } }
 *     (ratios are dense / this model: how many times fewer)
 *   meta: { dataset (meta.dataset or null), accuracy (meta.info.testAccuracy when a number, else null), info (meta.info
 *     or null) }; all null for a zoo model
 */
import { existsSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { ArgumentError } from '../errors.js';
import type { Dim } from '../graph/dims.js';
import type { GraphModel } from '../graph/model.js';
import type { IrDType } from '../graph/types.js';
import { compareCost, modelCost, type CostComparison, type LayerCost, type ModelCost } from '../graph/cost.js';
import { loadModel, type ModelMeta } from '../io/model-file.js';
import { createModel, isZooModel, listModels } from '../nn/zoo.js';
import { Rng } from '../tensor/rng.js';
import { convertStructure } from '../lut/convert.js';
import { parseLayers, parseV } from './convert.js';
import { intArg, printJson, runCommand } from './common.js';

interface InfoCliOptions {
  json: boolean;
  batch: number;
  inputShape?: number[];
  compare?: string;
  lut: boolean;
  v?: string;
  k: number;
  layers?: string;
}

function shapeArg(v: string): number[] {
  const dims = v.split(/[,x ]+/).filter((s) => s !== '').map(Number);
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new InvalidArgumentError(`--input-shape must be positive integers like 1,28,28, got '${v}'`);
  }
  return dims;
}

export function infoCommand(): Command {
  const zoo = listModels().map((m) => m.name).join(', ');
  return new Command('info')
    .description('per-node and total cost of a model file or zoo model: MACs, lookups, parameter/table bytes, activations, bits per activation')
    .argument('<model>', `model file (.safetensors) written by lutnn, or a zoo model name (${zoo})`)
    .option('--json', 'print one JSON object on stdout', false)
    .option('--batch <n>', 'batch size for activation and workspace bytes', intArg('--batch', 1), 1)
    .option('--input-shape <dims>', 'one sample\'s input shape, e.g. 1,28,28 (default: the graph input\'s)', shapeArg)
    .option('--compare <dense>', 'dense model (file or zoo name) to compute MAC and byte ratios against')
    .option('--lut', 'report the LUT-NN form of MODEL (default layers, built without data) compared with MODEL', false)
    .option('--v <spec>', 'with --lut: sub-vector length per kind, e.g. conv=9,conv1x1=4,linear=16')
    .option('--k <n>', 'with --lut: centroids per codebook', intArg('--k', 2), 16)
    .option('--layers <list>', 'with --lut: node names or globs to convert ("-name" keeps one dense)')
    .action((model: string, opts: InfoCliOptions) => runCommand(() => info(model, opts)));
}

interface IoSummary {
  name: string;
  dtype: IrDType;
  shape: Dim[];
}

interface ArchSummary {
  root: 'graph';
  nodes: number;
  modules: number;
  leafLayers: number;
  types: Record<string, number>;
  params: number;
  inputs: IoSummary[];
  outputs: IoSummary[];
}

function archSummary(model: GraphModel): ArchSummary {
  const types: Record<string, number> = {};
  for (const n of model.info.nodes) types[n.node.op] = (types[n.node.op] ?? 0) + 1;
  const nodes = model.info.nodes.length;
  const io = (name: string): IoSummary => {
    const v = model.info.values.get(name)!;
    return { name, dtype: v.dtype, shape: [...v.shape] };
  };
  return {
    root: 'graph', nodes, modules: nodes, leafLayers: nodes, types, params: model.numParameters(),
    inputs: model.graph.inputs.map((i) => io(i.name)), outputs: model.graph.outputs.map(io),
  };
}

/** A model file, or a zoo model (fresh seeded weights) when no file of that name exists. */
function loadSource(name: string): { model: GraphModel; meta: ModelMeta | null; source: 'file' | 'zoo' } {
  if (!existsSync(name) && isZooModel(name)) {
    const model = createModel(name, { rng: new Rng(0) });
    model.eval();
    return { model, meta: null, source: 'zoo' };
  }
  if (!existsSync(name)) {
    throw new ArgumentError(`info: no file '${name}' and no zoo model of that name (zoo: ${listModels().map((m) => m.name).join(', ')})`);
  }
  const { model, meta } = loadModel(name);
  return { model, meta, source: 'file' };
}

function accuracyOf(meta: ModelMeta | null): number | null {
  const a = meta?.info?.testAccuracy ?? meta?.info?.accuracy;
  return typeof a === 'number' && Number.isFinite(a) ? a : null;
}

async function info(name: string, o: InfoCliOptions): Promise<void> {
  const loaded = loadSource(name);
  const { meta, source } = loaded;
  let model = loaded.model;
  let comparison: (CostComparison & { denseFile: string }) | null = null;
  if (o.lut) {
    if (o.compare !== undefined) throw new ArgumentError('info: --lut compares with MODEL itself; drop --compare');
    const { include, exclude } = parseLayers(o.layers);
    model = convertStructure(model, { k: o.k, v: parseV(o.v), include, exclude }).model;
  }
  const cost = modelCost(model, o.inputShape, { batch: o.batch });
  if (o.lut) comparison = { denseFile: name, ...compareCost(modelCost(loaded.model, o.inputShape, { batch: o.batch }), cost) };
  if (o.compare !== undefined) {
    const dense = loadSource(o.compare);
    comparison = { denseFile: o.compare, ...compareCost(modelCost(dense.model, o.inputShape, { batch: o.batch }), cost) };
  }
  const arch = archSummary(model);
  const inputShape = cost.total.inputShape;
  const metaOut = { dataset: meta?.dataset ?? null, accuracy: accuracyOf(meta), info: meta?.info ?? null };
  if (o.json) {
    printJson({ command: 'info', file: name, source, batch: o.batch, inputShape, arch, layers: cost.layers, total: cost.total, comparison, meta: metaOut });
    return;
  }
  const title = `${name}${source === 'zoo' ? ' (zoo, fresh weights)' : ''}${o.lut ? ', LUT-NN form (built without data)' : ''}`;
  process.stdout.write(renderText(title, arch, metaOut, cost, comparison, inputShape, o.batch));
}

// ---------------------------------------------------------------- text output

/** 19094528 → '19.09M'. */
export function siCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** 3484072 → '3.32 MiB'. */
export function fmtBytes(n: number): string {
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

const fmtRatio = (r: number | null): string => (r === null ? '-' : `${r.toFixed(2)}x`);

function table(rows: string[][], rightAlign: boolean[]): string {
  const w = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  return rows.map((r) => r.map((c, j) => (rightAlign[j] ? c.padStart(w[j]) : c.padEnd(w[j]))).join('  ').trimEnd()).join('\n') + '\n';
}

function lutCell(l: LayerCost): string {
  if (l.lut) return `K=${l.lut.k} V=${l.lut.subvecLen} C=${l.lut.ncodebooks} ${l.lut.metric} t=${l.lut.temperature.toFixed(4)}${l.lut.quantize ? '' : ' float'}`;
  if (l.maddness) return `MADDNESS leaves=${l.maddness.leaves} V=${l.maddness.subvecLen} C=${l.maddness.ncodebooks}`;
  if (l.foldedInto !== null) return `folds into ${l.foldedInto}`;
  return l.note ?? '';
}

function renderText(
  file: string,
  arch: ArchSummary,
  meta: { dataset: NonNullable<ModelMeta['dataset']> | null; accuracy: number | null },
  cost: ModelCost,
  cmp: (CostComparison & { denseFile: string }) | null,
  inputShape: number[],
  batch: number,
): string {
  const t = cost.total;
  const ds = meta.dataset ? `dataset ${meta.dataset.name}` : 'no dataset recorded';
  const acc = meta.accuracy !== null ? `, test accuracy ${(100 * meta.accuracy).toFixed(2)}%` : '';
  let out = `${file}: ${arch.root} of ${arch.nodes} nodes, ${arch.params.toLocaleString('en-US')} parameters; ${ds}${acc}\n`;
  out += `input [${inputShape.join(',')}] per sample; MACs per image; activation bytes at batch ${batch}\n\n`;
  const ratioBy = new Map((cmp?.layers ?? []).map((l) => [l.name, l]));
  const head = ['name', 'type', 'output', 'MACs', 'encode', 'lookups', 'param B', 'deploy B', 'act B', 'work B', 'bits/act'];
  if (cmp) head.push('xMACs', 'xBytes');
  head.push('LUT');
  const rows: string[][] = [head];
  for (const l of cost.layers) {
    const row = [
      l.name || '(model)',
      l.type,
      l.outputShape ? `[${l.outputShape.slice(1).join(',')}]` : '-',
      siCount(l.macs),
      l.encodeMacs ? siCount(l.encodeMacs) : '',
      l.lookupAdds ? siCount(l.lookupAdds) : '',
      l.paramBytes ? fmtBytes(l.paramBytes) : '',
      l.deployBytes ? fmtBytes(l.deployBytes) : '',
      fmtBytes(l.activationBytes),
      l.workspaceBytes ? fmtBytes(l.workspaceBytes) : '',
      l.bitsPerActivation === null ? '' : String(+l.bitsPerActivation.toFixed(3)),
    ];
    if (cmp) {
      const c = ratioBy.get(l.name);
      row.push(c && c.denseType !== c.lutType ? fmtRatio(c.macRatio) : '', c && c.denseType !== c.lutType ? fmtRatio(c.byteRatio) : '');
    }
    row.push(lutCell(l));
    rows.push(row);
  }
  out += table(rows, head.map((h) => !['name', 'type', 'output', 'LUT'].includes(h)));
  out += `\ntotal MACs per image: ${siCount(t.macs)} (${t.macs.toLocaleString('en-US')}); dense ${siCount(t.denseMacs)}, LUT ${siCount(t.lutMacs)}`;
  out += t.lutMacs ? ` (encode ${siCount(t.encodeMacs)}, lookups ${siCount(t.lookupAdds)})` : '';
  out += t.comparisons ? `; MADDNESS comparisons ${siCount(t.comparisons)}` : '';
  out += `; ${siCount(t.elementOps)} element ops\n`;
  out += `parameters: ${t.params.toLocaleString('en-US')} stored; inference ${fmtBytes(t.paramBytes)} (dense ${fmtBytes(t.denseParamBytes)}, LUT ${fmtBytes(t.lutParamBytes)}); `;
  out += `deployed ${fmtBytes(t.deployBytes)}; training-only ${fmtBytes(t.trainingOnlyBytes)}; buffers ${fmtBytes(t.bufferBytes)}\n`;
  out += `peak activations at batch ${batch}: ${fmtBytes(t.peakActivationBytes)} (at ${t.peakLayer ?? '-'}: live values + outputs + workspace)\n`;
  if (t.unknownLayers.length > 0) out += `not counted (unknown compute): ${t.unknownLayers.join(', ')}\n`;
  if (cmp) {
    const c = cmp.total;
    out += `vs ${cmp.denseFile}: ${fmtRatio(c.macRatio)} fewer MACs, ${fmtRatio(c.byteRatio)} fewer bytes (${fmtRatio(c.deployByteRatio)} deployed)`;
    out += c.replaced.names.length ? `; replaced layers ${c.replaced.names.join(', ')}: ${fmtRatio(c.replaced.macRatio)} MACs, ${fmtRatio(c.replaced.byteRatio)} bytes\n` : '\n';
  }
  return out;
}
