// The design space of `lutnn dse`: model settings (V per layer kind, K, metric) × LUT-DLA hardware settings, its JSON form and defaults.
import { FormatError } from '../errors.js';
import type { LutDlaConfig } from '../hw/lut-dla.js';
import { METRICS, type Metric } from '../hw/lut-dla-layers.js';

/** Layer kinds with their own V (as `lutnn convert --v`). */
export const LAYER_KINDS = ['conv', 'conv1x1', 'linear'] as const;
export type LayerKind = (typeof LAYER_KINDS)[number];

/** LUT-DLA configuration fields a space may sweep (lists of positive integers; clockMHz and dramBytesPerCycle positive numbers). */
export const HW_FIELDS = [
  'ccus', 'pesPerCcu', 'lanes', 'tableBits', 'actBits', 'psumBits', 'actBufferBytes', 'centroidBufferBytes', 'tableBankBytes',
  'psumBufferBytes', 'indexFifoDepth', 'clockMHz', 'dramBytesPerCycle',
] as const satisfies readonly (keyof LutDlaConfig)[];
export type HwField = (typeof HW_FIELDS)[number];

export interface DseSpace {
  model: {
    /** Candidate V per layer kind; a value that does not divide every selected layer of its kind is left out. */
    v: Record<LayerKind, number[]>;
    k: number[];
    metric: Metric[];
  };
  /** Lists of values per LUT-DLA field; the hardware points are their cartesian product (other fields: fitted or default). */
  hardware: Partial<Record<HwField, number[]>>;
  /** The INT8 MAC array compared beside each point (weight-stationary, same buffers, clock and DRAM as the point). */
  mac: { rows: number; cols: number };
  /** Images per inference for the hardware figures (energy and latency are per image). */
  batch: number;
  conversion: {
    /** Calibration images (a seeded sample of the training set). */
    calib: number;
    /** Calibration rows per layer kept for k-means. */
    maxRows: number;
    /** k-means iterations. */
    iters: number;
    /** Least-squares refit of the LUT weights to the dense output (lutnn convert's default). */
    refit: boolean;
    /** Test images the accuracy is measured on (the first n of the test set). */
    testImages: number;
    seed: number;
  };
}

/**
 * The default space (our choice; LUT-DLA's own ranges are not public). Model: 4 conv V × 1 linear V (× 1 conv1x1 V)
 * × 4 K × 3 metrics = 48 model points on fmnist-cnn. Hardware: 3 CCU counts × 2 PE counts per CCU × 3 lane counts ×
 * 3 table-bank sizes × 2 activation buffers = 108 hardware points, 8-bit table entries (list 16 too and the float-table
 * accuracy is measured as well, on the slower training engine). Conversion settings are lighter than `lutnn convert`'s
 * (256 calibration images instead of 1024, 4096 rows and 15 k-means iterations instead of 65536 and 25; accuracy on
 * the first 2000 test images) so that the 48 points finish in under 30 minutes on a busy 2-core machine.
 */
export const DEFAULT_SPACE: Readonly<DseSpace> = {
  model: {
    v: { conv: [4, 8, 9, 16], conv1x1: [4], linear: [16] },
    k: [8, 16, 32, 64],
    metric: ['l2', 'l1', 'chebyshev'],
  },
  hardware: {
    ccus: [4, 8, 16],
    pesPerCcu: [8, 16],
    lanes: [8, 16, 32],
    tableBits: [8],
    tableBankBytes: [2048, 4096, 8192],
    actBufferBytes: [32768, 65536],
    centroidBufferBytes: [32768],
  },
  mac: { rows: 16, cols: 16 },
  batch: 1,
  conversion: { calib: 256, maxRows: 4096, iters: 15, refit: true, testImages: 2000, seed: 0 },
};

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function checkKeys(file: string, where: string, o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new FormatError(`${file}: unknown key '${where}${k}' (expected one of ${allowed.join(', ')})`);
  }
}

function intList(file: string, where: string, x: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number[] {
  if (!Array.isArray(x) || x.length === 0) throw new FormatError(`${file}: '${where}' must be a non-empty list of integers, got ${JSON.stringify(x)}`);
  for (const v of x) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new FormatError(`${file}: '${where}' holds ${JSON.stringify(v)}, expected integers in ${min}..${max}`);
    }
  }
  return [...new Set(x as number[])];
}

