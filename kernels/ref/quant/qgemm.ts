/**
 * QGemm and QMatMul (domain edgeq): quantized matrix products with int32 accumulation
 * and fixed-point requantization ({@link requantize}).
 *
 * - QGemm (a fully connected / linear layer): `X` int8/uint8 `[..., K]` (zero point
 *   `x_zp`), `W` int8 `[N, K]` (row n = output channel n, symmetric, zero point 0),
 *   optional `B` int32 `[N]`; per-output-channel `mult`/`shift` (or one pair):
 *
 *       acc[r, n] = sat32(B[n] + Σ_k (X[r, k] − x_zp) · W[n, k]),   K <= 65536
 *       Y[r, n]   = clamp(MBQM(acc, mult[n], shift[n]) + y_zp, qmin, qmax)       Y: [..., N]
 *
 * - QMatMul (activation × activation, e.g. attention): `A` `[..., M, K]` (`a_zp`), `B`
 *   `[..., K, N]` (`b_zp`), both int8/uint8, rank >= 2, batch dims broadcast like ONNX
 *   MatMul; one per-tensor `mult`/`shift`:
 *
 *       acc = Σ_k (A[.., m, k] − a_zp) · (B[.., k, n] − b_zp),   K <= 33025
 *       Y   = clamp(MBQM(acc, mult, shift) + y_zp, qmin, qmax)
 *
 * The K bounds make the int32 sums exact: 65536·255·128 and 33025·255·255 are < 2^31.
 * @module
 */
import type { Attrs } from "../../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "../op.ts";
import { gemmAccF64 } from "../gemm_f64.ts";
import { broadcastIndex, broadcastShapes } from "../broadcast.ts";
import { requantize, sat32 } from "./requant.ts";
import { QCONV_MAX_K } from "./qconv.ts";
import {
  checkBias,
  needDType,
  newQ,
  qDType,
  readClamp,
  readMultipliers,
  readQDType,
  readWeight,
  readZp,
} from "./qutil.ts";

/** The largest QMatMul reduction length with an exact int32 sum (8-bit × 8-bit). */
export const QMATMUL_MAX_K = 33025;

/** Requantization attributes shared by QGemm and QMatMul. */
const REQUANT_ATTRS = ["mult", "shift", "y_zp", "dtype", "qmin", "qmax"] as const;

function qgemmMeta(
  ctx: OpContext,
  x: TensorMeta,
  w: TensorMeta,
  b: TensorMeta | undefined,
  attrs: Attrs,
): TensorMeta {
  const xdt = qDType(ctx, x, "X");
  needDType(ctx, w, "int8", "W");
  if (x.shape.length < 1) shapeError(ctx, "X must have rank >= 1");
  if (w.shape.length !== 2) shapeError(ctx, `W must be [N, K], got ${fmtShape(w.shape)}`);
  const [n, k] = w.shape;
  if (x.shape[x.shape.length - 1] !== k) {
    shapeError(ctx, `X ${fmtShape(x.shape)} does not end in W's K = ${k}`);
  }
  if (k > QCONV_MAX_K) shapeError(ctx, `K = ${k} exceeds ${QCONV_MAX_K}: int32 could overflow`);
  checkBias(ctx, b, n);
  return { dtype: readQDType(ctx, attrs, xdt), shape: [...x.shape.slice(0, -1), n] };
}

function runQGemm(
  ctx: OpContext,
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  attrs: Attrs,
): Tensor {
  const meta = qgemmMeta(ctx, x, w, b, attrs);
  const ydt = meta.dtype as "int8" | "uint8";
  const [n, k] = w.shape;
  const { mult, shift } = readMultipliers(ctx, attrs, "mult", "shift", n);
  const xZp = readZp(ctx, attrs, "x_zp", x.dtype as "int8" | "uint8");
  const yZp = readZp(ctx, attrs, "y_zp", ydt);
  const [qmin, qmax] = readClamp(ctx, attrs, ydt);
  const rows = x.data.length / k;
  const xs = new Float64Array(x.data.length);
  for (let i = 0; i < xs.length; i++) xs[i] = x.data[i] - xZp;
  const wt = new Float64Array(k * n); // W transposed: [K, N]
  for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) wt[p * n + j] = w.data[j * k + p];
  const acc = new Float64Array(rows * n);
  gemmAccF64(rows, n, k, xs, 0, k, wt, 0, n, acc, 0, n);
  const y = newQ(ydt, meta.shape);
  const yd = y.data, bd = b?.data;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      const a = sat32(acc[r * n + j] + (bd ? bd[j] : 0));
      yd[r * n + j] = requantize(a, mult[j], shift[j], yZp, qmin, qmax);
    }
  }
  return y;
}

