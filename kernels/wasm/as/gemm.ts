// int8 GEMM on encoded operands (encode.ts): raw[r][c] = Σ_k u[r][k]·w[c][k], then the
// fused epilogue. Register tile 2 rows x 4 columns, with 1-row / 1-column edges.
// Every tile loop is written once, generic over a marker type that selects the operand
// layout at compile time: u8 = the split layout (2 bytes per element), i8 = the s8 layout
// of 7-bit weights (1 byte per element: a' = u - 128 times w' = w + 64, with the row
// correction -64·Σa' added per output; encode.ts).
import { finish, finish4, finish4x4, loadEp, vecEpilogue } from "./epilogue";
import { rdot, rsum } from "./dot";

// @ts-ignore: decorator
@inline function dot<T>(acc: v128, w: v128, a: v128): v128 {
  if (isSigned<T>()) {
    if (ASC_FEATURE_RELAXED_SIMD) return rdot(acc, a, w);
    const l = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(w));
    const h = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(w));
    return i32x4.add(acc, i32x4.add(l, h));
  }
  if (ASC_FEATURE_RELAXED_SIMD) return rdot(acc, w, a);
  return i32x4.add(acc, i32x4.dot_i16x8_s(a, w));
}

/** Horizontal sum: split relaxed lanes are (lo, hi, lo, hi) → lo + 128·hi; else a plain sum. */
// @ts-ignore: decorator
@inline function hsumT<T>(v: v128): i32 {
  const l0 = i32x4.extract_lane(v, 0), l1 = i32x4.extract_lane(v, 1);
  const l2 = i32x4.extract_lane(v, 2), l3 = i32x4.extract_lane(v, 3);
  if (ASC_FEATURE_RELAXED_SIMD && !isSigned<T>()) return l0 + l2 + ((l1 + l3) << 7);
  return l0 + l1 + l2 + l3;
}

/** Horizontal sum of the split layout (lanes (lo, hi, lo, hi) in the relaxed build). */
// @ts-ignore: decorator
@inline export function hsum(v: v128): i32 {
  return hsumT<u8>(v);
}

/** Σ a' over one s8 row as 4 partial lanes (kb bytes). */
// @ts-ignore: decorator
@inline function rowAcc(a: usize, kb: usize): v128 {
  let s = i32x4.splat(0);
  if (ASC_FEATURE_RELAXED_SIMD) {
    for (let k: usize = 0; k < kb; k += 16) s = rsum(s, v128.load(a + k));
  } else {
    for (let k: usize = 0; k < kb; k += 16) {
      s = i32x4.add(s, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(v128.load(a + k))));
    }
  }
  return s;
}

/** The row correction of the s8 layout, -64·Σa' (0 for the split layout). */
// @ts-ignore: decorator
@inline function rowCorr<T>(a: usize, kb: usize): i32 {
  if (!isSigned<T>()) return 0;
  return -(hsumT<i8>(rowAcc(a, kb)) << 6);
}

/** Bytes of weight panel a column block may take (kept in L2 while rows stream by). */
const PANEL_BYTES: i32 = 192 * 1024;

/**
 * Rows [0, nrows) of encoded A (row stride lda bytes) times encoded W columns [c0, c1)
 * (row stride ldw bytes), `steps` 16-byte vectors per row; A row r is output row
 * rowBase + r. Columns go in blocks whose panel fits in L2; every row streams past each.
 */
export function gemm(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32, ep: usize,
  rowBase: i32, nrows: i32, c0: i32, c1: i32,
): void {
  gemmT<u8>(a, lda, w, ldw, steps, ep, rowBase, nrows, c0, c1);
}

/** gemm on the s8 layout (7-bit weights; encode.ts). */
export function gemm7(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32, ep: usize,
  rowBase: i32, nrows: i32, c0: i32, c1: i32,
): void {
  gemmT<i8>(a, lda, w, ldw, steps, ep, rowBase, nrows, c0, c1);
}

