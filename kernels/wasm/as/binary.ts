// Binary GEMM: {-1,+1} weights (b1: bit = 1 ⇔ +1) against bit-plane activations, with
// AND + popcount:
//   mode 2 (2-bit codes x in 0..3, x_zp 0): planes P0, P1; Σ x·w = Σ_p 2^p (2·|P_p & W| − |P_p|)
//   mode 1 (±1 activations, x_zp 0): plane B = [x > 0], x = 2B − 1;
//           Σ x·w = 2·(2·|B & W| − |B|) − Σ_k w
// Rows are `vw` v128 words per plane (K padded with zero bits); the same integer
// accumulator as the reference, then the common epilogue.
import { finish, finish4, loadEp } from "./epilogue";

/**
 * Packs rows [lo, hi) of x [rows][K] into planes (row r at dst + r·planes·vw·16) and
 * |P_p| into pop[r·2 + p]. Sets *bad = 1 when a value does not fit the mode.
 */
export function pack_bits(
  x: usize, signed: i32, K: i32, vw: i32, mode: i32, dst: usize, pop: usize, bad: usize,
  lo: i32, hi: i32, _tid: i32,
): void {
  const planes = mode == 2 ? 2 : 1;
  const pb = <usize>vw << 4;
  for (let r = lo; r < hi; r++) {
    const row = dst + <usize>r * pb * <usize>planes;
    memory.fill(row, 0, pb * <usize>planes);
    let c0 = 0, c1 = 0, ok = true;
    const src = x + <usize>r * <usize>K;
    // 16 values at a time: compare, bitmask, store 16 bits (K is padded to whole v128 words)
    let k = 0;
    for (; k + 16 <= K; k += 16) {
      const v = v128.load(src + <usize>k);
      const o = row + (<usize>k >> 3);
      if (mode == 2) {
        // codes 0..3: as unsigned bytes (int8 negatives are large) must be <= 3
        if (v128.any_true(i8x16.gt_u(v, i8x16.splat(3)))) ok = false;
        const m0 = i8x16.bitmask(i8x16.ne(v128.and(v, i8x16.splat(1)), i8x16.splat(0)));
        const m1 = i8x16.bitmask(i8x16.ne(v128.and(v, i8x16.splat(2)), i8x16.splat(0)));
        store<u16>(o, <u16>m0);
        store<u16>(o + pb, <u16>m1);
        c0 += popcnt(m0);
        c1 += popcnt(m1);
      } else {
        // ±1 (int8 only: a uint8 255 is not -1)
        const one = i8x16.eq(v, i8x16.splat(1));
        const valid = signed ? v128.or(one, i8x16.eq(v, i8x16.splat(-1))) : one;
        if (!i8x16.all_true(valid)) ok = false;
        const m0 = i8x16.bitmask(one);
        store<u16>(o, <u16>m0);
        c0 += popcnt(m0);
      }
    }
    for (; k < K; k++) {
      const v = signed ? <i32>load<i8>(src + <usize>k) : <i32>load<u8>(src + <usize>k);
      const word = row + (<usize>(k >> 5) << 2), bit = <u32>1 << (k & 31);
      if (mode == 2) {
        if (v < 0 || v > 3) ok = false;
        if (v & 1) { store<u32>(word, load<u32>(word) | bit); c0++; }
        if (v & 2) { store<u32>(word + pb, load<u32>(word + pb) | bit); c1++; }
      } else {
        if (v != 1 && v != -1) ok = false;
        if (v > 0) { store<u32>(word, load<u32>(word) | bit); c0++; }
      }
    }
    store<i32>(pop + (<usize>r << 3), c0);
    store<i32>(pop + (<usize>r << 3) + 4, c1);
    if (!ok) store<i32>(bad, 1);
  }
}

// @ts-ignore: decorator
@inline function popAnd(a: v128, w: v128): v128 {
  return i8x16.popcnt(v128.and(a, w));
}

// @ts-ignore: decorator
@inline function widen(acc: v128, b: v128): v128 {
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(b)));
}

