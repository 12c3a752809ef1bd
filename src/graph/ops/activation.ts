// Records of the elementwise activations: Relu, Clip (ReLU6), Gelu (erf and tanh forms), Silu, Sigmoid, Tanh, HardSwish.
import { ArgumentError } from '../../errors.js';
import type { Tensor } from '../../tensor/tensor.js';
import { sizePerSample } from '../dims.js';
import { defineOp, type EngineOps, type Lowering, type OnnxCtx, type OnnxOut, type OpDef } from '../op.js';
import type { UnaryKind } from '../../runtime/heap-kernels.js';
import { req } from '../rules.js';
import { constScalar, direct } from '../onnx-in.js';

/** A float32 → float32 elementwise op of one input. */
function unary<A extends object>(
  doc: string,
  attrs: OpDef<A>['attrs'],
  forward: (ops: EngineOps, x: Tensor, a: A) => Tensor,
  onnx: (c: OnnxCtx<A>) => OnnxOut,
  lower: OpDef<A>['lower'],
): OpDef<A> {
  return defineOp<A>({
    doc,
    inputs: [{ name: 'x', role: 'data' }],
    outputs: 1,
    attrs,
    infer: (c) => [{ shape: req(c, 0).shape, dtype: 'float32' }],
    forward: ({ x, attrs: a, ops }) => [forward(ops, x[0]!, a)],
    cost: (c) => ({ kind: 'elementwise', elementOps: sizePerSample(c.outShape(0)) }),
    onnx,
    lower,
  });
}

/**
 * Runtime lowering of an activation without a wasm kernel (heap-kernels.ts): run after the epilogue of the step that
 * produced x, in that step, when x has no other reader; else its own 'unary' op.
 */
function postAct<A extends object>(act: UnaryKind, bounds?: (a: A) => [number, number]): Lowering<A> {
  return {
    run(c) {
      const [lo, hi] = bounds ? bounds(c.attrs) : [-Infinity, Infinity];
      const t = c.fusable(c.x);
      if (t && 'epi' in t && !t.post) {
        t.post = { act, lo, hi };
        t.name += `+${c.name}`;
        c.extend(t, c.x, c.y);
        return;
      }
      c.emit({ ...c.base, kind: 'unary', act, lo, hi });
    },
  };
}

/** Relu at run time: the epilogue of the producing step when it is open (x has no other reader), else an affine op. */
const reluLower: Lowering<Record<string, never>> = {
  run(c) {
    const target = c.fusable(c.x);
    const epi = c.k.openEpilogue(target);
    if (target && epi) {
      epi.relu = true;
      target.name += `+${c.name}`;
      c.extend(target, c.x, c.y);
    } else {
      c.emit({ ...c.base, kind: 'affine', epi: { scale: null, shift: null, relu: true } });
    }
  },
};

/** An ONNX float32 scalar initializer. */
const scalar = (c: OnnxCtx<object>, name: string, v: number): string => c.e.f32(`${c.scope}.${name}`, Float32Array.of(v), []);

export const Relu = defineOp<Record<string, never>>({
  ...unary<Record<string, never>>('max(x, 0)', {}, (ops, x) => ops.relu(x), (c) => ({ outputs: [c.e.one('Relu', [c.input(0)], c.scope)], exact: c.exact(0) }), reluLower),
  onnxImport: [direct('Relu', ['Relu'])],
});

export interface ClipAttrs {
  min: number | null;
  max: number | null;
}

export const Clip = defineOp<ClipAttrs>({
  ...unary<ClipAttrs>(
    'min(max(x, min), max) (torch.clamp; ReLU6 is min 0, max 6); a null bound is open',
    { min: { type: 'float', nullable: true, default: null }, max: { type: 'float', nullable: true, default: null } },
    (ops, x, a) => ops.clip(x, a.min, a.max),
    (c) => {
      // Clip(x, min?, max?): an absent bound is '' (or left off at the end); no bounds at all is the identity.
      const ins = [c.input(0), c.attrs.min === null ? '' : scalar(c, 'min', c.attrs.min)];
      if (c.attrs.max !== null) ins.push(scalar(c, 'max', c.attrs.max));
      else if (c.attrs.min === null) return { outputs: [c.input(0)], exact: c.exact(0) };
      return { outputs: [c.e.one('Clip', ins, c.scope)], exact: c.exact(0) };
    },
    postAct<ClipAttrs>('clip', (a) => [a.min !== null ? Math.fround(a.min) : -Infinity, a.max !== null ? Math.fround(a.max) : Infinity]),
  ),
  // Clip(x, min?, max?) with constant bounds (opset 11+).
  onnxImport: [direct('Clip', ['Clip'], (c) => ({ min: constScalar(c, 1, 'min'), max: constScalar(c, 2, 'max') }))],
  infer(c) {
    if (c.attrs.min !== null && c.attrs.max !== null && c.attrs.min > c.attrs.max) {
      throw new ArgumentError(`${c.node}: min ${c.attrs.min} is greater than max ${c.attrs.max}`);
    }
    return [{ shape: req(c, 0).shape, dtype: 'float32' }];
  },
});

