/**
 * Test helpers for the wasm kernels: build a bound graph out of independent nodes (each
 * with its own random inputs), run it on the reference executor and on the wasm backend
 * (a given build and thread count), and compare every output bit for bit.
 * @module
 */
import type { Attrs, Graph, Node } from "../../runtime/graph.ts";
import type { Tensor, TensorMeta } from "../../runtime/tensor.ts";
import { execute } from "../../runtime/executor.ts";
import { refOpFor } from "../ref/mod.ts";
import { compileWasm, type WasmCompiledGraph, type WasmOptions } from "./compile.ts";
import type { BuildName } from "./instance.ts";

/** One node of a test graph: its op, attributes and inputs (constant or fed). */
export interface TestNode {
  op: string;
  domain?: string;
  attrs: Attrs;
  /** Inputs in order; `undefined` for an omitted optional input (or one given by `from`). */
  inputs: ({ t: Tensor; constant?: boolean } | undefined)[];
  /** Input index → an earlier node of the list whose output that input is. */
  from?: Record<number, number>;
  /** The output is not a graph output (only later nodes read it). */
  internal?: boolean;
}

/**
 * A bound graph of independent nodes plus the feeds for its inputs.
 *
 * @example
 * ```ts
 * const { graph, feeds } = nodesGraph([{ op: "QRelu", domain: "edgeq", attrs: {}, inputs: [{ t: x }] }]);
 * ```
 */
export function nodesGraph(nodes: TestNode[]): { graph: Graph; feeds: Record<string, Tensor> } {
  const g: Graph = {
    name: "test",
    opset: 17,
    inputs: [],
    outputs: [],
    initializers: new Map(),
    nodes: [],
    values: new Map(),
    blocks: [],
  };
  const feeds: Record<string, Tensor> = {};
  nodes.forEach((tn, i) => {
    const node: Node = {
      name: `n${i}_${tn.op}`,
      op: tn.op,
      domain: tn.domain ?? "edgeq",
      inputs: [],
      outputs: [`y${i}`],
      attrs: tn.attrs,
    };
    const metas: (TensorMeta | undefined)[] = [];
    const consts: (Tensor | undefined)[] = [];
    tn.inputs.forEach((inp, j) => {
      const src = tn.from?.[j];
      if (src !== undefined) {
        node.inputs.push(`y${src}`);
        metas.push(g.values.get(`y${src}`));
        consts.push(undefined);
        return;
      }
      if (!inp) {
        node.inputs.push("");
        metas.push(undefined);
        consts.push(undefined);
        return;
      }
      const name = `x${i}_${j}`;
      node.inputs.push(name);
      const meta = { dtype: inp.t.dtype, shape: [...inp.t.shape] };
      g.values.set(name, meta);
      metas.push(meta);
      if (inp.constant) {
        g.initializers.set(name, inp.t);
        consts.push(inp.t);
      } else {
        g.inputs.push({ name, dtype: inp.t.dtype, shape: [...inp.t.shape] });
        feeds[name] = inp.t;
        consts.push(undefined);
      }
    });
    const [out] = refOpFor(node)!.infer(metas, node.attrs, consts, { node, opset: 17 });
    g.values.set(`y${i}`, out);
    if (!tn.internal) g.outputs.push({ name: `y${i}`, dtype: out.dtype, shape: [...out.shape] });
    g.nodes.push(node);
  });
  return { graph: g, feeds };
}

/**
 * The builds and thread counts the graph-level wasm tests run on: baseline and relaxed
 * SIMD, 1 and 2 threads (the kernel tests add the relaxed-pair build).
 */
export const TEST_CONFIGS: readonly { build: BuildName; threads: number }[] = [
  { build: "baseline", threads: 1 },
  { build: "relaxed", threads: 1 },
  { build: "baseline", threads: 2 },
  { build: "relaxed", threads: 2 },
];

/** A multiplier as the QAdd attributes take it (ref/quant/requant.ts quantizeMultiplier). */
export interface Mult {
  mult: number;
  shift: number;
}

/**
 * The attributes of a QAdd node: a's, b's and y's multipliers and the zero points.
 *
 * @example
 * ```ts
 * const attrs = qaddAttrs(quantizeMultiplier(0.5), quantizeMultiplier(0.3), quantizeMultiplier(0.8), 1, -3, 2);
 * ```
 */
export function qaddAttrs(
  a: Mult,
  b: Mult,
  y: Mult,
  aZp: number,
  bZp: number,
  yZp?: number,
): Attrs {
  const attrs: Attrs = {
    a_zp: aZp,
    b_zp: bZp,
    a_mult: a.mult,
    a_shift: a.shift,
    b_mult: b.mult,
    b_shift: b.shift,
    y_mult: y.mult,
    y_shift: y.shift,
  };
  if (yZp !== undefined) attrs.y_zp = yZp;
  return attrs;
}

/** A mismatch between the reference and the wasm backend. */
export interface Mismatch {
  node: string;
  index: number;
  ref: number;
  wasm: number;
  count: number;
}

/**
 * Runs the graph on ref and on wasm (`opts`) and returns the mismatching outputs (empty
 * when all bits agree; floats compare within `tol` absolute + relative when given).
 *
 * @example
 * ```ts
 * const bad = await compareWithRef(graph, feeds, { build: "baseline", threads: 2 });
 * ```
 */
export async function compareWithRef(
  graph: Graph,
  feeds: Record<string, Tensor>,
  opts: WasmOptions,
  tol = 0,
): Promise<{ mismatches: Mismatch[]; compiled: WasmCompiledGraph }> {
  const want = execute(graph, feeds);
  const c = await compileWasm(graph, opts);
  try {
    const got = await c.run(feeds);
    const mismatches: Mismatch[] = [];
    graph.nodes.forEach((n) => {
      const o = n.outputs[0];
      if (!(o in want)) return; // an internal value (TestNode.internal)
      const a = want[o].data, b = got[o].data;
      let count = 0, first = -1;
      for (let i = 0; i < a.length; i++) {
        const ok = tol === 0
          ? Object.is(a[i], b[i]) || a[i] === b[i]
          : Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(a[i]));
        if (!ok) {
          count++;
          if (first < 0) first = i;
        }
      }
      if (count || a.length !== b.length) {
        mismatches.push({
          node: `${n.name} ${JSON.stringify(summary(n.attrs))}`,
          index: first,
          ref: a[first],
          wasm: b[first],
          count,
        });
      }
    });
    return { mismatches, compiled: c };
  } finally {
    c.dispose();
  }
}

function summary(a: Attrs): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(a)) {
    if (Array.isArray(v) && v.length > 8) continue;
    out[k] = v;
  }
  return out;
}

/**
 * A seeded xorshift generator for test data.
 *
 * @example
 * ```ts
 * const r = new Rng(7);
 * r.int(0, 255);
 * ```
 */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed | 0 || 1;
  }
  /** Uniform u32. */
  u32(): number {
    let s = this.#s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.#s = s;
    return s >>> 0;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
  /** Float in [lo, hi). */
  float(lo: number, hi: number): number {
    return lo + (hi - lo) * (this.u32() / 2 ** 32);
  }
  /** One element of a list. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.u32() % xs.length];
  }
}
