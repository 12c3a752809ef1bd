// LUT layers in the runtime: the engine interface the plan calls, the layer spec it is built from, and the
// self-contained TypeScript engine (encode by argmin, int8 table scan) that stays the oracle for the wasm kernels.
import { ArgumentError } from '../errors.js';
import type { Metric } from '../backend/metric.js';
import { buildLut, quantizeLut } from '../ops/lut-table.js';
import type { Tensor } from '../tensor/tensor.js';

/** Everything a LUT layer needs at inference: D = C·V inputs per row, M outputs. */
export interface LutLayerSpec {
  /** centroids [C, K, V]. */
  centroids: Float32Array;
  /** int8 table [C, K, M]: round(lut/scale) clamped to ±127, lut[c] = centroids[c] · weight[c]. */
  lutQ: Int8Array;
  /** max|lut|/127 (float32; 1 for an all-zero table). */
  scale: number;
  /** [M] or null. */
  bias: Float32Array | null;
  C: number;
  K: number;
  V: number;
  M: number;
  metric: Metric;
}

/** A layer made resident by an engine. Pointers are byte addresses in the kernels' memory. */
export interface PreparedLut {
  /**
   * out [rows, M] = scale·Σ_c lutQ[c][code(r, c)] + bias for rows x [rows, D] (row-major), where code(r, c) is the
   * nearest centroid of sub-vector c (first on ties). rows <= the maxRows it was prepared for. Never allocates.
   */
  run(xPtr: number, outPtr: number, rows: number, threads: number): void;
  dispose(): void;
}

/** Makes LUT layers resident; the runtime asks its engine once per layer at compile time. */
export interface LutEngine {
  readonly name: string;
  prepare(spec: LutLayerSpec, maxRows: number): PreparedLut;
}

/** The trained tensors of a LUT-NN layer (the inputs of a LutLinear / LutConv node, or a LUT module's fields). */
export interface LutLayerTensors {
  /** [C, K, V]. */
  centroids: Tensor;
  /** [C, V, M]. */
  weight: Tensor;
  /** [M] or null. */
  bias: Tensor | null;
  metric: Metric;
}

/**
 * The spec of a trained LUT layer: the table built and quantized by the training code's own functions (buildLut and
 * quantizeLut of src/ops/lut-table.ts), so the runtime's int8 table is the one training's hard forward dequantizes.
 */
export function lutSpecOf(layer: LutLayerTensors): LutLayerSpec {
  const { table, scale } = quantizeLut(buildLut(layer.centroids, layer.weight));
  const [C, K, V] = layer.centroids.shape;
  return {
    centroids: Float32Array.from(layer.centroids.f32),
    lutQ: table.data as Int8Array,
    scale,
    bias: layer.bias ? Float32Array.from(layer.bias.f32) : null,
    C,
    K,
    V,
    M: layer.weight.shape[2],
    metric: layer.metric,
  };
}

/** Checks the sizes of a spec (the engines trust them). */
export function checkLutSpec(op: string, s: LutLayerSpec): void {
  const ints = { C: s.C, K: s.K, V: s.V, M: s.M };
  for (const [k, v] of Object.entries(ints)) {
    if (!Number.isInteger(v) || v < 1) throw new ArgumentError(`${op}: ${k} must be a positive integer, got ${v}`);
  }
  if (s.K > 256) throw new ArgumentError(`${op}: K must be <= 256 (uint8 codes), got ${s.K}`);
  if (s.centroids.length !== s.C * s.K * s.V) throw new ArgumentError(`${op}: centroids has ${s.centroids.length} floats, expected C·K·V = ${s.C * s.K * s.V}`);
  if (s.lutQ.length !== s.C * s.K * s.M) throw new ArgumentError(`${op}: lutQ has ${s.lutQ.length} entries, expected C·K·M = ${s.C * s.K * s.M}`);
  if (s.bias && s.bias.length !== s.M) throw new ArgumentError(`${op}: bias has ${s.bias.length} floats, expected M = ${s.M}`);
  if (!(s.scale > 0) || !Number.isFinite(s.scale)) throw new ArgumentError(`${op}: scale must be finite and > 0, got ${s.scale}`);
}