/**
 * QGemm: `[..., K] × W[N, K]ᵀ (+ B)` with per-channel requantization.
 *
 * @example
 * ```ts
 * // X uint8 [50, 64], W int8 [10, 64], B int32 [10]; attrs { x_zp: 0, mult, shift,
 * //   y_zp: 3, dtype: "int8" }  ->  Y int8 [50, 10]
 * ```
 */
export const QGemm: OpDef = {
  attrs: ["x_zp", ...REQUANT_ATTRS, "w_layout", "w_shape"],
  infer(ins, attrs, _consts, ctx) {
    const w = readWeight(ctx, need(ins, 1, ctx), attrs);
    return [qgemmMeta(ctx, need(ins, 0, ctx), w, ins[2], attrs)];
  },
  run(ins, attrs, ctx) {
    const w = readWeight(ctx, need(ins, 1, ctx), attrs);
    return [runQGemm(ctx, need(ins, 0, ctx), w, ins[2], attrs)];
  },
};

interface MatMulGeom {
  m: number;
  k: number;
  n: number;
  batch: number[];
  shape: number[];
}

function qmatmulGeom(ctx: OpContext, a: TensorMeta, b: TensorMeta): MatMulGeom {
  qDType(ctx, a, "A");
  qDType(ctx, b, "B");
  if (a.shape.length < 2 || b.shape.length < 2) {
    shapeError(ctx, `A ${fmtShape(a.shape)} and B ${fmtShape(b.shape)} must have rank >= 2`);
  }
  const [m, k] = a.shape.slice(-2), [k2, n] = b.shape.slice(-2);
  if (k !== k2) shapeError(ctx, `A ${fmtShape(a.shape)} × B ${fmtShape(b.shape)}: K differs`);
  if (k > QMATMUL_MAX_K) shapeError(ctx, `K = ${k} exceeds ${QMATMUL_MAX_K}: int32 could overflow`);
  const batch = broadcastShapes(ctx, a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { m, k, n, batch, shape: [...batch, m, n] };
}

function runQMatMul(ctx: OpContext, a: Tensor, b: Tensor, attrs: Attrs): Tensor {
  const g = qmatmulGeom(ctx, a, b);
  const ydt = readQDType(ctx, attrs, a.dtype as "int8" | "uint8");
  const { mult, shift } = readMultipliers(ctx, attrs, "mult", "shift", 1);
  const aZp = readZp(ctx, attrs, "a_zp", a.dtype as "int8" | "uint8");
  const bZp = readZp(ctx, attrs, "b_zp", b.dtype as "int8" | "uint8");
  const yZp = readZp(ctx, attrs, "y_zp", ydt);
  const [qmin, qmax] = readClamp(ctx, attrs, ydt);
  const { m, k, n } = g;
  const as = Float64Array.from(a.data, (v) => v - aZp);
  const bs = Float64Array.from(b.data, (v) => v - bZp);
  const ai = broadcastIndex(g.batch, a.shape.slice(0, -2));
  const bi = broadcastIndex(g.batch, b.shape.slice(0, -2));
  const nb = g.batch.reduce((x, d) => x * d, 1);
  const y = newQ(ydt, g.shape);
  const yd = y.data;
  const acc = new Float64Array(m * n);
  for (let t = 0; t < nb; t++) {
    const aOff = (ai ? ai[t] : t) * m * k, bOff = (bi ? bi[t] : t) * k * n;
    acc.fill(0);
    gemmAccF64(m, n, k, as, aOff, k, bs, bOff, n, acc, 0, n);
    const yOff = t * m * n;
    for (let i = 0; i < m * n; i++) {
      yd[yOff + i] = requantize(acc[i], mult[0], shift[0], yZp, qmin, qmax);
    }
  }
  return y;
}

/**
 * QMatMul: batched `A[..., M, K] × B[..., K, N]` of two quantized activations,
 * per-tensor requantization.
 *
 * @example
 * ```ts
 * // A int8 [2, 3, 5, 8], B int8 [3, 8, 7]; attrs { a_zp, b_zp, mult, shift, y_zp }
 * //   ->  Y int8 [2, 3, 5, 7]
 * ```
 */
export const QMatMul: OpDef = {
  attrs: ["a_zp", "b_zp", ...REQUANT_ATTRS],
  infer(ins, attrs, _consts, ctx) {
    const a = need(ins, 0, ctx);
    const g = qmatmulGeom(ctx, a, need(ins, 1, ctx));
    return [{ dtype: readQDType(ctx, attrs, a.dtype as "int8" | "uint8"), shape: g.shape }];
  },
  run(ins, attrs, ctx) {
    return [runQMatMul(ctx, need(ins, 0, ctx), need(ins, 1, ctx), attrs)];
  },
};
