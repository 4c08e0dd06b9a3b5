/**
 * The contract every reference op implements.
 *
 * `infer` gives output dtypes/shapes from input metas (and, for ops whose output shape
 * depends on data such as Reshape's shape input, from the inputs that are constant at
 * bind time). `run` computes. Both throw {@link EdgeqError} on bad input, naming what
 * was expected; `ctx` says which node is being processed.
 */
import type { Attrs, Node } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { EdgeqError } from "../../runtime/errors.ts";

/** What an op knows about where it runs. */
export interface OpContext {
  node: Node;
  opset: number;
}

/** A reference op: shape inference + computation. */
export interface OpDef {
  /** Attribute names this implementation understands; others are rejected at import. */
  attrs: readonly string[];
  /** Output metadata. `consts[i]` is input i's data when it is constant at bind time. */
  infer(
    ins: (TensorMeta | undefined)[],
    attrs: Attrs,
    consts: (Tensor | undefined)[],
    ctx: OpContext,
  ): TensorMeta[];
  /** Computes the outputs. Missing optional inputs are `undefined`. */
  run(ins: (Tensor | undefined)[], attrs: Attrs, ctx: OpContext): Tensor[];
}

/** Throws a shape error naming the node. */
export function shapeError(ctx: OpContext, msg: string): never {
  throw new EdgeqError("E_SHAPE", msg, { node: ctx.node.name, op: ctx.node.op });
}

/** Throws an unsupported-attribute error naming the node. */
export function attrError(ctx: OpContext, msg: string): never {
  throw new EdgeqError("E_UNSUPPORTED_ATTR", msg, {
    node: ctx.node.name,
    op: ctx.node.op,
    opset: ctx.opset,
  });
}

/** Returns input i or throws if a required input is missing. */
export function need<T>(ins: (T | undefined)[], i: number, ctx: OpContext): T {
  const v = ins[i];
  if (v === undefined) shapeError(ctx, `required input ${i} is missing`);
  return v;
}
