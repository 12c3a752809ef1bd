// End to end from a PyTorch-trained model (the fmnist-cnn-trained fixture of scripts/make_onnx_fixtures.py): lutnn import →
// eval (PyTorch's accuracy?) → convert → finetune (accuracy within a point?) → export → onnxruntime-node (the same
// predictions as lutnn?). Each step is the CLI in a child process; prints one JSON object with --json.
//   npx tsx bench/onnx-import-e2e.ts [--epochs 1] [--distill] [--v SPEC] [--calib 1024] [--limit-train N] [--dir DIR] [--json]
// --distill fine-tunes with distillation from the imported dense model (finetune --distill).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { noGrad } from '../src/autograd/engine.js';
import { machineInfo } from '../src/cli/common.js';
import { loadEmbeddedFashionMnist } from '../src/data/fashion-mnist.js';
import { DataLoader } from '../src/data/loader.js';
import { loadModel } from '../src/io/model-file.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test', 'fixtures', 'onnx');
const entry = (JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { name: string; file: string; mean: number; std: number; testAccuracy: number; predictions: { file: string } }[]).find((e) => e.name === 'fmnist-cnn-trained');
if (!entry) throw new Error('onnx-import-e2e: no fmnist-cnn-trained fixture (run scripts/make_onnx_fixtures.py)');
const dir = opt('--dir') ?? mkdtempSync(join(tmpdir(), 'lutnn-e2e-'));
const t0 = performance.now();

function lutnn(...a: string[]): Record<string, unknown> {
  const t = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...a, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`lutnn ${a.join(' ')}: exit ${r.status}: ${r.stderr}`);
  if (!json) process.stderr.write(`lutnn ${a.join(' ')}: ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

const dense = join(dir, 'imported.safetensors');
const lut = join(dir, 'lut.safetensors');
const ft = join(dir, 'lut-ft.safetensors');
const onnxOut = join(dir, 'lut-ft.onnx');
const imp = lutnn('import', join(fixtures, entry.file), '--out', dense, '--dataset', 'fashion-mnist', '--mean', String(entry.mean), '--std', String(entry.std));
const evDense = lutnn('eval', dense, '--quiet');
const conv = lutnn('convert', dense, '--out', lut, '--calib', opt('--calib') ?? '1024', ...(opt('--v') ? ['--v', opt('--v')!] : []), '--quiet');
const ftArgs = ['finetune', lut, '--out', ft, '--epochs', opt('--epochs') ?? '1', '--quiet'];
if (opt('--limit-train')) ftArgs.push('--limit-train', opt('--limit-train')!);
if (args.includes('--distill')) ftArgs.push('--distill', dense);
const fine = lutnn(...ftArgs);
const evFt = lutnn('eval', ft, '--quiet');
const exp = lutnn('export', ft, '--onnx', onnxOut);

// onnxruntime-node on the exported LUT model against lutnn's engine, over the 10,000 test images.
const { model } = loadModel(ft);
const session = await ort.InferenceSession.create(onnxOut, { intraOpNumThreads: 2 });
const ds = loadEmbeddedFashionMnist().test;
const loader = new DataLoader(ds, { batchSize: 500, shuffle: false, mean: entry.mean, std: entry.std });
const argmax = (a: Float32Array, r: number): number => {
  let best = 0;
  for (let c = 1; c < 10; c++) if (a[r * 10 + c] > a[r * 10 + best]) best = c;
  return best;
};
let same = 0;
let ortCorrect = 0;
let i = 0;
for (const b of loader.epoch(0)) {
  const o = (await session.run({ input: new ort.Tensor('float32', b.x.f32, [...b.x.shape]) })).output.data as Float32Array;
  const l = noGrad(() => model.forward(b.x)).f32;
  for (let r = 0; r < b.x.shape[0]; r++, i++) {
    const p = argmax(o, r);
    if (p === argmax(l, r)) same++;
    if (p === ds.labels[i]) ortCorrect++;
  }
}
const pytorch = entry.testAccuracy;
const res = {
  command: 'onnx-import-e2e', dir, fixture: entry.file,
  pytorchAccuracy: pytorch,
  importedAccuracy: evDense.testAccuracy, importedMinusPytorchPoints: 100 * ((evDense.testAccuracy as number) - pytorch),
  v: opt('--v') ?? 'default', kmeansAccuracy: conv.testAccuracy ?? null,
  finetuneEpochs: Number(opt('--epochs') ?? 1), distill: args.includes('--distill'), finetunedAccuracy: evFt.testAccuracy, finetunedMinusImportedPoints: 100 * ((evFt.testAccuracy as number) - (evDense.testAccuracy as number)),
  lutLayers: (exp.lutLayers as { name: string }[]).map((l) => l.name), onnxBytes: exp.bytes,
  onnxruntime: { images: i, samePredictionsAsLutnn: same, accuracy: ortCorrect / i },
  importOps: imp.ops, finetune: { trainSeconds: fine.trainSeconds ?? null, steps: fine.steps ?? null },
  seconds: (performance.now() - t0) / 1000, machine: machineInfo(),
};
if (json) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
else process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
