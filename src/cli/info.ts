// `lutnn info FILE`: per-layer and total cost (MACs, lookups, bytes, activations, bits/activation) of a model file.
/*
 * lutnn info FILE [--json] [--batch N] [--input-shape C,H,W] [--compare DENSE_FILE]
 *
 * Loads FILE with loadModel and runs one no-grad forward of a zero input to get every layer's shapes
 * (src/lut/cost.ts, modelCost). The input shape of one sample comes from --input-shape, else the file's
 * meta.dataset.inputShape, else [1,28,28] for fashion-mnist / mnist. MACs and element ops are per image;
 * activation and workspace bytes are at --batch (default 1). --compare adds ratios against a dense model file.
 *
 * --json prints one object:
 *   command: 'info'
 *   file: the path given
 *   batch: N;  inputShape: one sample's shape (no batch dim)
 *   arch: { root, modules, leafLayers, types: {typeName: count}, params }   summary of meta.arch
 *   layers: LayerCost[], in call order, each with
 *     name (dotted path), type (registered type name), kind ('dense'|'lut'|'maddness'|'norm'|'elementwise'|'pool'|'shape'|'other'),
 *     calls, inputShape / outputShape (at batch 1, leading 1 included; null if never called),
 *     macs (dense: conv outH·outW·Cout·Cin/groups·kh·kw, linear in·out; LUT: encodeMacs + lookupAdds;
 *       MADDNESS: lookupAdds), encodeMacs (N·D·K), lookupAdds (N·C·M), comparisons (MADDNESS N·C·4), elementOps,
 *     params (stored scalars), paramBytes (inference bytes: fp32 params; LUT fp32 centroids + int8 table + scale + bias),
 *     deployBytes (LUT: int8 centroids + per-codebook scales + int8 table + scale + int32 bias; a BN that folds: 0),
 *     trainingOnlyBytes (LUT: weight [C,V,M] and θ), bufferBytes (BN running stats),
 *     inputBytes, outputBytes, activationBytes (= input + output, fp32 at batch), workspaceBytes (dense conv im2col
 *       rows, LUT codes N·C bytes), bitsPerActivation (32 dense, log2(K)/V LUT, null otherwise),
 *     foldedInto (BN: the layer it folds into, else null), note,
 *     lut (LUT layers): { ncodebooks, k, subvecLen, outDim, rowsPerImage, metric, temperature (1/(softplus(θ)+1)),
 *       quantize, bytes: { centroidsF32, centroidsInt8, centroidScales, table, tableScale, bias, weight, theta } },
 *     maddness (MADDNESS layers): { ncodebooks, leaves, subvecLen, outDim, rowsPerImage, bytes: { table, tableScale,
 *       thresholdsF32, thresholdsInt8, splitDimsInt32, splitDimsUint8, bias } }
 *   total: { batch, inputShape, outputShape, macs, denseMacs, lutMacs, encodeMacs, lookupAdds, comparisons, elementOps,
 *     macsPerBatch, params, paramBytes, denseParamBytes, lutParamBytes, deployBytes, trainingOnlyBytes, bufferBytes,
 *     peakActivationBytes (max over layers of input + output + workspace: sequential execution), peakLayer,
 *     unknownLayers }
 *   comparison: null, or with --compare: { denseFile, layers: [{ name, denseType, lutType, denseMacs, lutMacs,
 *     macRatio, denseBytes, lutBytes, byteRatio, deployByteRatio }], total: { denseMacs, lutMacs, macRatio,
 *     denseBytes, lutBytes, byteRatio, deployByteRatio, replaced: { names, macRatio, byteRatio, deployByteRatio } } }
 *     (ratios are dense / this file: how many times fewer)
 *   meta: { dataset (meta.dataset or null), accuracy (meta.info.testAccuracy when a number, else null), info (meta.info or null) }
 */
import { Command, InvalidArgumentError } from 'commander';
import { ArgumentError } from '../errors.js';
import { loadModel, type ModelMeta } from '../io/model-file.js';
import type { Module } from '../nn/module.js';
import type { ModuleSpec } from '../nn/spec.js';
// cost.js imports the LUT-NN and MADDNESS layer modules, which registers their types so loadModel can build them.
import { compareCost, modelCost, type CostComparison, type LayerCost, type ModelCost } from '../lut/cost.js';
import { intArg, printJson, runCommand } from './common.js';

interface InfoCliOptions {
  json: boolean;
  batch: number;
  inputShape?: number[];
  compare?: string;
}

function shapeArg(v: string): number[] {
  const dims = v.split(/[,x ]+/).filter((s) => s !== '').map(Number);
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new InvalidArgumentError(`--input-shape must be positive integers like 1,28,28, got '${v}'`);
  }
  return dims;
}

