// Fixed layout of the low part of the shared memory: control words, job descriptors, per-thread tiles.
// src/backend/layout.ts mirrors these numbers and checks them against the exported globals at load time.

/** Byte address of the control block (above the static data, which starts at --memoryBase 1024). */
export const CTRL: i32 = 16384;
/** First byte the TypeScript arena may use; everything below belongs to this layout. */
export const ARENA: i32 = 32768;

// Control words, byte offsets from CTRL.
/** i32: futex word the JavaScript side bumps to wake the workers. */
export const C_WAKE: i32 = 0;
/** i32: tasks completed in the current job. */
export const C_DONE: i32 = 4;
/** i64: generation << 32 | index of the next unclaimed task. */
export const C_TICKET: i32 = 8;
/** i32: number of tasks in the current job (end of the last phase). */
export const C_NTOTAL: i32 = 16;
/** i32: number of phases in the current job. */
export const C_NPHASES: i32 = 20;

// Everything below is a byte offset from CTRL.
/** Phase table: MAX_PHASES entries of PHASE_BYTES (i32 kind, i32 cumulative task end). */
export const PHASES: i32 = 64;
export const PHASE_BYTES: i32 = 8;
export const MAX_PHASES: i32 = 16;

/** GEMM descriptor: i32 fields at GEMM + 4·G_*. Strides in elements, pointers in bytes. */
export const GEMM: i32 = 256;
export const G_M: i32 = 0;
export const G_N: i32 = 1;
export const G_K: i32 = 2;
/** 1: add into C, 0: overwrite C. */
export const G_ACC: i32 = 3;
/** Number of (B, C) pairs sharing one A. */
export const G_NB: i32 = 4;
/** Output block of one task, rows (multiple of MR) and columns (multiple of NR). */
export const G_MC: i32 = 5;
export const G_NC: i32 = 6;
/** op(A)[i][k] = A[i·ASI + (k / AKL)·AKBS + (k % AKL)·ASK]: K may run over several images. */
export const G_A: i32 = 7;
export const G_ASI: i32 = 8;
export const G_ASK: i32 = 9;
export const G_AKL: i32 = 10;
export const G_AKBS: i32 = 11;
/** op(B)[k][j] = B[b·BBATCH + (k / BKL)·BKBS + (k % BKL)·BSK + j·BSJ]. */
export const G_B: i32 = 12;
export const G_BSK: i32 = 13;
export const G_BSJ: i32 = 14;
export const G_BKL: i32 = 15;
export const G_BKBS: i32 = 16;
export const G_BBATCH: i32 = 17;
/** C[b][i][j] = C[b·CBATCH + i·LDC + j]. */
export const G_C: i32 = 18;
export const G_LDC: i32 = 19;
export const G_CBATCH: i32 = 20;
/** Packed panels of A (shared by all b) and of each B (PBBATCH bytes apart). */
export const G_PA: i32 = 21;
export const G_PB: i32 = 22;
export const G_PBBATCH: i32 = 23;

/** Convolution descriptor: i32 fields at CONV + 4·V_*. */
export const CONV: i32 = 512;
/** Channels of the slice one task handles (cin/groups), input height and width. */
export const V_C: i32 = 0;
export const V_H: i32 = 1;
export const V_W: i32 = 2;
export const V_KH: i32 = 3;
export const V_KW: i32 = 4;
export const V_SH: i32 = 5;
export const V_SW: i32 = 6;
export const V_PH: i32 = 7;
export const V_PW: i32 = 8;
export const V_DH: i32 = 9;
export const V_DW: i32 = 10;
export const V_OH: i32 = 11;
export const V_OW: i32 = 12;
/** Input of image 0 (byte pointer, group offset applied) and the image stride in elements. */
export const V_X: i32 = 13;
export const V_XB: i32 = 14;
/** Patch matrices [C·KH·KW, OH·OW] of image 0 and the image stride in elements. */
export const V_COLS: i32 = 15;
export const V_COLSB: i32 = 16;
/** Output (or dx) of image 0 and the image stride in elements. */
export const V_Y: i32 = 17;
export const V_YB: i32 = 18;
/** Channels the bias phases handle, the bias pointer, and the image count. */
export const V_CH: i32 = 19;
export const V_BIAS: i32 = 20;
export const V_NB: i32 = 21;
/** Depthwise weights [C·CH, KH, KW] (byte pointer); for DEPTHWISE, CH is the channel multiplier. */
export const V_WT: i32 = 22;

