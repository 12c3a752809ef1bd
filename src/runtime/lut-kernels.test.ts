// The LUT inference kernels (wasm) against their TypeScript twins, the reference encoder and the training forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getParallelMinMacs, setParallelMinMacs, startWorkers, setNumThreads, getNumThreads } from '../backend/pool.js';
import { wasmRuntime } from '../backend/wasm.js';
import { ArgumentError, DTypeError, NonFiniteError, ShapeError } from '../errors.js';
import { encode as encodeReference, METRICS, type Metric } from '../lut/distance.js';
import { buildLut, encodeRows, quantizeLut } from '../ops/lut.js';
import { LutLinear } from '../lut/modules.js';
import { Rng } from '../tensor/rng.js';
import { Tensor } from '../tensor/tensor.js';
import {
  encodeLut, encodeLutPtr, lutCodesBytes, prepareLutLayer, runLutLayer, runLutLayerPtr, scanLut, scanLutPtr,
  type LutEncoderKind, type LutLayer, type LutLayerSpec,
} from './lut-kernels.js';
import { encodeF32Ref, encodeInt8Ref, encodeWideRef, finishRef, int8EncoderParams, scanRef, wideEncoderParams } from './lut-kernels-ref.js';

const rt = wasmRuntime() ?? assert.fail('the wasm runtime did not load; run npm run build:wasm');
const relaxed = rt.variant === 'relaxed';

interface Case {
  N: number;
  C: number;
  K: number;
  V: number;
  M: number;
}

/** Random layer data: centroids N(0,1), lutQ uniform in [−127, 127], bias, rows N(0, 1.2). */
function data(c: Case, rng: Rng): { centroids: Float32Array; lutQ: Int8Array; bias: Float32Array; x: Float32Array } {
  const { N, C, K, V, M } = c;
  return {
    centroids: Float32Array.from({ length: C * K * V }, () => rng.normal()),
    lutQ: Int8Array.from({ length: C * K * M }, () => rng.int(255) - 127),
    bias: Float32Array.from({ length: M }, () => rng.uniform(-1, 1)),
    x: Float32Array.from({ length: N * C * V }, () => rng.normal(0, 1.2)),
  };
}

function spec(c: Case, d: ReturnType<typeof data>, extra: Partial<LutLayerSpec> = {}): LutLayerSpec {
  return { centroids: d.centroids, lutQ: d.lutQ, scale: 0.0125, bias: d.bias, ncodebooks: c.C, k: c.K, subvecLen: c.V, outFeatures: c.M, ...extra };
}

function withLayer<T>(s: LutLayerSpec, fn: (l: LutLayer) => T): T {
  const l = prepareLutLayer(s);
  try {
    return fn(l);
  } finally {
    l.dispose();
  }
}

function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

