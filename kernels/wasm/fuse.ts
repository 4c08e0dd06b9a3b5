/**
 * Fusions the wasm compiler makes on a bound graph, each bit-identical to the nodes it
 * replaces (the kernels compute the same integer expressions, only without the
 * intermediate tensor):
 *
 * - **QGemm + QAdd**: a QGemm whose only consumer is a same-shape QAdd (a transformer's
 *   `x + proj(...)`) takes the add as its fused residual, as QConv does: the epilogue
 *   requantizes to the GEMM's codes (clamped to its range), then applies the QAdd with
 *   the other input and writes the QAdd's output. The QAdd's step becomes empty.
 *
 * Residual-block skipping stays exact: a fused QGemm is always inside the block its
 * QAdd joins, so when that block is skipped neither runs and the join's skip step writes
 * the output.
 * @module
 */
import type { Graph, Node } from "../../runtime/graph.ts";
import { size } from "../../runtime/tensor.ts";

/** A QAdd absorbed by the QGemm that feeds it. */
export interface FusedAdd {
  /** The QAdd node. */
  add: Node;
  /** Which QAdd input (0 = a, 1 = b) is the GEMM's output. */
  side: 0 | 1;
}

/** What {@link planFusions} decided for a graph. */
export interface FusionPlan {
  /** QGemm node name → the QAdd it absorbs. */
  residual: Map<string, FusedAdd>;
  /** Nodes whose work another node does (their step is empty). */
  elided: Set<string>;
  /** Node name → values it reads or writes beyond its own inputs and outputs (liveness). */
  extra: Map<string, string[]>;
}

/**
 * Switches read by {@link planFusions} (benchmarks and tests A/B them; see
 * bench/wasm_ab.ts `--switch`). `gemmAdd`: QGemm + QAdd.
 *
 * @example
 * ```ts
 * fuseOptions.gemmAdd = false; // compile the next models without the fusion
 * ```
 */
export const fuseOptions: { gemmAdd: boolean } = { gemmAdd: true };

/**
 * Counters for tests: QAdd nodes fused into a QGemm, over all compiles.
 *
 * @example
 * ```ts
 * const before = fusedCounts.gemmAdd; // ... compile ...; fusedCounts.gemmAdd - before
 * ```
 */
export const fusedCounts: { gemmAdd: number } = { gemmAdd: 0 };

const same = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * The fusions of a bound graph (static shapes).
 *
 * @example
 * ```ts
 * const plan = planFusions(bound);
 * plan.elided.has("/blocks.0/Add"); // true when the proj QGemm absorbed it
 * ```
 */
export function planFusions(g: Graph): FusionPlan {
  const plan: FusionPlan = { residual: new Map(), elided: new Set(), extra: new Map() };
  if (!fuseOptions.gemmAdd) return plan;
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  g.nodes.forEach((n, i) => {
    for (const o of n.outputs) if (o) producer.set(o, i);
    for (const x of n.inputs) if (x) consumers.set(x, [...(consumers.get(x) ?? []), i]);
  });
  const outputs = new Set(g.outputs.map((o) => o.name));
  g.nodes.forEach((n, i) => {
    if (n.domain !== "edgeq" || n.op !== "QGemm" || String(n.attrs.w_layout ?? "i8") === "b1") {
      return;
    }
    const c = n.outputs[0];
    const use = consumers.get(c) ?? [];
    if (!c || outputs.has(c) || use.length !== 1) return;
    const add = g.nodes[use[0]];
    if (add.domain !== "edgeq" || add.op !== "QAdd" || add.inputs.length !== 2) return;
    const side = add.inputs[0] === c ? 0 : 1;
    const r = add.inputs[1 - side], y = add.outputs[0];
    if (!r || r === c || !y || g.initializers.has(r)) return;
    // the residual must exist when the GEMM runs (a graph input or computed before it)
    const pr = producer.get(r);
    if (pr !== undefined && pr >= i) return;
    const cm = g.values.get(c), rm = g.values.get(r), ym = g.values.get(y);
    if (!cm || !rm || !ym || !same(cm.shape, ym.shape) || !same(rm.shape, ym.shape)) return;
    if (size(ym.shape) === 0) return;
    // the QAdd reads the GEMM's codes with its own zero point: the epilogue uses one
    const gzp = Number(n.attrs.y_zp ?? 0), azp = Number(add.attrs[side ? "b_zp" : "a_zp"] ?? 0);
    if (gzp !== azp) return;
    plan.residual.set(n.name, { add, side });
    plan.elided.add(add.name);
    plan.extra.set(n.name, [r, y]);
  });
  return plan;
}
