// The integer islands of a transformer (kernels/ref/quant/README.md, "Integer islands"):
// QLut (a 256-entry byte table), QSoftmax and QLayerNorm over the last axis. Exact
// integer arithmetic only; every kernel works on u = code ^ flip (0..255: the unsigned
// code of an int8 or uint8 input), which the three definitions allow (QLut indexes the
// table by code − dtypeMin = u; softmax and layer norm only see differences of codes).
import { mbqm, sat32 } from "./requant";

/**
 * QLut over elements [lo, hi): y[i] = table[x[i] ^ flip]; `table` holds 256 output bytes
 * and then 16 bytes of 16.
 * 16 bytes at a time: the table as 16 sub-tables of 16 bytes, i8x16.swizzle on u − 16·j
 * (an index outside 0..15 gives 0 in every host: plain swizzle, never the relaxed one).
 */
export function qlut(x: usize, flip: i32, table: usize, y: usize, lo: i32, hi: i32, _tid: i32): void {
  let i = lo;
  // 16 in every byte, loaded from behind the table (V8 rebuilds a v128.const at every use)
  const fv = i8x16.splat(<i8>flip), step = v128.load(table, 256);
  // 32 bytes per step: each sub-table load (bounds-checked in Deno) serves two vectors
  for (; i + 32 <= hi; i += 32) {
    let v = v128.xor(v128.load(x + <usize>i), fv), u = v128.xor(v128.load(x + <usize>i, 16), fv);
    let t = v128.load(table);
    let r = i8x16.swizzle(t, v), q = i8x16.swizzle(t, u);
    for (let j: usize = 1; j < 16; j++) {
      v = i8x16.sub(v, step);
      u = i8x16.sub(u, step);
      t = v128.load(table + (j << 4));
      r = v128.or(r, i8x16.swizzle(t, v));
      q = v128.or(q, i8x16.swizzle(t, u));
    }
    v128.store(y + <usize>i, r);
    v128.store(y + <usize>i, q, 16);
  }
  for (; i + 16 <= hi; i += 16) {
    let v = v128.xor(v128.load(x + <usize>i), fv);
    let r = i8x16.swizzle(v128.load(table), v);
    for (let j: usize = 1; j < 16; j++) {
      v = i8x16.sub(v, step);
      r = v128.or(r, i8x16.swizzle(v128.load(table + (j << 4)), v));
    }
    v128.store(y + <usize>i, r);
  }
  for (; i < hi; i++) {
    store<u8>(y + <usize>i, load<u8>(table + <usize>(<i32>load<u8>(x + <usize>i) ^ flip)));
  }
}

// QSoftmax's record (ops_qnorm.ts compileQSoftmax): the i32 table (1024 bytes), the
// splatted constants to 1120, then the u16 planes of min(table, 65535): low bytes at
// SM_LO, high bytes at SM_HI (sub-table t at + 16·t), 16 in every byte at SM_16 and the
// flag SM_OK. The planes serve when SM_OK: entry 0 may still be 65536 (its lanes get 1).
export const SM_LO: i32 = 1120;
export const SM_HI: i32 = 1376;
export const SM_16: i32 = 1632;
/** i32: 1 when every entry past the first is at most 65535 (the planes hold them exactly). */
export const SM_OK: i32 = 1648;
export const SM_BYTES: i32 = 1664;
/**
 * Rows whose codes span fewer values than this take the swizzle gather (at most 10
 * sub-tables): about 7 instructions per sub-table and vector of 16 (two vectors share the
 * sub-table loads; a swizzle is 2 instructions on x86), against about 10 per element for
 * the scalar gather.
 */
const SM_SPAN: i32 = 160;

