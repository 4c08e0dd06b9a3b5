/**
 * Shape-only reference ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze,
 * Expand. They copy data (never alias an input) and compute the output shape with one
 * function shared by `infer` (bind-time constants) and `run` (actual inputs).
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrInt, attrInts } from "../../runtime/graph.ts";
import { fmtShape, size, strides, type TensorMeta } from "../../runtime/tensor.ts";
import { broadcastShapes } from "./broadcast.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { axisTable, constData, type DataOf, gatherTables, runData } from "./gather_tables.ts";
import { ALL, checkDType, checkLength, intValues, normAxes } from "./ref_util.ts";

/** Number of inputs given (1 + index of the last present input). */
function given(ins: readonly unknown[]): number {
  let n = ins.length;
  while (n > 0 && ins[n - 1] === undefined) n--;
  return n;
}

/** A data-preserving op defined by its output shape (`n`: number of inputs given). */
function reshapeLike(
  attrs: readonly string[],
  outShape: (x: TensorMeta, attrs: Attrs, data: DataOf, ctx: OpContext, n: number) => number[],
): OpDef {
  return {
    attrs,
    infer(ins, a, consts, ctx) {
      const x = need(ins, 0, ctx);
      checkDType(ctx, x, ALL, "data");
      return [{ dtype: x.dtype, shape: outShape(x, a, constData(consts, ctx), ctx, given(ins)) }];
    },
    run(ins, a, ctx) {
      const x = need(ins, 0, ctx);
      checkLength(ctx, x, "data");
      const shape = outShape(x, a, runData(ins, ctx), ctx, given(ins));
      return [{ dtype: x.dtype, shape, data: x.data.slice() }];
    },
  };
}

/**
 * Resolves an ONNX Reshape target: 0 copies the input dim (unless `allowzero`), one -1
 * is inferred from the element count.
 *
 * @example
 * ```ts
 * reshapeTarget(ctx, [2, 3, 4], [0, -1], false); // [2, 12]
 * ```
 */
export function reshapeTarget(
  ctx: OpContext,
  inShape: readonly number[],
  target: readonly number[],
  allowzero: boolean,
): number[] {
  const total = size(inShape);
  let infer = -1;
  const out = target.map((d, i) => {
    if (d === -1) {
      if (infer >= 0) shapeError(ctx, `shape ${fmtShape(target)} has more than one -1`);
      infer = i;
      return 1;
    }
    if (!Number.isInteger(d) || d < -1) shapeError(ctx, `shape ${fmtShape(target)} has dim ${d}`);
    if (d === 0 && !allowzero) {
      if (i >= inShape.length) {
        shapeError(
          ctx,
          `shape ${fmtShape(target)}: dim ${i} is 0 but input has rank ${inShape.length}`,
        );
      }
      return inShape[i];
    }
    return d;
  });
  if (infer >= 0) {
    if (allowzero && target.includes(0)) {
      shapeError(ctx, `shape ${fmtShape(target)} has both 0 and -1 with allowzero=1`);
    }
    const known = size(out);
    if (known === 0 || total % known !== 0) {
      shapeError(ctx, `cannot reshape ${fmtShape(inShape)} to ${fmtShape(target)}`);
    }
    out[infer] = total / known;
  }
  if (size(out) !== total) {
    shapeError(ctx, `cannot reshape ${fmtShape(inShape)} (${total} elements) to ${fmtShape(out)}`);
  }
  return out;
}

const Reshape = reshapeLike(["shape", "allowzero"], (x, attrs, data, ctx, n) => {
  let target: number[];
  if (ctx.opset < 5) {
    if (n > 1) shapeError(ctx, "shape is an attribute before opset 5, not an input");
    const s = attrInts(attrs, "shape");
    if (!s) attrError(ctx, "attribute 'shape' is required before opset 5");
    target = s;
  } else {
    if (attrs.shape !== undefined) attrError(ctx, "shape is an input since opset 5");
    target = intValues(ctx, data(1, "shape"), "shape");
  }
  return reshapeTarget(ctx, x.shape, target, attrInt(attrs, "allowzero", 0) !== 0);
});

const Flatten = reshapeLike(["axis"], (x, attrs, _d, ctx) => {
  const r = x.shape.length;
  let axis = attrInt(attrs, "axis", 1);
  if (axis < -r || axis > r) shapeError(ctx, `axis ${axis} is out of range [${-r}, ${r}]`);
  if (axis < 0) axis += r;
  return [size(x.shape.slice(0, axis)), size(x.shape.slice(axis))];
});

