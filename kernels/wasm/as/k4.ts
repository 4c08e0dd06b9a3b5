// The k4 layout of the s8 GEMM (7-bit weights; encode.ts): output pixels × channels with
// no horizontal sums. Activations go in groups of 4 pixels, 4 reduction steps per lane:
//   A4: group g, quad j (k = 4j..4j+3) at a + g·ldg + 16·j:
//       [p0 k0..3 | p1 k0..3 | p2 k0..3 | p3 k0..3]   (a' = u − 128, the signed operand)
//   W4: row n at w + n·ldw, ldw = 4·kq: w' = w + 64 (0..127, the i7 operand), pad 0
// One relaxed dot of an A4 vector with the 4 bytes of W4 row n, quad j splatted gives
// lane i = Σ_k a'(p_i, k)·w'(n, k) over the quad: 4 pixels of one channel, the order the
// epilogue stores them in (NCHW). Pair sums stay within 2·128·127 = 32512 (as in the s8
// layout). K is padded to a multiple of 4 only (a' and w' are 0 in the padding).
// Tile: 8 pixels (2 groups) × 4 channels = 8 accumulators, 2 A loads + 4 splats per 8 dots.
import {
  EP_CROW, EP_CZP, EP_DHI, EP_DLO, EP_FTAB, EP_OCS, EP_ORS, EP_OUT, EP_PTAB, EP_QMAX, EP_QMIN,
  EP_RES, EP_SCALAR, EP_SHIFT, EP_YZP, codes8, finish, finish8, finish4, finishTab4x4, load8n, loadEp, pair8, storeN, storeRows4x4,
  storeRowsN, tabCodes4x4,
} from "./epilogue";
import { rdot, rsum } from "./dot";
import { clampCodes, codeOff, mbqmU4, narrowClamp8, zpCodes16 } from "./requant";

/** acc + the quad dot of a (A4 vector) with w (a splatted W4 quad), per pixel lane. */
// @ts-ignore: decorator
@inline export function dot4(acc: v128, a: v128, w: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return rdot(acc, a, w);
  // dot_i16x8 lanes are pair sums: pixel i = lanes 2i, 2i + 1 of (low half, high half)
  const l = i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(a), i16x8.extend_low_i8x16_u(w));
  const h = i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(a), i16x8.extend_high_i8x16_u(w));
  return i32x4.add(acc, i32x4.add(i32x4.shuffle(l, h, 0, 2, 4, 6), i32x4.shuffle(l, h, 1, 3, 5, 7)));
}

/** acc + the sum of each 4-byte lane group of an A4 vector (the pixels' Σa' over a quad). */
// @ts-ignore: decorator
@inline export function sum4(acc: v128, x: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return rsum(acc, x);
  return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.extadd_pairwise_i8x16_s(x)));
}

/** The row correction −64·Σa' of the 4 pixels of one A4 group (kq quads), as lanes. */
// @ts-ignore: decorator
@inline function rowCorr4(a: usize, kq: usize): v128 {
  let s = i32x4.splat(0);
  const kb = kq << 4;
  for (let k: usize = 0; k < kb; k += 16) s = sum4(s, v128.load(a + k));
  return i32x4.neg(i32x4.shl(s, 6));
}

// The fast 8-pixel output stage (fin8): per channel one bias vector (ccol + bias + 2^31,
// added wrapping), SRDHM then RDBPOT in one 64-bit step (requant.ts mbqmU4), then the
// zero point and clamp in i16 / i8 lanes. Exact when |raw| < 2^29 (|raw| <= 8192·K: the
// 7-bit operands), |ccol|, |bias| < 2^29 (|a| < 3·2^29: no int32 saturation, and
// |a| + 2^29 < 2^31 as mbqmU4 needs) and shift in [-30, -1]. A fused residual takes it when it has a pair table (EP_PTAB): the
// stage makes the conv's codes C (zero point c_zp, range [d_lo, d_hi]) and looks up
// T[C·256 + R]. Other channels, residuals without a table, row corrections, per-tensor
// multipliers and strided rows take finish8. The per-channel constants come from the
// record's channel table (EP_FTAB, 64 bytes a channel: ccol + bias + 2^31 and 2·mult as
// i32 vectors, mbqmU4's k as an i64 vector, then r, 0 for a channel of the full stage;
// ops_int8.ts fastTable), no table:
// no fast stage. The record's fields are read once per call (gemmK4).
let kFast: bool = false;
let kOut: usize = 0, kOcs: usize = 0, kFtab: usize = 0;
let kRes: usize = 0, kPtab: usize = 0;
// Row-major output (QGemm: pixels are rows of y, channels its columns, column stride 1;
// its record always has the vector table): the 8 × 4 tile is finished as two 4 × 4
// blocks, 4 contiguous bytes per row (rowFast8x4 with the channel table, else
// finishTab4x4).
let kRowMajor: bool = false, kRowFast: bool = false, kOrs: usize = 0;
// narrowClamp8's constants (offset by codeOff) for y, and for the conv's codes C of a pair table
let vZ16: v128 = i16x8.splat(0), vLo8: v128 = i8x16.splat(0), vHi8: v128 = i8x16.splat(0);
let vOff8: v128 = i8x16.splat(0);
let vCz16: v128 = i16x8.splat(0), vDlo8: v128 = i8x16.splat(0), vDhi8: v128 = i8x16.splat(0);
let vDoff8: v128 = i8x16.splat(0);

