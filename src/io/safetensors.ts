// The safetensors model-file format: serialize, save, parse and load tensors with string metadata, validating everything.
// The format itself lives in safetensors-format.ts (no node:*, shared with the browser build); this adds the files.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { FormatError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from './atomic.js';
import { openInputFile } from './files.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsContents } from './safetensors-format.js';

export * from './safetensors-format.js';

/** Write a safetensors file atomically (temporary name, fsync, rename). */
export function saveSafetensors(path: string, tensors: Record<string, Tensor>, metadata?: Record<string, string>): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** Read and parse a safetensors file (see `parseSafetensors`); a missing file or a directory is a FileError naming the path, format errors name the file's base name. */
export function loadSafetensors(path: string): SafetensorsContents {
  const name = basename(path);
  const fd = openInputFile(path, 'a .safetensors file'); // FileError naming the path when missing or a directory
  let bytes: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    // Typed arrays top out well below this on some engines; a model file this big is not a lutnn model.
    if (size > 2 ** 31 - 1) throw new FormatError(`${name}: file is ${size} bytes, larger than the 2 GiB lutnn reads`);
    bytes = new Uint8Array(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, bytes, off, size - off, off);
      if (n === 0) throw new FormatError(`${name}: file shrank while reading (${off} of ${size} bytes)`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return parseSafetensors(bytes, name);
}
