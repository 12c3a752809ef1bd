// LUT models for tests and benchmarks: lutify (modules: chosen Conv2d/Linear children of a Sequential replaced by
// LutConv2d/LutLinear with k-means codebooks, an independent path for the runtime tests) and lutFmnist (convertModel).
import { noGrad } from '../src/autograd/engine.js';
import type { Metric } from '../src/backend/metric.js';
import type { GraphModel } from '../src/graph/model.js';
import { trainCodebooks } from '../src/lut/kmeans.js';
import { LutConv2d, LutLinear } from '../src/lut/modules.js';
import { Conv2d, Linear, Sequential } from '../src/nn/layers.js';
import { convertModel } from '../src/lut/convert.js';
import type { Module } from '../src/nn/module.js';
import { createModule } from '../src/nn/zoo.js';
import { conv2dGeom } from '../src/ops/index.js';
import { im2colRows } from '../src/ops/lut.js';
import { Tensor } from '../src/tensor/tensor.js';

export interface LutifyOptions {
  /** Names of the Conv2d (groups 1) and Linear children to replace. */
  include: readonly string[];
  /** Centroids per codebook (default 16). */
  k?: number;
  metric?: Metric;
  seed?: number;
  /** Lloyd iterations (default 25, as k-means). */
  kmeansIters?: number;
  /** Rows per layer that go into k-means at most (default 65536). */
  maxRows?: number;
  /** Hard forward on the int8 table (default true). */
  quantize?: boolean;
}

/** Sub-vector length: kh·kw for a conv (one codebook per input channel), 4 for a 1×1 conv, 16 for a Linear. */
function subvecLen(m: Conv2d | Linear): number {
  if (m instanceof Linear) return m.inFeatures % 16 === 0 ? 16 : 1;
  const [kh, kw] = m.kernelSize;
  return kh === 1 && kw === 1 ? (m.inChannels % 4 === 0 ? 4 : 1) : kh * kw;
}

/** The rows a layer's codebooks see: x [n, D] for a Linear, the im2col rows [N·outH·outW, Cin·kh·kw] for a conv. */
function denseRows(m: Conv2d | Linear, x: Tensor): Float32Array {
  if (m instanceof Linear) return x.f32.slice();
  const g = conv2dGeom(x.shape, m.weight.shape, { stride: m.stride, padding: m.padding, dilation: m.dilation });
  return im2colRows(x, g).f32.slice();
}

/**
 * A Sequential with the same children as `dense` (the same module objects) but the `include`d ones replaced by LUT
 * layers: k-means codebooks per layer on the dense model's eval activations over `calibration` (k-means init, as
 * LUT-NN), the dense weights regrouped (LutConv2d/LutLinear.fromDense). In eval mode.
 */
export function lutify(dense: Sequential, calibration: readonly Tensor[], opts: LutifyOptions): Sequential {
  const include = new Set(opts.include);
  const children = dense.namedChildren();
  for (const n of include) {
    const m = children.find(([c]) => c === n)?.[1];
    if (!(m instanceof Conv2d || m instanceof Linear)) throw new Error(`lutify: '${n}' is not a Conv2d or Linear child`);
  }
  const K = opts.k ?? 16;
  const metric = opts.metric ?? 'l2';
  const rows = new Map<string, Float32Array[]>();
  const wasTraining = dense.training;
  dense.eval();
  noGrad(() => {
    for (const x0 of calibration) {
      let x = x0;
      for (const [name, m] of children) {
        if (include.has(name)) rows.set(name, [...(rows.get(name) ?? []), denseRows(m as Conv2d | Linear, x)]);
        x = m.forward(x);
      }
    }
  });
  dense.train(wasTraining);
  let layer = 0;
  const out = children.map(([name, m]): [string, Module] => {
    if (!include.has(name)) return [name, m];
    const d = m as Conv2d | Linear;
    const D = d instanceof Linear ? d.inFeatures : d.inChannels * d.kernelSize[0] * d.kernelSize[1];
    const V = subvecLen(d);
    const C = D / V;
    const parts = rows.get(name)!;
    const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    parts.reduce((o, p) => (all.set(p, o), o + p.length), 0);
    const seed = (opts.seed ?? 0) * 1000 + layer++;
    const P = trainCodebooks(all, all.length / D, C, V, K, { metric, seed, iters: opts.kmeansIters, maxRows: opts.maxRows });
    const centroids = new Tensor(P, [C, K, V]);
    const o = { metric, quantize: opts.quantize };
    return [name, d instanceof Linear ? LutLinear.fromDense(d, centroids, o) : LutConv2d.fromDense(d, centroids, o)];
  });
  return Sequential.named(out).eval();
}

/** fmnist-cnn as its Module tree with the weights of `model` (a loaded fmnist-cnn file: the same weight names). */
export function fmnistModule(model: GraphModel): Sequential {
  const m = createModule('fmnist-cnn') as Sequential;
  m.loadStateDict(model.stateDict());
  return m.eval();
}

/**
 * The shipped dense fmnist-cnn with conv2-4 and fc1 as LUT-NN layers (K = 16, V = 9 for the convs and 16 for fc1, LUT-NN's
 * default selection; k-means on `calibration`, no refit), by convertModel, as an eval-mode GraphModel.
 */
export function lutFmnist(dense: GraphModel, calibration: readonly Tensor[], opts: Omit<LutifyOptions, 'include' | 'quantize'> = {}): GraphModel {
  return convertModel(dense, calibration, { k: opts.k, metric: opts.metric, seed: opts.seed, kmeansIters: opts.kmeansIters, maxRows: opts.maxRows, refit: false }).model.eval();
}
