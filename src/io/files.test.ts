// Tests of input-file checks: a directory, a missing file and a FIFO get a FileError naming the path; a file opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileError } from '../errors.js';
import { fsReason, isFsError, openInputFile } from './files.js';
import { loadSafetensors } from './safetensors.js';

test('openInputFile: directories, missing files and non-regular files are FileErrors that name the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-files-'));
  try {
    const f = join(dir, 'a.bin');
    writeFileSync(f, 'abc');
    const fd = openInputFile(f, 'a .safetensors file');
    const buf = Buffer.alloc(3);
    readSync(fd, buf, 0, 3, 0);
    closeSync(fd);
    assert.equal(buf.toString(), 'abc');
    assert.throws(() => openInputFile(dir + '/', 'a .safetensors file'), (e: Error) => e instanceof FileError && e.message === `${dir}/: is a directory, expected a .safetensors file`);
    const missing = join(dir, 'nope.safetensors');
    assert.throws(() => openInputFile(missing, 'a .safetensors file'), { name: 'FileError', message: `${missing}: no such file or directory, expected a .safetensors file` });
    assert.throws(() => openInputFile(join(f, 'x'), 'a .safetensors file'), { message: `${join(f, 'x')}: a component of the path is not a directory` });
    assert.throws(() => openInputFile('', 'a .safetensors file'), /expected a path to a \.safetensors file, got an empty string/);
    // loadSafetensors goes through it.
    assert.throws(() => loadSafetensors(dir), { name: 'FileError', message: `${dir}: is a directory, expected a .safetensors file` });
    const fifo = join(dir, 'pipe');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      // Would block in open(2) without the check first.
      assert.throws(() => openInputFile(fifo, 'a .safetensors file'), { message: `${fifo}: is not a regular file, expected a .safetensors file` });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fsReason and isFsError describe node:fs errors in words', () => {
  const e = Object.assign(new Error('x'), { code: 'EACCES', syscall: 'open', path: '/x' });
  assert.equal(isFsError(e), true);
  assert.equal(isFsError(new Error('x')), false);
  assert.equal(isFsError(null), false);
  assert.equal(fsReason(e), 'permission denied');
  assert.equal(fsReason(Object.assign(new Error('x'), { code: 'EWEIRD', syscall: 'read' })), 'EWEIRD in read');
});
