/**
 * The reference (plain TypeScript) op set: the oracle every other backend is
 * checked against. Ops are looked up by ONNX op type in the default domain.
 */
import type { OpDef } from "./op.ts";
import { NN_OPS } from "./nn.ts";
import { ELEMENTWISE_OPS } from "./elementwise.ts";
import { TENSOR_OPS } from "./tensor_ops.ts";
import { ONNX_QOPS } from "./onnx_qops.ts";
import { QUANT_DOMAIN, QUANT_OPS } from "./quant/mod.ts";
import type { Node } from "../../runtime/graph.ts";

export type { OpContext, OpDef } from "./op.ts";
export { QUANT_DOMAIN, QUANT_OPS } from "./quant/mod.ts";

/** Every float reference op, by ONNX op type. */
export const REF_OPS: Readonly<Record<string, OpDef>> = {
  ...ELEMENTWISE_OPS,
  ...TENSOR_OPS,
  ...NN_OPS,
  ...ONNX_QOPS,
};

/** The op types the reference runtime supports, sorted. */
export function supportedOps(): string[] {
  return Object.keys(REF_OPS).sort();
}

/**
 * The reference op for a node: default-domain ops from {@link REF_OPS}, the
 * integer ops of the "edgeq" domain from {@link QUANT_OPS}; undefined otherwise.
 */
export function refOpFor(node: Pick<Node, "op" | "domain">): OpDef | undefined {
  if (node.domain === "" || node.domain === "ai.onnx") return REF_OPS[node.op];
  if (node.domain === QUANT_DOMAIN) return QUANT_OPS[node.op];
  return undefined;
}
