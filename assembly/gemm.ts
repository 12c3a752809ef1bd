// Packed, register-blocked f32 GEMM with f32x4: panel packing, the MR×NR micro-kernel, output-block tasks.
import {
  CTRL, TILES, gemmField,
  G_M, G_N, G_K, G_ACC, G_MC, G_NC, G_A, G_ASI, G_ASK, G_AKL, G_AKBS,
  G_B, G_BSK, G_BSJ, G_BKL, G_BKBS, G_BBATCH, G_C, G_LDC, G_CBATCH, G_PA, G_PB, G_PBBATCH,
} from './layout';
import { madd } from './math';

/** Rows of the micro-kernel tile (one f32 broadcast each). */
export const MR: i32 = 2;
/** Columns of the micro-kernel tile (four f32x4 vectors). */
export const NR: i32 = 16;
/** Depth of one pass over the packed panels (cache blocking over K). */
export const KC: i32 = 256;
/** Panels one packing task handles. */
export const PANELS_PER_TASK: i32 = 16;

/**
 * C[0..MR)[0..NR) = (accum ? C : 0) + Σ_k pa[k·MR + r]·pb[k·NR + j] for kc >= 1 steps; ldc in bytes.
 * Eight accumulators, four B vectors, one broadcast and one product fit the 15 xmm registers V8 allocates on
 * x64; 2×16 needs fewer address and loop instructions per multiply than 4×8 (measured ~5-15% faster), and
 * inlining it into the tile loop saved another ~5%. Unrolling over k made it slower (Binaryen interleaves the
 * copies and V8 then spills).
 */
@inline function kernel(pa: usize, pb: usize, c: usize, ldc: usize, kc: i32, accum: bool): void {
  let c00 = f32x4.splat(0);
  let c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  if (accum) {
    c00 = v128.load(c);
    c01 = v128.load(c, 16);
    c02 = v128.load(c, 32);
    c03 = v128.load(c, 48);
    c10 = v128.load(c + ldc);
    c11 = v128.load(c + ldc, 16);
    c12 = v128.load(c + ldc, 32);
    c13 = v128.load(c + ldc, 48);
  }
  const end = pb + ((<usize>kc * NR) << 2);
  while (pb < end) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const b2 = v128.load(pb, 32);
    const b3 = v128.load(pb, 48);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    c02 = madd(a, b2, c02);
    c03 = madd(a, b3, c03);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    c12 = madd(a, b2, c12);
    c13 = madd(a, b3, c13);
    pa += 8;
    pb += 64;
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c, c02, 32);
  v128.store(c, c03, 48);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + ldc, c12, 32);
  v128.store(c + ldc, c13, 48);
}

/** A partial tile (mr < MR or nr < NR): the same kernel on a scratch tile, then copy the valid part. */
function edgeTile(pa: usize, pb: usize, c: usize, ldc: i32, kc: i32, accum: bool, mr: i32, nr: i32, tmp: usize): void {
  if (accum) {
    for (let r = 0; r < MR; r++) {
      for (let j = 0; j < NR; j++) {
        const v: f32 = r < mr && j < nr ? load<f32>(c + ((<usize>r * ldc + j) << 2)) : 0;
        store<f32>(tmp + (<usize>(r * NR + j) << 2), v);
      }
    }
  }
  kernel(pa, pb, tmp, NR << 2, kc, accum);
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      store<f32>(c + ((<usize>r * ldc + j) << 2), load<f32>(tmp + (<usize>(r * NR + j) << 2)));
    }
  }
}

/**
 * Packs `len` steps of one panel: dst[l·W + p] = src[p·sp + l·sk] for lanes p < valid, 0 for the rest
 * (W is MR = 2 or NR = 16). Fast path: steps contiguous (sk = 1), by 2×4 or 4×4 transposes.
 */
