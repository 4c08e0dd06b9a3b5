/**
 * From an imported graph to an executable one: bind shapes and fold constants,
 * fold BatchNormalization into Conv/Gemm, drop dead code, find residual blocks.
 */
import { bindGraph, type BindOptions, pruneDead } from "./bind.ts";
import { findResidualBlocks } from "./blocks.ts";
import type { Graph } from "./graph.ts";
import { foldBatchNorm } from "./passes/fold_bn.ts";

/**
 * Prepares a graph for execution at the given input shapes.
 *
 * @example
 * ```ts
 * const g = prepareGraph(importOnnx(bytes), { batch: 4 });
 * console.log(g.nodes.length, g.blocks.length);
 * ```
 */
export function prepareGraph(g: Graph, opts: BindOptions = {}): Graph {
  const bound = pruneDead(foldBatchNorm(bindGraph(g, opts)));
  return { ...bound, blocks: findResidualBlocks(bound) };
}
