// Direct LUT convs (assembly/lut-conv.ts): codes read straight from zero-padded input planes, the scan writing NCHW
// planes with the epilogue, as one pool job per chunk of images. The im2row path (rows, encode + scan, rows → planes)
// stays in steps.ts as the oracle and the fallback: both give bit-identical outputs (src/runtime/lut-conv.test.ts),
// except where the integer encoders' direct form runs the wide data (3×3 int8 convs; tested against encodeWideRef).
// 3×3 f32 l2 convs run the certified encoder: integer keys, near-ties re-encoded in f32, the f32 codes exactly.
import { LAYOUT } from '../backend/layout.js';
import type { WasmRuntime } from '../backend/wasm.js';
import { BackendError } from '../errors.js';
import type { LutLayer } from './lut-kernels.js';
import type { Window } from './plan.js';

/** What a direct conv needs from its host (a subset of steps.ts KernelHost). */
interface Host {
  readonly rt: WasmRuntime;
  runJob(threads: number): void;
  threadsFor(macs: number, tasks: number): number;
}

/** Resident epilogue operands (byte pointers, 0 = absent). */
export interface EpiPtrs {
  scale: number;
  shift: number;
  relu: number;
}

/** Heap blocks the conv keeps (the step's Blocks). */
interface Alloc {
  alloc(bytes: number): number;
}

const ROWS = 16;
const MAX_C = 256; // the plane scan sums one block of <= 256 codebooks exactly in int16 (see scanTile in lut-infer.ts)
const SCAN_CODES_BYTES = 1 << 17;
const ENC_CODE = { l2: 0, l1: 1, chebyshev: 2 } as const;
const f32Bits = (v: number): number => new Int32Array(Float32Array.of(v).buffer)[0];
const align = (b: number): number => Math.ceil(b / 64) * 64;

/** Why the direct path cannot run this layer (then the im2row path does), or null. */
export function directConvUnsupported(win: Window, layer: Pick<LutLayer, 'C' | 'V' | 'encoder'>): string | null {
  if (layer.V !== win.kh * win.kw) return `subvecLen ${layer.V} is not kh·kw = ${win.kh * win.kw}`;
  if (layer.C !== win.cin) return `ncodebooks ${layer.C} is not cin = ${win.cin}`;
  if (layer.C > MAX_C) return `more than ${MAX_C} input channels`;
  if (layer.encoder !== 'f32' && win.dw !== 1) return `the ${layer.encoder} encoder reads kernel rows contiguously (dilation 1 along W)`;
  // The wide encoder's direct form is the lanes encoder (3×3); its rows encoder (im2row) takes the other kernels.
  if (layer.encoder === 'wide' && (win.kh !== 3 || win.kw !== 3)) return 'the wide encoder runs direct convs on 3×3 kernels only';
  return null;
}

/** A LUT conv layer made ready for the direct kernels (taps, int8 centroids); run() per chunk of images. */
export class DirectLutConv {
  readonly C: number;
  readonly M: number;
  readonly P: number;
  /** 16-row code blocks per image. */
  readonly bpi: number;
  readonly hp: number;
  readonly wp: number;
  /** Bytes per element of the padded planes: 4 (f32), 1 (int8, relaxed build) or 2 (int8, plain build). */
  readonly esz: number;
  /** False when the f32 encoder can read the input planes themselves (no padding). */
  readonly padded: boolean;
  /**
   * The int8 encoder: 'lanes' (8 pixels in SIMD lanes, i16 planes in both builds; 3×3 kernels) or 'pixel' (one pixel
   * at a time; any kernel; the oracle the tests compare 'lanes' with). Both give identical codes (exact integer keys).
   */
  readonly int8Encoder: 'lanes' | 'pixel' | null;
  /**
   * True when the lanes encoder runs the wide variant (layer.wide: x at 12 bits, centroids at 10 bits; codes as
   * encodeWideRef), false when it runs the int8 data (codes as encodeInt8Ref, like the pixel and row encoders).
   */
  readonly wide: boolean;
  private readonly taps: number;
  private readonly ntaps: number;
  private readonly qcent: number;
  /** The wide encoder's base [C][16] i32 and inverse x scales [C] f32 (0: the layer's int8 AUX). */
  private readonly aux: number = 0;
  /** x quantization clamp of the PAD task: xq in [−qmax − 1, qmax]. */
  private readonly qmax: number;
  /**
   * True when this f32 l2 conv runs the certified encoder: the lanes encoder on the wide data, with every sub-vector
   * whose two nearest keys are within the error bound (certifyParams) re-encoded in f32, so the codes are exactly the
   * f32 encoder's.
   */
  readonly certified: boolean;
  /** Sub-vectors the certified encoder re-encoded in f32 in the last run (0 otherwise). */
  lastRechecks = 0;

