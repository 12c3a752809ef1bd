// Optimizers and learning-rate schedules (re-exports).
export {
  Optimizer,
  optimizerStateToTensors,
  optimizerStateFromTensors,
  type BaseHyper,
  type HyperValue,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type OptimizerStateDict,
} from './optimizer.js';
export { SGD, type SGDHyper, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamHyper, type AdamOptions } from './adam.js';
export {
  applySchedule,
  constant,
  cosine,
  createSchedule,
  linearWarmup,
  step,
  step as stepDecay,
  type LrSchedule,
  type ScheduleConfig,
} from './schedule.js';
