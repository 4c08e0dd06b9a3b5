/**
 * QConv (domain edgeq): quantized 1-D/2-D convolution with per-output-channel
 * requantization, a fused clamp (activation) and an optional fused residual add.
 *
 * Inputs: `X` int8/uint8 `[N, C, (H,) W]` (zero point `x_zp`), `W` int8
 * `[M, C/group, (kh,) kw]` (symmetric, zero point 0), optional `B` int32 `[M]`, optional
 * residual `R` int8/uint8 with the output's shape (zero point `r_zp`).
 * Geometry attrs as ONNX Conv: `kernel_shape`, `pads`, `strides`, `dilations`,
 * `auto_pad`, `group` (depthwise when group = C).
 *
 *     acc[n,m,p] = sat32(B[m] + Σ_{c,ky,kx} (X[n,c,iy,ix] − x_zp) · W[m,c,ky,kx])
 *
 * where taps in the padding contribute 0 (padding holds the real value 0, i.e. x_zp).
 * The sum of products is exact in int32: `|X − x_zp| <= 255`, `|W| <= 128` and
 * `K = C/group · kh · kw <= 65536` (checked) give `|Σ| <= 2139095040 < 2^31`; the bias is
 * added last with int32 saturation.
 *
 * Without `R`: `Y = clamp(MBQM(acc, mult[m], shift[m]) + y_zp, qmin, qmax)`.
 *
 * With `R` the result is, bit for bit, QConv (without R, `y_zp := c_zp`, clamp = the
 * full range of `dtype`) followed by QAdd of that intermediate `C` (zero point `c_zp`,
 * multiplier `c_mult/c_shift`) and `R` (`r_zp`, `r_mult/r_shift`) with output multiplier
 * `y_mult/y_shift`, `y_zp`, `qmin`, `qmax` — see {@link quantizedAdd}:
 *
 *     C = clamp(MBQM(acc, mult[m], shift[m]) + c_zp, dtypeMin, dtypeMax)
 *     Y = quantizedAdd(C − c_zp, R − r_zp, c_mult, c_shift, r_mult, r_shift, y_mult, y_shift, y_zp, qmin, qmax)
 *
 * so fusing a Conv+Add pair never changes the bits.
 * @module
 */
import type { Attrs } from "../../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "../op.ts";
import { convChannels, im2col } from "../conv.ts";
import { gemmAccF64 } from "../gemm_f64.ts";
import { lift2d, slidingWindow, type Window } from "../nn_window.ts";
import { quantizedAdd, requantize, sat32 } from "./requant.ts";
import {
  checkBias,
  type Multipliers,
  needDType,
  newQ,
  type QDType,
  qDType,
  qRange,
  readClamp,
  readMultipliers,
  readQDType,
  readWeight,
  readZp,
} from "./qutil.ts";

/** The largest reduction length whose int32 accumulation cannot overflow (8-bit × int8). */
export const QCONV_MAX_K = 65536;

/** Everything a QConv node's run needs, read and checked once. */
interface QConvGeom {
  xdt: QDType;
  ydt: QDType;
  n: number;
  c: number;
  m: number;
  group: number;
  win: Window;
  outShape: number[];
}

function qconvGeom(
  ctx: OpContext,
  x: TensorMeta,
  w: TensorMeta,
  b: TensorMeta | undefined,
  r: TensorMeta | undefined,
  attrs: Attrs,
): QConvGeom {
  const xdt = qDType(ctx, x, "X");
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    shapeError(ctx, `X must be N x C x [H x] W, got ${fmtShape(x.shape)}`);
  }
  needDType(ctx, w, "int8", "W");
  const { n, c, m, group, kernel } = convChannels(ctx, x, w, attrs);
  const k = w.shape.slice(1).reduce((a, d) => a * d, 1);
  if (k > QCONV_MAX_K) {
    shapeError(
      ctx,
      `reduction length ${k} exceeds ${QCONV_MAX_K}: int32 accumulation could overflow`,
    );
  }
  checkBias(ctx, b, m);
  const win = slidingWindow(ctx, attrs, x.shape.slice(2), kernel, false);
  const outShape = [n, m, ...win.outSize];
  const ydt = readQDType(ctx, attrs, xdt);
  if (r) {
    qDType(ctx, r, "R");
    if (r.shape.length !== outShape.length || r.shape.some((d, i) => d !== outShape[i])) {
      shapeError(ctx, `R ${fmtShape(r.shape)} must have the output shape ${fmtShape(outShape)}`);
    }
  }
  return { xdt, ydt, n, c, m, group, win, outShape };
}

/** The requantization parameters of a QConv node. */
interface QConvRequant {
  mc: Multipliers;
  yZp: number;
  qmin: number;
  qmax: number;
  /** Present when the residual input is given. */
  res?: {
    cZp: number;
    rZp: number;
    c: Multipliers;
    r: Multipliers;
    y: Multipliers;
  };
}

