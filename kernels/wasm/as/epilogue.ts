// The fused output stage of QConv / QGemm / QMatMul, described by an i32 record in
// memory (field offsets below; kernels/wasm/plan.ts writes it).
import { ld8, qaddCore, requant, sat32 } from "./requant";

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
/** Per-tensor multiplier (QMatMul): mult/shift are values, not pointers. */
export const EP_SCALAR: i32 = 92;
export const EP_WORDS: i32 = 24;

// @ts-ignore: decorator
@inline function f(ep: usize, off: i32): i32 {
  return load<i32>(ep + <usize> off);
}

/** Finishes one output: raw accumulator of output row gr, column c. */
export function finish(ep: usize, gr: i32, c: i32, raw: i32): void {
  const cc = f(ep, EP_CCOL);
  let acc = raw;
  if (cc) acc += load<i32>(<usize> cc + (<usize> c << 2));
  const cr = f(ep, EP_CROW);
  if (cr) acc += load<i32>(<usize> cr + (<usize> gr << 2));
  const b = f(ep, EP_BIAS);
  if (b) acc = sat32(<i64> acc + <i64> load<i32>(<usize> b + (<usize> c << 2)));
  let m: i32, s: i32;
  if (f(ep, EP_SCALAR)) {
    m = f(ep, EP_MULT);
    s = f(ep, EP_SHIFT);
  } else {
    m = load<i32>(<usize> f(ep, EP_MULT) + (<usize> c << 2));
    s = load<i32>(<usize> f(ep, EP_SHIFT) + (<usize> c << 2));
  }
  const idx = <usize> gr * <usize> f(ep, EP_ORS) + <usize> c * <usize> f(ep, EP_OCS);
  const res = f(ep, EP_RES);
  let y: i32;
  if (!res) {
    y = requant(acc, m, s, f(ep, EP_YZP), f(ep, EP_QMIN), f(ep, EP_QMAX));
  } else {
    const czp = f(ep, EP_CZP);
    const cv = requant(acc, m, s, czp, f(ep, EP_DLO), f(ep, EP_DHI));
    const rv = ld8(<usize> res + idx, f(ep, EP_RSIGNED));
    y = qaddCore(
      cv - czp,
      rv - f(ep, EP_RZP),
      f(ep, EP_CM),
      f(ep, EP_CS),
      f(ep, EP_RM),
      f(ep, EP_RS),
      f(ep, EP_YM),
      f(ep, EP_YS),
      f(ep, EP_YZP),
      f(ep, EP_QMIN),
      f(ep, EP_QMAX),
    );
  }
  store<u8>(<usize> f(ep, EP_OUT) + idx, <u8> y);
}
