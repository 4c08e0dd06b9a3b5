/**
 * Softmax, LogSoftmax and Hardmax (ONNX), float32/float64.
 *
 * Opset >= 13: the op works along the single axis `axis` (default -1).
 * Opset < 13: the input is coerced to 2-D `[prod(shape[:axis]), prod(shape[axis:])]`
 * (axis default 1) and the op works along the second dim.
 *
 * Softmax/LogSoftmax subtract the maximum first and sum in float64; Hardmax puts 1 at
 * the first maximum and 0 elsewhere.
 */
import { attrInt, type Attrs } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import {
  checkRank,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  normAxis,
  prod,
} from "./nn_util.ts";

type Kind = "softmax" | "logsoftmax" | "hardmax";

/** `[outer, n, inner]`: the reduced extent and its strides. */
interface Layout {
  dtype: FloatDType;
  outer: number;
  n: number;
  inner: number;
}

function layout(ctx: OpContext, x: TensorMeta, attrs: Attrs): Layout {
  const dtype = floatDType(ctx, x, "input");
  const r = x.shape.length;
  if (ctx.opset >= 13) {
    checkRank(ctx, x, 1, Infinity, "input");
    const axis = normAxis(ctx, attrInt(attrs, "axis", -1), r);
    return {
      dtype,
      outer: prod(x.shape, 0, axis),
      n: x.shape[axis],
      inner: prod(x.shape, axis + 1),
    };
  }
  if (r === 0) shapeError(ctx, "input must have rank >= 1");
  const axis = normAxis(ctx, attrInt(attrs, "axis", 1), r);
  return { dtype, outer: prod(x.shape, 0, axis), n: prod(x.shape, axis), inner: 1 };
}

function runKind(ctx: OpContext, x: Tensor, attrs: Attrs, kind: Kind): Tensor {
  const l = layout(ctx, x, attrs);
  const xd = floatData(ctx, x, "input");
  const y = newFloat(l.dtype, x.shape);
  const yd = y.data as FloatArray;
  const { outer, n, inner } = l;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let mx = -Infinity, arg = 0;
      for (let k = 0; k < n; k++) {
        const v = xd[base + k * inner];
        if (v > mx) {
          mx = v;
          arg = k;
        }
      }
      if (kind === "hardmax") {
        for (let k = 0; k < n; k++) yd[base + k * inner] = k === arg ? 1 : 0;
        continue;
      }
      let sum = 0;
      for (let k = 0; k < n; k++) sum += Math.exp(xd[base + k * inner] - mx);
      if (kind === "softmax") {
        for (let k = 0; k < n; k++) {
          yd[base + k * inner] = Math.exp(xd[base + k * inner] - mx) / sum;
        }
      } else {
        const ls = Math.log(sum);
        for (let k = 0; k < n; k++) yd[base + k * inner] = xd[base + k * inner] - mx - ls;
      }
    }
  }
  return y;
}

function softmaxOp(kind: Kind): OpDef {
  return {
    attrs: ["axis"],
    infer(ins, attrs, _consts, ctx) {
      const x = need(ins, 0, ctx);
      return [{ dtype: layout(ctx, x, attrs).dtype, shape: [...x.shape] }];
    },
    run(ins, attrs, ctx) {
      return [runKind(ctx, need(ins, 0, ctx), attrs, kind)];
    },
  };
}

/** Softmax: `exp(x - max) / sum(exp(x - max))` along the axis (opset-dependent, see module doc). */
export const Softmax: OpDef = softmaxOp("softmax");

/** LogSoftmax: `x - max - log(sum(exp(x - max)))` along the axis. */
export const LogSoftmax: OpDef = softmaxOp("logsoftmax");

/** Hardmax: one-hot of the first maximum along the axis. */
export const Hardmax: OpDef = softmaxOp("hardmax");
