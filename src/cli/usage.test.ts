// Tests of lutnn's usage-error conventions: one line `lutnn: ... (see lutnn CMD --help)` on stderr, exit code 2;
// file errors naming the path, exit code 1; --help and --version exit 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { usageLine } from './usage.js';

test('usageLine turns commander texts into one lutnn line, with its suggestion', () => {
  assert.equal(usageLine("error: unknown option '--bogus'\n", 'lutnn convert'), "lutnn: unknown option '--bogus' (see lutnn convert --help)\n");
  assert.equal(usageLine("error: unknown option '--jsn'\n(Did you mean --json?)\n", 'lutnn info'), "lutnn: unknown option '--jsn'; did you mean --json? (see lutnn info --help)\n");
  assert.equal(usageLine("error: unknown command 'conver'\n(Did you mean convert?)\n", 'lutnn'), "lutnn: unknown command 'conver'; did you mean convert? (see lutnn --help)\n");
  // A rejected value: lutnn's own message (it names the flag and the value) instead of commander's preamble.
  assert.equal(
    usageLine("error: option '--k <n>' argument '1' is invalid. --k must be an integer >= 2, got '1'\n", 'lutnn convert'),
    "lutnn: --k must be an integer >= 2, got '1' (see lutnn convert --help)\n",
  );
  assert.equal(
    usageLine("error: option '--x <n>' argument 'a' is invalid. Allowed choices are b, c.\n", 'lutnn y'),
    "lutnn: option '--x <n>' argument 'a' is invalid. Allowed choices are b, c. (see lutnn y --help)\n",
  );
});

function lutnn(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('the CLI: usage errors exit 2 with one line, file errors name the path and exit 1, --help exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-usage-'));
  try {
    const missing = join(dir, 'missing.safetensors');
    const [bogus, typo, command, value, isDir, noFile, help] = await Promise.all([
      lutnn('convert', 'models/fmnist-cnn.safetensors', '--out', join(dir, 'x.safetensors'), '--bogus'),
      lutnn('info', 'models/fmnist-cnn.safetensors', '--jsn'),
      lutnn('bogus'),
      lutnn('convert', 'models/fmnist-cnn.safetensors', '--out', join(dir, 'x.safetensors'), '--k', '1'),
      lutnn('info', dir + '/'),
      lutnn('convert', missing, '--out', join(dir, 'x.safetensors')),
      lutnn('info', '--help'),
    ]);
    const oneLine = (r: { stdout: string; stderr: string }, want: string): void => {
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, want + '\n');
    };
    oneLine(bogus, "lutnn: unknown option '--bogus' (see lutnn convert --help)");
    assert.equal(bogus.status, 2);
    oneLine(typo, "lutnn: unknown option '--jsn'; did you mean --json? (see lutnn info --help)");
    assert.equal(typo.status, 2);
    oneLine(command, "lutnn: unknown command 'bogus' (see lutnn --help)");
    assert.equal(command.status, 2);
    oneLine(value, "lutnn: --k must be an integer >= 2, got '1' (see lutnn convert --help)");
    assert.equal(value.status, 2);
    oneLine(isDir, `lutnn: ${dir}/: is a directory, expected a .safetensors file`);
    assert.equal(isDir.status, 1);
    oneLine(noFile, `lutnn: ${missing}: no such file or directory, expected a .safetensors file`);
    assert.equal(noFile.status, 1);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^Usage: lutnn info/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
