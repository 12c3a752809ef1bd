// TypeScript mirror of assembly/layout.ts (shared-memory layout, descriptor fields) and the job writer.
import { BackendError } from '../errors.js';

/** Numbers the kernels export as globals; `checkLayout` verifies this copy at load time. (Tile sizes are not
 * mirrored: `readTiles` takes them from the kernels, which own them.) */
export const LAYOUT = {
  CTRL: 16384,
  ARENA: 32768,
  C_WAKE: 0,
  C_DONE: 4,
  C_TICKET: 8,
  C_NTOTAL: 16,
  C_NPHASES: 20,
  PHASES: 64,
  PHASE_BYTES: 8,
  MAX_PHASES: 16,
  GEMM: 256,
  CONV: 512,
  LUT: 640,
  TILES: 1024,
  MAX_THREADS: 64,
  STATS: 9216,
  READY: 9472,
  K_PACK_A: 1,
  K_PACK_B: 2,
  K_TILES: 3,
  K_IM2COL: 4,
  K_COL2IM: 5,
  K_BIAS_ADD: 6,
  K_BIAS_GRAD: 7,
  K_DEPTHWISE: 8,
  K_LUT_ENCODE: 9,
  K_LUT_SCAN: 10,
  RT: 768,
  K_RT_PAD: 11,
  K_RT_CONV_ENCODE: 12,
  K_RT_CONV_SCAN: 13,
  K_RT_POOL: 14,
  K_RT_EPI: 15,
  LT: 896,
  K_LT_ENCODE: 16,
  K_LT_GATHER: 17,
  K_LT_SOFT: 18,
} as const;

/** GEMM descriptor fields, in assembly/layout.ts order (G_M = 0 ...). */
const GEMM_FIELDS = [
  'M', 'N', 'K', 'ACC', 'NB', 'MC', 'NC', 'A', 'ASI', 'ASK', 'AKL', 'AKBS',
  'B', 'BSK', 'BSJ', 'BKL', 'BKBS', 'BBATCH', 'C', 'LDC', 'CBATCH', 'PA', 'PB', 'PBBATCH',
] as const;
/** Convolution descriptor fields, in assembly/layout.ts order (V_C = 0 ...). */
const CONV_FIELDS = [
  'C', 'H', 'W', 'KH', 'KW', 'SH', 'SW', 'PH', 'PW', 'DH', 'DW', 'OH', 'OW',
  'X', 'XB', 'COLS', 'COLSB', 'Y', 'YB', 'CH', 'BIAS', 'NB', 'WT',
] as const;

/** LUT inference descriptor fields, in assembly/layout.ts order (L_N = 0 ...); see assembly/lut-infer.ts. */
const LUT_FIELDS = [
  'N', 'C', 'V', 'M', 'X', 'LDX', 'CODES', 'ENC', 'CENT', 'AUX', 'TABLE', 'SCALE', 'BIAS', 'OUT', 'LDO',
  'EROWB', 'SROWB', 'STILES', 'ERR',
] as const;

/** Runtime descriptor fields, in assembly/layout.ts order (R_NB = 0 ...); see assembly/lut-conv.ts. */
const RT_FIELDS = [
  'NB', 'C', 'H', 'W', 'KH', 'KW', 'SH', 'SW', 'PH', 'PW', 'DH', 'DW', 'OH', 'OW', 'X', 'XP', 'HP', 'WP', 'BPI',
  'TAPS', 'NTAPS', 'QCENT', 'ESCALE', 'ESHIFT', 'RELU', 'Y', 'PPT', 'MODE', 'FLAG', 'QMAX', 'FCENT', 'NCHECK',
] as const;

/** LUT training descriptor fields, in assembly/layout.ts order (T_X = 0 ...); see assembly/lut-train-jobs.ts. */
const LT_FIELDS = [
  'X', 'XB', 'R', 'P', 'C', 'K', 'V', 'METRIC', 'CODES', 'LDC', 'CB', 'SCR', 'SCRB', 'GW', 'BETA', 'XHAT', 'DX', 'DP',
  'DPB', 'RES', 'T', 'M', 'BIAS', 'OUT', 'OB', 'MMAJOR',
] as const;

export type GemmDesc = Record<(typeof GEMM_FIELDS)[number], number>;
export type ConvDesc = Record<(typeof CONV_FIELDS)[number], number>;
/** FLAG and NCHECK are reset to 0 by `rt()`; fields a job does not read may be 0. */
export type RtDesc = Partial<Record<Exclude<(typeof RT_FIELDS)[number], 'FLAG' | 'NCHECK'>, number>>;
/** BETA is the f32 β's bit pattern (as i32); fields a job does not read may be left out (written as 0). */
export type LtDesc = Partial<Record<(typeof LT_FIELDS)[number], number>>;
/** SCALE is the f32 scale's bit pattern (as i32); ERR is reset to 0x7fffffff by `lut()`. */
export type LutDesc = Record<Exclude<(typeof LUT_FIELDS)[number], 'ERR'>, number>;

function readGlobal(exportsObj: WebAssembly.Exports, name: string): number {
  const g = exportsObj[name];
  if (!(g instanceof WebAssembly.Global)) throw new BackendError(`wasm: kernels export no global ${name}; rebuild with npm run build:wasm`);
  return g.value as number;
}

