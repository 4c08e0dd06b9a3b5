/**
 * The elementwise reference op set: broadcasting binary/variadic ops, unary
 * activations and math, Clip/Identity/Dropout, and Cast/CastLike.
 *
 * @example
 * ```ts
 * import { ELEMENTWISE_OPS } from "./elementwise.ts";
 * const [y] = ELEMENTWISE_OPS.Add.run([a, b], {}, ctx);
 * ```
 */
import type { OpDef } from "./op.ts";
import { BINARY_OPS } from "./binary.ts";
import { UNARY_OPS } from "./unary.ts";
import { CLIP_IDENTITY_OPS } from "./clip.ts";
import { CAST_OPS } from "./cast.ts";

/** Every elementwise reference op, by ONNX op type (default domain). */
export const ELEMENTWISE_OPS: Record<string, OpDef> = {
  ...BINARY_OPS,
  ...UNARY_OPS,
  ...CLIP_IDENTITY_OPS,
  ...CAST_OPS,
};