/** gemm / gemm7 by marker type (u8: split layout, i8: s8 layout). */
export function gemmT<T>(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32, ep: usize,
  rowBase: i32, nrows: i32, c0: i32, c1: i32,
): void {
  loadEp(ep);
  let nb = (PANEL_BYTES / ldw) & ~3;
  if (nb < 4) nb = 4;
  const px = vecEpilogue();
  for (let cb = c0; cb < c1; cb += nb) {
    const ce = cb + nb < c1 ? cb + nb : c1;
    if (px) {
      // 4 pixels × 2 channels per tile, vector requantization per channel
      const r4 = nrows & ~3;
      gemmBlockPx<T>(a, lda, w, ldw, steps, rowBase, r4, cb, ce);
      if (r4 < nrows) {
        gemmBlock<T>(a + <usize>r4 * <usize>lda, lda, w, ldw, steps, rowBase + r4, nrows - r4, cb, ce);
      }
    } else gemmBlock<T>(a, lda, w, ldw, steps, rowBase, nrows, cb, ce);
  }
}

function gemmBlock<T>(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32,
  rowBase: i32, nrows: i32, c0: i32, c1: i32,
): void {
  const la = <usize> lda, lw = <usize> ldw, kb = <usize> steps << 4;
  let r = 0;
  for (; r + 2 <= nrows; r += 2) {
    const a0 = a + <usize> r * la, a1 = a0 + la;
    const q0 = rowCorr<T>(a0, kb), q1 = rowCorr<T>(a1, kb);
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const w0 = w + <usize> c * lw, w1 = w0 + lw, w2 = w1 + lw, w3 = w2 + lw;
      let s00 = i32x4.splat(0), s01 = i32x4.splat(0), s02 = i32x4.splat(0), s03 = i32x4.splat(0);
      let s10 = i32x4.splat(0), s11 = i32x4.splat(0), s12 = i32x4.splat(0), s13 = i32x4.splat(0);
      for (let k: usize = 0; k < kb; k += 16) {
        const x0 = v128.load(a0 + k), x1 = v128.load(a1 + k);
        let v = v128.load(w0 + k);
        s00 = dot<T>(s00, v, x0);
        s10 = dot<T>(s10, v, x1);
        v = v128.load(w1 + k);
        s01 = dot<T>(s01, v, x0);
        s11 = dot<T>(s11, v, x1);
        v = v128.load(w2 + k);
        s02 = dot<T>(s02, v, x0);
        s12 = dot<T>(s12, v, x1);
        v = v128.load(w3 + k);
        s03 = dot<T>(s03, v, x0);
        s13 = dot<T>(s13, v, x1);
      }
      const g = rowBase + r;
      finish(g, c, hsumT<T>(s00) + q0);
      finish(g, c + 1, hsumT<T>(s01) + q0);
      finish(g, c + 2, hsumT<T>(s02) + q0);
      finish(g, c + 3, hsumT<T>(s03) + q0);
      finish(g + 1, c, hsumT<T>(s10) + q1);
      finish(g + 1, c + 1, hsumT<T>(s11) + q1);
      finish(g + 1, c + 2, hsumT<T>(s12) + q1);
      finish(g + 1, c + 3, hsumT<T>(s13) + q1);
    }
    for (; c < c1; c++) {
      const w0 = w + <usize> c * lw;
      let s0 = i32x4.splat(0), s1 = i32x4.splat(0);
      for (let k: usize = 0; k < kb; k += 16) {
        const v = v128.load(w0 + k);
        s0 = dot<T>(s0, v, v128.load(a0 + k));
        s1 = dot<T>(s1, v, v128.load(a1 + k));
      }
      finish(rowBase + r, c, hsumT<T>(s0) + q0);
      finish(rowBase + r + 1, c, hsumT<T>(s1) + q1);
    }
  }
  for (; r < nrows; r++) {
    const a0 = a + <usize> r * la;
    const q0 = rowCorr<T>(a0, kb);
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const w0 = w + <usize> c * lw, w1 = w0 + lw, w2 = w1 + lw, w3 = w2 + lw;
      let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
      for (let k: usize = 0; k < kb; k += 16) {
        const x0 = v128.load(a0 + k);
        s0 = dot<T>(s0, v128.load(w0 + k), x0);
        s1 = dot<T>(s1, v128.load(w1 + k), x0);
        s2 = dot<T>(s2, v128.load(w2 + k), x0);
        s3 = dot<T>(s3, v128.load(w3 + k), x0);
      }
      const g = rowBase + r;
      finish(g, c, hsumT<T>(s0) + q0);
      finish(g, c + 1, hsumT<T>(s1) + q0);
      finish(g, c + 2, hsumT<T>(s2) + q0);
      finish(g, c + 3, hsumT<T>(s3) + q0);
    }
    for (; c < c1; c++) {
      const w0 = w + <usize> c * lw;
      let s0 = i32x4.splat(0);
      for (let k: usize = 0; k < kb; k += 16) s0 = dot<T>(s0, v128.load(w0 + k), v128.load(a0 + k));
      finish(rowBase + r, c, hsumT<T>(s0) + q0);
    }
  }
}

