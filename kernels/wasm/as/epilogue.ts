// The fused output stage of QConv / QGemm / QMatMul, described by an i32 record in
// memory (field offsets below; kernels/wasm/plan.ts writes it).
import {
  addSat4, clamp4, ld8, mbqm4s, qaddCore, rdbpot4, requant, sat32, shlSat4, srdhm20, srdhm4v,
} from "./requant";

export const EP_BIAS: i32 = 0; // int32 [N] or 0
export const EP_CCOL: i32 = 4; // int32 [N] column correction (−zp·Σw) or 0
export const EP_CROW: i32 = 8; // int32 [rows] row correction or 0 (indexed by output row)
export const EP_MULT: i32 = 12; // int32 [N]
export const EP_SHIFT: i32 = 16; // int32 [N]
export const EP_YZP: i32 = 20;
export const EP_QMIN: i32 = 24;
export const EP_QMAX: i32 = 28;
export const EP_OUT: i32 = 32; // output base
export const EP_ORS: i32 = 36; // output stride of a row (elements = bytes)
export const EP_OCS: i32 = 40; // output stride of a column
export const EP_RES: i32 = 44; // residual base (same strides as the output) or 0
export const EP_RSIGNED: i32 = 48;
export const EP_CZP: i32 = 52;
export const EP_RZP: i32 = 56;
export const EP_CM: i32 = 60;
export const EP_CS: i32 = 64;
export const EP_RM: i32 = 68;
export const EP_RS: i32 = 72;
export const EP_YM: i32 = 76;
export const EP_YS: i32 = 80;
export const EP_DLO: i32 = 84;
export const EP_DHI: i32 = 88;
/**
 * 1: per-tensor multiplier (QMatMul): mult/shift are values, not pointers. 2: mult points
 * to the per-column vector table (64 bytes a column: mult, ccol, RDBPOT mask and half,
 * each splatted to 4 lanes; ccol and shift stay as well, as arrays).
 */
export const EP_SCALAR: i32 = 92;
/**
 * The fused residual's pair table or 0: 65536 output codes, T[C·256 + R] = qaddCore(C −
 * c_zp, R − r_zp, ...) for the bytes C (the conv's requantized code) and R (the residual's
 * code), built from the reference arithmetic at compile time (ops_int8.ts pairTable).
 */
export const EP_PTAB: i32 = 96;
/** The k4 fast stage's channel table or 0 (as/k4.ts fast8; ops_int8.ts fastTable). */
export const EP_FTAB: i32 = 100;
export const EP_WORDS: i32 = 26;

// @ts-ignore: decorator
@inline function f(ep: usize, off: i32): i32 {
  return load<i32>(ep + <usize> off);
}

// The record's fields, loaded once per kernel call into this instance's globals (each
// thread has its own instance, so this is thread-safe).
let gBias: usize = 0, gCcol: usize = 0, gCrow: usize = 0, gMult: usize = 0, gShift: usize = 0;
let gYzp: i32 = 0, gQmin: i32 = 0, gQmax: i32 = 0, gOut: usize = 0, gOrs: usize = 0;
let gOcs: usize = 0, gRes: usize = 0, gRsigned: i32 = 0, gCzp: i32 = 0, gRzp: i32 = 0;
let gCm: i32 = 0, gCs: i32 = 0, gRm: i32 = 0, gRs: i32 = 0, gYm: i32 = 0, gYs: i32 = 0;
let gDlo: i32 = 0, gDhi: i32 = 0, gScalar: i32 = 0, gTab: usize = 0, gPtab: usize = 0;
// y_zp, qmin, qmax splatted once per call (finish4 runs per tile: no splats there)
let vYzp: v128 = i32x4.splat(0), vQmin: v128 = i32x4.splat(0), vQmax: v128 = i32x4.splat(0);
// The fused residual's input requantizations when both shifts are <= 0 (resSum4): the
// multipliers split for srdhm20 and the RDBPOT masks, splatted once per call.
let gResFast: i32 = 0, gCr: i32 = 0, gRr: i32 = 0;
let vCmh: v128 = i32x4.splat(0), vCml: v128 = i32x4.splat(0), vCk: v128 = i32x4.splat(0), vChf: v128 = i32x4.splat(0);
let vRmh: v128 = i32x4.splat(0), vRml: v128 = i32x4.splat(0), vRk: v128 = i32x4.splat(0), vRhf: v128 = i32x4.splat(0);
// The fused residual's zero points and C range, and the output requantization when its
// shift is <= 0 (yReq4: r = −shift, mask 2^r − 1 and half), splatted once per call.
let gYr: i32 = 0, vCzp: v128 = i32x4.splat(0), vRzp: v128 = i32x4.splat(0), vDlo: v128 = i32x4.splat(0);
let vDhi: v128 = i32x4.splat(0), vYm: v128 = i32x4.splat(0), vYk: v128 = i32x4.splat(0), vYhf: v128 = i32x4.splat(0);

