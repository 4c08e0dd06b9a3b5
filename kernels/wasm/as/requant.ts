// Fixed-point requantization, bit-identical to kernels/ref/quant/requant.ts
// (gemmlowp/TFLite: SRDHM then RoundingDivideByPOT, saturating left shift).

/** Saturates an i64 to the int32 range. */
// @ts-ignore: decorator
@inline export function sat32(x: i64): i32 {
  return x > 2147483647 ? 2147483647 : x < -2147483648 ? -2147483648 : <i32> x;
}

/** MultiplyByQuantizedMultiplier(x, mult, shift): mult in [0, 2^31), shift in [-31, 30]. */
// @ts-ignore: decorator
@inline export function mbqm(x: i32, mult: i32, shift: i32): i32 {
  let a: i64 = <i64> x;
  let r: i32 = 0;
  if (shift > 0) a = <i64> sat32(a << shift);
  else r = -shift;
  // SRDHM: floor((a*b + 2^30) / 2^31); mult < 2^31 so INT32_MIN*INT32_MIN never occurs.
  const h: i64 = (a * <i64> mult + 0x40000000) >> 31;
  if (r == 0) return <i32> h;
  // RDBPOT: x / 2^r nearest, ties away from zero.
  const mask: i64 = (<i64> 1 << r) - 1;
  const rem: i64 = h & mask;
  const thr: i64 = (mask >> 1) + (h < 0 ? 1 : 0);
  return <i32> ((h >> r) + (rem > thr ? 1 : 0));
}

/** clamp(MBQM(acc) + zp, qmin, qmax). */
// @ts-ignore: decorator
@inline export function requant(acc: i32, mult: i32, shift: i32, zp: i32, lo: i32, hi: i32): i32 {
  const v = mbqm(acc, mult, shift) + zp;
  return v < lo ? lo : v > hi ? hi : v;
}

/** TFLite quantized add on zero-point-free inputs (left shift 20). */
// @ts-ignore: decorator
@inline export function qaddCore(
  da: i32,
  db: i32,
  am: i32,
  ash: i32,
  bm: i32,
  bsh: i32,
  ym: i32,
  ysh: i32,
  yzp: i32,
  lo: i32,
  hi: i32,
): i32 {
  const sa = mbqm(da << 20, am, ash);
  const sb = mbqm(db << 20, bm, bsh);
  return requant(sat32(<i64> sa + <i64> sb), ym, ysh, yzp, lo, hi);
}

/** Reads an 8-bit value: signed (int8) or unsigned (uint8). */
// @ts-ignore: decorator
@inline export function ld8(p: usize, signed: i32): i32 {
  return signed ? <i32> load<i8>(p) : <i32> load<u8>(p);
}

/** s / n rounded to nearest, ties away from zero (n > 0). */
// @ts-ignore: decorator
@inline export function divRound(s: i32, n: i32): i32 {
  const q = s / n, r = s % n;
  if (2 * r >= n) return q + 1;
  if (2 * r <= -n) return q - 1;
  return q;
}

/** 2^30 in both i64 lanes (a global: V8 loads it rather than rebuilding the constant). */
let vHalf31: v128 = i64x2.splat(0x40000000);

/**
 * SRDHM on 4 lanes with a multiplier per lane (m: lanes in [0, 2^31)): (a·m + 2^30) >> 31
 * fits in i32, the high word of (a·m + 2^30) << 1 (a logical i64 shift, native on x86,
 * where the arithmetic one is emulated). The one SIMD SRDHM of the kernels.
 */
