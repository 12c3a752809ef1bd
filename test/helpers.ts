// Test helpers: small synthetic datasets (learnable, seeded) and IDX directories made from them.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDataset, type Dataset } from '../src/data/dataset.js';
import { encodeIdx } from '../src/data/idx.js';
import { Rng } from '../src/tensor/rng.js';

/** n 28x28 images whose class shows as a bright horizontal band (row 2·label..2·label+3), plus noise. */
export function bandDataset(n: number, seed = 0): Dataset {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(10);
    labels[i] = y;
    for (let p = 0; p < 784; p++) {
      const row = Math.floor(p / 28);
      const band = row >= 2 * y + 2 && row < 2 * y + 6;
      images[i * 784 + p] = Math.min(255, Math.floor((band ? 160 : 20) + rng.uniform(0, 80)));
    }
  }
  return makeDataset('band', { images, labels, n, height: 28, width: 28, name: 'fashion-mnist' });
}

/** A temp directory with the four IDX files of a train/test pair. */
export function writeIdxDir(train: Dataset, test: Dataset): string {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-idx-'));
  for (const [prefix, ds] of [['train', train], ['t10k', test]] as const) {
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([ds.n, 28, 28], ds.images));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([ds.n], ds.labels));
  }
  return dir;
}
