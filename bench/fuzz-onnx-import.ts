// Fuzzing of `lutnn import`: N seeded mutants of ONNX files, each imported; prints the outcome counts (JSON with --json).
//   npx tsx bench/fuzz-onnx-import.ts [--cases 100000] [--seed 1] [--json] [FILE.onnx ...]
// Default seed files: the fixtures' small models (test/fixtures/onnx) and a small LUT model exported by lutnn (its
// LUT marker). Exits 1 when a case ends in anything but a model or a LutnnError.
import { existsSync, readFileSync } from 'node:fs';
import { fuzzSeeds } from '../test/onnx-fuzz-seeds.js';
import { fuzzImport } from '../test/onnx-fuzz.js';
import { machineInfo } from '../src/cli/common.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const cases = opt('--cases', 100_000);
const seed = opt('--seed', 1);
const json = args.includes('--json');
const files = args.filter((a, i) => a.endsWith('.onnx') && !['--cases', '--seed'].includes(args[i - 1]));
for (const f of files) if (!existsSync(f)) throw new Error(`fuzz: no file ${f}`);
const seeds = files.length ? files.map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(f)) })) : fuzzSeeds();
const r = fuzzImport(seeds.map((s) => s.bytes), cases, seed, json ? undefined : (done) => process.stderr.write(`\r${done}/${cases}`));
const out = { command: 'fuzz-onnx-import', seedFiles: seeds.map((s) => `${s.name} (${s.bytes.length} bytes)`), seed, ...r, machine: machineInfo() };
if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
else {
  process.stderr.write('\n');
  process.stdout.write(`${r.cases} cases in ${r.seconds.toFixed(1)} s: ${Object.entries(r.outcomes).map(([k, n]) => `${k} ${n}`).join(', ')}; slowest ${r.maxMs.toFixed(1)} ms (${r.slowest?.kind}); crashes ${r.crashes.length}\n`);
  for (const c of r.crashes.slice(0, 20)) process.stdout.write(`  case ${c.index} (${c.kind}): ${c.error}\n`);
}
process.exitCode = r.crashes.length ? 1 : 0;
