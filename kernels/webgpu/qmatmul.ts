/**
 * QMatMul on WebGPU (kernel `qmatmul_s32_tiled`): batched `A[..., M, K] × B[..., K, N]`
 * of two quantized activations, per-tensor requantization, batch dims broadcast. Both
 * operands go through workgroup-memory tiles with their zero points removed; the
 * products `(a − a_zp)(b − b_zp)` (|·| ≤ 255²) accumulate exactly in int32 because the
 * reference bounds K by 33025.
 *
 * @example
 * ```ts
 * const lowered = lowerQMatMul(ctx);
 * ```
 * @module
 */
import { size } from "../../runtime/tensor.ts";
import { broadcastIndex } from "../ref/broadcast.ts";
import { type QDType, readClamp, readMultipliers, readQDType, readZp } from "../ref/quant/qutil.ts";
import { bind, type LowerCtx, type Lowered, unsupported } from "./kernel.ts";
import { WGSL_REQUANT } from "./wgsl_int.ts";

/** Side of the square output tile and the K step. */
const T = 16;

/**
 * Lowers QMatMul.
 *
 * @example
 * ```ts
 * lowerQMatMul(ctx); // one dispatch, workgroups [ceil(N/16), ceil(M/16), batch]
 * ```
 */
export function lowerQMatMul(ctx: LowerCtx): Lowered {
  const node = ctx.node, c = { node, opset: ctx.graph.opset }, at = node.attrs;
  const a = ctx.meta(node.inputs[0]), b = ctx.meta(node.inputs[1]);
  const y = ctx.meta(node.outputs[0]);
  const adt = a.dtype as QDType, bdt = b.dtype as QDType;
  const ydt = readQDType(c, at, adt);
  const { mult, shift } = readMultipliers(c, at, "mult", "shift", 1);
  const aZp = readZp(c, at, "a_zp", adt), bZp = readZp(c, at, "b_zp", bdt);
  const yZp = readZp(c, at, "y_zp", ydt);
  const [qmin, qmax] = readClamp(c, at, ydt);
  const [m, k] = a.shape.slice(-2), n = b.shape[b.shape.length - 1];
  const batch = y.shape.slice(0, -2);
  const nb = size(batch);
  if (nb > 65535) unsupported(ctx, `batch ${nb} is too large for one dispatch`);
  const ai = broadcastIndex(batch, a.shape.slice(0, -2));
  const bi = broadcastIndex(batch, b.shape.slice(0, -2));
  const offs = new Int32Array(nb * 2);
  for (let t = 0; t < nb; t++) {
    offs[2 * t] = (ai ? ai[t] : t) * m * k;
    offs[2 * t + 1] = (bi ? bi[t] : t) * k * n;
  }
  const code = `${bind(0, "a", "i32", "read")}
${bind(1, "b", "i32", "read")}
${bind(2, "offs", "i32", "read")}
${bind(3, "y", "i32", "read_write")}
${WGSL_REQUANT}
var<workgroup> ta: array<i32, ${T * T}>;
var<workgroup> tb: array<i32, ${T * T}>;
@compute @workgroup_size(${T}, ${T})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let t = wid.z;
  let ao = u32(offs[2u * t]); let bo = u32(offs[2u * t + 1u]);
  let row = wid.y * ${T}u + lid.y;
  let col = wid.x * ${T}u + lid.x;
  var acc = 0;
  for (var k0 = 0u; k0 < ${k}u; k0 += ${T}u) {
    let ka = k0 + lid.x;
    var av = 0;
    if (row < ${m}u && ka < ${k}u) { av = a[ao + row * ${k}u + ka] - ${aZp}; }
    ta[lid.y * ${T}u + lid.x] = av;
    let kb = k0 + lid.y;
    var bv = 0;
    if (col < ${n}u && kb < ${k}u) { bv = b[bo + kb * ${n}u + col] - ${bZp}; }
    tb[lid.y * ${T}u + lid.x] = bv;
    workgroupBarrier();
    for (var kk = 0u; kk < ${T}u; kk++) { acc += ta[lid.y * ${T}u + kk] * tb[kk * ${T}u + lid.x]; }
    workgroupBarrier();
  }
  if (row < ${m}u && col < ${n}u) {
    y[(t * ${m}u + row) * ${n}u + col] =
      requantize(acc, ${mult[0]}, ${shift[0]}, ${yZp}, ${qmin}, ${qmax});
  }
}
`;
  return {
    dispatches: [{
      code,
      bindings: [
        { value: node.inputs[0] },
        { value: node.inputs[1] },
        { data: offs, label: `${node.name}:offsets` },
        { value: node.outputs[0] },
      ],
      groups: [Math.ceil(n / T), Math.ceil(m / T), nb],
    }],
  };
}
