/**
 * QuantizeLinear8 and DequantizeLinear8: the float ↔ 8-bit boundary ops (domain edgeq),
 * per-tensor `scale` and `zero_point` attributes.
 *
 * - Quantize: `q = clamp(roundHalfAway(f32(x / f32(scale))) + zp, qlo, qhi)`: the
 *   division is an IEEE float32 division (correctly rounded), the rounding is to nearest
 *   with ties **away from zero** (ONNX QuantizeLinear rounds ties to even), and the
 *   result saturates to the dtype's range (±Infinity too). NaN gives `zp`.
 * - Dequantize: `y = f32(f32(scale) · (q − zp))`, one float32 rounding.
 * @module
 */
import { attrFloat, type Attrs } from "../../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "../op.ts";
import { roundHalfAway } from "./requant.ts";
import { needDType, newQ, qDType, qRange, readQDType, readZp } from "./qutil.ts";

function readScale(ctx: OpContext, attrs: Attrs): number {
  const s = Math.fround(attrFloat(attrs, "scale", NaN));
  if (!(s > 0) || !Number.isFinite(s)) {
    attrError(ctx, `scale must be a finite number > 0, got ${String(attrs.scale)}`);
  }
  return s;
}

function quantizeMeta(ctx: OpContext, x: TensorMeta, attrs: Attrs): TensorMeta {
  needDType(ctx, x, "float32", "X");
  return { dtype: readQDType(ctx, attrs, "uint8"), shape: [...x.shape] };
}

/**
 * QuantizeLinear8: float32 → int8/uint8 (attr `dtype`, default "uint8"), attrs `scale`,
 * `zero_point`.
 *
 * @example
 * ```ts
 * // attrs { scale: 0.1, zero_point: 0, dtype: "int8" }: [0.25, -0.25] -> [3, -3]
 * ```
 */
export const QuantizeLinear8: OpDef = {
  attrs: ["scale", "zero_point", "dtype"],
  infer(ins, attrs, _consts, ctx) {
    return [quantizeMeta(ctx, need(ins, 0, ctx), attrs)];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const meta = quantizeMeta(ctx, x, attrs);
    const dt = meta.dtype as "int8" | "uint8";
    const scale = readScale(ctx, attrs);
    const zp = readZp(ctx, attrs, "zero_point", dt);
    const [lo, hi] = qRange(dt);
    const y = newQ(dt, meta.shape);
    const xd = x.data as Float32Array, yd = y.data;
    for (let i = 0; i < xd.length; i++) {
      const v = Math.fround(xd[i] / scale);
      if (v !== v) {
        yd[i] = zp;
        continue;
      }
      const q = v >= 1e9 ? hi : v <= -1e9 ? lo : roundHalfAway(v) + zp;
      yd[i] = q < lo ? lo : q > hi ? hi : q;
    }
    return [y];
  },
};

/**
 * DequantizeLinear8: int8/uint8 → float32, `scale · (q − zero_point)`.
 *
 * @example
 * ```ts
 * // attrs { scale: 0.5, zero_point: 128 }: uint8 [130, 127] -> [1, -0.5]
 * ```
 */
export const DequantizeLinear8: OpDef = {
  attrs: ["scale", "zero_point"],
  infer(ins, _attrs, _consts, ctx) {
    const x = need(ins, 0, ctx);
    qDType(ctx, x, "X");
    return [{ dtype: "float32", shape: [...x.shape] }];
  },
  run(ins, attrs, ctx): Tensor[] {
    const x = need(ins, 0, ctx);
    const dt = qDType(ctx, x, "X");
    const scale = readScale(ctx, attrs);
    const zp = readZp(ctx, attrs, "zero_point", dt);
    const xd = x.data;
    const yd = new Float32Array(xd.length);
    for (let i = 0; i < xd.length; i++) yd[i] = scale * (xd[i] - zp);
    return [{ dtype: "float32", shape: [...x.shape], data: yd }];
  },
};
