/**
 * Helpers shared by the elementwise, reduction and shape reference ops: dtype
 * classes and checks, axis normalisation, reading integer inputs that must be
 * constant at bind time, and value conversion into an output dtype.
 *
 * Every check throws an {@link EdgeqError} naming the node (never a raw RangeError).
 */
import { EdgeqError } from "../../runtime/errors.ts";
import type { DType, Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { fmtShape, size } from "../../runtime/tensor.ts";
import { type OpContext, shapeError } from "./op.ts";

/** float32 and float64. */
export const FLOAT: readonly DType[] = ["float32", "float64"];
/** The signed integer dtypes. */
export const SIGNED_INT: readonly DType[] = ["int8", "int16", "int32", "int64"];
/** The unsigned integer dtypes. */
export const UNSIGNED_INT: readonly DType[] = ["uint8", "uint16", "uint32"];
/** Every integer dtype (bool excluded). */
export const INT: readonly DType[] = [...SIGNED_INT, ...UNSIGNED_INT];
/** Floats and signed integers. */
export const SIGNED: readonly DType[] = [...FLOAT, ...SIGNED_INT];
/** Every numeric dtype (bool excluded). */
export const NUMERIC: readonly DType[] = [...FLOAT, ...INT];
/** Every dtype. */
export const ALL: readonly DType[] = [...NUMERIC, "bool"];
/** The dtypes an index input (Gather indices, shapes, axes) may have. */
export const INDEX: readonly DType[] = ["int32", "int64"];

/**
 * Throws an unsupported-dtype error naming the node.
 *
 * @example
 * ```ts
 * if (x.dtype === "bool") dtypeError(ctx, "X must be numeric");
 * ```
 */
export function dtypeError(ctx: OpContext, msg: string): never {
  throw new EdgeqError("E_UNSUPPORTED_DTYPE", msg, { node: ctx.node.name, op: ctx.node.op });
}

/**
 * Throws a bad-input-data error (an index out of range, a zero step) naming the node.
 *
 * @example
 * ```ts
 * if (i >= n) inputError(ctx, `index ${i} is out of range [0, ${n})`);
 * ```
 */
export function inputError(ctx: OpContext, msg: string): never {
  throw new EdgeqError("E_INPUT", msg, { node: ctx.node.name, op: ctx.node.op });
}

/**
 * Checks that `m`'s dtype is in `allowed` and returns it.
 *
 * @example
 * ```ts
 * const dt = checkDType(ctx, ins[0], FLOAT, "X"); // "float32"
 * ```
 */
export function checkDType(
  ctx: OpContext,
  m: TensorMeta,
  allowed: readonly DType[],
  what: string,
): DType {
  if (!allowed.includes(m.dtype)) {
    dtypeError(ctx, `${what} must be one of ${allowed.join("|")}, got ${m.dtype}`);
  }
  return m.dtype;
}

/**
 * Checks that two values have the same dtype.
 *
 * @example
 * ```ts
 * sameDType(ctx, a, b, "A", "B");
 * ```
 */
export function sameDType(
  ctx: OpContext,
  a: TensorMeta,
  b: TensorMeta,
  whatA: string,
  whatB: string,
): void {
  if (a.dtype !== b.dtype) {
    dtypeError(ctx, `${whatB} must have the dtype of ${whatA} (${a.dtype}), got ${b.dtype}`);
  }
}

/**
 * Normalises an axis in `[-rank, rank)` to `[0, rank)`, or throws.
 *
 * @example
 * ```ts
 * normAxis(ctx, -1, 4); // 3
 * ```
 */
export function normAxis(ctx: OpContext, axis: number, rank: number, what = "axis"): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    shapeError(ctx, `${what} ${axis} is out of range [${-rank}, ${rank - 1}] for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/**
 * Normalises a list of axes and rejects duplicates.
 *
 * @example
 * ```ts
 * normAxes(ctx, [0, -1], 3); // [0, 2]
 * ```
 */
export function normAxes(ctx: OpContext, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => normAxis(ctx, a, rank));
  if (new Set(out).size !== out.length) shapeError(ctx, `axes [${axes}] repeat an axis`);
  return out;
}

/**
 * The values of an integer (int32/int64) tensor as numbers.
 *
 * @example
 * ```ts
 * intValues(ctx, shapeTensor, "shape"); // [2, -1]
 * ```
 */
export function intValues(ctx: OpContext, t: Tensor, what: string): number[] {
  checkDType(ctx, t, INDEX, what);
  if (t.shape.length > 1) shapeError(ctx, `${what} must be 1-D, got shape ${fmtShape(t.shape)}`);
  checkLength(ctx, t, what);
  return Array.from(t.data);
}

/**
 * The single value of a scalar (or one-element) tensor.
 *
 * @example
 * ```ts
 * scalarValue(ctx, depth, "depth"); // 10
 * ```
 */
export function scalarValue(ctx: OpContext, t: Tensor, what: string): number {
  checkLength(ctx, t, what);
  if (t.data.length !== 1) {
    shapeError(ctx, `${what} must be a scalar, got shape ${fmtShape(t.shape)}`);
  }
  return t.data[0];
}

/** Checks that a tensor's data length matches its shape. */
export function checkLength(ctx: OpContext, t: Tensor, what: string): void {
  if (t.data.length !== size(t.shape)) {
    shapeError(
      ctx,
      `${what} has ${t.data.length} elements but shape ${fmtShape(t.shape)} needs ${size(t.shape)}`,
    );
  }
}

/**
 * Returns `consts[i]`, or throws E_SHAPE saying that input `what` must be constant at
 * bind time (its data decides the output shape).
 *
 * @example
 * ```ts
 * const shape = needConst(consts, 1, "shape", ctx);
 * ```
 */
export function needConst(
  consts: (Tensor | undefined)[],
  i: number,
  what: string,
  ctx: OpContext,
): Tensor {
  const c = consts[i];
  if (c === undefined) {
    const name = ctx.node.inputs[i];
    shapeError(
      ctx,
      `input '${what}'${name ? ` (tensor '${name}')` : ""} must be constant at bind time`,
    );
  }
  return c;
}

/**
 * Converts a number computed in float64 to what an int64 element holds: truncated
 * toward zero, non-finite values become 0. Other dtypes are converted by their typed
 * array on store (wrapping like C), so this is only needed for int64.
 *
 * @example
 * ```ts
 * toInt64(-2.7); // -2
 * ```
 */
export function toInt64(x: number): number {
  return Number.isFinite(x) ? Math.trunc(x) + 0 : 0;
}