/** Sums of 4 accumulators (one output each) as one vector. */
// @ts-ignore: decorator
@inline function hsum4<T>(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD && !isSigned<T>()) {
    // lanes (lo, hi, lo, hi): lane 0 and 2 become lo + 128·hi
    s0 = i32x4.add(s0, i32x4.shl(i32x4.shuffle(s0, s0, 1, 1, 3, 3), 7));
    s1 = i32x4.add(s1, i32x4.shl(i32x4.shuffle(s1, s1, 1, 1, 3, 3), 7));
    s2 = i32x4.add(s2, i32x4.shl(i32x4.shuffle(s2, s2, 1, 1, 3, 3), 7));
    s3 = i32x4.add(s3, i32x4.shl(i32x4.shuffle(s3, s3, 1, 1, 3, 3), 7));
    const u0 = i32x4.shuffle(s0, s1, 0, 2, 4, 6), u1 = i32x4.shuffle(s2, s3, 0, 2, 4, 6);
    return i32x4.add(i32x4.shuffle(u0, u1, 0, 2, 4, 6), i32x4.shuffle(u0, u1, 1, 3, 5, 7));
  }
  const u0 = i32x4.add(i32x4.shuffle(s0, s1, 0, 1, 4, 5), i32x4.shuffle(s0, s1, 2, 3, 6, 7));
  const u1 = i32x4.add(i32x4.shuffle(s2, s3, 0, 1, 4, 5), i32x4.shuffle(s2, s3, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(u0, u1, 0, 2, 4, 6), i32x4.shuffle(u0, u1, 1, 3, 5, 7));
}

// The two column sums of a 4-row × 2-column tile (tile42), as i32 lanes of the 4 rows.
let gT0: v128 = i32x4.splat(0), gT1: v128 = i32x4.splat(0);

/**
 * The raw sums of rows a0..a3 (the 4 row pointers) × columns w0, w1 (kb bytes), plus q, into
 * gT0 (column w0) and gT1 (column w1).
 */
