/**
 * Broadcasting elementwise reference ops: arithmetic (Add..Mod, Pow, BitShift),
 * variadic Max/Min/Sum/Mean, comparisons and logic (-> bool), Where and PRelu.
 *
 * Values are computed as float64 numbers and stored through the output typed array,
 * which wraps integers like C; int64 results are truncated toward zero.
 */
import type { Attrs } from "../../runtime/graph.ts";
import { attrInt, attrString } from "../../runtime/graph.ts";
import { allocData, type DType, size, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { broadcastIndex, broadcastShapes, checkUnidirectional } from "./broadcast.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import {
  ALL,
  checkDType,
  checkLength,
  FLOAT,
  INT,
  NUMERIC,
  sameDType,
  SIGNED,
  toInt64,
  UNSIGNED_INT,
} from "./ref_util.ts";

/** A scalar function of n operands. */
type FnN = (v: number[]) => number;

/**
 * Applies `f` elementwise over broadcast inputs and stores into a new `outDtype` tensor.
 *
 * @example
 * ```ts
 * const y = mapBroadcast(ctx, [a, b], "float32", (v) => v[0] + v[1]);
 * ```
 */
export function mapBroadcast(
  ctx: OpContext,
  ins: Tensor[],
  outDtype: DType,
  f: FnN,
): Tensor {
  ins.forEach((t, i) => checkLength(ctx, t, `input ${i}`));
  const shape = broadcastShapes(ctx, ...ins.map((t) => t.shape));
  const n = size(shape);
  const idx = ins.map((t) => broadcastIndex(shape, t.shape));
  const out = allocData(outDtype, n);
  const v = new Array<number>(ins.length);
  const int64 = outDtype === "int64";
  for (let o = 0; o < n; o++) {
    for (let k = 0; k < ins.length; k++) {
      const m = idx[k];
      v[k] = ins[k].data[m === null ? o : m[o]];
    }
    const r = f(v);
    out[o] = int64 ? toInt64(r) : r;
  }
  return { dtype: outDtype, shape, data: out };
}

/**
 * Legacy broadcasting (opsets < 7): B broadcasts onto A only with `broadcast=1`, its
 * dims aligned with A's from `axis` on (default: trailing, as numpy). Returns B with
 * trailing unit dims appended so that numpy broadcasting computes the same thing. The
 * attributes are rejected from opset 7, where broadcasting is always numpy-style.
 */
function legacyBroadcast<T extends TensorMeta>(a: T, b: T, attrs: Attrs, ctx: OpContext): T {
  if (attrs.broadcast === undefined && attrs.axis === undefined) return b;
  if (ctx.opset >= 7) attrError(ctx, "attributes 'broadcast' and 'axis' exist only before opset 7");
  const bc = attrInt(attrs, "broadcast", 0);
  if (bc !== 0 && bc !== 1) attrError(ctx, `broadcast must be 0 or 1, got ${bc}`);
  if (bc === 0 || attrs.axis === undefined) return b;
  const ra = a.shape.length, rb = b.shape.length;
  let axis = attrInt(attrs, "axis", 0);
  if (axis < 0) axis += ra;
  if (!Number.isInteger(axis) || axis < 0 || axis + rb > ra) {
    attrError(
      ctx,
      `axis ${attrInt(attrs, "axis", 0)} cannot align B [${b.shape}] with A [${a.shape}]`,
    );
  }
  return { ...b, shape: [...b.shape, ...new Array<number>(ra - axis - rb).fill(1)] };
}

/** Attributes every broadcasting binary op accepts (meaningful before opset 7 only). */
const LEGACY_ATTRS = ["broadcast", "axis"] as const;

interface BinarySpec {
  /** Allowed input dtypes (both inputs share one, except for Pow's exponent). */
  types: readonly DType[];
  /** Output dtype when it is not the input's. */
  out?: DType;
  /** Attribute names. */
  attrs?: readonly string[];
  /** Builds the scalar function for a dtype and attributes. */
  make: (dtype: DType, attrs: Attrs, ctx: OpContext) => (a: number, b: number) => number;
}

/**
 * Builds a broadcasting two-input op from a scalar function.
 *
 * @example
 * ```ts
 * const Add = binaryOp({ types: NUMERIC, make: () => (a, b) => a + b });
 * ```
 */
