/**
 * Binding: gives every value of a graph a static shape once the input shapes
 * (usually just the batch size) are known, and folds every node whose inputs are
 * all constant — including the Shape/Gather/Concat/... arithmetic exporters emit
 * around Reshape — so the bound graph holds only real compute.
 */
import { EdgeqError } from "./errors.ts";
import { attrInt, type Graph, type Node } from "./graph.ts";
import { fmtShape, type Tensor, type TensorMeta } from "./tensor.ts";
import { refOpFor } from "../kernels/ref/mod.ts";
import type { OpContext } from "../kernels/ref/op.ts";

/** How to bind a graph's inputs. */
export interface BindOptions {
  /** Value for a symbolic first (batch) dimension. Default 1. */
  batch?: number;
  /** Full shapes per input name; overrides `batch` for that input. */
  shapes?: Record<string, number[]>;
}

/** Resolves the static shape of every graph input. */
export function inputShapes(g: Graph, opts: BindOptions = {}): Map<string, number[]> {
  const batch = opts.batch ?? 1;
  if (!Number.isInteger(batch) || batch < 1) {
    throw new EdgeqError("E_USAGE", `batch must be a positive integer, got ${batch}`);
  }
  const out = new Map<string, number[]>();
  for (const v of g.inputs) {
    const given = opts.shapes?.[v.name];
    if (given) {
      if (given.length !== v.shape.length && v.shape.length > 0) {
        throw new EdgeqError(
          "E_SHAPE",
          `input has rank ${v.shape.length}, got shape ${fmtShape(given)}`,
          { tensor: v.name },
        );
      }
      v.shape.forEach((d, i) => {
        if (typeof d === "number" && d !== given[i]) {
          throw new EdgeqError(
            "E_SHAPE",
            `input dim ${i} is fixed to ${d}, got shape ${fmtShape(given)}`,
            { tensor: v.name },
          );
        }
      });
      out.set(v.name, [...given]);
      continue;
    }
    out.set(
      v.name,
      v.shape.map((d, i) => {
        if (typeof d === "number") return d;
        if (i === 0) return batch;
        throw new EdgeqError(
          "E_SHAPE",
          `input dim ${i} is symbolic ('${d}'); give its shape explicitly`,
          { tensor: v.name },
        );
      }),
    );
  }
  return out;
}

/**
 * Binds input shapes, infers every value's shape and folds constant nodes.
 * Returns a new graph (the original is not modified; tensors are shared).
 *
 * @example
 * ```ts
 * const bound = bindGraph(importOnnx(bytes), { batch: 8 });
 * console.log(bound.values.get("logits")); // { dtype: "float32", shape: [8, 10] }
 * ```
 */
export function bindGraph(g: Graph, opts: BindOptions = {}): Graph {
  const consts = new Map<string, Tensor>(g.initializers);
  const values = new Map<string, TensorMeta>();
  for (const [k, t] of consts) values.set(k, { dtype: t.dtype, shape: t.shape });
  for (const [name, shape] of inputShapes(g, opts)) {
    const v = g.inputs.find((x) => x.name === name)!;
    values.set(name, { dtype: v.dtype, shape });
  }
  const kept: Node[] = [];
  for (const node of g.nodes) {
    const def = refOpFor(node);
    const ctx: OpContext = { node, opset: g.opset };
    if (!def) {
      throw new EdgeqError("E_UNSUPPORTED_OP", `unsupported op ${node.op}`, {
        node: node.name,
        op: node.op,
        opset: g.opset,
      });
    }
    const metas = node.inputs.map((n) => {
      if (!n) return undefined;
      const m = values.get(n);
      if (!m) {
        throw new EdgeqError("E_BAD_MODEL", `input '${n}' has no known value`, {
          node: node.name,
          op: node.op,
        });
      }
      return m;
    });
    const cins = node.inputs.map((n) => (n ? consts.get(n) : undefined));
    const allConst = node.inputs.every((n) => !n || consts.has(n));
    let outs: Tensor[] | undefined;
    if (node.op === "Shape" || node.op === "Size") {
      outs = [foldShapeOp(node, metas[0]!, g.opset)];
    } else if (allConst) {
      outs = def.run(cins, node.attrs, ctx);
    }
    if (outs) {
      node.outputs.forEach((o, i) => {
        if (!o) return;
        const t = outs![i];
        if (!t) {
          throw new EdgeqError("E_BAD_MODEL", `op produced no output ${i}`, {
            node: node.name,
            op: node.op,
          });
        }
        consts.set(o, t);
        values.set(o, { dtype: t.dtype, shape: t.shape });
      });
      continue;
    }
    const om = def.infer(metas, node.attrs, cins, ctx);
    node.outputs.forEach((o, i) => {
      if (!o) return;
      if (!om[i]) {
        throw new EdgeqError("E_BAD_MODEL", `op has no output ${i}`, {
          node: node.name,
          op: node.op,
        });
      }
      values.set(o, om[i]);
    });
    kept.push(node);
  }
  const bound: Graph = {
    ...g,
    nodes: kept,
    initializers: consts,
    values,
    blocks: [],
  };
  return pruneDead(bound);
}

function foldShapeOp(node: Node, m: TensorMeta, opset: number): Tensor {
  if (node.op === "Size") {
    return {
      dtype: "int64",
      shape: [],
      data: new Float64Array([m.shape.reduce((a, b) => a * b, 1)]),
    };
  }
  const r = m.shape.length;
  let start = opset >= 15 ? attrInt(node.attrs, "start", 0) : 0;
  let end = opset >= 15 ? attrInt(node.attrs, "end", r) : r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = Math.min(Math.max(start, 0), r);
  end = Math.min(Math.max(end, 0), r);
  const dims = m.shape.slice(start, Math.max(start, end));
  return { dtype: "int64", shape: [dims.length], data: Float64Array.from(dims) };
}

/** Drops nodes whose outputs are never used and initializers no node reads. */
export function pruneDead(g: Graph): Graph {
  const live = new Set<string>(g.outputs.map((o) => o.name));
  const nodes: Node[] = [];
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i];
    if (n.outputs.some((o) => o && live.has(o))) {
      nodes.push(n);
      for (const x of n.inputs) if (x) live.add(x);
    }
  }
  nodes.reverse();
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of g.initializers) if (live.has(k)) initializers.set(k, t);
  const values = new Map<string, TensorMeta>();
  for (const [k, m] of g.values) {
    if (live.has(k) || g.inputs.some((v) => v.name === k)) values.set(k, m);
  }
  return { ...g, nodes, initializers, values };
}
