/**
 * LRN and MeanVarianceNormalization (ONNX), float32/float64, computed in float64.
 *
 * - LRN over channels of `[N, C, D1..Dn]`: `y = x / (bias + alpha / size * s)^beta`,
 *   `s` the sum of squares over channels `[c - floor((size-1)/2), c + ceil((size-1)/2)]`.
 * - MeanVarianceNormalization (opset 9+): `y = (x - mean) / (sqrt(E[x²] - mean²) + 1e-9)`
 *   with the moments over `axes` (default `[0, 2, 3]`), exactly as the ONNX function
 *   body defines it.
 */
import { attrFloat, attrInt, attrInts, type Attrs } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "./op.ts";
import { checkRank, type FloatArray, floatData, floatDType, newFloat, prod } from "./nn_util.ts";
import { normAxes } from "./ref_util.ts";

function lrnCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const x = need(ins, 0, ctx);
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 2, Infinity, "X (N x C x ...)");
  const sz = attrInt(attrs, "size", 0);
  if (!Number.isInteger(sz) || sz < 1) attrError(ctx, `size must be a positive integer, got ${sz}`);
  return { x, dtype, sz };
}

function runLrn(ctx: OpContext, x: Tensor, attrs: Attrs): Tensor {
  const { dtype, sz } = lrnCheck([x], attrs, ctx);
  const alpha = attrFloat(attrs, "alpha", 1e-4);
  const beta = attrFloat(attrs, "beta", 0.75);
  const bias = attrFloat(attrs, "bias", 1);
  const xd = floatData(ctx, x, "X");
  const [n, c] = x.shape;
  const sp = prod(x.shape, 2);
  const lo = Math.floor((sz - 1) / 2), hi = Math.ceil((sz - 1) / 2);
  const y = newFloat(dtype, x.shape);
  const yd = y.data as FloatArray;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const c0 = Math.max(0, ch - lo), c1 = Math.min(c - 1, ch + hi);
      for (let p = 0; p < sp; p++) {
        let s = 0;
        for (let k = c0; k <= c1; k++) {
          const v = xd[(b * c + k) * sp + p];
          s += v * v;
        }
        const at = (b * c + ch) * sp + p;
        yd[at] = xd[at] / Math.pow(bias + (alpha / sz) * s, beta);
      }
    }
  }
  return y;
}

/** LRN: local response normalisation across channels. */
export const LRN: OpDef = {
  attrs: ["alpha", "beta", "bias", "size"],
  infer(ins, attrs, _c, ctx) {
    const { x, dtype } = lrnCheck(ins, attrs, ctx);
    return [{ dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    return [runLrn(ctx, need(ins, 0, ctx), attrs)];
  },
};

function mvnCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const x = need(ins, 0, ctx);
  const dtype = floatDType(ctx, x, "X");
  const axes = normAxes(ctx, attrInts(attrs, "axes", [0, 2, 3]), x.shape.length);
  return { x, dtype, axes };
}

/** MeanVarianceNormalization: zero mean, unit variance over `axes`. */
export const MeanVarianceNormalization: OpDef = {
  attrs: ["axes"],
  infer(ins, attrs, _c, ctx) {
    const { x, dtype } = mvnCheck(ins, attrs, ctx);
    return [{ dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    const { x, dtype, axes } = mvnCheck(ins, attrs, ctx);
    const xd = floatData(ctx, x as Tensor, "X");
    const r = x.shape.length;
    const reduced = new Set(axes);
    // Group index of every element = its coordinates on the kept axes.
    const kept = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
    const groups = prod(kept);
    const sum = new Float64Array(groups), sq = new Float64Array(groups);
    const gidx = new Int32Array(xd.length);
    const coord = new Array<number>(r).fill(0);
    for (let o = 0; o < xd.length; o++) {
      let g = 0;
      for (let d = 0; d < r; d++) g = g * kept[d] + (reduced.has(d) ? 0 : coord[d]);
      gidx[o] = g;
      sum[g] += xd[o];
      sq[g] += xd[o] * xd[o];
      for (let d = r - 1; d >= 0; d--) {
        if (++coord[d] < x.shape[d]) break;
        coord[d] = 0;
      }
    }
    const count = xd.length / groups;
    const y = newFloat(dtype, x.shape);
    const yd = y.data as FloatArray;
    for (let o = 0; o < xd.length; o++) {
      const g = gidx[o];
      const mean = sum[g] / count;
      const std = Math.sqrt(sq[g] / count - mean * mean);
      yd[o] = (xd[o] - mean) / (std + 1e-9);
    }
    return [y];
  },
};
