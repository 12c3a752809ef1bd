// Input files with errors that name the path and say what is wrong with it (missing, a directory, unreadable).
import { openSync, statSync } from 'node:fs';
import { FileError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  EEXIST: 'already exists',
};

/** What a file-system error says in words ("no such file or directory"), or its code for rarer ones. */
export function fsReason(e: NodeJS.ErrnoException): string {
  return REASONS[e.code ?? ''] ?? `${e.code ?? 'error'} in ${e.syscall ?? 'a file operation'}`;
}

/** Whether `e` is an error from node:fs (it has a code and a syscall). */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  const s = e as NodeJS.ErrnoException | null;
  return s !== null && typeof s === 'object' && typeof s.code === 'string' && typeof s.syscall === 'string';
}

/**
 * Opens `path` for reading after checking that it is a regular file; `expected` says what it should be ("a
 * .safetensors file"). FileError otherwise: `models/: is a directory, expected a .safetensors file`,
 * `x.safetensors: no such file or directory`. Checking first also keeps a FIFO from blocking the open.
 */
export function openInputFile(path: string, expected: string): number {
  if (typeof path !== 'string' || path === '') throw new FileError(`expected a path to ${expected}, got ${path === '' ? 'an empty string' : typeof path}`);
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    if (isFsError(e)) throw new FileError(`${path}: ${fsReason(e)}${e.code === 'ENOENT' ? `, expected ${expected}` : ''}`);
    throw e;
  }
  if (st.isDirectory()) throw new FileError(`${path}: is a directory, expected ${expected}`);
  if (!st.isFile()) throw new FileError(`${path}: is not a regular file, expected ${expected}`);
  try {
    return openSync(path, 'r');
  } catch (e) {
    if (isFsError(e)) throw new FileError(`${path}: ${fsReason(e)}`);
    throw e;
  }
}
