/**
 * Conv (ONNX, opsets 1..22), 1-D, 2-D and N-D, float32/float64.
 *
 * `Y[n, m] = B[m] + sum_{c in group(m), ky, kx} W[m, c, ky, kx] * X[n, c, oy*sy + ky*dy - py, ...]`
 *
 * Computed per (image, group) as im2col followed by {@link gemmAccF64}, accumulating
 * in float64 and rounding once on store. 1-D convs run as 2-D ones with a unit height.
 * Supported: group (incl. depthwise), pads, strides, dilations, auto_pad
 * NOTSET/SAME_UPPER/SAME_LOWER/VALID, optional bias, kernel_shape (checked against W).
 * Convs with more than 2 spatial axes unfold through a tap table ({@link tapTable}).
 */
import { attrInt, attrInts, type Attrs } from "../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { gemmAccF64 } from "./gemm_f64.ts";
import {
  checkRank,
  checkVector,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  sameDType,
  toF64,
} from "./nn_util.ts";
import { lift2d, slidingWindow, tapTable, type Window } from "./nn_window.ts";

/** Shape facts of one Conv node. */
interface ConvGeom {
  dtype: FloatDType;
  n: number;
  c: number;
  m: number;
  group: number;
  win: Window;
  outShape: number[];
}

/**
 * Checks how X `[N, C, ...]` and W `[M, C/group, k...]` fit together under `group` (rank,
 * channel split, kernel_shape) and returns the channel facts; shared by Conv and QConv.
 */
export function convChannels(
  ctx: OpContext,
  x: TensorMeta,
  w: TensorMeta,
  attrs: Attrs,
): { n: number; c: number; m: number; group: number; kernel: number[] } {
  if (w.shape.length !== x.shape.length) {
    shapeError(ctx, `W ${fmtShape(w.shape)} must have the rank of X ${fmtShape(x.shape)}`);
  }
  const group = readGroup(ctx, attrs);
  const [n, c] = x.shape;
  const m = w.shape[0];
  if (c % group !== 0 || w.shape[1] * group !== c) {
    shapeError(
      ctx,
      `X has ${c} channels, W ${fmtShape(w.shape)} with group ${group} needs ${w.shape[1] * group}`,
    );
  }
  if (m % group !== 0) shapeError(ctx, `W's ${m} output channels do not divide by group ${group}`);
  const kernel = w.shape.slice(2);
  checkKernelShape(ctx, attrs, kernel);
  return { n, c, m, group, kernel };
}

/** Reads `group`, which must be a positive integer. */
export function readGroup(ctx: OpContext, attrs: Attrs): number {
  const g = attrInt(attrs, "group", 1);
  if (!Number.isInteger(g) || g < 1) attrError(ctx, `group must be a positive integer, got ${g}`);
  return g;
}

/** Checks `kernel_shape`, when given, against the weight's spatial dims. */
export function checkKernelShape(ctx: OpContext, attrs: Attrs, kernel: readonly number[]): void {
  const ks = attrInts(attrs, "kernel_shape");
  if (ks && (ks.length !== kernel.length || ks.some((k, i) => k !== kernel[i]))) {
    shapeError(ctx, `kernel_shape [${ks}] does not match W's spatial dims [${kernel}]`);
  }
}

function convGeom(
  ctx: OpContext,
  x: TensorMeta,
  w: TensorMeta,
  b: TensorMeta | undefined,
  attrs: Attrs,
): ConvGeom {
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 3, Infinity, "X (Conv: N x C x D1 x ... x Dn)");
  sameDType(ctx, w, dtype, "W");
  const { n, c, m, group, kernel } = convChannels(ctx, x, w, attrs);
  if (b) checkVector(ctx, b, m, dtype, "B");
  const win = slidingWindow(ctx, attrs, x.shape.slice(2), kernel, false);
  return { dtype, n, c, m, group, win, outShape: [n, m, ...win.outSize] };
}

/**
 * N-D im2col: `col[(c*K + k)*P + p] = x[xOff + c*plane + table[k*P + p]]`, 0 where the
 * tap reads padding (`table` from {@link tapTable} with `from` = output sizes).
 */
