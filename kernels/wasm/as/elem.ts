// Elementwise 8-bit ops and the float boundary, over elements [lo, hi).
import {
  addSat4, clamp4, clampCodes, codeOff, ld8, mbqm4s, mbqmK, mbqmU4, qaddCore, rdbpot4, shlSat4, srdhm4v, vOff31,
  zpCodes16,
} from "./requant";
import { pair8 } from "./epilogue";

/** QAdd; parameters in an i32 record (see ops_int8.ts qaddRecord). */
export function qadd(a: usize, b: usize, y: usize, pr: usize, lo: i32, hi: i32, _tid: i32): void {
  const as = load<i32>(pr), bs = load<i32>(pr, 4), azp = load<i32>(pr, 8), bzp = load<i32>(pr, 12);
  const am = load<i32>(pr, 16), ash = load<i32>(pr, 20), bm = load<i32>(pr, 24);
  const bsh = load<i32>(pr, 28), ym = load<i32>(pr, 32), ysh = load<i32>(pr, 36);
  const yzp = load<i32>(pr, 40), qmin = load<i32>(pr, 44), qmax = load<i32>(pr, 48);
  // a and b repeat with periods pa, pb (n: same shape; 1: a single value; else the size
  // of a trailing block that broadcasts over the leading axes).
  const pb = load<i32>(pr, 52), pa = load<i32>(pr, 56);
  let i = lo;
  if (pa >= hi && pb >= hi && ash <= 0 && bsh <= 0) {
    // same shapes, no left shift on the inputs (the quantizer's a, b <= 1/2): 16 lanes per
    // step, every constant splatted once, MBQM(d·2^20) of |d| <= 255 on i32 lanes (srdhm20)
    const af = i8x16.splat(<i8>(as ? 0x80 : 0)), bf = i8x16.splat(<i8>(bs ? 0x80 : 0));
    const azv = i16x8.splat(<i16>(as ? azp + 128 : azp)), bzv = i16x8.splat(<i16>(bs ? bzp + 128 : bzp));
    const ra = -ash, rb = -bsh, ry = ysh > 0 ? 0 : -ysh, yl = ysh > 0 ? ysh : 0;
    const ka = <i32>((<u32>1 << ra) - 1), kb = <i32>((<u32>1 << rb) - 1), ky = <i32>((<u32>1 << ry) - 1);
    const amh = i32x4.splat(am >> 11), aml = i32x4.splat(am & 2047), amk = i32x4.splat(ka), ahf = i32x4.splat(ka >> 1);
    const bmh = i32x4.splat(bm >> 11), bml = i32x4.splat(bm & 2047), bmk = i32x4.splat(kb), bhf = i32x4.splat(kb >> 1);
    const ymv = i32x4.splat(ym), ymk = i32x4.splat(ky), yhf = i32x4.splat(ky >> 1);
    // 2^10 splatted, loaded from the record (V8 rebuilds a v128.const at every use in a loop)
    const r10 = v128.load(pr, 64);
    // y's requantization: without a left shift and with r in 1..30 SRDHM and RDBPOT in one
    // 64-bit step (requant.ts mbqmU4; |sa + sb| < 2^29), else the exact lane ops; then the
    // zero point and clamp in i16 / i8 lanes with offset constants (narrowClamp8's). Each
    // arm stores its own result: a select between them would compute both.
    const near = yl == 0 && ry >= 1 && ry <= 30;
    const ym2 = i32x4.splat(ym << 1), yk = near ? mbqmK(ym, ry) : i32x4.splat(0);
    const off = codeOff(qmin), off8 = i8x16.splat(<i8>off), yz16 = i16x8.splat(<i16>(yzp - off));
    const lo8 = i8x16.splat(<i8>(qmin - off)), hi8 = i8x16.splat(<i8>(qmax - off));
    for (; i + 16 <= hi; i += 16) {
      const va = v128.xor(v128.load(a + <usize>i), af), vb = v128.xor(v128.load(b + <usize>i), bf);
      // d = u − zp_u as i16 (|d| <= 255)
      const da0 = i16x8.sub(i16x8.extend_low_i8x16_u(va), azv), da1 = i16x8.sub(i16x8.extend_high_i8x16_u(va), azv);
      const db0 = i16x8.sub(i16x8.extend_low_i8x16_u(vb), bzv), db1 = i16x8.sub(i16x8.extend_high_i8x16_u(vb), bzv);
      const s0 = qaddSum(i32x4.extend_low_i16x8_s(da0), i32x4.extend_low_i16x8_s(db0), amh, aml, ra, amk, ahf, bmh, bml, rb, bmk, bhf, r10);
      const s1 = qaddSum(i32x4.extend_high_i16x8_s(da0), i32x4.extend_high_i16x8_s(db0), amh, aml, ra, amk, ahf, bmh, bml, rb, bmk, bhf, r10);
      const s2 = qaddSum(i32x4.extend_low_i16x8_s(da1), i32x4.extend_low_i16x8_s(db1), amh, aml, ra, amk, ahf, bmh, bml, rb, bmk, bhf, r10);
      const s3 = qaddSum(i32x4.extend_high_i16x8_s(da1), i32x4.extend_high_i16x8_s(db1), amh, aml, ra, amk, ahf, bmh, bml, rb, bmk, bhf, r10);
      if (near) {
        const n0 = zpCodes16(qaddNear(s0, ym2, yk, ry), qaddNear(s1, ym2, yk, ry), yz16);
        const n1 = zpCodes16(qaddNear(s2, ym2, yk, ry), qaddNear(s3, ym2, yk, ry), yz16);
        v128.store(y + <usize>i, clampCodes(n0, n1, lo8, hi8, off8));
      } else {
        const n0 = zpCodes16(qaddY(s0, ymv, yl, ry, ymk, yhf), qaddY(s1, ymv, yl, ry, ymk, yhf), yz16);
        const n1 = zpCodes16(qaddY(s2, ymv, yl, ry, ymk, yhf), qaddY(s3, ymv, yl, ry, ymk, yhf), yz16);
        v128.store(y + <usize>i, clampCodes(n0, n1, lo8, hi8, off8));
      }
    }
  }
  if (pa >= hi && pb >= hi) {
    // same shapes: 8 lanes per step (the lane ops are exact transcriptions of qaddCore)
    const af = i8x16.splat(<i8>(as ? 0x80 : 0)), bf = i8x16.splat(<i8>(bs ? 0x80 : 0));
    const azv = i32x4.splat(as ? azp + 128 : azp), bzv = i32x4.splat(bs ? bzp + 128 : bzp);
    for (; i + 8 <= hi; i += 8) {
      const ua = i16x8.extend_low_i8x16_u(v128.xor(v128.load64_zero(a + <usize>i), af));
      const ub = i16x8.extend_low_i8x16_u(v128.xor(v128.load64_zero(b + <usize>i), bf));
      const y0 = qadd4(i32x4.extend_low_i16x8_u(ua), i32x4.extend_low_i16x8_u(ub), azv, bzv, am, ash, bm, bsh, ym, ysh, yzp, qmin, qmax);
      const y1 = qadd4(i32x4.extend_high_i16x8_u(ua), i32x4.extend_high_i16x8_u(ub), azv, bzv, am, ash, bm, bsh, ym, ysh, yzp, qmin, qmax);
      const h = i16x8.narrow_i32x4_s(y0, y1);
      v128.store64_lane(y + <usize>i, qmin < 0 ? i8x16.narrow_i16x8_s(h, h) : i8x16.narrow_i16x8_u(h, h), 0);
    }
  }
  for (; i < hi; i++) {
    const ia = pa >= hi ? i : i % pa, ib = pb >= hi ? i : i % pb;
    const da = ld8(a + <usize>ia, as) - azp;
    const db = ld8(b + <usize>ib, bs) - bzp;
    store<u8>(y + <usize> i, <u8> qaddCore(da, db, am, ash, bm, bsh, ym, ysh, yzp, qmin, qmax));
  }
}

