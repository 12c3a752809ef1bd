// Helpers of the records' ONNX import rules (the `onnxImport` facet): one-to-one mappings, constant inputs, axes
// given as attributes or inputs depending on the opset, 2-D windows and their paddings.
import { ATTR_INT_LIMIT } from './attrs.js';
import type { OnnxImportCtx, OnnxImportRule } from './op.js';
import type { Attrs, OpType } from './types.js';

/** The IR values of the node's inputs in order ('' for absent ones, trailing absent ones left off). */
export function allInputs(c: OnnxImportCtx, count = c.inputCount, opts: { broadcast?: boolean } = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(c.has(i) ? c.value(i, opts) : '');
  while (out.length > 0 && out[out.length - 1] === '') out.pop();
  return out;
}

/** A rule mapping ONNX `types` to IR `op` with the same inputs (up to `maxInputs`) and attributes from `attrs`. */
export function direct(op: OpType, types: readonly string[], attrs: (c: OnnxImportCtx) => Attrs = () => ({}), maxInputs = 1, more: Partial<OnnxImportRule> = {}): OnnxImportRule {
  return {
    types,
    map: (c) => {
      if (!c.has(0)) c.unsupported('input 0 is missing');
      return c.emit(op, allInputs(c, Math.min(c.inputCount, maxInputs)), attrs(c));
    },
    ...more,
  };
}

/** An int64 value clamped to the int32 range IR attributes hold (ONNX uses ±2^63−1 for "to the end"). */
export const clampInt = (v: number): number => Math.max(-ATTR_INT_LIMIT, Math.min(ATTR_INT_LIMIT, v));

/** The integers of constant input i (what: its meaning, for the message); unsupported when computed or batch-dependent. */
export function constInts(c: OnnxImportCtx, i: number, what: string): number[] {
  const v = c.ints(i);
  if (!v) c.unsupported(`${what} (input ${i}) must be a constant integer tensor, the file computes it`);
  if (v.some((d) => typeof d !== 'number')) c.unsupported(`${what} (input ${i}) depends on the batch size`);
  return (v as number[]).map(clampInt);
}

/** A one-element constant float input's value, or null when absent; unsupported when computed. */
export function constScalar(c: OnnxImportCtx, i: number, what: string): number | null {
  if (!c.has(i)) return null;
  const f = c.floats(i);
  if (!f || f.data.length !== 1) c.unsupported(`${what} (input ${i}) must be a constant scalar`);
  return f.data[0];
}

/** Axes given as an attribute before opset `since` and as input `input` from it on (null when neither is given). */
export function axesOf(c: OnnxImportCtx, input: number, since: number): number[] | null {
  if (c.opset >= since) return c.has(input) ? constInts(c, input, 'axes') : null;
  return c.attr.has('axes') ? c.attr.ints('axes') : null;
}

/**
 * Paddings [ph, pw] of a 2-D window op from `pads` [top, left, bottom, right] or `auto_pad` (SAME_UPPER / SAME_LOWER
 * computed for the input size); unsupported unless they are symmetric, as lutnn's windows are.
 */
export function windowPads(c: OnnxImportCtx, kernel: readonly number[], stride: readonly number[], dilation: readonly number[], size: readonly number[]): number[] {
  const auto = c.attr.string('auto_pad', 'NOTSET');
  let pads: number[];
  if (auto === 'NOTSET') pads = c.attr.ints('pads', [0, 0, 0, 0]);
  else if (auto === 'VALID') pads = [0, 0, 0, 0];
  else if (auto === 'SAME_UPPER' || auto === 'SAME_LOWER') {
    pads = [0, 0, 0, 0];
    for (let d = 0; d < 2; d++) {
      const out = Math.ceil(size[d] / stride[d]);
      const total = Math.max(0, (out - 1) * stride[d] + (kernel[d] - 1) * dilation[d] + 1 - size[d]);
      const small = Math.floor(total / 2);
      pads[d] = auto === 'SAME_UPPER' ? small : total - small;
      pads[d + 2] = total - pads[d];
    }
  } else return c.unsupported(`auto_pad '${auto}'`);
  if (pads.length !== 4) c.unsupported(`pads [${pads.join(',')}] (2-D windows take 4 values)`);
  if (pads[0] !== pads[2] || pads[1] !== pads[3]) c.unsupported(`asymmetric pads [${pads.join(',')}] (lutnn pads both sides equally)`);
  return [pads[0], pads[1]];
}

/** kernel_shape / strides / dilations of a 2-D window (the kernel from `kernel` when the attribute is absent). */
export function window2d(c: OnnxImportCtx, kernel?: readonly number[]): { kernel: number[]; stride: number[]; dilation: number[] } {
  const k = c.attr.ints('kernel_shape', kernel);
  if (k.length !== 2) c.unsupported(`a ${k.length}-D window (lutnn's windows are 2-D)`);
  const stride = c.attr.ints('strides', [1, 1]);
  const dilation = c.attr.ints('dilations', [1, 1]);
  if (stride.length !== 2 || dilation.length !== 2) c.unsupported(`strides [${stride.join(',')}] / dilations [${dilation.join(',')}] of a 2-D window`);
  return { kernel: k, stride, dilation };
}
