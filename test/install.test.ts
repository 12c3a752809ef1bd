// The quiet install (issue 17): every dependency install script is reviewed in package.json's allowScripts (npm 11
// warns about the others), onnxruntime-node's CUDA download is denied, and the build leaves the CLI entry executable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const readJson = (p: string): Record<string, unknown> => JSON.parse(readFileSync(join(root, p), 'utf8')) as Record<string, unknown>;

test('every locked package with an install script has an allowScripts entry; onnxruntime-node is denied', () => {
  const pkg = readJson('package.json');
  const allow = pkg.allowScripts as Record<string, boolean>;
  assert.equal(typeof allow, 'object');
  const lock = readJson('package-lock.json') as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };
  const withScripts = Object.entries(lock.packages)
    .filter(([path, p]) => path !== '' && p.hasInstallScript)
    .map(([path, p]) => ({ name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length), version: p.version }));
  assert.ok(withScripts.some((p) => p.name === 'onnxruntime-node'), 'the lockfile should list onnxruntime-node with its postinstall');
  for (const { name, version } of withScripts) {
    const covered = name in allow || `${name}@${version}` in allow;
    assert.ok(covered, `${name}@${version} has an install script that allowScripts does not cover (npm 11 warns on every install)`);
  }
  // Its postinstall fetches the CUDA execution provider from NuGet (outside the registry); the CPU binaries ship in the package.
  assert.equal(allow['onnxruntime-node'], false);
  for (const key of Object.keys(allow)) assert.doesNotMatch(key, /@[\^~<>=*]/, `allowScripts takes names or exact versions, got ${key}`);
});

test('no onnxruntime-node-install key in .npmrc (npm 11 warns about unknown keys on every command)', () => {
  const rc = join(root, '.npmrc');
  if (!existsSync(rc)) return;
  assert.doesNotMatch(readFileSync(rc, 'utf8'), /onnxruntime-node-install/);
});

test('the CLI entry starts with a node shebang and scripts/chmod-bin.mjs makes bin entries executable', () => {
  assert.match(readFileSync(join(root, 'src/cli/main.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  assert.match(String((readJson('package.json').scripts as Record<string, string>)['build:ts']), /tsc -p tsconfig\.json && node scripts\/chmod-bin\.mjs/);
  const dir = mkdtempSync(join(tmpdir(), 'lutnn-chmod-'));
  try {
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', bin: { x: 'dist/main.js' } }));
    writeFileSync(join(dir, 'dist/main.js'), '#!/usr/bin/env node\nconsole.log(1);\n');
    chmodSync(join(dir, 'dist/main.js'), 0o644);
    const r = spawnSync(process.execPath, [join(root, 'scripts/chmod-bin.mjs'), dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(join(dir, 'dist/main.js')).mode & 0o777, 0o755);
    writeFileSync(join(dir, 'dist/main.js'), 'console.log(1);\n');
    const bad = spawnSync(process.execPath, [join(root, 'scripts/chmod-bin.mjs'), dir], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /dist\/main\.js does not start with '#!\/usr\/bin\/env node'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
