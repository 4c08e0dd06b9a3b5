// Direct QConv (s8 layout, group 1, stride 1, dilation 1) on the k4 tile (k4.ts): no
// im2row. Each image is first laid out in quad planes (prep_dc):
//   plane j (channels 4j..4j+3) at xq + j·ps, ps = 4·Hp·Wp: the padded map, Hp × Wp
//   pixels of 4 bytes (a' = u − 128; 0 in channels ≥ C), the border holding the input
//   zero point (as a'; 0 in channels ≥ C: what the pad row of the im2row path holds)
// so that output pixels ow..ow+3 of row oh at tap (r, s) of quad j are ONE A4 vector,
// the 16 bytes at xq + j·ps + ((oh + r)·Wp + ow + s)·4. The W4 rows run over the taps
// t = (j·kh + r)·kw + s (kq = ⌈C/4⌉·kh·kw quads) and the i32 table tab[t] = j·ps +
// (r·Wp + s)·4 gives each tap's offset. The 8 × 4 tile of pairK4 then runs on those loads.
import { CG_H, CG_KH, CG_KW, CG_M, CG_OH, CG_OW, CG_PH, CG_PW, CG_W } from "./conv";
import { loadEp } from "./epilogue";
import { dot4, fin8n, loadFast, sum4, zip16 } from "./k4";

// @ts-ignore: decorator
@inline function g(cg: usize, off: i32): i32 {
  return load<i32>(cg + <usize>off);
}

/** n pixels of the 4-byte pattern pat from d. */
// @ts-ignore: decorator
@inline function fillPat(d: usize, pat: u32, n: i32): void {
  const v = i32x4.splat(pat);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(d + (<usize>i << 2), v);
  for (; i < n; i++) store<u32>(d + (<usize>i << 2), pat);
}

/**
 * Padded rows [lo, hi) of the quad planes of one NCHW image (8-bit; signed: int8; row u
 * = row u % Hp of plane u / Hp; Hp, Wp from the CG record): zb is the border's a' byte.
 * Each row is written whole and nothing else (the planes' 32-byte slack is not).
 */
