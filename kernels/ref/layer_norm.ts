/**
 * LayerNormalization (ONNX, opset 17+), float32/float64.
 *
 * X is viewed as `[outer, inner]` with `inner = prod(X.shape[axis:])`; each row is
 * normalised with its mean and population variance, then multiplied by Scale and
 * offset by the optional B. Scale and B broadcast unidirectionally to X's shape
 * (numpy rules), so Y has X's shape. Statistics are computed in float64 with two
 * passes (stash_type only picks the dtype of the Mean / InvStdDev outputs:
 * 1 -> float32, 11 -> float64). All three outputs are produced; Mean and InvStdDev
 * have X's shape with the normalised axes set to 1.
 */
import { attrFloat, attrInt, type Attrs } from "../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import {
  broadcastsTo,
  broadcastTo,
  checkRank,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  normAxis,
  prod,
  sameDType,
} from "./nn_util.ts";

interface LnGeom {
  dtype: FloatDType;
  statDType: FloatDType;
  axis: number;
  outer: number;
  inner: number;
  statShape: number[];
}

function lnGeom(ctx: OpContext, ins: (TensorMeta | undefined)[], attrs: Attrs): LnGeom {
  const x = need(ins, 0, ctx);
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 1, Infinity, "X");
  const r = x.shape.length;
  const axis = normAxis(ctx, attrInt(attrs, "axis", -1), r);
  const stash = attrInt(attrs, "stash_type", 1);
  if (stash !== 1 && stash !== 11) attrError(ctx, `stash_type ${stash} is not supported (1 or 11)`);
  const inner = prod(x.shape, axis);
  if (inner === 0) shapeError(ctx, `X ${fmtShape(x.shape)} has an empty normalised extent`);
  const params: [number, string][] = [[1, "Scale"], [2, "B"]];
  for (const [i, name] of params) {
    const p = i === 1 ? need(ins, i, ctx) : ins[i];
    if (!p) continue;
    sameDType(ctx, p, dtype, name);
    if (!broadcastsTo(p.shape, x.shape)) {
      shapeError(ctx, `${name} ${fmtShape(p.shape)} does not broadcast to X ${fmtShape(x.shape)}`);
    }
  }
  return {
    dtype,
    statDType: stash === 1 ? "float32" : "float64",
    axis,
    outer: prod(x.shape, 0, axis),
    inner,
    statShape: x.shape.map((d, i) => (i < axis ? d : 1)),
  };
}

/**
 * Expands a Scale/B to either the normalised extent (`inner` values, when it only
 * varies along the normalised axes) or to X's full shape. Returns the data and
 * whether it is per-row (`full`).
 */
function expandParam(
  p: Tensor,
  data: FloatArray,
  xShape: number[],
  axis: number,
): { v: Float64Array; full: boolean } {
  const tail = xShape.length - axis;
  const lead = p.shape.slice(0, Math.max(0, p.shape.length - tail));
  if (lead.every((d) => d === 1)) {
    const own = p.shape.slice(lead.length);
    return { v: broadcastTo(data, own, xShape.slice(axis)), full: false };
  }
  return { v: broadcastTo(data, p.shape, xShape), full: true };
}

function runLn(ctx: OpContext, ins: (Tensor | undefined)[], attrs: Attrs): Tensor[] {
  const g = lnGeom(ctx, ins, attrs);
  const x = need(ins, 0, ctx), sT = need(ins, 1, ctx), bT = ins[2];
  const xd = floatData(ctx, x, "X");
  const sc = expandParam(sT, floatData(ctx, sT, "Scale"), x.shape, g.axis);
  const bi = bT ? expandParam(bT, floatData(ctx, bT, "B"), x.shape, g.axis) : undefined;
  const eps = attrFloat(attrs, "epsilon", 1e-5);
  const { outer, inner } = g;
  const y = newFloat(g.dtype, x.shape);
  const yd = y.data as FloatArray;
  const mean = newFloat(g.statDType, g.statShape), inv = newFloat(g.statDType, g.statShape);
  for (let r = 0; r < outer; r++) {
    const base = r * inner;
    let sum = 0;
    for (let j = 0; j < inner; j++) sum += xd[base + j];
    const mu = sum / inner;
    let sq = 0;
    for (let j = 0; j < inner; j++) sq += (xd[base + j] - mu) * (xd[base + j] - mu);
    const is = 1 / Math.sqrt(sq / inner + eps);
    const so = sc.full ? base : 0, bo = bi?.full ? base : 0;
    for (let j = 0; j < inner; j++) {
      const v = (xd[base + j] - mu) * is * sc.v[so + j];
      yd[base + j] = bi ? v + bi.v[bo + j] : v;
    }
    mean.data[r] = mu;
    inv.data[r] = is;
  }
  return [y, mean, inv];
}

/** LayerNormalization: normalise over the trailing axes from `axis`, then scale and shift. */
export const LayerNormalization: OpDef = {
  attrs: ["axis", "epsilon", "stash_type"],
  infer(ins, attrs, _consts, ctx) {
    const g = lnGeom(ctx, ins, attrs);
    const stat: TensorMeta = { dtype: g.statDType, shape: g.statShape };
    return [{ dtype: g.dtype, shape: [...need(ins, 0, ctx).shape] }, stat, {
      ...stat,
      shape: [...g.statShape],
    }];
  },
  run(ins, attrs, ctx) {
    return runLn(ctx, ins, attrs);
  },
};
