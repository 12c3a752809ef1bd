// Atomic file writes: write a temporary file beside the target, fsync it, then rename it over the target.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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
