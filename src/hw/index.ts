// Hardware cost models (pure arithmetic on shapes and constants): re-exports of the public API.
export * from './tech.js';
export * from './lut-dla-layers.js';
export * from './lut-dla.js';
export * from './lut-dla-examples.js';
export * from './lut-dla-sim.js';
export * from './systolic.js';
export * from './export.js';
// readTechFile (node:fs) is in ./tech-file.js, left out so this index stays free of Node-only imports.
export * from './multiplier.js';
export * from './multiplier-summary.js';
export * from './multiplier-error.js';
export * from './multiplier-linear.js';
export * from './mac-cost.js';
export * from './mac-layers.js';
