// Tests of the symbolic dim helpers: k·N dims, equality, products, division, evaluation at a batch size, formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError } from '../errors.js';
import { BATCH, batchCoef, dimAt, dimDiv, dimEq, dimMul, dimProd, fmtDims, isDim, isSymbolic, perSample, shapeAt, shapeEq, sizePerSample, symDim } from './dims.js';

test('dims: symDim and batchCoef are inverse', () => {
  assert.equal(BATCH, 'N');
  assert.equal(symDim(0), 0);
  assert.equal(symDim(1), 'N');
  assert.equal(symDim(49), '49*N');
  for (const k of [1, 2, 49, 1000]) assert.equal(batchCoef(symDim(k)), k);
  assert.equal(batchCoef(7), 0);
  assert.equal(batchCoef('N'), 1);
  assert.equal(batchCoef('2*N'), 2);
  for (const s of ['M', 'N*2', '2N', '0*N', '-2*N', '', ' N']) assert.equal(batchCoef(s), -1, s);
  assert.ok(isSymbolic('N') && !isSymbolic(3));
});

test('dims: isDim accepts non-negative safe integers and k·N only', () => {
  for (const d of [0, 1, 28, 2 ** 31, Number.MAX_SAFE_INTEGER, 'N', '5*N', '1234567890*N']) assert.ok(isDim(d), String(d));
  for (const d of [-1, 1.5, NaN, Infinity, 2 ** 53, 'M', '0*N', '05*N', 'N*5', '5N', '5 * N', '12345678901*N', '', null, undefined, [1], {}]) {
    assert.ok(!isDim(d), JSON.stringify(d) ?? String(d));
  }
});

test('dims: equality compares batch coefficients', () => {
  assert.ok(dimEq(3, 3) && !dimEq(3, 4));
  assert.ok(dimEq('N', 'N') && dimEq('4*N', '4*N'));
  assert.ok(dimEq('N', '1*N'), '1*N is N written out');
  assert.ok(!dimEq('N', '2*N') && !dimEq('N', 1) && !dimEq(2, '2*N'));
  assert.ok(shapeEq(['N', 3, 4], ['N', 3, 4]));
  assert.ok(!shapeEq(['N', 3], ['N', 3, 1]) && !shapeEq(['N', 3], ['2*N', 3]) && !shapeEq([], [1]));
  assert.ok(shapeEq([], []));
});

test('dims: products keep at most one batch factor', () => {
  assert.equal(dimMul(3, 4), 12);
  assert.equal(dimMul('N', 5), '5*N');
  assert.equal(dimMul(5, '2*N'), '10*N');
  assert.equal(dimMul(0, 'N'), 0);
  assert.equal(dimMul('N', 1), 'N');
  assert.throws(() => dimMul('N', '2*N'), (e: unknown) => e instanceof ShapeError && /dims N and 2\*N: a product of two batch dims is not supported/.test(e.message));
  assert.equal(dimProd([]), 1);
  assert.equal(dimProd([2, 3, 4]), 24);
  assert.equal(dimProd(['N', 3, 4]), '12*N');
  assert.equal(dimProd([5, 'N', 8]), '40*N');
  assert.throws(() => dimProd(['N', 3, 'N']), ShapeError);
});

test('dims: division gives a whole dim or null', () => {
  assert.equal(dimDiv(12, 4), 3);
  assert.equal(dimDiv(12, 5), null);
  assert.equal(dimDiv(12, 0), null);
  assert.equal(dimDiv('12*N', 4), '3*N');
  assert.equal(dimDiv('12*N', 12), 'N');
  assert.equal(dimDiv('12*N', 5), null);
  assert.equal(dimDiv('12*N', 0), null);
  assert.equal(dimDiv('12*N', '4*N'), 3);
  assert.equal(dimDiv('12*N', '5*N'), null);
  assert.equal(dimDiv('N', 'N'), 1);
  // A constant over a batch dim is not a dim (it would shrink as N grows), except 0.
  assert.equal(dimDiv(12, 'N'), null);
  assert.equal(dimDiv(0, 'N'), 0);
  // Division undoes multiplication.
  for (const [a, b] of [[6, 7], ['N', 5], ['3*N', 8]] as const) assert.equal(dimDiv(dimMul(a, b), b), a);
});

test('dims: evaluation at a batch size, per-sample sizes, per-sample shapes, formatting', () => {
  assert.equal(dimAt(7, 32), 7);
  assert.equal(dimAt('N', 32), 32);
  assert.equal(dimAt('49*N', 2), 98);
  assert.deepEqual(shapeAt(['N', 3, '5*N'], 4), [4, 3, 20]);
  assert.deepEqual(shapeAt([], 4), []);
  assert.equal(sizePerSample(['N', 1, 28, 28]), 784);
  assert.equal(sizePerSample(['49*N', 64]), 49 * 64);
  assert.equal(sizePerSample([]), 1);
  assert.equal(sizePerSample([3, 0]), 0);
  assert.equal(fmtDims(['N', 1, 28, 28]), '[N,1,28,28]');
  assert.equal(fmtDims(['5*N', 8]), '[5*N,8]');
  assert.equal(fmtDims([]), '[]');
  assert.deepEqual(perSample(['N', 1, 28, 28]), [1, 28, 28]);
  assert.deepEqual(perSample(['N']), []);
  assert.equal(perSample(['5*N', 8]), null);
  assert.equal(perSample([4, 8]), null);
  assert.equal(perSample(['N', 'N']), null);
  assert.equal(perSample([]), null);
});
