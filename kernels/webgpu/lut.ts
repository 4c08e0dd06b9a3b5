/**
 * Table lookups: a `QLut` node (domain edgeq) is one elementwise dispatch,
 * `y[i] = table[x[i] − dtypeMin(x)]`. Older files whose 8-bit elementwise float chains
 * were not turned into QLut by the quantizer get them at compile, by the same pass
 * (quantizer/table_chains.ts, see kernels/webgpu/backend.ts), so they are exact too.
 *
 * @example
 * ```ts
 * lowerQLut(ctx); // { dispatches: [one elementwise shader] }
 * ```
 * @module
 */
import { size } from "../../runtime/tensor.ts";
import { readTable } from "../ref/quant/qlut.ts";
import { qDType, readQDType } from "../ref/quant/qutil.ts";
import { bind, elementwiseShader, linearGroups, type LowerCtx, type Lowered } from "./kernel.ts";

/**
 * Lowers a `QLut` node (domain edgeq): `y[i] = table[x[i] − dtypeMin(x)]`, the table
 * checked as the reference op checks it.
 *
 * @example
 * ```ts
 * lowerQLut(ctx);
 * ```
 */
export function lowerQLut(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const oc = { node: n, opset: ctx.graph.opset };
  qDType(oc, x, "X");
  const table = readTable(oc, n.attrs, readQDType(oc, n.attrs, "uint8"));
  return lutDispatch(ctx, table, x.dtype === "int8" ? -128 : 0);
}

function lutDispatch(ctx: LowerCtx, table: Int32Array, lo: number): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const cnt = size(x.shape);
  return {
    dispatches: [{
      code: elementwiseShader(
        cnt,
        [
          bind(0, "x", "i32", "read"),
          bind(1, "t", "i32", "read"),
          bind(2, "y", "i32", "read_write"),
        ],
        `y[i] = t[u32(x[i] - ${lo})];`,
      ),
      bindings: [
        { value: n.inputs[0] },
        { data: table, label: `${n.name}:table` },
        { value: n.outputs[0] },
      ],
      groups: linearGroups(cnt),
    }],
  };
}
