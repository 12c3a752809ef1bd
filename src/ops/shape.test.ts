import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reshape, flatten, transpose, permute, slice, concat, unsqueeze, squeeze } from './shape.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { arange, randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, stridesOf } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';

test('reshape, flatten, unsqueeze and squeeze share storage', () => {
  const x = arange(24).requireGrad();
  const r = reshape(x, [2, -1, 4]);
  assert.deepEqual(r.shape, [2, 3, 4]);
  assert.equal(r.data, x.data);
  const f = flatten(r);
  assert.deepEqual(f.shape, [2, 12]);
  assert.equal(f.data, x.data);
  assert.deepEqual(flatten(r, 0).shape, [24]);
  assert.deepEqual(flatten(zeros([2, 3, 4, 5]), 1, 2).shape, [2, 12, 5]);
  assert.deepEqual(unsqueeze(r, 0).shape, [1, 2, 3, 4]);
  assert.deepEqual(unsqueeze(r, -1).shape, [2, 3, 4, 1]);
  assert.deepEqual(squeeze(zeros([1, 3, 1, 2])).shape, [3, 2]);
  assert.deepEqual(squeeze(zeros([1, 3, 1, 2]), 2).shape, [1, 3, 2]);
  assert.deepEqual(squeeze(zeros([1, 3, 1, 2]), [0, -2]).shape, [3, 2]);
  assert.deepEqual(reshape(zeros([0, 3]), [3, 0]).shape, [3, 0]);
  assert.deepEqual(reshape(tensor([5]), []).shape, []);
  // int tensors reshape too
  assert.equal(reshape(arange(6, 'int32'), [2, 3]).dtype, 'int32');
});

test('view ops pass gradients back in the input shape', () => {
  const x = randn([2, 3, 4], 1, new Rng(1)).requireGrad();
  for (const f of [
    (t: Tensor) => reshape(t, [4, -1]),
    (t: Tensor) => flatten(t),
    (t: Tensor) => unsqueeze(t, 1),
    (t: Tensor) => squeeze(unsqueeze(t, 3), 3),
  ]) {
    const r = gradCheck(f, [x]);
    assert.ok(r.ok, r.worst);
  }
});

test('reshape/squeeze/unsqueeze reject bad shapes by name', () => {
  const x = zeros([2, 3]);
  assert.throws(() => reshape(x, [4, 2]), (e: Error) => e instanceof ShapeError && e.message === 'reshape: [2,3] (6 elements) cannot become [4,2] (8 elements)');
  assert.throws(() => reshape(x, [-1, -1]), /reshape: only one -1/);
  assert.throws(() => reshape(x, [4, -1]), ShapeError);
  assert.throws(() => reshape(x, [2.5, 2]), ShapeError);
  assert.throws(() => squeeze(x, 0), (e: Error) => e instanceof ShapeError && e.message.startsWith('squeeze: dim 0'));
  assert.throws(() => unsqueeze(x, 3), ArgumentError);
  assert.throws(() => flatten(x, 1, 0), ArgumentError);
});

/** permute by walking every output multi-index (independent of the op's odometer). */
function naivePermute(x: Tensor, perm: number[]): number[] {
  const outShape = perm.map((p) => x.shape[p]);
  const outStr = stridesOf(outShape);
  const inStr = stridesOf(x.shape);
  const out: number[] = [];
  for (let flat = 0; flat < x.size; flat++) {
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += (Math.floor(flat / outStr[d]) % outShape[d]) * inStr[perm[d]];
    out.push(x.data[src]);
  }
  return out;
}