// @ts-ignore: decorator
@inline function tile42<T>(
  a0: usize, a1: usize, a2: usize, a3: usize, w0: usize, w1: usize, kb: usize, q: v128,
): void {
  let s00 = i32x4.splat(0), s10 = i32x4.splat(0), s20 = i32x4.splat(0), s30 = i32x4.splat(0);
  let s01 = i32x4.splat(0), s11 = i32x4.splat(0), s21 = i32x4.splat(0), s31 = i32x4.splat(0);
  // two 16-byte steps per iteration (the second through static load offsets: one
  // address add per stream for both)
  let k: usize = 0;
  for (; k + 32 <= kb; k += 32) {
    const pw0 = w0 + k, pw1 = w1 + k, p0 = a0 + k, p1 = a1 + k, p2 = a2 + k, p3 = a3 + k;
    let v0 = v128.load(pw0), v1 = v128.load(pw1);
    let x = v128.load(p0);
    s00 = dot<T>(s00, v0, x);
    s01 = dot<T>(s01, v1, x);
    x = v128.load(p1);
    s10 = dot<T>(s10, v0, x);
    s11 = dot<T>(s11, v1, x);
    x = v128.load(p2);
    s20 = dot<T>(s20, v0, x);
    s21 = dot<T>(s21, v1, x);
    x = v128.load(p3);
    s30 = dot<T>(s30, v0, x);
    s31 = dot<T>(s31, v1, x);
    v0 = v128.load(pw0, 16);
    v1 = v128.load(pw1, 16);
    x = v128.load(p0, 16);
    s00 = dot<T>(s00, v0, x);
    s01 = dot<T>(s01, v1, x);
    x = v128.load(p1, 16);
    s10 = dot<T>(s10, v0, x);
    s11 = dot<T>(s11, v1, x);
    x = v128.load(p2, 16);
    s20 = dot<T>(s20, v0, x);
    s21 = dot<T>(s21, v1, x);
    x = v128.load(p3, 16);
    s30 = dot<T>(s30, v0, x);
    s31 = dot<T>(s31, v1, x);
  }
  if (k < kb) {
    const v0 = v128.load(w0 + k), v1 = v128.load(w1 + k);
    let x = v128.load(a0 + k);
    s00 = dot<T>(s00, v0, x);
    s01 = dot<T>(s01, v1, x);
    x = v128.load(a1 + k);
    s10 = dot<T>(s10, v0, x);
    s11 = dot<T>(s11, v1, x);
    x = v128.load(a2 + k);
    s20 = dot<T>(s20, v0, x);
    s21 = dot<T>(s21, v1, x);
    x = v128.load(a3 + k);
    s30 = dot<T>(s30, v0, x);
    s31 = dot<T>(s31, v1, x);
  }
  gT0 = i32x4.add(hsum4<T>(s00, s10, s20, s30), q);
  gT1 = i32x4.add(hsum4<T>(s01, s11, s21, s31), q);
}

/**
 * Rows [0, nrows) (a multiple of 4) × columns [c0, c1): 4 rows × 2 columns per tile, two
 * tiles per 4×4 output block (finish4x4: one 4-byte store per row).
 */
function gemmBlockPx<T>(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32,
  rowBase: i32, nrows: i32, c0: i32, c1: i32,
): void {
  const la = <usize>lda, lw = <usize>ldw, kb = <usize>steps << 4;
  for (let r = 0; r < nrows; r += 4) {
    const a0 = a + <usize>r * la, a1 = a0 + la, a2 = a1 + la, a3 = a2 + la;
    // s8 layout: -64·Σa' of the 4 rows (a zero vector for the split layout)
    let q = i32x4.splat(0);
    if (isSigned<T>()) {
      q = i32x4.neg(i32x4.shl(hsum4<T>(rowAcc(a0, kb), rowAcc(a1, kb), rowAcc(a2, kb), rowAcc(a3, kb)), 6));
    }
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const w0 = w + <usize>c * lw;
      tile42<T>(a0, a1, a2, a3, w0, w0 + lw, kb, q);
      const t0 = gT0, t1 = gT1;
      tile42<T>(a0, a1, a2, a3, w0 + 2 * lw, w0 + 3 * lw, kb, q);
      finish4x4(rowBase + r, c, t0, t1, gT0, gT1);
    }
    for (; c + 2 <= c1; c += 2) {
      const w0 = w + <usize>c * lw;
      tile42<T>(a0, a1, a2, a3, w0, w0 + lw, kb, q);
      finish4(rowBase + r, c, gT0);
      finish4(rowBase + r, c + 1, gT1);
    }
    if (c < c1) {
      const w0 = w + <usize>c * lw;
      let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
      for (let k: usize = 0; k < kb; k += 16) {
        const v0 = v128.load(w0 + k);
        s0 = dot<T>(s0, v0, v128.load(a0 + k));
        s1 = dot<T>(s1, v0, v128.load(a1 + k));
        s2 = dot<T>(s2, v0, v128.load(a2 + k));
        s3 = dot<T>(s3, v0, v128.load(a3 + k));
      }
      finish4(rowBase + r, c, i32x4.add(hsum4<T>(s0, s1, s2, s3), q));
    }
  }
}

