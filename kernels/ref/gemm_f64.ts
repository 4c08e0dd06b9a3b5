/**
 * The one float GEMM kernel of the reference backend, used by Conv (after im2col),
 * ConvTranspose, Gemm and MatMul.
 *
 * `C[m×n] += A[m×k] · B[k×n]`, all row-major Float64Arrays with offsets and leading
 * dimensions. Accumulation is in float64 (JS numbers); callers round once when they
 * store to a float32 output.
 *
 * Blocking (GotoBLAS-style, scaled down for a JIT): the k extent is cut into blocks of
 * {@link GEMM_KC}; per block, A is packed into 4-row panels (`[k][4]` interleaved) and
 * each 4-column panel of B into `[k][4]`; a 4×4 tile of C is then accumulated in 16
 * locals, so every loaded element feeds four multiply-adds. Rows and columns beyond a
 * multiple of 4 take a plain loop.
 */

/** k-block depth: a packed 4-column B panel (KC×4 float64 = 8 KiB) stays in L1. */
export const GEMM_KC = 256;

/**
 * Accumulates `A·B` into `C`.
 *
 * @example
 * ```ts
 * const a = Float64Array.of(1, 2, 3, 4), b = Float64Array.of(5, 6, 7, 8);
 * const c = new Float64Array(4);
 * gemmAccF64(2, 2, 2, a, 0, 2, b, 0, 2, c, 0, 2); // c = [19, 22, 43, 50]
 * ```
 */
export function gemmAccF64(
  m: number,
  n: number,
  k: number,
  a: Float64Array,
  aOff: number,
  lda: number,
  b: Float64Array,
  bOff: number,
  ldb: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  const m4 = m & ~3, n4 = n & ~3;
  if (m4 > 0 && n4 > 0) {
    const kcMax = Math.min(k, GEMM_KC);
    const pa = new Float64Array(m4 * kcMax);
    const pb = new Float64Array(kcMax * 4);
    for (let k0 = 0; k0 < k; k0 += GEMM_KC) {
      const kc = Math.min(GEMM_KC, k - k0);
      packA(a, aOff + k0, lda, m4, kc, pa);
      for (let j = 0; j < n4; j += 4) {
        packB(b, bOff + k0 * ldb + j, ldb, kc, pb);
        for (let i = 0; i < m4; i += 4) tile4x4(pa, i * kc, pb, kc, c, cOff + i * ldc + j, ldc);
      }
    }
  }
  // Edges: columns n4..n of the first m4 rows, then whole rows m4..m.
  if (n4 < n) edge(0, m4, n4, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
  if (m4 < m) edge(m4, m, 0, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
}

/** Packs rows `0..m4` × cols `0..kc` of A (at `off`) into 4-row panels `[i/4][p][4]`. */
function packA(
  a: Float64Array,
  off: number,
  lda: number,
  m4: number,
  kc: number,
  pa: Float64Array,
) {
  for (let i = 0; i < m4; i += 4) {
    const r0 = off + i * lda, r1 = r0 + lda, r2 = r1 + lda, r3 = r2 + lda;
    let q = i * kc;
    for (let p = 0; p < kc; p++, q += 4) {
      pa[q] = a[r0 + p];
      pa[q + 1] = a[r1 + p];
      pa[q + 2] = a[r2 + p];
      pa[q + 3] = a[r3 + p];
    }
  }
}

/** Packs `kc` rows × 4 cols of B (at `off`) into `[p][4]`. */
function packB(b: Float64Array, off: number, ldb: number, kc: number, pb: Float64Array) {
  for (let p = 0, s = off, q = 0; p < kc; p++, s += ldb, q += 4) {
    pb[q] = b[s];
    pb[q + 1] = b[s + 1];
    pb[q + 2] = b[s + 2];
    pb[q + 3] = b[s + 3];
  }
}

/** `C[4×4 at co] += panelA[4×kc] · panelB[kc×4]`, in 16 register accumulators. */
function tile4x4(
  pa: Float64Array,
  qa: number,
  pb: Float64Array,
  kc: number,
  c: Float64Array,
  co: number,
  ldc: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  const end = 4 * kc;
  for (let p = 0, q = qa; p < end; p += 4, q += 4) {
    const b0 = pb[p], b1 = pb[p + 1], b2 = pb[p + 2], b3 = pb[p + 3];
    const x0 = pa[q], x1 = pa[q + 1], x2 = pa[q + 2], x3 = pa[q + 3];
    c00 += x0 * b0, c01 += x0 * b1, c02 += x0 * b2, c03 += x0 * b3;
    c10 += x1 * b0, c11 += x1 * b1, c12 += x1 * b2, c13 += x1 * b3;
    c20 += x2 * b0, c21 += x2 * b1, c22 += x2 * b2, c23 += x2 * b3;
    c30 += x3 * b0, c31 += x3 * b1, c32 += x3 * b2, c33 += x3 * b3;
  }
  let o = co;
  c[o] += c00, c[o + 1] += c01, c[o + 2] += c02, c[o + 3] += c03;
  o += ldc;
  c[o] += c10, c[o + 1] += c11, c[o + 2] += c12, c[o + 3] += c13;
  o += ldc;
  c[o] += c20, c[o + 1] += c21, c[o + 2] += c22, c[o + 3] += c23;
  o += ldc;
  c[o] += c30, c[o + 1] += c31, c[o + 2] += c32, c[o + 3] += c33;
}

/** Plain row-times-matrix loop for rows `i0..i1`, cols `j0..j1`. */
function edge(
  i0: number,
  i1: number,
  j0: number,
  j1: number,
  k: number,
  a: Float64Array,
  aOff: number,
  lda: number,
  b: Float64Array,
  bOff: number,
  ldb: number,
  c: Float64Array,
  cOff: number,
  ldc: number,
): void {
  for (let i = i0; i < i1; i++) {
    const ci = cOff + i * ldc, ai = aOff + i * lda;
    for (let p = 0; p < k; p++) {
      const x = a[ai + p], bp = bOff + p * ldb;
      for (let j = j0; j < j1; j++) c[ci + j] += x * b[bp + j];
    }
  }
}

/** Copies an `r×c` row-major matrix at `src[off..]` transposed into a new `c×r` Float64Array. */
export function transposeF64(
  src: ArrayLike<number>,
  off: number,
  r: number,
  c: number,
): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    const s = off + i * c;
    for (let j = 0; j < c; j++) out[j * r + i] = src[s + j];
  }
  return out;
}