test('permute and transpose copy in the right order', () => {
  const x = arange(120);
  const y = reshape(x, [2, 3, 4, 5]);
  for (const perm of [[0, 1, 2, 3], [3, 2, 1, 0], [0, 2, 3, 1], [1, 0, 3, 2], [-1, 0, 1, 2]]) {
    const p = permute(y, perm);
    const norm = perm.map((d) => (d < 0 ? d + 4 : d));
    assert.deepEqual(p.shape, norm.map((d) => y.shape[d]));
    assert.deepEqual(Array.from(p.data), naivePermute(y, norm));
    assert.notEqual(p.data, y.data);
  }
  assert.deepEqual(transpose(tensor([[1, 2, 3], [4, 5, 6]]), 0, 1).toArray(), [[1, 4], [2, 5], [3, 6]]);
  assert.deepEqual(permute(tensor([[1, 2]], undefined, 'int32'), [1, 0]).toArray(), [[1], [2]]);
});

test('permute/transpose gradients and errors', () => {
  const x = randn([2, 3, 4], 1, new Rng(2)).requireGrad();
  let r = gradCheck((t) => permute(t, [2, 0, 1]), [x]);
  assert.ok(r.ok, r.worst);
  r = gradCheck((t) => transpose(t, -1, 0), [x]);
  assert.ok(r.ok, r.worst);
  assert.throws(() => permute(x, [0, 1]), (e: Error) => e instanceof ShapeError && e.message.startsWith('permute: dims must list 3 axes'));
  assert.throws(() => permute(x, [0, 1, 1]), /permute: dims \[0,1,1\] repeat/);
  assert.throws(() => transpose(x, 0, 3), ArgumentError);
});

test('slice with negative and clamped bounds', () => {
  const x = tensor([[0, 1, 2, 3], [4, 5, 6, 7]]);
  assert.deepEqual(slice(x, 1, 1, 3).toArray(), [[1, 2], [5, 6]]);
  assert.deepEqual(slice(x, -1, -2, 4).toArray(), [[2, 3], [6, 7]]);
  assert.deepEqual(slice(x, 0, 1, 2).toArray(), [[4, 5, 6, 7]]);
  assert.deepEqual(slice(x, 1, 2, 100).toArray(), [[2, 3], [6, 7]]);
  assert.deepEqual(slice(x, 1, 3, 1).shape, [2, 0]);
  assert.deepEqual(slice(x, 1, 0, -1).toArray(), [[0, 1, 2], [4, 5, 6]]);
  assert.throws(() => slice(x, 2, 0, 1), (e: Error) => e instanceof ArgumentError && e.message === 'slice: axis 2 out of range for 2 dims');
  assert.throws(() => slice(x, 0, 0.5, 1), /slice: start and end must be integers/);
  const g = randn([3, 5, 2], 1, new Rng(3)).requireGrad();
  const r = gradCheck((t) => slice(t, 1, 1, -1), [g]);
  assert.ok(r.ok, r.worst);
});

test('concat joins along any axis with gradients to every input', () => {
  const a = tensor([[1, 2], [3, 4]]);
  const b = tensor([[5], [6]]);
  assert.deepEqual(concat([a, b], 1).toArray(), [[1, 2, 5], [3, 4, 6]]);
  assert.deepEqual(concat([a, tensor([[7, 8]])], 0).toArray(), [[1, 2], [3, 4], [7, 8]]);
  assert.deepEqual(concat([a], -1).toArray(), [[1, 2], [3, 4]]);
  const rng = new Rng(4);
  const x = randn([2, 3, 2], 1, rng).requireGrad();
  const y = randn([2, 1, 2], 1, rng).requireGrad();
  const z = randn([2, 2, 2], 1, rng);
  const r = gradCheck((p, q) => concat([p, z, q, p], 1), [x, y]);
  assert.ok(r.ok, r.worst);
  assert.throws(() => concat([a, b], 0), (e: Error) => e instanceof ShapeError && e.message === 'concat: xs[1] [2,1] does not match xs[0] [2,2] outside axis 0');
  assert.throws(() => concat([a, zeros([2, 2], 'int32')], 0), DTypeError);
  assert.throws(() => concat([], 0), ArgumentError);
});
