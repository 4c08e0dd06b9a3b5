/**
 * The edgeq command line: `deno task edgeq <eval|run|inspect|demo> ...`.
 *
 *   eval <model> --data DIR [--limit N] [--batch B] [--backend ref|wasm|webgpu] [--threads N] [--mean M --std S] [--json]
 *   run <model> --input <file.npy|file.png|idx:DIR:i> [--json]
 *   quantize <model.onnx> --calib DIR --out FILE.eqp [--method variance|minmax|percentile|entropy]
 *            [--calib-limit N] [--weight-bits 2..8] [--report] [--compress manifest|all|none] [--json]
 *   inspect <model> [--json]
 *   export-onnx <model.eqp> --out FILE.onnx
 *   devices [--json]
 *   demo
 */
import { parseArgs } from "node:util";
import { EdgeqError } from "./runtime/errors.ts";
import { type BackendName, load, type Model } from "./runtime/model.ts";
import { imageBatch, loadIdxDir, parseNpy, parsePng } from "./runtime/data.ts";
import { fmtShape, type Tensor } from "./runtime/tensor.ts";
import { prepareGraph } from "./runtime/prepare.ts";
import { importOnnx } from "./quantizer/onnx_import.ts";
import { type Method, METHODS, quantize } from "./quantizer/quantize.ts";
import { loadSamples } from "./quantizer/calib/source.ts";
import {
  calibrationReport,
  renderSimilarity,
  type SimilarityReport,
} from "./quantizer/calib/report.ts";
import { writePackedFile } from "./runtime/format/writer.ts";
import { isPacked } from "./runtime/packed_model.ts";
import { exportQdq } from "./quantizer/export_qdq.ts";
import { devicesCommand } from "./devices/report.ts";
import { readPacked } from "./runtime/format/reader.ts";

const USAGE = `usage: deno task edgeq <command> [options]
  quantize <model.onnx> --calib DIR --out FILE.eqp [--method variance|minmax|percentile|entropy]
           [--calib-limit N] [--weight-bits 2..8] [--report] [--compress manifest|all|none] [--json]
           (--compress all deflates the tensor data too: smaller file, but load copies it)
  eval <model.onnx|model.eqp> --data DIR [--limit N] [--batch B] [--backend ref|wasm|webgpu] [--threads N] [--mean M --std S] [--json]
  run <model.onnx|model.eqp> --input <file.npy|file.png|idx:DIR:i> [--mean M --std S] [--json]
  inspect <model.onnx|model.eqp> [--json]
  export-onnx <model.eqp> --out FILE.onnx    (standard ONNX QDQ with edgeq's scales)
  devices [--json] [--probe [--cache FILE]]  (this device's profile; --probe: the "auto" backend choice)
  demo`;

/** Result of {@link evaluate}. */
export interface EvalResult {
  top1: number;
  n: number;
  correct: number;
  backend: BackendName;
  ms_per_image: number;
  model: string;
}

function imageInput(model: Model, rows: number, cols: number): { name: string; channels: number } {
  if (model.inputs.length !== 1) {
    throw new EdgeqError(
      "E_USAGE",
      `eval needs a model with one image input; this one has ${model.inputs.length} inputs`,
    );
  }
  const v = model.inputs[0];
  const s = v.shape;
  const ok = v.dtype === "float32" && s.length === 4 &&
    (typeof s[2] !== "number" || s[2] === rows) && (typeof s[3] !== "number" || s[3] === cols) &&
    typeof s[1] === "number";
  if (!ok) {
    throw new EdgeqError(
      "E_USAGE",
      `model input is ${v.dtype} [${s.join(",")}], not an image batch [N,C,${rows},${cols}] ` +
        `matching the data`,
      { tensor: v.name },
    );
  }
  return { name: v.name, channels: s[1] as number };
}

/** Top-1 accuracy of a classifier on an IDX folder. */
export async function evaluate(
  modelPath: string,
  dataDir: string,
  opts: {
    limit?: number;
    batch?: number;
    backend?: BackendName;
    threads?: number;
    mean?: number;
    std?: number;
  } = {},
): Promise<EvalResult> {
  const m = await load(modelPath, { backend: opts.backend, threads: opts.threads });
  try {
    return await evaluateModel(m, modelPath, dataDir, opts);
  } finally {
    await m.dispose();
  }
}

