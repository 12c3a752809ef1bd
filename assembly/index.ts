// Entry point of the WebAssembly kernels: the layout constants, the scheduler and the pointer-level kernels.
export * from './layout';
export { MR, NR, KC, PANELS_PER_TASK, packPanels } from './gemm';
export { im2col, col2im } from './conv';
export { depthwiseScratch } from './depthwise';
export * from './elementwise';
export { heapBase, openJob, work, finishJob } from './sched';
export * from './lut-train';
export * from './runtime';
export { LUT_ROWS, LUT_TILE_M, LUT_CBLOCK, LUT_RELAXED } from './lut-infer';
export * from './rt-transformer';
export * from './quant';