function readRequant(
  ctx: OpContext,
  attrs: Attrs,
  g: QConvGeom,
  r: TensorMeta | undefined,
): QConvRequant {
  const mc = readMultipliers(ctx, attrs, "mult", "shift", g.m);
  const yZp = readZp(ctx, attrs, "y_zp", g.ydt);
  const [qmin, qmax] = readClamp(ctx, attrs, g.ydt);
  if (!r) return { mc, yZp, qmin, qmax };
  return {
    mc,
    yZp,
    qmin,
    qmax,
    res: {
      cZp: readZp(ctx, attrs, "c_zp", g.ydt),
      rZp: readZp(ctx, attrs, "r_zp", r.dtype as QDType),
      c: readMultipliers(ctx, attrs, "c_mult", "c_shift", 1),
      r: readMultipliers(ctx, attrs, "r_mult", "r_shift", 1),
      y: readMultipliers(ctx, attrs, "y_mult", "y_shift", 1),
    },
  };
}

function runQConv(
  ctx: OpContext,
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  r: Tensor | undefined,
  attrs: Attrs,
): Tensor {
  const g = qconvGeom(ctx, x, w, b, r, attrs);
  const q = readRequant(ctx, attrs, g, r);
  const xZp = readZp(ctx, attrs, "x_zp", g.xdt);
  const win = lift2d(g.win);
  const [H, W] = win.inSize, [kh, kw] = win.kernel, [oh, ow] = win.outSize;
  const cg = g.c / g.group, mg = g.m / g.group;
  const K = cg * kh * kw, P = oh * ow, HW = H * W;
  const xd = x.data, wd = Float64Array.from(w.data), bd = b?.data;
  const img = new Float64Array(g.c * HW); // one image, zero point removed
  const col = new Float64Array(K * P);
  const acc = new Float64Array(mg * P);
  const y = newQ(g.ydt, g.outShape);
  const yd = y.data, rd = r?.data;
  const { mult, shift } = q.mc;
  const [dlo, dhi] = qRange(g.ydt);
  for (let n = 0; n < g.n; n++) {
    const xOff = n * g.c * HW;
    for (let i = 0; i < img.length; i++) img[i] = xd[xOff + i] - xZp;
    for (let gi = 0; gi < g.group; gi++) {
      im2col(img, gi * cg * HW, cg, win, col);
      acc.fill(0);
      gemmAccF64(mg, P, K, wd, gi * mg * K, K, col, 0, P, acc, 0, P);
      for (let i = 0; i < mg; i++) {
        const mo = gi * mg + i;
        const bias = bd ? bd[mo] : 0, mu = mult[mo], sh = shift[mo];
        const yOff = (n * g.m + mo) * P;
        for (let p = 0; p < P; p++) {
          const a = sat32(acc[i * P + p] + bias);
          if (!q.res) {
            yd[yOff + p] = requantize(a, mu, sh, q.yZp, q.qmin, q.qmax);
          } else {
            const s = q.res;
            const cv = requantize(a, mu, sh, s.cZp, dlo, dhi);
            yd[yOff + p] = quantizedAdd(
              cv - s.cZp,
              rd![yOff + p] - s.rZp,
              s.c.mult[0],
              s.c.shift[0],
              s.r.mult[0],
              s.r.shift[0],
              s.y.mult[0],
              s.y.shift[0],
              q.yZp,
              q.qmin,
              q.qmax,
            );
          }
        }
      }
    }
  }
  return y;
}

/**
 * QConv: quantized convolution (see the module doc for the exact arithmetic).
 *
 * @example
 * ```ts
 * // X uint8 [1,3,28,28], W int8 [16,3,3,3], B int32 [16]
 * // attrs { pads: [1,1,1,1], x_zp: 128, mult: [...16], shift: [...16], y_zp: -128,
 * //         dtype: "int8", qmin: -128 }   ->   Y int8 [1,16,28,28]
 * ```
 */
export const QConv: OpDef = {
  attrs: [
    "auto_pad",
    "dilations",
    "group",
    "kernel_shape",
    "pads",
    "strides",
    "x_zp",
    "mult",
    "shift",
    "y_zp",
    "dtype",
    "qmin",
    "qmax",
    "c_zp",
    "c_mult",
    "c_shift",
    "r_zp",
    "r_mult",
    "r_shift",
    "y_mult",
    "y_shift",
    "w_layout",
    "w_shape",
  ],
  infer(ins, attrs, _consts, ctx) {
    const w = readWeight(ctx, need(ins, 1, ctx), attrs);
    const g = qconvGeom(ctx, need(ins, 0, ctx), w, ins[2], ins[3], attrs);
    readRequant(ctx, attrs, g, ins[3]);
    return [{ dtype: g.ydt, shape: g.outShape }];
  },
  run(ins, attrs, ctx) {
    const w = readWeight(ctx, need(ins, 1, ctx), attrs);
    return [runQConv(ctx, need(ins, 0, ctx), w, ins[2], ins[3], attrs)];
  },
};