export function binaryOp(spec: BinarySpec): OpDef {
  const check = <T extends TensorMeta>(ins: (T | undefined)[], attrs: Attrs, ctx: OpContext) => {
    const a = need(ins, 0, ctx);
    const b = legacyBroadcast(a, need(ins, 1, ctx), attrs, ctx);
    checkDType(ctx, a, spec.types, "A");
    sameDType(ctx, a, b, "A", "B");
    spec.make(a.dtype, attrs, ctx); // validates attributes
    return [a, b];
  };
  return {
    attrs: [...(spec.attrs ?? []), ...LEGACY_ATTRS],
    infer(ins, attrs, _c, ctx) {
      const [a, b] = check(ins, attrs, ctx);
      return [{ dtype: spec.out ?? a.dtype, shape: broadcastShapes(ctx, a.shape, b.shape) }];
    },
    run(ins, attrs, ctx) {
      const [a, b] = check(ins, attrs, ctx);
      const f = spec.make(a.dtype, attrs, ctx);
      return [mapBroadcast(ctx, [a, b], spec.out ?? a.dtype, (v) => f(v[0], v[1]))];
    },
  };
}

/** Integer division truncating toward zero; x/0 gives 0. */
function intDiv(a: number, b: number): number {
  return b === 0 ? 0 : Math.trunc(a / b);
}

/** Integer modulo with the sign of the divisor (Python/numpy `%`); x%0 gives 0. */
function intMod(a: number, b: number): number {
  if (b === 0) return 0;
  const r = a % b;
  return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}

function powInputs<T extends TensorMeta>(
  ins: (T | undefined)[],
  attrs: Attrs,
  ctx: OpContext,
): T[] {
  const x = need(ins, 0, ctx);
  const y = legacyBroadcast(x, need(ins, 1, ctx), attrs, ctx);
  checkDType(ctx, x, NUMERIC, "X");
  checkDType(ctx, y, NUMERIC, "Y"); // the exponent's type may differ since opset 12
  return [x, y];
}

const Pow: OpDef = {
  attrs: LEGACY_ATTRS,
  infer(ins, attrs, _c, ctx) {
    const [x, y] = powInputs(ins, attrs, ctx);
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx, x.shape, y.shape) }];
  },
  run(ins, attrs, ctx) {
    const [x, y] = powInputs(ins, attrs, ctx);
    return [mapBroadcast(ctx, [x, y], x.dtype, (v) => Math.pow(v[0], v[1]))];
  },
};

/** Max/Min/Sum/Mean: one or more inputs, broadcast together. */
function variadicOp(types: readonly DType[], fold: (v: number[]) => number): OpDef {
  const check = <T extends TensorMeta>(ins: (T | undefined)[], ctx: OpContext): T[] => {
    if (ins.length === 0) shapeError(ctx, "needs at least one input");
    const xs = ins.map((_, i) => need(ins, i, ctx));
    checkDType(ctx, xs[0], types, "input 0");
    xs.forEach((x, i) => sameDType(ctx, xs[0], x, "input 0", `input ${i}`));
    return xs;
  };
  return {
    attrs: [],
    infer(ins, _a, _c, ctx) {
      const xs = check(ins, ctx);
      return [{ dtype: xs[0].dtype, shape: broadcastShapes(ctx, ...xs.map((x) => x.shape)) }];
    },
    run(ins, _a, ctx) {
      const xs = check(ins, ctx);
      return [mapBroadcast(ctx, xs, xs[0].dtype, fold)];
    },
  };
}

function foldMax(v: number[]): number {
  let m = v[0];
  for (let i = 1; i < v.length; i++) m = Math.max(m, v[i]);
  return m;
}

function foldMin(v: number[]): number {
  let m = v[0];
  for (let i = 1; i < v.length; i++) m = Math.min(m, v[i]);
  return m;
}

function foldSum(v: number[]): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  return s;
}

function whereInputs<T extends TensorMeta>(ins: (T | undefined)[], ctx: OpContext): T[] {
  const [c, x, y] = [0, 1, 2].map((i) => need(ins, i, ctx));
  checkDType(ctx, c, ["bool"], "condition");
  checkDType(ctx, x, ALL, "X");
  sameDType(ctx, x, y, "X", "Y");
  return [c, x, y];
}

const Where: OpDef = {
  attrs: [],
  infer(ins, _a, _c, ctx) {
    const [c, x, y] = whereInputs(ins, ctx);
    return [{ dtype: x.dtype, shape: broadcastShapes(ctx, c.shape, x.shape, y.shape) }];
  },
  run(ins, _a, ctx) {
    const [c, x, y] = whereInputs(ins, ctx);
    return [mapBroadcast(ctx, [c, x, y], x.dtype, (v) => v[0] ? v[1] : v[2])];
  },
};

