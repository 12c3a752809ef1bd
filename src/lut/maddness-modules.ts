// MADDNESS layers (Blalock & Guttag): tree-encoded rows summed from an int8 table; inference only, no fine-tuning.
import { noGrad } from '../autograd/engine.js';
import { getBackend } from '../backend/index.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { OpSink, Value } from '../graph/builder.js';
import { Conv2d, Linear, weight } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { conv2dGeom, reshape } from '../ops/index.js';
import { scalar, zeros } from '../tensor/create.js';
import { Tensor } from '../tensor/tensor.js';
import { MADDNESS_LEAVES, MADDNESS_NODES, MADDNESS_DEPTH, type MaddnessModel } from './maddness.js';
import { im2colRows } from '../ops/lut.js';

/**
 * Buffers of a MADDNESS layer with D inputs, M outputs and C codebooks of V dims: splitDims [C, 4] (int32),
 * thresholds [C, 15], table [C, 16, M] (int8, scale `tableScale`), bias [M]. Output row = scale·Σ_c table[c, code_c] + bias.
 */
abstract class MaddnessBase extends Module {
  readonly inDim: number;
  readonly outDim: number;
  readonly subvecLen: number;
  readonly ncodebooks: number;
  readonly splitDims: Tensor;
  readonly thresholds: Tensor;
  readonly table: Tensor;
  readonly tableScale: Tensor;
  readonly bias: Tensor | null;

  constructor(op: string, D: number, M: number, V: number, bias: boolean) {
    super();
    if (!Number.isInteger(V) || V < 1 || D % V !== 0) throw new ShapeError(`${op}: input length ${D} is not divisible by subvecLen ${V}`);
    this.inDim = D;
    this.outDim = M;
    this.subvecLen = V;
    this.ncodebooks = D / V;
    const C = this.ncodebooks;
    this.splitDims = this.registerBuffer('split_dims', zeros([C, MADDNESS_DEPTH], 'int32'));
    this.thresholds = this.registerBuffer('thresholds', zeros([C, MADDNESS_NODES]));
    this.table = this.registerBuffer('table', zeros([C, MADDNESS_LEAVES, M], 'int8'));
    this.tableScale = this.registerBuffer('table_scale', scalar(0));
    this.bias = bias ? this.registerBuffer('bias', zeros([M])) : null;
  }

  get k(): number {
    return MADDNESS_LEAVES;
  }

  /** Fill the buffers from a trained encoder and the dense weight [M, D] (row m = output m). */
  protected load(op: string, model: MaddnessModel, dense: Float32Array, bias: Tensor | null): void {
    const C = this.ncodebooks;
    const M = this.outDim;
    const D = this.inDim;
    if (model.ncodebooks !== C || model.subvecLen !== this.subvecLen) {
      throw new ShapeError(`${op}: encoder has C=${model.ncodebooks}, V=${model.subvecLen}; layer needs C=${C}, V=${this.subvecLen}`);
    }
    this.splitDims.data.set(model.splitDims);
    this.thresholds.data.set(model.thresholds);
    // lut [C·16, M] = prototypes [C·16, D] · denseᵀ [D, M], or the projected prototypes themselves
    let lut: Float32Array;
    if (model.projected !== undefined) {
      if (model.projected !== M || model.prototypes.length !== C * MADDNESS_LEAVES * M) {
        throw new ShapeError(`${op}: projected table has ${model.projected} outputs (length ${model.prototypes.length}); layer has M=${M}`);
      }
      lut = model.prototypes;
    } else {
      lut = new Float32Array(C * MADDNESS_LEAVES * M);
      getBackend().gemm(model.prototypes, dense, lut, C * MADDNESS_LEAVES, M, D, false, true, false);
    }
    let maxAbs = 0;
    for (let i = 0; i < lut.length; i++) maxAbs = Math.max(maxAbs, Math.abs(lut[i]));
    const scale = maxAbs > 0 ? maxAbs / 127 : 1;
    const T = this.table.data;
    for (let i = 0; i < lut.length; i++) T[i] = Math.max(-127, Math.min(127, Math.round(lut[i] / scale)));
    this.tableScale.data[0] = scale;
    if (this.bias) this.bias.data.set(bias ? bias.f32 : new Float32Array(M));
  }

  /** The inputs of the layer's graph node: x, split_dims, thresholds, table, table_scale, bias. */
  protected maddnessInputs(g: OpSink, x: Value, path: string): (Value | null)[] {
    const w = (n: string, t: Tensor | null): Value | null => weight(g, path, n, t);
    return [x, w('split_dims', this.splitDims), w('thresholds', this.thresholds), w('table', this.table), w('table_scale', this.tableScale), w('bias', this.bias)];
  }

}

/** A Linear layer replaced by MADDNESS: x [..., in] → [..., out]. */
export class MaddnessLinear extends MaddnessBase {
  constructor(readonly inFeatures: number, readonly outFeatures: number, subvecLen = 16, bias = true) {
    super('MaddnessLinear', inFeatures, outFeatures, subvecLen, bias);
  }

  inputRows(x: Tensor): Tensor {
    if (x.shape[x.ndim - 1] !== this.inFeatures) throw new ShapeError(`MaddnessLinear: input last dim ${x.shape[x.ndim - 1]} vs ${this.inFeatures} for ${fmtShape(x.shape)}`);
    return reshape(x.detach(), [x.size / this.inFeatures, this.inFeatures]);
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    return g.op('MaddnessLinear', this.maddnessInputs(g, x, path), {}, path || undefined)[0];
  }

  static fromDense(linear: Linear, model: MaddnessModel): MaddnessLinear {
    const m = new MaddnessLinear(linear.inFeatures, linear.outFeatures, model.subvecLen, linear.bias !== null);
    m.load('MaddnessLinear.fromDense', model, linear.weight.f32, linear.bias);
    return m;
  }
}

/** A Conv2d (groups 1) replaced by MADDNESS on its im2col rows: [N, Cin, H, W] → [N, Cout, outH, outW]. */
export class MaddnessConv2d extends MaddnessBase {
  constructor(
    readonly cin: number,
    readonly cout: number,
    readonly kernel: [number, number],
    readonly stride: [number, number],
    readonly padding: [number, number],
    readonly dilation: [number, number],
    subvecLen: number,
    bias: boolean,
  ) {
    super('MaddnessConv2d', cin * kernel[0] * kernel[1], cout, subvecLen, bias);
  }

  inputRows(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.cin) throw new ShapeError(`MaddnessConv2d: expected x [N, ${this.cin}, H, W], got ${fmtShape(x.shape)}`);
    const g = conv2dGeom(x.shape, [this.cout, this.cin, ...this.kernel], { stride: this.stride, padding: this.padding, dilation: this.dilation });
    return noGrad(() => im2colRows(x, g)); // [N·outH·outW, D]
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const attrs = { kernel: this.kernel, stride: this.stride, padding: this.padding, dilation: this.dilation };
    return g.op('MaddnessConv', this.maddnessInputs(g, x, path), attrs, path || undefined)[0]; // [N, Cout, outH, outW]
  }


  static fromDense(conv: Conv2d, model: MaddnessModel): MaddnessConv2d {
    if (conv.groups !== 1) throw new ArgumentError(`MaddnessConv2d.fromDense: groups must be 1, got ${conv.groups}`);
    const m = new MaddnessConv2d(conv.inChannels, conv.outChannels, conv.kernelSize, conv.stride, conv.padding, conv.dilation, model.subvecLen, conv.bias !== null);
    m.load('MaddnessConv2d.fromDense', model, conv.weight.f32, conv.bias);
    return m;
  }
}
