// Direct int8 LUT convs on the fmnist-cnn shapes (batch 64, 1 thread): the lanes encoder (8 pixels in SIMD lanes)
// against the per-pixel one, interleaved in one process, medians per layer of the whole conv (pad + encode + scan) and of
// pad + scan alone (the encode phase left out), so encode ≈ whole − pad + scan. Random x and centroids: the encoders'
// cost does not depend on the values.
// Usage: node --import tsx bench/lut-conv-encoder.ts [--reps N] [--json]; relaxed build:
//        LUTNN_SIMD=relaxed node --experimental-wasm-relaxed-simd --import tsx bench/lut-conv-encoder.ts
import { loadavg } from 'node:os';
import { LAYOUT } from '../src/backend/layout.js';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { callingThreadHost } from './common.js';
import { buildLut, quantizeLut } from '../src/ops/lut.js';
import { DirectLutConv } from '../src/runtime/lut-conv.js';
import { prepareLutLayer } from '../src/runtime/lut-kernels.js';
import type { Window } from '../src/runtime/plan.js';
import { randn } from '../src/tensor/create.js';
import { Rng } from '../src/tensor/rng.js';
import { Tensor } from '../src/tensor/tensor.js';

const args = process.argv.slice(2);
const reps = Number(args[args.indexOf('--reps') + 1]) || 15;
const json = args.includes('--json');
const rt = wasmRuntime()!;
const nb = 64;
const layers: [string, number, number, number][] = [['conv2', 32, 32, 28], ['conv3', 32, 64, 14], ['conv4', 64, 64, 14]];
const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[a.length >> 1];
const out: Record<string, unknown>[] = [];
const rng = new Rng(1);
for (const [name, C, M, hw] of layers) {
  const win: Window = { cin: C, h: hw, w: hw, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, outH: hw, outW: hw };
  const V = 9, K = 16;
  const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
  const { table, scale } = quantizeLut(buildLut(new Tensor(centroids, [C, K, V]), randn([C, V, M], 0.3, rng)));
  const layer = prepareLutLayer({ centroids, lutQ: table.data as Int8Array, scale, ncodebooks: C, k: K, subvecLen: V, outFeatures: M, encoder: 'int8' });
  const blocks: number[] = [];
  const alloc = { alloc: (b: number) => (blocks.push(rt.heap.alloc(b)), blocks[blocks.length - 1]) };
  const convs = {
    pixel: new DirectLutConv(rt, alloc, win, layer, { scale: 0, shift: 0, relu: 0 }, { int8Encoder: 'pixel' }),
    lanes: new DirectLutConv(rt, alloc, win, layer, { scale: 0, shift: 0, relu: 0 }, { int8Encoder: 'lanes' }),
  };
  const P = hw * hw;
  const xp = alloc.alloc(nb * C * P * 4);
  const yp = alloc.alloc(nb * M * P * 4);
  const sp = alloc.alloc(Math.max(convs.pixel.scratchBytes(nb), convs.lanes.scratchBytes(nb)));
  rt.f32(xp, nb * C * P).set(Float32Array.from({ length: nb * C * P }, () => rng.normal() * 1.5));
  const host = callingThreadHost(rt);
  // 'rest': the lanes conv without its encode phase (pad + scan), so encode ≈ whole − rest.
  const t: Record<string, number[]> = { pixel: [], lanes: [], rest: [] };
  const phase = rt.job.phase.bind(rt.job);
  for (let r = 0; r < reps + 2; r++) {
    const order = (['pixel', 'lanes', 'rest'] as const).slice();
    if (r % 2) order.reverse();
    for (const mode of order) {
      rt.job.phase = mode === 'rest' ? (kind: number, n: number) => (kind === LAYOUT.K_RT_CONV_ENCODE ? rt.job : phase(kind, n)) : phase;
      const t0 = performance.now();
      convs[mode === 'rest' ? 'lanes' : mode].run(host, nb, xp, yp, sp);
      if (r >= 2) t[mode].push(performance.now() - t0);
    }
  }
  rt.job.phase = phase;
  const [pm, lm, rm] = [median(t.pixel), median(t.lanes), median(t.rest)];
  const row = { layer: name, C, M, hw, batch: nb, pixelMs: pm, lanesMs: lm, padScanMs: rm, encodePixelMs: pm - rm, encodeLanesMs: lm - rm, speedup: pm / lm, encodeSpeedup: (pm - rm) / (lm - rm) };
  out.push(row);
  if (!json) {
    console.log(`${name} ${C}->${M} ${hw}x${hw} b${nb}: conv pixel ${pm.toFixed(2)} ms, lanes ${lm.toFixed(2)} ms (x${row.speedup.toFixed(2)}); ` +
      `pad+scan ${rm.toFixed(2)} ms, so encode pixel ${(pm - rm).toFixed(2)} ms, lanes ${(lm - rm).toFixed(2)} ms (x${row.encodeSpeedup.toFixed(2)})`);
  }
  blocks.forEach((p) => rt.heap.free(p));
  layer.dispose();
}
const machine = { ...machineInfo(), load: loadavg().map((l) => +l.toFixed(2)) };
if (json) console.log(JSON.stringify({ machine, variant: rt.variant, threads: 1, reps, layers: out }));
else console.log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.load.join(' ')}; ${rt.variant} build, 1 thread, medians of ${reps}`);
