// The integer islands of a transformer (kernels/ref/quant/README.md, "Integer islands"):
// QLut (a 256-entry byte table), QSoftmax and QLayerNorm over the last axis. Exact
// integer arithmetic only; every kernel works on u = code ^ flip (0..255: the unsigned
// code of an int8 or uint8 input), which the three definitions allow (QLut indexes the
// table by code − dtypeMin = u; softmax and layer norm only see differences of codes).
import { mbqm, sat32 } from "./requant";

/**
 * QLut over elements [lo, hi): y[i] = table[x[i] ^ flip]; `table` holds 256 output bytes.
 * 16 bytes at a time: the table as 16 sub-tables of 16 bytes, i8x16.swizzle on u − 16·j
 * (an index outside 0..15 gives 0 in every host: plain swizzle, never the relaxed one).
 */
export function qlut(x: usize, flip: i32, table: usize, y: usize, lo: i32, hi: i32, _tid: i32): void {
  let i = lo;
  const fv = i8x16.splat(<i8>flip), step = i8x16.splat(16);
  for (; i + 16 <= hi; i += 16) {
    let v = v128.xor(v128.load(x + <usize>i), fv);
    let r = i8x16.swizzle(v128.load(table), v);
    for (let j: usize = 1; j < 16; j++) {
      v = i8x16.sub(v, step);
      r = v128.or(r, i8x16.swizzle(v128.load(table + (j << 4)), v));
    }
    v128.store(y + <usize>i, r);
  }
  for (; i < hi; i++) {
    store<u8>(y + <usize>i, load<u8>(table + <usize>(<i32>load<u8>(x + <usize>i) ^ flip)));
  }
}

/**
 * QSoftmax over rows [lo, hi) of N codes: m = max u, e = table[m − u] (i32 table of 256),
 * S = Σ e, y = min(255, (e·r + floor(S/2)) / S) in exact u32 division.
 */
export function qsoftmax(
  x: usize, flip: i32, N: i32, table: usize, r: i32, y: usize, lo: i32, hi: i32, _tid: i32,
): void {
  const fv = i8x16.splat(<i8>flip);
  for (let row = lo; row < hi; row++) {
    const src = x + <usize>row * <usize>N, dst = y + <usize>row * <usize>N;
    // max of the unsigned codes
    let j = 0;
    let mv = i8x16.splat(0);
    for (; j + 16 <= N; j += 16) mv = i8x16.max_u(mv, v128.xor(v128.load(src + <usize>j), fv));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
    mv = i8x16.max_u(mv, i8x16.shuffle(mv, mv, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0));
    let m: i32 = i8x16.extract_lane_u(mv, 0);
    for (; j < N; j++) {
      const v = <i32>load<u8>(src + <usize>j) ^ flip;
      if (v > m) m = v;
    }
    // e_j = table[m − u_j]; u_j = x_j ^ flip
    let s: u32 = 0;
    for (j = 0; j < N; j++) {
      s += load<u32>(table + (<usize>(m - (<i32>load<u8>(src + <usize>j) ^ flip)) << 2));
    }
    const half = s >> 1;
    for (j = 0; j < N; j++) {
      const e = load<u32>(table + (<usize>(m - (<i32>load<u8>(src + <usize>j) ^ flip)) << 2));
      const q = (e * <u32>r + half) / s;
      store<u8>(dst + <usize>j, <u8>(q > 255 ? 255 : q));
    }
  }
}

// QLayerNorm parameter record (i32): per-channel arrays of N at these word offsets.
// [0] eps, [1] k, [2] y_zp, [3] qmin, [4] qmax, [5] flip, [6] N; then mult[N], shift[N],
// sign[N], bias[N] from word 8.
export const LN_HEAD: i32 = 8;

/** QLayerNorm over rows [lo, hi) of N codes; `pr` is the record above. */
export function qlayernorm(x: usize, y: usize, pr: usize, lo: i32, hi: i32, _tid: i32): void {
  const eps = load<i32>(pr), k = load<i32>(pr, 4), yzp = load<i32>(pr, 8);
  const qmin = load<i32>(pr, 12), qmax = load<i32>(pr, 16), flip = load<i32>(pr, 20);
  const N = load<i32>(pr, 24);
  const pm = pr + (<usize>LN_HEAD << 2), ps = pm + (<usize>N << 2);
  const pg = ps + (<usize>N << 2), pb = pg + (<usize>N << 2);
  for (let row = lo; row < hi; row++) {
    const src = x + <usize>row * <usize>N, dst = y + <usize>row * <usize>N;
    let sum: i32 = 0, sq: i32 = 0;
    for (let j = 0; j < N; j++) {
      const u = <i32>load<u8>(src + <usize>j) ^ flip;
      sum += u;
      sq += u * u;
    }
    // V < 2^32 exactly (README); V + eps < 2^32; floor(sqrt) exact in f64.
    const v: i64 = <i64>N * <i64>sq - <i64>sum * <i64>sum + <i64>eps;
    let sg = <i64>Math.floor(Math.sqrt(<f64>v));
    if (v - sg * sg > sg) sg++;
    const sigma = <i32>sg;
    for (let j = 0; j < N; j++) {
      const u = <i32>load<u8>(src + <usize>j) ^ flip;
      const d = (N * u - sum) << k;
      // divRoundHalfAway(d, sigma)
      const qd = d / sigma, rm = d - qd * sigma;
      const t = 2 * rm >= sigma ? qd + 1 : 2 * rm <= -sigma ? qd - 1 : qd;
      const o = <usize>j << 2;
      const uu = mbqm(load<i32>(pg + o) * t, load<i32>(pm + o), load<i32>(ps + o));
      const w = sat32(<i64>uu + <i64>load<i32>(pb + o) + 8);
      const q = yzp + (w >> 4);
      store<u8>(dst + <usize>j, <u8>(q < qmin ? qmin : q > qmax ? qmax : q));
    }
  }
}
