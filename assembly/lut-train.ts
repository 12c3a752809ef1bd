// LUT-NN training kernels on one block of rows, SIMD over 4 rows: encode (argmin), hard gather-sum, soft pass + backward.
//
// Encode and the soft pass handle the three metrics: l2, l1 and Chebyshev.
// A block holds R rows transposed: x [C·V][R], so sub-vector c of row r is x[c·V + v][r] (v < V) and four
// consecutive rows of one coordinate are one f32x4. Centroids P [C][K][V]. Pointers are bytes, sizes elements.
// A last group of fewer than 4 rows is copied into a zero-padded tile in `scratch` and its results copied back,
// so no kernel reads or writes outside its block. Twins in src/backend/lut-train.ts; any K and V work.
import { expV, madd } from './math';

/** Softmax terms e^−t with t > CUT are taken as 0 (as in the TypeScript twin). */
const CUT: f32 = 32;

/** Copies lanes [0, n) of `rows` rows (stride `stride` bytes) into a tile of 16-byte rows, zero-padded. */
function toTile(src: usize, stride: usize, rows: i32, n: i32, tile: usize): void {
  for (let v = 0; v < rows; v++) {
    const s = src + <usize>v * stride;
    const d = tile + (<usize>v << 4);
    v128.store(d, f32x4.splat(0));
    for (let j = 0; j < n; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
  }
}

/** Copies lanes [0, n) of a tile's `rows` rows back to a block (stride `stride` bytes). */
function fromTile(tile: usize, rows: i32, n: i32, dst: usize, stride: usize): void {
  for (let v = 0; v < rows; v++) {
    const s = tile + (<usize>v << 4);
    const d = dst + <usize>v * stride;
    for (let j = 0; j < n; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
  }
}

/**
 * Chebyshev's running maximum max(d, e) of non-negative floats as an integer max of their bits: the same order, NaN
 * (above +Infinity) propagates as with Math.max in the twin, and one instruction where f32x4.max takes several.
 */
@inline function chebMax(d: v128, e: v128): v128 {
  return i32x4.max_s(d, e);
}

/** Bytes of scratch the kernels of this file need for (C, K, V). */
export function lutScratchBytes(C: i32, K: i32, V: i32): i32 {
  return max(max(16 * V + 16, 16 * C + 64), 16 * (4 * K + K * V + 2 * V));
}

/**
 * codes[r·ldc + c] = argmin_k d(x_c[:, r], P[c, k]) for the R rows of block x, first k on ties. metric: 0 = squared
 * l2, 1 = l1, 2 = Chebyshev. Returns −1, or c·R + r of the first (codebook-major) sub-vector with no finite distance
 * (its code is left unwritten).
 */
export function lutEncode(x: usize, R: i32, P: usize, C: i32, K: i32, V: i32, metric: i32, codes: usize, ldc: i32, scratch: usize): i32 {
  const stride = <usize>R << 2;
  const pStep = <usize>V << 2;
  const lanes = scratch + (<usize>V << 4); // the 4 codes of a group, as i32
  let bad = -1;
  for (let c = 0; c < C; c++) {
    const xc = x + <usize>(c * V) * stride;
    const pc = P + (<usize>(c * K * V) << 2);
    for (let r = 0; r < R; r += 4) {
      const n = min(4, R - r);
      let xs = xc + (<usize>r << 2);
      let st = stride;
      if (n < 4) {
        toTile(xs, stride, V, n, scratch);
        xs = scratch;
        st = 16;
      }
      let best = f32x4.splat(Infinity);
      let bi = i32x4.splat(-1);
      let kv = i32x4.splat(0);
      const xEnd = xs + <usize>V * st;
      let pp = pc;
      let k = 0;
      if (metric == 0) {
        // Two centroids at a time share the loads of x (compared in order, so ties still go to the first).
        for (; k + 1 < K; k += 2) {
          let d0 = f32x4.splat(0);
          let d1 = d0;
          for (let xp = xs; xp < xEnd; xp += st) {
            const xv = v128.load(xp);
            const t0 = f32x4.sub(xv, v128.load32_splat(pp));
            const t1 = f32x4.sub(xv, v128.load32_splat(pp + pStep));
            d0 = madd(t0, t0, d0);
            d1 = madd(t1, t1, d1);
            pp += 4;
          }
          pp += pStep;
          let lt = f32x4.lt(d0, best);
          best = v128.bitselect(d0, best, lt);
          bi = v128.bitselect(kv, bi, lt);
          kv = i32x4.add(kv, i32x4.splat(1));
          lt = f32x4.lt(d1, best);
          best = v128.bitselect(d1, best, lt);
          bi = v128.bitselect(kv, bi, lt);
          kv = i32x4.add(kv, i32x4.splat(1));
        }
      }
      for (; k < K; k++) {
        let d = f32x4.splat(0);
        if (metric == 0) {
          for (let xp = xs; xp < xEnd; xp += st) {
            const t = f32x4.sub(v128.load(xp), v128.load32_splat(pp));
            d = madd(t, t, d);
            pp += 4;
          }
        } else if (metric == 1) {
          for (let xp = xs; xp < xEnd; xp += st) {
            d = f32x4.add(d, f32x4.abs(f32x4.sub(v128.load(xp), v128.load32_splat(pp))));
            pp += 4;
          }
        } else {
          for (let xp = xs; xp < xEnd; xp += st) {
            d = chebMax(d, f32x4.abs(f32x4.sub(v128.load(xp), v128.load32_splat(pp))));
            pp += 4;
          }
        }
        const lt = f32x4.lt(d, best); // false for NaN: a NaN distance never wins
        best = v128.bitselect(d, best, lt);
        bi = v128.bitselect(kv, bi, lt);
        kv = i32x4.add(kv, i32x4.splat(1));
      }
      v128.store(lanes, bi);
      for (let j = 0; j < n; j++) {
        const b = load<i32>(lanes + (<usize>j << 2));
        if (b < 0) {
          if (bad < 0) bad = c * R + r + j;
        } else {
          store<u8>(codes + <usize>(r + j) * ldc + c, <u8>b);
        }
      }
    }
  }
  return bad;
}

/** Transposes the 4×4 block a0..a3 (rows) into four column vectors stored at d, d + stride, ... */
@inline function store4x4(a0: v128, a1: v128, a2: v128, a3: v128, d: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(a0, a1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(a2, a3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(a0, a1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(a2, a3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(d + stride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(d + 2 * stride, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(d + 3 * stride, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * Hard forward of R rows: out[r][m] = bias[m] + Σ_c T[c][codes[r·ldc + c]][m], summed in codebook order (bias = 0:
 * none). T [C][K][M]. out is [R][M], or [M][R] when mMajor (a conv image's NCHW plane). Codes must be < K.
 */
export function lutGather(codes: usize, ldc: i32, R: i32, T: usize, C: i32, K: i32, M: i32, bias: usize, out: usize, mMajor: i32, scratch: usize): void {
  const rowBytes = <usize>M << 2;
  if (!mMajor) {
    for (let r = 0; r < R; r++) {
      const cr = codes + <usize>r * ldc;
      const o = out + <usize>r * rowBytes;
      let m = 0;
      for (; m + 8 <= M; m += 8) {
        const mo = <usize>m << 2;
        let a0 = bias ? v128.load(bias + mo) : f32x4.splat(0);
        let a1 = bias ? v128.load(bias + mo, 16) : f32x4.splat(0);
        for (let c = 0; c < C; c++) {
          const t = T + <usize>(c * K + <i32>load<u8>(cr + c)) * rowBytes + mo;
          a0 = f32x4.add(a0, v128.load(t));
          a1 = f32x4.add(a1, v128.load(t, 16));
        }
        v128.store(o + mo, a0);
        v128.store(o + mo, a1, 16);
      }
      for (; m < M; m++) {
        const mo = <usize>m << 2;
        let s: f32 = bias ? load<f32>(bias + mo) : 0;
        for (let c = 0; c < C; c++) s += load<f32>(T + <usize>(c * K + <i32>load<u8>(cr + c)) * rowBytes + mo);
        store<f32>(o + mo, s);
      }
    }
    return;
  }
  // mMajor: 4 rows at a time; each row's table-row addresses first, then 4 outputs × 4 rows, transposed on store.
  const ofs = scratch; // [4][C] byte offsets into T
  const tile = scratch + (<usize>(4 * C) << 2); // 4 rows × 4 outputs for a partial group
  const stride = <usize>R << 2;
  for (let r = 0; r < R; r += 4) {
    const n = min(4, R - r);
    for (let j = 0; j < 4; j++) {
      const cr = codes + <usize>(r + min(j, n - 1)) * ldc;
      for (let c = 0; c < C; c++) store<i32>(ofs + (<usize>(j * C + c) << 2), (c * K + <i32>load<u8>(cr + c)) * M);
    }
    const o0 = ofs;
    const o1 = ofs + (<usize>C << 2);
    const o2 = ofs + (<usize>(2 * C) << 2);
    const o3 = ofs + (<usize>(3 * C) << 2);
    let m = 0;
    for (; m + 4 <= M; m += 4) {
      const mo = <usize>m << 2;
      const b = bias ? v128.load(bias + mo) : f32x4.splat(0);
      let a0 = b, a1 = b, a2 = b, a3 = b;
      const tm = T + mo;
      for (let c = 0; c < C; c++) {
        const co = <usize>c << 2;
        a0 = f32x4.add(a0, v128.load(tm + (<usize>load<i32>(o0 + co) << 2)));
        a1 = f32x4.add(a1, v128.load(tm + (<usize>load<i32>(o1 + co) << 2)));
        a2 = f32x4.add(a2, v128.load(tm + (<usize>load<i32>(o2 + co) << 2)));
        a3 = f32x4.add(a3, v128.load(tm + (<usize>load<i32>(o3 + co) << 2)));
      }
      const d = out + <usize>m * stride + (<usize>r << 2);
      if (n == 4) {
        store4x4(a0, a1, a2, a3, d, stride);
      } else {
        store4x4(a0, a1, a2, a3, tile, 16);
        fromTile(tile, 4, n, d, stride);
      }
    }
    for (; m < M; m++) {
      const mo = <usize>m << 2;
      for (let j = 0; j < n; j++) {
        let s: f32 = bias ? load<f32>(bias + mo) : 0;
        const oj = ofs + (<usize>(j * C) << 2);
        for (let c = 0; c < C; c++) s += load<f32>(T + mo + (<usize>load<i32>(oj + (<usize>c << 2)) << 2));
        store<f32>(out + <usize>m * stride + (<usize>(r + j) << 2), s);
      }
    }
  }
}

/** Bytes per centroid in the soft kernel's scratch: the vectors dist, a, w and (Chebyshev) top, 16 bytes each. */
const SK: usize = 64;

/** One coordinate's term of d(x, p) for t = x − p, l2 (squared; the root is taken after) or l1. */
@inline function distStep(metric: i32, t: v128, d: v128): v128 {
  if (metric == 0) return madd(t, t, d);
  return f32x4.add(d, f32x4.abs(t));
}

/**
 * Chebyshev's top coordinate after coordinate vi (i32 lanes): vi where e = |x − p| exceeds the running maximum d, else
 * top. vi only grows, so a lane-wise max picks it (two operations instead of a three-operation bitselect).
 */
@inline function topStep(top: v128, vi: v128, e: v128, d: v128): v128 {
  return i32x4.max_s(top, v128.and(vi, f32x4.gt(e, d)));
}

/**
 * w·∂dist/∂p_v for y = p − x (= −w·∂dist/∂x_v), with w as stored in step 3: w·y for l2; w·sign(y) for l1 (sign(0) =
 * 0); for Chebyshev w·sign(y) where v is the centroid's top coordinate (lanes of `top` equal to `vi`), else w·0. A
 * multiplication by ±1 or 0 (exact), as in the twin, so a NaN w stays NaN.
 */
@inline function wTerm(metric: i32, w: v128, y: v128, top: v128, vi: v128): v128 {
  if (metric == 0) return f32x4.mul(w, y);
  const sign = v128.or(v128.and(y, f32x4.splat(-0.0)), f32x4.splat(1)); // ±1 with y's sign
  if (metric == 1) return f32x4.mul(w, v128.and(sign, f32x4.ne(y, f32x4.splat(0))));
  return f32x4.mul(w, v128.and(sign, i32x4.eq(top, vi)));
}

/**
 * The soft pass and its backward for one group of 4 rows of one codebook, see lutSoft; `metric` is a constant at
 * every (inlined) use. xs/gs/dxs/xhs point at the group's first lane (row stride st bytes); gs, dxs, xhs, acc are 0
 * when not needed. sk holds per k the vectors (dist, a, w, top) SK bytes apart, top (i32 lanes, Chebyshev only) being
 * the first coordinate of largest |x − p|; acc holds dP partial sums [V][K] of vectors. Returns Σ_k dz·dist per lane.
 * Inner loops walk pointers (no index arithmetic) and have no branches once `metric` is folded.
 */
@inline function softGroup(
  metric: i32, xs: usize, gs: usize, st: usize, pc: usize, K: i32, V: i32, nbeta: v128,
  sk: usize, acc: usize, dxs: usize, xhs: usize,
): v128 {
  const zero = f32x4.splat(0);
  const one = i32x4.splat(1);
  const skEnd = sk + <usize>K * SK;
  const xEnd = xs + <usize>V * st;
  const pStep = <usize>V << 2;
  // 1. dist_k = d(x, p_k) (direct differences), da_k = Σ_v p_kv·gw_v = (G·lutᵀ)_k into the w slot, and for
  // Chebyshev the top coordinate: the first v with |x − p| above all before it (0 when every |x − p| is 0).
  let dmin = f32x4.splat(Infinity);
  let pk = pc;
  let q = sk;
  if (gs) {
    // Two centroids at a time share the loads of x and gw.
    for (; q + SK < skEnd; q += 2 * SK) {
      let d0 = zero, d1 = zero, a0 = zero, a1 = zero, i0 = zero, i1 = zero, vi = zero;
      let pp = pk;
      let gp = gs;
      for (let xp = xs; xp < xEnd; xp += st) {
        const xv = v128.load(xp);
        const gv = v128.load(gp);
        const p0 = v128.load32_splat(pp);
        const p1 = v128.load32_splat(pp + pStep);
        const t0 = f32x4.sub(xv, p0);
        const t1 = f32x4.sub(xv, p1);
        if (metric == 2) {
          const e0 = f32x4.abs(t0);
          const e1 = f32x4.abs(t1);
          i0 = topStep(i0, vi, e0, d0);
          i1 = topStep(i1, vi, e1, d1);
          d0 = chebMax(d0, e0);
          d1 = chebMax(d1, e1);
          vi = i32x4.add(vi, one);
        } else {
          d0 = distStep(metric, t0, d0);
          d1 = distStep(metric, t1, d1);
        }
        a0 = madd(gv, p0, a0);
        a1 = madd(gv, p1, a1);
        gp += st;
        pp += 4;
      }
      const e0 = metric == 0 ? f32x4.sqrt(d0) : d0;
      const e1 = metric == 0 ? f32x4.sqrt(d1) : d1;
      v128.store(q, e0);
      v128.store(q, a0, 32);
      v128.store(q + SK, e1);
      v128.store(q + SK, a1, 32);
      if (metric == 2) {
        v128.store(q, i0, 48);
        v128.store(q + SK, i1, 48);
      }
      dmin = f32x4.min(dmin, f32x4.min(e0, e1));
      pk += pStep << 1;
    }
  }
  for (; q < skEnd; q += SK) {
    let d = zero;
    let da = zero;
    let i0 = zero;
    let vi = zero;
    let pp = pk;
    if (gs) {
      let gp = gs;
      for (let xp = xs; xp < xEnd; xp += st) {
        const p = v128.load32_splat(pp);
        const t = f32x4.sub(v128.load(xp), p);
        if (metric == 2) {
          const e = f32x4.abs(t);
          i0 = topStep(i0, vi, e, d);
          d = chebMax(d, e);
          vi = i32x4.add(vi, one);
        } else {
          d = distStep(metric, t, d);
        }
        da = madd(v128.load(gp), p, da);
        gp += st;
        pp += 4;
      }
    } else {
      for (let xp = xs; xp < xEnd; xp += st) {
        const t = f32x4.sub(v128.load(xp), v128.load32_splat(pp));
        if (metric == 2) {
          const e = f32x4.abs(t);
          i0 = topStep(i0, vi, e, d);
          d = chebMax(d, e);
          vi = i32x4.add(vi, one);
        } else {
          d = distStep(metric, t, d);
        }
        pp += 4;
      }
    }
    const dist = metric == 0 ? f32x4.sqrt(d) : d;
    v128.store(q, dist);
    v128.store(q, da, 32);
    if (metric == 2) v128.store(q, i0, 48);
    dmin = f32x4.min(dmin, dist);
    pk += pStep;
  }
  // 2. a = softmax_k(−β·dist), shifted by the largest logit −β·dmin.
  // Terms below e^−CUT (far under float32 resolution next to the largest, 1) count as 0: this also keeps the
  // products of tiny weights out of the (very slow) subnormal range.
  const cut = f32x4.splat(-CUT);
  let sum = zero;
  for (let q = sk; q < skEnd; q += SK) {
    const z = f32x4.mul(f32x4.sub(v128.load(q), dmin), nbeta);
    const e = v128.and(expV(f32x4.max(z, cut)), f32x4.ge(z, cut)); // clamped first: expV near its underflow is subnormal
    v128.store(q, e, 16);
    sum = f32x4.add(sum, e);
  }
  const inv = f32x4.div(f32x4.splat(1), sum);
  // 3. s = Σ a·da; dz = a·(da − s); Σ dz·dist (for dβ); ddist = −β·dz, and w = ddist/dist (l2) or ddist (l1,
  // Chebyshev), 0 where dist = 0 (there every ∂dist/∂x is 0: l2 by convention, l1 and Chebyshev as sign(0)).
  let s = zero;
  for (let q = sk; q < skEnd; q += SK) {
    const a = f32x4.mul(v128.load(q, 16), inv);
    v128.store(q, a, 16);
    s = madd(a, v128.load(q, 32), s);
  }
  let dzd = zero;
  for (let q = sk; q < skEnd; q += SK) {
    const dist = v128.load(q);
    const dz = f32x4.mul(v128.load(q, 16), f32x4.sub(v128.load(q, 32), s));
    dzd = madd(dz, dist, dzd);
    let w = f32x4.mul(nbeta, dz);
    if (metric == 0) w = f32x4.div(w, dist);
    v128.store(q, v128.and(w, f32x4.gt(dist, zero)), 32);
  }
  // 4. Per coordinate v, with wn = wTerm(p − x) (= −ddist·∂dist/∂x_v): dx_v = −Σ_k wn, xhat_v = Σ_k a·p, and
  // dP[v][k] += a·gw_v + wn.
  if (gs && dxs && xhs && acc) {
    // Training: every output wanted.
    let gp = gs, dp = dxs, hp = xhs, pv = pc, ap = acc;
    let vi = zero;
    for (let xp = xs; xp < xEnd; xp += st) {
      const xv = v128.load(xp);
      const gv = v128.load(gp);
      let t = zero;
      let xh = zero;
      let pp = pv;
      for (let q = sk; q < skEnd; q += SK) {
        const p = v128.load32_splat(pp);
        const a = v128.load(q, 16);
        const wn = wTerm(metric, v128.load(q, 32), f32x4.sub(p, xv), metric == 2 ? v128.load(q, 48) : zero, vi); // shared by dx and dP
        t = f32x4.add(t, wn);
        xh = madd(a, p, xh);
        v128.store(ap, f32x4.add(madd(a, gv, v128.load(ap)), wn));
        pp += pStep;
        ap += 16;
      }
      v128.store(dp, f32x4.neg(t));
      v128.store(hp, xh);
      gp += st;
      dp += st;
      hp += st;
      pv += 4;
      vi = i32x4.add(vi, one);
    }
  } else if (dxs | xhs | acc) {
    let v: usize = 0;
    let ap = acc;
    let pv = pc;
    let vi = zero;
    for (let xp = xs; xp < xEnd; xp += st) {
      const xv = v128.load(xp);
      const gv = gs ? v128.load(gs + v) : zero;
      let t = zero;
      let xh = zero;
      let pp = pv;
      for (let q = sk; q < skEnd; q += SK) {
        // The same operations as the loop above, so results never depend on which outputs are asked for.
        const p = v128.load32_splat(pp);
        const a = v128.load(q, 16);
        const wn = wTerm(metric, v128.load(q, 32), f32x4.sub(p, xv), metric == 2 ? v128.load(q, 48) : zero, vi);
        t = f32x4.add(t, wn);
        xh = madd(a, p, xh);
        if (acc) {
          v128.store(ap, f32x4.add(madd(a, gv, v128.load(ap)), wn));
          ap += 16;
        }
        pp += pStep;
      }
      if (dxs) v128.store(dxs + v, f32x4.neg(t));
      if (xhs) v128.store(xhs + v, xh);
      v += st;
      pv += 4;
      vi = i32x4.add(vi, one);
    }
  }
  return dzd;
}

// One specialisation of softGroup per metric (the group loop below picks one per call, outside the inner loops).
function softGroupL2(xs: usize, gs: usize, st: usize, pc: usize, K: i32, V: i32, nbeta: v128, sk: usize, acc: usize, dxs: usize, xhs: usize): v128 {
  return softGroup(0, xs, gs, st, pc, K, V, nbeta, sk, acc, dxs, xhs);
}
function softGroupL1(xs: usize, gs: usize, st: usize, pc: usize, K: i32, V: i32, nbeta: v128, sk: usize, acc: usize, dxs: usize, xhs: usize): v128 {
  return softGroup(1, xs, gs, st, pc, K, V, nbeta, sk, acc, dxs, xhs);
}
function softGroupCheb(xs: usize, gs: usize, st: usize, pc: usize, K: i32, V: i32, nbeta: v128, sk: usize, acc: usize, dxs: usize, xhs: usize): v128 {
  return softGroup(2, xs, gs, st, pc, K, V, nbeta, sk, acc, dxs, xhs);
}
@inline function softGroupAny(metric: i32, xs: usize, gs: usize, st: usize, pc: usize, K: i32, V: i32, nbeta: v128, sk: usize, acc: usize, dxs: usize, xhs: usize): v128 {
  if (metric == 0) return softGroupL2(xs, gs, st, pc, K, V, nbeta, sk, acc, dxs, xhs);
  if (metric == 1) return softGroupL1(xs, gs, st, pc, K, V, nbeta, sk, acc, dxs, xhs);
  return softGroupCheb(xs, gs, st, pc, K, V, nbeta, sk, acc, dxs, xhs);
}

/**
 * The soft path's backward on block x [C·V][R]. metric: 0 = l2 (the Euclidean distance, not squared), 1 = l1,
 * 2 = Chebyshev. dist = d(x_c, P[c,k]), a = softmax_k(−β·dist), with gw [C·V][R] = (G·Wᵀ) (0: not needed, then
 * dz = 0) the gradient da = Σ_v P[c,k,v]·gw[c·V+v]; dz = a·(da − Σ a·da), ddist = −β·dz.
 * Writes (pointers 0 = skip) xhat [C·V][R] = Σ_k a·P[c,k] (may alias gw), dx [C·V][R] = Σ_k ddist·∂dist/∂x (may
 * alias x), and dp [C][K][V] = Σ_r a·gw − ddist·∂dist/∂x over this block's rows (overwritten). ∂dist/∂x_v is
 * (x − p)/dist for l2 (0 at dist = 0), sign(x − p) for l1 (sign(0) = 0), and for Chebyshev sign(x − p) at the first
 * v of largest float32 |x − p| only. Returns −Σ dz·dist (= dL/dβ from this block). Scratch: lutScratchBytes(C, K, V).
 */
export function lutSoft(x: usize, gw: usize, R: i32, P: usize, C: i32, K: i32, V: i32, metric: i32, beta: f32, xhat: usize, dx: usize, dp: usize, scratch: usize): f64 {
  const stride = <usize>R << 2;
  const sk = scratch; // [K] × (dist, a, w, top)
  const acc = dp ? sk + <usize>K * SK : 0; // [V][K] vectors
  const tx = sk + <usize>K * SK + (<usize>(K * V) << 4);
  const tg = tx + (<usize>V << 4);
  const nbeta = f32x4.splat(-beta);
  let total: f64 = 0;
  for (let c = 0; c < C; c++) {
    const cb = <usize>(c * V) * stride;
    const pc = P + (<usize>(c * K * V) << 2);
    if (acc) for (let i = 0; i < K * V; i++) v128.store(acc + (<usize>i << 4), f32x4.splat(0));
    let dzd = f32x4.splat(0);
    for (let r = 0; r < R; r += 4) {
      const n = min(4, R - r);
      const o = cb + (<usize>r << 2);
      if (n == 4) {
        dzd = f32x4.add(dzd, softGroupAny(metric, x + o, gw ? gw + o : 0, stride, pc, K, V, nbeta, sk, acc, dx ? dx + o : 0, xhat ? xhat + o : 0));
      } else {
        // Zero-padded lanes have gw = 0, hence da = dz = w = 0: they add nothing to dp or the returned sum.
        toTile(x + o, stride, V, n, tx);
        if (gw) toTile(gw + o, stride, V, n, tg);
        else for (let v = 0; v < V; v++) v128.store(tg + (<usize>v << 4), f32x4.splat(0));
        dzd = f32x4.add(dzd, softGroupAny(metric, tx, gw ? tg : 0, 16, pc, K, V, nbeta, sk, acc, dx ? tx : 0, xhat ? tg : 0));
        if (dx) fromTile(tx, V, n, dx + o, stride);
        if (xhat) fromTile(tg, V, n, xhat + o, stride);
      }
    }
    total -= <f64>f32x4.extract_lane(dzd, 0) + <f64>f32x4.extract_lane(dzd, 1) + <f64>f32x4.extract_lane(dzd, 2) + <f64>f32x4.extract_lane(dzd, 3);
    if (acc) {
      // acc is [V][K]; dp is [C][K][V].
      const dpc = dp + (<usize>(c * K * V) << 2);
      for (let k = 0; k < K; k++) {
        for (let v = 0; v < V; v++) {
          const a = v128.load(acc + (<usize>(v * K + k) << 4));
          store<f32>(dpc + (<usize>(k * V + v) << 2), f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3)));
        }
      }
    }
  }
  return total;
}
