// The LUT-NN operator composed from src/ops primitives only: slow (N×C×K×V tensors) but plainly right; the test oracle for lut.ts.
import { noGrad } from '../autograd/engine.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import {
  add,
  addScalar,
  argmax,
  concat,
  exp,
  log,
  matmul,
  max,
  mul,
  neg,
  permute,
  reshape,
  softmax,
  sqrt,
  square,
  sub,
  sum,
  unsqueeze,
} from './index.js';
import { Tensor } from '../tensor/tensor.js';
import { checkMetric, type Metric } from '../backend/metric.js';

/** The same values with no graph: stopgrad. */
export function stopGrad(t: Tensor): Tensor {
  return t.detach();
}

/** |t| as max(t, −t) over a new last axis (the gradient at 0 goes to +t). */
function absComposed(t: Tensor): Tensor {
  const both = concat([unsqueeze(t, -1), unsqueeze(neg(t), -1)], -1); // [..., 2]
  return max(both, -1);
}

function dims(x: Tensor, centroids: Tensor): { N: number; C: number; K: number; V: number } {
  if (centroids.ndim !== 3) throw new ShapeError(`lutComposed: centroids must be [C, K, V], got ${fmtShape(centroids.shape)}`);
  const [C, K, V] = centroids.shape;
  if (x.ndim !== 2 || x.shape[1] !== C * V) throw new ShapeError(`lutComposed: x must be [N, ${C * V}], got ${fmtShape(x.shape)}`);
  return { N: x.shape[0], C, K, V };
}

/** dist [N, C, K] = d(x[n, c·V:(c+1)·V], centroids[c, k]) under `metric` (l2 not squared). */
export function distancesComposed(x: Tensor, centroids: Tensor, metric: Metric): Tensor {
  checkMetric('distancesComposed', metric);
  const { N, C, K, V } = dims(x, centroids);
  const xs = reshape(x, [N, C, 1, V]); // [N, C, 1, V]
  const ps = reshape(centroids, [1, C, K, V]); // [1, C, K, V]
  const diff = sub(xs, ps); // [N, C, K, V]
  if (metric === 'l2') return sqrt(sum(square(diff), 3)); // [N, C, K]
  const ad = absComposed(diff); // [N, C, K, V]
  return metric === 'l1' ? sum(ad, 3) : max(ad, 3); // [N, C, K]
}

/** codes [N, C] (int32): argmin_k dist, first on ties (argmax of −dist). */
export function codesComposed(x: Tensor, centroids: Tensor, metric: Metric): Tensor {
  return noGrad(() => argmax(neg(distancesComposed(x, centroids, metric)), 2));
}

/** β = softplus(θ) + 1 = log(1 + e^θ) + 1, from primitives. */
function betaComposed(theta: Tensor): Tensor {
  return addScalar(log(addScalar(exp(theta), 1)), 1);
}

/** The soft path alone: Σ_c Σ_k softmax_k(−dist·β)·lut[c,k,:] + bias → [N, M], with lut = centroids·weight. */
export function lutSoftComposed(x: Tensor, centroids: Tensor, weight: Tensor, bias: Tensor | null, theta: Tensor, metric: Metric = 'l2'): Tensor {
  const dist = distancesComposed(x, centroids, metric); // [N, C, K]
  const a = softmax(mul(neg(dist), betaComposed(theta)), -1); // [N, C, K]
  const lut = matmul(centroids, weight); // [C, K, V]·[C, V, M] → [C, K, M]
  const aT = permute(a, [1, 0, 2]); // [C, N, K]
  const soft = sum(matmul(aT, lut), 0); // [C, N, M] → [N, M]
  return bias ? add(soft, bias) : soft;
}

/** round(lut/scale)·scale with scale = max|lut|/127 in float32, written independently of lut.ts. */
export function fakeQuantComposed(lut: Tensor): Tensor {
  const L = lut.f32;
  let m = 0;
  for (let i = 0; i < L.length; i++) m = Math.max(m, Math.abs(L[i]));
  const scale = m > 0 ? Math.fround(m / 127) : 1;
  const out = new Float32Array(L.length);
  for (let i = 0; i < L.length; i++) {
    const v = Math.fround(L[i] / scale);
    let r = Math.round(v);
    if (Math.abs(r - v) === 0.5 && r % 2 !== 0) r -= 1; // half to even, as torch.round
    out[i] = Math.fround(r * scale);
  }
  return new Tensor(out, lut.shape);
}

export interface ComposedOptions {
  metric?: Metric;
  quantize?: boolean;
}

/**
 * The full operator: value = hard path (one-hot codes · table, int8-dequantized unless quantize is false) + bias;
 * gradient = the soft path's, via out = hard + (soft − stopgrad(soft)).
 */
export function lutForwardComposed(x: Tensor, centroids: Tensor, weight: Tensor, bias: Tensor | null, theta: Tensor, opts: ComposedOptions = {}): Tensor {
  const metric = checkMetric('lutForwardComposed', opts.metric ?? 'l2');
  const quantize = opts.quantize ?? true;
  if (typeof quantize !== 'boolean') throw new ArgumentError(`lutForwardComposed: quantize must be a boolean`);
  const { N, C, K } = dims(x, centroids);
  const soft = lutSoftComposed(x, centroids, weight, bias, theta, metric); // [N, M]
  const hard = noGrad(() => {
    const codes = codesComposed(x, centroids, metric).data; // [N, C]
    const onehot = new Float32Array(C * N * K); // [C, N, K]
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) onehot[(c * N + n) * K + codes[n * C + c]] = 1;
    const lut = matmul(centroids, weight); // [C, K, M]
    const table = quantize ? fakeQuantComposed(lut) : lut;
    const h = sum(matmul(new Tensor(onehot, [C, N, K]), table), 0); // [N, M]
    return bias ? add(h, bias) : h;
  });
  return add(stopGrad(hard), sub(soft, stopGrad(soft)));
}
