/**
 * Calibration: streams sample batches through the float reference runtime
 * (`execute` with an `observe` hook) and accumulates, for each observed tensor,
 * the streaming statistics of {@link TensorStatsCollector}. Which tensors are
 * observed is a parameter (by op type of the producing node, or by name).
 */
import type { Graph, Node } from "../../runtime/graph.ts";
import { execute } from "../../runtime/executor.ts";
import { prepareGraph } from "../../runtime/prepare.ts";
import type { Tensor } from "../../runtime/tensor.ts";
import type { SampleSet } from "./source.ts";
import { type TensorStats, TensorStatsCollector } from "./stats.ts";

/** Op types whose outputs are observed by default (the tensors a quantized runtime requantizes). */
export const DEFAULT_OBSERVED_OPS: readonly string[] = [
  "Conv",
  "ConvTranspose",
  "Gemm",
  "MatMul",
  "Add",
  "Mul",
  "Relu",
  "Clip",
  "LayerNormalization",
  "Softmax",
  "GlobalAveragePool",
  "AveragePool",
  "MaxPool",
];

/** A tensor chosen for observation. */
export interface ObservedTensor {
  /** Tensor name. */
  name: string;
  /** Producing op type, or "input" for a graph input. */
  op: string;
  /** Producing node name ("" for a graph input). */
  node: string;
}

/** Which tensors to observe. */
export interface SelectOptions {
  /** Op types whose (float) outputs are observed. Default {@link DEFAULT_OBSERVED_OPS}. */
  ops?: readonly string[];
  /** Explicit tensor names; when given, only these are observed (overrides `ops`/`inputs`). */
  tensors?: readonly string[];
  /** Observe the graph inputs too. Default true. */
  inputs?: boolean;
}

/** Options of {@link collectStats}. */
export interface CollectOptions extends SelectOptions {
  /** Batch size for the forward passes. Default 32. */
  batchSize?: number;
  /**
   * Channel axis for per-channel statistics: a function of the tensor shape, a
   * fixed axis, or null for none. Default {@link defaultChannelAxis}.
   */
  channelAxis?: ((shape: number[]) => number | null) | number | null;
  /** Tail size as a fraction of each tensor's value count. Default 1e-3. */
  tailFraction?: number;
  /** Smallest tail size. Default 8. */
  minTail?: number;
  /** Histogram bins per sign. Default 2048. */
  bins?: number;
}

/** Result of {@link collectStats}. */
export interface CalibStats {
  /** Observed tensors, in graph order. */
  tensors: ObservedTensor[];
  /** Statistics by tensor name. */
  stats: Map<string, TensorStats>;
  /** Number of samples seen. */
  samples: number;
}

/**
 * Default channel axis: 1 for NCHW (rank 4) and rank-2 [N, C] tensors, the last
 * axis for [N, T, D] (rank 3), none for other ranks.
 */
export function defaultChannelAxis(shape: number[]): number | null {
  if (shape.length === 4 || shape.length === 2) return 1;
  if (shape.length === 3) return 2;
  return null;
}

/** Caches graphs bound to a batch size (node and tensor names do not depend on it). */
export class BoundGraphs {
  #g: Graph;
  #cache = new Map<number, Graph>();
  /** Wraps an imported (unbound) graph. */
  constructor(graph: Graph) {
    this.#g = graph;
  }
  /** The graph prepared for `batch` samples. */
  get(batch: number): Graph {
    let g = this.#cache.get(batch);
    if (!g) {
      g = prepareGraph(this.#g, { batch });
      this.#cache.set(batch, g);
    }
    return g;
  }
}

/**
 * The tensors of a bound graph to observe, in graph order.
 *
 * @example
 * ```ts
 * selectTensors(bound, { ops: ["Conv", "Relu"], inputs: false });
 * ```
 */
export function selectTensors(g: Graph, opts: SelectOptions = {}): ObservedTensor[] {
  const out: ObservedTensor[] = [];
  const isFloat = (name: string) => g.values.get(name)?.dtype === "float32";
  if (opts.tensors) {
    const want = new Set(opts.tensors);
    for (const v of g.inputs) {
      if (want.has(v.name)) out.push({ name: v.name, op: "input", node: "" });
    }
    for (const n of g.nodes) {
      for (const o of n.outputs) {
        if (o && want.has(o)) out.push({ name: o, op: n.op, node: n.name });
      }
    }
    return out;
  }
  const ops = new Set(opts.ops ?? DEFAULT_OBSERVED_OPS);
  if (opts.inputs ?? true) {
    for (const v of g.inputs) {
      if (isFloat(v.name)) out.push({ name: v.name, op: "input", node: "" });
    }
  }
  for (const n of g.nodes) {
    if (!ops.has(n.op)) continue;
    const o = n.outputs[0];
    if (o && isFloat(o)) out.push({ name: o, op: n.op, node: n.name });
  }
  return out;
}

/** The name of the (single) graph input a sample set feeds. */
export function inputName(g: Graph): string {
  return g.inputs[0].name;
}

/** Runs `visit` over every batch of `set`. */
export function forEachBatch(
  set: SampleSet,
  batchSize: number,
  visit: (x: Tensor, start: number) => void,
): void {
  for (let s = 0; s < set.n; s += batchSize) visit(set.batch(s, Math.min(batchSize, set.n - s)), s);
}

/**
 * Collects per-tensor (and per-channel) statistics of the observed tensors over
 * every sample of `set`. Tail sizes are fixed up front from `set.n` times each
 * tensor's per-sample size.
 *
 * @example
 * ```ts
 * const graph = importOnnx(await Deno.readFile("tests/fixtures/resnet14_op13.onnx"));
 * const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 64 });
 * const { stats, tensors } = collectStats(graph, calib);
 * ```
 */
export function collectStats(
  graph: Graph | BoundGraphs,
  set: SampleSet,
  opts: CollectOptions = {},
): CalibStats {
  const graphs = graph instanceof BoundGraphs ? graph : new BoundGraphs(graph);
  const bs = Math.max(1, Math.min(opts.batchSize ?? 32, set.n));
  const first = graphs.get(bs);
  const tensors = selectTensors(first, opts);
  const axisOf = (shape: number[]) =>
    typeof opts.channelAxis === "function"
      ? opts.channelAxis(shape)
      : opts.channelAxis === undefined
      ? defaultChannelAxis(shape)
      : opts.channelAxis;
  const collectors = new Map<string, TensorStatsCollector>();
  for (const t of tensors) {
    const shape = first.values.get(t.name)!.shape;
    const perSample = shape.slice(1).reduce((a, d) => a * d, 1);
    collectors.set(
      t.name,
      new TensorStatsCollector(t.name, {
        expectedCount: perSample * set.n,
        tailFraction: opts.tailFraction,
        minTail: opts.minTail,
        bins: opts.bins,
        channelAxis: axisOf(shape),
      }),
    );
  }
  const inName = inputName(first);
  forEachBatch(set, bs, (x) => {
    const g = graphs.get(x.shape[0]);
    collectors.get(inName)?.add(x.data, x.shape);
    execute(g, { [inName]: x }, {
      observe: (node: Node, outs: Tensor[]) => {
        node.outputs.forEach((o, k) => {
          const c = o ? collectors.get(o) : undefined;
          if (c && outs[k]) c.add(outs[k].data, outs[k].shape);
        });
      },
    });
  });
  const stats = new Map<string, TensorStats>();
  for (const [name, c] of collectors) stats.set(name, c.finish());
  return { tensors, stats, samples: set.n };
}
