// Direct QConv (s8 layout, group 1, stride 1, dilation 1) on the k4 tile (k4.ts): no
// im2row. Each image is first laid out in quad planes (prep_dc):
//   plane j (channels 4j..4j+3) at xq + j·ps, ps = 4·Hp·Wp: the padded map, Hp × Wp
//   pixels of 4 bytes (a' = u − 128; 0 in channels ≥ C), the border holding the input
//   zero point (as a'; 0 in channels ≥ C: what the pad row of the im2row path holds)
// so that output pixels ow..ow+3 of row oh at tap (r, s) of quad j are ONE A4 vector,
// the 16 bytes at xq + j·ps + ((oh + r)·Wp + ow + s)·4. The W4 rows run over the taps
// t = (j·kh + r)·kw + s (kq = ⌈C/4⌉·kh·kw quads) and the i32 table tab[t] = j·ps +
// (r·Wp + s)·4 gives each tap's offset. The 8 × 4 tile of pairK4 then runs on those loads.
import { CG_H, CG_KH, CG_KW, CG_M, CG_OH, CG_OW, CG_PH, CG_PW, CG_SH, CG_SW, CG_W } from "./conv";
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
 * Channel rows p and p + hw of a quad (n of them read, 0..2; the others 0), xor fv, bytes
 * interleaved: w = 4 (stride 1) takes bytes 0..3 of each row, w = 8 or 16 (stride 2) the
 * even bytes of the first w → [r0 b0, r1 b0, r0 b1, r1 b1, ...] (i16 pairs of one pixel).
 */
