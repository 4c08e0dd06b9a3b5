/**
 * MaxPool and AveragePool (ONNX, opsets 1..22), 1-D, 2-D and N-D, float32/float64.
 *
 * Geometry (kernel_shape, strides, pads, dilations, auto_pad, ceil_mode) comes from
 * {@link slidingWindow}. Window semantics follow onnxruntime / PyTorch:
 * - MaxPool: max over the window's taps inside the input (padding never wins; the
 *   first maximum is kept). The optional second output Indices (int64) holds flat
 *   indices into X, row-major (storage_order 0) or with H and W swapped
 *   (storage_order 1), as onnxruntime computes them.
 * - AveragePool: sum of the in-input taps divided by their count
 *   (count_include_pad=0) or by the number of taps inside the padded extent
 *   `[-pb, in + pe)` (count_include_pad=1; the ceil_mode overhang is never counted).
 *   A window with no tap in the input gives 0.
 * 1-D and 2-D pools run on a direct 2-D loop; more spatial axes use a tap table
 * ({@link tapTable}). storage_order 1 is only defined for 1-D and 2-D here.
 */
import { attrInts, type Attrs } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef } from "./op.ts";
import {
  attrFlag,
  checkRank,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
} from "./nn_util.ts";
import { lift2d, slidingWindow, tapTable, type Window } from "./nn_window.ts";

interface PoolGeom {
  dtype: FloatDType;
  /** N * C. */
  planes: number;
  win: Window;
  outShape: number[];
}

function poolGeom(ctx: OpContext, x: TensorMeta, attrs: Attrs): PoolGeom {
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 3, Infinity, `X (${ctx.node.op}: N x C x D1 x ... x Dn)`);
  return { dtype, ...poolWindow(ctx, x, attrs) };
}

/**
 * The sliding window of a pooling node (`kernel_shape`, pads, strides, dilations,
 * `ceil_mode`) over X `[N, C, ...]`; shared by the float and the quantized pools.
 */
export function poolWindow(
  ctx: OpContext,
  x: TensorMeta,
  attrs: Attrs,
): { planes: number; win: Window; outShape: number[] } {
  const kernel = attrInts(attrs, "kernel_shape");
  if (!kernel) attrError(ctx, "kernel_shape is required");
  const ceil = attrFlag(ctx, attrs.ceil_mode, "ceil_mode", 0) === 1;
  const win = slidingWindow(ctx, attrs, x.shape.slice(2), kernel, ceil);
  return {
    planes: x.shape[0] * x.shape[1],
    win,
    outShape: [...x.shape.slice(0, 2), ...win.outSize],
  };
}

/** True when the node asks for MaxPool's second output (Indices). */
function wantsIndices(ctx: OpContext): boolean {
  return ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== "";
}

/** Max or average over every window of an N-D pool, via a tap table. */
function runPoolNd(
  g: PoolGeom,
  xd: FloatArray,
  max: boolean,
  incl: boolean,
): { y: Tensor; arg: Float64Array } {
  const w = g.win;
  const tab = tapTable(w.outSize, w.inSize, w);
  const P = w.outSize.reduce((a, b) => a * b, 1);
  const K = w.kernel.reduce((a, b) => a * b, 1);
  const plane = w.inSize.reduce((a, b) => a * b, 1);
  const y = newFloat(g.dtype, g.outShape);
  const yd = y.data as FloatArray;
  const arg = new Float64Array(max ? yd.length : 0);
  const lowest = g.dtype === "float32" ? -3.4028234663852886e38 : -Number.MAX_VALUE;
  let o = 0;
  for (let pl = 0; pl < g.planes; pl++) {
    const base = pl * plane;
    for (let p = 0; p < P; p++, o++) {
      let best = lowest, bi = -1, sum = 0, cnt = 0, padded = 0;
      for (let k = 0; k < K; k++) {
        const t = tab[k * P + p];
        if (t >= -1) padded++;
        if (t < 0) continue;
        const v = xd[base + t];
        if (max) {
          if (bi < 0 || v > best) {
            best = v;
            bi = t;
          }
        } else {
          sum += v;
          cnt++;
        }
      }
      if (max) {
        yd[o] = best;
        arg[o] = base + bi;
      } else yd[o] = cnt === 0 ? 0 : sum / (incl ? padded : cnt);
    }
  }
  return { y, arg };
}