/** Throws BackendError when the loaded kernels disagree with this mirror (a stale build/kernels.wasm). */
export function checkLayout(exportsObj: WebAssembly.Exports): void {
  const read = (name: string): number => readGlobal(exportsObj, name);
  const expect = (name: string, want: number): void => {
    const got = read(name);
    if (got !== want) throw new BackendError(`wasm: layout ${name} is ${got} in the kernels but ${want} in src/backend/layout.ts`);
  };
  for (const [k, v] of Object.entries(LAYOUT)) expect(k, v);
  GEMM_FIELDS.forEach((f, i) => expect(`G_${f}`, i));
  CONV_FIELDS.forEach((f, i) => expect(`V_${f}`, i));
  LUT_FIELDS.forEach((f, i) => expect(`L_${f}`, i));
  RT_FIELDS.forEach((f, i) => expect(`R_${f}`, i));
  LT_FIELDS.forEach((f, i) => expect(`T_${f}`, i));
}

/** The micro-kernel tile and blocking the kernels were built with. */
export interface Tiles {
  /** Rows and columns of the micro-kernel tile, and the depth of one pass over K. */
  mr: number;
  nr: number;
  kc: number;
  /** Panels one packing task handles. */
  panelsPerTask: number;
}

export function readTiles(exportsObj: WebAssembly.Exports): Tiles {
  const read = (name: string): number => readGlobal(exportsObj, name);
  return { mr: read('MR'), nr: read('NR'), kc: read('KC'), panelsPerTask: read('PANELS_PER_TASK') };
}

/** Writes one job (phases and descriptors) into the control block of the shared memory. */
export class JobWriter {
  private ctl: Int32Array;
  private nphases = 0;
  private total = 0;

  constructor(buffer: ArrayBufferLike) {
    this.ctl = new Int32Array(buffer, LAYOUT.CTRL, (LAYOUT.ARENA - LAYOUT.CTRL) >> 2);
  }

  /** Points the writer at a new buffer of the same memory (an unshared memory's buffer is replaced when it grows), keeping the job written so far. */
  rebind(buffer: ArrayBufferLike): this {
    this.ctl = new Int32Array(buffer, LAYOUT.CTRL, (LAYOUT.ARENA - LAYOUT.CTRL) >> 2);
    return this;
  }

  /** Starts an empty job. */
  reset(): this {
    this.nphases = 0;
    this.total = 0;
    return this;
  }

  /** Appends a phase of `ntasks` tasks of `kind` (phases with no task are skipped). */
  phase(kind: number, ntasks: number): this {
    if (ntasks <= 0) return this;
    if (this.nphases === LAYOUT.MAX_PHASES) throw new BackendError(`wasm: more than ${LAYOUT.MAX_PHASES} phases in one job`);
    this.total += ntasks;
    const at = (LAYOUT.PHASES + this.nphases * LAYOUT.PHASE_BYTES) >> 2;
    this.ctl[at] = kind;
    this.ctl[at + 1] = this.total;
    this.nphases++;
    return this;
  }

  gemm(d: GemmDesc): this {
    GEMM_FIELDS.forEach((f, i) => (this.ctl[(LAYOUT.GEMM >> 2) + i] = d[f]));
    return this;
  }

  conv(d: ConvDesc): this {
    CONV_FIELDS.forEach((f, i) => (this.ctl[(LAYOUT.CONV >> 2) + i] = d[f]));
    return this;
  }

  lut(d: LutDesc): this {
    LUT_FIELDS.forEach((f, i) => (this.ctl[(LAYOUT.LUT >> 2) + i] = f === 'ERR' ? 0x7fffffff : d[f]));
    return this;
  }

  /** Writes the LUT training descriptor (missing fields 0). */
  lt(d: LtDesc): this {
    LT_FIELDS.forEach((f, i) => (this.ctl[(LAYOUT.LT >> 2) + i] = d[f] ?? 0));
    return this;
  }

  /** Writes the runtime descriptor (missing fields 0) and clears its FLAG and NCHECK. */
  rt(d: RtDesc): this {
    RT_FIELDS.forEach((f, i) => (this.ctl[(LAYOUT.RT >> 2) + i] = f === 'FLAG' || f === 'NCHECK' ? 0 : (d[f] ?? 0)));
    return this;
  }

  /** The runtime descriptor's NCHECK after a job: sub-vectors the certified conv encoder re-encoded in f32. */
  rtChecks(): number {
    return Atomics.load(this.ctl, (LAYOUT.RT >> 2) + RT_FIELDS.indexOf('NCHECK'));
  }

  /** The runtime descriptor's FLAG after a job (1: a task met a non-finite value). */
  rtFlag(): number {
    return Atomics.load(this.ctl, (LAYOUT.RT >> 2) + RT_FIELDS.indexOf('FLAG'));
  }

  /** The LUT encoder's error slot after a job: the first n·C + c with no finite distance, or -1. */
  lutError(): number {
    const v = Atomics.load(this.ctl, (LAYOUT.LUT >> 2) + LUT_FIELDS.indexOf('ERR'));
    return v === 0x7fffffff ? -1 : v;
  }

  /** Task count of the job; stores it and the phase count for the scheduler. */
  seal(): number {
    this.ctl[LAYOUT.C_NPHASES >> 2] = this.nphases;
    Atomics.store(this.ctl, LAYOUT.C_NTOTAL >> 2, this.total);
    return this.total;
  }
}
