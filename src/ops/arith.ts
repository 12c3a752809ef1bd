// Broadcasting elementwise add/sub/mul/div with their backward passes.
import { record } from '../autograd/engine.js';
import { DTypeError } from '../errors.js';
import { Tensor, sameShape, shapeSize } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, unbroadcast } from './broadcast.js';

type BinFn = (x: number, y: number) => number;

function checkFloat(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') {
    throw new DTypeError(`${op}: expected float32 operands, got ${a.dtype} and ${b.dtype}`);
  }
}

/** out = f(a, b) with broadcasting; fast paths for equal shapes and a scalar right operand. */
function binaryForward(op: string, a: Tensor, b: Tensor, f: BinFn): Tensor {
  checkFloat(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = new Float32Array(shapeSize(shape));
  const A = a.f32;
  const B = b.f32;
  if (sameShape(a.shape, b.shape)) {
    for (let i = 0; i < out.length; i++) out[i] = f(A[i], B[i]);
  } else if (B.length === 1 && A.length === out.length) {
    const y = B[0];
    for (let i = 0; i < out.length; i++) out[i] = f(A[i], y);
  } else {
    const sa = broadcastStrides(a.shape, shape);
    const sb = broadcastStrides(b.shape, shape);
    const nd = shape.length;
    const idx = new Array<number>(nd).fill(0);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = f(A[ia], B[ib]);
      for (let d = nd - 1; d >= 0; d--) {
        idx[d]++;
        ia += sa[d];
        ib += sb[d];
        if (idx[d] < shape[d]) break;
        ia -= sa[d] * shape[d];
        ib -= sb[d] * shape[d];
        idx[d] = 0;
      }
    }
  }
  return new Tensor(out, shape);
}

const addF: BinFn = (x, y) => x + y;
const subF: BinFn = (x, y) => x - y;
const mulF: BinFn = (x, y) => x * y;
const divF: BinFn = (x, y) => x / y;

function neg(t: Tensor): Tensor {
  const d = t.f32;
  const o = new Float32Array(d.length);
  for (let i = 0; i < d.length; i++) o[i] = -d[i];
  return new Tensor(o, t.shape);
}

export function add(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('add', a, b, addF);
  return record(out, 'add', [a, b], (g) => [unbroadcast(g, a.shape), unbroadcast(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('sub', a, b, subF);
  return record(out, 'sub', [a, b], (g) => [unbroadcast(g, a.shape), unbroadcast(neg(g), b.shape)]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('mul', a, b, mulF);
  return record(out, 'mul', [a, b], (g) => [
    a.requiresGrad ? unbroadcast(binaryForward('mul', g, b, mulF), a.shape) : null,
    b.requiresGrad ? unbroadcast(binaryForward('mul', g, a, mulF), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binaryForward('div', a, b, divF);
  return record(out, 'div', [a, b], (g) => [
    a.requiresGrad ? unbroadcast(binaryForward('div', g, b, divF), a.shape) : null,
    // d(a/b)/db = -a/b² = -out/b
    b.requiresGrad
      ? unbroadcast(binaryForward('mul', g, binaryForward('div', neg(out), b, divF), mulF), b.shape)
      : null,
  ]);
}

/** a · s for a number s. */
export function mulScalar(a: Tensor, s: number): Tensor {
  checkFloat('mulScalar', a, a);
  const A = a.f32;
  const o = new Float32Array(A.length);
  for (let i = 0; i < A.length; i++) o[i] = A[i] * s;
  return record(new Tensor(o, a.shape), 'mulScalar', [a], (g) => {
    const G = g.f32;
    const r = new Float32Array(G.length);
    for (let i = 0; i < G.length; i++) r[i] = G[i] * s;
    return [new Tensor(r, a.shape)];
  });
}

/** a + s for a number s. */
export function addScalar(a: Tensor, s: number): Tensor {
  checkFloat('addScalar', a, a);
  const A = a.f32;
  const o = new Float32Array(A.length);
  for (let i = 0; i < A.length; i++) o[i] = A[i] + s;
  return record(new Tensor(o, a.shape), 'addScalar', [a], (g) => [g]);
}

export { neg as negRaw };
