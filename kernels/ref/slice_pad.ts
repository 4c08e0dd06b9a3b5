/**
 * Slice, Pad and Tile reference ops: per-axis index maps fed to {@link gatherTables}.
 *
 * Slice takes `starts/ends/axes` attributes before opset 10 and `starts, ends, axes?,
 * steps?` inputs from 10 (negative steps, clamping as in the ONNX spec). Pad takes
 * `pads/mode/value` attributes before opset 11 and `pads, constant_value?, axes?`
 * inputs from 11 (axes from 18); modes constant, reflect, edge and wrap.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrFloat, attrInts, attrString } from "../../runtime/graph.ts";
import { type DType, fmtShape, strides, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { axisTable, constData, type DataOf, gatherTables, runData } from "./gather_tables.ts";
import {
  ALL,
  checkDType,
  checkLength,
  inputError,
  intValues,
  normAxes,
  sameDType,
  scalarValue,
} from "./ref_util.ts";

/** A data-movement op: output shape + per-axis input-coordinate maps (-1: fill). */
interface Plan {
  shape: number[];
  /** `coord[d][c]`: input coordinate along axis d of output coordinate c, or -1. */
  coord: ((c: number) => number)[];
  /** The fill value for outside coordinates, read only when running. */
  fill: () => number;
}

/** Whether optional input `i` is given. */
type Has = (i: number) => boolean;

function tableOp(
  attrs: readonly string[],
  types: readonly DType[],
  plan: (x: TensorMeta, has: Has, attrs: Attrs, data: DataOf, ctx: OpContext) => Plan,
): OpDef {
  const given = (ins: readonly unknown[]): Has => (i) => ins[i] !== undefined;
  return {
    attrs,
    infer(ins, a, consts, ctx) {
      const x = need(ins, 0, ctx);
      checkDType(ctx, x, types, "data");
      return [{ dtype: x.dtype, shape: plan(x, given(ins), a, constData(consts, ctx), ctx).shape }];
    },
    run(ins, a, ctx) {
      const x = need(ins, 0, ctx);
      checkDType(ctx, x, types, "data");
      checkLength(ctx, x, "data");
      const p = plan(x, given(ins), a, runData(ins, ctx), ctx);
      const st = strides(x.shape);
      const tables = p.shape.map((n, d) =>
        axisTable(n, (c) => {
          const k = p.coord[d](c);
          return k < 0 ? -1 : k * st[d];
        })
      );
      return [gatherTables(x, p.shape, tables, p.fill())];
    },
  };
}

/** Reads an int list from input `i` (>= opset `since`) or attribute `name` (before). */
function listArg(
  name: string,
  i: number,
  since: number,
  has: Has,
  attrs: Attrs,
  data: DataOf,
  ctx: OpContext,
): number[] | undefined {
  if (ctx.opset < since) {
    if (has(i)) shapeError(ctx, `${name} is an attribute before opset ${since}, not an input`);
    return attrInts(attrs, name);
  }
  if (attrs[name] !== undefined) attrError(ctx, `${name} is an input since opset ${since}`);
  return has(i) ? intValues(ctx, data(i, name), name) : undefined;
}

function slicePlan(x: TensorMeta, has: Has, attrs: Attrs, data: DataOf, ctx: OpContext): Plan {
  const r = x.shape.length;
  const starts = listArg("starts", 1, 10, has, attrs, data, ctx);
  const ends = listArg("ends", 2, 10, has, attrs, data, ctx);
  if (!starts || !ends) return shapeError(ctx, "starts and ends are required");
  const k = starts.length;
  const axes = normAxes(
    ctx,
    listArg("axes", 3, 10, has, attrs, data, ctx) ?? [...Array(k).keys()],
    r,
  );
  const steps = ctx.opset >= 10 && has(4) ? intValues(ctx, data(4, "steps"), "steps") : undefined;
  if (ends.length !== k || axes.length !== k || (steps && steps.length !== k)) {
    shapeError(ctx, `starts/ends/axes/steps lengths differ: ${k}, ${ends.length}, ${axes.length}`);
  }
  const shape = [...x.shape];
  const coord: ((c: number) => number)[] = shape.map(() => (c: number) => c);
  axes.forEach((a, i) => {
    const dim = x.shape[a];
    const step = steps ? steps[i] : 1;
    if (step === 0) inputError(ctx, `step of axis ${a} is 0`);
    let s = starts[i] < 0 ? starts[i] + dim : starts[i];
    let e = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    shape[a] = dim === 0 ? 0 : Math.max(0, Math.ceil((e - s) / step));
    coord[a] = (c) => s + c * step;
  });
  return { shape, coord, fill: () => 0 };
}

