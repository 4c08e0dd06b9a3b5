/**
 * Reductions (ReduceSum..ReduceSumSquare) and ArgMax/ArgMin reference ops.
 *
 * `axes` is an attribute up to opset 12 (ReduceSum) / 17 (the others) and an optional
 * int64 input after; with no axes every axis is reduced, unless `noop_with_empty_axes`
 * is set, which makes the op an identity. Accumulation is in float64.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrInt, attrInts } from "../../runtime/graph.ts";
import { allocData, size, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { broadcastIndex } from "./broadcast.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import {
  checkDType,
  checkLength,
  intValues,
  needConst,
  normAxes,
  normAxis,
  NUMERIC,
  toInt64,
} from "./ref_util.ts";

/** One reduction: how to start, fold an element, and finish with the element count. */
interface Kind {
  init: number;
  step: (acc: number, x: number) => number;
  fin: (acc: number, n: number) => number;
}

const same = (acc: number) => acc;

const KINDS: Record<string, Kind> = {
  ReduceSum: { init: 0, step: (a, x) => a + x, fin: same },
  ReduceMean: { init: 0, step: (a, x) => a + x, fin: (a, n) => a / n },
  ReduceMax: { init: -Infinity, step: (a, x) => Math.max(a, x), fin: same },
  ReduceMin: { init: Infinity, step: (a, x) => Math.min(a, x), fin: same },
  ReduceProd: { init: 1, step: (a, x) => a * x, fin: same },
  ReduceL1: { init: 0, step: (a, x) => a + Math.abs(x), fin: same },
  ReduceL2: { init: 0, step: (a, x) => a + x * x, fin: Math.sqrt },
  ReduceLogSum: { init: 0, step: (a, x) => a + x, fin: Math.log },
  ReduceSumSquare: { init: 0, step: (a, x) => a + x * x, fin: same },
  // ReduceLogSumExp is done in two passes (max, then sum of exp) for stability
  ReduceLogSumExp: { init: 0, step: (a, x) => a + Math.exp(x), fin: Math.log },
};

/** The resolved axes of a reduction; `null` means "identity" (noop_with_empty_axes). */
function reduceAxes(
  op: string,
  ins: (TensorMeta | undefined)[],
  attrs: Attrs,
  axesData: Tensor | undefined,
  ctx: OpContext,
): number[] | null {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, NUMERIC, "data");
  const rank = x.shape.length;
  const asInput = op === "ReduceSum" ? ctx.opset >= 13 : ctx.opset >= 18;
  let axes: number[] | undefined;
  if (asInput) {
    if (attrs.axes !== undefined) attrError(ctx, `axes is an input of ${op} at this opset`);
    if (ins[1] !== undefined) {
      checkDType(ctx, ins[1], ["int64"], "axes");
      axes = intValues(ctx, axesData!, "axes");
    }
  } else {
    if (ins.length > 1 && ins[1] !== undefined) {
      const since = op === "ReduceSum" ? 13 : 18;
      shapeError(ctx, `axes is an attribute of ${op} before opset ${since}, not an input`);
    }
    axes = attrInts(attrs, "axes");
  }
  if (axes === undefined || axes.length === 0) {
    if (attrInt(attrs, "noop_with_empty_axes", 0) !== 0) return null;
    return [...Array(rank).keys()];
  }
  return normAxes(ctx, axes, rank);
}

function reducedShape(shape: readonly number[], axes: number[], keep: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keep) out.push(1);
  });
  return out;
}

