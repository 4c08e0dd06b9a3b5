// QConv: im2row over encoded NHWC pixel rows + the int8 GEMM, and a direct scalar
// kernel for grouped / depthwise convolutions.
import { finish, loadEp } from "./epilogue";
import { gemmT } from "./gemm";
import { ld8 } from "./requant";

/** Output pixels per im2row chunk. */
const PT: i32 = 32;

/** Copies `bytes` (a multiple of 16). */
// @ts-ignore: decorator
@inline function copy16(dst: usize, src: usize, bytes: usize): void {
  for (let i: usize = 0; i < bytes; i += 16) v128.store(dst + i, v128.load(src + i));
}

/**
 * Patch rows of pixels [p0, p1): for tap (ky, kx) the encoded pixel row of the input
 * (row bytes rb = 2*Cp) or the pad row. A patch row is kh*kw*rb bytes.
 */
export function im2row(
  xp: usize,
  pad: usize,
  H: i32,
  W: i32,
  rb: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  ph: i32,
  pw: i32,
  ow: i32,
  p0: i32,
  p1: i32,
  dst: usize,
): void {
  const b = <usize> rb, prb = <usize> (kh * kw) * b;
  for (let p = p0; p < p1; p++) {
    const oy = p / ow, ox = p - oy * ow;
    let d = dst + <usize> (p - p0) * prb;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh + ky * dh - ph;
      const rowIn = iy >= 0 && iy < H;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * sw + kx * dw - pw;
        const src = rowIn && ix >= 0 && ix < W ? xp + <usize> (iy * W + ix) * b : pad;
        copy16(d, src, b);
        d += b;
      }
    }
  }
}

/** Geometry record of a conv (i32 fields), written by the planner. */
export const CG_H: i32 = 0;
export const CG_W: i32 = 4;
export const CG_RB: i32 = 8;
export const CG_KH: i32 = 12;
export const CG_KW: i32 = 16;
export const CG_SH: i32 = 20;
export const CG_SW: i32 = 24;
export const CG_DH: i32 = 28;
export const CG_DW: i32 = 32;
export const CG_PH: i32 = 36;
export const CG_PW: i32 = 40;
export const CG_OW: i32 = 44;
export const CG_M: i32 = 48;
export const CG_SCRATCH: i32 = 52; // scratch base
export const CG_SSTRIDE: i32 = 56; // scratch bytes per thread
export const CG_OH: i32 = 60;
/** s8 layout with dense taps: C (each tap takes C bytes of the patch row), else 0. */
export const CG_DENSE: i32 = 64;
/** Patch row bytes with dense taps (kh·kw·C rounded up to 16). */
export const CG_KP: i32 = 68;
/** Dense taps: the packed pixel rows (C bytes per pixel, compact_rows), else 0. */
export const CG_XD: i32 = 72;

/**
 * Pixel rows [lo, hi) of rb bytes → packed rows of C bytes (row p at xd + p·C). Each
 * row's copy spills up to 15 bytes into the next, so one call must run them in order
 * (not split across threads); xd needs 16 bytes of slack.
 */
export function compact_rows(xp: usize, rb: i32, C: i32, xd: usize, lo: i32, hi: i32, _tid: i32): void {
  const c = <usize>C, b = <usize>rb;
  for (let p = lo; p < hi; p++) copy16(xd + <usize>p * c, xp + <usize>p * b, (c + 15) & ~15);
}

/**
 * Dense patch rows of pixels [p0, p1) (s8 layout, C not a multiple of 16): tap t's C
 * channel bytes at t·C, then zeros up to prb. Each tap copies its whole pixel row (rb
 * bytes, zero past C) and the next tap overwrites the excess, so a row may spill up to
 * rb bytes past its end (into the next row, written after it, or the scratch's slack;
 * rb >= 16).
 */
