// `lutnn eval`: test accuracy and loss of a model file on a dataset's test split (training engine or inference runtime).
import { Command } from 'commander';
import { DataLoader } from '../data/loader.js';
import { takeDataset, type DatasetName } from '../data/dataset.js';
import { ArgumentError, FormatError } from '../errors.js';
import { isDeployMetadata, readDeployContents } from '../io/deploy-format.js';
import { modelOf } from '../io/model-file.js';
import { readModelContents } from '../io/model-format.js';
import { loadSafetensors } from '../io/safetensors.js';
import { evaluate } from '../train/metrics.js';
import { evaluateOnRuntime } from '../app/evaluate.js';
import { setNumThreads } from '../backend/index.js';
import { createProgress } from './progress.js';
import { choiceArg, floatArg, intArg, loadDatasetWithProgress, machineInfo, printJson, runCommand } from './common.js';

interface EvalCliOptions {
  dataset?: DatasetName;
  dataDir?: string;
  batchSize: number;
  threads?: number;
  limitTest?: number;
  runtime: boolean;
  encoder?: 'f32' | 'int8' | 'wide';
  mean?: number;
  std?: number;
  json: boolean;
  quiet: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('test accuracy of a model file')
    .argument('<model>', 'model file (.safetensors) written by lutnn: a training file, or a deployment file (runs on the runtime)')
    .option('--dataset <name>', 'fashion-mnist | mnist (default: the one the model was trained on)', choiceArg('--dataset', ['fashion-mnist', 'mnist'] as const))
    .option('--data-dir <dir>', 'directory with IDX files; default: the embedded Fashion-MNIST')
    .option('--batch-size <n>', 'batch size', intArg('--batch-size', 1), 256)
    .option('--threads <n>', 'compute threads', intArg('--threads', 1))
    .option('--limit-test <n>', 'use only the first n test images', intArg('--limit-test', 1))
    .option('--runtime', 'evaluate on the inference runtime (BN folded, SIMD LUT kernels) instead of the training engine', false)
    .option('--encoder <name>', 'LUT encoder on the runtime: f32 (exact, default) | int8 | wide; implies --runtime', choiceArg('--encoder', ['f32', 'int8', 'wide'] as const))
    .option('--mean <m>', "input normalisation x = (pixel/255 - mean)/std (default: the model file's, else the dataset's)", floatArg('--mean'))
    .option('--std <s>', 'see --mean', floatArg('--std', Number.MIN_VALUE))
    .option('--json', 'print one JSON object with the results on stdout', false)
    .option('--quiet', 'no progress output', false)
    .action((file: string, opts: EvalCliOptions) => runCommand(() => evalModel(file, opts)));
}

async function evalModel(file: string, o: EvalCliOptions): Promise<void> {
  if (o.threads !== undefined) setNumThreads(o.threads);
  const st = loadSafetensors(file);
  // A deployment file (lutnn export --deploy) holds no trained weights: it runs on the runtime only.
  const deploy = isDeployMetadata(st.metadata) ? readDeployContents(st, file) : null;
  const trained = deploy ? null : modelOf(readModelContents(st, file), file);
  const meta = deploy ? deploy.meta : trained!.meta;
  const name = (o.dataset ?? meta.dataset?.name ?? 'fashion-mnist') as DatasetName;
  if (name !== 'fashion-mnist' && name !== 'mnist') throw new FormatError(`${file}: unknown dataset '${name}' in metadata`);
  const splits = loadDatasetWithProgress(name, o.dataDir, o.quiet || o.json);
  const test = o.limitTest ? takeDataset(splits.test, o.limitTest) : splits.test;
  if ((o.mean === undefined) !== (o.std === undefined)) throw new ArgumentError('eval: give --mean and --std together');
  const mean = o.mean ?? meta.dataset?.mean;
  const std = o.std ?? meta.dataset?.std;
  const loader = new DataLoader(test, { batchSize: o.batchSize, shuffle: false, mean, std });
  const bar = createProgress({ label: 'eval', total: test.n, quiet: o.quiet || o.json });
  const runtime = deploy !== null || o.runtime || o.encoder !== undefined;
  const encoder = runtime ? (o.encoder ?? 'f32') : null;
  const r = runtime
    ? evaluateOnRuntime(deploy ?? trained!.model, loader.epoch(0), [test.channels, test.height, test.width], encoder!, (done) => bar.update(done))
    : evaluate(trained!.model, loader.epoch(0), (done) => bar.update(done));
  bar.stop();
  const out = {
    command: 'eval',
    model: file,
    dataset: name,
    dataSource: splits.source,
    n: r.n,
    testAccuracy: r.accuracy,
    testLoss: r.loss,
    seconds: r.seconds,
    imagesPerSecond: r.imagesPerSecond,
    evaluatedOn: runtime ? 'runtime' : 'engine',
    modelFile: deploy ? 'deploy' : 'training',
    normalization: { mean: loader.mean, std: loader.std },
    encoder,
    machine: machineInfo(),
  };
  if (o.json) printJson(out);
  else {
    const where = runtime ? `, runtime, ${encoder} encoder` : '';
    process.stdout.write(`${file}: test accuracy ${(100 * r.accuracy).toFixed(2)}% (loss ${r.loss.toFixed(4)}, ${r.n} images, ${Math.round(r.imagesPerSecond)} img/s${where})\n`);
  }
}
