/**
 * Prints the per-layer range-estimator similarity table and the whole-model
 * fake-quant accuracy of each estimator.
 *
 * ```sh
 * deno run --allow-read quantizer/calib/report_cli.ts <model.onnx> --calib DIR \
 *   [--limit N] [--eval DIR] [--eval-limit N] [--holdout F] [--symmetric] \
 *   [--model-bits 8,4] [--alpha A] [--beta B] [--percentile P] [--json]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { importOnnx } from "../onnx_import.ts";
import { BoundGraphs } from "./collect.ts";
import { entropy, minMax, percentile, varianceClipped } from "./estimators.ts";
import { calibrationReport, modelAgreement, renderAgreement, renderSimilarity } from "./report.ts";
import { loadSamples } from "./source.ts";

/** Runs the CLI with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      calib: { type: "string" },
      limit: { type: "string" },
      eval: { type: "string" },
      "eval-limit": { type: "string" },
      holdout: { type: "string" },
      symmetric: { type: "boolean" },
      "model-bits": { type: "string" },
      alpha: { type: "string" },
      beta: { type: "string" },
      percentile: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const model = positionals[0];
  if (!model || !o.calib) {
    console.error("usage: report_cli.ts <model.onnx> --calib DIR [--limit N] [--eval DIR]");
    return 2;
  }
  const num = (s: string | undefined, d: number) => (s === undefined ? d : Number(s));
  const graph = importOnnx(await Deno.readFile(model), { path: model });
  const graphs = new BoundGraphs(graph);
  const sampleShape = graphs.get(1).values.get(graph.inputs[0].name)!.shape.slice(1);
  const estimators = [
    minMax(),
    percentile({ percentile: num(o.percentile, 99.99) }),
    entropy(),
    varianceClipped({ alpha: num(o.alpha, 1), beta: num(o.beta, 1) }),
  ];
  const symmetric = o.symmetric ?? false;
  const calibSet = await loadSamples(o.calib, { limit: num(o.limit, 512), sampleShape });
  let t0 = performance.now();
  const { calib, report } = calibrationReport(graphs, calibSet, {
    estimators,
    symmetric,
    holdout: num(o.holdout, 0.25),
  });
  const tRep = (performance.now() - t0) / 1000;
  const out: Record<string, unknown> = { model, report };
  if (!o.json) {
    console.log(
      `model ${model}: ${calib.tensors.length} observed tensors, ` +
        `${calib.samples} calibration samples (${tRep.toFixed(1)} s)`,
    );
    console.log(renderSimilarity(report));
  }
  if (o.eval) {
    const evalSet = await loadSamples(o.eval, { limit: num(o["eval-limit"], 1000), sampleShape });
    t0 = performance.now();
    const bits = (o["model-bits"] ?? "8").split(",").map(Number);
    const agr = modelAgreement(graphs, calib, evalSet, { estimators, symmetric, bits });
    out.agreement = agr;
    if (!o.json) {
      console.log(
        `\nwhole model, every observed activation fake-quantized ` +
          `(${((performance.now() - t0) / 1000).toFixed(1)} s):`,
      );
      console.log(renderAgreement(agr));
    }
  }
  if (o.json) {
    console.log(JSON.stringify(out, (_, v) => (v instanceof Float64Array ? [...v] : v), 1));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
