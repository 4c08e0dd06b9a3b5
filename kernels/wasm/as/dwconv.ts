// Depthwise QConv (group = C = M) in SIMD: per channel the input plane is copied into a
// padded scratch plane of i16 values x − zp (the padding is 0 = the zero point), and each
// tap's weight becomes one vector (w, 0) × 4 of i16 pairs; i32x4.dot_i16x8_s of 8 plane
// values with it gives the products of the even ones exactly (one pmaddwd per 4 outputs,
// no widening; 3×3: taps 0 and 1 of a row share one vector (w0, w1) × 4): stride 2 reads the 8 outputs' pixels as two such vectors, stride 1 reads
// the plane at p and p + 1 pixel (even / odd outputs, interleaved afterwards). The
// requantization runs 4 lanes at a time (SRDHM via i64x2 extmul, RDBPOT with the
// channel's shift; requant.ts mbqmU4 where the shift is in [-30, -1]). Used when the
// multipliers are <= 1 (shift <= 0), |bias| < 2^30, strides 1 or 2 and no fused residual
// (else the direct kernel runs).
import { codeOff, mbqm4, mbqmK, mbqmU4, narrowClamp8 } from "./requant";

// Record fields (i32 words).
const H = 0, W = 4, KH = 8, KW = 12, SH = 16, SW = 20, DH = 24, DW = 28, PH = 32, PW = 36;
const OH = 40, OW = 44, HP = 48, WP = 52, ZPU = 56, SIGNED = 60, YZP = 64, QMIN = 68;
const QMAX = 72, SCR = 76, SSTR = 80, BIAS = 84, MULT = 88, SHIFT = 92, WTS = 96;

// @ts-ignore: decorator
@inline function g(r: usize, o: i32): i32 {
  return load<i32>(r + <usize>o);
}

// One thread's scratch (ops_int8.ts sizes it): the i16 plane (hp·wp values, then 64 bytes
// of slack for the reads of the last 8-output group past the row), rounded to 16; kk tap
// vectors; 16 bytes for a partial store.

