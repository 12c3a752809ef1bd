import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward } from '../autograd/engine.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { NonFiniteError, ShapeError } from '../errors.js';
import { randn, tensor } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { cast, expand } from './cast.js';

test('cast: int32 → float32 exactly, float32 → int32 / int8 truncated toward zero and wrapped, same dtype is x', () => {
  const m = new Tensor(Int32Array.of(0, 1, -7, 16777216), [2, 2]);
  const f = cast(m, 'float32');
  assert.equal(f.dtype, 'float32');
  assert.deepEqual([...f.shape], [2, 2]);
  assert.deepEqual(Array.from(f.data), [0, 1, -7, 16777216]);
  const x = tensor([1.9, -1.9, 0.5, -0.5, 3e9]);
  assert.deepEqual(Array.from(cast(x, 'int32').data), [1, -1, 0, 0, 3e9 - 2 ** 32]);
  assert.deepEqual(Array.from(cast(tensor([200, -129.5]), 'int8').data), [-56, 127]);
  assert.equal(cast(x, 'float32'), x);
  assert.throws(() => cast(tensor([1, NaN]), 'int32'), NonFiniteError);
  assert.throws(() => cast(tensor([Infinity]), 'uint8'), /element 0 is Infinity/);
});

test('expand: broadcasts like NumPy, keeps int dtypes, and refuses shapes it cannot reach', () => {
  const x = tensor([1, 2, 3], [3, 1]);
  const y = expand(x, [2, 3, 4]);
  assert.deepEqual([...y.shape], [2, 3, 4]);
  for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) assert.equal(y.data[b * 12 + i * 4 + j], i + 1);
  const z = expand(new Tensor(Int32Array.of(5, 6), [1, 2]), [3, 2]);
  assert.equal(z.dtype, 'int32');
  assert.deepEqual(Array.from(z.data), [5, 6, 5, 6, 5, 6]);
  assert.throws(() => expand(x, [3, 2, 1]), ShapeError); // [3,1] against [3,2,1]: 3 vs 2
  assert.throws(() => expand(tensor([1, 2], [2]), [3]), ShapeError);
  assert.throws(() => expand(x, [1]), /not \[1\]/);
});

test('expand backward sums the gradient over the broadcast dims (finite differences)', () => {
  const x = randn([3, 1], 1, new Rng(2)).requireGrad();
  const y = expand(x, [2, 3, 4]);
  backward(y, tensor(Array.from({ length: 24 }, (_, i) => i), [2, 3, 4]));
  // d/dx[i] = Σ over b and j of the upstream gradient at (b, i, j).
  const want = [0, 1, 2].map((i) => [0, 1].reduce((s, b) => s + [0, 1, 2, 3].reduce((t, j) => t + b * 12 + i * 4 + j, 0), 0));
  assert.deepEqual(Array.from(x.grad!.data), want);
  const w = randn([2, 1, 3], 1, new Rng(5)).requireGrad();
  const r = gradCheck(() => expand(w, [4, 2, 5, 3]), [w], { seed: 3 });
  assert.ok(r.ok, r.worst);
});