// @ts-ignore: decorator
@inline export function srdhm4v(a: v128, m: v128): v128 {
  const lo = i64x2.shl(i64x2.add(i64x2.extmul_low_i32x4_s(a, m), vHalf31), 1);
  const hi = i64x2.shl(i64x2.add(i64x2.extmul_high_i32x4_s(a, m), vHalf31), 1);
  return i8x16.shuffle(lo, hi, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
}

/** SRDHM then RDBPOT(r), on 4 lanes (mult in [0, 2^31), r in 0..31). */
// @ts-ignore: decorator
@inline export function mbqm4(a: v128, mult: i32, r: i32): v128 {
  const h = srdhm4v(a, i32x4.splat(mult));
  if (r == 0) return h;
  const mask = <i32>((<u32>1 << r) - 1);
  return rdbpot4(h, r, i32x4.splat(mask), i32x4.splat(mask >> 1));
}

/** 2^31 in every i32 lane (the offset of mbqmU4's operand; a global, as vHalf31). */
export let vOff31: v128 = i32x4.splat(i32.MIN_VALUE);

/**
 * RDBPOT(SRDHM(a, m), r) on 4 lanes in one 64-bit step, for r in 1..31 and
 * |a| + 2^(r−1) < 2^31 (so that |h + 2^(r−1)| < 2^31 below). The operand comes offset:
 * a2 = a + 2^31 (wrapping i32 add; as u32 it is exactly a + 2^31, in (0, 2^32)), with
 * m2 = 2m (u32 lanes, m in [0, 2^31)) and k = 2^31 + (2^(r−1) − 1 − m)·2^32 per i64 lane
 * (klo: the i64 constants of lanes 0, 1; khi: of lanes 2, 3; mbqmK builds them).
 * a2·m2 = 2am + m·2^32, so the high word of a2·m2 + k is
 * floor((2am + 2^31)/2^32) + 2^(r−1) − 1 = h + 2^(r−1) − 1 with h = SRDHM(a, m)
 * (|2am| < 2^62: the wrapping u64 sum is the true value). The sign bit of a2 is set
 * exactly when a >= 0, so hw − (a2 >> 31) = h + 2^(r−1) − [a < 0], and the arithmetic shift
 * by r gives RDBPOT(h, r) = floor((h + 2^(r−1) − [h < 0]) / 2^r): [a < 0] = [h < 0] where
 * h != 0 (m >= 0), and where h = 0 both give 0 (r >= 1). In V8's x64 code (jitdumps of
 * MobileNetV2's kernels) this is 12 vector instructions; srdhm4v alone took 11 there, and
 * rdbpotNear4 added 4 more operations.
 */
// @ts-ignore: decorator
@inline export function mbqmU4(a2: v128, m2: v128, klo: v128, khi: v128, r: i32): v128 {
  const lo = i64x2.add(i64x2.extmul_low_i32x4_u(a2, m2), klo);
  const hi = i64x2.add(i64x2.extmul_high_i32x4_u(a2, m2), khi);
  return i32x4.shr_s(i32x4.sub(i32x4.shuffle(lo, hi, 1, 3, 5, 7), i32x4.shr_s(a2, 31)), r);
}

/** mbqmU4's constant k for multiplier m (in [0, 2^31)) and shift r (1..31), both i64 lanes. */
// @ts-ignore: decorator
@inline export function mbqmK(m: i32, r: i32): v128 {
  return i64x2.splat(0x80000000 + ((((<i64>1) << (r - 1)) - 1 - <i64>m) << 32));
}

/**
 * RDBPOT(h, r) for r in 1..30 as (h + 2^(r−1) + (h >> 31)) >> r (half = 2^(r−1) splatted):
 * rdbpot4's value when h + 2^(r−1) cannot overflow (|h| < 2^31 − 2^(r−1)).
 */
// @ts-ignore: decorator
@inline export function rdbpotNear4(h: v128, r: i32, half: v128): v128 {
  return i32x4.shr_s(i32x4.add(i32x4.add(h, half), i32x4.shr_s(h, 31)), r);
}

/**
 * 8 codes from two i32x4 (already rounded): + the zero point and the clamp in i16 / i8 lanes,
 * one code path for int8 and uint8 outputs. The constants come offset by off = 0 (int8) or
 * 128 (uint8; codeOff): z16 = zp − off (i16 lanes), lo8 = qmin − off, hi8 = qmax − off (i8
 * lanes), off8 = off in every byte. The signed saturating narrows and the signed clamp give
 * clamp(q + zp, qmin, qmax) − off exactly (saturation is monotone and exact inside the clamp
 * range, which lies in [−128, 127] after the offset), and the xor with off8 adds off back.
 * A branch on the output type here became a select, and V8 then computed both arms.
 */
// @ts-ignore: decorator
@inline export function narrowClamp8(
  q0: v128, q1: v128, z16: v128, lo8: v128, hi8: v128, off8: v128,
): v128 {
  const n = zpCodes16(q0, q1, z16);
  return clampCodes(n, n, lo8, hi8, off8);
}

/**
 * narrowClamp8's first step: 8 rounded i32 lanes (q0: codes 0..3, q1: 4..7) plus the
 * offset zero point z16, as saturated i16 lanes (clampCodes' input).
 */
// @ts-ignore: decorator
@inline export function zpCodes16(q0: v128, q1: v128, z16: v128): v128 {
  return i16x8.add_sat_s(i16x8.narrow_i32x4_s(q0, q1), z16);
}

/** narrowClamp8's last step on 16 lanes of i16 (n0: codes 0..7, n1: 8..15). */
// @ts-ignore: decorator
@inline export function clampCodes(n0: v128, n1: v128, lo8: v128, hi8: v128, off8: v128): v128 {
  return v128.xor(i8x16.min_s(i8x16.max_s(i8x16.narrow_i16x8_s(n0, n1), lo8), hi8), off8);
}

/** narrowClamp8's offset for an output whose smallest code is qmin: 0 for int8, 128 for uint8. */
// @ts-ignore: decorator
@inline export function codeOff(qmin: i32): i32 {
  return qmin < 0 ? 0 : 128;
}

/** int32 saturating add on 4 lanes. */
// @ts-ignore: decorator
@inline export function addSat4(a: v128, b: v128): v128 {
  const r = i32x4.add(a, b);
  const ov = i32x4.shr_s(v128.and(v128.xor(a, r), v128.xor(b, r)), 31);
  const sat = v128.xor(i32x4.shr_s(a, 31), i32x4.splat(0x7fffffff));
  return v128.bitselect(sat, r, ov);
}

/** sat32(a · 2^L) on 4 lanes (L in 1..30). */
// @ts-ignore: decorator
@inline export function shlSat4(a: v128, L: i32): v128 {
  const r = i32x4.shl(a, L);
  const ok = i32x4.eq(i32x4.shr_s(r, L), a);
  const sat = v128.xor(i32x4.shr_s(a, 31), i32x4.splat(0x7fffffff));
  return v128.bitselect(r, sat, ok);
}

/** MBQM on 4 lanes with any shift in [-31, 30] (a saturating left shift when positive). */
// @ts-ignore: decorator
@inline export function mbqm4s(a: v128, mult: i32, shift: i32): v128 {
  if (shift > 0) return mbqm4(shlSat4(a, shift), mult, 0);
  return mbqm4(a, mult, -shift);
}

/** clamp(v, lo, hi) on 4 lanes. */
// @ts-ignore: decorator
@inline export function clamp4(v: v128, lo: i32, hi: i32): v128 {
  return i32x4.min_s(i32x4.max_s(v, i32x4.splat(lo)), i32x4.splat(hi));
}

// RDBPOT(h, r): h / 2^r rounded half away from zero (as requant.ts mbqm4), with the
// splatted mask 2^r − 1 and half = mask >> 1.
// @ts-ignore: decorator
@inline export function rdbpot4(h: v128, r: i32, mask: v128, half: v128): v128 {
  if (r == 0) return h;
  const thr = i32x4.sub(half, i32x4.shr_s(h, 31));
  return i32x4.sub(i32x4.shr_s(h, r), i32x4.gt_s(v128.and(h, mask), thr));
}

// SRDHM(d·2^20, mult) for |d| <= 255: floor((d·mult + 2^10) / 2^11)
// = d·(mult >> 11) + ((d·(mult & 2047) + 2^10) >> 11), every term within i32.
// @ts-ignore: decorator
@inline export function srdhm20(d: v128, mh: v128, ml: v128): v128 {
  return i32x4.add(i32x4.mul(d, mh), i32x4.shr_s(i32x4.add(i32x4.mul(d, ml), i32x4.splat(1024)), 11));
}
