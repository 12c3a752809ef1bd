// Attribute schemas of op records: typed, ranged, with defaults; checking gives the normalised attributes or an error naming the node.
import { ArgumentError } from '../errors.js';
import type { AttrValue, Attrs } from './types.js';

/** Largest |integer| an attribute may hold (int32: sizes, axes, paddings; ONNX's INT64_MAX ends are clamped on import). */
export const ATTR_INT_LIMIT = 2 ** 31 - 1;
/** Longest integer list an attribute may hold. */
export const ATTR_LIST_LIMIT = 4096;

export type AttrSpec =
  | { type: 'int'; min?: number; max?: number; default?: number }
  | { type: 'float'; min?: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean; nullable?: boolean; default?: number | null }
  | { type: 'ints'; len?: number; minLen?: number; min?: number; max?: number; default?: readonly number[] }
  | { type: 'bool'; default?: boolean }
  | { type: 'string'; choices: readonly string[]; default?: string };

export type AttrSchema = Readonly<Record<string, AttrSpec>>;

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v));

function checkInt(where: string, key: string, v: unknown, spec: { min?: number; max?: number }, what = 'an integer'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > ATTR_INT_LIMIT) {
    throw new ArgumentError(`${where}: attribute '${key}' must be ${what} (|v| <= 2^31-1), got ${show(v)}`);
  }
  if ((spec.min !== undefined && v < spec.min) || (spec.max !== undefined && v > spec.max)) {
    const range = `${spec.min ?? '-inf'}..${spec.max ?? 'inf'}`;
    throw new ArgumentError(`${where}: attribute '${key}' = ${v} is out of range ${range}`);
  }
  return v;
}

function checkOne(where: string, key: string, spec: AttrSpec, v: unknown): AttrValue {
  switch (spec.type) {
    case 'int':
      return checkInt(where, key, v, spec);
    case 'float': {
      if (v === null && spec.nullable) return null;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${where}: attribute '${key}' must be a finite number${spec.nullable ? ' or null' : ''}, got ${show(v)}`);
      const lo = spec.min !== undefined && (spec.minExclusive ? v <= spec.min : v < spec.min);
      const hi = spec.max !== undefined && (spec.maxExclusive ? v >= spec.max : v > spec.max);
      if (lo || hi) {
        const range = `${spec.min === undefined ? '(-inf' : spec.minExclusive ? `(${spec.min}` : `[${spec.min}`}, ${spec.max === undefined ? 'inf)' : spec.maxExclusive ? `${spec.max})` : `${spec.max}]`}`;
        throw new ArgumentError(`${where}: attribute '${key}' = ${v} is out of range ${range}`);
      }
      return v;
    }
    case 'ints': {
      if (!Array.isArray(v)) throw new ArgumentError(`${where}: attribute '${key}' must be a list of integers, got ${show(v)}`);
      if (v.length > ATTR_LIST_LIMIT) throw new ArgumentError(`${where}: attribute '${key}' has ${v.length} entries, at most ${ATTR_LIST_LIMIT} allowed`);
      if (spec.len !== undefined && v.length !== spec.len) throw new ArgumentError(`${where}: attribute '${key}' must have ${spec.len} entries, got ${show(v)}`);
      if (spec.minLen !== undefined && v.length < spec.minLen) throw new ArgumentError(`${where}: attribute '${key}' must have at least ${spec.minLen} entries, got ${show(v)}`);
      return Object.freeze(v.map((x, i) => checkInt(where, `${key}[${i}]`, x, spec)));
    }
    case 'bool':
      if (typeof v !== 'boolean') throw new ArgumentError(`${where}: attribute '${key}' must be true or false, got ${show(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string' || !spec.choices.includes(v)) throw new ArgumentError(`${where}: attribute '${key}' must be one of ${spec.choices.join(', ')}, got ${show(v)}`);
      return v;
  }
}

/**
 * The attributes of a node checked against `schema`: unknown keys and missing required keys throw, defaults are
 * filled in, integer lists are frozen copies. `where` names the node in messages ("node 'conv1' (Conv)").
 */
export function checkAttrs<A extends Attrs>(where: string, schema: AttrSchema, attrs: unknown): A {
  if (attrs === null || typeof attrs !== 'object' || Array.isArray(attrs)) throw new ArgumentError(`${where}: attrs must be an object, got ${show(attrs)}`);
  const given = attrs as Record<string, unknown>;
  for (const k of Object.keys(given)) {
    if (!Object.prototype.hasOwnProperty.call(schema, k)) {
      const known = Object.keys(schema);
      throw new ArgumentError(`${where}: unknown attribute '${k}' (${known.length ? `known: ${known.join(', ')}` : 'the op takes none'})`);
    }
  }
  const out: Record<string, AttrValue> = {};
  for (const [k, spec] of Object.entries(schema)) {
    const v = Object.prototype.hasOwnProperty.call(given, k) ? given[k] : undefined;
    if (v === undefined) {
      if (spec.default === undefined) throw new ArgumentError(`${where}: attribute '${k}' is required`);
      out[k] = Array.isArray(spec.default) ? Object.freeze([...spec.default]) : (spec.default as AttrValue);
      continue;
    }
    out[k] = checkOne(where, k, spec, v);
  }
  return Object.freeze(out) as A;
}
