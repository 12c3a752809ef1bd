// 2-D convolution (NCHW, grouped, strided, padded, dilated): validates and computes the geometry, kernels via getBackend().
import { record } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import type { Conv2dGeom } from '../backend/types.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, convOutSize } from '../tensor/tensor.js';
import { checkF32, checkInt, checkNdim, describe, pair } from './util.js';

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}

/** Checks the operands of a conv2d and returns its geometry (shared with nn layers and the LUT code). */
export function conv2dGeom(xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}): Conv2dGeom {
  const op = 'conv2d';
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: opts must be an object, got ${describe(opts)}`);
  if (xShape.length !== 4) throw new ShapeError(`${op}: x must have 4 dims [N, Cin, H, W], got ${fmtShape(xShape)}`);
  if (wShape.length !== 4) throw new ShapeError(`${op}: weight must have 4 dims [Cout, Cin/groups, kh, kw], got ${fmtShape(wShape)}`);
  const [strideH, strideW] = pair(op, 'stride', opts.stride, [1, 1], 1);
  const [padH, padW] = pair(op, 'padding', opts.padding, [0, 0], 0);
  const [dilH, dilW] = pair(op, 'dilation', opts.dilation, [1, 1], 1);
  const groups = checkInt(op, 'groups', opts.groups ?? 1, 1);
  const [n, cin, h, w] = xShape;
  const [cout, cinG, kh, kw] = wShape;
  if (cin % groups !== 0) throw new ShapeError(`${op}: input channels ${cin} not divisible by groups ${groups}`);
  if (cout % groups !== 0) throw new ShapeError(`${op}: output channels ${cout} (weight ${fmtShape(wShape)}) not divisible by groups ${groups}`);
  if (cinG !== cin / groups) {
    throw new ShapeError(
      `${op}: weight ${fmtShape(wShape)} expects ${cinG} input channels per group, but x ${fmtShape(xShape)} with groups ${groups} gives ${cin / groups}`,
    );
  }
  if (cout === 0 || cinG === 0) throw new ShapeError(`${op}: weight ${fmtShape(wShape)} has no channels`);
  if (kh === 0 || kw === 0) throw new ShapeError(`${op}: kernel ${kh}x${kw} of weight ${fmtShape(wShape)} is empty`);
  const effH = dilH * (kh - 1) + 1;
  const effW = dilW * (kw - 1) + 1;
  const outH = convOutSize(h, kh, strideH, padH, dilH);
  const outW = convOutSize(w, kw, strideW, padW, dilW);
  if (outH <= 0 || outW <= 0) {
    throw new ShapeError(
      `${op}: input ${h}x${w} padded by ${padH}x${padW} is smaller than the dilated kernel ${effH}x${effW} (output would be ${outH}x${outW})`,
    );
  }
  return { n, cin, h, w, cout, kh, kw, strideH, strideW, padH, padW, dilH, dilW, groups, outH, outW };
}

/**
 * y [N, Cout, outH, outW] = conv(x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw]) + bias [Cout].
 * Backward computes only the gradients its inputs need: dx via conv2dBackwardInput, dweight/dbias via
 * conv2dBackwardWeight (dbias alone is a plain sum over dy).
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const X = checkF32(op, 'x', x);
  const W = checkF32(op, 'weight', weight);
  checkNdim(op, 'x', x, 4, '[N, Cin, H, W]');
  checkNdim(op, 'weight', weight, 4, '[Cout, Cin/groups, kh, kw]');
  const g = conv2dGeom(x.shape, weight.shape, opts);
  let Bv: Float32Array | null = null;
  if (bias !== null && bias !== undefined) {
    Bv = checkF32(op, 'bias', bias);
    if (bias.ndim !== 1 || bias.shape[0] !== g.cout) {
      throw new ShapeError(`${op}: bias must have shape [${g.cout}], got ${fmtShape(bias.shape)}`);
    }
  }
  const plane = g.outH * g.outW;
  const Y = new Float32Array(g.n * g.cout * plane);
  if (g.n > 0) getBackend().conv2dForward(X, W, Bv, g, Y);
  const out = new Tensor(Y, [g.n, g.cout, g.outH, g.outW]);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, op, inputs, (grad) => {
    const dY = grad.f32;
    const be = getBackend();
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    let db: Tensor | null = null;
    if (x.requiresGrad) {
      const dX = new Float32Array(X.length);
      if (g.n > 0) be.conv2dBackwardInput(dY, W, g, dX);
      dx = new Tensor(dX, x.shape);
    }
    const wantB = bias !== null && bias.requiresGrad;
    if (weight.requiresGrad) {
      const dW = new Float32Array(W.length);
      const dB = wantB ? new Float32Array(g.cout) : null;
      if (g.n > 0) be.conv2dBackwardWeight(X, dY, g, dW, dB);
      dw = new Tensor(dW, weight.shape);
      if (dB) db = new Tensor(dB, [g.cout]);
    } else if (wantB) {
      const acc = new Float64Array(g.cout);
      for (let b = 0; b < g.n; b++) {
        for (let c = 0; c < g.cout; c++) {
          const base = (b * g.cout + c) * plane;
          let s = 0;
          for (let i = 0; i < plane; i++) s += dY[base + i];
          acc[c] += s;
        }
      }
      db = new Tensor(Float32Array.from(acc), [g.cout]);
    }
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
