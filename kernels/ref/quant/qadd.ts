/**
 * QAdd and QRelu (domain edgeq).
 *
 * QAdd: `Y = A + B` of two 8-bit tensors with their own scales, TFLite's scheme
 * ({@link quantizedAdd}, left shift {@link ADD_LEFT_SHIFT} = 20): per element
 *
 *     Y = quantizedAdd(A − a_zp, B − b_zp, a_mult, a_shift, b_mult, b_shift,
 *                      y_mult, y_shift, y_zp, qmin, qmax)
 *
 * with the multipliers from {@link addMultipliers}(sa, sb, sy). A and B broadcast like
 * ONNX Add (numpy rules). Each may be int8 or uint8; the output dtype is `dtype`
 * (default A's).
 *
 * QRelu: `Y = max(X, zero_point)`, same dtype and quantization parameters (usually
 * fused into the producer as `qmin = y_zp`).
 * @module
 */
import type { Attrs } from "../../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../../runtime/tensor.ts";
import { need, type OpContext, type OpDef } from "../op.ts";
import { broadcastIndex, broadcastShapes } from "../broadcast.ts";
import { quantizedAdd } from "./requant.ts";
import {
  newQ,
  type QDType,
  qDType,
  readClamp,
  readMultipliers,
  readQDType,
  readZp,
} from "./qutil.ts";

function qaddMeta(ctx: OpContext, a: TensorMeta, b: TensorMeta, attrs: Attrs): TensorMeta {
  const adt = qDType(ctx, a, "A");
  qDType(ctx, b, "B");
  return { dtype: readQDType(ctx, attrs, adt), shape: broadcastShapes(ctx, a.shape, b.shape) };
}

function runQAdd(ctx: OpContext, a: Tensor, b: Tensor, attrs: Attrs): Tensor {
  const meta = qaddMeta(ctx, a, b, attrs);
  const ydt = meta.dtype as QDType;
  const aZp = readZp(ctx, attrs, "a_zp", a.dtype as QDType);
  const bZp = readZp(ctx, attrs, "b_zp", b.dtype as QDType);
  const yZp = readZp(ctx, attrs, "y_zp", ydt);
  const am = readMultipliers(ctx, attrs, "a_mult", "a_shift", 1);
  const bm = readMultipliers(ctx, attrs, "b_mult", "b_shift", 1);
  const ym = readMultipliers(ctx, attrs, "y_mult", "y_shift", 1);
  const [qmin, qmax] = readClamp(ctx, attrs, ydt);
  const ai = broadcastIndex(meta.shape, a.shape), bi = broadcastIndex(meta.shape, b.shape);
  const y = newQ(ydt, meta.shape);
  const yd = y.data, ad = a.data, bd = b.data;
  const am0 = am.mult[0], as0 = am.shift[0], bm0 = bm.mult[0], bs0 = bm.shift[0];
  const ym0 = ym.mult[0], ys0 = ym.shift[0];
  for (let i = 0; i < yd.length; i++) {
    const da = ad[ai ? ai[i] : i] - aZp, db = bd[bi ? bi[i] : i] - bZp;
    yd[i] = quantizedAdd(da, db, am0, as0, bm0, bs0, ym0, ys0, yZp, qmin, qmax);
  }
  return y;
}

/**
 * QAdd: quantized elementwise add with broadcasting (TFLite's integer scheme).
 *
 * @example
 * ```ts
 * const m = addMultipliers(sa, sb, sy);
 * // attrs { a_zp, b_zp, y_zp, a_mult: m.a.mult, a_shift: m.a.shift, b_mult: m.b.mult,
 * //   b_shift: m.b.shift, y_mult: m.y.mult, y_shift: m.y.shift, qmin: y_zp }  (ReLU fused)
 * ```
 */
export const QAdd: OpDef = {
  attrs: [
    "a_zp",
    "b_zp",
    "y_zp",
    "a_mult",
    "a_shift",
    "b_mult",
    "b_shift",
    "y_mult",
    "y_shift",
    "dtype",
    "qmin",
    "qmax",
  ],
  infer(ins, attrs, _consts, ctx) {
    return [qaddMeta(ctx, need(ins, 0, ctx), need(ins, 1, ctx), attrs)];
  },
  run(ins, attrs, ctx) {
    return [runQAdd(ctx, need(ins, 0, ctx), need(ins, 1, ctx), attrs)];
  },
};

/**
 * QRelu: `max(X, zero_point)` on int8/uint8, parameters unchanged.
 *
 * @example
 * ```ts
 * // attrs { zero_point: -5 }: int8 [-9, -5, 7] -> [-5, -5, 7]
 * ```
 */
export const QRelu: OpDef = {
  attrs: ["zero_point"],
  infer(ins, _attrs, _consts, ctx) {
    const x = need(ins, 0, ctx);
    return [{ dtype: qDType(ctx, x, "X"), shape: [...x.shape] }];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const dt = qDType(ctx, x, "X");
    const zp = readZp(ctx, attrs, "zero_point", dt);
    const y = newQ(dt, x.shape);
    const xd = x.data, yd = y.data;
    for (let i = 0; i < xd.length; i++) yd[i] = xd[i] < zp ? zp : xd[i];
    return [y];
  },
};
