/**
 * Index-driven reference ops: Gather, GatherElements, OneHot, Trilu and CumSum.
 * Negative indices count from the end; an index out of range is an E_INPUT error
 * (OneHot instead gives an all-`off` row, as the ONNX spec says).
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrInt } from "../../runtime/graph.ts";
import {
  allocData,
  fmtShape,
  size,
  strides,
  type Tensor,
  type TensorMeta,
} from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { constData, type DataOf, runData } from "./gather_tables.ts";
import {
  ALL,
  checkDType,
  checkLength,
  INDEX,
  inputError,
  normAxis,
  NUMERIC,
  scalarValue,
  toInt64,
} from "./ref_util.ts";

/** Resolves index `i` into `[0, dim)` or throws. */
function resolve(ctx: OpContext, i: number, dim: number): number {
  const k = i < 0 ? i + dim : i;
  if (!(k >= 0 && k < dim)) inputError(ctx, `index ${i} is out of range [${-dim}, ${dim - 1}]`);
  return k;
}

function gatherCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const x = need(ins, 0, ctx);
  const idx = need(ins, 1, ctx);
  checkDType(ctx, x, ALL, "data");
  checkDType(ctx, idx, INDEX, "indices");
  if (x.shape.length === 0) shapeError(ctx, "data must have rank >= 1");
  const axis = normAxis(ctx, attrInt(attrs, "axis", 0), x.shape.length);
  return { x, idx, axis };
}

const Gather: OpDef = {
  attrs: ["axis"],
  infer(ins, attrs, _c, ctx) {
    const { x, idx, axis } = gatherCheck(ins, attrs, ctx);
    const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    return [{ dtype: x.dtype, shape }];
  },
  run(ins, attrs, ctx) {
    const { axis } = gatherCheck(ins, attrs, ctx);
    const x = need(ins, 0, ctx);
    const idx = need(ins, 1, ctx);
    checkLength(ctx, x, "data");
    checkLength(ctx, idx, "indices");
    const outer = size(x.shape.slice(0, axis));
    const inner = size(x.shape.slice(axis + 1));
    const dim = x.shape[axis];
    const m = idx.data.length;
    const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
    const out = allocData(x.dtype, size(shape));
    const rows = Array.from(idx.data, (i) => resolve(ctx, i, dim));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < m; j++) {
        const from = (o * dim + rows[j]) * inner;
        out.set(x.data.subarray(from, from + inner), (o * m + j) * inner);
      }
    }
    return [{ dtype: x.dtype, shape, data: out }];
  },
};

function gatherElementsCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const { x, idx, axis } = gatherCheck(ins, attrs, ctx);
  if (
    idx.shape.length !== x.shape.length || idx.shape.some((d, i) => i !== axis && d > x.shape[i])
  ) {
    shapeError(ctx, `indices ${fmtShape(idx.shape)} do not fit data ${fmtShape(x.shape)}`);
  }
  return { x, idx, axis };
}

const GatherElements: OpDef = {
  attrs: ["axis"],
  infer(ins, attrs, _c, ctx) {
    const { x, idx } = gatherElementsCheck(ins, attrs, ctx);
    return [{ dtype: x.dtype, shape: [...idx.shape] }];
  },
  run(ins, attrs, ctx) {
    const { axis } = gatherElementsCheck(ins, attrs, ctx);
    const x = need(ins, 0, ctx);
    const idx = need(ins, 1, ctx);
    checkLength(ctx, x, "data");
    checkLength(ctx, idx, "indices");
    const xs = strides(x.shape);
    const r = idx.shape.length;
    const coord = new Array<number>(r).fill(0);
    const out = allocData(x.dtype, idx.data.length);
    for (let o = 0; o < idx.data.length; o++) {
      let at = 0;
      for (let d = 0; d < r; d++) {
        at += (d === axis ? resolve(ctx, idx.data[o], x.shape[d]) : coord[d]) * xs[d];
      }
      out[o] = x.data[at];
      for (let d = r - 1; d >= 0; d--) {
        if (++coord[d] < idx.shape[d]) break;
        coord[d] = 0;
      }
    }
    return [{ dtype: x.dtype, shape: [...idx.shape], data: out }];
  },
};

