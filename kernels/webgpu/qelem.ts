/**
 * Elementwise quantized ops on WebGPU, bit-identical to kernels/ref/quant:
 * QuantizeLinear8 (IEEE f32 division, round half away from zero, saturation, NaN → zp),
 * DequantizeLinear8 (`f32(scale · (q − zp))`, one rounding), QAdd (TFLite's integer
 * add with numpy broadcasting) and QRelu.
 *
 * QuantizeLinear8 relies on the adapter's f32 division being correctly rounded (as
 * IEEE and llvmpipe do; WGSL itself only promises 2.5 ULP): tests/webgpu_ops_test.ts
 * checks it bit for bit on random data.
 *
 * @example
 * ```ts
 * const lowered = lowerQAdd(ctx);
 * ```
 * @module
 */
import { size } from "../../runtime/tensor.ts";
import { attrFloat } from "../../runtime/graph.ts";
import {
  type QDType,
  qRange,
  readClamp,
  readMultipliers,
  readQDType,
  readZp,
} from "../ref/quant/qutil.ts";
import {
  bind,
  broadcastOffset,
  elementwiseShader,
  linearGroups,
  type LowerCtx,
  type Lowered,
} from "./kernel.ts";
import { WGSL_REQUANT } from "./wgsl_int.ts";

function oc(ctx: LowerCtx) {
  return { node: ctx.node, opset: ctx.graph.opset };
}

/** WGSL literal of a float32 value, exact (via its bit pattern). */
export function f32Lit(v: number): string {
  const b = new Uint32Array(new Float32Array([v]).buffer)[0];
  return `bitcast<f32>(${b}u)`;
}

/**
 * Lowers QuantizeLinear8.
 *
 * @example
 * ```ts
 * lowerQuantize(ctx); // y[i] = sat(roundHalfAway(x[i] / scale) + zp)
 * ```
 */
export function lowerQuantize(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const dt = readQDType(oc(ctx), n.attrs, "uint8");
  const zp = readZp(oc(ctx), n.attrs, "zero_point", dt);
  const scale = Math.fround(attrFloat(n.attrs, "scale", NaN));
  const [lo, hi] = qRange(dt);
  const cnt = size(x.shape);
  const code = elementwiseShader(
    cnt,
    [bind(0, "x", "f32", "read"), bind(1, "y", "i32", "read_write")],
    `let xv = x[i];
  if ((bitcast<u32>(xv) & 0x7fffffffu) > 0x7f800000u) { y[i] = ${zp}; return; }
  let v = xv / ${f32Lit(scale)};
  if (v >= 1e9) { y[i] = ${hi}; return; }
  if (v <= -1e9) { y[i] = ${lo}; return; }
  let t = trunc(v);
  let f = v - t;
  var q = i32(t);
  if (f >= 0.5) { q = q + 1; } else if (f <= -0.5) { q = q - 1; }
  y[i] = clamp(q + ${zp}, ${lo}, ${hi});`,
  );
  return {
    dispatches: [{
      code,
      bindings: [{ value: n.inputs[0] }, { value: n.outputs[0] }],
      groups: linearGroups(cnt),
    }],
  };
}

/**
 * Lowers DequantizeLinear8.
 *
 * @example
 * ```ts
 * lowerDequantize(ctx); // y[i] = scale * f32(x[i] - zp)
 * ```
 */
export function lowerDequantize(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const zp = readZp(oc(ctx), n.attrs, "zero_point", x.dtype as QDType);
  const scale = Math.fround(attrFloat(n.attrs, "scale", NaN));
  const cnt = size(x.shape);
  const code = elementwiseShader(
    cnt,
    [bind(0, "x", "i32", "read"), bind(1, "y", "f32", "read_write")],
    `y[i] = ${f32Lit(scale)} * f32(x[i] - ${zp});`,
  );
  return {
    dispatches: [{
      code,
      bindings: [{ value: n.inputs[0] }, { value: n.outputs[0] }],
      groups: linearGroups(cnt),
    }],
  };
}

/**
 * Lowers QAdd (broadcasting).
 *
 * @example
 * ```ts
 * lowerQAdd(ctx); // y[i] = quantized_add(a[ia] - a_zp, b[ib] - b_zp, ...)
 * ```
 */
export function lowerQAdd(ctx: LowerCtx): Lowered {
  const n = ctx.node, c = oc(ctx), at = n.attrs;
  const a = ctx.meta(n.inputs[0]), b = ctx.meta(n.inputs[1]), y = ctx.meta(n.outputs[0]);
  const ydt = readQDType(c, at, a.dtype as QDType);
  const aZp = readZp(c, at, "a_zp", a.dtype as QDType);
  const bZp = readZp(c, at, "b_zp", b.dtype as QDType);
  const yZp = readZp(c, at, "y_zp", ydt);
  const [qmin, qmax] = readClamp(c, at, ydt);
  const m = (mn: string, sn: string) => {
    const q = readMultipliers(c, at, mn, sn, 1);
    return `${q.mult[0]}, ${q.shift[0]}`;
  };
  const cnt = size(y.shape);
  const code = elementwiseShader(
    cnt,
    [bind(0, "a", "i32", "read"), bind(1, "b", "i32", "read"), bind(2, "y", "i32", "read_write")],
    `let da = a[${broadcastOffset(y.shape, a.shape, "i")}] - ${aZp};
  let db = b[${broadcastOffset(y.shape, b.shape, "i")}] - ${bZp};
  y[i] = quantized_add(da, db, ${m("a_mult", "a_shift")}, ${m("b_mult", "b_shift")},
    ${m("y_mult", "y_shift")}, ${yZp}, ${qmin}, ${qmax});`,
    WGSL_REQUANT,
  );
  return {
    dispatches: [{
      code,
      bindings: [{ value: n.inputs[0] }, { value: n.inputs[1] }, { value: n.outputs[0] }],
      groups: linearGroups(cnt),
    }],
  };
}

/**
 * Lowers QRelu (`max(x, zero_point)`).
 *
 * @example
 * ```ts
 * lowerQRelu(ctx);
 * ```
 */
export function lowerQRelu(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const zp = readZp(oc(ctx), n.attrs, "zero_point", x.dtype as QDType);
  const cnt = size(x.shape);
  return {
    dispatches: [{
      code: elementwiseShader(
        cnt,
        [bind(0, "x", "i32", "read"), bind(1, "y", "i32", "read_write")],
        `y[i] = max(x[i], ${zp});`,
      ),
      bindings: [{ value: n.inputs[0] }, { value: n.outputs[0] }],
      groups: linearGroups(cnt),
    }],
  };
}
