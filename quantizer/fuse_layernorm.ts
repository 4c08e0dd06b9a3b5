/**
 * Quantizer pass: a decomposed layer norm (what torch exports below opset 17)
 *
 *     m = ReduceMean(x, axes=[last]); d = x − m; v = ReduceMean(d^2, axes=[last])
 *     y = d / Sqrt(v + ε) · γ (+ β)
 *
 * becomes one `LayerNormalization(x, γ, β; axis = −1, epsilon = ε)` node, so that it is
 * lowered like an opset-17 export (to `QLayerNorm`). Only exact matches are fused: the
 * intermediates feed nothing else, γ/β are constants of the row length, ε a scalar.
 *
 * @example
 * ```ts
 * const g2 = fuseLayerNorm(prepareGraph(importOnnx(bytes), { batch: 1 }));
 * ```
 * @module
 */
import type { Graph, Node } from "../runtime/graph.ts";
import { findResidualBlocks } from "../runtime/blocks.ts";

/**
 * Returns `g` with every decomposed last-axis layer norm fused (or `g` itself when none).
 *
 * @example
 * ```ts
 * fuseLayerNorm(g).nodes.filter((n) => n.op === "LayerNormalization").length; // 9 for the ViT
 * ```
 */
export function fuseLayerNorm(g: Graph): Graph {
  const producer = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    n.outputs.forEach((o) => o && producer.set(o, n));
    n.inputs.forEach((x) => x && consumers.set(x, [...(consumers.get(x) ?? []), n]));
  }
  const outs = new Set(g.outputs.map((o) => o.name));
  const only = (t: string, op: string): Node | undefined => {
    const c = consumers.get(t) ?? [];
    return c.length === 1 && c[0].op === op && !outs.has(t) ? c[0] : undefined;
  };
  const scalar = (t: string | undefined): number | undefined => {
    const c = t ? g.initializers.get(t) : undefined;
    return c && c.data.length === 1 ? Number(c.data[0]) : undefined;
  };
  const rank = (t: string) => g.values.get(t)?.shape.length;
  const lastAxis = (n: Node, x: string): boolean => {
    const r = rank(x);
    const axes = n.attrs.axes ??
      (n.inputs[1] ? Array.from(g.initializers.get(n.inputs[1])?.data ?? []) : undefined);
    const keep = n.attrs.keepdims === undefined || Number(n.attrs.keepdims) === 1;
    return r !== undefined && keep && Array.isArray(axes) && axes.length === 1 &&
      (Number(axes[0]) === -1 || Number(axes[0]) === r - 1);
  };
  const removed = new Set<Node>();
  const replace = new Map<Node, Node>();
  for (const r1 of g.nodes) {
    if (r1.op !== "ReduceMean" || removed.has(r1)) continue;
    const x = r1.inputs[0];
    if (!lastAxis(r1, x)) continue;
    const sub = only(r1.outputs[0], "Sub");
    if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== r1.outputs[0]) continue;
    const d = sub.outputs[0];
    const dc = consumers.get(d) ?? [];
    const pow = dc.find((n) => n.op === "Pow");
    const div = dc.find((n) => n.op === "Div");
    if (dc.length !== 2 || !pow || !div || outs.has(d)) continue;
    if (pow.inputs[0] !== d || scalar(pow.inputs[1]) !== 2) continue;
    const r2 = only(pow.outputs[0], "ReduceMean");
    if (!r2 || !lastAxis(r2, pow.outputs[0])) continue;
    const addEps = only(r2.outputs[0], "Add");
    if (!addEps) continue;
    const eps = scalar(addEps.inputs.find((i) => i !== r2.outputs[0]));
    if (eps === undefined || !(eps >= 0)) continue;
    const sqrt = only(addEps.outputs[0], "Sqrt");
    if (!sqrt || only(sqrt.outputs[0], "Div") !== div) continue;
    if (div.inputs[0] !== d || div.inputs[1] !== sqrt.outputs[0]) continue;
    const n = g.values.get(x)?.shape.at(-1);
    const rowConst = (t: string | undefined) => {
      const c = t ? g.initializers.get(t) : undefined;
      return c && c.dtype === "float32" && c.data.length === n && c.shape.at(-1) === n
        ? t
        : undefined;
    };
    const mul = only(div.outputs[0], "Mul");
    const gamma = mul && rowConst(mul.inputs.find((i) => i !== div.outputs[0]));
    if (!mul || !gamma) continue;
    const add = only(mul.outputs[0], "Add");
    const beta = add && rowConst(add.inputs.find((i) => i !== mul.outputs[0]));
    const last = add && beta ? add : mul;
    const group = [r1, sub, pow, r2, addEps, sqrt, div, mul, ...(last === add ? [add] : [])];
    for (const m of group) removed.add(m);
    replace.set(last, {
      name: last.name,
      op: "LayerNormalization",
      domain: "",
      inputs: beta ? [x, gamma, beta] : [x, gamma],
      outputs: [last.outputs[0]],
      attrs: { axis: -1, epsilon: eps },
    });
  }
  if (!replace.size) return g;
  const nodes = g.nodes.filter((n) => !removed.has(n) || replace.has(n)).map((n) =>
    replace.get(n) ?? n
  );
  const out: Graph = { ...g, nodes };
  return { ...out, blocks: findResidualBlocks(out) };
}
