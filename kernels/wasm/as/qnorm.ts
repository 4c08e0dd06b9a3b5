// The integer islands of a transformer (kernels/ref/quant/README.md, "Integer islands"):
// QLut (a 256-entry byte table), QSoftmax and QLayerNorm over the last axis. Exact
// integer arithmetic only; every kernel works on u = code ^ flip (0..255: the unsigned
// code of an int8 or uint8 input), which the three definitions allow (QLut indexes the
// table by code − dtypeMin = u; softmax and layer norm only see differences of codes).
import { addSat4, clamp4, mbqm, sat32 } from "./requant";

/**
 * QLut over elements [lo, hi): y[i] = table[x[i] ^ flip]; `table` holds 256 output bytes.
 * 16 bytes at a time: the table as 16 sub-tables of 16 bytes, i8x16.swizzle on u − 16·j
 * (an index outside 0..15 gives 0 in every host: plain swizzle, never the relaxed one).
 */
export function qlut(x: usize, flip: i32, table: usize, y: usize, lo: i32, hi: i32, _tid: i32): void {
  let i = lo;
  const fv = i8x16.splat(<i8>flip), step = i8x16.splat(16);
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

/**
 * QSoftmax over rows [lo, hi) of N codes: m = max u, e = table[m − u] (i32 table of 256),
 * S = Σ e, y = min(255, (e·r + floor(S/2)) / S) in exact u32 division.
 */
export function qsoftmax(
  x: usize, flip: i32, N: i32, table: usize, r: i32, y: usize, lo: i32, hi: i32, _tid: i32,
): void {
  const fv = i8x16.splat(<i8>flip);
  for (let row = lo; row < hi; row++) {
    const src = x + <usize>row * <usize>N, dst = y + <usize>row * <usize>N;
    // max of the unsigned codes
    let j = 0;
    let mv = i8x16.splat(0);
    for (; j + 16 <= N; j += 16) mv = i8x16.max_u(mv, v128.xor(v128.load(src + <usize>j), fv));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
    let m: i32 = i8x16.extract_lane_u(mv, 0);
    for (; j < N; j++) {
      const v = <i32>load<u8>(src + <usize>j) ^ flip;
      if (v > m) m = v;
    }
    // e_j = table[m − u_j]; u_j = x_j ^ flip
    let s: u32 = 0;
    for (j = 0; j < N; j++) {
      s += load<u32>(table + (<usize>(m - (<i32>load<u8>(src + <usize>j) ^ flip)) << 2));
    }
    const half = s >> 1;
    // 4 per step: a = e·r + floor(S/2) < 2^32 as u32, then trunc(f64(a) / f64(S)): the
    // correctly rounded quotient never reaches the next integer while it is below 256
    // (its distance to it is >= 1/S >= 2^-31, the rounding error below 2^-44), and a
    // quotient of 256 or more stays >= 256 (clamped to 255 either way).
    const rv = i32x4.splat(r), hv = i32x4.splat(<i32>half), sv = f64x2.splat(<f64>s);
    const cap = i32x4.splat(255);
    for (j = 0; j + 4 <= N; j += 4) {
      const p = src + <usize>j;
      let e = i32x4.splat(load<i32>(table + (<usize>(m - (<i32>load<u8>(p) ^ flip)) << 2)));
      e = i32x4.replace_lane(e, 1, load<i32>(table + (<usize>(m - (<i32>load<u8>(p, 1) ^ flip)) << 2)));
      e = i32x4.replace_lane(e, 2, load<i32>(table + (<usize>(m - (<i32>load<u8>(p, 2) ^ flip)) << 2)));
      e = i32x4.replace_lane(e, 3, load<i32>(table + (<usize>(m - (<i32>load<u8>(p, 3) ^ flip)) << 2)));
      const a = i32x4.add(i32x4.mul(e, rv), hv);
      const q0 = i32x4.trunc_sat_f64x2_u_zero(f64x2.div(f64x2.convert_low_i32x4_u(a), sv));
      const q1 = i32x4.trunc_sat_f64x2_u_zero(f64x2.div(f64x2.convert_low_i32x4_u(hiHalf(a)), sv));
      const q = i32x4.min_u(lanes01(q0, q1), cap);
      const q16 = i16x8.narrow_i32x4_s(q, q);
      v128.store32_lane(dst + <usize>j, i8x16.narrow_i16x8_u(q16, q16), 0);
    }
    for (; j < N; j++) {
      const e = load<u32>(table + (<usize>(m - (<i32>load<u8>(src + <usize>j) ^ flip)) << 2));
      const q = (e * <u32>r + half) / s;
      store<u8>(dst + <usize>j, <u8>(q > 255 ? 255 : q));
    }
  }
}

// QLayerNorm parameter record (i32): per-channel arrays of N at these word offsets.
// [0] eps, [1] k, [2] y_zp, [3] qmin, [4] qmax, [5] flip, [6] N, [7] word offset of the
// f64 array 2^-R (R = −shift; 0 when some shift is positive: then no SIMD path); then
// mult[N], shift[N], sign[N], bias[N], bias[N] + 8 from word 8, and the f64 array.
export const LN_HEAD: i32 = 8;

// @ts-ignore: decorator
@inline function roundHalfAway2(q: v128): v128 {
  // q + copysign(0.5, q), truncated: exact for the quotients here (see qlayernorm)
  const h = v128.or(v128.and(q, i64x2.splat(0x8000000000000000)), f64x2.splat(0.5));
  return i32x4.trunc_sat_f64x2_s_zero(f64x2.add(q, h));
}

// @ts-ignore: decorator
@inline function hiHalf(a: v128): v128 {
  return i8x16.shuffle(a, a, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
}

// @ts-ignore: decorator
@inline function lanes01(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
}

/**
 * QLayerNorm over rows [lo, hi) of N codes; `pr` is the record above. With every shift
 * <= 0, 4 channels per step: the division D·2^k / σ in f64 (correctly rounded: an exact
 * tie stays exact, and any other quotient is at least 1/(2σ) >= 2^-17 away from a
 * half-integer while the f64 error is below 2^-22), SRDHM on i64 lanes, and RDBPOT as
 * h · 2^-R in f64 (exact) rounded half away from zero, as gemmlowp's RoundingDivideByPOT.
 */
export function qlayernorm(x: usize, y: usize, pr: usize, lo: i32, hi: i32, _tid: i32): void {
  const eps = load<i32>(pr), k = load<i32>(pr, 4), yzp = load<i32>(pr, 8);
  const qmin = load<i32>(pr, 12), qmax = load<i32>(pr, 16), flip = load<i32>(pr, 20);
  const N = load<i32>(pr, 24), fo = load<i32>(pr, 28);
  const pm = pr + (<usize>LN_HEAD << 2), ps = pm + (<usize>N << 2);
  const pg = ps + (<usize>N << 2), pb = pg + (<usize>N << 2), pb8 = pb + (<usize>N << 2);
  const pf = pr + (<usize>fo << 2);
  const n4 = fo ? N & ~3 : 0;
  const fv = i8x16.splat(<i8>flip), Nv = i32x4.splat(N), yzv = i32x4.splat(yzp);
  const rnd = i64x2.splat(0x40000000);
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
    const sigv = f64x2.splat(<f64>sigma), sumv = i32x4.splat(sum);
    for (j = 0; j < n4; j += 4) {
      const o = <usize>j << 2;
      const b = v128.xor(v128.load32_zero(src + <usize>j), fv);
      const u = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(b));
      const d = i32x4.shl(i32x4.sub(i32x4.mul(u, Nv), sumv), k);
      const t0 = roundHalfAway2(f64x2.div(f64x2.convert_low_i32x4_s(d), sigv));
      const t1 = roundHalfAway2(f64x2.div(f64x2.convert_low_i32x4_s(hiHalf(d)), sigv));
      const a = i32x4.mul(lanes01(t0, t1), v128.load(pg + o));
      const mv = v128.load(pm + o);
      // SRDHM: the high words of (a·mult + 2^30) << 1 (as requant.ts mbqm4)
      const h0 = i64x2.shl(i64x2.add(i64x2.extmul_low_i32x4_s(a, mv), rnd), 1);
      const h1 = i64x2.shl(i64x2.add(i64x2.extmul_high_i32x4_s(a, mv), rnd), 1);
      const h = i8x16.shuffle(h0, h1, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
      const fp = pf + (<usize>j << 3);
      const r0 = roundHalfAway2(f64x2.mul(f64x2.convert_low_i32x4_s(h), v128.load(fp)));
      const r1 = roundHalfAway2(f64x2.mul(f64x2.convert_low_i32x4_s(hiHalf(h)), v128.load(fp + 16)));
      const w = addSat4(lanes01(r0, r1), v128.load(pb8 + o));
      const q = clamp4(i32x4.add(i32x4.shr_s(w, 4), yzv), qmin, qmax);
      const q16 = i16x8.narrow_i32x4_s(q, q);
      v128.store32_lane(dst + <usize>j, qmin < 0 ? i8x16.narrow_i16x8_s(q16, q16) : i8x16.narrow_i16x8_u(q16, q16), 0);
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
