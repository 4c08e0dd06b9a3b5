// QMatMul preparation (activation × activation): A rows encoded like conv/gemm inputs,
// B transposed to [N][K] and made signed (b' = b for int8, b - 128 for uint8) so that it
// takes the weight operand, plus the zero-point corrections:
//   acc = Σ a_u·b' − azp_u·Σ_k b'[n] − bzp'·Σ_k a_u[r] + K·azp_u·bzp'
import { encA, encW } from "./encode";
import { EP_CROW, EP_MULT, EP_OUT, EP_QMAX, EP_QMIN, EP_SHIFT, EP_WORDS, EP_YZP } from "./epilogue";
import { codeOff, mbqmK, mbqmU4, narrowClamp8, rdbpot4, shlSat4, srdhm4v, vOff31 } from "./requant";

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

// Batched, threaded QMatMul (all slices in two parallel calls, qmatmul_prep4_par then
// qmatmul_rows4). Both builds encode A and B' as plain i16 and run i32x4.dot_i16x8_s: 8
// products per pmaddwd, where the split relaxed layout takes pmaddubsw + pmaddwd for the
// same 8 without VNNI. Record of i32 words:
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
export const MM_N4: i32 = 17; // N rounded up to 4 (the k2 layout's column blocks; ccol stride)
// Strides in elements (a folded Transpose reads or writes in place; fuse.ts). A: element
// (t, r, k) at MM_A + t·MM_SA + r·MM_LDA + k. B: (t, k, n) at MM_B + t·MM_SB + k·MM_LDB + n,
// or with MM_BT at MM_B + t·MM_SB + n·MM_LDB + k. Output row r of a slice at + r·MM_LDY.
export const MM_SA: i32 = 18;
export const MM_LDA: i32 = 19;
export const MM_SB: i32 = 20;
export const MM_LDB: i32 = 21;
export const MM_BT: i32 = 22;
export const MM_LDY: i32 = 23;
export const MM_WORDS: i32 = 24;

// @ts-ignore: decorator
@inline function mw(rec: usize, i: i32): i32 {
  return load<i32>(rec + (<usize>i << 2));
}

/** Encodes row r of an 8-bit [M][K] slice (16 bytes per 8 elements where it can); returns Σu. */
// @ts-ignore: decorator
@inline function encodeRowA(src: usize, flip: i32, K: i32, row: usize): i32 {
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
  // values K .. Kp − 1 of the row are left as they are: they meet B's zeros (0 past K in
  // every column block), so the row is not cleared first (memory.fill is a call out of the
  // wasm code, which cost more than the encoding of a short row)
  for (; k < K; k++) {
    const u = <i32>load<u8>(src + <usize>k) ^ flip;
    s += u;
    store<i16>(row + (<usize>k << 1), <i16>u);
  }
  return s;
}

// The k2 QMatMul (batched path): B' is laid out per slice in ceil(N/4) column blocks of
// Kp/2 vectors of 8 i16, vector g of block b = [c0 k, c0 k+1, c1 k, c1 k+1, c2 k, c2 k+1,
// c3 k, c3 k+1] (k = 2g, columns 4b..4b+3; 0 beyond K and N), and one i32 pair of an A
// row (a_u at k, k+1) is splatted over it: i32x4.dot_i16x8_s then gives 4 lanes = 4
// consecutive output columns of one row (no horizontal sums; the requantization is one
// per-tensor multiplier on 4 lanes). ccol is padded to N4 = 4·ceil(N/4) per slice.

/** Encodes column block b of slice t of B' into the k2 layout; ccol of its 4 columns. */
/**
 * The k-pair vector k, k+1 of columns c0..c0+3 (element (k, n) at src + k·sk + n·sn)
 * written byte by byte at q (0 past K and N) and returned: the block encoders' edges.
 */
// @ts-ignore: decorator
@inline function pairBytes(
  src: usize, sk: usize, sn: usize, fb: i32, K: i32, N: i32, c0: i32, k: i32, q: usize,
): v128 {
  v128.store(q, i16x8.splat(0));
  for (let i = 0; i < 4; i++) {
    if (c0 + i >= N) break;
    const p = src + <usize>(c0 + i) * sn, e = q + (<usize>i << 2);
    if (k < K) store<i16>(e, <i16><i8>(load<u8>(p + <usize>k * sk) ^ fb));
    if (k + 1 < K) store<i16>(e, <i16><i8>(load<u8>(p + <usize>(k + 1) * sk) ^ fb), 2);
  }
  return v128.load(q);
}