/**
 * QAdd of same-shape operands through the node's 64 KiB pair table (ops_int8.ts
 * compileQAdd): y[i] = T[a[i] << 8 | b[i]] on the raw bytes, 8 per step (epilogue.ts pair8,
 * the fused residual's lookup).
 */
export function qadd_lut(a: usize, b: usize, y: usize, t: usize, lo: i32, hi: i32, _tid: i32): void {
  let i = <usize>lo;
  const e = <usize>hi;
  for (; i + 8 <= e; i += 8) {
    v128.store64_lane(y + i, pair8(t, v128.load64_zero(a + i), v128.load64_zero(b + i)), 0);
  }
  for (; i < e; i++) store<u8>(y + i, load<u8>(t + ((<usize>load<u8>(a + i) << 8) | <usize>load<u8>(b + i))));
}

// qaddCore's sa + sb on 4 lanes of zero-point-free inputs (shifts of a and b <= 0: |sa|,
// |sb| < 2^28, so their sum needs no saturation).
// @ts-ignore: decorator
@inline function qaddSum(
  da: v128, db: v128, amh: v128, aml: v128, ra: i32, amk: v128, ahf: v128,
  bmh: v128, bml: v128, rb: i32, bmk: v128, bhf: v128, r10: v128,
): v128 {
  // srdhm20 (requant.ts) with its rounding term 2^10 passed in
  const sa = i32x4.add(i32x4.mul(da, amh), i32x4.shr_s(i32x4.add(i32x4.mul(da, aml), r10), 11));
  const sb = i32x4.add(i32x4.mul(db, bmh), i32x4.shr_s(i32x4.add(i32x4.mul(db, bml), r10), 11));
  return i32x4.add(rdbpot4(sa, ra, amk, ahf), rdbpot4(sb, rb, bmk, bhf));
}

