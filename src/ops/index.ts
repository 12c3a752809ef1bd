// Every op, re-exported: elementwise, matmul, reductions, softmax, losses, shapes, conv, pooling, norms, dropout, indexing.
export { add, sub, mul, div, mulScalar, addScalar } from './arith.js';
export { matmul } from './matmul.js';
export { relu, gelu, silu, hardswish, clip, sigmoid, tanh, exp, log, neg, sqrt, square, erf, erfc } from './unary.js';
export { sum, mean, max, argmax } from './reduce.js';
export { softmax, logSoftmax } from './softmax.js';
export { crossEntropy, mseLoss, type CrossEntropyOptions, type Reduction } from './loss.js';
export { reshape, flatten, transpose, permute, slice, concat, unsqueeze, squeeze } from './shape.js';
export { conv2d, conv2dGeom, type Conv2dOptions } from './conv.js';
export { maxPool2d, avgPool2d, globalAvgPool2d, type Pool2dOptions } from './pool.js';
export { batchNorm, layerNorm, type BatchNormOptions } from './norm.js';
export { dropout } from './dropout.js';
export { embedding, gather, take } from './embedding.js';
export { broadcastShapes, unbroadcast } from './broadcast.js';
export { cast, expand } from './cast.js';
export { linear } from './linear.js';
export { lutForward, lutConv2d, im2colRows, buildLut, quantizeLut, encodeRows, temperatureOf, thetaForTemperature } from './lut.js';
export { maddnessRows } from './maddness.js';
export { qconv2d, qlinear, quantizeWeights, quantizeActivations, roundHalfEven, actRange, weightMax, exactWeightParts, type QuantBits } from './quant.js';
