// Tests for the embedded Fashion-MNIST: split rule, bad records, binary cache (hit, corrupt, stale, unwritable).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_FILE_NAME, defaultCacheDir, isEmbeddedTestRecord, loadEmbeddedFashionMnist } from './fashion-mnist.js';
import { classCounts, type Dataset } from './dataset.js';
import { FormatError } from '../errors.js';

/** Good record r of class c: pixel 0 = c, pixel 1 = r, the rest a pattern. */
function record(c: number, r: number): number[] {
  const px = new Array<number>(784);
  for (let j = 0; j < 784; j++) px[j] = (j * 3 + c + r) & 255;
  px[0] = c;
  px[1] = r;
  return px;
}

const GOOD_PER_CLASS = [15, 7, 6, 14, 1, 0, 8, 9, 20, 13];
const BAD: unknown[] = [[], new Array(783).fill(0), [...new Array(783).fill(0), 256], [...new Array(783).fill(0), 1.5], [...new Array(783).fill(0), '7'], null];

/** A package directory with small class files; class 3 gets every kind of bad record mixed in. */
function makePackage(root: string): void {
  mkdirSync(join(root, 'src', 'clothes'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'fashion-mnist', version: '0.0.0-test' }));
  for (let c = 0; c < 10; c++) {
    const data: unknown[] = [];
    for (let r = 0; r < GOOD_PER_CLASS[c]; r++) {
      if (c === 3 && r < BAD.length) data.push(BAD[r]);
      data.push(record(c, r));
    }
    writeFileSync(join(root, 'src', 'clothes', `${c}.json`), JSON.stringify({ data }));
  }
}

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-fm-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function sameData(a: Dataset, b: Dataset): void {
  assert.equal(a.n, b.n);
  assert.deepEqual(a.labels, b.labels);
  assert.deepEqual(a.images, b.images);
}

test('split rule: i % 7 === 6 goes to test', () => {
  assert.deepEqual([0, 1, 5, 6, 7, 12, 13, 6999].map(isEmbeddedTestRecord), [false, false, false, true, false, false, true, true]);
});

test('cache directory: $LUTNN_CACHE_DIR wins, else node_modules/.cache/lutnn or the temporary directory', () => {
  const saved = process.env.LUTNN_CACHE_DIR;
  try {
    process.env.LUTNN_CACHE_DIR = join(tmpdir(), 'custom-lutnn-cache');
    assert.equal(defaultCacheDir(), join(tmpdir(), 'custom-lutnn-cache'));
    delete process.env.LUTNN_CACHE_DIR;
    const d = defaultCacheDir();
    assert.ok(d.endsWith(join('node_modules', '.cache', 'lutnn')) || d === join(tmpdir(), 'lutnn-cache'), d);
  } finally {
    if (saved === undefined) delete process.env.LUTNN_CACHE_DIR;
    else process.env.LUTNN_CACHE_DIR = saved;
  }
});

test('conversion: bad records skipped and counted, stratified split by the rule, interleaved by class', () => {
  withDir((dir) => {
    const pkg = join(dir, 'pkg');
    makePackage(pkg);
    const steps: number[] = [];
    const got = loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir: join(dir, 'cache'), onProgress: (d) => steps.push(d) });
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(got.skipped, BAD.length);
    assert.equal(got.cacheStatus, 'built');
    const testPer = GOOD_PER_CLASS.map((g) => Math.floor(g / 7));
    assert.deepEqual(classCounts(got.test), testPer);
    assert.deepEqual(classCounts(got.train), GOOD_PER_CLASS.map((g, c) => g - testPer[c]));
    // Every sample is the right record: rank r of class c is in test iff r % 7 === 6, ordered by (rank, class).
    for (const [ds, wantTest] of [[got.train, false], [got.test, true]] as const) {
      let prev = -1;
      for (let i = 0; i < ds.n; i++) {
        const img = ds.images.subarray(i * 784, (i + 1) * 784);
        const c = img[0];
        const r = img[1];
        assert.equal(ds.labels[i], c);
        assert.deepEqual([...img], record(c, r));
        assert.equal(isEmbeddedTestRecord(r), wantTest);
        assert.ok(r * 10 + c > prev, 'interleaved by rank, then class');
        prev = r * 10 + c;
      }
    }
    assert.deepEqual([...got.train.labels.subarray(0, 9)], [0, 1, 2, 3, 4, 6, 7, 8, 9], 'class 5 is empty');
  });
});

