import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maxPool2d, avgPool2d, globalAvgPool2d, type Pool2dOptions } from './pool.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../errors.js';

/** Pooling by explicit padding (−inf or 0) and a full scan of every window. */
function naivePool(x: Tensor, k: [number, number], s: [number, number], p: [number, number], kind: 'max' | 'avg'): { data: number[]; shape: number[] } {
  const [n, c, h, w] = x.shape;
  const H = h + 2 * p[0];
  const W = w + 2 * p[1];
  const oh = Math.floor((H - k[0]) / s[0]) + 1;
  const ow = Math.floor((W - k[1]) / s[1]) + 1;
  const at = (b: number, ch: number, y: number, xx: number): number => {
    const iy = y - p[0];
    const ix = xx - p[1];
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) return kind === 'max' ? -Infinity : 0;
    return x.data[((b * c + ch) * h + iy) * w + ix];
  };
  const out: number[] = [];
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let acc = kind === 'max' ? -Infinity : 0;
          for (let i = 0; i < k[0]; i++)
            for (let j = 0; j < k[1]; j++) {
              const v = at(b, ch, oy * s[0] + i, ox * s[1] + j);
              acc = kind === 'max' ? Math.max(acc, v) : acc + v;
            }
          out.push(kind === 'max' ? acc : acc / (k[0] * k[1]));
        }
  return { data: out, shape: [n, c, oh, ow] };
}

/** Distinct values at least 0.05 apart (no ties for max pooling). */
function distinct(shape: number[], seed: number): Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  const perm = new Rng(seed).permutation(n);
  return new Tensor(Float32Array.from(perm, (v) => (v - n / 2) * 0.05), shape);
}

const configs: [string, number[], Pool2dOptions, [number, number], [number, number], [number, number]][] = [
  ['2x2', [2, 3, 6, 6], { kernel: 2 }, [2, 2], [2, 2], [0, 0]],
  ['3x3 stride 2 padding 1', [1, 2, 7, 6], { kernel: 3, stride: 2, padding: 1 }, [3, 3], [2, 2], [1, 1]],
  ['3x2 stride [1,2] padding [1,1]', [2, 1, 5, 5], { kernel: [3, 2], stride: [1, 2], padding: [1, 1] }, [3, 2], [1, 2], [1, 1]],
  ['odd size 2x2 (floor)', [1, 2, 5, 7], { kernel: 2 }, [2, 2], [2, 2], [0, 0]],
  ['1x1 dims', [1, 1, 1, 1], { kernel: 1 }, [1, 1], [1, 1], [0, 0]],
];

for (const [name, shape, opts, k, s, p] of configs) {
  test(`maxPool2d ${name}: values vs naive loop, gradient vs finite differences`, () => {
    const x = distinct(shape, 3).requireGrad();
    const ref = naivePool(x, k, s, p, 'max');
    const y = maxPool2d(x, opts);
    assert.deepEqual(y.shape, ref.shape);
    assert.deepEqual(Array.from(y.data), ref.data);
    const r = gradCheck((t) => maxPool2d(t, opts), [x]);
    assert.ok(r.ok, r.worst);
  });

  test(`avgPool2d ${name}: values vs naive loop, gradient vs finite differences`, () => {
    const x = randn(shape, 1, new Rng(4)).requireGrad();
    const ref = naivePool(x, k, s, p, 'avg');
    const y = avgPool2d(x, opts);
    assert.deepEqual(y.shape, ref.shape);
    ref.data.forEach((v, i) => assert.ok(Math.abs(y.data[i] - v) < 1e-6, `[${i}] ${y.data[i]} vs ${v}`));
    const r = gradCheck((t) => avgPool2d(t, opts), [x]);
    assert.ok(r.ok, r.worst);
  });
}