// @ts-ignore: decorator
@inline function encodeBlockB(
  src: usize, fb: i32, K: i32, N: i32, Kp: i32, c0: i32, dst: usize, ccol: usize, azpU: i32, ldb: i32,
): void {
  const fv = i8x16.splat(<i8>fb), ln = <usize>ldb;
  let acc = i32x4.splat(0);
  const full = c0 + 4 <= N;
  for (let k = 0; k < Kp; k += 2) {
    let w: v128;
    if (full && k + 1 < K) {
      const p = src + <usize>k * ln + <usize>c0;
      const r0 = v128.xor(v128.load32_zero(p), fv), r1 = v128.xor(v128.load32_zero(p + ln), fv);
      w = i16x8.extend_low_i8x16_s(i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 0, 0, 0, 0, 0, 0, 0, 0));
    } else w = pairBytes(src, ln, 1, fb, K, N, c0, k, dst + (<usize>k << 3));
    v128.store(dst + (<usize>k << 3), w);
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(w));
  }
  v128.store(ccol, i32x4.mul(acc, i32x4.splat(-azpU)));
}

/**
 * encodeBlockB for B stored with unit stride along K (B(k, n) at src + n·ldn + k, a folded
 * Transpose): 8 k of the block's 4 columns per step, their byte pairs interleaved.
 */
// @ts-ignore: decorator
@inline function encodeBlockBT(
  src: usize, fb: i32, K: i32, N: i32, Kp: i32, c0: i32, dst: usize, ccol: usize, azpU: i32, ldn: i32,
): void {
  const fv = i8x16.splat(<i8>fb), ln = <usize>ldn;
  let acc = i32x4.splat(0);
  const p0 = src + <usize>c0 * ln;
  let k = 0;
  if (c0 + 4 <= N) {
    for (; k + 8 <= K; k += 8) {
      const p = p0 + <usize>k;
      const c01 = v128.load64_lane(p + ln, v128.load64_zero(p), 1);
      const c23 = v128.load64_lane(p + 3 * ln, v128.load64_zero(p + 2 * ln), 1);
      // [c0 k, k+1 | c1 k, k+1 | c2 .. | c3 ..] for k-pairs 0, 1 (t0) and 2, 3 (t1)
      const t0 = v128.xor(i8x16.shuffle(c01, c23, 0, 1, 8, 9, 16, 17, 24, 25, 2, 3, 10, 11, 18, 19, 26, 27), fv);
      const t1 = v128.xor(i8x16.shuffle(c01, c23, 4, 5, 12, 13, 20, 21, 28, 29, 6, 7, 14, 15, 22, 23, 30, 31), fv);
      const q = dst + (<usize>k << 3);
      const w0 = i16x8.extend_low_i8x16_s(t0), w1 = i16x8.extend_high_i8x16_s(t0);
      const w2 = i16x8.extend_low_i8x16_s(t1), w3 = i16x8.extend_high_i8x16_s(t1);
      v128.store(q, w0);
      v128.store(q, w1, 16);
      v128.store(q, w2, 32);
      v128.store(q, w3, 48);
      acc = i32x4.add(acc, i32x4.add(
        i32x4.add(i32x4.extadd_pairwise_i16x8_s(w0), i32x4.extadd_pairwise_i16x8_s(w1)),
        i32x4.add(i32x4.extadd_pairwise_i16x8_s(w2), i32x4.extadd_pairwise_i16x8_s(w3)),
      ));
    }
  }
  for (; k < Kp; k += 2) {
    const w = pairBytes(src, 1, ln, fb, K, N, c0, k, dst + (<usize>k << 3));
    acc = i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(w));
  }
  v128.store(ccol, i32x4.mul(acc, i32x4.splat(-azpU)));
}

/**
 * Prepares items [lo, hi): [0, nb·M) are A rows (plain i16, 2·Kp bytes), the next
 * nbB·N4/4 are column blocks of B' in the k2 layout (with their ccol entries).
 */
