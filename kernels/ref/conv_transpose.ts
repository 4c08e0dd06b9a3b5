/**
 * ConvTranspose (ONNX, opsets 1..22), 1-D, 2-D and N-D, float32/float64.
 *
 * X is `[N, C, (H,) W]`, W is `[C, M/group, (kh,) kw]`, B is `[M]`. Each input pixel
 * scatters `X[n, c, iy, ix] * W[c, m, ky, kx]` to output `(iy*sy + ky*dy - py, ...)`.
 * Computed per (image, group) as `col = Wgᵀ · Xg` ({@link gemmAccF64}, float64) then
 * col2im (scatter-add), rounding once on store. More than 2 spatial axes scatter
 * through a tap table ({@link tapTable}).
 *
 * Output size per spatial axis, as the ONNX spec states it:
 * - explicit pads: `s*(in-1) + output_padding + (k-1)*d + 1 - pb - pe`;
 * - `output_shape` given, or auto_pad SAME_* (then `output_shape = in * s`):
 *   `total = s*(in-1) + output_padding + (k-1)*d + 1 - out`, split with floor division
 *   as `pb = total//2` for SAME_UPPER, else `pb = total - total//2`; `pe = total - pb`.
 *   A negative total extends the output (zeros + bias). Note onnxruntime's CPU kernel
 *   splits odd totals the other way round and ignores SAME_* without output_shape.
 * Explicit non-zero pads together with output_shape or SAME_* are rejected.
 */
import { attrInts, type Attrs } from "../../runtime/graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "../../runtime/tensor.ts";
import { attrError, need, type OpContext, type OpDef, shapeError } from "./op.ts";
import { gemmAccF64, transposeF64 } from "./gemm_f64.ts";
import {
  checkRank,
  checkVector,
  type FloatArray,
  floatData,
  type FloatDType,
  floatDType,
  newFloat,
  sameDType,
} from "./nn_util.ts";
import { lift2d, readAutoPad, readPads, readPositive, tapTable, type Window } from "./nn_window.ts";
import { checkKernelShape, readGroup } from "./conv.ts";

interface DeconvGeom {
  dtype: FloatDType;
  n: number;
  c: number;
  m: number;
  group: number;
  /** Geometry seen from the output: inSize = X's spatial dims, outSize = Y's. */
  win: Window;
  outShape: number[];
}

function readNonNeg(ctx: OpContext, attrs: Attrs, name: string, n: number): number[] {
  const v = attrInts(attrs, name) ?? new Array<number>(n).fill(0);
  if (v.length !== n) attrError(ctx, `${name} has ${v.length} values, expected ${n}`);
  if (v.some((x) => !Number.isInteger(x) || x < 0)) {
    attrError(ctx, `${name} must be non-negative integers, got [${v}]`);
  }
  return [...v];
}

function deconvWindow(
  ctx: OpContext,
  attrs: Attrs,
  inSize: number[],
  kernel: number[],
): Window {
  const n = inSize.length;
  const strides = readPositive(ctx, attrs, "strides", n, 1);
  const dilations = readPositive(ctx, attrs, "dilations", n, 1);
  const autoPad = readAutoPad(ctx, attrs);
  const pads = readPads(ctx, attrs, n);
  const outPad = readNonNeg(ctx, attrs, "output_padding", n);
  let outShape = attrInts(attrs, "output_shape");
  if (outShape && outShape.length === n + 2) outShape = outShape.slice(2);
  if (outShape && (outShape.length !== n || outShape.some((d) => !Number.isInteger(d) || d < 1))) {
    attrError(ctx, `output_shape [${outShape}] must give ${n} positive spatial sizes`);
  }
  const same = autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER";
  if ((outShape || autoPad !== "NOTSET") && pads.some((p) => p !== 0)) {
    attrError(ctx, `explicit pads [${pads}] cannot be combined with output_shape or auto_pad`);
  }
  const padBegin = pads.slice(0, n), padEnd = pads.slice(n);
  const outSize = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const full = strides[i] * (inSize[i] - 1) + outPad[i] + (kernel[i] - 1) * dilations[i] + 1;
    const target = outShape ? outShape[i] : same ? inSize[i] * strides[i] : undefined;
    if (target !== undefined) {
      const total = full - target;
      const half = Math.floor(total / 2);
      padBegin[i] = autoPad === "SAME_UPPER" ? half : total - half;
      padEnd[i] = total - padBegin[i];
    }
    outSize[i] = full - padBegin[i] - padEnd[i];
  }
  if (outSize.some((o) => o < 1)) shapeError(ctx, `empty output, spatial size [${outSize}]`);
  return { inSize, kernel, strides, dilations, padBegin, padEnd, outSize };
}

