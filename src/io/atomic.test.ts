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

test('temporary files of the target left by killed writers are removed (and reported on stderr) by the next write; a running writer\'s are kept', async () => {
  const { spawn, spawnSync } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-atomic-'));
  const atomic = JSON.stringify(new URL('./atomic.ts', import.meta.url).href);
  try {
    const p = join(dir, 'model.safetensors');
    // Writers SIGKILLed in the middle of a write, as a killed fine-tuning run leaves them: each leaves its temporary
    // file, and the next writer removes the one before (saying so on stderr).
    const script = `import { writeFileAtomic } from ${atomic};
      writeFileAtomic(${JSON.stringify(p)}, (function* () { yield new Uint8Array(4096); process.stdout.write('writing\\n'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60000); })());`;
    let previous: string | null = null;
    for (let k = 0; k < 3; k++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += String(d)));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', () => resolve());
        child.on('exit', (code) => reject(new Error(`writer exited (${code}) before writing: ${stderr}`)));
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('exit', resolve));
      const temps = readdirSync(dir);
      assert.equal(temps.length, 1, `after kill ${k + 1}: ${temps.join(', ')}`);
      assert.match(temps[0], /^\.model\.safetensors\.\d+\.[0-9a-f]{12}\.tmp$/);
      if (previous) assert.ok(stderr.includes(previous) && /a temporary file left by process \d+ \(no longer running\)/.test(stderr), `${previous} not reported: ${stderr}`);
      else assert.equal(stderr, '');
      previous = temps[0];
    }
    // A temporary file of a running process (this test's parent) and one of another target stay.
    const live = `.model.safetensors.${process.ppid}.0123456789ab.tmp`;
    const other = '.other.bin.999999999.0123456789ab.tmp';
    writeFileSync(join(dir, live), 'x');
    writeFileSync(join(dir, other), 'x');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { writeFileAtomic } from ${atomic}; writeFileAtomic(${JSON.stringify(p)}, 'done');`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(previous!), r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), [live, other, 'model.safetensors'].sort());
    assert.equal(readFileSync(p, 'utf8'), 'done');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