/** Relaxed builds fuse scale·acc + bias (one rounding instead of two): allow one ulp-ish there, exact otherwise. */
function assertOut(what: string, got: Float32Array, want: Float32Array): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const tol = relaxed ? 4e-7 * Math.max(1, Math.abs(want[i])) : 0;
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}[${i}]: wasm ${got[i]}, twin ${want[i]}`);
  }
}

// Edge shapes: N not a multiple of 16, M not a multiple of the 4-output tile, C above the 256-codebook int16 block,
// V = 4, 9, 16 and one above 16 (two 16-coordinate chunks), K = 16 and K < 16.
const SHAPES: Case[] = [
  { N: 1, C: 3, K: 16, V: 4, M: 1 },
  { N: 37, C: 12, K: 16, V: 9, M: 10 },
  { N: 50, C: 8, K: 16, V: 16, M: 33 },
  { N: 21, C: 300, K: 16, V: 4, M: 7 },
  { N: 17, C: 5, K: 16, V: 21, M: 8 },
  { N: 33, C: 6, K: 11, V: 9, M: 5 },
];

test('f32 encoder: codes equal the twin, the reference encoder and the training encoder (all metrics)', () => {
  const rng = new Rng(1);
  for (const c of SHAPES) {
    const d = data(c, rng);
    for (const metric of METRICS) {
      withLayer(spec(c, d, { metric }), (layer) => {
        const got = encodeLut(layer, d.x);
        const twin = encodeF32Ref(d.x, c.C * c.V, c.N, d.centroids, c.C, c.K, c.V, metric);
        assert.equal(twin.bad, -1);
        assert.equal(countDiff(got, twin.codes), 0, `${metric} ${JSON.stringify(c)} vs twin`);
        assert.equal(countDiff(got, encodeReference(d.x, d.centroids, c.C, c.K, c.V, metric)), 0, `${metric} vs distance.encode`);
        const train = encodeRows(new Tensor(d.x, [c.N, c.C * c.V]), new Tensor(d.centroids, [c.C, c.K, c.V]), { metric });
        assert.equal(countDiff(got, train), 0, `${metric} vs encodeRows`);
      });
    }
  }
});

test('int8 and wide encoders: codes equal the twins exactly (with and without calibration, V = 4, 9, 16, 21)', () => {
  const rng = new Rng(2);
  for (const c of SHAPES) {
    const d = data(c, rng);
    // Calibration on a third of x's range: many x are clamped.
    for (const calibration of [undefined, d.x, d.x.map((v) => v / 3)]) {
      for (const encoder of ['int8', 'wide'] as const) {
        withLayer(spec(c, d, { encoder, calibration }), (layer) => {
          const got = encodeLut(layer, d.x);
          const twin = encoder === 'int8'
            ? encodeInt8Ref(d.x, c.C * c.V, c.N, layer.int8!, c.C, c.K, c.V)
            : encodeWideRef(d.x, c.C * c.V, c.N, layer.wide!, c.C, c.K, c.V);
          assert.equal(twin.bad, -1);
          assert.equal(countDiff(got, twin.codes), 0, `${encoder} ${JSON.stringify(c)} calibration ${calibration !== undefined}`);
        });
      }
    }
  }
});

/** Rows drawn around the centroids (Gaussian clusters): what a trained layer's encoder sees. */
function clustered(C: number, K: number, V: number, N: number, spread: number, rng: Rng): { centroids: Float32Array; x: Float32Array } {
  const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
  const x = new Float32Array(N * C * V);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const k = rng.int(K);
      for (let v = 0; v < V; v++) x[(n * C + c) * V + v] = centroids[(c * K + k) * V + v] + rng.normal(0, spread);
    }
  }
  return { centroids, x };
}

test('int8 encoder: few codes differ from the exact f32 encoder on Gaussian-cluster data', () => {
  const rng = new Rng(3);
  for (const V of [4, 9, 16]) {
    const c: Case = { N: 512, C: 16, K: 16, V, M: 8 };
    const { centroids, x } = clustered(c.C, c.K, V, c.N, 0.5, rng);
    const d = { centroids, x, lutQ: new Int8Array(c.C * c.K * c.M), bias: new Float32Array(c.M) };
    const exact = withLayer(spec(c, d), (l) => encodeLut(l, x));
    for (const calibration of [undefined, x.subarray(0, 64 * c.C * V)]) {
      const approx = withLayer(spec(c, d, { encoder: 'int8', calibration }), (l) => encodeLut(l, x));
      const rate = countDiff(exact, approx) / exact.length;
      assert.ok(rate < 0.02, `V=${V} calibration ${calibration !== undefined}: ${(rate * 100).toFixed(2)}% of codes differ`);
    }
  }
});

test('wide encoder data (3×3 lanes convs): several times fewer codes off the exact f32 encoder than int8; null when out of range', () => {
  const rng = new Rng(4);
  const C = 16, K = 16, V = 9, N = 1024;
  const centroids = Float32Array.from({ length: C * K * V }, () => rng.normal());
  for (const amp of [0.25, 1]) {
    const x = Float32Array.from({ length: N * C * V }, () => rng.normal() * amp);
    for (const calibration of [undefined, Float32Array.from({ length: C * V }, () => 3 * amp)]) {
      const p8 = int8EncoderParams(centroids, C, K, V, calibration);
      const pw = wideEncoderParams(centroids, C, K, V, p8.xShift);
      assert.ok(pw !== null);
      const exact = encodeF32Ref(x, C * V, N, centroids, C, K, V, 'l2').codes;
      const n8 = countDiff(exact, encodeInt8Ref(x, C * V, N, p8, C, K, V).codes);
      const nw = countDiff(exact, encodeWideRef(x, C * V, N, pw, C, K, V).codes);
      const tag = `amp ${amp} calibration ${calibration !== undefined}: int8 ${n8}, wide ${nw} of ${exact.length}`;
      assert.ok(n8 > 20 && nw * 5 < n8, tag);
    }
  }
  // The finest centroid level whose keys fit: 1535 for V = 9, 1279 for V = 16, coarser for larger |x shift|; null
  // when none fits (x shift 4 needs |w| = 16·16·Q > 32767 even at Q = 255; V = 2000 overflows int32).
  const levels = (v: number, s: number): number | undefined => wideEncoderParams(new Float32Array(C * K * v).fill(1), C, K, v, new Int8Array(C).fill(s))?.levels;
  assert.deepEqual([levels(9, 0), levels(16, 0), levels(9, 2), levels(9, -3)], [1535, 1279, 511, 1023]);
  assert.equal(wideEncoderParams(centroids, C, K, V, new Int8Array(C).fill(4)), null);
  assert.equal(levels(2000, 0), undefined);
});

test('scan: exact integer sums, also past the int16 block (C = 300, all entries ±127)', () => {
  const rng = new Rng(4);
  const cases: Case[] = [...SHAPES, { N: 40, C: 513, K: 16, V: 4, M: 6 }];
  for (const c of cases) {
    const d = data(c, rng);
    const codes = Uint8Array.from({ length: c.N * c.C }, () => rng.int(c.K));
    withLayer(spec(c, d, { scale: 1, bias: null }), (layer) => {
      const got = scanLut(layer, codes);
      const acc = scanRef(codes, d.lutQ, c.N, c.C, c.K, c.M);
      for (let i = 0; i < acc.length; i++) if (got[i] !== acc[i]) assert.fail(`${JSON.stringify(c)}: sum[${i}] ${got[i]} vs ${acc[i]}`);
    });
  }
  for (const v of [127, -127]) {
    const c: Case = { N: 19, C: 300, K: 16, V: 4, M: 5 };
    const d = data(c, rng);
    d.lutQ.fill(v);
    const codes = Uint8Array.from({ length: c.N * c.C }, () => rng.int(16));
    withLayer(spec(c, d, { scale: 1, bias: null }), (layer) => {
      assert.deepEqual(Array.from(new Set(scanLut(layer, codes))), [v * 300]);
    });
  }
});

test('whole layer: equals twin (encode, integer scan, scale·acc + bias) for every encoder and metric', () => {
  const rng = new Rng(5);
  for (const c of SHAPES) {
    const d = data(c, rng);
    for (const [encoder, metric] of [['f32', 'l2'], ['f32', 'l1'], ['f32', 'chebyshev'], ['int8', 'l2'], ['wide', 'l2']] as [LutEncoderKind, Metric][]) {
      withLayer(spec(c, d, { encoder, metric }), (layer) => {
        const codes = encoder === 'f32'
          ? encodeF32Ref(d.x, c.C * c.V, c.N, d.centroids, c.C, c.K, c.V, metric).codes
          : encoder === 'int8'
            ? encodeInt8Ref(d.x, c.C * c.V, c.N, layer.int8!, c.C, c.K, c.V).codes
            : encodeWideRef(d.x, c.C * c.V, c.N, layer.wide!, c.C, c.K, c.V).codes;
        const want = finishRef(scanRef(codes, d.lutQ, c.N, c.C, c.K, c.M), c.N, c.M, layer.scale, d.bias);
        assertOut(`${encoder} ${metric} ${JSON.stringify(c)}`, runLutLayer(layer, d.x), want);
        assertOut(`scan ${JSON.stringify(c)}`, scanLut(layer, codes), want);
      });
    }
  }
});

test('whole layer: matches the training forward (lutForward, hard path, int8 table) of a LutLinear', () => {
  const rng = new Rng(6);
  for (const [D, M, V, N, metric] of [[64, 24, 16, 45, 'l2'], [72, 9, 9, 20, 'l1'], [48, 5, 4, 3, 'chebyshev']] as [number, number, number, number, Metric][]) {
    const lin = new LutLinear({ inFeatures: D, outFeatures: M, subvecLen: V, metric, rng });
    const x = Float32Array.from({ length: N * D }, () => rng.normal());
    const want = lin.forward(new Tensor(x, [N, D])).f32;
    const { table, scale } = quantizeLut(buildLut(lin.centroids, lin.weight));
    const C = D / V;
    withLayer({ centroids: lin.centroids.f32, lutQ: table.data as Int8Array, scale, bias: lin.bias!.f32, ncodebooks: C, k: 16, subvecLen: V, outFeatures: M, metric }, (layer) => {
      const got = runLutLayer(layer, x);
      let maxAbs = 0;
      for (const v of want) maxAbs = Math.max(maxAbs, Math.abs(v));
      // Same codes; the sums differ only by float rounding: Σ_c f32(q·scale) in order vs f32(scale·Σ_c q).
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(got[i] - want[i]) <= 1e-5 * maxAbs)) assert.fail(`D=${D} ${metric} out[${i}]: ${got[i]} vs lutForward ${want[i]}`);
      }
    });
  }
});

test('threads: results are bit-identical for 1, 2 and 3 threads', async () => {
  const minMacs = getParallelMinMacs();
  const prevThreads = getNumThreads();
  setNumThreads(3);
  await startWorkers(rt);
  setParallelMinMacs(0);
  try {
    const rng = new Rng(7);
    for (const c of [{ N: 100, C: 48, K: 16, V: 16, M: 70 }, { N: 9, C: 20, K: 16, V: 9, M: 300 }]) {
      const d = data(c, rng);
      for (const encoder of ['f32', 'int8'] as const) {
        withLayer(spec(c, d, { encoder }), (layer) => {
          const base = runLutLayer(layer, d.x, { threads: 1 });
          for (const threads of [2, 3]) {
            const got = runLutLayer(layer, d.x, { threads });
            assert.deepEqual(new Uint8Array(got.buffer), new Uint8Array(base.buffer), `${encoder} ${threads} threads`);
            assert.deepEqual(encodeLut(layer, d.x, { threads }), encodeLut(layer, d.x, { threads: 1 }));
          }
        });
      }
    }
  } finally {
    setParallelMinMacs(minMacs);
    setNumThreads(prevThreads);
  }
});

test('pointer-level calls: strides, own codes buffer, separate encode and scan, no heap growth', () => {
  const rng = new Rng(8);
  const c: Case = { N: 30, C: 10, K: 16, V: 9, M: 13 };
  const d = data(c, rng);
  withLayer(spec(c, d, { maxRows: 32 }), (layer) => {
    const ldx = c.C * c.V + 3;
    const ldo = c.M + 5;
    const want = runLutLayer(layer, d.x);
    rt.scoped(() => {
      const xp = rt.arena.alloc(c.N * ldx * 4);
      const op = rt.arena.alloc(c.N * ldo * 4);
      const xs = rt.f32(xp, c.N * ldx);
      for (let n = 0; n < c.N; n++) xs.set(d.x.subarray(n * c.C * c.V, (n + 1) * c.C * c.V), n * ldx);
      const heap = rt.heap.stats();
      runLutLayerPtr(layer, xp, op, c.N, { ldx, ldo });
      const out = rt.f32(op, c.N * ldo);
      for (let n = 0; n < c.N; n++) assert.deepEqual(out.slice(n * ldo, n * ldo + c.M), want.slice(n * c.M, (n + 1) * c.M));
      rt.f32(op, c.N * ldo).fill(0);
      encodeLutPtr(layer, xp, c.N, { ldx });
      scanLutPtr(layer, op, c.N, { ldo });
      for (let n = 0; n < c.N; n++) assert.deepEqual(rt.f32(op + n * ldo * 4, c.M), want.slice(n * c.M, (n + 1) * c.M));
      assert.deepEqual(rt.heap.stats(), heap);
    });
    assert.equal(lutCodesBytes(c.N, c.C), 2 * 16 * c.C);
  });
});

test('non-finite and huge inputs: NonFiniteError naming the row and codebook; huge finite rows still encode exactly', () => {
  const rng = new Rng(9);
  const c: Case = { N: 20, C: 4, K: 16, V: 9, M: 6 };
  const d = data(c, rng);
  for (const encoder of ['f32', 'int8', 'wide'] as const) {
    withLayer(spec(c, d, { encoder }), (layer) => {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const x = d.x.slice();
        x[13 * c.C * c.V + 2 * c.V + 5] = bad;
        assert.throws(() => runLutLayer(layer, x), (e: Error) => e instanceof NonFiniteError && /row 13, codebook 2/.test(e.message), `${encoder} ${bad}`);
      }
      if (encoder !== 'f32') {
        // |x·inv| beyond the int16 range takes the exact scalar path: codes still equal the twin.
        const x = d.x.slice();
        x[7 * c.C * c.V + 3] = 1e30;
        x[8 * c.C * c.V + 20] = -4e6;
        const twin = encoder === 'int8'
          ? encodeInt8Ref(x, c.C * c.V, c.N, layer.int8!, c.C, c.K, c.V)
          : encodeWideRef(x, c.C * c.V, c.N, layer.wide!, c.C, c.K, c.V);
        assert.equal(countDiff(encodeLut(layer, x), twin.codes), 0, encoder);
      }
    });
  }
});

test('bad arguments are rejected with clear errors; dispose frees the heap', () => {
  const rng = new Rng(10);
  const c: Case = { N: 4, C: 2, K: 16, V: 4, M: 3 };
  const d = data(c, rng);
  const before = rt.heap.stats().liveBlocks;
  const bad = (extra: Partial<LutLayerSpec>, type: new (...a: never[]) => Error, re: RegExp): void => {
    assert.throws(() => prepareLutLayer(spec(c, d, extra)), (e: Error) => e instanceof type && re.test(e.message), re.source);
  };
  bad({ k: 17 }, ArgumentError, /prepareLutLayer: k must be an integer in \[1, 16\], got 17/);
  bad({ ncodebooks: 0 }, ArgumentError, /ncodebooks must be an integer/);
  bad({ lutQ: new Int8Array(5) }, ShapeError, /lutQ length 5 vs C·K·M = 2·16·3 = 96/);
  bad({ lutQ: new Int8Array(96).fill(-128) }, ArgumentError, /lutQ\[0\] is -128/);
  bad({ lutQ: new Uint8Array(96) as unknown as Int8Array }, DTypeError, /lutQ must be an Int8Array/);
  bad({ centroids: new Float32Array(7) }, ShapeError, /centroids length 7 vs C·K·V/);
  bad({ centroids: new Float32Array(128).fill(NaN) }, NonFiniteError, /centroids\[0\] is NaN/);
  bad({ scale: 0 }, ArgumentError, /scale must be a finite number > 0, got 0/);
  bad({ bias: new Float32Array(2) }, ShapeError, /bias length 2 vs outFeatures 3/);
  bad({ metric: 'cosine' as Metric }, ArgumentError, /metric must be one of l2, l1, chebyshev, got cosine/);
  bad({ encoder: 'int4' as LutEncoderKind }, ArgumentError, /encoder must be f32, int8 or wide, got int4/);
  bad({ encoder: 'wide', metric: 'chebyshev' }, ArgumentError, /wide encoder supports metric l2 only, got chebyshev/);
  bad({ encoder: 'wide', subvecLen: 2000, centroids: new Float32Array(c.C * c.K * 2000).fill(1) }, ArgumentError, /wide encoder keys could overflow/);
  bad({ encoder: 'int8', metric: 'l1' }, ArgumentError, /int8 encoder supports metric l2 only, got l1/);
  bad({ calibration: d.x }, ArgumentError, /calibration applies to the int8 encoder only/);
  bad({ encoder: 'int8', calibration: new Float32Array(5) }, ShapeError, /calibration length 5 is not a positive multiple of D = 8/);
  assert.equal(rt.heap.stats().liveBlocks, before);

  const layer = prepareLutLayer(spec(c, d, { maxRows: 16 }));
  assert.ok(rt.heap.stats().liveBlocks > before);
  assert.throws(() => runLutLayer(layer, new Float32Array(7)), /runLutLayer: x length 7 is not a multiple of D = C·V = 2·4 = 8/);
  assert.throws(() => scanLut(layer, Uint8Array.of(3, 16)), /scanLut: codes\[1\] is 16, expected < k = 16/);
  assert.throws(() => runLutLayerPtr(layer, 0, 0, 17), /17 rows exceed the layer's codes buffer of 16 rows; call reserveRows\(17\)/);
  assert.throws(() => runLutLayerPtr(layer, 64, 1 << 20, 2), /runLutLayer: x \[64, 128\) is not inside the kernels' heap\/arena memory/);
  assert.throws(() => runLutLayerPtr(layer, 1 << 20, 1 << 20, 2, { ldx: 3 }), /ldx must be an integer >= D = 8, got 3/);
  assert.throws(() => runLutLayerPtr(layer, 1 << 20, 1 << 20, 2.5), /N must be an integer >= 0, got 2.5/);
  assert.throws(() => runLutLayer(layer, d.x, { threads: 0 }), /threads must be an integer in \[1, 64\], got 0/);
  layer.reserveRows(100);
  assert.equal(layer.rowsCapacity, 112);
  layer.dispose();
  layer.dispose();
  assert.equal(rt.heap.stats().liveBlocks, before);
  assert.throws(() => runLutLayer(layer, d.x), /runLutLayer: the LUT layer was disposed/);
});