// @ts-ignore: decorator
@inline function hsum(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** |A & W| for one row pair × 4 columns over `vw` v128 words (byte sums widened every 31). */
// @ts-ignore: decorator
@inline function and4x2(a0: usize, a1: usize, w0: usize, ldw: usize, vw: i32, out: usize): void {
  let t00 = i32x4.splat(0), t01 = i32x4.splat(0), t02 = i32x4.splat(0), t03 = i32x4.splat(0);
  let t10 = i32x4.splat(0), t11 = i32x4.splat(0), t12 = i32x4.splat(0), t13 = i32x4.splat(0);
  for (let k0 = 0; k0 < vw; k0 += 31) {
    const k1 = k0 + 31 < vw ? k0 + 31 : vw;
    let b00 = i8x16.splat(0), b01 = i8x16.splat(0), b02 = i8x16.splat(0), b03 = i8x16.splat(0);
    let b10 = i8x16.splat(0), b11 = i8x16.splat(0), b12 = i8x16.splat(0), b13 = i8x16.splat(0);
    for (let k = k0; k < k1; k++) {
      const o = <usize>k << 4;
      const x0 = v128.load(a0 + o), x1 = v128.load(a1 + o);
      let v = v128.load(w0 + o);
      b00 = i8x16.add(b00, popAnd(x0, v));
      b10 = i8x16.add(b10, popAnd(x1, v));
      v = v128.load(w0 + ldw + o);
      b01 = i8x16.add(b01, popAnd(x0, v));
      b11 = i8x16.add(b11, popAnd(x1, v));
      v = v128.load(w0 + 2 * ldw + o);
      b02 = i8x16.add(b02, popAnd(x0, v));
      b12 = i8x16.add(b12, popAnd(x1, v));
      v = v128.load(w0 + 3 * ldw + o);
      b03 = i8x16.add(b03, popAnd(x0, v));
      b13 = i8x16.add(b13, popAnd(x1, v));
    }
    t00 = widen(t00, b00); t01 = widen(t01, b01); t02 = widen(t02, b02); t03 = widen(t03, b03);
    t10 = widen(t10, b10); t11 = widen(t11, b11); t12 = widen(t12, b12); t13 = widen(t13, b13);
  }
  store<i32>(out, hsum(t00)); store<i32>(out, hsum(t01), 4); store<i32>(out, hsum(t02), 8); store<i32>(out, hsum(t03), 12);
  store<i32>(out, hsum(t10), 16); store<i32>(out, hsum(t11), 20); store<i32>(out, hsum(t12), 24); store<i32>(out, hsum(t13), 28);
}

/** Plain sums of 4 accumulators as one vector (lane i = Σ lanes of si). */
// @ts-ignore: decorator
@inline function hsum4(s0: v128, s1: v128, s2: v128, s3: v128): v128 {
  const u0 = i32x4.add(i32x4.shuffle(s0, s1, 0, 1, 4, 5), i32x4.shuffle(s0, s1, 2, 3, 6, 7));
  const u1 = i32x4.add(i32x4.shuffle(s2, s3, 0, 1, 4, 5), i32x4.shuffle(s2, s3, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(u0, u1, 0, 2, 4, 6), i32x4.shuffle(u0, u1, 1, 3, 5, 7));
}

/**
 * |A & W| for 4 rows (stride ra) × 2 columns (stride ldw) over `vw` v128 words (byte sums
 * widened every 31 words): out = [4 row sums of column 0, 4 row sums of column 1].
 */
// @ts-ignore: decorator
@inline function and4x2v(a0: usize, ra: usize, w0: usize, ldw: usize, vw: i32, out: usize): void {
  const a1 = a0 + ra, a2 = a1 + ra, a3 = a2 + ra, w1 = w0 + ldw;
  let t00 = i32x4.splat(0), t10 = i32x4.splat(0), t20 = i32x4.splat(0), t30 = i32x4.splat(0);
  let t01 = i32x4.splat(0), t11 = i32x4.splat(0), t21 = i32x4.splat(0), t31 = i32x4.splat(0);
  for (let k0 = 0; k0 < vw; k0 += 31) {
    const k1 = k0 + 31 < vw ? k0 + 31 : vw;
    let b00 = i8x16.splat(0), b10 = i8x16.splat(0), b20 = i8x16.splat(0), b30 = i8x16.splat(0);
    let b01 = i8x16.splat(0), b11 = i8x16.splat(0), b21 = i8x16.splat(0), b31 = i8x16.splat(0);
    for (let k = k0; k < k1; k++) {
      const o = <usize>k << 4;
      const v0 = v128.load(w0 + o), v1 = v128.load(w1 + o);
      let x = v128.load(a0 + o);
      b00 = i8x16.add(b00, popAnd(x, v0));
      b01 = i8x16.add(b01, popAnd(x, v1));
      x = v128.load(a1 + o);
      b10 = i8x16.add(b10, popAnd(x, v0));
      b11 = i8x16.add(b11, popAnd(x, v1));
      x = v128.load(a2 + o);
      b20 = i8x16.add(b20, popAnd(x, v0));
      b21 = i8x16.add(b21, popAnd(x, v1));
      x = v128.load(a3 + o);
      b30 = i8x16.add(b30, popAnd(x, v0));
      b31 = i8x16.add(b31, popAnd(x, v1));
    }
    t00 = widen(t00, b00); t10 = widen(t10, b10); t20 = widen(t20, b20); t30 = widen(t30, b30);
    t01 = widen(t01, b01); t11 = widen(t11, b11); t21 = widen(t21, b21); t31 = widen(t31, b31);
  }
  v128.store(out, hsum4(t00, t10, t20, t30));
  v128.store(out, hsum4(t01, t11, t21, t31), 16);
}

/** The integer accumulators of 4 rows (vector form of raw). */
// @ts-ignore: decorator
@inline function raw4(mode: i32, s0: v128, s1: v128, p0: v128, p1: v128, wsum: i32): v128 {
  const d0 = i32x4.sub(i32x4.shl(s0, 1), p0);
  if (mode == 2) return i32x4.add(d0, i32x4.shl(i32x4.sub(i32x4.shl(s1, 1), p1), 1));
  return i32x4.sub(i32x4.shl(d0, 1), i32x4.splat(wsum));
}

/** |A & W| for one row × one column. */
function and1(a: usize, w: usize, vw: i32): i32 {
  let t = i32x4.splat(0);
  for (let k0 = 0; k0 < vw; k0 += 31) {
    const k1 = k0 + 31 < vw ? k0 + 31 : vw;
    let b = i8x16.splat(0);
    for (let k = k0; k < k1; k++) {
      const o = <usize>k << 4;
      b = i8x16.add(b, popAnd(v128.load(a + o), v128.load(w + o)));
    }
    t = widen(t, b);
  }
  return hsum(t);
}

// @ts-ignore: decorator
@inline function raw(mode: i32, s0: i32, s1: i32, p0: i32, p1: i32, wsum: i32): i32 {
  if (mode == 2) return (2 * s0 - p0) + 2 * (2 * s1 - p1);
  return 2 * (2 * s0 - p0) - wsum;
}

/**
 * Output rows [lo, hi) × all N columns: a = packed planes (pack_bits), pop = |P_p|,
 * w = weight bit rows (vw v128 words each), wsum[n] = Σ_k w[n][k], scratch = 128 bytes per
 * thread (two 32-byte tile sums; the caller aligns it to 64 so threads share no cache line).
 */
export function bgemm_rows(
  a: usize, pop: usize, w: usize, wsum: usize, vw: i32, mode: i32, N: i32, ep: usize,
  scratch: usize, lo: i32, hi: i32, tid: i32,
): void {
  loadEp(ep);
  const pb = <usize>vw << 4, planes: usize = mode == 2 ? 2 : 1, rs = pb * planes;
  const t0 = scratch + (<usize>tid << 7), t1 = t0 + 32;
  let r = lo;
  // 4 rows × 2 columns per tile, vector epilogue (finish4)
  for (; r + 4 <= hi; r += 4) {
    const a0 = a + <usize>r * rs;
    const q0 = v128.load(pop + (<usize>r << 3)), q1 = v128.load(pop + (<usize>r << 3) + 16);
    const p0 = i32x4.shuffle(q0, q1, 0, 2, 4, 6), p1 = i32x4.shuffle(q0, q1, 1, 3, 5, 7);
    let c = 0;
    for (; c + 2 <= N; c += 2) {
      const w0 = w + <usize>c * pb;
      and4x2v(a0, rs, w0, pb, vw, t0);
      if (mode == 2) and4x2v(a0 + pb, rs, w0, pb, vw, t1);
      const z = i32x4.splat(0);
      const ws0 = load<i32>(wsum + (<usize>c << 2)), ws1 = load<i32>(wsum + (<usize>c << 2) + 4);
      finish4(r, c, raw4(mode, v128.load(t0), mode == 2 ? v128.load(t1) : z, p0, p1, ws0));
      finish4(r, c + 1, raw4(mode, v128.load(t0 + 16), mode == 2 ? v128.load(t1 + 16) : z, p0, p1, ws1));
    }
    for (; c < N; c++) {
      const wc = w + <usize>c * pb, ws = load<i32>(wsum + (<usize>c << 2));
      for (let j = 0; j < 4; j++) {
        const aj = a0 + <usize>j * rs;
        const s1 = mode == 2 ? and1(aj + pb, wc, vw) : 0;
        const pj = load<i32>(pop + (<usize>(r + j) << 3)), pj1 = load<i32>(pop + (<usize>(r + j) << 3) + 4);
        finish(r + j, c, raw(mode, and1(aj, wc, vw), s1, pj, pj1, ws));
      }
    }
  }
  for (; r + 2 <= hi; r += 2) {
    const a0 = a + <usize>r * rs, a1 = a0 + rs;
    const p00 = load<i32>(pop + (<usize>r << 3)), p01 = load<i32>(pop + (<usize>r << 3) + 4);
    const p10 = load<i32>(pop + (<usize>(r + 1) << 3)), p11 = load<i32>(pop + (<usize>(r + 1) << 3) + 4);
    let c = 0;
    for (; c + 4 <= N; c += 4) {
      const w0 = w + <usize>c * pb;
      and4x2(a0, a1, w0, pb, vw, t0);
      if (mode == 2) and4x2(a0 + pb, a1 + pb, w0, pb, vw, t1);
      for (let j = 0; j < 4; j++) {
        const ws = load<i32>(wsum + (<usize>(c + j) << 2));
        const o = <usize>j << 2;
        const s01 = mode == 2 ? load<i32>(t1 + o) : 0, s11 = mode == 2 ? load<i32>(t1 + 16 + o) : 0;
        finish(r, c + j, raw(mode, load<i32>(t0 + o), s01, p00, p01, ws));
        finish(r + 1, c + j, raw(mode, load<i32>(t0 + 16 + o), s11, p10, p11, ws));
      }
    }
    for (; c < N; c++) {
      const wc = w + <usize>c * pb, ws = load<i32>(wsum + (<usize>c << 2));
      const s01 = mode == 2 ? and1(a0 + pb, wc, vw) : 0, s11 = mode == 2 ? and1(a1 + pb, wc, vw) : 0;
      finish(r, c, raw(mode, and1(a0, wc, vw), s01, p00, p01, ws));
      finish(r + 1, c, raw(mode, and1(a1, wc, vw), s11, p10, p11, ws));
    }
  }
  for (; r < hi; r++) {
    const a0 = a + <usize>r * rs;
    const p0 = load<i32>(pop + (<usize>r << 3)), p1 = load<i32>(pop + (<usize>r << 3) + 4);
    for (let c = 0; c < N; c++) {
      const wc = w + <usize>c * pb, ws = load<i32>(wsum + (<usize>c << 2));
      const s1 = mode == 2 ? and1(a0 + pb, wc, vw) : 0;
      finish(r, c, raw(mode, and1(a0, wc, vw), s1, p0, p1, ws));
    }
  }
}
