// Module base class: a tree of parameters, buffers and child modules with PyTorch-style dotted names and state dicts.
import { ArgumentError, DTypeError } from '../errors.js';
import { subPath, type OpSink, type Value } from '../graph/builder.js';
import { EagerSink, eagerValue } from '../graph/eager.js';
import { loadStateInto, type LoadStateDictOptions, type LoadStateDictResult } from '../tensor/state.js';
import { Tensor } from '../tensor/tensor.js';

export type { LoadStateDictOptions, LoadStateDictResult } from '../tensor/state.js';

export interface StateDictOptions {
  /** Return copies instead of tensors sharing storage with the module (default false, like PyTorch). */
  copy?: boolean;
}

const NAME_RE = /^[A-Za-z0-9_]+$/;

/**
 * Base of every layer and model. Subclasses register parameters, buffers and children in their constructor
 * and implement `forward`. Names are dotted paths (`features.0.weight`) so state dicts line up with PyTorch's.
 * Children should be built before they are registered (bottom-up), as usual; `registerModule` renames the
 * child's parameters to paths relative to this module.
 */
export abstract class Module {
  /** Training mode (dropout active, batch norm uses batch statistics and updates running stats). */
  training = true;
  private readonly _parameters = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _modules = new Map<string, Module>();

  /**
   * Writes this module's computation into `g` (a graph builder, or the eager sink forward uses): input value `x`,
   * this module's dotted name `path` ('' for the root), which prefixes its weights and names its nodes. The one
   * description of a module: its graph nodes and its eager forward both come from it.
   */
  lower(g: OpSink, x: Value, path: string): Value {
    void g;
    void x;
    throw new ArgumentError(`module ${this.constructor.name}${path ? ` '${path}'` : ''} cannot be written as a graph (it implements forward but not lower)`);
  }

  /** Runs the module on the engine: the ops `lower` writes, computed at once (with autodiff). */
  forward(x: Tensor): Tensor {
    const y = this.lower(new EagerSink(this.training), eagerValue('input', x), '');
    return y.tensor!;
  }

  /** Lowers the child `name` at `path.name`. */
  protected lowerChild(g: OpSink, name: string, x: Value, path: string): Value {
    const c = this._modules.get(name);
    if (!c) throw new ArgumentError(`lower: ${this.constructor.name} has no child '${name}'`);
    return c.lower(g, x, subPath(path, name));
  }

  /** Alias of `forward`. */
  call(x: Tensor): Tensor {
    return this.forward(x);
  }

  /** Register a trainable tensor under `name` (sets requiresGrad and `.name`); returns it. */
  registerParameter(name: string, t: Tensor): Tensor {
    this.checkName('registerParameter', name, this._parameters);
    if (!(t instanceof Tensor)) throw new ArgumentError(`registerParameter: '${name}' must be a Tensor`);
    if (t.dtype !== 'float32') throw new DTypeError(`registerParameter: '${name}' must be float32, got ${t.dtype}`);
    if (t.gradFn) throw new ArgumentError(`registerParameter: '${name}' must be a leaf tensor (detach it first)`);
    t.requireGrad(true);
    t.name = name;
    this._parameters.set(name, t);
    return t;
  }

  /** Register a non-trainable tensor saved in the state dict (running statistics, counters); returns it. */
  registerBuffer(name: string, t: Tensor): Tensor {
    this.checkName('registerBuffer', name, this._buffers);
    if (!(t instanceof Tensor)) throw new ArgumentError(`registerBuffer: '${name}' must be a Tensor`);
    t.name = name;
    this._buffers.set(name, t);
    return t;
  }

  /** Register a child module under `name` (its parameters get `name.` prepended); returns it. */
  registerModule<M extends Module>(name: string, m: M): M {
    this.checkName('registerModule', name, this._modules);
    if (!(m instanceof Module)) throw new ArgumentError(`registerModule: '${name}' must be a Module`);
    if ((m as Module) === this) throw new ArgumentError(`registerModule: '${name}' cannot be the module itself`);
    this._modules.set(name, m);
    for (const [n, t] of m.namedParameters()) t.name = `${name}.${n}`;
    for (const [n, t] of m.namedBuffers()) t.name = `${name}.${n}`;
    return m;
  }

