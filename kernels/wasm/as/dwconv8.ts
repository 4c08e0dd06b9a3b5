// Depthwise QConv vectorized across 8 channels (as dwconv.ts, but for small maps where
// its per-channel set-up dominates). Channels are grouped at compile time by equal
// requantization shift (ops_int8.ts depthwiseC8), up to 8 per group. Per group:
//  - an 8×8 byte transpose of 8 channel rows gives each input row in HWC8 layout (16 bytes
//    per pixel: the 8 lanes' i16 values x − zp) in a zero-padded row buffer; from it the
//    "pair plane": per padded pixel x two vectors (channels 0–3, 4–7) of the i16 pairs
//    (v[x], v[x + 1]) per channel, 32 bytes (the border stays 0 = the zero point);
//  - per output pixel: acc (i32x4, channels 0–3 and 4–7) = bias + 2^31 + Σ items of
//    i32x4.dot_i16x8_s(pair vector, (w[kx], w[kx + 1]) per channel): one item takes taps kx
//    and kx + 1 of a row (dilation 1; the last odd tap and every tap at dilation > 1 pair
//    with weight 0); the products are exact (|x − zp| <= 255, |w| <= 128);
//  - requantization per lane: SRDHM with the lane's multiplier, RDBPOT by the group's
//    shift r in 1..30, in one 64-bit step (requant.ts mbqmU4, as dwconv.ts put8: the
//    accumulators start at bias + 2^31; |bias| < 2^30, kk <= 16384), zero point and clamp
//    in i16 / i8;
//  - 8 output pixels × 8 lanes are transposed to per-channel runs of 8 bytes (NCHW output).
// Lanes past a partial group read a valid channel with weight, bias and multiplier 0 and
// are never stored.
import { clampCodes, codeOff, mbqmU4, zpCodes16 } from "./requant";

// Record fields (i32 words).
const H = 0, W = 4, KH = 8, KW = 12, SH = 16, SW = 20, DH = 24, DW = 28, PH = 32, PW = 36;
const OH = 40, OW = 44, HP = 48, WP = 52, ZPU = 56, SIGNED = 60, YZP = 64, QMIN = 68;
const QMAX = 72, SCR = 76, SSTR = 80, GRP = 84, GSTR = 88;

// Group record (GSTR bytes, 16-aligned): i32 channels[8] (pad lanes repeat a valid one),
// i32 r, i32 count, i32 safe (no channel is the tensor's last: 8-byte row reads may run
// past a row end), 20 bytes unused; i32x4 bias + 2^31 × 2 (lanes 0–3, 4–7; wrapping);
// i32x4 2·multiplier × 2; i64x2 mbqmU4 constants k × 4 (lanes 0–1, 2–3, 4–5, 6–7); per
// item (ky, kx step 2 at dilation 1, else every tap) the i16 pairs (w[kx], w[kx + 1]) of
// lanes 0–3 then 4–7 (32 bytes; 0 past the row and in pad lanes).
const G_R = 32, G_N = 36, G_SAFE = 40, G_BIAS = 64, G_MULT = 96, G_K = 128, G_W = 192;

// @ts-ignore: decorator
@inline function g(r: usize, o: i32): i32 {
  return load<i32>(r + <usize>o);
}

// One thread's scratch (ops_int8.ts sizes it): the pair plane (32·hp·wp bytes, then 128 of
// slack for the odd pixel of a pair past the row end), the HWC8 row buffer (16·(wp + 1)),
// 64 bytes for 8 output pixels, ni i32 item offsets.

/**
 * Two output pixels (pair planes at p, p2): 16 codes, pixel p's 8 lanes then p2's. Both
 * share each item's weight loads.
 */
