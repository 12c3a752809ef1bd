// SGD with momentum, dampening, Nesterov and L2 weight decay, following PyTorch's update rules exactly.
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, checkNum, type ParamGroup, type ParamGroupInput, type ParamState } from './optimizer.js';

export interface SGDHyper {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

export type SGDOptions = Partial<SGDHyper> & { lr: number };

/**
 * Per parameter, with g the gradient:
 *   g ← g + weightDecay·p
 *   if momentum ≠ 0: buf ← g on the first step, else momentum·buf + (1 − dampening)·g;
 *                    g ← g + momentum·buf (nesterov) or buf
 *   p ← p − lr·g
 */
export class SGD extends Optimizer<SGDHyper> {
  get type(): string {
    return 'SGD';
  }

  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<SGDHyper>>, opts: SGDOptions) {
    if (!opts || typeof opts !== 'object') throw new ArgumentError('SGD: options { lr, ... } are required');
    super(params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      nesterov: opts.nesterov ?? false,
      weightDecay: opts.weightDecay ?? 0,
    });
  }

  protected override validate(h: SGDHyper, where: string): void {
    super.validate(h, where);
    checkNum('SGD', where, 'momentum', h.momentum, 0);
    checkNum('SGD', where, 'dampening', h.dampening, 0);
    if (typeof h.nesterov !== 'boolean') throw new ArgumentError(`SGD: ${where} nesterov must be a boolean`);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) {
      throw new ArgumentError(`SGD: ${where} nesterov needs momentum > 0 and dampening 0, got momentum ${h.momentum}, dampening ${h.dampening}`);
    }
  }

  protected update(P: Float32Array, G: Float32Array, group: ParamGroup<SGDHyper>, st: ParamState): void {
    const { lr, momentum, dampening, nesterov, weightDecay: wd } = group;
    const n = P.length;
    st.step++;
    if (momentum === 0) {
      for (let i = 0; i < n; i++) P[i] -= lr * (G[i] + wd * P[i]);
      return;
    }
    let buf = st.buffers.momentumBuffer;
    if (!buf) {
      buf = new Float32Array(n);
      st.buffers.momentumBuffer = buf;
      for (let i = 0; i < n; i++) {
        const g = G[i] + wd * P[i];
        buf[i] = g;
        P[i] -= lr * (nesterov ? g + momentum * buf[i] : buf[i]);
      }
      return;
    }
    const keep = 1 - dampening;
    for (let i = 0; i < n; i++) {
      const g = G[i] + wd * P[i];
      buf[i] = momentum * buf[i] + keep * g;
      P[i] -= lr * (nesterov ? g + momentum * buf[i] : buf[i]);
    }
  }
}
