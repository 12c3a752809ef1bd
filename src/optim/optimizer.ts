// Optimizer base: parameter groups with their own hyperparameters, per-parameter state, and exact-resume state dicts.
import { ArgumentError, DTypeError, FormatError, ShapeError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor/tensor.js';

/** A hyperparameter value: what a group may hold besides its params. */
export type HyperValue = number | boolean | readonly number[];

/** Hyperparameters every optimizer has. */
export interface BaseHyper {
  lr: number;
  weightDecay: number;
}

/** One group as the user passes it: params plus overrides of the optimizer's defaults. */
export type ParamGroupInput<H extends BaseHyper> = { params: Iterable<Tensor> } & Partial<H>;

/** One group as the optimizer holds it. `initialLr` is the lr schedules scale (PyTorch's `initial_lr`). */
export type ParamGroup<H extends BaseHyper> = H & { params: Tensor[]; initialLr: number };

/** Per-parameter state: update count and named moment buffers (same length as the parameter). */
export interface ParamState {
  step: number;
  buffers: Record<string, Float32Array>;
}

/** A snapshot of an optimizer: JSON-able groups and steps, buffers as tensors (copies). */
export interface OptimizerStateDict {
  type: string;
  /** Each group's hyperparameters plus `initialLr` and `params` (global parameter indices). */
  paramGroups: Record<string, HyperValue>[];
  /** By global parameter index (order of groups, then params in each group); null where never updated. */
  state: ({ step: number; buffers: Record<string, Tensor> } | null)[];
}

export abstract class Optimizer<H extends BaseHyper> {
  /** 'SGD', 'Adam', 'AdamW': checked when a state dict is loaded. */
  abstract readonly type: string;
  readonly paramGroups: ParamGroup<H>[];
  protected readonly defaults: H;
  /** By global parameter index. */
  protected readonly state: (ParamState | null)[];

  /**
   * `params`: a flat iterable of tensors (one group with the defaults), or groups
   * `[{ params, lr?, weightDecay?, ... }]` each overriding any default.
   */
  constructor(params: Iterable<Tensor> | Iterable<ParamGroupInput<H>>, defaults: H) {
    const name = new.target.name;
    this.defaults = { ...defaults };
    if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
      throw new ArgumentError(`${name}: params must be a list of tensors or of groups { params, ... }`);
    }
    const items = [...(params as Iterable<unknown>)]; // materialised once: a generator can be passed
    const list = items.length === 0 || items[0] instanceof Tensor
      ? [{ params: items as Tensor[] } as unknown as ParamGroupInput<H>]
      : (items as ParamGroupInput<H>[]);
    if (list.length === 0) throw new ArgumentError(`${name}: no parameter groups given`);
    const seen = new Set<Tensor>();
    this.paramGroups = list.map((g, gi) => {
      if (g === null || typeof g !== 'object' || !g.params) {
        throw new ArgumentError(`${name}: group ${gi} must be an object with 'params'`);
      }
      const ps = [...g.params];
      ps.forEach((p, pi) => {
        if (!(p instanceof Tensor)) throw new ArgumentError(`${name}: group ${gi} param ${pi} is not a Tensor`);
        if (p.dtype !== 'float32') throw new DTypeError(`${name}: param ${p.name ?? pi} must be float32, got ${p.dtype}`);
        if (seen.has(p)) throw new ArgumentError(`${name}: param ${p.name ?? pi} appears in more than one group`);
        seen.add(p);
      });
      const { params: _omit, ...over } = g;
      for (const k of Object.keys(over)) {
        if (!(k in defaults)) throw new ArgumentError(`${name}: group ${gi} has unknown option '${k}'`);
      }
      const hyper = { ...this.defaults, ...over } as H;
      this.validate(hyper, `group ${gi}`);
      return { ...hyper, params: ps, initialLr: hyper.lr } as ParamGroup<H>;
    });
    if (seen.size === 0) throw new ArgumentError(`${name}: got an empty parameter list`);
    this.state = new Array<ParamState | null>(seen.size).fill(null);
  }

  /** Check one group's hyperparameters (throw ArgumentError naming `where`). */
  protected validate(h: H, where: string): void {
    checkNum(this.type, where, 'lr', h.lr, 0);
    checkNum(this.type, where, 'weightDecay', h.weightDecay, 0);
  }

  /** Update one parameter in place from its gradient. */
  protected abstract update(param: Float32Array, grad: Float32Array, group: ParamGroup<H>, state: ParamState): void;

  /** Every parameter in global index order with its group. */
  protected *indexed(): Generator<[number, Tensor, ParamGroup<H>]> {
    let i = 0;
    for (const g of this.paramGroups) for (const p of g.params) yield [i++, p, g];
  }

  /** One update of every parameter that has a gradient (params with null grad are skipped). */
  step(): void {
    for (const [i, p, g] of this.indexed()) {
      if (!p.grad) continue;
      const grad = p.grad.f32;
      if (grad.length !== p.size) {
        throw new ShapeError(`${this.type}.step: grad of ${p.name ?? `param ${i}`} has ${fmtShape(p.grad.shape)}, param has ${fmtShape(p.shape)}`);
      }
      let st = this.state[i];
      if (!st) {
        st = { step: 0, buffers: {} };
        this.state[i] = st;
      }
      this.update(p.f32, grad, g, st);
    }
  }

  /** Drop every parameter's gradient (set to null). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** Number of parameters across groups. */
  get numParams(): number {
    return this.state.length;
  }

  stateDict(): OptimizerStateDict {
    let base = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const { params, ...hyper } = g;
      const out: Record<string, HyperValue> = {};
      for (const [k, v] of Object.entries(hyper)) out[k] = Array.isArray(v) ? [...(v as number[])] : (v as HyperValue);
      out.params = params.map((_, j) => base + j);
      base += params.length;
      return out;
    });
    const state = this.state.map((s) => {
      if (!s) return null;
      const buffers: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(s.buffers)) buffers[k] = new Tensor(v.slice(), [v.length]);
      return { step: s.step, buffers };
    });
    return { type: this.type, paramGroups, state };
  }

  /** Restore groups' hyperparameters, step counts and buffers (validated first; copies are taken). */
  loadStateDict(sd: OptimizerStateDict): void {
    const where = `${this.type}.loadStateDict`;
    if (!sd || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || !Array.isArray(sd.state)) {
      throw new FormatError(`${where}: expected { type, paramGroups, state }`);
    }
    if (sd.type !== this.type) throw new FormatError(`${where}: state dict is for ${String(sd.type)}, not ${this.type}`);
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new FormatError(`${where}: ${sd.paramGroups.length} groups in the state dict vs ${this.paramGroups.length} here`);
    }
    if (sd.state.length !== this.state.length) {
      throw new FormatError(`${where}: ${sd.state.length} parameters in the state dict vs ${this.state.length} here`);
    }
    const newHyper: ParamGroup<H>[] = [];
    let base = 0;
    this.paramGroups.forEach((g, gi) => {
      const src = sd.paramGroups[gi];
      const idx = src.params;
      if (!Array.isArray(idx) || idx.length !== g.params.length || idx.some((v, j) => v !== base + j)) {
        throw new FormatError(`${where}: group ${gi} should hold params ${base}..${base + g.params.length - 1}`);
      }
      base += g.params.length;
      const h = { ...g } as unknown as Record<string, unknown>;
      for (const k of [...Object.keys(this.defaults), 'initialLr']) {
        if (!(k in src)) throw new FormatError(`${where}: group ${gi} lacks '${k}'`);
        const v = src[k];
        const want = k === 'initialLr' ? 0 : (this.defaults as Record<string, unknown>)[k];
        const okType = Array.isArray(want)
          ? Array.isArray(v) && v.length === want.length && v.every((x) => typeof x === 'number')
          : typeof v === typeof want;
        if (!okType) throw new FormatError(`${where}: group ${gi} '${k}' has the wrong type`);
        h[k] = Array.isArray(v) ? [...v] : v;
      }
      this.validate(h as unknown as H, `group ${gi}`);
      checkNum(this.type, `group ${gi}`, 'initialLr', h.initialLr as number, 0);
      newHyper.push(h as unknown as ParamGroup<H>);
    });
    const newState: (ParamState | null)[] = [];
    let i = 0;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        const s = sd.state[i];
        if (s === null || s === undefined) {
          newState.push(null);
        } else {
          if (!Number.isInteger(s.step) || s.step < 0) throw new FormatError(`${where}: param ${i} step must be a non-negative integer, got ${s.step}`);
          const buffers: Record<string, Float32Array> = {};
          for (const [k, t] of Object.entries(s.buffers ?? {})) {
            if (!(t instanceof Tensor) || t.dtype !== 'float32') throw new FormatError(`${where}: param ${i} buffer '${k}' must be a float32 tensor`);
            if (t.size !== p.size) {
              throw new ShapeError(`${where}: param ${i} (${p.name ?? fmtShape(p.shape)}) buffer '${k}' has ${t.size} values, param has ${p.size}`);
            }
            buffers[k] = t.f32.slice();
          }
          newState.push({ step: s.step, buffers });
        }
        i++;
      }
    }
    newHyper.forEach((h, gi) => Object.assign(this.paramGroups[gi], h));
    newState.forEach((s, j) => (this.state[j] = s));
  }
}

