// The runtime's LUT engine on the wasm kernels (src/runtime/lut-kernels.ts): f32 (exact) or int8 encoder, SIMD scan, threads.
import { ArgumentError } from '../errors.js';
import { prepareLutLayer, runLutLayerPtr, type LutEncoderKind, type LutLayer } from './lut-kernels.js';
import { checkLutSpec, type LutEngine, type LutLayerSpec, type PreparedLut } from './lut-step.js';

/** Largest K the kernels take (one 16-entry table per output and codebook); bigger K falls back to `fallback`. */
export const WASM_LUT_MAX_K = 16;

/** A layer prepared by this engine: the resident LutLayer is there for kernels that read it directly (direct LUT convs). */
export interface WasmPreparedLut extends PreparedLut {
  readonly layer: LutLayer;
}

/** The resident wasm LutLayer behind a prepared layer, or null (another engine, or the fallback's layer). */
export function wasmLayerOf(p: PreparedLut): LutLayer | null {
  const l = (p as Partial<WasmPreparedLut>).layer;
  return l && typeof l === 'object' && typeof l.ptrs === 'function' ? l : null;
}

/**
 * LUT layers on the wasm kernels. `encoder` 'f32' gives the same codes as the TypeScript engine; 'int8' and 'wide'
 * (l2 only) are faster and may pick other codes near ties ('wide' about ten times fewer). Layers the kernels cannot take (K > 16) go to `fallback`.
 */
export function wasmLutEngine(opts: { encoder?: LutEncoderKind; fallback?: LutEngine } = {}): LutEngine {
  const encoder = opts.encoder ?? 'f32';
  if (encoder !== 'f32' && encoder !== 'int8' && encoder !== 'wide') throw new ArgumentError(`lutnn.load: lutEncoder must be f32, int8 or wide, got ${String(encoder)}`);
  return {
    name: `wasm-${encoder}`,
    prepare(spec: LutLayerSpec, maxRows: number): PreparedLut {
      checkLutSpec('wasmLutEngine.prepare', spec);
      if (spec.K > WASM_LUT_MAX_K && opts.fallback) return opts.fallback.prepare(spec, maxRows);
      // An l1/Chebyshev layer keeps the f32 encoder (the integer ones compute l2 distances only).
      const enc = spec.metric === 'l2' ? encoder : 'f32';
      const layer = prepareLutLayer({
        centroids: spec.centroids, lutQ: spec.lutQ, scale: spec.scale, bias: spec.bias,
        ncodebooks: spec.C, k: spec.K, subvecLen: spec.V, outFeatures: spec.M, metric: spec.metric,
        encoder: enc, maxRows: Math.max(1, maxRows),
      });
      const prepared: WasmPreparedLut = {
        layer,
        // The kernels pick their own thread count from the pool's setting and the size of the call.
        run: (xPtr, outPtr, rows) => runLutLayerPtr(layer, xPtr, outPtr, rows),
        dispose: () => layer.dispose(),
      };
      return prepared;
    },
  };
}