function packSegment(src: usize, W: i32, valid: i32, sp: i32, sk: i32, len: i32, dst: usize): void {
  const dstep = <usize>W << 2;
  if (valid == W && sk == 1 && W == 2) {
    const s1 = src + (<usize>sp << 2);
    let l = 0;
    for (; l + 4 <= len; l += 4) {
      const o = <usize>l << 2;
      const r0 = v128.load(src + o);
      const r1 = v128.load(s1 + o);
      v128.store(dst, v128.shuffle<i32>(r0, r1, 0, 4, 1, 5));
      v128.store(dst, v128.shuffle<i32>(r0, r1, 2, 6, 3, 7), 16);
      dst += 4 * dstep;
    }
    for (; l < len; l++) {
      const o = <usize>l << 2;
      store<f32>(dst, load<f32>(src + o));
      store<f32>(dst, load<f32>(s1 + o), 4);
      dst += dstep;
    }
  } else if (valid == W && sk == 1) {
    const spb = <usize>sp << 2;
    for (let q = 0; q < W; q += 4) {
      const s0 = src + <usize>q * spb;
      const s1 = s0 + spb;
      const s2 = s1 + spb;
      const s3 = s2 + spb;
      let d = dst + (<usize>q << 2);
      let l = 0;
      for (; l + 4 <= len; l += 4) {
        const o = <usize>l << 2;
        const r0 = v128.load(s0 + o);
        const r1 = v128.load(s1 + o);
        const r2 = v128.load(s2 + o);
        const r3 = v128.load(s3 + o);
        const t0 = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
        const t3 = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
        v128.store(d, v128.shuffle<i32>(t0, t2, 0, 1, 4, 5));
        v128.store(d + dstep, v128.shuffle<i32>(t0, t2, 2, 3, 6, 7));
        v128.store(d + 2 * dstep, v128.shuffle<i32>(t1, t3, 0, 1, 4, 5));
        v128.store(d + 3 * dstep, v128.shuffle<i32>(t1, t3, 2, 3, 6, 7));
        d += 4 * dstep;
      }
      for (; l < len; l++) {
        const o = <usize>l << 2;
        store<f32>(d, load<f32>(s0 + o));
        store<f32>(d, load<f32>(s1 + o), 4);
        store<f32>(d, load<f32>(s2 + o), 8);
        store<f32>(d, load<f32>(s3 + o), 12);
        d += dstep;
      }
    }
  } else {
    for (let l = 0; l < len; l++) {
      for (let p = 0; p < W; p++) {
        const v: f32 = p < valid ? load<f32>(src + ((<usize>p * sp + <usize>l * sk) << 2)) : 0;
        store<f32>(dst + (<usize>p << 2), v);
      }
      dst += dstep;
    }
  }
}

/** Packs one panel over all K, walking the K axis segment by segment (kl steps, then jump kbs elements). */
function packPanel(src: usize, W: i32, valid: i32, sp: i32, sk: i32, K: i32, kl: i32, kbs: i32, dst: usize): void {
  for (let k = 0; k < K; k += kl) {
    const len = min(kl, K - k);
    packSegment(src, W, valid, sp, sk, len, dst + ((<usize>k * W) << 2));
    src += <usize>kbs << 2;
  }
}

/**
 * Packs lanes 0..n-1, steps 0..K-1 into consecutive W-lane panels `panelBytes` apart (W·K·4 for a whole
 * matrix; more when packing a band of K steps into a larger matrix), zero-padding the last panel.
 * With lanes contiguous (sp = 1) each source row is read once, in order, across all panels.
 */
export function packPanels(src: usize, W: i32, n: i32, sp: i32, sk: i32, K: i32, kl: i32, kbs: i32, dst: usize, panelBytes: usize): void {
  const full = n / W;
  const rest = n - full * W;
  if (sp != 1) {
    for (let p = 0; p * W < n; p++) {
      packPanel(src + ((<usize>p * W * sp) << 2), W, min(W, n - p * W), sp, sk, K, kl, kbs, dst + <usize>p * panelBytes);
    }
    return;
  }
  const wb = <usize>W << 2;
  for (let k = 0; k < K; k += kl) {
    const len = min(kl, K - k);
    for (let l = 0; l < len; l++) {
      let s = src + ((<usize>l * sk) << 2);
      let d = dst + ((<usize>(k + l) * W) << 2);
      if (W == 16) {
        for (let p = 0; p < full; p++) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
          v128.store(d, v128.load(s, 32), 32);
          v128.store(d, v128.load(s, 48), 48);
          s += wb;
          d += panelBytes;
        }
      } else {
        for (let p = 0; p < full; p++) {
          if (W == 2) store<u64>(d, load<u64>(s));
          else for (let q: usize = 0; q < wb; q += 16) v128.store(d + q, v128.load(s + q));
          s += wb;
          d += panelBytes;
        }
      }
      if (rest > 0) {
        for (let j = 0; j < W; j++) store<f32>(d + (<usize>j << 2), j < rest ? load<f32>(s + (<usize>j << 2)) : 0);
      }
    }
    src += <usize>kbs << 2;
  }
}

