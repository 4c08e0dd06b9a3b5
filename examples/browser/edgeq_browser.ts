/**
 * The browser entry of edgeq: what a web page needs to load a packed (.eqp) or ONNX
 * model from bytes and run it on the ref, wasm or WebGPU backend. `deno task bundle`
 * turns it into `dist/edgeq_browser.js` (ESM); nothing here touches `Deno.*` at import
 * time, and models are given as bytes (the page fetches them).
 *
 * @example
 * ```ts
 * import { load } from "./edgeq_browser.js";
 * const bytes = new Uint8Array(await (await fetch("r14.eqp")).arrayBuffer());
 * const model = await load(bytes, { backend: "wasm", threads: 2 });
 * const data = new Float32Array(28 * 28).fill(0.5);
 * const { logits } = await model.run({ input: { dtype: "float32", shape: [1, 1, 28, 28], data } });
 * ```
 * @module
 */

export { load, Model } from "../../runtime/model.ts";
export type { BackendName, LoadOptions, RunOptions } from "../../runtime/model.ts";
export { EdgeqError } from "../../runtime/errors.ts";
export type { ErrorCode, ErrorWhere } from "../../runtime/errors.ts";
export type { DType, Tensor, TensorData, TensorMeta } from "../../runtime/tensor.ts";
export { imageBatch, parseIdx } from "../../runtime/data.ts";
export type { ImageSet, Normalise } from "../../runtime/data.ts";
export { getBackend } from "../../runtime/backend.ts";
export { detectProfile } from "../../devices/detect.ts";
export type { DeviceProfile } from "../../devices/detect.ts";
