/**
 * QMaxPool, QAveragePool, QGlobalAveragePool (domain edgeq) on int8/uint8 `[N, C, ...]`.
 * The output keeps the input's dtype, scale and zero point (no requantization).
 *
 * Geometry as the float pools ({@link slidingWindow}: `kernel_shape`, `strides`, `pads`,
 * `dilations`, `auto_pad`, `ceil_mode`; 1-D and 2-D).
 *
 * - QMaxPool: the max of the taps inside the input (padding never wins); a window with
 *   no tap inside the input gives the dtype's minimum.
 * - QAveragePool: `Y = zero_point + divRoundHalfAway(Σ (X − zero_point), count)` over the
 *   taps inside the input (padding holds the real 0, i.e. contributes 0), with `count` =
 *   the taps inside the input (`count_include_pad = 0`) or inside the padded extent
 *   `[-pad_begin, in + pad_end)` (`count_include_pad = 1`). The division rounds to
 *   nearest, ties away from zero (in the real domain, i.e. on `X − zero_point`). A
 *   window with count 0 gives `zero_point`. The result always lies in the dtype's range.
 * - QGlobalAveragePool: the same over all spatial positions: `[N, C, D...] → [N, C, 1...]`.
 * @module
 */
import type { Attrs } from "../../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../../runtime/tensor.ts";
import { need, type OpContext, type OpDef, shapeError } from "../op.ts";
import { attrFlag } from "../nn_util.ts";
import { lift2d, type Window } from "../nn_window.ts";
import { poolWindow } from "../pool.ts";
import { divRoundHalfAway } from "./requant.ts";
import { newQ, type QDType, qDType, qRange, readZp } from "./qutil.ts";

interface QPoolGeom {
  dtype: QDType;
  planes: number;
  win: Window;
  outShape: number[];
}

function qpoolGeom(ctx: OpContext, x: TensorMeta, attrs: Attrs): QPoolGeom {
  const dtype = qDType(ctx, x, "X");
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    shapeError(ctx, `X must be N x C x [H x] W, got ${fmtShape(x.shape)}`);
  }
  return { dtype, ...poolWindow(ctx, x, attrs) };
}

/**
 * Calls `f(o, taps, padded)` for every output position `o` (flat in the plane) with the
 * flat offsets of its taps inside the input and the number of taps inside the padded extent.
 */
function forEachWindow(
  win: Window,
  f: (o: number, taps: number[], padded: number) => void,
): void {
  const [H, W] = win.inSize, [kh, kw] = win.kernel, [sh, sw] = win.strides;
  const [dh, dw] = win.dilations, [ph, pw] = win.padBegin, [eh, ew] = win.padEnd;
  const [oh, ow] = win.outSize;
  const taps: number[] = [];
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      taps.length = 0;
      let padded = 0;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky * dh - ph;
        const yIn = iy >= 0 && iy < H, yPad = iy >= -ph && iy < H + eh;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw + kx * dw - pw;
          if (yPad && ix >= -pw && ix < W + ew) padded++;
          if (yIn && ix >= 0 && ix < W) taps.push(iy * W + ix);
        }
      }
      f(oy * ow + ox, taps, padded);
    }
  }
}

function runPool(ctx: OpContext, x: Tensor, attrs: Attrs, avg: boolean): Tensor {
  const g = qpoolGeom(ctx, x, attrs);
  const win = lift2d(g.win);
  const zp = avg ? readZp(ctx, attrs, "zero_point", g.dtype) : 0;
  const includePad = avg && attrFlag(ctx, attrs.count_include_pad, "count_include_pad", 0) === 1;
  const y = newQ(g.dtype, g.outShape);
  const xd = x.data, yd = y.data;
  const inPlane = win.inSize[0] * win.inSize[1], outPlane = win.outSize[0] * win.outSize[1];
  const lo = qRange(g.dtype)[0];
  // The tap lists depend only on the geometry: collect once, reuse for every plane.
  const all: { o: number; taps: number[]; count: number }[] = [];
  forEachWindow(win, (o, taps, padded) => {
    all.push({ o, taps: [...taps], count: includePad ? padded : taps.length });
  });
  for (let p = 0; p < g.planes; p++) {
    const xo = p * inPlane, yo = p * outPlane;
    for (const { o, taps, count } of all) {
      if (avg) {
        let s = 0;
        for (const t of taps) s += xd[xo + t] - zp;
        yd[yo + o] = count === 0 ? zp : zp + divRoundHalfAway(s, count);
      } else {
        let m = lo;
        for (const t of taps) if (xd[xo + t] > m) m = xd[xo + t];
        yd[yo + o] = m;
      }
    }
  }
  return y;
}

