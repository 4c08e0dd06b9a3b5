/**
 * Folds an inference-mode BatchNormalization into the Conv or Gemm that feeds
 * it: W' = W·s, b' = (b − mean)·s + beta with s = gamma / sqrt(var + eps), per
 * output channel. Runs on a bound graph, where all weights are constants.
 */
import { attrFloat, attrInt, type Graph, type Node } from "../graph.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Returns a graph with every foldable Conv→BN and Gemm→BN pair merged. A pair is
 * foldable when the producer's output feeds only that BN, the weights and BN
 * parameters are constant float tensors, and the BN has a single output.
 */
export function foldBatchNorm(g: Graph): Graph {
  const uses = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  for (const o of g.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => o && producer.set(o, i)));

  const init = new Map(g.initializers);
  const nodes: (Node | null)[] = [...g.nodes];
  for (let bi = 0; bi < nodes.length; bi++) {
    const bn = nodes[bi];
    if (!bn || bn.op !== "BatchNormalization" || bn.outputs.filter(Boolean).length !== 1) continue;
    if (attrInt(bn.attrs, "training_mode", 0) !== 0) continue;
    const pi = producer.get(bn.inputs[0]);
    if (pi === undefined) continue;
    const p = nodes[pi];
    if (!p || (p.op !== "Conv" && p.op !== "Gemm") || uses.get(bn.inputs[0]) !== 1) continue;
    const [scale, bias, mean, variance] = bn.inputs.slice(1, 5).map((n) => init.get(n));
    const w = init.get(p.inputs[1]);
    const b = p.inputs[2] ? init.get(p.inputs[2]) : undefined;
    if (!scale || !bias || !mean || !variance || !w || (p.inputs[2] && !b)) continue;
    if ([scale, bias, mean, variance, w].some((t) => t.dtype !== "float32")) continue;
    const c = scale.data.length;
    if ([bias, mean, variance].some((t) => t.data.length !== c)) continue;
    const eps = attrFloat(bn.attrs, "epsilon", 1e-5);
    const s = new Float64Array(c);
    for (let k = 0; k < c; k++) s[k] = scale.data[k] / Math.sqrt(variance.data[k] + eps);

    let newW: Tensor;
    let baseBias: Float64Array;
    const attrs = { ...p.attrs };
    if (p.op === "Conv") {
      if (w.shape[0] !== c || (b && b.data.length !== c)) continue;
      const per = w.data.length / c;
      const d = new Float32Array(w.data.length);
      for (let k = 0; k < c; k++) {
        for (let j = 0; j < per; j++) d[k * per + j] = w.data[k * per + j] * s[k];
      }
      newW = { dtype: "float32", shape: [...w.shape], data: d };
      baseBias = Float64Array.from({ length: c }, (_, k) => (b ? b.data[k] : 0));
    } else {
      const transB = attrInt(p.attrs, "transB", 0) === 1;
      const [r, cols] = w.shape;
      const n = transB ? r : cols;
      if (w.shape.length !== 2 || n !== c) continue;
      const alpha = attrFloat(p.attrs, "alpha", 1);
      const beta = attrFloat(p.attrs, "beta", 1);
      if (b && b.data.length !== c && b.data.length !== 1) continue;
      if (b && b.shape.length > 1 && b.shape[0] !== 1) continue;
      const d = new Float32Array(w.data.length);
      for (let i = 0; i < r; i++) {
        for (let j = 0; j < cols; j++) {
          d[i * cols + j] = w.data[i * cols + j] * alpha * s[transB ? i : j];
        }
      }
      newW = { dtype: "float32", shape: [...w.shape], data: d };
      baseBias = Float64Array.from(
        { length: c },
        (_, k) => (b ? beta * b.data[b.data.length === 1 ? 0 : k] : 0),
      );
      attrs.alpha = 1;
      attrs.beta = 1;
    }
    const nb = new Float32Array(c);
    for (let k = 0; k < c; k++) nb[k] = (baseBias[k] - mean.data[k]) * s[k] + bias.data[k];
    const wName = `${p.name}::W_bn`;
    const bName = `${p.name}::B_bn`;
    init.set(wName, newW);
    init.set(bName, { dtype: "float32", shape: [c], data: nb });
    g.values.set(wName, { dtype: "float32", shape: newW.shape });
    g.values.set(bName, { dtype: "float32", shape: [c] });
    nodes[pi] = {
      ...p,
      inputs: [p.inputs[0], wName, bName],
      outputs: [bn.outputs[0]],
      attrs,
    };
    nodes[bi] = null;
  }
  const kept = nodes.filter((n): n is Node => n !== null);
  const used = new Set<string>(g.outputs.map((o) => o.name));
  for (const n of kept) for (const i of n.inputs) if (i) used.add(i);
  for (const k of [...init.keys()]) if (!used.has(k)) init.delete(k);
  const values = new Map(
    [...g.values].filter(([k]) =>
      used.has(k) || kept.some((n) => n.outputs.includes(k)) || g.inputs.some((v) => v.name === k)
    ),
  );
  return { ...g, nodes: kept, initializers: init, values };
}
