/**
 * WebGPU per-layer profile and whole-model latency (`deno task bench:webgpu`).
 *
 * For the int8 ResNet-14 and ViT (quantized in-process from the committed fixtures),
 * prints each layer's GPU time (timestamp queries where the adapter has them, wall
 * clock otherwise; median of the profiled runs) and the whole-model latency at batch 1
 * of backend webgpu vs backend ref vs onnxruntime-web f32 (wasm EP, 1 thread) on the
 * float ONNX model, all in this process on the same input. `--json FILE` also writes
 * the figures as JSON; `--runs N` sets the timed runs (default 20). `--agree N` also
 * runs the first N images of tests/fixtures/fmnist (batches of 100) on webgpu and ref
 * and reports how many images have bit-identical logits and the same top-1.
 *
 * @example
 * ```sh
 * deno task bench:webgpu --runs 10 --json /tmp/webgpu_profile.json
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { webgpuBackend, type WebGpuCompiledGraph } from "../kernels/webgpu/backend.ts";
import { gpuUnavailable } from "../kernels/webgpu/gpu.ts";
import { load } from "../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { quantize } from "../quantizer/quantize.ts";
import { OrtPeer } from "../tests/peer/ort.ts";
import { summarize, timeRuns, type Timing } from "./measure.ts";

const ROOT = new URL("../", import.meta.url).pathname;

const MODELS = [
  { name: "resnet14", onnx: "resnet14_op13.onnx", calib: 128 },
  { name: "vit", onnx: "vit_op17.onnx", calib: 128 },
];

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "20" },
    json: { type: "string" },
    agree: { type: "string", default: "0" },
  },
});
const runs = Math.max(1, Number(values.runs));

const why = await gpuUnavailable();
if (why) {
  console.log(`bench:webgpu skipped: ${why}`);
  Deno.exit(0);
}

const set = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, 1);
const x = imageBatch(set, 0, 1, 1, {});
const calib = await loadSamples(`${ROOT}tests/fixtures/fmnist_calib`, { limit: 128 });
const fmt = (v: number) => v.toFixed(3).padStart(9);
const report: Record<string, unknown> = {};

for (const spec of MODELS) {
  const onnx = await Deno.readFile(`${ROOT}tests/fixtures/${spec.onnx}`);
  const eqp = quantize(onnx, calib, { method: "variance" }).bytes;
  const ref = await load(eqp);
  const name = ref.inputNames[0];
  const g = ref.bound({ [name]: x.shape });
  const compiled = await webgpuBackend.compile(g, {}) as WebGpuCompiledGraph;
  const feeds = { [name]: x };
  const info = compiled.info();
  // per-layer: median over the profiled runs
  await compiled.profile(feeds);
  const per = new Map<string, { op: string; ms: number[] }>();
  for (let r = 0; r < Math.min(runs, 10); r++) {
    for (const l of await compiled.profile(feeds)) {
      const e = per.get(l.node) ?? { op: l.op, ms: [] };
      e.ms.push(l.ms);
      per.set(l.node, e);
    }
  }
  const layers = [...per].map(([node, e]) => ({ node, op: e.op, ms: summarize(e.ms).median }));
  const gpuT = await timeRuns(() => compiled.run(feeds), { warmup: 3, runs });
  const refT = await timeRuns(() => ref.run(feeds), { warmup: 3, runs });
  const ort = await OrtPeer.create(onnx, { threads: 1 });
  const ortFeeds = { [ort.inputNames[0]]: { shape: x.shape, data: x.data as Float32Array } };
  const ortT: Timing = await timeRuns(() => ort.run(ortFeeds), { warmup: 3, runs });
  compiled.dispose();

  console.log(
    `\n## ${spec.name} int8 on WebGPU (${info.adapter}; dot4 ${info.dot4}; ${info.timing})`,
  );
  console.log(`| layer | op | ms |`);
  console.log(`|---|---|---:|`);
  for (const l of layers) console.log(`| ${l.node} | ${l.op} | ${fmt(l.ms)} |`);
  const sum = layers.reduce((a, l) => a + l.ms, 0);
  console.log(`| (sum of layers) | | ${fmt(sum)} |`);
  console.log(`\nwhole model, batch 1, median of ${runs} (min..max) ms:`);
  const row = (k: string, t: Timing) =>
    console.log(`  ${k.padEnd(26)} ${fmt(t.median)}  (${t.min.toFixed(2)}..${t.max.toFixed(2)})`);
  row("webgpu int8", gpuT);
  row("ref int8", refT);
  row("onnxruntime-web f32 wasm", ortT);
  console.log(
    `  ratios: webgpu/ref ${(gpuT.median / refT.median).toFixed(2)}, ` +
      `webgpu/ort ${(gpuT.median / ortT.median).toFixed(2)}`,
  );
  console.log(
    `  pipelines ${info.pipelines}, dispatches ${info.dispatches}, activations ` +
      `${info.plannedBytes} B planned (${info.naiveBytes} B unplanned), weights ${info.weightBytes} B`,
  );
  const agreement = Number(values.agree) > 0 ? await agree(eqp, Number(values.agree)) : undefined;
  if (agreement) console.log(`  agreement with ref: ${JSON.stringify(agreement)}`);
  report[spec.name] = { info, layers, webgpu: gpuT, ref: refT, ort_f32_wasm: ortT, agreement };
}
if (values.json) await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2));

/** webgpu vs ref on the first n images: identical logits, same top-1, accuracy. */
async function agree(eqp: Uint8Array, n: number) {
  const data = await loadIdxDir(`${ROOT}tests/fixtures/fmnist`, n);
  const gpu = await load(eqp, { backend: "webgpu" }), ref = await load(eqp);
  const input = gpu.inputNames[0], out = gpu.outputNames[0];
  let identical = 0, sameTop1 = 0, okGpu = 0, okRef = 0;
  const arg = (d: ArrayLike<number>, o: number, k: number) => {
    let m = 0;
    for (let c = 1; c < k; c++) if (d[o + c] > d[o + m]) m = c;
    return m;
  };
  for (let s = 0; s < data.n; s += 100) {
    const count = Math.min(100, data.n - s);
    const xb = imageBatch(data, s, count, 1, {});
    const a = (await gpu.run({ [input]: xb }))[out].data;
    const b = (await ref.run({ [input]: xb }))[out].data;
    const k = a.length / count;
    for (let i = 0; i < count; i++) {
      let same = true;
      for (let c = 0; c < k; c++) if (a[i * k + c] !== b[i * k + c]) same = false;
      if (same) identical++;
      const ga = arg(a, i * k, k), rb = arg(b, i * k, k);
      if (ga === rb) sameTop1++;
      if (ga === data.labels[s + i]) okGpu++;
      if (rb === data.labels[s + i]) okRef++;
    }
  }
  await gpu.dispose();
  return { n: data.n, identical, sameTop1, top1Webgpu: okGpu / data.n, top1Ref: okRef / data.n };
}
