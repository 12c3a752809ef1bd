// Inverted dropout: zero each element with probability p and scale the rest by 1/(1 − p); identity in eval.
import { record } from '../autograd/engine.js';
import { ArgumentError } from '../errors.js';
import { globalRng, Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { checkF32, describe } from './util.js';

/**
 * Returns x itself when not training or when p = 0; otherwise a new tensor where each element is kept with
 * probability 1 − p (drawn from `rng`, so seeded runs repeat) and scaled by 1/(1 − p).
 */
export function dropout(x: Tensor, p: number, training: boolean, rng: Rng = globalRng): Tensor {
  const X = checkF32('dropout', 'x', x);
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new ArgumentError(`dropout: p must be in [0, 1), got ${describe(p)}`);
  if (typeof training !== 'boolean') throw new ArgumentError(`dropout: training must be a boolean, got ${describe(training)}`);
  if (!(rng instanceof Rng)) throw new ArgumentError(`dropout: rng must be an Rng, got ${describe(rng)}`);
  if (!training || p === 0) return x;
  const n = X.length;
  const scale = 1 / (1 - p);
  const mask = new Float32Array(n); // 0 or 1/(1 − p)
  const Y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (rng.random() >= p) {
      mask[i] = scale;
      Y[i] = X[i] * scale;
    }
  }
  return record(new Tensor(Y, x.shape), 'dropout', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(n);
    for (let i = 0; i < n; i++) D[i] = G[i] * mask[i];
    return [new Tensor(D, x.shape)];
  });
}
