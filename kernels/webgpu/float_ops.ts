/**
 * Float islands on WebGPU (f32): elementwise unary/binary ops with numpy broadcasting,
 * Softmax (any axis) and LayerNormalization (output 0). The reference computes these in
 * float64 and rounds to float32; here everything is f32, so results agree within a
 * tolerance, not bit for bit: single correctly rounded ops (Add, Sub, Mul, Neg, Relu,
 * Max, Min) match exactly, Div matches where the adapter's division is IEEE (llvmpipe),
 * and Erf / Exp / Softmax / LayerNormalization / Sqrt agree within 1e-5 absolute + 1e-5
 * relative (tests/webgpu_ops_test.ts states and checks it).
 *
 * @example
 * ```ts
 * const lowered = lowerFloat(ctx); // undefined when the op is not a float island op
 * ```
 * @module
 */
import { attrFloat, attrInt } from "../../runtime/graph.ts";
import { size } from "../../runtime/tensor.ts";
import {
  bind,
  broadcastOffset,
  elementwiseShader,
  linearGroups,
  type LowerCtx,
  type Lowered,
  unsupported,
} from "./kernel.ts";

/** erf in f32: Taylor series below 2, erfc continued fraction above (abs. error < 1e-6). */
const WGSL_ERF = /* wgsl */ `
fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  if (a < 2.0) {
    // Taylor series (|x| < 2: 32 terms reach f32 rounding)
    let x2 = x * x;
    var term = x;
    var sum = x;
    for (var n = 1; n < 32; n++) {
      term = -term * x2 / f32(n);
      sum += term / f32(2 * n + 1);
    }
    return 1.1283791670955126 * sum;
  }
  if (a >= 6.0) { return sign(x); }
  // erfc via its continued fraction (modified Lentz), |x| >= 2
  let z = a;
  var f = z; var c = z; var d = 0.0;
  let tiny = 1e-30;
  for (var n = 1; n < 60; n++) {
    let an = f32(n) * 0.5;
    d = z + an * d; if (abs(d) < tiny) { d = tiny; } d = 1.0 / d;
    c = z + an / c; if (abs(c) < tiny) { c = tiny; }
    let delta = c * d;
    f = f * delta;
    if (abs(delta - 1.0) < 1e-7) { break; }
  }
  let erfc = exp(-z * z) / f / 1.7724538509055159;
  return sign(x) * (1.0 - erfc);
}
`;

const UNARY: Record<string, string> = {
  Relu: "max(v, 0.0)",
  Neg: "-v",
  Abs: "abs(v)",
  Exp: "exp(v)",
  Log: "log(v)",
  Sqrt: "sqrt(v)",
  Tanh: "tanh(v)",
  Sigmoid: "1.0 / (1.0 + exp(-v))",
  Erf: "erf_f32(v)",
  Reciprocal: "1.0 / v",
  Identity: "v",
};

const BINARY: Record<string, string> = {
  Add: "u + v",
  Sub: "u - v",
  Mul: "u * v",
  Div: "u / v",
  Max: "max(u, v)",
  Min: "min(u, v)",
  Pow: "pow(u, v)",
};

/** The float ops this module lowers. */
export const FLOAT_OPS: readonly string[] = [
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  "Softmax",
  "LayerNormalization",
];

function elementwise(ctx: LowerCtx): Lowered {
  const node = ctx.node, y = ctx.meta(node.outputs[0]);
  const cnt = size(y.shape);
  const ins = node.inputs.filter((x) => x);
  for (const x of ins) {
    if (ctx.meta(x).dtype !== "float32") {
      unsupported(ctx, `${node.op} on ${ctx.meta(x).dtype} is not supported on webgpu`);
    }
  }
  const expr = UNARY[node.op];
  if (expr) {
    return {
      dispatches: [{
        code: elementwiseShader(
          cnt,
          [bind(0, "x", "f32", "read"), bind(1, "y", "f32", "read_write")],
          `let v = x[i]; y[i] = ${expr};`,
          node.op === "Erf" ? WGSL_ERF : "",
        ),
        bindings: [{ value: ins[0] }, { value: node.outputs[0] }],
        groups: linearGroups(cnt),
      }],
    };
  }
  if ((node.op === "Max" || node.op === "Min") && ins.length !== 2) {
    unsupported(ctx, `${node.op} with ${ins.length} inputs is not supported on webgpu`);
  }
  const a = ctx.meta(ins[0]), b = ctx.meta(ins[1]);
  return {
    dispatches: [{
      code: elementwiseShader(
        cnt,
        [
          bind(0, "a", "f32", "read"),
          bind(1, "b", "f32", "read"),
          bind(2, "y", "f32", "read_write"),
        ],
        `let u = a[${broadcastOffset(y.shape, a.shape, "i")}];
  let v = b[${broadcastOffset(y.shape, b.shape, "i")}];
  y[i] = ${BINARY[node.op]};`,
      ),
      bindings: [{ value: ins[0] }, { value: ins[1] }, { value: node.outputs[0] }],
      groups: linearGroups(cnt),
    }],
  };
}

