/**
 * The wasm backend ("wasm"): AssemblyScript kernels (SIMD, relaxed SIMD where the engine
 * has it), weights packed once, activations in one shared wasm memory, a worker pool
 * for threads. See compile.ts for how a graph runs.
 * @module
 */
import { SIMD_PROBE, validates } from "./probes.ts";
import type { Backend, BackendOptions } from "../../runtime/backend.ts";
import type { Graph } from "../../runtime/graph.ts";
import { compileWasm, type WasmCompiledGraph, type WasmOptions } from "./compile.ts";

/**
 * The wasm backend.
 *
 * @example
 * ```ts
 * import { load } from "../../mod.ts";
 * const m = await load("model.eqp", { backend: "wasm", threads: 2 });
 * ```
 */
export const wasmBackend: Backend = {
  name: "wasm",
  unavailable(): Promise<string | null> {
    if (typeof WebAssembly === "undefined") return Promise.resolve("no WebAssembly");
    return Promise.resolve(validates(SIMD_PROBE) ? null : "no WebAssembly SIMD");
  },
  compile(g: Graph, opts: BackendOptions): Promise<WasmCompiledGraph> {
    return compileWasm(g, opts as WasmOptions);
  },
};
