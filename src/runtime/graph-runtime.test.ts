// The runtime on DAGs: resnet-fm (dense and LUT-NN) and a skip-connection graph against the engine, step by step; the
// arena planner's promises (no live value overwritten, never more than the planned peak) and its peak vs `lutnn info`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../autograd/engine.js';
import { getNumThreads, setNumThreads } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import type { GraphInfo } from '../graph/analyze.js';
import { GraphBuilder } from '../graph/builder.js';
import { graphCost, modelCost } from '../graph/cost.js';
import { GraphModel } from '../graph/model.js';
import type { CostCtx } from '../graph/op.js';
import type { Attrs } from '../graph/types.js';
import { convertStructure } from '../lut/convert.js';
import { createModel } from '../nn/zoo.js';
import { randn } from '../tensor/create.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import { ShapeError } from '../errors.js';
import { tsLutEngine } from './lut-step.js';
import type { RuntimeModel } from './model.js';
import { compile } from './node.js';

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
 * Tolerance vs the engine, relative to the tensor's largest magnitude: folding batch norm into conv weights / epilogues
 * changes float32 rounding (a few ulps per layer), and a LUT scan sums int8 entries exactly before scaling where the
 * engine sums dequantized floats. One changed LUT code moves an output row by a difference of two table rows, which
 * checkSteps asserts is far above this tolerance for every LUT step: a LUT step within it picked the engine's codes.
 */
const TOL = 1e-4;

/**
 * The least a single changed code can move a LUT step's output row (max over outputs m): over codebooks c and code
 * pairs k ≠ k', max_m |lutQ[c][k][m] − lutQ[c][k'][m]| · table scale, times the smallest |epilogue scale| (folded BN).
 */
function codeChangeFloor(op: RuntimeModel['ops'][number]): number {
  if (op.kind !== 'lutConv' && op.kind !== 'lutLinear') return Infinity;
  const { C, K, M, lutQ, scale } = op.spec;
  let floor = Infinity;
  for (let c = 0; c < C; c++) {
    for (let k = 0; k < K; k++) {
      for (let k2 = k + 1; k2 < K; k2++) {
        let d = 0;
        for (let m = 0; m < M; m++) d = Math.max(d, Math.abs(lutQ[(c * K + k) * M + m] - lutQ[(c * K + k2) * M + m]));
        floor = Math.min(floor, d * scale);
      }
    }
  }
  const epi = op.epi.scale ? Math.min(...Array.from(op.epi.scale, Math.abs)) : 1;
  return floor * epi;
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  const { d, m } = diff(got, want);
  assert.ok(d <= TOL * (1 + m), `${what}: max diff ${d} vs max |value| ${m}`);
}

/** Seeded eval statistics and affine parameters for every BatchNorm (so folding is really exercised). */
function seedBatchNorms(model: GraphModel, rng: Rng): void {
  for (const n of model.graph.nodes) {
    if (n.op !== 'BatchNorm') continue;
    const [g, b, mean, v] = n.inputs.slice(1, 5).map((name) => (name ? model.weight(name).f32 : null));
    for (let c = 0; c < mean!.length; c++) {
      mean![c] = rng.uniform(-0.3, 0.3);
      v![c] = rng.uniform(0.4, 2);
      if (g) g[c] = rng.uniform(0.5, 1.5);
      if (b) b[c] = rng.uniform(-0.3, 0.3);
    }
  }
}

/** Every value of the engine's eval run (GraphModel.run's hook), the graph input included. */
function engineValues(model: GraphModel, x: Tensor): Map<string, Float32Array> {
  model.eval();
  const env = new Map<string, Float32Array>([[model.graph.inputs[0].name, x.f32.slice()]]);
  noGrad(() => model.run([x], { hook: (ni, _x, ys) => ni.node.outputs.forEach((o, k) => env.set(o, ys[k].f32.slice())) }));
  return env;
}

const evalForward = (model: GraphModel, x: Tensor): Float32Array => engineValues(model, x).get(model.graph.outputs[0])!;