// qaddY when y has no left shift and ry in 1..30: one mbqmU4 step on s + 2^31 (ym2 = 2·ym,
// yk = mbqmK(ym, ry); |s| < 2^29).
// @ts-ignore: decorator
@inline function qaddNear(s: v128, ym2: v128, yk: v128, ry: i32): v128 {
  return mbqmU4(i32x4.add(s, vOff31), ym2, yk, yk, ry);
}

// qaddCore's requantization of s = sa + sb on 4 lanes before y's zero point: y's left shift
// yl (0 when its shift is <= 0, then RDBPOT by ry).
// @ts-ignore: decorator
@inline function qaddY(s: v128, ymv: v128, yl: i32, ry: i32, ymk: v128, yhf: v128): v128 {
  const t = yl > 0 ? shlSat4(s, yl) : s;
  return rdbpot4(srdhm4v(t, ymv), ry, ymk, yhf);
}

// 4 lanes of qaddCore on unsigned codes (zero points moved with them).
// @ts-ignore: decorator
@inline function qadd4(
  ua: v128, ub: v128, azv: v128, bzv: v128, am: i32, ash: i32, bm: i32, bsh: i32,
  ym: i32, ysh: i32, yzp: i32, qmin: i32, qmax: i32,
): v128 {
  const sa = mbqm4s(i32x4.shl(i32x4.sub(ua, azv), 20), am, ash);
  const sb = mbqm4s(i32x4.shl(i32x4.sub(ub, bzv), 20), bm, bsh);
  return clamp4(i32x4.add(mbqm4s(addSat4(sa, sb), ym, ysh), i32x4.splat(yzp)), qmin, qmax);
}

/** QRelu: max(x, zp). */
export function qrelu(x: usize, signed: i32, zp: i32, y: usize, lo: i32, hi: i32, _tid: i32): void {
  for (let i = lo; i < hi; i++) {
    const v = ld8(x + <usize> i, signed);
    store<u8>(y + <usize> i, <u8> (v < zp ? zp : v));
  }
}

/**
 * QuantizeLinear8: q = clamp(roundHalfAway(f32(x / scale)) + zp, qlo, qhi); NaN -> zp.
 * `c` holds three splatted f32 constants (ops_int8.ts QUANTIZE_CONSTS; loaded, not literal
 * v128 constants, which V8 rebuilds at every use in a loop): −0.0 (the sign bit), h =
 * 0.5 − 2^−25 (the largest f32 below 0.5) and 1.5·2^23.
 */
