/**
 * The float "nn" reference ops (convolutions, matrix products, pooling,
 * normalisations, softmax family), merged into one record by ONNX op type.
 *
 * Every op computes on float32/float64 tensors, accumulates in float64 and rounds
 * once to the output dtype.
 *
 * @example
 * ```ts
 * import { NN_OPS } from "./nn.ts";
 * const node = { name: "c", op: "Conv", domain: "", inputs: [], outputs: [], attrs: {} };
 * const [y] = NN_OPS.Conv.run([x, w], {}, { node, opset: 17 });
 * ```
 */
import type { OpDef } from "./op.ts";
import { Conv } from "./conv.ts";
import { ConvTranspose } from "./conv_transpose.ts";
import { Gemm } from "./gemm.ts";
import { MatMul } from "./matmul.ts";
import { AveragePool, MaxPool } from "./pool.ts";
import { GlobalAveragePool, GlobalMaxPool } from "./global_pool.ts";
import { BatchNormalization } from "./batch_norm.ts";
import { InstanceNormalization } from "./instance_norm.ts";
import { LayerNormalization } from "./layer_norm.ts";
import { Hardmax, LogSoftmax, Softmax } from "./softmax.ts";
import { LpNormalization } from "./lp_norm.ts";
import { LRN, MeanVarianceNormalization } from "./local_norm.ts";

/** The nn reference ops by ONNX op type (default domain). */
export const NN_OPS: Record<string, OpDef> = {
  Conv,
  ConvTranspose,
  Gemm,
  MatMul,
  MaxPool,
  AveragePool,
  GlobalAveragePool,
  GlobalMaxPool,
  BatchNormalization,
  InstanceNormalization,
  LayerNormalization,
  Softmax,
  LogSoftmax,
  Hardmax,
  LpNormalization,
  LRN,
  MeanVarianceNormalization,
};
