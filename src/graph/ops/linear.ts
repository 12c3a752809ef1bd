// Records of MatMul (batched, broadcasting; activation × activation in attention) and Linear (x·Wᵀ + b over the last dim).
import { shapeSize } from '../../tensor/tensor.js';
import { ShapeError } from '../../errors.js';
import { dimEq, fmtDims, type Dim } from '../dims.js';
import { defineOp } from '../op.js';
import type { OperandSource } from '../../runtime/plan-transformer.js';
import { dynamicInt8MatMul } from '../onnx-int8.js';
import { TWO_OPERANDS, WEIGHTED_INPUTS, broadcastDims, fixed, oneBatchDim, req } from '../rules.js';
import type { OnnxImportCtx } from '../op.js';

/** An ONNX MatMul whose second operand is a constant 2-D weight [K, M] (optionally with the fused bias): a Linear. */
const isLinearMatMul = (c: OnnxImportCtx): boolean => (c.inputCount === 2 || c.inputCount === 3) && c.floats(1)?.shape.length === 2;

/** [rows, cols] → [cols, rows], scaled by `alpha`. */
function transposed(w: { shape: number[]; data: Float32Array }, alpha = 1): Float32Array {
  const [r, k] = w.shape;
  const out = new Float32Array(r * k);
  for (let i = 0; i < r; i++) for (let j = 0; j < k; j++) out[j * r + i] = w.data[i * k + j] * alpha;
  return out;
}

/** A constant bias of M values (shape [M], [1, M] or a scalar to broadcast) times beta, as the Linear's bias [M]; '' if absent. */
function linearBias(c: OnnxImportCtx, i: number, M: number, beta: number, base: string): string {
  if (!c.has(i)) return '';
  const b = c.floats(i);
  if (!b) return c.unsupported(`bias (input ${i}) must be a constant`);
  if (b.data.length === M && b.shape.length === 1 && beta === 1) return c.value(i);
  if (b.data.length !== M && b.data.length !== 1) return c.unsupported(`bias of shape [${b.shape.join(',')}] for ${M} outputs`);
  const out = new Float32Array(M);
  for (let m = 0; m < M; m++) out[m] = b.data[b.data.length === 1 ? 0 : m] * beta;
  return c.weight(base, [M], out);
}


export const MatMul = defineOp<Record<string, never>>({
  doc: 'a [..., m, k] × b [..., k, n] → [..., m, n], batch dims broadcast',
  inputs: TWO_OPERANDS,
  outputs: 1,
  attrs: {},
  infer(c) {
    const a = req(c, 0).shape;
    const b = req(c, 1).shape;
    if (a.length < 2 || b.length < 2) throw new ShapeError(`${c.node}: operands need at least 2 dims, got ${fmtDims(a)} × ${fmtDims(b)}`);
    const k = a[a.length - 1];
    if (!dimEq(k, b[b.length - 2])) throw new ShapeError(`${c.node}: inner dims ${k} vs ${b[b.length - 2]} for ${fmtDims(a)} × ${fmtDims(b)}`);
    const batch = broadcastDims(c.node, a.slice(0, -2), b.slice(0, -2));
    return [{ shape: oneBatchDim(c.node, [...batch, a[a.length - 2], b[b.length - 1]], `${fmtDims(a)} × ${fmtDims(b)}`), dtype: 'float32' }];
  },
  forward: ({ x, ops }) => [ops.matmul(x[0]!, x[1]!)],
  cost(c) {
    const a = c.inShape(0)!;
    const out = c.outShape(0);
    // Every output element is one k-long dot product.
    return { kind: 'dense', macs: shapeSize(out) * a[a.length - 1], bitsPerActivation: 32 };
  },
  onnx(c) {
    const q = c.e.options.dynamicInt8;
    if (q && c.initializer(1) && c.info(1).shape.length === 2) {
      // An activation times a constant [K, M]: quantize_dynamic's MatMulInteger form.
      const [K, M] = c.info(1).shape as number[];
      return [dynamicInt8MatMul(c.e, c.input(0), c.weight(1).f32, K, M, '', c.scope, q)];
    }
    return [c.e.one('MatMul', [c.input(0), c.input(1)], c.scope)];
  },
  onnxImport: [
    {
      // A MatMul of two computed values (attention) or by a constant of another rank; a 2-D constant makes a Linear.
      types: ['MatMul'],
      accepts: (c) => !isLinearMatMul(c),
      map(c) {
        if (c.inputCount !== 2 || !c.has(0) || !c.has(1)) c.unsupported('needs two inputs');
        return c.emit('MatMul', [c.value(0), c.value(1)]);
      },
    },
  ],
  // Runtime: by a constant matrix [k, n], read contiguously, a Linear without bias; else batched products of
  // activations (and constants) read through strides, so lazy transposes cost no copy.
  lower: {
    reads: 'any',
    run(c) {
      const { shape, out, name } = c;
      const target = c.ni.node.inputs.map((v) => (c.computed(v) ? c.real(v) : v));
      const wb = c.weights.get(target[1]);
      if (c.computed(target[0]) && !c.lazy.has(target[0]) && wb && wb.shape.length === 2) {
        const [k, n] = wb.shape;
        const wt = new Float32Array(k * n); // [n, k]
        for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) wt[j * k + i] = wb.f32[i * n + j];
        const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
        c.emit({ ...c.base, kind: 'linear', rows, inF: k, outF: n, weight: wt, epi: { scale: null, shift: null, relu: false } });
        return;
      }
      const inputs: string[] = [];
      const src = (v: string): OperandSource => {
        const w = c.weights.get(v);
        if (w) return { shape: [...w.shape], strides: c.k.contiguousStrides(w.shape), input: -1, sampleFloats: 0, weight: Float32Array.from(w.f32) };
        const view = c.viewOf(v);
        if (!inputs.includes(view.src)) inputs.push(view.src);
        const stored = c.shapes.get(view.src)!.reduce((p, d) => p * d, 1);
        return { shape: view.shape, strides: view.strides, input: inputs.indexOf(view.src), sampleFloats: stored, weight: null };
      };
      const [sa, sb] = [src(target[0]), src(target[1])];
      const mm = c.k.matmulPlan(name, sa, sb, out, c.k.contiguousStrides(out));
      c.emit({ ...c.base, inShape: c.shapes.get(inputs[0])!, inputs, kind: 'matmul', mm, srcs: [sa, sb] });
    },
  },
});

