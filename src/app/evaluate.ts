// Test loss and accuracy of a model on lutnn's inference runtime (Node): compile once, run the batches, score the logits.
import { GraphModel } from '../graph/model.js';
import { compileGraph } from '../runtime/load.js';
import type { RuntimeGraph } from '../runtime/model.js';
import { compile, nodeHost } from '../runtime/node.js';
import { Tensor } from '../tensor/tensor.js';
import { evaluateLogits, type Batch, type EvalResult } from '../train/metrics.js';

/**
 * Loss and accuracy of `model` (a GraphModel, or a deployment file's graph) compiled for samples of `inputShape`
 * (batches of up to 256) with the given LUT encoder ('f32': the training engine's codes, BN folded; 'int8' / 'wide':
 * integer encoders). Non-finite logits throw NonFiniteError naming the first step whose output is not finite.
 */
export function evaluateOnRuntime(model: GraphModel | RuntimeGraph, batches: Iterable<Batch>, inputShape: number[], lutEncoder: 'f32' | 'int8' | 'wide', onBatch?: (done: number) => void): EvalResult {
  const opts = { inputShape, maxBatch: 256, lutEncoder, checkFinite: true };
  const rm = model instanceof GraphModel ? compile(model, opts) : compileGraph(nodeHost(), model, opts);
  try {
    return evaluateLogits(batches, (x) => {
      const out = rm.run(x);
      return new Tensor(out, [x.shape[0], out.length / x.shape[0]]);
    }, onBatch);
  } finally {
    rm.dispose();
  }
}
