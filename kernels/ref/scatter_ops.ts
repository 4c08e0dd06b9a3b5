/**
 * More index-driven reference ops: GatherND, ScatterElements (and its opset 9-10 name
 * Scatter), ScatterND, TopK and EyeLike.
 *
 * Negative indices count from the end; an index out of range is an E_INPUT error.
 * Scatter reductions (`add`, `mul`, `max`, `min`) apply in index order, so duplicate
 * indices accumulate; with `none` the last write wins. TopK orders by value (largest
 * or smallest first) and, among equal values, by lower index, always returning sorted
 * results; its K must be constant at bind time (it decides the output shape).
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrInt, attrString } from "../../runtime/graph.ts";
import {
  allocData,
  type DType,
  fmtShape,
  size,
  strides,
  type Tensor,
  type TensorMeta,
} from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { castTarget } from "./cast.ts";
import {
  ALL,
  checkDType,
  checkLength,
  INDEX,
  inputError,
  needConst,
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

// ---------------------------------------------------------------- GatherND

function gatherNdCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const x = need(ins, 0, ctx);
  const idx = need(ins, 1, ctx);
  checkDType(ctx, x, ALL, "data");
  checkDType(ctx, idx, ["int64"], "indices");
  const b = attrInt(attrs, "batch_dims", 0);
  const r = x.shape.length, q = idx.shape.length;
  if (!Number.isInteger(b) || b < 0 || b >= Math.min(r, q)) {
    attrError(ctx, `batch_dims ${b} must be in [0, min(rank(data), rank(indices)))`);
  }
  const m = idx.shape[q - 1];
  if (r < 1 || q < 1 || m < 1 || m > r - b) {
    shapeError(ctx, `indices ${fmtShape(idx.shape)} do not fit data ${fmtShape(x.shape)}`);
  }
  for (let i = 0; i < b; i++) {
    if (x.shape[i] !== idx.shape[i]) {
      shapeError(
        ctx,
        `batch dim ${i} differs: data ${fmtShape(x.shape)}, indices ${fmtShape(idx.shape)}`,
      );
    }
  }
  const shape = [...idx.shape.slice(0, q - 1), ...x.shape.slice(b + m)];
  return { b, m, shape };
}

const GatherND: OpDef = {
  attrs: ["batch_dims"],
  infer(ins, attrs, _c, ctx) {
    const { shape } = gatherNdCheck(ins, attrs, ctx);
    return [{ dtype: need(ins, 0, ctx).dtype, shape }];
  },
  run(ins, attrs, ctx) {
    const { b, m, shape } = gatherNdCheck(ins, attrs, ctx);
    const x = need(ins, 0, ctx), idx = need(ins, 1, ctx);
    checkLength(ctx, x, "data");
    checkLength(ctx, idx, "indices");
    const xs = strides(x.shape);
    const inner = size(x.shape.slice(b + m));
    const batches = size(x.shape.slice(0, b));
    const batchStride = size(x.shape.slice(b));
    const tuples = idx.data.length / m;
    const perBatch = tuples / batches;
    const out = allocData(x.dtype, size(shape));
    for (let t = 0; t < tuples; t++) {
      let at = Math.floor(t / perBatch) * batchStride;
      for (let j = 0; j < m; j++) {
        at += resolve(ctx, idx.data[t * m + j], x.shape[b + j]) * xs[b + j];
      }
      out.set(x.data.subarray(at, at + inner), t * inner);
    }
    return [{ dtype: x.dtype, shape, data: out }];
  },
};

// ---------------------------------------------------------------- Scatter*

type Reduce = (old: number, upd: number) => number;

function readReduction(ctx: OpContext, attrs: Attrs, dtype: DType): Reduce | undefined {
  const r = attrString(attrs, "reduction", "none");
  const since: Record<string, number> = { none: 1, add: 16, mul: 16, max: 18, min: 18 };
  if (since[r] === undefined || ctx.opset < since[r]) {
    attrError(ctx, `reduction '${r}' is not defined at opset ${ctx.opset}`);
  }
  if (r !== "none" && dtype === "bool") attrError(ctx, `reduction '${r}' needs numeric data`);
  const int32 = dtype === "int32" || dtype === "uint32";
  switch (r) {
    case "add":
      return (a, u) => a + u;
    case "mul":
      return int32 ? Math.imul : (a, u) => a * u;
    case "max":
      return Math.max;
    case "min":
      return Math.min;
  }
  return undefined;
}

function store(out: Tensor["data"], at: number, v: number, f: Reduce | undefined, i64: boolean) {
  const r = f ? f(out[at], v) : v;
  out[at] = i64 ? toInt64(r) : r;
}

function scatterElementsCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const [x, idx, upd] = [0, 1, 2].map((i) => need(ins, i, ctx));
  checkDType(ctx, x, ALL, "data");
  checkDType(ctx, idx, INDEX, "indices");
  checkDType(ctx, upd, [x.dtype], "updates");
  const r = x.shape.length;
  if (r < 1) shapeError(ctx, "data must have rank >= 1");
  const axis = normAxis(ctx, attrInt(attrs, "axis", 0), r);
  if (
    idx.shape.length !== r || upd.shape.length !== r ||
    idx.shape.some((d, i) => d !== upd.shape[i] || (i !== axis && d > x.shape[i]))
  ) {
    shapeError(
      ctx,
      `indices ${fmtShape(idx.shape)} / updates ${fmtShape(upd.shape)} do not fit data ${
        fmtShape(x.shape)
      }`,
    );
  }
  return { x, axis, reduce: readReduction(ctx, attrs, x.dtype) };
}

function scatterElementsOp(attrs: readonly string[]): OpDef {
  return {
    attrs,
    infer(ins, a, _c, ctx) {
      const { x } = scatterElementsCheck(ins, a, ctx);
      return [{ dtype: x.dtype, shape: [...x.shape] }];
    },
    run(ins, a, ctx) {
      const { axis, reduce } = scatterElementsCheck(ins, a, ctx);
      const [x, idx, upd] = [0, 1, 2].map((i) => need(ins, i, ctx));
      [x, idx, upd].forEach((t, i) => checkLength(ctx, t, `input ${i}`));
      const out = x.data.slice();
      const xs = strides(x.shape);
      const r = idx.shape.length;
      const coord = new Array<number>(r).fill(0);
      const i64 = x.dtype === "int64";
      for (let o = 0; o < idx.data.length; o++) {
        let at = 0;
        for (let d = 0; d < r; d++) {
          at += (d === axis ? resolve(ctx, idx.data[o], x.shape[d]) : coord[d]) * xs[d];
        }
        store(out, at, upd.data[o], reduce, i64);
        for (let d = r - 1; d >= 0; d--) {
          if (++coord[d] < idx.shape[d]) break;
          coord[d] = 0;
        }
      }
      return [{ dtype: x.dtype, shape: [...x.shape], data: out }];
    },
  };
}

function scatterNdCheck(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const [x, idx, upd] = [0, 1, 2].map((i) => need(ins, i, ctx));
  checkDType(ctx, x, ALL, "data");
  checkDType(ctx, idx, ["int64"], "indices");
  checkDType(ctx, upd, [x.dtype], "updates");
  const r = x.shape.length, q = idx.shape.length;
  const k = q > 0 ? idx.shape[q - 1] : 0;
  const want = [...idx.shape.slice(0, q - 1), ...x.shape.slice(k)];
  if (
    r < 1 || q < 1 || k < 1 || k > r || upd.shape.length !== want.length ||
    upd.shape.some((d, i) => d !== want[i])
  ) {
    shapeError(
      ctx,
      `indices ${fmtShape(idx.shape)} / updates ${fmtShape(upd.shape)} do not fit data ${
        fmtShape(x.shape)
      }`,
    );
  }
  return { x, k, reduce: readReduction(ctx, attrs, x.dtype) };
}

const ScatterND: OpDef = {
  attrs: ["reduction"],
  infer(ins, attrs, _c, ctx) {
    const { x } = scatterNdCheck(ins, attrs, ctx);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    const { k, reduce } = scatterNdCheck(ins, attrs, ctx);
    const [x, idx, upd] = [0, 1, 2].map((i) => need(ins, i, ctx));
    [x, idx, upd].forEach((t, i) => checkLength(ctx, t, `input ${i}`));
    const out = x.data.slice();
    const xs = strides(x.shape);
    const inner = size(x.shape.slice(k));
    const i64 = x.dtype === "int64";
    const tuples = idx.data.length / k;
    for (let t = 0; t < tuples; t++) {
      let at = 0;
      for (let j = 0; j < k; j++) at += resolve(ctx, idx.data[t * k + j], x.shape[j]) * xs[j];
      for (let e = 0; e < inner; e++) store(out, at + e, upd.data[t * inner + e], reduce, i64);
    }
    return [{ dtype: x.dtype, shape: [...x.shape], data: out }];
  },
};

// ---------------------------------------------------------------- TopK

function topkPlan(
  ins: (TensorMeta | undefined)[],
  attrs: Attrs,
  kTensor: Tensor | undefined,
  ctx: OpContext,
) {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, NUMERIC, "X");
  if (x.shape.length < 1) shapeError(ctx, "X must have rank >= 1");
  const axis = normAxis(ctx, attrInt(attrs, "axis", -1), x.shape.length);
  let k: number;
  if (ctx.opset < 10) {
    if (attrs.k === undefined) attrError(ctx, "attribute 'k' is required before opset 10");
    k = attrInt(attrs, "k", 0);
  } else {
    if (attrs.k !== undefined) attrError(ctx, "k is an input since opset 10");
    checkDType(ctx, kTensor!, ["int64"], "K");
    k = scalarValue(ctx, kTensor!, "K");
  }
  if (!Number.isInteger(k) || k < 0 || k > x.shape[axis]) {
    inputError(ctx, `K ${k} must be in [0, ${x.shape[axis]}]`);
  }
  const largest = attrInt(attrs, "largest", 1) !== 0;
  const shape = [...x.shape];
  shape[axis] = k;
  return { x, axis, k, largest, shape };
}

const TopK: OpDef = {
  attrs: ["axis", "k", "largest", "sorted"],
  infer(ins, attrs, consts, ctx) {
    const kT = ctx.opset >= 10 ? needConst(consts, 1, "K", ctx) : undefined;
    const { x, shape } = topkPlan(ins, attrs, kT, ctx);
    return [{ dtype: x.dtype, shape }, { dtype: "int64", shape: [...shape] }];
  },
  run(ins, attrs, ctx) {
    const kT = ctx.opset >= 10 ? need(ins, 1, ctx) : undefined;
    const { axis, k, largest, shape } = topkPlan(ins, attrs, kT, ctx);
    const x = need(ins, 0, ctx);
    checkLength(ctx, x, "X");
    const dim = x.shape[axis];
    const inner = size(x.shape.slice(axis + 1));
    const outer = size(x.shape.slice(0, axis));
    const vals = allocData(x.dtype, size(shape));
    const inds = new Float64Array(size(shape));
    const order = new Array<number>(dim);
    const v = new Float64Array(dim);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * dim * inner + i;
        for (let j = 0; j < dim; j++) {
          order[j] = j;
          v[j] = x.data[base + j * inner];
        }
        order.sort((a, b) => (v[a] === v[b] ? a - b : largest ? v[b] - v[a] : v[a] - v[b]));
        for (let j = 0; j < k; j++) {
          const at = (o * k + j) * inner + i;
          vals[at] = v[order[j]];
          inds[at] = order[j];
        }
      }
    }
    return [
      { dtype: x.dtype, shape, data: vals },
      { dtype: "int64", shape: [...shape], data: inds },
    ];
  },
};

// ---------------------------------------------------------------- EyeLike

function eyeLikePlan(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext) {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, ALL, "input");
  if (x.shape.length !== 2) shapeError(ctx, `input must be 2-D, got ${fmtShape(x.shape)}`);
  const dtype = attrs.dtype === undefined ? x.dtype : castTarget(ctx, attrs.dtype);
  return { shape: [...x.shape], dtype, k: attrInt(attrs, "k", 0) };
}

const EyeLike: OpDef = {
  attrs: ["dtype", "k"],
  infer(ins, attrs, _c, ctx) {
    const { shape, dtype } = eyeLikePlan(ins, attrs, ctx);
    return [{ dtype, shape }];
  },
  run(ins, attrs, ctx) {
    const { shape, dtype, k } = eyeLikePlan(ins, attrs, ctx);
    const [rows, cols] = shape;
    const out = allocData(dtype, rows * cols);
    for (let i = 0; i < rows; i++) {
      const j = i + k;
      if (j >= 0 && j < cols) out[i * cols + j] = 1;
    }
    return [{ dtype, shape, data: out }];
  },
};

/** GatherND, ScatterElements, Scatter, ScatterND, TopK and EyeLike, by ONNX op type. */
export const SCATTER_OPS: Record<string, OpDef> = {
  GatherND,
  ScatterElements: scatterElementsOp(["axis", "reduction"]),
  Scatter: scatterElementsOp(["axis"]),
  ScatterND,
  TopK,
  EyeLike,
};
