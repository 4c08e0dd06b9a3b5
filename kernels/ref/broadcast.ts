/**
 * numpy-style multidirectional broadcasting, written once: the output shape of a
 * set of shapes, and for one input the map from output flat index to input flat
 * index. Every broadcasting reference op (Add, Where, PRelu, Expand, ...) uses it.
 */
import { fmtShape, size, strides } from "../../runtime/tensor.ts";
import { type OpContext, shapeError } from "./op.ts";

/**
 * The broadcast shape of `shapes` (numpy rules: align right, dims equal or 1).
 *
 * @example
 * ```ts
 * broadcastShapes(ctx, [2, 1, 4], [3, 1]); // [2, 3, 4]
 * ```
 */
export function broadcastShapes(ctx: OpContext, ...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i];
      const o = out[off + i];
      if (d === o || d === 1) continue;
      if (o === 1) out[off + i] = d;
      else {
        shapeError(
          ctx,
          `shapes ${shapes.map(fmtShape).join(", ")} cannot be broadcast (dim ${off + i}: ` +
            `${o} vs ${d})`,
        );
      }
    }
  }
  return out;
}

/**
 * Checks that `from` broadcasts unidirectionally to `to` (PRelu's slope, Expand).
 *
 * @example
 * ```ts
 * checkUnidirectional(ctx, [3, 1, 1], [2, 3, 4, 5], "slope"); // ok
 * ```
 */
export function checkUnidirectional(
  ctx: OpContext,
  from: readonly number[],
  to: readonly number[],
  what: string,
): void {
  const b = broadcastShapes(ctx, to, from);
  if (b.length !== to.length || b.some((d, i) => d !== to[i])) {
    shapeError(ctx, `${what} shape ${fmtShape(from)} does not broadcast to ${fmtShape(to)}`);
  }
}

/**
 * For an input of shape `inShape` broadcast to `outShape`, the input flat index of
 * every output element, or `null` when the shapes are equal (identity map).
 * `outShape` must be a valid broadcast target of `inShape`.
 *
 * @example
 * ```ts
 * broadcastIndex([2, 3], [3]); // Uint32Array [0, 1, 2, 0, 1, 2]
 * ```
 */
export function broadcastIndex(
  outShape: readonly number[],
  inShape: readonly number[],
): Uint32Array | null {
  const rank = outShape.length;
  if (inShape.length === rank && inShape.every((d, i) => d === outShape[i])) return null;
  const n = size(outShape);
  const idx = new Uint32Array(n);
  if (n === 0) return idx;
  const inStr = strides(inShape);
  // stride of each output dim in the input: 0 where the input broadcasts (dim 1 or absent)
  const bs = new Array<number>(rank).fill(0);
  const off = rank - inShape.length;
  for (let i = 0; i < inShape.length; i++) bs[off + i] = inShape[i] === 1 ? 0 : inStr[i];
  const coord = new Array<number>(rank).fill(0);
  let at = 0;
  for (let o = 0; o < n; o++) {
    idx[o] = at;
    for (let d = rank - 1; d >= 0; d--) {
      coord[d]++;
      at += bs[d];
      if (coord[d] < outShape[d]) break;
      at -= bs[d] * coord[d];
      coord[d] = 0;
    }
  }
  return idx;
}