export function im2rowDense(
  xp: usize, pad: usize, H: i32, W: i32, rb: i32, kh: i32, kw: i32, sh: i32, sw: i32,
  dh: i32, dw: i32, ph: i32, pw: i32, ow: i32, p0: i32, p1: i32, dst: usize, C: i32, prb: i32,
  xd: usize,
): void {
  const b = <usize>rb, c = <usize>C, used = <usize>(kh * kw) * c;
  // a row of kw taps inside the image (width dilation 1) is kw·C contiguous packed bytes
  const tapRow = <usize>(kw * C), tapRowCopy = (tapRow + 15) & ~15;
  const packed = xd != 0 && dw == 1;
  const zero = i32x4.splat(0);
  let oy = p0 / ow, ox = p0 - oy * ow;
  for (let p = p0; p < p1; p++, ox++) {
    if (ox == ow) {
      ox = 0;
      oy++;
    }
    const row = dst + <usize>(p - p0) * <usize>prb;
    let d = row;
    const ix0 = ox * sw - pw;
    const colsIn = packed && ix0 >= 0 && ix0 + kw <= W;
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * sh + ky * dh - ph;
      const rowIn = iy >= 0 && iy < H;
      if (rowIn && colsIn) {
        copy16(d, xd + <usize>(iy * W + ix0) * c, tapRowCopy);
        d += tapRow;
        continue;
      }
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * sw + kx * dw - pw;
        const src = rowIn && ix >= 0 && ix < W ? xp + <usize>(iy * W + ix) * b : pad;
        copy16(d, src, b);
        d += c;
      }
    }
    // zeros up to prb in 16-byte stores (a spill of <= 15 bytes, within the rb above;
    // memory.fill is a call out of the wasm code per row)
    for (let o = used; o < <usize>prb; o += 16) v128.store(row + o, zero);
  }
}

// @ts-ignore: decorator
@inline function g(cg: usize, off: i32): i32 {
  return load<i32>(cg + <usize> off);
}

/** Conv output pixels [lo, hi) through im2row + gemm, all M channels. */
export function conv_gemm(xp: usize, pad: usize, wp: usize, cg: usize, ep: usize, lo: i32, hi: i32, tid: i32): void {
  convGemmT<u8>(xp, pad, wp, cg, ep, lo, hi, tid);
}

/** conv_gemm on the s8 layout (7-bit weights; pixel rows of Cp bytes). */
export function conv_gemm7(xp: usize, pad: usize, wp: usize, cg: usize, ep: usize, lo: i32, hi: i32, tid: i32): void {
  convGemmT<i8>(xp, pad, wp, cg, ep, lo, hi, tid);
}

function convGemmT<T>(
  xp: usize,
  pad: usize,
  wp: usize,
  cg: usize,
  ep: usize,
  lo: i32,
  hi: i32,
  tid: i32,
): void {
  const kh = g(cg, CG_KH), kw = g(cg, CG_KW), rb = g(cg, CG_RB);
  const dense = isSigned<T>() ? g(cg, CG_DENSE) : 0;
  const prb = dense ? g(cg, CG_KP) : kh * kw * rb;
  const steps = prb >> 4;
  const scratch = <usize> g(cg, CG_SCRATCH) + <usize> tid * <usize> g(cg, CG_SSTRIDE);
  const M = g(cg, CG_M);
  for (let p = lo; p < hi; p += PT) {
    const q = p + PT < hi ? p + PT : hi;
    if (dense) {
      im2rowDense(
        xp, pad, g(cg, CG_H), g(cg, CG_W), rb, kh, kw, g(cg, CG_SH), g(cg, CG_SW), g(cg, CG_DH),
        g(cg, CG_DW), g(cg, CG_PH), g(cg, CG_PW), g(cg, CG_OW), p, q, scratch, dense, prb,
        <usize>g(cg, CG_XD),
      );
    } else im2row(
      xp,
      pad,
      g(cg, CG_H),
      g(cg, CG_W),
      rb,
      kh,
      kw,
      g(cg, CG_SH),
      g(cg, CG_SW),
      g(cg, CG_DH),
      g(cg, CG_DW),
      g(cg, CG_PH),
      g(cg, CG_PW),
      g(cg, CG_OW),
      p,
      q,
      scratch,
    );
    gemmT<T>(scratch, prb, wp, prb, steps, ep, p, q - p, 0, M);
  }
}