const WINDOW_ATTRS = ["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"];

/**
 * QMaxPool: max pooling on 8-bit values (parameters unchanged).
 *
 * @example
 * ```ts
 * // attrs { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }
 * // X int8 [1, 16, 28, 28] -> Y int8 [1, 16, 14, 14]
 * ```
 */
export const QMaxPool: OpDef = {
  attrs: WINDOW_ATTRS,
  infer(ins, attrs, _consts, ctx) {
    const g = qpoolGeom(ctx, need(ins, 0, ctx), attrs);
    return [{ dtype: g.dtype, shape: g.outShape }];
  },
  run(ins, attrs, ctx) {
    return [runPool(ctx, need(ins, 0, ctx), attrs, false)];
  },
};

/**
 * QAveragePool: average pooling on 8-bit values with an exactly rounded integer
 * division (ties away from zero); parameters unchanged.
 *
 * @example
 * ```ts
 * // attrs { kernel_shape: [2, 2], strides: [2, 2], zero_point: 3 }
 * // X uint8 [1, 5, 6, 6] -> Y uint8 [1, 5, 3, 3]
 * ```
 */
export const QAveragePool: OpDef = {
  attrs: [...WINDOW_ATTRS, "count_include_pad", "zero_point"],
  infer(ins, attrs, _consts, ctx) {
    const g = qpoolGeom(ctx, need(ins, 0, ctx), attrs);
    return [{ dtype: g.dtype, shape: g.outShape }];
  },
  run(ins, attrs, ctx) {
    return [runPool(ctx, need(ins, 0, ctx), attrs, true)];
  },
};

function globalMeta(ctx: OpContext, x: TensorMeta): TensorMeta {
  const dtype = qDType(ctx, x, "X");
  if (x.shape.length < 3) shapeError(ctx, `X must be N x C x D1 ..., got ${fmtShape(x.shape)}`);
  if (x.shape.slice(2).some((d) => d === 0)) {
    shapeError(ctx, `X ${fmtShape(x.shape)} has no spatial positions`);
  }
  return { dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] };
}

/**
 * QGlobalAveragePool: the rounded mean over all spatial positions (parameters unchanged).
 *
 * @example
 * ```ts
 * // attrs { zero_point: -128 }: X int8 [50, 64, 7, 7] -> Y int8 [50, 64, 1, 1]
 * ```
 */
export const QGlobalAveragePool: OpDef = {
  attrs: ["zero_point"],
  infer(ins, _attrs, _consts, ctx) {
    return [globalMeta(ctx, need(ins, 0, ctx))];
  },
  run(ins, attrs, ctx) {
    const x = need(ins, 0, ctx);
    const meta = globalMeta(ctx, x);
    const dt = meta.dtype as QDType;
    const zp = readZp(ctx, attrs, "zero_point", dt);
    const planes = x.shape[0] * x.shape[1];
    const sp = x.shape.slice(2).reduce((a, d) => a * d, 1);
    const y = newQ(dt, meta.shape);
    const xd = x.data, yd = y.data;
    for (let p = 0; p < planes; p++) {
      let s = 0;
      for (let i = p * sp; i < (p + 1) * sp; i++) s += xd[i] - zp;
      yd[p] = zp + divRoundHalfAway(s, sp);
    }
    return [y];
  },
};
