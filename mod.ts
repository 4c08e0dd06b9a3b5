/**
 * edgeq: run quantized neural networks on edge devices and in browsers.
 *
 * The public API. Everything here is re-exported from the module that owns it.
 *
 * @example
 * ```ts
 * import { load } from "./mod.ts";
 * const model = await load("tests/fixtures/resnet14_op13.onnx");
 * const data = new Float32Array(28 * 28).fill(0.5);
 * const { logits } = await model.run({ input: { dtype: "float32", shape: [1, 1, 28, 28], data } });
 * console.log(logits.data);
 * ```
 * @module
 */

export { load, Model } from "./runtime/model.ts";
export type { BackendName, LoadOptions, RunOptions } from "./runtime/model.ts";
export { EdgeqError } from "./runtime/errors.ts";
export type { ErrorCode, ErrorWhere } from "./runtime/errors.ts";
export type { DType, Tensor, TensorData, TensorMeta } from "./runtime/tensor.ts";
export type { Attrs, Graph, Node, ResidualBlock, ValueInfo } from "./runtime/graph.ts";
export { importOnnx } from "./quantizer/onnx_import.ts";
export type { ImportOptions } from "./quantizer/onnx_import.ts";
export { prepareGraph } from "./runtime/prepare.ts";
export type { BindOptions } from "./runtime/bind.ts";
export { execute } from "./runtime/executor.ts";
export type { ExecOptions, NodeObserver } from "./runtime/executor.ts";
export { supportedOps } from "./kernels/ref/mod.ts";
export { imageBatch, loadIdxDir, parseIdx, parseNpy, parsePng } from "./runtime/data.ts";
export type { ImageSet, Normalise } from "./runtime/data.ts";