// @ts-ignore: decorator
@inline function pairRows(p: usize, hw: usize, fv: v128, n: i32, w: i32): v128 {
  let r0 = i32x4.splat(0), r1 = r0;
  if (n > 0) r0 = v128.xor(w == 4 ? v128.load32_zero(p) : w == 8 ? v128.load64_zero(p) : v128.load(p), fv);
  if (n > 1) r1 = v128.xor(w == 4 ? v128.load32_zero(p + hw) : w == 8 ? v128.load64_zero(p + hw) : v128.load(p + hw), fv);
  if (w == 4) return i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  return i8x16.shuffle(r0, r1, 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
}

/**
 * 4 pixels of one quad (channel rows p, p + hw, p + 2·hw, p + 3·hw from p, nc of them
 * read; the others 0) at stride sw (1 or 2; 8 bytes read per row at sw 2, 4 at sw 1),
 * xor fv → the A4 vector [p0 c0..3 | p1 c0..3 | p2 c0..3 | p3 c0..3].
 */
// @ts-ignore: decorator
@inline function quad4(p: usize, hw: usize, fv: v128, nc: i32, sw: i32): v128 {
  const w = sw == 1 ? 4 : 8;
  const t0 = pairRows(p, hw, fv, nc, w), t2 = pairRows(p + 2 * hw, hw, fv, nc - 2, w);
  return i16x8.shuffle(t0, t2, 0, 8, 1, 9, 2, 10, 3, 11);
}

/**
 * 8 pixels of one quad at stride 2 (16 bytes read per channel row, nc rows; the others
 * 0), xor fv → two A4 vectors at d, d + 16.
 */
// @ts-ignore: decorator
@inline function quad8s2(p: usize, hw: usize, fv: v128, nc: i32, d: usize): void {
  const t0 = pairRows(p, hw, fv, nc, 16), t2 = pairRows(p + 2 * hw, hw, fv, nc - 2, 16);
  v128.store(d, i16x8.shuffle(t0, t2, 0, 8, 1, 9, 2, 10, 3, 11));
  v128.store(d, i16x8.shuffle(t0, t2, 4, 12, 5, 13, 6, 14, 7, 15), 16);
}

/**
 * n pixels of one quad from channel rows at s (nc of them, input pixels s, s + sw, ...;
 * every byte read lies in the row: the last read at most at s + rem − 1) to d (A4 pixels).
 */
// @ts-ignore: decorator
@inline function quadRun(s: usize, hw: usize, fv: v128, flip: u32, nc: i32, sw: i32, n: i32, rem: i32, d: usize): void {
  let i = 0;
  if (sw == 1) {
    if (nc == 4) for (; i + 16 <= n; i += 16) zip16(s + <usize>i, hw, fv, d + (<usize>i << 2), 16);
    for (; i + 4 <= n; i += 4) v128.store(d + (<usize>i << 2), quad4(s + <usize>i, hw, fv, nc, 1));
  } else if (sw == 2) {
    for (; i + 8 <= n && 2 * i + 16 <= rem; i += 8) quad8s2(s + (<usize>i << 1), hw, fv, nc, d + (<usize>i << 2));
    for (; i + 4 <= n && 2 * i + 8 <= rem; i += 4) v128.store(d + (<usize>i << 2), quad4(s + (<usize>i << 1), hw, fv, nc, 2));
  }
  for (; i < n; i++) {
    const p = s + <usize>(i * sw);
    let v: u32 = 0;
    for (let k = 0; k < nc; k++) v |= (<u32>load<u8>(p + <usize>k * hw) ^ flip) << (<u32>k << 3);
    store<u32>(d + (<usize>i << 2), v);
  }
}

/**
 * Rows [lo, hi) of the quad planes of one NCHW image (8-bit; signed: int8) for stride
 * (sh, sw) (from the CG record): the padded map Hp × Wp, Hp = (OH − 1)·sh + kh, Wp =
 * (OW − 1)·sw + kw, split in phases: plane (j, py, px) (py < min(sh, kh), px < min(sw,
 * kw)) = padded rows py, py + sh, ... × columns px, px + sw, ...: Hq × Wq pixels (Hq =
 * ⌈Hp/sh⌉, Wq = ⌈Wp/sw⌉) of channels 4j..4j+3; row u = row u % Hq of plane u / Hq. At
 * stride 1 one phase: the padded map itself. zb is the border's a' byte. Each row is
 * written whole and nothing else (the planes' 32-byte slack is not).
 */
export function prep_dc(x: usize, signed: i32, C: i32, zb: i32, cg: usize, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const H = g(cg, CG_H), W = g(cg, CG_W), ph = g(cg, CG_PH), pw = g(cg, CG_PW);
  const sh = g(cg, CG_SH), sw = g(cg, CG_SW), kh = g(cg, CG_KH), kw = g(cg, CG_KW);
  const Hp = (g(cg, CG_OH) - 1) * sh + kh, Wp = (g(cg, CG_OW) - 1) * sw + kw;
  const nY = sh < kh ? sh : kh, nX = sw < kw ? sw : kw, nP = nY * nX;
  const Hq = (Hp + sh - 1) / sh, Wq = (Wp + sw - 1) / sw;
  const flip: u32 = signed ? 0 : 0x80, fv = i8x16.splat(<i8>flip);
  const hw = <usize>H * <usize>W, wpx = <usize>Wq << 2, ps = <usize>Hq * wpx;
  for (let u = lo; u < hi; u++) {
    const pl = u / Hq, yq = u - pl * Hq, j = pl / nP, f = pl - j * nP, py = f / nX, px = f - py * nX;
    const c0 = j << 2, nc = C - c0 < 4 ? C - c0 : 4;
    const pat = (<u32>0xffffffff >>> <u32>(32 - 8 * nc)) & (<u32>(zb & 255) * 0x01010101);
    const d = dst + <usize>pl * ps + <usize>yq * wpx, h = py + sh * yq - ph;
    if (h < 0 || h >= H) {
      fillPat(d, pat, Wq);
      continue;
    }
    // columns [xa, xb) of the plane lie in the input (padded column px + sw·x)
    let xa = pw > px ? (pw - px + sw - 1) / sw : 0, xb = pw + W > px ? (pw + W - px + sw - 1) / sw : 0;
    if (xa > Wq) xa = Wq;
    if (xb > Wq) xb = Wq;
    if (xb < xa) xb = xa;
    fillPat(d, pat, xa);
    const w0 = px + sw * xa - pw, e = d + (<usize>xa << 2), s = x + <usize>c0 * hw + <usize>h * <usize>W + <usize>w0;
    const n = xb - xa, rem = W - w0;
    if (nc == 4) quadRun(s, hw, fv, flip, 4, sw, n, rem, e);
    else if (nc == 3) quadRun(s, hw, fv, flip, 3, sw, n, rem, e);
    else if (nc == 2) quadRun(s, hw, fv, flip, 2, sw, n, rem, e);
    else quadRun(s, hw, fv, flip, 1, sw, n, rem, e);
    fillPat(e + (<usize>n << 2), pat, Wq - xb);
  }
}

/**
 * Rows [lo, hi) of the tap-packed planes of a 1-channel NCHW image (kw <= 4): pixel o of
 * padded row y holds the kw bytes x(y, o·sw + s − pw), s < kw (a'; the border zb; 0 in
 * bytes >= kw), so one quad covers a whole row of taps. Rows split in phases of sh as in
 * prep_dc: plane py (py < min(sh, kh)) = padded rows py, py + sh, ... (Hq = ⌈Hp/sh⌉ rows
 * of OW pixels); row u = row u % Hq of plane u / Hq. Each row is written whole and
 * nothing else.
 */
export function prep_dc1(x: usize, signed: i32, zb: i32, cg: usize, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const H = g(cg, CG_H), W = g(cg, CG_W), ph = g(cg, CG_PH), pw = g(cg, CG_PW);
  const sh = g(cg, CG_SH), sw = g(cg, CG_SW), kh = g(cg, CG_KH), kw = g(cg, CG_KW), ow = g(cg, CG_OW);
  const Hq = ((g(cg, CG_OH) - 1) * sh + kh + sh - 1) / sh;
  const flip: u32 = signed ? 0 : 0x80, fv = i8x16.splat(<i8>flip);
  const wpx = <usize>ow << 2, ps = <usize>Hq * wpx, zv: u32 = <u32>(zb & 255);
  const hiM: u32 = kw >= 4 ? 0 : <u32>0xffffffff << <u32>(8 * kw);
  const pat = zv * 0x01010101 & ~hiM;
  // swizzle indices: word k byte i <- source byte k·sw + i (i < kw; else >= 16: 0)
  const m0: u32 = 0x03020100 | hiM, st: u32 = <u32>sw * 0x01010101;
  let mask = i32x4.splat(<i32>m0);
  mask = i32x4.replace_lane(mask, 1, <i32>((m0 + st) | hiM));
  mask = i32x4.replace_lane(mask, 2, <i32>((m0 + 2 * st) | hiM));
  mask = i32x4.replace_lane(mask, 3, <i32>((m0 + 3 * st) | hiM));
  const span = 3 * sw + kw; // bytes a 4-pixel swizzle reads
  for (let u = lo; u < hi; u++) {
    const py = u / Hq, yq = u - py * Hq, h = py + sh * yq - ph;
    const d = dst + <usize>py * ps + <usize>yq * wpx;
    if (h < 0 || h >= H) {
      fillPat(d, pat, ow);
      continue;
    }
    const row = x + <usize>h * <usize>W;
    let o = 0;
    for (; o < ow; o++) {
      const c = o * sw - pw;
      if (c >= 0 && c + span <= W) break;
      store<u32>(d + (<usize>o << 2), word1(row, c, kw, W, flip, zv));
    }
    for (; o + 4 <= ow && o * sw - pw + 16 <= W; o += 4) {
      const v = v128.xor(v128.load(row + <usize>(o * sw - pw)), fv);
      v128.store(d + (<usize>o << 2), i8x16.swizzle(v, mask));
    }
    if (span <= 8) {
      for (; o + 4 <= ow && o * sw - pw + 8 <= W; o += 4) {
        const v = v128.xor(v128.load64_zero(row + <usize>(o * sw - pw)), fv);
        v128.store(d + (<usize>o << 2), i8x16.swizzle(v, mask));
      }
    }
    for (; o < ow; o++) store<u32>(d + (<usize>o << 2), word1(row, o * sw - pw, kw, W, flip, zv));
  }
}

/** The tap-packed word of row at input column c (kw bytes; outside [0, W): zv). */
// @ts-ignore: decorator
@inline function word1(row: usize, c: i32, kw: i32, W: i32, flip: u32, zv: u32): u32 {
  let v: u32 = 0;
  for (let i = 0; i < kw; i++) {
    const col = c + i;
    const b: u32 = col >= 0 && col < W ? <u32>load<u8>(row + <usize>col) ^ flip : zv;
    v |= b << (<u32>i << 3);
  }
  return v;
}

/**
 * Output pixels gr0..gr0+n−1 of one output row × all M channels: 8 pixels (two: two
 * groups, n <= 8) or 4 (one group, n <= 4) from a (the row's first tap pixel in plane 0),
 * read by tab. Whatever lies past the row (the next row, plane or the slack) only feeds
 * lanes >= n, which are dropped. The 8 × 4 tile of pairK4 (4 × 4 for one group).
 */
// @ts-ignore: decorator
@inline function tileDC(a: usize, tab: usize, w: usize, kq: usize, gr0: i32, n: i32, M: i32, two: bool, cr: usize): void {
  const kb = kq << 2, ldw = kb;
  // the row correction −64·Σa' of each pixel: from the row's table (dcCorrRow), or summed
  // over the tile's taps
  let q0 = i32x4.splat(0), q1 = q0;
  if (cr) {
    q0 = v128.load(cr);
    if (two) q1 = v128.load(cr, 16);
  } else {
    for (let t: usize = 0; t < kb; t += 4) {
      const p = a + <usize>load<i32>(tab + t);
      q0 = sum4(q0, v128.load(p));
      if (two) q1 = sum4(q1, v128.load(p, 16));
    }
    q0 = i32x4.neg(i32x4.shl(q0, 6));
    q1 = i32x4.neg(i32x4.shl(q1, 6));
  }
  let c = 0;
  for (; c + 4 <= M; c += 4) {
    const w0 = w + <usize>c * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
    let s00 = q0, s01 = q0, s02 = q0, s03 = q0;
    let s10 = q1, s11 = q1, s12 = q1, s13 = q1;
    // two taps per iteration, the second's table entry and weights at immediate offsets
    // (as k4.ts pairK4: Deno bounds-checks every load; the loop overhead is paid once per
    // two taps; the odd-tap tail below repeats the first tap, as pairK4's does)
    let t: usize = 0;
    for (; t + 8 <= kb; t += 8) {
      let p = a + <usize>load<i32>(tab + t);
      let x0 = v128.load(p), x1 = two ? v128.load(p, 16) : x0;
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
      p = a + <usize>load<i32>(tab + t, 4);
      x0 = v128.load(p);
      if (two) x1 = v128.load(p, 16);
      v = v128.load32_splat(w0 + t, 4);
      s00 = dot4(s00, x0, v);
      if (two) s10 = dot4(s10, x1, v);
      v = v128.load32_splat(w1 + t, 4);
      s01 = dot4(s01, x0, v);
      if (two) s11 = dot4(s11, x1, v);
      v = v128.load32_splat(w2 + t, 4);
      s02 = dot4(s02, x0, v);
      if (two) s12 = dot4(s12, x1, v);
      v = v128.load32_splat(w3 + t, 4);
      s03 = dot4(s03, x0, v);
      if (two) s13 = dot4(s13, x1, v);
    }
    if (t < kb) {
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

function pairDC(a: usize, tab: usize, w: usize, kq: usize, gr0: i32, n: i32, M: i32, cr: usize): void {
  tileDC(a, tab, w, kq, gr0, n, M, true, cr);
}

function groupDC(a: usize, tab: usize, w: usize, kq: usize, gr0: i32, n: i32, M: i32, cr: usize): void {
  tileDC(a, tab, w, kq, gr0, n, M, false, cr);
}

/**
 * Bytes of one thread's row of conv_dc's correction table: i32 entries for the OW pixels
 * (at least 8: a short row's 8-pixel tile reads 8) and the kw − 1 beyond them that the
 * window sum reads, rounded up to 16 bytes. Vertical sums read plane rows that far, past
 * the row's Wp pixels by at most 10 (into the next row, or the planes' 64-byte slack).
 */
export function dc_corr_bytes(ow: i32, kw: i32): i32 {
  return ((corrPixels(ow) + kw - 1 + 3) & ~3) << 2;
}

/** The row entries dcCorrRow finishes: OW rounded up to 4, at least 8. */
// @ts-ignore: decorator
@inline function corrPixels(ow: i32): i32 {
  return ow < 8 ? 8 : (ow + 3) & ~3;
}

/**
 * The row correction −64·Σa' of output row oh's pixels at stride 1 (no tap packing), into
 * c[0 .. OW): Σa' over pixel o's window is Σ_s V(o + s), V(x) = Σ_r Σ_j (the 4 bytes of
 * pixel x of row oh + r of quad plane j): the sum the tiles otherwise take over their
 * taps, in a few vector adds per 4 pixels. Entries at and past OW come from bytes past
 * the row's pixels: they only feed lanes the tiles drop.
 */
function dcCorrRow(xq: usize, ps: usize, rb: usize, cq: i32, kh: i32, kw: i32, ow: i32, oh: i32, c: usize): void {
  const nx = <usize>dc_corr_bytes(ow, kw), own = <usize>corrPixels(ow) << 2;
  const r0 = xq + <usize>oh * rb;
  for (let x: usize = 0; x < nx; x += 16) {
    let v = i32x4.splat(0);
    for (let j = 0; j < cq; j++) {
      let p = r0 + <usize>j * ps + x;
      for (let r = 0; r < kh; r++, p += rb) v = sum4(v, v128.load(p));
    }
    v128.store(c + x, v);
  }
  // in place: the window sum at x reads entries x .. x + kw + 2 before storing x .. x + 3
  for (let x: usize = 0; x < own; x += 16) {
    let v = v128.load(c + x);
    for (let s = 1; s < kw; s++) v = i32x4.add(v, v128.load(c + x + (<usize>s << 2)));
    v128.store(c + x, i32x4.neg(i32x4.shl(v, 6)));
  }
}

/** Pixel o's entry of the row correction at crow, or 0 (the tiles sum their taps) without one. */
// @ts-ignore: decorator
@inline function corrAt(crow: usize, o: i32): usize {
  return crow ? crow + (<usize>o << 2) : 0;
}

/**
 * Output rows [lo, hi) × all M channels of the direct conv, from the quad planes at xq
 * (prep_dc), the W4 rows at wp (4·kq bytes each) and the tap table tab (kq i32). A row
 * goes by 8 pixels; a rest of 1..4 pixels takes one group, 5..7 a pair, both ending at
 * OW (recomputing a few pixels, stored alike by this thread), or starting at 0 with only
 * OW stored when OW is shorter. cb != 0 (stride 1, quad planes, no tap packing): each
 * row's correction is made once into thread tid's row at cb + tid·dc_corr_bytes(OW, kw)
 * (dcCorrRow); cb = 0: each tile sums its taps. Writes only the outputs of rows [lo, hi).
 */
export function conv_dc(xq: usize, wp: usize, tab: usize, kq: i32, rb: i32, cg: usize, ep: usize, cb: usize, lo: i32, hi: i32, tid: i32): void {
  const ow = g(cg, CG_OW), M = g(cg, CG_M), wpx = <usize>rb;
  const q = <usize>kq;
  loadEp(ep);
  loadFast(ep, kq);
  const kh = g(cg, CG_KH), kw = g(cg, CG_KW);
  const cq = kq / (kh * kw), ps = <usize>(g(cg, CG_OH) - 1 + kh) * wpx;
  const crow = cb ? cb + <usize>tid * <usize>dc_corr_bytes(ow, kw) : 0;
  for (let oh = lo; oh < hi; oh++) {
    const row = xq + <usize>oh * wpx, gr = oh * ow;
    if (crow) dcCorrRow(xq, ps, wpx, cq, kh, kw, ow, oh, crow);
    let o = 0;
    for (; o + 8 <= ow; o += 8) pairDC(row + (<usize>o << 2), tab, wp, q, gr + o, 8, M, corrAt(crow, o));
    const rest = ow - o;
    if (rest > 4) {
      o = ow >= 8 ? ow - 8 : 0;
      pairDC(row + (<usize>o << 2), tab, wp, q, gr + o, ow - o, M, corrAt(crow, o));
    } else if (rest > 0) {
      o = ow >= 4 ? ow - 4 : 0;
      groupDC(row + (<usize>o << 2), tab, wp, q, gr + o, ow - o, M, corrAt(crow, o));
    }
  }
}