/** Loads an epilogue record (call once per kernel invocation, before finish). */
export function loadEp(ep: usize): void {
  gBias = <usize>f(ep, EP_BIAS);
  gCcol = <usize>f(ep, EP_CCOL);
  gCrow = <usize>f(ep, EP_CROW);
  gMult = <usize>f(ep, EP_MULT);
  gShift = <usize>f(ep, EP_SHIFT);
  gYzp = f(ep, EP_YZP);
  gQmin = f(ep, EP_QMIN);
  gQmax = f(ep, EP_QMAX);
  gOut = <usize>f(ep, EP_OUT);
  gOrs = <usize>f(ep, EP_ORS);
  gOcs = <usize>f(ep, EP_OCS);
  gRes = <usize>f(ep, EP_RES);
  gRsigned = f(ep, EP_RSIGNED);
  gCzp = f(ep, EP_CZP);
  gRzp = f(ep, EP_RZP);
  gCm = f(ep, EP_CM);
  gCs = f(ep, EP_CS);
  gRm = f(ep, EP_RM);
  gRs = f(ep, EP_RS);
  gYm = f(ep, EP_YM);
  gYs = f(ep, EP_YS);
  gDlo = f(ep, EP_DLO);
  gDhi = f(ep, EP_DHI);
  gScalar = f(ep, EP_SCALAR);
  gPtab = gRes ? <usize>f(ep, EP_PTAB) : 0;
  gTab = 0;
  if (gScalar == 2) {
    gTab = gMult;
    gScalar = 0;
  }
  vYzp = i32x4.splat(gYzp);
  vQmin = i32x4.splat(gQmin);
  vQmax = i32x4.splat(gQmax);
  gResFast = gRes && gCs <= 0 && gRs <= 0 ? 1 : 0;
  if (gRes) {
    vCzp = i32x4.splat(gCzp);
    vRzp = i32x4.splat(gRzp);
    vDlo = i32x4.splat(gDlo);
    vDhi = i32x4.splat(gDhi);
    vYm = i32x4.splat(gYm);
    gYr = gYs > 0 ? 0 : -gYs;
    const ky = <i32>((<u32>1 << gYr) - 1);
    vYk = i32x4.splat(ky);
    vYhf = i32x4.splat(ky >> 1);
  }
  if (gResFast) {
    gCr = -gCs;
    gRr = -gRs;
    const kc = <i32>((<u32>1 << gCr) - 1), kr = <i32>((<u32>1 << gRr) - 1);
    vCmh = i32x4.splat(gCm >> 11);
    vCml = i32x4.splat(gCm & 2047);
    vCk = i32x4.splat(kc);
    vChf = i32x4.splat(kc >> 1);
    vRmh = i32x4.splat(gRm >> 11);
    vRml = i32x4.splat(gRm & 2047);
    vRk = i32x4.splat(kr);
    vRhf = i32x4.splat(kr >> 1);
  }
}

/**
 * The sum of qaddCore's two requantized inputs for the fused residual, on 4 lanes: dc =
 * C − c_zp, dr = R − r_zp (8-bit codes: |d| <= 255). With both input shifts <= 0 the
 * MBQM(d·2^20) terms are exact in i32 lanes (srdhm20) and below 2^28 in magnitude, so
 * their sum needs no saturation; otherwise the i64 path with saturating shifts and add.
 */
// @ts-ignore: decorator
@inline function resSum4(dc: v128, dr: v128): v128 {
  if (gResFast) {
    return i32x4.add(
      rdbpot4(srdhm20(dc, vCmh, vCml), gCr, vCk, vChf),
      rdbpot4(srdhm20(dr, vRmh, vRml), gRr, vRk, vRhf),
    );
  }
  return addSat4(mbqm4s(i32x4.shl(dc, 20), gCm, gCs), mbqm4s(i32x4.shl(dr, 20), gRm, gRs));
}

