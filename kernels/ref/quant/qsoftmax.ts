/**
 * QSoftmax (domain edgeq): integer-only softmax along the last axis (the exact
 * definition is in README.md beside this file).
 *
 * Per row of N codes: `d_i = max(q) − q_i` (0..255), `e_i = exp_table[d_i]` (the
 * quantizer's `round(2^16 · exp(−s_eff · d))`, never recomputed at run time),
 * `S = Σ e_i`, and `Y_i = min(255, floor((e_i · r + floor(S / 2)) / S))`: uint8 with
 * scale `1/r`, zero point 0. Every intermediate is an exact integer below 2^32.
 * @module
 */
import type { Attrs } from "../../../runtime/graph.ts";
import type { TensorMeta } from "../../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "../op.ts";
import { newQ, qDType, readIntIn } from "./qutil.ts";

/** The longest softmax row QSoftmax accepts (so that `S <= 2^31`). */
export const QSOFTMAX_MAX_N = 32768;
/** The largest `r` (output scale `1/r`). */
export const QSOFTMAX_MAX_R = 32767;
/** `exp_table` entries are `round(2^16 · exp(−s · d))`, at most this. */
export const QSOFTMAX_ONE = 65536;

/**
 * Reads QSoftmax's `exp_table` (256 integers in `[0, 2^16]`, entry 0 at least 1) and `r`
 * (integer in `[1, 32767]`).
 *
 * @example
 * ```ts
 * const { table, r } = readSoftmaxAttrs(ctx, { exp_table: [65536, ...], r: 255 });
 * ```
 */
export function readSoftmaxAttrs(ctx: OpContext, attrs: Attrs): { table: Int32Array; r: number } {
  const v = attrs.exp_table;
  if (!Array.isArray(v) || v.length !== 256) {
    attrError(ctx, "exp_table must be a list of 256 integers");
  }
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const e = v[i];
    if (typeof e !== "number" || !Number.isInteger(e) || e < 0 || e > QSOFTMAX_ONE) {
      attrError(ctx, `exp_table[${i}] must be an integer in [0, 65536], got ${String(e)}`);
    }
    table[i] = e;
  }
  if (table[0] < 1) attrError(ctx, "exp_table[0] must be at least 1");
  const r = readIntIn(ctx, attrs, "r", 1, QSOFTMAX_MAX_R);
  return { table, r };
}

function meta(ctx: OpContext, x: TensorMeta): TensorMeta {
  qDType(ctx, x, "X");
  if (x.shape.length < 1) shapeError(ctx, "QSoftmax needs an input of rank >= 1");
  const n = x.shape[x.shape.length - 1];
  if (n > QSOFTMAX_MAX_N) shapeError(ctx, `softmax rows longer than ${QSOFTMAX_MAX_N}: ${n}`);
  return { dtype: "uint8", shape: [...x.shape] };
}

/**
 * QSoftmax: integer softmax over the last axis; output uint8, scale `1/r`, zero point 0.
 *
 * @example
 * ```ts
 * // attrs { exp_table: E (256 ints), r: 255 }: a row of equal codes [7, 7, 7] -> [85, 85, 85]
 * ```
 */
export const QSoftmax: OpDef = {
  attrs: ["exp_table", "r"],
  infer(ins, attrs, _consts, ctx) {
    readSoftmaxAttrs(ctx, attrs);
    return [meta(ctx, need(ins, 0, ctx))];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const m = meta(ctx, x);
    const { table, r } = readSoftmaxAttrs(ctx, attrs);
    const y = newQ("uint8", m.shape);
    const n = m.shape[m.shape.length - 1];
    const xd = x.data, yd = y.data;
    const e = new Int32Array(n);
    for (let base = 0; base + n <= xd.length && n > 0; base += n) {
      let mx = xd[base];
      for (let j = 1; j < n; j++) if (xd[base + j] > mx) mx = xd[base + j];
      let s = 0;
      for (let j = 0; j < n; j++) s += e[j] = table[mx - xd[base + j]];
      const half = (s - (s % 2)) / 2;
      for (let j = 0; j < n; j++) {
        const a = e[j] * r + half; // < 2^32
        const qv = (a - (a % s)) / s;
        yd[base + j] = qv > 255 ? 255 : qv;
      }
    }
    return [y];
  },
};
