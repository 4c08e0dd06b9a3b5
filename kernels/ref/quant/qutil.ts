/**
 * Helpers shared by the quantized reference ops: 8-bit dtype checks, and readers for
 * the requantization attributes (zero points, clamp bounds, multiplier/shift lists)
 * that validate ranges and throw {@link EdgeqError}s naming the node.
 * @module
 */
import type { Attrs, AttrValue } from "../../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../../runtime/tensor.ts";
import { attrError, type OpContext, shapeError } from "../op.ts";
import { dtypeError } from "../ref_util.ts";
import { INT32_MAX } from "./requant.ts";
import { bytesFor, type LayoutName, unpack } from "../../../runtime/format/layouts.ts";

/** The 8-bit activation dtypes. */
export type QDType = "int8" | "uint8";

/** 8-bit integer data. */
export type QArray = Int8Array | Uint8Array;

/**
 * The value range of an 8-bit dtype.
 *
 * @example
 * ```ts
 * qRange("uint8"); // [0, 255]
 * ```
 */
export function qRange(dtype: QDType): [number, number] {
  return dtype === "int8" ? [-128, 127] : [0, 255];
}

/**
 * Checks that a value is int8 or uint8 and returns its dtype.
 *
 * @example
 * ```ts
 * const dt = qDType(ctx, x, "X"); // "int8" | "uint8"
 * ```
 */
export function qDType(ctx: OpContext, m: TensorMeta, what: string): QDType {
  if (m.dtype !== "int8" && m.dtype !== "uint8") {
    dtypeError(ctx, `${what} must be int8 or uint8, got ${m.dtype}`);
  }
  return m.dtype;
}

/**
 * Checks a value's dtype is exactly `dtype`.
 *
 * @example
 * ```ts
 * needDType(ctx, w, "int8", "W");
 * ```
 */
export function needDType(ctx: OpContext, m: TensorMeta, dtype: string, what: string): void {
  if (m.dtype !== dtype) dtypeError(ctx, `${what} must be ${dtype}, got ${m.dtype}`);
}

/**
 * Checks an optional int32 bias of shape `[n]`.
 *
 * @example
 * ```ts
 * checkBias(ctx, ins[2], 16);
 * ```
 */
export function checkBias(ctx: OpContext, b: TensorMeta | undefined, n: number): void {
  if (!b) return;
  needDType(ctx, b, "int32", "bias");
  if (b.shape.length !== 1 || b.shape[0] !== n) {
    shapeError(ctx, `bias must have shape [${n}], got ${fmtShape(b.shape)}`);
  }
}

function isInt(v: AttrValue | undefined): v is number {
  return typeof v === "number" && Number.isInteger(v);
}

/**
 * Reads an integer attribute that must lie in `[lo, hi]`; `dflt` when absent
 * (required when `dflt` is undefined).
 *
 * @example
 * ```ts
 * const zp = readIntIn(ctx, attrs, "x_zp", -128, 127, 0);
 * ```
 */
export function readIntIn(
  ctx: OpContext,
  attrs: Attrs,
  name: string,
  lo: number,
  hi: number,
  dflt?: number,
): number {
  const v = attrs[name];
  if (v === undefined) {
    if (dflt === undefined) attrError(ctx, `attribute ${name} is required`);
    return dflt;
  }
  if (!isInt(v) || v < lo || v > hi) {
    attrError(ctx, `${name} must be an integer in [${lo}, ${hi}], got ${String(v)}`);
  }
  return v;
}

/**
 * Reads a zero point for `dtype` (default 0).
 *
 * @example
 * ```ts
 * readZp(ctx, attrs, "y_zp", "uint8"); // 0..255
 * ```
 */
export function readZp(ctx: OpContext, attrs: Attrs, name: string, dtype: QDType): number {
  const [lo, hi] = qRange(dtype);
  return readIntIn(ctx, attrs, name, lo, hi, 0);
}

/**
 * Reads the output dtype attribute `dtype` ("int8" | "uint8"), default `dflt`.
 *
 * @example
 * ```ts
 * const yt = readQDType(ctx, attrs, "int8");
 * ```
 */
export function readQDType(ctx: OpContext, attrs: Attrs, dflt: QDType): QDType {
  const v = attrs.dtype;
  if (v === undefined) return dflt;
  if (v !== "int8" && v !== "uint8") {
    attrError(ctx, `dtype must be "int8" or "uint8", got ${String(v)}`);
  }
  return v;
}

/**
 * Reads the fused-activation clamp `qmin`, `qmax` (default: the full range of `dtype`);
 * both within the dtype's range and `qmin <= qmax`.
 *
 * @example
 * ```ts
 * const [qmin, qmax] = readClamp(ctx, { qmin: 0 }, "int8"); // [0, 127]
 * ```
 */
export function readClamp(ctx: OpContext, attrs: Attrs, dtype: QDType): [number, number] {
  const [lo, hi] = qRange(dtype);
  const qmin = readIntIn(ctx, attrs, "qmin", lo, hi, lo);
  const qmax = readIntIn(ctx, attrs, "qmax", lo, hi, hi);
  if (qmin > qmax) attrError(ctx, `qmin ${qmin} is larger than qmax ${qmax}`);
  return [qmin, qmax];
}

/** Per-channel (or broadcast single) requantization multipliers. */
export interface Multipliers {
  /** Q31 mantissas, one per channel. */
  mult: Int32Array;
  /** Exponents (positive = left shift), one per channel. */
  shift: Int32Array;
}