export function quantize(
  x: usize, scale: f32, zp: i32, qlo: i32, qhi: i32, y: usize, c: usize, lo: i32, hi: i32, _tid: i32,
): void {
  let i = lo;
  const sv = f32x4.splat(scale), sgn = v128.load(c), h = v128.load(c, 16), mg = v128.load(c, 32);
  // the clamp bounds as v: integers, so clamping before rounding gives clamp(round(v))
  const lv = f32x4.splat(<f32>(qlo - zp)), hv = f32x4.splat(<f32>(qhi - zp));
  // bits(t + 1.5·2^23) − bits(1.5·2^23) = t for the integers |t| < 2^22; + zp folded in
  const mz = i32x4.sub(mg, i32x4.splat(zp));
  for (; i + 16 <= hi; i += 16) {
    const p = x + (<usize>i << 2);
    const q0 = q4(v128.load(p), sv, lv, hv, sgn, h, mg, mz);
    const q1 = q4(v128.load(p, 16), sv, lv, hv, sgn, h, mg, mz);
    const q2 = q4(v128.load(p, 32), sv, lv, hv, sgn, h, mg, mz);
    const q3 = q4(v128.load(p, 48), sv, lv, hv, sgn, h, mg, mz);
    const a = i16x8.narrow_i32x4_s(q0, q1), b = i16x8.narrow_i32x4_s(q2, q3);
    v128.store(y + <usize>i, qlo < 0 ? i8x16.narrow_i16x8_s(a, b) : i8x16.narrow_i16x8_u(a, b));
  }
  for (; i < hi; i++) {
    const v: f32 = load<f32>(x + (<usize>i << 2)) / scale;
    let q: i32;
    if (v != v) q = zp;
    else if (v >= 1e9) q = qhi;
    else if (v <= -1e9) q = qlo;
    else {
      const t = Mathf.trunc(v);
      const f = v - t;
      q = <i32>t + (f >= 0.5 ? 1 : f <= -0.5 ? -1 : 0) + zp;
      q = q < qlo ? qlo : q > qhi ? qhi : q;
    }
    store<u8>(y + <usize>i, <u8>q);
  }
}

// 4 lanes of quantize, already clamped (codes in qlo..qhi). v = x / scale with NaN → +0
// (the mask of v == v), clamped to [qlo − zp, qhi − zp] (pmax / pmin: one instruction
// each on x86; ±Inf land on the bounds). Rounding half away from zero as trunc(v +
// copysign(h, v)), h the largest f32 below 0.5: exact for |v| < 2^23 (a tie n + 1/2 sums
// to within half an ulp of n + 1 and rounds there; any v below a tie stays below n + 1,
// the sum's distance to it exceeding half its spacing). Then the integer-valued t to i32
// through the bits of t + 1.5·2^23, zp added by the same subtraction.
// @ts-ignore: decorator
@inline function q4(x: v128, sv: v128, lv: v128, hv: v128, sgn: v128, h: v128, mg: v128, mz: v128): v128 {
  let v = f32x4.div(x, sv);
  v = f32x4.pmin(f32x4.pmax(v128.and(v, f32x4.eq(v, v)), lv), hv);
  const t = f32x4.trunc(f32x4.add(v, v128.or(v128.and(v, sgn), h)));
  return i32x4.sub(f32x4.add(t, mg), mz);
}

/** DequantizeLinear8: y = f32(scale * (q - zp)). */
export function dequantize(
  x: usize, signed: i32, scale: f32, zp: i32, y: usize, lo: i32, hi: i32, _tid: i32,
): void {
  let i = lo;
  const sv = f32x4.splat(scale), zv = i32x4.splat(zp);
  for (; i + 8 <= hi; i += 8) {
    const b = v128.load64_zero(x + <usize>i);
    const h = signed ? i16x8.extend_low_i8x16_s(b) : i16x8.extend_low_i8x16_u(b);
    const a0 = f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_low_i16x8_s(h), zv));
    const a1 = f32x4.convert_i32x4_s(i32x4.sub(i32x4.extend_high_i16x8_s(h), zv));
    v128.store(y + (<usize>i << 2), f32x4.mul(sv, a0));
    v128.store(y + (<usize>i << 2) + 16, f32x4.mul(sv, a1));
  }
  for (; i < hi; i++) {
    store<f32>(y + (<usize>i << 2), scale * <f32>(ld8(x + <usize>i, signed) - zp));
  }
}

/** Clip on float32: min(max(x, lo), hi) (NaN propagates). */
export function fclip(x: usize, y: usize, lo_: f32, hi_: f32, lo: i32, hi: i32, _tid: i32): void {
  let i = lo;
  const l = f32x4.splat(lo_), h = f32x4.splat(hi_);
  for (; i + 4 <= hi; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.min(f32x4.max(v128.load(x + o), l), h));
  }
  for (; i < hi; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, f32x4.extract_lane(f32x4.min(f32x4.max(f32x4.splat(load<f32>(x + o)), l), h), 0));
  }
}
