// Knowledge-distillation loss (Hinton et al.): cross-entropy on labels blended with the KL to a teacher's softened logits.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { add, crossEntropy, logSoftmax, mean, mul, mulScalar, softmax, sum } from '../ops/index.js';
import { Tensor } from '../tensor/tensor.js';
import { describe } from '../ops/util.js';

export interface DistillOptions {
  /** Weight of the distillation term in [0, 1]; the label cross-entropy gets 1 − alpha. */
  alpha: number;
  /** Softening temperature T > 0 of both logit sets; the distillation term is scaled by T² (gradient scale of T = 1). */
  temperature: number;
}

export function checkDistillOptions(op: string, o: DistillOptions): void {
  if (typeof o.alpha !== 'number' || !(o.alpha >= 0 && o.alpha <= 1)) throw new ArgumentError(`${op}: alpha must be in [0, 1], got ${describe(o.alpha)}`);
  if (typeof o.temperature !== 'number' || !(o.temperature > 0 && o.temperature < Infinity)) {
    throw new ArgumentError(`${op}: temperature must be a finite number > 0, got ${describe(o.temperature)}`);
  }
}

/**
 * (1 − α)·CE(student, y) + α·T²·mean_n Σ_c p_t[n, c]·(log p_t[n, c] − log p_s[n, c]), with p = softmax(logits / T).
 * The teacher's logits [N, C] are constants (no gradient). Built from primitives, so its gradient is theirs.
 */
export function distillationLoss(student: Tensor, teacher: Tensor, target: Tensor, o: DistillOptions): Tensor {
  const op = 'distillationLoss';
  checkDistillOptions(op, o);
  if (student.ndim !== 2 || teacher.ndim !== 2 || student.shape[0] !== teacher.shape[0] || student.shape[1] !== teacher.shape[1]) {
    throw new ShapeError(`${op}: teacher logits ${fmtShape(teacher.shape)} vs student logits ${fmtShape(student.shape)}, expected the same [N, C]`);
  }
  const ce = crossEntropy(student, target);
  if (o.alpha === 0) return ce;
  const T = o.temperature;
  const pt = softmax(mulScalar(teacher.detach(), 1 / T), 1); // [N, C], constant
  const logPt = logSoftmax(mulScalar(teacher.detach(), 1 / T), 1);
  const logPs = logSoftmax(mulScalar(student, 1 / T), 1); // [N, C]
  // KL per row [N], then the batch mean.
  const kl = mean(sum(mul(pt, add(logPt, mulScalar(logPs, -1))), 1));
  const soft = mulScalar(kl, o.alpha * T * T);
  return o.alpha === 1 ? soft : add(mulScalar(ce, 1 - o.alpha), soft);
}
