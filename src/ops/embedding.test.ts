import { test } from 'node:test';
import assert from 'node:assert/strict';
import { embedding, gather, take } from './embedding.js';
import { gradCheck } from '../autograd/gradcheck.js';
import { backward } from '../autograd/engine.js';
import { ones, randn, tensor, zeros } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor, stridesOf } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError } from '../errors.js';

const ints = (v: unknown[], shape?: number[]): Tensor => tensor(v, shape, 'int32');

test('embedding picks rows and scatter-adds gradients for repeated indices', () => {
  const w = tensor([[0, 1], [10, 11], [20, 21]]).requireGrad();
  const idx = ints([[1, 1], [0, 2]]);
  const y = embedding(idx, w);
  assert.deepEqual(y.shape, [2, 2, 2]);
  assert.deepEqual(y.toArray(), [[[10, 11], [10, 11]], [[0, 1], [20, 21]]]);
  backward(y, ones([2, 2, 2]));
  assert.deepEqual(w.grad!.toArray(), [[1, 1], [2, 2], [1, 1]]);
  const r = gradCheck((t) => embedding(ints([2, 0, 2, 1, 2]), t), [randn([4, 3], 1, new Rng(1)).requireGrad()]);
  assert.ok(r.ok, r.worst);
  assert.deepEqual(embedding(ints([], [0]), w).shape, [0, 2]);
});

test('embedding validates indices and shapes by name', () => {
  const w = zeros([3, 2]);
  assert.throws(() => embedding(ints([0, 3]), w), (e: Error) => e instanceof ArgumentError && e.message === 'embedding: indices[1] = 3 out of range [0, 3) for weight [3,2]');
  assert.throws(() => embedding(ints([-1]), w), ArgumentError);
  assert.throws(() => embedding(tensor([0, 1]), w), (e: Error) => e instanceof DTypeError && e.message === 'embedding: indices must be int32, got float32');
  assert.throws(() => embedding(ints([0]), zeros([3])), ShapeError);
});

/** torch.gather by walking every index position and rewriting its axis coordinate. */
function naiveGather(x: Tensor, axis: number, index: Tensor): number[] {
  const istr = stridesOf(index.shape);
  const xstr = stridesOf(x.shape);
  const out: number[] = [];
  for (let flat = 0; flat < index.size; flat++) {
    let src = 0;
    for (let d = 0; d < index.ndim; d++) {
      const i = Math.floor(flat / istr[d]) % index.shape[d];
      src += (d === axis ? index.data[flat] : i) * xstr[d];
    }
    out.push(x.data[src]);
  }
  return out;
}

test('gather follows torch.gather along every axis, with a smaller index tensor', () => {
  const rng = new Rng(2);
  const x = randn([3, 4, 5], 1, rng);
  for (const axis of [0, 1, 2, -1]) {
    const a = axis < 0 ? axis + 3 : axis;
    const ishape = [2, 3, 4];
    ishape[a] = 6; // the gathered axis may be longer than x's
    const n = ishape.reduce((p, q) => p * q, 1);
    const index = new Tensor(Int32Array.from({ length: n }, () => rng.int(x.shape[a])), ishape, 'int32');
    const y = gather(x, axis, index);
    assert.deepEqual(y.shape, ishape);
    assert.deepEqual(Array.from(y.data), naiveGather(x, a, index));
  }
  assert.deepEqual(gather(tensor([[1, 2], [3, 4]]), 1, ints([[0, 0], [1, 0]])).toArray(), [[1, 1], [4, 3]]);
});

test('gather gradient scatter-adds (repeated indices) and matches finite differences', () => {
  const x = randn([3, 4], 1, new Rng(3)).requireGrad();
  const index = ints([[0, 0, 3], [1, 2, 1], [3, 3, 3]]);
  const r = gradCheck((t) => gather(t, 1, index), [x]);
  assert.ok(r.ok, r.worst);
  x.grad = null;
  backward(gather(x, 1, index), ones([3, 3]));
  assert.deepEqual(x.grad!.toArray(), [[2, 0, 0, 1], [0, 2, 1, 0], [0, 0, 0, 3]]);
});

test('gather validates by name', () => {
  const x = zeros([2, 3]);
  assert.throws(() => gather(x, 1, ints([[0, 3]])), (e: Error) => e instanceof ArgumentError && e.message.startsWith('gather: index value 3 at flat position 1 out of range [0, 3)'));
  assert.throws(() => gather(x, 1, ints([0, 1])), (e: Error) => e instanceof ShapeError && e.message.startsWith('gather: index [2] must have as many dims'));
  assert.throws(() => gather(x, 1, ints([[0], [0], [0]])), (e: Error) => e instanceof ShapeError && e.message.includes('in dim 0'));
  assert.throws(() => gather(x, 2, ints([[0]])), ArgumentError);
  assert.throws(() => gather(x, 0, tensor([[0]])), DTypeError);
});