export interface GeluAttrs {
  approximate: 'none' | 'tanh';
}

export const Gelu = withImport(unary<GeluAttrs>(
  "x·Φ(x): exact (erf) form, or PyTorch's tanh approximation with approximate: 'tanh'",
  { approximate: { type: 'string', choices: ['none', 'tanh'], default: 'none' } },
  (ops, x, a) => ops.gelu(x, a.approximate),
  (c) => {
    const x = c.input(0);
    const half = c.e.one('Mul', [x, scalar(c, 'half', 0.5)], c.scope);
    let inner: string;
    if (c.attrs.approximate === 'none') {
      // 0.5·x·(1 + erf(x/√2)) (the Gelu op needs opset 20).
      inner = c.e.one('Erf', [c.e.one('Mul', [x, scalar(c, 'rsqrt2', Math.SQRT1_2)], c.scope)], c.scope);
    } else {
      // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
      const x3 = c.e.one('Mul', [c.e.one('Mul', [x, x], c.scope), x], c.scope);
      const u = c.e.one('Add', [x, c.e.one('Mul', [x3, scalar(c, 'c', 0.044715)], c.scope)], c.scope);
      inner = c.e.one('Tanh', [c.e.one('Mul', [u, scalar(c, 'k', Math.sqrt(2 / Math.PI))], c.scope)], c.scope);
    }
    return [c.e.one('Mul', [half, c.e.one('Add', [inner, scalar(c, 'one', 1)], c.scope)], c.scope)];
  },
  { run: (c) => c.emit({ ...c.base, kind: 'gelu', approximate: c.attrs.approximate }) },
), [
  // Gelu (opset 20), and what the import fuses from the erf and tanh formulas of older exports (src/io/onnx-fuse.ts).
  direct('Gelu', ['Gelu'], (c) => {
    const a = c.attr.string('approximate', 'none');
    if (a !== 'none' && a !== 'tanh') c.unsupported(`approximate '${a}'`);
    return { approximate: a };
  }),
]);

/** A record with import rules. */
function withImport<A extends object>(def: OpDef<A>, rules: OpDef<A>['onnxImport']): OpDef<A> {
  return { ...def, onnxImport: rules };
}

export const Silu = unary<Record<string, never>>('x·sigmoid(x)', {}, (ops, x) => ops.silu(x), (c) => [c.e.one('Mul', [c.input(0), c.e.one('Sigmoid', [c.input(0)], c.scope)], c.scope)], postAct('silu'));

export const Sigmoid = withImport(unary<Record<string, never>>('1/(1 + e^−x)', {}, (ops, x) => ops.sigmoid(x), (c) => [c.e.one('Sigmoid', [c.input(0)], c.scope)], postAct('sigmoid')), [direct('Sigmoid', ['Sigmoid'])]);

export const Tanh = withImport(unary<Record<string, never>>('tanh(x)', {}, (ops, x) => ops.tanh(x), (c) => [c.e.one('Tanh', [c.input(0)], c.scope)], postAct('tanh')), [direct('Tanh', ['Tanh'])]);

export const HardSwish = withImport(unary<Record<string, never>>('x·relu6(x + 3)/6', {}, (ops, x) => ops.hardswish(x), (c) =>
  c.e.opset >= 14
    ? [c.e.one('HardSwish', [c.input(0)], c.scope)]
    : [c.e.one('Mul', [c.input(0), c.e.one('HardSigmoid', [c.input(0)], c.scope, { alpha: { float: 1 / 6 }, beta: { float: 0.5 } })], c.scope)],
postAct('hardswish'),
// HardSwish (opset 14), and HardSigmoid(1/6, 1/2)·x of opset 13 exports, fused by the import.
), [direct('HardSwish', ['HardSwish'])]);
