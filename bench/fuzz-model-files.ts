// Fuzzing of lutnn model files at any count: seeded mutants of the shipped and generated models (test/model-fuzz.ts)
// through loadModel + forward, lutnn.load + run and ONNX export, in child processes watched for hangs and memory.
//   npx tsx bench/fuzz-model-files.ts [--cases 100000] [--seed 1] [--from 0] [--jobs 2] [--chunk 250] [--json]
//     [--no-shipped] [--watchdog-s 60] [--rss-limit-mb 4096] [--examples 40]
// Prints the counts by outcome (JSON with --json): per case one overall outcome (a failure label, else the engine's:
// 'answer' or a LutnnError class), per path (engine, runtime, onnx), failures, per mutation kind. A child that spends
// --watchdog-s seconds of CPU time on one case (or 10 times as long in wall time: a hang without CPU use) is killed
// and its case counted as 'slow'; CPU time, so that a busy shared machine does not pass for a hang. One whose
// resident memory passes --rss-limit-mb is killed and its case counted as 'memory'; one that dies counts its case as
// 'uncaught'.
// Exits 1 when any case failed.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg, totalmem } from 'node:os';
import { modelSeeds } from '../test/model-fuzz-seeds.js';
import { addCase, emptySummary, fuzzModels, type CaseResult, type Failure } from '../test/model-fuzz.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);

if (args.includes('--child')) {
  // A worker: builds the seeds, then runs the chunks the parent sends, reporting every case.
  const seeds = modelSeeds({ shipped: !args.includes('--no-shipped') });
  const fuzzSeed = opt('--seed', 1);
  process.on('message', (m: { from: number; count: number } | 'exit') => {
    if (m === 'exit') process.exit(0);
    fuzzModels(seeds, m.from, m.count, fuzzSeed, { onCase: (r) => process.send!({ case: r }) });
    process.send!({ done: m.from + m.count });
  });
  process.send!({ ready: seeds.map((s) => `${s.name} (${s.bytes.length} bytes)`) });
} else {
  await main();
}

/** CPU seconds (user + system) a process has used, from /proc (0 when it is gone). */
function childCpu(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return 0;
  }
}

