// `lutnn import`: an ONNX model (PyTorch's torch.onnx.export, opsets 13–21) → a lutnn model file, written atomically.
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NORMALIZATION, type DatasetName } from '../data/dataset.js';
import { ArgumentError } from '../errors.js';
import { perSample } from '../graph/dims.js';
import { saveModel } from '../io/model-file.js';
import type { DatasetMeta } from '../io/model-format.js';
import { importOnnxFile } from '../io/onnx-import-file.js';
import { floatArg, printJson, runCommand } from './common.js';

interface ImportCliOptions {
  out: string;
  inputShape?: number[];
  dataset?: string;
  mean?: number;
  std?: number;
  json: boolean;
}

function shapeArg(v: string): number[] {
  const dims = v.split(',').map((s) => Number(s.trim()));
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 1 && d <= 2 ** 31 - 1)) {
    throw new InvalidArgumentError(`--input-shape must be positive integers separated by commas (one sample, e.g. 1,28,28), got '${v}'`);
  }
  return dims;
}

function nameArg(v: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new InvalidArgumentError(`--dataset must be a name like fashion-mnist, got '${v}'`);
  return v;
}

export function importCommand(): Command {
  return new Command('import')
    .description('import an ONNX model (e.g. from torch.onnx.export) as a lutnn model file')
    .argument('<model>', 'ONNX file (.onnx), external data beside it')
    .requiredOption('--out <file>', 'output model file (.safetensors)')
    .option('--input-shape <C,H,W>', "one sample's shape of the first input (needed when the file leaves dims other than the batch symbolic)", shapeArg)
    .option('--dataset <name>', 'dataset the model takes (fashion-mnist | mnist for eval; stored in the model file)', nameArg)
    .option('--mean <m>', 'input normalisation x = (pixel/255 - mean)/std (default: the dataset\'s)', floatArg('--mean'))
    .option('--std <s>', 'see --mean', floatArg('--std', Number.MIN_VALUE))
    .option('--json', 'print one JSON object on stdout', false)
    .action((file: string, opts: ImportCliOptions) => runCommand(() => importModel(file, opts)));
}

/** The dataset and normalisation to store: flags first, then what a lutnn-exported file says, then the dataset's defaults. */
function datasetMeta(o: ImportCliOptions, metadata: Record<string, string>, inputShape: number[] | null, classes: number | null): DatasetMeta | undefined {
  if ((o.mean === undefined) !== (o.std === undefined)) throw new ArgumentError('import: give --mean and --std together');
  let fromFile: { mean?: unknown; std?: unknown } = {};
  try {
    fromFile = JSON.parse(metadata['lutnn.input_normalization'] ?? '{}') as typeof fromFile;
  } catch {
    fromFile = {};
  }
  const name = o.dataset ?? metadata['lutnn.dataset'];
  if (name === undefined) {
    if (o.mean !== undefined) throw new ArgumentError('import: --mean / --std need --dataset (the data they normalise)');
    return undefined;
  }
  const known = NORMALIZATION[name as DatasetName] as { mean: number; std: number } | undefined;
  const fileNorm = typeof fromFile.mean === 'number' && typeof fromFile.std === 'number' && fromFile.std > 0 ? { mean: fromFile.mean, std: fromFile.std } : undefined;
  const norm = o.mean !== undefined ? { mean: o.mean, std: o.std! } : fileNorm ?? known;
  if (!norm) throw new ArgumentError(`import: dataset '${name}' has no default normalisation in lutnn; give --mean and --std`);
  return { name, mean: norm.mean, std: norm.std, ...(classes ? { classes } : {}), ...(inputShape ? { inputShape } : {}) };
}

async function importModel(file: string, o: ImportCliOptions): Promise<void> {
  const t0 = performance.now();
  const out = o.out;
  if (resolve(out) === resolve(file)) throw new ArgumentError(`import: --out ${out} is the input file; choose another output path`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ArgumentError(`import: --out ${out}: directory ${dirname(out)} does not exist`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new ArgumentError(`import: --out ${out} is a directory, expected a file path`);
  const r = importOnnxFile(file, { inputShape: o.inputShape });
  const out0 = r.outputs[0].shape;
  const classes = out0.length === 2 && typeof out0[1] === 'number' ? out0[1] : null;
  const dataset = datasetMeta(o, r.metadata, r.inputs[0].dtype === 'float32' ? perSample(r.inputs[0].shape) : null, classes);
  const info = { importedFrom: file, opset: r.opset, producer: r.producer, onnxNodes: r.onnxNodes, fused: r.fused, lutLayers: r.lutLayers };
  saveModel(out, r.model, { ...(dataset ? { dataset } : {}), info });
  const weights = r.model.namedWeights();
  const res = {
    command: 'import', model: file, out, bytes: statSync(out).size, opset: r.opset, irVersion: r.irVersion, producer: r.producer,
    inputs: r.inputs, outputs: r.outputs, onnxNodes: r.onnxNodes, folded: r.folded, fused: r.fused, lutLayers: r.lutLayers,
    nodes: r.nodes, ops: r.ops, params: r.model.numParameters(), weights: weights.length,
    weightBytes: weights.reduce((a, [, t]) => a + t.data.byteLength, 0), dataset: dataset ?? null,
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.json) printJson(res);
  else {
    const fused = Object.entries(r.fused).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
    process.stdout.write(`wrote ${out}: ${r.nodes} nodes (${Object.entries(r.ops).map(([k, n]) => `${k} ${n}`).join(', ')}) from ${r.onnxNodes} ONNX nodes (opset ${r.opset}; ${r.folded} folded${fused.length ? `; fused ${fused.join(', ')}` : ''}${r.lutLayers ? `; ${r.lutLayers} marked lutnn layers` : ''}), ${res.params} parameters${dataset ? `, dataset ${dataset.name} (mean ${dataset.mean}, std ${dataset.std})` : ''}\n`);
  }
}