// @ts-ignore: decorator
@inline function ld(ep: usize, off: i32): i32 {
  return load<i32>(ep + <usize>off);
}

export function loadFast(ep: usize, kq: i32): void {
  kRowMajor = ld(ep, EP_OCS) == 1 && ld(ep, EP_ORS) != 1 && ld(ep, EP_SCALAR) == 2 && !ld(ep, EP_RES);
  kRes = <usize>ld(ep, EP_RES);
  kPtab = kRes ? <usize>ld(ep, EP_PTAB) : 0;
  kFtab = <usize>ld(ep, EP_FTAB);
  const fastOk = kFtab != 0 && kq <= 16384 && !ld(ep, EP_CROW);
  kFast = fastOk && (!kRes || kPtab != 0) && ld(ep, EP_ORS) == 1 && !ld(ep, EP_SCALAR);
  kRowFast = fastOk && kRowMajor;
  kOrs = <usize>ld(ep, EP_ORS);
  kOut = <usize>ld(ep, EP_OUT);
  kOcs = <usize>ld(ep, EP_OCS);
  const lo = ld(ep, EP_QMIN), hi = ld(ep, EP_QMAX);
  const off = codeOff(lo);
  vZ16 = i16x8.splat(<i16>(ld(ep, EP_YZP) - off));
  vLo8 = i8x16.splat(<i8>(lo - off));
  vHi8 = i8x16.splat(<i8>(hi - off));
  vOff8 = i8x16.splat(<i8>off);
  if (kPtab) {
    const dlo = ld(ep, EP_DLO), doff = codeOff(dlo);
    vCz16 = i16x8.splat(<i16>(ld(ep, EP_CZP) - doff));
    vDlo8 = i8x16.splat(<i8>(dlo - doff));
    vDhi8 = i8x16.splat(<i8>(ld(ep, EP_DHI) - doff));
    vDoff8 = i8x16.splat(<i8>doff);
  }
}

/** Whether the row-major 4 × 4 block at columns c..c+3 takes the fast stage (rowCodes4x4). */
// @ts-ignore: decorator
@inline function rowFastOk(c: i32): bool {
  if (!kRowFast) return false;
  const t = kFtab + (<usize>c << 6);
  return load<i32>(t, 48) != 0 && load<i32>(t, 112) != 0 && load<i32>(t, 176) != 0 && load<i32>(t, 240) != 0;
}

/**
 * The fast stage's codes of a row-major 4 × 4 block (raw values of column c + j in vj;
 * rowFastOk(c)): the columns' constants from the channel table, as [column][row] bytes
 * (storeRows4x4's order).
 */
// @ts-ignore: decorator
@inline function rowCodes4x4(c: i32, v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const t = kFtab + (<usize>c << 6);
  const r0 = load<i32>(t, 48), r1 = load<i32>(t, 112), r2 = load<i32>(t, 176), r3 = load<i32>(t, 240);
  const k0 = v128.load(t, 32), k1 = v128.load(t, 96), k2 = v128.load(t, 160), k3 = v128.load(t, 224);
  return codes16(
    mbqmU4(i32x4.add(v0, v128.load(t)), v128.load(t, 16), k0, k0, r0),
    mbqmU4(i32x4.add(v1, v128.load(t, 64)), v128.load(t, 80), k1, k1, r1),
    mbqmU4(i32x4.add(v2, v128.load(t, 128)), v128.load(t, 144), k2, k2, r2),
    mbqmU4(i32x4.add(v3, v128.load(t, 192)), v128.load(t, 208), k3, k3, r3),
  );
}

