// The runtime on attention graphs: vit-fm and bert-base-layer (seeded weights, dense and LUT-NN) and the trained
// models/vit-fm.safetensors against the engine step by step (LUT steps: the engine's codes, int8 tables within their
// error), transposes as strided views, the planned peak against `lutnn info`, and the smaller ops on a synthetic graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../autograd/engine.js';
import { getNumThreads, setNumThreads } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import { DataLoader, loadDataset } from '../data/loader.js';
import { takeDataset } from '../data/dataset.js';
import type { GraphInfo } from '../graph/analyze.js';
import { GraphBuilder } from '../graph/builder.js';
import { graphCost, modelCost } from '../graph/cost.js';
import { GraphModel } from '../graph/model.js';
import type { CostCtx } from '../graph/op.js';
import type { Attrs } from '../graph/types.js';
import { loadModel } from '../io/model-file.js';
import { convertModel, convertStructure } from '../lut/convert.js';
import { createModel } from '../nn/zoo.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { evaluate } from '../train/metrics.js';
import { evaluateOnRuntime } from '../app/evaluate.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { encodeTs, tsLutEngine } from './lut-step.js';
import type { RuntimeModel } from './model.js';
import { compile } from './node.js';

const VIT_FILE = fileURLToPath(new URL('../../models/vit-fm.safetensors', import.meta.url));

function withThreads<T>(n: number, fn: () => T): T {
  const prev = getNumThreads();
  setNumThreads(n);
  try {
    return fn();
  } finally {
    setNumThreads(prev);
  }
}

