// Tests for writeFileAtomic: content, no leftovers, and the old file surviving a failed write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-atomic-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('writes bytes, strings and chunk iterables, replacing the target and leaving no temporary files', () => {
  withDir((dir) => {
    const p = join(dir, 'out.bin');
    writeFileAtomic(p, Uint8Array.of(1, 2, 3));
    assert.deepEqual([...readFileSync(p)], [1, 2, 3]);
    writeFileAtomic(p, 'héllo');
    assert.equal(readFileSync(p, 'utf8'), 'héllo');
    writeFileAtomic(p, [Uint8Array.of(9), new Uint8Array(0), Uint8Array.of(8, 7)]);
    assert.deepEqual([...readFileSync(p)], [9, 8, 7]);
    assert.deepEqual(readdirSync(dir), ['out.bin']);
  });
});

test('a producer that throws midway leaves the old file intact and removes the temporary file', () => {
  withDir((dir) => {
    const p = join(dir, 'model.safetensors');
    writeFileSync(p, 'old contents');
    function* chunks(): Generator<Uint8Array> {
      yield new Uint8Array(1 << 16).fill(1);
      throw new Error('serialization failed');
    }
    assert.throws(() => writeFileAtomic(p, chunks()), /serialization failed/);
    assert.equal(readFileSync(p, 'utf8'), 'old contents');
    assert.deepEqual(readdirSync(dir), ['model.safetensors']);
  });
});

test('a missing directory fails cleanly without creating anything', () => {
  withDir((dir) => {
    const p = join(dir, 'gone', 'x.bin');
    assert.throws(() => writeFileAtomic(p, 'data'), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
    assert.deepEqual(readdirSync(dir), []);
  });
});

test('a target that cannot be replaced (a non-empty directory) is kept and the temporary file removed', () => {
  withDir((dir) => {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    writeFileSync(join(sub, 'inner'), 'i');
    assert.throws(() => writeFileAtomic(sub, 'data'));
    assert.equal(readFileSync(join(sub, 'inner'), 'utf8'), 'i');
    assert.deepEqual(readdirSync(dir), ['sub']);
  });
});
