/**
 * BatchNormalization (ONNX, opsets 1..15), inference form, float32/float64:
 * `Y = (X - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]` with X
 * `[N, C, D1..Dn]` (n >= 0) and the four parameters `[C]`.
 *
 * Computed as `Y = X * a[c] + b[c]`, `a = scale / sqrt(var + eps)`, `b = B - mean * a`
 * (float64). `training_mode=1`, `spatial=0` and nodes that ask for the training
 * outputs (running mean/var, saved mean/var) are rejected with E_UNSUPPORTED_ATTR;
 * `momentum` and `is_test` are accepted and ignored.
 */
import { attrFloat, attrInt, type Attrs } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "./op.ts";
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

const PARAMS = ["scale", "B", "input_mean", "input_var"] as const;

function bnCheck(ctx: OpContext, ins: (TensorMeta | undefined)[], attrs: Attrs): FloatDType {
  if (attrInt(attrs, "training_mode", 0) !== 0) {
    attrError(ctx, "training_mode=1 is not supported (inference only)");
  }
  if (attrInt(attrs, "spatial", 1) !== 1) attrError(ctx, "spatial=0 is not supported");
  if (ctx.node.outputs.slice(1).some((o) => o !== "")) {
    attrError(ctx, "the training outputs (mean, var, saved mean/var) are not supported");
  }
  const x = need(ins, 0, ctx);
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 2, Infinity, "X (N x C x ...)");
  PARAMS.forEach((name, i) => checkVector(ctx, need(ins, i + 1, ctx), x.shape[1], dtype, name));
  return dtype;
}

function runBn(ctx: OpContext, ins: (Tensor | undefined)[], attrs: Attrs): Tensor {
  const dtype = bnCheck(ctx, ins, attrs);
  const x = need(ins, 0, ctx);
  const [s, b, mean, v] = PARAMS.map((n, i) => floatData(ctx, need(ins, i + 1, ctx), n));
  const xd = floatData(ctx, x, "X");
  const eps = attrFloat(attrs, "epsilon", 1e-5);
  const n = x.shape[0], c = x.shape[1], sp = prod(x.shape, 2);
  const y = newFloat(dtype, x.shape);
  const yd = y.data as FloatArray;
  for (let ch = 0; ch < c; ch++) {
    const a = s[ch] / Math.sqrt(v[ch] + eps);
    const off = b[ch] - mean[ch] * a;
    for (let i = 0; i < n; i++) {
      const base = (i * c + ch) * sp;
      for (let j = base; j < base + sp; j++) yd[j] = xd[j] * a + off;
    }
  }
  return y;
}

/** BatchNormalization (inference): per-channel affine normalisation with stored statistics. */
export const BatchNormalization: OpDef = {
  attrs: ["epsilon", "momentum", "training_mode", "spatial", "is_test"],
  infer(ins, attrs, _consts, ctx) {
    const dtype = bnCheck(ctx, ins, attrs);
    return [{ dtype, shape: [...need(ins, 0, ctx).shape] }];
  },
  run(ins, attrs, ctx) {
    return [runBn(ctx, ins, attrs)];
  },
};
