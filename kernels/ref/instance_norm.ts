/**
 * InstanceNormalization (ONNX, opsets 1..22), float32/float64:
 * `Y[n, c] = (X[n, c] - mean) / sqrt(var + epsilon) * scale[c] + B[c]`, with mean and
 * (population) variance over the spatial positions of each `(n, c)` plane, computed
 * in float64 with two passes.
 */
import { attrFloat, type Attrs } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import {
  checkRank,
  checkVector,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  prod,
} from "./nn_util.ts";

function inCheck(ctx: OpContext, ins: (TensorMeta | undefined)[]): FloatDType {
  const x = need(ins, 0, ctx);
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 3, Infinity, "X (N x C x D1 ...)");
  if (prod(x.shape, 2) === 0) shapeError(ctx, "X has no spatial positions");
  checkVector(ctx, need(ins, 1, ctx), x.shape[1], dtype, "scale");
  checkVector(ctx, need(ins, 2, ctx), x.shape[1], dtype, "B");
  return dtype;
}

function runIn(ctx: OpContext, ins: (Tensor | undefined)[], attrs: Attrs): Tensor {
  const dtype = inCheck(ctx, ins);
  const x = need(ins, 0, ctx);
  const xd = floatData(ctx, x, "X");
  const s = floatData(ctx, need(ins, 1, ctx), "scale");
  const b = floatData(ctx, need(ins, 2, ctx), "B");
  const eps = attrFloat(attrs, "epsilon", 1e-5);
  const c = x.shape[1], planes = x.shape[0] * c, sp = prod(x.shape, 2);
  const y = newFloat(dtype, x.shape);
  const yd = y.data as FloatArray;
  for (let p = 0; p < planes; p++) {
    const base = p * sp, end = base + sp;
    let sum = 0;
    for (let i = base; i < end; i++) sum += xd[i];
    const mean = sum / sp;
    let sq = 0;
    for (let i = base; i < end; i++) sq += (xd[i] - mean) * (xd[i] - mean);
    const a = s[p % c] / Math.sqrt(sq / sp + eps), off = b[p % c];
    for (let i = base; i < end; i++) yd[i] = (xd[i] - mean) * a + off;
  }
  return y;
}

/** InstanceNormalization: per-(image, channel) normalisation with a per-channel affine. */
export const InstanceNormalization: OpDef = {
  attrs: ["epsilon"],
  infer(ins, _attrs, _consts, ctx) {
    return [{ dtype: inCheck(ctx, ins), shape: [...need(ins, 0, ctx).shape] }];
  },
  run(ins, attrs, ctx) {
    return [runIn(ctx, ins, attrs)];
  },
};
