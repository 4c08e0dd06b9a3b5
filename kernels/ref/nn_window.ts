/**
 * Sliding-window geometry shared by Conv and the pools: reads `kernel_shape`,
 * `strides`, `dilations`, `pads`, `auto_pad` (and `ceil_mode` for pools) and gives
 * the begin/end padding and output size per spatial axis, following ONNX:
 *
 * - NOTSET: `out = floor((in + pb + pe - dk) / s) + 1` with `dk = (k - 1) * d + 1`;
 *   with ceil_mode, `ceil` instead, dropping a last window that would start in the
 *   right padding (as ONNX >= 19, onnxruntime and PyTorch do).
 * - VALID: no padding, `out = floor((in - dk) / s) + 1`.
 * - SAME_UPPER / SAME_LOWER: `out = ceil(in / s)`, total padding
 *   `max(0, (out - 1) * s + dk - in)` split evenly, the odd one at the end (UPPER)
 *   or at the beginning (LOWER). ceil_mode has no effect.
 */
import { attrInts, type Attrs, attrString } from "../../runtime/graph.ts";
import { attrError, type OpContext, shapeError } from "./op.ts";

/** Geometry of a sliding window over the spatial axes of an NC... tensor. */
export interface Window {
  /** Spatial input sizes. */
  inSize: number[];
  /** Kernel extent per spatial axis (undilated). */
  kernel: number[];
  strides: number[];
  dilations: number[];
  padBegin: number[];
  padEnd: number[];
  /** Spatial output sizes. */
  outSize: number[];
}

/** The auto_pad values ONNX defines. */
export const AUTO_PADS = ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"] as const;

/** Reads `auto_pad`, rejecting unknown strings (the empty string counts as NOTSET). */
export function readAutoPad(ctx: OpContext, attrs: Attrs): (typeof AUTO_PADS)[number] {
  const v = attrString(attrs, "auto_pad", "NOTSET") || "NOTSET";
  const known = AUTO_PADS as readonly string[];
  if (!known.includes(v)) attrError(ctx, `auto_pad '${v}' is not one of ${AUTO_PADS.join(", ")}`);
  return v as (typeof AUTO_PADS)[number];
}

/** Reads a per-spatial-axis list of positive integers, default all `dflt`. */
export function readPositive(
  ctx: OpContext,
  attrs: Attrs,
  name: string,
  n: number,
  dflt: number,
): number[] {
  const v = attrInts(attrs, name) ?? new Array<number>(n).fill(dflt);
  if (v.length !== n) attrError(ctx, `${name} has ${v.length} values, expected ${n}`);
  for (const x of v) {
    if (!Number.isInteger(x) || x < 1) {
      attrError(ctx, `${name} must be positive integers, got [${v}]`);
    }
  }
  return [...v];
}

/** Reads `pads` (`[b1..bn, e1..en]`), default zeros; negative pads are rejected. */
export function readPads(ctx: OpContext, attrs: Attrs, n: number): number[] {
  const v = attrInts(attrs, "pads") ?? new Array<number>(2 * n).fill(0);
  if (v.length !== 2 * n) attrError(ctx, `pads has ${v.length} values, expected ${2 * n}`);
  for (const x of v) {
    if (!Number.isInteger(x) || x < 0) {
      attrError(ctx, `pads must be non-negative integers, got [${v}]`);
    }
  }
  return [...v];
}

/**
 * Computes the window geometry of a Conv/pool node for spatial input sizes `inSize`
 * and kernel `kernel`. Throws attrError on bad attributes and shapeError when the
 * output would be empty.
 *
 * @example
 * ```ts
 * const w = slidingWindow(ctx, { pads: [1, 1, 1, 1], strides: [2, 2] }, [7, 7], [3, 3], false);
 * // w.outSize = [4, 4]
 * ```
 */