/**
 * Runs `rtm` on x step by step and checks: every step's output equals the engine's value of that name (the last
 * fused node's output; for LUT steps within less than a tenth of what one changed code would do); after each step,
 * every value still to be read (or the graph output) holds exactly the bytes it was written with (nothing live was
 * overwritten); the slots live at a step never overlap and hold at most the planned peak, which some step reaches.
 */
function checkSteps(rtm: RuntimeModel, model: GraphModel, x: Tensor, what: string): void {
  const mem = rtm.memory;
  const region = (b: number): number => Math.ceil(Math.max(b, 1) / 64) * 64;
  let maxLive = 0;
  rtm.ops.forEach((_, i) => {
    const live = mem.slots.filter((s) => Math.max(s.from, 0) <= i && i <= s.to);
    const bytes = live.reduce((a, s) => a + s.bytes, 0);
    assert.ok(bytes <= mem.peakActivationBytes, `${what}: step ${i} holds ${bytes} bytes, planned peak ${mem.peakActivationBytes}`);
    maxLive = Math.max(maxLive, bytes);
    for (const a of live) {
      assert.ok(a.offset + region(a.bytes) <= mem.arenaBytes, `${what}: a slot ends past the arena`);
      for (const b of live) {
        if (a !== b) assert.ok(a.offset + region(a.bytes) <= b.offset || b.offset + region(b.bytes) <= a.offset, `${what}: slots of ${a.values} and ${b.values} overlap at step ${i}`);
      }
    }
  });
  assert.equal(maxLive, mem.peakActivationBytes);

  const want = engineValues(model, x);
  const written = new Map<string, Float32Array>([[rtm.inputName, x.f32.slice()]]);
  const y = rtm.trace(x, (i, read) => {
    const op = rtm.ops[i];
    const out = read(op.output);
    const ref = want.get(op.output)!;
    assertClose(out, ref, `${what}: step ${i} (${op.kind} ${op.name})`);
    const floor = codeChangeFloor(op);
    const bound = TOL * (1 + diff(ref, ref).m);
    assert.ok(floor > 10 * bound, `${what}: step ${i} (${op.name}): a changed code moves outputs by ${floor}, not clearly above the tolerance ${bound}`);
    written.set(op.output, out);
    for (const [v, bytes] of written) {
      const a = mem.values.get(v)!;
      if (v === op.output || !(i < a.to || v === rtm.outputName)) continue;
      assert.deepEqual(read(v), bytes, `${what}: value '${v}' (read until step ${a.to}) changed at step ${i} (${op.name})`);
    }
  });
  assert.deepEqual(y, written.get(rtm.outputName));
}

/** resnet-fm (eval, seeded BN statistics) and its LUT-NN form (convertStructure: default layers, seeded centroids). */
function resnetFm(): { dense: GraphModel; lut: GraphModel } {
  const dense = createModel('resnet-fm', { rng: new Rng(21) });
  seedBatchNorms(dense, new Rng(22));
  dense.eval();
  const { model: lut, layers } = convertStructure(dense, { seed: 23 });
  assert.equal(layers.length, 19, 'every conv but the stem (16 3×3, 3 1×1 shortcuts); the fc head stays dense');
  return { dense, lut: lut.eval() };
}

test('resnet-fm (dense): BN folded, ReLU fused into convs and add+relu; logits match the eval forward at batch 1 and in chunks, threads 1 and 2', () => {
  const { dense } = resnetFm();
  const rtm = compile(dense, { maxBatch: 4 });
  try {
    const kinds = rtm.summary().map((s) => s.split(':')[0]);
    assert.equal(kinds.length, 30);
    assert.deepEqual(kinds.slice(0, 4), ['conv conv1+bn1+relu', 'conv layer1.0.conv1+layer1.0.bn1+layer1.0.relu1', 'conv layer1.0.conv2+layer1.0.bn2', 'add layer1.0.add+layer1.0.relu2']);
    assert.deepEqual(kinds.slice(7, 11), [
      'conv layer2.0.conv1+layer2.0.bn1+layer2.0.relu1', 'conv layer2.0.conv2+layer2.0.bn2', 'conv layer2.0.downsample.0+layer2.0.downsample.1', 'add layer2.0.add+layer2.0.relu2',
    ]);
    assert.deepEqual(kinds.slice(-2), ['globalAvgPool avgpool', 'linear fc']);
    // The stride-2 3×3 conv and the stride-2 1×1 shortcut.
    assert.deepEqual(rtm.summary()[9], 'conv layer2.0.downsample.0+layer2.0.downsample.1: [16,28,28] → [32,14,14]');
    const rng = new Rng(24);
    const x1 = randn([1, 1, 28, 28], 1, rng);
    assertClose(rtm.run(x1), evalForward(dense, x1), 'batch 1');
    const x9 = randn([9, 1, 28, 28], 1, rng); // chunks of 4, 4, 1
    const y9 = withThreads(1, () => rtm.run(x9));
    assertClose(y9, evalForward(dense, x9), 'batch 9');
    assert.deepEqual(withThreads(2, () => rtm.run(x9)), y9, '2 threads vs 1');
    assert.deepEqual(rtm.run(x9.f32.subarray(5 * 784, 6 * 784)), y9.subarray(50, 60), 'sample 5 alone');
  } finally {
    rtm.dispose();
  }
});

