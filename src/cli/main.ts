#!/usr/bin/env node
// The `lutnn` command line: one subcommand per job (train, eval, ...).
import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { evalCommand } from './eval.js';
import { infoCommand } from './info.js';
import { trainCommand } from './train.js';
import { convertCommand } from './convert.js';
import { finetuneCommand } from './finetune.js';
import { compareCommand, demoCommand } from './compare.js';
import { exportCommand } from './export.js';
import { importCommand } from './import.js';
import { applyUsageConventions } from './usage.js';
import { benchCommand } from './bench.js';
import { reportCommand } from './report.js';
import { quantizeCommand } from './quantize.js';
import { dseCommand } from './dse.js';
import { lutnaCommand } from './lutna.js';

/** lutnn's package.json, found upward from this file (src/cli under tsx, dist/src/cli when built). */
function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) return (JSON.parse(readFileSync(p, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

const program = new Command('lutnn')
  .description('lookup-table neural networks: train, convert, evaluate and run on CPUs')
  .version(packageVersion())
  .addCommand(trainCommand())
  .addCommand(evalCommand())
  .addCommand(infoCommand())
  .addCommand(convertCommand())
  .addCommand(finetuneCommand())
  .addCommand(compareCommand())
  .addCommand(demoCommand())
  .addCommand(exportCommand())
  .addCommand(importCommand())
  .addCommand(quantizeCommand())
  .addCommand(lutnaCommand())
  .addCommand(benchCommand())
  .addCommand(dseCommand())
  .addCommand(reportCommand());

applyUsageConventions(program);
await program.parseAsync(process.argv);