function listOf(ctx: OpContext, v: AttrValue | undefined, name: string): number[] {
  if (v === undefined) attrError(ctx, `attribute ${name} is required`);
  const list = typeof v === "number" ? [v] : Array.isArray(v) ? v as number[] : undefined;
  if (!list || list.some((x) => typeof x !== "number")) {
    attrError(ctx, `${name} must be a number or a list of numbers`);
  }
  return list;
}

/**
 * Reads a multiplier/shift pair of attributes, each a number or a list of length 1 or
 * `n`, expanded to `n` entries. `mult` must be an integer in `[0, 2^31)`, `shift` an
 * integer in `[-31, 30]`.
 *
 * @example
 * ```ts
 * const { mult, shift } = readMultipliers(ctx, attrs, "mult", "shift", 17);
 * ```
 */
export function readMultipliers(
  ctx: OpContext,
  attrs: Attrs,
  multName: string,
  shiftName: string,
  n: number,
): Multipliers {
  const m = listOf(ctx, attrs[multName], multName);
  const s = listOf(ctx, attrs[shiftName], shiftName);
  for (const [name, list] of [[multName, m], [shiftName, s]] as const) {
    if (list.length !== 1 && list.length !== n) {
      attrError(ctx, `${name} has ${list.length} values, expected 1 or ${n}`);
    }
  }
  const mult = new Int32Array(n), shift = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const mi = m.length === 1 ? m[0] : m[i];
    const si = s.length === 1 ? s[0] : s[i];
    if (!Number.isInteger(mi) || mi < 0 || mi > INT32_MAX) {
      attrError(ctx, `${multName}[${i}] must be an integer in [0, 2^31), got ${mi}`);
    }
    if (!Number.isInteger(si) || si < -31 || si > 30) {
      attrError(ctx, `${shiftName}[${i}] must be an integer in [-31, 30], got ${si}`);
    }
    mult[i] = mi;
    shift[i] = si;
  }
  return { mult, shift };
}

/**
 * A new 8-bit tensor.
 *
 * @example
 * ```ts
 * const y = newQ("uint8", [1, 3]);
 * ```
 */
export function newQ(dtype: QDType, shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    dtype,
    shape: [...shape],
    data: dtype === "int8" ? new Int8Array(n) : new Uint8Array(n),
  };
}

/** Weight layouts QConv/QGemm accept in `w_layout` (default "i8"). */
export const WEIGHT_LAYOUTS = ["i8", "i4", "i2", "b1"] as const;

/** A weight layout name. */
export type WeightLayout = typeof WEIGHT_LAYOUTS[number];

/** Unpacked low-bit weights, cached per packed buffer (the reference unpacks once). */
const unpackedCache = new WeakMap<object, Int8Array>();

/**
 * Reads the weight input of QConv/QGemm as a logical int8 tensor (metadata only when
 * `w` has no data). With `w_layout` "i8" (the default) `W` is an int8 tensor of the
 * logical shape. With "i4", "i2" or "b1", `W` is a uint8 tensor holding the packed
 * bytes (`[nbytes]`), `w_shape` gives the logical shape `[M, ...]`, and the bytes are
 * the layout table's packing (runtime/format/layouts.ts) of the `[M, K]` matrix,
 * `K = prod(w_shape[1:])` in row-major order (so for a conv, K runs over c, ky, kx).
 *
 * @example
 * ```ts
 * const w = readWeight(ctx, ins[1], attrs); // { dtype: "int8", shape: [16, 3, 3, 3], ... }
 * ```
 */
export function readWeight<T extends TensorMeta>(
  ctx: OpContext,
  w: T,
  attrs: Attrs,
): T {
  const layout = (attrs.w_layout ?? "i8") as string;
  if (!(WEIGHT_LAYOUTS as readonly string[]).includes(layout)) {
    attrError(ctx, `w_layout must be one of ${WEIGHT_LAYOUTS.join(", ")}, got ${layout}`);
  }
  if (layout === "i8") {
    if (w.dtype !== "int8") dtypeError(ctx, `W must be int8, got ${w.dtype}`);
    return w;
  }
  if (w.dtype !== "uint8" || w.shape.length !== 1) {
    dtypeError(
      ctx,
      `W with w_layout ${layout} must be packed uint8 bytes [n], got ${w.dtype} ${
        fmtShape(w.shape)
      }`,
    );
  }
  const shape = attrs.w_shape;
  if (
    !Array.isArray(shape) || shape.length < 2 ||
    shape.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 1)
  ) {
    attrError(
      ctx,
      `w_shape must list the logical weight shape (rank >= 2), got ${JSON.stringify(shape)}`,
    );
  }
  const dims = shape as number[];
  const m = dims[0], k = dims.slice(1).reduce((a, d) => a * d, 1);
  const need = bytesFor(layout as LayoutName, [m, k]);
  if (w.shape[0] !== need) {
    shapeError(ctx, `W holds ${w.shape[0]} bytes; ${layout} ${fmtShape(dims)} needs ${need}`);
  }
  const data = (w as Partial<Tensor>).data;
  if (!data) return { dtype: "int8", shape: dims } as unknown as T;
  let u = unpackedCache.get(data);
  if (!u) {
    const bytes = data as Uint8Array;
    u = unpack(layout as LayoutName, bytes, [m, k]) as Int8Array;
    unpackedCache.set(data, u);
  }
  return { dtype: "int8", shape: dims, data: u } as unknown as T;
}
