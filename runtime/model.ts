/**
 * The user-facing model: load once, run many times with named inputs and get
 * named outputs (the onnxruntime-web style). Shapes are bound per distinct set of
 * input shapes and cached, so the batch size follows the inputs.
 */
import { EdgeqError } from "./errors.ts";
import type { Graph, ValueInfo } from "./graph.ts";
import { checkFeed, type ExecOptions, execute } from "./executor.ts";
import {
  type Backend,
  type BackendName,
  type CompiledGraph,
  getBackend,
  refBackend,
} from "./backend.ts";
import { prepareGraph } from "./prepare.ts";
import type { Tensor } from "./tensor.ts";
import { isPacked, loadPackedGraph } from "./packed_model.ts";
import { type BackendChoice, chooseBackend } from "../devices/choose.ts";
import { detectProfile } from "../devices/detect.ts";

/** `backend: "auto"` decisions of this process, by cache path. */
const autoChoice = new Map<string, Promise<BackendChoice>>();

export type { BackendName } from "./backend.ts";

/** Options of {@link load}. */
export interface LoadOptions {
  /** Execution backend: "ref" (plain TypeScript, the default), "wasm" or "webgpu". */
  backend?: BackendName | "auto";
  /**
   * With `backend: "auto"`: JSON file caching the measured backend probe per device
   * (devices/choose.ts). Without it the probe runs once per process and nothing is written.
   */
  autoCachePath?: string;
  /** Worker threads for the wasm backend (default: the core count). */
  threads?: number;
  /** Backend-specific options passed through to the backend's compile. */
  backendOptions?: Record<string, unknown>;
}

/** Options of {@link Model.run}. */
export interface RunOptions {
  /** Residual blocks to skip (gating); indices into {@link Model.blocks}. */
  skipBlocks?: Iterable<number>;
  /** Sees every node's outputs (ref backend only: it runs node by node in JS). */
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
  #impl: Backend;
  #opts: Record<string, unknown>;
  #bound = new Map<string, Graph>();
  #compiled = new Map<Graph, Promise<CompiledGraph>>();

  /** Wraps an imported graph; prefer {@link load}. */
  constructor(graph: Graph, backend: Backend = refBackend, opts: Record<string, unknown> = {}) {
    this.#graph = graph;
    this.inputs = graph.inputs;
    this.outputs = graph.outputs;
    this.backend = backend.name;
    this.#impl = backend;
    this.#opts = opts;
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
   * Runs the model on its backend (onnxruntime-web style: named inputs in, named
   * outputs out). The first run for a set of input shapes binds and compiles the graph;
   * later runs reuse it.
   *
   * @example
   * ```ts
   * const m = await load("tests/fixtures/resnet14_op13.onnx");
   * const { logits } = await m.run({ input: { dtype: "float32", shape: [1, 1, 28, 28], data } });
   * ```
   */
  async run(
    feeds: Record<string, Tensor>,
    opts: RunOptions = {},
  ): Promise<Record<string, Tensor>> {
    const g = this.#bind(feeds);
    const skip = opts.skipBlocks ? new Set(opts.skipBlocks) : undefined;
    if (opts.observe) {
      if (this.backend !== "ref") {
        throw new EdgeqError(
          "E_USAGE",
          `observe needs the ref backend (this model runs on ${this.backend})`,
        );
      }
      return execute(g, feeds, { skip, observe: opts.observe });
    }
    for (const v of g.inputs) checkFeed(g, v.name, feeds[v.name]);
    let c = this.#compiled.get(g);
    if (!c) {
      c = this.#impl.compile(g, this.#opts);
      this.#compiled.set(g, c);
      c.catch(() => this.#compiled.delete(g));
    }
    return (await c).run(feeds, { skip });
  }

  /**
   * Runs synchronously on the reference executor, whatever the backend (calibration,
   * tools, the oracle in tests).
   *
   * @example
   * ```ts
   * const { logits } = m.runSync({ input: x });
   * ```
   */
  runSync(feeds: Record<string, Tensor>, opts: RunOptions = {}): Record<string, Tensor> {
    const g = this.#bind(feeds);
    return execute(g, feeds, {
      skip: opts.skipBlocks ? new Set(opts.skipBlocks) : undefined,
      observe: opts.observe,
    });
  }

  /** Releases what the backend holds for this model (buffers, workers). */
  async dispose(): Promise<void> {
    const all = [...this.#compiled.values()];
    this.#compiled.clear();
    for (const c of all) {
      try {
        (await c).dispose();
      } catch { /* a failed compile holds nothing */ }
    }
  }

  #bind(feeds: Record<string, Tensor>): Graph {
    const shapes: Record<string, number[]> = {};
    for (const v of this.inputs) {
      const t = feeds[v.name];
      if (!t) throw new EdgeqError("E_INPUT", "missing input", { tensor: v.name });
      shapes[v.name] = t.shape;
    }
    return this.bound(shapes);
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
  let name = opts.backend ?? "ref";
  if (name === "auto") {
    const auto = autoChoice.get(opts.autoCachePath ?? "") ??
      chooseBackend(await detectProfile(), {
        cachePath: opts.autoCachePath,
        threads: opts.threads,
      });
    autoChoice.set(opts.autoCachePath ?? "", auto);
    auto.catch(() => autoChoice.delete(opts.autoCachePath ?? ""));
    name = (await auto).backend;
  }
  const backend = await getBackend(name);
  const bopts: Record<string, unknown> = { ...opts.backendOptions };
  if (opts.threads !== undefined) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) {
      throw new EdgeqError("E_USAGE", `threads must be a positive integer, got ${opts.threads}`);
    }
    bopts.threads = opts.threads;
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
  // The ONNX importer (protobufjs) loads only for ONNX input: a page that runs packed
  // files never downloads it.
  const graph = isPacked(bytes)
    ? loadPackedGraph(bytes, path).graph
    : (await import("../quantizer/onnx_import.ts")).importOnnx(bytes, { path });
  return new Model(graph, backend, bopts);
}