  /**
   * `opts.int8Encoder` 'pixel' forces the per-pixel int8 encoder (tests, benchmarks); 'lanes' is used where it applies.
   * `opts.wide` false keeps the lanes encoder on the int8 data (tests, benchmarks). `opts.certify` false keeps an f32
   * l2 layer on the plain f32 encoder instead of the certified one (same codes; tests, benchmarks).
   */
  constructor(rt: WasmRuntime, blocks: Alloc, readonly win: Window, readonly layer: LutLayer, readonly epi: EpiPtrs, opts: { int8Encoder?: 'lanes' | 'pixel'; wide?: boolean; certify?: boolean } = {}) {
    const why = directConvUnsupported(win, layer);
    if (why) throw new BackendError(`DirectLutConv: ${why}`); // callers check directConvUnsupported first
    const { C, K, V, M } = layer;
    this.C = C;
    this.M = M;
    this.P = win.outH * win.outW;
    this.bpi = Math.ceil(this.P / ROWS);
    this.hp = win.h + 2 * win.ph;
    this.wp = win.w + 2 * win.pw;
    const relaxed = rt.variant === 'relaxed';
    if (layer.encoder === 'wide' && opts.int8Encoder === 'pixel') throw new BackendError('DirectLutConv: the wide encoder has no per-pixel form');
    const is3x3 = win.kh === 3 && win.kw === 3 && win.dw === 1 && K <= 16;
    // The certified f32 encoder: the lanes encoder on the wide data, near-ties re-encoded in f32 (the f32 codes).
    const cert = layer.encoder === 'f32' && is3x3 && opts.certify !== false && layer.wide ? layer.certify : null;
    this.certified = cert !== null;
    const int8 = layer.int8; // null for f32 layers
    // Integer encoders on padded integer planes: int8, wide, or the certified f32 encoder.
    const integer = int8 !== null || cert !== null;
    const lanes3x3 = integer && (opts.int8Encoder !== 'pixel' || cert !== null) && is3x3;
    // A 'wide' layer and the certified encoder always run the wide data; an 'int8' one unless opts.wide is false.
    const wide = lanes3x3 && (opts.wide !== false || layer.encoder !== 'int8') ? layer.wide : null;
    // The narrow lanes data fold w = −(cq + 64)·2^shift into i16: shift <= 8 (int8EncoderParams gives 4..8).
    const lanes = wide !== null || (lanes3x3 && int8 !== null && int8.keyShift.every((s) => s <= 8));
    this.int8Encoder = int8 ? (lanes ? 'lanes' : 'pixel') : null;
    this.wide = wide !== null;
    this.qmax = wide ? wide.qmax : 127;
    this.esz = integer ? (relaxed && !lanes ? 1 : 2) : 4;
    this.padded = integer || win.ph > 0 || win.pw > 0;
    const wp = this.padded ? this.wp : win.w;
    if (!integer) {
      // Tap v = ki·KW + kj (the im2row column order) at byte offset ((ki·DH)·WP + kj·DW)·4.
      this.ntaps = V;
      this.taps = blocks.alloc(V * 4);
      const t = new Int32Array(rt.memory.buffer, this.taps, V);
      for (let ki = 0; ki < win.kh; ki++) for (let kj = 0; kj < win.kw; kj++) t[ki * win.kw + kj] = (ki * win.dh * wp + kj * win.dw) * 4;
      this.qcent = 0;
    } else if (lanes) {
      // Kernel rows ki at TAPS[ki]; QCENT [C][16 k][5 pairs][2] i16 w of taps (r0k0, r0k1), (r1k0, r1k1), (r2k0, r2k1),
      // (r0k2, r1k2), (r2k2, 0): wide w, or w = −(cq + 64)·2^shift; centroids k >= K keep w = 0 (base int32 max).
      this.ntaps = 3;
      this.taps = blocks.alloc(3 * 4);
      const t = new Int32Array(rt.memory.buffer, this.taps, 3);
      for (let ki = 0; ki < 3; ki++) t[ki] = ki * win.dh * wp * 2;
      const PAIRS = [[0, 1], [3, 4], [6, 7], [2, 5], [8, -1]];
      this.qcent = blocks.alloc(C * 16 * 20);
      const w16 = new Int16Array(rt.memory.buffer, this.qcent, C * 16 * 10).fill(0);
      const wOf = (c: number, i: number): number => (wide ? wide.w[i] : -(int8!.cq[i] + 64) * 2 ** int8!.keyShift[c]);
      for (let c = 0; c < C; c++) {
        for (let k = 0; k < K; k++) {
          const i0 = (c * K + k) * V;
          PAIRS.forEach((pr, j) => pr.forEach((v, i) => {
            if (v >= 0) w16[(c * 16 + k) * 10 + j * 2 + i] = wOf(c, i0 + v);
          }));
        }
      }
      if (wide) {
        // AUX: base [C][16] i32 (the certified encoder's exact-norm bases), inverse x scales [C] f32, and for the
        // certified encoder alpha [C] and beta [C] i32.
        this.aux = blocks.alloc(C * 76);
        new Int32Array(rt.memory.buffer, this.aux, C * 16).set(cert ? cert.base : wide.base);
        new Float32Array(rt.memory.buffer, this.aux + C * 64, C).set(wide.inv);
        if (cert) {
          new Int32Array(rt.memory.buffer, this.aux + C * 68, C).set(cert.alpha);
          new Int32Array(rt.memory.buffer, this.aux + C * 72, C).set(cert.beta);
        }
      }
    } else {
      // Groups of `per` consecutive taps of one kernel row (byte quads or i16 pairs); u = cq + 64, 0 past the row.
      const per = relaxed ? 4 : 2;
      const G = Math.ceil(win.kw / per);
      this.ntaps = win.kh * G;
      this.taps = blocks.alloc(this.ntaps * 4);
      const t = new Int32Array(rt.memory.buffer, this.taps, this.ntaps);
      for (let ki = 0; ki < win.kh; ki++) for (let g = 0; g < G; g++) t[ki * G + g] = (ki * win.dh * wp + g * per) * this.esz;
      const bytes = C * this.ntaps * 64;
      this.qcent = blocks.alloc(bytes);
      const u8 = new Uint8Array(rt.memory.buffer, this.qcent, bytes);
      const i16 = new Int16Array(rt.memory.buffer, this.qcent, bytes / 2);
      u8.fill(0);
      for (let c = 0; c < C; c++) {
        for (let ki = 0; ki < win.kh; ki++) {
          for (let g = 0; g < G; g++) {
            const q = ki * G + g;
            for (let k = 0; k < K; k++) {
              for (let i = 0; i < per; i++) {
                const kj = g * per + i;
                if (kj >= win.kw) continue;
                const u = int8!.cq[(c * K + k) * V + ki * win.kw + kj] + 64;
                const at = (((c * this.ntaps + q) * 4 + (k >> 2)) * 4 + (k & 3)) * per + i;
                if (relaxed) u8[at] = u;
                else i16[at] = u;
              }
            }
          }
        }
      }
    }
  }