function reduceOp(op: string): OpDef {
  const kind = KINDS[op];
  return {
    attrs: ["axes", "keepdims", "noop_with_empty_axes"],
    infer(ins, attrs, consts, ctx) {
      const c = ins[1] !== undefined ? needConst(consts, 1, "axes", ctx) : undefined;
      const axes = reduceAxes(op, ins, attrs, c, ctx);
      const x = ins[0]!;
      if (axes === null) return [{ dtype: x.dtype, shape: [...x.shape] }];
      const keep = attrInt(attrs, "keepdims", 1) !== 0;
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, keep) }];
    },
    run(ins, attrs, ctx) {
      const x = need(ins, 0, ctx);
      checkLength(ctx, x, "data");
      const axes = reduceAxes(op, ins, attrs, ins[1], ctx);
      if (axes === null) return [{ dtype: x.dtype, shape: [...x.shape], data: x.data.slice() }];
      const keep = attrInt(attrs, "keepdims", 1) !== 0;
      const keepShape = reducedShape(x.shape, axes, true);
      const map = broadcastIndex(x.shape, keepShape);
      const m = size(keepShape);
      const count = axes.reduce((a, i) => a * x.shape[i], 1);
      const acc = new Float64Array(m).fill(kind.init);
      const src = x.data;
      let shift: Float64Array | undefined;
      if (op === "ReduceLogSumExp") {
        shift = new Float64Array(m).fill(-Infinity);
        for (let i = 0; i < src.length; i++) {
          const o = map === null ? i : map[i];
          shift[o] = Math.max(shift[o], src[i]);
        }
        for (let o = 0; o < m; o++) if (!Number.isFinite(shift[o])) shift[o] = 0;
      }
      for (let i = 0; i < src.length; i++) {
        const o = map === null ? i : map[i];
        acc[o] = kind.step(acc[o], shift ? src[i] - shift[o] : src[i]);
      }
      const out = allocData(x.dtype, m);
      const int64 = x.dtype === "int64";
      for (let o = 0; o < m; o++) {
        let r = kind.fin(acc[o], count);
        if (shift) r += shift[o];
        out[o] = int64 ? toInt64(r) : r;
      }
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes, keep), data: out }];
    },
  };
}

function argCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, NUMERIC, "data");
  if (x.shape.length === 0) shapeError(ctx, "data must have rank >= 1");
  const axis = normAxis(ctx, attrInt(attrs, "axis", 0), x.shape.length);
  const keep = attrInt(attrs, "keepdims", 1) !== 0;
  const shape = reducedShape(x.shape, [axis], keep);
  if (x.shape[axis] === 0) shapeError(ctx, `cannot take ${ctx.node.op} over an empty axis`);
  return { axis, shape, last: attrInt(attrs, "select_last_index", 0) !== 0 };
}

function argOp(better: (v: number, best: number) => boolean): OpDef {
  return {
    attrs: ["axis", "keepdims", "select_last_index"],
    infer(ins, attrs, _c, ctx) {
      return [{ dtype: "int64", shape: argCheck(ins, attrs, ctx).shape }];
    },
    run(ins, attrs, ctx) {
      const x = need(ins, 0, ctx);
      checkLength(ctx, x, "data");
      const { axis, shape, last } = argCheck(ins, attrs, ctx);
      const dim = x.shape[axis];
      const inner = size(x.shape.slice(axis + 1));
      const outer = size(x.shape.slice(0, axis));
      const out = new Float64Array(outer * inner);
      for (let a = 0; a < outer; a++) {
        for (let b = 0; b < inner; b++) {
          const base = a * dim * inner + b;
          let best = x.data[base];
          let bi = 0;
          for (let k = 1; k < dim; k++) {
            const v = x.data[base + k * inner];
            if (better(v, best) || (last && v === best)) {
              best = v;
              bi = k;
            }
          }
          out[a * inner + b] = bi;
        }
      }
      return [{ dtype: "int64", shape, data: out }];
    },
  };
}

/** The reductions and ArgMax/ArgMin, by ONNX op type. */
export const REDUCE_OPS: Record<string, OpDef> = {
  ...Object.fromEntries(Object.keys(KINDS).map((op) => [op, reduceOp(op)])),
  ArgMax: argOp((v, best) => v > best),
  ArgMin: argOp((v, best) => v < best),
};
