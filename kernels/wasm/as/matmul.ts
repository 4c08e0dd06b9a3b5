// QMatMul preparation (activation × activation): A rows encoded like conv/gemm inputs,
// B transposed to [N][K] and made signed (b' = b for int8, b - 128 for uint8) so that it
// takes the weight operand, plus the zero-point corrections:
//   acc = Σ a_u·b' − azp_u·Σ_k b'[n] − bzp'·Σ_k a_u[r] + K·azp_u·bzp'
import { encA, encW } from "./encode";
import { gemmT } from "./gemm";
import { EP_WORDS } from "./epilogue";

/**
 * Prepares one batch slice: aPk = encoded A [M][2Kp], bPk = encoded B' [N][2Kp],
 * ccol[n] = −azp_u·Σ b'[n], crow[r] = −bzp'·Σ a_u[r] + K·azp_u·bzp' (i32, wrapping).
 */
export function qmatmul_prep(
  a: usize, asg: i32, b: usize, bsg: i32, M: i32, K: i32, N: i32, Kp: i32,
  aPk: usize, bPk: usize, ccol: usize, crow: usize, azpU: i32, bzp2: i32,
): void {
  const rb = <usize>(2 * Kp);
  const fa = asg ? 0x80 : 0, fb = bsg ? 0 : 0x80;
  for (let r = 0; r < M; r++) {
    const row = aPk + <usize>r * rb, src = a + <usize>(r * K);
    memory.fill(row, 0, rb);
    let s: i32 = 0;
    for (let k = 0; k < K; k++) {
      const u = <i32>load<u8>(src + <usize>k) ^ fa;
      s += u;
      encA(row, k, u);
    }
    store<i32>(crow + (<usize>r << 2), -bzp2 * s + K * azpU * bzp2);
  }
  for (let n = 0; n < N; n++) {
    const row = bPk + <usize>n * rb;
    memory.fill(row, 0, rb);
    let s: i32 = 0;
    for (let k = 0; k < K; k++) {
      const v = <i32><i8>(load<u8>(b + <usize>(k * N + n)) ^ fb);
      s += v;
      encW(row, k, v);
    }
    store<i32>(ccol + (<usize>n << 2), -azpU * s);
  }
}

// Batched, threaded QMatMul (all slices in two parallel calls). Both builds encode A and
// B' as plain i16 (2 bytes per element, as the baseline layout of encode.ts) and run the
// GEMM on i32x4.dot_i16x8_s: 8 products per pmaddwd, where the split relaxed layout takes
// pmaddubsw + pmaddwd for the same 8 (no VNNI). Record of i32 words:
export const MM_A: i32 = 0; // A base (slice t at + t·M·K)
export const MM_ASG: i32 = 1;
export const MM_B: i32 = 2; // B base (slice t at + t·K·N, or shared when MM_NBB = 1)
export const MM_BSG: i32 = 3;
export const MM_M: i32 = 4;
export const MM_K: i32 = 5;
export const MM_N: i32 = 6;
export const MM_KP: i32 = 7;
export const MM_APK: i32 = 8; // encoded A, nb slices of M rows of 2·Kp bytes
export const MM_BPK: i32 = 9; // encoded B', nbB slices of N rows of 2·Kp bytes
export const MM_CCOL: i32 = 10; // i32 [nbB][N]
export const MM_CROW: i32 = 11; // i32 [nb][M]
export const MM_AZP: i32 = 12;
export const MM_BZP: i32 = 13;
export const MM_NB: i32 = 14;
export const MM_NBB: i32 = 15;
export const MM_EP: i32 = 16; // nb epilogue records of EP_WORDS words (ccol/crow/out per slice)
export const MM_WORDS: i32 = 17;

// @ts-ignore: decorator
@inline function mw(rec: usize, i: i32): i32 {
  return load<i32>(rec + (<usize>i << 2));
}

