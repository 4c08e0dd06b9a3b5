/**
 * Clip, Identity and Dropout (inference form) reference ops.
 *
 * Clip takes `min`/`max` attributes before opset 11 and optional scalar inputs from
 * opset 11; Dropout is the identity at inference and its optional mask is all true.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrFloat } from "../../runtime/graph.ts";
import { allocData, type DType, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { mapUnary } from "./unary.ts";
import { ALL, checkDType, FLOAT, NUMERIC, sameDType, scalarValue } from "./ref_util.ts";

function clipCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext): TensorMeta {
  const x = need(ins, 0, ctx);
  if (ctx.opset < 11) {
    checkDType(ctx, x, FLOAT, "input");
    if (ins.length > 1 && ins.slice(1).some((t) => t !== undefined)) {
      shapeError(ctx, "min/max are attributes before opset 11, not inputs");
    }
  } else {
    checkDType(ctx, x, NUMERIC, "input");
    if (attrs.min !== undefined || attrs.max !== undefined) {
      attrError(ctx, "min/max are inputs since opset 11, not attributes");
    }
    for (const [i, what] of [[1, "min"], [2, "max"]] as const) {
      const m = ins[i];
      if (m === undefined) continue;
      sameDType(ctx, x, m, "input", what);
      if (m.shape.reduce((a, b) => a * b, 1) !== 1) {
        shapeError(ctx, `${what} must be a scalar, got shape [${m.shape}]`);
      }
    }
  }
  return x;
}

const Clip: OpDef = {
  attrs: ["min", "max"],
  infer(ins, attrs, _c, ctx) {
    const x = clipCheck(ins, attrs, ctx);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    clipCheck(ins, attrs, ctx);
    const x = need(ins, 0, ctx);
    let lo = -Infinity;
    let hi = Infinity;
    if (ctx.opset < 11) {
      lo = attrFloat(attrs, "min", lo);
      hi = attrFloat(attrs, "max", hi);
    } else {
      if (ins[1]) lo = scalarValue(ctx, ins[1], "min");
      if (ins[2]) hi = scalarValue(ctx, ins[2], "max");
    }
    // numpy.clip order: max first, then min, so min > max gives max; NaN propagates
    return [mapUnary(ctx, x, x.dtype, (v) => Math.min(Math.max(v, lo), hi))];
  },
};

function copyOf(t: Tensor): Tensor {
  return { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() };
}

const Identity: OpDef = {
  attrs: [],
  infer(ins, _a, _c, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, ALL, "input");
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  run(ins, _a, ctx) {
    return [copyOf(need(ins, 0, ctx))];
  },
};

/** Mask dtype: T before opset 10, bool after. */
function maskDType(x: TensorMeta, ctx: OpContext): DType {
  return ctx.opset < 10 ? x.dtype : "bool";
}

function dropoutCheck(
  ins: (TensorMeta | undefined)[],
  attrs: Attrs,
  ctx: OpContext,
  training: Tensor | undefined,
  ratio: Tensor | undefined,
): TensorMeta {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, FLOAT, "data");
  if (ctx.opset >= 12) {
    if (attrs.ratio !== undefined) attrError(ctx, "ratio is an input since opset 12");
    if (ins[1]) checkDType(ctx, ins[1], FLOAT, "ratio");
    if (ins[2]) checkDType(ctx, ins[2], ["bool"], "training_mode");
    const r = ratio ? scalarValue(ctx, ratio, "ratio") : 0.5;
    if (training && scalarValue(ctx, training, "training_mode") !== 0 && r !== 0) {
      attrError(ctx, "Dropout with training_mode=true is not supported (inference only)");
    }
  } else if (ins.length > 1 && ins.slice(1).some((t) => t !== undefined)) {
    shapeError(ctx, "ratio/training_mode are inputs only since opset 12");
  }
  return x;
}

function dropoutOut(ctx: OpContext, x: TensorMeta): TensorMeta[] {
  const outs = [{ dtype: x.dtype, shape: [...x.shape] }];
  if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== "") {
    outs.push({ dtype: maskDType(x, ctx), shape: [...x.shape] });
  }
  return outs;
}

const Dropout: OpDef = {
  attrs: ["ratio", "seed", "is_test"],
  infer(ins, attrs, consts, ctx) {
    const x = dropoutCheck(ins, attrs, ctx, consts[2], consts[1]);
    return dropoutOut(ctx, x);
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    dropoutCheck(ins, attrs, ctx, ins[2], ins[1]);
    const outs = dropoutOut(ctx, x);
    const res = [copyOf(x)];
    if (outs.length > 1) {
      const mask = allocData(outs[1].dtype, x.data.length).fill(1);
      res.push({ dtype: outs[1].dtype, shape: [...x.shape], data: mask });
    }
    return res;
  },
};

/** Clip, Identity and Dropout, by ONNX op type. */
export const CLIP_IDENTITY_OPS: Record<string, OpDef> = { Clip, Identity, Dropout };
