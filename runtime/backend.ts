/**
 * The backend contract. A backend compiles a bound graph (static shapes, as
 * {@link prepareGraph} returns it) once and runs it many times. The reference backend
 * wraps {@link execute}; the wasm and WebGPU backends live under kernels/ and must give
 * the same bits as the reference for every integer op (kernels/ref/quant/README.md).
 *
 * A backend module is loaded lazily, on the first {@link getBackend} for its name, so a
 * user of the ref backend never instantiates wasm or touches WebGPU.
 * @module
 */
import { EdgeqError } from "./errors.ts";
import type { Graph } from "./graph.ts";
import type { Tensor } from "./tensor.ts";
import { execute } from "./executor.ts";

/** Backends a model can run on. */
export type BackendName = "ref" | "wasm" | "webgpu";

/** Every backend name, in order of preference for integer models on a CPU. */
export const BACKEND_NAMES: readonly BackendName[] = ["ref", "wasm", "webgpu"];

/** Options a backend receives at compile time. */
export interface BackendOptions {
  /** Worker threads (wasm). Default: the core count. */
  threads?: number;
  /** Backend-specific switches (e.g. forcing a fallback code path in tests). */
  [key: string]: unknown;
}

/** Options of one run. */
export interface BackendRunOptions {
  /** Residual blocks to skip (gating): their output becomes the shortcut value. */
  skip?: ReadonlySet<number>;
}

/** A bound graph compiled for one backend. */
export interface CompiledGraph {
  /** Runs on the given feeds (already checked against the graph inputs). */
  run(
    feeds: Record<string, Tensor>,
    opts?: BackendRunOptions,
  ): Promise<Record<string, Tensor>>;
  /** Releases what the compiled graph holds (GPU buffers, wasm memory, workers). */
  dispose(): void;
}

/** A backend. */
export interface Backend {
  /** Its name. */
  readonly name: BackendName;
  /** Null when usable here, else why not (one line, shown to the user). */
  unavailable(): Promise<string | null>;
  /** Compiles a bound graph. Throws EdgeqError (E_UNSUPPORTED_OP, ...) naming the node. */
  compile(g: Graph, opts: BackendOptions): Promise<CompiledGraph>;
}

/** The reference backend: plain TypeScript, the oracle. */
export const refBackend: Backend = {
  name: "ref",
  unavailable: () => Promise.resolve(null),
  compile(g: Graph): Promise<CompiledGraph> {
    return Promise.resolve({
      run: (feeds, opts = {}) => Promise.resolve(execute(g, feeds, { skip: opts.skip })),
      dispose() {},
    });
  },
};

/** Lazy loaders, one line per backend. */
const LOADERS: Record<BackendName, () => Promise<Backend>> = {
  ref: () => Promise.resolve(refBackend),
  wasm: () => import("../kernels/wasm/backend.ts").then((m) => m.wasmBackend),
  webgpu: () => import("../kernels/webgpu/backend.ts").then((m) => m.webgpuBackend),
};

const loaded = new Map<BackendName, Promise<Backend>>();

/**
 * Returns a usable backend, or throws `E_BACKEND` saying why it cannot run here.
 *
 * @example
 * ```ts
 * const b = await getBackend("ref");
 * const compiled = await b.compile(bound, {});
 * ```
 */
export async function getBackend(name: string): Promise<Backend> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new EdgeqError(
      "E_BACKEND",
      `unknown backend '${name}' (one of ${BACKEND_NAMES.join(", ")})`,
    );
  }
  const key = name as BackendName;
  let p = loaded.get(key);
  if (!p) {
    p = LOADERS[key]();
    loaded.set(key, p);
  }
  let b: Backend;
  try {
    b = await p;
  } catch (e) {
    loaded.delete(key);
    throw new EdgeqError("E_BACKEND", `backend '${name}' cannot load: ${(e as Error).message}`);
  }
  const why = await b.unavailable();
  if (why) throw new EdgeqError("E_BACKEND", `backend '${name}' is not available here: ${why}`);
  return b;
}
