// Tests for the safetensors reader/writer: round trips, a Python-written fixture, malformed files and fuzzing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LUTNN_METADATA_KEY,
  halfToFloat,
  loadSafetensors,
  parseSafetensors,
  readJsonMetadata,
  requireFinite,
  saveSafetensors,
  serializeSafetensors,
} from './safetensors.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { ArgumentError, FormatError, NonFiniteError } from '../errors.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/io/', import.meta.url));

function sample(): Record<string, Tensor> {
  return {
    'fc1.weight': tensor([[0.5, -1.5, 2], [3, -0, 1e-7]]),
    'conv.lut': tensor([[-128, 0], [5, 127]], undefined, 'int8'),
    codes: tensor([0, 7, 255], undefined, 'uint8'),
    index: tensor([-2147483648, 1, 2147483647], undefined, 'int32'),
    scalar: new Tensor(Float32Array.of(3.25), []),
    empty: new Tensor(new Float32Array(0), [0, 5]),
    emptyInt: new Tensor(new Int8Array(0), [3, 0]),
    scalarU8: new Tensor(Uint8Array.of(9), []),
  };
}

/** Build a file from a header object and a buffer (for hand-made malformed files). */
function rawFile(header: unknown, buffer: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + buffer.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(buffer, 8 + json.length);
  return out;
}