/** Axes of Squeeze/Unsqueeze: attribute before opset 13, input from 13. */
function axesOf(attrs: Attrs, data: DataOf, ctx: OpContext, given: boolean): number[] | undefined {
  if (ctx.opset < 13) {
    if (given) shapeError(ctx, "axes is an attribute before opset 13, not an input");
    return attrInts(attrs, "axes");
  }
  if (attrs.axes !== undefined) attrError(ctx, "axes is an input since opset 13");
  return given ? intValues(ctx, data(1, "axes"), "axes") : undefined;
}

const Squeeze = reshapeLike(["axes"], (x, attrs, data, ctx, n) => {
  const axes = axesOf(attrs, data, ctx, n > 1);
  if (axes === undefined) return x.shape.filter((d) => d !== 1);
  const ax = normAxes(ctx, axes, x.shape.length);
  for (const a of ax) {
    if (x.shape[a] !== 1) shapeError(ctx, `cannot squeeze axis ${a} of ${fmtShape(x.shape)}`);
  }
  return x.shape.filter((_, i) => !ax.includes(i));
});

const Unsqueeze = reshapeLike(["axes"], (x, attrs, data, ctx, n) => {
  const axes = axesOf(attrs, data, ctx, n > 1);
  if (axes === undefined) shapeError(ctx, "axes is required");
  const rank = x.shape.length + axes.length;
  const ax = normAxes(ctx, axes, rank);
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[j++]);
  return out;
});

function expandShape(x: TensorMeta, data: DataOf, ctx: OpContext): number[] {
  const target = intValues(ctx, data(1, "shape"), "shape");
  if (target.some((d) => !Number.isInteger(d) || d < 0)) {
    shapeError(ctx, `shape ${fmtShape(target)} has a negative dim`);
  }
  return broadcastShapes(ctx, x.shape, target);
}

const Expand: OpDef = {
  attrs: [],
  infer(ins, _a, consts, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, ALL, "input");
    return [{ dtype: x.dtype, shape: expandShape(x, constData(consts, ctx), ctx) }];
  },
  run(ins, _a, ctx) {
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "input");
    const shape = expandShape(x, runData(ins, ctx), ctx);
    const st = strides(x.shape);
    const off = shape.length - x.shape.length;
    const tables = shape.map((n, d) => {
      const k = d - off;
      const s = k < 0 || x.shape[k] === 1 ? 0 : st[k];
      return axisTable(n, (c) => c * s);
    });
    return [gatherTables(x, shape, tables, 0)];
  },
};

function shapeRange(x: TensorMeta, attrs: Attrs, ctx: OpContext): [number, number] {
  const r = x.shape.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  if (ctx.opset < 15 && (attrs.start !== undefined || attrs.end !== undefined)) {
    attrError(ctx, "start/end attributes of Shape need opset 15");
  }
  const start = clamp(attrInt(attrs, "start", 0));
  const end = clamp(attrInt(attrs, "end", r));
  return [start, Math.max(start, end)];
}

const Shape: OpDef = {
  attrs: ["start", "end"],
  infer(ins, attrs, _c, ctx) {
    const [s, e] = shapeRange(need(ins, 0, ctx), attrs, ctx);
    return [{ dtype: "int64", shape: [e - s] }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const [s, e] = shapeRange(x, attrs, ctx);
    return [{ dtype: "int64", shape: [e - s], data: Float64Array.from(x.shape.slice(s, e)) }];
  },
};

const Size: OpDef = {
  attrs: [],
  infer(ins, _a, _c, ctx) {
    need(ins, 0, ctx);
    return [{ dtype: "int64", shape: [] }];
  },
  run(ins, _a, ctx) {
    return [{ dtype: "int64", shape: [], data: Float64Array.of(size(need(ins, 0, ctx).shape)) }];
  },
};

/**
 * Ops whose output is their first input's bytes under another shape (Identity: the same
 * shape): a backend may give both one buffer (the WebGPU and wasm memory plans do).
 */
export const ALIAS_OPS: readonly string[] = [
  "Reshape",
  "Flatten",
  "Squeeze",
  "Unsqueeze",
  "Identity",
];

/** Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Expand, by ONNX op type. */
export const SHAPE_OPS: Record<string, OpDef> = {
  Shape,
  Size,
  Reshape,
  Flatten,
  Squeeze,
  Unsqueeze,
  Expand,
};