/** Channels [lo, hi) of one image. x NCHW 8-bit, y NCHW 8-bit, rec: the record above. */
export function dwconv(x: usize, y: usize, rec: usize, lo: i32, hi: i32, tid: i32): void {
  const h = g(rec, H), w = g(rec, W), kh = g(rec, KH), kw = g(rec, KW), sh = g(rec, SH), sw = g(rec, SW);
  const dh = g(rec, DH), dw = g(rec, DW), ph = g(rec, PH), pw = g(rec, PW), oh = g(rec, OH), ow = g(rec, OW);
  const hp = g(rec, HP), wp = g(rec, WP), zpu = g(rec, ZPU), flip = g(rec, SIGNED) ? 0x80 : 0;
  const yzp = g(rec, YZP), qmin = g(rec, QMIN), qmax = g(rec, QMAX);
  const plane = <usize>g(rec, SCR) + <usize>tid * <usize>g(rec, SSTR);
  const kk = kh * kw;
  const tbl = plane + ((<usize>(2 * hp * wp) + 64 + 15) & ~15);
  const tmp = tbl + (<usize>kk << 4);
  const zv = i16x8.splat(<i16>zpu), fv = i8x16.splat(<i8>flip);
  // narrowClamp8's constants, offset by codeOff
  const off = codeOff(qmin), off8 = i8x16.splat(<i8>off);
  const yz16 = i16x8.splat(<i16>(yzp - off)), lo8 = i8x16.splat(<i8>(qmin - off)), hi8 = i8x16.splat(<i8>(qmax - off));
  const rowB = <usize>wp << 1;
  // the plane's border (the padding) is 0 for every channel: only the interior is written
  // below, so the plane is cleared once per call, not per channel
  memory.fill(plane, 0, <usize>(2 * hp * wp));
  for (let m = lo; m < hi; m++) {
    // padded plane of x − zp as i16
    const xm = x + <usize>(m * h * w);
    for (let iy = 0; iy < h; iy++) {
      const s = xm + <usize>(iy * w), d = plane + <usize>(iy + ph) * rowB + (<usize>pw << 1);
      let ix = 0;
      for (; ix + 8 <= w; ix += 8) {
        const u = v128.xor(v128.load64_zero(s + <usize>ix), fv);
        v128.store(d + (<usize>ix << 1), i16x8.sub(i16x8.extend_low_i8x16_u(u), zv));
      }
      for (; ix < w; ix++) store<i16>(d + (<usize>ix << 1), <i16>((<i32>load<u8>(s + <usize>ix) ^ flip) - zpu));
    }
    const wm = <usize>g(rec, WTS) + <usize>(m * kk);
    for (let t = 0; t < kk; t++) {
      v128.store(tbl + (<usize>t << 4), i32x4.splat(<i32>load<i8>(wm + <usize>t) & 0xffff));
    }
    const bias = g(rec, BIAS) ? load<i32>(<usize>g(rec, BIAS) + (<usize>m << 2)) : 0;
    const mult = load<i32>(<usize>g(rec, MULT) + (<usize>m << 2));
    const r = -load<i32>(<usize>g(rec, SHIFT) + (<usize>m << 2));
    // shift in 1..30 (and |acc| < 2^30 + 16384·255·128): the fast requantization of put8,
    // on accumulators offset by 2^31 (they start at bias + 2^31, wrapping; mbqmU4)
    const fast = r >= 1 && r <= 30 && kk <= 16384;
    const bv = i32x4.splat(fast ? bias + i32.MIN_VALUE : bias);
    const mv = i32x4.splat(mult << 1), kv = fast ? mbqmK(mult, r) : i32x4.splat(0);
    const ym = y + <usize>(m * oh * ow);
    // stride 2: the second vector starts 8 plane values on; stride 1: one value on
    const second: usize = sw == 1 ? 2 : 16;
    if (kh == 3 && kw == 3 && dw == 1) {
      // 3×3 taps unrolled: per tap row the pair vector (w0, w1) × 4 and (w2, 0) × 4, so
      // one dot_i16x8_s takes taps 0 and 1 of the row (plane values 2j, 2j + 1 of its
      // 8), the second tap 2 (values 2j + 2, read 2 values on); 6 vectors in registers
      const wa0 = pairW(wm, 0), wb0 = i32x4.splat(<i32>load<i8>(wm, 2) & 0xffff);
      const wa1 = pairW(wm, 3), wb1 = i32x4.splat(<i32>load<i8>(wm, 5) & 0xffff);
      const wa2 = pairW(wm, 6), wb2 = i32x4.splat(<i32>load<i8>(wm, 8) & 0xffff);
      const dr = <usize>dh * rowB;
      if (fast) {
        // each plane row is read once, 16 bytes at a time, and the vectors 2, 4, 6 bytes on
        // are byte shifts of two neighbours (one palignr each instead of a bounds-checked
        // load: Deno runs wasm without the trap handler); the last vector of a row's group
        // is the first of the next group's. Reads run up to 32 bytes (stride 1) or 48
        // (stride 2) past a group's first pixel: within the plane's 64-byte slack.
        for (let oy = 0; oy < oh; oy++) {
          const r0 = plane + <usize>(oy * sh) * rowB, r1 = r0 + dr, r2 = r1 + dr;
          const yo = ym + <usize>(oy * ow);
          let a0 = v128.load(r0), a1 = v128.load(r1), a2 = v128.load(r2);
          if (sw == 1) {
            // even outputs: values (2j, 2j + 1)·(w0, w1) at +0, (2j + 2, 2j + 3)·(w2, 0) at +4
            // bytes; odd outputs the same at +2 and +6
            for (let ox = 0; ox < ow; ox += 8) {
              const c = <usize>ox << 1;
              const b0 = v128.load(r0 + c, 16), b1 = v128.load(r1 + c, 16), b2 = v128.load(r2 + c, 16);
              let e = i32x4.add(bv, i32x4.dot_i16x8_s(a0, wa0));
              let o = i32x4.add(bv, i32x4.dot_i16x8_s(shr2(a0, b0), wa0));
              e = i32x4.add(e, i32x4.dot_i16x8_s(shr4(a0, b0), wb0));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr6(a0, b0), wb0));
              e = i32x4.add(e, i32x4.dot_i16x8_s(a1, wa1));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr2(a1, b1), wa1));
              e = i32x4.add(e, i32x4.dot_i16x8_s(shr4(a1, b1), wb1));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr6(a1, b1), wb1));
              e = i32x4.add(e, i32x4.dot_i16x8_s(a2, wa2));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr2(a2, b2), wa2));
              e = i32x4.add(e, i32x4.dot_i16x8_s(shr4(a2, b2), wb2));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr6(a2, b2), wb2));
              a0 = b0;
              a1 = b1;
              a2 = b2;
              putFast8(i32x4.shuffle(e, o, 0, 4, 1, 5), i32x4.shuffle(e, o, 2, 6, 3, 7), mv, kv, r, yz16, lo8, hi8, off8, yo + <usize>ox, ow - ox, tmp);
            }
          } else {
            // outputs 0..3 from the pixels' first 16 bytes (+0, +4), 4..7 from the next 16
            for (let ox = 0; ox < ow; ox += 8) {
              const c = <usize>ox << 2;
              const b0 = v128.load(r0 + c, 16), b1 = v128.load(r1 + c, 16), b2 = v128.load(r2 + c, 16);
              const d0 = v128.load(r0 + c, 32), d1 = v128.load(r1 + c, 32), d2 = v128.load(r2 + c, 32);
              let e = i32x4.add(bv, i32x4.dot_i16x8_s(a0, wa0));
              let o = i32x4.add(bv, i32x4.dot_i16x8_s(b0, wa0));
              e = i32x4.add(e, i32x4.dot_i16x8_s(shr4(a0, b0), wb0));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr4(b0, d0), wb0));
              e = i32x4.add(e, i32x4.dot_i16x8_s(a1, wa1));
              o = i32x4.add(o, i32x4.dot_i16x8_s(b1, wa1));
              e = i32x4.add(e, i32x4.dot_i16x8_s(shr4(a1, b1), wb1));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr4(b1, d1), wb1));
              e = i32x4.add(e, i32x4.dot_i16x8_s(a2, wa2));
              o = i32x4.add(o, i32x4.dot_i16x8_s(b2, wa2));
              e = i32x4.add(e, i32x4.dot_i16x8_s(shr4(a2, b2), wb2));
              o = i32x4.add(o, i32x4.dot_i16x8_s(shr4(b2, d2), wb2));
              a0 = d0;
              a1 = d1;
              a2 = d2;
              putFast8(e, o, mv, kv, r, yz16, lo8, hi8, off8, yo + <usize>ox, ow - ox, tmp);
            }
          }
        }
        continue;
      }
      for (let oy = 0; oy < oh; oy++) {
        const r0 = plane + <usize>(oy * sh) * rowB, r1 = r0 + dr, r2 = r1 + dr;
        for (let ox = 0; ox < ow; ox += 8) {
          const c = <usize>(ox * sw) << 1;
          let e = bv, o = bv;
          let p = r0 + c;
          e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p), wa0));
          o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second), wa0));
          e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p, 4), wb0));
          o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second, 4), wb0));
          p = r1 + c;
          e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p), wa1));
          o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second), wa1));
          e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p, 4), wb1));
          o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second, 4), wb1));
          p = r2 + c;
          e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p), wa2));
          o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second), wa2));
          e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p, 4), wb2));
          o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second, 4), wb2));
          put8(e, o, sw, mult, r, fast, mv, kv, yz16, lo8, hi8, off8, ym + <usize>(oy * ow + ox), ow - ox, tmp);
        }
      }
      continue;
    }
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox += 8) {
        let e = bv, o = bv;
        let t: usize = 0;
        for (let ky = 0; ky < kh; ky++) {
          const row = plane + <usize>(oy * sh + ky * dh) * rowB + (<usize>(ox * sw) << 1);
          for (let kx = 0; kx < kw; kx++, t += 16) {
            const p = row + (<usize>(kx * dw) << 1);
            const wv = v128.load(tbl + t);
            e = i32x4.add(e, i32x4.dot_i16x8_s(v128.load(p), wv));
            o = i32x4.add(o, i32x4.dot_i16x8_s(v128.load(p + second), wv));
          }
        }
        put8(e, o, sw, mult, r, fast, mv, kv, yz16, lo8, hi8, off8, ym + <usize>(oy * ow + ox), ow - ox, tmp);
      }
    }
  }
}

