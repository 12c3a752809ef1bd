// ONNX import from a file on disk: the model's bytes, and external data read from files beside it (paths checked).
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FormatError } from '../errors.js';
import { GraphModel } from '../graph/model.js';
import { importOnnx, type OnnxImportOptions, type OnnxImportResult } from './onnx-import.js';
import type { ExternalReader } from './onnx-tensor.js';

/**
 * Reads external tensor data for the model at `modelPath`: a location must be a relative path that stays in the
 * model's directory (no absolute paths, no '..'), and offset + length must lie within that file.
 */
export function externalReader(modelPath: string): ExternalReader {
  const dir = dirname(resolve(modelPath));
  return (location, offset, length) => {
    const where = `${modelPath}: external data '${location.slice(0, 200)}'`;
    if (location === '' || isAbsolute(location) || location.split(/[\\/]/).some((p) => p === '..') || location.includes('\0')) {
      throw new FormatError(`${where}: the location must be a relative path inside the model's directory`);
    }
    let fd: number;
    try {
      fd = openSync(join(dir, location), 'r');
    } catch (e) {
      throw new FormatError(`${where}: cannot open it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new FormatError(`${where}: not a regular file`);
      if (offset + length > st.size) throw new FormatError(`${where}: ${length} bytes at offset ${offset} run past its end (${st.size} bytes)`);
      const out = new Uint8Array(length);
      let got = 0;
      while (got < length) {
        const n = readSync(fd, out, got, length - got, offset + got);
        if (n <= 0) break;
        got += n;
      }
      return out.subarray(0, got);
    } finally {
      closeSync(fd);
    }
  };
}

/** Imports the ONNX model at `path` (external data beside it) and builds its GraphModel (eval mode). */
export function importOnnxFile(path: string, opts: Omit<OnnxImportOptions, 'file' | 'external'> = {}): OnnxImportResult & { model: GraphModel } {
  const bytes = readFileSync(path);
  const r = importOnnx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { ...opts, file: path, external: externalReader(path) });
  const model = GraphModel.create(r.graph, r.weights, { file: path });
  model.eval();
  return { ...r, model };
}