// @ts-ignore: decorator
@inline function pix2(
  p: usize, p2: usize, gr: usize, k33: bool, ni: i32, offs: usize, dr: usize, r: i32,
  z16: v128, lo8: v128, hi8: v128, off8: v128,
): v128 {
  let a0 = v128.load(gr, G_BIAS), a1 = v128.load(gr, G_BIAS + 16), b0 = a0, b1 = a1;
  if (k33) {
    // items (ky, 0) at x, (ky, 2) at x + 2 (64 bytes on)
    let wl: v128, wh: v128;
    wl = v128.load(gr, G_W + 0); wh = v128.load(gr, G_W + 16);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(p), wl));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(p, 16), wh));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(p2), wl));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(p2, 16), wh));
    wl = v128.load(gr, G_W + 32); wh = v128.load(gr, G_W + 48);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(p, 64), wl));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(p, 80), wh));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(p2, 64), wl));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(p2, 80), wh));
    let q = p + dr, q2 = p2 + dr;
    wl = v128.load(gr, G_W + 64); wh = v128.load(gr, G_W + 80);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(q), wl));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(q, 16), wh));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(q2), wl));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(q2, 16), wh));
    wl = v128.load(gr, G_W + 96); wh = v128.load(gr, G_W + 112);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(q, 64), wl));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(q, 80), wh));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(q2, 64), wl));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(q2, 80), wh));
    q += dr;
    q2 += dr;
    wl = v128.load(gr, G_W + 128); wh = v128.load(gr, G_W + 144);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(q), wl));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(q, 16), wh));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(q2), wl));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(q2, 16), wh));
    wl = v128.load(gr, G_W + 160); wh = v128.load(gr, G_W + 176);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(q, 64), wl));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(q, 80), wh));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(q2, 64), wl));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(q2, 80), wh));
  } else {
    for (let t = 0; t < ni; t++) {
      const o = <usize>load<i32>(offs + (<usize>t << 2)), wi = gr + G_W + (<usize>t << 5);
      const wl = v128.load(wi), wh = v128.load(wi, 16);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load(p + o), wl));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load(p + o, 16), wh));
      b0 = i32x4.add(b0, i32x4.dot_i16x8_s(v128.load(p2 + o), wl));
      b1 = i32x4.add(b1, i32x4.dot_i16x8_s(v128.load(p2 + o, 16), wh));
    }
  }
  // |acc| < 2^30 + kk·32640 < 2^30 + 2^29, so |acc| + 2^(r−1) < 2^31: mbqmU4 on the
  // offset accumulators (dwconv.ts put8); then the zero point and clamp in i16 / i8 lanes
  // (as narrowClamp8)
  const m0 = v128.load(gr, G_MULT), m1 = v128.load(gr, G_MULT + 16);
  const k0 = v128.load(gr, G_K), k1 = v128.load(gr, G_K + 16);
  const k2 = v128.load(gr, G_K + 32), k3 = v128.load(gr, G_K + 48);
  const na = pixCodes16(a0, a1, m0, m1, k0, k1, k2, k3, r, z16);
  const nb = pixCodes16(b0, b1, m0, m1, k0, k1, k2, k3, r, z16);
  return clampCodes(na, nb, lo8, hi8, off8);
}

/**
 * One pixel's 8 lanes (lo: channels 0–3, hi: 4–7; accumulators offset by 2^31) requantized
 * (mbqmU4 with the group's multipliers m0, m1 and constants k0..k3) plus the zero point, in
 * i16 lanes: clampCodes' input.
 */
// @ts-ignore: decorator
@inline function pixCodes16(
  lo: v128, hi: v128, m0: v128, m1: v128, k0: v128, k1: v128, k2: v128, k3: v128, r: i32, z16: v128,
): v128 {
  return zpCodes16(mbqmU4(lo, m0, k0, k1, r), mbqmU4(hi, m1, k2, k3, r), z16);
}

/**
 * Four neighbouring output pixels of one row at stride 1 (3×3, dilation 1; pair planes at p,
 * p + 32, p + 64, p + 96): pixel i takes items (ky, 0) at p + 32i and (ky, 2) at
 * p + 32(i + 2) of each tap row, so a row's 6 pair vectors (12 loads) serve all 4 pixels
 * where pix2 twice loads 16, and each weight vector is loaded once for the 4. Stores the
 * 32 codes (pixel i's 8 lanes at out + 8i).
 */
