// The edgeq wasm kernels: one module, built twice (simd / simd + relaxed-simd).
// Memory is imported (shared between the worker threads); the kernels never allocate:
// every pointer comes from the planner in kernels/wasm/plan.ts.
export { decode_w, decode_w7, fill_row, fill_row7, pack_rows, pack_rows7, pack_w, pack_w7, prep_x, prep_x7 } from "./encode";
export { gemm, gemm7, gemm_cols, gemm_cols7, gemm_rows, gemm_rows7, peak_dot, peak_par } from "./gemm";
export { compact_rows, conv_direct, conv_gemm, conv_gemm7, conv_im2row, conv_scratch_bytes, im2row } from "./conv";
export { gap, maxpool_simd, pool } from "./pool";
export { dequantize, fclip, qadd, qadd_lut, qrelu, quantize } from "./elem";

/** 1 in the relaxed-simd build, 0 in the baseline. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
export { qmatmul_prep, qmatmul_prep4_par, qmatmul_rows4 } from "./matmul";
export { transpose } from "./layout";
export { erf, fbinary, layernorm, softmax } from "./float";
export { bgemm_rows, pack_bits } from "./binary";
export { dwconv } from "./dwconv";
export { dwconv8 } from "./dwconv8";
export { qlayernorm, qlut, qsoftmax, SM_16, SM_BYTES, SM_HI, SM_LO, SM_OK } from "./qnorm";
export { gemm_k4_rows, prep_k4, prep_k4_rows } from "./k4";
export { conv_k4, conv_k4_scratch_bytes } from "./convk4";
export { conv_dc, dc_corr_bytes, prep_dc, prep_dc1 } from "./convdc";
