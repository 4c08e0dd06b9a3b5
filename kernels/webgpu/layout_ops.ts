/**
 * Layout ops on WebGPU. Values are one 32-bit word per element whatever their dtype, so
 * Reshape, Flatten, Squeeze, Unsqueeze and Identity are aliases (no dispatch), and
 * Transpose, Gather, Concat, Slice and constant Pad are index maps — exact for every
 * dtype.
 *
 * @example
 * ```ts
 * const lowered = lowerLayout(ctx); // undefined when the op is not a layout op
 * ```
 * @module
 */
import { attrFloat, attrInt, attrInts, attrString } from "../../runtime/graph.ts";
import { size, strides } from "../../runtime/tensor.ts";
import {
  bind,
  elementwiseShader,
  linearGroups,
  type LowerCtx,
  type Lowered,
  unsupported,
  wgslType,
} from "./kernel.ts";
import { f32Lit } from "./qelem.ts";
import { ALIAS_OPS } from "../ref/shape_ops.ts";

/** WGSL statements that split flat index `idx` of `shape` into `c0..c{r-1}`. */
function coords(shape: number[], idx: string): string {
  const st = strides(shape);
  return shape.map((d, k) => `let c${k} = (${idx} / ${st[k]}u) % ${d}u;`).join(" ");
}

function one(ctx: LowerCtx, body: string, extra: { value: string }[] = []): Lowered {
  const node = ctx.node, y = ctx.meta(node.outputs[0]), t = wgslType(y.dtype);
  const cnt = size(y.shape);
  const decls = [bind(0, "x", t, "read"), bind(1, "y", t, "read_write")];
  extra.forEach((_, k) => decls.push(bind(2 + k, `e${k}`, "i32", "read")));
  return {
    dispatches: [{
      code: elementwiseShader(cnt, decls, body),
      bindings: [{ value: node.inputs[0] }, { value: node.outputs[0] }, ...extra],
      groups: linearGroups(cnt),
    }],
  };
}

function transpose(ctx: LowerCtx): Lowered {
  const node = ctx.node, x = ctx.meta(node.inputs[0]), y = ctx.meta(node.outputs[0]);
  const r = x.shape.length;
  const perm = attrInts(node.attrs, "perm") ?? [...Array(r).keys()].reverse();
  const xs = strides(x.shape);
  const off = perm.map((p, k) => `c${k} * ${xs[p]}u`).join(" + ") || "0u";
  return one(ctx, `${coords(y.shape, "i")} y[i] = x[${off}];`);
}

function constInts(ctx: LowerCtx, name: string | undefined): number[] | undefined {
  if (!name) return undefined;
  const t = ctx.constant(name);
  if (!t) unsupported(ctx, `input '${name}' must be a constant on webgpu`);
  return Array.from(t.data as ArrayLike<number>);
}

function gather(ctx: LowerCtx): Lowered {
  const node = ctx.node, x = ctx.meta(node.inputs[0]), y = ctx.meta(node.outputs[0]);
  const ind = ctx.meta(node.inputs[1]);
  let axis = attrInt(node.attrs, "axis", 0);
  if (axis < 0) axis += x.shape.length;
  const dim = x.shape[axis];
  const inner = size(x.shape.slice(axis + 1)), ni = size(ind.shape);
  // y[o, j, in] = x[o, idx[j] (negative wraps), in]
  const body = `let o = i / ${ni * inner}u; let j = (i / ${inner}u) % ${ni}u; let q = i % ${inner}u;
  var k = e0[j]; if (k < 0) { k += ${dim}; }
  if (k < 0 || k >= ${dim}) { y[i] = ${wgslType(y.dtype) === "f32" ? "0.0" : "0"}; return; }
  y[i] = x[(o * ${dim}u + u32(k)) * ${inner}u + q];`;
  return one(ctx, body, [{ value: node.inputs[1] }]);
}

