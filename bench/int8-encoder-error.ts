// Where the int8 LUT encoder's code changes come from: x and centroid quantization simulated in float64 on real activations.
// Usage: node --import tsx bench/int8-encoder-error.ts MODEL.safetensors [--images 48] [--json]
// For each L2 LUT layer of MODEL, the codes of the exact encoder (argmin of float64 squared distances) are compared with
// the codes after quantizing x, the centroids, or both, on the layer inputs of the first --images test images (the
// runtime's f32 activations). Per codebook c, sc = max|centroid| / 63 as in int8EncoderParams; "bits" below count the
// signed levels: x on a grid of step sx clipped to ±xLevels·sx, centroids on a grid of step sc·63/cLevels.
import { NORMALIZATION } from '../src/data/dataset.js';
import { loadDataset } from '../src/data/loader.js';
import { im2rowRef as im2row } from '../src/runtime/lut-kernels-ref.js';
import { loadSync } from '../src/runtime/node.js';
import type { Op } from '../src/runtime/plan.js';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
if (!file) throw new Error('usage: bench/int8-encoder-error.ts MODEL.safetensors [--images N] [--json]');
const nImages = Number(args[args.indexOf('--images') + 1]) || 48;
const json = args.includes('--json');

interface Variant {
  name: string;
  /** Step of x relative to sc, and its clip in steps (Infinity: x exact). */
  xStep: number;
  xLevels: number;
  /** Centroid levels for max|centroid| (Infinity: exact). */
  cLevels: number;
}
const VARIANTS: Variant[] = [
  { name: 'runtime int8 (x step sc, ±128; centroids ±63)', xStep: 1, xLevels: 128, cLevels: 63 },
  { name: 'x quantized only', xStep: 1, xLevels: 128, cLevels: Infinity },
  { name: 'centroids quantized only', xStep: 0, xLevels: Infinity, cLevels: 63 },
  { name: 'x step 2sc (s = +1)', xStep: 2, xLevels: 128, cLevels: 63 },
  { name: 'x step sc/2 (s = −1), clipped at ±64 sc', xStep: 0.5, xLevels: 128, cLevels: 63 },
  { name: 'one more bit each (x step sc/2, ±256; centroids ±127)', xStep: 0.5, xLevels: 256, cLevels: 127 },
  { name: 'int16-class (x step sc/16, ±2048; centroids ±511)', xStep: 1 / 16, xLevels: 2048, cLevels: 511 },
];

const test = loadDataset({ name: 'fashion-mnist' }).test;
const { mean, std } = NORMALIZATION['fashion-mnist'];
const x = new Float32Array(nImages * 784);
for (let i = 0; i < x.length; i++) x[i] = (test.images[i] / 255 - mean) / std;
const model = loadSync(file, { maxBatch: nImages, lutEncoder: 'f32' });
const acts = model.activations(x);
const report: { layer: string; rows: number; codes: number; changedPct: Record<string, number> }[] = [];
model.ops.forEach((op, si) => {
  if ((op.kind !== 'lutConv' && op.kind !== 'lutLinear') || op.spec.metric !== 'l2') return;
  const s = op.spec;
  const input = si === 0 ? x : acts[si - 1];
  const rows = op.kind === 'lutConv' ? im2row(input, nImages, (op as Extract<Op, { kind: 'lutConv' }>).win) : input;
  const { C, K, V } = s;
  const D = C * V;
  const N = rows.length / D;
  const sc = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let m = 0;
    for (let i = c * K * V; i < (c + 1) * K * V; i++) m = Math.max(m, Math.abs(s.centroids[i]));
    sc[c] = m > 0 ? m / 63 : 1;
  }
  const encode = (v: Variant): Uint8Array => {
    const P = new Float64Array(C * K * V);
    for (let i = 0; i < P.length; i++) {
      const c = Math.floor(i / (K * V));
      const st = (sc[c] * 63) / v.cLevels;
      P[i] = v.cLevels === Infinity ? s.centroids[i] : Math.max(-v.cLevels, Math.min(v.cLevels, Math.round(s.centroids[i] / st))) * st;
    }
    const codes = new Uint8Array(N * C);
    const xv = new Float64Array(V);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const st = v.xStep * sc[c];
        for (let j = 0; j < V; j++) {
          const a = rows[n * D + c * V + j];
          xv[j] = v.xLevels === Infinity ? a : Math.max(-v.xLevels, Math.min(v.xLevels - 1, Math.round(a / st))) * st;
        }
        let best = Infinity;
        let bk = 0;
        for (let k = 0; k < K; k++) {
          let d = 0;
          for (let j = 0; j < V; j++) {
            const t = xv[j] - P[(c * K + k) * V + j];
            d += t * t;
          }
          if (d < best) {
            best = d;
            bk = k;
          }
        }
        codes[n * C + c] = bk;
      }
    }
    return codes;
  };
  const exact = encode({ name: 'exact', xStep: 0, xLevels: Infinity, cLevels: Infinity });
  const changedPct: Record<string, number> = {};
  for (const v of VARIANTS) {
    const q = encode(v);
    let d = 0;
    for (let i = 0; i < q.length; i++) if (q[i] !== exact[i]) d++;
    changedPct[v.name] = +((100 * d) / q.length).toFixed(3);
  }
  report.push({ layer: op.name.split('+')[0], rows: N, codes: N * C, changedPct });
});
model.dispose();
if (json) process.stdout.write(JSON.stringify({ benchmark: 'int8-encoder-error', model: file, images: nImages, layers: report }) + '\n');
else {
  for (const v of VARIANTS) console.log(`${v.name.padEnd(58)} ${report.map((r) => `${r.layer} ${r.changedPct[v.name].toFixed(2)}%`).join('  ')}`);
}
