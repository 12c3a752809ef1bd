// Test loss and accuracy of a model on lutnn's inference runtime (Node): compile once, run the batches, score the logits.
import type { GraphModel } from '../graph/model.js';
import { compile } from '../runtime/node.js';
import { Tensor } from '../tensor/tensor.js';
import { evaluateLogits, type Batch, type EvalResult } from '../train/metrics.js';

/**
 * Loss and accuracy of `model` compiled for samples of `inputShape` (batches of up to 256) with the given LUT encoder
 * ('f32': the training engine's codes, BN folded; 'int8' / 'wide': integer encoders).
 */
export function evaluateOnRuntime(model: GraphModel, batches: Iterable<Batch>, inputShape: number[], lutEncoder: 'f32' | 'int8' | 'wide', onBatch?: (done: number) => void): EvalResult {
  const rm = compile(model, { inputShape, maxBatch: 256, lutEncoder });
  try {
    return evaluateLogits(batches, (x) => {
      const out = rm.run(x);
      return new Tensor(out, [x.shape[0], out.length / x.shape[0]]);
    }, onBatch);
  } finally {
    rm.dispose();
  }
}
