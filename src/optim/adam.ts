// Adam (L2 penalty added to the gradient) and AdamW (decoupled weight decay), following PyTorch's update rules.
import { ArgumentError } from '../errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, checkNum, type ParamGroup, type ParamGroupInput, type ParamState } from './optimizer.js';

export interface AdamHyper {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  weightDecay: number;
}

export type AdamOptions = Partial<AdamHyper>;

type Params = Iterable<Tensor> | Iterable<ParamGroupInput<AdamHyper>>;

function hyper(opts: AdamOptions | undefined, defaultWd: number): AdamHyper {
  const o = opts ?? {};
  if (typeof o !== 'object') throw new ArgumentError('Adam: options must be an object');
  const betas = o.betas ?? [0.9, 0.999];
  return { lr: o.lr ?? 1e-3, betas: [betas[0], betas[1]], eps: o.eps ?? 1e-8, weightDecay: o.weightDecay ?? defaultWd };
}

/**
 * Per parameter at step t (from 1), with g the gradient:
 *   g ← g + weightDecay·p                       (Adam only)
 *   p ← p·(1 − lr·weightDecay)                   (AdamW only)
 *   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²
 *   p ← p − lr/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
 */
abstract class AdamBase extends Optimizer<AdamHyper> {
  protected abstract readonly decoupled: boolean;

  protected override validate(h: AdamHyper, where: string): void {
    super.validate(h, where);
    if (!Array.isArray(h.betas) || h.betas.length !== 2) throw new ArgumentError(`${this.type}: ${where} betas must be [beta1, beta2]`);
    checkNum(this.type, where, 'betas[0]', h.betas[0], 0, 1);
    checkNum(this.type, where, 'betas[1]', h.betas[1], 0, 1);
    checkNum(this.type, where, 'eps', h.eps, 0);
  }

  protected update(P: Float32Array, G: Float32Array, group: ParamGroup<AdamHyper>, st: ParamState): void {
    const { lr, eps, weightDecay: wd } = group;
    const [b1, b2] = group.betas;
    const n = P.length;
    let M = st.buffers.expAvg;
    let V = st.buffers.expAvgSq;
    if (!M || !V) {
      M = st.buffers.expAvg = new Float32Array(n);
      V = st.buffers.expAvgSq = new Float32Array(n);
    }
    const t = ++st.step;
    const stepSize = lr / (1 - Math.pow(b1, t));
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, t));
    const c1 = 1 - b1;
    const c2 = 1 - b2;
    if (this.decoupled) {
      const decay = 1 - lr * wd;
      for (let i = 0; i < n; i++) {
        const g = G[i];
        M[i] = b1 * M[i] + c1 * g;
        V[i] = b2 * V[i] + c2 * g * g;
        const m = M[i];
        const v = V[i];
        P[i] = P[i] * decay - (stepSize * m) / (Math.sqrt(v) / bc2Sqrt + eps);
      }
    } else {
      for (let i = 0; i < n; i++) {
        const g = G[i] + wd * P[i];
        M[i] = b1 * M[i] + c1 * g;
        V[i] = b2 * V[i] + c2 * g * g;
        const m = M[i];
        const v = V[i];
        P[i] -= (stepSize * m) / (Math.sqrt(v) / bc2Sqrt + eps);
      }
    }
  }
}

/** Adam with defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0 (L2 added to the gradient). */
export class Adam extends AdamBase {
  protected readonly decoupled = false;
  get type(): string {
    return 'Adam';
  }
  constructor(params: Params, opts?: AdamOptions) {
    super(params, hyper(opts, 0));
  }
}

/** AdamW: Adam with decoupled weight decay (default 0.01). */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;
  get type(): string {
    return 'AdamW';
  }
  constructor(params: Params, opts?: AdamOptions) {
    super(params, hyper(opts, 0.01));
  }
}