/** Bytes 2..17 of a then b (the 8 i16 values one value on; palignr). */
// @ts-ignore: decorator
@inline function shr2(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
}

/** Bytes 4..19 of a then b (two values on). */
// @ts-ignore: decorator
@inline function shr4(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);
}

/** Bytes 6..21 of a then b (three values on). */
// @ts-ignore: decorator
@inline function shr6(a: v128, b: v128): v128 {
  return i8x16.shuffle(a, b, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21);
}

/**
 * put8's fast stage: outputs 0..3 in a0, 4..7 in a1 (accumulators offset by 2^31), min(8,
 * left) of them stored at out (storeCodes8).
 */
// @ts-ignore: decorator
@inline function putFast8(
  a0: v128, a1: v128, mv: v128, kv: v128, r: i32, yz16: v128, lo8: v128, hi8: v128, off8: v128,
  out: usize, left: i32, tmp: usize,
): void {
  const b = narrowClamp8(mbqmU4(a0, mv, kv, kv, r), mbqmU4(a1, mv, kv, kv, r), yz16, lo8, hi8, off8);
  storeCodes8(b, out, left, tmp);
}

/** Stores min(8, left) codes of b at out (a partial group through tmp). */
// @ts-ignore: decorator
@inline function storeCodes8(b: v128, out: usize, left: i32, tmp: usize): void {
  if (left >= 8) v128.store64_lane(out, b, 0);
  else {
    v128.store64_lane(tmp, b, 0);
    for (let j = 0; j < left; j++) store<u8>(out + <usize>j, load<u8>(tmp + <usize>j));
  }
}