const PAD_MODES = ["constant", "reflect", "edge", "wrap"];

function padPlan(x: TensorMeta, has: Has, attrs: Attrs, data: DataOf, ctx: OpContext): Plan {
  const r = x.shape.length;
  const mode = attrString(attrs, "mode", "constant");
  if (!PAD_MODES.includes(mode)) attrError(ctx, `mode must be one of ${PAD_MODES}, got "${mode}"`);
  let pads: number[] | undefined;
  let fill = () => 0;
  let axes = [...Array(r).keys()];
  if (ctx.opset < 11) {
    if (has(1)) shapeError(ctx, "pads/value are attributes before opset 11, not inputs");
    pads = attrInts(attrs, "pads");
    const v = attrFloat(attrs, "value", 0);
    fill = () => v;
  } else {
    if (attrs.pads !== undefined || attrs.value !== undefined) {
      attrError(ctx, "pads/value are inputs since opset 11");
    }
    const p = data(1, "pads");
    checkDType(ctx, p, ["int64"], "pads");
    pads = intValues(ctx, p, "pads");
    if (has(2)) {
      fill = () => {
        const cv = data(2, "constant_value");
        sameDType(ctx, x, cv, "data", "constant_value");
        return scalarValue(ctx, cv, "constant_value");
      };
    }
    if (has(3)) {
      if (ctx.opset < 18) shapeError(ctx, "the axes input of Pad needs opset 18");
      axes = normAxes(ctx, intValues(ctx, data(3, "axes"), "axes"), r);
    }
  }
  if (!pads) return attrError(ctx, "attribute 'pads' is required");
  if (pads.length !== 2 * axes.length) {
    shapeError(ctx, `pads has ${pads.length} values, expected ${2 * axes.length}`);
  }
  const shape = [...x.shape];
  const coord: ((c: number) => number)[] = shape.map(() => (c: number) => c);
  axes.forEach((a, i) => {
    const dim = x.shape[a];
    const begin = pads![i];
    const out = dim + begin + pads![i + axes.length];
    if (out < 0) shapeError(ctx, `pads ${fmtShape(pads!)} make axis ${a} negative`);
    if (mode !== "constant" && dim === 0 && out > 0) {
      shapeError(ctx, `cannot ${mode}-pad the empty axis ${a}`);
    }
    shape[a] = out;
    const period = 2 * (dim - 1);
    coord[a] = (c) => {
      const k = c - begin;
      if (k >= 0 && k < dim) return k;
      switch (mode) {
        case "edge":
          return Math.min(Math.max(k, 0), dim - 1);
        case "wrap":
          return ((k % dim) + dim) % dim;
        case "reflect": {
          if (dim === 1) return 0;
          const m = ((k % period) + period) % period;
          return m < dim ? m : period - m;
        }
      }
      return -1;
    };
  });
  return { shape, coord, fill };
}

function tilePlan(x: TensorMeta, _h: Has, _a: Attrs, data: DataOf, ctx: OpContext): Plan {
  if (ctx.opset < 6) attrError(ctx, "Tile before opset 6 (tiles and axis inputs) is not supported");
  const rep = intValues(ctx, data(1, "repeats"), "repeats");
  if (rep.length !== x.shape.length) {
    shapeError(ctx, `repeats has ${rep.length} values, input has rank ${x.shape.length}`);
  }
  if (rep.some((v) => !Number.isInteger(v) || v < 0)) {
    shapeError(ctx, `repeats [${rep}] must be >= 0`);
  }
  return {
    shape: x.shape.map((d, i) => d * rep[i]),
    coord: x.shape.map((d) => (c: number) => c % d),
    fill: () => 0,
  };
}

/** Slice, Pad and Tile, by ONNX op type. */
export const SLICE_PAD_OPS: Record<string, OpDef> = {
  Slice: tableOp(["starts", "ends", "axes"], ALL, slicePlan),
  Pad: tableOp(["pads", "mode", "value"], ALL, padPlan),
  Tile: tableOp([], ALL, tilePlan),
};
