// Atomic file writes: write a temporary file beside the target, fsync it, then rename it over the target.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** What `writeFileAtomic` accepts: bytes, a UTF-8 string, or chunks produced while writing. */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array>;

/**
 * Write `data` to `path` so that readers see either the old file or the complete new one, never a
 * half-written file: the bytes go to a temporary name in the same directory (same file system, so the
 * rename is atomic), are fsynced, and the temporary file is renamed over `path`. On any failure
 * (including an exception thrown by a chunk iterator while producing data) the temporary file is removed
 * and the old target is left untouched. Synchronous on purpose: callers cannot forget to await it.
 */
export function writeFileAtomic(path: string, data: AtomicData, mode = 0o644): void {
  const dir = dirname(path);
  removeStaleTemporaries(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | null = openSync(tmp, 'wx', mode);
  try {
    if (typeof data === 'string') writeAll(fd, Buffer.from(data, 'utf8'));
    else if (data instanceof Uint8Array) writeAll(fd, data);
    else for (const chunk of data) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the original error is the one to report
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may never have been created or was already renamed
    }
    throw e;
  }
  syncDir(dir);
}

/** Whether process `pid` is running (signal 0 checks without sending anything; EPERM: it runs as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files of `path` that writes killed midway left behind (`.NAME.PID.HEX.tmp` whose process no
 * longer runs), saying so on stderr; returns their names. Files of running processes (a concurrent write) are kept.
 * Best effort: an unreadable directory or a file gone meanwhile is skipped.
 */
export function removeStaleTemporaries(path: string): string[] {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || isRunning(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(name);
      process.stderr.write(`lutnn: removed ${join(dir, name)}, a temporary file left by process ${pid} (no longer running) while writing ${path}\n`);
    } catch {
      // removed meanwhile, or not ours to remove
    }
  }
  return removed;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
}

/** Make the rename durable where the platform allows fsync on a directory (not on Windows). */
function syncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort: some platforms and file systems do not support fsync on directories
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
