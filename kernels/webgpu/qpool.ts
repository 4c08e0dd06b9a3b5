/**
 * Integer pools on WebGPU (QMaxPool, QAveragePool, QGlobalAveragePool), one thread per
 * output, the same rules as kernels/ref/quant/qpool.ts: max over the taps inside the
 * input (dtype minimum for an empty window); average = zp + divRoundHalfAway(Σ(x − zp),
 * count) with count = taps inside the input or, with count_include_pad, inside the padded
 * extent (zp for count 0).
 *
 * @example
 * ```ts
 * const lowered = lowerQPool(ctx, "max");
 * ```
 * @module
 */
import { attrInts } from "../../runtime/graph.ts";
import { size } from "../../runtime/tensor.ts";
import { attrFlag } from "../ref/nn_util.ts";
import { lift2d, slidingWindow } from "../ref/nn_window.ts";
import { type QDType, qRange, readZp } from "../ref/quant/qutil.ts";
import { bind, elementwiseShader, linearGroups, type LowerCtx, type Lowered } from "./kernel.ts";
import { WGSL_REQUANT } from "./wgsl_int.ts";

/**
 * Lowers QMaxPool ("max") or QAveragePool ("avg").
 *
 * @example
 * ```ts
 * lowerQPool(ctx, "avg");
 * ```
 */
export function lowerQPool(ctx: LowerCtx, kind: "max" | "avg"): Lowered {
  const node = ctx.node, c = { node, opset: ctx.graph.opset };
  const x = ctx.meta(node.inputs[0]), dt = x.dtype as QDType;
  const ceil = attrFlag(c, node.attrs.ceil_mode, "ceil_mode", 0) === 1;
  const kernel = attrInts(node.attrs, "kernel_shape")!;
  const win = lift2d(slidingWindow(c, node.attrs, x.shape.slice(2), kernel, ceil));
  const [H, W] = win.inSize, [kh, kw] = win.kernel, [sh, sw] = win.strides;
  const [dh, dw] = win.dilations, [ph, pw] = win.padBegin, [eh, ew] = win.padEnd;
  const [oh, ow] = win.outSize;
  const planes = x.shape[0] * x.shape[1], cnt = planes * oh * ow;
  const zp = kind === "avg" ? readZp(c, node.attrs, "zero_point", dt) : 0;
  const includePad = kind === "avg" &&
    attrFlag(c, node.attrs.count_include_pad, "count_include_pad", 0) === 1;
  const body = `let plane = i / ${oh * ow}u; let o = i % ${oh * ow}u;
  let oy = i32(o / ${ow}u); let ox = i32(o % ${ow}u);
  let xb = plane * ${H * W}u;
  var acc = ${kind === "max" ? qRange(dt)[0] : 0};
  var taps = 0; var padded = 0;
  for (var ky = 0; ky < ${kh}; ky++) {
    let iy = oy * ${sh} + ky * ${dh} - ${ph};
    let yIn = iy >= 0 && iy < ${H};
    let yPad = iy >= -${ph} && iy < ${H + eh};
    for (var kx = 0; kx < ${kw}; kx++) {
      let ix = ox * ${sw} + kx * ${dw} - ${pw};
      if (yPad && ix >= -${pw} && ix < ${W + ew}) { padded++; }
      if (yIn && ix >= 0 && ix < ${W}) {
        let v = x[xb + u32(iy) * ${W}u + u32(ix)];
        ${kind === "max" ? "acc = max(acc, v);" : `acc += v - ${zp};`}
        taps++;
      }
    }
  }
  ${
    kind === "max" ? "y[i] = acc;" : `let count = ${includePad ? "padded" : "taps"};
  if (count == 0) { y[i] = ${zp}; } else { y[i] = ${zp} + div_round_half_away(acc, count); }`
  }`;
  return {
    dispatches: [{
      code: elementwiseShader(
        cnt,
        [bind(0, "x", "i32", "read"), bind(1, "y", "i32", "read_write")],
        body,
        WGSL_REQUANT,
      ),
      bindings: [{ value: node.inputs[0] }, { value: node.outputs[0] }],
      groups: linearGroups(cnt),
    }],
  };
}

/**
 * Lowers QGlobalAveragePool (one thread per plane).
 *
 * @example
 * ```ts
 * lowerQGlobalAvg(ctx);
 * ```
 */
export function lowerQGlobalAvg(ctx: LowerCtx): Lowered {
  const node = ctx.node, c = { node, opset: ctx.graph.opset };
  const x = ctx.meta(node.inputs[0]);
  const zp = readZp(c, node.attrs, "zero_point", x.dtype as QDType);
  const planes = x.shape[0] * x.shape[1], sp = size(x.shape.slice(2));
  return {
    dispatches: [{
      code: elementwiseShader(
        planes,
        [bind(0, "x", "i32", "read"), bind(1, "y", "i32", "read_write")],
        `var s = 0;
  for (var j = i * ${sp}u; j < (i + 1u) * ${sp}u; j++) { s += x[j] - ${zp}; }
  y[i] = ${zp} + div_round_half_away(s, ${sp});`,
        WGSL_REQUANT,
      ),
      bindings: [{ value: node.inputs[0] }, { value: node.outputs[0] }],
      groups: linearGroups(planes),
    }],
  };
}
