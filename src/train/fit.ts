// The training loop shared by `train` and LUT fine-tuning: steps, schedule, progress, evaluation, checkpoints.
import { backward } from '../autograd/engine.js';
import type { Trainable } from '../graph/model.js';
import { crossEntropy } from '../ops/index.js';
import type { BaseHyper, Optimizer } from '../optim/optimizer.js';
import { ArgumentError } from '../errors.js';
import { applySchedule, type LrSchedule } from '../optim/schedule.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkpointExists, loadCheckpoint, saveCheckpoint, type CheckpointState, type TrainPosition } from './checkpoint.js';
import { countCorrect, emptyStats, evaluate, type Batch, type EvalResult } from './metrics.js';

/** A deterministic source of batches: the order of epoch e depends only on the seed and e. */
export interface BatchSource {
  /** Batches in one epoch. */
  readonly numBatches: number;
  /** Batches of `epoch` starting at `startBatch` (DataLoader implements this). */
  epoch(epoch: number, startBatch?: number): Iterable<Batch>;
}

export interface EpochSummary {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testLoss: number | null;
  testAccuracy: number | null;
  /** Seconds of training steps in this epoch (evaluation excluded). */
  trainSeconds: number;
  imagesPerSecond: number;
}

/**
 * One point of the training curve: the mean loss and accuracy of the training batches since the previous point
 * (every `curveEvery` steps, and at each epoch's end), recorded as they happen and kept in the checkpoint.
 */
export interface CurvePoint {
  /** Steps done in total. */
  step: number;
  /** Epochs done, fractional (1.5: half-way through the second epoch). */
  epoch: number;
  loss: number;
  accuracy: number;
  /** Training images behind this point. */
  images: number;
  /** Learning rate of the last step. */
  lr: number;
}

/** Where a run stands, after each step (done false) and at each epoch's end (done true). */
export interface FitProgress {
  /** 0-based epoch index and the number of epochs. */
  epoch: number;
  epochs: number;
  /** Batches done in this epoch, and per epoch. */
  batch: number;
  batches: number;
  /** Running mean loss and accuracy of this epoch. */
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
  lr: number;
  done: boolean;
}

export interface FitOptions {
  model: Trainable;
  optimizer: Optimizer<BaseHyper>;
  schedule: LrSchedule;
  train: BatchSource;
  test?: BatchSource;
  epochs: number;
  /** Loss from logits, labels and the batch's inputs (for a teacher); cross-entropy by default. */
  loss?: (logits: Tensor, y: Tensor, x: Tensor) => Tensor;
  /** Checkpoint file; written every `checkpointEvery` steps, at each epoch end, and on SIGINT. */
  checkpoint?: string;
  checkpointEvery?: number;
  /** Identity of the run, stored in the checkpoint and compared on resume. */
  config?: Record<string, unknown>;
  resume?: boolean;
  /** Called after every step and at each epoch's end (the CLI draws its progress bar from it). */
  onProgress?: (p: FitProgress) => void;
  /** Called after each epoch (after evaluation). */
  onEpoch?: (s: EpochSummary) => void;
  /** Steps between training-curve points (default: about 100 points over the run). */
  curveEvery?: number;
  /** Called with each training-curve point as it is recorded. */
  onCurve?: (p: CurvePoint) => void;
  /** Stop after this many steps in total (for tests of resume); the checkpoint is written first. */
  stopAfterSteps?: number;
}

export interface FitResult {
  epochs: EpochSummary[];
  /** The training curve (see CurvePoint), from the start of the run (a resumed run includes the points before). */
  curve: CurvePoint[];
  steps: number;
  trainSeconds: number;
  imagesPerSecond: number;
  resumedFrom: TrainPosition | null;
  /** True when the loop stopped early (SIGINT or stopAfterSteps); a resume continues it. */
  interrupted: boolean;
  finalTest: EvalResult | null;
}

