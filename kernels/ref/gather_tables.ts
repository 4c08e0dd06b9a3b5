/**
 * One copy loop for the data-movement ops (Transpose, Slice, Tile, Pad, Expand,
 * DepthToSpace): every output axis gets a table giving, for each output coordinate
 * along it, that coordinate's contribution to the input flat index, or -1 for "outside
 * the input" (the element takes the fill value). The input index of an output element
 * is the sum of its axes' contributions.
 *
 * Also the accessor type that lets `infer` and `run` share one shape function: `infer`
 * reads data-dependent inputs from the bind-time constants, `run` from the inputs.
 */
import { allocData, size, type Tensor } from "../../runtime/tensor.ts";
import { need, type OpContext } from "./op.ts";
import { needConst, toInt64 } from "./ref_util.ts";

/**
 * Builds the output of shape `outShape` from `x` through per-axis offset tables.
 *
 * @example
 * ```ts
 * // transpose a [2,3] tensor: output axis 0 walks input axis 1 (stride 1), axis 1 walks axis 0
 * gatherTables(x, [3, 2], [Int32Array.of(0, 1, 2), Int32Array.of(0, 3)], 0);
 * ```
 */
export function gatherTables(
  x: Tensor,
  outShape: readonly number[],
  tables: readonly Int32Array[],
  fill: number,
): Tensor {
  const rank = outShape.length;
  const n = size(outShape);
  const out = allocData(x.dtype, n);
  const v = x.dtype === "int64" ? toInt64(fill) : fill;
  const coord = new Array<number>(rank).fill(0);
  for (let o = 0; o < n; o++) {
    let at = 0;
    for (let d = 0; d < rank; d++) {
      const t = tables[d][coord[d]];
      if (t < 0) {
        at = -1;
        break;
      }
      at += t;
    }
    out[o] = at < 0 ? v : x.data[at];
    for (let d = rank - 1; d >= 0; d--) {
      if (++coord[d] < outShape[d]) break;
      coord[d] = 0;
    }
  }
  return { dtype: x.dtype, shape: [...outShape], data: out };
}

/**
 * A table `c -> f(c)` for `c` in `[0, n)`.
 *
 * @example
 * ```ts
 * axisTable(3, (c) => c * 4); // Int32Array [0, 4, 8]
 * ```
 */
export function axisTable(n: number, f: (c: number) => number): Int32Array {
  const t = new Int32Array(n);
  for (let c = 0; c < n; c++) t[c] = f(c);
  return t;
}

/** Reads the data of input `i` (named `what` in messages). */
export type DataOf = (i: number, what: string) => Tensor;

/**
 * The accessor `infer` uses: input data from the bind-time constants, or E_SHAPE
 * "input 'x' must be constant at bind time".
 *
 * @example
 * ```ts
 * const shape = constData(consts, ctx)(1, "shape");
 * ```
 */
export function constData(consts: (Tensor | undefined)[], ctx: OpContext): DataOf {
  return (i, what) => needConst(consts, i, what, ctx);
}

/**
 * The accessor `run` uses: input data from the actual inputs.
 *
 * @example
 * ```ts
 * const shape = runData(ins, ctx)(1, "shape");
 * ```
 */
export function runData(ins: (Tensor | undefined)[], ctx: OpContext): DataOf {
  return (i) => need(ins, i, ctx);
}