/** LUT inference descriptor (assembly/lut-infer.ts): i32 fields at LUT + 4·L_*. Pointers in bytes. */
export const LUT: i32 = 640;
/** Rows, codebooks, sub-vector length, outputs. */
export const L_N: i32 = 0;
export const L_C: i32 = 1;
export const L_V: i32 = 2;
export const L_M: i32 = 3;
/** Input rows x [N][LDX] f32 (the first C·V of each row are read). */
export const L_X: i32 = 4;
export const L_LDX: i32 = 5;
/** Codes in the scan's layout [ceil(N/16)][C][16] bytes. */
export const L_CODES: i32 = 6;
/** Encoder: 0 f32 squared l2, 1 f32 l1, 2 f32 Chebyshev, 3 int8 l2. */
export const L_ENC: i32 = 7;
/** Encoder data: f32 centroids [C][V][16], or int8/int16 centroids; AUX: the int8 encoder's per-codebook keys and scales. */
export const L_CENT: i32 = 8;
export const L_AUX: i32 = 9;
/** Scan tables [ceil(M/4)][C][4][16] bytes (t + 128), the f32 scale (bits), bias [ceil(M/4)·4] f32 (0 = none). */
export const L_TABLE: i32 = 10;
export const L_SCALE: i32 = 11;
export const L_BIAS: i32 = 12;
/** Output rows out [N][LDO] f32. */
export const L_OUT: i32 = 13;
export const L_LDO: i32 = 14;
/** Row blocks (16 rows) per encode task; row blocks and 4-output tiles per scan task. */
export const L_EROWB: i32 = 15;
export const L_SROWB: i32 = 16;
export const L_STILES: i32 = 17;
/** Written by the encoder: the smallest n·C + c with no finite distance (0x7fffffff when none). */
export const L_ERR: i32 = 18;

/**
 * Runtime descriptor (assembly/lut-conv.ts): direct LUT convs, threaded pooling and epilogues; i32 fields at
 * RT + 4·R_*. Pointers in bytes. One job uses it at a time (jobs run one after another).
 */
export const RT: i32 = 768;
/** Images (pooling: planes), channels (= codebooks of a LUT conv), input plane height and width. */
export const R_NB: i32 = 0;
export const R_C: i32 = 1;
export const R_H: i32 = 2;
export const R_W: i32 = 3;
/** Window: kernel, stride, padding, dilation, output plane. */
export const R_KH: i32 = 4;
export const R_KW: i32 = 5;
export const R_SH: i32 = 6;
export const R_SW: i32 = 7;
export const R_PH: i32 = 8;
export const R_PW: i32 = 9;
export const R_DH: i32 = 10;
export const R_DW: i32 = 11;
export const R_OH: i32 = 12;
export const R_OW: i32 = 13;
/** Input planes [NB][C][H][W] f32; padded planes [NB][C][HP][WP] (f32, or quantized i8/i16 for the int8 encoder). */
export const R_X: i32 = 14;
export const R_XP: i32 = 15;
export const R_HP: i32 = 16;
export const R_WP: i32 = 17;
/** 16-row code blocks per image (each image's rows start a block). */
export const R_BPI: i32 = 18;
/** Byte offsets of the encoder's taps in a padded plane (i32 [NTAPS]), and the int8 conv centroids. */
export const R_TAPS: i32 = 19;
export const R_NTAPS: i32 = 20;
export const R_QCENT: i32 = 21;
/** Epilogue: per-channel scale and shift (0 = none), ReLU flag. */
export const R_ESCALE: i32 = 22;
export const R_ESHIFT: i32 = 23;
export const R_RELU: i32 = 24;
/** Output planes [NB][M][OH·OW] f32. */
export const R_Y: i32 = 25;
/** Images (pooling: planes) per task; pooling mode (0 max, 1 average). */
export const R_PPT: i32 = 26;
export const R_MODE: i32 = 27;
/** Set to 1 by a task that meets a non-finite value (the caller then reruns the reference path for its error). */
export const R_FLAG: i32 = 28;
/** x quantization clamp of the int8 PAD task: xq in [−QMAX − 1, QMAX] (127 int8, the wide data's qmax for the lanes encoder). */
export const R_QMAX: i32 = 29;
/** Certified f32 encoder of the lanes conv encoder: f32 centroids [C][9][16] (0 = off), and its re-encode count. */
export const R_FCENT: i32 = 30;
export const R_NCHECK: i32 = 31;

