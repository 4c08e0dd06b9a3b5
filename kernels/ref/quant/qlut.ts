/**
 * QLut (domain edgeq): an elementwise 8-bit → 8-bit function given by a 256-entry
 * table. `Y[i] = table[X[i] − min(X's dtype)]` (so entry 0 is code −128 for int8, code 0
 * for uint8). The quantizer computes the table once, by running a float chain (GELU,
 * Sigmoid, Tanh, ...) with the reference ops on the 256 dequantized codes and
 * quantizing the result with the calibrated output parameters: every backend then gives
 * the same bits by construction.
 * @module
 */
import type { Attrs } from "../../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "../op.ts";
import { newQ, type QDType, qDType, qRange, readQDType } from "./qutil.ts";

/**
 * Reads and checks QLut's `table` attribute: exactly 256 integers in the output dtype's
 * range.
 *
 * @example
 * ```ts
 * const t = readTable(ctx, { table: Array.from({ length: 256 }, (_, i) => i) }, "uint8");
 * ```
 */
export function readTable(ctx: OpContext, attrs: Attrs, dtype: QDType): Int32Array {
  const v = attrs.table;
  if (!Array.isArray(v) || v.length !== 256) {
    attrError(
      ctx,
      `table must be a list of 256 integers, got ${Array.isArray(v) ? v.length : typeof v}`,
    );
  }
  const [lo, hi] = qRange(dtype);
  const t = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const e = v[i];
    if (typeof e !== "number" || !Number.isInteger(e) || e < lo || e > hi) {
      attrError(ctx, `table[${i}] must be an integer in [${lo}, ${hi}], got ${String(e)}`);
    }
    t[i] = e;
  }
  return t;
}

function meta(ctx: OpContext, x: TensorMeta, attrs: Attrs): TensorMeta {
  qDType(ctx, x, "X");
  return { dtype: readQDType(ctx, attrs, "uint8"), shape: [...x.shape] };
}

/**
 * QLut: `Y = table[X − dtypeMin(X)]` elementwise; output dtype `dtype` (default uint8).
 *
 * @example
 * ```ts
 * // attrs { table: [256 codes], dtype: "uint8" }: uint8 [0, 3] -> [table[0], table[3]]
 * ```
 */
export const QLut: OpDef = {
  attrs: ["table", "dtype"],
  infer(ins, attrs, _consts, ctx) {
    const m = meta(ctx, need(ins, 0, ctx), attrs);
    readTable(ctx, attrs, m.dtype as QDType);
    return [m];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const m = meta(ctx, x, attrs);
    const table = readTable(ctx, attrs, m.dtype as QDType);
    const lo = x.dtype === "int8" ? -128 : 0;
    const y: Tensor = newQ(m.dtype as QDType, x.shape);
    const xd = x.data, yd = y.data;
    for (let i = 0; i < xd.length; i++) yd[i] = table[xd[i] - lo];
    return [y];
  },
};