function runMaxPool(ctx: OpContext, x: Tensor, attrs: Attrs): Tensor[] {
  const g = poolGeom(ctx, x, attrs);
  const colMajor = attrFlag(ctx, attrs.storage_order, "storage_order", 0) === 1;
  const xd = floatData(ctx, x, "X");
  if (g.win.inSize.length > 2) {
    if (colMajor) attrError(ctx, "storage_order 1 is only supported for 1-D and 2-D MaxPool");
    const { y, arg } = runPoolNd(g, xd, true, false);
    return wantsIndices(ctx) ? [y, { dtype: "int64", shape: [...g.outShape], data: arg }] : [y];
  }
  const w = lift2d(g.win);
  const [H, W] = w.inSize, [kh, kw] = w.kernel, [sh, sw] = w.strides;
  const [dh, dw] = w.dilations, [ph, pw] = w.padBegin, [oh, ow] = w.outSize;
  const y = newFloat(g.dtype, g.outShape);
  const yd = y.data as FloatArray;
  const want = wantsIndices(ctx);
  const ind = want ? new Float64Array(yd.length) : undefined;
  const lowest = g.dtype === "float32" ? -3.4028234663852886e38 : -Number.MAX_VALUE;
  let o = 0;
  for (let pl = 0; pl < g.planes; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - ph;
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = ox * sw - pw;
        let best = lowest, bh = -1, bw = -1;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y0 + ky * dh;
          if (iy < 0 || iy >= H) continue;
          const row = base + iy * W;
          for (let kx = 0; kx < kw; kx++) {
            const ix = x0 + kx * dw;
            if (ix < 0 || ix >= W) continue;
            const v = xd[row + ix];
            if (bh < 0 || v > best) {
              best = v;
              bh = iy;
              bw = ix;
            }
          }
        }
        yd[o] = best;
        if (ind) ind[o] = base + (colMajor ? bh + bw * H : bh * W + bw);
      }
    }
  }
  return ind ? [y, { dtype: "int64", shape: [...g.outShape], data: ind }] : [y];
}

function runAvgPool(ctx: OpContext, x: Tensor, attrs: Attrs): Tensor {
  const g = poolGeom(ctx, x, attrs);
  const incl = attrFlag(ctx, attrs.count_include_pad, "count_include_pad", 0) === 1;
  const xd = floatData(ctx, x, "X");
  if (g.win.inSize.length > 2) return runPoolNd(g, xd, false, incl).y;
  const w = lift2d(g.win);
  const [H, W] = w.inSize, [kh, kw] = w.kernel, [sh, sw] = w.strides;
  const [dh, dw] = w.dilations, [ph, pw] = w.padBegin, [oh, ow] = w.outSize;
  const [eh, ew] = w.padEnd;
  const y = newFloat(g.dtype, g.outShape);
  const yd = y.data as FloatArray;
  let o = 0;
  for (let pl = 0; pl < g.planes; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - ph;
      // Taps inside the padded extent along H.
      const hTaps = 1 + Math.floor((Math.min(y0 + (kh - 1) * dh + 1, H + eh) - y0 - 1) / dh);
      for (let ox = 0; ox < ow; ox++, o++) {
        const x0 = ox * sw - pw;
        let sum = 0, cnt = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = y0 + ky * dh;
          if (iy < 0 || iy >= H) continue;
          const row = base + iy * W;
          for (let kx = 0; kx < kw; kx++) {
            const ix = x0 + kx * dw;
            if (ix < 0 || ix >= W) continue;
            sum += xd[row + ix];
            cnt++;
          }
        }
        if (cnt === 0) {
          yd[o] = 0;
        } else if (incl) {
          const wTaps = 1 + Math.floor((Math.min(x0 + (kw - 1) * dw + 1, W + ew) - x0 - 1) / dw);
          yd[o] = sum / (hTaps * wTaps);
        } else {
          yd[o] = sum / cnt;
        }
      }
    }
  }
  return y;
}

/** MaxPool: max over sliding windows; optional int64 Indices output. */
export const MaxPool: OpDef = {
  attrs: ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"],
  infer(ins, attrs, _consts, ctx) {
    const g = poolGeom(ctx, need(ins, 0, ctx), attrs);
    attrFlag(ctx, attrs.storage_order, "storage_order", 0);
    const y: TensorMeta = { dtype: g.dtype, shape: g.outShape };
    return wantsIndices(ctx) ? [y, { dtype: "int64", shape: [...g.outShape] }] : [y];
  },
  run(ins, attrs, ctx) {
    return runMaxPool(ctx, need(ins, 0, ctx), attrs);
  },
};

/** AveragePool: mean over sliding windows (count_include_pad selects the divisor). */
export const AveragePool: OpDef = {
  attrs: [
    "auto_pad",
    "ceil_mode",
    "count_include_pad",
    "dilations",
    "kernel_shape",
    "pads",
    "strides",
  ],
  infer(ins, attrs, _consts, ctx) {
    const g = poolGeom(ctx, need(ins, 0, ctx), attrs);
    attrFlag(ctx, attrs.count_include_pad, "count_include_pad", 0);
    return [{ dtype: g.dtype, shape: g.outShape }];
  },
  run(ins, attrs, ctx) {
    return [runAvgPool(ctx, need(ins, 0, ctx), attrs)];
  },
};
