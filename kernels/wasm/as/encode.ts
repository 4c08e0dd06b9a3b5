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
 * NCHW image -> s8 pixel rows [HW][Cp] (Cp a multiple of 16) for pixels [lo, hi);
 * channels C..Cp-1 hold 0.
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
  const rb = <usize>Cp, hw = <usize>HW;
  for (let p = lo; p < hi; p++) {
    const row = dst + <usize>p * rb;
    for (let i: usize = 0; i < rb; i += 16) v128.store(row + i, i8x16.splat(0));
  }
  // channel-major: for each channel, a strided scatter of a contiguous run of pixels
  for (let c = 0; c < C; c++) {
    const src = x + <usize>c * hw;
    let d = dst + <usize>lo * rb + <usize>c;
    for (let p = lo; p < hi; p++, d += rb) store<u8>(d, load<u8>(src + <usize>p) ^ flip);
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
