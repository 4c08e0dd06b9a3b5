// Depthwise QConv (group = C = M) in SIMD: per channel the input plane is copied into a
// padded scratch plane (pad = the zero point, 8-bit values made unsigned), then 8 output
// pixels at a time accumulate (x − zp)·w in i32 (i16 products, extmul), and the
// requantization runs 4 lanes at a time (SRDHM via i64x2 extmul, RDBPOT with the
// channel's shift). Used when the multipliers are <= 1 (shift <= 0), |bias| < 2^30,
// strides 1 or 2 and no fused residual (else the direct kernel runs).
import { mbqm4 } from "./requant";

// Record fields (i32 words).
const H = 0, W = 4, KH = 8, KW = 12, SH = 16, SW = 20, DH = 24, DW = 28, PH = 32, PW = 36;
const OH = 40, OW = 44, HP = 48, WP = 52, ZPU = 56, SIGNED = 60, YZP = 64, QMIN = 68;
const QMAX = 72, SCR = 76, SSTR = 80, BIAS = 84, MULT = 88, SHIFT = 92, WTS = 96;

// @ts-ignore: decorator
@inline function g(r: usize, o: i32): i32 {
  return load<i32>(r + <usize>o);
}

/** Channels [lo, hi) of one image. x NCHW 8-bit, y NCHW 8-bit, rec: the record above. */
export function dwconv(x: usize, y: usize, rec: usize, lo: i32, hi: i32, tid: i32): void {
  const h = g(rec, H), w = g(rec, W), kh = g(rec, KH), kw = g(rec, KW), sh = g(rec, SH), sw = g(rec, SW);
  const dh = g(rec, DH), dw = g(rec, DW), ph = g(rec, PH), pw = g(rec, PW), oh = g(rec, OH), ow = g(rec, OW);
  const hp = g(rec, HP), wp = g(rec, WP), zpu = g(rec, ZPU), flip = g(rec, SIGNED) ? 0x80 : 0;
  const yzp = g(rec, YZP), qmin = g(rec, QMIN), qmax = g(rec, QMAX), outSigned = qmin < 0;
  const plane = <usize>g(rec, SCR) + <usize>tid * <usize>g(rec, SSTR);
  const kk = kh * kw;
  const tmp = plane + ((<usize>(hp * wp) + 47) & ~15); // 8 bytes for a partial store
  const zv = i16x8.splat(<i16>zpu), fv = i8x16.splat(<i8>flip);
  for (let m = lo; m < hi; m++) {
    // padded, unsigned copy of the input plane
    memory.fill(plane, <u8>zpu, <usize>(hp * wp));
    const xm = x + <usize>(m * h * w);
    for (let iy = 0; iy < h; iy++) {
      const s = xm + <usize>(iy * w), d = plane + <usize>((iy + ph) * wp + pw);
      let ix = 0;
      for (; ix + 16 <= w; ix += 16) v128.store(d + <usize>ix, v128.xor(v128.load(s + <usize>ix), fv));
      for (; ix < w; ix++) store<u8>(d + <usize>ix, load<u8>(s + <usize>ix) ^ flip);
    }
    const wm = <usize>g(rec, WTS) + <usize>(m * kk);
    const bias = g(rec, BIAS) ? load<i32>(<usize>g(rec, BIAS) + (<usize>m << 2)) : 0;
    const mult = load<i32>(<usize>g(rec, MULT) + (<usize>m << 2));
    const r = -load<i32>(<usize>g(rec, SHIFT) + (<usize>m << 2));
    const bv = i32x4.splat(bias), yz = i32x4.splat(yzp), qlo = i32x4.splat(qmin), qhi = i32x4.splat(qmax);
    const ym = y + <usize>(m * oh * ow);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox += 8) {
        let a0 = i32x4.splat(0), a1 = i32x4.splat(0);
        for (let ky = 0; ky < kh; ky++) {
          const row = plane + <usize>((oy * sh + ky * dh) * wp + ox * sw);
          for (let kx = 0; kx < kw; kx++) {
            const p = row + <usize>(kx * dw);
            let v: v128;
            if (sw == 1) v = i16x8.extend_low_i8x16_u(v128.load64_zero(p));
            else v = i16x8.extend_low_i8x16_u(i8x16.shuffle(v128.load(p), v128.load(p), 0, 2, 4, 6, 8, 10, 12, 14, 0, 0, 0, 0, 0, 0, 0, 0));
            v = i16x8.sub(v, zv);
            const wv = i16x8.splat(<i16>load<i8>(wm + <usize>(ky * kw + kx)));
            a0 = i32x4.add(a0, i32x4.extmul_low_i16x8_s(v, wv));
            a1 = i32x4.add(a1, i32x4.extmul_high_i16x8_s(v, wv));
          }
        }
        const q0 = i32x4.min_s(i32x4.max_s(i32x4.add(mbqm4(i32x4.add(a0, bv), mult, r), yz), qlo), qhi);
        const q1 = i32x4.min_s(i32x4.max_s(i32x4.add(mbqm4(i32x4.add(a1, bv), mult, r), yz), qlo), qhi);
        const n16 = i16x8.narrow_i32x4_s(q0, q1);
        const b = outSigned ? i8x16.narrow_i16x8_s(n16, n16) : i8x16.narrow_i16x8_u(n16, n16);
        const o = ym + <usize>(oy * ow + ox);
        if (ox + 8 <= ow) v128.store64_lane(o, b, 0);
        else {
          v128.store64_lane(tmp, b, 0);
          for (let j = 0; j < ow - ox; j++) store<u8>(o + <usize>j, load<u8>(tmp + <usize>j));
        }
      }
    }
  }
}