/** np.take along an axis, element by element: out[pre][idx][post] = x[pre][wrap(indices[idx])][post]. */
function naiveTake(x: Tensor, axis: number, indices: Tensor): { shape: number[]; data: number[] } {
  const a = axis < 0 ? axis + x.ndim : axis;
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  const ostr = stridesOf(shape);
  const xstr = stridesOf(x.shape);
  const istr = stridesOf(indices.shape);
  const k = indices.ndim;
  const size = shape.reduce((p, q) => p * q, 1);
  const data: number[] = [];
  for (let flat = 0; flat < size; flat++) {
    const o = shape.map((n, d) => Math.floor(flat / ostr[d]) % n);
    let iflat = 0;
    for (let d = 0; d < k; d++) iflat += o[a + d] * istr[d];
    const v = indices.data[iflat];
    const xi = [...o.slice(0, a), v < 0 ? v + x.shape[a] : v, ...o.slice(a + k)];
    data.push(x.data[xi.reduce((p, q, d) => p + q * xstr[d], 0)]);
  }
  return { shape, data };
}

test('take follows ONNX Gather on every axis, for 0-d, 1-d and 2-d indices with negative values', () => {
  const rng = new Rng(7);
  const x = randn([3, 4, 5], 1, rng);
  for (const axis of [0, 1, 2, -1, -2, -3]) {
    const len = x.shape[axis < 0 ? axis + 3 : axis];
    for (const ishape of [[], [4], [2, 3]]) {
      const n = ishape.reduce((p, q) => p * q, 1);
      const indices = new Tensor(Int32Array.from({ length: n }, () => rng.int(2 * len) - len), ishape, 'int32');
      const y = take(x, axis, indices);
      const want = naiveTake(x, axis, indices);
      assert.deepEqual(y.shape, want.shape, `axis ${axis} indices ${JSON.stringify(ishape)}`);
      assert.deepEqual(Array.from(y.data), want.data);
    }
  }
  // A negative index is its positive counterpart.
  const m = tensor([[1, 2], [3, 4], [5, 6]]);
  assert.deepEqual(take(m, 0, ints([-1, 2, -3, 0])).toArray(), [[5, 6], [5, 6], [1, 2], [1, 2]]);
  assert.deepEqual(take(m, 1, ints([[-1], [0]])).toArray(), [[[2], [1]], [[4], [3]], [[6], [5]]]);
  assert.deepEqual(take(m, -1, new Tensor(Int32Array.of(-2), [], 'int32')).toArray(), [1, 3, 5]);
  assert.deepEqual(take(m, 0, ints([], [0])).shape, [0, 2]);
  assert.deepEqual(take(zeros([2, 0]), 1, ints([], [0, 3])).shape, [2, 0, 3]);
});

test('take gradient scatter-adds (repeated and negative indices accumulate) and matches finite differences', () => {
  const x = tensor([[0, 1], [10, 11], [20, 21]]).requireGrad();
  // rows 2, 2 (as -1), 0, 2: row 2 three times
  const y = take(x, 0, ints([[2, -1], [0, 2]]));
  backward(y, tensor([[[1, 2], [10, 20]], [[100, 200], [1000, 2000]]]));
  assert.deepEqual(x.grad!.toArray(), [[100, 200], [0, 0], [1011, 2022]]);
  for (const [axis, idx] of [[0, ints([3, -4, 1, 1])], [1, ints([[0, -1, 2], [-1, -1, 0]])], [-1, ints([4, -5, 2])]] as const) {
    const r = gradCheck((t) => take(t, axis, idx), [randn([4, 3, 5], 1, new Rng(8)).requireGrad()]);
    assert.ok(r.ok, `axis ${axis}: ${r.worst}`);
  }
});

test('take validates by name: dtypes, axis, index range (naming the position), 0-d x', () => {
  const x = zeros([3, 2]);
  const is = <E extends Error>(cls: new (m: string) => E, msg: string) => (e: Error) => e instanceof cls && e.message === msg;
  assert.throws(() => take(x, 0, ints([[0, 1], [3, 0]])), is(ArgumentError, 'take: indices[1,0] = 3 out of range [-3, 3) for axis 0 of x [3,2]'));
  assert.throws(() => take(x, 1, ints([-3])), is(ArgumentError, 'take: indices[0] = -3 out of range [-2, 2) for axis 1 of x [3,2]'));
  assert.throws(() => take(x, 0, new Tensor(Int32Array.of(7), [], 'int32')), is(ArgumentError, 'take: indices[] = 7 out of range [-3, 3) for axis 0 of x [3,2]'));
  assert.throws(() => take(zeros([0, 2]), 0, ints([0])), is(ArgumentError, 'take: indices[0] = 0 out of range [0, 0) for axis 0 of x [0,2]'));
  assert.throws(() => take(x, 2, ints([0])), is(ArgumentError, 'take: axis 2 out of range for 2 dims'));
  assert.throws(() => take(x, -3, ints([0])), is(ArgumentError, 'take: axis -3 out of range for 2 dims'));
  assert.throws(() => take(x, 0.5, ints([0])), is(ArgumentError, 'take: axis 0.5 out of range for 2 dims'));
  assert.throws(() => take(x, '1' as unknown as number, ints([0])), is(ArgumentError, 'take: axis must be an integer, got string 1'));
  assert.throws(() => take(x, 0, tensor([0])), is(DTypeError, 'take: indices must be int32, got float32'));
  assert.throws(() => take(ints([1, 2]), 0, ints([0])), is(DTypeError, 'take: x must be float32, got int32'));
  assert.throws(() => take(new Tensor(Float32Array.of(1), []), 0, ints([0])), is(ShapeError, 'take: x must have at least 1 dim, got []'));
});
