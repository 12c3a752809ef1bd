// The Dataset type (uint8 images + labels in memory), its validation, subsets and per-dataset constants.
import { ArgumentError, FormatError } from '../errors.js';

/** Names of the datasets lutnn knows. */
export type DatasetName = 'fashion-mnist' | 'mnist';

/**
 * Images and labels held as bytes. `images` is N·C·H·W row-major (pixel (i, c, y, x) at
 * `((i*channels + c)*height + y)*width + x`), values 0..255; `labels[i]` is in 0..classes-1.
 */
export interface Dataset {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  height: number;
  width: number;
  channels: number;
  classes: number;
  /** Which dataset this is, when known (selects normalisation defaults). */
  name?: DatasetName;
}

/** A train/test pair. `source` says where it came from (a directory, the embedded package, a cache file). */
export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
  source: string;
}

/** Per-channel mean and std of pixel/255 over the training set. */
export interface Normalization {
  mean: number;
  std: number;
}

export const NORMALIZATION: Record<DatasetName, Normalization> = {
  'fashion-mnist': { mean: 0.286, std: 0.353 },
  mnist: { mean: 0.1307, std: 0.3081 },
};

export const CLASS_NAMES: Record<DatasetName, readonly string[]> = {
  'fashion-mnist': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
};

/**
 * Build a Dataset after checking that sizes agree and labels are in range (FormatError naming `source`).
 * The arrays are used as given, not copied.
 */
export function makeDataset(
  source: string,
  fields: Omit<Dataset, 'channels' | 'classes'> & { channels?: number; classes?: number },
): Dataset {
  const channels = fields.channels ?? 1;
  const classes = fields.classes ?? 10;
  const { images, labels, n, height, width } = fields;
  for (const [k, v] of Object.entries({ n, height, width, channels, classes })) {
    if (!Number.isSafeInteger(v) || v < 0) throw new FormatError(`${source}: ${k} must be a non-negative integer, got ${v}`);
  }
  if (classes < 1 || classes > 256) throw new FormatError(`${source}: classes must be in 1..256, got ${classes}`);
  const per = channels * height * width;
  if (images.length !== n * per) {
    throw new FormatError(`${source}: ${n} images of ${channels}x${height}x${width} need ${n * per} bytes, got ${images.length}`);
  }
  if (labels.length !== n) throw new FormatError(`${source}: ${n} images but ${labels.length} labels`);
  for (let i = 0; i < n; i++) {
    if (labels[i] >= classes) throw new FormatError(`${source}: label ${labels[i]} at index ${i} is outside 0..${classes - 1}`);
  }
  const ds: Dataset = { images, labels, n, height, width, channels, classes };
  if (fields.name !== undefined) ds.name = fields.name;
  return ds;
}

/** Images per class. */
export function classCounts(ds: Dataset): number[] {
  const counts = new Array<number>(ds.classes).fill(0);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i]]++;
  return counts;
}

/** The samples at `indices` (copied), e.g. a validation subset or a quick-run prefix. */
export function subsetDataset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const per = ds.channels * ds.height * ds.width;
  const m = indices.length;
  const images = new Uint8Array(m * per);
  const labels = new Uint8Array(m);
  for (let j = 0; j < m; j++) {
    const i = indices[j];
    if (!Number.isInteger(i) || i < 0 || i >= ds.n) throw new ArgumentError(`subsetDataset: index ${i} at position ${j} outside 0..${ds.n - 1}`);
    images.set(ds.images.subarray(i * per, (i + 1) * per), j * per);
    labels[j] = ds.labels[i];
  }
  return { ...ds, images, labels, n: m };
}

/** The first `count` samples (all of them when count >= n). Shares storage with `ds`. */
export function takeDataset(ds: Dataset, count: number): Dataset {
  if (!Number.isInteger(count) || count < 0) throw new ArgumentError(`takeDataset: count must be a non-negative integer, got ${count}`);
  const m = Math.min(count, ds.n);
  const per = ds.channels * ds.height * ds.width;
  return { ...ds, images: ds.images.subarray(0, m * per), labels: ds.labels.subarray(0, m), n: m };
}
