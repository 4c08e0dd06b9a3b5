/**
 * ONNX's own quantized ops (default domain), so that quantized ONNX models import and
 * run on the reference runtime: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearMatMul and QLinearConv (opsets 10–18 forms:
 * per-tensor or per-axis scales, int8/uint8).
 *
 * Arithmetic, as onnxruntime computes it:
 * - QuantizeLinear: `y = sat(roundHalfEven(f32(x / scale)) + zp)` (ties to even, unlike
 *   edgeq's QuantizeLinear8 which rounds ties away from zero).
 * - DequantizeLinear: `y = f32((x − zp) · scale)`.
 * - MatMulInteger / ConvInteger: exact integer sums of `(a − a_zp)(b − b_zp)` in int32
 *   (zero-point-free operands in float64 through the float kernels: exact below 2^53).
 * - QLinearMatMul / QLinearConv: the exact int32 accumulator (plus the int32 bias), then
 *   `y = sat(roundHalfEven(f32(f32(acc) · M)) + y_zp)` with the float32 multiplier
 *   `M = f32(f32(x_scale · w_scale) / y_scale)` (onnxruntime's requantization).
 * @module
 */
import { attrInt, type Attrs } from "../../runtime/graph.ts";
import { allocData, type DType, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { checkDType, dtypeError, normAxis } from "./ref_util.ts";
import { Conv } from "./conv.ts";
import { MatMul } from "./matmul.ts";

const Q8: readonly DType[] = ["int8", "uint8"];

/** Round half to even (IEEE default rounding, numpy.rint). */
function rint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function qRange(dt: DType): [number, number] {
  return dt === "int8" ? [-128, 127] : dt === "uint8" ? [0, 255] : [-2147483648, 2147483647];
}

function sat(v: number, dt: DType): number {
  const [lo, hi] = qRange(dt);
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Per-axis parameter lookup: `scale`/`zp` are scalars (one value) or 1-D along `axis`
 * of `shape`. Returns a function from flat index to parameter index.
 */
function axisIndex(
  ctx: OpContext,
  shape: readonly number[],
  n: number,
  axis: number,
  what: string,
): (i: number) => number {
  if (n === 1) return () => 0;
  const ax = normAxis(ctx, axis, shape.length);
  if (shape[ax] !== n) {
    shapeError(ctx, `${what} has ${n} values; axis ${ax} of [${shape}] has ${shape[ax]}`);
  }
  let inner = 1;
  for (let d = ax + 1; d < shape.length; d++) inner *= shape[d];
  return (i) => Math.floor(i / inner) % n;
}

function checkParam(ctx: OpContext, m: TensorMeta | undefined, what: string, rankMax = 1) {
  if (m && m.shape.length > rankMax) {
    shapeError(ctx, `${what} must be a scalar or 1-D, got rank ${m.shape.length}`);
  }
}

const isVector = (m: TensorMeta | undefined) => !!m && m.shape.length === 1 && m.shape[0] !== 1;

/** QuantizeLinear: float32/int32 → int8/uint8 (the zero point's dtype; default uint8). */
const QuantizeLinear: OpDef = {
  attrs: ["axis", "saturate"],
  infer(ins, _attrs, _c, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, ["float32", "int32"], "x");
    checkDType(ctx, need(ins, 1, ctx), ["float32"], "y_scale");
    checkParam(ctx, ins[1], "y_scale");
    if (ins[2]) checkDType(ctx, ins[2], Q8, "y_zero_point");
    return [{ dtype: ins[2]?.dtype ?? "uint8", shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx), s = need(ins, 1, ctx), z = ins[2];
    const dt = z?.dtype ?? "uint8";
    if (!Q8.includes(dt)) dtypeError(ctx, `y_zero_point must be int8|uint8, got ${dt}`);
    const ix = axisIndex(ctx, x.shape, s.data.length, attrInt(attrs, "axis", 1), "y_scale");
    if (z && z.data.length !== s.data.length) shapeError(ctx, "y_zero_point and y_scale differ");
    const y = allocData(dt, x.data.length);
    for (let i = 0; i < y.length; i++) {
      const c = ix(i);
      const v = Math.fround(x.data[i] / s.data[c]);
      y[i] = v !== v ? (z ? z.data[c] : 0) : sat(rint(v) + (z ? z.data[c] : 0), dt);
    }
    return [{ dtype: dt, shape: [...x.shape], data: y }];
  },
};

/** DequantizeLinear: int8/uint8/int32 → float32. */
const DequantizeLinear: OpDef = {
  attrs: ["axis"],
  infer(ins, _attrs, _c, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, [...Q8, "int32"], "x");
    checkDType(ctx, need(ins, 1, ctx), ["float32"], "x_scale");
    checkParam(ctx, ins[1], "x_scale");
    if (ins[2] && ins[2].dtype !== x.dtype) {
      dtypeError(ctx, `x_zero_point must be ${x.dtype}, got ${ins[2].dtype}`);
    }
    return [{ dtype: "float32", shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx), s = need(ins, 1, ctx), z = ins[2];
    const ix = axisIndex(ctx, x.shape, s.data.length, attrInt(attrs, "axis", 1), "x_scale");
    if (z && z.data.length !== s.data.length) shapeError(ctx, "x_zero_point and x_scale differ");
    const y = new Float32Array(x.data.length);
    for (let i = 0; i < y.length; i++) {
      const c = ix(i);
      y[i] = (x.data[i] - (z ? z.data[c] : 0)) * s.data[c];
    }
    return [{ dtype: "float32", shape: [...x.shape], data: y }];
  },
};

/** DynamicQuantizeLinear: float32 → uint8 with scale and zero point from the data's range. */
const DynamicQuantizeLinear: OpDef = {
  attrs: [],
  infer(ins, _attrs, _c, ctx) {
    const x = need(ins, 0, ctx);
    checkDType(ctx, x, ["float32"], "x");
    return [
      { dtype: "uint8", shape: [...x.shape] },
      { dtype: "float32", shape: [] },
      { dtype: "uint8", shape: [] },
    ];
  },
  run(ins, _attrs, ctx) {
    const x = need(ins, 0, ctx);
    let lo = 0, hi = 0;
    for (const v of x.data) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const scale = Math.fround(Math.fround(hi - lo) / 255);
    const zp = scale > 0 ? sat(rint(Math.fround(-lo / scale)), "uint8") : 0;
    const y = new Uint8Array(x.data.length);
    for (let i = 0; i < y.length; i++) {
      y[i] = scale > 0 ? sat(rint(Math.fround(x.data[i] / scale)) + zp, "uint8") : zp;
    }
    return [
      { dtype: "uint8", shape: [...x.shape], data: y },
      { dtype: "float32", shape: [], data: Float32Array.of(scale) },
      { dtype: "uint8", shape: [], data: Uint8Array.of(zp) },
    ];
  },
};

/** `t − zp` as float64, the zero point scalar or 1-D along `axis` (negative: from the end). */
function centered(
  ctx: OpContext,
  t: Tensor,
  zp: Tensor | undefined,
  axis: number,
  what: string,
): Tensor {
  const out = Float64Array.from(t.data);
  if (zp) {
    if (zp.dtype !== t.dtype) dtypeError(ctx, `${what} must be ${t.dtype}, got ${zp.dtype}`);
    const ix = axisIndex(ctx, t.shape, zp.data.length, axis, what);
    for (let i = 0; i < out.length; i++) out[i] -= zp.data[ix(i)];
  }
  return { dtype: "float64", shape: [...t.shape], data: out };
}

const f64Meta = (m: TensorMeta): TensorMeta => ({ dtype: "float64", shape: m.shape });

function matmulAcc(
  ctx: OpContext,
  a: Tensor,
  az: Tensor | undefined,
  b: Tensor,
  bz: Tensor | undefined,
) {
  checkDType(ctx, a, Q8, "A");
  checkDType(ctx, b, Q8, "B");
  if (a.shape.length < 2 && isVector(az)) shapeError(ctx, "per-row a_zero_point needs a 2-D A");
  // a_zero_point: per row of A (axis -2); b_zero_point: per column of B (axis -1).
  const ac = centered(ctx, a, az, a.shape.length - 2, "a_zero_point");
  const bc = centered(ctx, b, bz, b.shape.length - 1, "b_zero_point");
  return MatMul.run([ac, bc], {}, ctx)[0];
}

function convAcc(
  ctx: OpContext,
  x: Tensor,
  xz: Tensor | undefined,
  w: Tensor,
  wz: Tensor | undefined,
  b: Tensor | undefined,
  attrs: Attrs,
) {
  checkDType(ctx, x, Q8, "x");
  checkDType(ctx, w, Q8, "w");
  if (isVector(xz)) shapeError(ctx, "x_zero_point must be a scalar");
  const xc = centered(ctx, x, xz, 1, "x_zero_point");
  const wc = centered(ctx, w, wz, 0, "w_zero_point");
  const bc = b
    ? { dtype: "float64" as const, shape: [...b.shape], data: Float64Array.from(b.data) }
    : undefined;
  return Conv.run([xc, wc, bc], attrs, ctx)[0];
}

function toInt32(t: Tensor): Tensor {
  return { dtype: "int32", shape: t.shape, data: Int32Array.from(t.data, (v) => sat(v, "int32")) };
}

/** MatMulInteger: int8/uint8 × int8/uint8 → int32, optional zero points. */
const MatMulInteger: OpDef = {
  attrs: [],
  infer(ins, _attrs, _c, ctx) {
    const a = need(ins, 0, ctx), b = need(ins, 1, ctx);
    checkDType(ctx, a, Q8, "A");
    checkDType(ctx, b, Q8, "B");
    const m = MatMul.infer([f64Meta(a), f64Meta(b)], {}, [], ctx)[0];
    return [{ dtype: "int32", shape: m.shape }];
  },
  run(ins, _attrs, ctx) {
    return [toInt32(matmulAcc(ctx, need(ins, 0, ctx), ins[2], need(ins, 1, ctx), ins[3]))];
  },
};

const CONV_ATTRS = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"];

/** ConvInteger: int8/uint8 convolution → int32, optional zero points (w's per channel). */
const ConvInteger: OpDef = {
  attrs: CONV_ATTRS,
  infer(ins, attrs, _c, ctx) {
    const x = need(ins, 0, ctx), w = need(ins, 1, ctx);
    checkDType(ctx, x, Q8, "x");
    checkDType(ctx, w, Q8, "w");
    const m = Conv.infer([f64Meta(x), f64Meta(w)], attrs, [], ctx)[0];
    return [{ dtype: "int32", shape: m.shape }];
  },
  run(ins, attrs, ctx) {
    const acc = convAcc(
      ctx,
      need(ins, 0, ctx),
      ins[2],
      need(ins, 1, ctx),
      ins[3],
      undefined,
      attrs,
    );
    return [toInt32(acc)];
  },
};

/**
 * Requantizes int32 accumulators: `sat(rint(f32(f32(acc) · M[c])) + y_zp)`,
 * `M[c] = f32(f32(sa · sb[c]) / sy)`, `c` the index along `axis` when `sb` is 1-D.
 */
function requantF32(
  ctx: OpContext,
  acc: Tensor,
  sa: Tensor,
  sb: Tensor,
  axisB: number,
  sy: Tensor,
  yz: Tensor | undefined,
): Tensor {
  for (const [t, what] of [[sa, "a/x scale"], [sy, "y_scale"]] as const) {
    if (t.data.length !== 1) shapeError(ctx, `${what} must be a scalar`);
  }
  const dt = yz?.dtype ?? "uint8";
  if (!Q8.includes(dt)) dtypeError(ctx, `y_zero_point must be int8|uint8, got ${dt}`);
  const ix = axisIndex(ctx, acc.shape, sb.data.length, axisB, "b/w scale");
  const mult = Float32Array.from(
    sb.data,
    (s) => Math.fround(Math.fround(sa.data[0] * s) / sy.data[0]),
  );
  const z = yz ? yz.data[0] : 0;
  const y = allocData(dt, acc.data.length);
  for (let i = 0; i < y.length; i++) {
    const a = Math.fround(sat(acc.data[i], "int32"));
    y[i] = sat(rint(Math.fround(a * mult[ix(i)])) + z, dt);
  }
  return { dtype: dt, shape: [...acc.shape], data: y };
}

/** QLinearMatMul: quantized matmul (a_scale, a_zp, b_scale per tensor or per column, ...). */
const QLinearMatMul: OpDef = {
  attrs: [],
  infer(ins, _attrs, _c, ctx) {
    const a = need(ins, 0, ctx), b = need(ins, 3, ctx);
    checkDType(ctx, a, Q8, "a");
    checkDType(ctx, b, Q8, "b");
    for (const i of [1, 2, 4, 5, 6, 7]) need(ins, i, ctx);
    const m = MatMul.infer([f64Meta(a), f64Meta(b)], {}, [], ctx)[0];
    return [{ dtype: ins[7]!.dtype, shape: m.shape }];
  },
  run(ins, _attrs, ctx) {
    const [a, sa, az, b, sb, bz, sy, yz] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(ins, i, ctx));
    const acc = matmulAcc(ctx, a, az, b, bz);
    return [requantF32(ctx, acc, sa, sb, acc.shape.length - 1, sy, yz)];
  },
};

/** QLinearConv: quantized convolution (w_scale/w_zero_point per tensor or per channel). */
const QLinearConv: OpDef = {
  attrs: CONV_ATTRS,
  infer(ins, attrs, _c, ctx) {
    const x = need(ins, 0, ctx), w = need(ins, 3, ctx);
    checkDType(ctx, x, Q8, "x");
    checkDType(ctx, w, Q8, "w");
    for (const i of [1, 2, 4, 5, 6, 7]) need(ins, i, ctx);
    if (ins[8]) checkDType(ctx, ins[8], ["int32"], "B");
    const m = Conv.infer([f64Meta(x), f64Meta(w)], attrs, [], ctx)[0];
    return [{ dtype: ins[7]!.dtype, shape: m.shape }];
  },
  run(ins, attrs, ctx) {
    const [x, sx, xz, w, sw, wz, sy, yz] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => need(ins, i, ctx));
    const acc = convAcc(ctx, x, xz, w, wz, ins[8], attrs);
    return [requantF32(ctx, acc, sx, sw, 1, sy, yz)];
  },
};

/**
 * The ONNX quantized ops, by op type (registered in kernels/ref/mod.ts).
 *
 * @example
 * ```ts
 * const y = ONNX_QOPS.QuantizeLinear.run([x, scale, zp], {}, ctx)[0];
 * ```
 */
export const ONNX_QOPS: Readonly<Record<string, OpDef>> = {
  QuantizeLinear,
  DequantizeLinear,
  DynamicQuantizeLinear,
  MatMulInteger,
  ConvInteger,
  QLinearMatMul,
  QLinearConv,
};
