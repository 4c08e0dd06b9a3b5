/**
 * The WebGPU tester (XNNPACK style: one tester per kind of kernel): builds a one-node
 * graph, runs it on the reference executor and on WebGPU, and returns both outputs, so a
 * test can require identical bits (integer ops) or a tolerance (float islands).
 *
 * @example
 * ```ts
 * const { ref, gpu } = await runBoth(
 *   { op: "QRelu", domain: "edgeq", attrs: { zero_point: 3 } },
 *   { x: { dtype: "int8", shape: [5], data: new Int8Array([1, 2, 3, 4, 5]) } },
 * );
 * ```
 * @module
 */
import type { Attrs, Graph } from "../../runtime/graph.ts";
import { bindGraph } from "../../runtime/bind.ts";
import { execute } from "../../runtime/executor.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import type { BackendOptions } from "../../runtime/backend.ts";
import { webgpuBackend, type WebGpuCompiledGraph } from "./backend.ts";

/** A node to test: op, domain, attributes. */
export interface NodeSpec {
  op: string;
  domain?: string;
  attrs?: Attrs;
  /** Number of outputs (default 1). */
  outputs?: number;
}

/**
 * Builds and binds a graph of one node whose inputs are `feeds` (computed, in order)
 * followed by `consts` (initializers, in order); "" in `order` leaves an input out.
 *
 * @example
 * ```ts
 * const g = oneNodeGraph({ op: "Relu" }, { x }, {});
 * ```
 */
export function oneNodeGraph(
  spec: NodeSpec,
  feeds: Record<string, Tensor>,
  consts: Record<string, Tensor> = {},
  order?: string[],
): Graph {
  const inputs = order ?? [...Object.keys(feeds), ...Object.keys(consts)];
  const outs = Array.from({ length: spec.outputs ?? 1 }, (_, i) => (i ? `y${i}` : "y"));
  const g: Graph = {
    name: `test_${spec.op}`,
    opset: 17,
    inputs: Object.entries(feeds).map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })),
    outputs: [{ name: "y", dtype: "float32", shape: [] }],
    initializers: new Map(Object.entries(consts)),
    nodes: [{
      name: `${spec.op}_under_test`,
      op: spec.op,
      domain: spec.domain ?? "",
      inputs,
      outputs: outs,
      attrs: spec.attrs ?? {},
    }],
    values: new Map(),
    blocks: [],
  };
  const shapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.shape]));
  const b = bindGraph(g, { shapes });
  const y = b.values.get("y")!;
  return { ...b, outputs: [{ name: "y", dtype: y.dtype, shape: y.shape }] };
}

/**
 * Runs a graph on the reference executor and on WebGPU.
 *
 * @example
 * ```ts
 * const { ref, gpu } = await runGraphBoth(g, feeds, { dot4: false });
 * ```
 */
export async function runGraphBoth(
  g: Graph,
  feeds: Record<string, Tensor>,
  opts: BackendOptions = {},
): Promise<{ ref: Record<string, Tensor>; gpu: Record<string, Tensor>; kernel: string }> {
  const ref = execute(g, feeds);
  const c = await webgpuBackend.compile(g, opts) as WebGpuCompiledGraph;
  try {
    const gpu = await c.run(feeds);
    const kernel = (await c.profile(feeds)).map((l) => l.op).join(",");
    return { ref, gpu, kernel };
  } finally {
    c.dispose();
  }
}

/**
 * {@link oneNodeGraph} + {@link runGraphBoth}: the output `y` on both backends.
 *
 * @example
 * ```ts
 * const { ref, gpu } = await runBoth({ op: "Erf" }, { x });
 * ```
 */
export async function runBoth(
  spec: NodeSpec,
  feeds: Record<string, Tensor>,
  consts: Record<string, Tensor> = {},
  opts: BackendOptions = {},
  order?: string[],
): Promise<{ ref: Tensor; gpu: Tensor; kernel: string }> {
  const g = oneNodeGraph(spec, feeds, consts, order);
  const r = await runGraphBoth(g, feeds, opts);
  return { ref: r.ref.y, gpu: r.gpu.y, kernel: r.kernel };
}
