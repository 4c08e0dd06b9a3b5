/**
 * The browser build in real Chromium (Debian's /usr/bin/chromium, headless, via
 * playwright-core in a `deno run -A` child: examples/browser/drive.ts). Bundles with
 * esbuild into a temp folder, quantizes ResNet-14 to int8, and checks that the logits
 * the page computes are bit-identical to those of the same .eqp on the ref backend in
 * Deno, for 16 Fashion-MNIST test images: wasm with 2 threads on a cross-origin
 * isolated page (its worker really starts), ref in the browser, WebGPU on Chromium's
 * SwiftShader adapter (skipped with a reason when none appears), and wasm on a page
 * without COOP/COEP (the backend falls back to 1 thread and warns; no worker starts).
 * Skips with a printed reason when Chromium is not installed.
 */
import assert from "node:assert/strict";
import { bundle } from "../tools/bundle.ts";
import { loadSamples } from "../quantizer/calib/source.ts";
import { quantize } from "../quantizer/quantize.ts";
import { load } from "../runtime/model.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import type { DriveResult } from "../examples/browser/drive.ts";
import { addOrt } from "../examples/browser/ort_files.ts";
import type { BenchPageResults } from "../examples/browser/bench_page.ts";

const ROOT = new URL("../", import.meta.url);
const ROOT_PATH = decodeURIComponent(ROOT.pathname);
const CHROMIUM = "/usr/bin/chromium";
const N = 16;

function chromiumMissing(): string | null {
  try {
    Deno.statSync(CHROMIUM);
    return null;
  } catch {
    return `${CHROMIUM} is absent (apt-get install --no-install-recommends chromium)`;
  }
}
const missing = chromiumMissing();
if (missing) console.log(`browser_test: skipped: ${missing}`);

/** The logits of every image as uint32 bits, computed in Deno on the ref backend. */
async function denoRefBits(eqp: Uint8Array): Promise<{ bits: number[]; labels: number[] }> {
  const set = await loadIdxDir(`${ROOT_PATH}tests/fixtures/fmnist`, N);
  const m = await load(eqp, { backend: "ref" });
  const bits: number[] = [];
  for (let i = 0; i < N; i++) {
    const y = (await m.run({ [m.inputNames[0]]: imageBatch(set, i, 1) }))[m.outputNames[0]];
    const f = y.data as Float32Array;
    assert.equal(f.length, 10);
    bits.push(...new Uint32Array(f.buffer, f.byteOffset, f.length));
  }
  return { bits, labels: Array.from(set.labels) };
}

/** Runs the page in Chromium in a child process (playwright-core needs -A). */
async function drivePage(
  root: string,
  query: string,
  isolation: boolean,
  page = "index.html",
): Promise<DriveResult> {
  const args = [
    "run",
    "-A",
    "examples/browser/drive.ts",
    "--root",
    root,
    "--query",
    query,
    "--page",
    page,
    "--timeout",
    "180",
  ];
  if (!isolation) args.push("--no-isolation");
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT_PATH,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(240_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `drive.ts failed (${out.code}):\n${stderr.slice(-3000)}`);
  const last = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(last) as DriveResult;
}

/** Where two bit lists first differ, for a readable failure. */
function firstDiff(a: number[] | undefined, b: number[]): string {
  if (!a) return "no logits";
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  const i = a.findIndex((x, j) => x !== b[j]);
  if (i < 0) return "equal";
  const f = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
  return `image ${Math.floor(i / 10)} class ${i % 10}: ${f(a[i])} vs ${f(b[i])}`;
}

