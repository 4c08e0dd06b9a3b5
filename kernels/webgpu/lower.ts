/**
 * Node → dispatches: the one table of what the WebGPU backend runs. Integer ops of the
 * edgeq domain, float islands and layout ops; anything else is `E_UNSUPPORTED_OP`
 * naming the node.
 *
 * @example
 * ```ts
 * const lowered = lowerNode(ctx);
 * ```
 * @module
 */
import { EdgeqError } from "../../runtime/errors.ts";
import type { LowerCtx, Lowered } from "./kernel.ts";
import { lowerQConv, lowerQGemm } from "./qconv.ts";
import { lowerDequantize, lowerQAdd, lowerQRelu, lowerQuantize } from "./qelem.ts";
import { lowerQGlobalAvg, lowerQPool } from "./qpool.ts";
import { lowerQMatMul } from "./qmatmul.ts";
import { lowerFloat } from "./float_ops.ts";
import { lowerLayout } from "./layout_ops.ts";
import { lowerQLut } from "./lut.ts";
import { lowerQLayerNorm, lowerQSoftmax } from "./qnorm.ts";

const EDGEQ: Record<string, (ctx: LowerCtx) => Lowered> = {
  QConv: lowerQConv,
  QGemm: lowerQGemm,
  QMatMul: lowerQMatMul,
  QAdd: lowerQAdd,
  QRelu: lowerQRelu,
  QuantizeLinear8: lowerQuantize,
  DequantizeLinear8: lowerDequantize,
  QMaxPool: (c) => lowerQPool(c, "max"),
  QAveragePool: (c) => lowerQPool(c, "avg"),
  QGlobalAveragePool: lowerQGlobalAvg,
  QLut: lowerQLut,
  QSoftmax: lowerQSoftmax,
  QLayerNorm: lowerQLayerNorm,
};

/**
 * Lowers one node, or throws `E_UNSUPPORTED_OP` naming it.
 *
 * @example
 * ```ts
 * const l = lowerNode(ctx); // { dispatches } or { alias }
 * ```
 */
export function lowerNode(ctx: LowerCtx): Lowered {
  const n = ctx.node;
  if (n.domain === "edgeq") {
    const f = EDGEQ[n.op];
    if (f) return f(ctx);
  } else {
    const l = lowerFloat(ctx) ?? lowerLayout(ctx);
    if (l) return l;
  }
  throw new EdgeqError(
    "E_UNSUPPORTED_OP",
    `op ${n.domain ? n.domain + "." : ""}${n.op} is not supported by the webgpu backend`,
    { node: n.name, op: n.op },
  );
}
