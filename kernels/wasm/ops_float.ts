/**
 * Float islands on f32 wasm kernels (Softmax, LayerNormalization, Erf/GELU, elementwise
 * arithmetic): compiled here when the node has a kernel, else undefined (the reference op
 * runs).
 * @module
 */
import type { CompileCtx, Step } from "./step.ts";

/** A float-island node compiler (undefined: no wasm kernel for it). */
export function compileFloat(_c: CompileCtx): Step | undefined {
  return undefined;
}
