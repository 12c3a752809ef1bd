// Re-exports of the file modules: atomic writes, safetensors model files and ONNX export.
export * from './atomic.js';
export * from './safetensors.js';
export { exportOnnx, DEFAULT_OPSET as ONNX_DEFAULT_OPSET, type OnnxExportOptions, type OnnxExportResult, type OnnxLutLayerInfo } from './onnx-export.js';
export { decodeModel as decodeOnnxModel } from './onnx-proto.js';