function concat(ctx: LowerCtx): Lowered {
  const node = ctx.node, y = ctx.meta(node.outputs[0]), t = wgslType(y.dtype);
  let axis = attrInt(node.attrs, "axis", 0);
  if (axis < 0) axis += y.shape.length;
  const outer = size(y.shape.slice(0, axis)), inner = size(y.shape.slice(axis + 1));
  const dims = y.shape[axis];
  let start = 0;
  const dispatches = node.inputs.filter((x) => x).map((name) => {
    const d = ctx.meta(name).shape[axis], cnt = outer * d * inner;
    const code = elementwiseShader(
      cnt,
      [bind(0, "x", t, "read"), bind(1, "y", t, "read_write")],
      `let o = i / ${d * inner}u; let r = i % ${d * inner}u;
  y[o * ${dims * inner}u + ${start * inner}u + r] = x[i];`,
    );
    start += d;
    return {
      code,
      bindings: [{ value: name }, { value: node.outputs[0] }],
      groups: linearGroups(cnt),
    };
  });
  return { dispatches };
}

function pad(ctx: LowerCtx): Lowered {
  const node = ctx.node, x = ctx.meta(node.inputs[0]), y = ctx.meta(node.outputs[0]);
  if (attrString(node.attrs, "mode", "constant") !== "constant") {
    unsupported(ctx, "only constant Pad is supported on webgpu", true);
  }
  const r = x.shape.length;
  const pads = constInts(ctx, node.inputs[1]) ?? attrInts(node.attrs, "pads")!;
  let axes = [...Array(r).keys()];
  if (node.inputs[3]) axes = constInts(ctx, node.inputs[3])!.map((a) => (a < 0 ? a + r : a));
  const begin = new Array(r).fill(0);
  axes.forEach((a, k) => begin[a] = pads[k]);
  const cv = node.inputs[2]
    ? constInts(ctx, node.inputs[2])![0]
    : attrFloat(node.attrs, "value", 0);
  const isF = wgslType(y.dtype) === "f32";
  const lit = isF ? f32Lit(cv) : `${Math.trunc(cv)}`;
  const xs = strides(x.shape);
  const checks = x.shape.map((d, k) =>
    `let s${k} = i32(c${k}) - ${
      begin[k]
    }; if (s${k} < 0 || s${k} >= ${d}) { y[i] = ${lit}; return; }`
  ).join("\n  ");
  const off = x.shape.map((_, k) => `u32(s${k}) * ${xs[k]}u`).join(" + ") || "0u";
  return one(ctx, `${coords(y.shape, "i")}\n  ${checks}\n  y[i] = x[${off}];`);
}

function slice(ctx: LowerCtx): Lowered {
  const node = ctx.node, x = ctx.meta(node.inputs[0]), y = ctx.meta(node.outputs[0]);
  const r = x.shape.length;
  const starts = constInts(ctx, node.inputs[1]) ?? attrInts(node.attrs, "starts")!;
  const axesIn = constInts(ctx, node.inputs[3]) ?? attrInts(node.attrs, "axes") ??
    starts.map((_, k) => k);
  const steps = constInts(ctx, node.inputs[4]) ?? starts.map(() => 1);
  // The output shape (bound) fixes the extent; only the start and step matter here.
  const st = new Array(r).fill(0), sp = new Array(r).fill(1);
  axesIn.forEach((a0, k) => {
    const a = a0 < 0 ? a0 + r : a0, d = x.shape[a], step = steps[k];
    let s = starts[k];
    if (s < 0) s += d;
    s = step > 0 ? Math.min(Math.max(s, 0), d) : Math.min(Math.max(s, -1), d - 1);
    st[a] = s;
    sp[a] = step;
  });
  const xs = strides(x.shape);
  const off = x.shape.map((_, k) => `u32(${st[k]} + i32(c${k}) * ${sp[k]}) * ${xs[k]}u`).join(
    " + ",
  ) || "0u";
  return one(ctx, `${coords(y.shape, "i")} y[i] = x[${off}];`);
}

/**
 * Lowers a layout op, or returns undefined when `ctx.node.op` is not one.
 *
 * @example
 * ```ts
 * lowerLayout(ctx); // { alias: "x" } for a Reshape
 * ```
 */
export function lowerLayout(ctx: LowerCtx): Lowered | undefined {
  const op = ctx.node.op;
  if (ctx.node.domain !== "" && ctx.node.domain !== "ai.onnx") return undefined;
  if (ALIAS_OPS.includes(op)) return { alias: ctx.node.inputs[0] };
  switch (op) {
    case "Transpose":
      return transpose(ctx);
    case "Gather":
      return gather(ctx);
    case "Concat":
      return concat(ctx);
    case "Pad":
      return pad(ctx);
    case "Slice":
      return slice(ctx);
  }
  return undefined;
}
