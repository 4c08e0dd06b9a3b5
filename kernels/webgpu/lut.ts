/**
 * Exact float islands by table: a chain `DequantizeLinear8 → elementwise float ops →
 * QuantizeLinear8` whose every value depends on ONE 8-bit tensor element by element
 * (e.g. the Erf-GELU of a ViT MLP) is a function of 256 codes. At compile its table is
 * computed by the reference ops themselves and the chain becomes one lookup
 * (`Lut8`), so the result is the reference's bit for bit instead of f32-approximate.
 *
 * @example
 * ```ts
 * const nodes = fuseLookupTables(boundGraph); // the node list with chains replaced
 * ```
 * @module
 */
import type { Graph, Node } from "../../runtime/graph.ts";
import { execute } from "../../runtime/executor.ts";
import { size, type Tensor } from "../../runtime/tensor.ts";
import { readTable } from "../ref/quant/qlut.ts";
import { qDType, readQDType } from "../ref/quant/qutil.ts";
import { bind, elementwiseShader, linearGroups, type LowerCtx, type Lowered } from "./kernel.ts";

/** Float ops a table chain may contain. */
const ELEMENTWISE = new Set([
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Erf",
  "Tanh",
  "Sigmoid",
  "Relu",
  "Exp",
  "Neg",
  "Abs",
  "Sqrt",
  "Pow",
  "Max",
  "Min",
  "Identity",
]);

/** The synthetic op a fused chain becomes (domain "edgeq.webgpu"). */
export const LUT_OP = "Lut8";

/**
 * Returns the graph's nodes with every eligible chain replaced by one `Lut8` node
 * (attribute `table`: int32 [256], indexed by the code minus the dtype's minimum).
 *
 * @example
 * ```ts
 * fuseLookupTables(g).filter((n) => n.op === "Lut8").length; // 4 for the ViT
 * ```
 */
export function fuseLookupTables(g: Graph): Node[] {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    n.outputs.forEach((o) => o && producer.set(o, n));
    n.inputs.forEach((x) => x && consumers.set(x, [...(consumers.get(x) ?? []), n]));
  }
  const outputs = new Set(g.outputs.map((o) => o.name));
  const inBlock = new Set(g.blocks.flatMap((b) => [...b.nodes, ...b.shortcutNodes]));
  const removed = new Set<Node>();
  const replace = new Map<Node, Node>();
  for (const q of g.nodes) {
    if (q.domain !== "edgeq" || q.op !== "QuantizeLinear8") continue;
    const chain = new Set<Node>();
    let deq: Node | undefined;
    let ok = true;
    const shape = g.values.get(q.inputs[0])?.shape;
    const visit = (v: string) => {
      if (!ok) return;
      if (g.initializers.has(v)) {
        if (size(g.initializers.get(v)!.shape) !== 1) ok = false;
        return;
      }
      const p = producer.get(v);
      if (!p) return void (ok = false);
      if (p.domain === "edgeq" && p.op === "DequantizeLinear8") {
        if (deq && deq !== p) ok = false;
        deq = p;
        return;
      }
      if (p.domain !== "" || !ELEMENTWISE.has(p.op)) return void (ok = false);
      const s = g.values.get(v)?.shape;
      if (!s || !shape || s.join() !== shape.join()) return void (ok = false);
      if (chain.has(p)) return;
      chain.add(p);
      p.inputs.forEach((x) => x && visit(x));
    };
    visit(q.inputs[0]);
    if (!ok || !deq || chain.size === 0) continue;
    const members = new Set([...chain, deq]);
    // Every value the chain makes must be used only inside it (or by q).
    for (const n of members) {
      for (const o of n.outputs) {
        if (!o) continue;
        if (outputs.has(o)) ok = false;
        for (const c of consumers.get(o) ?? []) if (c !== q && !members.has(c)) ok = false;
      }
      if (inBlock.has(n.name) !== inBlock.has(q.name)) ok = false;
    }
    if (!ok) continue;
    const src = deq.inputs[0];
    const dt = g.values.get(src)!.dtype;
    const lo = dt === "int8" ? -128 : 0;
    const codes = dt === "int8"
      ? Int8Array.from({ length: 256 }, (_, i) => i + lo)
      : Uint8Array.from({ length: 256 }, (_, i) => i);
    const order = g.nodes.filter((n) => members.has(n) || n === q);
    const small: Graph = {
      ...g,
      name: `${q.name}:table`,
      inputs: [{ name: src, dtype: dt, shape: [256] }],
      outputs: [{ name: q.outputs[0], dtype: g.values.get(q.outputs[0])!.dtype, shape: [256] }],
      nodes: order,
      values: new Map([[src, { dtype: dt, shape: [256] }]]),
      blocks: [],
    };
    const t = execute(small, { [src]: { dtype: dt, shape: [256], data: codes } })[q.outputs[0]];
    const table: Tensor = { dtype: "int32", shape: [256], data: Int32Array.from(t.data) };
    for (const n of members) removed.add(n);
    replace.set(q, {
      name: q.name,
      op: LUT_OP,
      domain: "edgeq.webgpu",
      inputs: [src],
      outputs: [q.outputs[0]],
      attrs: { table, lo },
    });
  }
  if (!replace.size) return g.nodes;
  return g.nodes.filter((n) => !removed.has(n)).map((n) => replace.get(n) ?? n);
}

/**
 * Lowers a `Lut8` node: `y[i] = table[x[i] − lo]`.
 *
 * @example
 * ```ts
 * lowerLut(ctx);
 * ```
 */
export function lowerLut(ctx: LowerCtx): Lowered {
  return lutDispatch(
    ctx,
    (ctx.node.attrs.table as Tensor).data as Int32Array,
    ctx.node.attrs.lo as number,
  );
}

/**
 * Lowers a `QLut` node (domain edgeq): `y[i] = table[x[i] − dtypeMin(x)]`, the table
 * checked as the reference op checks it.
 *
 * @example
 * ```ts
 * lowerQLut(ctx);
 * ```
 */
export function lowerQLut(ctx: LowerCtx): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const oc = { node: n, opset: ctx.graph.opset };
  qDType(oc, x, "X");
  const table = readTable(oc, n.attrs, readQDType(oc, n.attrs, "uint8"));
  return lutDispatch(ctx, table, x.dtype === "int8" ? -128 : 0);
}

function lutDispatch(ctx: LowerCtx, table: Int32Array, lo: number): Lowered {
  const n = ctx.node, x = ctx.meta(n.inputs[0]);
  const cnt = size(x.shape);
  return {
    dispatches: [{
      code: elementwiseShader(
        cnt,
        [
          bind(0, "x", "i32", "read"),
          bind(1, "t", "i32", "read"),
          bind(2, "y", "i32", "read_write"),
        ],
        `y[i] = t[u32(x[i] - ${lo})];`,
      ),
      bindings: [
        { value: n.inputs[0] },
        { data: table, label: `${n.name}:table` },
        { value: n.outputs[0] },
      ],
      groups: linearGroups(cnt),
    }],
  };
}