/** MBQM(v, y_mult, y_shift) on 4 lanes (the fused residual's output stage). */
// @ts-ignore: decorator
@inline function yReq4(v: v128): v128 {
  if (gYs > 0) return mbqm4s(v, gYm, gYs);
  return rdbpot4(srdhm4v(v, vYm), gYr, vYk, vYhf);
}

/** Finishes one output: raw accumulator of output row gr, column c (after loadEp). */
export function finish(gr: i32, c: i32, raw: i32): void {
  const co = <usize>c << 2;
  let acc = raw;
  if (gCcol) acc += load<i32>(gCcol + co);
  if (gCrow) acc += load<i32>(gCrow + (<usize>gr << 2));
  if (gBias) acc = sat32(<i64>acc + <i64>load<i32>(gBias + co));
  let m: i32, s: i32;
  if (gScalar) {
    m = <i32>gMult;
    s = <i32>gShift;
  } else {
    m = gTab ? load<i32>(gTab + (co << 4)) : load<i32>(gMult + co);
    s = load<i32>(gShift + co);
  }
  const idx = <usize>gr * gOrs + <usize>c * gOcs;
  let y: i32;
  if (!gRes) {
    y = requant(acc, m, s, gYzp, gQmin, gQmax);
  } else {
    const cv = requant(acc, m, s, gCzp, gDlo, gDhi);
    if (gPtab) {
      y = load<u8>(gPtab + ((<usize>cv & 255) << 8) + <usize>load<u8>(gRes + idx));
    } else {
      const rv = ld8(gRes + idx, gRsigned);
      y = qaddCore(cv - gCzp, rv - gRzp, gCm, gCs, gRm, gRs, gYm, gYs, gYzp, gQmin, gQmax);
    }
  }
  store<u8>(gOut + idx, <u8>y);
}

/** True when finish4 can take the vector path (always: shifts and residuals vectorised). */
export function vecEpilogue(): bool {
  return true;
}

/** 4 residual values of rows gr0..gr0+3 at p (row stride gOrs), as i32 lanes. */
// @ts-ignore: decorator
@inline function loadRes4(p: usize): v128 {
  let b: v128;
  if (gOrs == 1) b = v128.load32_zero(p);
  else {
    b = v128.load8_lane(p, i8x16.splat(0), 0);
    b = v128.load8_lane(p + gOrs, b, 1);
    b = v128.load8_lane(p + 2 * gOrs, b, 2);
    b = v128.load8_lane(p + 3 * gOrs, b, 3);
  }
  if (gRsigned) return i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(b));
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(b));
}

/**
 * The pair table's output codes (i32 lanes) for the conv codes cv and residual codes rv
 * (i32 lanes): T[(C & 255)·256 + (R & 255)], read as the output type.
 */
// @ts-ignore: decorator
@inline function pair4(cv: v128, rv: v128): v128 {
  const ix = v128.or(i32x4.shl(v128.and(cv, i32x4.splat(255)), 8), v128.and(rv, i32x4.splat(255)));
  const lo = i64x2.extract_lane(ix, 0), hi = i64x2.extract_lane(ix, 1);
  const t = gPtab;
  if (gQmin < 0) {
    let r = i32x4.splat(<i32>load<i8>(t + <usize>(<u32>lo)));
    r = i32x4.replace_lane(r, 1, <i32>load<i8>(t + <usize>(lo >>> 32)));
    r = i32x4.replace_lane(r, 2, <i32>load<i8>(t + <usize>(<u32>hi)));
    return i32x4.replace_lane(r, 3, <i32>load<i8>(t + <usize>(hi >>> 32)));
  }
  let r = i32x4.splat(<i32>load<u8>(t + <usize>(<u32>lo)));
  r = i32x4.replace_lane(r, 1, <i32>load<u8>(t + <usize>(lo >>> 32)));
  r = i32x4.replace_lane(r, 2, <i32>load<u8>(t + <usize>(<u32>hi)));
  return i32x4.replace_lane(r, 3, <i32>load<u8>(t + <usize>(hi >>> 32)));
}

/**
 * The pair table t's 8 output codes (bytes 0..7) for the conv codes cb and the residual
 * codes rb (bytes 0..7 of each): u16 indices C·256 + R (the bytes interleaved), looked up
 * with scalar loads and packed into one u64.
 */
