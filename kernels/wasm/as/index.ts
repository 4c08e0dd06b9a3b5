// The edgeq wasm kernels: one module, built twice (simd / simd + relaxed-simd).
// Memory is imported (shared between the worker threads); the kernels never allocate:
// every pointer comes from the planner in kernels/wasm/plan.ts.
export { decode_w, fill_row, pack_rows, pack_w, prep_x } from "./encode";
export { gemm, gemm_cols, gemm_rows, peak_dot, peak_par } from "./gemm";
export { conv_direct, conv_gemm, conv_scratch_bytes, im2row } from "./conv";
export { gap, maxpool_simd, pool } from "./pool";
export { dequantize, fclip, qadd, qrelu, quantize } from "./elem";

/** 1 in the relaxed-simd build, 0 in the baseline. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
export { qmatmul_prep } from "./matmul";
export { transpose } from "./layout";
export { erf, fbinary, layernorm, softmax } from "./float";
export { bgemm_rows, pack_bits } from "./binary";
export { dwconv } from "./dwconv";
