// Architecture specs: a registry of module types, describeModel (module tree → JSON) and buildModel (JSON → module tree).
import { ArgumentError, FormatError, LutnnError } from '../errors.js';
import type { Rng } from '../tensor/rng.js';
import {
  AvgPool2d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Flatten,
  GELU,
  GlobalAvgPool2d,
  Identity,
  LayerNorm,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from './layers.js';
import { Module } from './module.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** One node of the tree: the registered type, its constructor arguments and its named children in order. */
export interface ModuleSpec {
  type: string;
  /** Absent on the root. */
  name?: string;
  args: Record<string, JsonValue>;
  children: ModuleSpec[];
}

/** What the trainer stores in a checkpoint's metadata. */
export interface ArchSpec {
  format: 'lutnn-arch';
  version: 1;
  root: ModuleSpec;
}

export interface FromSpecContext {
  /** Already built children, in spec order. Leaf types ignore them (and must get none). */
  children: [string, Module][];
  /** Seeded init for the fresh weights (loaded over later). */
  rng?: Rng;
  /** Reading accessors over `args` that throw FormatError naming the node. */
  read: SpecArgs;
}

export interface ModuleType<M extends Module = Module> {
  /** The exact class (subclasses need their own registration). */
  cls: abstract new (...args: never[]) => M;
  /** Constructor arguments as JSON. */
  toSpec(m: M): Record<string, JsonValue>;
  /** Build the module back from those arguments. */
  fromSpec(args: Record<string, JsonValue>, ctx: FromSpecContext): M;
}

const byName = new Map<string, ModuleType>();
const byClass = new Map<unknown, string>();

/** Make a module type describable and buildable; later modules (LUT layers) register theirs the same way. */
export function registerModuleType<M extends Module>(typeName: string, t: ModuleType<M>): void {
  if (typeof typeName !== 'string' || !/^[A-Za-z][A-Za-z0-9_.]*$/.test(typeName)) {
    throw new ArgumentError(`registerModuleType: bad type name '${String(typeName)}'`);
  }
  if (!t || typeof t.cls !== 'function' || typeof t.toSpec !== 'function' || typeof t.fromSpec !== 'function') {
    throw new ArgumentError(`registerModuleType: '${typeName}' needs { cls, toSpec, fromSpec }`);
  }
  const prevName = byClass.get(t.cls);
  if (byName.has(typeName) && prevName !== typeName) throw new ArgumentError(`registerModuleType: '${typeName}' is already registered`);
  if (prevName !== undefined && prevName !== typeName) {
    throw new ArgumentError(`registerModuleType: class ${t.cls.name} is already registered as '${prevName}'`);
  }
  byName.set(typeName, t as unknown as ModuleType);
  byClass.set(t.cls, typeName);
}

/** Registered type names, sorted. */
export function moduleTypes(): string[] {
  return [...byName.keys()].sort();
}

/** The registered type name of a module instance (throws if its class is not registered). */
export function moduleTypeOf(m: Module): string {
  const name = byClass.get(Object.getPrototypeOf(m)?.constructor);
  if (name === undefined) {
    throw new ArgumentError(`describeModel: module class ${m.constructor.name} is not registered (registerModuleType)`);
  }
  return name;
}

/** The architecture of `model` as JSON-serialisable data. */
export function describeModel(model: Module): ArchSpec {
  if (!(model instanceof Module)) throw new ArgumentError('describeModel: expected a Module');
  const node = (m: Module, name: string | undefined, path: string): ModuleSpec => {
    const type = moduleTypeOf(m);
    const args = byName.get(type)!.toSpec(m);
    const children = m.namedChildren().map(([n, c]) => node(c, n, path ? `${path}.${n}` : n));
    const out: ModuleSpec = name === undefined ? { type, args, children } : { type, name, args, children };
    return out;
  };
  return { format: 'lutnn-arch', version: 1, root: node(model, undefined, '') };
}

/** Rebuild the exact module tree (fresh seeded weights) from a spec; throws FormatError naming the bad node. */
export function buildModel(spec: unknown, opts: { rng?: Rng } = {}): Module {
  if (!isObject(spec)) throw new FormatError('buildModel: spec must be an object { format, version, root }');
  if (spec.format !== 'lutnn-arch') throw new FormatError(`buildModel: format must be 'lutnn-arch', got ${JSON.stringify(spec.format)}`);
  if (spec.version !== 1) throw new FormatError(`buildModel: unsupported version ${JSON.stringify(spec.version)} (this build reads 1)`);
  return buildNode(spec.root, 'root', opts.rng);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function buildNode(node: unknown, path: string, rng: Rng | undefined): Module {
  if (!isObject(node)) throw new FormatError(`buildModel: ${path} must be an object { type, args, children }`);
  const type = node.type;
  if (typeof type !== 'string') throw new FormatError(`buildModel: ${path}.type must be a string`);
  const entry = byName.get(type);
  if (!entry) throw new FormatError(`buildModel: ${path}: unknown module type '${type}' (known: ${moduleTypes().join(', ')})`);
  const args = node.args ?? {};
  if (!isObject(args)) throw new FormatError(`buildModel: ${path}.args must be an object`);
  const kids = node.children ?? [];
  if (!Array.isArray(kids)) throw new FormatError(`buildModel: ${path}.children must be an array`);
  const names = new Set<string>();
  const children: [string, Module][] = kids.map((k: unknown, i: number) => {
    const name = isObject(k) ? k.name : undefined;
    if (typeof name !== 'string' || name === '') throw new FormatError(`buildModel: ${path}.children[${i}] needs a name`);
    if (names.has(name)) throw new FormatError(`buildModel: ${path} has two children named '${name}'`);
    names.add(name);
    return [name, buildNode(k, `${path}.${name}`, rng)];
  });
  let m: Module;
  try {
    m = entry.fromSpec(args as Record<string, JsonValue>, { children, rng, read: new SpecArgs(args as Record<string, JsonValue>, `${path} (${type})`) });
  } catch (e) {
    if (e instanceof FormatError) throw e;
    if (e instanceof LutnnError) throw new FormatError(`buildModel: ${path} (${type}): ${e.message}`);
    throw e;
  }
  const got = m.namedChildren().map(([n]) => n);
  const want = children.map(([n]) => n);
  if (got.length !== want.length || got.some((n, i) => n !== want[i])) {
    throw new FormatError(`buildModel: ${path} (${type}) has children [${got.join(', ')}] but the spec lists [${want.join(', ')}]`);
  }
  return m;
}

/** Typed reads of a node's args; errors are FormatErrors naming the node and key. */
export class SpecArgs {
  constructor(
    readonly args: Record<string, JsonValue>,
    readonly where: string,
  ) {}

  private fail(key: string, what: string): never {
    throw new FormatError(`buildModel: ${this.where}: '${key}' must be ${what}, got ${JSON.stringify(this.args[key])}`);
  }

  has(key: string): boolean {
    return this.args[key] !== undefined;
  }

  num(key: string): number {
    const v = this.args[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, 'a finite number');
    return v;
  }

  int(key: string): number {
    const v = this.num(key);
    if (!Number.isInteger(v)) this.fail(key, 'an integer');
    return v;
  }

  numOrNull(key: string): number | null {
    return this.args[key] === null ? null : this.num(key);
  }

  bool(key: string): boolean {
    const v = this.args[key];
    if (typeof v !== 'boolean') this.fail(key, 'a boolean');
    return v;
  }

  str(key: string): string {
    const v = this.args[key];
    if (typeof v !== 'string') this.fail(key, 'a string');
    return v;
  }

  intList(key: string, len?: number): number[] {
    const v = this.args[key];
    if (!Array.isArray(v) || (len !== undefined && v.length !== len) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
      this.fail(key, len === undefined ? 'a list of integers' : `a list of ${len} integers`);
    }
    return v as number[];
  }

  pair(key: string): [number, number] {
    const [a, b] = this.intList(key, 2);
    return [a, b];
  }
}

// ---- built-in layers ----

const noArgs = (): Record<string, JsonValue> => ({});

registerModuleType('Sequential', {
  cls: Sequential,
  toSpec: noArgs,
  fromSpec: (_a, ctx) => Sequential.named(ctx.children),
});
registerModuleType('Linear', {
  cls: Linear,
  toSpec: (m) => ({ inFeatures: m.inFeatures, outFeatures: m.outFeatures, bias: m.bias !== null }),
  fromSpec: (_a, { read, rng }) => new Linear(read.int('inFeatures'), read.int('outFeatures'), { bias: read.bool('bias'), rng }),
});
registerModuleType('Conv2d', {
  cls: Conv2d,
  toSpec: (m) => ({
    inChannels: m.inChannels,
    outChannels: m.outChannels,
    kernelSize: [...m.kernelSize],
    stride: [...m.stride],
    padding: [...m.padding],
    dilation: [...m.dilation],
    groups: m.groups,
    bias: m.bias !== null,
  }),
  fromSpec: (_a, { read, rng }) =>
    new Conv2d(read.int('inChannels'), read.int('outChannels'), read.pair('kernelSize'), {
      stride: read.pair('stride'),
      padding: read.pair('padding'),
      dilation: read.pair('dilation'),
      groups: read.int('groups'),
      bias: read.bool('bias'),
      rng,
    }),
});
registerModuleType('BatchNorm2d', {
  cls: BatchNorm2d,
  toSpec: (m) => ({ numFeatures: m.numFeatures, eps: m.eps, momentum: m.momentum }),
  fromSpec: (_a, { read }) => new BatchNorm2d(read.int('numFeatures'), { eps: read.num('eps'), momentum: read.numOrNull('momentum') }),
});
registerModuleType('LayerNorm', {
  cls: LayerNorm,
  toSpec: (m) => ({ normalizedShape: [...m.normalizedShape], eps: m.eps }),
  fromSpec: (_a, { read }) => new LayerNorm(read.intList('normalizedShape'), { eps: read.num('eps') }),
});
registerModuleType('ReLU', { cls: ReLU, toSpec: noArgs, fromSpec: () => new ReLU() });
registerModuleType('GELU', { cls: GELU, toSpec: noArgs, fromSpec: () => new GELU() });
registerModuleType('Identity', { cls: Identity, toSpec: noArgs, fromSpec: () => new Identity() });
registerModuleType('GlobalAvgPool2d', { cls: GlobalAvgPool2d, toSpec: noArgs, fromSpec: () => new GlobalAvgPool2d() });
registerModuleType('Flatten', {
  cls: Flatten,
  toSpec: (m) => ({ startDim: m.startDim, endDim: m.endDim }),
  fromSpec: (_a, { read }) => new Flatten(read.int('startDim'), read.int('endDim')),
});
const poolSpec = (m: MaxPool2d | AvgPool2d): Record<string, JsonValue> => ({
  kernel: [...m.kernel],
  stride: [...m.stride],
  padding: [...m.padding],
});
registerModuleType('MaxPool2d', {
  cls: MaxPool2d,
  toSpec: poolSpec,
  fromSpec: (_a, { read }) => new MaxPool2d(read.pair('kernel'), { stride: read.pair('stride'), padding: read.pair('padding') }),
});
registerModuleType('AvgPool2d', {
  cls: AvgPool2d,
  toSpec: poolSpec,
  fromSpec: (_a, { read }) => new AvgPool2d(read.pair('kernel'), { stride: read.pair('stride'), padding: read.pair('padding') }),
});
registerModuleType('Dropout', {
  cls: Dropout,
  toSpec: (m) => ({ p: m.p }),
  fromSpec: (_a, { read, rng }) => new Dropout(read.num('p'), { rng }),
});