Deno.test({
  name: "browser: bundle + page in Chromium give the Deno ref logits bit for bit",
  ignore: missing !== null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "edgeq-dist-" });
    try {
      const { files } = await bundle({ outDir: dir });
      const names = files.map((f) => f.name);
      for (
        const n of [
          "edgeq_browser.js",
          "page.js",
          "edgeq_worker.js",
          "index.html",
          "bench_page.js",
          "bench.html",
        ]
      ) {
        assert.ok(names.includes(n), `bundle lacks ${n}: ${names.join(", ")}`);
      }
      for (const f of files.filter((f) => f.name.endsWith(".js"))) {
        const src = await Deno.readTextFile(`${dir}/${f.name}`);
        assert.ok(!src.includes("worker.ts"), `${f.name} still refers to worker.ts`);
      }

      const calib = await loadSamples(`${ROOT_PATH}tests/fixtures/fmnist_calib`, { limit: 128 });
      const onnx = await Deno.readFile(`${ROOT_PATH}tests/fixtures/resnet14_op13.onnx`);
      const eqp = quantize(onnx, calib, { method: "variance" }).bytes;
      await Deno.writeFile(`${dir}/r14.eqp`, eqp);
      const want = await denoRefBits(eqp);
      // Not degenerate: distinct logits, and top-1 mostly right.
      assert.ok(new Set(want.bits).size > N * 5, "reference logits are degenerate");

      const iso = await drivePage(dir, `n=${N}&threads=2&backends=ref,wasm,webgpu`, true);
      const p = iso.page;
      console.log(
        `browser_test: ${iso.userAgent.match(/HeadlessChrome\/\S+/)?.[0] ?? iso.userAgent}; ` +
          Object.entries(p.backends).map(([k, v]) =>
            `${k} ${v?.status}${
              v?.msPerImage !== undefined ? ` ${v.msPerImage.toFixed(1)} ms/img` : ""
            }`
          ).join(", "),
      );
      assert.equal(p.error, undefined, `page error: ${p.error}`);
      assert.equal(p.n, N);
      assert.deepEqual(p.labels, want.labels);
      assert.ok(
        !iso.console.some((l) => l.startsWith("pageerror")),
        iso.console.join("\n"),
      );

      await t.step("wasm, 2 threads, cross-origin isolated: bit-identical", () => {
        assert.equal(p.crossOriginIsolated, true);
        const w = p.backends.wasm;
        assert.equal(w?.status, "ok", w?.reason);
        assert.ok(
          iso.workers.some((u) => u.endsWith("/edgeq_worker.js")),
          `no wasm worker started: ${iso.workers.join(", ")}`,
        );
        assert.ok(!p.warnings.some((l) => /1 thread/.test(l)), p.warnings.join("\n"));
        assert.deepEqual(w?.bits, want.bits, firstDiff(w?.bits, want.bits));
      });

      await t.step("ref in the browser: bit-identical", () => {
        const r = p.backends.ref;
        assert.equal(r?.status, "ok", r?.reason);
        assert.deepEqual(r?.bits, want.bits, firstDiff(r?.bits, want.bits));
      });

      const gpu = p.backends.webgpu;
      const noAdapter = !p.hasWebGpu || gpu?.status === "skipped" ||
        (gpu?.status === "error" && /not available here/.test(gpu.reason ?? ""));
      if (noAdapter) {
        console.log(`browser_test: WebGPU part skipped: ${gpu?.reason ?? "navigator.gpu missing"}`);
      }
      await t.step({
        name: "webgpu (SwiftShader): bit-identical",
        ignore: noAdapter,
        fn() {
          assert.equal(gpu?.status, "ok", gpu?.reason);
          assert.deepEqual(gpu?.bits, want.bits, firstDiff(gpu?.bits, want.bits));
        },
      });

      await t.step("wasm without COOP/COEP: 1 thread with a warning, bit-identical", async () => {
        const r = await drivePage(dir, `n=${N}&threads=2&backends=wasm`, false);
        assert.equal(r.page.error, undefined, `page error: ${r.page.error}`);
        assert.equal(r.page.crossOriginIsolated, false);
        const w = r.page.backends.wasm;
        assert.equal(w?.status, "ok", w?.reason);
        assert.ok(
          r.page.warnings.some((l) => /SharedArrayBuffer is unavailable.*1 thread/.test(l)),
          `no 1-thread warning: ${JSON.stringify(r.page.warnings)}`,
        );
        assert.deepEqual(r.workers, [], "a worker started without cross-origin isolation");
        assert.deepEqual(w?.bits, want.bits, firstDiff(w?.bits, want.bits));
      });

      await t.step(
        "bench page: edgeq and onnxruntime-web timed in one page, 2 threads",
        async () => {
          // bench/browser_bench.ts's page on a real image, 3 rounds (its figures are not checked)
          await addOrt(dir, ROOT_PATH);
          await Deno.copyFile(`${ROOT_PATH}tests/fixtures/resnet14_op13.onnx`, `${dir}/r14.onnx`);
          const set = await loadIdxDir(`${ROOT_PATH}tests/fixtures/fmnist`, 1);
          const x = imageBatch(set, 0, 1).data as Float32Array;
          await Deno.writeFile(
            `${dir}/x.bin`,
            new Uint8Array(x.buffer, x.byteOffset, x.byteLength),
          );
          const q =
            "eqp=r14.eqp&onnx=r14.onnx&input=x.bin&shape=1,1,28,28&name=input&threads=2&runs=3";
          const r = await drivePage(dir, q, true, "bench.html");
          const b = r.page as unknown as BenchPageResults;
          assert.equal(b.error, undefined, `bench page error: ${b.error}`);
          assert.equal(b.crossOriginIsolated, true);
          assert.equal(b.threads, 2);
          assert.equal(b.edgeqMs.length, 3);
          assert.equal(b.ortMs.length, 3);
          assert.ok([...b.edgeqMs, ...b.ortMs].every((ms) => ms > 0), JSON.stringify(b));
          assert.equal(b.sameArgmax, true);
          assert.ok(
            r.workers.some((u) => u.endsWith("/edgeq_worker.js")),
            `no wasm worker started: ${r.workers.join(", ")}`,
          );
          assert.ok(!r.console.some((l) => l.startsWith("pageerror")), r.console.join("\n"));
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
