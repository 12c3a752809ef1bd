// Learning-rate schedules as pure functions of the step index (so resuming is exact) and applying them to groups.
import { ArgumentError } from '../errors.js';
import type { BaseHyper, Optimizer } from './optimizer.js';

export type ScheduleConfig =
  | { kind: 'constant'; baseLr: number }
  | { kind: 'cosine'; baseLr: number; totalSteps: number; minLr?: number; warmupSteps?: number }
  | { kind: 'step'; baseLr: number; stepSize: number; gamma: number }
  | { kind: 'linearWarmup'; baseLr: number; warmupSteps: number };

/** lr at a 0-based step index; `baseLr` and the config that made it ride along. */
export interface LrSchedule {
  (step: number): number;
  readonly baseLr: number;
  readonly config: ScheduleConfig;
}

function checkStep(kind: string, step: number): void {
  if (!Number.isInteger(step) || step < 0) throw new ArgumentError(`${kind}: step must be a non-negative integer, got ${step}`);
}

function checkPos(kind: string, key: string, v: unknown, allowZero: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new ArgumentError(`${kind}: ${key} must be a finite number ${allowZero ? '>= 0' : '> 0'}, got ${String(v)}`);
  }
  return v;
}

function checkInt(kind: string, key: string, v: unknown, allowZero: boolean): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || (!allowZero && v === 0)) {
    throw new ArgumentError(`${kind}: ${key} must be an integer ${allowZero ? '>= 0' : '> 0'}, got ${String(v)}`);
  }
  return v;
}

function make(config: ScheduleConfig, f: (step: number) => number): LrSchedule {
  const s = ((step: number): number => {
    checkStep(config.kind, step);
    return f(step);
  }) as LrSchedule;
  Object.defineProperty(s, 'baseLr', { value: config.baseLr, enumerable: true });
  Object.defineProperty(s, 'config', { value: Object.freeze({ ...config }), enumerable: true });
  return s;
}

/** Always baseLr. */
export function constant(opts: { baseLr: number }): LrSchedule {
  const baseLr = checkPos('constant', 'baseLr', opts?.baseLr, false);
  return make({ kind: 'constant', baseLr }, () => baseLr);
}

/**
 * Linear warmup then half-cosine decay:
 *   step < warmupSteps:  baseLr·(step + 1)/warmupSteps
 *   otherwise:           minLr + (baseLr − minLr)·½(1 + cos(π·min(1, (step − warmupSteps)/(totalSteps − warmupSteps))))
 * so the first step after warmup runs at baseLr and steps >= totalSteps at minLr.
 */
export function cosine(opts: { baseLr: number; totalSteps: number; minLr?: number; warmupSteps?: number }): LrSchedule {
  const baseLr = checkPos('cosine', 'baseLr', opts?.baseLr, false);
  const totalSteps = checkInt('cosine', 'totalSteps', opts.totalSteps, false);
  const minLr = checkPos('cosine', 'minLr', opts.minLr ?? 0, true);
  const warmupSteps = checkInt('cosine', 'warmupSteps', opts.warmupSteps ?? 0, true);
  if (minLr > baseLr) throw new ArgumentError(`cosine: minLr ${minLr} must not exceed baseLr ${baseLr}`);
  if (warmupSteps >= totalSteps) throw new ArgumentError(`cosine: warmupSteps ${warmupSteps} must be below totalSteps ${totalSteps}`);
  const decaySteps = totalSteps - warmupSteps;
  return make({ kind: 'cosine', baseLr, totalSteps, minLr, warmupSteps }, (step) => {
    if (step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
    const progress = Math.min(1, (step - warmupSteps) / decaySteps);
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  });
}

/** baseLr·gamma^floor(step/stepSize). */
export function step(opts: { baseLr: number; stepSize: number; gamma: number }): LrSchedule {
  const baseLr = checkPos('step', 'baseLr', opts?.baseLr, false);
  const stepSize = checkInt('step', 'stepSize', opts.stepSize, false);
  const gamma = checkPos('step', 'gamma', opts.gamma, true);
  return make({ kind: 'step', baseLr, stepSize, gamma }, (s) => baseLr * Math.pow(gamma, Math.floor(s / stepSize)));
}

/** baseLr·min(1, (step + 1)/warmupSteps): reaches baseLr at step warmupSteps − 1 and stays there. */
export function linearWarmup(opts: { baseLr: number; warmupSteps: number }): LrSchedule {
  const baseLr = checkPos('linearWarmup', 'baseLr', opts?.baseLr, false);
  const warmupSteps = checkInt('linearWarmup', 'warmupSteps', opts.warmupSteps, false);
  return make({ kind: 'linearWarmup', baseLr, warmupSteps }, (s) => baseLr * Math.min(1, (s + 1) / warmupSteps));
}

/** Rebuild a schedule from its `config` (as stored in a checkpoint). */
export function createSchedule(config: ScheduleConfig): LrSchedule {
  if (!config || typeof config !== 'object') throw new ArgumentError('createSchedule: expected a schedule config object');
  switch (config.kind) {
    case 'constant':
      return constant(config);
    case 'cosine':
      return cosine(config);
    case 'step':
      return step(config);
    case 'linearWarmup':
      return linearWarmup(config);
    default:
      throw new ArgumentError(`createSchedule: unknown kind '${String((config as { kind?: unknown }).kind)}' (constant, cosine, step, linearWarmup)`);
  }
}

/**
 * Set every group's lr for `stepIndex`: group.lr = group.initialLr · schedule(stepIndex)/schedule.baseLr,
 * so groups with different lrs keep their ratio. Returns the factor applied.
 */
export function applySchedule<H extends BaseHyper>(opt: Optimizer<H>, schedule: LrSchedule, stepIndex: number): number {
  const factor = schedule(stepIndex) / schedule.baseLr;
  for (const g of opt.paramGroups) g.lr = g.initialLr * factor;
  return factor;
}
