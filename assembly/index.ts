// Entry point of the WebAssembly kernels: re-exports every kernel module.
export * from './smoke';