/** Encodes row r of an 8-bit [M][K] slice (16 bytes per 8 elements where it can); returns Σu. */
// @ts-ignore: decorator
@inline function encodeRowA(src: usize, flip: i32, K: i32, row: usize, rb: usize): i32 {
  memory.fill(row, 0, rb);
  // flip the 8 loaded bytes only: the upper lanes stay 0 (they enter the row sum)
  const fv = i64x2.replace_lane(i64x2.splat(0), 0, <i64>flip * 0x0101010101010101);
  let acc = i32x4.splat(0);
  let k = 0;
  for (; k + 8 <= K; k += 8) {
    const v = v128.xor(v128.load64_zero(src + <usize>k), fv);
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v)));
    v128.store(row + (<usize>k << 1), i16x8.extend_low_i8x16_u(v));
  }
  let s = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) +
    i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; k < K; k++) {
    const u = <i32>load<u8>(src + <usize>k) ^ flip;
    s += u;
    store<i16>(row + (<usize>k << 1), <i16>u);
  }
  return s;
}

/**
 * Prepares items [lo, hi) of all slices: items [0, nb·M) are A rows (slice i / M), the
 * next nbB·N are B columns. Same encodings and corrections as {@link qmatmul_prep}.
 */
export function qmatmul_prep_par(rec: usize, lo: i32, hi: i32, _tid: i32): void {
  const M = mw(rec, MM_M), K = mw(rec, MM_K), N = mw(rec, MM_N), Kp = mw(rec, MM_KP);
  const nb = mw(rec, MM_NB);
  const rb = <usize>(2 * Kp);
  const azpU = mw(rec, MM_AZP), bzp2 = mw(rec, MM_BZP);
  const fa = mw(rec, MM_ASG) ? 0x80 : 0, fb = mw(rec, MM_BSG) ? 0 : 0x80;
  const a = <usize>mw(rec, MM_A), b = <usize>mw(rec, MM_B);
  const aPk = <usize>mw(rec, MM_APK), bPk = <usize>mw(rec, MM_BPK);
  const ccol = <usize>mw(rec, MM_CCOL), crow = <usize>mw(rec, MM_CROW);
  const nA = nb * M;
  for (let i = lo; i < hi; i++) {
    if (i < nA) {
      const s = encodeRowA(a + <usize>i * <usize>K, fa, K, aPk + <usize>i * rb, rb);
      store<i32>(crow + (<usize>i << 2), -bzp2 * s + K * azpU * bzp2);
    } else {
      const j = i - nA, t = j / N, n = j - t * N;
      const row = bPk + <usize>j * rb;
      const src = b + <usize>t * <usize>K * <usize>N + <usize>n;
      memory.fill(row, 0, rb);
      let s: i32 = 0;
      for (let k = 0; k < K; k++) {
        const v = <i32><i8>(load<u8>(src + <usize>k * <usize>N) ^ fb);
        s += v;
        store<i16>(row + (<usize>k << 1), <i16>v);
      }
      store<i32>(ccol + (<usize>j << 2), -azpU * s);
    }
  }
}

/** GEMM + epilogue over output rows [lo, hi) of all slices (row i: slice i / M). */
export function qmatmul_rows(rec: usize, lo: i32, hi: i32, _tid: i32): void {
  const M = mw(rec, MM_M), N = mw(rec, MM_N), Kp = mw(rec, MM_KP), nbB = mw(rec, MM_NBB);
  const rb = <usize>(2 * Kp);
  const aPk = <usize>mw(rec, MM_APK), bPk = <usize>mw(rec, MM_BPK), ep = <usize>mw(rec, MM_EP);
  let i = lo;
  while (i < hi) {
    const t = i / M, r0 = i - t * M;
    const r1 = hi - t * M < M ? hi - t * M : M;
    const w = bPk + (nbB == 1 ? 0 : <usize>t * <usize>N * rb);
    gemmT<u16>(aPk + <usize>i * rb, <i32>rb, w, <i32>rb, Kp >> 3, ep + <usize>t * <usize>(EP_WORDS << 2), r0, r1 - r0, 0, N);
    i += r1 - r0;
  }
}