export function infoCommand(): Command {
  return new Command('info')
    .description('per-layer and total cost of a model file: MACs, lookups, parameter/table bytes, activations, bits per activation')
    .argument('<model>', 'model file (.safetensors) written by lutnn')
    .option('--json', 'print one JSON object on stdout', false)
    .option('--batch <n>', 'batch size for activation and workspace bytes', intArg('--batch', 1), 1)
    .option('--input-shape <dims>', 'one sample\'s input shape, e.g. 1,28,28 (default: from the file\'s metadata)', shapeArg)
    .option('--compare <dense>', 'dense model file to compute MAC and byte ratios against')
    .action((file: string, opts: InfoCliOptions) => runCommand(() => info(file, opts)));
}

interface ArchSummary {
  root: string;
  modules: number;
  leafLayers: number;
  types: Record<string, number>;
  params: number;
}

function archSummary(meta: ModelMeta, model: Module): ArchSummary {
  const types: Record<string, number> = {};
  let modules = 0;
  let leafLayers = 0;
  const walk = (n: ModuleSpec): void => {
    modules++;
    if (n.children.length === 0) {
      leafLayers++;
      types[n.type] = (types[n.type] ?? 0) + 1;
    }
    n.children.forEach(walk);
  };
  walk(meta.arch.root);
  return { root: meta.arch.root.type, modules, leafLayers, types, params: model.numParameters() };
}

function inputShapeFor(file: string, meta: ModelMeta, given?: number[]): number[] {
  if (given) return given;
  const s = meta.dataset?.inputShape;
  if (Array.isArray(s) && s.length > 0) return [...s];
  const name = meta.dataset?.name;
  if (name === 'fashion-mnist' || name === 'mnist') return [1, 28, 28];
  throw new ArgumentError(`info: ${file} names no input shape in its metadata; pass --input-shape (e.g. 1,28,28)`);
}

function accuracyOf(meta: ModelMeta): number | null {
  const a = meta.info?.testAccuracy ?? meta.info?.accuracy;
  return typeof a === 'number' && Number.isFinite(a) ? a : null;
}

async function info(file: string, o: InfoCliOptions): Promise<void> {
  const { model, meta } = loadModel(file);
  const inputShape = inputShapeFor(file, meta, o.inputShape);
  const cost = modelCost(model, inputShape, { batch: o.batch });
  let comparison: (CostComparison & { denseFile: string }) | null = null;
  if (o.compare !== undefined) {
    const dense = loadModel(o.compare);
    comparison = { denseFile: o.compare, ...compareCost(modelCost(dense.model, inputShape, { batch: o.batch }), cost) };
  }
  const arch = archSummary(meta, model);
  const metaOut = { dataset: meta.dataset ?? null, accuracy: accuracyOf(meta), info: meta.info ?? null };
  if (o.json) {
    printJson({ command: 'info', file, batch: o.batch, inputShape, arch, layers: cost.layers, total: cost.total, comparison, meta: metaOut });
    return;
  }
  process.stdout.write(renderText(file, arch, metaOut, cost, comparison, inputShape, o.batch));
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
  meta: { dataset: ModelMeta['dataset'] | null; accuracy: number | null },
  cost: ModelCost,
  cmp: (CostComparison & { denseFile: string }) | null,
  inputShape: number[],
  batch: number,
): string {
  const t = cost.total;
  const ds = meta.dataset ? `dataset ${meta.dataset.name}` : 'no dataset recorded';
  const acc = meta.accuracy !== null ? `, test accuracy ${(100 * meta.accuracy).toFixed(2)}%` : '';
  let out = `${file}: ${arch.root}, ${arch.leafLayers} layers, ${arch.params.toLocaleString('en-US')} parameters; ${ds}${acc}\n`;
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
  out += `peak activations at batch ${batch}: ${fmtBytes(t.peakActivationBytes)} (${t.peakLayer ?? '-'}: input + output + workspace)\n`;
  if (t.unknownLayers.length > 0) out += `not counted (unknown compute): ${t.unknownLayers.join(', ')}\n`;
  if (cmp) {
    const c = cmp.total;
    out += `vs ${cmp.denseFile}: ${fmtRatio(c.macRatio)} fewer MACs, ${fmtRatio(c.byteRatio)} fewer bytes (${fmtRatio(c.deployByteRatio)} deployed)`;
    out += c.replaced.names.length ? `; replaced layers ${c.replaced.names.join(', ')}: ${fmtRatio(c.replaced.macRatio)} MACs, ${fmtRatio(c.replaced.byteRatio)} bytes\n` : '\n';
  }
  return out;
}
