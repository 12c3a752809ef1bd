// Before exportOnnx's dynamicInt8 form: each eval BatchNorm that alone reads a Conv's output folded into that Conv, as
// PyTorch's ONNX export does for an eval model (the graph quantize_dynamic is usually given), so that ConvInteger
// carries the folded weights and no float BatchNormalization runs between the integer convs.
import { analyzeGraph, type GraphInfo } from '../graph/analyze.js';
import { batchNormAffine, foldAffineIntoConv } from '../graph/bn-fold.js';
import type { GraphNode, TensorInfo } from '../graph/types.js';
import { Tensor } from '../tensor/tensor.js';

/** What the export reads of a model (OnnxExportable of onnx-export.ts). */
interface Exportable {
  readonly info: GraphInfo;
  weight(name: string): Tensor;
}

/** `model` with every Conv → BatchNorm pair (constant weights, the Conv output read by the BatchNorm only) folded; the same model when there is none. */
export function foldConvBatchNorms(model: Exportable, inits: ReadonlyMap<string, TensorInfo>): Exportable {
  const { info } = model;
  const g = info.graph;
  const outputs = new Set(g.outputs);
  const isInit = (v: string | undefined): v is string => v !== undefined && v !== '' && inits.has(v);
  const extra = new Map<string, Tensor>();
  const replaced = new Map<string, GraphNode>(); // Conv name → folded Conv
  const dropped = new Set<string>(); // BatchNorm names
  const fresh = (base: string): string => {
    let n = base;
    for (let i = 1; info.values.has(n) || inits.has(n) || extra.has(n); i++) n = `${base}_${i}`;
    return n;
  };
  for (const ni of info.nodes) {
    const bn = ni.node;
    if (bn.op !== 'BatchNorm') continue;
    const conv = info.producer.get(bn.inputs[0]);
    if (!conv || conv.node.op !== 'Conv' || replaced.has(conv.node.name)) continue;
    const y = conv.node.outputs[0];
    if (outputs.has(y) || (info.consumers.get(y) ?? []).length !== 1) continue;
    const [, w, b] = conv.node.inputs;
    if (!isInit(w) || (b !== undefined && b !== '' && !isInit(b))) continue;
    const [, gamma, beta, mean, variance] = bn.inputs;
    if (!isInit(mean) || !isInit(variance) || (gamma && !isInit(gamma)) || (beta && !isInit(beta))) continue;
    const wt = model.weight(w);
    const { s, t } = batchNormAffine(gamma ? model.weight(gamma).f32 : null, beta ? model.weight(beta).f32 : null, model.weight(mean).f32, model.weight(variance).f32, ni.attrs.eps as number);
    const cout = wt.shape[0];
    const folded = new Float32Array(wt.f32); // a copy: foldAffineIntoConv scales in place
    const shift = foldAffineIntoConv(folded, cout, b ? model.weight(b).f32 : null, s, t);
    const wName = fresh(`${conv.node.name}.weight_bn_folded`);
    const bName = fresh(`${conv.node.name}.bias_bn_folded`);
    extra.set(wName, new Tensor(folded, [...wt.shape]));
    extra.set(bName, new Tensor(shift, [cout]));
    replaced.set(conv.node.name, { ...conv.node, inputs: [conv.node.inputs[0], wName, bName], outputs: [...bn.outputs] });
    dropped.add(bn.name);
  }
  if (replaced.size === 0) return model;
  const nodes = g.nodes.filter((n) => !dropped.has(n.name)).map((n) => replaced.get(n.name) ?? n);
  const infos = new Map(inits);
  for (const [k, v] of extra) infos.set(k, { shape: [...v.shape], dtype: 'float32' });
  return {
    info: analyzeGraph({ ...g, nodes }, infos),
    weight: (name) => extra.get(name) ?? model.weight(name),
  };
}