// @ts-ignore: decorator
@inline export function pair8(t: usize, cb: v128, rb: v128): v128 {
  const ix = i8x16.shuffle(rb, cb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const lo = i64x2.extract_lane(ix, 0), hi = i64x2.extract_lane(ix, 1);
  const r: u64 =
    <u64>load<u8>(t + <usize>(lo & 0xffff)) |
    (<u64>load<u8>(t + <usize>((lo >>> 16) & 0xffff)) << 8) |
    (<u64>load<u8>(t + <usize>((lo >>> 32) & 0xffff)) << 16) |
    (<u64>load<u8>(t + <usize>(lo >>> 48)) << 24) |
    (<u64>load<u8>(t + <usize>(hi & 0xffff)) << 32) |
    (<u64>load<u8>(t + <usize>((hi >>> 16) & 0xffff)) << 40) |
    (<u64>load<u8>(t + <usize>((hi >>> 32) & 0xffff)) << 48) |
    (<u64>load<u8>(t + <usize>(hi >>> 48)) << 56);
  return i64x2.splat(<i64>r);
}

/** Bytes 0..n−1 at p (n < 8) as bytes 0..n−1 of a vector (the rest 0): a row's tail. */
// @ts-ignore: decorator
@inline export function load8n(p: usize, n: i32): v128 {
  let r: u64 = 0;
  for (let i = 0; i < n; i++) r |= <u64>load<u8>(p + <usize>i) << (<u64>i << 3);
  return i64x2.splat(<i64>r);
}

/**
 * req4 with the column's constants from the vector table (EP_SCALAR = 2; no residual): no
 * splats. s: the column's shift.
 */
// @ts-ignore: decorator
@inline function reqTab4(gr0: i32, c: i32, v: v128, s: i32): v128 {
  const co = <usize>c << 2;
  const t = gTab + (co << 4);
  let a = i32x4.add(v, v128.load(t, 16));
  if (gCrow) a = i32x4.add(a, v128.load(gCrow + (<usize>gr0 << 2)));
  if (gBias) a = addSat4(a, i32x4.splat(load<i32>(gBias + co)));
  let h: v128;
  if (s > 0) h = srdhm4v(shlSat4(a, s), v128.load(t));
  else h = rdbpot4(srdhm4v(a, v128.load(t)), -s, v128.load(t, 32), v128.load(t, 48));
  return i32x4.min_s(i32x4.max_s(i32x4.add(h, vYzp), vQmin), vQmax);
}

/**
 * Stores a 4 × 4 block of codes given column-major (column j, row i in byte 4j + i) as 4
 * rows of 4 bytes: row i at o + i·ors.
 */
// @ts-ignore: decorator
@inline export function storeRows4x4(o: usize, ors: usize, b: v128): void {
  const t = i8x16.shuffle(b, b, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  v128.store32_lane(o, t, 0);
  v128.store32_lane(o + ors, t, 1);
  v128.store32_lane(o + 2 * ors, t, 2);
  v128.store32_lane(o + 3 * ors, t, 3);
}

/** storeRows4x4 of the first n rows only (n in 1..3). */
// @ts-ignore: decorator
@inline export function storeRowsN(o: usize, ors: usize, b: v128, n: i32): void {
  const t = i8x16.shuffle(b, b, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  v128.store32_lane(o, t, 0);
  if (n > 1) v128.store32_lane(o + ors, t, 1);
  if (n > 2) v128.store32_lane(o + 2 * ors, t, 2);
}

/**
 * finish4x4 for a record with the vector table (EP_SCALAR = 2, no residual) and column
 * stride 1 (a row-major output): rows gr0..gr0+3 × columns c..c+3, 4 bytes per row. The
 * k4 tile's row-major stage (as/k4.ts) calls this one: with finish4x4, which inlines every
 * req4 path, the builds measured 242,233 B against 204,694 B.
 */
// @ts-ignore: decorator
@inline export function finishTab4x4(gr0: i32, c: i32, v0: v128, v1: v128, v2: v128, v3: v128): void {
  storeRows4x4(gOut + <usize>gr0 * gOrs + <usize>c, gOrs, tabCodes4x4(gr0, c, v0, v1, v2, v3));
}

/** finishTab4x4's codes, [column][row] bytes (storeRows4x4's order). */
// @ts-ignore: decorator
@inline export function tabCodes4x4(gr0: i32, c: i32, v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const sh = gShift + (<usize>c << 2);
  const n01 = i16x8.narrow_i32x4_s(reqTab4(gr0, c, v0, load<i32>(sh)), reqTab4(gr0, c + 1, v1, load<i32>(sh, 4)));
  const n23 = i16x8.narrow_i32x4_s(reqTab4(gr0, c + 2, v2, load<i32>(sh, 8)), reqTab4(gr0, c + 3, v3, load<i32>(sh, 12)));
  return gQmin < 0 ? i8x16.narrow_i16x8_s(n01, n23) : i8x16.narrow_i16x8_u(n01, n23);
}

/** The output codes (i32 lanes) of 4 consecutive rows gr0..gr0+3 of column c (raw values in v). */
// @ts-ignore: decorator
@inline function req4(gr0: i32, c: i32, v: v128): v128 {
  const co = <usize>c << 2;
  const s = gScalar ? <i32>gShift : load<i32>(gShift + co);
  if (gTab && !gRes) return reqTab4(gr0, c, v, s);
  const m = gScalar ? <i32>gMult : gTab ? load<i32>(gTab + (co << 4)) : load<i32>(gMult + co);
  let acc = v;
  if (gCcol) acc = i32x4.add(acc, i32x4.splat(load<i32>(gCcol + co)));
  if (gCrow) acc = i32x4.add(acc, v128.load(gCrow + (<usize>gr0 << 2)));
  if (gBias) acc = addSat4(acc, i32x4.splat(load<i32>(gBias + co)));
  if (!gRes) return i32x4.min_s(i32x4.max_s(i32x4.add(mbqm4s(acc, m, s), vYzp), vQmin), vQmax);
  // QConv's fused residual: requantize to C, then the quantized add with R (qaddCore)
  const cz = i32x4.splat(gCzp);
  const cv = clamp4(i32x4.add(mbqm4s(acc, m, s), cz), gDlo, gDhi);
  const rv = loadRes4(gRes + <usize>gr0 * gOrs + <usize>c * gOcs);
  if (gPtab) return pair4(cv, rv);
  const sum = resSum4(i32x4.sub(cv, cz), i32x4.sub(rv, i32x4.splat(gRzp)));
  return i32x4.min_s(i32x4.max_s(i32x4.add(mbqm4s(sum, gYm, gYs), vYzp), vQmin), vQmax);
}

/** Finishes 4 consecutive output rows gr0..gr0+3 of column c (raw values in v). */
// @ts-ignore: decorator
@inline export function finish4(gr0: i32, c: i32, v: v128): void {
  const y = req4(gr0, c, v);
  const o = gOut + <usize>gr0 * gOrs + <usize>c * gOcs;
  const n = i16x8.narrow_i32x4_s(y, y);
  const b = gQmin < 0 ? i8x16.narrow_i16x8_s(n, n) : i8x16.narrow_i16x8_u(n, n);
  if (gOrs == 1) v128.store32_lane(o, b, 0);
  else {
    v128.store8_lane(o, b, 0);
    v128.store8_lane(o + gOrs, b, 1);
    v128.store8_lane(o + 2 * gOrs, b, 2);
    v128.store8_lane(o + 3 * gOrs, b, 3);
  }
}

/**
 * Finishes the 4×4 block of output rows gr0..gr0+3 × columns c..c+3 (raw values of column
 * c + j in vj): when the columns are contiguous (column stride 1, row-major GEMM output)
 * the 16 codes are narrowed together, transposed to rows and stored 4 bytes per row.
 */
// @ts-ignore: decorator
@inline export function finish4x4(gr0: i32, c: i32, v0: v128, v1: v128, v2: v128, v3: v128): void {
  if (gOcs != 1) {
    finish4(gr0, c, v0);
    finish4(gr0, c + 1, v1);
    finish4(gr0, c + 2, v2);
    finish4(gr0, c + 3, v3);
    return;
  }
  const n01 = i16x8.narrow_i32x4_s(req4(gr0, c, v0), req4(gr0, c + 1, v1));
  const n23 = i16x8.narrow_i32x4_s(req4(gr0, c + 2, v2), req4(gr0, c + 3, v3));
  const b = gQmin < 0 ? i8x16.narrow_i16x8_s(n01, n23) : i8x16.narrow_i16x8_u(n01, n23);
  storeRows4x4(gOut + <usize>gr0 * gOrs + <usize>c, gOrs, b);
}

/**
 * Finishes 8 consecutive output rows gr0..gr0+7 of column c (raw values of rows gr0..+3
 * in v0, gr0+4..+7 in v1): finish4 twice, sharing the column's loads and one 8-byte store
 * when the rows are contiguous (row stride 1, NCHW conv output).
 */
// @ts-ignore: decorator
@inline export function finish8(gr0: i32, c: i32, v0: v128, v1: v128): void {
  if (gOrs != 1) {
    finish4(gr0, c, v0);
    finish4(gr0 + 4, c, v1);
    return;
  }
  v128.store64_lane(gOut + <usize>gr0 + <usize>c * gOcs, codes8(gr0, c, v0, v1, 8), 0);
}

/**
 * The output codes (bytes 0..7) of rows gr0..gr0+7 of column c, row stride 1 (raw values
 * of rows gr0..+3 in v0, gr0+4..+7 in v1). n < 8: only rows gr0..gr0+n−1 are valid (the
 * fused residual is read for those alone: nothing past the output's end is read).
 */
// @ts-ignore: decorator
@inline export function codes8(gr0: i32, c: i32, v0: v128, v1: v128, n: i32): v128 {
  const co = <usize>c << 2;
  const s = gScalar ? <i32>gShift : load<i32>(gShift + co);
  const m = gScalar ? <i32>gMult : gTab ? load<i32>(gTab + (co << 4)) : load<i32>(gMult + co);
  let a0 = v0, a1 = v1;
  if (gCcol) {
    const cc = i32x4.splat(load<i32>(gCcol + co));
    a0 = i32x4.add(a0, cc);
    a1 = i32x4.add(a1, cc);
  }
  if (gCrow) {
    const r = gCrow + (<usize>gr0 << 2);
    a0 = i32x4.add(a0, v128.load(r));
    a1 = i32x4.add(a1, v128.load(r, 16));
  }
  if (gBias) {
    const b = i32x4.splat(load<i32>(gBias + co));
    a0 = addSat4(a0, b);
    a1 = addSat4(a1, b);
  }
  const off = <usize>gr0 + <usize>c * gOcs;
  let y0: v128, y1: v128;
  if (!gRes) {
    y0 = i32x4.add(mbqm4s(a0, m, s), vYzp);
    y1 = i32x4.add(mbqm4s(a1, m, s), vYzp);
  } else {
    const c0 = i32x4.min_s(i32x4.max_s(i32x4.add(mbqm4s(a0, m, s), vCzp), vDlo), vDhi);
    const c1 = i32x4.min_s(i32x4.max_s(i32x4.add(mbqm4s(a1, m, s), vCzp), vDlo), vDhi);
    const rb = n >= 8 ? v128.load64_zero(gRes + off) : load8n(gRes + off, n);
    if (gPtab) {
      const n16 = i16x8.narrow_i32x4_s(c0, c1);
      return pair8(gPtab, gDlo < 0 ? i8x16.narrow_i16x8_s(n16, n16) : i8x16.narrow_i16x8_u(n16, n16), rb);
    }
    const r16 = gRsigned ? i16x8.extend_low_i8x16_s(rb) : i16x8.extend_low_i8x16_u(rb);
    const r0 = i32x4.extend_low_i16x8_s(r16), r1 = i32x4.extend_high_i16x8_s(r16);
    y0 = i32x4.add(yReq4(resSum4(i32x4.sub(c0, vCzp), i32x4.sub(r0, vRzp))), vYzp);
    y1 = i32x4.add(yReq4(resSum4(i32x4.sub(c1, vCzp), i32x4.sub(r1, vRzp))), vYzp);
  }
  y0 = i32x4.min_s(i32x4.max_s(y0, vQmin), vQmax);
  y1 = i32x4.min_s(i32x4.max_s(y1, vQmin), vQmax);
  const n16 = i16x8.narrow_i32x4_s(y0, y1);
  return gQmin < 0 ? i8x16.narrow_i16x8_s(n16, n16) : i8x16.narrow_i16x8_u(n16, n16);
}

/** Stores bytes 0..n−1 of b at p (n < 8: a row's last outputs). */
// @ts-ignore: decorator
@inline export function storeN(p: usize, b: v128, n: i32): void {
  let v = i64x2.extract_lane(b, 0), q = p;
  if (n & 4) {
    store<u32>(q, <u32>v);
    v >>= 32;
    q += 4;
  }
  if (n & 2) {
    store<u16>(q, <u16>v);
    v >>= 16;
    q += 2;
  }
  if (n & 1) store<u8>(q, <u8>v);
}