/** The largest byte of v (unsigned). */
// @ts-ignore: decorator
@inline function hmaxU8(v: v128): i32 {
  let mv = i8x16.max_u(v, i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
  mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
  mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
  mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
  return i8x16.extract_lane_u(mv, 0);
}

/** 16 u16 values (low bytes l, high bytes h) as i32 at o (64 bytes); returns their 4 lane sums. */
// @ts-ignore: decorator
@inline function storeE16(o: usize, l: v128, h: v128): v128 {
  const a = i8x16.shuffle(l, h, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const b = i8x16.shuffle(l, h, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const e0 = i32x4.extend_low_i16x8_u(a), e1 = i32x4.extend_high_i16x8_u(a);
  const e2 = i32x4.extend_low_i16x8_u(b), e3 = i32x4.extend_high_i16x8_u(b);
  v128.store(o, e0);
  v128.store(o, e1, 16);
  v128.store(o, e2, 32);
  v128.store(o, e3, 48);
  return i32x4.add(i32x4.add(e0, e1), i32x4.add(e2, e3));
}

/** Adds 1 to the i32 entries at o of the lanes where d is 0 (the row's maxima); returns their count. */
// @ts-ignore: decorator
@inline function patchTop(o: usize, d: v128): u32 {
  let bm = <u32>i8x16.bitmask(i8x16.eq(d, i8x16.splat(0)));
  const n = popcnt(bm);
  while (bm) {
    const p = o + (<usize>ctz(bm) << 2);
    store<u32>(p, load<u32>(p) + 1);
    bm &= bm - 1;
  }
  return n;
}

/**
 * QSoftmax over rows [lo, hi) of N codes: m = max u, e = table[m − u] (i32 table of 256),
 * S = Σ e, y = min(255, (e·r + floor(S/2)) / S) in exact u32 division. The table is
 * followed by the splatted constants f32 256, f32 2^23, (unused), f64 2^-40, f64 255 and
 * f64 2^52, then the u16 planes (SM_*; ops_qnorm.ts compileQSoftmax). e comes from the
 * planes by swizzles, 16 lanes at a time, over the sub-tables the row's spread reaches
 * (its codes span m − min u + 1 values: ⌈that/16⌉ of them) when it spans fewer than
 * SM_SPAN codes, else (and when some entry past the first is 65536) from the i32 table.
 * `tmp` holds one i32 row of e per thread (tid), so that e is gathered once per element.
 */
export function qsoftmax(
  x: usize, flip: i32, N: i32, table: usize, r: i32, y: usize, tmp: usize, lo: i32, hi: i32, tid: i32,
): void {
  const fv = i8x16.splat(<i8>flip);
  const buf = tmp + <usize>tid * ((<usize>N * 4 + 15) & ~15);
  // e's u16 byte planes (table entries capped at 65535; entry 0 may be 65536: c0 = 1)
  const lo0 = table + SM_LO, hi0 = table + SM_HI, s16 = v128.load(table, SM_16);
  const c0 = load<i32>(table) > 65535 ? 1 : 0, swz = load<i32>(table, SM_OK);
  for (let row = lo; row < hi; row++) {
    const src = x + <usize>row * <usize>N, dst = y + <usize>row * <usize>N;
    let j = 0;
    // max and min of the unsigned codes
    let mv = i8x16.splat(0), nv = i8x16.splat(-1);
    for (; j + 16 <= N; j += 16) {
      const v = v128.xor(v128.load(src + <usize>j), fv);
      mv = i8x16.max_u(mv, v);
      nv = i8x16.min_u(nv, v);
    }
    let m = hmaxU8(mv), mn: i32 = 255 - hmaxU8(v128.not(nv));
    for (; j < N; j++) {
      const v = <i32>load<u8>(src + <usize>j) ^ flip;
      if (v > m) m = v;
      if (v < mn) mn = v;
    }
    // e_j = table[m − u_j] (u_j = x_j ^ flip) into buf; S = Σ e_j
    const tb = table + (<usize>m << 2), f = flip;
    let s: u32 = 0;
    const f4 = <u32>flip * 0x01010101, f8 = <u64>flip * 0x0101010101010101;
    let sv = i32x4.splat(0);
    let extra: u32 = 0;
    if (swz && m - mn < SM_SPAN) {
      // 16 codes per vector: e = the u16 planes at d = m − u through swizzles of the
      // sub-tables 16·t.. that the row's d (at most m − min u) reaches, two vectors at a time;
      // lanes with d = 0 then get c0 (the entry above 65535) by their bitmask
      const mv8 = i8x16.splat(<i8>m), nt = <usize>((m - mn) >> 4) << 4;
      for (j = 0; j + 32 <= N; j += 32) {
        const d0 = i8x16.sub(mv8, v128.xor(v128.load(src + <usize>j), fv));
        const d1 = i8x16.sub(mv8, v128.xor(v128.load(src + <usize>j, 16), fv));
        let L = v128.load(lo0), H = v128.load(hi0);
        let l0 = i8x16.swizzle(L, d0), h0 = i8x16.swizzle(H, d0);
        let l1 = i8x16.swizzle(L, d1), h1 = i8x16.swizzle(H, d1);
        let i0 = d0, i1 = d1;
        for (let t: usize = 16; t <= nt; t += 16) {
          i0 = i8x16.sub(i0, s16);
          i1 = i8x16.sub(i1, s16);
          L = v128.load(lo0 + t);
          H = v128.load(hi0 + t);
          l0 = v128.or(l0, i8x16.swizzle(L, i0));
          h0 = v128.or(h0, i8x16.swizzle(H, i0));
          l1 = v128.or(l1, i8x16.swizzle(L, i1));
          h1 = v128.or(h1, i8x16.swizzle(H, i1));
        }
        const o = buf + (<usize>j << 2);
        sv = i32x4.add(sv, storeE16(o, l0, h0));
        sv = i32x4.add(sv, storeE16(o + 64, l1, h1));
        if (c0) {
          extra += patchTop(o, d0);
          extra += patchTop(o + 64, d1);
        }
      }
      for (; j + 16 <= N; j += 16) {
        let i0 = i8x16.sub(mv8, v128.xor(v128.load(src + <usize>j), fv));
        const d0 = i0;
        let l0 = i8x16.swizzle(v128.load(lo0), i0), h0 = i8x16.swizzle(v128.load(hi0), i0);
        for (let t: usize = 16; t <= nt; t += 16) {
          i0 = i8x16.sub(i0, s16);
          l0 = v128.or(l0, i8x16.swizzle(v128.load(lo0 + t), i0));
          h0 = v128.or(h0, i8x16.swizzle(v128.load(hi0 + t), i0));
        }
        const o = buf + (<usize>j << 2);
        sv = i32x4.add(sv, storeE16(o, l0, h0));
        if (c0) extra += patchTop(o, d0);
      }
    } else {
      // 8 codes per step: one 8-byte load, 8 table reads, two vector stores and one vector
      // add for the sum (the memory accesses are bounds-checked in Deno)
      for (j = 0; j + 8 <= N; j += 8) {
        const w = load<u64>(src + <usize>j) ^ f8;
        const e0 = load<u32>(tb - <usize>((w << 2) & 1020)), e1 = load<u32>(tb - <usize>((w >> 6) & 1020));
        const e2 = load<u32>(tb - <usize>((w >> 14) & 1020)), e3 = load<u32>(tb - <usize>((w >> 22) & 1020));
        const e4 = load<u32>(tb - <usize>((w >> 30) & 1020)), e5 = load<u32>(tb - <usize>((w >> 38) & 1020));
        const e6 = load<u32>(tb - <usize>((w >> 46) & 1020)), e7 = load<u32>(tb - <usize>((w >> 54) & 1020));
        const v0 = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(e0), 1, e1), 2, e2), 3, e3);
        const v1 = i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(e4), 1, e5), 2, e6), 3, e7);
        const o = buf + (<usize>j << 2);
        v128.store(o, v0);
        v128.store(o, v1, 16);
        sv = i32x4.add(sv, i32x4.add(v0, v1));
      }
    }
    // the lanes' sum: every add wraps modulo 2^32, as the u32 sum s does
    s = <u32>(i32x4.extract_lane(sv, 0) + i32x4.extract_lane(sv, 1) + i32x4.extract_lane(sv, 2) + i32x4.extract_lane(sv, 3)) + extra;
    for (; j + 4 <= N; j += 4) {
      // 4 codes per load; (u << 2) of each byte as a byte offset into the table
      const w = load<u32>(src + <usize>j) ^ f4, o = buf + (<usize>j << 2);
      const e0 = load<u32>(tb - <usize>((w << 2) & 1020)), e1 = load<u32>(tb - <usize>((w >> 6) & 1020));
      const e2 = load<u32>(tb - <usize>((w >> 14) & 1020)), e3 = load<u32>(tb - <usize>((w >> 22) & 1020));
      store<u32>(o, e0);
      store<u32>(o, e1, 4);
      store<u32>(o, e2, 8);
      store<u32>(o, e3, 12);
      s += e0 + e1 + e2 + e3;
    }
    for (; j < N; j++) {
      const e = load<u32>(tb - (<usize>(<i32>load<u8>(src + <usize>j) ^ f) << 2));
      store<u32>(buf + (<usize>j << 2), e);
      s += e;
    }
    const half = s >> 1;
    // 4 per step, in f64: a = e·r + floor(S/2) < 2^32 exactly, then floor(a · fl(1/S) + 2^-40).
    // While a/S < 257 the product is within (a/S)·2^-52 < 2^-43 of a/S, and a/S is an
    // integer or at least 1/S >= 2^-31 below the next one, so adding 2^-40 then flooring
    // gives floor(a/S) exactly; a/S >= 256 stays >= 256 (clamped to 255 either way). The
    // floor of min(t, 255) (0..255) is read from the low word of t + 2^52.
    j = 0;
    if (s < 16000000) {
      // S < 16·10^6 (rows up to 244 long always): f32 estimate q0 of a/S (relative error
      // below 2^-21, so q0 = round(min(est, 256)) is floor(a/S) or one more where a/S < 256,
      // and 256 where a/S >= 256), then the exact correction y = q0 − [a − q0·S < 0]: the
      // difference is in [−S, S) where a/S < 256 (exact in wrapping i32 lanes, a < 2^32 and
      // q0·S <= 257·S < 2^32); where a/S >= 256, y is 255 or 256. The saturating narrows
      // cap y at 255.
      const c1 = f32x4.splat(<f32>(<f64>r / <f64>s)), c2 = f32x4.splat(<f32>(<f64>half / <f64>s));
      // constants loaded from behind the table (a v128.const is rebuilt at every use in V8)
      const c256 = v128.load(table, 1024), mg = v128.load(table, 1040);
      const ri = i32x4.splat(r), hi_ = i32x4.splat(<i32>half), si = i32x4.splat(<i32>s);
      for (;;) {
        for (; j + 8 <= N; j += 8) {
          const e0 = v128.load(buf + (<usize>j << 2)), e1 = v128.load(buf + (<usize>j << 2) + 16);
          const h = i16x8.narrow_i32x4_u(smQ(e0, c1, c2, c256, mg, ri, hi_, si), smQ(e1, c1, c2, c256, mg, ri, hi_, si));
          v128.store64_lane(dst + <usize>j, i8x16.narrow_i16x8_u(h, h), 0);
        }
        // the last 1..7 as the row's last 8 (rewriting some outputs with the same values)
        if (j == N || N < 8) break;
        j = N - 8;
      }
    }
    const rv = f64x2.splat(<f64>r), hv = f64x2.splat(<f64>half), iv = f64x2.splat(1.0 / <f64>s);
    const bias = v128.load(table, 1072), cap = v128.load(table, 1088), mg = v128.load(table, 1104);
    for (; j + 4 <= N; j += 4) {
      const e = v128.load(buf + (<usize>j << 2));
      const t0 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(e), rv), hv);
      const t1 = f64x2.add(f64x2.mul(f64x2.convert_low_i32x4_s(hiHalf(e)), rv), hv);
      const q0 = f64x2.add(f64x2.floor(f64x2.pmin(f64x2.add(f64x2.mul(t0, iv), bias), cap)), mg);
      const q1 = f64x2.add(f64x2.floor(f64x2.pmin(f64x2.add(f64x2.mul(t1, iv), bias), cap)), mg);
      const q = i8x16.shuffle(q0, q1, 0, 8, 16, 24, 0, 8, 16, 24, 0, 8, 16, 24, 0, 8, 16, 24);
      v128.store32_lane(dst + <usize>j, q, 0);
    }
    for (; j < N; j++) {
      const e = load<u32>(buf + (<usize>j << 2));
      const q = (e * <u32>r + half) / s;
      store<u8>(dst + <usize>j, <u8>(q > 255 ? 255 : q));
    }
  }
}

