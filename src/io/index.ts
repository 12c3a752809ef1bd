// Re-exports of the file modules: atomic writes and safetensors model files.
export * from './atomic.js';
export * from './safetensors.js';
