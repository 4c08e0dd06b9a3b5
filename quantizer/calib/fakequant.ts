/**
 * Fake quantization (quantize then dequantize in float) and a small graph loop,
 * equivalent to `execute()`, that fake-quantizes chosen values as soon as they are
 * produced, so every consumer sees the quantized value (simulated quantization of
 * the whole model's activations in one forward pass).
 */
import { EdgeqError } from "../../runtime/errors.ts";
import type { Graph } from "../../runtime/graph.ts";
import { checkFeed } from "../../runtime/executor.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import { REF_OPS } from "../../kernels/ref/mod.ts";
import type { QuantParams } from "./estimators.ts";

/** Rounds half away from zero (the rounding of ALGORITHMS.md A). */
export function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * quantize -> dequantize: `s * (clamp(round(x / s) + zp, qmin, qmax) - zp)`.
 *
 * @example
 * ```ts
 * fakeQuantize(new Float32Array([0, 0.3, 9]), scaleFor({ lo: 0, hi: 1 }, 8));
 * ```
 */
export function fakeQuantize(
  data: ArrayLike<number>,
  qp: QuantParams,
  out: Float32Array = new Float32Array(data.length),
): Float32Array {
  const { scale, zeroPoint: zp, qmin, qmax } = qp;
  const inv = 1 / scale;
  for (let i = 0; i < data.length; i++) {
    const v = data[i] * inv;
    let q = (v < 0 ? -Math.round(-v) : Math.round(v)) + zp;
    if (q < qmin) q = qmin;
    else if (q > qmax) q = qmax;
    out[i] = (q - zp) * scale;
  }
  return out;
}

/** Fake-quantizes a float tensor. */
export function fakeQuantizeTensor(t: Tensor, qp: QuantParams): Tensor {
  if (t.dtype !== "float32") return t;
  return { dtype: "float32", shape: t.shape, data: fakeQuantize(t.data, qp) };
}

/**
 * Runs a bound graph like `execute()`, replacing each value named in `quant`
 * (graph inputs included) by its fake-quantized version before any node reads it.
 *
 * @example
 * ```ts
 * const q = new Map([["input", scaleFor({ lo: 0, hi: 1 }, 8)]]);
 * const { logits } = executeFakeQuant(bound, { input: x }, q);
 * ```
 */
export function executeFakeQuant(
  g: Graph,
  feeds: Record<string, Tensor>,
  quant: ReadonlyMap<string, QuantParams>,
): Record<string, Tensor> {
  const env = new Map<string, Tensor>(g.initializers);
  const put = (name: string, t: Tensor) => {
    const qp = quant.get(name);
    env.set(name, qp ? fakeQuantizeTensor(t, qp) : t);
  };
  for (const v of g.inputs) put(v.name, checkFeed(g, v.name, feeds[v.name]));
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((x) => x && lastUse.set(x, i)));
  const keep = new Set<string>([...g.outputs.map((o) => o.name), ...g.initializers.keys()]);
  g.nodes.forEach((node, i) => {
    const ins = node.inputs.map((x) => {
      if (!x) return undefined;
      const t = env.get(x);
      if (!t) {
        throw new EdgeqError("E_BAD_MODEL", `value '${x}' is not available`, {
          node: node.name,
          op: node.op,
        });
      }
      return t;
    });
    const outs = REF_OPS[node.op].run(ins, node.attrs, { node, opset: g.opset });
    node.outputs.forEach((o, k) => o && put(o, outs[k]));
    for (const x of node.inputs) if (x && lastUse.get(x) === i && !keep.has(x)) env.delete(x);
  });
  const result: Record<string, Tensor> = {};
  for (const o of g.outputs) result[o.name] = env.get(o.name)!;
  return result;
}
