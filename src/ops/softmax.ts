// Numerically stable softmax and log-softmax along one axis (max subtracted, float64 sums), with backward.
import { record } from '../autograd/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { checkF32, splitAt } from './util.js';

/**
 * For each slice along the axis (`n` values `inner` apart): y = x - logsumexp(x) when `logOut`,
 * else y = exp(x - logsumexp(x)).
 */
function softmaxForward(X: Float32Array, Y: Float32Array, outer: number, n: number, inner: number, logOut: boolean): void {
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * n * inner + j;
      const end = base + n * inner;
      let m = -Infinity;
      for (let i = base; i < end; i += inner) if (X[i] > m) m = X[i];
      if (m === -Infinity) m = 0; // all -inf: keep NaN-free arithmetic below (0/0 → NaN like PyTorch)
      let s = 0;
      for (let i = base; i < end; i += inner) s += Math.exp(X[i] - m);
      if (logOut) {
        const lse = m + Math.log(s);
        for (let i = base; i < end; i += inner) Y[i] = X[i] - lse;
      } else {
        const inv = 1 / s;
        for (let i = base; i < end; i += inner) Y[i] = Math.exp(X[i] - m) * inv;
      }
    }
  }
}

/** exp(x) / sum(exp(x)) along `axis` (default: the last). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const X = checkF32('softmax', 'x', x);
  const { outer, n, inner } = splitAt('softmax', x.shape, axis);
  const Y = new Float32Array(X.length);
  softmaxForward(X, Y, outer, n, inner, false);
  return record(new Tensor(Y, x.shape), 'softmax', [x], (g) => {
    // dx = y · (g − Σ g·y)
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * n * inner + j;
        const end = base + n * inner;
        let s = 0;
        for (let i = base; i < end; i += inner) s += G[i] * Y[i];
        for (let i = base; i < end; i += inner) D[i] = Y[i] * (G[i] - s);
      }
    }
    return [new Tensor(D, x.shape)];
  });
}

/** x − logsumexp(x) along `axis` (default: the last). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const X = checkF32('logSoftmax', 'x', x);
  const { outer, n, inner } = splitAt('logSoftmax', x.shape, axis);
  const Y = new Float32Array(X.length);
  softmaxForward(X, Y, outer, n, inner, true);
  return record(new Tensor(Y, x.shape), 'logSoftmax', [x], (g) => {
    // dx = g − softmax(x) · Σ g
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        const base = o * n * inner + j;
        const end = base + n * inner;
        let s = 0;
        for (let i = base; i < end; i += inner) s += G[i];
        for (let i = base; i < end; i += inner) D[i] = G[i] - Math.exp(Y[i]) * s;
      }
    }
    return [new Tensor(D, x.shape)];
  });
}