/** The codes of 4 rounded i32x4 (columns j = 0..3 in qj): y's zero point and clamp. */
// @ts-ignore: decorator
@inline function codes16(q0: v128, q1: v128, q2: v128, q3: v128): v128 {
  return clampCodes(zpCodes16(q0, q1, vZ16), zpCodes16(q2, q3, vZ16), vLo8, vHi8, vOff8);
}

/**
 * rowCodes4x4 of the two 4 × 4 blocks of an 8 × 4 tile (rows gr0..gr0+7, columns c..c+3;
 * rowFastOk(c)) with each column's constants loaded once for both (V8 reloads them after
 * the first block's stores), stored 4 bytes per row.
 */
// @ts-ignore: decorator
@inline function rowFast8x4(
  gr0: i32, c: i32, v0: v128, v1: v128, v2: v128, v3: v128, u0: v128, u1: v128, u2: v128, u3: v128,
): void {
  const t = kFtab + (<usize>c << 6);
  const r0 = load<i32>(t, 48), r1 = load<i32>(t, 112), r2 = load<i32>(t, 176), r3 = load<i32>(t, 240);
  const b0 = v128.load(t), b1 = v128.load(t, 64), b2 = v128.load(t, 128), b3 = v128.load(t, 192);
  const m0 = v128.load(t, 16), m1 = v128.load(t, 80), m2 = v128.load(t, 144), m3 = v128.load(t, 208);
  const k0 = v128.load(t, 32), k1 = v128.load(t, 96), k2 = v128.load(t, 160), k3 = v128.load(t, 224);
  const o = kOut + <usize>gr0 * kOrs + <usize>c;
  storeRows4x4(o, kOrs, codes16(
    mbqmU4(i32x4.add(v0, b0), m0, k0, k0, r0), mbqmU4(i32x4.add(v1, b1), m1, k1, k1, r1),
    mbqmU4(i32x4.add(v2, b2), m2, k2, k2, r2), mbqmU4(i32x4.add(v3, b3), m3, k3, k3, r3),
  ));
  storeRows4x4(o + (kOrs << 2), kOrs, codes16(
    mbqmU4(i32x4.add(u0, b0), m0, k0, k0, r0), mbqmU4(i32x4.add(u1, b1), m1, k1, k1, r1),
    mbqmU4(i32x4.add(u2, b2), m2, k2, k2, r2), mbqmU4(i32x4.add(u3, b3), m3, k3, k3, r3),
  ));
}

/**
 * The first n (1..3) rows of a row-major 4 × 4 block: the tail group of a GEMM whose
 * row count is not a multiple of 4 (its other rows are zero padding, never stored).
 */
function rowTail4x4(gr0: i32, c: i32, v0: v128, v1: v128, v2: v128, v3: v128, n: i32): void {
  const b = rowFastOk(c) ? rowCodes4x4(c, v0, v1, v2, v3) : tabCodes4x4(gr0, c, v0, v1, v2, v3);
  storeRowsN(kOut + <usize>gr0 * kOrs + <usize>c, kOrs, b, n);
}

/**
 * The fast stage of pixels gr0..gr0+n−1 (n <= 8) of channel c (v0: the first 4, v1: the
 * next 4): stores them and returns true, or false when the channel needs the full stage.
 */
// @ts-ignore: decorator
@inline function fast8(gr0: i32, c: i32, v0: v128, v1: v128, n: i32): bool {
  if (!kFast) return false;
  const t = kFtab + (<usize>c << 6);
  const r = load<i32>(t, 48);
  if (!r) return false;
  const b = v128.load(t), m2 = v128.load(t, 16), k = v128.load(t, 32);
  const q0 = mbqmU4(i32x4.add(v0, b), m2, k, k, r), q1 = mbqmU4(i32x4.add(v1, b), m2, k, k, r);
  const off = <usize>gr0 + <usize>c * kOcs, o = kOut + off;
  let y: v128;
  if (kPtab) {
    const cb = narrowClamp8(q0, q1, vCz16, vDlo8, vDhi8, vDoff8);
    y = pair8(kPtab, cb, n >= 8 ? v128.load64_zero(kRes + off) : load8n(kRes + off, n));
  } else y = narrowClamp8(q0, q1, vZ16, vLo8, vHi8, vOff8);
  if (n >= 8) v128.store64_lane(o, y, 0);
  else storeN(o, y, n);
  return true;
}