/** A pure dot-product loop (the ceiling for the microbenchmark): n vectors, reps times. */
export function peak_dot(a: usize, w: usize, n: i32, reps: i32): i32 {
  let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
  let s4 = i32x4.splat(0), s5 = i32x4.splat(0), s6 = i32x4.splat(0), s7 = i32x4.splat(0);
  const kb = <usize> n << 4;
  for (let i = 0; i < reps; i++) {
    for (let k: usize = 0; k < kb; k += 16) {
      const x0 = v128.load(a + k), x1 = v128.load(a + k + kb);
      const v0 = v128.load(w + k), v1 = v128.load(w + k + kb);
      s0 = dot<u8>(s0, v0, x0);
      s1 = dot<u8>(s1, v0, x1);
      s2 = dot<u8>(s2, v1, x0);
      s3 = dot<u8>(s3, v1, x1);
      const v2 = v128.load(w + k + 2 * kb), v3 = v128.load(w + k + 3 * kb);
      s4 = dot<u8>(s4, v2, x0);
      s5 = dot<u8>(s5, v2, x1);
      s6 = dot<u8>(s6, v3, x0);
      s7 = dot<u8>(s7, v3, x1);
    }
  }
  return hsum(s0) + hsum(s1) + hsum(s2) + hsum(s3) + hsum(s4) + hsum(s5) + hsum(s6) + hsum(s7);
}

/** gemm over output rows [lo, hi) of a whole encoded A (the threaded entry point). */
export function gemm_rows(
  a: usize,
  lda: i32,
  w: usize,
  ldw: i32,
  steps: i32,
  ep: usize,
  c0: i32,
  c1: i32,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  gemm(a + <usize> lo * <usize> lda, lda, w, ldw, steps, ep, lo, hi - lo, c0, c1);
}

/** gemm_rows on the s8 layout (7-bit weights). */
export function gemm_rows7(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32, ep: usize, c0: i32, c1: i32,
  lo: i32, hi: i32, _tid: i32,
): void {
  gemmT<i8>(a + <usize> lo * <usize> lda, lda, w, ldw, steps, ep, lo, hi - lo, c0, c1);
}

/** gemm_cols on the s8 layout (7-bit weights). */
export function gemm_cols7(
  a: usize, lda: i32, w: usize, ldw: i32, steps: i32, ep: usize, nrows: i32,
  lo: i32, hi: i32, _tid: i32,
): void {
  gemmT<i8>(a, lda, w, ldw, steps, ep, 0, nrows, lo, hi);
}

/** gemm over output columns [lo, hi) (threads split channels when rows are few). */
export function gemm_cols(
  a: usize,
  lda: i32,
  w: usize,
  ldw: i32,
  steps: i32,
  ep: usize,
  nrows: i32,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  gemm(a, lda, w, ldw, steps, ep, 0, nrows, lo, hi);
}

/** peak_dot for the threads: each of the parts [lo, hi) runs it once; the sum goes to out[tid]. */
export function peak_par(a: usize, w: usize, n: i32, reps: i32, out: usize, lo: i32, hi: i32, tid: i32): void {
  let s = 0;
  for (let i = lo; i < hi; i++) s += peak_dot(a, w, n, reps);
  store<i32>(out + (<usize>tid << 2), s);
}