/**
 * LUT training descriptor (assembly/lut-train-jobs.ts): the per-block kernels of lut-train.ts over the nb blocks of
 * one chunk, one task per block; i32 fields at LT + 4·T_*. Pointers in bytes, block b's operand at base + b·stride.
 */
export const LT: i32 = 896;
/** Block 0 of x [C·V][R] and the bytes between blocks (also those of gw and xhat), rows per block. */
export const T_X: i32 = 0;
export const T_XB: i32 = 1;
export const T_R: i32 = 2;
/** Centroids [C][K][V], codebooks, centroids per codebook, sub-vector length, metric (0 l2, 1 l1, 2 Chebyshev). */
export const T_P: i32 = 3;
export const T_C: i32 = 4;
export const T_K: i32 = 5;
export const T_V: i32 = 6;
export const T_METRIC: i32 = 7;
/** Codes of block 0 (rows ldc bytes apart) and the bytes between blocks. */
export const T_CODES: i32 = 8;
export const T_LDC: i32 = 9;
export const T_CB: i32 = 10;
/** Scratch of block 0 and the bytes between blocks (each block has its own). */
export const T_SCR: i32 = 11;
export const T_SCRB: i32 = 12;
/** Soft pass: gw and xhat of block 0 (0 = none; xhat may alias gw), β (f32 bits), dx written over x (1) or not (0). */
export const T_GW: i32 = 13;
export const T_BETA: i32 = 14;
export const T_XHAT: i32 = 15;
export const T_DX: i32 = 16;
/** Soft pass: dp [C][K][V] of block 0 (0 = none) and the bytes between blocks. */
export const T_DP: i32 = 17;
export const T_DPB: i32 = 18;
/** Per-block results, 8 bytes each: the encoder's i32 first bad index, the soft pass's f64 dL/dβ. */
export const T_RES: i32 = 19;
/** Gather: table [C][K][M], outputs, bias (0 = none), out of block 0, bytes between blocks, [M][R] layout (1). */
export const T_T: i32 = 20;
export const T_M: i32 = 21;
export const T_BIAS: i32 = 22;
export const T_OUT: i32 = 23;
export const T_OB: i32 = 24;
export const T_MMAJOR: i32 = 25;

/** Per-thread MR×NR scratch tiles for edge blocks. */
export const TILES: i32 = 1024;
export const MAX_THREADS: i32 = 64;
/** Per-thread i32 count of tasks run (diagnostics: shows the workers really share the work). */
export const STATS: i32 = 9216;
/** Per-thread i32 flag: 1 once that worker has instantiated the kernels. */
export const READY: i32 = 9472;

/** Phase kinds. */
export const K_PACK_A: i32 = 1;
export const K_PACK_B: i32 = 2;
export const K_TILES: i32 = 3;
export const K_IM2COL: i32 = 4;
export const K_COL2IM: i32 = 5;
export const K_BIAS_ADD: i32 = 6;
export const K_BIAS_GRAD: i32 = 7;
export const K_DEPTHWISE: i32 = 8;
export const K_LUT_ENCODE: i32 = 9;
export const K_LUT_SCAN: i32 = 10;
export const K_RT_PAD: i32 = 11;
export const K_RT_CONV_ENCODE: i32 = 12;
export const K_RT_CONV_SCAN: i32 = 13;
export const K_RT_POOL: i32 = 14;
export const K_RT_EPI: i32 = 15;
export const K_LT_ENCODE: i32 = 16;
export const K_LT_GATHER: i32 = 17;
export const K_LT_SOFT: i32 = 18;

/** Field f of the GEMM descriptor. */
@inline export function gemmField(f: i32): i32 {
  return load<i32>(<usize>(CTRL + GEMM + (f << 2)));
}

/** Field f of the convolution descriptor. */
@inline export function convField(f: i32): i32 {
  return load<i32>(<usize>(CTRL + CONV + (f << 2)));
}

/** Field f of the LUT inference descriptor. */
@inline export function lutField(f: i32): i32 {
  return load<i32>(<usize>(CTRL + LUT + (f << 2)));
}

/** Field f of the LUT training descriptor. */
@inline export function ltField(f: i32): i32 {
  return load<i32>(<usize>(CTRL + LT + (f << 2)));
}

/** Field f of the runtime descriptor. */
@inline export function rtField(f: i32): i32 {
  return load<i32>(<usize>(CTRL + RT + (f << 2)));
}