/** finish8 of pixels gr0..gr0+7 of channel c (v0: the first 4, v1: the next 4). */
// @ts-ignore: decorator
@inline function fin8(gr0: i32, c: i32, v0: v128, v1: v128): void {
  if (!fast8(gr0, c, v0, v1, 8)) finish8(gr0, c, v0, v1);
}

/**
 * fin8 of pixels gr0..gr0+n−1 only (n <= 8; row stride 1, as conv outputs): the others
 * are neither stored nor their residual read. The full stage is out of line.
 */
// @ts-ignore: decorator
@inline export function fin8n(gr0: i32, c: i32, v0: v128, v1: v128, n: i32): void {
  if (!fast8(gr0, c, v0, v1, n)) full8n(gr0, c, v0, v1, n);
}

function full8n(gr0: i32, c: i32, v0: v128, v1: v128, n: i32): void {
  const y = codes8(gr0, c, v0, v1, n), o = kOut + <usize>gr0 + <usize>c * kOcs;
  if (n >= 8) v128.store64_lane(o, y, 0);
  else storeN(o, y, n);
}

/** Finishes lanes [i0, i1) of v (pixels gr0 + lane, channel c) one by one. */
// @ts-ignore: decorator
@inline function finishLanes(gr0: i32, c: i32, v: v128, i0: i32, i1: i32): void {
  if (i0 <= 0 && 0 < i1) finish(gr0, c, i32x4.extract_lane(v, 0));
  if (i0 <= 1 && 1 < i1) finish(gr0 + 1, c, i32x4.extract_lane(v, 1));
  if (i0 <= 2 && 2 < i1) finish(gr0 + 2, c, i32x4.extract_lane(v, 2));
  if (i0 <= 3 && 3 < i1) finish(gr0 + 3, c, i32x4.extract_lane(v, 3));
}

/**
 * One group (4 pixels from pixel gr0 = 4g) × channels [c0, c1); lanes [i0, i1) are
 * finished (a partial group at a part's edge: the others belong to another part).
 */
function groupK4(a: usize, w: usize, ldw: usize, kq: usize, gr0: i32, c0: i32, c1: i32, i0: i32, i1: i32): void {
  const q = rowCorr4(a, kq);
  const kb = kq << 4;
  const full = i0 == 0 && i1 == 4;
  let c = c0;
  for (; c + 4 <= c1; c += 4) {
    const w0 = w + <usize>c * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
    let s0 = q, s1 = q, s2 = q, s3 = q;
    for (let k: usize = 0, kw: usize = 0; k < kb; k += 16, kw += 4) {
      const x = v128.load(a + k);
      s0 = dot4(s0, x, v128.load32_splat(w0 + kw));
      s1 = dot4(s1, x, v128.load32_splat(w1 + kw));
      s2 = dot4(s2, x, v128.load32_splat(w2 + kw));
      s3 = dot4(s3, x, v128.load32_splat(w3 + kw));
    }
    if (full) {
      finish4(gr0, c, s0);
      finish4(gr0, c + 1, s1);
      finish4(gr0, c + 2, s2);
      finish4(gr0, c + 3, s3);
    } else if (i0 == 0 && kRowMajor) {
      // the tail rows of a row-major GEMM (e.g. 50 tokens = 12 groups + 2 rows)
      rowTail4x4(gr0, c, s0, s1, s2, s3, i1);
    } else if (i0 == 0 && kOrs == 1) {
      // the tail pixels of a conv (e.g. 7 × 7 = 12 groups + 1 pixel; kRowMajor has ors != 1)
      const z = i32x4.splat(0);
      fin8n(gr0, c, s0, z, i1);
      fin8n(gr0, c + 1, s1, z, i1);
      fin8n(gr0, c + 2, s2, z, i1);
      fin8n(gr0, c + 3, s3, z, i1);
    } else {
      finishLanes(gr0, c, s0, i0, i1);
      finishLanes(gr0, c + 1, s1, i0, i1);
      finishLanes(gr0, c + 2, s2, i0, i1);
      finishLanes(gr0, c + 3, s3, i0, i1);
    }
  }
  for (; c < c1; c++) {
    const w0 = w + <usize>c * ldw;
    let s0 = q;
    for (let k: usize = 0, kw: usize = 0; k < kb; k += 16, kw += 4) {
      s0 = dot4(s0, v128.load(a + k), v128.load32_splat(w0 + kw));
    }
    if (full) finish4(gr0, c, s0);
    else if (i0 == 0 && kOrs == 1) fin8n(gr0, c, s0, i32x4.splat(0), i1);
    else finishLanes(gr0, c, s0, i0, i1);
  }
}

