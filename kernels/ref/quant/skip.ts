/**
 * What a skipped residual block produces (gating at run time). Skipping a block
 * means its body contributes a real zero at the join:
 *
 * - float `Add`: the output is the shortcut value itself;
 * - `QAdd`: the join runs with the body operand equal to its zero point, i.e.
 *   `Y = quantizedAdd(0, S − s_zp, …)` — the shortcut requantized to the output's
 *   scale and zero point, with the fused clamp (ReLU) applied;
 * - `QConv` with a residual input `R`: the same with the conv's intermediate `C`
 *   at its zero point `c_zp`: `Y = quantizedAdd(0, R − r_zp; c_*, r_*, y_*)`.
 *
 * Every backend must produce these bits for a skipped block.
 * @module
 */
import { EdgeqError } from "../../../runtime/errors.ts";
import type { Attrs, Node, ResidualBlock } from "../../../runtime/graph.ts";
import type { Tensor } from "../../../runtime/tensor.ts";
import type { OpContext } from "../op.ts";
import { QAdd } from "./qadd.ts";
import { newQ } from "./qutil.ts";

/**
 * The value of a skipped block's output, given its join node and the shortcut value.
 *
 * @example
 * ```ts
 * const y = skipJoin(joinNode, block, env.get(block.shortcut)!, { node: joinNode, opset: 17 });
 * ```
 */
export function skipJoin(
  join: Node,
  block: ResidualBlock,
  shortcut: Tensor,
  ctx: OpContext,
): Tensor {
  if (join.domain !== "edgeq" && join.op === "Add") return shortcut;
  let attrs: Attrs;
  let zp: number;
  if (join.op === "QAdd") {
    attrs = join.attrs;
    zp = Number(block.bodyInput === 0 ? attrs.a_zp ?? 0 : attrs.b_zp ?? 0);
  } else if (join.op === "QConv") {
    const a = join.attrs;
    attrs = {
      a_zp: a.c_zp ?? 0,
      a_mult: a.c_mult,
      a_shift: a.c_shift,
      b_zp: a.r_zp ?? 0,
      b_mult: a.r_mult,
      b_shift: a.r_shift,
      y_mult: a.y_mult,
      y_shift: a.y_shift,
      y_zp: a.y_zp ?? 0,
      dtype: a.dtype ?? shortcut.dtype,
      qmin: a.qmin,
      qmax: a.qmax,
    };
    for (const k of Object.keys(attrs)) if (attrs[k] === undefined) delete attrs[k];
    zp = Number(attrs.a_zp);
  } else {
    throw new EdgeqError("E_BAD_MODEL", `${join.op} is not a residual join`, { node: join.name });
  }
  const dt = (join.op === "QConv" ? String(attrs.dtype) : shortcut.dtype) as "int8" | "uint8";
  const zero = newQ(dt === "int8" || dt === "uint8" ? dt : "uint8", shortcut.shape);
  zero.data.fill(zp);
  const body = join.op === "QAdd" && block.bodyInput === 1 ? [shortcut, zero] : [zero, shortcut];
  return QAdd.run(body, attrs, ctx)[0];
}
