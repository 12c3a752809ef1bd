// Marks every `bin` entry of package.json executable (tsc writes its output 0644; npx links the file once and then
// runs it directly, so a rebuild without this gives `sh: 1: lutnn: Permission denied`). Run after build:ts.
// Usage: node scripts/chmod-bin.mjs [PACKAGE_DIR]   (default: this repository)
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
for (const rel of bins) {
  const file = join(root, rel);
  const text = readFileSync(file, 'utf8');
  if (!text.startsWith('#!/usr/bin/env node\n')) {
    console.error(`chmod-bin: ${rel} does not start with '#!/usr/bin/env node'`);
    process.exit(1);
  }
  // Add x wherever r is set (0644 -> 0755), as npm's bin linking does.
  const mode = statSync(file).mode & 0o777;
  chmodSync(file, mode | ((mode & 0o444) >> 2));
}