/** Max |a − b| and max |b|. */
function diff(a: Float32Array, b: Float32Array): { d: number; m: number } {
  assert.equal(a.length, b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return { d, m };
}

/**
 * Tolerance vs the engine, relative to the tensor's largest magnitude (1 + max|value|): softmax and GELU run in float32
 * lanes (the engine in float64, a few ulps apart), a LUT scan sums int8 entries exactly before scaling where the engine
 * sums dequantized floats. Linear, MatMul, Add, the constant ops, transposes and means are the engine's float32
 * arithmetic (same GEMM summation order), layer norm its float64 arithmetic up to the order of the sums.
 */
const TOL = 1e-4;

function assertClose(got: Float32Array, want: Float32Array, what: string, tol = TOL): number {
  const { d, m } = diff(got, want);
  assert.ok(d <= tol * (1 + m), `${what}: max diff ${d} vs max |value| ${m}`);
  return d / (1 + m);
}

/** Every value of the engine's eval run (GraphModel.run's hook), the graph input included. */
function engineValues(model: GraphModel, x: Tensor): Map<string, Float32Array> {
  model.eval();
  const env = new Map<string, Float32Array>([[model.graph.inputs[0].name, x.f32.slice()]]);
  noGrad(() => model.run([x], { hook: (ni, _x, ys) => ni.node.outputs.forEach((o, k) => env.set(o, ys[k].f32.slice())) }));
  return env;
}

const evalForward = (model: GraphModel, x: Tensor): Float32Array => engineValues(model, x).get(model.graph.outputs[0])!;

/** What checkSteps saw: the largest step difference (relative), LUT rows encoded, the worst table error vs its bound. */
interface StepReport {
  worst: number;
  lutRows: number;
  tableError: number;
  tableBound: number;
}

/**
 * Runs `rtm` on x step by step: every step's output equals the engine's value of that name within `tol`; every LUT
 * step encodes its input (as the runtime computed it) to exactly the codes the engine's input gives (TS f32 encoder,
 * the engine's rule) and its output lies within the int8 table's error (C·scale/2, plus float rounding) of the float
 * table Σ_c centroids[c][code]·weight[c] + bias on those codes.
 */
function checkSteps(rtm: RuntimeModel, model: GraphModel, x: Tensor, what: string, tol = TOL): StepReport {
  const want = engineValues(model, x);
  const rep: StepReport = { worst: 0, lutRows: 0, tableError: 0, tableBound: 0 };
  rtm.trace(x, (i, read) => {
    const op = rtm.ops[i];
    const out = read(op.output);
    rep.worst = Math.max(rep.worst, assertClose(out, want.get(op.output)!, `${what}: step ${i} (${op.kind} ${op.name})`, tol));
    if (op.kind !== 'lutLinear') return;
    const { C, K, V, M, scale } = op.spec;
    const rows = out.length / M;
    const mine = new Uint8Array(rows * C);
    const theirs = new Uint8Array(rows * C);
    assert.equal(encodeTs(read(op.inputs[0]), 0, rows, op.spec, mine), -1);
    assert.equal(encodeTs(want.get(op.inputs[0])!, 0, rows, op.spec, theirs), -1);
    assert.deepEqual(mine, theirs, `${what}: step ${i} (${op.name}) picks the engine's codes`);
    rep.lutRows += rows;
    // The float table from the node's centroids [C, K, V] and weight [C, V, M].
    const node = model.graph.nodes.find((n) => n.name === op.name)!;
    const P = model.weight(node.inputs[1]).f32;
    const W = model.weight(node.inputs[2]).f32;
    const bias = node.inputs[3] ? model.weight(node.inputs[3]).f32 : null;
    const bound = (C * scale) / 2;
    rep.tableBound = Math.max(rep.tableBound, bound);
    for (let r = 0; r < rows; r++) {
      for (let m = 0; m < M; m++) {
        let s = bias ? bias[m] : 0;
        for (let c = 0; c < C; c++) {
          const k = mine[r * C + c];
          for (let v = 0; v < V; v++) s += P[(c * K + k) * V + v] * W[(c * V + v) * M + m];
        }
        const e = Math.abs(out[r * M + m] - s);
        rep.tableError = Math.max(rep.tableError, e / bound);
        assert.ok(e <= bound + 1e-5 * (1 + Math.abs(s)), `${what}: ${op.name} row ${r} out ${m}: ${out[r * M + m]} vs float table ${s} (bound ${bound})`);
      }
    }
  });
  return rep;
}

/** `lutnn info`'s liveness peak without workspace (info's own code, every record's workspaceBytes set to 0). */
function infoActivationPeak(model: GraphModel, batch: number): number {
  const info: GraphInfo = {
    ...model.info,
    nodes: model.info.nodes.map((ni) => ({ ...ni, def: { ...ni.def, cost: (c: CostCtx<Attrs>) => ({ ...ni.def.cost(c), workspaceBytes: 0 }) } })),
  };
  const weights = new Map([...model.info.roles.keys()].map((k) => [k, model.weight(k)]));
  return graphCost(info, weights, { batch }).total.peakActivationBytes;
}

function zoo(name: 'vit-fm' | 'bert-base-layer', seed: number): { dense: GraphModel; lut: GraphModel } {
  const dense = createModel(name, { rng: new Rng(seed) }).eval();
  const { model: lut, layers } = convertStructure(dense, { seed: seed + 1 });
  assert.equal(layers.length, name === 'vit-fm' ? 24 : 6);
  return { dense, lut: lut.eval() };
}

const kinds = (m: RuntimeModel): string[] => m.summary().map((s) => s.split(':')[0]);

test('vit-fm (dense and LUT-NN): transposes are strided views, every step equals the engine, LUT steps pick its codes; chunks, threads, TS engine', (t) => {
  const { dense, lut } = zoo('vit-fm', 41);
  const rng = new Rng(42);
  for (const [what, m] of [['dense', dense], ['lut', lut]] as const) {
    const rtm = compile(m, { maxBatch: 4 });
    try {
      const k = kinds(rtm);
      // Per block: q, k, v feed Q·Kᵀ through strides, the 1/√d Mul runs inside the softmax, attn·V writes [T, H, dh].
      assert.deepEqual(k.slice(11, 15), ['matmul blocks.0.attn.scores', 'softmax blocks.0.attn.scaled+blocks.0.attn.softmax', 'matmul blocks.0.attn.mix+blocks.0.attn.mix_t', 'reshape blocks.0.attn.merge']);
      assert.equal(k.filter((s) => s.startsWith('permute')).length, 1, 'one copy: the patch tokens [C, P] → [P, C] before the position add');
      assert.equal(k.filter((s) => s.startsWith(what === 'lut' ? 'lutLinear' : 'linear ')).length, what === 'lut' ? 24 : 25);
      assert.equal(rtm.summary()[11], 'matmul blocks.0.attn.scores: [4,49,16] × [4,16,49] → [4,49,49]');
      const x = randn([3, 1, 28, 28], 1, rng);
      const rep = checkSteps(rtm, m, x, `vit-fm ${what}`);
      t.diagnostic(`vit-fm ${what}: worst step diff ${rep.worst.toExponential(2)} (relative to 1 + max|value|); ${rep.lutRows} LUT rows with the engine's codes; int8 table error at most ${(100 * rep.tableError).toFixed(1)}% of C·scale/2`);
      const x9 = randn([9, 1, 28, 28], 1, rng); // chunks of 4, 4, 1
      const y9 = withThreads(1, () => rtm.run(x9));
      assertClose(y9, evalForward(m, x9), `vit-fm ${what} batch 9`);
      assert.deepEqual(withThreads(2, () => rtm.run(x9)), y9, '2 threads vs 1');
      assert.deepEqual(rtm.run(x9.f32.subarray(5 * 784, 6 * 784)), y9.subarray(50, 60), 'sample 5 alone');
      if (what === 'lut') {
        const ts = compile(m, { maxBatch: 4, lut: tsLutEngine(wasmRuntime()!.memory) });
        try {
          if (wasmRuntime()!.variant === 'plain') assert.deepEqual(ts.run(x9), y9, 'TS LUT engine vs wasm');
          else assertClose(ts.run(x9), y9, 'TS LUT engine vs wasm (relaxed SIMD)');
        } finally {
          ts.dispose();
        }
      }
    } finally {
      rtm.dispose();
    }
  }
});

test('bert-base-layer at seq 128 (dense and LUT-NN, the six Linears V = 16): every step equals the engine, LUT steps pick its codes', (t) => {
  const { dense, lut } = zoo('bert-base-layer', 43);
  const x = randn([1, 128, 768], 1, new Rng(44));
  for (const [what, m] of [['dense', dense], ['lut', lut]] as const) {
    const rtm = compile(m, { maxBatch: 1 });
    try {
      assert.deepEqual(kinds(rtm).filter((s) => /^(matmul|softmax|permute)/.test(s)), [
        'matmul attention.self.scores', 'softmax attention.self.scaled+attention.self.softmax', 'matmul attention.self.mix+attention.self.mix_t',
      ]);
      const rep = checkSteps(rtm, m, x, `bert ${what}`);
      t.diagnostic(`bert-base-layer ${what}: worst step diff ${rep.worst.toExponential(2)}; ${rep.lutRows} LUT rows with the engine's codes; int8 table error at most ${(100 * rep.tableError).toFixed(1)}% of C·scale/2`);
    } finally {
      rtm.dispose();
    }
  }
});

test('planned peak vs lutnn info: the runtime holds what info counts minus the transposes it reads through strides', (t) => {
  const T = 128;
  const D = 768;
  const vitT = 49;
  const cases: [string, GraphModel, number, string][] = [];
  const b = zoo('bert-base-layer', 45);
  // At Q·Kᵀ: the layer input (read again by the residual add), q, k, v and the scores [12, T, T].
  const bertPeak = (4 * T * D + 12 * T * T) * 4;
  cases.push(['bert dense', b.dense, bertPeak, 'attention.self.scores'], ['bert lut', b.lut, bertPeak, 'attention.self.scores']);
  const v = zoo('vit-fm', 46);
  // At block 0's Q·Kᵀ: the residual stream, q, k, v [49, 64] and the scores [4, 49, 49].
  const vitPeak = (4 * vitT * 64 + 4 * vitT * vitT) * 4;
  cases.push(['vit dense', v.dense, vitPeak, 'blocks.0.attn.scores'], ['vit lut', v.lut, vitPeak, 'blocks.0.attn.scores']);
  for (const [what, m, peak, step] of cases) {
    for (const batch of [1, 2]) {
      const rtm = compile(m, { maxBatch: batch });
      try {
        const mem = rtm.memory;
        const info = modelCost(m, null, { batch }).total;
        const infoActs = infoActivationPeak(m, batch);
        if (batch === 1) t.diagnostic(`${what}: runtime peak ${mem.peakActivationBytes} B at ${mem.peakStep}, arena ${mem.arenaBytes} B, scratch ${mem.scratchBytes} B; info peak ${info.peakActivationBytes} B (${info.peakLayer}), without workspace ${infoActs} B`);
        assert.equal(mem.peakActivationBytes, peak * batch, what);
        assert.equal(mem.peakStep, step, what);
        // info materialises every Transpose (q_t, k_t, v_t, mix_t); the runtime reads and writes them through strides.
        assert.ok(mem.peakActivationBytes < infoActs, `${what}: runtime ${mem.peakActivationBytes} vs info ${infoActs}`);
        assert.ok(mem.arenaBytes >= mem.peakActivationBytes);
      } finally {
        rtm.dispose();
      }
    }
  }
});

test('the trained models/vit-fm.safetensors: runtime = engine on test images (dense, and LUT-NN after k-means on 64 training images)', (t) => {
  const { model: dense, meta } = loadModel(VIT_FILE);
  dense.eval();
  const splits = loadDataset({ name: 'fashion-mnist' });
  const norm = { mean: meta.dataset?.mean, std: meta.dataset?.std };
  const testSet = takeDataset(splits.test, 512);
  const batch = new DataLoader(testSet, { batchSize: 8, shuffle: false, ...norm }).batch(0, 0).x;
  const calib = new DataLoader(takeDataset(splits.train, 64), { batchSize: 64, shuffle: false, ...norm }).batch(0, 0).x;
  const { model: lut } = convertModel(dense, [calib], { seed: 3, kmeansIters: 8 });
  lut.eval();
  for (const [what, m] of [['dense', dense], ['lut', lut]] as const) {
    const rtm = compile(m, { maxBatch: 8 });
    try {
      const rep = checkSteps(rtm, m, batch, `trained vit-fm ${what}`);
      t.diagnostic(`trained vit-fm ${what}: worst step diff ${rep.worst.toExponential(2)}; ${rep.lutRows} LUT rows with the engine's codes`);
    } finally {
      rtm.dispose();
    }
    // Accuracy on 512 test images: the runtime's (f32 encoder) and the engine's agree.
    const loader = new DataLoader(testSet, { batchSize: 128, shuffle: false, ...norm });
    const rt = evaluateOnRuntime(m, loader.epoch(0), [1, 28, 28], 'f32');
    const eng = evaluate(m, loader.epoch(0));
    t.diagnostic(`trained vit-fm ${what}: accuracy on 512 test images ${rt.accuracy} (runtime) vs ${eng.accuracy} (engine)`);
    assert.equal(rt.accuracy, eng.accuracy, what);
    assert.ok(Math.abs(rt.loss - eng.loss) <= 1e-5 * Math.max(1, eng.loss), `${what}: loss ${rt.loss} vs ${eng.loss}`);
  }
});

/**
 * x [N, 6, 4] → Linear (6×4 → [6, 8]) → Sub a per-column constant, Div by a scalar → c − y (reversed Sub) → y · y →
 * Transpose [8, 6] (copied: a Gelu (tanh) reads it) → MatMul by a constant [6, 5] → MatMul of a strided view with a
 * broadcast constant [2, 5, 3] → Softmax(1.5·…) → ReduceMean over the last two axes.
 */
function smallOps(rng: Rng): GraphModel {
  const b = new GraphBuilder();
  const w = (name: string, shape: number[], s = 0.5): ReturnType<GraphBuilder['weight']> => b.weight(name, randn(shape, s, rng));
  const x = b.input('input', 'float32', ['N', 6, 4]);
  let y = b.op('Linear', [x, w('fc.weight', [8, 4]), w('fc.bias', [8], 0.1)], {}, 'fc')[0]; // [N,6,8]
  y = b.op('Sub', [y, w('shift', [1, 8])], {}, 'sub')[0];
  y = b.op('Div', [y, b.weight('two', new Tensor(Float32Array.of(2), []))], {}, 'div')[0];
  y = b.op('Sub', [w('base', [6, 1]), y], {}, 'rsub')[0];
  y = b.op('Mul', [y, y], {}, 'sq')[0];
  const tr = b.op('Transpose', [y], { perm: [0, 2, 1] }, 'tr')[0]; // [N,8,6]
  const g = b.op('Gelu', [tr], { approximate: 'tanh' }, 'gelu')[0];
  const p = b.op('MatMul', [g, w('proj.weight', [6, 5])], {}, 'proj')[0]; // [N,8,5]
  const r = b.op('Reshape', [p], { shape: [0, 2, 4, 5] }, 'heads')[0]; // [N,2,4,5]
  const m = b.op('MatMul', [r, w('mix.weight', [2, 5, 3])], {}, 'mix')[0]; // [N,2,4,3]
  const s = b.op('Softmax', [b.op('Mul', [b.weight('temp', new Tensor(Float32Array.of(1.5), [])), m], {}, 'temp_mul')[0]], {}, 'softmax')[0];
  b.output(b.op('ReduceMean', [s], { axes: [-2, -1] }, 'mean')[0]); // [N,2]
  const built = b.build();
  return GraphModel.create(built.graph, built.weights).eval();
}

test('Sub/Div with constants (either side), Mul of activations, a copied Transpose, MatMul by constants (as a Linear, and broadcast), Softmax pre-scale, ReduceMean', () => {
  const rng = new Rng(47);
  const m = smallOps(rng);
  const rtm = compile(m, { maxBatch: 3 });
  try {
    assert.deepEqual(rtm.summary(), [
      'linear fc: [6,4] → [6,8]', 'binary sub: [6,8] − const[8] → [6,8]', 'binary div: [6,8] / scalar → [6,8]', 'binary rsub: const[48] − [6,8] → [6,8]',
      'binary sq: [6,8] · [6,8] → [6,8]', 'permute tr: [6,8] → [8,6]', 'gelu gelu: [8,6] → [8,6]', 'linear proj: [8,6] → [8,5]', 'reshape heads: [8,5] → [2,4,5]',
      'matmul mix: [2,4,5] × [2,5,3] → [2,4,3]', 'softmax temp_mul+softmax: [2,4,3] → [2,4,3]', 'reduceMean mean: [2,4,3] → [2]',
    ]);
    checkSteps(rtm, m, randn([3, 6, 4], 1, rng), 'small ops');
    const x = randn([7, 6, 4], 1, rng);
    assertClose(rtm.run(x), evalForward(m, x), 'batch 7 in chunks of 3');
  } finally {
    rtm.dispose();
  }
});

test('attention graphs the runtime refuses say why: softmax off the last axis, a transpose of the batch, ReduceMean over the batch or apart axes', () => {
  const rng = new Rng(48);
  const refused = (build: (b: GraphBuilder, x: ReturnType<GraphBuilder['input']>) => ReturnType<GraphBuilder['input']>, type: typeof ArgumentError, what: RegExp): void => {
    const b = new GraphBuilder();
    const x = b.input('input', 'float32', ['N', 3, 4, 5]);
    b.output(build(b, x));
    const g = b.build();
    assert.throws(() => compile(GraphModel.create(g.graph, g.weights)), (e: unknown) => e instanceof type && what.test((e as Error).message));
  };
  refused((b, x) => b.op('Softmax', [x], { axis: 1 }, 'sm')[0], ArgumentError, /^lutnn\.load: Softmax 'sm' is along axis 1 of \[N,3,4,5\]; the runtime runs softmax along the last axis$/);
  refused((b, x) => b.op('Transpose', [x], { perm: [1, 0, 2, 3] }, 'tb')[0], ShapeError, /^lutnn\.load: the graph output 'tb' is \[3,N,4,5\]; the runtime gives outputs \[N, \.\.\.\]$/);
  refused((b, x) => b.op('ReduceMean', [x], { axes: [1, 3] }, 'rm')[0], ArgumentError, /^lutnn\.load: ReduceMean 'rm' reduces axes \[1,3\] that are not neighbours/);
  // x − mean over the last axis ([N,3,4,1], a column per sample) runs; a broadcast over a middle axis does not.
  refused((b, x) => b.op('Add', [x, b.op('ReduceMean', [b.op('ReduceMean', [x], { axes: [3], keepdims: true }, 'r')[0]], { axes: [1], keepdims: true }, 'r2')[0]], {}, 'add')[0], ShapeError,
    /Add 'add' takes \[N,3,4,5\] \('input'\) and \[N,1,4,1\] \('r2'\); the runtime broadcasts between activations of one sample a row \(leading dims 1\) or a column \(trailing dims 1\) only/);
  refused((b, x) => b.op('Add', [b.op('ReduceMean', [x], { axes: [3], keepdims: true }, 'r')[0], b.weight('wide', randn([6], 1, rng))], {}, 'add')[0], ShapeError,
    /^lutnn\.load: Add 'add': the constant \[6\] broadcasts the activation \[N,3,4,1\] to \[N,3,4,6\]; the runtime keeps the activation's shape$/);
});
