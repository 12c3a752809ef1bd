// `npm run bench [-- --json] [--only MODEL,...]`: the benchmark suite (bench/suite.ts; models resnet18-cifar,
// bert-base-layer, resnet-fm, vit-fm, fmnist-cnn; every flag is passed on), the default.
// `npm run bench [-- --json] --only layer,model,gemm,encoder,conv-encoders [--reps N] [--threads 1,2] [--lut FILE]`: the
// older single benchmarks one after another (conv-encoders needs --lut).
// Each benchmark is its own script (bench/lut-layer.ts, bench/model.ts, bench/gemm.ts) run in a child process with
// --json; this collects their JSON objects into one. Without --json it prints each benchmark's own table.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineInfo } from '../src/cli/common.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const SUITE = ['resnet18-cifar', 'bert-base-layer', 'resnet-fm', 'vit-fm', 'fmnist-cnn'];
const onlyArg = opt('--only')?.split(',').map((s) => s.trim());
if (!onlyArg || onlyArg.every((n) => SUITE.includes(n))) {
  // The suite prints its own single JSON object (and its own errors); it gets every flag as given.
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./suite.ts', import.meta.url)), ...args], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const only = onlyArg;
const BENCHES: Record<string, { file: string; pass: string[] }> = {
  layer: { file: 'lut-layer.ts', pass: ['--reps', '--threads'] },
  model: { file: 'model.ts', pass: ['--reps', '--threads', '--lut', '--batches'] },
  gemm: { file: 'gemm.ts', pass: ['--reps'] },
  encoder: { file: 'lut-conv-encoder.ts', pass: ['--reps'] },
  'conv-encoders': { file: 'conv-encoders.ts', pass: ['--reps', '--lut'] },
};
for (const name of only) {
  if (!BENCHES[name]) {
    process.stderr.write(`bench: --only takes suite models (${SUITE.join(', ')}) or single benchmarks (${Object.keys(BENCHES).join(', ')}), not both; got '${name}'\n`);
    process.exit(1);
  }
}
const results: Record<string, unknown> = {};
let failed = false;
for (const name of only) {
  const b = BENCHES[name];
  const childArgs = ['--import', 'tsx', fileURLToPath(new URL(`./${b.file}`, import.meta.url))];
  for (const p of b.pass) if (opt(p) !== undefined) childArgs.push(p, opt(p)!);
  if (name === 'layer' && opt('--threads')?.includes(',')) childArgs.splice(childArgs.indexOf('--threads'), 2); // lut-layer takes one count or both
  if (json) childArgs.push('--json');
  process.stderr.write(`bench: ${name} (${b.file})\n`);
  const r = spawnSync(process.execPath, childArgs, { stdio: ['ignore', json ? 'pipe' : 'inherit', 'inherit'], encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    failed = true;
    process.stderr.write(`bench: ${name} exited with ${r.status ?? r.signal}\n`);
    continue;
  }
  if (json) {
    try {
      results[name] = JSON.parse(r.stdout);
    } catch {
      failed = true;
      process.stderr.write(`bench: ${name} did not print one JSON object\n`);
    }
  }
}
if (json) process.stdout.write(JSON.stringify({ command: 'bench', benches: only, results, machine: machineInfo() }, null, 2) + '\n');
process.exit(failed ? 1 : 0);