export function qmatmul_prep4_par(rec: usize, lo: i32, hi: i32, _tid: i32): void {
  const M = mw(rec, MM_M), K = mw(rec, MM_K), N = mw(rec, MM_N), Kp = mw(rec, MM_KP);
  const nb = mw(rec, MM_NB), N4 = mw(rec, MM_N4), nb4 = N4 >> 2;
  const rb = <usize>(2 * Kp);
  const azpU = mw(rec, MM_AZP), bzp2 = mw(rec, MM_BZP);
  const fa = mw(rec, MM_ASG) ? 0x80 : 0, fb = mw(rec, MM_BSG) ? 0 : 0x80;
  const a = <usize>mw(rec, MM_A), b = <usize>mw(rec, MM_B);
  const aPk = <usize>mw(rec, MM_APK), bPk = <usize>mw(rec, MM_BPK);
  const ccol = <usize>mw(rec, MM_CCOL), crow = <usize>mw(rec, MM_CROW);
  const sa = mw(rec, MM_SA), lda = mw(rec, MM_LDA), sb = mw(rec, MM_SB), ldb = mw(rec, MM_LDB);
  const bt = mw(rec, MM_BT);
  const nA = nb * M;
  for (let i = lo; i < hi; i++) {
    if (i < nA) {
      const t = i / M, r = i - t * M;
      const src = a + <usize>t * <usize>sa + <usize>r * <usize>lda;
      const s = encodeRowA(src, fa, K, aPk + <usize>i * rb);
      store<i32>(crow + (<usize>i << 2), -bzp2 * s + K * azpU * bzp2);
    } else {
      const j = i - nA, t = j / nb4, bl = j - t * nb4;
      const src = b + <usize>t * <usize>sb, d = bPk + <usize>j * (<usize>Kp << 3), cc = ccol + (<usize>j << 4);
      if (bt) encodeBlockBT(src, fb, K, N, Kp, bl << 2, d, cc, azpU, ldb);
      else encodeBlockB(src, fb, K, N, Kp, bl << 2, d, cc, azpU, ldb);
    }
  }
}

// Per-call requantization constants of the k2 QMatMul (each thread has its own instance).
let kOut: usize = 0, kN: i32 = 0, kLdy: i32 = 0, kM: v128 = i32x4.splat(0), kR: i32 = 0, kL: i32 = 0;
let kMask: v128 = i32x4.splat(0), kHalf: v128 = i32x4.splat(0), kZ: v128 = i32x4.splat(0);
let kLo: v128 = i32x4.splat(0), kHi: v128 = i32x4.splat(0), kSigned: bool = false;

// The 8-column stage (store8): SRDHM and RDBPOT in one 64-bit step (requant.ts mbqmU4 on
// the sum + 2^31, kM2 = 2·mult, kK its k), zero point and clamp in i16 / i8 lanes
// (narrowClamp8), 8 bytes per store. Exact (as k4.ts's fast stage) when no left shift and
// r >= 1: the wrapping sum raw + ccol + crow is Σ (a − azp)(b − bzp) exactly, and
// |Σ (a − azp)(b − bzp)| <= K·255·255 < 2^29 for K < 8192.
let kFast8: bool = false, kM2: v128 = i32x4.splat(0), kK: v128 = i64x2.splat(0);
let kZ16: v128 = i16x8.splat(0), kLo8: v128 = i8x16.splat(0), kHi8: v128 = i8x16.splat(0);
let kOff8: v128 = i8x16.splat(0);

/**
 * Row r, columns c..c+7 of the output from raw sums v0 (c..c+3) and v1 (c+4..c+7), the
 * 8-column stage when kFast8, else two store4. The callers take two whole column blocks
 * (c + 8 <= N4 <= N + 3), so at least 5 of the 8 columns exist.
 */
