// LUT-NN inference layers on the wasm kernels: prepared (resident) layers, encode / scan / run entry points, threads.
//
// A prepared layer holds, on the wasm heap, everything the kernels read (assembly/lut-infer.ts has the layouts):
// the encoder's centroids (f32 transposed, or int8 with per-codebook keys), the scan tables [ceil(M/4)][C][4][16]
// (lutQ + 128) and the bias, plus a codes buffer for `rowsCapacity` rows. The pointer-level calls (…Ptr) take rows
// x [N][ldx] and out [N][ldo] already in wasm memory and allocate nothing; the Float32Array calls copy through the
// arena (tests, tools). Work is split over the worker pool in row blocks (encode) and row-block × output-tile tasks
// (scan); every output is summed by one task in codebook order, so results do not depend on the thread count.
import { LAYOUT } from '../backend/layout.js';
import { getParallelMinMacs, runJob, threadsFor } from '../backend/pool.js';
import { wasmRuntime, wasmLoadError, type WasmRuntime } from '../backend/wasm.js';
import { ArgumentError, BackendError, DTypeError, NonFiniteError, ShapeError } from '../errors.js';
import { checkMetric, type Metric } from '../backend/metric.js';
import { certifyParams, int8EncoderParams, wideEncoderParams, type CertifyParams, type Int8EncoderParams, type WideEncoderParams } from './lut-kernels-ref.js';

export type LutEncoderKind = 'f32' | 'int8' | 'wide';

/** What a LUT layer is made of (the names of the LUT-NN paper; shapes in brackets). */
export interface LutLayerSpec {
  /** [C, K, V] */
  centroids: Float32Array;
  /** The int8 table [C, K, M], |entries| <= 127 (see quantizeLut in src/ops/lut.ts). */
  lutQ: Int8Array;
  /** lut ≈ lutQ·scale (finite, > 0). */
  scale: number;
  /** [M] or null. */
  bias?: Float32Array | null;
  ncodebooks: number;
  /** Centroids per codebook, 1..16. */
  k: number;
  subvecLen: number;
  outFeatures: number;
  /** Default 'l2'. */
  metric?: Metric;
  /**
   * 'f32' (default): exact codes. 'int8': int8 distances (l2 only), faster, may pick other codes near ties. 'wide'
   * (l2 only): integer distances at 12-bit x and 10-bit centroids (encodeWideRef), about ten times fewer codes off
   * 'f32' than 'int8'; as fast as 'int8' on the plain build, slower on the relaxed one (i16 instead of int8 dots).
   */
  encoder?: LutEncoderKind;
  /** Rows the layer's own codes buffer holds (default 256; reserveRows grows it). */
  maxRows?: number;
  /** int8 only: rows [n, D] of typical input; their per-codebook max |x| sets the x scales (default: 2× centroid range). */
  calibration?: Float32Array;
}

/** Per-call options of the pointer-level entry points. */
export interface LutCallOptions {
  /** Threads at most (default: the pool's setting); small calls run on the calling thread alone. */
  threads?: number;
  /** Row stride of x in floats (default D). */
  ldx?: number;
  /** Row stride of out in floats (default M). */
  ldo?: number;
  /** Codes buffer (lutCodesBytes(N, C) bytes) instead of the layer's own. */
  codesPtr?: number;
}

interface LutInferExports {
  LUT_ROWS: WebAssembly.Global;
  LUT_TILE_M: WebAssembly.Global;
  LUT_CBLOCK: WebAssembly.Global;
  LUT_RELAXED: WebAssembly.Global;
}

const ROWS = 16;
const TILE_M = 4;
const MAX_CODEBOOKS = 1 << 16; // keeps |Σ_c lutQ| < 2^24, exact in f32 and far inside i32

/** Bytes of a codes buffer for N rows of C codebooks ([ceil(N/16)][C][16]). */
export function lutCodesBytes(N: number, C: number): number {
  return Math.ceil(N / ROWS) * C * ROWS;
}