export const Linear = defineOp<Record<string, never>>({
  doc: 'y [..., out] = x [..., in] · weightᵀ + bias, weight [out, in] as in PyTorch (ONNX Gemm with transB)',
  inputs: WEIGHTED_INPUTS,
  outputs: 1,
  attrs: {},
  infer(c) {
    const x = req(c, 0).shape;
    const w = req(c, 1).shape;
    if (w.length !== 2) throw new ShapeError(`${c.node}: weight must be [out, in], got ${fmtDims(w)}`);
    const [M, D] = [fixed(c.node, 'out features', w[0]), fixed(c.node, 'in features', w[1])];
    if (x.length < 1 || !dimEq(x[x.length - 1], D)) throw new ShapeError(`${c.node}: input last dim ${x[x.length - 1] ?? 'none'} vs in features ${D} for ${fmtDims(x)}`);
    const b = c.inputs[2];
    if (b && (b.shape.length !== 1 || b.shape[0] !== M)) throw new ShapeError(`${c.node}: bias must be [${M}], got ${fmtDims(b.shape)}`);
    const shape: Dim[] = [...x.slice(0, -1), M];
    return [{ shape, dtype: 'float32' }];
  },
  forward: ({ x, ops }) => [ops.linear(x[0]!, x[1]!, x[2] ?? null)], // no bias: x[2] null or left off (undefined)
  cost(c) {
    const [M, D] = c.inShape(1)!;
    return { kind: 'dense', macs: (shapeSize(c.outShape(0)) / M) * D * M, bitsPerActivation: 32 };
  },
  onnx(c) {
    const x = c.info(0).shape;
    const [M, D] = c.info(1).shape as number[];
    const q = c.e.options.dynamicInt8;
    if (q && c.initializer(1)) return [dynamicInt8MatMul(c.e, c.input(0), transposed({ shape: [M, D], data: c.weight(1).f32 }), D, M, c.has(2) ? c.input(2) : '', c.scope, q)];
    if (x.length === 2) {
      const ins = [c.input(0), c.input(1)];
      if (c.has(2)) ins.push(c.input(2));
      return [c.e.one('Gemm', ins, c.scope, { transB: 1 })];
    }
    const W = c.weight(1).f32;
    const Wt = new Float32Array(W.length); // [in, out]
    for (let o = 0; o < M; o++) for (let i = 0; i < D; i++) Wt[i * M + o] = W[o * D + i];
    let y = c.e.one('MatMul', [c.input(0), c.e.f32(`${c.scope}.weight_t`, Wt, [D, M])], c.scope);
    if (c.has(2)) y = c.e.one('Add', [y, c.input(2)], c.scope);
    return [y];
  },
  onnxImport: [
    {
      // x · W [K, M] (+ b [M], the import's fusion of MatMul + Add): Linear with weight Wᵀ [M, K].
      types: ['MatMul'],
      accepts: isLinearMatMul,
      map(c) {
        const w = c.floats(1)!;
        const M = w.shape[1];
        return c.emit('Linear', [c.value(0), c.weight('weight', [M, w.shape[0]], transposed(w)), linearBias(c, 2, M, 1, 'bias')].filter((v, i) => i < 2 || v !== ''));
      },
    },
    {
      // Gemm: alpha·A·B' + beta·C with A [N, K], B' = B or Bᵀ a constant, C a constant broadcast over rows.
      types: ['Gemm'],
      map(c) {
        if (!c.has(0) || !c.has(1)) c.unsupported('needs A and B');
        if (c.attr.int('transA', 0) !== 0) c.unsupported('transA 1');
        const w = c.floats(1);
        if (!w || w.shape.length !== 2) return c.unsupported('B must be a constant 2-D weight');
        const alpha = c.attr.float('alpha', 1);
        const transB = c.attr.int('transB', 0) === 1;
        const M = transB ? w.shape[0] : w.shape[1];
        let weight: string;
        if (transB && alpha === 1) weight = c.value(1);
        else if (transB) weight = c.weight('weight', w.shape, w.data.map((v) => v * alpha));
        else weight = c.weight('weight', [M, w.shape[0]], transposed(w, alpha));
        const beta = c.attr.float('beta', 1);
        const bias = beta === 0 ? '' : linearBias(c, 2, M, beta, 'bias');
        return c.emit('Linear', bias ? [c.value(0), weight, bias] : [c.value(0), weight]);
      },
    },
  ],
  // Runtime: [N, ..., inF] → [N, ..., outF], the rows of every sample; bias in the epilogue.
  lower: {
    run(c) {
      const { shape, out } = c;
      const inF = shape[shape.length - 1];
      const rows = shape.slice(0, -1).reduce((p, d) => p * d, 1);
      const w = c.weight(1)!;
      const bias = c.weight(2);
      c.emit({ ...c.base, kind: 'linear', rows, inF, outF: out[out.length - 1], weight: Float32Array.from(w.f32), epi: { scale: null, shift: bias ? Float32Array.from(bias.f32) : null, relu: false } });
    },
  },
});