/** The i16 pair (w[t], w[t + 1]) of taps t, t + 1 (int8 at wm) as 4 lanes. */
// @ts-ignore: decorator
@inline function pairW(wm: usize, t: usize): v128 {
  return i32x4.splat((<i32>load<i8>(wm + t) & 0xffff) | (<i32>load<i8>(wm + t + 1) << 16));
}

/**
 * Requantizes 8 outputs (stride 1: even outputs in e, odd in o; stride 2: outputs 0..3 in
 * e, 4..7 in o) and stores min(8, left) of them at out (a partial group through tmp).
 */
// @ts-ignore: decorator
@inline function put8(
  e: v128, o: v128, sw: i32, mult: i32, r: i32, fast: bool, mv: v128, kv: v128, yz16: v128,
  lo8: v128, hi8: v128, off8: v128, out: usize, left: i32, tmp: usize,
): void {
  let a0 = e, a1 = o;
  if (sw == 1) {
    a0 = i32x4.shuffle(e, o, 0, 4, 1, 5);
    a1 = i32x4.shuffle(e, o, 2, 6, 3, 7);
  }
  // fast: |acc| < 2^30 + kk·255·128 < 2^30 + 2^29 (|bias| < 2^30, kk <= 16384), so
  // |acc| + 2^(r−1) < 2^31 (r <= 30): mbqmU4 on a0, a1 (acc + 2^31, mv = 2·mult). Else the
  // exact MBQM on 4 lanes. Then the zero point and clamp in i16 / i8 lanes (narrowClamp8).
  if (fast) putFast8(a0, a1, mv, kv, r, yz16, lo8, hi8, off8, out, left, tmp);
  else storeCodes8(narrowClamp8(mbqm4(a0, mult, r), mbqm4(a1, mult, r), yz16, lo8, hi8, off8), out, left, tmp);
}
