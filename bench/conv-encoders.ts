// The direct LUT conv encoders of a trained LUT model on its real activations: int8 (wide data), certified f32 and plain f32.
// Usage: node --import tsx bench/conv-encoders.ts --lut model.safetensors [--images N] [--reps N] [--json]
//        (relaxed build: LUTNN_SIMD=relaxed node --experimental-wasm-relaxed-simd --import tsx bench/conv-encoders.ts ...)
// For each direct 3×3 LUT conv of the model, its input on the first N test images (default 64, one chunk, 1 thread) is
// encoded and scanned by DirectLutConv three ways, interleaved in one process after two warm-up rounds, medians:
//   int8      the int8 encoder (lanes, wide data: codes as encodeWideRef);
//   certified the f32 encoder as the runtime runs it by default: wide integer keys, near-ties re-encoded in f32;
//   f32       the plain f32 encoder (lutCertify: false).
// certified and f32 must give the same codes (checked before timing). Reported per layer: ms per call, the share of
// sub-vectors the certified encoder re-encoded, and how many codes int8 picks differently from f32.
// --json fields: benchmark ("conv-encoders"), date, machine, loadavg, variant, threads (1), images, reps, lutModel,
// layers [{ layer, C, M, hw, subvectors, medianMs: { int8, certified, f32 }, recheckedPct, int8CodesOffPct,
// ratios: { "f32 / certified", "certified / int8" } }].
import { loadavg } from 'node:os';
import { wasmRuntime } from '../src/backend/wasm.js';
import { machineInfo } from '../src/cli/common.js';
import { NORMALIZATION } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/loader.js';
import { DirectLutConv, directConvUnsupported } from '../src/runtime/lut-conv.js';
import { prepareLutLayer, type LutLayer } from '../src/runtime/lut-kernels.js';
import { loadSync } from '../src/runtime/node.js';
import type { Op } from '../src/runtime/plan.js';
import { callingThreadHost, median } from './common.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const json = args.includes('--json');
const reps = Number(opt('--reps')) || 15;
const NI = Number(opt('--images')) || 64;
const lutFile = opt('--lut');
if (!lutFile) {
  process.stderr.write('bench/conv-encoders: --lut model.safetensors is required (a LUT model: lutnn convert / finetune)\n');
  process.exit(1);
}
const log = (s: string): void => void process.stderr.write(s + '\n');
const rt = wasmRuntime();
if (!rt) throw new Error('lutnn wasm kernels did not load; run npm run build:wasm');

const test = loadDataset({ name: 'fashion-mnist' }).test;
const { mean, std } = NORMALIZATION['fashion-mnist'];
const x = new Float32Array(NI * 784);
for (let j = 0; j < x.length; j++) x[j] = (test.images[j] / 255 - mean) / std;
const model = loadSync(lutFile, { maxBatch: NI, lutEncoder: 'f32' });
const acts = model.activations(x);
const host = callingThreadHost(rt);
const layers: Record<string, unknown>[] = [];
model.ops.forEach((op: Op, si) => {
  if (op.kind !== 'lutConv' || op.spec.metric !== 'l2' || si === 0) return;
  const s = op.spec;
  const w = op.win;
  const base = { centroids: s.centroids, lutQ: s.lutQ, scale: s.scale, bias: s.bias, ncodebooks: s.C, k: s.K, subvecLen: s.V, outFeatures: s.M, metric: s.metric };
  const owned: LutLayer[] = [prepareLutLayer(base), prepareLutLayer({ ...base, encoder: 'int8' })];
  const blocks: number[] = [];
  const alloc = { alloc: (b: number): number => (blocks.push(rt.heap.alloc(b)), blocks[blocks.length - 1]) };
  try {
    if (directConvUnsupported(w, owned[0]) || w.kh !== 3 || w.kw !== 3) return;
    const epi = { scale: 0, shift: 0, relu: 0 };
    const convs = {
      int8: new DirectLutConv(rt, alloc, w, owned[1], epi),
      certified: new DirectLutConv(rt, alloc, w, owned[0], epi),
      f32: new DirectLutConv(rt, alloc, w, owned[0], epi, { certify: false }),
    };
    if (!convs.certified.certified || !convs.int8.wide) return;
    const input = acts[si - 1];
    const P = w.outH * w.outW;
    const xp = alloc.alloc(input.length * 4);
    const yp = alloc.alloc(NI * s.M * P * 4);
    const sp = alloc.alloc(Math.max(...Object.values(convs).map((c) => c.scratchBytes(NI))));
    rt.f32(xp, input.length).set(input);
    const codes: Record<string, Uint8Array> = {};
    for (const [name, c] of Object.entries(convs)) {
      c.run(host, NI, xp, yp, sp);
      codes[name] = c.readCodes(rt, NI, sp);
    }
    const n = codes.f32.length;
    if (codes.certified.some((v, i) => v !== codes.f32[i])) throw new Error(`${op.name}: certified and f32 codes differ`);
    const off = codes.int8.reduce((a, v, i) => a + (v !== codes.f32[i] ? 1 : 0), 0);
    const t: Record<string, number[]> = { int8: [], certified: [], f32: [] };
    let rechecked = 0;
    for (let r = 0; r < reps + 2; r++) {
      const order = Object.keys(convs) as (keyof typeof convs)[];
      if (r % 2) order.reverse();
      for (const name of order) {
        const t0 = performance.now();
        convs[name].run(host, NI, xp, yp, sp);
        if (r >= 2) t[name].push(performance.now() - t0);
        if (name === 'certified') rechecked = convs.certified.lastRechecks;
      }
    }
    const med = { int8: median(t.int8), certified: median(t.certified), f32: median(t.f32) };
    const row = {
      layer: op.name.split('+')[0], C: s.C, M: s.M, hw: w.h, subvectors: n,
      medianMs: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, +v.toFixed(3)])),
      recheckedPct: +((100 * rechecked) / n).toFixed(3), int8CodesOffPct: +((100 * off) / n).toFixed(3),
      ratios: { 'f32 / certified': +(med.f32 / med.certified).toFixed(2), 'certified / int8': +(med.certified / med.int8).toFixed(2) },
    };
    layers.push(row);
    log(`${row.layer} ${s.C}->${s.M} ${w.h}x${w.w} b${NI}: int8 ${med.int8.toFixed(2)} ms, certified ${med.certified.toFixed(2)} ms `
      + `(${row.recheckedPct}% re-encoded), f32 ${med.f32.toFixed(2)} ms; f32/certified ${row.ratios['f32 / certified']}x, `
      + `int8 codes off f32 ${row.int8CodesOffPct}%`);
  } finally {
    blocks.forEach((p) => rt.heap.free(p));
    owned.forEach((l) => l.dispose());
  }
});
model.dispose();
const machine = { ...machineInfo(), load: loadavg().map((l) => +l.toFixed(2)) };
const report = {
  benchmark: 'conv-encoders', date: new Date().toISOString(), machine, loadavg: machine.load, variant: rt.variant, threads: 1,
  images: NI, reps, lutModel: lutFile, layers,
};
if (json) console.log(JSON.stringify(report));
else log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}, load ${machine.load.join(' ')}; ${rt.variant} build, 1 thread, medians of ${reps}`);
