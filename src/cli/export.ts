// `lutnn export`: a lutnn model file (a graph model, dense or LUT-NN) → an ONNX model of standard ops (--onnx) or a
// deployment file for lutnn's runtime (--deploy: deploy.ts), written atomically.
import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadModel } from '../io/model-file.js';
import { DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, exportOnnx } from '../io/onnx-export.js';
import { choiceArg, intArg, printJson, runCommand } from './common.js';
import { exportDeploy } from './deploy.js';

interface ExportCliOptions {
  onnx?: string;
  deploy?: string;
  opset: number;
  batch: number | 'dynamic';
  inputShape?: number[];
  codes: boolean;
  sum: 'chain' | 'reduce';
  lutMarker: boolean;
  dynamicInt8?: true | 'per-tensor' | 'per-channel';
  json: boolean;
}

function batchArg(v: string): number | 'dynamic' {
  if (v === 'dynamic') return v;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`--batch must be an integer >= 1 or 'dynamic', got '${v}'`);
  return n;
}

function shapeArg(v: string): number[] {
  const dims = v.split(',').map((s) => Number(s.trim()));
  if (dims.length === 0 || !dims.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new InvalidArgumentError(`--input-shape must be positive integers separated by commas (one sample, e.g. 1,28,28), got '${v}'`);
  }
  return dims;
}

/** lutnn's version from package.json, found upward from this file (src/cli under tsx, dist/src/cli when built). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

export function exportCommand(): Command {
  return new Command('export')
    .description('export a model file (dense or LUT) to ONNX with standard ops only, or to a deployment file for lutnn.load')
    .argument('<model>', 'model file (.safetensors) written by lutnn')
    .addOption(new Option('--onnx <file>', 'output ONNX file'))
    .addOption(new Option('--deploy <file>', "output deployment file for lutnn's runtime: the graph, int8 LUT tables and scales, centroids, folded biases; no training tensors").conflicts('onnx'))
    .addOption(new Option('--opset <n>', `ONNX opset, ${MIN_OPSET}..${MAX_OPSET}`).argParser(intArg('--opset', MIN_OPSET)).default(DEFAULT_OPSET).conflicts('deploy'))
    .addOption(new Option('--batch <n|dynamic>', "fixed batch size, or 'dynamic' for a symbolic batch dim").argParser(batchArg).default('dynamic' as const).conflicts('deploy'))
    .addOption(new Option('--input-shape <C,H,W>', "one sample's input shape (default: the graph's input; another shape re-checks the graph for it)").argParser(shapeArg).conflicts('deploy'))
    .addOption(new Option('--codes', "add each LUT layer's codes as an extra int64 output '<layer>.codes' [rows, C]").default(false).conflicts('deploy'))
    .addOption(new Option('--sum <mode>', 'LUT table sum: chain (bit-identical to lutnn) | reduce (one ReduceSum, faster)').argParser(choiceArg('--sum', ['chain', 'reduce'] as const)).default('chain' as const).conflicts('deploy'))
    .option('--no-lut-marker', 'leave out the marker and tensors that let lutnn import restore the LUT layers (a smaller file)')
    .addOption(new Option('--dynamic-int8 [scales]', "dense layers in onnxruntime's dynamic int8 form (quantize_dynamic's: int8 weights, MatMulInteger / ConvInteger); scales per-tensor (default) or per-channel").choices(['per-tensor', 'per-channel']).conflicts('deploy'))
    .option('--json', 'print one JSON object on stdout', false)
    .action((file: string, opts: ExportCliOptions, cmd: Command) => {
      if (opts.onnx === undefined && opts.deploy === undefined) cmd.error("error: give --onnx <file> (an ONNX model) or --deploy <file> (a deployment file for lutnn's runtime)");
      return runCommand(() => (opts.deploy !== undefined ? exportDeploy(file, opts.deploy, { json: opts.json }) : exportModel(file, opts)));
    });
}

async function exportModel(file: string, o: ExportCliOptions): Promise<void> {
  const t0 = performance.now();
  if (o.opset > MAX_OPSET) throw new ArgumentError(`export: --opset must be in ${MIN_OPSET}..${MAX_OPSET}, got ${o.opset}`);
  const out = o.onnx!;
  if (resolve(out) === resolve(file)) throw new ArgumentError(`export: --onnx ${out} is the input model file; choose another output path`);
  const dir = dirname(resolve(out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ArgumentError(`export: --onnx ${out}: directory ${dirname(out)} does not exist`);
  if (existsSync(out) && statSync(out).isDirectory()) throw new ArgumentError(`export: --onnx ${out} is a directory, expected a file path`);
  const { model, meta } = loadModel(file);
  const metadata: Record<string, string> = { 'lutnn.source': file, 'lutnn.graph': JSON.stringify(meta.graph) };
  if (meta.dataset) {
    metadata['lutnn.dataset'] = meta.dataset.name;
    // The graph takes normalized input, as model.forward does: (pixel/255 − mean)/std.
    metadata['lutnn.input_normalization'] = JSON.stringify({ mean: meta.dataset.mean, std: meta.dataset.std, pixelScale: 1 / 255 });
  }
  // --input-shape overrides the graph's input shape: exportOnnx re-analyses the graph for [N, ...shape], and an
  // error names the node that does not fit it.
  const r = exportOnnx(model, {
    inputShape: o.inputShape, opset: o.opset, batch: o.batch, codes: o.codes, sum: o.sum, lutMarker: o.lutMarker,
    dynamicInt8: o.dynamicInt8 === undefined ? false : { perChannel: o.dynamicInt8 === 'per-channel' },
    producerVersion: packageVersion(), metadata,
    docString: `lutnn model ${file}; input is normalized as lutnn's model.forward expects`,
  });
  writeFileAtomic(out, r.bytes);
  const res = {
    command: 'export', model: file, out, bytes: r.bytes.length, opset: r.opset, irVersion: r.irVersion, batch: o.batch,
    inputShape: r.inputShape, input: r.input, output: r.output, inputs: r.inputs, outputs: r.outputs, extraOutputs: r.extraOutputs, nodes: r.nodes,
    initializers: r.initializers, ops: r.ops, sum: r.sum,
    dynamicInt8: o.dynamicInt8 === undefined ? null : o.dynamicInt8 === 'per-channel' ? 'per-channel' : 'per-tensor', layers: r.layers, lutLayers: r.lutLayers, lutTrainingBytes: r.lutTrainingBytes,
    seconds: (performance.now() - t0) / 1000,
  };
  if (o.json) printJson(res);
  else {
    const luts = r.lutLayers.map((l) => `${l.name} (${l.kind}, ${l.metric}, C=${l.ncodebooks}, V=${l.subvecLen}, K=${l.k}, ${l.tableDtype} table)`);
    process.stdout.write(`wrote ${out}: ${r.bytes.length} bytes, opset ${r.opset}, ${r.nodes} nodes; LUT layers: ${luts.length ? luts.join(', ') : 'none'}\n`);
  }
}
