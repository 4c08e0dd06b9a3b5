/**
 * The shapes shared by the node compilers: what a compiler sees at compile time and what
 * a compiled step sees at run time.
 * @module
 */
import type { Graph, Node } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import type { OpContext } from "../ref/op.ts";
import type { Arena } from "./memory.ts";
import type { KernelExports } from "./instance.ts";
import type { FoldedTranspose } from "./fuse.ts";

/** Compile-time context of one node. */
export interface CompileCtx {
  g: Graph;
  node: Node;
  op: OpContext;
  arena: Arena;
  k: KernelExports;
  threads: number;
  /** Static metadata of a value. */
  meta(name: string): TensorMeta;
  /** The constant value of an input, if it is an initializer. */
  constant(name: string): Tensor | undefined;
  /** Declares that the step needs `bytes` of scratch while it runs. */
  scratch(bytes: number): void;
  /** A QMatMul's foldable Transposes (fuse.ts): inputs A, B and the output. */
  transposes?: (FoldedTranspose | undefined)[];
  /** Records that this node's step reads / writes the named Transpose in place. */
  fold?(transpose: string): void;
  /** Indices of the residual blocks the node is in (a skipped block skips its nodes). */
  blocks: number[];
  /** What the graph's compiled steps share (one map per compiled graph), by key. */
  shared: Map<string, number>;
}

/** Run-time environment of a step. */
export interface RunEnv {
  k: KernelExports;
  /** The memory's current buffer. */
  buf(): ArrayBufferLike;
  /** An Int32Array over the whole memory (cached until the buffer changes). */
  i32(): Int32Array<ArrayBufferLike>;
  /** A Uint8Array over the whole memory (cached until the buffer changes). */
  u8(): Uint8Array<ArrayBufferLike>;
  /** Address of a value's buffer in wasm memory. */
  addr(name: string): number;
  /** Base of the scratch region (large enough for every step). */
  scratch: number;
  /**
   * Runs kernel `fn(...args, lo, hi, tid)` over `[0, total)`, split across the threads
   * when each part gets at least `grain` items.
   */
  par(fn: string, args: number[], total: number, grain: number): void;
}

/** A compiled step. */
export type Step = (env: RunEnv) => void;

/**
 * Element size in bytes of a dtype as the runtime stores it.
 *
 * @example
 * ```ts
 * elemBytes("float32"); // 4
 * ```
 */
export function elemBytes(dtype: string): number {
  switch (dtype) {
    case "float64":
    case "int64":
      return 8;
    case "float32":
    case "int32":
    case "uint32":
      return 4;
    case "int16":
    case "uint16":
      return 2;
    default:
      return 1;
  }
}

/**
 * 1 for int8, 0 for uint8.
 *
 * @example
 * ```ts
 * signedOf("int8"); // 1
 * ```
 */
export function signedOf(dtype: string): number {
  return dtype === "int8" ? 1 : 0;
}

/**
 * Rounds up to a multiple of m.
 *
 * @example
 * ```ts
 * roundUp(13, 8); // 16
 * ```
 */
export function roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Work (≈ operations) a thread's part must have before a call is split: the wake-up of a worker costs tens of µs. */
export const MIN_PART_WORK = 1 << 18;

/** Elements per part for cheap elementwise kernels. */
export const ELEM_GRAIN = 1 << 15;

/**
 * Items per part so that each part has at least {@link MIN_PART_WORK} operations.
 *
 * @example
 * ```ts
 * env.par("gemm_rows", args, rows, grainFor(N * K)); // rows of N·K MACs
 * ```
 */
export function grainFor(workPerItem: number): number {
  return Math.max(1, Math.ceil(MIN_PART_WORK / Math.max(1, workPerItem)));
}
