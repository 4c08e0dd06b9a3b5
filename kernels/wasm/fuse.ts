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
import type { Graph, Node } from "../../runtime/graph.ts";

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
  /** Node name → values it reads or writes beyond its own inputs and outputs (liveness). */
  extra: Map<string, string[]>;
}

/**
 * Switches read by {@link planFusions} (benchmarks and tests A/B them; see
 * bench/wasm_ab.ts `--switch`). `transpose`: Transposes folded into QMatMul.
 *
 * @example
 * ```ts
 * fuseOptions.transpose = false; // compile the next models with the Transposes run
 * ```
 */
export const fuseOptions: { transpose: boolean } = { transpose: true };

/**
 * Counters for tests: Transposes folded into a QMatMul, over all compiles.
 *
 * @example
 * ```ts
 * const before = fusedCounts.transpose; // ... compile ...; fusedCounts.transpose - before
 * ```
 */
export const fusedCounts: { transpose: number } = { transpose: 0 };

/**
 * The fusions of a bound graph (static shapes).
 *
 * @example
 * ```ts
 * const plan = planFusions(bound);
 * plan.transposes.get("/attn/MatMul"); // the Transposes that QMatMul may fold
 * ```
 */
export function planFusions(g: Graph): FusionPlan {
  const plan: FusionPlan = {
    transposes: new Map(),
    foldUsers: new Map(),
    folded: new Map(),
    extra: new Map(),
  };
  const consumers = new Map<string, number[]>();
  g.nodes.forEach((n, i) => {
    for (const x of n.inputs) if (x) consumers.set(x, [...(consumers.get(x) ?? []), i]);
  });
  const outputs = new Set(g.outputs.map((o) => o.name));
  if (fuseOptions.transpose) planTransposes(g, plan, consumers, outputs);
  return plan;
}

const EIGHT_BIT = new Set(["int8", "uint8"]);

function contiguous(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

function permOf(n: Node, rank: number): number[] {
  const p = n.attrs.perm as number[] | undefined;
  return p ? [...p] : Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

/**
 * Transposes next to a QMatMul: an input Transpose read by QMatMuls only, or the only
 * consumer of a QMatMul's output. Their element strides in the QMatMul's terms.
 */
function planTransposes(
  g: Graph,
  plan: FusionPlan,
  consumers: Map<string, number[]>,
  outputs: Set<string>,
): void {
  g.nodes.forEach((n) => {
    if (n.domain !== "edgeq" || n.op !== "QMatMul") return;
    const slots: (FoldedTranspose | undefined)[] = [undefined, undefined, undefined];
    for (const j of [0, 1]) {
      const t = n.inputs[j];
      const tn = g.nodes.find((m) => m.outputs[0] === t && m.op === "Transpose" && !m.domain);
      if (!tn || outputs.has(t) || g.initializers.has(tn.inputs[0])) continue;
      const users = (consumers.get(t) ?? []).map((i) => g.nodes[i]);
      if (!users.every((u) => u.domain === "edgeq" && u.op === "QMatMul")) continue;
      const xm = g.values.get(tn.inputs[0]);
      if (!xm || !EIGHT_BIT.has(xm.dtype)) continue;
      const xs = contiguous(xm.shape);
      plan.foldUsers.set(tn.name, users.length);
      slots[j] = {
        node: tn,
        src: tn.inputs[0],
        strides: permOf(tn, xm.shape.length).map((p) => xs[p]),
      };
    }
    const y = n.outputs[0], use = consumers.get(y) ?? [];
    const un = use.length === 1 ? g.nodes[use[0]] : undefined;
    if (un && un.op === "Transpose" && !un.domain && !outputs.has(y)) {
      const ym = g.values.get(y)!, u = un.outputs[0], um = g.values.get(u);
      if (um) {
        const us = contiguous(um.shape), p = permOf(un, ym.shape.length);
        const strides = new Array<number>(p.length);
        p.forEach((j, i) => (strides[j] = us[i]));
        plan.foldUsers.set(un.name, 1);
        slots[2] = { node: un, src: u, strides };
      }
    }
    if (slots.some(Boolean)) {
      plan.transposes.set(n.name, slots);
      // the QMatMul reads the Transposes' inputs / writes the output one in place
      const extra = slots.filter((s): s is FoldedTranspose => !!s).map((s) => s.src);
      plan.extra.set(n.name, [...(plan.extra.get(n.name) ?? []), ...extra]);
    }
  });
}

/**
 * Whether every reader of a Transpose folded it (its step then does nothing).
 *
 * @example
 * ```ts
 * if (!isFolded(plan, node.name)) transpose(env);
 * ```
 */
export function isFolded(plan: FusionPlan, name: string): boolean {
  const need = plan.foldUsers.get(name);
  return need !== undefined && (plan.folded.get(name) ?? 0) >= need;
}
