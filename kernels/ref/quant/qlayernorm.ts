/**
 * QLayerNorm (domain edgeq): integer-only layer normalization along the last axis, γ and
 * β folded into integers by the quantizer (the exact definition and the range of every
 * intermediate are in README.md beside this file).
 *
 * Per row of N codes (N <= 512):
 *
 *     sum = Σ q,  sq = Σ q²,  D_i = N·q_i − sum,  V = N·sq − sum²      (V < 2^32)
 *     σ   = isqrt_nearest(V + eps)                                      (eps in [1, 2^24])
 *     k   = 30 − bitlen(255·N)
 *     t_i = divRoundHalfAway(D_i · 2^k, σ)                              (|t_i| < 2^30)
 *     u_i = MBQM(sign_i · t_i, mult_i, shift_i)                         (1/16 output LSB)
 *     Y_i = clamp(y_zp + (sat32(u_i + bias_i + 8) >> 4), qmin, qmax)
 * @module
 */
import type { Attrs, AttrValue } from "../../../runtime/graph.ts";
import type { TensorMeta } from "../../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "../op.ts";
import { divRoundHalfAway, multiplyByQuantizedMultiplier, sat32 } from "./requant.ts";
import {
  newQ,
  type QDType,
  qDType,
  readClamp,
  readIntIn,
  readMultipliers,
  readQDType,
  readZp,
} from "./qutil.ts";

/** The longest row QLayerNorm accepts (so that `V + eps < 2^32`). */
export const QLAYERNORM_MAX_N = 512;
/** The largest `eps` attribute. */
export const QLAYERNORM_MAX_EPS = 2 ** 24;
/** The largest `|bias|`. */
export const QLAYERNORM_MAX_BIAS = 2 ** 30;

/**
 * The normalization shift `k = 30 − bitlen(255·n)`: `|N·q − Σq| · 2^k < 2^30`.
 *
 * @example
 * ```ts
 * layerNormShift(64); // 16 (255·64 = 16320 has 14 bits)
 * ```
 */
export function layerNormShift(n: number): number {
  return 30 - (32 - Math.clz32(255 * n));
}

/**
 * `sqrt(v)` rounded to the nearest integer, exactly, for an integer `0 <= v < 2^32`
 * (`floor(sqrt(v))` is exact in f64 for `v < 2^52`; the nearest is `s + 1` when
 * `v − s² > s`, as `(s + ½)² = s² + s + ¼`).
 *
 * @example
 * ```ts
 * isqrtNearest(6); // 2
 * isqrtNearest(7); // 3
 * ```
 */
export function isqrtNearest(v: number): number {
  const s = Math.floor(Math.sqrt(v));
  return v - s * s > s ? s + 1 : s;
}

function intList(
  ctx: OpContext,
  v: AttrValue | undefined,
  name: string,
  n: number,
  lo: number,
  hi: number,
): Int32Array {
  if (v === undefined) attrError(ctx, `attribute ${name} is required`);
  const list = typeof v === "number" ? [v] : Array.isArray(v) ? v as unknown[] : [];
  if (list.length !== 1 && list.length !== n) {
    attrError(ctx, `${name} has ${list.length} values, expected 1 or ${n}`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const e = list.length === 1 ? list[0] : list[i];
    if (typeof e !== "number" || !Number.isInteger(e) || e < lo || e > hi) {
      attrError(ctx, `${name}[${i}] must be an integer in [${lo}, ${hi}], got ${String(e)}`);
    }
    out[i] = e;
  }
  return out;
}

/** QLayerNorm's attributes, checked and expanded to the row length. */
export interface LayerNormParams {
  /** Row length N. */
  n: number;
  eps: number;
  mult: Int32Array;
  shift: Int32Array;
  sign: Int32Array;
  bias: Int32Array;
  yZp: number;
  qmin: number;
  qmax: number;
  dtype: QDType;
}

/**
 * Checks a QLayerNorm input and reads its attributes (EdgeqError naming the node).
 *
 * @example
 * ```ts
 * const p = readLayerNorm(ctx, { dtype: "uint8", shape: [1, 50, 64] }, attrs); // p.n = 64
 * ```
 */
export function readLayerNorm(ctx: OpContext, x: TensorMeta, attrs: Attrs): LayerNormParams {
  qDType(ctx, x, "X");
  if (x.shape.length < 1) shapeError(ctx, "QLayerNorm needs an input of rank >= 1");
  const n = x.shape[x.shape.length - 1];
  if (n < 1 || n > QLAYERNORM_MAX_N) {
    shapeError(ctx, `QLayerNorm rows must have 1..${QLAYERNORM_MAX_N} elements, got ${n}`);
  }
  const dtype = readQDType(ctx, attrs, "uint8");
  const [qmin, qmax] = readClamp(ctx, attrs, dtype);
  const { mult, shift } = readMultipliers(ctx, attrs, "mult", "shift", n);
  return {
    n,
    eps: readIntIn(ctx, attrs, "eps", 1, QLAYERNORM_MAX_EPS),
    mult,
    shift,
    sign: intList(ctx, attrs.sign, "sign", n, -1, 1),
    bias: intList(ctx, attrs.bias, "bias", n, -QLAYERNORM_MAX_BIAS, QLAYERNORM_MAX_BIAS),
    yZp: readZp(ctx, attrs, "y_zp", dtype),
    qmin,
    qmax,
    dtype,
  };
}

/**
 * QLayerNorm: integer layer normalization over the last axis with folded γ/β.
 *
 * @example
 * ```ts
 * // attrs { eps, mult[N], shift[N], sign[N], bias[N], y_zp, dtype: "uint8" }
 * ```
 */
export const QLayerNorm: OpDef = {
  attrs: ["eps", "mult", "shift", "sign", "bias", "y_zp", "dtype", "qmin", "qmax"],
  infer(ins, attrs, _consts, ctx) {
    const x = need(ins, 0, ctx);
    const p = readLayerNorm(ctx, x, attrs);
    return [{ dtype: p.dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const p = readLayerNorm(ctx, x, attrs);
    const y = newQ(p.dtype, x.shape);
    const n = p.n, k2 = 2 ** layerNormShift(n);
    const xd = x.data, yd = y.data;
    for (let base = 0; base + n <= xd.length; base += n) {
      let sum = 0, sq = 0;
      for (let j = 0; j < n; j++) {
        const v = xd[base + j];
        sum += v;
        sq += v * v;
      }
      // Exact in f64: n·sq < 2^25, sum² < 2^34. V is the same for int8 and uint8 codes.
      const sigma = isqrtNearest(n * sq - sum * sum + p.eps);
      for (let j = 0; j < n; j++) {
        const t = divRoundHalfAway((n * xd[base + j] - sum) * k2, sigma);
        const u = multiplyByQuantizedMultiplier(p.sign[j] * t, p.mult[j], p.shift[j]);
        const w = sat32(u + p.bias[j] + 8);
        const q = p.yZp + (w >> 4);
        yd[base + j] = q < p.qmin ? p.qmin : q > p.qmax ? p.qmax : q;
      }
    }
    return [y];
  },
};