/** Top-1 accuracy of an already loaded classifier on an IDX folder. */
export async function evaluateModel(
  model: Model,
  modelName: string,
  dataDir: string,
  opts: { limit?: number; batch?: number; mean?: number; std?: number } = {},
): Promise<EvalResult> {
  const set = await loadIdxDir(dataDir, opts.limit);
  const { name, channels } = imageInput(model, set.rows, set.cols);
  const batch = Math.max(1, opts.batch ?? 50);
  let correct = 0, ms = 0;
  for (let s = 0; s < set.n; s += batch) {
    const count = Math.min(batch, set.n - s);
    const x = imageBatch(set, s, count, channels, opts);
    const t0 = performance.now();
    const out = (await model.run({ [name]: x }))[model.outputNames[0]];
    ms += performance.now() - t0;
    const classes = out.data.length / count;
    for (let i = 0; i < count; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (out.data[i * classes + c] > out.data[i * classes + best]) best = c;
      }
      if (best === set.labels[s + i]) correct++;
    }
  }
  return {
    top1: set.n ? correct / set.n : 0,
    n: set.n,
    correct,
    backend: model.backend,
    ms_per_image: set.n ? ms / set.n : 0,
    model: modelName,
  };
}

async function readInput(spec: string, model: Model, mean?: number, std?: number): Promise<Tensor> {
  const v = model.inputs[0];
  if (spec.startsWith("idx:")) {
    const m = /^idx:(.+):(\d+)$/.exec(spec);
    if (!m) throw new EdgeqError("E_USAGE", `--input idx:DIR:i expected, got '${spec}'`);
    const set = await loadIdxDir(m[1]);
    const i = Number(m[2]);
    if (i >= set.n) throw new EdgeqError("E_USAGE", `image ${i} out of range (${set.n} images)`);
    return imageBatch(set, i, 1, imageInput(model, set.rows, set.cols).channels, { mean, std });
  }
  const bytes = await Deno.readFile(spec);
  if (spec.endsWith(".npy")) {
    const t = parseNpy(bytes, spec);
    if (t.dtype === "float64" && v.dtype === "float32") {
      return { dtype: "float32", shape: t.shape, data: Float32Array.from(t.data) };
    }
    return t;
  }
  if (spec.endsWith(".png")) {
    const img = parsePng(bytes, spec);
    const { channels } = imageInput(model, img.height, img.width);
    // Grey PNG into any channel count; RGB PNG needs 3 channels.
    if (img.channels !== 1 && img.channels !== channels) {
      throw new EdgeqError("E_USAGE", `PNG has ${img.channels} channels, model wants ${channels}`);
    }
    const hw = img.width * img.height;
    const data = new Float32Array(channels * hw);
    for (let c = 0; c < channels; c++) {
      for (let j = 0; j < hw; j++) {
        const p = img.pixels[j * img.channels + (img.channels === 1 ? 0 : c)];
        data[c * hw + j] = (p / 255 - (mean ?? 0)) / (std ?? 1);
      }
    }
    return { dtype: "float32", shape: [1, channels, img.height, img.width], data };
  }
  throw new EdgeqError("E_USAGE", `--input must be .npy, .png or idx:DIR:i, got '${spec}'`);
}

function inspectPacked(path: string, bytes: Uint8Array) {
  const f = readPacked(bytes, { path });
  const m = f.model as { layers?: { node: string; op: string; bits: number; params: number }[] };
  let tensorBytes = 0;
  for (const t of f.tensors.values()) tensorBytes += t.bytes.length;
  return {
    model: path,
    kind: "eqp",
    bytes: bytes.length,
    version: `${f.version.major}.${f.version.minor}`,
    producer: f.producer,
    checksums_ok: f.checksumsOk,
    zero_copy: f.zeroCopy,
    sections: f.sections,
    tensors: f.tensors.size,
    tensor_bytes: tensorBytes,
    layers: m.layers ?? [],
  };
}