/**
 * Patch rows of output pixels [lo, hi) into one matrix (row p at dst + p·lda; s8 layout
 * when `s8`): the im2row of the channel-split conv path (few pixels, many channels: the
 * threads then split the GEMM's columns). With dense taps a row spills up to rb bytes
 * past its prb bytes, so lda must leave that slack (no row touches another's bytes).
 */
export function conv_im2row(xp: usize, pad: usize, cg: usize, dst: usize, lda: i32, s8: i32, lo: i32, hi: i32, _tid: i32): void {
  const kh = g(cg, CG_KH), kw = g(cg, CG_KW), rb = g(cg, CG_RB);
  const dense = s8 ? g(cg, CG_DENSE) : 0;
  const prb = dense ? g(cg, CG_KP) : kh * kw * rb;
  for (let p = lo; p < hi; p++) {
    const d = dst + <usize>p * <usize>lda;
    if (dense) {
      im2rowDense(
        xp, pad, g(cg, CG_H), g(cg, CG_W), rb, kh, kw, g(cg, CG_SH), g(cg, CG_SW), g(cg, CG_DH),
        g(cg, CG_DW), g(cg, CG_PH), g(cg, CG_PW), g(cg, CG_OW), p, p + 1, d, dense, prb,
        <usize>g(cg, CG_XD),
      );
    } else {
      im2row(
        xp, pad, g(cg, CG_H), g(cg, CG_W), rb, kh, kw, g(cg, CG_SH), g(cg, CG_SW), g(cg, CG_DH),
        g(cg, CG_DW), g(cg, CG_PH), g(cg, CG_PW), g(cg, CG_OW), p, p + 1, d,
      );
    }
  }
}

/** Bytes of scratch one thread needs for conv_gemm with patch rows of prb bytes. */
export function conv_scratch_bytes(prb: i32): i32 {
  return PT * prb;
}

/**
 * Direct convolution of one image (any group), output channels [lo, hi). x NCHW 8-bit
 * (zero point zp in x's own domain), w int8 [M][C/group][kh][kw]; output row = pixel,
 * column = channel (the epilogue's strides place it).
 */
export function conv_direct(
  x: usize,
  signed: i32,
  zp: i32,
  C: i32,
  w: usize,
  group: i32,
  cg: usize,
  ep: usize,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  const H = g(cg, CG_H), W = g(cg, CG_W), kh = g(cg, CG_KH), kw = g(cg, CG_KW);
  const sh = g(cg, CG_SH), sw = g(cg, CG_SW), dh = g(cg, CG_DH), dw = g(cg, CG_DW);
  const ph = g(cg, CG_PH), pw = g(cg, CG_PW), oh = g(cg, CG_OH), ow = g(cg, CG_OW);
  const M = g(cg, CG_M);
  const cpg = C / group, mpg = M / group, kk = kh * kw;
  loadEp(ep);
  for (let m = lo; m < hi; m++) {
    const c0 = (m / mpg) * cpg;
    const wm = w + <usize> (m * cpg * kk);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let acc: i32 = 0;
        for (let c = 0; c < cpg; c++) {
          const xc = x + <usize> ((c0 + c) * H * W);
          const wc = wm + <usize> (c * kk);
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh + ky * dh - ph;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw + kx * dw - pw;
              if (ix < 0 || ix >= W) continue;
              acc += (ld8(xc + <usize> (iy * W + ix), signed) - zp) *
                <i32> load<i8>(wc + <usize> (ky * kw + kx));
            }
          }
        }
        finish(oy * ow + ox, m, acc);
      }
    }
  }
}