test('resnet-fm as LUT-NN: the engine\'s codes (logits within the scan\'s rounding), wasm f32 = TS engine, direct = im2row, threads 1 and 2', () => {
  const { lut } = resnetFm();
  const kinds = (m: RuntimeModel): string[] => m.summary().map((s) => s.split(' ')[0]);
  const rtm = compile(lut, { maxBatch: 4 });
  const ts = compile(lut, { maxBatch: 4, lut: tsLutEngine(wasmRuntime()!.memory) });
  const im2row = compile(lut, { maxBatch: 4, lutConv: 'im2row' });
  try {
    assert.deepEqual(kinds(rtm).filter((k) => k === 'lutConv').length, 19);
    assert.ok(rtm.directLutConvs > 0, 'the 3×3 LUT convs run on the direct kernels');
    const rng = new Rng(25);
    const x1 = randn([1, 1, 28, 28], 1, rng);
    assertClose(rtm.run(x1), evalForward(lut, x1), 'batch 1');
    const x9 = randn([9, 1, 28, 28], 1, rng);
    const y9 = withThreads(1, () => rtm.run(x9));
    assertClose(y9, evalForward(lut, x9), 'batch 9');
    assert.deepEqual(withThreads(2, () => rtm.run(x9)), y9, '2 threads vs 1');
    assert.deepEqual(im2row.run(x9), y9, 'im2row LUT convs vs direct');
    if (rtm.lutEngine === 'wasm-f32' && wasmRuntime()!.variant === 'plain') assert.deepEqual(ts.run(x9), y9, 'TS LUT engine vs wasm');
    else assertClose(ts.run(x9), y9, `TS LUT engine vs ${rtm.lutEngine} (${wasmRuntime()!.variant} SIMD)`);
  } finally {
    rtm.dispose();
    ts.dispose();
    im2row.dispose();
  }
});

test('resnet-fm (dense and LUT): every step equals the engine\'s node output; no live value is overwritten; the arena holds at most the planned peak', () => {
  const { dense, lut } = resnetFm();
  const x = randn([2, 1, 28, 28], 1, new Rng(26));
  for (const [what, m] of [['dense', dense], ['lut', lut]] as const) {
    const rtm = compile(m, { maxBatch: 2 });
    try {
      checkSteps(rtm, m, x, `resnet-fm ${what}`);
    } finally {
      rtm.dispose();
    }
  }
});

/**
 * x → c1+relu (the skip value s) → c2+relu → Identity → c3 (1×1) + BN → max pool (3×3, stride 1) → BN (its own step,
 * in place) → Dropout → s + · (in place on the branch: s is read again) → Concat(sum, s) → c4 (1×1) + relu → GAP
 * (keepdims) → Flatten → Linear.
 */