function expectFormat(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => parseSafetensors(bytes, 'model.safetensors'), (e: Error) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e.name}: ${e.message}`);
    assert.match(e.message, /^model\.safetensors: /);
    assert.match(e.message, pattern);
    return true;
  });
}

test('round trip of every writable dtype, 0-d and empty tensors, metadata, in memory and on disk', () => {
  const ts = sample();
  const meta = { [LUTNN_METADATA_KEY]: JSON.stringify({ arch: 'lenet', k: 16 }), note: 'ünïcode ✓' };
  const bytes = serializeSafetensors(ts, meta);
  const headerLen = new DataView(bytes.buffer).getUint32(0, true);
  assert.equal(headerLen % 8, 0, 'header padded to 8 bytes');
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-st-'));
  try {
    const path = join(dir, 'm.safetensors');
    saveSafetensors(path, ts, meta);
    assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
    for (const got of [parseSafetensors(bytes), loadSafetensors(path)]) {
      assert.deepEqual(Object.keys(got.tensors), Object.keys(ts));
      for (const [name, t] of Object.entries(ts)) {
        const g = got.tensors[name];
        assert.equal(g.dtype, t.dtype, name);
        assert.deepEqual(g.shape, t.shape, name);
        assert.deepEqual(g.data, t.data, name);
        assert.equal(g.name, name);
      }
      assert.ok(Object.is(got.tensors['fc1.weight'].data[4], -0), 'negative zero survives');
      assert.deepEqual(got.metadata, meta);
      assert.deepEqual(readJsonMetadata(got.metadata, LUTNN_METADATA_KEY), { arch: 'lenet', k: 16 });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('no metadata and no tensors are valid files', () => {
  const got = parseSafetensors(serializeSafetensors({}));
  assert.deepEqual(got.tensors, {});
  assert.deepEqual(got.metadata, {});
});

test('loaded tensors do not alias the file buffer', () => {
  const bytes = serializeSafetensors({ a: tensor([1, 2], undefined, 'uint8'), b: tensor([3, 4], undefined, 'int8') });
  const got = parseSafetensors(Buffer.from(bytes));
  bytes.fill(0);
  assert.deepEqual([...got.tensors.a.data], [1, 2]);
  assert.deepEqual([...got.tensors.b.data], [3, 4]);
});

test('reads a file written by Python (json/struct, torch bit patterns): F32 F64 F16 BF16 U8 I8 I32', () => {
  const got = loadSafetensors(join(FIXTURES, 'python.safetensors'));
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'python.expected.json'), 'utf8')) as {
    metadata: Record<string, string>;
    tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
  };
  assert.deepEqual(got.metadata, expected.metadata);
  assert.deepEqual(readJsonMetadata(got.metadata, 'lutnn'), { arch: 'mlp', layers: [784, 10] });
  assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(expected.tensors).sort());
  for (const [name, e] of Object.entries(expected.tensors)) {
    const t = got.tensors[name];
    assert.equal(t.dtype, e.dtype, name);
    assert.deepEqual(t.shape, e.shape, name);
    assert.deepEqual([...t.data], e.values, name);
  }
});

test('halfToFloat covers normals, subnormals, zeros, infinities and NaN', () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.ok(Object.is(halfToFloat(0x8000), -0));
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.equal(halfToFloat(0xfc00), -Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

test('writer rejects a reserved name, non-string metadata and non-tensors', () => {
  assert.throws(() => serializeSafetensors({ __metadata__: tensor([1]) }), ArgumentError);
  assert.throws(() => serializeSafetensors({ a: tensor([1]) }, { k: 3 as unknown as string }), ArgumentError);
  assert.throws(() => serializeSafetensors({ a: [1, 2] as unknown as Tensor }), ArgumentError);
});

test('malformed files give FormatError naming the file and the problem', () => {
  const f32 = (n: number) => new Uint8Array(4 * n);
  expectFormat(new Uint8Array(5), /5 bytes, shorter than the 8-byte/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setUint32(4, 1, true);
  expectFormat(huge, /header length 4294967296 exceeds the 100000000-byte limit/);
  const long = new Uint8Array(16);
  new DataView(long.buffer).setUint32(0, 9, true);
  expectFormat(long, /header length 9 exceeds the 8 bytes after/);
  expectFormat(rawFile(null, undefined, '{"a": x}'), /not valid JSON/);
  const badUtf8 = rawFile(null, undefined, '{"a":1}  ');
  badUtf8[9] = 0xff;
  expectFormat(badUtf8, /not valid UTF-8/);
  expectFormat(rawFile(null, undefined, '[1,2]'), /must start with "\{"/);
  expectFormat(rawFile(null, undefined, '{"a":'), /not valid JSON/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [8, 16], data_offsets: [0, 400] } }, f32(100)), /tensor "w" data_offsets \[0,400\] need 512 bytes for F32 \[8,16\]/);
  expectFormat(rawFile({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, f32(2)), /dtype I64, which lutnn does not read/);
  expectFormat(rawFile({ w: { dtype: 'X9', shape: [1], data_offsets: [0, 4] } }, f32(1)), /unknown dtype "X9"/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /non-negative integers/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, f32(1)), /non-negative integers/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: '1', data_offsets: [0, 4] } }, f32(1)), /shape must be an array/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32(1)), /begin after end/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, f32(1)), /run past the 4-byte buffer/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, f32(1)), /data_offsets must be \[begin, end\]/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [1] } }, f32(1)), /tensor "w" has no "data_offsets"/);
  expectFormat(rawFile({ w: [1] }, f32(1)), /tensor "w" must be an object, got an array/);
  expectFormat(rawFile({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, f32(1)), /more bytes than can be addressed/);
  // Coverage of the buffer: overlap, gap, trailing bytes.
  const two = (a: number[], b: number[], buf: number) =>
    rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: a }, b: { dtype: 'F32', shape: [2], data_offsets: b } }, f32(buf));
  expectFormat(two([0, 8], [4, 12], 3), /tensor "b" data_offsets \[4,12\] overlap tensor "a"/);
  expectFormat(two([0, 8], [12, 20], 5), /gap of 4 bytes before tensor "b"/);
  expectFormat(two([0, 8], [8, 16], 5), /4 trailing bytes after the last tensor/);
  expectFormat(two([4, 12], [12, 20], 5), /gap of 4 bytes before tensor "a"/);
  assert.equal(parseSafetensors(two([8, 16], [0, 8], 4)).tensors.b.size, 2, 'out-of-order but contiguous is fine');
  // Duplicates and metadata.
  const dupText = '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  expectFormat(rawFile(null, Uint8Array.of(1), dupText), /duplicate entry "a"/);
  const escDup = '{"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  expectFormat(rawFile(null, Uint8Array.of(1), escDup), /duplicate entry "a"/);
  expectFormat(rawFile({ __metadata__: { k: 1 } }), /metadata "k" must be a string, got number/);
  expectFormat(rawFile({ __metadata__: ['x'] }), /"__metadata__" must be an object of strings/);
  expectFormat(rawFile({ __metadata__: { a: 'x' } }, undefined, '{"__metadata__":{"a":"x"},"__metadata__":{}}'), /duplicate entry "__metadata__"/);
  assert.throws(() => readJsonMetadata({ lutnn: '{oops' }, 'lutnn', 'm.st'), /m\.st: metadata "lutnn" is not valid JSON/);
  assert.throws(() => readJsonMetadata({}, 'lutnn', 'm.st'), /m\.st: metadata has no "lutnn" entry/);
});

test('nested duplicate-looking keys and escaped quotes are not duplicates', () => {
  const text = '{"__metadata__":{"a":"x\\"y","b":"{\\"a\\":1}"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  const got = parseSafetensors(rawFile(null, Uint8Array.of(7), text));
  assert.equal(got.metadata.a, 'x"y');
  assert.equal(got.tensors.a.data[0], 7);
});

test('a tensor named __proto__ is an own property, not a prototype change', () => {
  const text = '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
  const got = parseSafetensors(rawFile(null, Uint8Array.of(5), text));
  assert.equal(Object.getPrototypeOf(got.tensors), Object.prototype);
  assert.ok(Object.prototype.hasOwnProperty.call(got.tensors, '__proto__'));
  assert.equal(Object.keys(got.tensors).length, 1);
});

/** Parse and accept only FormatError or a self-consistent result. Returns 'ok' or 'format'. */
function parseOrFormatError(bytes: Uint8Array): 'ok' | 'format' {
  try {
    const got = parseSafetensors(bytes, 'fuzz');
    for (const t of Object.values(got.tensors)) assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
    for (const v of Object.values(got.metadata)) assert.equal(typeof v, 'string');
    return 'ok';
  } catch (e) {
    if (e instanceof FormatError && e.message.startsWith('fuzz: ')) return 'format';
    throw e;
  }
}

test('fuzz: every truncation and seeded random header byte flips give FormatError or valid data', () => {
  const bytes = serializeSafetensors(sample(), { lutnn: '{"a":1}' });
  const headerEnd = 8 + new DataView(bytes.buffer).getUint32(0, true);
  let formatErrors = 0;
  for (let len = 0; len < bytes.length; len++) if (parseOrFormatError(bytes.subarray(0, len)) === 'format') formatErrors++;
  assert.equal(formatErrors, bytes.length, 'every strict truncation is rejected');
  const rng = new Rng(1234);
  const outcomes = { ok: 0, format: 0 };
  for (let iter = 0; iter < 3000; iter++) {
    const b = bytes.slice();
    const flips = 1 + rng.int(3);
    for (let f = 0; f < flips; f++) {
      const pos = rng.int(headerEnd);
      if (rng.random() < 0.5) b[pos] ^= 1 << rng.int(8);
      else b[pos] = rng.int(256);
    }
    outcomes[parseOrFormatError(b)]++;
  }
  assert.ok(outcomes.format > 1000, `most corruptions detected: ${JSON.stringify(outcomes)}`);
  // Appending bytes or garbage after a valid file is caught too.
  assert.equal(parseOrFormatError(Uint8Array.from([...bytes, 0])), 'format');
});

test('requireFinite names the tensor and the first bad index; integer tensors pass', () => {
  const ts = { a: tensor([1, 2, 3]), b: tensor([0, NaN, Infinity]), c: tensor([1, 2], undefined, 'int32') };
  requireFinite(ts, ['a', 'c']);
  assert.throws(() => requireFinite(ts), (e: Error) => e instanceof NonFiniteError && /tensor "b" \[3\] has NaN at flat index 1/.test(e.message));
  assert.throws(() => requireFinite({ x: tensor([1, -Infinity]) }, undefined, 'm.safetensors'), /m\.safetensors: tensor "x" \[2\] has -Infinity at flat index 1/);
  assert.throws(() => requireFinite(ts, ['nope']), ArgumentError);
});

test('loadSafetensors names the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-st-'));
  try {
    const path = join(dir, 'broken.safetensors');
    writeFileSync(path, Uint8Array.of(1, 2, 3));
    assert.throws(() => loadSafetensors(path), /^FormatError: broken\.safetensors: file is 3 bytes/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