/** The kernels' runtime, checked to carry the LUT inference kernels with the constants this file assumes. */
function lutRuntime(op: string): WasmRuntime {
  const rt = wasmRuntime();
  if (!rt) throw wasmLoadError() ?? new BackendError(`${op}: the wasm kernels did not load`);
  const ex = rt.ex as unknown as Partial<LutInferExports>;
  const g = (v: WebAssembly.Global | undefined): number | undefined => (v instanceof WebAssembly.Global ? (v.value as number) : undefined);
  if (g(ex.LUT_ROWS) !== ROWS || g(ex.LUT_TILE_M) !== TILE_M || g(ex.LUT_CBLOCK) === undefined) {
    throw new BackendError(`${op}: build/kernels.wasm lacks the LUT inference kernels or disagrees with src/runtime/lut-kernels.ts; run npm run build:wasm`);
  }
  if ((g(ex.LUT_RELAXED) === 1) !== (rt.variant === 'relaxed')) throw new BackendError(`${op}: ${rt.path} is not the ${rt.variant} build`);
  return rt;
}

function posInt(op: string, name: string, v: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) {
    throw new ArgumentError(`${op}: ${name} must be an integer in [1, ${max}], got ${String(v)}`);
  }
  return v;
}

const f32Bits = (v: number): number => new Int32Array(Float32Array.of(v).buffer)[0];

/** A LUT layer resident in wasm memory; dispose() frees it. */
export class LutLayer {
  readonly C: number;
  readonly K: number;
  readonly V: number;
  readonly D: number;
  readonly M: number;
  readonly metric: Metric;
  readonly encoder: LutEncoderKind;
  readonly scale: number;
  /** The int8 encoder's parameters (null for f32): the twin encodeInt8Ref takes them. */
  readonly int8: Int8EncoderParams | null;
  /** The wide variant of the int8 encoder (12-bit x, 10-bit centroids) that 3×3 direct convs use; null for f32 or when out of range. */
  readonly wide: WideEncoderParams | null;
  /**
   * f32 l2 layers: the wide data and their error bounds, with which 3×3 direct convs run the certified encoder (integer
   * keys, near-ties re-encoded in f32: the f32 codes); null otherwise.
   */
  readonly certify: CertifyParams | null;
  readonly rt: WasmRuntime;
  private cent = 0;
  private aux = 0;
  private table = 0;
  private bias = 0;
  private codes = 0;
  private capacity = 0;
  private live = true;