// @ts-ignore: decorator
@inline function pix4(
  p: usize, gr: usize, dr: usize, r: i32, z16: v128, lo8: v128, hi8: v128, off8: v128, out: usize,
): void {
  const bl = v128.load(gr, G_BIAS), bh = v128.load(gr, G_BIAS + 16);
  let a0 = bl, a1 = bl, a2 = bl, a3 = bl, b0 = bh, b1 = bh, b2 = bh, b3 = bh;
  for (let ky: usize = 0; ky < 3; ky++) {
    const q = p + ky * dr, wi = gr + G_W + (ky << 6);
    const wl0 = v128.load(wi), wh0 = v128.load(wi, 16), wl2 = v128.load(wi, 32), wh2 = v128.load(wi, 48);
    let vl = v128.load(q), vh = v128.load(q, 16);
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(vl, wl0));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(vh, wh0));
    vl = v128.load(q, 32);
    vh = v128.load(q, 48);
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(vl, wl0));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(vh, wh0));
    vl = v128.load(q, 64);
    vh = v128.load(q, 80);
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(vl, wl0));
    b2 = i32x4.add(b2, i32x4.dot_i16x8_s(vh, wh0));
    a0 = i32x4.add(a0, i32x4.dot_i16x8_s(vl, wl2));
    b0 = i32x4.add(b0, i32x4.dot_i16x8_s(vh, wh2));
    vl = v128.load(q, 96);
    vh = v128.load(q, 112);
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(vl, wl0));
    b3 = i32x4.add(b3, i32x4.dot_i16x8_s(vh, wh0));
    a1 = i32x4.add(a1, i32x4.dot_i16x8_s(vl, wl2));
    b1 = i32x4.add(b1, i32x4.dot_i16x8_s(vh, wh2));
    vl = v128.load(q, 128);
    vh = v128.load(q, 144);
    a2 = i32x4.add(a2, i32x4.dot_i16x8_s(vl, wl2));
    b2 = i32x4.add(b2, i32x4.dot_i16x8_s(vh, wh2));
    vl = v128.load(q, 160);
    vh = v128.load(q, 176);
    a3 = i32x4.add(a3, i32x4.dot_i16x8_s(vl, wl2));
    b3 = i32x4.add(b3, i32x4.dot_i16x8_s(vh, wh2));
  }
  const m0 = v128.load(gr, G_MULT), m1 = v128.load(gr, G_MULT + 16);
  const k0 = v128.load(gr, G_K), k1 = v128.load(gr, G_K + 16);
  const k2 = v128.load(gr, G_K + 32), k3 = v128.load(gr, G_K + 48);
  const n0 = pixCodes16(a0, b0, m0, m1, k0, k1, k2, k3, r, z16);
  const n1 = pixCodes16(a1, b1, m0, m1, k0, k1, k2, k3, r, z16);
  v128.store(out, clampCodes(n0, n1, lo8, hi8, off8));
  const n2 = pixCodes16(a2, b2, m0, m1, k0, k1, k2, k3, r, z16);
  const n3 = pixCodes16(a3, b3, m0, m1, k0, k1, k2, k3, r, z16);
  v128.store(out, clampCodes(n2, n3, lo8, hi8, off8), 16);
}