export function fit(o: FitOptions): FitResult {
  const lossFn = o.loss ?? ((logits: Tensor, y: Tensor) => crossEntropy(logits, y));
  const config = o.config ?? {};
  const perEpoch = o.train.numBatches;
  const every = o.checkpointEvery ?? 100;
  const curveEvery = o.curveEvery ?? Math.max(1, Math.ceil((o.epochs * perEpoch) / 100));
  if (!Number.isInteger(curveEvery) || curveEvery < 1) throw new ArgumentError(`fit: curveEvery must be an integer >= 1, got ${String(o.curveEvery)}`);
  let state: CheckpointState<EpochSummary> = {
    position: { epoch: 0, batch: 0, globalStep: 0 },
    running: emptyStats(),
    trainSeconds: 0,
    history: [],
    curve: [],
    window: emptyStats(),
  };
  let resumedFrom: TrainPosition | null = null;
  if (o.resume && o.checkpoint && checkpointExists(o.checkpoint)) {
    state = loadCheckpoint<EpochSummary>(o.checkpoint, o.model, o.optimizer, config);
    resumedFrom = { ...state.position };
  }
  const curve = (state.curve ??= []) as CurvePoint[];
  const window = (state.window ??= emptyStats());
  const flushCurve = (lr: number): void => {
    if (window.count === 0) return;
    const p: CurvePoint = {
      step: state.position.globalStep,
      epoch: state.position.epoch + state.position.batch / Math.max(perEpoch, 1),
      loss: window.lossSum / window.count,
      accuracy: window.correct / window.count,
      images: window.count,
      lr,
    };
    curve.push(p);
    Object.assign(window, emptyStats());
    o.onCurve?.(p);
  };
  const save = (): void => {
    if (o.checkpoint) saveCheckpoint(o.checkpoint, o.model, o.optimizer, config, state);
  };

  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  let finalTest: EvalResult | null = null;
  try {
    o.model.train();
    for (let epoch = state.position.epoch; epoch < o.epochs && !interrupted; epoch++) {
      let b = state.position.batch;
      let lr = o.optimizer.paramGroups[0].lr;
      const progress = (done: boolean): void =>
        o.onProgress?.({
          epoch, epochs: o.epochs, batch: b, batches: perEpoch, done, lr,
          loss: state.running.lossSum / Math.max(state.running.count, 1),
          accuracy: state.running.correct / Math.max(state.running.count, 1),
          imagesPerSecond: state.running.count / Math.max(state.running.seconds, 1e-9),
        });
      for (const { x, y } of o.train.epoch(epoch, b)) {
        const t0 = performance.now();
        applySchedule(o.optimizer, o.schedule, state.position.globalStep);
        lr = o.optimizer.paramGroups[0].lr;
        o.optimizer.zeroGrad();
        const logits = o.model.forward(x);
        const loss = lossFn(logits, y, x);
        backward(loss);
        o.optimizer.step();
        const dt = (performance.now() - t0) / 1000;
        const n = x.shape[0];
        state.running.seconds += dt;
        state.trainSeconds += dt;
        const lossValue = loss.item();
        const correct = countCorrect(logits, y);
        state.running.lossSum += lossValue * n;
        state.running.correct += correct;
        state.running.count += n;
        window.lossSum += lossValue * n;
        window.correct += correct;
        window.count += n;
        window.seconds += dt;
        b++;
        state.position = { epoch, batch: b, globalStep: state.position.globalStep + 1 };
        if (state.position.globalStep % curveEvery === 0 || b >= perEpoch) flushCurve(lr);
        progress(false);
        const stopNow = o.stopAfterSteps !== undefined && state.position.globalStep >= o.stopAfterSteps;
        if (interrupted || stopNow) {
          interrupted = true;
          break;
        }
        if (b < perEpoch && state.position.globalStep % every === 0) save();
      }
      progress(true);
      if (interrupted) break;
      const test = o.test ? evaluate(o.model, o.test.epoch(0)) : null;
      const summary: EpochSummary = {
        epoch: epoch + 1,
        trainLoss: state.running.lossSum / Math.max(state.running.count, 1),
        trainAccuracy: state.running.correct / Math.max(state.running.count, 1),
        testLoss: test ? test.loss : null,
        testAccuracy: test ? test.accuracy : null,
        trainSeconds: state.running.seconds,
        imagesPerSecond: state.running.count / Math.max(state.running.seconds, 1e-9),
      };
      state.history.push(summary);
      finalTest = test;
      o.onEpoch?.(summary);
      state.running = emptyStats();
      state.position = { epoch: epoch + 1, batch: 0, globalStep: state.position.globalStep };
      save();
    }
    if (interrupted) save();
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  const images = state.history.reduce((a, h) => a + h.imagesPerSecond * h.trainSeconds, 0);
  const seconds = state.history.reduce((a, h) => a + h.trainSeconds, 0);
  return {
    epochs: state.history,
    curve,
    steps: state.position.globalStep,
    trainSeconds: state.trainSeconds,
    imagesPerSecond: images / Math.max(seconds, 1e-9),
    resumedFrom,
    interrupted,
    finalTest,
  };
}