function preluInputs<T extends TensorMeta>(ins: (T | undefined)[], ctx: OpContext): T[] {
  const x = need(ins, 0, ctx);
  const s = need(ins, 1, ctx);
  checkDType(ctx, x, SIGNED, "X");
  sameDType(ctx, x, s, "X", "slope");
  // Before opset 7 a 1-D slope of C values is per channel (axis 1), as Caffe2 and the
  // PyTorch exporter of that time meant it; from opset 7 it broadcasts numpy-style.
  const r = x.shape.length;
  if (
    ctx.opset < 7 && r > 2 && s.shape.length === 1 && s.shape[0] === x.shape[1] &&
    s.shape[0] !== 1
  ) {
    return [x, { ...s, shape: [s.shape[0], ...new Array<number>(r - 2).fill(1)] }];
  }
  checkUnidirectional(ctx, s.shape, x.shape, "slope");
  return [x, s];
}

const PRelu: OpDef = {
  attrs: [],
  infer(ins, _a, _c, ctx) {
    const [x] = preluInputs(ins, ctx);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  run(ins, _a, ctx) {
    const [x, s] = preluInputs(ins, ctx);
    return [mapBroadcast(ctx, [x, s], x.dtype, (v) => v[0] < 0 ? v[0] * v[1] : v[0])];
  },
};

const BITS: Partial<Record<DType, number>> = { uint8: 8, uint16: 16, uint32: 32 };

const CMP: readonly DType[] = [...NUMERIC, "bool"];
const bool = (x: boolean) => x ? 1 : 0;

/** The broadcasting binary ops, by ONNX op type. */
export const BINARY_OPS: Record<string, OpDef> = {
  Add: binaryOp({ types: NUMERIC, make: () => (a, b) => a + b }),
  Sub: binaryOp({ types: NUMERIC, make: () => (a, b) => a - b }),
  Mul: binaryOp({
    types: NUMERIC,
    // int32/uint32 products can exceed 2^53: imul keeps the low 32 bits exact
    make: (dt) => dt === "int32" || dt === "uint32" ? Math.imul : (a, b) => a * b,
  }),
  Div: binaryOp({
    types: NUMERIC,
    make: (dt) => INT.includes(dt) ? intDiv : (a, b) => a / b,
  }),
  Mod: binaryOp({
    types: NUMERIC,
    attrs: ["fmod"],
    make: (dt, attrs, ctx) => {
      const fmod = attrInt(attrs, "fmod", 0);
      if (fmod !== 0 && fmod !== 1) attrError(ctx, `fmod must be 0 or 1, got ${fmod}`);
      const isInt = INT.includes(dt);
      if (!isInt && fmod === 0) attrError(ctx, `fmod must be 1 for ${dt} inputs`);
      if (!isInt) return (a, b) => a % b;
      return fmod === 1 ? (a, b) => b === 0 ? 0 : a % b : intMod;
    },
  }),
  Pow,
  BitShift: binaryOp({
    types: UNSIGNED_INT,
    attrs: ["direction"],
    make: (dt, attrs, ctx) => {
      const dir = attrString(attrs, "direction", "");
      const bits = BITS[dt]!;
      if (dir === "LEFT") return (a, b) => b >= bits ? 0 : (a << b) >>> 0;
      if (dir === "RIGHT") return (a, b) => b >= bits ? 0 : a >>> b;
      return attrError(ctx, `direction must be "LEFT" or "RIGHT", got "${dir}"`);
    },
  }),
  Max: variadicOp(NUMERIC, foldMax),
  Min: variadicOp(NUMERIC, foldMin),
  Sum: variadicOp(NUMERIC, foldSum),
  Mean: variadicOp(FLOAT, (v) => foldSum(v) / v.length),
  Equal: binaryOp({ types: CMP, out: "bool", make: () => (a, b) => bool(a === b) }),
  Less: binaryOp({ types: NUMERIC, out: "bool", make: () => (a, b) => bool(a < b) }),
  Greater: binaryOp({ types: NUMERIC, out: "bool", make: () => (a, b) => bool(a > b) }),
  LessOrEqual: binaryOp({ types: NUMERIC, out: "bool", make: () => (a, b) => bool(a <= b) }),
  GreaterOrEqual: binaryOp({ types: NUMERIC, out: "bool", make: () => (a, b) => bool(a >= b) }),
  And: binaryOp({ types: ["bool"], make: () => (a, b) => a & b }),
  Or: binaryOp({ types: ["bool"], make: () => (a, b) => a | b }),
  Xor: binaryOp({ types: ["bool"], make: () => (a, b) => a ^ b }),
  Where,
  PRelu,
};
