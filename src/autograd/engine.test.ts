import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, noGrad } from './engine.js';
import { add, mul } from '../ops/arith.js';
import { tensor } from '../tensor/create.js';
import { AutogradError } from '../errors.js';

test('gradients accumulate through shared subexpressions and into .grad', () => {
  const x = tensor([2]).requireGrad();
  const y = mul(x, x); // x²
  const z = add(y, x); // x² + x, dz/dx = 2x + 1 = 5
  backward(z);
  assert.equal(x.grad!.item(), 5);
  const z2 = add(mul(x, x), x);
  backward(z2);
  assert.equal(x.grad!.item(), 10, 'second backward adds into .grad');
});

test('a tensor used twice as both operands gets both contributions', () => {
  const x = tensor([3]).requireGrad();
  backward(add(x, x));
  assert.equal(x.grad!.item(), 2);
});

test('noGrad records nothing', () => {
  const x = tensor([1]).requireGrad();
  const y = noGrad(() => mul(x, x));
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradFn, null);
});

test('backward twice through a freed graph is an error, retainGraph allows it', () => {
  const x = tensor([1]).requireGrad();
  const y = mul(x, x);
  const z = mul(y, y);
  backward(z, undefined, { retainGraph: true });
  backward(z);
  assert.equal(x.grad!.item(), 8);
  assert.throws(() => backward(z), AutogradError);
});

test('backward of a non-scalar without a gradient is an error', () => {
  const x = tensor([1, 2]).requireGrad();
  assert.throws(() => backward(mul(x, x)), AutogradError);
});

test('backward profile: one call per node with its name and a time, same gradients as without', () => {
  const x = tensor([3]).requireGrad();
  const seen: string[] = [];
  backward(add(mul(x, x), x), undefined, { profile: (name, ms) => void (assert.ok(ms >= 0), seen.push(name)) });
  assert.equal(x.grad!.item(), 7);
  assert.equal(seen.length, 2);
  assert.ok(seen.every((n) => typeof n === 'string' && n.length > 0), seen.join());
});
