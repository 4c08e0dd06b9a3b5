/**
 * The wasm backend ("wasm"): AssemblyScript kernels (SIMD, relaxed SIMD where the engine
 * has it), weights packed once, activations in one shared wasm memory, a worker pool
 * for threads. See compile.ts for how a graph runs.
 * @module
 */
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
    // (module (func (result v128) v128.const 0))
    const simd = new Uint8Array([
      0,
      97,
      115,
      109,
      1,
      0,
      0,
      0,
      1,
      5,
      1,
      96,
      0,
      1,
      123,
      3,
      2,
      1,
      0,
      10,
      22,
      1,
      20,
      0,
      253,
      12,
      ...new Array(16).fill(0),
      11,
    ]);
    return Promise.resolve(WebAssembly.validate(simd) ? null : "no WebAssembly SIMD");
  },
  compile(g: Graph, opts: BackendOptions): Promise<WasmCompiledGraph> {
    return compileWasm(g, opts as WasmOptions);
  },
};
