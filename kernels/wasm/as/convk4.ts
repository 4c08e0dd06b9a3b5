// QConv (s8 layout, group 1, any kernel / stride / pad) on the k4 GEMM (k4.ts): the patch
// rows of 4 output pixels (im2row into a small per-thread buffer, L1-resident) are
// transposed in 4-byte quads into one A4 group, then gemmK4 runs on a chunk of groups:
// 4 pixels of one channel per relaxed dot, no horizontal sums, the 8-pixel finish.
import { CG_DENSE, CG_DH, CG_DW, CG_H, CG_KH, CG_KP, CG_KW, CG_M, CG_OH, CG_OW, CG_PH, CG_PW, CG_RB, CG_SCRATCH, CG_SH, CG_SSTRIDE, CG_SW, CG_W, CG_XD, im2row, im2rowDense } from "./conv";
import { gemmK4 } from "./k4";

/** A4 groups per chunk (32 output pixels). */
const GT: i32 = 8;

// @ts-ignore: decorator
@inline function g(cg: usize, off: i32): i32 {
  return load<i32>(cg + <usize>off);
}

/**
 * 4 patch rows (row i at t + i·prb) → A4 group d (quad j at d + 16·j, kq quads): a 4 × 4
 * transpose of 32-bit lanes per 16 bytes of the rows. The last block writes up to 3 quads
 * past kq (the next group's first bytes, written after this one, or the buffer's slack).
 */
// @ts-ignore: decorator
@inline function rowsToA4(t: usize, prb: usize, kq: i32, d: usize): void {
  const t1 = t + prb, t2 = t1 + prb, t3 = t2 + prb;
  const kb = <usize>kq << 2;
  for (let k: usize = 0; k < kb; k += 16) {
    const r0 = v128.load(t + k), r1 = v128.load(t1 + k), r2 = v128.load(t2 + k), r3 = v128.load(t3 + k);
    const u0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5), u1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
    const u2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5), u3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
    const o = d + (k << 2);
    v128.store(o, i32x4.shuffle(u0, u2, 0, 1, 4, 5));
    v128.store(o, i32x4.shuffle(u0, u2, 2, 3, 6, 7), 16);
    v128.store(o, i32x4.shuffle(u1, u3, 0, 1, 4, 5), 32);
    v128.store(o, i32x4.shuffle(u1, u3, 2, 3, 6, 7), 48);
  }
}

/**
 * Conv output pixels of 8-pixel blocks [lo, hi) × all M channels on the k4 GEMM (the
 * threads split whole blocks: no 4-pixel group is cut between two parts). Per-thread scratch (at
 * CG_SCRATCH + tid·CG_SSTRIDE): 4 patch rows of CG_KP bytes (+ rb slack: dense rows
 * spill), then GT A4 groups of 16·kq bytes (+ 48 bytes slack); conv_k4_scratch_bytes.
 * Pixels past the map's end (the last group's tail) take the pad row: never written.
 */
export function conv_k4(xp: usize, pad: usize, wp: usize, cg: usize, ep: usize, kq: i32, blo: i32, bhi: i32, tid: i32): void {
  const H = g(cg, CG_H), W = g(cg, CG_W), rb = g(cg, CG_RB), kh = g(cg, CG_KH), kw = g(cg, CG_KW);
  const sh = g(cg, CG_SH), sw = g(cg, CG_SW), dh = g(cg, CG_DH), dw = g(cg, CG_DW);
  const ph = g(cg, CG_PH), pw = g(cg, CG_PW), ow = g(cg, CG_OW), P = g(cg, CG_OH) * ow;
  const lo = blo << 3, hi = bhi << 3 < P ? bhi << 3 : P;
  const dense = g(cg, CG_DENSE), prb = g(cg, CG_KP), xd = <usize>g(cg, CG_XD), M = g(cg, CG_M);
  const tmp = <usize>g(cg, CG_SCRATCH) + <usize>tid * <usize>g(cg, CG_SSTRIDE);
  const a4 = tmp + ((<usize>(4 * prb + rb) + 15) & ~15);
  const ldg = <usize>kq << 4, pb = <usize>prb;
  for (let g0 = lo >> 2; g0 << 2 < hi; g0 += GT) {
    const ge = (hi + 3) >> 2, g1 = g0 + GT < ge ? g0 + GT : ge;
    for (let gi = g0; gi < g1; gi++) {
      const p = gi << 2, e = p + 4 < P ? p + 4 : P;
      if (dense) im2rowDense(xp, pad, H, W, rb, kh, kw, sh, sw, dh, dw, ph, pw, ow, p, e, tmp, dense, prb, xd);
      else im2row(xp, pad, H, W, rb, kh, kw, sh, sw, dh, dw, ph, pw, ow, p, e, tmp);
      rowsToA4(tmp, pb, kq, a4 + <usize>(gi - g0) * ldg);
    }
    const p0 = g0 << 2 > lo ? g0 << 2 : lo, p1 = g1 << 2 < hi ? g1 << 2 : hi;
    gemmK4(a4 - <usize>g0 * ldg, <i32>ldg, wp, kq << 2, kq, ep, p0, p1, 0, M);
  }
}

/** Scratch bytes per thread of conv_k4 (patch rows of prb bytes, pixel rows of rb). */
export function conv_k4_scratch_bytes(prb: i32, rb: i32, kq: i32): i32 {
  return ((4 * prb + rb + 15) & ~15) + GT * 16 * kq + 64;
}
