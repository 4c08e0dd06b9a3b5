/**
 * The graph executor: runs a bound graph node by node on the reference ops,
 * freeing each intermediate value after its last use. Residual blocks listed in
 * `skip` are replaced by their shortcut (gating at run time).
 */
import { EdgeqError } from "./errors.ts";
import type { Graph, Node, ResidualBlock } from "./graph.ts";
import { fmtShape, size, type Tensor } from "./tensor.ts";
import { refOpFor } from "../kernels/ref/mod.ts";
import { skipJoin } from "../kernels/ref/quant/skip.ts";

/** Called after every executed node (used by calibration and profiling). */
export type NodeObserver = (node: Node, outputs: Tensor[]) => void;

/** Per-run options. */
export interface ExecOptions {
  /** Indices of residual blocks to skip (their output becomes the shortcut value). */
  skip?: ReadonlySet<number>;
  /** Sees every node's outputs. */
  observe?: NodeObserver;
}

/** Checks a feed against the graph input it is for. */
export function checkFeed(g: Graph, name: string, t: Tensor | undefined): Tensor {
  const meta = g.values.get(name)!;
  if (!t) throw new EdgeqError("E_INPUT", "missing input", { tensor: name });
  if (t.dtype !== meta.dtype) {
    throw new EdgeqError("E_INPUT", `expected dtype ${meta.dtype}, got ${t.dtype}`, {
      tensor: name,
    });
  }
  if (t.shape.length !== meta.shape.length || t.shape.some((d, i) => d !== meta.shape[i])) {
    throw new EdgeqError(
      "E_INPUT",
      `expected shape ${fmtShape(meta.shape)}, got ${fmtShape(t.shape)}`,
      { tensor: name },
    );
  }
  if (t.data.length !== size(t.shape)) {
    throw new EdgeqError(
      "E_INPUT",
      `data has ${t.data.length} elements, shape ${fmtShape(t.shape)} needs ${size(t.shape)}`,
      { tensor: name },
    );
  }
  return t;
}

/**
 * Runs a bound graph. Returns every graph output by name.
 *
 * @example
 * ```ts
 * const out = execute(bound, { input: { dtype: "float32", shape: [1, 1, 28, 28], data } });
 * ```
 */
export function execute(
  g: Graph,
  feeds: Record<string, Tensor>,
  opts: ExecOptions = {},
): Record<string, Tensor> {
  const env = new Map<string, Tensor>(g.initializers);
  for (const v of g.inputs) env.set(v.name, checkFeed(g, v.name, feeds[v.name]));

  // Last use of each value, so intermediates can be dropped early.
  const lastUse = new Map<string, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((x) => x && lastUse.set(x, i)));
  const keep = new Set<string>([...g.outputs.map((o) => o.name), ...g.initializers.keys()]);

  const skipped = new Set<string>();
  const joins = new Map<string, ResidualBlock>(); // join node → its skipped block
  if (opts.skip?.size) {
    for (const b of g.blocks) {
      if (!opts.skip.has(b.index)) continue;
      for (const n of b.nodes) skipped.add(n);
      joins.set(b.join, b);
    }
  }

  g.nodes.forEach((node, i) => {
    if (skipped.has(node.name)) {
      const b = joins.get(node.name);
      if (b) {
        const y = skipJoin(node, b, env.get(b.shortcut)!, { node, opset: g.opset });
        env.set(b.output, y);
        opts.observe?.(node, [y]);
      }
      for (const x of node.inputs) if (x && lastUse.get(x) === i && !keep.has(x)) env.delete(x);
      return;
    }
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
    const outs = refOpFor(node)!.run(ins, node.attrs, { node, opset: g.opset });
    node.outputs.forEach((o, k) => o && env.set(o, outs[k]));
    opts.observe?.(node, outs);
    for (const x of node.inputs) if (x && lastUse.get(x) === i && !keep.has(x)) env.delete(x);
  });
  const result: Record<string, Tensor> = {};
  for (const o of g.outputs) result[o.name] = env.get(o.name)!;
  return result;
}
