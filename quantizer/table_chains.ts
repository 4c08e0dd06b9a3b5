/**
 * Quantizer pass: elementwise float chains → `QLut` tables.
 *
 * After lowering, a chain `DequantizeLinear8 → elementwise float ops (scalar constants
 * only) → QuantizeLinear8` (the Erf-GELU of a ViT MLP, Sigmoid, Tanh, HardSwish, ...) is a
 * function of one 8-bit code. Its 256 outputs are computed here, once, by the reference
 * ops themselves (the same float code as before), and the chain becomes one `QLut` node:
 * the graph gets integer-only there and every backend reproduces the table bit for bit.
 *
 * @example
 * ```ts
 * const { nodes, fused } = fuseTableChains(lowered, { constant, shape, outputs, opset: 17 });
 * ```
 * @module
 */
import type { Node } from "../runtime/graph.ts";
import type { Tensor } from "../runtime/tensor.ts";
import { refOpFor } from "../kernels/ref/mod.ts";
import { QUANT_DOMAIN } from "../kernels/ref/quant/mod.ts";

/** Float ops a table chain may contain (all elementwise). */
export const TABLE_OPS: ReadonlySet<string> = new Set([
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Erf",
  "Tanh",
  "Sigmoid",
  "HardSigmoid",
  "HardSwish",
  "Relu",
  "LeakyRelu",
  "Elu",
  "Selu",
  "Softplus",
  "Gelu",
  "Exp",
  "Log",
  "Neg",
  "Abs",
  "Sqrt",
  "Reciprocal",
  "Pow",
  "Max",
  "Min",
  "Clip",
  "Identity",
]);

/** What {@link fuseTableChains} needs to know about the graph. */
export interface TableChainGraph {
  /** A constant tensor by name, or undefined for a computed value. */
  constant(name: string): Tensor | undefined;
  /** A value's static shape, or undefined when unknown. */
  shape(name: string): readonly number[] | undefined;
  /** Names of the graph outputs (never fused away). */
  outputs: ReadonlySet<string>;
  /** The 8-bit dtype of a quantized value. */
  codeType(name: string): "int8" | "uint8";
  /** The graph's opset. */
  opset: number;
  /**
   * Optional: a node's group (e.g. its residual block); a chain is fused only when all
   * its nodes share the group of its QuantizeLinear8, so skipping a block stays possible.
   */
  group?(node: Node): unknown;
}

/**
 * Replaces every eligible chain with one `QLut` node named after its QuantizeLinear8.
 * Returns the new node list and the fused chains' float op names.
 *
 * @example
 * ```ts
 * fuseTableChains(nodes, info).nodes.filter((n) => n.op === "QLut").length; // 4 for the ViT
 * ```
 */
export function fuseTableChains(
  nodes: Node[],
  g: TableChainGraph,
): { nodes: Node[]; fused: string[] } {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of nodes) {
    n.outputs.forEach((o) => o && producer.set(o, n));
    n.inputs.forEach((x) => x && consumers.set(x, [...(consumers.get(x) ?? []), n]));
  }
  const removed = new Set<Node>();
  const replace = new Map<Node, Node>();
  const fused: string[] = [];
  for (const q of nodes) {
    if (q.domain !== QUANT_DOMAIN || q.op !== "QuantizeLinear8" || removed.has(q)) continue;
    const chain = new Set<Node>();
    let deq: Node | undefined;
    let ok = true;
    const visit = (v: string) => {
      if (!ok) return;
      const c = g.constant(v);
      if (c) {
        if (c.data.length !== 1 || c.shape.length > 1) ok = false;
        return;
      }
      const p = producer.get(v);
      if (!p) return void (ok = false);
      if (p.domain === QUANT_DOMAIN && p.op === "DequantizeLinear8") {
        if (deq && deq !== p) ok = false;
        deq = p;
        return;
      }
      if (p.domain !== "" || !TABLE_OPS.has(p.op) || p.outputs.filter(Boolean).length !== 1) {
        return void (ok = false);
      }
      if (chain.has(p)) return;
      if (removed.has(p)) return void (ok = false);
      chain.add(p);
      p.inputs.forEach((x) => x && visit(x));
    };
    visit(q.inputs[0]);
    if (!ok || !deq || chain.size === 0) continue;
    const src = deq.inputs[0], sIn = g.shape(src), sOut = g.shape(q.inputs[0]);
    if (!sIn || !sOut || sIn.join() !== sOut.join()) continue;
    // Every value the chain makes is used only inside it (or by q).
    for (const n of chain) {
      for (const o of n.outputs) {
        if (g.outputs.has(o)) ok = false;
        for (const c of consumers.get(o) ?? []) if (c !== q && !chain.has(c)) ok = false;
      }
    }
    if (g.group) {
      const gq = g.group(q);
      for (const n of [...chain, deq]) if (g.group(n) !== gq) ok = false;
    }
    if (!ok) continue;
    const dqOnlyHere = (consumers.get(deq.outputs[0]) ?? []).every((c) =>
      chain.has(c) || c === q
    ) &&
      !g.outputs.has(deq.outputs[0]);
    const table = tableOf(deq, nodes.filter((n) => chain.has(n)), q, g);
    for (const n of chain) removed.add(n);
    if (dqOnlyHere) removed.add(deq);
    fused.push(...nodes.filter((n) => chain.has(n)).map((n) => `${n.name} (${n.op})`));
    replace.set(q, {
      name: q.name,
      op: "QLut",
      domain: QUANT_DOMAIN,
      inputs: [src],
      outputs: [q.outputs[0]],
      attrs: { table, dtype: (q.attrs.dtype as string | undefined) ?? "uint8" },
    });
  }
  if (!replace.size) return { nodes, fused };
  return {
    nodes: nodes.filter((n) => !removed.has(n)).map((n) => replace.get(n) ?? n),
    fused,
  };
}

/** Runs dq → chain → q with the reference ops on the 256 codes of dq's input. */
function tableOf(deq: Node, chain: Node[], q: Node, g: TableChainGraph): number[] {
  const vals = new Map<string, Tensor>();
  const signed = g.codeType(deq.inputs[0]) === "int8";
  const codes: Tensor = signed
    ? { dtype: "int8", shape: [256], data: Int8Array.from({ length: 256 }, (_, i) => i - 128) }
    : { dtype: "uint8", shape: [256], data: Uint8Array.from({ length: 256 }, (_, i) => i) };
  vals.set(deq.inputs[0], codes);
  for (const n of [deq, ...chain, q]) {
    const op = refOpFor(n)!;
    const ins = n.inputs.map((i) => (i ? vals.get(i) ?? g.constant(i) : undefined));
    const outs = op.run(ins, n.attrs, { node: n, opset: g.opset });
    n.outputs.forEach((o, k) => o && vals.set(o, outs[k]));
  }
  return Array.from(vals.get(q.outputs[0])!.data as ArrayLike<number>);
}
