// Reader for the IDX files of MNIST and Fashion-MNIST (plain or gzip), with full validation.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FormatError } from '../errors.js';
import { makeDataset, type Dataset, type DatasetName, type DatasetSplits } from './dataset.js';

/*
 * IDX: a big-endian u32 magic 0x0000TTNN (TT = element type, 0x08 for unsigned bytes; NN = number of
 * dimensions), then NN big-endian u32 sizes, then the elements. Images: 0x00000803 [n, rows, cols];
 * labels: 0x00000801 [n].
 */
export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;
/** Refuse to inflate gzip data past this (a corrupt or hostile file must not exhaust memory). */
const MAX_INFLATED_BYTES = 1 << 30;

const TYPE_NAMES: Record<number, string> = { 0x08: 'ubyte', 0x09: 'sbyte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double' };

/** A decoded unsigned-byte IDX array. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Read a file's bytes, inflating it when it starts with the gzip signature (whatever its name). */
export function readMaybeGzip(path: string): Uint8Array {
  const raw = readFileSync(path);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return gunzipSync(raw, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (e) {
      throw new FormatError(`${path}: gzip data is corrupt or too large (${(e as Error).message})`);
    }
  }
  return raw;
}

/** Decode IDX bytes holding unsigned bytes; `expectMagic` pins the type and rank. */
export function parseIdx(bytes: Uint8Array, nameForErrors: string, expectMagic?: number): IdxArray {
  const fail: (msg: string) => never = (msg) => {
    throw new FormatError(`${nameForErrors}: ${msg}`);
  };
  if (bytes.length < 4) fail(`file is ${bytes.length} bytes, too short for the 4-byte IDX magic`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const hex = (m: number) => `0x${m.toString(16).padStart(8, '0')}`;
  if (expectMagic !== undefined && magic !== expectMagic) {
    fail(`magic ${hex(magic)}, expected ${hex(expectMagic)} (${expectMagic === IDX_IMAGES_MAGIC ? 'images' : 'labels'})`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) fail(`magic ${hex(magic)} is not an IDX magic (must start with two zero bytes)`);
  const type = bytes[2];
  if (type !== 0x08) fail(`element type 0x${type.toString(16)} (${TYPE_NAMES[type] ?? 'unknown'}) is not supported, only 0x08 (ubyte)`);
  const ndims = bytes[3];
  if (ndims < 1) fail('IDX rank 0 is not supported');
  const dataStart = 4 + 4 * ndims;
  if (bytes.length < dataStart) fail(`file is ${bytes.length} bytes, too short for the ${ndims} dimension sizes`);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const have = bytes.length - dataStart;
  if (have !== count) {
    fail(`dims [${dims.join(',')}] need ${count} data bytes after the ${dataStart}-byte header, got ${have}${have < count ? ' (truncated?)' : ''}`);
  }
  // A plain Uint8Array view (not a Buffer, whose slice() would alias instead of copying).
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + dataStart, count) };
}

/** Images of an `*-images-idx3-ubyte[.gz]` file. */
export function readIdxImages(path: string): { images: Uint8Array; n: number; height: number; width: number } {
  const { dims, data } = parseIdx(readMaybeGzip(path), path, IDX_IMAGES_MAGIC);
  const [n, height, width] = dims;
  if (n > 0 && (height === 0 || width === 0)) throw new FormatError(`${path}: images of ${height}x${width} pixels`);
  return { images: data, n, height, width };
}

/** Labels of an `*-labels-idx1-ubyte[.gz]` file, each checked to be below `classes`. */
export function readIdxLabels(path: string, classes = 10): Uint8Array {
  const { data } = parseIdx(readMaybeGzip(path), path, IDX_LABELS_MAGIC);
  for (let i = 0; i < data.length; i++) {
    if (data[i] >= classes) throw new FormatError(`${path}: label ${data[i]} at index ${i} is outside 0..${classes - 1}`);
  }
  return data;
}

/** A Dataset from an images file and a labels file, which must hold the same number of samples. */
export function readIdxPair(imagesPath: string, labelsPath: string, classes = 10, name?: DatasetName): Dataset {
  const img = readIdxImages(imagesPath);
  const labels = readIdxLabels(labelsPath, classes);
  if (labels.length !== img.n) {
    throw new FormatError(`${imagesPath}: ${img.n} images but ${labelsPath} has ${labels.length} labels`);
  }
  return makeDataset(imagesPath, { ...img, labels, classes, name });
}

/** The path of `<prefix>-<kind>-idx<rank>-ubyte` in `dir`, also accepting `.idx` and `.gz` spellings. */
export function findIdxFile(dir: string, prefix: 'train' | 't10k', kind: 'images' | 'labels'): string {
  const rank = kind === 'images' ? 3 : 1;
  const stems = [`${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`];
  const candidates = stems.flatMap((s) => [s, `${s}.gz`]);
  for (const c of candidates) {
    const p = join(dir, c);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  const where = existsSync(dir) ? dir : `${dir} (which does not exist)`;
  throw new FormatError(`${where}: no ${stems[0]} file (looked for ${candidates.join(', ')})`);
}

/**
 * The standard split from a directory of IDX files: train-* (60,000 for MNIST/Fashion-MNIST) and
 * t10k-* (10,000). Both halves must have the same image size.
 */
export function loadIdxDir(dir: string, options: { classes?: number; name?: DatasetName } = {}): DatasetSplits {
  const classes = options.classes ?? 10;
  const train = readIdxPair(findIdxFile(dir, 'train', 'images'), findIdxFile(dir, 'train', 'labels'), classes, options.name);
  const test = readIdxPair(findIdxFile(dir, 't10k', 'images'), findIdxFile(dir, 't10k', 'labels'), classes, options.name);
  if (train.height !== test.height || train.width !== test.width) {
    throw new FormatError(`${dir}: train images are ${train.height}x${train.width} but test images are ${test.height}x${test.width}`);
  }
  return { train, test, source: dir };
}

/** IDX bytes for unsigned-byte data (the inverse of `parseIdx`, for tests and exports). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x0800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
