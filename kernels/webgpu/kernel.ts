/**
 * The lowering IR of the WebGPU backend: a node becomes a list of {@link Dispatch}es
 * (WGSL source with the layer's geometry baked in as constants, the buffers it binds,
 * and the workgroup counts), or an alias of one of its inputs (Reshape and friends:
 * every value lives in a buffer of 32-bit words, one per element, so a reshape moves
 * nothing).
 *
 * Buffer convention: every value is `array<i32>` (int8, uint8, int32, bool, int64
 * narrowed) or `array<f32>` (float32), one word per element. Constant buffers (weights,
 * per-channel parameters, tables) are whatever the kernel declares.
 *
 * @example
 * ```ts
 * const d: Dispatch = {
 *   code: elementwiseShader(10, [bind(0, "x", "f32", "read"), bind(1, "y", "f32", "read_write")],
 *     "y[i] = x[i] * 2.0;"),
 *   bindings: [{ value: "x" }, { value: "y" }],
 *   groups: linearGroups(10),
 * };
 * ```
 * @module
 */
import type { Graph, Node } from "../../runtime/graph.ts";
import type { DType, Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { EdgeqError } from "../../runtime/errors.ts";

/** A buffer a dispatch binds: a graph value, or constant data uploaded at compile. */
export type BindingRef =
  | { value: string }
  | { data: Int32Array | Uint32Array | Float32Array; label: string };

/** One compute dispatch. Binding i of group 0 is `bindings[i]`. */
export interface Dispatch {
  code: string;
  bindings: BindingRef[];
  groups: [number, number, number];
}

/** What a node lowers to. */
export type Lowered = { dispatches: Dispatch[] } | { alias: string };

/** What lowering a node may ask about. */
export interface LowerCtx {
  node: Node;
  graph: Graph;
  /** Static shape/dtype of a value (throws E_BAD_MODEL when unknown). */
  meta(name: string): TensorMeta;
  /** The constant tensor of an initializer, or undefined for a computed value. */
  constant(name: string): Tensor | undefined;
  /** True to use `dot4I8Packed` (adapter has it and the fallback is not forced). */
  dot4: boolean;
  /** Device limits (tile sizes are chosen from them). */
  limits: GPUSupportedLimits;
}

/** Threads per workgroup of the one-thread-per-element kernels. */
export const LINEAR_WG = 64;

/**
 * Workgroup counts for `n` threads of {@link LINEAR_WG}, spread over x and y so that no
 * dimension exceeds 65535. Pair with {@link linearIndex}.
 *
 * @example
 * ```ts
 * linearGroups(1000); // [16, 1, 1]
 * ```
 */
export function linearGroups(n: number, wg = LINEAR_WG): [number, number, number] {
  const g = Math.max(1, Math.ceil(n / wg));
  if (g <= 65535) return [g, 1, 1];
  const y = Math.ceil(g / 65535);
  return [Math.ceil(g / y), y, 1];
}

/**
 * WGSL statement defining `i`, the flat thread index for {@link linearGroups}.
 *
 * @example
 * ```ts
 * linearIndex(1000); // "let i = gid.x + gid.y * 1024u;"
 * ```
 */
export function linearIndex(n: number, wg = LINEAR_WG): string {
  const [x] = linearGroups(n, wg);
  return `let i = gid.x + gid.y * ${x * wg}u;`;
}

/** WGSL element type of a value's buffer. */
export function wgslType(dtype: DType): "i32" | "f32" {
  return dtype === "float32" ? "f32" : "i32";
}

/**
 * A storage binding declaration.
 *
 * @example
 * ```ts
 * bind(0, "x", "i32", "read"); // "@group(0) @binding(0) var<storage, read> x: array<i32>;"
 * ```
 */
export function bind(
  i: number,
  name: string,
  type: string,
  access: "read" | "read_write",
): string {
  return `@group(0) @binding(${i}) var<storage, ${access}> ${name}: array<${type}>;`;
}

/**
 * A one-thread-per-element shader over `n` elements: `decls` then `body` (which sees
 * `i: u32`, already bounds-checked).
 *
 * @example
 * ```ts
 * elementwiseShader(8, [bind(0, "x", "f32", "read"), bind(1, "y", "f32", "read_write")], "y[i] = -x[i];");
 * ```
 */
export function elementwiseShader(
  n: number,
  decls: string[],
  body: string,
  helpers = "",
): string {
  return `${decls.join("\n")}
${helpers}
@compute @workgroup_size(${LINEAR_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${linearIndex(n)}
  if (i >= ${n}u) { return; }
  ${body}
}
`;
}

/**
 * WGSL expression of the flat offset into a tensor of shape `inShape` broadcast
 * (numpy rules) to `outShape`, from the flat output index held in `idx`.
 *
 * @example
 * ```ts
 * broadcastOffset([2, 3], [3], "i"); // "((i % 3u) * 1u)"
 * ```
 */
export function broadcastOffset(outShape: number[], inShape: number[], idx: string): string {
  const r = outShape.length, off = r - inShape.length;
  const terms: string[] = [];
  let inStride = 1, outStride = 1;
  for (let d = r - 1; d >= 0; d--) {
    const dimIn = d - off >= 0 ? inShape[d - off] : 1;
    if (dimIn !== 1 && outShape[d] !== 1) {
      terms.push(`(((${idx} / ${outStride}u) % ${outShape[d]}u) * ${inStride}u)`);
    }
    inStride *= dimIn;
    outStride *= outShape[d];
  }
  return terms.length ? `(${terms.join(" + ")})` : "0u";
}

/**
 * Throws E_UNSUPPORTED_OP / E_UNSUPPORTED_ATTR for the node being lowered.
 *
 * @example
 * ```ts
 * unsupported(ctx, "Pad mode reflect is not supported on webgpu");
 * ```
 */
export function unsupported(ctx: LowerCtx, msg: string, attr = false): never {
  throw new EdgeqError(attr ? "E_UNSUPPORTED_ATTR" : "E_UNSUPPORTED_OP", msg, {
    node: ctx.node.name,
    op: ctx.node.op,
  });
}

/**
 * Converts a tensor to the words of its GPU buffer (one per element).
 *
 * @example
 * ```ts
 * toWords({ dtype: "int8", shape: [2], data: new Int8Array([-1, 2]) }); // Int32Array [-1, 2]
 * ```
 */
export function toWords(t: Tensor): Int32Array | Float32Array {
  if (t.dtype === "float32") return t.data as Float32Array;
  if (t.dtype === "float64") return Float32Array.from(t.data as Float64Array);
  if (t.data instanceof Int32Array) return t.data;
  return Int32Array.from(t.data as ArrayLike<number>);
}