// @ts-ignore: decorator
@inline function store8(r: i32, c: i32, v0: v128, v1: v128, cc: usize, q: v128): void {
  if (!kFast8) {
    store4(r, c, v0, cc, q);
    store4(r, c + 4, v1, cc, q);
    return;
  }
  const p = cc + (<usize>c << 2);
  const q2 = i32x4.add(q, vOff31);
  const a0 = i32x4.add(i32x4.add(v0, q2), v128.load(p)), a1 = i32x4.add(i32x4.add(v1, q2), v128.load(p, 16));
  const b = narrowClamp8(mbqmU4(a0, kM2, kK, kK, kR), mbqmU4(a1, kM2, kK, kK, kR), kZ16, kLo8, kHi8, kOff8);
  const o = kOut + <usize>r * <usize>kLdy + <usize>c;
  const left = kN - c;
  if (left >= 8) v128.store64_lane(o, b, 0);
  else {
    v128.store32_lane(o, b, 0);
    v128.store8_lane(o + 4, b, 4);
    if (left > 5) v128.store8_lane(o + 5, b, 5);
    if (left > 6) v128.store8_lane(o + 6, b, 6);
  }
}

/** Row r, columns c..c+3 of the output: raw sums v + ccol (4 lanes) + crow (q, splatted). */
// @ts-ignore: decorator
@inline function store4(r: i32, c: i32, v: v128, cc: usize, q: v128): void {
  let acc = i32x4.add(i32x4.add(v, q), v128.load(cc + (<usize>c << 2)));
  if (kL > 0) acc = shlSat4(acc, kL);
  const h = rdbpot4(srdhm4v(acc, kM), kR, kMask, kHalf);
  const y = i32x4.min_s(i32x4.max_s(i32x4.add(h, kZ), kLo), kHi);
  const n = i16x8.narrow_i32x4_s(y, y);
  const bb = kSigned ? i8x16.narrow_i16x8_s(n, n) : i8x16.narrow_i16x8_u(n, n);
  const o = kOut + <usize>r * <usize>kLdy + <usize>c;
  const left = kN - c;
  if (left >= 4) v128.store32_lane(o, bb, 0);
  else {
    v128.store8_lane(o, bb, 0);
    if (left > 1) v128.store8_lane(o + 1, bb, 1);
    if (left > 2) v128.store8_lane(o + 2, bb, 2);
  }
}

