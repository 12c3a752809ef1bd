// Seed files of the ONNX import fuzzing: small fixture models (when present) and a small LUT model exported by lutnn.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportOnnx } from '../src/io/onnx-export.js';
import { convertStructure } from '../src/lut/convert.js';
import { Conv2d, Flatten, Linear, ReLU, Sequential } from '../src/nn/layers.js';
import { lowerModule } from '../src/nn/lower.js';
import { Rng } from '../src/tensor/rng.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'onnx');

/** The seed files: name and bytes. */
export function fuzzSeeds(): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (const f of ['gelu-tanh-layernorm-opset13.onnx', 'resnet-opset13.onnx', 'mobilenet-opset13.onnx', 'bert-opset13.onnx']) {
    const p = join(DIR, f);
    if (existsSync(p)) out.push({ name: f, bytes: new Uint8Array(readFileSync(p)) });
  }
  // A small CNN converted to LUT-NN and exported: standard ops, the LUT marker, training tensors.
  const rng = new Rng(7);
  const dense = lowerModule(Sequential.named([
    ['conv1', new Conv2d(1, 4, 3, { padding: 1, rng })],
    ['relu1', new ReLU()],
    ['conv2', new Conv2d(4, 4, 3, { stride: 2, rng })],
    ['flatten', new Flatten(1)],
    ['fc', new Linear(4 * 3 * 3, 5, { rng })],
  ]), { inputShape: [1, 8, 8] });
  const lut = convertStructure(dense, { k: 4, include: ['conv2', 'fc'], v: { linear: 4 }, seed: 2 }).model;
  out.push({ name: 'lut-cnn (lutnn export)', bytes: exportOnnx(lut.eval(), { opset: 13 }).bytes });
  return out;
}
