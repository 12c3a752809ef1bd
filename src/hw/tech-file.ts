// Reads a technology table from a JSON file (`--tech FILE`); the checks themselves are parseTechTable's (tech.ts).
import { readFileSync } from 'node:fs';
import { FormatError } from '../errors.js';
import { parseTechTable, type TechTable } from './tech.js';

/** Reads and checks the technology table in `path`; errors are FormatErrors naming the file (and the field). */
export function readTechFile(path: string): TechTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FormatError(`${path}: cannot read the technology table (${(e as Error).message})`);
  }
  return parseTechTable(text, path);
}
