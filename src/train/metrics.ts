// Running loss/accuracy sums for a classifier and the evaluation loop over a batch source.
import { noGrad } from '../autograd/engine.js';
import { NonFiniteError, fmtShape } from '../errors.js';
import type { GraphModel, Trainable } from '../graph/model.js';
import { crossEntropy } from '../ops/index.js';
import type { Tensor } from '../tensor/tensor.js';

export interface Batch {
  x: Tensor;
  y: Tensor;
}

/** Sums that make exact epoch figures, also across a resume. */
export interface RunningStats {
  lossSum: number;
  correct: number;
  count: number;
  /** Seconds spent in training steps. */
  seconds: number;
}

export function emptyStats(): RunningStats {
  return { lossSum: 0, correct: 0, count: 0, seconds: 0 };
}

/** Number of rows of `logits` [N, C] whose argmax equals the int32 label. */
export function countCorrect(logits: Tensor, labels: Tensor): number {
  const [n, c] = logits.shape;
  const L = logits.f32;
  const y = labels.data;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = L[i * c];
    for (let j = 1; j < c; j++) {
      const v = L[i * c + j];
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    if (best === y[i]) correct++;
  }
  return correct;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  n: number;
  seconds: number;
  imagesPerSecond: number;
}

/** Mean cross-entropy and accuracy of the logits `logitsOf(x)` [n, classes] gives for each batch. */
export function evaluateLogits(batches: Iterable<Batch>, logitsOf: (x: Tensor) => Tensor, onBatch?: (done: number) => void): EvalResult {
  const t0 = performance.now();
  const s = emptyStats();
  for (const { x, y } of batches) {
    const logits = logitsOf(x);
    s.lossSum += crossEntropy(logits, y, { reduction: 'sum' }).item();
    s.correct += countCorrect(logits, y);
    s.count += x.shape[0];
    onBatch?.(s.count);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    loss: s.count ? s.lossSum / s.count : NaN,
    accuracy: s.count ? s.correct / s.count : NaN,
    n: s.count,
    seconds,
    imagesPerSecond: s.count / Math.max(seconds, 1e-9),
  };
}

/**
 * model.forward(x); with `check`, logits holding NaN or ±Infinity throw NonFiniteError naming the first node whose
 * output is not finite (the batch run again node by node, for a graph model; eval mode is deterministic).
 */
export function forwardChecked(model: Trainable, x: Tensor, check = true): Tensor {
  const y = model.forward(x);
  if (!check || y.dtype !== 'float32') return y;
  const d = y.f32;
  let bad = -1;
  for (let i = 0; i < d.length && bad < 0; i++) if (d[i] - d[i] !== 0) bad = i;
  if (bad < 0) return y;
  const graph = model as Partial<Pick<GraphModel, 'run'>>;
  if (typeof graph.run === 'function') graph.run.call(model, [x], { checkFinite: true }); // throws at the first such node
  throw new NonFiniteError(`evaluate: logit ${bad} of ${fmtShape(y.shape)} is ${d[bad]}; the model's output is not finite`);
}

/**
 * Mean cross-entropy and accuracy of `model` (switched to eval mode, restored after) over `batches`. With
 * `checkFinite` (default true) non-finite logits throw NonFiniteError naming the first node that made them.
 */
export function evaluate(model: Trainable, batches: Iterable<Batch>, onBatch?: (done: number) => void, opts: { checkFinite?: boolean } = {}): EvalResult {
  const wasTraining = model.training;
  const check = opts.checkFinite ?? true;
  model.eval();
  try {
    return noGrad(() => evaluateLogits(batches, (x) => forwardChecked(model, x, check), onBatch));
  } finally {
    model.train(wasTraining);
  }
}
