// 2-D pooling over NCHW planes: max (gradient to the argmax), average (padding counted), and global average.
import { record } from '../autograd/engine.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, convOutSize } from '../tensor/tensor.js';
import { checkF32, checkNdim, describe, pair } from './util.js';

export interface Pool2dOptions {
  kernel: number | readonly [number, number];
  /** Defaults to the kernel size. */
  stride?: number | readonly [number, number];
  /** Implicit padding on both sides, at most half the kernel (as in PyTorch). */
  padding?: number | readonly [number, number];
}

interface PoolGeom {
  n: number;
  c: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  outH: number;
  outW: number;
}

function poolGeom(op: string, x: Tensor, opts: Pool2dOptions): PoolGeom {
  checkNdim(op, 'x', x, 4, '[N, C, H, W]');
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: opts must be an object with a kernel, got ${describe(opts)}`);
  if (opts.kernel === undefined) throw new ArgumentError(`${op}: opts.kernel is required`);
  const [kh, kw] = pair(op, 'kernel', opts.kernel, [1, 1], 1);
  const [sh, sw] = pair(op, 'stride', opts.stride, [kh, kw], 1);
  const [ph, pw] = pair(op, 'padding', opts.padding, [0, 0], 0);
  if (2 * ph > kh || 2 * pw > kw) {
    throw new ArgumentError(`${op}: padding ${ph}x${pw} must be at most half the kernel ${kh}x${kw}`);
  }
  const [n, c, h, w] = x.shape;
  const outH = convOutSize(h, kh, sh, ph);
  const outW = convOutSize(w, kw, sw, pw);
  if (outH <= 0 || outW <= 0) {
    throw new ShapeError(`${op}: input ${fmtShape(x.shape)} padded by ${ph}x${pw} is smaller than the kernel ${kh}x${kw}`);
  }
  return { n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW };
}

/** The common 2x2, stride 2, no padding case (about 2x faster than the generic loop). */
function maxPool2x2(X: Float32Array, planes: number, h: number, w: number, outH: number, outW: number, Y: Float32Array, arg: Int32Array): void {
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const xb = p * h * w;
    for (let oy = 0; oy < outH; oy++) {
      const r0 = xb + 2 * oy * w;
      const r1 = r0 + w;
      for (let ox = 0; ox < outW; ox++) {
        const i0 = r0 + 2 * ox;
        const i2 = r1 + 2 * ox;
        let bi = i0;
        let best = X[i0];
        // !(v <= best) && best === best: take v if larger or NaN, never replace a NaN (first NaN wins).
        let v = X[i0 + 1];
        if (!(v <= best) && best === best) {
          best = v;
          bi = i0 + 1;
        }
        v = X[i2];
        if (!(v <= best) && best === best) {
          best = v;
          bi = i2;
        }
        v = X[i2 + 1];
        if (!(v <= best) && best === best) {
          best = v;
          bi = i2 + 1;
        }
        Y[o] = best;
        arg[o] = bi;
        o++;
      }
    }
  }
}

/** Any kernel/stride/padding: each window clipped to the input (padding acts as -inf). */
function maxPoolGeneric(X: Float32Array, gm: PoolGeom, Y: Float32Array, arg: Int32Array): void {
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW } = gm;
  const planes = n * c;
  const inPlane = h * w;
  const outPlane = outH * outW;
  for (let p = 0; p < planes; p++) {
    const xb = p * inPlane;
    let o = p * outPlane;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * sh - ph;
      const ya = y0 < 0 ? 0 : y0;
      const yb = y0 + kh > h ? h : y0 + kh;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * sw - pw;
        const xa = x0 < 0 ? 0 : x0;
        const xe = x0 + kw > w ? w : x0 + kw;
        let bi = xb + ya * w + xa;
        let best = X[bi];
        for (let yy = ya; yy < yb; yy++) {
          const row = xb + yy * w;
          for (let xx = xa; xx < xe; xx++) {
            const v = X[row + xx];
            if (!(v <= best) && best === best) {
              best = v;
              bi = row + xx;
            }
          }
        }
        Y[o] = best;
        arg[o] = bi;
        o++;
      }
    }
  }
}

/**
 * Max over each kernel window; padding acts as -inf. The gradient goes to the position of the window's
 * first maximum (NaN counts as the maximum).
 */
export function maxPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const X = checkF32('maxPool2d', 'x', x);
  const gm = poolGeom('maxPool2d', x, opts);
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW } = gm;
  const planes = n * c;
  const outPlane = outH * outW;
  const Y = new Float32Array(planes * outPlane);
  const arg = new Int32Array(planes * outPlane); // flat index into X of each output's maximum
  if (kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0) {
    maxPool2x2(X, planes, h, w, outH, outW, Y, arg);
  } else {
    maxPoolGeneric(X, gm, Y, arg);
  }
  const out = new Tensor(Y, [n, c, outH, outW]);
  return record(out, 'maxPool2d', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let i = 0; i < G.length; i++) D[arg[i]] += G[i];
    return [new Tensor(D, x.shape)];
  });
}

/** Mean over each kernel window, padded zeros included in the count (PyTorch's count_include_pad=True). */
export function avgPool2d(x: Tensor, opts: Pool2dOptions): Tensor {
  const X = checkF32('avgPool2d', 'x', x);
  const gm = poolGeom('avgPool2d', x, opts);
  const { n, c, h, w, kh, kw, sh, sw, ph, pw, outH, outW } = gm;
  const planes = n * c;
  const inPlane = h * w;
  const outPlane = outH * outW;
  const inv = 1 / (kh * kw);
  const Y = new Float32Array(planes * outPlane);
  for (let p = 0; p < planes; p++) {
    const xb = p * inPlane;
    let o = p * outPlane;
    for (let oy = 0; oy < outH; oy++) {
      const y0 = oy * sh - ph;
      const ya = y0 < 0 ? 0 : y0;
      const yb = y0 + kh > h ? h : y0 + kh;
      for (let ox = 0; ox < outW; ox++) {
        const x0 = ox * sw - pw;
        const xa = x0 < 0 ? 0 : x0;
        const xe = x0 + kw > w ? w : x0 + kw;
        let s = 0;
        for (let yy = ya; yy < yb; yy++) {
          const row = xb + yy * w;
          for (let xx = xa; xx < xe; xx++) s += X[row + xx];
        }
        Y[o++] = s * inv;
      }
    }
  }
  const out = new Tensor(Y, [n, c, outH, outW]);
  return record(out, 'avgPool2d', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let p = 0; p < planes; p++) {
      const xb = p * inPlane;
      let o = p * outPlane;
      for (let oy = 0; oy < outH; oy++) {
        const y0 = oy * sh - ph;
        const ya = y0 < 0 ? 0 : y0;
        const yb = y0 + kh > h ? h : y0 + kh;
        for (let ox = 0; ox < outW; ox++) {
          const x0 = ox * sw - pw;
          const xa = x0 < 0 ? 0 : x0;
          const xe = x0 + kw > w ? w : x0 + kw;
          const v = G[o++] * inv;
          for (let yy = ya; yy < yb; yy++) {
            const row = xb + yy * w;
            for (let xx = xa; xx < xe; xx++) D[row + xx] += v;
          }
        }
      }
    }
    return [new Tensor(D, x.shape)];
  });
}

/** Mean over H and W: [N, C, H, W] → [N, C] (float64 sums). */
export function globalAvgPool2d(x: Tensor): Tensor {
  const X = checkF32('globalAvgPool2d', 'x', x);
  checkNdim('globalAvgPool2d', 'x', x, 4, '[N, C, H, W]');
  const [n, c, h, w] = x.shape;
  const hw = h * w;
  const planes = n * c;
  const Y = new Float32Array(planes);
  for (let p = 0; p < planes; p++) {
    const b = p * hw;
    let s = 0;
    for (let i = 0; i < hw; i++) s += X[b + i];
    Y[p] = s / hw;
  }
  return record(new Tensor(Y, [n, c]), 'globalAvgPool2d', [x], (g) => {
    const G = g.f32;
    const D = new Float32Array(X.length);
    for (let p = 0; p < planes; p++) D.fill(G[p] / hw, p * hw, (p + 1) * hw);
    return [new Tensor(D, x.shape)];
  });
}
