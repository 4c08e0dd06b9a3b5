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
