// Composite modules of the zoo: the ResNet basic block, multi-head self-attention, the pre-norm transformer block, patch embedding.
import { ArgumentError } from '../errors.js';
import type { OpSink, Value } from '../graph/builder.js';
import { globalRng, type Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { BatchNorm2d, Conv2d, GELU, LayerNorm, Linear, Sequential } from './layers.js';
import { Module } from './module.js';

const nodeName = (path: string, child: string): string => (path === '' ? child : `${path}.${child}`);

/**
 * ResNet basic block (He et al.): conv3x3(stride)-BN-ReLU-conv3x3-BN, plus the identity or, when the shape changes,
 * a 1x1 conv(stride)+BN shortcut (`downsample.0`, `downsample.1`, torchvision's names); add, ReLU.
 */
export class BasicBlock extends Module {
  readonly stride: number;

  constructor(cin: number, cout: number, stride = 1, opts: { rng?: Rng } = {}) {
    super();
    const rng = opts.rng ?? globalRng;
    this.stride = stride;
    this.registerModule('conv1', new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false, rng }));
    this.registerModule('bn1', new BatchNorm2d(cout));
    this.registerModule('conv2', new Conv2d(cout, cout, 3, { padding: 1, bias: false, rng }));
    this.registerModule('bn2', new BatchNorm2d(cout));
    if (stride !== 1 || cin !== cout) {
      this.registerModule('downsample', Sequential.named([
        ['0', new Conv2d(cin, cout, 1, { stride, bias: false, rng })],
        ['1', new BatchNorm2d(cout)],
      ]));
    }
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    let h = this.lowerChild(g, 'conv1', x, path);
    h = this.lowerChild(g, 'bn1', h, path);
    h = g.op('Relu', [h], {}, nodeName(path, 'relu1'))[0];
    h = this.lowerChild(g, 'conv2', h, path);
    h = this.lowerChild(g, 'bn2', h, path);
    const shortcut = this.namedChildren().some(([n]) => n === 'downsample') ? this.lowerChild(g, 'downsample', x, path) : x;
    const sum = g.op('Add', [h, shortcut], {}, nodeName(path, 'add'))[0];
    return g.op('Relu', [sum], {}, nodeName(path, 'relu2'))[0];
  }
}

/**
 * Multi-head self-attention on x [N, T, D] with separate q, k, v and output projections (the four Linears LUT-NN
 * replaces in BERT): heads [N, H, T, D/H], scores q·kᵀ/√(D/H), softmax over keys, mixed values, projection.
 */
export class Attention extends Module {
  readonly dim: number;
  readonly heads: number;

  constructor(dim: number, heads: number, opts: { rng?: Rng; names?: { q: string; k: string; v: string }; project?: boolean } = {}) {
    super();
    if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0) throw new ArgumentError(`Attention: dim ${dim} must be divisible by heads ${heads}`);
    const rng = opts.rng ?? globalRng;
    this.dim = dim;
    this.heads = heads;
    const n = opts.names ?? { q: 'q', k: 'k', v: 'v' };
    this.names = n;
    for (const key of ['q', 'k', 'v'] as const) this.registerModule(n[key], new Linear(dim, dim, { rng }));
    this.project = opts.project ?? true;
    if (this.project) this.registerModule('proj', new Linear(dim, dim, { rng }));
  }

  private readonly names: { q: string; k: string; v: string };
  /** With `project: false` the heads are merged but not projected (the caller owns the output Linear, as BERT's layout). */
  private readonly project: boolean;

  override lower(g: OpSink, x: Value, path: string): Value {
    const H = this.heads;
    const dh = this.dim / H;
    const at = (s: string): string => nodeName(path, s);
    // [N, T, D] → [N, T, H, dh] → [N, H, T, dh] (keys: [N, H, dh, T]).
    const heads = (v: Value, which: string, perm: number[]): Value => {
      const r = g.op('Reshape', [v], { shape: [0, 0, H, dh] }, at(`${which}_heads`))[0];
      return g.op('Transpose', [r], { perm }, at(`${which}_t`))[0];
    };
    const q = heads(this.lowerChild(g, this.names.q, x, path), 'q', [0, 2, 1, 3]);
    const k = heads(this.lowerChild(g, this.names.k, x, path), 'k', [0, 2, 3, 1]);
    const v = heads(this.lowerChild(g, this.names.v, x, path), 'v', [0, 2, 1, 3]);
    const scale = g.weight(at('scale'), scaleTensor(1 / Math.sqrt(dh)));
    const scores = g.op('Mul', [g.op('MatMul', [q, k], {}, at('scores'))[0], scale], {}, at('scaled'))[0]; // [N, H, T, T]
    const attn = g.op('Softmax', [scores], { axis: -1 }, at('softmax'))[0];
    const mixed = g.op('MatMul', [attn, v], {}, at('mix'))[0]; // [N, H, T, dh]
    const merged = g.op('Reshape', [g.op('Transpose', [mixed], { perm: [0, 2, 1, 3] }, at('mix_t'))[0]], { shape: [0, 0, this.dim] }, at('merge'))[0]; // [N, T, D]
    return this.project ? this.lowerChild(g, 'proj', merged, path) : merged;
  }
}