/** Task t of the PACK_A phase: PANELS_PER_TASK panels of MR rows of op(A). */
export function packATask(t: i32): void {
  const M = gemmField(G_M);
  const K = gemmField(G_K);
  const asi = gemmField(G_ASI);
  const i0 = t * PANELS_PER_TASK * MR;
  const src = <usize>gemmField(G_A) + ((<usize>i0 * asi) << 2);
  const dst = <usize>gemmField(G_PA) + ((<usize>i0 * K) << 2);
  const n = min(PANELS_PER_TASK * MR, M - i0);
  packPanels(src, MR, n, asi, gemmField(G_ASK), K, gemmField(G_AKL), gemmField(G_AKBS), dst, (<usize>MR * K) << 2);
}

/** Task t of the PACK_B phase: PANELS_PER_TASK panels of NR columns of one op(B_b). */
export function packBTask(t: i32): void {
  const N = gemmField(G_N);
  const K = gemmField(G_K);
  const bsj = gemmField(G_BSJ);
  const panels = (N + NR - 1) / NR;
  const perB = (panels + PANELS_PER_TASK - 1) / PANELS_PER_TASK;
  const b = t / perB;
  const q = t - b * perB;
  const srcB = <usize>gemmField(G_B) + ((<usize>b * gemmField(G_BBATCH)) << 2);
  const dstB = <usize>gemmField(G_PB) + <usize>b * gemmField(G_PBBATCH);
  const j0 = q * PANELS_PER_TASK * NR;
  const src = srcB + ((<usize>j0 * bsj) << 2);
  const dst = dstB + ((<usize>j0 * K) << 2);
  const n = min(PANELS_PER_TASK * NR, N - j0);
  packPanels(src, NR, n, bsj, gemmField(G_BSK), K, gemmField(G_BKL), gemmField(G_BKBS), dst, (<usize>NR * K) << 2);
}

/**
 * Task t of the TILES phase: one MC×NC block of one C_b, K in KC-deep passes (B micro-panel in L1,
 * A block in L2). Every element sums k = 0..K-1 in the same order whatever the block or thread.
 */
export function tilesTask(t: i32, tid: i32): void {
  const M = gemmField(G_M);
  const N = gemmField(G_N);
  const K = gemmField(G_K);
  const MC = gemmField(G_MC);
  const NC = gemmField(G_NC);
  const ldc = gemmField(G_LDC);
  const mBlocks = (M + MC - 1) / MC;
  const perB = mBlocks * ((N + NC - 1) / NC);
  const b = t / perB;
  const r = t - b * perB;
  const i0 = (r % mBlocks) * MC;
  const j0 = (r / mBlocks) * NC;
  const i1 = min(M, i0 + MC);
  const j1 = min(N, j0 + NC);
  const pa = <usize>gemmField(G_PA);
  const pb = <usize>gemmField(G_PB) + <usize>b * gemmField(G_PBBATCH);
  const c = <usize>gemmField(G_C) + ((<usize>b * gemmField(G_CBATCH)) << 2);
  const acc = gemmField(G_ACC) != 0;
  const tmp = <usize>(CTRL + TILES + tid * MR * NR * 4);
  const ldcb = <usize>ldc << 2;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const accum = acc || k0 > 0;
    for (let j = j0; j < j1; j += NR) {
      const nr = min(NR, j1 - j);
      const bp = pb + ((<usize>j * K + <usize>k0 * NR) << 2);
      for (let i = i0; i < i1; i += MR) {
        const mr = min(MR, i1 - i);
        const ap = pa + ((<usize>i * K + <usize>k0 * MR) << 2);
        const cp = c + ((<usize>i * ldc + j) << 2);
        if (mr == MR && nr == NR) kernel(ap, bp, cp, ldcb, kc, accum);
        else edgeTile(ap, bp, cp, ldc, kc, accum, mr, nr, tmp);
      }
    }
  }
}

