/**
 * LpNormalization (ONNX, opsets 1..22), float32/float64: `Y = X / ||X||_p` along
 * `axis` (default -1), p in {1, 2} (default 2). A zero-norm slice gives zeros, as in
 * onnxruntime (the ONNX reference would give NaN).
 */
import { attrInt, type Attrs } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "./op.ts";
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

interface LpGeom {
  dtype: FloatDType;
  p: 1 | 2;
  outer: number;
  n: number;
  inner: number;
}

function lpGeom(ctx: OpContext, x: TensorMeta, attrs: Attrs): LpGeom {
  const dtype = floatDType(ctx, x, "input");
  checkRank(ctx, x, 1, Infinity, "input");
  const p = attrInt(attrs, "p", 2);
  if (p !== 1 && p !== 2) attrError(ctx, `p must be 1 or 2, got ${p}`);
  const axis = normAxis(ctx, attrInt(attrs, "axis", -1), x.shape.length);
  return {
    dtype,
    p,
    outer: prod(x.shape, 0, axis),
    n: x.shape[axis],
    inner: prod(x.shape, axis + 1),
  };
}

function runLp(ctx: OpContext, x: Tensor, attrs: Attrs): Tensor {
  const g = lpGeom(ctx, x, attrs);
  const xd = floatData(ctx, x, "input");
  const y = newFloat(g.dtype, x.shape);
  const yd = y.data as FloatArray;
  const { outer, n, inner } = g;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let s = 0;
      for (let k = 0; k < n; k++) {
        const v = xd[base + k * inner];
        s += g.p === 1 ? Math.abs(v) : v * v;
      }
      const norm = g.p === 1 ? s : Math.sqrt(s);
      for (let k = 0; k < n; k++) {
        yd[base + k * inner] = norm === 0 ? 0 : xd[base + k * inner] / norm;
      }
    }
  }
  return y;
}

/** LpNormalization: divide by the L1 or L2 norm along one axis. */
export const LpNormalization: OpDef = {
  attrs: ["axis", "p"],
  infer(ins, attrs, _consts, ctx) {
    const x = need(ins, 0, ctx);
    return [{ dtype: lpGeom(ctx, x, attrs).dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    return [runLp(ctx, need(ins, 0, ctx), attrs)];
  },
};