test('cache: hit returns identical data; corrupt, truncated, wrong-magic and stale caches are rebuilt', () => {
  withDir((dir) => {
    const pkg = join(dir, 'pkg');
    const cacheDir = join(dir, 'cache');
    const cachePath = join(cacheDir, CACHE_FILE_NAME);
    makePackage(pkg);
    const first = loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir });
    assert.equal(first.cachePath, cachePath);
    const hit = loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir, onProgress: () => assert.fail('hit must not convert JSON') });
    assert.equal(hit.cacheStatus, 'hit');
    assert.equal(hit.source, cachePath);
    assert.equal(hit.skipped, BAD.length);
    sameData(hit.train, first.train);
    sameData(hit.test, first.test);
    const good = readFileSync(cachePath);
    const corruptions: [string, (b: Buffer) => Buffer, RegExp][] = [
      ['flipped pixel', (b) => ((b[500] ^= 0x40), b), /checksum mismatch/],
      ['flipped label count', (b) => ((b[16] ^= 1), b), /size \d+, header says \d+/],
      ['truncated', (b) => b.subarray(0, b.length - 1), /size/],
      ['empty', (b) => b.subarray(0, 0), /shorter than the 96-byte header/],
      ['wrong magic', (b) => ((b[0] = 0x58), b), /bad magic/],
      ['label out of range', (b) => ((b[b.length - 1] = 10), b), /checksum mismatch/],
    ];
    for (const [what, corrupt, reason] of corruptions) {
      writeFileSync(cachePath, corrupt(Buffer.from(good)));
      const r = loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir });
      assert.equal(r.cacheStatus, 'rebuilt', what);
      assert.match(r.cacheReason ?? '', reason, what);
      sameData(r.train, first.train);
      assert.deepEqual(readFileSync(cachePath), good, `${what}: cache rewritten`);
    }
    // Stale: the source changed (a class file rewritten with one more record).
    const f = join(pkg, 'src', 'clothes', '5.json');
    writeFileSync(f, JSON.stringify({ data: [record(5, 0)] }));
    const stale = loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir });
    assert.equal(stale.cacheStatus, 'rebuilt');
    assert.match(stale.cacheReason ?? '', /stale/);
    assert.equal(stale.train.n, first.train.n + 1);
    assert.equal(loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir }).cacheStatus, 'hit');
    assert.equal(loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir, rebuild: true }).cacheStatus, 'rebuilt');
  });
});

test('an unwritable cache directory still returns the data and says why', () => {
  withDir((dir) => {
    const pkg = join(dir, 'pkg');
    makePackage(pkg);
    writeFileSync(join(dir, 'file'), 'x');
    const r = loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir: join(dir, 'file', 'cache') });
    assert.equal(r.cacheStatus, 'not-written');
    assert.match(r.cacheReason ?? '', /cannot write/);
    assert.equal(r.train.n + r.test.n, GOOD_PER_CLASS.reduce((a, b) => a + b));
  });
});

test('malformed or missing class files give FormatError naming the file', () => {
  withDir((dir) => {
    const pkg = join(dir, 'pkg');
    makePackage(pkg);
    const f = join(pkg, 'src', 'clothes', '4.json');
    writeFileSync(f, '{"data": [[1,2,');
    assert.throws(() => loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir: join(dir, 'c') }), (e: Error) => e instanceof FormatError && e.message.startsWith(`${f}: cannot read the class 4 JSON`));
    writeFileSync(f, '{"images": []}');
    assert.throws(() => loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir: join(dir, 'c') }), /4\.json: expected an object with a "data" array/);
    rmSync(f);
    assert.throws(() => loadEmbeddedFashionMnist({ packageDir: pkg, cacheDir: join(dir, 'c') }), /4\.json: cannot read the class 4 JSON \(ENOENT/);
  });
});

test('the real embedded package: 60,000/10,000, 6,000/1,000 per class, two bad records (uses the shared cache)', () => {
  const r = loadEmbeddedFashionMnist();
  assert.ok(['hit', 'built', 'rebuilt'].includes(r.cacheStatus), `${r.cacheStatus}: ${r.cacheReason}`);
  assert.equal(r.skipped, 2);
  assert.deepEqual([r.train.n, r.test.n, r.train.height, r.train.width, r.train.name], [60000, 10000, 28, 28, 'fashion-mnist']);
  assert.deepEqual(classCounts(r.train), new Array(10).fill(6000));
  assert.deepEqual(classCounts(r.test), new Array(10).fill(1000));
  let sum = 0;
  for (let i = 0; i < r.train.images.length; i++) sum += r.train.images[i];
  const mean = sum / r.train.images.length / 255;
  assert.ok(Math.abs(mean - 0.286) < 0.005, `mean pixel ${mean} close to Fashion-MNIST's 0.286`);
});
