// Dataset loading by name and the DataLoader: seeded shuffling, normalisation, augmentation, resumable batches.
import { ArgumentError } from '../errors.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { NORMALIZATION, type Dataset, type DatasetName, type DatasetSplits } from './dataset.js';
import { loadEmbeddedFashionMnist, type EmbeddedLoadOptions } from './fashion-mnist.js';
import { loadIdxDir } from './idx.js';

export interface LoadDatasetOptions extends Omit<EmbeddedLoadOptions, 'packageDir'> {
  name: DatasetName;
  /** A directory of IDX files (train-*, t10k-*, plain or .gz). Without it, fashion-mnist is the embedded package. */
  dataDir?: string;
}

/** Train and test splits of a named dataset: from IDX files in `dataDir`, else the embedded Fashion-MNIST. */
export function loadDataset(options: LoadDatasetOptions): DatasetSplits {
  const { name, dataDir } = options;
  if (name !== 'fashion-mnist' && name !== 'mnist') {
    throw new ArgumentError(`loadDataset: unknown dataset "${String(name)}", expected fashion-mnist or mnist`);
  }
  if (dataDir !== undefined) return loadIdxDir(dataDir, { name });
  if (name === 'mnist') {
    throw new ArgumentError('loadDataset: mnist is not embedded; pass dataDir, a directory with the four MNIST IDX files');
  }
  const { train, test, source } = loadEmbeddedFashionMnist(options);
  return { train, test, source };
}

export interface Augmentation {
  /** Random crop after zero-padding each side by this many pixels (0 = off). */
  pad?: number;
  /** Mirror left-right with probability 1/2. */
  flip?: boolean;
}

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true). */
  shuffle?: boolean;
  /** The order of epoch e depends only on (seed, e); augmentation on (seed, e, batch). */
  seed?: number;
  /** Drop the last incomplete batch (default false). */
  dropLast?: boolean;
  /** x = (pixel/255 - mean) / std; defaults from NORMALIZATION for the dataset's name (Fashion-MNIST otherwise). */
  mean?: number;
  std?: number;
  augment?: Augmentation;
}

/** One batch: x float32 [B, C, H, W] normalised, y int32 [B], and which samples they are. */
export interface Batch {
  x: Tensor;
  y: Tensor;
  /** Dataset indices of the samples, in batch order. */
  indices: Int32Array;
  epoch: number;
  /** Batch number within the epoch. */
  index: number;
}

