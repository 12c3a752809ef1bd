// Tests for the IDX reader: synthetic plain/gzip files, malformed files, and Debian's Fashion-MNIST when installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeIdx, loadIdxDir, parseIdx, readIdxImages, readIdxLabels, readIdxPair } from './idx.js';
import { classCounts } from './dataset.js';
import { FormatError } from '../errors.js';

const DEBIAN_DIR = '/usr/share/datasets/fashion-mnist';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-idx-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** n images of h x w whose pixels encode (image, position), and labels i % classes. */
function synth(n: number, h: number, w: number, classes = 10): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * h * w);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7 + Math.floor(i / (h * w))) & 255;
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % classes;
  return { images, labels };
}

function writeSet(dir: string, prefix: string, n: number, h: number, w: number, gz: boolean, sep = '-'): void {
  const { images, labels } = synth(n, h, w);
  const enc = (b: Uint8Array) => (gz ? gzipSync(b) : b);
  const sfx = gz ? '.gz' : '';
  writeFileSync(join(dir, `${prefix}-images${sep}idx3-ubyte${sfx}`), enc(encodeIdx([n, h, w], images)));
  writeFileSync(join(dir, `${prefix}-labels${sep}idx1-ubyte${sfx}`), enc(encodeIdx([n], labels)));
}

function throwsFormat(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e.name}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('loadIdxDir reads plain, gzip and dotted file names and keeps the data exact', () => {
  for (const [gz, sep] of [[false, '-'], [true, '-'], [true, '.']] as const) {
    withDir((dir) => {
      writeSet(dir, 'train', 12, 5, 4, gz, sep);
      writeSet(dir, 't10k', 3, 5, 4, gz, sep);
      const { train, test: testSet, source } = loadIdxDir(dir, { name: 'mnist' });
      assert.equal(source, dir);
      assert.deepEqual([train.n, train.height, train.width, train.channels, train.classes, train.name], [12, 5, 4, 1, 10, 'mnist']);
      assert.equal(testSet.n, 3);
      assert.deepEqual(train.images, synth(12, 5, 4).images);
      assert.deepEqual(train.labels, synth(12, 5, 4).labels);
      assert.ok(!Buffer.isBuffer(train.images), 'plain Uint8Array, not a Buffer');
    });
  }
});

test('parseIdx rejects wrong magic, unsupported types, truncation and trailing bytes', () => {
  const good = encodeIdx([2, 3, 3], new Uint8Array(18));
  assert.equal(parseIdx(good, 'x', 0x803).dims.join(','), '2,3,3');
  throwsFormat(() => parseIdx(good, 'f.idx', 0x801), /^f\.idx: magic 0x00000803, expected 0x00000801 \(labels\)/);
  const notIdx = good.slice();
  notIdx[0] = 0x50;
  throwsFormat(() => parseIdx(notIdx, 'f.idx'), /not an IDX magic/);
  const floats = good.slice();
  floats[2] = 0x0d;
  throwsFormat(() => parseIdx(floats, 'f.idx'), /element type 0xd \(float\) is not supported/);
  throwsFormat(() => parseIdx(good.subarray(0, 3), 'f.idx'), /too short for the 4-byte IDX magic/);
  throwsFormat(() => parseIdx(good.subarray(0, 10), 'f.idx'), /too short for the 3 dimension sizes/);
  throwsFormat(() => parseIdx(good.subarray(0, good.length - 1), 'f.idx'), /dims \[2,3,3\] need 18 data bytes after the 16-byte header, got 17 \(truncated\?\)/);
  throwsFormat(() => parseIdx(Uint8Array.from([...good, 0]), 'f.idx'), /need 18 data bytes after the 16-byte header, got 19$/);
  const huge = encodeIdx([4294967295, 4294967295, 4294967295], new Uint8Array(0));
  throwsFormat(() => parseIdx(huge, 'f.idx', 0x803), /need .* data bytes/);
  // Every truncation of a small valid file is a FormatError.
  for (let len = 0; len < good.length; len++) throwsFormat(() => parseIdx(good.subarray(0, len), 'f.idx', 0x803), /^f\.idx: /);
});

test('file-level checks: labels in range, counts agree, gzip integrity, missing files named', () => {
  withDir((dir) => {
    const img = join(dir, 'a-images');
    const lab = join(dir, 'a-labels');
    writeFileSync(img, encodeIdx([3, 2, 2], new Uint8Array(12)));
    writeFileSync(lab, encodeIdx([2], Uint8Array.of(1, 2)));
    throwsFormat(() => readIdxPair(img, lab), /3 images but .*a-labels has 2 labels/);
    writeFileSync(lab, encodeIdx([3], Uint8Array.of(1, 10, 2)));
    throwsFormat(() => readIdxLabels(lab), /label 10 at index 1 is outside 0\.\.9/);
    assert.deepEqual([...readIdxLabels(lab, 11)], [1, 10, 2]);
    writeFileSync(img, encodeIdx([3], new Uint8Array(3)));
    throwsFormat(() => readIdxImages(img), /a-images: magic 0x00000801, expected 0x00000803 \(images\)/);
    const gz = gzipSync(encodeIdx([3, 2, 2], new Uint8Array(12)));
    writeFileSync(img, gz.subarray(0, gz.length - 6));
    throwsFormat(() => readIdxImages(img), /a-images: gzip data is corrupt/);
    throwsFormat(() => loadIdxDir(dir), /no train-images-idx3-ubyte file \(looked for train-images-idx3-ubyte, train-images-idx3-ubyte\.gz/);
    throwsFormat(() => loadIdxDir(join(dir, 'nope')), /nope \(which does not exist\)/);
  });
  withDir((dir) => {
    writeSet(dir, 'train', 4, 5, 4, false);
    writeSet(dir, 't10k', 2, 4, 5, false);
    throwsFormat(() => loadIdxDir(dir), /train images are 5x4 but test images are 4x5/);
  });
});

test('Debian Fashion-MNIST IDX files: the official 60,000/10,000 split', (t) => {
  if (!existsSync(join(DEBIAN_DIR, 'train-images-idx3-ubyte.gz'))) {
    t.skip(`${DEBIAN_DIR} not installed`);
    return;
  }
  const { train, test: testSet } = loadIdxDir(DEBIAN_DIR, { name: 'fashion-mnist' });
  assert.deepEqual([train.n, train.height, train.width], [60000, 28, 28]);
  assert.equal(testSet.n, 10000);
  assert.deepEqual(classCounts(train), new Array(10).fill(6000));
  assert.deepEqual(classCounts(testSet), new Array(10).fill(1000));
  // The published first training labels (ankle boot, T-shirt, T-shirt, dress, ...).
  assert.deepEqual([...train.labels.subarray(0, 10)], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
  let sum = 0;
  for (let i = 0; i < train.images.length; i++) sum += train.images[i];
  assert.ok(Math.abs(sum / train.images.length / 255 - 0.286) < 0.001, 'training mean pixel matches the published 0.2860');
});
