/**
 * Calibration and range estimation: stream samples through the float reference
 * runtime, collect per-tensor / per-channel statistics, estimate clip ranges
 * (min/max, percentile, entropy, variance-clipped), derive scales, and compare the
 * estimators by layer-output Pearson similarity and whole-model fake-quant accuracy.
 *
 * @example
 * ```ts
 * import { collectStats, loadSamples, varianceClipped, scaleFor } from "./quantizer/calib/mod.ts";
 * const calib = collectStats(graph, await loadSamples("tests/fixtures/fmnist_calib"));
 * const qp = scaleFor(varianceClipped().estimate(calib.stats.get("input")!), 8);
 * ```
 *
 * @module
 */
export * from "./collect.ts";
export * from "./estimators.ts";
export * from "./fakequant.ts";
export * from "./histogram.ts";
export * from "./report.ts";
export * from "./source.ts";
export * from "./stats.ts";
export * from "./tails.ts";
