/**
 * Small helpers shared by the float "nn" reference ops: dtype and rank checks,
 * axis normalisation, unidirectional broadcasting and output allocation.
 *
 * Every check throws an {@link EdgeqError} naming the node (never a raw RangeError).
 */
import { EdgeqError } from "../../runtime/errors.ts";
import { fmtShape, size, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, type OpContext, shapeError } from "./op.ts";

/** The float dtypes the nn reference ops compute on. */
export type FloatDType = "float32" | "float64";

/** The typed arrays of {@link FloatDType} tensors. */
export type FloatArray = Float32Array | Float64Array;

/**
 * Checks that `m` is a float32/float64 value and returns its dtype.
 *
 * @example
 * ```ts
 * const dt = floatDType(ctx, ins[0], "X"); // "float32"
 * ```
 */
export function floatDType(ctx: OpContext, m: TensorMeta, what: string): FloatDType {
  if (m.dtype !== "float32" && m.dtype !== "float64") {
    throw new EdgeqError(
      "E_UNSUPPORTED_DTYPE",
      `${what} must be float32 or float64, got ${m.dtype}`,
      { node: ctx.node.name, op: ctx.node.op },
    );
  }
  return m.dtype;
}

/** Checks that `m` has the same dtype as the op's main input. */
export function sameDType(ctx: OpContext, m: TensorMeta, dtype: FloatDType, what: string): void {
  if (m.dtype !== dtype) shapeError(ctx, `${what} must be ${dtype} like X, got ${m.dtype}`);
}

/**
 * Returns a float tensor's data after checking its dtype and that its length
 * matches its shape.
 */
export function floatData(ctx: OpContext, t: Tensor, what: string): FloatArray {
  floatDType(ctx, t, what);
  if (t.data.length !== size(t.shape)) {
    shapeError(
      ctx,
      `${what} has ${t.data.length} elements, shape ${fmtShape(t.shape)} needs ${size(t.shape)}`,
    );
  }
  return t.data as FloatArray;
}

/** Checks `min <= rank(m) <= max`. */
export function checkRank(
  ctx: OpContext,
  m: TensorMeta,
  min: number,
  max: number,
  what: string,
): void {
  const r = m.shape.length;
  if (r < min || r > max) {
    const want = min === max ? `${min}` : max === Infinity ? `>= ${min}` : `${min}..${max}`;
    shapeError(ctx, `${what} must have rank ${want}, got shape ${fmtShape(m.shape)}`);
  }
  for (const d of m.shape) {
    if (!Number.isInteger(d) || d < 0) {
      shapeError(ctx, `${what} has bad shape ${fmtShape(m.shape)}`);
    }
  }
}

/** Checks that a per-channel parameter is 1-D of length `c`. */
export function checkVector(
  ctx: OpContext,
  m: TensorMeta,
  c: number,
  dtype: FloatDType,
  what: string,
): void {
  sameDType(ctx, m, dtype, what);
  if (m.shape.length !== 1 || m.shape[0] !== c) {
    shapeError(ctx, `${what} must have shape [${c}], got ${fmtShape(m.shape)}`);
  }
}

/** Normalises a possibly negative axis into `[0, rank)` (or `[0, rank]` with `inclusive`). */
export function normAxis(ctx: OpContext, axis: number, rank: number, inclusive = false): number {
  const hi = inclusive ? rank : rank - 1;
  if (!Number.isInteger(axis) || axis < -rank || axis > hi) {
    attrError(ctx, `axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Product of `shape[from..to)`. */
export function prod(shape: readonly number[], from = 0, to = shape.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= shape[i];
  return n;
}

/** A new zero-filled float tensor. */
export function newFloat(dtype: FloatDType, shape: number[]): Tensor {
  const n = size(shape);
  return {
    dtype,
    shape: [...shape],
    data: dtype === "float32" ? new Float32Array(n) : new Float64Array(n),
  };
}

/** True when `from` broadcasts unidirectionally (numpy rules, right-aligned) to `to`. */
export function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  if (from.length > to.length) return false;
  const off = to.length - from.length;
  return from.every((d, i) => d === 1 || d === to[off + i]);
}

/**
 * Expands `data` of shape `from` to shape `to` (unidirectional broadcasting),
 * returning a new Float64Array of `size(to)` elements.
 */
export function broadcastTo(
  data: ArrayLike<number>,
  from: readonly number[],
  to: readonly number[],
): Float64Array {
  const out = new Float64Array(size(to));
  const r = to.length;
  const off = r - from.length;
  // Stride in `data` for each output axis (0 where broadcast).
  const st = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = from.length - 1; i >= 0; i--) {
    st[off + i] = from[i] === 1 ? 0 : acc;
    acc *= from[i];
  }
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let ax = r - 1; ax >= 0; ax--) {
      idx[ax]++;
      src += st[ax];
      if (idx[ax] < to[ax]) break;
      src -= st[ax] * idx[ax];
      idx[ax] = 0;
    }
  }
  return out;
}

/**
 * Returns `data` as a Float64Array: itself when it already is one (callers must not
 * write to the result), else a converted copy.
 */
export function toF64(data: ArrayLike<number>): Float64Array {
  return data instanceof Float64Array ? data : Float64Array.from(data);
}

/** Reads an integer attribute that must be 0 or 1. */
export function attrFlag(ctx: OpContext, v: unknown, name: string, dflt: 0 | 1): 0 | 1 {
  if (v === undefined) return dflt;
  if (v !== 0 && v !== 1) attrError(ctx, `${name} must be 0 or 1, got ${String(v)}`);
  return v;
}
