import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sum, mean, max, argmax } from './reduce.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { randn, scalar, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, stridesOf } from '../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../errors.js';

/** Naive sum over `axes` by walking every multi-index (independent of the op's coalesced walk). */
function naiveSum(x: Tensor, axes: number[]): { data: number[]; shape: number[] } {
  const keep = x.shape.map((_, i) => !axes.includes(i));
  const outShape = x.shape.filter((_, i) => keep[i]);
  const outStr = stridesOf(outShape);
  const out = new Array<number>(outShape.reduce((p, q) => p * q, 1)).fill(0);
  const inStr = stridesOf(x.shape);
  for (let flat = 0; flat < x.size; flat++) {
    let o = 0;
    let k = 0;
    for (let d = 0; d < x.ndim; d++) {
      const i = Math.floor(flat / inStr[d]) % x.shape[d];
      if (keep[d]) o += i * outStr[k++];
    }
    out[o] += x.data[flat];
  }
  return { data: out, shape: outShape };
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])), `[${i}] ${got[i]} vs ${want[i]}`);
}

test('sum and mean over axis sets match a naive reduction', () => {
  const x = randn([2, 3, 4, 5], 1, new Rng(1));
  const sets: (number | number[] | undefined)[] = [undefined, 0, -1, 2, [1, 3], [0, 2], [3, 0], [0, 1, 2, 3], [1, 2]];
  for (const axes of sets) {
    const list = axes === undefined ? [0, 1, 2, 3] : (typeof axes === 'number' ? [axes] : axes).map((a) => (a < 0 ? a + 4 : a));
    const ref = naiveSum(x, list);
    const s = sum(x, axes);
    assert.deepEqual(s.shape, ref.shape, `sum ${JSON.stringify(axes)}`);
    assertClose(s.data, ref.data);
    const count = list.reduce((p, a) => p * x.shape[a], 1);
    const m = mean(x, axes, true);
    assert.deepEqual(m.shape, x.shape.map((d, i) => (list.includes(i) ? 1 : d)));
    assertClose(m.data, ref.data.map((v) => v / count));
  }
});

test('sum of everything is 0-d; [] reduces nothing; 0-d input works', () => {
  const x = tensor([[1, 2], [3, 4]]);
  const s = sum(x);
  assert.deepEqual(s.shape, []);
  assert.equal(s.item(), 10);
  assert.equal(mean(x).item(), 2.5);
  assert.deepEqual(sum(x, []).toArray(), [[1, 2], [3, 4]]);
  assert.equal(sum(scalar(3)).item(), 3);
  assert.deepEqual(sum(x, 1, true).toArray(), [[3], [7]]);
});

test('sum over an empty dim gives 0, mean gives NaN', () => {
  const x = zeros([2, 0, 3]);
  assert.deepEqual(Array.from(sum(x, 1).data), [0, 0, 0, 0, 0, 0]);
  assert.ok(Number.isNaN(mean(x).item()));
  assert.deepEqual(sum(x, 0).shape, [0, 3]);
});

test('sum/mean reject bad axes by name', () => {
  const x = zeros([2, 3]);
  assert.throws(() => sum(x, 2), (e: Error) => e instanceof ArgumentError && e.message === 'sum: axis 2 out of range for 2 dims');
  assert.throws(() => mean(x, [0, -2]), (e: Error) => e instanceof ArgumentError && /mean: axis -2 given twice/.test(e.message));
  assert.throws(() => sum(x, 0.5), ArgumentError);
});

for (const keepdim of [false, true]) {
  test(`sum and mean gradients (keepdim ${keepdim})`, () => {
    const x = randn([2, 3, 4], 1, new Rng(2)).requireGrad();
    for (const axes of [undefined, 1, [0, 2]] as const) {
      const a = axes === undefined ? undefined : typeof axes === 'number' ? axes : [...axes];
      let r = gradCheck((t) => sum(t, a, keepdim), [x]);
      assert.ok(r.ok, r.worst);
      r = gradCheck((t) => mean(t, a, keepdim), [x]);
      assert.ok(r.ok, r.worst);
    }
  });
}

/** Distinct values at least 0.1 apart, so finite differences never swap the maximum. */
function distinct(shape: number[], seed: number): Tensor {
  const n = shape.reduce((p, q) => p * q, 1);
  const perm = new Rng(seed).permutation(n);
  return new Tensor(Float32Array.from(perm, (v) => (v - n / 2) * 0.1), shape);
}

test('max and argmax match a naive scan along each axis', () => {
  const x = distinct([3, 4, 5], 3);
  for (let axis = 0; axis < 3; axis++) {
    const v = max(x, axis);
    const i = argmax(x, axis);
    assert.equal(i.dtype, 'int32');
    const str = stridesOf(x.shape);
    const outShape = x.shape.filter((_, d) => d !== axis);
    assert.deepEqual(v.shape, outShape);
    assert.deepEqual(max(x, axis, true).shape, x.shape.map((d, k) => (k === axis ? 1 : d)));
    let o = 0;
    // Walk the outputs in order and rescan each slice.
    const dims = [0, 1, 2].filter((d) => d !== axis);
    for (let p = 0; p < x.shape[dims[0]]; p++) {
      for (let q = 0; q < x.shape[dims[1]]; q++) {
        let best = -Infinity;
        let bi = -1;
        for (let k = 0; k < x.shape[axis]; k++) {
          const idx = [0, 0, 0];
          idx[dims[0]] = p;
          idx[dims[1]] = q;
          idx[axis] = k;
          const val = x.data[idx[0] * str[0] + idx[1] * str[1] + idx[2] * str[2]];
          if (val > best) {
            best = val;
            bi = k;
          }
        }
        assert.equal(v.data[o], best);
        assert.equal(i.data[o], bi);
        o++;
      }
    }
  }
});

test('max gradient goes to the first maximal element on ties; NaN wins', () => {
  const x = tensor([[1, 5, 5, 2], [7, 7, 7, 7]]).requireGrad();
  const y = max(x, 1);
  assert.deepEqual(Array.from(y.data), [5, 7]);
  backward(y, tensor([1, 2]));
  assert.deepEqual(x.grad!.toArray(), [[0, 1, 0, 0], [2, 0, 0, 0]]);
  assert.deepEqual(Array.from(argmax(tensor([[1, NaN, 3]]), 1).data), [1]);
  assert.deepEqual(Array.from(argmax(tensor([[3, 1, 9]], undefined, 'int32'), -1).data), [2]);
});

test('max gradient matches finite differences (no ties)', () => {
  const x = distinct([3, 4, 5], 4).requireGrad();
  for (const axis of [0, 1, 2]) {
    const r = gradCheck((t) => max(t, axis), [x]);
    assert.ok(r.ok, r.worst);
  }
});

test('max/argmax reject bad axes and empty reductions', () => {
  assert.throws(() => max(zeros([2, 3]), 2), (e: Error) => e instanceof ArgumentError && e.message.startsWith('max: axis 2'));
  assert.throws(() => argmax(zeros([2, 0]), 1), (e: Error) => e instanceof ShapeError && e.message.startsWith('argmax:'));
  assert.deepEqual(max(zeros([0, 3]), 1).shape, [0]);
});
