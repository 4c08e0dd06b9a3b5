/**
 * Value-producing reference ops: Constant, ConstantOfShape and Range. Their output
 * shapes come from attributes or from inputs that must be constant at bind time.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { allocData, type DType, fmtShape, size, type Tensor } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { constData, type DataOf, runData } from "./gather_tables.ts";
import {
  checkDType,
  checkLength,
  inputError,
  intValues,
  scalarValue,
  toInt64,
} from "./ref_util.ts";

function isTensor(v: unknown): v is Tensor {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "dtype" in v;
}

const CONSTANT_ATTRS = [
  "value",
  "value_float",
  "value_floats",
  "value_int",
  "value_ints",
  "sparse_value",
  "value_string",
  "value_strings",
] as const;

/** The tensor a Constant node produces (a fresh copy). */
function constantValue(attrs: Attrs, ctx: OpContext): Tensor {
  const given = CONSTANT_ATTRS.filter((k) => attrs[k] !== undefined);
  if (given.length !== 1) {
    attrError(ctx, `exactly one of ${CONSTANT_ATTRS.join("|")} must be set, got [${given}]`);
  }
  const k = given[0];
  const v = attrs[k];
  switch (k) {
    case "value":
      if (!isTensor(v)) return attrError(ctx, "attribute 'value' must be a tensor");
      checkLength(ctx, v, "value");
      return { dtype: v.dtype, shape: [...v.shape], data: v.data.slice() };
    case "value_float":
    case "value_int":
      if (typeof v !== "number") return attrError(ctx, `attribute '${k}' must be a number`);
      return k === "value_float"
        ? { dtype: "float32", shape: [], data: Float32Array.of(v) }
        : { dtype: "int64", shape: [], data: Float64Array.of(v) };
    case "value_floats":
    case "value_ints":
      if (!Array.isArray(v) || v.some((e) => typeof e !== "number")) {
        return attrError(ctx, `attribute '${k}' must be a list of numbers`);
      }
      return k === "value_floats"
        ? { dtype: "float32", shape: [v.length], data: Float32Array.from(v as number[]) }
        : { dtype: "int64", shape: [v.length], data: Float64Array.from(v as number[]) };
  }
  return attrError(ctx, `Constant with attribute '${k}' is not supported`);
}

const Constant: OpDef = {
  attrs: CONSTANT_ATTRS,
  infer(_i, attrs, _c, ctx) {
    const t = constantValue(attrs, ctx);
    return [{ dtype: t.dtype, shape: t.shape }];
  },
  run(_i, attrs, ctx) {
    return [constantValue(attrs, ctx)];
  },
};

/** ConstantOfShape's fill value and dtype (default float32 0). */
function fillValue(attrs: Attrs, ctx: OpContext): { dtype: DType; v: number } {
  const t = attrs.value;
  if (t === undefined) return { dtype: "float32", v: 0 };
  if (!isTensor(t)) return attrError(ctx, "attribute 'value' must be a tensor");
  if (t.data.length !== 1) {
    attrError(ctx, `attribute 'value' must have one element, got shape ${fmtShape(t.shape)}`);
  }
  return { dtype: t.dtype, v: t.data[0] };
}

function cosShape(data: DataOf, ctx: OpContext): number[] {
  const s = data(0, "input");
  checkDType(ctx, s, ["int64"], "input");
  const shape = intValues(ctx, s, "input");
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    shapeError(ctx, `shape ${fmtShape(shape)} has a negative dim`);
  }
  return shape;
}

const ConstantOfShape: OpDef = {
  attrs: ["value"],
  infer(ins, attrs, consts, ctx) {
    need(ins, 0, ctx);
    return [{ dtype: fillValue(attrs, ctx).dtype, shape: cosShape(constData(consts, ctx), ctx) }];
  },
  run(ins, attrs, ctx) {
    const { dtype, v } = fillValue(attrs, ctx);
    const shape = cosShape(runData(ins, ctx), ctx);
    const data = allocData(dtype, size(shape));
    data.fill(v);
    return [{ dtype, shape, data }];
  },
};

const RANGE_TYPES: readonly DType[] = ["float32", "float64", "int16", "int32", "int64"];

/** Range's start, delta and element count. */
function rangeParams(
  data: DataOf,
  ctx: OpContext,
): { dtype: DType; s: number; d: number; n: number } {
  const [st, li, de] = ["start", "limit", "delta"].map((w, i) => data(i, w));
  checkDType(ctx, st, RANGE_TYPES, "start");
  for (const [t, w] of [[li, "limit"], [de, "delta"]] as const) {
    if (t.dtype !== st.dtype) {
      shapeError(ctx, `${w} must be ${st.dtype} like start, got ${t.dtype}`);
    }
  }
  const s = scalarValue(ctx, st, "start");
  const l = scalarValue(ctx, li, "limit");
  const d = scalarValue(ctx, de, "delta");
  if (d === 0) inputError(ctx, "delta must not be 0");
  const n = Math.max(Math.ceil((l - s) / d), 0);
  if (!Number.isFinite(n)) inputError(ctx, `Range(${s}, ${l}, ${d}) is not finite`);
  return { dtype: st.dtype, s, d, n };
}

const Range: OpDef = {
  attrs: [],
  infer(_i, _a, consts, ctx) {
    const { dtype, n } = rangeParams(constData(consts, ctx), ctx);
    return [{ dtype, shape: [n] }];
  },
  run(ins, _a, ctx) {
    const { dtype, s, d, n } = rangeParams(runData(ins, ctx), ctx);
    const out = allocData(dtype, n);
    for (let i = 0; i < n; i++) out[i] = dtype === "int64" ? toInt64(s + i * d) : s + i * d;
    return [{ dtype, shape: [n], data: out }];
  },
};

/** Constant, ConstantOfShape and Range, by ONNX op type. */
export const CONST_OPS: Record<string, OpDef> = { Constant, ConstantOfShape, Range };