function inspect(path: string, bytes: Uint8Array) {
  const g = importOnnx(bytes, { path });
  const b = prepareGraph(g, { batch: 1 });
  const ops: Record<string, number> = {};
  for (const n of b.nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  let params = 0;
  for (const t of b.initializers.values()) params += t.data.length;
  return {
    model: path,
    kind: "onnx",
    bytes: bytes.length,
    opset: g.opset,
    inputs: g.inputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })),
    outputs: g.outputs.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape })),
    imported_nodes: g.nodes.length,
    executed_nodes: b.nodes.length,
    params,
    ops,
    residual_blocks: b.blocks.map((x) => ({
      index: x.index,
      input: x.input,
      output: x.output,
      nodes: x.nodes.length,
      shortcut_nodes: x.shortcutNodes.length,
    })),
  };
}

async function demo() {
  const onnxPath = "tests/fixtures/resnet14_op13.onnx";
  const data = "tests/fixtures/fmnist";
  console.log(
    "edgeq demo: ResNet-14 (Fashion-MNIST), float vs int8, bundled 1,000-image test slice\n",
  );
  const onnxBytes = await Deno.readFile(onnxPath);
  const calib = await loadSamples("tests/fixtures/fmnist_calib", { limit: 512 });
  const t0 = performance.now();
  const q = quantize(onnxBytes, calib, { method: "variance" });
  const qs = (performance.now() - t0) / 1000;
  console.log(
    `quantized with ${calib.n} calibration images (variance-clipped ranges) in ${qs.toFixed(1)} s`,
  );
  const ref = JSON.parse(await Deno.readTextFile("tests/fixtures/resnet14.json"));
  const rows: [string, string, number, EvalResult][] = [];
  rows.push(["float ONNX", "ref", onnxBytes.length, await evaluate(onnxPath, data)]);
  let wasm: Model | undefined;
  try {
    wasm = await load(q.bytes, { backend: "wasm" });
  } catch (e) {
    console.log(`(wasm backend skipped: ${(e as Error).message})`);
  }
  // The integer reference is slow (it is the oracle): time it on 200 images when the
  // wasm backend is there, and check that both give the same bits on those images.
  const refModel = await load(q.bytes);
  const limit = wasm ? 200 : undefined;
  rows.push([
    "int8 edgeq",
    "ref",
    q.bytes.length,
    await evaluateModel(refModel, "int8", data, { limit }),
  ]);
  if (wasm) {
    rows.push(["int8 edgeq", "wasm", q.bytes.length, await evaluateModel(wasm, "int8", data)]);
    const set = await loadIdxDir(data, 200);
    const x = imageBatch(set, 0, 200, 1);
    const a = (await refModel.run({ input: x })).logits.data;
    const b = (await wasm.run({ input: x })).logits.data;
    const same = a.every((v, i) => Object.is(v, b[i]));
    console.log(`int8 ref vs wasm on 200 images: ${same ? "bit-identical logits" : "MISMATCH"}`);
    await wasm.dispose();
  }
  console.log("\nmodel         backend    bytes    size   top-1  images  ms/image");
  for (const [name, backend, bytes, r] of rows) {
    console.log(
      `${name.padEnd(13)} ${backend.padEnd(7)} ${String(bytes).padStart(8)} ${
        (bytes / onnxBytes.length).toFixed(3).padStart(7)
      } ${(100 * r.top1).toFixed(2).padStart(6)}% ${String(r.n).padStart(7)} ${
        r.ms_per_image.toFixed(3).padStart(9)
      }`,
    );
  }
  console.log(
    `\ntorch measured ${(100 * ref.top1_slice1000).toFixed(2)}% on this slice ` +
      `(${(100 * ref.top1_test10k).toFixed(2)}% on the full 10k test set).`,
  );
}

function fmtTensor(name: string, t: Tensor): string {
  const vals = Array.from(t.data.slice(0, 64), (v) => Number(v.toPrecision(6)));
  return `${name}: ${t.dtype} ${fmtShape(t.shape)}\n  ${vals.join(" ")}${
    t.data.length > 64 ? " ..." : ""
  }`;
}

/** The similarity report as plain JSON (per layer: ranges and Pearson per estimator). */
function reportJson(r: SimilarityReport) {
  return {
    estimators: r.estimators,
    bits: r.bits,
    samples: r.samples,
    mean_pearson: r.mean,
    layers: r.layers.map((l) => ({
      tensor: l.tensor,
      op: l.op,
      ranges: l.ranges.map((row) => row.map((x) => [x.lo, x.hi])),
      pearson: l.pearson,
      best: r.estimators[l.best],
    })),
  };
}

