/**
 * WGSL source of the integer arithmetic every quantized WebGPU kernel shares: the
 * fixed-point requantization of kernels/ref/quant/requant.ts (SRDHM, RDBPOT, MBQM,
 * requantize, the TFLite quantized add), the int32 saturating add, the exact
 * round-half-away division of the pools, and the two 4×int8 dot products (the
 * `dot4I8Packed` builtin and its integer-unpacking fallback).
 *
 * WGSL has no 64-bit integers: SRDHM forms the 64-bit product of two int32 from four
 * 16×16-bit partial products in u32 (as requant.ts splits into 16-bit halves in TS),
 * adds the 2^30 nudge with a carry and takes bits 31..62. WGSL's i32 `+`, `-`, `*` wrap
 * modulo 2^32 at run time, which the kernels rely on where the exact result is known to
 * fit (documented at each use).
 *
 * @example
 * ```ts
 * const code = `${WGSL_REQUANT}
 * @compute @workgroup_size(1) fn main() { let y = requantize(1000, 1073741824, 0, 0, -128, 127); }`;
 * ```
 * @module
 */

/** Requantization helpers (no dependencies). */
export const WGSL_REQUANT = /* wgsl */ `
const I32_MIN: i32 = -2147483647 - 1;
const I32_MAX: i32 = 2147483647;

// int32 + int32 with saturation (wrapping add, then overflow detection).
fn sat_add(a: i32, b: i32) -> i32 {
  let s = a + b;
  if (a > 0 && b > 0 && s < 0) { return I32_MAX; }
  if (a < 0 && b < 0 && s >= 0) { return I32_MIN; }
  return s;
}

// floor((a*b + 2^30) / 2^31); INT32_MIN*INT32_MIN -> INT32_MAX.
fn srdhm(a: i32, b: i32) -> i32 {
  if (a == I32_MIN && b == I32_MIN) { return I32_MAX; }
  let au = bitcast<u32>(a);
  let bu = bitcast<u32>(b);
  let a0 = au & 0xffffu; let a1 = au >> 16u;
  let b0 = bu & 0xffffu; let b1 = bu >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (mid << 16u) | (p00 & 0xffffu);
  var hi = p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  // unsigned -> signed two's complement product
  if (a < 0) { hi = hi - bu; }
  if (b < 0) { hi = hi - au; }
  let lo2 = lo + 0x40000000u;
  if (lo2 < lo) { hi = hi + 1u; }
  return bitcast<i32>((hi << 1u) | (lo2 >> 31u));
}

// x / 2^e rounded to nearest, ties away from zero (e in 0..31).
fn rdbpot(x: i32, e: u32) -> i32 {
  let mask = bitcast<i32>((1u << e) - 1u);
  let rem = x & mask;
  let thr = (mask >> 1u) + select(0, 1, x < 0);
  return (x >> e) + select(0, 1, rem > thr);
}

// MultiplyByQuantizedMultiplier with a saturating left shift.
fn mbqm(x: i32, mult: i32, shift: i32) -> i32 {
  if (shift > 0) {
    let s = u32(shift);
    var v = x << s;
    if (x > (I32_MAX >> s)) { v = I32_MAX; }
    if (x < (I32_MIN >> s)) { v = I32_MIN; }
    return srdhm(v, mult);
  }
  return rdbpot(srdhm(x, mult), u32(-shift));
}

// clamp(MBQM(acc) + zp, qmin, qmax), exact (clamped before adding zp: no wrap).
fn requantize(acc: i32, mult: i32, shift: i32, zp: i32, qmin: i32, qmax: i32) -> i32 {
  return clamp(mbqm(acc, mult, shift), qmin - zp, qmax - zp) + zp;
}

// TFLite quantized add on zero-point-free inputs (|da|, |db| <= 255).
fn quantized_add(da: i32, db: i32, am: i32, ash: i32, bm: i32, bsh: i32,
                 ym: i32, ysh: i32, yzp: i32, qmin: i32, qmax: i32) -> i32 {
  let sa = mbqm(da << 20u, am, ash);
  let sb = mbqm(db << 20u, bm, bsh);
  return requantize(sat_add(sa, sb), ym, ysh, yzp, qmin, qmax);
}

// s / n (n > 0) rounded to nearest, ties away from zero (exact). The remainder comes
// from the truncating quotient, not from \`%\`: Mesa 22.3's lavapipe on a Zen 3 EPYC
// (AVX2, no AVX-512) returned the unsigned remainder of the bit pattern for a negative s
// (-1 % 57385 gave 44355), while its i32 division was exact (65,536 random pairs); on the
// Zen 4 (AVX-512) hosts before it, \`%\` had passed the same tests.
fn div_round_half_away(s: i32, n: i32) -> i32 {
  let q = s / n;
  let r = s - q * n;
  if (2 * r >= n) { return q + 1; }
  if (2 * r <= -n) { return q - 1; }
  return q;
}
`;

/**
 * The 4×int8 packing and dot product: `pack4(v)` packs four values in -128..127 into a
 * u32 (lane 0 in the low byte), `dot4(a, b)` is the signed dot product of two packed
 * words. With `useBuiltin` they are `pack4xI8` / `dot4I8Packed` (WGSL language feature
 * `packed_4x8_integer_dot_product`); otherwise shifts and multiplies (the fallback).
 *
 * @example
 * ```ts
 * const src = wgslDot4(navigator.gpu.wgslLanguageFeatures.has("packed_4x8_integer_dot_product"));
 * ```
 */
export function wgslDot4(useBuiltin: boolean): string {
  if (useBuiltin) {
    return /* wgsl */ `
fn pack4(v: vec4<i32>) -> u32 { return pack4xI8(v); }
fn dot4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }
`;
  }
  return /* wgsl */ `
fn pack4(v: vec4<i32>) -> u32 {
  return (u32(v.x) & 0xffu) | ((u32(v.y) & 0xffu) << 8u) | ((u32(v.z) & 0xffu) << 16u) |
    (u32(v.w) << 24u);
}
fn lane(a: u32, i: u32) -> i32 { return bitcast<i32>(a << (24u - 8u * i)) >> 24u; }
fn dot4(a: u32, b: u32) -> i32 {
  return lane(a, 0u) * lane(b, 0u) + lane(a, 1u) * lane(b, 1u) + lane(a, 2u) * lane(b, 2u) +
    lane(a, 3u) * lane(b, 3u);
}
`;
}