function deconvGeom(
  ctx: OpContext,
  x: TensorMeta,
  w: TensorMeta,
  b: TensorMeta | undefined,
  attrs: Attrs,
): DeconvGeom {
  const dtype = floatDType(ctx, x, "X");
  checkRank(ctx, x, 3, Infinity, "X (ConvTranspose: N x C x D1 x ... x Dn)");
  sameDType(ctx, w, dtype, "W");
  if (w.shape.length !== x.shape.length) {
    shapeError(ctx, `W ${fmtShape(w.shape)} must have the rank of X ${fmtShape(x.shape)}`);
  }
  const group = readGroup(ctx, attrs);
  const [n, c] = x.shape;
  if (w.shape[0] !== c || c % group !== 0) {
    shapeError(
      ctx,
      `W ${fmtShape(w.shape)} must have X's ${c} channels first, divisible by group ${group}`,
    );
  }
  const m = w.shape[1] * group;
  const kernel = w.shape.slice(2);
  checkKernelShape(ctx, attrs, kernel);
  if (b) checkVector(ctx, b, m, dtype, "B");
  const win = deconvWindow(ctx, attrs, x.shape.slice(2), kernel);
  return { dtype, n, c, m, group, win, outShape: [n, m, ...win.outSize] };
}

/** Scatter-adds `col[(m*kh + ky)*kw + kx][iy*W + ix]` into `acc[m][oy*OW + ox]` (2-D geometry). */
function col2im(col: Float64Array, mg: number, w: Window, acc: Float64Array): void {
  const [H, W] = w.inSize, [kh, kw] = w.kernel, [sh, sw] = w.strides;
  const [dh, dw] = w.dilations, [ph, pw] = w.padBegin, [OH, OW] = w.outSize;
  const P = H * W;
  let row = 0;
  for (let m = 0; m < mg; m++) {
    const plane = m * OH * OW;
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++, row++) {
        for (let iy = 0; iy < H; iy++) {
          const oy = iy * sh + ky * dh - ph;
          if (oy < 0 || oy >= OH) continue;
          const src = row * P + iy * W, dst = plane + oy * OW;
          for (let ix = 0; ix < W; ix++) {
            const ox = ix * sw + kx * dw - pw;
            if (ox >= 0 && ox < OW) acc[dst + ox] += col[src + ix];
          }
        }
      }
    }
  }
}

/**
 * N-D col2im: `acc[m*Q + table[k*P + p]] += col[(m*K + k)*P + p]` for taps that land
 * inside the output (`table` from {@link tapTable} with `from` = input sizes).
 */
function col2imNd(
  col: Float64Array,
  mg: number,
  table: Int32Array,
  K: number,
  P: number,
  Q: number,
  acc: Float64Array,
): void {
  for (let m = 0; m < mg; m++) {
    for (let k = 0; k < K; k++) {
      const row = (m * K + k) * P, t0 = k * P, dst = m * Q;
      for (let p = 0; p < P; p++) {
        const t = table[t0 + p];
        if (t >= 0) acc[dst + t] += col[row + p];
      }
    }
  }
}

function runDeconv(
  ctx: OpContext,
  x: Tensor,
  w: Tensor,
  b: Tensor | undefined,
  attrs: Attrs,
): Tensor {
  const g = deconvGeom(ctx, x, w, b, attrs);
  const xd = floatData(ctx, x, "X");
  const wd = floatData(ctx, w, "W");
  const bd = b ? floatData(ctx, b, "B") : undefined;
  const nd = g.win.inSize.length;
  const win = nd > 2 ? g.win : lift2d(g.win);
  const taps = win.kernel.reduce((a, b) => a * b, 1);
  const cg = g.c / g.group, mg = g.m / g.group;
  const K2 = mg * taps;
  const P = win.inSize.reduce((a, b) => a * b, 1);
  const Q = win.outSize.reduce((a, b) => a * b, 1);
  const table = nd > 2 ? tapTable(win.inSize, win.outSize, win) : undefined;
  // Wgᵀ per group: [K2, cg].
  const wt = Array.from({ length: g.group }, (_, gi) => transposeF64(wd, gi * cg * K2, cg, K2));
  const xg = new Float64Array(cg * P);
  const col = new Float64Array(K2 * P);
  const acc = new Float64Array(mg * Q);
  const y = newFloat(g.dtype, g.outShape);
  const yd = y.data as FloatArray;
  for (let n = 0; n < g.n; n++) {
    for (let gi = 0; gi < g.group; gi++) {
      const xo = (n * g.c + gi * cg) * P;
      for (let i = 0; i < cg * P; i++) xg[i] = xd[xo + i];
      col.fill(0);
      gemmAccF64(K2, P, cg, wt[gi], 0, cg, xg, 0, P, col, 0, P);
      for (let i = 0; i < mg; i++) acc.fill(bd ? bd[gi * mg + i] : 0, i * Q, (i + 1) * Q);
      if (table) col2imNd(col, mg, table, taps, P, Q, acc);
      else col2im(col, mg, win, acc);
      yd.set(acc, (n * g.m + gi * mg) * Q);
    }
  }
  return y;
}

/** ConvTranspose: the reference float transposed convolution (1-D, 2-D and N-D). */
export const ConvTranspose: OpDef = {
  attrs: [
    "auto_pad",
    "dilations",
    "group",
    "kernel_shape",
    "output_padding",
    "output_shape",
    "pads",
    "strides",
  ],
  infer(ins, attrs, _consts, ctx) {
    const g = deconvGeom(ctx, need(ins, 0, ctx), need(ins, 1, ctx), ins[2], attrs);
    return [{ dtype: g.dtype, shape: g.outShape }];
  },
  run(ins, attrs, ctx) {
    return [runDeconv(ctx, need(ins, 0, ctx), need(ins, 1, ctx), ins[2], attrs)];
  },
};
