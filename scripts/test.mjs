// Runs every *.test.ts under src/ and test/ with node's built-in runner through tsx.
// Usage: npm test [-- substring ...]  (only files whose path contains one of the substrings)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const roots = ['src', 'test'];
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = roots
  .flatMap((r) => {
    try {
      return walk(r, []);
    } catch {
      return [];
    }
  })
  .map((p) => relative('.', p))
  .filter((p) => filters.length === 0 || filters.some((f) => p.includes(f)))
  .sort();

if (files.length === 0) {
  console.error('test: no test files matched');
  process.exit(1);
}
const res = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...passthrough, ...files], {
  stdio: 'inherit',
});
process.exit(res.status ?? 1);
