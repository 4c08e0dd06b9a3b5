/**
 * The integer transformer ops on WebGPU, bit-identical to kernels/ref/quant (contract in
 * kernels/ref/quant/README.md): QSoftmax and QLayerNorm, one workgroup of 64 threads per
 * row with a workgroup tree reduction (max / Σ for the softmax, Σq / Σq² for the norm).
 * Only u32/i32 arithmetic; the one f32 step (a first guess of the integer square root) is
 * corrected exactly with integer loops.
 *
 * @example
 * ```ts
 * const lowered = lowerQSoftmax(ctx);
 * ```
 * @module
 */
import { size } from "../../runtime/tensor.ts";
import { readSoftmaxAttrs } from "../ref/quant/qsoftmax.ts";
import { layerNormShift, readLayerNorm } from "../ref/quant/qlayernorm.ts";
import { bind, linearGroups, type LowerCtx, type Lowered } from "./kernel.ts";
import { WGSL_REQUANT } from "./wgsl_int.ts";

/** Threads per row. */
const WG = 64;

function oc(ctx: LowerCtx) {
  return { node: ctx.node, opset: ctx.graph.opset };
}

/** Rows of the last axis and the WGSL preamble that finds this workgroup's row. */
function rows(total: number, n: number) {
  const count = n > 0 ? total / n : 0;
  const groups = linearGroups(count, 1);
  return {
    count,
    groups,
    head: `let row = wid.x + wid.y * ${groups[0]}u;
  if (row >= ${count}u) { return; }
  let base = row * ${n}u;
  let t = lid.x;`,
  };
}

/** A workgroup tree reduction of `red` with `op` (every thread calls it). */
function reduce(op: string): string {
  return `workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s = s >> 1u) {
    if (t < s) { red[t] = ${op}(red[t], red[t + s]); }
    workgroupBarrier();
  }`;
}

/**
 * Lowers QSoftmax (last axis).
 *
 * @example
 * ```ts
 * lowerQSoftmax(ctx); // one workgroup per row: max, Σ exp_table[max − q], integer division
 * ```
 */
export function lowerQSoftmax(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const { table, r } = readSoftmaxAttrs(oc(ctx), n.attrs);
  const nn = x.shape[x.shape.length - 1];
  const rw = rows(size(x.shape), nn);
  const code = `${bind(0, "x", "i32", "read")}
${bind(1, "e", "u32", "read")}
${bind(2, "y", "i32", "read_write")}
var<workgroup> red: array<i32, ${WG}>;
var<workgroup> reds: array<u32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${rw.head}
  var m = -1000;
  for (var j = t; j < ${nn}u; j = j + ${WG}u) { m = max(m, x[base + j]); }
  red[t] = m;
  ${reduce("max")}
  m = red[0];
  var s = 0u;
  for (var j = t; j < ${nn}u; j = j + ${WG}u) { s = s + e[u32(m - x[base + j])]; }
  reds[t] = s;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h = h >> 1u) {
    if (t < h) { reds[t] = reds[t] + reds[t + h]; }
    workgroupBarrier();
  }
  let total = reds[0];
  let half = total >> 1u;
  for (var j = t; j < ${nn}u; j = j + ${WG}u) {
    let a = e[u32(m - x[base + j])] * ${r}u + half; // < 2^32
    y[base + j] = i32(min(a / total, 255u));
  }
}
`;
  return {
    dispatches: rw.count === 0 ? [] : [{
      code,
      bindings: [
        { value: n.inputs[0] },
        { data: Uint32Array.from(table), label: `${n.name}:exp_table` },
        { value: n.outputs[0] },
      ],
      groups: rw.groups,
    }],
  };
}

/**
 * Lowers QLayerNorm (last axis, N ≤ 512).
 *
 * @example
 * ```ts
 * lowerQLayerNorm(ctx); // one workgroup per row: Σq, Σq², isqrt, per-channel requantize
 * ```
 */
export function lowerQLayerNorm(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const p = readLayerNorm(oc(ctx), x, n.attrs);
  const nn = p.n, k = layerNormShift(nn);
  const lo = x.dtype === "int8" ? -128 : 0;
  const rw = rows(size(x.shape), nn);
  // Per channel: mult, shift, sign, bias + 8 (|bias| ≤ 2^30: no wrap).
  const params = new Int32Array(4 * nn);
  for (let i = 0; i < nn; i++) {
    params.set([p.mult[i], p.shift[i], p.sign[i], p.bias[i] + 8], 4 * i);
  }
  const code = `${bind(0, "x", "i32", "read")}
${bind(1, "pc", "i32", "read")}
${bind(2, "y", "i32", "read_write")}
${WGSL_REQUANT}
var<workgroup> red: array<vec2<u32>, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${rw.head}
  var acc = vec2<u32>(0u, 0u);
  for (var j = t; j < ${nn}u; j = j + ${WG}u) {
    let q = u32(x[base + j] - (${lo}));
    acc = acc + vec2<u32>(q, q * q);
  }
  red[t] = acc;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h = h >> 1u) {
    if (t < h) { red[t] = red[t] + red[t + h]; }
    workgroupBarrier();
  }
  let sum = red[0].x;
  // N·sq − sum² wraps modulo 2^32 but the true value is below 2^32: exact.
  let v = ${nn}u * red[0].y - sum * sum + ${p.eps}u;
  var s = min(u32(sqrt(f32(v))), 65535u);
  loop { if (s * s <= v) { break; } s = s - 1u; }
  loop { if (s >= 65535u || (s + 1u) * (s + 1u) > v) { break; } s = s + 1u; }
  if (v - s * s > s) { s = s + 1u; }
  let sigma = i32(s);
  for (var j = t; j < ${nn}u; j = j + ${WG}u) {
    let d = ${nn} * (x[base + j] - (${lo})) - i32(sum);
    let tq = div_round_half_away(d << ${k}u, sigma);
    let c = 4u * j;
    let u = mbqm(pc[c + 2u] * tq, pc[c], pc[c + 1u]);
    let w = sat_add(u, pc[c + 3u]);
    y[base + j] = clamp(${p.yZp} + (w >> 4u), ${p.qmin}, ${p.qmax});
  }
}
`;
  return {
    dispatches: rw.count === 0 ? [] : [{
      code,
      bindings: [
        { value: n.inputs[0] },
        { data: params, label: `${n.name}:params` },
        { value: n.outputs[0] },
      ],
      groups: rw.groups,
    }],
  };
}