/** Channel groups [lo, hi) of one image. x NCHW 8-bit, y NCHW 8-bit, rec: the record above. */
export function dwconv8(x: usize, y: usize, rec: usize, lo: i32, hi: i32, tid: i32): void {
  const h = g(rec, H), w = g(rec, W), kh = g(rec, KH), kw = g(rec, KW), sh = g(rec, SH), sw = g(rec, SW);
  const dh = g(rec, DH), dw = g(rec, DW), ph = g(rec, PH), pw = g(rec, PW), oh = g(rec, OH), ow = g(rec, OW);
  const hp = g(rec, HP), wp = g(rec, WP), zpu = g(rec, ZPU), flip = g(rec, SIGNED) ? 0x80 : 0;
  const qmin = g(rec, QMIN), qmax = g(rec, QMAX);
  const plane = <usize>g(rec, SCR) + <usize>tid * <usize>g(rec, SSTR);
  const k33 = kh == 3 && kw == 3 && dw == 1;
  const rowB = <usize>wp << 5, dr = <usize>dh * rowB;
  const rbuf = plane + ((<usize>hp * rowB + 128 + 15) & ~15);
  const tmp = rbuf + (<usize>(wp + 1) << 4), offs = tmp + 64;
  const inHW = h * w, outHW = oh * ow;
  const zv = i16x8.splat(<i16>zpu), fv = i8x16.splat(<i8>flip);
  // narrowClamp8's constants, offset by codeOff
  const off = codeOff(qmin), off8 = i8x16.splat(<i8>off);
  const z16 = i16x8.splat(<i16>(g(rec, YZP) - off)), lo8 = i8x16.splat(<i8>(qmin - off)), hi8 = i8x16.splat(<i8>(qmax - off));
  // the borders stay 0 for every group: only the interiors are written below
  memory.fill(plane, 0, <usize>hp * rowB + (<usize>(wp + 1) << 4) + 128);
  let ni = 0;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx += dw == 1 ? 2 : 1, ni++) {
      store<i32>(offs + (<usize>ni << 2), ky * <i32>dr + ((kx * dw) << 5));
    }
  }
  const stepB = <usize>sw << 5, pstep = sw == 2 && dw == 1 ? 2 : 1, k33s1 = k33 && sw == 1;
  for (let gi = lo; gi < hi; gi++) {
    const gr = <usize>g(rec, GRP) + <usize>gi * <usize>g(rec, GSTR);
    const r = g(gr, G_R), n = g(gr, G_N), safe = g(gr, G_SAFE);
    const x0 = x + <usize>(g(gr, 0) * inHW), x1 = x + <usize>(g(gr, 4) * inHW);
    const x2 = x + <usize>(g(gr, 8) * inHW), x3 = x + <usize>(g(gr, 12) * inHW);
    const x4 = x + <usize>(g(gr, 16) * inHW), x5 = x + <usize>(g(gr, 20) * inHW);
    const x6 = x + <usize>(g(gr, 24) * inHW), x7 = x + <usize>(g(gr, 28) * inHW);
    for (let iy = 0; iy < h; iy++) {
      const ro = <usize>(iy * w), d = rbuf + (<usize>pw << 4);
      for (let ix = 0; ix < w; ix += 8) {
        const o = ro + <usize>ix, left = w - ix, q = d + (<usize>ix << 4);
        if (left < 8 && !safe && <i32>o + 8 > inHW) {
          // the tensor's last row: no 8-byte reads past its end
          for (let j = 0; j < left; j++) {
            for (let l = 0; l < 8; l++) {
              const xl = x + <usize>(g(gr, l << 2) * inHW) + o + <usize>j;
              store<i16>(q + (<usize>j << 4) + (<usize>l << 1), <i16>((<i32>load<u8>(xl) ^ flip) - zpu));
            }
          }
          continue;
        }
        // a_k: bytes (c 2k, c 2k+1) interleaved per pixel; b: 4 channels per pixel; c: 8
        const a0 = i8x16.shuffle(v128.load64_zero(x0 + o), v128.load64_zero(x1 + o), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const a1 = i8x16.shuffle(v128.load64_zero(x2 + o), v128.load64_zero(x3 + o), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const a2 = i8x16.shuffle(v128.load64_zero(x4 + o), v128.load64_zero(x5 + o), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const a3 = i8x16.shuffle(v128.load64_zero(x6 + o), v128.load64_zero(x7 + o), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const b0 = i16x8.shuffle(a0, a1, 0, 8, 1, 9, 2, 10, 3, 11), b1 = i16x8.shuffle(a0, a1, 4, 12, 5, 13, 6, 14, 7, 15);
        const b2 = i16x8.shuffle(a2, a3, 0, 8, 1, 9, 2, 10, 3, 11), b3 = i16x8.shuffle(a2, a3, 4, 12, 5, 13, 6, 14, 7, 15);
        const c0 = v128.xor(i32x4.shuffle(b0, b2, 0, 4, 1, 5), fv), c1 = v128.xor(i32x4.shuffle(b0, b2, 2, 6, 3, 7), fv);
        const c2 = v128.xor(i32x4.shuffle(b1, b3, 0, 4, 1, 5), fv), c3 = v128.xor(i32x4.shuffle(b1, b3, 2, 6, 3, 7), fv);
        // pixels past the row (left < 8) are not stored: the buffer's pad stays 0
        v128.store(q, i16x8.sub(i16x8.extend_low_i8x16_u(c0), zv));
        if (left > 1) v128.store(q, i16x8.sub(i16x8.extend_high_i8x16_u(c0), zv), 16);
        if (left > 2) v128.store(q, i16x8.sub(i16x8.extend_low_i8x16_u(c1), zv), 32);
        if (left > 3) v128.store(q, i16x8.sub(i16x8.extend_high_i8x16_u(c1), zv), 48);
        if (left > 4) v128.store(q, i16x8.sub(i16x8.extend_low_i8x16_u(c2), zv), 64);
        if (left > 5) v128.store(q, i16x8.sub(i16x8.extend_high_i8x16_u(c2), zv), 80);
        if (left > 6) v128.store(q, i16x8.sub(i16x8.extend_low_i8x16_u(c3), zv), 96);
        if (left > 7) v128.store(q, i16x8.sub(i16x8.extend_high_i8x16_u(c3), zv), 112);
      }
      // pair plane row iy + ph: per padded pixel the pairs (v[x], v[x + 1]) of lanes 0–3,
      // 4–7 (stride 2 at dilation 1 reads even pixels only)
      const pr = plane + <usize>(iy + ph) * rowB;
      for (let px = 0; px < wp; px += pstep) {
        const v = v128.load(rbuf + (<usize>px << 4)), u = v128.load(rbuf + (<usize>px << 4), 16);
        const pp = pr + (<usize>px << 5);
        v128.store(pp, i16x8.shuffle(v, u, 0, 8, 1, 9, 2, 10, 3, 11));
        v128.store(pp, i16x8.shuffle(v, u, 4, 12, 5, 13, 6, 14, 7, 15), 16);
      }
    }
    // the output plane as one run of oh·ow pixels (rows are contiguous in NCHW), 8 at a
    // time (4 pairs) to tmp, then transposed to 8 bytes per channel; the last 8 end at the
    // plane's end (recomputing up to 7 pixels: same bytes, same thread), a plane of fewer
    // than 8 pixels goes byte by byte
    for (let f0 = 0; f0 < outHW; f0 += 8) {
      const fs = f0 + 8 > outHW && outHW >= 8 ? outHW - 8 : f0, m = min(8, outHW - fs);
      let oy = fs / ow, ox = fs - oy * ow;
      let p = plane + <usize>(oy * sh) * rowB + <usize>ox * stepB;
      for (let j = 0; j < m; j += 2) {
        if (k33s1 && j + 4 <= m && ox + 4 <= ow) {
          // 4 pixels of one output row: pix4 shares the pair-plane loads between them
          pix4(p, gr, dr, r, z16, lo8, hi8, off8, tmp + (<usize>j << 3));
          ox += 4;
          p += stepB << 2;
          if (ox == ow) {
            ox = 0;
            oy++;
            p = plane + <usize>(oy * sh) * rowB;
          }
          j += 2;
          continue;
        }
        const pa = p;
        // the next pixel (the same one past an odd m)
        if (j + 1 < m) {
          ox++;
          p += stepB;
          if (ox == ow) {
            ox = 0;
            oy++;
            p = plane + <usize>(oy * sh) * rowB;
          }
        }
        const b = pix2(pa, p, gr, k33, ni, offs, dr, r, z16, lo8, hi8, off8);
        v128.store(tmp + (<usize>j << 3), b);
        ox++;
        p += stepB;
        if (ox == ow) {
          ox = 0;
          oy++;
          p = plane + <usize>(oy * sh) * rowB;
        }
      }
      const yo = y + <usize>fs;
      if (m == 8) {
        // tmp: pixel j's 8 channels at 8j; transpose to channel l's 8 pixels
        const a0 = i8x16.shuffle(v128.load(tmp), v128.load(tmp), 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        const a1 = i8x16.shuffle(v128.load(tmp, 16), v128.load(tmp, 16), 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        const a2 = i8x16.shuffle(v128.load(tmp, 32), v128.load(tmp, 32), 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        const a3 = i8x16.shuffle(v128.load(tmp, 48), v128.load(tmp, 48), 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        const b0 = i16x8.shuffle(a0, a1, 0, 8, 1, 9, 2, 10, 3, 11), b1 = i16x8.shuffle(a0, a1, 4, 12, 5, 13, 6, 14, 7, 15);
        const b2 = i16x8.shuffle(a2, a3, 0, 8, 1, 9, 2, 10, 3, 11), b3 = i16x8.shuffle(a2, a3, 4, 12, 5, 13, 6, 14, 7, 15);
        const c0 = i32x4.shuffle(b0, b2, 0, 4, 1, 5), c1 = i32x4.shuffle(b0, b2, 2, 6, 3, 7);
        const c2 = i32x4.shuffle(b1, b3, 0, 4, 1, 5), c3 = i32x4.shuffle(b1, b3, 2, 6, 3, 7);
        v128.store64_lane(yo + <usize>(g(gr, 0) * outHW), c0, 0);
        if (n > 1) v128.store64_lane(yo + <usize>(g(gr, 4) * outHW), c0, 1);
        if (n > 2) v128.store64_lane(yo + <usize>(g(gr, 8) * outHW), c1, 0);
        if (n > 3) v128.store64_lane(yo + <usize>(g(gr, 12) * outHW), c1, 1);
        if (n > 4) v128.store64_lane(yo + <usize>(g(gr, 16) * outHW), c2, 0);
        if (n > 5) v128.store64_lane(yo + <usize>(g(gr, 20) * outHW), c2, 1);
        if (n > 6) v128.store64_lane(yo + <usize>(g(gr, 24) * outHW), c3, 0);
        if (n > 7) v128.store64_lane(yo + <usize>(g(gr, 28) * outHW), c3, 1);
      } else {
        for (let l = 0; l < n; l++) {
          const yl = yo + <usize>(g(gr, l << 2) * outHW);
          for (let j = 0; j < m; j++) store<u8>(yl + <usize>j, load<u8>(tmp + <usize>(j << 3) + <usize>l));
        }
      }
    }
  }
}
