/**
 * The user-facing model: load once, run many times with named inputs and get
 * named outputs (the onnxruntime-web style). Shapes are bound per distinct set of
 * input shapes and cached, so the batch size follows the inputs.
 */
import { EdgeqError } from "./errors.ts";
import type { Graph, ValueInfo } from "./graph.ts";
import { execute, type ExecOptions } from "./executor.ts";
import { prepareGraph } from "./prepare.ts";
import type { Tensor } from "./tensor.ts";
import { importOnnx } from "../quantizer/onnx_import.ts";
import { isPacked, loadPackedGraph } from "./packed_model.ts";

/** Backends a model can run on. */
export type BackendName = "ref";

/** Options of {@link load}. */
export interface LoadOptions {
  /** Execution backend. Only "ref" (plain TypeScript) exists so far. */
  backend?: BackendName;
}

/** Options of {@link Model.run}. */
export interface RunOptions {
  /** Residual blocks to skip (gating); indices into {@link Model.blocks}. */
  skipBlocks?: Iterable<number>;
  /** Sees every node's outputs. */
  observe?: ExecOptions["observe"];
}

/** A loaded model. */
export class Model {
  /** Graph inputs (dims may be symbolic until bound). */
  readonly inputs: readonly ValueInfo[];
  /** Graph outputs. */
  readonly outputs: readonly ValueInfo[];
  /** The backend this model runs on. */
  readonly backend: BackendName;
  #graph: Graph;
  #bound = new Map<string, Graph>();

  /** Wraps an imported graph; prefer {@link load}. */
  constructor(graph: Graph, backend: BackendName = "ref") {
    this.#graph = graph;
    this.inputs = graph.inputs;
    this.outputs = graph.outputs;
    this.backend = backend;
  }

  /** Names of the inputs, in order. */
  get inputNames(): string[] {
    return this.inputs.map((v) => v.name);
  }

  /** Names of the outputs, in order. */
  get outputNames(): string[] {
    return this.outputs.map((v) => v.name);
  }

  /** The graph bound to the given input shapes (cached). */
  bound(shapes: Record<string, number[]>): Graph {
    const key = this.inputs.map((v) => `${v.name}:${shapes[v.name]?.join("x")}`).join(";");
    let g = this.#bound.get(key);
    if (!g) {
      g = prepareGraph(this.#graph, { shapes });
      this.#bound.set(key, g);
    }
    return g;
  }

  /**
   * Runs the model.
   *
   * @example
   * ```ts
   * const m = await load("tests/fixtures/resnet14_op13.onnx");
   * const { logits } = m.run({ input: { dtype: "float32", shape: [1, 1, 28, 28], data } });
   * ```
   */
  run(feeds: Record<string, Tensor>, opts: RunOptions = {}): Record<string, Tensor> {
    const shapes: Record<string, number[]> = {};
    for (const v of this.inputs) {
      const t = feeds[v.name];
      if (!t) throw new EdgeqError("E_INPUT", "missing input", { tensor: v.name });
      shapes[v.name] = t.shape;
    }
    const g = this.bound(shapes);
    return execute(g, feeds, {
      skip: opts.skipBlocks ? new Set(opts.skipBlocks) : undefined,
      observe: opts.observe,
    });
  }
}

/**
 * Loads a model from a path or from bytes: a packed edgeq file (.eqp, recognised by its
 * magic; tensor data are views over the bytes, not copies) or an ONNX model (float).
 * Needs `--allow-read` for paths; nothing else.
 *
 * @example
 * ```ts
 * import { load } from "./mod.ts";
 * const model = await load("tests/fixtures/resnet14_op13.onnx");
 * console.log(model.inputNames, model.outputNames);
 * ```
 */
export async function load(src: string | Uint8Array, opts: LoadOptions = {}): Promise<Model> {
  const backend = opts.backend ?? "ref";
  if (backend !== "ref") {
    throw new EdgeqError("E_BACKEND", `backend '${backend}' is not available`);
  }
  const path = typeof src === "string" ? src : undefined;
  let bytes: Uint8Array;
  if (typeof src === "string") {
    try {
      bytes = await Deno.readFile(src);
    } catch (e) {
      throw new EdgeqError("E_USAGE", `cannot read model: ${(e as Error).message}`, { path });
    }
  } else bytes = src;
  if (isPacked(bytes)) return new Model(loadPackedGraph(bytes, path).graph, backend);
  return new Model(importOnnx(bytes, { path }), backend);
}
