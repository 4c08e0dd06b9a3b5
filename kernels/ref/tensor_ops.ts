/**
 * The tensor/shape reference op set: reductions and ArgMax/ArgMin, shape ops,
 * constants, Slice/Pad/Tile, layout ops and index ops (incl. GatherND, Scatter, TopK).
 *
 * @example
 * ```ts
 * import { TENSOR_OPS } from "./tensor_ops.ts";
 * const [y] = TENSOR_OPS.Transpose.run([x], { perm: [1, 0] }, ctx);
 * ```
 */
import type { OpDef } from "./op.ts";
import { REDUCE_OPS } from "./reduce.ts";
import { SHAPE_OPS } from "./shape_ops.ts";
import { CONST_OPS } from "./const_ops.ts";
import { SLICE_PAD_OPS } from "./slice_pad.ts";
import { LAYOUT_OPS } from "./layout.ts";
import { INDEX_OPS } from "./index_ops.ts";
import { SCATTER_OPS } from "./scatter_ops.ts";

/** Every tensor/shape/reduction reference op, by ONNX op type (default domain). */
export const TENSOR_OPS: Record<string, OpDef> = {
  ...REDUCE_OPS,
  ...SHAPE_OPS,
  ...CONST_OPS,
  ...SLICE_PAD_OPS,
  ...LAYOUT_OPS,
  ...INDEX_OPS,
  ...SCATTER_OPS,
};