// 4 lanes of the f32-estimate softmax quotient (see qsoftmax): floor(a/S), or 255 or 256
// where a/S >= 256.
// @ts-ignore: decorator
@inline function smQ(e: v128, c1: v128, c2: v128, c256: v128, mg: v128, ri: v128, hv: v128, sv: v128): v128 {
  const est = f32x4.pmin(f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(e), c1), c2), c256);
  const q0 = i32x4.sub(f32x4.add(est, mg), mg); // round to nearest, 0..256 (mg: f32 2^23)
  const a = i32x4.add(i32x4.mul(e, ri), hv);
  return i32x4.add(q0, i32x4.shr_s(i32x4.sub(a, i32x4.mul(q0, sv)), 31));
}

// QLayerNorm parameter record (i32): per-channel arrays of N at these word offsets.
// [0] eps, [1] k, [2] y_zp, [3] qmin, [4] qmax, [5] flip, [6] N, [7] word offset (even) of
// the f64 block of the SIMD path (0 when some shift is positive: then no SIMD path);
// then mult[N], shift[N], sign[N], bias[N] from word 8, and that block: the f64x2
// constants −0.0, 0.5 + 2^-19, 0.5, 1.5·2^52 (splatted), then per 4 channels
// 16 f64, four pairs of f64x2 each: m' = sign·mult·2^-31, the sign mask (−0.0 where R >= 1,
// else +0.0), P = 2^-(R'+4) and K2 = c/16 + 2^-(R'+5) − 1/2 (+ 1/32 where R' >= 1) (+ 128 for an
// int8 output: the kernel offsets the codes to 0..255), with
// R = −shift, R' = min(R, 24) and c = clamp(bias + 8 + 16·y_zp, ±2^23) (ops_qnorm.ts).
export const LN_HEAD: i32 = 8;

