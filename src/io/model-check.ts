// Checks of a model file's values and memory needs, after its graph is analysed and before anything large is allocated:
// finite tensors, the op records' value checks (BatchNorm variances, MADDNESS split dims), and the activation peak of one
// sample plus the LUT tables against a configurable limit. Shared by the engine, the runtime and the browser build.
import { ArgumentError, FormatError, LimitError, LutnnError, NonFiniteError, fmtShape } from '../errors.js';
import type { GraphInfo } from '../graph/analyze.js';
import { activationPeak } from '../graph/cost.js';
import { perSample, shapeAt } from '../graph/dims.js';
import type { Tensor } from '../tensor/tensor.js';

/** Default of the activation limit: 4 GiB (the largest WebAssembly memory the runtime can address). */
export const DEFAULT_MAX_ACTIVATION_BYTES = 4 * 2 ** 30;
/** Environment variable that sets the activation limit (bytes) where no option does. */
export const ACTIVATION_LIMIT_ENV = 'LUTNN_MAX_ACTIVATION_BYTES';

export interface ModelLimits {
  /**
   * Largest memory one sample may need on load: the activation peak (values live at once plus the largest node's
   * workspace, as `lutnn info` reports it) and the tables built from the LUT layers. Default: the environment variable
   * LUTNN_MAX_ACTIVATION_BYTES, else 4 GiB. The runtime checks its arena at maxBatch against the same limit.
   */
  maxActivationBytes?: number;
}

/** What a model needs beyond its stored tensors. */
export interface ModelMemory {
  /** Activation peak of one sample (bytes), null when the graph input has no per-sample shape [N, ...]. */
  activationBytes: number | null;
  /** The node where the peak is reached. */
  peakNode: string | null;
  /** Tables built from LUT layers at load and in the engine's forward: 9·C·K·M bytes per layer (float32 table and its dequantized copy, int8 table). */
  tableBytes: number;
}

const fmtBytes = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${Math.round(b)} bytes`);

function envLimit(): string | undefined {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.[ACTIVATION_LIMIT_ENV];
}

/** The activation limit in bytes: `limits.maxActivationBytes`, else the environment variable, else the default. */
export function activationLimit(limits: ModelLimits = {}): number {
  const given = limits.maxActivationBytes;
  const env = envLimit();
  const v = given ?? (env !== undefined && env !== '' ? Number(env) : DEFAULT_MAX_ACTIVATION_BYTES);
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    const from = given !== undefined ? 'maxActivationBytes' : ACTIVATION_LIMIT_ENV;
    throw new ArgumentError(`${from} must be a positive number of bytes, got ${JSON.stringify(given ?? env)?.slice(0, 40)}`);
  }
  return v;
}

/** The memory a model needs for one sample of its graph input's shape (see ModelMemory), from shapes only. */
export function modelMemory(info: GraphInfo, weights: ReadonlyMap<string, Tensor>): ModelMemory {
  const sample = perSample(info.graph.inputs[0].shape);
  const { peak, peakLayer, parts } = activationPeak(info, weights, 1);
  let tableBytes = 0;
  for (const p of parts) if (p.lut) tableBytes += 9 * p.lut.ncodebooks * p.lut.k * p.lut.outDim;
  return { activationBytes: sample ? peak : null, peakNode: sample ? peakLayer : null, tableBytes };
}

/**
 * Whether float32 bits `u` hold a NaN or ±Infinity: an exponent of all ones makes (u & 0x7f800000) + 0x00800000 carry
 * into the sign bit. An OR over 8 elements per step, no branch per element: about twice as fast as comparing floats.
 */
function anyNonFinite(u: Int32Array): boolean {
  const E = 0x7f800000;
  const ONE = 0x00800000;
  const n = u.length;
  let m = 0;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    m |= ((u[i] & E) + ONE) | ((u[i + 1] & E) + ONE) | ((u[i + 2] & E) + ONE) | ((u[i + 3] & E) + ONE)
      | ((u[i + 4] & E) + ONE) | ((u[i + 5] & E) + ONE) | ((u[i + 6] & E) + ONE) | ((u[i + 7] & E) + ONE);
  }
  for (; i < n; i++) m |= (u[i] & E) + ONE;
  return m < 0;
}

/**
 * Throws NonFiniteError naming the first tensor (in `weights` order) holding NaN or ±Infinity and the first bad index;
 * integer tensors are always finite.
 */
export function checkFinite(weights: ReadonlyMap<string, Tensor>, file: string): void {
  for (const [name, t] of weights) {
    if (t.dtype !== 'float32') continue;
    const d = t.f32;
    if (!anyNonFinite(new Int32Array(d.buffer, d.byteOffset, d.length))) continue;
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (x - x !== 0) throw new NonFiniteError(`${file}: tensor "${name}" ${fmtShape(t.shape)} has ${x} at flat index ${i}`);
    }
  }
}

/** Runs every node's value checks (OpDef.checkWeights); errors become FormatErrors naming the file and the node. */
export function checkWeightValues(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, file: string): void {
  for (const ni of info.nodes) {
    const check = ni.def.checkWeights;
    if (!check) continue;
    const ins = ni.node.inputs;
    try {
      check({
        node: `node '${ni.node.name}' (${ni.node.op})`,
        attrs: ni.attrs,
        weight: (i) => (i < ins.length && ins[i] !== '' ? weights.get(ins[i]) ?? null : null),
        inputName: (i) => ins[i] ?? '',
        inShape: (i) => (ni.inputs[i] ? shapeAt(ni.inputs[i]!.shape, 1) : null),
      });
    } catch (e) {
      if (e instanceof LutnnError) throw new FormatError(`${file}: ${e.message}`);
      throw e;
    }
  }
}

/** Throws LimitError when `mem` (one sample) passes `limit` bytes. */
export function checkMemory(mem: ModelMemory, limit: number, file: string): void {
  const need = (mem.activationBytes ?? 0) + mem.tableBytes;
  if (need <= limit) return;
  const parts = [
    mem.activationBytes !== null ? `${fmtBytes(mem.activationBytes)} of activations for one sample (peak at node '${mem.peakNode}')` : '',
    mem.tableBytes > 0 ? `${fmtBytes(mem.tableBytes)} of LUT tables` : '',
  ].filter((s) => s !== '');
  throw new LimitError(`${file}: the model needs ${parts.join(' and ')}, more than the limit of ${fmtBytes(limit)} (maxActivationBytes, or the ${ACTIVATION_LIMIT_ENV} environment variable)`);
}

/**
 * The checks of a loaded model's values, in order of cost: LUT tables and the activations of one sample against the
 * limit (from shapes; nothing is allocated), finite tensors, then the records' value checks. Returns the memory figures.
 */
export function checkModel(info: GraphInfo, weights: ReadonlyMap<string, Tensor>, file: string, limits: ModelLimits = {}): ModelMemory {
  const limit = activationLimit(limits);
  let mem: ModelMemory;
  try {
    mem = modelMemory(info, weights);
  } catch (e) {
    if (e instanceof LutnnError && !(e instanceof FormatError)) throw new FormatError(`${file}: ${e.message}`);
    throw e;
  }
  checkMemory(mem, limit, file);
  checkFinite(weights, file);
  checkWeightValues(info, weights, file);
  return mem;
}
