/**
 * GlobalAveragePool and GlobalMaxPool (ONNX, opsets 1..22), float32/float64, any
 * number of spatial dims: `[N, C, D1..Dn] -> [N, C, 1..1]`. Means accumulate in
 * float64.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { checkRank, type FloatArray, floatData, floatDType, newFloat, prod } from "./nn_util.ts";

function globalShape(ctx: OpContext, x: TensorMeta): TensorMeta {
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 3, Infinity, "X (N x C x D1 ...)");
  if (prod(x.shape, 2) === 0) shapeError(ctx, `X ${fmtShape(x.shape)} has no spatial positions`);
  return { dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] };
}

function runGlobal(ctx: OpContext, x: Tensor, max: boolean): Tensor {
  const meta = globalShape(ctx, x);
  const xd = floatData(ctx, x, "X");
  const planes = x.shape[0] * x.shape[1], sp = prod(x.shape, 2);
  const y = newFloat(meta.dtype as "float32" | "float64", meta.shape);
  const yd = y.data as FloatArray;
  for (let p = 0; p < planes; p++) {
    const b = p * sp;
    if (max) {
      let m = xd[b];
      for (let i = 1; i < sp; i++) if (xd[b + i] > m) m = xd[b + i];
      yd[p] = m;
    } else {
      let s = 0;
      for (let i = 0; i < sp; i++) s += xd[b + i];
      yd[p] = s / sp;
    }
  }
  return y;
}

function globalOp(max: boolean): OpDef {
  return {
    attrs: [],
    infer(ins, _attrs: Attrs, _consts, ctx) {
      return [globalShape(ctx, need(ins, 0, ctx))];
    },
    run(ins, _attrs, ctx) {
      return [runGlobal(ctx, need(ins, 0, ctx), max)];
    },
  };
}

/** GlobalAveragePool: mean over all spatial positions of each channel. */
export const GlobalAveragePool: OpDef = globalOp(false);

/** GlobalMaxPool: max over all spatial positions of each channel. */
export const GlobalMaxPool: OpDef = globalOp(true);
