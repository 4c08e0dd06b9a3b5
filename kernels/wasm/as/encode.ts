// Operand encodings of the int8 GEMM (one 16-byte vector = 8 reduction steps).
//
// Activations are first made unsigned, u = x (uint8) or x ^ 0x80 (int8, = x + 128),
// so that u is in 0..255 and the zero point moves with it (zp_u).
// Relaxed build: u = 128*hi + lo, lo in 0..127, hi in 0..1, and an 8-group of k is
//   A: [lo k0..3 | hi k0..3 | lo k4..7 | hi k4..7]      (the i7 operand: always 0..127)
//   W: [ w k0..3 |  w k0..3 |  w k4..7 |  w k4..7]      (the signed i8 operand)
// so relaxed_dot lanes are (Σlo·w, Σhi·w, Σlo·w, Σhi·w) over k0..3 / k4..7; pairs of
// products stay within ±2·127·128 = ±32512 (no i16 saturation on any host).
// Baseline build: A and W are plain i16 vectors (u and w), i32x4.dot_i16x8_s.
// Both encodings take 2 bytes per element: a row of Kp (multiple of 8) is 2*Kp bytes.

/** Byte offset of element k's low half (relaxed) or its i16 (baseline) in a row. */
// @ts-ignore: decorator
@inline export function encPos(k: i32): i32 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    const j = k & 7;
    return ((k >> 3) << 4) + (j < 4 ? j : j + 4);
  }
  return k << 1;
}

/** Stores activation value u (0..255) as element k of an encoded row. */
// @ts-ignore: decorator
@inline export function encA(row: usize, k: i32, u: i32): void {
  const p = row + <usize> encPos(k);
  if (ASC_FEATURE_RELAXED_SIMD) {
    store<u8>(p, u & 127);
    store<u8>(p + 4, u >> 7);
  } else {
    store<i16>(p, <i16> u);
  }
}

/** Stores weight w (-128..127) as element k of an encoded row. */
// @ts-ignore: decorator
@inline export function encW(row: usize, k: i32, w: i32): void {
  const p = row + <usize> encPos(k);
  if (ASC_FEATURE_RELAXED_SIMD) {
    store<i8>(p, <i8> w);
    store<i8>(p + 4, <i8> w);
  } else {
    store<i16>(p, <i16> w);
  }
}

/**
 * NCHW image (C channels of HW pixels) -> encoded pixel rows [HW][2*Cp] for pixels
 * [lo, hi); channels C..Cp-1 hold 0.
 */
export function prep_x(
  x: usize,
  signed: i32,
  C: i32,
  HW: i32,
  Cp: i32,
  dst: usize,
  lo: i32,
  hi: i32,
): void {
  const flip = signed ? 0x80 : 0;
  const rb = <usize> (2 * Cp);
  for (let p = lo; p < hi; p++) {
    const row = dst + <usize> p * rb;
    memory.fill(row, 0, rb);
    for (let c = 0; c < C; c++) {
      encA(row, c, <i32> load<u8>(x + <usize> c * <usize> HW + <usize> p) ^ flip);
    }
  }
}

/** One encoded row of Kp elements, the first C equal to u, the rest 0 (the pad pixel). */
export function fill_row(dst: usize, u: i32, C: i32, Cp: i32): void {
  memory.fill(dst, 0, <usize> (2 * Cp));
  for (let c = 0; c < C; c++) encA(dst, c, u);
}

/** Rows [lo, hi) of an 8-bit matrix [rows][K] -> encoded rows [2*Kp] (row r at dst + r*2*Kp). */
export function pack_rows(
  x: usize,
  signed: i32,
  K: i32,
  Kp: i32,
  dst: usize,
  lo: i32,
  hi: i32,
): void {
  const flip = signed ? 0x80 : 0;
  const rb = <usize> (2 * Kp);
  for (let r = lo; r < hi; r++) {
    const row = dst + <usize> r * rb;
    const src = x + <usize> r * <usize> K;
    memory.fill(row, 0, rb);
    for (let k = 0; k < K; k++) encA(row, k, <i32> load<u8>(src + <usize> k) ^ flip);
  }
}

/**
 * Weight rows [lo, hi) of an int8 matrix [N][K] -> encoded rows [2*Kp]; colsum[n] = Σ_k w.
 */
