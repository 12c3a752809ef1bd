// Tests for loadDataset and DataLoader: seeded order, resume, dropLast, normalisation and augmentation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataLoader, loadDataset, mixSeed } from './loader.js';
import { encodeIdx } from './idx.js';
import { makeDataset, subsetDataset, takeDataset, type Dataset } from './dataset.js';
import { ArgumentError, FormatError } from '../errors.js';

/** n random-ish images of h x w x channels, labels i % 10. */
function synth(n: number, h = 28, w = 28, channels = 1): Dataset {
  const images = new Uint8Array(n * channels * h * w);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    images[i] = s >>> 24;
  }
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return makeDataset('synth', { images, labels, n, height: h, width: w, channels });
}

/** Straightforward reference: crop of the zero-padded image at offset (dy, dx), then optional mirror. */
function refAugment(ds: Dataset, i: number, dy: number, dx: number, mirror: boolean, mean: number, std: number): number[] {
  const { channels: c, height: h, width: w } = ds;
  const out: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = (mirror ? w - 1 - x : x) + dx;
        const sy = y + dy;
        const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? ds.images[((i * c + ch) * h + sy) * w + sx] : 0;
        out.push(Math.fround((v / 255 - mean) / std));
      }
    }
  }
  return out;
}

test('loadDataset: mnist needs dataDir, unknown names rejected, dataDir reads IDX', () => {
  assert.throws(() => loadDataset({ name: 'mnist' }), (e: Error) => e instanceof ArgumentError && /mnist is not embedded; pass dataDir/.test(e.message));
  assert.throws(() => loadDataset({ name: 'cifar' as 'mnist' }), /unknown dataset "cifar"/);
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-loader-'));
  try {
    assert.throws(() => loadDataset({ name: 'mnist', dataDir: dir }), FormatError);
    for (const [p, n] of [['train', 5], ['t10k', 2]] as const) {
      writeFileSync(join(dir, `${p}-images-idx3-ubyte`), encodeIdx([n, 28, 28], new Uint8Array(n * 784).fill(255)));
      writeFileSync(join(dir, `${p}-labels-idx1-ubyte`), encodeIdx([n], new Uint8Array(n).fill(3)));
    }
    const { train, test: testSet } = loadDataset({ name: 'mnist', dataDir: dir });
    assert.deepEqual([train.n, testSet.n, train.name], [5, 2, 'mnist']);
    // MNIST normalisation by default for an mnist dataset.
    const b = new DataLoader(train, { batchSize: 2, shuffle: false }).batch(0, 0);
    assert.ok(Math.abs(b.x.data[0] - (1 - 0.1307) / 0.3081) < 1e-5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('batches: shapes, dtypes, labels, default Fashion-MNIST normalisation, no shuffle = dataset order', () => {
  const ds = synth(10);
  const dl = new DataLoader(ds, { batchSize: 4, shuffle: false });
  assert.equal(dl.numBatches, 3);
  const batches = [...dl.epoch(0)];
  assert.deepEqual(batches.map((b) => b.x.shape), [[4, 1, 28, 28], [4, 1, 28, 28], [2, 1, 28, 28]]);
  assert.deepEqual(batches.map((b) => [b.x.dtype, b.y.dtype]), new Array(3).fill(['float32', 'int32']));
  assert.deepEqual(batches.flatMap((b) => [...b.indices]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual([...batches[2].y.data], [8, 9]);
  const x = batches[1].x.f32;
  for (const k of [0, 100, 783, 784, 3000]) {
    const raw = ds.images[4 * 784 + k];
    assert.equal(x[k], Math.fround((raw / 255 - 0.286) / 0.353));
  }
  const custom = new DataLoader(ds, { batchSize: 1, shuffle: false, mean: 0.5, std: 0.25 }).batch(0, 0);
  assert.equal(custom.x.data[5], Math.fround((ds.images[5] / 255 - 0.5) / 0.25));
});

test('seeded order: a permutation per epoch, a function of (seed, epoch) only, resumable with startBatch', () => {
  const ds = synth(103, 4, 4);
  const mk = (seed: number) => new DataLoader(ds, { batchSize: 10, seed });
  const a = mk(7);
  const e0 = [...a.epoch(0)].flatMap((b) => [...b.indices]);
  const e1 = [...a.epoch(1)].flatMap((b) => [...b.indices]);
  assert.deepEqual([...e0].sort((p, q) => p - q), Array.from({ length: 103 }, (_, i) => i));
  assert.notDeepEqual(e0, e1);
  // A fresh loader (as after a restart) asked for epoch 1 first gives the same epoch 1, then epoch 0.
  const b = mk(7);
  assert.deepEqual([...b.epoch(1)].flatMap((x) => [...x.indices]), e1);
  assert.deepEqual([...b.epoch(0)].flatMap((x) => [...x.indices]), e0);
  assert.notDeepEqual([...mk(8).epoch(0)].flatMap((x) => [...x.indices]), e0);
  // Resume mid-epoch: batches 4.. equal the tail of the full epoch, data included.
  const full = [...a.epoch(1)];
  const tail = [...mk(7).epoch(1, 4)];
  assert.equal(tail.length, full.length - 4);
  tail.forEach((t, k) => {
    assert.equal(t.index, k + 4);
    assert.deepEqual(t.indices, full[k + 4].indices);
    assert.deepEqual(t.x.data, full[k + 4].x.data);
  });
  assert.deepEqual([...a.epoch(1, a.numBatches)], []);
  assert.throws(() => [...a.epoch(1, a.numBatches + 1)], ArgumentError);
  assert.throws(() => a.batch(-1, 0), ArgumentError);
  assert.throws(() => a.batch(0, 11), ArgumentError);
});

test('dropLast drops only the incomplete batch', () => {
  const ds = synth(25, 2, 2);
  const keep = new DataLoader(ds, { batchSize: 8, seed: 1 });
  const drop = new DataLoader(ds, { batchSize: 8, seed: 1, dropLast: true });
  assert.equal(keep.numBatches, 4);
  assert.equal(drop.numBatches, 3);
  const sizes = [...drop.epoch(2)].map((b) => b.y.size);
  assert.deepEqual(sizes, [8, 8, 8]);
  assert.deepEqual(drop.batch(2, 1).indices, keep.batch(2, 1).indices);
  assert.equal(new DataLoader(synth(16, 2, 2), { batchSize: 8, dropLast: true }).numBatches, 2);
});

test('augmentation equals a reference crop+flip, is seeded per (seed, epoch, batch), and covers all offsets', () => {
  const ds = synth(64, 6, 5, 2);
  const opts = { batchSize: 16, seed: 3, augment: { pad: 2, flip: true }, mean: 0.3, std: 0.4 };
  const dl = new DataLoader(ds, opts);
  const seen = new Set<string>();
  let flips = 0;
  const batches = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((e) => [...dl.epoch(e)]);
  for (const b of batches) {
    const per = 2 * 6 * 5;
    for (let j = 0; j < b.indices.length; j++) {
      const got = [...b.x.f32.subarray(j * per, (j + 1) * per)];
      // Find the (dy, dx, mirror) this sample got; exactly the reference output must match one of them.
      const matches: string[] = [];
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          for (const mirror of [false, true]) {
            const want = refAugment(ds, b.indices[j], dy, dx, mirror, 0.3, 0.4);
            if (want.every((v, k) => v === got[k])) matches.push(`${dy},${dx},${mirror}`);
          }
        }
      }
      assert.equal(matches.length, 1, `sample ${j} of batch ${b.index}: ${matches.join(' | ')}`);
      seen.add(matches[0]);
      if (matches[0].endsWith('true')) flips++;
    }
  }
  assert.equal(seen.size, 50, 'all 25 offsets x 2 mirrors occur in 8 epochs of 64 samples');
  assert.ok(flips > 200 && flips < 312, `about half of 512 flipped: ${flips}`);
  // Deterministic per (seed, epoch, batch); different epochs augment differently.
  const again = new DataLoader(ds, opts);
  assert.deepEqual(again.batch(5, 2).x.data, new DataLoader(ds, opts).batch(5, 2).x.data);
  assert.deepEqual(again.batch(0, 1).x.data, dl.batch(0, 1).x.data);
  const noShuffle = { ...opts, shuffle: false };
  assert.notDeepEqual(new DataLoader(ds, noShuffle).batch(0, 0).x.data, new DataLoader(ds, noShuffle).batch(1, 0).x.data);
});

test('option checks and dataset helpers', () => {
  const ds = synth(6, 3, 3);
  assert.throws(() => new DataLoader(ds, { batchSize: 0 }), /batchSize must be a positive integer, got 0/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, std: 0 }), /std must be a positive number/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, augment: { pad: 3 } }), /augment\.pad must be an integer in 0\.\.2, got 3/);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, seed: 1.5 }), /seed must be an integer/);
  assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  const sub = subsetDataset(ds, [5, 0]);
  assert.deepEqual([...sub.labels], [5, 0]);
  assert.deepEqual(sub.images.subarray(0, 9), ds.images.subarray(45, 54));
  assert.throws(() => subsetDataset(ds, [6]), ArgumentError);
  assert.equal(takeDataset(ds, 4).n, 4);
  assert.equal(takeDataset(ds, 40).n, 6);
  assert.throws(() => makeDataset('d', { images: new Uint8Array(8), labels: new Uint8Array(1), n: 1, height: 3, width: 3 }), /1 images of 1x3x3 need 9 bytes, got 8/);
  assert.throws(() => makeDataset('d', { images: new Uint8Array(9), labels: Uint8Array.of(10), n: 1, height: 3, width: 3 }), /label 10 at index 0 is outside 0\.\.9/);
});