/** Mix integers into a 32-bit seed (murmur3-style finaliser per word), so nearby inputs give unrelated streams. */
export function mixSeed(...words: number[]): number {
  let h = 0x6a09e667;
  for (const w of words) {
    let k = Math.imul(w >>> 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const ORDER_STREAM = 1;
const AUGMENT_STREAM = 2;

/**
 * Batches over a Dataset. Stateless between calls: `batch(e, b)` is always the same batch, so a run
 * resumed from a checkpoint at (epoch, batch) reproduces the rest of training exactly.
 */
export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly mean: number;
  readonly std: number;
  readonly pad: number;
  readonly flip: boolean;
  /** pixel byte -> normalised value. */
  private readonly table: Float32Array;
  private orderCache: { epoch: number; order: Int32Array } | null = null;

  constructor(dataset: Dataset, options: DataLoaderOptions) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    const norm = NORMALIZATION[dataset.name ?? 'fashion-mnist'];
    const mean = options.mean ?? norm.mean;
    const std = options.std ?? norm.std;
    if (!Number.isFinite(mean)) throw new ArgumentError(`DataLoader: mean must be finite, got ${mean}`);
    if (!Number.isFinite(std) || std <= 0) throw new ArgumentError(`DataLoader: std must be a positive number, got ${std}`);
    const pad = options.augment?.pad ?? 0;
    if (!Number.isInteger(pad) || pad < 0 || pad >= Math.max(1, Math.min(dataset.height, dataset.width))) {
      throw new ArgumentError(`DataLoader: augment.pad must be an integer in 0..${Math.min(dataset.height, dataset.width) - 1}, got ${pad}`);
    }
    const seed = options.seed ?? 0;
    if (!Number.isInteger(seed)) throw new ArgumentError(`DataLoader: seed must be an integer, got ${seed}`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.seed = seed;
    this.dropLast = options.dropLast ?? false;
    this.mean = mean;
    this.std = std;
    this.pad = pad;
    this.flip = options.augment?.flip ?? false;
    this.table = new Float32Array(256);
    for (let v = 0; v < 256; v++) this.table[v] = (v / 255 - mean) / std;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const n = this.dataset.n;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Sample order of epoch `epoch` (identity without shuffling). Do not modify the result. */
  order(epoch: number): Int32Array {
    checkIndex('epoch', epoch, Infinity);
    if (this.orderCache?.epoch === epoch) return this.orderCache.order;
    const n = this.dataset.n;
    let order: Int32Array;
    if (this.shuffle) {
      order = new Rng(mixSeed(this.seed, ORDER_STREAM, epoch)).permutation(n);
    } else {
      order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
    }
    this.orderCache = { epoch, order };
    return order;
  }

  /** Batch `index` of epoch `epoch`. */
  batch(epoch: number, index: number): Batch {
    checkIndex('batch', index, this.numBatches);
    const order = this.order(epoch);
    const start = index * this.batchSize;
    const indices = order.slice(start, Math.min(start + this.batchSize, this.dataset.n));
    const { channels: c, height: h, width: w } = this.dataset;
    const per = c * h * w;
    const b = indices.length;
    const x = new Float32Array(b * per);
    const y = new Int32Array(b);
    const augment = this.pad > 0 || this.flip;
    const rng = augment ? new Rng(mixSeed(this.seed, AUGMENT_STREAM, epoch, index)) : null;
    for (let j = 0; j < b; j++) {
      const i = indices[j];
      y[j] = this.dataset.labels[i];
      if (rng === null) {
        this.fillPlain(x, j * per, i * per, per);
      } else {
        // Crop offset in -pad..pad per axis, then the flip: drawn in this order for every sample.
        const dy = this.pad > 0 ? rng.int(2 * this.pad + 1) - this.pad : 0;
        const dx = this.pad > 0 ? rng.int(2 * this.pad + 1) - this.pad : 0;
        const mirror = this.flip && rng.random() < 0.5;
        this.fillAugmented(x, j * per, i * per, dy, dx, mirror);
      }
    }
    return { x: new Tensor(x, [b, c, h, w]), y: new Tensor(y, [b]), indices, epoch, index };
  }

  /** Batches of epoch `epoch` from `startBatch` (to resume mid-epoch) to the end. */
  *epoch(epoch: number, startBatch = 0): Generator<Batch> {
    checkIndex('startBatch', startBatch, this.numBatches + 1);
    for (let b = startBatch; b < this.numBatches; b++) yield this.batch(epoch, b);
  }

  private fillPlain(x: Float32Array, dst: number, src: number, len: number): void {
    const img = this.dataset.images;
    const t = this.table;
    for (let k = 0; k < len; k++) x[dst + k] = t[img[src + k]];
  }

  /**
   * Output pixel (y, x) = input pixel (y + dy, x + dx) of the zero-padded image (before the mirror), i.e.
   * a pad-pixel crop as in torchvision's RandomCrop(padding=pad); padding is black (pixel 0), normalised
   * like any other pixel.
   */
  private fillAugmented(x: Float32Array, dst: number, src: number, dy: number, dx: number, mirror: boolean): void {
    const { channels: c, height: h, width: w, images: img } = this.dataset;
    const t = this.table;
    const zero = t[0];
    for (let ch = 0; ch < c; ch++) {
      for (let oy = 0; oy < h; oy++) {
        const row = dst + (ch * h + oy) * w;
        const sy = oy + dy;
        if (sy < 0 || sy >= h) {
          x.fill(zero, row, row + w);
          continue;
        }
        const srow = src + (ch * h + sy) * w;
        // Valid output columns: 0 <= ox + dx < w.
        const lo = Math.max(0, -dx);
        const hi = Math.min(w, w - dx);
        if (!mirror) {
          x.fill(zero, row, row + lo);
          for (let ox = lo; ox < hi; ox++) x[row + ox] = t[img[srow + ox + dx]];
          x.fill(zero, row + hi, row + w);
        } else {
          // Mirrored: output column ox takes the unmirrored crop's column w-1-ox.
          for (let ox = 0; ox < w; ox++) {
            const cx = w - 1 - ox;
            x[row + ox] = cx >= lo && cx < hi ? t[img[srow + cx + dx]] : zero;
          }
        }
      }
    }
  }
}

function checkIndex(what: string, v: number, limit: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= limit) {
    throw new ArgumentError(`DataLoader: ${what} must be an integer in 0..${limit === Infinity ? 'inf' : limit - 1}, got ${v}`);
  }
}
