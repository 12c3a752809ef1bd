// Shared CLI plumbing: option parsing helpers, JSON vs human output, error reporting, thread setup.
import { InvalidArgumentError } from 'commander';
import { LutnnError } from '../errors.js';
import type { DatasetName, DatasetSplits } from '../data/dataset.js';
import { loadDataset } from '../data/loader.js';
import { createProgress, type Progress } from './progress.js';
import { fsReason, isFsError } from '../io/files.js';

export function intArg(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
}

export function floatArg(name: string, min = -Infinity): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`${name} must be a number >= ${min}, got '${v}'`);
    return n;
  };
}

export function choiceArg<T extends string>(name: string, choices: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${choices.join(', ')}, got '${v}'`);
    return v as T;
  };
}

/** Print the one JSON object a `--json` run promises on stdout. */
export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
}

/** A short description of the machine for reports (src/app/machine.ts). */
export { machineInfo } from '../app/machine.js';

/**
 * Run a command body; LutnnErrors and file-system errors become one line `lutnn: ...` on stderr and exit code 1.
 * Usage errors commander detects (unknown option or command, bad option value) exit 2 (usage.ts).
 */
export async function runCommand(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof LutnnError) {
      process.stderr.write(`lutnn: ${e.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (isFsError(e)) {
      // File-system errors (missing file, no permission, full disk) are the user's to fix, not a crash.
      process.stderr.write(`lutnn: ${e.path ? `${e.path}: ` : ''}${fsReason(e)}${e.path ? '' : ` (${e.syscall})`}\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}

/** Load a dataset, showing a bar while the embedded JSON is converted to its cache (first start only). */
export function loadDatasetWithProgress(
  name: DatasetName,
  dataDir: string | undefined,
  quiet: boolean,
): DatasetSplits {
  let bar: Progress | null = null;
  const splits = loadDataset({
    name,
    dataDir,
    onProgress: (done, total) => {
      bar ??= createProgress({ label: 'preparing Fashion-MNIST cache', total, quiet });
      bar.update(done);
    },
  });
  (bar as Progress | null)?.stop();
  return splits;
}

/** 0.9321 → "93.21%" (n/a for null). */
export function fmtPct(v: number | null): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(2)}%`;
}