const f = Math.fround;

/**
 * codes[r·C + c] = argmin_k d(x_rc, centroids[c][k]) for rows X[xOff + r·D ...], first k on ties, with float32
 * rounding per operation as the training encoder (src/backend/lut-train.ts encodeRef): squared L2, L1 or
 * Chebyshev. Returns the first r·C + c with no finite distance (code left 0), or −1.
 */
export function encodeTs(X: Float32Array, xOff: number, rows: number, s: LutLayerSpec, codes: Uint8Array): number {
  const { C, K, V, centroids: P, metric } = s;
  const D = C * V;
  let bad = -1;
  for (let r = 0; r < rows; r++) {
    const xr = xOff + r * D;
    for (let c = 0; c < C; c++) {
      const xc = xr + c * V;
      let best = Infinity;
      let bk = -1;
      for (let k = 0; k < K; k++) {
        const pk = (c * K + k) * V;
        let d = 0;
        if (metric === 'l2') {
          for (let v = 0; v < V; v++) {
            const t = f(X[xc + v] - P[pk + v]);
            d = f(d + f(t * t));
          }
        } else if (metric === 'l1') {
          for (let v = 0; v < V; v++) d = f(d + Math.abs(f(X[xc + v] - P[pk + v])));
        } else {
          for (let v = 0; v < V; v++) d = Math.max(d, Math.abs(f(X[xc + v] - P[pk + v]))); // NaN propagates
        }
        if (d < best) {
          best = d;
          bk = k;
        }
      }
      if (bk < 0) {
        if (bad < 0) bad = r * C + c;
        bk = 0;
      }
      codes[r * C + c] = bk;
    }
  }
  return bad;
}

/** Y[yOff + r·M + m] = f32(f32(scale·acc) + bias[m]) with acc = Σ_c lutQ[c][code][m] summed exactly in int32. */
export function scanTs(codes: Uint8Array, rows: number, s: LutLayerSpec, Y: Float32Array, yOff: number, acc: Int32Array): void {
  const { C, K, M, lutQ, scale, bias } = s;
  for (let r = 0; r < rows; r++) {
    acc.fill(0, 0, M);
    for (let c = 0; c < C; c++) {
      const base = (c * K + codes[r * C + c]) * M;
      for (let m = 0; m < M; m++) acc[m] += lutQ[base + m];
    }
    const o = yOff + r * M;
    for (let m = 0; m < M; m++) Y[o + m] = f(f(scale * acc[m]) + (bias ? bias[m] : 0));
  }
}

/** The TypeScript engine over a WebAssembly memory: single-threaded, preallocated codes and accumulators. */
export function tsLutEngine(memory: WebAssembly.Memory): LutEngine {
  let view = new Float32Array(memory.buffer);
  const f32 = (): Float32Array => {
    if (view.byteLength !== memory.buffer.byteLength) view = new Float32Array(memory.buffer);
    return view;
  };
  return {
    name: 'ts',
    prepare(spec: LutLayerSpec, maxRows: number): PreparedLut {
      checkLutSpec('tsLutEngine.prepare', spec);
      const codes = new Uint8Array(Math.max(1, maxRows) * spec.C);
      const acc = new Int32Array(spec.M);
      return {
        run(xPtr: number, outPtr: number, rows: number): void {
          const F = f32();
          // A non-finite row was rejected at the model's input; a layer can still overflow to Inf/NaN, and then
          // encodes like training's forward would not: code 0, as the kernels leave it defined.
          encodeTs(F, xPtr >> 2, rows, spec, codes);
          scanTs(codes, rows, spec, F, outPtr >> 2, acc);
        },
        dispose(): void {},
      };
    },
  };
}
