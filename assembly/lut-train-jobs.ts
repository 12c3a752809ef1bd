// Pool tasks running the LUT training kernels of lut-train.ts on the blocks of one chunk, one block per task.
//
// Each block has its own scratch, dp and result slot, so tasks never share writes; the caller sums the per-block
// dp and dL/dβ in block order, which keeps results bit-identical for any thread count.
import { LT, T_X, T_XB, T_R, T_P, T_C, T_K, T_V, T_METRIC, T_CODES, T_LDC, T_CB, T_SCR, T_SCRB, T_GW, T_BETA, T_XHAT, T_DX, T_DP, T_DPB, T_RES, T_T, T_M, T_BIAS, T_OUT, T_OB, T_MMAJOR, ltField } from './layout';
import { lutEncode, lutGather, lutSoft } from './lut-train';

@inline function ptr(f: i32): usize {
  return <usize>ltField(f);
}

/** Block t: codes of its rows (lutEncode); its result slot gets the first bad index or −1. */
export function ltEncodeTask(t: i32): void {
  const b = <usize>t;
  const bad = lutEncode(
    ptr(T_X) + b * ptr(T_XB), ltField(T_R), ptr(T_P), ltField(T_C), ltField(T_K), ltField(T_V), ltField(T_METRIC),
    ptr(T_CODES) + b * ptr(T_CB), ltField(T_LDC), ptr(T_SCR) + b * ptr(T_SCRB),
  );
  store<i32>(ptr(T_RES) + (b << 3), bad);
}

/** Block t: out = bias + Σ_c table[c, code] (lutGather). */
export function ltGatherTask(t: i32): void {
  const b = <usize>t;
  lutGather(
    ptr(T_CODES) + b * ptr(T_CB), ltField(T_LDC), ltField(T_R), ptr(T_T), ltField(T_C), ltField(T_K), ltField(T_M),
    ptr(T_BIAS), ptr(T_OUT) + b * ptr(T_OB), ltField(T_MMAJOR), ptr(T_SCR) + b * ptr(T_SCRB),
  );
}

/** Block t: the soft pass's backward (lutSoft) into the block's own dp; its result slot gets dL/dβ as f64. */
export function ltSoftTask(t: i32): void {
  const b = <usize>t;
  const xb = b * ptr(T_XB);
  const x = ptr(T_X) + xb;
  const gw = ptr(T_GW) ? ptr(T_GW) + xb : 0;
  const dp = ptr(T_DP) ? ptr(T_DP) + b * ptr(T_DPB) : 0;
  const beta = reinterpret<f32>(ltField(T_BETA));
  const r = lutSoft(
    x, gw, ltField(T_R), ptr(T_P), ltField(T_C), ltField(T_K), ltField(T_V), ltField(T_METRIC), beta,
    ptr(T_XHAT) ? ptr(T_XHAT) + xb : 0, ltField(T_DX) ? x : 0, dp, ptr(T_SCR) + b * ptr(T_SCRB),
  );
  store<f64>(ptr(T_RES) + (b << 3), r);
}
