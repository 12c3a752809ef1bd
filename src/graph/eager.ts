// The eager sink: runs each op's engine forward as a module writes it, so Module.forward and the graph share one description.
import { ArgumentError, LutnnError } from '../errors.js';
import * as ops from '../ops/index.js';
import { globalRng, type Rng } from '../tensor/rng.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkAttrs } from './attrs.js';
import type { OpSink, Value } from './builder.js';
import { opDef } from './registry.js';
import type { Attrs, OpType } from './types.js';

/** A value holding its tensor. */
export function eagerValue(name: string, t: Tensor): Value {
  return { name, info: { shape: [...t.shape], dtype: t.dtype }, tensor: t };
}

export class EagerSink implements OpSink {
  readonly eager = true;

  constructor(
    readonly training: boolean,
    private readonly rng: Rng = globalRng,
  ) {}

  weight(name: string, t: Tensor): Value {
    return eagerValue(name, t);
  }

  op(op: OpType, inputs: readonly (Value | null)[], attrs: Attrs = {}, name?: string): Value[] {
    const def = opDef(op);
    if (!def) throw new ArgumentError(`unknown op '${op}'`);
    const node = name ?? op;
    const checked = checkAttrs<Attrs>(`${node} (${op})`, def.attrs, attrs);
    const padded = def.variadic ? [...inputs] : def.inputs.map((_, k) => inputs[k] ?? null);
    const x = padded.map((v) => {
      if (v === null) return null;
      if (!v.tensor) throw new ArgumentError(`${node} (${op}): input '${v.name}' has no tensor (a recorded value given to an eager sink)`);
      return v.tensor;
    });
    // The shape rule runs too, so a module fails with the same message eagerly as in a graph.
    try {
      def.infer({ node, inputs: x.map((t) => (t ? { shape: t.shape, dtype: t.dtype } : null)), attrs: checked });
    } catch (e) {
      if (e instanceof LutnnError) throw new (e.constructor as typeof LutnnError)(`${node} (${op}): ${e.message.replace(`${node}: `, '')}`);
      throw e;
    }
    const ys = def.forward({ node, x, attrs: checked, training: this.training, ops, rng: this.rng });
    return ys.map((t, i) => eagerValue(ys.length === 1 ? node : `${node}:${i}`, t));
  }
}