/** Output rows [lo, hi) of all slices (row i: slice i / M) on the k2 layout: 4 rows × 8 columns per tile. */
export function qmatmul_rows4(rec: usize, lo: i32, hi: i32, _tid: i32): void {
  const M = mw(rec, MM_M), N = mw(rec, MM_N), Kp = mw(rec, MM_KP), nbB = mw(rec, MM_NBB);
  const N4 = mw(rec, MM_N4), nb4 = N4 >> 2;
  const rb = <usize>(2 * Kp), bs = <usize>Kp << 3, G = Kp >> 1;
  const aPk = <usize>mw(rec, MM_APK), bPk = <usize>mw(rec, MM_BPK), ep0 = <usize>mw(rec, MM_EP);
  const ccol0 = <usize>mw(rec, MM_CCOL);
  kN = N;
  kLdy = mw(rec, MM_LDY);
  let i = lo;
  while (i < hi) {
    const t = i / M, r0 = i - t * M;
    const r1 = hi - t * M < M ? hi - t * M : M;
    const ep = ep0 + <usize>t * <usize>(EP_WORDS << 2);
    kOut = <usize>load<i32>(ep + <usize>EP_OUT);
    const crow = <usize>load<i32>(ep + <usize>EP_CROW);
    const shift = load<i32>(ep + <usize>EP_SHIFT);
    kM = i32x4.splat(load<i32>(ep + <usize>EP_MULT));
    kL = shift > 0 ? shift : 0;
    kR = shift > 0 ? 0 : -shift;
    const mk = <i32>((<u32>1 << kR) - 1);
    kMask = i32x4.splat(mk);
    kFast8 = kL == 0 && kR >= 1 && mw(rec, MM_K) < 8192;
    kHalf = i32x4.splat(mk >> 1);
    if (kFast8) {
      kM2 = i32x4.splat(load<i32>(ep + <usize>EP_MULT) << 1);
      kK = mbqmK(load<i32>(ep + <usize>EP_MULT), kR);
    }
    const yzp = load<i32>(ep + <usize>EP_YZP);
    kZ = i32x4.splat(yzp);
    const qmin = load<i32>(ep + <usize>EP_QMIN), qmax = load<i32>(ep + <usize>EP_QMAX);
    kLo = i32x4.splat(qmin);
    kHi = i32x4.splat(qmax);
    kSigned = qmin < 0;
    const off = codeOff(qmin);
    kZ16 = i16x8.splat(<i16>(yzp - off));
    kLo8 = i8x16.splat(<i8>(qmin - off));
    kHi8 = i8x16.splat(<i8>(qmax - off));
    kOff8 = i8x16.splat(<i8>off);
    const tb = nbB == 1 ? 0 : t;
    const w = bPk + <usize>tb * <usize>nb4 * bs, cc = ccol0 + <usize>tb * (<usize>N4 << 2);
    const abase = aPk + <usize>(t * M) * rb;
    let r = r0;
    for (; r + 4 <= r1; r += 4) {
      const a0 = abase + <usize>r * rb, a1 = a0 + rb, a2 = a1 + rb, a3 = a2 + rb;
      const qr = v128.load(crow + (<usize>r << 2));
      const q0 = i32x4.shuffle(qr, qr, 0, 0, 0, 0), q1 = i32x4.shuffle(qr, qr, 1, 1, 1, 1);
      const q2 = i32x4.shuffle(qr, qr, 2, 2, 2, 2), q3 = i32x4.shuffle(qr, qr, 3, 3, 3, 3);
      let cb = 0;
      for (; cb + 2 <= nb4; cb += 2) {
        const w0 = w + <usize>cb * bs, w1 = w0 + bs;
        let s00 = i32x4.splat(0), s10 = i32x4.splat(0), s20 = i32x4.splat(0), s30 = i32x4.splat(0);
        let s01 = i32x4.splat(0), s11 = i32x4.splat(0), s21 = i32x4.splat(0), s31 = i32x4.splat(0);
        // 4 k-pairs per step (G = Kp/2 is a multiple of 4), written out: B's load offsets
        // and the shuffles' lane indices must be literals (AssemblyScript). Each row's 4
        // pairs are one 16-byte load, splatted pair by pair with shuffles (4 loads instead
        // of 16 broadcast loads, each bounds-checked in Deno; the broadcast loads took
        // 1.08–1.16× the time of this loop's calls on the ViT fixture and ViT-tiny)
        for (let g = 0; g < G; g += 4) {
          const o = <usize>g << 4, ko = <usize>g << 2;
          const pw0 = w0 + o, pw1 = w1 + o;
          const xa0 = v128.load(a0 + ko), xa1 = v128.load(a1 + ko), xa2 = v128.load(a2 + ko), xa3 = v128.load(a3 + ko);
          {
            const v0 = v128.load(pw0, 0), v1 = v128.load(pw1, 0);
            let x = i32x4.shuffle(xa0, xa0, 0, 0, 0, 0);
            s00 = i32x4.add(s00, i32x4.dot_i16x8_s(x, v0));
            s01 = i32x4.add(s01, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa1, xa1, 0, 0, 0, 0);
            s10 = i32x4.add(s10, i32x4.dot_i16x8_s(x, v0));
            s11 = i32x4.add(s11, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa2, xa2, 0, 0, 0, 0);
            s20 = i32x4.add(s20, i32x4.dot_i16x8_s(x, v0));
            s21 = i32x4.add(s21, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa3, xa3, 0, 0, 0, 0);
            s30 = i32x4.add(s30, i32x4.dot_i16x8_s(x, v0));
            s31 = i32x4.add(s31, i32x4.dot_i16x8_s(x, v1));
          }
          {
            const v0 = v128.load(pw0, 16), v1 = v128.load(pw1, 16);
            let x = i32x4.shuffle(xa0, xa0, 1, 1, 1, 1);
            s00 = i32x4.add(s00, i32x4.dot_i16x8_s(x, v0));
            s01 = i32x4.add(s01, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa1, xa1, 1, 1, 1, 1);
            s10 = i32x4.add(s10, i32x4.dot_i16x8_s(x, v0));
            s11 = i32x4.add(s11, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa2, xa2, 1, 1, 1, 1);
            s20 = i32x4.add(s20, i32x4.dot_i16x8_s(x, v0));
            s21 = i32x4.add(s21, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa3, xa3, 1, 1, 1, 1);
            s30 = i32x4.add(s30, i32x4.dot_i16x8_s(x, v0));
            s31 = i32x4.add(s31, i32x4.dot_i16x8_s(x, v1));
          }
          {
            const v0 = v128.load(pw0, 32), v1 = v128.load(pw1, 32);
            let x = i32x4.shuffle(xa0, xa0, 2, 2, 2, 2);
            s00 = i32x4.add(s00, i32x4.dot_i16x8_s(x, v0));
            s01 = i32x4.add(s01, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa1, xa1, 2, 2, 2, 2);
            s10 = i32x4.add(s10, i32x4.dot_i16x8_s(x, v0));
            s11 = i32x4.add(s11, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa2, xa2, 2, 2, 2, 2);
            s20 = i32x4.add(s20, i32x4.dot_i16x8_s(x, v0));
            s21 = i32x4.add(s21, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa3, xa3, 2, 2, 2, 2);
            s30 = i32x4.add(s30, i32x4.dot_i16x8_s(x, v0));
            s31 = i32x4.add(s31, i32x4.dot_i16x8_s(x, v1));
          }
          {
            const v0 = v128.load(pw0, 48), v1 = v128.load(pw1, 48);
            let x = i32x4.shuffle(xa0, xa0, 3, 3, 3, 3);
            s00 = i32x4.add(s00, i32x4.dot_i16x8_s(x, v0));
            s01 = i32x4.add(s01, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa1, xa1, 3, 3, 3, 3);
            s10 = i32x4.add(s10, i32x4.dot_i16x8_s(x, v0));
            s11 = i32x4.add(s11, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa2, xa2, 3, 3, 3, 3);
            s20 = i32x4.add(s20, i32x4.dot_i16x8_s(x, v0));
            s21 = i32x4.add(s21, i32x4.dot_i16x8_s(x, v1));
            x = i32x4.shuffle(xa3, xa3, 3, 3, 3, 3);
            s30 = i32x4.add(s30, i32x4.dot_i16x8_s(x, v0));
            s31 = i32x4.add(s31, i32x4.dot_i16x8_s(x, v1));
          }
        }
        const c = cb << 2;
        store8(r, c, s00, s01, cc, q0);
        store8(r + 1, c, s10, s11, cc, q1);
        store8(r + 2, c, s20, s21, cc, q2);
        store8(r + 3, c, s30, s31, cc, q3);
      }
      if (cb < nb4) {
        const w0 = w + <usize>cb * bs;
        let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
        for (let g = 0; g < G; g++) {
          const v0 = v128.load(w0 + (<usize>g << 4)), ko = <usize>g << 2;
          s0 = i32x4.add(s0, i32x4.dot_i16x8_s(v128.load32_splat(a0 + ko), v0));
          s1 = i32x4.add(s1, i32x4.dot_i16x8_s(v128.load32_splat(a1 + ko), v0));
          s2 = i32x4.add(s2, i32x4.dot_i16x8_s(v128.load32_splat(a2 + ko), v0));
          s3 = i32x4.add(s3, i32x4.dot_i16x8_s(v128.load32_splat(a3 + ko), v0));
        }
        const c = cb << 2;
        store4(r, c, s0, cc, q0);
        store4(r + 1, c, s1, cc, q1);
        store4(r + 2, c, s2, cc, q2);
        store4(r + 3, c, s3, cc, q3);
      }
    }
    for (; r < r1; r++) {
      const a0 = abase + <usize>r * rb;
      const q0 = v128.load32_splat(crow + (<usize>r << 2));
      for (let cb = 0; cb < nb4; cb += 2) {
        const two = cb + 1 < nb4;
        const w0 = w + <usize>cb * bs, w1 = two ? w0 + bs : w0;
        let s0 = i32x4.splat(0), s1 = i32x4.splat(0);
        for (let g = 0; g < G; g++) {
          const x = v128.load32_splat(a0 + (<usize>g << 2)), o = <usize>g << 4;
          s0 = i32x4.add(s0, i32x4.dot_i16x8_s(x, v128.load(w0 + o)));
          s1 = i32x4.add(s1, i32x4.dot_i16x8_s(x, v128.load(w1 + o)));
        }
        if (two) store8(r, cb << 2, s0, s1, cc, q0);
        else store4(r, cb << 2, s0, cc, q0);
      }
    }
    i += r1 - r0;
  }
}