export function pack_w(
  w: usize,
  K: i32,
  Kp: i32,
  dst: usize,
  colsum: usize,
  lo: i32,
  hi: i32,
): void {
  const rb = <usize> (2 * Kp);
  for (let n = lo; n < hi; n++) {
    const row = dst + <usize> n * rb;
    const src = w + <usize> n * <usize> K;
    memory.fill(row, 0, rb);
    let s: i32 = 0;
    for (let k = 0; k < K; k++) {
      const v = <i32> load<i8>(src + <usize> k);
      s += v;
      encW(row, k, v);
    }
    store<i32>(colsum + (<usize> n << 2), s);
  }
}

/**
 * Weight rows [lo, hi) packed sub-byte (bits 4: i4 nibbles, 2: i2 crumbs, 1: b1 ±1 bits;
 * low bits first, each row `rowBytes` long) -> encoded rows [2*Kp] (elements K..Kp-1
 * zero). The model keeps the packed bytes; this runs per call into scratch.
 */
export function decode_w(bits: i32, src: usize, rowBytes: i32, K: i32, Kp: i32, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const rb = <usize>(2 * Kp);
  const per = 8 / bits, mask = (1 << bits) - 1, sh = 32 - bits;
  for (let n = lo; n < hi; n++) {
    const row = dst + <usize>n * rb;
    const s = src + <usize>n * <usize>rowBytes;
    memory.fill(row, 0, rb);
    for (let k = 0; k < K; k++) {
      const byte = <i32>load<u8>(s + <usize>(k / per));
      const v = (byte >> ((k % per) * bits)) & mask;
      encW(row, k, bits == 1 ? (v ? 1 : -1) : (v << sh) >> sh);
    }
  }
}

// ---- The 7-bit-weight layout ("s8"): one byte per element, 16 reduction steps per vector.
// When every weight of a layer is in -64..63:
//   A: a' = u - 128 (the signed i8 operand: x ^ 0x80 for uint8, x itself for int8)
//   W: w' = w + 64  (the i7 operand: always 0..127)
// Σ u·w = Σ a'·w' - 64·Σ a' + 128·Σ w; pairs of products stay within 2·128·127 = 32512.
// Padding elements are 0 on both sides (they add nothing to either sum).

/**
 * 16 channels × 16 pixels of an NCHW image (channel i's pixels at src + i·stride, each
 * byte xor f) → 16 pixel rows of 16 channel bytes (pixel j at dst + j·drb): a byte
 * transpose in four interleaving stages (8, 16, 32, 64 bits).
 */