function softmax(ctx: LowerCtx): Lowered {
  const node = ctx.node, x = ctx.meta(node.inputs[0]);
  const r = x.shape.length;
  const old = ctx.graph.opset < 13;
  let axis = attrInt(node.attrs, "axis", old ? 1 : -1);
  if (axis < 0) axis += r;
  const outer = size(x.shape.slice(0, axis));
  const n = old ? size(x.shape.slice(axis)) : x.shape[axis];
  const inner = old ? 1 : size(x.shape.slice(axis + 1));
  const rows = outer * inner;
  return {
    dispatches: [{
      code: elementwiseShader(
        rows,
        [bind(0, "x", "f32", "read"), bind(1, "y", "f32", "read_write")],
        `let base = (i / ${inner}u) * ${n * inner}u + i % ${inner}u;
  var mx = x[base];
  for (var k = 1u; k < ${n}u; k++) { mx = max(mx, x[base + k * ${inner}u]); }
  var s = 0.0;
  for (var k = 0u; k < ${n}u; k++) { s += exp(x[base + k * ${inner}u] - mx); }
  for (var k = 0u; k < ${n}u; k++) { y[base + k * ${inner}u] = exp(x[base + k * ${inner}u] - mx) / s; }`,
      ),
      bindings: [{ value: node.inputs[0] }, { value: node.outputs[0] }],
      groups: linearGroups(rows),
    }],
  };
}

function layerNorm(ctx: LowerCtx): Lowered {
  const node = ctx.node, x = ctx.meta(node.inputs[0]);
  if (node.outputs.slice(1).some((o) => o)) {
    unsupported(ctx, "LayerNormalization's Mean/InvStdDev outputs are not supported on webgpu");
  }
  let axis = attrInt(node.attrs, "axis", -1);
  if (axis < 0) axis += x.shape.length;
  const inner = size(x.shape.slice(axis)), outer = size(x.shape.slice(0, axis));
  const eps = attrFloat(node.attrs, "epsilon", 1e-5);
  const param = (i: number, nm: string) => {
    const p = node.inputs[i];
    if (!p) return undefined;
    const s = ctx.meta(p).shape;
    if (size(s) !== inner) unsupported(ctx, `LayerNormalization ${nm} must have ${inner} values`);
    return p;
  };
  const sc = param(1, "Scale")!, bias = param(2, "B");
  const decls = [bind(0, "x", "f32", "read"), bind(1, "sc", "f32", "read")];
  if (bias) decls.push(bind(3, "bi", "f32", "read"));
  decls.push(bind(2, "y", "f32", "read_write"));
  return {
    dispatches: [{
      code: elementwiseShader(
        outer,
        decls,
        `let base = i * ${inner}u;
  var s = 0.0;
  for (var j = 0u; j < ${inner}u; j++) { s += x[base + j]; }
  let mu = s / ${inner}.0;
  var q = 0.0;
  for (var j = 0u; j < ${inner}u; j++) { let d = x[base + j] - mu; q += d * d; }
  let inv = 1.0 / sqrt(q / ${inner}.0 + ${eps});
  for (var j = 0u; j < ${inner}u; j++) {
    y[base + j] = (x[base + j] - mu) * inv * sc[j]${bias ? " + bi[j]" : ""};
  }`,
      ),
      bindings: [
        { value: node.inputs[0] },
        { value: sc },
        { value: node.outputs[0] },
        ...(bias ? [{ value: bias }] : []),
      ],
      groups: linearGroups(outer),
    }],
  };
}

/**
 * Lowers a float island op, or returns undefined when `ctx.node.op` is not one.
 *
 * @example
 * ```ts
 * const l = lowerFloat(ctx) ?? lowerLayout(ctx);
 * ```
 */
export function lowerFloat(ctx: LowerCtx): Lowered | undefined {
  const op = ctx.node.op;
  if (ctx.node.domain !== "" && ctx.node.domain !== "ai.onnx") return undefined;
  if (op === "Softmax") return softmax(ctx);
  if (op === "LayerNormalization") return layerNorm(ctx);
  if (UNARY[op] || BINARY[op]) return elementwise(ctx);
  return undefined;
}