/** Two whole groups (8 pixels from gr0) × channels [c0, c1): the 8 × 4 tile. */
function pairK4(a: usize, ldg: usize, w: usize, ldw: usize, kq: usize, gr0: i32, c0: i32, c1: i32): void {
  const a1 = a + ldg;
  const q0 = rowCorr4(a, kq), q1 = rowCorr4(a1, kq);
  const kb = kq << 4;
  let c = c0;
  for (; c + 4 <= c1; c += 4) {
    const w0 = w + <usize>c * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
    let s00 = q0, s01 = q0, s02 = q0, s03 = q0;
    let s10 = q1, s11 = q1, s12 = q1, s13 = q1;
    // two quads per iteration, the second at immediate offsets (+16 / +4) of the first's
    // addresses: Deno's V8 bounds-checks every wasm load in code (no trap handler), and
    // the loop's own overhead (counters, stack check, memory size reload) is paid once per
    // two quads. The odd-kq tail below repeats the first quad: leaving the loop after it
    // instead (a test in the loop) measured 1.5-2.7% slower on ViT-tiny and MobileNetV2
    let k: usize = 0, kw: usize = 0;
    for (; k + 32 <= kb; k += 32, kw += 8) {
      let x0 = v128.load(a + k), x1 = v128.load(a1 + k);
      let v = v128.load32_splat(w0 + kw);
      s00 = dot4(s00, x0, v);
      s10 = dot4(s10, x1, v);
      v = v128.load32_splat(w1 + kw);
      s01 = dot4(s01, x0, v);
      s11 = dot4(s11, x1, v);
      v = v128.load32_splat(w2 + kw);
      s02 = dot4(s02, x0, v);
      s12 = dot4(s12, x1, v);
      v = v128.load32_splat(w3 + kw);
      s03 = dot4(s03, x0, v);
      s13 = dot4(s13, x1, v);
      x0 = v128.load(a + k, 16);
      x1 = v128.load(a1 + k, 16);
      v = v128.load32_splat(w0 + kw, 4);
      s00 = dot4(s00, x0, v);
      s10 = dot4(s10, x1, v);
      v = v128.load32_splat(w1 + kw, 4);
      s01 = dot4(s01, x0, v);
      s11 = dot4(s11, x1, v);
      v = v128.load32_splat(w2 + kw, 4);
      s02 = dot4(s02, x0, v);
      s12 = dot4(s12, x1, v);
      v = v128.load32_splat(w3 + kw, 4);
      s03 = dot4(s03, x0, v);
      s13 = dot4(s13, x1, v);
    }
    if (k < kb) {
      const x0 = v128.load(a + k), x1 = v128.load(a1 + k);
      let v = v128.load32_splat(w0 + kw);
      s00 = dot4(s00, x0, v);
      s10 = dot4(s10, x1, v);
      v = v128.load32_splat(w1 + kw);
      s01 = dot4(s01, x0, v);
      s11 = dot4(s11, x1, v);
      v = v128.load32_splat(w2 + kw);
      s02 = dot4(s02, x0, v);
      s12 = dot4(s12, x1, v);
      v = v128.load32_splat(w3 + kw);
      s03 = dot4(s03, x0, v);
      s13 = dot4(s13, x1, v);
    }
    if (kRowMajor) {
      if (rowFastOk(c)) rowFast8x4(gr0, c, s00, s01, s02, s03, s10, s11, s12, s13);
      else {
        finishTab4x4(gr0, c, s00, s01, s02, s03);
        finishTab4x4(gr0 + 4, c, s10, s11, s12, s13);
      }
    } else {
      fin8(gr0, c, s00, s10);
      fin8(gr0, c + 1, s01, s11);
      fin8(gr0, c + 2, s02, s12);
      fin8(gr0, c + 3, s03, s13);
    }
  }
  for (; c < c1; c++) {
    const w0 = w + <usize>c * ldw;
    let s0 = q0, s1 = q1;
    for (let k: usize = 0, kw: usize = 0; k < kb; k += 16, kw += 4) {
      const v = v128.load32_splat(w0 + kw);
      s0 = dot4(s0, v128.load(a + k), v);
      s1 = dot4(s1, v128.load(a1 + k), v);
    }
    fin8(gr0, c, s0, s1);
  }
}