/** Entry point; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: "string" },
      calib: { type: "string" },
      "calib-limit": { type: "string" },
      out: { type: "string" },
      method: { type: "string" },
      "weight-bits": { type: "string" },
      "per-channel-act": { type: "boolean" },
      report: { type: "boolean" },
      compress: { type: "string" },
      limit: { type: "string" },
      batch: { type: "string" },
      backend: { type: "string" },
      threads: { type: "string" },
      input: { type: "string" },
      mean: { type: "string" },
      std: { type: "string" },
      json: { type: "boolean" },
      probe: { type: "boolean" },
      cache: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [cmd, model] = positionals;
  const num = (s: string | undefined, what: string) => {
    if (s === undefined) return undefined;
    const v = Number(s);
    if (!Number.isFinite(v)) throw new EdgeqError("E_USAGE", `--${what} must be a number`);
    return v;
  };
  if (o.help || !cmd) {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const backend = (o.backend ?? "ref") as BackendName;
  const threads = num(o.threads, "threads");
  switch (cmd) {
    case "eval": {
      if (!model || !o.data) throw new EdgeqError("E_USAGE", "eval needs <model> --data DIR");
      const r = await evaluate(model, o.data, {
        limit: num(o.limit, "limit"),
        batch: num(o.batch, "batch"),
        backend,
        threads,
        mean: num(o.mean, "mean"),
        std: num(o.std, "std"),
      });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(
          `${r.model}: top-1 ${(100 * r.top1).toFixed(2)}% (${r.correct}/${r.n}), ` +
            `${r.ms_per_image.toFixed(3)} ms/image, backend ${r.backend}`,
        );
      }
      return 0;
    }
    case "run": {
      if (!model || !o.input) throw new EdgeqError("E_USAGE", "run needs <model> --input X");
      const m = await load(model, { backend, threads });
      const x = await readInput(o.input, m, num(o.mean, "mean"), num(o.std, "std"));
      const out = await m.run({ [m.inputNames[0]]: x });
      await m.dispose();
      if (o.json) {
        const j: Record<string, unknown> = {};
        for (const [k, t] of Object.entries(out)) {
          j[k] = { dtype: t.dtype, shape: t.shape, data: Array.from(t.data) };
        }
        console.log(JSON.stringify({ outputs: j }));
      } else for (const [k, t] of Object.entries(out)) console.log(fmtTensor(k, t));
      return 0;
    }
    case "inspect": {
      if (!model) throw new EdgeqError("E_USAGE", "inspect needs <model>");
      const bytes = await Deno.readFile(model);
      if (isPacked(bytes)) {
        const r = inspectPacked(model, bytes);
        if (o.json) console.log(JSON.stringify(r));
        else {
          console.log(`${r.model}: edgeq packed v${r.version}, ${r.bytes} bytes, checksums OK`);
          console.log(`producer: ${JSON.stringify(r.producer)}`);
          for (const s of r.sections) console.log(`section ${JSON.stringify(s)}`);
          console.log(`tensors: ${r.tensors} (${r.tensor_bytes} bytes), zero-copy: ${r.zero_copy}`);
          console.log("layer                          op     bits   params");
          for (const l of r.layers) {
            console.log(
              `${l.node.padEnd(30)} ${l.op.padEnd(6)} ${String(l.bits).padStart(4)} ${
                String(l.params).padStart(8)
              }`,
            );
          }
        }
        return 0;
      }
      const r = inspect(model, bytes);
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`${r.model}: ONNX opset ${r.opset}, ${r.bytes} bytes, ${r.params} params`);
        console.log(`nodes: ${r.imported_nodes} imported, ${r.executed_nodes} after folding`);
        console.log(`ops: ${Object.entries(r.ops).map(([k, v]) => `${k}×${v}`).join(" ")}`);
        console.log(`residual blocks: ${r.residual_blocks.length}`);
      }
      return 0;
    }
    case "quantize": {
      if (!model || !o.calib || !o.out) {
        throw new EdgeqError("E_USAGE", "quantize needs <model.onnx> --calib DIR --out FILE.eqp");
      }
      if (o["per-channel-act"]) {
        throw new EdgeqError(
          "E_USAGE",
          "--per-channel-act: per-channel activation scales are not supported by the int8 " +
            "kernels yet (per-channel statistics are collected; see --report)",
        );
      }
      const method = (o.method ?? "variance") as Method;
      if (!(method in METHODS)) {
        throw new EdgeqError(
          "E_USAGE",
          `--method must be one of ${Object.keys(METHODS).join("|")}`,
        );
      }
      const onnxBytes = await Deno.readFile(model);
      const calib = await loadSamples(o.calib, {
        limit: num(o["calib-limit"], "calib-limit") ?? 512,
      });
      const t0 = performance.now();
      const compress = (o.compress ?? "manifest") as "manifest" | "all" | "none";
      if (!["manifest", "all", "none"].includes(compress)) {
        throw new EdgeqError("E_USAGE", "--compress must be manifest|all|none");
      }
      const weightBits = num(o["weight-bits"], "weight-bits") ?? 7;
      const r = quantize(onnxBytes, calib, {
        method,
        compress,
        weightBits,
        producer: { source: model },
      });
      await writePackedFile(o.out, r.bytes);
      const summary = {
        out: o.out,
        bytes: r.bytes.length,
        float_bytes: onnxBytes.length,
        ratio: r.bytes.length / onnxBytes.length,
        layers: r.layers.length,
        method,
        calib_samples: calib.n,
        float_islands: r.floatIslands,
        seconds: (performance.now() - t0) / 1000,
      };
      let report: SimilarityReport | undefined;
      if (o.report) {
        // Per-layer choice made visible: every estimator's clip range and the Pearson
        // similarity of float vs fake-quantized layer output on held-out samples.
        report = calibrationReport(importOnnx(onnxBytes, { path: model }), calib, {
          holdout: 0.25,
          bits: [8, 4],
        }).report;
        const out = o.json ? console.error : console.log;
        out(`per-layer ranges and Pearson similarity (${report.samples} held-out samples):`);
        out(renderSimilarity(report));
      }
      if (o.json) {
        console.log(JSON.stringify(report ? { ...summary, report: reportJson(report) } : summary));
      } else {
        console.log(
          `${o.out}: ${summary.bytes} bytes (${(100 * summary.ratio).toFixed(1)}% of ${model}), ` +
            `${summary.layers} int8 layers, method ${method}, ${calib.n} calibration samples`,
        );
        if (r.floatIslands.length) console.log(`float islands: ${r.floatIslands.join(", ")}`);
      }
      return 0;
    }
    case "export-onnx": {
      if (!model || !o.out) {
        throw new EdgeqError("E_USAGE", "export-onnx needs <model.eqp> --out FILE.onnx");
      }
      const r = exportQdq(await Deno.readFile(model), { path: model });
      await writePackedFile(o.out, r.bytes);
      const summary = {
        out: o.out,
        bytes: r.bytes.length,
        opset: r.opset,
        nodes: r.nodes,
        quantized_ops: r.quantizedOps,
      };
      if (o.json) console.log(JSON.stringify(summary));
      else {
        console.log(
          `${o.out}: ONNX QDQ opset ${r.opset}, ${r.nodes} nodes, ${r.bytes.length} bytes ` +
            `(${Object.entries(r.quantizedOps).map(([k, v]) => `${k}×${v}`).join(" ")})`,
        );
      }
      return 0;
    }
    case "devices":
      console.log(
        await devicesCommand({ json: o.json, probe: o.probe, cachePath: o.cache, threads }),
      );
      return 0;
    case "demo":
      await demo();
      return 0;
  }
  throw new EdgeqError("E_USAGE", `unknown command '${cmd}'\n${USAGE}`);
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    if (e instanceof EdgeqError) {
      console.error(`edgeq: error [${e.code}]: ${e.message}`);
      Deno.exit(2);
    }
    if (e instanceof Error && e.name === "TypeError" && /parseArgs|option/i.test(e.message)) {
      console.error(`edgeq: ${e.message}\n${USAGE}`);
      Deno.exit(2);
    }
    throw e;
  }
}
