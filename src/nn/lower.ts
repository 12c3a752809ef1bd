// Modules → graph IR: lowering a module tree (any Module with `lower`) into a GraphModel that shares its weights.
import { ArgumentError } from '../errors.js';
import { GraphBuilder } from '../graph/builder.js';
import { BATCH, type Dim } from '../graph/dims.js';
import { GraphModel } from '../graph/model.js';
import type { IrDType } from '../graph/types.js';
import type { Module } from './module.js';

export interface LowerOptions {
  /** Shape of one sample, e.g. [1, 28, 28] or [T] for token ids; the graph input is [N, ...inputShape]. */
  inputShape: readonly number[];
  /** Graph input name (default "input"). */
  inputName?: string;
  /** Input dtype (default float32; int32 for token ids). */
  dtype?: IrDType;
}

/**
 * The graph of `module` for inputs [N, ...inputShape]: every op its `lower` writes, its weights by their dotted
 * names (the same tensors, not copies, so training the GraphModel trains the module). Training mode is carried over.
 */
export function lowerModule(module: Module, opts: LowerOptions): GraphModel {
  const shape = opts.inputShape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(`lowerModule: inputShape must be a list of positive integers (one sample), got ${JSON.stringify(shape)}`);
  }
  const b = new GraphBuilder();
  const x = b.input(opts.inputName ?? 'input', opts.dtype ?? 'float32', [BATCH, ...shape] as Dim[]);
  const y = module.lower(b, x, '');
  if (y === x) throw new ArgumentError('lowerModule: the module writes no op (its output is its input)');
  b.output(y);
  const { graph, weights } = b.build();
  const m = GraphModel.create(graph, weights);
  m.train(module.training);
  return m;
}
