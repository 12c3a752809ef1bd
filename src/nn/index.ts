// Neural-network modules (a way to write models; they lower to the graph IR), layers and the model zoo (re-exports).
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
export { createModel, createModule, isZooModel, listModels, type ZooOptions } from './zoo.js';
export { lowerModule, type LowerOptions } from './lower.js';
