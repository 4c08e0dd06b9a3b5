/**
 * edgeq's wasm backend against onnxruntime-web's f32 wasm in headless Chromium (Debian's
 * /usr/bin/chromium): the browser bundle (tools/bundle.ts) and onnxruntime-web's wasm
 * build are served from one folder with COOP/COEP, and examples/browser/bench.html times
 * both runtimes on the same model and input (bench/models.ts: the same .eqp and input as
 * `deno task bench`) in interleaved rounds, each timed run after the page idled 25 ms.
 * One page per model × thread count: the ratio in the browser, where V8 is Chromium's
 * own build, not Deno's.
 *
 * `deno run -A bench/browser_bench.ts [MODEL...] [--threads 1,2] [--runs 30] [--json]`
 * (default models: resnet14_op13 vit_op17). `-A`: playwright-core reads /proc and the
 * home folder when it loads.
 * @module
 */
import { bundle } from "../tools/bundle.ts";
import { drive } from "../examples/browser/drive.ts";
import { addOrt } from "../examples/browser/ort_files.ts";
import type { BenchPageResults } from "../examples/browser/bench_page.ts";
import { resolveModels } from "./models.ts";
import { summarize, type Timing } from "./measure.ts";
import { options } from "./wasm_common.ts";

const args = [...Deno.args];
const opt = options(args);
const threads = opt("--threads", "1,2").split(",").map(Number);
const runs = Number(opt("--runs", "30"));
const json = args.includes("--json");
const names = args.filter((a) => !a.startsWith("--"));
const root = ".cache/browser_bench";

/** One model × thread count: medians and ranges in ms, and what the page reported. */
interface Row {
  model: string;
  threads: number;
  isolated: boolean;
  build: string;
  edgeq: Timing;
  ort: Timing;
  ratio: number;
  sameArgmax: boolean;
  warnings: string[];
}

await bundle({ outDir: root });
const ortVersion = await addOrt(root, ".");
const { models, skipped } = await resolveModels(
  names.length ? names : ["resnet14_op13", "vit_op17"],
);
for (const s of skipped) console.error(`skipped ${s.name}: ${s.reason}`);

const rows: Row[] = [];
let userAgent = "";
for (const m of models) {
  await Deno.copyFile(m.eqpPath, `${root}/${m.name}.eqp`);
  await Deno.copyFile(m.onnxPath, `${root}/${m.name}.onnx`);
  await Deno.writeFile(
    `${root}/${m.name}.input.bin`,
    new Uint8Array(m.input.buffer, m.input.byteOffset, m.input.byteLength),
  );
  for (const t of threads) {
    const query = new URLSearchParams({
      eqp: `${m.name}.eqp`,
      onnx: `${m.name}.onnx`,
      input: `${m.name}.input.bin`,
      shape: m.inputShape.join(","),
      name: m.inputName,
      threads: String(t),
      runs: String(runs),
    }).toString();
    const r = await drive({ root, page: "bench.html", query, timeoutS: 600 });
    userAgent = r.userAgent;
    const p = r.page as unknown as BenchPageResults;
    if (p.error) throw new Error(`${m.name} at ${t} threads: ${p.error}`);
    const edgeq = summarize(p.edgeqMs), ort = summarize(p.ortMs);
    rows.push({
      model: m.name,
      threads: t,
      isolated: p.crossOriginIsolated,
      build: p.build,
      edgeq,
      ort,
      ratio: edgeq.median / ort.median,
      sameArgmax: p.sameArgmax,
      warnings: r.console.filter((l) => /^(warning|error|pageerror)/.test(l)),
    });
  }
}

if (json) console.log(JSON.stringify({ userAgent, ortVersion, runs, rows }));
else {
  console.log(`${userAgent}; onnxruntime-web ${ortVersion}; medians of ${runs} interleaved rounds`);
  console.log("model          thr  edgeq ms  ORT f32 ms  ÷ORT f32  same argmax  isolated  build");
  for (const r of rows) {
    console.log(
      `${r.model.padEnd(14)} ${String(r.threads).padStart(3)}  ${
        r.edgeq.median.toFixed(3).padStart(8)
      }  ${r.ort.median.toFixed(3).padStart(10)}  ${r.ratio.toFixed(2).padStart(8)}  ${
        String(r.sameArgmax).padStart(11)
      }  ${String(r.isolated).padStart(8)}  ${r.build}`,
    );
    for (const w of r.warnings) console.log(`  ${w}`);
  }
}
