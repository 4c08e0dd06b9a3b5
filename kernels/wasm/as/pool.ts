// Integer pools on NCHW 8-bit planes [lo, hi) (kernels/ref/quant/qpool.ts semantics).
import { divRound, ld8 } from "./requant";

/** Geometry record of a pool (i32 fields). */
export const PG_H: i32 = 0;
export const PG_W: i32 = 4;
export const PG_KH: i32 = 8;
export const PG_KW: i32 = 12;
export const PG_SH: i32 = 16;
export const PG_SW: i32 = 20;
export const PG_DH: i32 = 24;
export const PG_DW: i32 = 28;
export const PG_PH: i32 = 32;
export const PG_PW: i32 = 36;
export const PG_EH: i32 = 40; // pad end (for count_include_pad)
export const PG_EW: i32 = 44;
export const PG_OH: i32 = 48;
export const PG_OW: i32 = 52;
export const PG_INCPAD: i32 = 56;

// @ts-ignore: decorator
@inline function g(pg: usize, off: i32): i32 {
  return load<i32>(pg + <usize> off);
}

/** Max / average pool. avg = 0: max; 1: average with zero point zp. */
export function pool(
  x: usize,
  signed: i32,
  zp: i32,
  avg: i32,
  pg: usize,
  y: usize,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  const H = g(pg, PG_H), W = g(pg, PG_W), kh = g(pg, PG_KH), kw = g(pg, PG_KW);
  const sh = g(pg, PG_SH), sw = g(pg, PG_SW), dh = g(pg, PG_DH), dw = g(pg, PG_DW);
  const ph = g(pg, PG_PH), pw = g(pg, PG_PW), eh = g(pg, PG_EH), ew = g(pg, PG_EW);
  const oh = g(pg, PG_OH), ow = g(pg, PG_OW), inc = g(pg, PG_INCPAD);
  const dmin = signed ? -128 : 0;
  for (let p = lo; p < hi; p++) {
    const xp = x + <usize> (p * H * W), yp = y + <usize> (p * oh * ow);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let m = dmin, s = 0, n = 0, padded = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky * dh - ph;
          const yIn = iy >= 0 && iy < H, yPad = iy >= -ph && iy < H + eh;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx * dw - pw;
            if (yPad && ix >= -pw && ix < W + ew) padded++;
            if (yIn && ix >= 0 && ix < W) {
              const v = ld8(xp + <usize> (iy * W + ix), signed);
              if (v > m) m = v;
              s += v - zp;
              n++;
            }
          }
        }
        let r: i32;
        if (avg) {
          const cnt = inc ? padded : n;
          r = cnt == 0 ? zp : zp + divRound(s, cnt);
        } else r = m;
        store<u8>(yp + <usize> (oy * ow + ox), <u8> r);
      }
    }
  }
}

/** Global average pool of planes [lo, hi), each of `sp` values. */
export function gap(
  x: usize,
  signed: i32,
  zp: i32,
  sp: i32,
  y: usize,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  for (let p = lo; p < hi; p++) {
    const xp = x + <usize> p * <usize> sp;
    let s: i32 = 0;
    for (let i = 0; i < sp; i++) s += ld8(xp + <usize> i, signed) - zp;
    store<u8>(y + <usize> p, <u8> (zp + divRound(s, sp)));
  }
}