// @ts-ignore: decorator
@inline function transpose16(src: usize, stride: usize, dst: usize, drb: usize, f: v128): void {
  const a0 = v128.xor(v128.load(src + 0 * stride), f);
  const a1 = v128.xor(v128.load(src + 1 * stride), f);
  const a2 = v128.xor(v128.load(src + 2 * stride), f);
  const a3 = v128.xor(v128.load(src + 3 * stride), f);
  const a4 = v128.xor(v128.load(src + 4 * stride), f);
  const a5 = v128.xor(v128.load(src + 5 * stride), f);
  const a6 = v128.xor(v128.load(src + 6 * stride), f);
  const a7 = v128.xor(v128.load(src + 7 * stride), f);
  const a8 = v128.xor(v128.load(src + 8 * stride), f);
  const a9 = v128.xor(v128.load(src + 9 * stride), f);
  const a10 = v128.xor(v128.load(src + 10 * stride), f);
  const a11 = v128.xor(v128.load(src + 11 * stride), f);
  const a12 = v128.xor(v128.load(src + 12 * stride), f);
  const a13 = v128.xor(v128.load(src + 13 * stride), f);
  const a14 = v128.xor(v128.load(src + 14 * stride), f);
  const a15 = v128.xor(v128.load(src + 15 * stride), f);
  const t0 = i8x16.shuffle(a0, a1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t1 = i8x16.shuffle(a0, a1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t2 = i8x16.shuffle(a2, a3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t3 = i8x16.shuffle(a2, a3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t4 = i8x16.shuffle(a4, a5, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t5 = i8x16.shuffle(a4, a5, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t6 = i8x16.shuffle(a6, a7, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t7 = i8x16.shuffle(a6, a7, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t8 = i8x16.shuffle(a8, a9, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t9 = i8x16.shuffle(a8, a9, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t10 = i8x16.shuffle(a10, a11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t11 = i8x16.shuffle(a10, a11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t12 = i8x16.shuffle(a12, a13, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t13 = i8x16.shuffle(a12, a13, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t14 = i8x16.shuffle(a14, a15, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t15 = i8x16.shuffle(a14, a15, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t16 = i8x16.shuffle(t0, t2, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t17 = i8x16.shuffle(t0, t2, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t18 = i8x16.shuffle(t4, t6, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t19 = i8x16.shuffle(t4, t6, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t20 = i8x16.shuffle(t8, t10, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t21 = i8x16.shuffle(t8, t10, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t22 = i8x16.shuffle(t12, t14, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t23 = i8x16.shuffle(t12, t14, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t24 = i8x16.shuffle(t1, t3, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t25 = i8x16.shuffle(t1, t3, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t26 = i8x16.shuffle(t5, t7, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t27 = i8x16.shuffle(t5, t7, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t28 = i8x16.shuffle(t9, t11, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t29 = i8x16.shuffle(t9, t11, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t30 = i8x16.shuffle(t13, t15, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const t31 = i8x16.shuffle(t13, t15, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const t32 = i8x16.shuffle(t16, t18, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t33 = i8x16.shuffle(t16, t18, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t34 = i8x16.shuffle(t20, t22, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t35 = i8x16.shuffle(t20, t22, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t36 = i8x16.shuffle(t17, t19, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t37 = i8x16.shuffle(t17, t19, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t38 = i8x16.shuffle(t21, t23, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t39 = i8x16.shuffle(t21, t23, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t40 = i8x16.shuffle(t24, t26, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t41 = i8x16.shuffle(t24, t26, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t42 = i8x16.shuffle(t28, t30, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t43 = i8x16.shuffle(t28, t30, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t44 = i8x16.shuffle(t25, t27, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t45 = i8x16.shuffle(t25, t27, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t46 = i8x16.shuffle(t29, t31, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const t47 = i8x16.shuffle(t29, t31, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const t48 = i8x16.shuffle(t32, t34, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t49 = i8x16.shuffle(t32, t34, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t50 = i8x16.shuffle(t33, t35, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t51 = i8x16.shuffle(t33, t35, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t52 = i8x16.shuffle(t36, t38, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t53 = i8x16.shuffle(t36, t38, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t54 = i8x16.shuffle(t37, t39, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t55 = i8x16.shuffle(t37, t39, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t56 = i8x16.shuffle(t40, t42, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t57 = i8x16.shuffle(t40, t42, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t58 = i8x16.shuffle(t41, t43, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t59 = i8x16.shuffle(t41, t43, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t60 = i8x16.shuffle(t44, t46, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t61 = i8x16.shuffle(t44, t46, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const t62 = i8x16.shuffle(t45, t47, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const t63 = i8x16.shuffle(t45, t47, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  v128.store(dst + 0 * drb, t48);
  v128.store(dst + 1 * drb, t49);
  v128.store(dst + 2 * drb, t50);
  v128.store(dst + 3 * drb, t51);
  v128.store(dst + 4 * drb, t52);
  v128.store(dst + 5 * drb, t53);
  v128.store(dst + 6 * drb, t54);
  v128.store(dst + 7 * drb, t55);
  v128.store(dst + 8 * drb, t56);
  v128.store(dst + 9 * drb, t57);
  v128.store(dst + 10 * drb, t58);
  v128.store(dst + 11 * drb, t59);
  v128.store(dst + 12 * drb, t60);
  v128.store(dst + 13 * drb, t61);
  v128.store(dst + 14 * drb, t62);
  v128.store(dst + 15 * drb, t63);
}

/**
 * NCHW image -> s8 pixel rows [HW][Cp] (Cp a multiple of 16) for pixels [lo, hi);
 * channels C..Cp-1 hold 0. Blocks of 16 channels × 16 pixels go through a SIMD byte
 * transpose; the channel and pixel tails byte by byte.
 */
export function prep_x7(
  x: usize,
  signed: i32,
  C: i32,
  HW: i32,
  Cp: i32,
  dst: usize,
  lo: i32,
  hi: i32,
): void {
  const flip: u8 = signed ? 0 : 0x80;
  const fv = i8x16.splat(<i8>flip);
  const rb = <usize>Cp, hw = <usize>HW, c16 = C & ~15;
  if (c16 < Cp) {
    for (let p = lo; p < hi; p++) v128.store(dst + <usize>p * rb + <usize>c16, i8x16.splat(0));
  }
  let pe = lo;
  for (; pe + 16 <= hi; pe += 16) {
    for (let c = 0; c < c16; c += 16) {
      transpose16(x + <usize>c * hw + <usize>pe, hw, dst + <usize>pe * rb + <usize>c, rb, fv);
    }
  }
  // channel tail of the transposed pixels, then every channel of the pixel tail
  for (let c = c16; c < C; c++) {
    const src = x + <usize>c * hw;
    let d = dst + <usize>lo * rb + <usize>c;
    for (let p = lo; p < pe; p++, d += rb) store<u8>(d, load<u8>(src + <usize>p) ^ flip);
  }
  for (let c = 0; c < C; c++) {
    const src = x + <usize>c * hw;
    let d = dst + <usize>pe * rb + <usize>c;
    for (let p = pe; p < hi; p++, d += rb) store<u8>(d, load<u8>(src + <usize>p) ^ flip);
  }
}

/** One s8 row of Cp elements: the first C equal to a' = u - 128, the rest 0 (the pad pixel). */
export function fill_row7(dst: usize, u: i32, C: i32, Cp: i32): void {
  memory.fill(dst, 0, <usize>Cp);
  memory.fill(dst, <u8>(u - 128), <usize>C);
}

/** Rows [lo, hi) of an 8-bit matrix [rows][K] -> s8 rows [Kp] (row r at dst + r*Kp). */
export function pack_rows7(
  x: usize,
  signed: i32,
  K: i32,
  Kp: i32,
  dst: usize,
  lo: i32,
  hi: i32,
): void {
  const flip = i8x16.splat(signed ? 0 : -128);
  const rb = <usize>Kp, k = <usize>K, k16 = k & ~15;
  for (let r = lo; r < hi; r++) {
    const row = dst + <usize>r * rb;
    const src = x + <usize>r * k;
    let i: usize = 0;
    for (; i < k16; i += 16) v128.store(row + i, v128.xor(v128.load(src + i), flip));
    if (i < rb) {
      v128.store(row + i, i8x16.splat(0));
      const f = <u8>i8x16.extract_lane_u(flip, 0);
      for (; i < k; i++) store<u8>(row + i, load<u8>(src + i) ^ f);
    }
  }
}

/** Weight rows [lo, hi) of an int8 matrix [N][K] (all in -64..63) -> s8 rows [Kp] of w + 64. */
export function pack_w7(w: usize, K: i32, Kp: i32, dst: usize, lo: i32, hi: i32): void {
  const rb = <usize>Kp;
  for (let n = lo; n < hi; n++) {
    const row = dst + <usize>n * rb;
    const src = w + <usize>n * <usize>K;
    memory.fill(row, 0, rb);
    for (let k = 0; k < K; k++) store<u8>(row + <usize>k, <u8>(<i32>load<i8>(src + <usize>k) + 64));
  }
}

/** decode_w into the s8 layout (w + 64; sub-byte values are always in -64..63). */
export function decode_w7(bits: i32, src: usize, rowBytes: i32, K: i32, Kp: i32, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const rb = <usize>Kp;
  const per = 8 / bits, mask = (1 << bits) - 1, sh = 32 - bits;
  for (let n = lo; n < hi; n++) {
    const row = dst + <usize>n * rb;
    const s = src + <usize>n * <usize>rowBytes;
    memory.fill(row, 0, rb);
    for (let k = 0; k < K; k++) {
      const byte = <i32>load<u8>(s + <usize>(k / per));
      const v = (byte >> ((k % per) * bits)) & mask;
      store<u8>(row + <usize>k, <u8>((bits == 1 ? (v ? 1 : -1) : (v << sh) >> sh) + 64));
    }
  }
}
