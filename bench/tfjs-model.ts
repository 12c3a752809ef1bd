// The dense runtime plan of a model rebuilt in TensorFlow.js (NHWC), so bench/model.ts can time tfjs-backend-wasm on the same weights.
import type * as TF from '@tensorflow/tfjs';
import type { Op } from '../src/runtime/plan.js';

export interface TfjsModel {
  /** Logits [batch, classes] for NCHW input x [batch, ...inShape]. */
  run(x: Float32Array, batch: number): Float32Array;
  dispose(): void;
}

/**
 * Builds the ops of a dense plan (conv, linear, pool, affine, reshape) as tfjs calls on constant weights. Convs
 * and pools run NHWC (the layout tfjs's CPU and wasm backends implement); a flatten goes back to NCHW order first.
 * LUT ops are rejected: tfjs has no LUT layer.
 */
export function buildTfjsModel(tf: typeof TF, ops: readonly Op[], inShape: readonly number[]): TfjsModel {
  const held: TF.Tensor[] = [];
  const keep = <T extends TF.Tensor>(t: T): T => (held.push(t), t);
  const steps: ((x: TF.Tensor) => TF.Tensor)[] = [];
  let nhwc = inShape.length === 3;
  const epilogue = (e: { scale: Float32Array | null; shift: Float32Array | null; relu: boolean }): ((y: TF.Tensor) => TF.Tensor) => {
    const scale = e.scale ? keep(tf.tensor1d(e.scale)) : null;
    const shift = e.shift ? keep(tf.tensor1d(e.shift)) : null;
    return (y) => {
      let z = y;
      if (scale) z = tf.mul(z, scale); // the channel is the last axis (NHWC or [N, features])
      if (shift) z = tf.add(z, shift);
      return e.relu ? tf.relu(z) : z;
    };
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'conv': {
        const { win: w, cout } = op;
        if (w.dh !== 1 || w.dw !== 1) throw new Error(`tfjs model: dilated conv ${op.name} not built`);
        // weight [cout, cin, kh, kw] → filter [kh, kw, cin, cout]
        const f = new Float32Array(op.weight.length);
        for (let o = 0; o < cout; o++)
          for (let c = 0; c < w.cin; c++)
            for (let i = 0; i < w.kh; i++) for (let j = 0; j < w.kw; j++) f[((i * w.kw + j) * w.cin + c) * cout + o] = op.weight[((o * w.cin + c) * w.kh + i) * w.kw + j];
        const filter = keep(tf.tensor4d(f, [w.kh, w.kw, w.cin, cout]));
        const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [w.ph, w.ph], [w.pw, w.pw], [0, 0]];
        const epi = epilogue(op.epi);
        steps.push((x) => epi(tf.conv2d(x as TF.Tensor4D, filter, [w.sh, w.sw], pad as unknown as 'valid')));
        break;
      }
      case 'pool': {
        const w = op.win;
        if (w.ph !== 0 || w.pw !== 0) throw new Error(`tfjs model: padded pooling ${op.name} not built`);
        steps.push((x) => (op.mode === 'max' ? tf.maxPool(x as TF.Tensor4D, [w.kh, w.kw], [w.sh, w.sw], 'valid') : tf.avgPool(x as TF.Tensor4D, [w.kh, w.kw], [w.sh, w.sw], 'valid')));
        break;
      }
      case 'affine':
        steps.push(epilogue(op.epi));
        break;
      case 'reshape': {
        const wasNhwc = nhwc;
        const out = op.outShape;
        steps.push((x) => tf.reshape(wasNhwc ? tf.transpose(x, [0, 3, 1, 2]) : x, [x.shape[0], ...out]));
        nhwc = out.length === 3;
        if (nhwc) throw new Error(`tfjs model: reshape ${op.name} to a 3-D sample not built`);
        break;
      }
      case 'linear': {
        const W = keep(tf.tensor2d(op.weight, [op.outF, op.inF]));
        const epi = epilogue(op.epi);
        steps.push((x) => epi(tf.matMul(x as TF.Tensor2D, W, false, true)));
        break;
      }
      default:
        throw new Error(`tfjs model: op ${op.kind} (${op.name}) has no tfjs counterpart`);
    }
  }
  const [c, h, w] = inShape;
  return {
    run(x, batch) {
      const y = tf.tidy(() => {
        let t: TF.Tensor = tf.tensor(x, [batch, ...inShape]);
        if (inShape.length === 3) t = c === 1 ? tf.reshape(t, [batch, h, w, 1]) : tf.transpose(t, [0, 2, 3, 1]);
        for (const s of steps) t = s(t);
        return t;
      });
      const out = y.dataSync() as Float32Array;
      y.dispose();
      return out;
    },
    dispose() {
      held.forEach((t) => t.dispose());
    },
  };
}
