/**
 * Cast and CastLike between every edgeq dtype, with ONNX semantics: float -> int
 * truncates toward zero (out-of-range values wrap like the typed array store), any ->
 * bool is `x != 0` (NaN is true), bool -> number is 0/1. The `saturate` attribute only
 * matters for float8 targets, which edgeq does not have, so it is accepted and ignored.
 */
import type { Attrs } from "../../runtime/graph.ts";
import type { DType, Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "./op.ts";
import { mapUnary } from "./unary.ts";
import { ALL, checkDType, dtypeError } from "./ref_util.ts";

/** ONNX TensorProto.DataType numbers of the dtypes edgeq has. */
const ONNX_DTYPES: Record<number, DType> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  11: "float64",
  12: "uint32",
};

/** Names of ONNX data types edgeq lacks, for messages. */
const ONNX_OTHER: Record<number, string> = {
  8: "string",
  10: "float16",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
  17: "float8e4m3fn",
  18: "float8e4m3fnuz",
  19: "float8e5m2",
  20: "float8e5m2fnuz",
  21: "uint4",
  22: "int4",
};

/** TensorProto.DataType names, for Cast-1's string `to`. */
const ONNX_NAMES: Record<string, number> = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
};

/**
 * The edgeq dtype of a Cast `to` attribute (an ONNX TensorProto.DataType number, or a
 * dtype name), or an E_UNSUPPORTED_DTYPE error.
 *
 * @example
 * ```ts
 * castTarget(ctx, 7); // "int64"
 * ```
 */
export function castTarget(ctx: OpContext, to: unknown): DType {
  if (typeof to === "number") {
    const d = ONNX_DTYPES[to];
    if (d) return d;
    return dtypeError(ctx, `Cast to ${ONNX_OTHER[to] ?? `ONNX type ${to}`} is not supported`);
  }
  if (typeof to === "string" && (ALL as readonly string[]).includes(to)) return to as DType;
  if (typeof to === "string" && ctx.opset < 6) {
    // Cast-1 names the target type by its TensorProto.DataType name ("FLOAT", ...).
    const num = ONNX_NAMES[to.toUpperCase()];
    if (num !== undefined) return castTarget(ctx, num);
  }
  return attrError(ctx, `attribute 'to' must be an ONNX data type, got ${JSON.stringify(to)}`);
}

/**
 * Converts `x` to dtype `to` with ONNX Cast semantics.
 *
 * @example
 * ```ts
 * castTensor(ctx, x, "int32");
 * ```
 */
export function castTensor(ctx: OpContext, x: Tensor, to: DType): Tensor {
  if (to === "bool") return mapUnary(ctx, x, to, (v) => v !== 0 ? 1 : 0);
  return mapUnary(ctx, x, to, (v) => v); // typed store truncates/wraps; int64 truncates
}

function castInfer(ins: (TensorMeta | undefined)[], attrs: Attrs, ctx: OpContext): DType {
  const x = need(ins, 0, ctx);
  checkDType(ctx, x, ALL, "input");
  if (attrs.to === undefined) attrError(ctx, "attribute 'to' is required");
  return castTarget(ctx, attrs.to);
}

function castLikeTarget(ins: (TensorMeta | undefined)[], ctx: OpContext): DType {
  checkDType(ctx, need(ins, 0, ctx), ALL, "input");
  return checkDType(ctx, need(ins, 1, ctx), ALL, "target_type");
}

/** Cast and CastLike, by ONNX op type. */
export const CAST_OPS: Record<string, OpDef> = {
  Cast: {
    attrs: ["to", "saturate"],
    infer(ins, attrs, _c, ctx) {
      return [{ dtype: castInfer(ins, attrs, ctx), shape: [...need(ins, 0, ctx).shape] }];
    },
    run(ins, attrs, ctx) {
      return [castTensor(ctx, need(ins, 0, ctx), castInfer(ins, attrs, ctx))];
    },
  },
  CastLike: {
    attrs: ["saturate"],
    infer(ins, _a, _c, ctx) {
      return [{ dtype: castLikeTarget(ins, ctx), shape: [...need(ins, 0, ctx).shape] }];
    },
    run(ins, _a, ctx) {
      return [castTensor(ctx, need(ins, 0, ctx), castLikeTarget(ins, ctx))];
    },
  },
};
