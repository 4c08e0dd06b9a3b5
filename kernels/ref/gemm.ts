/**
 * Gemm (ONNX, opsets 1..13): `Y = alpha * A' · B' + beta * C`, float32/float64.
 *
 * A' is A or Aᵀ (transA), B' is B or Bᵀ (transB), both 2-D; C is optional and
 * unidirectionally broadcast to `[M, N]`. The product accumulates in float64 and Y
 * is rounded once. The legacy `broadcast` attribute (opset < 7) is accepted and C
 * is always broadcast.
 */
import { attrFloat, type Attrs } from "../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { gemmAccF64, transposeF64 } from "./gemm_f64.ts";
import {
  attrFlag,
  broadcastsTo,
  broadcastTo,
  checkRank,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  sameDType,
  toF64,
} from "./nn_util.ts";

interface GemmGeom {
  dtype: FloatDType;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

function gemmGeom(
  ctx: OpContext,
  a: TensorMeta,
  b: TensorMeta,
  c: TensorMeta | undefined,
  attrs: Attrs,
): GemmGeom {
  const dtype = floatDType(ctx, a, "A");
  checkRank(ctx, a, 2, 2, "A");
  checkRank(ctx, b, 2, 2, "B");
  sameDType(ctx, b, dtype, "B");
  const transA = attrFlag(ctx, attrs.transA, "transA", 0) === 1;
  const transB = attrFlag(ctx, attrs.transB, "transB", 0) === 1;
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) {
    shapeError(
      ctx,
      `inner dims differ: A ${fmtShape(a.shape)} (transA=${+transA}), ` +
        `B ${fmtShape(b.shape)} (transB=${+transB})`,
    );
  }
  if (c) {
    sameDType(ctx, c, dtype, "C");
    if (!broadcastsTo(c.shape, [m, n])) {
      shapeError(ctx, `C ${fmtShape(c.shape)} does not broadcast to [${m},${n}]`);
    }
  }
  return { dtype, m, k, n, transA, transB };
}

function runGemm(
  ctx: OpContext,
  a: Tensor,
  b: Tensor,
  c: Tensor | undefined,
  attrs: Attrs,
): Tensor {
  const g = gemmGeom(ctx, a, b, c, attrs);
  const alpha = attrFloat(attrs, "alpha", 1), beta = attrFloat(attrs, "beta", 1);
  const ad = floatData(ctx, a, "A"), bd = floatData(ctx, b, "B");
  const am = g.transA ? transposeF64(ad, 0, g.k, g.m) : toF64(ad);
  const bm = g.transB ? transposeF64(bd, 0, g.n, g.k) : toF64(bd);
  const acc = new Float64Array(g.m * g.n);
  gemmAccF64(g.m, g.n, g.k, am, 0, g.k, bm, 0, g.n, acc, 0, g.n);
  const cm = c ? broadcastTo(floatData(ctx, c, "C"), c.shape, [g.m, g.n]) : undefined;
  for (let i = 0; i < acc.length; i++) acc[i] = alpha * acc[i] + (cm ? beta * cm[i] : 0);
  const y = newFloat(g.dtype, [g.m, g.n]);
  (y.data as FloatArray).set(acc);
  return y;
}

/** Gemm: general matrix multiply with optional transposes, scaling and bias. */
export const Gemm: OpDef = {
  attrs: ["alpha", "beta", "transA", "transB", "broadcast"],
  infer(ins, attrs, _consts, ctx) {
    const g = gemmGeom(ctx, need(ins, 0, ctx), need(ins, 1, ctx), ins[2], attrs);
    return [{ dtype: g.dtype, shape: [g.m, g.n] }];
  },
  run(ins, attrs, ctx) {
    return [runGemm(ctx, need(ins, 0, ctx), need(ins, 1, ctx), ins[2], attrs)];
  },
};