/**
 * Output pixels [p0, p1) × channels [c0, c1) of the k4 GEMM: a4 holds the A4 groups of
 * every pixel (group g at a4 + g·ldg, ldg = 16·kq), w the W4 rows. Only the outputs of
 * pixels [p0, p1) are written (a group cut by p0 or p1 is finished lane by lane).
 */
export function gemmK4(a4: usize, ldg: i32, w: usize, ldw: i32, kq: i32, ep: usize, p0: i32, p1: i32, c0: i32, c1: i32): void {
  loadEp(ep);
  loadFast(ep, kq);
  const lg = <usize>ldg, lw = <usize>ldw, q = <usize>kq;
  let p = p0;
  if (p & 3) {
    const g0 = p & ~3, e = p1 < g0 + 4 ? p1 : g0 + 4;
    groupK4(a4 + <usize>(g0 >> 2) * lg, w, lw, q, g0, c0, c1, p - g0, e - g0);
    p = e;
  }
  for (; p + 8 <= p1; p += 8) pairK4(a4 + <usize>(p >> 2) * lg, lg, w, lw, q, p, c0, c1);
  for (; p < p1; p += 4) {
    const e = p1 < p + 4 ? p1 : p + 4;
    groupK4(a4 + <usize>(p >> 2) * lg, w, lw, q, p, c0, c1, 0, e - p);
  }
}

/**
 * gemmK4 over the output pixels of 8-pixel blocks [lo, hi) of P pixels, all channels
 * [0, M): the threads split whole blocks, so no 4-pixel group is cut between two parts
 * (a cut group takes the lane-by-lane scalar stage).
 */
export function gemm_k4_rows(a4: usize, ldg: i32, w: usize, ldw: i32, kq: i32, ep: usize, M: i32, P: i32, lo: i32, hi: i32, _tid: i32): void {
  const p1 = hi << 3;
  gemmK4(a4, ldg, w, ldw, kq, ep, lo << 3, p1 < P ? p1 : P, 0, M);
}

/**
 * NCHW image (C channels of HW pixels, 8-bit; signed: int8) → A4 groups [lo, hi) (group g
 * = pixels 4g..4g+3 at dst + g·16·kq); pixels ≥ HW and channels ≥ C hold 0. Runs of 4
 * groups × 4 channels go through a SIMD byte interleave, the rest byte by byte.
 */
export function prep_k4(x: usize, signed: i32, C: i32, HW: i32, kq: i32, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const flip: u8 = signed ? 0 : 0x80;
  const fv = i8x16.splat(<i8>flip);
  const hw = <usize>HW, ldg = <usize>kq << 4, cq = C >> 2;
  let g = lo;
  for (; g + 4 <= hi && (g << 2) + 16 <= HW; g += 4) {
    const p = <usize>(g << 2);
    let d = dst + <usize>g * ldg;
    for (let j = 0; j < cq; j++, d += 16) zip16(x + <usize>(j << 2) * hw + p, hw, fv, d, ldg);
    // the channel tail quad of these 4 groups
    if (cq < kq) for (let i = 0; i < 4; i++) prepTail(x, flip, C, HW, kq, dst, g + i, cq);
  }
  for (; g < hi; g++) prepTail(x, flip, C, HW, kq, dst, g, 0);
}

/**
 * 16 pixels (bytes at s, s + hw, s + 2·hw, s + 3·hw: 4 channel rows, xor fv) → 4 vectors
 * [p0 c0..3 | p1 c0..3 | p2 c0..3 | p3 c0..3] of pixels 4i..4i+3 at d + i·ld.
 */
