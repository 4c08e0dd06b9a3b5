/**
 * Fusions the wasm compiler makes on a bound graph, each bit-identical to the nodes it
 * replaces:
 *
 * - **Transposes into QMatMul**: a Transpose read only by QMatMuls (a transformer's
 *   head split `[B, T, H, D] → [B, H, T, D]`, or `kᵀ`) is read in place with strides by
 *   the QMatMul's operand encoding, and a Transpose that is the only consumer of a
 *   QMatMul's output (the heads' merge) is written in place by its epilogue. Such a
 *   Transpose's step does nothing once every reader folded it.
 *
 * A QGemm + QAdd fusion (the add as a residual in the GEMM's epilogue) was built and
 * measured slower on the ViT fixture (1.08× at 1 thread): the row-major GEMM's residual
 * reads and per-column splats cost more than the separate SIMD QAdd saves; not kept.
 * @module
 */
import { attrInts, type Graph, type Node } from "../../runtime/graph.ts";
import { strides } from "../../runtime/tensor.ts";

/**
 * A Transpose read or written in place by a QMatMul: `src` is the value in memory
 * (the Transpose's input, or its output for a folded output Transpose) and `strides` the
 * element strides of the QMatMul's logical operand over it.
 */
export interface FoldedTranspose {
  /** The Transpose node. */
  node: Node;
  src: string;
  strides: number[];
}

/** What {@link planFusions} decided for a graph. */
export interface FusionPlan {
  /**
   * QMatMul node name → Transposes it may fold: inputs A (0) and B (1), output (2). The
   * QMatMul's compiler decides; a Transpose runs unless all its readers folded it.
   */
  transposes: Map<string, (FoldedTranspose | undefined)[]>;
  /** Transpose name → how many of its readers must fold it before it can be skipped. */
  foldUsers: Map<string, number>;
  /** Transpose name → how many QMatMul compilers folded it (filled while compiling). */
  folded: Map<string, number>;
}

/**
 * Switches read by {@link planFusions} (benchmarks and tests A/B them; see
 * bench/wasm_ab.ts `--switch`). `transpose`: Transposes folded into QMatMul. `alias`: a
 * Reshape-like copy (Reshape, Flatten, Squeeze, Unsqueeze, Identity) shares its input's
 * buffer instead of copying it (compile.ts: memory.ts mergeAliases).
 *
 * @example
 * ```ts
 * fuseOptions.transpose = false; // compile the next models with the Transposes run
 * ```
 */
export const fuseOptions: { transpose: boolean; alias: boolean } = {
  transpose: true,
  alias: true,
};

/**
 * Counters for tests, over all compiles: Transposes folded into a QMatMul, copies aliased
 * to their input's buffer.
 *
 * @example
 * ```ts
 * const before = fusedCounts.transpose; // ... compile ...; fusedCounts.transpose - before
 * ```
 */
export const fusedCounts: { transpose: number; alias: number } = { transpose: 0, alias: 0 };

const EIGHT_BIT = new Set(["int8", "uint8"]);

/**
 * The fusions of a bound graph (static shapes): Transposes next to a QMatMul, an input
 * Transpose read by QMatMuls only or the only consumer of a QMatMul's output, with their
 * element strides in the QMatMul's terms.
 *
 * @example
 * ```ts
 * const plan = planFusions(bound);
 * plan.transposes.get("/attn/MatMul"); // the Transposes that QMatMul may fold
 * ```
 */
export function planFusions(g: Graph): FusionPlan {
  const plan: FusionPlan = { transposes: new Map(), foldUsers: new Map(), folded: new Map() };
  if (!fuseOptions.transpose) return plan;
  const producer = new Map<string, Node>(), consumers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) if (o) producer.set(o, n);
    for (const x of n.inputs) if (x) consumers.set(x, [...(consumers.get(x) ?? []), n]);
  }
  const outputs = new Set(g.outputs.map((o) => o.name));
  const isTranspose = (n: Node | undefined): n is Node => n?.op === "Transpose" && !n.domain;
  const permOf = (n: Node, rank: number) =>
    attrInts(n.attrs, "perm") ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
  for (const n of g.nodes) {
    if (n.domain !== "edgeq" || n.op !== "QMatMul") continue;
    const slots: (FoldedTranspose | undefined)[] = [undefined, undefined, undefined];
    for (const j of [0, 1]) {
      const t = n.inputs[j], tn = producer.get(t);
      if (!isTranspose(tn) || outputs.has(t) || g.initializers.has(tn.inputs[0])) continue;
      const users = consumers.get(t) ?? [];
      if (!users.every((u) => u.domain === "edgeq" && u.op === "QMatMul")) continue;
      const xm = g.values.get(tn.inputs[0]);
      if (!xm || !EIGHT_BIT.has(xm.dtype)) continue;
      const xs = strides(xm.shape);
      plan.foldUsers.set(tn.name, users.length);
      slots[j] = { node: tn, src: tn.inputs[0], strides: permOf(tn, xs.length).map((p) => xs[p]) };
    }
    const y = n.outputs[0], use = consumers.get(y) ?? [];
    const un = use.length === 1 ? use[0] : undefined;
    const um = un && g.values.get(un.outputs[0]);
    if (isTranspose(un) && um && !outputs.has(y)) {
      // output axis i of the Transpose is the QMatMul's axis perm[i]
      const us = strides(um.shape), st = new Array<number>(us.length);
      permOf(un, us.length).forEach((a, i) => (st[a] = us[i]));
      plan.foldUsers.set(un.name, 1);
      slots[2] = { node: un, src: un.outputs[0], strides: st };
    }
    if (slots.some(Boolean)) plan.transposes.set(n.name, slots);
  }
  return plan;
}

/**
 * Whether every reader of a Transpose folded it (its step then does nothing).
 *
 * @example
 * ```ts
 * if (isFolded(plan, node.name)) steps[i] = () => {};
 * ```
 */
export function isFolded(plan: FusionPlan, name: string): boolean {
  const need = plan.foldUsers.get(name);
  return need !== undefined && (plan.folded.get(name) ?? 0) >= need;
}