function skipGraph(rng: Rng): GraphModel {
  const b = new GraphBuilder();
  const w = (name: string, shape: number[], s = 0.3): ReturnType<GraphBuilder['weight']> => b.weight(name, randn(shape, s, rng));
  const bn = (name: string, x: ReturnType<GraphBuilder['weight']>, c: number): ReturnType<GraphBuilder['weight']> => {
    const pos = (n: string, lo: number, hi: number): ReturnType<GraphBuilder['weight']> => b.weight(`${name}.${n}`, new Tensor(Float32Array.from({ length: c }, () => rng.uniform(lo, hi)), [c]));
    return b.op('BatchNorm', [x, pos('weight', 0.5, 1.5), pos('bias', -0.3, 0.3), pos('running_mean', -0.3, 0.3), pos('running_var', 0.4, 2)], {}, name)[0];
  };
  const x = b.input('input', 'float32', ['N', 3, 8, 8]);
  const s = b.op('Relu', [b.op('Conv', [x, w('c1.weight', [8, 3, 3, 3]), w('c1.bias', [8], 0.1)], { padding: [1, 1] }, 'c1')[0]], {}, 'r1')[0];
  let h = b.op('Relu', [b.op('Conv', [s, w('c2.weight', [8, 8, 3, 3])], { padding: [1, 1] }, 'c2')[0]], {}, 'r2')[0];
  h = b.op('Identity', [h], {}, 'id')[0];
  h = bn('bn3', b.op('Conv', [h, w('c3.weight', [8, 8, 1, 1])], {}, 'c3')[0], 8);
  h = b.op('MaxPool', [h], { kernel: [3, 3], stride: [1, 1], padding: [1, 1] }, 'p')[0];
  h = b.op('Dropout', [bn('bnp', h, 8)], { p: 0.5 }, 'drop')[0];
  const sum = b.op('Add', [s, h], {}, 'sum')[0];
  const cat = b.op('Concat', [sum, s], { axis: 1 }, 'cat')[0]; // [N,16,8,8]
  h = b.op('Relu', [b.op('Conv', [cat, w('c4.weight', [4, 16, 1, 1])], {}, 'c4')[0]], {}, 'r4')[0];
  h = b.op('Flatten', [b.op('GlobalAveragePool', [h], { keepdims: true }, 'g')[0]], {}, 'f')[0]; // [N,4]
  b.output(b.op('Linear', [h, w('fc.weight', [3, 4]), w('fc.bias', [3], 0.1)], {}, 'fc')[0]);
  const g = b.build();
  return GraphModel.create(g.graph, g.weights).eval();
}

test('a skip across several nodes: Concat, in-place add and BN, vanishing Identity/Dropout; every step and the buffer reuse checked', () => {
  const rng = new Rng(27);
  const m = skipGraph(rng);
  const rtm = compile(m, { maxBatch: 3 });
  try {
    assert.deepEqual(rtm.summary(), [
      'conv c1+r1: [3,8,8] → [8,8,8]', 'conv c2+r2: [8,8,8] → [8,8,8]', 'conv c3+bn3: [8,8,8] → [8,8,8]', 'pool p: [8,8,8] → [8,8,8]',
      'affine bnp: [8,8,8] → [8,8,8]', 'add sum: [8,8,8] + [8,8,8] → [8,8,8]', 'concat cat: [8,8,8] ‖ [8,8,8] → [16,8,8]',
      'conv c4+r4: [16,8,8] → [4,8,8]', 'globalAvgPool g: [4,8,8] → [4,1,1]', 'reshape f: [4,1,1] → [4]', 'linear fc: [4] → [3]',
    ]);
    const mem = rtm.memory;
    const slot = (v: string): number => mem.values.get(v)!.slot;
    assert.equal(slot('bnp'), slot('p'), 'BN in place on the pool output');
    assert.equal(slot('sum'), slot('p'), 'the add writes over its dying operand, not over s (read by the concat)');
    assert.equal(slot('f'), slot('g'), 'Flatten is a view');
    assert.equal(mem.values.get('r1')!.to, 6, 's is live until the concat');
    // The peak: at the concat, s and sum (8·64 floats each) + its output (16·64) = 2048 floats per sample.
    assert.equal(mem.perSample.peakActivationBytes, 2048 * 4);
    assert.equal(mem.peakStep, 'cat');
    const x = randn([3, 3, 8, 8], 1, rng);
    checkSteps(rtm, m, x, 'skip graph');
    const y = withThreads(1, () => rtm.run(randn([7, 3, 8, 8], 1, new Rng(28))));
    assertClose(y, evalForward(m, randn([7, 3, 8, 8], 1, new Rng(28))), 'batch 7 in chunks of 3');
    assert.deepEqual(withThreads(2, () => rtm.run(randn([7, 3, 8, 8], 1, new Rng(28)))), y, '2 threads vs 1');
  } finally {
    rtm.dispose();
  }
});