  /** Use prepareLutLayer(). */
  constructor(rt: WasmRuntime, s: Required<Pick<LutLayerSpec, 'centroids' | 'lutQ' | 'scale' | 'ncodebooks' | 'k' | 'subvecLen' | 'outFeatures'>>, bias: Float32Array | null, metric: Metric, encoder: LutEncoderKind, maxRows: number, int8: Int8EncoderParams | null, wide: WideEncoderParams | null = null, certify: CertifyParams | null = null) {
    this.rt = rt;
    this.wide = wide;
    this.certify = certify;
    this.C = s.ncodebooks;
    this.K = s.k;
    this.V = s.subvecLen;
    this.D = this.C * this.V;
    this.M = s.outFeatures;
    this.metric = metric;
    this.encoder = encoder;
    this.scale = Math.fround(s.scale);
    this.int8 = int8;
    const { C, K, V, M } = this;
    const heap = rt.heap;
    try {
      // Encoder data.
      if (int8) {
        const relaxed = rt.variant === 'relaxed' && encoder === 'int8';
        const w = encoder === 'wide' ? wide : null;
        // Coordinates per group: byte quads (relaxed dot) or i16 pairs (dot_i16x8_s; the wide data in both builds).
        const per = relaxed ? 4 : 2;
        const groups = Math.ceil(V / per);
        this.cent = heap.alloc(C * groups * 64);
        const u8 = new Uint8Array(rt.memory.buffer, this.cent, C * groups * 64);
        const i16 = new Int16Array(rt.memory.buffer, this.cent, C * groups * 32);
        u8.fill(0);
        // [C][group q][g][kk][per]: centroid k = 4g + kk, coordinate v = per·q + i, as u = cq + 64 or the wide w (0 when padded).
        for (let c = 0; c < C; c++) {
          for (let q = 0; q < groups; q++) {
            for (let k = 0; k < K; k++) {
              for (let i = 0; i < per; i++) {
                const v = q * per + i;
                if (v >= V) continue;
                const u = w ? w.w[(c * K + k) * V + v] : int8.cq[(c * K + k) * V + v] + 64;
                const at = (((c * groups + q) * 4 + (k >> 2)) * 4 + (k & 3)) * per + i;
                if (relaxed) u8[at] = u;
                else i16[at] = u;
              }
            }
          }
        }
        this.aux = heap.alloc(C * 72);
        new Int32Array(rt.memory.buffer, this.aux, C * 16).set(w ? w.base : int8.base);
        new Float32Array(rt.memory.buffer, this.aux + C * 64, C).set(w ? w.inv : int8.inv);
        // The int8 encoder's key shifts; the wide one's x clamp qmax instead.
        new Int32Array(rt.memory.buffer, this.aux + C * 68, C).set(w ? new Int32Array(C).fill(w.qmax) : int8.keyShift);
      } else {
        this.cent = heap.alloc(C * V * 64);
        const t = new Float32Array(rt.memory.buffer, this.cent, C * V * 16);
        // [C][V][16]: coordinate v of centroid k; +Inf for k >= K (never nearer than a real centroid).
        for (let c = 0; c < C; c++) {
          for (let v = 0; v < V; v++) {
            for (let k = 0; k < 16; k++) t[(c * V + v) * 16 + k] = k < K ? s.centroids[(c * K + k) * V + v] : Infinity;
          }
        }
      }
      // Scan tables [MT][C][4][16] as lutQ + 128; padded outputs and k >= K hold 128 (= 0).
      const MT = Math.ceil(M / TILE_M);
      this.table = heap.alloc(MT * C * 64);
      const tab = new Uint8Array(rt.memory.buffer, this.table, MT * C * 64);
      tab.fill(128);
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < K; k++) {
          const row = (c * K + k) * M;
          for (let m = 0; m < M; m++) tab[(((m >> 2) * C + c) * 4 + (m & 3)) * 16 + k] = s.lutQ[row + m] + 128;
        }
      }
      if (bias) {
        this.bias = heap.alloc(MT * 16);
        const b = new Float32Array(rt.memory.buffer, this.bias, MT * 4);
        b.fill(0);
        b.set(bias);
      }
      this.reserveRows(maxRows);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Rows the layer's own codes buffer holds. */
  get rowsCapacity(): number {
    return this.capacity;
  }

  /** Grows the codes buffer to hold N rows (a heap allocation: call it outside kernel scopes, e.g. when planning). */
  reserveRows(N: number): void {
    this.check('reserveRows');
    posInt('LutLayer.reserveRows', 'N', N);
    if (N <= this.capacity) return;
    const rows = Math.ceil(N / ROWS) * ROWS;
    const p = this.rt.heap.alloc(lutCodesBytes(rows, this.C));
    new Uint8Array(this.rt.memory.buffer, p, lutCodesBytes(rows, this.C)).fill(0);
    if (this.codes) this.rt.heap.free(this.codes);
    this.codes = p;
    this.capacity = rows;
  }

  /** The layer's codes buffer (valid until reserveRows grows it). */
  get codesPtr(): number {
    this.check('codesPtr');
    return this.codes;
  }

  /** Frees the layer's heap blocks (idempotent). */
  dispose(): void {
    if (!this.live) return;
    this.live = false;
    for (const p of [this.cent, this.aux, this.table, this.bias, this.codes]) if (p) this.rt.heap.free(p);
  }

  get disposed(): boolean {
    return !this.live;
  }

  /** @internal */
  check(op: string): void {
    if (!this.live) throw new ArgumentError(`${op}: the LUT layer was disposed`);
  }

  /** @internal Descriptor fields of this layer. */
  ptrs(): { cent: number; aux: number; table: number; bias: number; codes: number } {
    return { cent: this.cent, aux: this.aux, table: this.table, bias: this.bias, codes: this.codes };
  }
}