function posInt(file: string, where: string, x: unknown, min = 1): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) throw new FormatError(`${file}: '${where}' must be an integer >= ${min}, got ${JSON.stringify(x)}`);
  return x;
}

/**
 * A space from JSON text or a parsed object: every section and key optional (missing ones take DEFAULT_SPACE's), unknown
 * keys refused. Errors are FormatErrors naming the file and the key. Table entries narrower than 8 bits are refused: the
 * accuracy is measured with lutnn's int8 tables (or float tables for wider entries), nothing narrower.
 */
export function parseSpace(input: string | unknown, file = 'space'): DseSpace {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input);
    } catch (e) {
      throw new FormatError(`${file}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (!isObj(raw)) throw new FormatError(`${file}: a space is a JSON object with model, hardware, mac, batch and conversion sections`);
  checkKeys(file, '', raw, ['model', 'hardware', 'mac', 'batch', 'conversion']);
  const d = DEFAULT_SPACE;
  const space: DseSpace = {
    model: { v: { ...d.model.v }, k: [...d.model.k], metric: [...d.model.metric] },
    hardware: { ...d.hardware },
    mac: { ...d.mac },
    batch: d.batch,
    conversion: { ...d.conversion },
  };
  if (raw.model !== undefined) {
    if (!isObj(raw.model)) throw new FormatError(`${file}: 'model' must be an object`);
    checkKeys(file, 'model.', raw.model, ['v', 'k', 'metric']);
    if (raw.model.v !== undefined) {
      if (!isObj(raw.model.v)) throw new FormatError(`${file}: 'model.v' must be an object of lists (conv, conv1x1, linear)`);
      checkKeys(file, 'model.v.', raw.model.v, LAYER_KINDS);
      for (const kind of LAYER_KINDS) if (raw.model.v[kind] !== undefined) space.model.v[kind] = intList(file, `model.v.${kind}`, raw.model.v[kind], 1, 4096);
    }
    if (raw.model.k !== undefined) space.model.k = intList(file, 'model.k', raw.model.k, 2, 256);
    if (raw.model.metric !== undefined) {
      const m = raw.model.metric;
      if (!Array.isArray(m) || m.length === 0 || m.some((x) => !METRICS.includes(x as Metric))) {
        throw new FormatError(`${file}: 'model.metric' must be a non-empty list of ${METRICS.join(', ')}, got ${JSON.stringify(m)}`);
      }
      space.model.metric = [...new Set(m as Metric[])];
    }
  }
  if (raw.hardware !== undefined) {
    if (!isObj(raw.hardware)) throw new FormatError(`${file}: 'hardware' must be an object of lists`);
    checkKeys(file, 'hardware.', raw.hardware, HW_FIELDS);
    for (const f of HW_FIELDS) {
      const x = raw.hardware[f];
      if (x === undefined) continue;
      if (f === 'clockMHz' || f === 'dramBytesPerCycle') {
        if (!Array.isArray(x) || x.length === 0 || x.some((v) => typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
          throw new FormatError(`${file}: 'hardware.${f}' must be a non-empty list of numbers > 0, got ${JSON.stringify(x)}`);
        }
        space.hardware[f] = [...new Set(x as number[])];
      } else {
        space.hardware[f] = intList(file, `hardware.${f}`, x, f === 'tableBits' ? 8 : 1, f === 'tableBits' ? 32 : Number.MAX_SAFE_INTEGER);
      }
    }
  }
  if (raw.mac !== undefined) {
    if (!isObj(raw.mac)) throw new FormatError(`${file}: 'mac' must be an object { rows, cols }`);
    checkKeys(file, 'mac.', raw.mac, ['rows', 'cols']);
    if (raw.mac.rows !== undefined) space.mac.rows = posInt(file, 'mac.rows', raw.mac.rows);
    if (raw.mac.cols !== undefined) space.mac.cols = posInt(file, 'mac.cols', raw.mac.cols);
  }
  if (raw.batch !== undefined) space.batch = posInt(file, 'batch', raw.batch);
  if (raw.conversion !== undefined) {
    const c = raw.conversion;
    if (!isObj(c)) throw new FormatError(`${file}: 'conversion' must be an object`);
    checkKeys(file, 'conversion.', c, ['calib', 'maxRows', 'iters', 'refit', 'testImages', 'seed']);
    if (c.calib !== undefined) space.conversion.calib = posInt(file, 'conversion.calib', c.calib);
    if (c.maxRows !== undefined) space.conversion.maxRows = posInt(file, 'conversion.maxRows', c.maxRows, 16);
    if (c.iters !== undefined) space.conversion.iters = posInt(file, 'conversion.iters', c.iters, 0);
    if (c.testImages !== undefined) space.conversion.testImages = posInt(file, 'conversion.testImages', c.testImages);
    if (c.seed !== undefined) space.conversion.seed = posInt(file, 'conversion.seed', c.seed, 0);
    if (c.refit !== undefined) {
      if (typeof c.refit !== 'boolean') throw new FormatError(`${file}: 'conversion.refit' must be true or false, got ${JSON.stringify(c.refit)}`);
      space.conversion.refit = c.refit;
    }
  }
  return space;
}

/** One model point: V per layer kind present in the model, K, metric. */
export interface ModelPoint {
  v: Partial<Record<LayerKind, number>>;
  k: number;
  metric: Metric;
}

/** A stable short name of a model point: "conv9-linear16-k16-l2". */
export function modelPointName(p: ModelPoint): string {
  const vs = LAYER_KINDS.filter((k) => p.v[k] !== undefined).map((k) => `${k}${p.v[k]}`);
  return [...vs, `k${p.k}`, p.metric].join('-');
}

/** The cartesian product of lists, in order (the last list varies fastest). */
export function product<T>(lists: readonly (readonly T[])[]): T[][] {
  let out: T[][] = [[]];
  for (const l of lists) out = out.flatMap((prefix) => l.map((x) => [...prefix, x]));
  return out;
}

/**
 * The model points for a model whose selected layers have these (kind, inputs D) pairs: per kind present, the space's
 * V values that divide every such layer's D (the others are reported in `skippedV`); then × K × metric.
 */
export function modelPoints(space: DseSpace, layers: readonly { name: string; kind: LayerKind; inDim: number }[]): { points: ModelPoint[]; skippedV: { kind: LayerKind; v: number; layer: string; inDim: number }[] } {
  const kinds = LAYER_KINDS.filter((k) => layers.some((l) => l.kind === k));
  const skippedV: { kind: LayerKind; v: number; layer: string; inDim: number }[] = [];
  const perKind = kinds.map((kind) => {
    const ok = space.model.v[kind].filter((v) => {
      const bad = layers.find((l) => l.kind === kind && l.inDim % v !== 0);
      if (bad) skippedV.push({ kind, v, layer: bad.name, inDim: bad.inDim });
      return !bad;
    });
    if (ok.length === 0) {
      const ds = [...new Set(layers.filter((l) => l.kind === kind).map((l) => l.inDim))].join(', ');
      throw new FormatError(`dse: no V in model.v.${kind} (${space.model.v[kind].join(', ')}) divides the ${kind} layers' inputs (${ds})`);
    }
    return ok;
  });
  const points: ModelPoint[] = [];
  for (const vs of product(perKind)) {
    for (const k of space.model.k) {
      for (const metric of space.model.metric) {
        const v: Partial<Record<LayerKind, number>> = {};
        kinds.forEach((kind, i) => (v[kind] = vs[i]));
        points.push({ v, k, metric });
      }
    }
  }
  return { points, skippedV };
}

/** The hardware points: the cartesian product of the space's hardware lists (fields in HW_FIELDS order). */
export function hardwarePoints(space: DseSpace): Partial<Record<HwField, number>>[] {
  const fields = HW_FIELDS.filter((f) => space.hardware[f] !== undefined);
  return product(fields.map((f) => space.hardware[f]!)).map((vals) => Object.fromEntries(fields.map((f, i) => [f, vals[i]])) as Partial<Record<HwField, number>>);
}