async function main(): Promise<void> {
  const cases = opt('--cases', 100_000);
  const from0 = opt('--from', 0);
  const jobs = opt('--jobs', 2);
  const chunk = opt('--chunk', 250);
  const watchdogMs = opt('--watchdog-s', 60) * 1000;
  const rssLimit = opt('--rss-limit-mb', 4096) * 2 ** 20;
  const maxExamples = opt('--examples', 40);
  const json = args.includes('--json');
  const childArgs = ['--child', '--seed', String(opt('--seed', 1)), ...(args.includes('--no-shipped') ? ['--no-shipped'] : [])];
  const summary = emptySummary();
  const t0 = performance.now();
  let seedFiles: string[] = [];
  let next = from0;
  const end = from0 + cases;
  let reported = 0;

  const record = (r: CaseResult): void => {
    addCase(summary, r, maxExamples);
    reported++;
    if (r.failures.length) process.stderr.write(`${json ? '' : '\n'}case ${r.index} ${r.seed} [${r.kind}, input ${r.input}]: ${r.failures.join(',')}: ${(r.detail ?? '').split('\n')[0].slice(0, 300)}\n`);
    if (reported % 100 === 0 && (!json || reported % 1000 === 0)) {
      // With --json, a line per 1,000 cases on stderr (stdout keeps the one JSON object).
      process.stderr.write(`${json ? '' : '\r'}${reported}/${cases} cases in ${((performance.now() - t0) / 1000).toFixed(0)} s, failures ${JSON.stringify(summary.failures)}${json ? '\n' : '   '}`);
    }
  };
  /** A case the child could not report (killed or died). */
  const lost = (index: number, failure: Failure, detail: string): void => {
    record({ index, seed: '?', kind: '?', input: '?', engine: failure, runtime: failure, onnx: failure, failures: [failure], detail, ms: NaN, cpuMs: NaN, pathMs: { engine: NaN, runtime: NaN, onnx: NaN }, rssGrowth: NaN, bound: NaN, endToEnd: null });
  };

  const worker = (): Promise<void> =>
    new Promise((resolve) => {
      let todo: { from: number; count: number } | null = null;
      let current = -1; // the case the child is on
      let lastReport = performance.now();
      let cpuAtReport = 0; // the child's CPU seconds when it last reported
      let child: ChildProcess;
      let timer: NodeJS.Timeout;
      const take = (): void => {
        if (next >= end) {
          todo = null;
          child.send('exit');
          return;
        }
        todo = { from: next, count: Math.min(chunk, end - next) };
        next += todo.count;
        current = todo.from;
        lastReport = performance.now();
        cpuAtReport = childCpu(child.pid);
        child.send(todo);
      };
      const restart = (failure: Failure | null, detail: string): void => {
        clearInterval(timer);
        child.removeAllListeners();
        child.kill('SIGKILL');
        if (todo && failure) {
          lost(current, failure, detail);
          const rest = todo.from + todo.count - (current + 1);
          todo = rest > 0 ? { from: current + 1, count: rest } : null;
        }
        spawn();
      };
      const spawn = (): void => {
        child = fork(fileURLToPath(import.meta.url), childArgs, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
        child.on('message', (m: { ready?: string[]; case?: CaseResult; done?: number }) => {
          lastReport = performance.now();
          cpuAtReport = childCpu(child.pid);
          if (m.ready) {
            seedFiles = m.ready;
            if (todo) {
              current = todo.from;
              child.send(todo);
            } else take();
          } else if (m.case) {
            record(m.case);
            current = m.case.index + 1;
          } else if (m.done !== undefined) take();
        });
        child.on('exit', (code, sig) => {
          clearInterval(timer);
          if (todo === null) return resolve();
          restart('uncaught', `the child process died (exit code ${code}, signal ${sig}) during case ${current}`);
        });
        timer = setInterval(() => {
          if (todo === null || child.pid === undefined) return;
          let rss = 0;
          try {
            const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            rss = m ? Number(m[1]) * 1024 : 0;
          } catch {
            // the child just exited
          }
          if (rss > rssLimit) restart('memory', `resident memory ${(rss / 2 ** 20).toFixed(0)} MiB passed the ${rssLimit / 2 ** 20} MiB limit during case ${current}`);
          else if (childCpu(child.pid) - cpuAtReport > watchdogMs / 1000 || performance.now() - lastReport > 10 * watchdogMs) {
            restart('slow', `no answer after ${(childCpu(child.pid) - cpuAtReport).toFixed(0)} s of CPU time (${((performance.now() - lastReport) / 1000).toFixed(0)} s wall): case ${current} hangs`);
          }
        }, 200);
      };
      spawn();
    });

  await Promise.all(Array.from({ length: jobs }, worker));
  summary.seconds = (performance.now() - t0) / 1000;
  const out = { command: 'fuzz-model-files', seedFiles, fuzzSeed: opt('--seed', 1), from: from0, jobs, ...summary, machine: { cpu: cpus()[0]?.model, cores: cpus().length, memoryGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, loadAverage: loadavg().map((x) => +x.toFixed(2)) } };
  if (json) process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  else {
    process.stderr.write('\n');
    process.stdout.write(`${summary.cases} cases in ${summary.seconds.toFixed(0)} s (${jobs} processes)\n`);
    process.stdout.write(`outcomes: ${JSON.stringify(summary.outcomes)}\nengine: ${JSON.stringify(summary.engine)}\nruntime: ${JSON.stringify(summary.runtime)}\nonnx: ${JSON.stringify(summary.onnx)}\n`);
    process.stdout.write(`failures: ${JSON.stringify(summary.failures)}; slowest path ${summary.maxMs.toFixed(0)} ms of CPU (${JSON.stringify(summary.slowest)}); slowest whole case ${summary.maxCaseCpuMs.toFixed(0)} ms of CPU, ${summary.maxWallMs.toFixed(0)} ms wall; peak RSS growth of a case ${(summary.maxRssGrowth / 2 ** 20).toFixed(0)} MiB\n`);
    process.stdout.write(`engine and runtime both answered on ${summary.compared} cases (every step agreeing on the same inputs); end to end they differ by more than 1e-4 of the logits' scale on ${summary.endToEndAbove1e4} (rounding grown by ill-conditioned weights)\n`);
    for (const e of summary.examples.slice(0, 30)) process.stdout.write(`  case ${e.index} ${e.seed} [${e.kind}, input ${e.input}]: ${e.failures.join(',')}: ${(e.detail ?? '').split('\n')[0].slice(0, 240)}\n`);
  }
  process.exitCode = Object.values(summary.failures).some((n) => n > 0) ? 1 : 0;
}
