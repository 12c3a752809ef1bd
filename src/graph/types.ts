// The graph IR's data: a model is a DAG of nodes over named values (graph inputs, initializers, node outputs).
import type { Dim } from './dims.js';

/** Element types of IR values (the engine's tensor dtypes; ONNX int64 becomes int32 on import). */
export type IrDType = 'float32' | 'int32' | 'int8' | 'uint8';

export const IR_DTYPES: readonly IrDType[] = ['float32', 'int32', 'int8', 'uint8'];

/** The closed table of op types. Adding an op: its name here and its record in registry.ts (which fails to compile without it). */
export const OP_TYPES = [
  'Conv', 'BatchNorm', 'LayerNorm',
  'Relu', 'LeakyRelu', 'Clip', 'Gelu', 'Silu', 'Sigmoid', 'Tanh', 'HardSwish',
  'Add', 'Sub', 'Mul', 'Div',
  'MatMul', 'Linear',
  'Reshape', 'Flatten', 'Transpose', 'Concat', 'Slice', 'Split', 'Squeeze', 'Unsqueeze',
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'ReduceMean',
  'Softmax', 'Gather', 'Dropout', 'Identity',
  'Cast', 'Expand', 'Where', 'Equal',
  'LutLinear', 'LutConv', 'MaddnessLinear', 'MaddnessConv',
  'QConv', 'QLinear',
] as const;

export type OpType = (typeof OP_TYPES)[number];

/** Shape (dim 0 is normally the symbolic batch N) and dtype of a value. */
export interface ValueInfo {
  readonly shape: readonly Dim[];
  readonly dtype: IrDType;
}

/** A typed attribute value (the record's schema says which). */
export type AttrValue = number | boolean | string | readonly number[] | null;

export type Attrs = { readonly [k: string]: AttrValue };

/** A graph input: a name, a dtype and a shape whose dim 0 is the batch N. */
export interface GraphInput {
  name: string;
  dtype: IrDType;
  shape: Dim[];
}

/** One op application. Inputs name values ('' for an absent optional input); outputs name the values it defines. */
export interface GraphNode {
  name: string;
  op: OpType;
  inputs: string[];
  outputs: string[];
  attrs: Attrs;
}

/**
 * A model: its inputs, its nodes (any order in a file; topological once analysed) and its outputs. The initializers
 * (weights, by PyTorch-style names) are tensors kept beside the graph: a value that is not a graph input or a node
 * output is looked up among them.
 */
export interface Graph {
  inputs: GraphInput[];
  nodes: GraphNode[];
  outputs: string[];
  /**
   * Initializers read in 'data' slots that training updates (a position embedding, an embedding table). Weights in
   * 'param' slots train anyway; any other initializer in a data slot is a constant (an imported scale, an index).
   */
  params?: string[];
}

/** Shape and dtype of an initializer (concrete: weights have no batch dim). */
export interface TensorInfo {
  readonly shape: readonly number[];
  readonly dtype: IrDType;
}
