// Re-exports of the file modules: atomic writes, safetensors model files, deployment files and ONNX export.
export * from './atomic.js';
export * from './safetensors.js';
export { exportOnnx, DEFAULT_OPSET as ONNX_DEFAULT_OPSET, type OnnxExportOptions, type OnnxExportResult, type OnnxLutLayerInfo } from './onnx-export.js';
export { decodeModel as decodeOnnxModel } from './onnx-proto.js';
export { importOnnx, importableOps, OnnxUnsupportedError, type OnnxImportOptions, type OnnxImportResult, type UnsupportedOp } from './onnx-import.js';
export { importOnnxFile } from './onnx-import-file.js';
export { saveDeploy } from './deploy.js';
export { deployParts, serializeDeploy, readDeployContents, parseRuntimeContents, isDeployMetadata, DEPLOY_FORMAT, DEPLOY_FILE_VERSION, type DeployMeta, type DeployLut, type DeployContents, type DeployReport, type RuntimeContents } from './deploy-format.js';