/** Throw unless `v` is a finite number >= min (and < maxExcl when given). */
export function checkNum(op: string, where: string, key: string, v: unknown, min: number, maxExcl?: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (maxExcl !== undefined && v >= maxExcl)) {
    const range = maxExcl === undefined ? `>= ${min}` : `in [${min}, ${maxExcl})`;
    throw new ArgumentError(`${op}: ${where} ${key} must be a finite number ${range}, got ${String(v)}`);
  }
}

/**
 * Flatten a state dict for a tensor file: `meta` is JSON (groups, steps), `tensors` holds the buffers under
 * `state.<index>.<buffer>` keys. `optimizerStateFromTensors` is the inverse.
 */
export function optimizerStateToTensors(sd: OptimizerStateDict): {
  meta: { type: string; paramGroups: Record<string, HyperValue>[]; steps: (number | null)[] };
  tensors: Record<string, Tensor>;
} {
  const tensors: Record<string, Tensor> = {};
  const steps = sd.state.map((s, i) => {
    if (!s) return null;
    for (const [k, t] of Object.entries(s.buffers)) tensors[`state.${i}.${k}`] = t;
    return s.step;
  });
  return { meta: { type: sd.type, paramGroups: sd.paramGroups, steps }, tensors };
}

export function optimizerStateFromTensors(
  meta: { type: string; paramGroups: Record<string, HyperValue>[]; steps: (number | null)[] },
  tensors: Record<string, Tensor>,
): OptimizerStateDict {
  if (!meta || !Array.isArray(meta.steps) || !Array.isArray(meta.paramGroups)) {
    throw new FormatError('optimizerStateFromTensors: meta must hold type, paramGroups and steps');
  }
  const state: OptimizerStateDict['state'] = meta.steps.map((s) => (s === null ? null : { step: s, buffers: {} }));
  for (const [key, t] of Object.entries(tensors)) {
    const m = /^state\.(\d+)\.([A-Za-z0-9_]+)$/.exec(key);
    if (!m) throw new FormatError(`optimizerStateFromTensors: unexpected tensor key '${key}'`);
    const s = state[Number(m[1])];
    if (!s) throw new FormatError(`optimizerStateFromTensors: '${key}' belongs to a parameter with no step count`);
    s.buffers[m[2]] = t;
  }
  return { type: meta.type, paramGroups: meta.paramGroups, state };
}
