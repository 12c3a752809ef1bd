// `lutnn import` on the command line, and the imported model through info, eval (engine, runtime, --mean/--std), convert, finetune, compare, export and import again.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader } from '../src/data/loader.js';
import { loadModel, saveModel } from '../src/io/model-file.js';
import { exportOnnx } from '../src/io/onnx-export.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../src/nn/layers.js';
import { lowerModule } from '../src/nn/lower.js';
import { Adam } from '../src/optim/index.js';
import type { BaseHyper, Optimizer } from '../src/optim/optimizer.js';
import { constant } from '../src/optim/schedule.js';
import { Rng } from '../src/tensor/rng.js';
import { fit } from '../src/train/fit.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(1024, 1), bandDataset(256, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-import-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `lutnn ...` in a child process. */
function run(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

async function json(...args: string[]): Promise<Record<string, unknown>> {
  const r = await run(...args, '--json');
  assert.equal(r.status, 0, `lutnn ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

// A small CNN trained on the band data, saved as lutnn's own file and exported to ONNX (with lutnn's metadata).
const rng = new Rng(5);
const trained = lowerModule(Sequential.named([
  ['conv', new Conv2d(1, 4, 3, { padding: 1, rng })],
  ['relu', new ReLU()],
  ['pool', new MaxPool2d(2)],
  ['flatten', new Flatten(1)],
  ['fc1', new Linear(4 * 14 * 14, 32, { rng })],
  ['relu1', new ReLU()],
  ['fc2', new Linear(32, 10, { rng })],
]), { inputShape: [1, 28, 28] });
fit({
  model: trained, optimizer: new Adam(trained.parameters(), { lr: 3e-3 }) as unknown as Optimizer<BaseHyper>, schedule: constant({ baseLr: 3e-3 }),
  train: new DataLoader(bandDataset(1024, 1), { batchSize: 64, seed: 1 }), epochs: 1,
});
trained.eval();
const original = join(dir, 'original.safetensors');
saveModel(original, trained, { dataset: { name: 'fashion-mnist', mean: 0.2, std: 0.4, inputShape: [1, 28, 28] } });
const onnxFile = join(dir, 'cnn.onnx');
writeFileSync(onnxFile, exportOnnx(trained, { opset: 13 }).bytes);

test('lutnn import --json, and the imported model through info, eval, convert, finetune, compare, export and import', async () => {
  const imported = join(dir, 'imported.safetensors');
  const ij = await json('import', onnxFile, '--out', imported, '--dataset', 'fashion-mnist', '--mean', '0.2', '--std', '0.4');
  assert.equal(ij.command, 'import');
  assert.equal(ij.out, imported);
  assert.equal(ij.opset, 13);
  assert.deepEqual(ij.ops, { Conv: 1, Relu: 2, MaxPool: 1, Reshape: 1, Linear: 2 });
  assert.deepEqual(ij.dataset, { name: 'fashion-mnist', mean: 0.2, std: 0.4, classes: 10, inputShape: [1, 28, 28] });
  assert.equal(ij.params, trained.numParameters());
  assert.deepEqual((ij.inputs as { shape: unknown }[])[0].shape, ['N', 1, 28, 28]);
  for (const k of ['bytes', 'irVersion', 'producer', 'outputs', 'onnxNodes', 'folded', 'fused', 'lutLayers', 'nodes', 'weights', 'weightBytes', 'seconds']) assert.ok(k in ij, `--json field ${k}`);
  const { meta } = loadModel(imported);
  assert.equal((meta.info as { importedFrom: string }).importedFrom, onnxFile);

  // eval: the imported model scores exactly as the original (same weights, normalisation from the file).
  const [info, evOrig, evImp, evRt] = await Promise.all([
    json('info', imported),
    json('eval', original, '--data-dir', dataDir, '--quiet'),
    json('eval', imported, '--data-dir', dataDir, '--quiet'),
    json('eval', imported, '--data-dir', dataDir, '--quiet', '--runtime'),
  ]);
  assert.equal((info.arch as { nodes: number }).nodes, 7);
  assert.ok((evOrig.testAccuracy as number) > 0.5, `the trained model learns the band data (${evOrig.testAccuracy})`);
  assert.equal(evImp.testAccuracy, evOrig.testAccuracy);
  assert.equal(evImp.testLoss, evOrig.testLoss);
  assert.deepEqual(evImp.normalization, { mean: 0.2, std: 0.4 });
  assert.equal(evRt.testAccuracy, evOrig.testAccuracy);
  // --mean/--std on the command line override the file's.
  const evFlag = await json('eval', imported, '--data-dir', dataDir, '--quiet', '--mean', '0.5', '--std', '1');
  assert.deepEqual(evFlag.normalization, { mean: 0.5, std: 1 });
  assert.notEqual(evFlag.testLoss, evImp.testLoss);

  // convert → finetune → export → import: the LUT layers come back as LUT layers.
  const lut = join(dir, 'lut.safetensors');
  const cj = await json('convert', imported, '--out', lut, '--data-dir', dataDir, '--calib', '256', '--v', 'linear=4', '--quiet');
  assert.deepEqual(cj.layers ? (cj.layers as { name: string }[]).map((l) => l.name) : [], ['fc1']);
  const ft = join(dir, 'lut-ft.safetensors');
  const [fj, cmp] = await Promise.all([
    json('finetune', lut, '--out', ft, '--data-dir', dataDir, '--epochs', '1', '--limit-train', '256', '--quiet'),
    json('compare', imported, '--data-dir', dataDir, '--no-maddness', '--metrics', 'l2', '--epochs', '0', '--calib', '256', '--limit-test', '128', '--quiet'),
  ]);
  assert.ok(typeof fj.testAccuracy === 'number');
  assert.ok(Array.isArray(cmp.rows) || typeof cmp === 'object');
  const lutOnnx = join(dir, 'lut.onnx');
  const ej = await json('export', ft, '--onnx', lutOnnx);
  assert.equal((ej.lutLayers as unknown[]).length, 1);
  assert.ok((ej.lutTrainingBytes as number) > 0);
  const back = join(dir, 'back.safetensors');
  const bj = await json('import', lutOnnx, '--out', back);
  assert.equal(bj.lutLayers, 1);
  assert.equal((bj.ops as Record<string, number>).LutLinear, 1);
  // export wrote lutnn.dataset and the normalisation into the ONNX metadata; import reads them back.
  assert.deepEqual(bj.dataset, { name: 'fashion-mnist', mean: 0.2, std: 0.4, classes: 10, inputShape: [1, 28, 28] });
  const [evFt, evBack] = await Promise.all([json('eval', ft, '--data-dir', dataDir, '--quiet'), json('eval', back, '--data-dir', dataDir, '--quiet')]);
  assert.equal(evBack.testAccuracy, evFt.testAccuracy);
  assert.equal(evBack.testLoss, evFt.testLoss);
});

test('lutnn import errors: one line naming the file, unsupported ops listed together, no output file left', async () => {
  const bad = join(dir, 'bad.onnx');
  writeFileSync(bad, new TextEncoder().encode('not an onnx file at all'));
  const cut = join(dir, 'cut.onnx');
  const bytes = exportOnnx(trained, { opset: 13 }).bytes;
  writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
  const cases: [string[], RegExp][] = [
    [['import', bad, '--out', join(dir, 'o1.safetensors')], /^lutnn: .*bad\.onnx: malformed ONNX protobuf at byte \d+/],
    [['import', cut, '--out', join(dir, 'o2.safetensors')], /^lutnn: .*cut\.onnx: malformed ONNX protobuf at byte \d+ in graph/],
    [['import', onnxFile, '--out', join(dir, 'o3.safetensors'), '--mean', '0.5'], /^lutnn: import: give --mean and --std together/],
    [['import', onnxFile, '--out', join(dir, 'o4.safetensors'), '--dataset', 'cifar10'], /^lutnn: import: dataset 'cifar10' has no default normalisation in lutnn; give --mean and --std/],
    [['import', onnxFile, '--out', join(dir, 'o5.safetensors'), '--input-shape', '3,32,32'], /^lutnn: .*cnn\.onnx: graph input 'input' has 3 dims besides the batch|dim 1 is 1 in the file, --input-shape gives 3/],
    [['import', join(dir, 'none.onnx'), '--out', join(dir, 'o6.safetensors')], /^lutnn: .*none\.onnx.*(ENOENT|no such file)/],
    [['import', onnxFile, '--out', onnxFile], /^lutnn: import: --out .* is the input file/],
  ];
  for (let i = 0; i < cases.length; i += 2) {
    const rs = await Promise.all(cases.slice(i, i + 2).map(([a]) => run(...a)));
    rs.forEach((r, k) => {
      const [args, re] = cases[i + k];
      assert.equal(r.status, 1, `${args.join(' ')}: exit ${r.status}, stderr ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    });
  }
  assert.ok(!readdirSync(dir).some((f) => /^o\d/.test(f)), 'no output file written');
  assert.ok(existsSync(onnxFile));
});