export function im2colNd(
  x: FloatArray,
  xOff: number,
  cg: number,
  plane: number,
  table: Int32Array,
  K: number,
  P: number,
  col: Float64Array,
): void {
  for (let c = 0; c < cg; c++) {
    const src = xOff + c * plane;
    for (let k = 0; k < K; k++) {
      const row = (c * K + k) * P, t0 = k * P;
      for (let p = 0; p < P; p++) {
        const t = table[t0 + p];
        col[row + p] = t >= 0 ? x[src + t] : 0;
      }
    }
  }
}

/**
 * Unfolds `cg` channels of one image (at `xOff` in `x`, 2-D geometry `w`) into
 * `col[(c*kh + ky)*kw + kx][oy*ow + ox]`, zero where the window reads padding.
 */
export function im2col(
  x: FloatArray,
  xOff: number,
  cg: number,
  w: Window,
  col: Float64Array,
): void {
  const [H, W] = w.inSize, [kh, kw] = w.kernel, [sh, sw] = w.strides;
  const [dh, dw] = w.dilations, [ph, pw] = w.padBegin, [oh, ow] = w.outSize;
  const P = oh * ow;
  let row = 0;
  for (let c = 0; c < cg; c++) {
    const plane = xOff + c * H * W;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        const base = row * P;
        const dx = kx * dw - pw;
        // Output columns whose input column 0 <= ox*sw + dx < W.
        const lo = Math.min(ow, Math.max(0, Math.ceil(-dx / sw)));
        const hi = Math.max(lo, Math.min(ow, Math.floor((W - 1 - dx) / sw) + 1));
        for (let oy = 0; oy < oh; oy++) {
          const iy = oy * sh + ky * dh - ph;
          const o = base + oy * ow;
          if (iy < 0 || iy >= H) {
            col.fill(0, o, o + ow);
            continue;
          }
          const src = plane + iy * W + dx;
          for (let ox = 0; ox < lo; ox++) col[o + ox] = 0;
          if (sw === 1) {
            for (let ox = lo; ox < hi; ox++) col[o + ox] = x[src + ox];
          } else {
            for (let ox = lo; ox < hi; ox++) col[o + ox] = x[src + ox * sw];
          }
          for (let ox = hi; ox < ow; ox++) col[o + ox] = 0;
        }
      }
    }
  }
}

function runConv(
  ctx: OpContext,
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  attrs: Attrs,
): Tensor {
  const g = convGeom(ctx, x, w, b, attrs);
  const xd = floatData(ctx, x, "X");
  const wd = toF64(floatData(ctx, w, "W"));
  const bd = b ? floatData(ctx, b, "B") : undefined;
  const nd = g.win.inSize.length;
  const win = nd > 2 ? g.win : lift2d(g.win);
  const taps = win.kernel.reduce((a, b) => a * b, 1);
  const plane = win.inSize.reduce((a, b) => a * b, 1);
  const cg = g.c / g.group, mg = g.m / g.group;
  const K = cg * taps, P = win.outSize.reduce((a, b) => a * b, 1);
  const table = nd > 2 ? tapTable(win.outSize, win.inSize, win) : undefined;
  const col = new Float64Array(K * P);
  const acc = new Float64Array(mg * P);
  const y = newFloat(g.dtype, g.outShape);
  const yd = y.data as FloatArray;
  for (let n = 0; n < g.n; n++) {
    for (let gi = 0; gi < g.group; gi++) {
      const xOff = (n * g.c + gi * cg) * plane;
      if (table) im2colNd(xd, xOff, cg, plane, table, taps, P, col);
      else im2col(xd, xOff, cg, win, col);
      for (let i = 0; i < mg; i++) acc.fill(bd ? bd[gi * mg + i] : 0, i * P, (i + 1) * P);
      gemmAccF64(mg, P, K, wd, gi * mg * K, K, col, 0, P, acc, 0, P);
      yd.set(acc, (n * g.m + gi * mg) * P);
    }
  }
  return y;
}

/** Conv: the reference float convolution (1-D, 2-D and N-D). */
export const Conv: OpDef = {
  attrs: ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"],
  infer(ins, attrs, _consts, ctx) {
    const g = convGeom(ctx, need(ins, 0, ctx), need(ins, 1, ctx), ins[2], attrs);
    return [{ dtype: g.dtype, shape: g.outShape }];
  },
  run(ins, attrs, ctx) {
    return [runConv(ctx, need(ins, 0, ctx), need(ins, 1, ctx), ins[2], attrs)];
  },
};