export function slidingWindow(
  ctx: OpContext,
  attrs: Attrs,
  inSize: readonly number[],
  kernel: readonly number[],
  ceilMode: boolean,
): Window {
  const n = inSize.length;
  if (kernel.length !== n) attrError(ctx, `kernel has ${kernel.length} dims, input has ${n}`);
  for (const k of kernel) {
    if (!Number.isInteger(k) || k < 1) {
      attrError(ctx, `kernel_shape must be positive, got [${kernel}]`);
    }
  }
  const strides = readPositive(ctx, attrs, "strides", n, 1);
  const dilations = readPositive(ctx, attrs, "dilations", n, 1);
  const autoPad = readAutoPad(ctx, attrs);
  const pads = readPads(ctx, attrs, n);
  if (autoPad !== "NOTSET" && pads.some((p) => p !== 0)) {
    attrError(ctx, `pads [${pads}] cannot be used together with auto_pad ${autoPad}`);
  }
  const padBegin = pads.slice(0, n);
  const padEnd = pads.slice(n);
  const outSize = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const s = strides[i], dk = (kernel[i] - 1) * dilations[i] + 1, len = inSize[i];
    if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
      const out = Math.ceil(len / s);
      const total = Math.max(0, (out - 1) * s + dk - len);
      const small = Math.floor(total / 2);
      padBegin[i] = autoPad === "SAME_UPPER" ? small : total - small;
      padEnd[i] = total - padBegin[i];
      outSize[i] = out;
      continue;
    }
    const span = len + padBegin[i] + padEnd[i] - dk;
    if (span < 0) {
      shapeError(
        ctx,
        `window ${dk} (kernel ${kernel[i]}, dilation ${dilations[i]}) is larger than the ` +
          `padded input ${len + padBegin[i] + padEnd[i]} on spatial axis ${i}`,
      );
    }
    let out = Math.floor(span / s) + 1;
    if (ceilMode && autoPad === "NOTSET") {
      out = Math.ceil(span / s) + 1;
      if ((out - 1) * s >= len + padBegin[i]) out--;
    }
    outSize[i] = out;
  }
  if (outSize.some((o) => o < 1)) shapeError(ctx, `empty output, spatial size [${outSize}]`);
  return {
    inSize: [...inSize],
    kernel: [...kernel],
    strides,
    dilations,
    padBegin,
    padEnd,
    outSize,
  };
}

/** Turns a 1-D window into the equivalent 2-D one with a unit leading axis. */
export function lift2d(w: Window): Window {
  if (w.inSize.length === 2) return w;
  return {
    inSize: [1, ...w.inSize],
    kernel: [1, ...w.kernel],
    strides: [1, ...w.strides],
    dilations: [1, ...w.dilations],
    padBegin: [0, ...w.padBegin],
    padEnd: [0, ...w.padEnd],
    outSize: [1, ...w.outSize],
  };
}

/**
 * Tap table of an N-D sliding window, for the generic (rank > 2 spatial) paths.
 *
 * For every kernel tap `k` (row-major over `kernel`) and every position `p` of the
 * `from` grid, `table[k * size(from) + p]` is the flat row-major index into the `to`
 * grid of the coordinate `p * stride + k * dilation - padBegin`, or -1 when that
 * coordinate lies outside `to` but inside the padded extent `[-padBegin, to + padEnd)`,
 * or -2 when it lies beyond the padded extent. Conv and the pools read from the input
 * grid (`from` = output sizes, `to` = input sizes); ConvTranspose scatters into the
 * output grid (`from` = input sizes, `to` = output sizes).
 *
 * @example
 * ```ts
 * const t = tapTable([2], [3], { kernel: [2], strides: [1], dilations: [1], padBegin: [0], padEnd: [0] });
 * // t = [0, 1, 1, 2]
 * ```
 */
export function tapTable(
  from: readonly number[],
  to: readonly number[],
  w: Pick<Window, "kernel" | "strides" | "dilations" | "padBegin" | "padEnd">,
): Int32Array {
  const nd = from.length;
  let P = 1, K = 1;
  for (let d = 0; d < nd; d++) {
    P *= from[d];
    K *= w.kernel[d];
  }
  const toStride = new Array<number>(nd);
  for (let d = nd - 1, acc = 1; d >= 0; d--) {
    toStride[d] = acc;
    acc *= to[d];
  }
  const table = new Int32Array(K * P);
  const k = new Array<number>(nd).fill(0);
  const p = new Array<number>(nd).fill(0);
  for (let kk = 0; kk < K; kk++) {
    p.fill(0);
    for (let pi = 0; pi < P; pi++) {
      let flat = 0, state = 0;
      for (let d = 0; d < nd; d++) {
        const c = p[d] * w.strides[d] + k[d] * w.dilations[d] - w.padBegin[d];
        if (c >= 0 && c < to[d]) flat += c * toStride[d];
        else if (c < -w.padBegin[d] || c >= to[d] + w.padEnd[d]) state = -2;
        else if (state === 0) state = -1;
      }
      table[kk * P + pi] = state < 0 ? state : flat;
      for (let d = nd - 1; d >= 0; d--) {
        if (++p[d] < from[d]) break;
        p[d] = 0;
      }
    }
    for (let d = nd - 1; d >= 0; d--) {
      if (++k[d] < w.kernel[d]) break;
      k[d] = 0;
    }
  }
  return table;
}
