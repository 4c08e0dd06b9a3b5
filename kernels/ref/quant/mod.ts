/**
 * The integer-only reference ops (ONNX domain "edgeq"): the oracle the wasm and WebGPU
 * backends are checked against bit for bit. The contract (inputs, attributes, exact
 * arithmetic) is in README.md beside this file; the fixed-point requantization every op
 * shares is in requant.ts.
 *
 * @example
 * ```ts
 * import { QUANT_OPS } from "./mod.ts";
 * const op = QUANT_OPS["QConv"]; // an OpDef: op.infer(...), op.run(...)
 * ```
 * @module
 */
import type { OpDef } from "../op.ts";
import { DequantizeLinear8, QuantizeLinear8 } from "./quantize.ts";
import { QConv } from "./qconv.ts";
import { QGemm, QMatMul } from "./qgemm.ts";
import { QAdd, QRelu } from "./qadd.ts";
import { QAveragePool, QGlobalAveragePool, QMaxPool } from "./qpool.ts";
import { QLut } from "./qlut.ts";
import { QSoftmax } from "./qsoftmax.ts";
import { QLayerNorm } from "./qlayernorm.ts";

export {
  ADD_LEFT_SHIFT,
  type AddMultipliers,
  addMultipliers,
  divRoundHalfAway,
  multiplierValue,
  multiplyByQuantizedMultiplier,
  quantizedAdd,
  type QuantizedMultiplier,
  quantizeMultiplier,
  requantize,
  roundHalfAway,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
} from "./requant.ts";

/** The ONNX domain of the quantized ops. */
export const QUANT_DOMAIN = "edgeq";

/** Every quantized reference op (domain {@link QUANT_DOMAIN}), by op type. */
export const QUANT_OPS: Readonly<Record<string, OpDef>> = {
  QuantizeLinear8,
  DequantizeLinear8,
  QConv,
  QGemm,
  QMatMul,
  QAdd,
  QRelu,
  QMaxPool,
  QAveragePool,
  QGlobalAveragePool,
  QLut,
  QSoftmax,
  QLayerNorm,
};