// @ts-ignore: decorator
@inline function hiHalf(a: v128): v128 {
  return i8x16.shuffle(a, a, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
}

/**
 * QLayerNorm over rows [lo, hi) of N codes; `pr` is the record above. With every shift
 * <= 0, 8 (then 4) channels per step, all in exact f64 arithmetic:
 * t = divRoundHalfAway(D·2^k, σ) as D·2^k · fl(1/σ) (within |t|·2^-52 <= 2^-22 of the
 * quotient, plus 2^-23 for the add below) rounded half away from zero with a bias of 2^-19:
 * an exact tie n + 1/2 then lands above it, and any other quotient is at least
 * 1/(2σ) >= 2^-17 away from a half-integer, so the rounding is the exact one.
 * |t| < 2^21.2 (|D| <= sqrt((N−1)·V), σ >= sqrt(V + 1) − 1/2, 2^k < 2^30/(255·N)), so
 * z = t·m' = sign·t·mult / 2^31 is exact (|t·mult| < 2^53) and SRDHM is floor(z + 1/2),
 * |h| < 2^22. RDBPOT(h, R) then the output floor((u + bias + 8)/16) + y_zp fold into
 * one floor: y = floor((h + K − [h < 0]) / 2^(R+4)) with K = c·2^R + 2^(R−1) (R >= 1;
 * K = c when R = 0), and [h < 0] may be [z < 0] (they differ only where h = 0, and
 * K mod 2^(R+4) is never 0, so K − 1 floors the same). h − [z < 0] = floor(z ± 1/2)
 * (the sign of z; + for R = 0 through the mask), y = nearest(h'·P + K2) (a multiple of
 * 2^-(R+4) plus 2^-(R+5) − 1/2 is never a tie), read from the low word of y + 1.5·2^52
 * (|y| < 2^20), narrowed with saturation to bytes (codes offset to 0..255) and clamped
 * there. R' = min(R, 24) and the clamp of c do not change y: |h| < 2^22 rounds to 0 for
 * R >= 23, and |c| > 2^23 saturates y either way.
 */
export function qlayernorm(x: usize, y: usize, pr: usize, lo: i32, hi: i32, _tid: i32): void {
  const eps = load<i32>(pr), k = load<i32>(pr, 4), yzp = load<i32>(pr, 8);
  const qmin = load<i32>(pr, 12), qmax = load<i32>(pr, 16), flip = load<i32>(pr, 20);
  const N = load<i32>(pr, 24), fo = load<i32>(pr, 28);
  const pm = pr + (<usize>LN_HEAD << 2), ps = pm + (<usize>N << 2);
  const pg = ps + (<usize>N << 2), pb = pg + (<usize>N << 2);
  const pc = pr + (<usize>fo << 2), pf = pc + 64;
  const n4 = fo ? N & ~3 : 0;
  const fv = i8x16.splat(<i8>flip), Nv = i32x4.splat(N);
  // codes offset by 128 for an int8 output (K2 has it too): 0..255, narrowed unsigned
  // (the clamp on those bytes: the narrows before it saturate exactly)
  const off = qmin < 0 ? 128 : 0, ov = i8x16.splat(<i8>off);
  const lo8 = i8x16.splat(<i8>(qmin + off)), hi8 = i8x16.splat(<i8>(qmax + off));
  // the constants as loads from the record (V8 rebuilds a v128.const at every use inside a
  // loop; binaryen would fold splats of literals back into such constants)
  let sgn = i64x2.splat(0), hb = sgn, half = sgn, mg = sgn;
  if (fo) {
    sgn = v128.load(pc); // −0.0 (the sign bit)
    hb = v128.load(pc, 16); // 0.5 + 2^-19
    half = v128.load(pc, 32); // 0.5
    mg = v128.load(pc, 48); // 1.5·2^52
  }
  for (let row = lo; row < hi; row++) {
    const src = x + <usize>row * <usize>N, dst = y + <usize>row * <usize>N;
    let sum: i32 = 0, sq: i32 = 0;
    let j = 0;
    {
      let sv = i32x4.splat(0), qv = i32x4.splat(0);
      for (; j + 8 <= N; j += 8) {
        const u = i16x8.extend_low_i8x16_u(v128.xor(v128.load64_zero(src + <usize>j), fv));
        sv = i32x4.add(sv, i32x4.extadd_pairwise_i16x8_u(u));
        qv = i32x4.add(qv, i32x4.dot_i16x8_s(u, u));
      }
      sum = i32x4.extract_lane(sv, 0) + i32x4.extract_lane(sv, 1) + i32x4.extract_lane(sv, 2) + i32x4.extract_lane(sv, 3);
      sq = i32x4.extract_lane(qv, 0) + i32x4.extract_lane(qv, 1) + i32x4.extract_lane(qv, 2) + i32x4.extract_lane(qv, 3);
    }
    for (; j < N; j++) {
      const u = <i32>load<u8>(src + <usize>j) ^ flip;
      sum += u;
      sq += u * u;
    }
    // V < 2^32 exactly (README); V + eps < 2^32; floor(sqrt) exact in f64.
    const v: i64 = <i64>N * <i64>sq - <i64>sum * <i64>sum + <i64>eps;
    let sg = <i64>Math.floor(Math.sqrt(<f64>v));
    if (v - sg * sg > sg) sg++;
    const sigma = <i32>sg;
    // 2^k · fl(1/σ) = fl(2^k/σ): D · inv is D·2^k · fl(1/σ)
    const inv = f64x2.splat(<f64>(1 << k) / <f64>sigma), sumv = i32x4.splat(sum);
    for (j = 0; j + 8 <= n4; j += 8) {
      const o = pf + (<usize>j << 5);
      const u = i16x8.extend_low_i8x16_u(v128.xor(v128.load64_zero(src + <usize>j), fv));
      const d0 = i32x4.sub(i32x4.mul(i32x4.extend_low_i16x8_u(u), Nv), sumv);
      const d1 = i32x4.sub(i32x4.mul(i32x4.extend_high_i16x8_u(u), Nv), sumv);
      const y0 = lnLanes(f64x2.convert_low_i32x4_s(d0), inv, o, sgn, hb, half, mg);
      const y1 = lnLanes(f64x2.convert_low_i32x4_s(hiHalf(d0)), inv, o + 16, sgn, hb, half, mg);
      const y2 = lnLanes(f64x2.convert_low_i32x4_s(d1), inv, o + 128, sgn, hb, half, mg);
      const y3 = lnLanes(f64x2.convert_low_i32x4_s(hiHalf(d1)), inv, o + 144, sgn, hb, half, mg);
      // the low words (one shufps per 4), then two exact narrows
      const w0 = i8x16.shuffle(y0, y1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
      const w1 = i8x16.shuffle(y2, y3, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
      const w16 = i16x8.narrow_i32x4_s(w0, w1);
      const q = i8x16.min_u(i8x16.max_u(i8x16.narrow_i16x8_u(w16, w16), lo8), hi8);
      v128.store64_lane(dst + <usize>j, v128.xor(q, ov), 0);
    }
    for (; j < n4; j += 4) {
      const o = pf + (<usize>j << 5);
      const b = v128.xor(v128.load32_zero(src + <usize>j), fv);
      const d = i32x4.sub(i32x4.mul(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(b)), Nv), sumv);
      const y0 = lnLanes(f64x2.convert_low_i32x4_s(d), inv, o, sgn, hb, half, mg);
      const y1 = lnLanes(f64x2.convert_low_i32x4_s(hiHalf(d)), inv, o + 16, sgn, hb, half, mg);
      const w = i8x16.shuffle(y0, y1, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
      const w16 = i16x8.narrow_i32x4_s(w, w);
      const q = i8x16.min_u(i8x16.max_u(i8x16.narrow_i16x8_u(w16, w16), lo8), hi8);
      v128.store32_lane(dst + <usize>j, v128.xor(q, ov), 0);
    }
    for (j = n4; j < N; j++) {
      const u = <i32>load<u8>(src + <usize>j) ^ flip;
      const d = (N * u - sum) << k;
      // divRoundHalfAway(d, sigma)
      const qd = d / sigma, rm = d - qd * sigma;
      const t = 2 * rm >= sigma ? qd + 1 : 2 * rm <= -sigma ? qd - 1 : qd;
      const o = <usize>j << 2;
      const uu = mbqm(load<i32>(pg + o) * t, load<i32>(pm + o), load<i32>(ps + o));
      const w = sat32(<i64>uu + <i64>load<i32>(pb + o) + 8);
      const q = yzp + (w >> 4);
      store<u8>(dst + <usize>j, <u8>(q < qmin ? qmin : q > qmax ? qmax : q));
    }
  }
}

// Two channels of the QLayerNorm SIMD path (see qlayernorm): D in f64 lanes → the output
// codes before the clamp in the low words of the f64 lanes (+ 1.5·2^52; |y| < 2^20). `o` points at the channels' m'
// pair; the sign masks, P and K2 follow at +32, +64, +96.
// @ts-ignore: decorator
@inline function lnLanes(
  d: v128, inv: v128, o: usize, sgn: v128, hb: v128, half: v128, mg: v128,
): v128 {
  const c = f64x2.mul(d, inv);
  const t = f64x2.trunc(f64x2.add(c, v128.or(v128.and(c, sgn), hb)));
  const z = f64x2.mul(t, v128.load(o));
  const h = f64x2.floor(f64x2.add(z, v128.or(v128.and(z, v128.load(o, 32)), half)));
  const yv = f64x2.add(f64x2.mul(h, v128.load(o, 64)), v128.load(o, 96));
  return f64x2.add(yv, mg);
}