  /** Swap the existing child `name` for `m` (same position, so Sequential order is kept); returns the old one. */
  replaceModule(name: string, m: Module): Module {
    const old = this._modules.get(name);
    if (!old) throw new ArgumentError(`replaceModule: no child named '${name}'`);
    if (!(m instanceof Module)) throw new ArgumentError(`replaceModule: '${name}' must be a Module`);
    this._modules.set(name, m);
    for (const [n, t] of m.namedParameters()) t.name = `${name}.${n}`;
    for (const [n, t] of m.namedBuffers()) t.name = `${name}.${n}`;
    return old;
  }

  /** The descendant at a dotted path ('' is this module). */
  getModule(path: string): Module {
    let m: Module = this;
    for (const part of path === '' ? [] : path.split('.')) {
      const next = m._modules.get(part);
      if (!next) throw new ArgumentError(`getModule: no module at '${path}' (missing '${part}')`);
      m = next;
    }
    return m;
  }

  private checkName(op: string, name: string, own: Map<string, unknown>): void {
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw new ArgumentError(`${op}: name must be letters, digits or '_' (no dots), got '${String(name)}'`);
    }
    const maps: Map<string, unknown>[] = [this._parameters, this._buffers, this._modules];
    for (const m of maps) {
      if (m !== own && m.has(name)) throw new ArgumentError(`${op}: '${name}' is already registered as another kind`);
    }
  }

  /** Direct children in registration order. */
  namedChildren(): [string, Module][] {
    return [...this._modules];
  }

  children(): Module[] {
    return [...this._modules.values()];
  }

  /** This module (name '') and every descendant, depth first in registration order. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m._modules) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this, prefix);
    return out;
  }

  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every parameter with its dotted name (a tensor shared by two modules is listed once). */
  namedParameters(): [string, Tensor][] {
    return this.collect((m) => m._parameters, true);
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  namedBuffers(): [string, Tensor][] {
    return this.collect((m) => m._buffers, true);
  }

  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /** Number of scalar parameters. */
  numParameters(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.size;
    return n;
  }

  private collect(pick: (m: Module) => Map<string, Tensor>, dedup: boolean): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const [n, t] of pick(m)) {
        if (dedup && seen.has(t)) continue;
        seen.add(t);
        out.push([prefix ? `${prefix}.${n}` : n, t]);
      }
    }
    return out;
  }

  /** Set training mode here and in every descendant; returns this. */
  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }

  /** Same as `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Drop every parameter's gradient (set to null, like PyTorch's default). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }

  /** Call `fn` on every module (this one included), children first; returns this. */
  apply(fn: (m: Module) => void): this {
    for (const m of this.modules().reverse()) fn(m);
    return this;
  }

  /**
   * Parameters and buffers by dotted name, module by module: own parameters, own buffers, then children
   * (PyTorch's order). Tensors share storage with the module unless `copy` is set.
   */
  stateDict(opts: StateDictOptions = {}): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [prefix, m] of this.namedModules()) {
      const put = (n: string, t: Tensor): void => {
        const key = prefix ? `${prefix}.${n}` : n;
        const v = opts.copy ? t.clone() : t.detach();
        v.name = key;
        out[key] = v;
      };
      for (const [n, t] of m._parameters) put(n, t);
      for (const [n, t] of m._buffers) put(n, t);
    }
    return out;
  }

  /**
   * Copy values from `dict` into this module's parameters and buffers (in place, so optimizers keep
   * their references). Everything is validated before anything is written: shapes must match exactly,
   * float values must be finite, int/float conversions must be exact. With `strict` (default) missing or
   * unexpected keys throw; otherwise they are returned.
   */
  loadStateDict(dict: Record<string, Tensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
    // dst tensors from stateDict() share storage with the module's tensors.
    return loadStateInto(this.stateDict(), dict, opts);
  }
}