/** Validates a layer spec and places it in wasm memory (not inside a kernel scope: it allocates heap blocks). */
export function prepareLutLayer(spec: LutLayerSpec): LutLayer {
  const op = 'prepareLutLayer';
  if (spec === null || typeof spec !== 'object') throw new ArgumentError(`${op}: expected a spec object`);
  const C = posInt(op, 'ncodebooks', spec.ncodebooks, MAX_CODEBOOKS);
  const K = posInt(op, 'k', spec.k, 16);
  const V = posInt(op, 'subvecLen', spec.subvecLen, 4096);
  const M = posInt(op, 'outFeatures', spec.outFeatures, 1 << 24);
  const metric = checkMetric(op, spec.metric ?? 'l2');
  const encoder = spec.encoder ?? 'f32';
  if (encoder !== 'f32' && encoder !== 'int8' && encoder !== 'wide') throw new ArgumentError(`${op}: encoder must be f32, int8 or wide, got ${String(encoder)}`);
  if (encoder !== 'f32' && metric !== 'l2') throw new ArgumentError(`${op}: the ${encoder} encoder supports metric l2 only, got ${metric}`);
  const maxRows = spec.maxRows === undefined ? 256 : posInt(op, 'maxRows', spec.maxRows);
  const { centroids, lutQ } = spec;
  if (!(centroids instanceof Float32Array)) throw new DTypeError(`${op}: centroids must be a Float32Array`);
  if (centroids.length !== C * K * V) throw new ShapeError(`${op}: centroids length ${centroids.length} vs C·K·V = ${C}·${K}·${V} = ${C * K * V}`);
  for (let i = 0; i < centroids.length; i++) {
    if (!Number.isFinite(centroids[i])) throw new NonFiniteError(`${op}: centroids[${i}] is ${centroids[i]}, expected finite`);
  }
  if (!(lutQ instanceof Int8Array)) throw new DTypeError(`${op}: lutQ must be an Int8Array`);
  if (lutQ.length !== C * K * M) throw new ShapeError(`${op}: lutQ length ${lutQ.length} vs C·K·M = ${C}·${K}·${M} = ${C * K * M}`);
  for (let i = 0; i < lutQ.length; i++) {
    if (lutQ[i] === -128) throw new ArgumentError(`${op}: lutQ[${i}] is -128, expected |entries| <= 127 (symmetric int8)`);
  }
  if (typeof spec.scale !== 'number' || !Number.isFinite(spec.scale) || !(spec.scale > 0)) {
    throw new ArgumentError(`${op}: scale must be a finite number > 0, got ${String(spec.scale)}`);
  }
  const bias = spec.bias ?? null;
  if (bias !== null) {
    if (!(bias instanceof Float32Array)) throw new DTypeError(`${op}: bias must be a Float32Array or null`);
    if (bias.length !== M) throw new ShapeError(`${op}: bias length ${bias.length} vs outFeatures ${M}`);
    for (let i = 0; i < M; i++) if (!Number.isFinite(bias[i])) throw new NonFiniteError(`${op}: bias[${i}] is ${bias[i]}, expected finite`);
  }
  let int8: Int8EncoderParams | null = null;
  let wide: WideEncoderParams | null = null;
  if (encoder !== 'f32') {
    let xAbsMax: Float32Array | undefined;
    const cal = spec.calibration;
    if (cal !== undefined) {
      if (!(cal instanceof Float32Array)) throw new DTypeError(`${op}: calibration must be a Float32Array of rows [n, ${C * V}]`);
      if (cal.length === 0 || cal.length % (C * V) !== 0) throw new ShapeError(`${op}: calibration length ${cal.length} is not a positive multiple of D = ${C * V}`);
      xAbsMax = new Float32Array(C);
      for (let i = 0; i < cal.length; i++) {
        const a = Math.abs(cal[i]);
        if (!Number.isFinite(a)) throw new NonFiniteError(`${op}: calibration[${i}] is ${cal[i]}, expected finite`);
        const c = Math.floor((i % (C * V)) / V);
        if (a > xAbsMax[c]) xAbsMax[c] = a;
      }
    }
    try {
      int8 = int8EncoderParams(centroids, C, K, V, xAbsMax);
      wide = wideEncoderParams(centroids, C, K, V, int8.xShift);
    } catch (e) {
      throw new ArgumentError(`${op}: ${(e as Error).message}; use the f32 encoder`);
    }
    if (encoder === 'wide' && !wide) {
      throw new ArgumentError(`${op}: wide encoder keys could overflow int32 for subvecLen ${V} (or the x range is over 8x the centroids'); use the int8 or f32 encoder`);
    }
  } else if (spec.calibration !== undefined) {
    throw new ArgumentError(`${op}: calibration applies to the int8 encoder only`);
  }
  let certify: CertifyParams | null = null;
  if (encoder === 'f32' && metric === 'l2' && K <= 16) {
    wide = wideEncoderParams(centroids, C, K, V, new Int8Array(C));
    if (wide) certify = certifyParams(wide, centroids, C, K, V);
  }
  const rt = lutRuntime(op);
  return new LutLayer(rt, { centroids, lutQ, scale: spec.scale, ncodebooks: C, k: K, subvecLen: V, outFeatures: M }, bias, metric, encoder, maxRows, int8, wide, certify);
}

