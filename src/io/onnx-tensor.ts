// ONNX TensorProto → a constant of the import: dims and element type checked, data from raw_data, the typed fields
// (float_data, int32_data, int64_data, double_data, uint64_data) or external data, its byte length checked.
import { FormatError } from '../errors.js';
import type { DecodedTensor } from './onnx-decode.js';
import { ONNX_ELEM, type Const, type ElemType } from './onnx-fold.js';

/** Reads `length` bytes at `offset` of an external data file named by a tensor (path relative to the model). */
export type ExternalReader = (location: string, offset: number, length: number) => Uint8Array;

/** Bytes per element as stored (FLOAT16 and BFLOAT16 are 2 bytes). */
const ELEM_BYTES: Readonly<Record<number, number>> = { 1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2 };

const DTYPE_NAMES: Readonly<Record<number, string>> = { 0: 'UNDEFINED', 8: 'STRING', 14: 'COMPLEX64', 15: 'COMPLEX128', 17: 'FLOAT8E4M3FN', 18: 'FLOAT8E4M3FNUZ', 19: 'FLOAT8E5M2', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4' };

/** float16 bits → number. */
function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** The checked dims of a tensor and its element count. */
export function tensorDims(t: DecodedTensor, where: string): { dims: number[]; count: number } {
  const dims = t.dims ?? [];
  if (dims.length > 16) throw new FormatError(`${where}: ${dims.length} dims, at most 16 supported`);
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0 || d > 2 ** 31 - 1) throw new FormatError(`${where}: dims [${dims.join(',')}] hold an invalid dim ${d}`);
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw new FormatError(`${where}: dims [${dims.join(',')}] overflow (more than 2^53 elements)`);
  }
  return { dims: [...dims], count };
}

/** Element type of a tensor, or a FormatError naming it. */
export function elemTypeOf(code: number, where: string): ElemType {
  const t = ONNX_ELEM[code];
  if (!t) throw new FormatError(`${where}: element type ${DTYPE_NAMES[code] ?? code} is not supported (float, double, float16, bfloat16, bool and 8- to 64-bit integers are)`);
  return t;
}

function fromBytes(code: number, bytes: Uint8Array, count: number): Const['data'] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (code) {
    case 1: {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    }
    case 10:
    case 16: {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const h = dv.getUint16(2 * i, true);
        out[i] = code === 10 ? half(h) : new Float32Array(new Uint32Array([h << 16]).buffer)[0];
      }
      return out;
    }
    case 11: {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      return out;
    }
    default: {
      const out = new Array<number>(count);
      for (let i = 0; i < count; i++) {
        switch (code) {
          case 2: out[i] = dv.getUint8(i); break;
          case 3: out[i] = dv.getInt8(i); break;
          case 9: out[i] = dv.getUint8(i) ? 1 : 0; break;
          case 4: out[i] = dv.getUint16(2 * i, true); break;
          case 5: out[i] = dv.getInt16(2 * i, true); break;
          case 6: out[i] = dv.getInt32(4 * i, true); break;
          case 12: out[i] = dv.getUint32(4 * i, true); break;
          case 7: out[i] = Number(dv.getBigInt64(8 * i, true)); break;
          case 13: out[i] = Number(dv.getBigUint64(8 * i, true)); break;
        }
      }
      return out;
    }
  }
}

/** The typed field holding a tensor's values when it has no raw data, by element type (onnx.proto's rules). */
function typedField(t: DecodedTensor, code: number): { values: ArrayLike<number>; field: string } {
  switch (code) {
    case 1:
      return { values: t.floatData ?? [], field: 'float_data' };
    case 11:
      return { values: t.doubleData ?? [], field: 'double_data' };
    case 7:
      return { values: t.int64Data ?? [], field: 'int64_data' };
    case 12:
    case 13:
      return { values: t.uint64Data ?? [], field: 'uint64_data' };
    default:
      // int32_data holds int32, int16, int8, uint16, uint8, bool, and float16 / bfloat16 as their bits.
      return { values: t.int32Data ?? [], field: 'int32_data' };
  }
}

function fromTyped(code: number, values: ArrayLike<number>, count: number): Const['data'] {
  if (code === 1) return Float32Array.from(values);
  if (code === 11) return Float64Array.from(values);
  if (code === 10 || code === 16) {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = code === 10 ? half(values[i] & 0xffff) : new Float32Array(new Uint32Array([(values[i] & 0xffff) << 16]).buffer)[0];
    return out;
  }
  return Array.from(values, (v) => (code === 9 ? (v ? 1 : 0) : Number(v)));
}

/** External data entries (location, offset, length) of a tensor. */
function externalOf(t: DecodedTensor, where: string): { location: string; offset: number; length: number | null } {
  let location = '';
  let offset = 0;
  let length: number | null = null;
  for (const e of t.externalData ?? []) {
    const num = (v: string): number => {
      if (!/^[0-9]{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new FormatError(`${where}: external_data ${e.key} '${v.slice(0, 40)}' is not a byte count`);
      return Number(v);
    };
    if (e.key === 'location') location = e.value;
    else if (e.key === 'offset') offset = num(e.value);
    else if (e.key === 'length') length = num(e.value);
  }
  if (!location) throw new FormatError(`${where}: external data without a location`);
  return { location, offset, length };
}

/**
 * A TensorProto as a constant. `where` names the file and tensor in errors. The data's byte length must match the
 * dims exactly, so nothing larger than the file (or the external file) is ever allocated.
 */
export function readTensor(t: DecodedTensor, where: string, external?: ExternalReader): Const {
  const code = t.dataType ?? 0;
  const dtype = elemTypeOf(code, where);
  const { dims, count } = tensorDims(t, where);
  const width = ELEM_BYTES[code];
  if (t.segment && t.segment.length > 0) throw new FormatError(`${where}: segmented tensors are not supported`);
  let data: Const['data'];
  if (t.dataLocation === 1) {
    const ext = externalOf(t, where);
    const want = count * width;
    if (ext.length !== null && ext.length !== want) throw new FormatError(`${where}: external data length ${ext.length} bytes, dims [${dims.join(',')}] of ${dtype} need ${want}`);
    if (!external) throw new FormatError(`${where}: the tensor's data is in the external file '${ext.location}', which cannot be read here (give the model's path)`);
    const bytes = external(ext.location, ext.offset, want);
    if (bytes.length !== want) throw new FormatError(`${where}: external file '${ext.location}' holds ${bytes.length} bytes at offset ${ext.offset}, dims [${dims.join(',')}] of ${dtype} need ${want}`);
    data = fromBytes(code, bytes, count);
  } else if (t.dataLocation !== undefined && t.dataLocation !== 0) {
    throw new FormatError(`${where}: data_location ${t.dataLocation} is not DEFAULT (0) or EXTERNAL (1)`);
  } else if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * width) throw new FormatError(`${where}: raw_data holds ${t.rawData.length} bytes, dims [${dims.join(',')}] of ${dtype} need ${count * width}`);
    data = fromBytes(code, t.rawData, count);
  } else {
    const { values, field } = typedField(t, code);
    if (values.length !== count) throw new FormatError(`${where}: ${field} holds ${values.length} values, dims [${dims.join(',')}] need ${count}`);
    data = fromTyped(code, values, count);
  }
  return { dtype, shape: dims, data };
}
