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
 *
 * // Quantize a float ONNX model with calibration images, then run it on the wasm backend.
 * import { loadSamples, quantize } from "./mod.ts";
 * const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 512 });
 * const { bytes } = quantize(await Deno.readFile("tests/fixtures/resnet14_op13.onnx"), calib);
 * const int8 = await load(bytes, { backend: "wasm", threads: 2 });
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
export { getBackend } from "./runtime/backend.ts";
export type { Backend, BackendOptions, CompiledGraph } from "./runtime/backend.ts";
export { METHODS, quantize } from "./quantizer/quantize.ts";
export type { LayerInfo, Method, QuantizeOptions, QuantizeResult } from "./quantizer/quantize.ts";
export { imageSamples, loadSamples } from "./quantizer/calib/source.ts";
export type { LoadSamplesOptions, SampleSet } from "./quantizer/calib/source.ts";
export { calibrationReport, renderSimilarity } from "./quantizer/calib/report.ts";
export type { SimilarityReport } from "./quantizer/calib/report.ts";
export { readPacked } from "./runtime/format/reader.ts";
export type { PackedFile, ReadOptions } from "./runtime/format/reader.ts";
export { writePacked, writePackedFile } from "./runtime/format/writer.ts";
export { LAYOUTS, pack, unpack } from "./runtime/format/layouts.ts";
export type { LayoutName } from "./runtime/format/layouts.ts";
export { exportQdq } from "./quantizer/export_qdq.ts";
export type { ExportQdqOptions, ExportQdqResult } from "./quantizer/export_qdq.ts";
export { detectGpu, detectProfile } from "./devices/detect.ts";
export type { DeviceProfile, GpuProfile } from "./devices/detect.ts";
export { chooseBackend, deviceKey } from "./devices/choose.ts";
export type { BackendChoice, ChooseOptions } from "./devices/choose.ts";
export { NAMED_PROFILES } from "./devices/profiles.ts";
export type { NamedProfile } from "./devices/profiles.ts";
export type { LayerTime, WebGpuCompiledGraph, WebGpuInfo } from "./kernels/webgpu/backend.ts";
export { hasRelaxedSimd } from "./kernels/wasm/instance.ts";
export type { WasmCompiledGraph, WasmOptions } from "./kernels/wasm/compile.ts";