// ---------------------------------------------------------------- jobs

/** Task split of one call: threads, row blocks per encode task, row blocks and tiles per scan task. */
interface Split {
  threads: number;
  erowb: number;
  etasks: number;
  srowb: number;
  stiles: number;
  stasks: number;
}

/** Codes of one scan task's rows are kept under this many bytes (they are re-read once per output tile). */
const SCAN_CODES_BYTES = 1 << 17;

function split(layer: LutLayer, N: number, opts: LutCallOptions, encode: boolean, scan: boolean): Split {
  const NB = Math.ceil(N / ROWS);
  const MT = Math.ceil(layer.M / TILE_M);
  // Work in multiply-adds: N·D·16 for the encoder, one per lookup for the scan (the pool's threshold unit).
  const work = (encode ? N * layer.D * 16 : 0) + (scan ? N * layer.C * layer.M : 0);
  let threads: number;
  if (opts.threads !== undefined) {
    posInt('lut layer', 'threads', opts.threads, LAYOUT.MAX_THREADS);
    threads = work < getParallelMinMacs() ? 1 : opts.threads;
  } else {
    threads = threadsFor(work, Math.max(NB, MT));
  }
  let srowb = Math.max(1, Math.min(NB, Math.floor(SCAN_CODES_BYTES / (layer.C * ROWS * ROWS))));
  if (threads === 1) return { threads, erowb: NB, etasks: 1, srowb, stiles: MT, stasks: Math.ceil(NB / srowb) };
  // About four tasks per thread, so the claim order balances uneven progress.
  const want = 4 * threads;
  const erowb = Math.max(1, Math.ceil(NB / want));
  srowb = Math.min(srowb, Math.max(1, Math.ceil(NB / want)));
  const nrt = Math.ceil(NB / srowb);
  const stiles = nrt >= want ? MT : Math.max(1, Math.ceil(MT / Math.ceil(want / nrt)));
  return { threads, erowb, etasks: Math.ceil(NB / erowb), srowb, stiles, stasks: nrt * Math.ceil(MT / stiles) };
}

const ENC_CODE: Record<Metric, number> = { l2: 0, l1: 1, chebyshev: 2 };
/** ENC of the integer encoders (assembly/lut-infer.ts): 3 int8, 4 wide; the f32 encoder's is its metric's. */
const ENC_KIND: Partial<Record<LutEncoderKind, number>> = { int8: 3, wide: 4 };

function checkSpan(op: string, rt: WasmRuntime, name: string, ptr: number, bytes: number): void {
  if (!Number.isInteger(ptr) || ptr < LAYOUT.ARENA || ptr + bytes > rt.memory.buffer.byteLength) {
    throw new ArgumentError(`${op}: ${name} [${ptr}, ${ptr + bytes}) is not inside the kernels' heap/arena memory [${LAYOUT.ARENA}, ${rt.memory.buffer.byteLength})`);
  }
}

