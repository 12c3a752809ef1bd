// The safetensors format without the file system: serialize and parse tensors with string metadata, validating everything.
import { ArgumentError, FormatError, NonFiniteError, fmtShape } from '../errors.js';
import { Tensor, type DType, type TypedArray } from '../tensor/tensor.js';

/*
 * Layout (https://github.com/huggingface/safetensors):
 *   8 bytes   N, little-endian u64: length of the JSON header
 *   N bytes   UTF-8 JSON object: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] },
 *             ..., "__metadata__": { "<key>": "<string value>" } }, possibly padded with spaces
 *   rest      the byte buffer; offsets are relative to its start; tensors are packed without gaps,
 *             values little-endian, row-major.
 * Written and read: F32, I32, I8, U8 (lutnn's own dtypes).
 * Read only, converted to float32 on load: F64 (rounded to nearest float32), F16 and BF16 (exact).
 * Any other dtype is a FormatError.
 */

/** Metadata key under which lutnn stores its architecture description (a JSON string). */
export const LUTNN_METADATA_KEY = 'lutnn';
/** Largest header accepted on load (the reference implementation uses the same bound). */
export const MAX_HEADER_BYTES = 100_000_000;
/** Deepest nesting of the header's JSON (safetensors writes 3 levels: the object, an entry, its shape). */
export const MAX_HEADER_DEPTH = 16;
/** Deepest nesting a JSON-valued metadata entry may have (lutnn's own are below 20; version 1 files nest 2 per module). */
export const MAX_METADATA_DEPTH = 256;

/** A parsed safetensors file. */
export interface SafetensorsContents {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

type FileDType = 'F32' | 'I32' | 'I8' | 'U8' | 'F64' | 'F16' | 'BF16';

const DTYPE_SIZE: Record<FileDType, number> = { F32: 4, I32: 4, I8: 1, U8: 1, F64: 8, F16: 2, BF16: 2 };
const TO_FILE: Record<DType, FileDType> = { float32: 'F32', int32: 'I32', int8: 'I8', uint8: 'U8' };
const FROM_FILE: Record<FileDType, DType> = {
  F32: 'float32',
  I32: 'int32',
  I8: 'int8',
  U8: 'uint8',
  F64: 'float32',
  F16: 'float32',
  BF16: 'float32',
};
/** Dtypes of the safetensors spec that lutnn recognises but does not read. */
const UNSUPPORTED = new Set(['BOOL', 'I16', 'U16', 'U32', 'I64', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);
const METADATA = '__metadata__';
const LITTLE_ENDIAN_HOST = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Set a property as an own data property, even for names like `__proto__`. */
function define<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

// ---------------------------------------------------------------------------------------------------
// Writing

/** The bytes of a safetensors file holding `tensors` (in insertion order) and optional string metadata. */
export function serializeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  const entries = Object.entries(tensors);
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === METADATA) throw new ArgumentError(`serializeSafetensors: tensor name "${METADATA}" is reserved`);
    if (name.length === 0) throw new ArgumentError('serializeSafetensors: tensor names must be non-empty');
    if (!(t instanceof Tensor)) throw new ArgumentError(`serializeSafetensors: "${name}" is not a Tensor`);
    const nbytes = t.data.byteLength;
    define(header, name, { dtype: TO_FILE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + nbytes] });
    offset += nbytes;
  }
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') {
        throw new ArgumentError(`serializeSafetensors: metadata "${k}" must be a string (JSON-encode structured values), got ${typeof v}`);
      }
      define(meta, k, v);
    }
    define(header, METADATA, meta);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the buffer starts 8-byte aligned, as the reference writer does.
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLen % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLen / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    writeLittleEndian(t.data, out, pos);
    pos += t.data.byteLength;
  }
  return out;
}

function writeLittleEndian(data: TypedArray, out: Uint8Array, pos: number): void {
  if (LITTLE_ENDIAN_HOST || data.BYTES_PER_ELEMENT === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + pos, data.byteLength);
  if (data instanceof Float32Array) for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i], true);
  else for (let i = 0; i < data.length; i++) view.setInt32(4 * i, data[i], true);
}