  /** Scratch bytes of a chunk of nb images: padded planes (+ slack) and codes. */
  scratchBytes(nb: number): number {
    const planes = this.padded ? align(nb * this.C * this.hp * this.wp * this.esz + 64) : 0;
    return planes + align(nb * this.bpi * this.C * ROWS);
  }

  /** Scratch bytes per image (for chunk sizing). */
  get bytesPerImage(): number {
    return (this.padded ? this.C * this.hp * this.wp * this.esz : 0) + this.bpi * this.C * ROWS;
  }

  /**
   * y [nb][M][OH·OW] = act(epilogue(conv(x))) for x [nb][cin][H][W] (byte pointers), using `scratch`
   * (scratchBytes(nb) bytes). Returns false when a task met a non-finite value (NaN/Inf in x or overflow): the caller
   * then runs the im2row path, which reports the exact row and codebook.
   */
  run(host: Host, nb: number, x: number, y: number, scratch: number): boolean {
    const { rt } = host;
    const { win, layer, C, M, bpi } = this;
    const p = layer.ptrs();
    const nblk = nb * bpi;
    const MT = Math.ceil(M / 4);
    const xp = this.padded ? scratch : x;
    const codes = scratch + (this.padded ? align(nb * C * this.hp * this.wp * this.esz + 64) : 0);
    const work = nblk * ROWS * C * (layer.K * layer.V + M);
    const threads = host.threadsFor(work, nblk);
    let srowb = Math.max(1, Math.min(nblk, Math.floor(SCAN_CODES_BYTES / (C * ROWS * ROWS))));
    let ppt = nb;
    let erowb = nblk;
    let stiles = MT;
    if (threads > 1) {
      const want = 4 * threads;
      ppt = Math.max(1, Math.ceil(nb / want));
      erowb = Math.max(1, Math.ceil(nblk / want));
      srowb = Math.min(srowb, Math.max(1, Math.ceil(nblk / want)));
      const nrt = Math.ceil(nblk / srowb);
      stiles = nrt >= want ? MT : Math.max(1, Math.ceil(MT / Math.ceil(want / nrt)));
    }
    const stasks = Math.ceil(nblk / srowb) * Math.ceil(MT / stiles);
    rt.job.reset().lut({
      N: nblk * ROWS, C, V: layer.V, M, X: 0, LDX: layer.D, CODES: codes, ENC: this.esz < 4 ? 3 : ENC_CODE[layer.metric],
      CENT: p.cent, AUX: this.aux || p.aux, TABLE: p.table, SCALE: f32Bits(layer.scale), BIAS: p.bias, OUT: 0, LDO: M,
      EROWB: erowb, SROWB: srowb, STILES: stiles,
    }).rt({
      NB: nb, C, H: win.h, W: win.w, KH: win.kh, KW: win.kw, SH: win.sh, SW: win.sw, PH: win.ph, PW: win.pw, DH: win.dh, DW: win.dw,
      OH: win.outH, OW: win.outW, X: x, XP: xp, HP: this.padded ? this.hp : win.h, WP: this.padded ? this.wp : win.w, BPI: bpi,
      TAPS: this.taps, NTAPS: this.ntaps, QCENT: this.qcent, ESCALE: this.epi.scale, ESHIFT: this.epi.shift, RELU: this.epi.relu,
      Y: y, PPT: ppt, MODE: this.int8Encoder === 'lanes' || this.certified ? 0 : 1, QMAX: this.qmax,
      FCENT: this.certified ? p.cent : 0,
    });
    if (this.padded) rt.job.phase(LAYOUT.K_RT_PAD, Math.ceil(nb / ppt));
    rt.job.phase(LAYOUT.K_RT_CONV_ENCODE, Math.ceil(nblk / erowb)).phase(LAYOUT.K_RT_CONV_SCAN, stasks);
    host.runJob(threads);
    this.lastRechecks = rt.job.rtChecks();
    return rt.job.rtFlag() === 0;
  }

  /** Codes [nb·P, C] (row-major, rows in (b, oy, ox) order) left in `scratch` by the last run of nb images (tests). */
  readCodes(rt: WasmRuntime, nb: number, scratch: number): Uint8Array {
    const { C, P, bpi } = this;
    const codes = scratch + (this.padded ? align(nb * C * this.hp * this.wp * this.esz + 64) : 0);
    const blk = new Uint8Array(rt.memory.buffer, codes, nb * bpi * C * ROWS);
    const out = new Uint8Array(nb * P * C);
    for (let b = 0; b < nb; b++) {
      for (let pix = 0; pix < P; pix++) {
        const r = b * bpi * ROWS + pix;
        for (let c = 0; c < C; c++) out[(b * P + pix) * C + c] = blk[((r >> 4) * C + c) * ROWS + (r & 15)];
      }
    }
    return out;
  }
}