/** Runs encode and/or scan for N rows as one pool job; throws NonFiniteError for non-finite input. */
function runLut(op: string, layer: LutLayer, xPtr: number, outPtr: number, N: number, opts: LutCallOptions, encode: boolean, scan: boolean): void {
  layer.check(op);
  if (opts === null || typeof opts !== 'object') throw new ArgumentError(`${op}: options must be an object`);
  if (!Number.isInteger(N) || N < 0) throw new ArgumentError(`${op}: N must be an integer >= 0, got ${N}`);
  if (N === 0) return;
  const { rt, C, D, M } = layer;
  const ldx = opts.ldx ?? D;
  const ldo = opts.ldo ?? M;
  if (!Number.isInteger(ldx) || ldx < D) throw new ArgumentError(`${op}: ldx must be an integer >= D = ${D}, got ${ldx}`);
  if (!Number.isInteger(ldo) || ldo < M) throw new ArgumentError(`${op}: ldo must be an integer >= M = ${M}, got ${ldo}`);
  let codes = layer.ptrs().codes;
  if (opts.codesPtr !== undefined) {
    checkSpan(op, rt, 'codes', opts.codesPtr, lutCodesBytes(N, C));
    codes = opts.codesPtr;
  } else if (N > layer.rowsCapacity) {
    throw new ArgumentError(`${op}: ${N} rows exceed the layer's codes buffer of ${layer.rowsCapacity} rows; call reserveRows(${N}) first or pass codesPtr`);
  }
  if (encode) checkSpan(op, rt, 'x', xPtr, ((N - 1) * ldx + D) * 4);
  if (scan) checkSpan(op, rt, 'out', outPtr, ((N - 1) * ldo + M) * 4);
  const s = split(layer, N, opts, encode, scan);
  const p = layer.ptrs();
  rt.job.reset().lut({
    N, C, V: layer.V, M, X: xPtr, LDX: ldx, CODES: codes, ENC: ENC_KIND[layer.encoder] ?? ENC_CODE[layer.metric],
    CENT: p.cent, AUX: p.aux, TABLE: p.table, SCALE: f32Bits(layer.scale), BIAS: p.bias, OUT: outPtr, LDO: ldo,
    EROWB: s.erowb, SROWB: s.srowb, STILES: s.stiles,
  });
  if (encode) rt.job.phase(LAYOUT.K_LUT_ENCODE, s.etasks);
  if (scan) rt.job.phase(LAYOUT.K_LUT_SCAN, s.stasks);
  runJob(rt, s.threads);
  if (encode) {
    const bad = rt.job.lutError();
    if (bad >= 0) {
      const n = Math.floor(bad / C);
      throw new NonFiniteError(`${op}: row ${n}, codebook ${bad % C} of x has no finite distance to the centroids (NaN, Inf or overflow in x[${n}, ${(bad % C) * layer.V}..${(bad % C + 1) * layer.V})), expected finite`);
    }
  }
}

/** out [N][ldo] = the layer on rows x [N][ldx] (pointers into wasm memory; no allocation). */
export function runLutLayerPtr(layer: LutLayer, xPtr: number, outPtr: number, N: number, opts: LutCallOptions = {}): void {
  runLut('runLutLayer', layer, xPtr, outPtr, N, opts, true, true);
}

/** Codes of rows x [N][ldx] into the layer's codes buffer (or opts.codesPtr), in the scan's layout. */
export function encodeLutPtr(layer: LutLayer, xPtr: number, N: number, opts: LutCallOptions = {}): void {
  runLut('encodeLut', layer, xPtr, 0, N, opts, true, false);
}

/** out [N][ldo] = scale·Σ_c lutQ[c][code] + bias from the codes in the layer's buffer (or opts.codesPtr). */
export function scanLutPtr(layer: LutLayer, outPtr: number, N: number, opts: LutCallOptions = {}): void {
  runLut('scanLut', layer, 0, outPtr, N, opts, false, true);
}

