// Neural-network modules, layers, architecture specs and the model zoo (re-exports).
export { Module, type LoadStateDictOptions, type LoadStateDictResult, type StateDictOptions } from './module.js';
export {
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
  uniformInit,
  type BatchNorm2dOptions,
  type Conv2dLayerOptions,
  type LinearOptions,
  type Pair,
  type PoolLayerOptions,
} from './layers.js';
export {
  SpecArgs,
  buildModel,
  describeModel,
  moduleTypeOf,
  moduleTypes,
  registerModuleType,
  type ArchSpec,
  type FromSpecContext,
  type JsonValue,
  type ModuleSpec,
  type ModuleType,
} from './spec.js';
export { createModel, listModels, type ZooOptions } from './zoo.js';
