// Re-exports of the data modules: datasets, IDX files, the embedded Fashion-MNIST and the DataLoader.
export * from './dataset.js';
export * from './idx.js';
export * from './fashion-mnist.js';
export * from './loader.js';