// ---------------------------------------------------------------- Float32Array conveniences

function rowsOf(op: string, layer: LutLayer, x: Float32Array): number {
  if (!(x instanceof Float32Array)) throw new DTypeError(`${op}: x must be a Float32Array`);
  if (x.length % layer.D !== 0) throw new ShapeError(`${op}: x length ${x.length} is not a multiple of D = C·V = ${layer.C}·${layer.V} = ${layer.D}`);
  return x.length / layer.D;
}

/** Reads codes [N, C] row-major from a codes buffer in the scan's layout. */
function readCodes(rt: WasmRuntime, ptr: number, N: number, C: number): Uint8Array {
  const blk = new Uint8Array(rt.memory.buffer, ptr, lutCodesBytes(N, C));
  const codes = new Uint8Array(N * C);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) codes[n * C + c] = blk[((n >> 4) * C + c) * ROWS + (n & 15)];
  return codes;
}

/** The layer on rows x [N, D] → out [N, M] (copies through the arena). */
export function runLutLayer(layer: LutLayer, x: Float32Array, opts: Pick<LutCallOptions, 'threads'> = {}): Float32Array {
  const N = rowsOf('runLutLayer', layer, x);
  const { rt, C, M } = layer;
  const out = new Float32Array(N * M);
  if (N === 0) return out;
  rt.scoped(() => {
    const xp = rt.put(x);
    const op = rt.arena.alloc(N * M * 4);
    const cp = rt.arena.alloc(lutCodesBytes(N, C));
    runLutLayerPtr(layer, xp, op, N, { threads: opts.threads, codesPtr: cp });
    rt.get(op, out);
  });
  return out;
}

/** Codes [N, C] (row-major) of rows x [N, D]. */
export function encodeLut(layer: LutLayer, x: Float32Array, opts: Pick<LutCallOptions, 'threads'> = {}): Uint8Array {
  const N = rowsOf('encodeLut', layer, x);
  const { rt, C } = layer;
  if (N === 0) return new Uint8Array(0);
  return rt.scoped(() => {
    const xp = rt.put(x);
    const cp = rt.arena.alloc(lutCodesBytes(N, C));
    encodeLutPtr(layer, xp, N, { threads: opts.threads, codesPtr: cp });
    return readCodes(rt, cp, N, C);
  });
}

/** out [N, M] from codes [N, C] (row-major, each < k). */
export function scanLut(layer: LutLayer, codes: Uint8Array, opts: Pick<LutCallOptions, 'threads'> = {}): Float32Array {
  const op = 'scanLut';
  layer.check(op);
  const { rt, C, K, M } = layer;
  if (!(codes instanceof Uint8Array)) throw new DTypeError(`${op}: codes must be a Uint8Array`);
  if (codes.length % C !== 0) throw new ShapeError(`${op}: codes length ${codes.length} is not a multiple of ncodebooks ${C}`);
  for (let i = 0; i < codes.length; i++) if (codes[i] >= K) throw new ArgumentError(`${op}: codes[${i}] is ${codes[i]}, expected < k = ${K}`);
  const N = codes.length / C;
  const out = new Float32Array(N * M);
  if (N === 0) return out;
  rt.scoped(() => {
    const cp = rt.arena.alloc(lutCodesBytes(N, C));
    const blk = new Uint8Array(rt.memory.buffer, cp, lutCodesBytes(N, C));
    blk.fill(0);
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) blk[((n >> 4) * C + c) * ROWS + (n & 15)] = codes[n * C + c];
    const op2 = rt.arena.alloc(N * M * 4);
    scanLutPtr(layer, op2, N, { threads: opts.threads, codesPtr: cp });
    rt.get(op2, out);
  });
  return out;
}

/** The threads a call of N rows would use (for benchmarks and the runtime's planning). */
export function lutThreads(layer: LutLayer, N: number, threads?: number): number {
  return split(layer, Math.max(N, 1), { threads }, true, true).threads;
}