test('Concat along channels, rows and columns (a value twice), BN and ReLU fused into x + x; Concat over the batch is refused', () => {
  const rng = new Rng(32);
  const b = new GraphBuilder();
  const x = b.input('input', 'float32', ['N', 2, 3, 4]);
  const a = b.op('Conv', [x, b.weight('a.weight', randn([3, 2, 1, 1], 0.5, rng))], {}, 'a')[0];
  const c1 = b.op('Concat', [a, x], { axis: 1 }, 'c1')[0]; // [N,5,3,4]
  const c2 = b.op('Concat', [c1, c1], { axis: 2 }, 'c2')[0]; // [N,5,6,4]
  const c3 = b.op('Concat', [c2, c2], { axis: -1 }, 'c3')[0]; // [N,5,6,8]
  const pos = (n: string, lo: number, hi: number): ReturnType<GraphBuilder['weight']> => b.weight(`bn.${n}`, new Tensor(Float32Array.from({ length: 5 }, () => rng.uniform(lo, hi)), [5]));
  const s = b.op('Add', [c3, c3], {}, 's')[0];
  const r = b.op('Relu', [b.op('BatchNorm', [s, pos('weight', 0.5, 1.5), pos('bias', -1, 1), pos('running_mean', -0.3, 0.3), pos('running_var', 0.4, 2)], {}, 'bn')[0]], {}, 'relu')[0];
  b.output(b.op('GlobalAveragePool', [r], {}, 'gap')[0]);
  const g = b.build();
  const m = GraphModel.create(g.graph, g.weights).eval();
  const rtm = compile(m, { maxBatch: 3 });
  try {
    assert.deepEqual(rtm.summary(), [
      'conv a: [2,3,4] → [3,3,4]', 'concat c1: [3,3,4] ‖ [2,3,4] → [5,3,4]', 'concat c2: [5,3,4] ‖ [5,3,4] → [5,6,4]',
      'concat c3: [5,6,4] ‖ [5,6,4] → [5,6,8]', 'add s+bn+relu: [5,6,8] + [5,6,8] → [5,6,8]', 'globalAvgPool gap: [5,6,8] → [5]',
    ]);
    assert.equal(rtm.memory.values.get('relu')!.slot, rtm.memory.values.get('c3')!.slot, 'x + x in place');
    checkSteps(rtm, m, randn([3, 2, 3, 4], 1, rng), 'concat graph');
    const x5 = randn([5, 2, 3, 4], 1, rng);
    assertClose(rtm.run(x5), evalForward(m, x5), 'batch 5 in chunks of 3');
  } finally {
    rtm.dispose();
  }
  const cb = new GraphBuilder();
  const cx = cb.input('input', 'float32', ['N', 4]);
  cb.output(cb.op('Concat', [cx, cx], { axis: 0 }, 'rows')[0]); // [2*N,4]
  const cg = cb.build();
  assert.throws(() => compile(GraphModel.create(cg.graph, cg.weights)), (e: unknown) => e instanceof ShapeError && /^lutnn\.load: node 'rows' \(Concat\): output 'rows' is \[2\*N,4\], whose batch N is not its first dim; the runtime cannot run Concat there/.test((e as Error).message));
});

/**
 * `lutnn info`'s liveness peak without workspace: graphCost on the same analysis with every record's workspaceBytes
 * set to 0 (info's own liveness code; the runtime plans workspace as one shared scratch block instead).
 */
function infoActivationPeak(model: GraphModel, batch: number): number {
  const info: GraphInfo = {
    ...model.info,
    nodes: model.info.nodes.map((ni) => ({ ...ni, def: { ...ni.def, cost: (c: CostCtx<Attrs>) => ({ ...ni.def.cost(c), workspaceBytes: 0 }) } })),
  };
  const weights = new Map([...model.info.roles.keys()].map((k) => [k, model.weight(k)]));
  return graphCost(info, weights, { batch }).total.peakActivationBytes;
}

