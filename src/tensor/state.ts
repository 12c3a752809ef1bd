// State dicts: loading named tensors into a model's own tensors, all checked (names, shapes, finiteness, integer ranges) before any write.
import { ArgumentError, DTypeError, NonFiniteError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, sameShape, type DType } from './tensor.js';

/** What `loadStateDict` found besides the keys it loaded (only non-empty when `strict` is false). */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). Shapes and values are always checked. */
  strict?: boolean;
}

/**
 * Copy values from `dict` into the tensors of `own` (in place, so optimizers keep their references). Everything is
 * validated before anything is written: shapes must match exactly, float values must be finite, int/float
 * conversions must be exact. With `strict` (default) missing or unexpected keys throw; otherwise they are returned.
 */
export function loadStateInto(own: Record<string, Tensor>, dict: Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
  const strict = opts.strict ?? true;
  if (dict === null || typeof dict !== 'object') throw new ArgumentError('loadStateDict: expected an object of tensors');
  const missingKeys = Object.keys(own).filter((k) => !Object.prototype.hasOwnProperty.call(dict, k));
  const unexpectedKeys = Object.keys(dict).filter((k) => !Object.prototype.hasOwnProperty.call(own, k));
  if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
    const parts: string[] = [];
    if (missingKeys.length > 0) parts.push(`missing keys ${listKeys(missingKeys)}`);
    if (unexpectedKeys.length > 0) parts.push(`unexpected keys ${listKeys(unexpectedKeys)}`);
    throw new ArgumentError(`loadStateDict: ${parts.join('; ')}`);
  }
  const plan: [Tensor, Tensor][] = [];
  for (const [key, dst] of Object.entries(own)) {
    if (!Object.prototype.hasOwnProperty.call(dict, key)) continue;
    const src = dict[key];
    if (!(src instanceof Tensor)) throw new ArgumentError(`loadStateDict: '${key}' is not a Tensor`);
    if (!sameShape(src.shape, dst.shape)) {
      throw new ShapeError(`loadStateDict: '${key}' expected shape ${fmtShape(dst.shape)}, got ${fmtShape(src.shape)}`);
    }
    checkValues(key, src, dst.dtype);
    plan.push([dst, src]);
  }
  for (const [dst, src] of plan) {
    if (src.data === dst.data) continue;
    const d = dst.data;
    const s = src.data;
    for (let i = 0; i < d.length; i++) d[i] = s[i];
  }
  return { missingKeys, unexpectedKeys };
}

function listKeys(keys: string[]): string {
  const shown = keys.slice(0, 8).map((k) => `'${k}'`).join(', ');
  return keys.length > 8 ? `${shown} and ${keys.length - 8} more` : shown;
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int32: [-2147483648, 2147483647],
  int8: [-128, 127],
  uint8: [0, 255],
};

/** Values of `src` must be finite and fit `dtype` exactly. */
function checkValues(key: string, src: Tensor, dtype: DType): void {
  const s = src.data;
  if (src.dtype === 'float32') {
    for (let i = 0; i < s.length; i++) {
      if (!Number.isFinite(s[i])) throw new NonFiniteError(`loadStateDict: '${key}' has non-finite value ${s[i]} at index ${i}`);
    }
  }
  const range = INT_RANGE[dtype];
  if (range && src.dtype !== dtype) {
    for (let i = 0; i < s.length; i++) {
      const v = s[i];
      if (!Number.isInteger(v) || v < range[0] || v > range[1]) {
        throw new DTypeError(`loadStateDict: '${key}' is ${dtype} but value ${v} at index ${i} of the ${src.dtype} input does not fit`);
      }
    }
  }
}