// @ts-ignore: decorator
@inline export function zip16(s: usize, hw: usize, fv: v128, d: usize, ld: usize): void {
  const r0 = v128.xor(v128.load(s), fv), r1 = v128.xor(v128.load(s + hw), fv);
  const r2 = v128.xor(v128.load(s + 2 * hw), fv), r3 = v128.xor(v128.load(s + 3 * hw), fv);
  const t0 = i8x16.shuffle(r0, r1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t1 = i8x16.shuffle(r0, r1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const t2 = i8x16.shuffle(r2, r3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const t3 = i8x16.shuffle(r2, r3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  v128.store(d, i16x8.shuffle(t0, t2, 0, 8, 1, 9, 2, 10, 3, 11));
  v128.store(d + ld, i16x8.shuffle(t0, t2, 4, 12, 5, 13, 6, 14, 7, 15));
  v128.store(d + 2 * ld, i16x8.shuffle(t1, t3, 0, 8, 1, 9, 2, 10, 3, 11));
  v128.store(d + 3 * ld, i16x8.shuffle(t1, t3, 4, 12, 5, 13, 6, 14, 7, 15));
}

/**
 * Row-major 8-bit rows (row r at x + r·K; signed: int8) → A4 groups [lo, hi) (group g =
 * rows 4g..4g+3 at dst + g·16·kq); rows ≥ R and k ≥ K hold 0. Four quads of 4 whole rows
 * at a time are a 4 × 4 transpose of 32-bit lanes; the rest byte by byte.
 */
export function prep_k4_rows(x: usize, signed: i32, K: i32, R: i32, kq: i32, dst: usize, lo: i32, hi: i32, _tid: i32): void {
  const flip: u8 = signed ? 0 : 0x80;
  const fv = i8x16.splat(<i8>flip);
  const ldg = <usize>kq << 4, lk = <usize>K, k16 = K >> 4;
  for (let g = lo; g < hi; g++) {
    const d = dst + <usize>g * ldg;
    let j = 0;
    if ((g << 2) + 4 <= R) {
      const s0 = x + <usize>(g << 2) * lk, s1 = s0 + lk, s2 = s1 + lk, s3 = s2 + lk;
      for (let b = 0; b < k16; b++) {
        const o = <usize>b << 4;
        const v0 = v128.xor(v128.load(s0 + o), fv), v1 = v128.xor(v128.load(s1 + o), fv);
        const v2 = v128.xor(v128.load(s2 + o), fv), v3 = v128.xor(v128.load(s3 + o), fv);
        const t0 = i32x4.shuffle(v0, v1, 0, 4, 1, 5), t1 = i32x4.shuffle(v2, v3, 0, 4, 1, 5);
        const t2 = i32x4.shuffle(v0, v1, 2, 6, 3, 7), t3 = i32x4.shuffle(v2, v3, 2, 6, 3, 7);
        const q = d + (o << 2);
        v128.store(q, i32x4.shuffle(t0, t1, 0, 1, 4, 5));
        v128.store(q + 16, i32x4.shuffle(t0, t1, 2, 3, 6, 7));
        v128.store(q + 32, i32x4.shuffle(t2, t3, 0, 1, 4, 5));
        v128.store(q + 48, i32x4.shuffle(t2, t3, 2, 3, 6, 7));
      }
      j = k16 << 2;
    }
    for (; j < kq; j++) {
      for (let i = 0; i < 4; i++) {
        const r = (g << 2) + i;
        for (let k = 0; k < 4; k++) {
          const kk = (j << 2) + k;
          const v: u8 = r < R && kk < K ? load<u8>(x + <usize>r * lk + <usize>kk) ^ flip : 0;
          store<u8>(d + <usize>((j << 4) + (i << 2) + k), v);
        }
      }
    }
  }
}

/** Quads [j0, kq) of A4 group g, byte by byte. */
function prepTail(x: usize, flip: u8, C: i32, HW: i32, kq: i32, dst: usize, g: i32, j0: i32): void {
  const d = dst + <usize>g * (<usize>kq << 4);
  for (let j = j0; j < kq; j++) {
    for (let i = 0; i < 4; i++) {
      const p = (g << 2) + i;
      for (let k = 0; k < 4; k++) {
        const c = (j << 2) + k;
        const v: u8 = p < HW && c < C ? load<u8>(x + <usize>c * <usize>HW + <usize>p) ^ flip : 0;
        store<u8>(d + <usize>((j << 4) + (i << 2) + k), v);
      }
    }
  }
}