test('planned peak vs lutnn info: equal where nothing fuses or runs in place and nothing needs workspace; for the resnets, info\'s peak without workspace', (t) => {
  // 1×1 convs (stride 1, no padding: no im2col) and a Concat skip: the runtime's steps are info's nodes.
  const rng = new Rng(29);
  const b = new GraphBuilder();
  const x = b.input('input', 'float32', ['N', 4, 6, 6]);
  const conv = (name: string, h: ReturnType<GraphBuilder['weight']>, cin: number, cout: number): ReturnType<GraphBuilder['weight']> => b.op('Conv', [h, b.weight(`${name}.weight`, randn([cout, cin, 1, 1], 0.3, rng))], {}, name)[0];
  const c1 = conv('c1', x, 4, 8);
  const c3 = conv('c3', conv('c2', c1, 8, 6), 6, 5);
  b.output(b.op('GlobalAveragePool', [conv('c4', b.op('Concat', [c3, c1], { axis: 1 }, 'cat')[0], 13, 2)], {}, 'gap')[0]);
  const g = b.build();
  const plain = GraphModel.create(g.graph, g.weights);
  for (const batch of [1, 3]) {
    const rtm = compile(plain, { maxBatch: batch });
    try {
      const info = modelCost(plain, null, { batch }).total;
      assert.deepEqual(rtm.ops.length, plain.graph.nodes.length);
      assert.equal(rtm.memory.peakActivationBytes, info.peakActivationBytes, `batch ${batch}`);
      assert.equal(rtm.memory.perSample.peakActivationBytes * batch, info.peakActivationBytes);
      // At the concat: c1 (8·36 floats), c3 (5·36) and the output (13·36), per sample.
      assert.equal(rtm.memory.perSample.peakActivationBytes, (8 + 5 + 13) * 36 * 4);
    } finally {
      rtm.dispose();
    }
  }
  // The resnets: info counts each BN and ReLU node's input and output and adds the workspace of the node at its peak
  // (dense conv: im2col rows; LUT: codes). The runtime's steps fuse them (and add in place), so its peak can only be
  // lower than info's without workspace; here both peak at layer1.0.conv2, where the same three values are live (the
  // block input for the shortcut, the conv's input and output): 3 · C·H·W · 4 bytes.
  const models: [string, GraphModel, number][] = [];
  const { dense, lut } = resnetFm();
  models.push(['resnet-fm dense', dense, 16 * 28 * 28], ['resnet-fm lut', lut, 16 * 28 * 28]);
  const r18 = createModel('resnet18-cifar', { rng: new Rng(30) }).eval();
  models.push(['resnet18-cifar dense', r18, 64 * 32 * 32], ['resnet18-cifar lut', convertStructure(r18, { seed: 31 }).model.eval(), 64 * 32 * 32]);
  for (const [what, m, chw] of models) {
    const rtm = compile(m, { maxBatch: 1 });
    try {
      const info = modelCost(m, null, { batch: 1 }).total;
      const infoActs = infoActivationPeak(m, 1);
      const mem = rtm.memory;
      t.diagnostic(`${what}: runtime peak ${mem.peakActivationBytes} B (${mem.peakStep}), arena ${mem.arenaBytes} B, scratch ${mem.scratchBytes} B; info peak ${info.peakActivationBytes} B (${info.peakLayer}), without workspace ${infoActs} B`);
      assert.equal(mem.peakActivationBytes, 3 * chw * 4, what);
      assert.equal(mem.peakActivationBytes, infoActs, what);
      assert.ok(info.peakActivationBytes > infoActs, `${what}: info's peak includes the workspace of ${info.peakLayer}`);
      assert.equal(mem.peakStep, 'layer1.0.conv2+layer1.0.bn2');
      assert.equal(info.peakLayer, 'layer1.0.conv2');
      assert.equal(mem.arenaBytes, mem.peakActivationBytes, `${what}: the arena has no hole`);
    } finally {
      rtm.dispose();
    }
  }
});