// ---------------------------------------------------------------------------------------------------
// Reading

interface Entry {
  name: string;
  dtype: FileDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parse the bytes of a safetensors file. Everything is validated before any tensor storage is allocated;
 * a malformed file gives a FormatError naming `nameForErrors` and what is wrong.
 */
export function parseSafetensors(bytes: Uint8Array, nameForErrors = 'safetensors'): SafetensorsContents {
  const fail: (msg: string) => never = (msg) => {
    throw new FormatError(`${nameForErrors}: ${msg}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const limit = Math.min(bytes.length - 8, MAX_HEADER_BYTES);
  if (hi !== 0 || lo > limit) {
    const n = hi * 2 ** 32 + lo;
    fail(`header length ${n} exceeds ${lo > MAX_HEADER_BYTES || hi !== 0 ? `the ${MAX_HEADER_BYTES}-byte limit` : `the ${bytes.length - 8} bytes after the length field`}`);
  }
  if (lo < 2) fail(`header length ${lo} is too short for a JSON object`);
  const headerBytes = bytes.subarray(8, 8 + lo);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`header must start with "{", got ${JSON.stringify(text.slice(0, 8))}`);
  if (jsonDepthExceeds(text, MAX_HEADER_DEPTH)) fail(`header nests arrays or objects more than ${MAX_HEADER_DEPTH} deep`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header must be a JSON object');
  const obj = header as Record<string, unknown>;
  const dup = firstDuplicateKey(text);
  if (dup !== null) fail(`duplicate entry ${JSON.stringify(dup)} in header`);

  const bufferLen = bytes.length - 8 - lo;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const name of Object.keys(obj)) {
    const value = obj[name];
    if (name === METADATA) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`"${METADATA}" must be an object of strings`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`metadata "${k}" must be a string, got ${jsonKind(v)}`);
        define(metadata, k, v as string);
      }
      continue;
    }
    entries.push(checkEntry(name, value, bufferLen, fail));
  }

  // The buffer must be covered exactly: sorted by offsets, each tensor starts where the previous ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | null = null;
  for (const e of sorted) {
    if (e.begin < pos) fail(`tensor "${e.name}" data_offsets [${e.begin},${e.end}] overlap tensor "${prev?.name}" ending at ${pos}`);
    if (e.begin > pos) {
      fail(`gap of ${e.begin - pos} bytes before tensor "${e.name}" (data_offsets [${e.begin},${e.end}], previous data ends at ${pos})`);
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== bufferLen) fail(`${bufferLen - pos} trailing bytes after the last tensor (buffer is ${bufferLen} bytes, tensors cover ${pos})`);

  const tensors: Record<string, Tensor> = {};
  const base = 8 + lo;
  for (const e of entries) {
    const t = new Tensor(decode(e.dtype, bytes.subarray(base + e.begin, base + e.end)), e.shape, FROM_FILE[e.dtype]);
    t.name = e.name;
    define(tensors, e.name, t);
  }
  return { tensors, metadata };
}

function checkEntry(name: string, value: unknown, bufferLen: number, fail: (m: string) => never): Entry {
  const what = `tensor "${name}"`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${what} must be an object, got ${jsonKind(value)}`);
  const v = value as Record<string, unknown>;
  for (const key of ['dtype', 'shape', 'data_offsets']) if (!hasOwn(v, key)) fail(`${what} has no "${key}"`);
  const dtype = v.dtype;
  if (typeof dtype !== 'string') fail(`${what} dtype must be a string, got ${jsonKind(dtype)}`);
  const dt = dtype as string;
  if (!hasOwn(DTYPE_SIZE, dt)) {
    fail(
      UNSUPPORTED.has(dt)
        ? `${what} has dtype ${dt}, which lutnn does not read (supported: F32, I32, I8, U8, F64, F16, BF16)`
        : `${what} has unknown dtype ${JSON.stringify(dt)}`,
    );
  }
  const shape = v.shape;
  if (!Array.isArray(shape)) fail(`${what} shape must be an array, got ${jsonKind(shape)}`);
  const dims = shape as unknown[];
  let count = 1;
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`${what} shape ${JSON.stringify(shape)} must hold non-negative integers`);
    count *= d as number;
  }
  const offsets = v.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    fail(`${what} data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`${what} data_offsets [${begin},${end}] have begin after end`);
  if (end > bufferLen) fail(`${what} data_offsets [${begin},${end}] run past the ${bufferLen}-byte buffer`);
  const fdt = dt as FileDType;
  const need = count * DTYPE_SIZE[fdt];
  if (end - begin !== need) {
    const needText = Number.isSafeInteger(need) ? `${need} bytes` : 'more bytes than can be addressed';
    fail(`${what} data_offsets [${begin},${end}] need ${needText} for ${fdt} ${fmtShape(dims as number[])}`);
  }
  return { name, dtype: fdt, shape: dims as number[], begin, end };
}

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

/**
 * The first top-level key that occurs twice in a JSON object text (JSON.parse silently keeps the last).
 * `text` must already be valid JSON.
 */
function firstDuplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      i++;
      while (text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c /* \ */ ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      expectKey = depth === 1;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return null;
}

function decode(dtype: FileDType, src: Uint8Array): TypedArray {
  const n = src.length / DTYPE_SIZE[dtype];
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (dtype) {
    case 'U8':
      return new Uint8Array(src); // a copy (Buffer#slice would be a view)
    case 'I8':
      return new Int8Array(new Uint8Array(src).buffer);
    case 'F32': {
      const out = new Float32Array(n);
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(src);
      else for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      if (LITTLE_ENDIAN_HOST) new Uint8Array(out.buffer).set(src);
      else for (let i = 0; i < n; i++) out[i] = view.getInt32(4 * i, true);
      return out;
    }
    case 'F64': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: widening is exact.
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
  }
}

/** IEEE 754 binary16 bits to a number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// ---------------------------------------------------------------------------------------------------
// Checks and metadata helpers

/**
 * Throw NonFiniteError naming the first tensor (in `names` order, default all) that holds NaN or ±Infinity,
 * with the index of the first bad value. Integer tensors are always finite. `context` (e.g. a file name)
 * prefixes the message.
 */
export function requireFinite(tensors: Record<string, Tensor>, names?: readonly string[], context = 'requireFinite'): void {
  for (const name of names ?? Object.keys(tensors)) {
    if (!hasOwn(tensors, name)) throw new ArgumentError(`${context}: no tensor named "${name}"`);
    const t = tensors[name];
    if (t.dtype !== 'float32') continue;
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (x - x !== 0) {
        throw new NonFiniteError(`${context}: tensor "${name}" ${fmtShape(t.shape)} has ${x} at flat index ${i}`);
      }
    }
  }
}

/**
 * True when the JSON `text` nests arrays and objects more than `limit` deep (brackets inside strings do not count). A
 * linear scan, so untrusted JSON is refused before JSON.parse builds it and before anything recurses over it.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return false;
}

/**
 * Parse a JSON-valued metadata entry (e.g. `LUTNN_METADATA_KEY`); FormatError if missing, not JSON, or nested more than
 * MAX_METADATA_DEPTH deep.
 */
export function readJsonMetadata(metadata: Record<string, string>, key: string, nameForErrors = 'safetensors'): unknown {
  if (!hasOwn(metadata, key)) throw new FormatError(`${nameForErrors}: metadata has no "${key}" entry`);
  if (jsonDepthExceeds(metadata[key], MAX_METADATA_DEPTH)) throw new FormatError(`${nameForErrors}: metadata "${key}" nests arrays or objects more than ${MAX_METADATA_DEPTH} deep`);
  try {
    return JSON.parse(metadata[key]);
  } catch (e) {
    throw new FormatError(`${nameForErrors}: metadata "${key}" is not valid JSON (${(e as Error).message})`);
  }
}