export function prep_dc(x: usize, signed: i32, C: i32, zb: i32, cg: usize, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const H = g(cg, CG_H), W = g(cg, CG_W), ph = g(cg, CG_PH), pw = g(cg, CG_PW);
  const Hp = g(cg, CG_OH) + g(cg, CG_KH) - 1, Wp = g(cg, CG_OW) + g(cg, CG_KW) - 1;
  const flip: u32 = signed ? 0 : 0x80, fv = i8x16.splat(<i8>flip);
  const hw = <usize>H * <usize>W, wpx = <usize>Wp << 2, ps = <usize>Hp * wpx;
  for (let u = lo; u < hi; u++) {
    const j = u / Hp, y = u - j * Hp, c0 = j << 2, nc = C - c0 < 4 ? C - c0 : 4;
    const pat = (<u32>0xffffffff >>> <u32>(32 - 8 * nc)) & (<u32>(zb & 255) * 0x01010101);
    const d = dst + <usize>j * ps + <usize>y * wpx, h = y - ph;
    if (h < 0 || h >= H) {
      fillPat(d, pat, Wp);
      continue;
    }
    fillPat(d, pat, pw);
    const e = d + (<usize>pw << 2), s = x + <usize>c0 * hw + <usize>h * <usize>W;
    let i = 0;
    if (nc == 4) {
      for (; i + 16 <= W; i += 16) zip16(s + <usize>i, hw, fv, e + (<usize>i << 2), 16);
      for (; i + 4 <= W; i += 4) {
        const p = s + <usize>i;
        const r0 = v128.xor(v128.load32_zero(p), fv), r1 = v128.xor(v128.load32_zero(p + hw), fv);
        const r2 = v128.xor(v128.load32_zero(p + 2 * hw), fv), r3 = v128.xor(v128.load32_zero(p + 3 * hw), fv);
        const t0 = i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        const t2 = i8x16.shuffle(r2, r3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
        v128.store(e + (<usize>i << 2), i16x8.shuffle(t0, t2, 0, 8, 1, 9, 2, 10, 3, 11));
      }
    }
    for (; i < W; i++) {
      let v: u32 = 0;
      for (let k = 0; k < nc; k++) v |= (<u32>load<u8>(s + <usize>k * hw + <usize>i) ^ flip) << (<u32>k << 3);
      store<u32>(e + (<usize>i << 2), v);
    }
    fillPat(e + (<usize>W << 2), pat, Wp - pw - W);
  }
}

/**
 * Output pixels gr0..gr0+n−1 of one output row × all M channels: 8 pixels (two: two
 * groups, n <= 8) or 4 (one group, n <= 4) from a (the row's first tap pixel in plane 0),
 * read by tab. Whatever lies past the row (the next row, plane or the slack) only feeds
 * lanes >= n, which are dropped. The 8 × 4 tile of pairK4 (4 × 4 for one group).
 */
// @ts-ignore: decorator
@inline function tileDC(a: usize, tab: usize, w: usize, kq: usize, gr0: i32, n: i32, M: i32, two: bool): void {
  const kb = kq << 2, ldw = kb;
  let q0 = i32x4.splat(0), q1 = q0;
  for (let t: usize = 0; t < kb; t += 4) {
    const p = a + <usize>load<i32>(tab + t);
    q0 = sum4(q0, v128.load(p));
    if (two) q1 = sum4(q1, v128.load(p, 16));
  }
  // the row correction −64·Σa' of each pixel
  q0 = i32x4.neg(i32x4.shl(q0, 6));
  q1 = i32x4.neg(i32x4.shl(q1, 6));
  let c = 0;
  for (; c + 4 <= M; c += 4) {
    const w0 = w + <usize>c * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
    let s00 = q0, s01 = q0, s02 = q0, s03 = q0;
    let s10 = q1, s11 = q1, s12 = q1, s13 = q1;
    for (let t: usize = 0; t < kb; t += 4) {
      const p = a + <usize>load<i32>(tab + t);
      const x0 = v128.load(p), x1 = two ? v128.load(p, 16) : x0;
      let v = v128.load32_splat(w0 + t);
      s00 = dot4(s00, x0, v);
      if (two) s10 = dot4(s10, x1, v);
      v = v128.load32_splat(w1 + t);
      s01 = dot4(s01, x0, v);
      if (two) s11 = dot4(s11, x1, v);
      v = v128.load32_splat(w2 + t);
      s02 = dot4(s02, x0, v);
      if (two) s12 = dot4(s12, x1, v);
      v = v128.load32_splat(w3 + t);
      s03 = dot4(s03, x0, v);
      if (two) s13 = dot4(s13, x1, v);
    }
    fin8n(gr0, c, s00, s10, n);
    fin8n(gr0, c + 1, s01, s11, n);
    fin8n(gr0, c + 2, s02, s12, n);
    fin8n(gr0, c + 3, s03, s13, n);
  }
  for (; c < M; c++) {
    const w0 = w + <usize>c * ldw;
    let s0 = q0, s1 = q1;
    for (let t: usize = 0; t < kb; t += 4) {
      const p = a + <usize>load<i32>(tab + t), v = v128.load32_splat(w0 + t);
      s0 = dot4(s0, v128.load(p), v);
      if (two) s1 = dot4(s1, v128.load(p, 16), v);
    }
    fin8n(gr0, c, s0, s1, n);
  }
}

function pairDC(a: usize, tab: usize, w: usize, kq: usize, gr0: i32, n: i32, M: i32): void {
  tileDC(a, tab, w, kq, gr0, n, M, true);
}

function groupDC(a: usize, tab: usize, w: usize, kq: usize, gr0: i32, n: i32, M: i32): void {
  tileDC(a, tab, w, kq, gr0, n, M, false);
}

/**
 * Output rows [lo, hi) × all M channels of the direct conv, from the quad planes at xq
 * (prep_dc), the W4 rows at wp (4·kq bytes each) and the tap table tab (kq i32). A row
 * goes by 8 pixels; a rest of 1..4 pixels takes one group, 5..7 a pair, both ending at
 * OW (recomputing a few pixels, stored alike by this thread), or starting at 0 with only
 * OW stored when OW is shorter. Writes only the outputs of rows [lo, hi).
 */
export function conv_dc(xq: usize, wp: usize, tab: usize, kq: i32, cg: usize, ep: usize, lo: i32, hi: i32, _tid: i32): void {
  const ow = g(cg, CG_OW), M = g(cg, CG_M), wpx = <usize>(ow + g(cg, CG_KW) - 1) << 2;
  const q = <usize>kq;
  loadEp(ep);
  loadFast(ep, kq);
  for (let oh = lo; oh < hi; oh++) {
    const row = xq + <usize>oh * wpx, gr = oh * ow;
    let o = 0;
    for (; o + 8 <= ow; o += 8) pairDC(row + (<usize>o << 2), tab, wp, q, gr + o, 8, M);
    const rest = ow - o;
    if (rest > 4) {
      o = ow >= 8 ? ow - 8 : 0;
      pairDC(row + (<usize>o << 2), tab, wp, q, gr + o, ow - o, M);
    } else if (rest > 0) {
      o = ow >= 4 ? ow - 4 : 0;
      groupDC(row + (<usize>o << 2), tab, wp, q, gr + o, ow - o, M);
    }
  }
}
