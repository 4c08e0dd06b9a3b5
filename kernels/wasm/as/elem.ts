// Elementwise 8-bit ops and the float boundary, over elements [lo, hi).
import { ld8, qaddCore } from "./requant";

/** QAdd; parameters in an i32 record (see ops_int8.ts qaddRecord). */
export function qadd(a: usize, b: usize, y: usize, pr: usize, lo: i32, hi: i32, _tid: i32): void {
  const as = load<i32>(pr), bs = load<i32>(pr, 4), azp = load<i32>(pr, 8), bzp = load<i32>(pr, 12);
  const am = load<i32>(pr, 16), ash = load<i32>(pr, 20), bm = load<i32>(pr, 24);
  const bsh = load<i32>(pr, 28), ym = load<i32>(pr, 32), ysh = load<i32>(pr, 36);
  const yzp = load<i32>(pr, 40), qmin = load<i32>(pr, 44), qmax = load<i32>(pr, 48);
  // a and b repeat with periods pa, pb (n: same shape; 1: a single value; else the size
  // of a trailing block that broadcasts over the leading axes).
  const pb = load<i32>(pr, 52), pa = load<i32>(pr, 56);
  for (let i = lo; i < hi; i++) {
    const ia = pa >= hi ? i : i % pa, ib = pb >= hi ? i : i % pb;
    const da = ld8(a + <usize>ia, as) - azp;
    const db = ld8(b + <usize>ib, bs) - bzp;
    store<u8>(y + <usize> i, <u8> qaddCore(da, db, am, ash, bm, bsh, ym, ysh, yzp, qmin, qmax));
  }
}

/** QRelu: max(x, zp). */
export function qrelu(x: usize, signed: i32, zp: i32, y: usize, lo: i32, hi: i32, _tid: i32): void {
  for (let i = lo; i < hi; i++) {
    const v = ld8(x + <usize> i, signed);
    store<u8>(y + <usize> i, <u8> (v < zp ? zp : v));
  }
}

/** QuantizeLinear8: q = clamp(roundHalfAway(f32(x / scale)) + zp, qlo, qhi); NaN -> zp. */
export function quantize(
  x: usize,
  scale: f32,
  zp: i32,
  qlo: i32,
  qhi: i32,
  y: usize,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  for (let i = lo; i < hi; i++) {
    const v: f32 = load<f32>(x + (<usize> i << 2)) / scale;
    let q: i32;
    if (v != v) q = zp;
    else if (v >= 1e9) q = qhi;
    else if (v <= -1e9) q = qlo;
    else {
      const t = Mathf.trunc(v);
      const f = v - t;
      q = <i32> t + (f >= 0.5 ? 1 : f <= -0.5 ? -1 : 0) + zp;
      q = q < qlo ? qlo : q > qhi ? qhi : q;
    }
    store<u8>(y + <usize> i, <u8> q);
  }
}

/** DequantizeLinear8: y = f32(scale * (q - zp)). */
export function dequantize(
  x: usize,
  signed: i32,
  scale: f32,
  zp: i32,
  y: usize,
  lo: i32,
  hi: i32,
  _tid: i32,
): void {
  for (let i = lo; i < hi; i++) {
    store<f32>(y + (<usize> i << 2), scale * <f32> (ld8(x + <usize> i, signed) - zp));
  }
}
