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

/**
 * Max pool in SIMD for strides 1 and 2 along the width: per plane a padded unsigned copy
 * (int8 flipped to unsigned order; padding = 0, the minimum, so it never wins), then
 * 16 outputs at a time take i8x16.max_u over the taps. rec (i32): H, W, kh, kw, sh, sw,
 * dh, dw, ph, pw, oh, ow, hp, wp, signed, scratch, sstride. Planes [lo, hi).
 */
export function maxpool_simd(x: usize, y: usize, rec: usize, lo: i32, hi: i32, tid: i32): void {
  const h = load<i32>(rec), w = load<i32>(rec, 4), kh = load<i32>(rec, 8), kw = load<i32>(rec, 12);
  const sh = load<i32>(rec, 16), sw = load<i32>(rec, 20), dh = load<i32>(rec, 24), dw = load<i32>(rec, 28);
  const ph = load<i32>(rec, 32), pw = load<i32>(rec, 36), oh = load<i32>(rec, 40), ow = load<i32>(rec, 44);
  const hp = load<i32>(rec, 48), wp = load<i32>(rec, 52), flip = load<i32>(rec, 56) ? 0x80 : 0;
  const plane = <usize>load<i32>(rec, 60) + <usize>tid * <usize>load<i32>(rec, 64);
  const tmp = plane + ((<usize>(hp * wp) + 63) & ~15);
  const fv = i8x16.splat(<i8>flip);
  // the border stays 0 for every plane (only the interior is written below): cleared once
  memory.fill(plane, 0, <usize>(hp * wp));
  for (let p = lo; p < hi; p++) {
    const xp = x + <usize>(p * h * w);
    for (let iy = 0; iy < h; iy++) {
      const s = xp + <usize>(iy * w), d = plane + <usize>((iy + ph) * wp + pw);
      let ix = 0;
      for (; ix + 16 <= w; ix += 16) v128.store(d + <usize>ix, v128.xor(v128.load(s + <usize>ix), fv));
      for (; ix < w; ix++) store<u8>(d + <usize>ix, load<u8>(s + <usize>ix) ^ flip);
    }
    const yp = y + <usize>(p * oh * ow);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox += 16) {
        let m = i8x16.splat(0);
        for (let ky = 0; ky < kh; ky++) {
          const row = plane + <usize>((oy * sh + ky * dh) * wp + ox * sw);
          for (let kx = 0; kx < kw; kx++) {
            const q = row + <usize>(kx * dw);
            let v: v128;
            if (sw == 1) v = v128.load(q);
            else v = i8x16.shuffle(v128.load(q), v128.load(q + 16), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            m = i8x16.max_u(m, v);
          }
        }
        m = v128.xor(m, fv);
        const o = yp + <usize>(oy * ow + ox);
        if (ox + 16 <= ow) v128.store(o, m);
        else {
          v128.store(tmp, m);
          for (let j = 0; j < ow - ox; j++) store<u8>(o + <usize>j, load<u8>(tmp + <usize>j));
        }
      }
    }
  }
}