test('maxPool2d: padding is -inf (negative inputs stay negative) and ties send the gradient to the first max', () => {
  const x = tensor([-5, -4, -3, -2], [1, 1, 2, 2]);
  assert.deepEqual(maxPool2d(x, { kernel: 2, stride: 1, padding: 1 }).toArray(), [[[[-5, -4, -4], [-3, -2, -2], [-3, -2, -2]]]]);
  const t = tensor([7, 7, 7, 7], [1, 1, 2, 2]).requireGrad();
  backward(maxPool2d(t, { kernel: 2 }), tensor([3], [1, 1, 1, 1]));
  assert.deepEqual(Array.from(t.grad!.data), [3, 0, 0, 0]);
  // Overlapping windows add their gradients at a shared maximum.
  const o = tensor([0, 9, 0, 0, 0, 0], [1, 1, 2, 3]).requireGrad();
  backward(maxPool2d(o, { kernel: 2, stride: 1 }), tensor([1, 1], [1, 1, 1, 2]));
  assert.deepEqual(Array.from(o.grad!.data), [0, 2, 0, 0, 0, 0]);
});

test('maxPool2d propagates NaN in the 2x2 fast path and the generic path', () => {
  const x = tensor([1, NaN, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const fast = maxPool2d(x, { kernel: 2 });
  assert.ok(Number.isNaN(fast.data[0]));
  const gen = maxPool2d(x, { kernel: 2, stride: 1 });
  assert.ok(Number.isNaN(gen.data[0]) && Number.isNaN(gen.data[1]));
  assert.deepEqual(Array.from(gen.data.slice(2)), [8, 9]);
});

test('avgPool2d counts padding in the divisor', () => {
  const x = tensor([4, 8, 12, 16], [1, 1, 2, 2]);
  // Corner windows of a 2x2 kernel with padding 1 hold one real value: v / 4.
  assert.deepEqual(avgPool2d(x, { kernel: 2, padding: 1 }).toArray(), [[[[1, 2], [3, 4]]]]);
});

test('globalAvgPool2d values and gradient', () => {
  const x = tensor([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
  assert.deepEqual(globalAvgPool2d(x).toArray(), [[2.5, 25]]);
  const g = randn([2, 3, 3, 2], 1, new Rng(5)).requireGrad();
  const y = globalAvgPool2d(g);
  assert.deepEqual(y.shape, [2, 3]);
  const r = gradCheck(globalAvgPool2d, [g]);
  assert.ok(r.ok, r.worst);
});

test('pooling handles an empty batch and rejects bad options by name', () => {
  assert.deepEqual(maxPool2d(zeros([0, 3, 4, 4]), { kernel: 2 }).shape, [0, 3, 2, 2]);
  assert.deepEqual(avgPool2d(zeros([0, 3, 4, 4]), { kernel: 2 }).shape, [0, 3, 2, 2]);
  assert.deepEqual(globalAvgPool2d(zeros([0, 3, 4, 4])).shape, [0, 3]);
  const x = zeros([1, 1, 4, 4]);
  assert.throws(() => maxPool2d(x, { kernel: 2, padding: 2 }), (e: Error) => e instanceof ArgumentError && e.message === 'maxPool2d: padding 2x2 must be at most half the kernel 2x2');
  assert.throws(() => avgPool2d(x, { kernel: 5 }), (e: Error) => e instanceof ShapeError && e.message.startsWith('avgPool2d: input [1,1,4,4]'));
  assert.throws(() => maxPool2d(zeros([4, 4]), { kernel: 2 }), (e: Error) => e instanceof ShapeError && e.message.startsWith('maxPool2d: x must have 4 dims'));
  assert.throws(() => maxPool2d(x, { kernel: 0 }), /maxPool2d: kernel must be an integer >= 1, got 0/);
  assert.throws(() => avgPool2d(x, { kernel: 2, stride: 0 }), /avgPool2d: stride/);
  assert.throws(() => maxPool2d(x, {} as Pool2dOptions), /maxPool2d: opts.kernel is required/);
  assert.throws(() => globalAvgPool2d(zeros([2, 3])), ShapeError);
});
