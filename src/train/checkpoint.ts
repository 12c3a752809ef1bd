// Training checkpoints: model + optimizer + RNG + progress in one safetensors file, written atomically.
import { existsSync } from 'node:fs';
import { FormatError } from '../errors.js';
import { loadSafetensors, readJsonMetadata, saveSafetensors, LUTNN_METADATA_KEY } from '../io/safetensors.js';
import type { Trainable } from '../graph/model.js';
import { optimizerStateFromTensors, optimizerStateToTensors, type Optimizer, type BaseHyper } from '../optim/optimizer.js';
import { globalRng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import type { RunningStats } from './metrics.js';

/** Where training stands: epoch and batch index of the next step to run. */
export interface TrainPosition {
  epoch: number;
  batch: number;
  globalStep: number;
}

export interface CheckpointState<S = unknown> {
  position: TrainPosition;
  /** Sums of the unfinished epoch so its figures stay exact across a resume. */
  running: RunningStats;
  /** Seconds spent in training steps so far. */
  trainSeconds: number;
  /** Epoch summaries so far. */
  history: S[];
  /** Training-curve points so far (src/train/fit.ts CurvePoint) and the sums since the last one. */
  curve?: unknown[];
  window?: RunningStats;
}

interface CheckpointMeta<S> extends CheckpointState<S> {
  format: 'lutnn-checkpoint';
  version: 1;
  /** The run's identity (model, data, seed, batch size, ...): a resume must match it. */
  config: Record<string, unknown>;
  optimizer: ReturnType<typeof optimizerStateToTensors>['meta'];
  rng: number[];
}

export function saveCheckpoint<S>(
  path: string,
  model: Trainable,
  optimizer: Optimizer<BaseHyper>,
  config: Record<string, unknown>,
  state: CheckpointState<S>,
): void {
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(model.stateDict())) tensors[`model.${k}`] = t;
  const opt = optimizerStateToTensors(optimizer.stateDict());
  for (const [k, t] of Object.entries(opt.tensors)) tensors[`optim.${k}`] = t;
  const meta: CheckpointMeta<S> = {
    format: 'lutnn-checkpoint',
    version: 1,
    config,
    optimizer: opt.meta,
    rng: globalRng.getState(),
    ...state,
  };
  saveSafetensors(path, tensors, { [LUTNN_METADATA_KEY]: JSON.stringify(meta) });
}

export function checkpointExists(path: string): boolean {
  return existsSync(path);
}

/**
 * Restore model, optimizer and the global RNG from `path`, after checking the run config matches.
 * Returns where to continue.
 */
export function loadCheckpoint<S>(
  path: string,
  model: Trainable,
  optimizer: Optimizer<BaseHyper>,
  config: Record<string, unknown>,
): CheckpointState<S> {
  const { tensors, metadata } = loadSafetensors(path);
  const meta = readJsonMetadata(metadata, LUTNN_METADATA_KEY, path) as CheckpointMeta<S>;
  if (!meta || meta.format !== 'lutnn-checkpoint' || meta.version !== 1) {
    throw new FormatError(`${path}: not a lutnn checkpoint (format ${String(meta?.format)}, version ${String(meta?.version)})`);
  }
  for (const [k, v] of Object.entries(config)) {
    const was = JSON.stringify(meta.config?.[k]);
    if (was !== JSON.stringify(v)) {
      throw new FormatError(`${path}: checkpoint was made with ${k}=${was}, this run has ${JSON.stringify(v)}; start afresh or match it`);
    }
  }
  const p = meta.position;
  if (!p || ![p.epoch, p.batch, p.globalStep].every((v) => Number.isSafeInteger(v) && v >= 0)) {
    throw new FormatError(`${path}: checkpoint position is malformed`);
  }
  const modelTensors: Record<string, Tensor> = {};
  const optTensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith('model.')) modelTensors[k.slice(6)] = t;
    else if (k.startsWith('optim.')) optTensors[k.slice(6)] = t;
    else throw new FormatError(`${path}: unexpected tensor '${k}' in checkpoint`);
  }
  model.loadStateDict(modelTensors);
  optimizer.loadStateDict(optimizerStateFromTensors(meta.optimizer, optTensors));
  if (!Array.isArray(meta.rng) || meta.rng.length < 4) throw new FormatError(`${path}: checkpoint RNG state is malformed`);
  globalRng.setState(meta.rng);
  const curve = Array.isArray(meta.curve) ? meta.curve : [];
  const w = meta.window;
  const window = w && typeof w === 'object' && [w.lossSum, w.correct, w.count, w.seconds].every((v) => typeof v === 'number' && Number.isFinite(v)) ? w : undefined;
  return { position: p, running: meta.running, trainSeconds: meta.trainSeconds, history: meta.history ?? [], curve, window };
}