function oneHotPlan(ins: (TensorMeta | undefined)[], attrs: Attrs, data: DataOf, ctx: OpContext) {
  const idx = need(ins, 0, ctx);
  checkDType(ctx, idx, NUMERIC, "indices");
  const depthT = data(1, "depth");
  checkDType(ctx, depthT, NUMERIC, "depth");
  const depth = Math.trunc(scalarValue(ctx, depthT, "depth"));
  if (!(depth >= 1)) inputError(ctx, `depth must be >= 1, got ${depth}`);
  const values = need(ins, 2, ctx);
  checkDType(ctx, values, ALL, "values");
  if (size(values.shape) !== 2) shapeError(ctx, `values must have 2 elements [off, on]`);
  const r = idx.shape.length;
  let axis = attrInt(attrs, "axis", -1);
  if (axis < -r - 1 || axis > r) shapeError(ctx, `axis ${axis} is out of range [${-r - 1}, ${r}]`);
  if (axis < 0) axis += r + 1;
  const shape = [...idx.shape.slice(0, axis), depth, ...idx.shape.slice(axis)];
  return { axis, depth, shape, dtype: values.dtype };
}

const OneHot: OpDef = {
  attrs: ["axis"],
  infer(ins, attrs, consts, ctx) {
    const { shape, dtype } = oneHotPlan(ins, attrs, constData(consts, ctx), ctx);
    return [{ dtype, shape }];
  },
  run(ins, attrs, ctx) {
    const { axis, depth, shape, dtype } = oneHotPlan(ins, attrs, runData(ins, ctx), ctx);
    const idx = need(ins, 0, ctx);
    const values = need(ins, 2, ctx);
    checkLength(ctx, idx, "indices");
    checkLength(ctx, values, "values");
    const out = allocData(dtype, size(shape));
    out.fill(values.data[0]);
    const inner = size(idx.shape.slice(axis));
    const outer = size(idx.shape.slice(0, axis));
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let k = Math.trunc(idx.data[o * inner + i]);
        if (k < 0) k += depth;
        if (k >= 0 && k < depth) out[(o * depth + k) * inner + i] = values.data[1];
      }
    }
    return [{ dtype, shape, data: out }];
  },
};

function triluCheck(ins: (TensorMeta | undefined)[], ctx: OpContext): TensorMeta {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, ALL, "input");
  if (x.shape.length < 2) shapeError(ctx, `input must have rank >= 2, got ${fmtShape(x.shape)}`);
  if (ins[1] !== undefined) checkDType(ctx, ins[1], ["int64"], "k");
  return x;
}

const Trilu: OpDef = {
  attrs: ["upper"],
  infer(ins, _a, _c, ctx) {
    const x = triluCheck(ins, ctx);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    triluCheck(ins, ctx);
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "input");
    const k = ins[1] ? scalarValue(ctx, ins[1], "k") : 0;
    const upper = attrInt(attrs, "upper", 1) !== 0;
    const [rows, cols] = x.shape.slice(-2);
    const out = x.data.slice();
    for (let o = 0; o < out.length; o++) {
      const j = o % cols;
      const i = Math.floor(o / cols) % rows;
      if (upper ? j - i < k : j - i > k) out[o] = 0;
    }
    return [{ dtype: x.dtype, shape: [...x.shape], data: out }];
  },
};

function cumsumCheck(ins: (TensorMeta | undefined)[], ctx: OpContext): TensorMeta {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, NUMERIC, "x");
  checkDType(ctx, need(ins, 1, ctx), INDEX, "axis");
  if (x.shape.length === 0) shapeError(ctx, "x must have rank >= 1");
  return x;
}

const CumSum: OpDef = {
  attrs: ["exclusive", "reverse"],
  infer(ins, _a, consts, ctx) {
    const x = cumsumCheck(ins, ctx);
    if (consts[1]) normAxis(ctx, scalarValue(ctx, consts[1], "axis"), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    cumsumCheck(ins, ctx);
    const x: Tensor = need(ins, 0, ctx);
    checkLength(ctx, x, "x");
    const axis = normAxis(ctx, scalarValue(ctx, need(ins, 1, ctx), "axis"), x.shape.length);
    const exclusive = attrInt(attrs, "exclusive", 0) !== 0;
    const reverse = attrInt(attrs, "reverse", 0) !== 0;
    const dim = x.shape[axis];
    const inner = size(x.shape.slice(axis + 1));
    const outer = size(x.shape.slice(0, axis));
    const out = allocData(x.dtype, x.data.length);
    const int64 = x.dtype === "int64";
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let acc = 0;
        for (let s = 0; s < dim; s++) {
          const at = (o * dim + (reverse ? dim - 1 - s : s)) * inner + i;
          if (exclusive) {
            out[at] = acc;
            acc += x.data[at];
          } else {
            acc += x.data[at];
            out[at] = int64 ? toInt64(acc) : acc;
          }
        }
      }
    }
    return [{ dtype: x.dtype, shape: [...x.shape], data: out }];
  },
};

/** Gather, GatherElements, OneHot, Trilu and CumSum, by ONNX op type. */
export const INDEX_OPS: Record<string, OpDef> = { Gather, GatherElements, OneHot, Trilu, CumSum };
