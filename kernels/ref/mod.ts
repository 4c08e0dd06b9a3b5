/**
 * The reference (plain TypeScript) op set: the oracle every other backend is
 * checked against. Ops are looked up by ONNX op type in the default domain.
 */
import type { OpDef } from "./op.ts";
import { NN_OPS } from "./nn.ts";
import { ELEMENTWISE_OPS } from "./elementwise.ts";
import { TENSOR_OPS } from "./tensor_ops.ts";

export type { OpContext, OpDef } from "./op.ts";

/** Every float reference op, by ONNX op type. */
export const REF_OPS: Readonly<Record<string, OpDef>> = {
  ...ELEMENTWISE_OPS,
  ...TENSOR_OPS,
  ...NN_OPS,
};

/** The op types the reference runtime supports, sorted. */
export function supportedOps(): string[] {
  return Object.keys(REF_OPS).sort();
}
