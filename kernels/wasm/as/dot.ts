// The relaxed int8 dot of the kernels, lowered one of two ways per build (sources.ts
// BUILDS, `--use ASC_PAIR_DOT=…`):
//  - fused (0): i32x4.relaxed_dot_i8x16_i7x16_add_s — one sdot on ARM, one vpdpbusd on x86
//    with AVX-VNNI;
//  - pair (1): i16x8.relaxed_dot_i8x16_i7x16_s then i32x4.dot_i16x8_s against i16 ones
//    read from a global — pmaddubsw + pmaddwd + paddd on x86 without AVX-VNNI, the same
//    ops V8 emits for the fused form there, minus the ones vector it rebuilds per dot.
// The bits are the same either way and on every host while the i7 operand stays in
// 0..127: each i16 pair sum is then within ±2·128·127 = ±32512 (no saturation, no wrap).
// Only the relaxed builds call these (behind ASC_FEATURE_RELAXED_SIMD).

/** i16 ones, a global so that V8 loads it instead of rebuilding the constant per use. */
let gOnes16: v128 = i16x8.splat(1);
/** i8 ones (the i7 operand of a row sum). */
let gOnes8: v128 = i8x16.splat(1);

/** acc + Σ over each 4-byte lane group of x (signed i8) · y (i7: 0..127). */
// @ts-ignore: decorator
@inline export function rdot(acc: v128, x: v128, y: v128): v128 {
  if (ASC_PAIR_DOT) return i32x4.add(acc, i32x4.dot_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(x, y), gOnes16));
  return i32x4.relaxed_dot_i8x16_i7x16_add_s(x, y, acc);
}

/** acc + the sums of each 4-byte lane group of x (signed i8). */
// @ts-ignore: decorator
@inline export function rsum(acc: v128, x: v128): v128 {
  return rdot(acc, x, gOnes8);
}