/** A constant (no gradient) scalar tensor: an initializer the graph does not train. */
function scaleTensor(v: number): Tensor {
  return new Tensor(Float32Array.of(v), []);
}

/** Linear → GELU → Linear (`fc1`, `act`, `fc2`). */
export class Mlp extends Module {
  constructor(dim: number, hidden: number, opts: { rng?: Rng } = {}) {
    super();
    const rng = opts.rng ?? globalRng;
    this.registerModule('fc1', new Linear(dim, hidden, { rng }));
    this.registerModule('act', new GELU());
    this.registerModule('fc2', new Linear(hidden, dim, { rng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    return this.lowerChild(g, 'fc2', this.lowerChild(g, 'act', this.lowerChild(g, 'fc1', x, path), path), path);
  }
}

/** Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). */
export class TransformerBlock extends Module {
  constructor(dim: number, heads: number, hidden: number, opts: { rng?: Rng; eps?: number } = {}) {
    super();
    const rng = opts.rng ?? globalRng;
    this.registerModule('norm1', new LayerNorm(dim, { eps: opts.eps }));
    this.registerModule('attn', new Attention(dim, heads, { rng }));
    this.registerModule('norm2', new LayerNorm(dim, { eps: opts.eps }));
    this.registerModule('mlp', new Mlp(dim, hidden, { rng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const a = this.lowerChild(g, 'attn', this.lowerChild(g, 'norm1', x, path), path);
    const h = g.op('Add', [x, a], {}, nodeName(path, 'add1'))[0];
    const m = this.lowerChild(g, 'mlp', this.lowerChild(g, 'norm2', h, path), path);
    return g.op('Add', [h, m], {}, nodeName(path, 'add2'))[0];
  }
}

/** Non-overlapping patches by a strided conv: [N, C, H, W] → tokens [N, (H/p)·(W/p), dim] (`proj`). */
export class PatchEmbed extends Module {
  constructor(cin: number, dim: number, patch: number, opts: { rng?: Rng } = {}) {
    super();
    this.registerModule('proj', new Conv2d(cin, dim, patch, { stride: patch, rng: opts.rng ?? globalRng }));
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const y = this.lowerChild(g, 'proj', x, path); // [N, dim, h, w]
    const flat = g.op('Flatten', [y], { start: 2, end: -1 }, nodeName(path, 'flatten'))[0]; // [N, dim, T]
    return g.op('Transpose', [flat], { perm: [0, 2, 1] }, nodeName(path, 'tokens'))[0]; // [N, T, dim]
  }
}


/**
 * One BERT encoder layer (post-norm, Hugging Face names): attention.self.{query,key,value}, attention.output.dense and
 * .LayerNorm (LN(x + attn(x))), intermediate.dense + GELU, output.dense and .LayerNorm (LN(h + ffn(h))).
 */
export class BertLayer extends Module {
  constructor(hidden: number, heads: number, ffn: number, opts: { rng?: Rng; eps?: number } = {}) {
    super();
    const rng = opts.rng ?? globalRng;
    const eps = opts.eps ?? 1e-12;
    const attention = new BertPart();
    attention.registerModule('self', new Attention(hidden, heads, { rng, names: { q: 'query', k: 'key', v: 'value' }, project: false }));
    const out = new BertPart();
    out.registerModule('dense', new Linear(hidden, hidden, { rng }));
    out.registerModule('LayerNorm', new LayerNorm(hidden, { eps }));
    attention.registerModule('output', out);
    this.registerModule('attention', attention);
    const inter = new BertPart();
    inter.registerModule('dense', new Linear(hidden, ffn, { rng }));
    this.registerModule('intermediate', inter);
    const output = new BertPart();
    output.registerModule('dense', new Linear(ffn, hidden, { rng }));
    output.registerModule('LayerNorm', new LayerNorm(hidden, { eps }));
    this.registerModule('output', output);
  }

  override lower(g: OpSink, x: Value, path: string): Value {
    const at = (s: string): string => nodeName(path, s);
    const sub = (p: string): Module => this.getModule(p);
    // Hugging Face's layout: the heads under attention.self, their output Linear under attention.output.dense.
    const heads = sub('attention.self').lower(g, x, at('attention.self'));
    const a = sub('attention.output.dense').lower(g, heads, at('attention.output.dense'));
    const h1 = g.op('Add', [a, x], {}, at('attention.output.add'))[0];
    const h = sub('attention.output.LayerNorm').lower(g, h1, at('attention.output.LayerNorm'));
    const f = sub('intermediate.dense').lower(g, h, at('intermediate.dense'));
    const act = g.op('Gelu', [f], {}, at('intermediate.act'))[0];
    const o = sub('output.dense').lower(g, act, at('output.dense'));
    const h2 = g.op('Add', [o, h], {}, at('output.add'))[0];
    return sub('output.LayerNorm').lower(g, h2, at('output.LayerNorm'));
  }
}

/** A named container of BertLayer's parts (lowered by BertLayer itself). */
class BertPart extends Module {}
