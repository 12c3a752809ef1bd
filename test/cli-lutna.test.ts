// lutnn lutna end to end on the shipped fmnist-cnn quantized (small IDX data for speed): the JSON report, the model file, the plot, the errors.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../src/io/model-file.js';
import { bandDataset, writeIdxDir } from './helpers.js';

const dataDir = writeIdxDir(bandDataset(256, 1), bandDataset(64, 2));
const dir = mkdtempSync(join(tmpdir(), 'lutnn-lutna-cli-'));
after(() => [dataDir, dir].forEach((d) => rmSync(d, { recursive: true, force: true })));
const cli = ['--import', 'tsx', 'src/cli/main.ts'];
const run = (...args: string[]): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8' });

test('lutnn lutna: configuration, accuracy, energy and area per layer and in total; the model file and the plot; errors', () => {
  const q = join(dir, 'q.safetensors');
  const qr = run('quantize', 'models/fmnist-cnn.safetensors', '--out', q, '--calib', '64', '--no-eval', '--data-dir', dataDir, '--quiet');
  assert.equal(qr.status, 0, qr.stderr);
  const out = join(dir, 'mixed.safetensors');
  const svg = join(dir, 'mixed.svg');
  const r = run('lutna', q, '--budget', '2', '--limit-test', '32', '--calib', '32', '--act-bits', '8,6', '--weight-bits', '9', '--approx', 'drop-ll',
    '--out', out, '--svg', svg, '--data-dir', dataDir, '--json');
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.command, 'lutna');
  assert.deepEqual([j.objective, j.budget, j.search, j.sensitivityImages, j.verificationImages], ['energy', 2, 'knapsack-dp', 32, 64]);
  assert.deepEqual(j.layers.map((l: { name: string }) => l.name), ['conv1', 'conv2', 'conv3', 'conv4', 'fc1', 'fc2']);
  for (const l of j.layers) {
    assert.ok([8, 6].includes(l.chosen.actBits) && l.chosen.weightBits === 9, JSON.stringify(l.chosen));
    assert.ok(['exact', 'drop-ll'].includes(l.chosen.approx));
    assert.ok(l.energyUJ > 0 && l.unitAreaUm2 > 0 && l.wallaceEnergyUJ > 0 && l.macs > 0);
  }
  assert.ok(j.final.withinBudget && j.final.drop <= 2);
  assert.equal(j.final.evaluatedOn, 'verification');
  assert.ok(Math.abs(j.final.energyUJ - j.totals.mixed.energyUJ) < 1e-12);
  for (const k of ['vsWallace', 'vsArray', 'vsLutnaExact', 'vsTLut', 'vsWallaceSameWidths']) assert.ok(j.ratios[k].energy > 0 && j.ratios[k].area > 0, k);
  assert.deepEqual(j.paper.mixedVsDigitalMac, { area: [1.35, 2.14], energy: [1.99, 3.38] });
  assert.ok(j.sensitivity.length > 0 && j.rounds.length > 0 && j.evaluations >= j.sensitivity.length + 2);
  assert.ok(j.machine && j.seconds > 0);

  // The model file carries the chosen widths in its graph and the configuration in its metadata.
  const { model, meta } = loadModel(out);
  for (const l of j.layers) {
    const n = model.info.nodes.find((x) => x.node.name === l.name)!;
    assert.deepEqual([n.attrs.act_bits, n.attrs.weight_bits], [l.chosen.actBits, l.chosen.weightBits]);
  }
  const lutna = meta.info?.lutna as { layers: { name: string; approx: string }[]; accuracy: number };
  assert.equal(lutna.accuracy, j.final.accuracy);
  assert.deepEqual(lutna.layers.map((l) => l.approx), j.layers.map((l: { chosen: { approx: string } }) => l.chosen.approx));
  const text = readFileSync(svg, 'utf8');
  assert.match(text, /^<\?xml/);
  assert.ok(text.includes('energy per inference'));

  // The table form.
  const t = run('lutna', q, '--budget', '0', '--act-bits', '8', '--weight-bits', '9', '--approx', 'drop-ll', '--data-dir', dataDir, '--quiet');
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /\| conv2 \| 7,225,344 \| 8x9 \|/);
  assert.match(t.stdout, /savings \(>1: mixed is cheaper\): vs Wallace/);
  assert.match(t.stdout, /conv1 8x9\/(exact|drop-ll), conv2 8x9\/(exact|drop-ll),/, 'each round\'s configuration');

  const errors: [string[], number, RegExp][] = [
    [['lutna', 'models/fmnist-cnn.safetensors', '--data-dir', dataDir, '--limit-test', '8'], 1, /no quantized layers \(QConv \/ QLinear\); run lutnn quantize first/],
    [['lutna', q, '--approx', 'drop'], 2, /--approx: approximation 'drop' is not exact, drop-ll/],
    [['lutna', q, '--objective', 'latency'], 2, /--objective must be one of energy, area/],
    [['lutna', q, '--act-bits', '9'], 2, /--act-bits must be a comma-separated list of integers in \[2, 8\]/],
    [['lutna', join(dir, 'missing.safetensors')], 1, /missing\.safetensors/],
  ];
  for (const [args, status, re] of errors) {
    const e = run(...args);
    assert.equal(e.status, status, `${args.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, re);
    assert.equal(e.stdout, '');
  }
  assert.ok(!existsSync(join(dir, 'x.safetensors')));
});
