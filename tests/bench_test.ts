/**
 * The benchmark harness (bench/): end to end on a tiny configuration (ResNet-14, 3
 * runs, 1 thread, ref + wasm) producing JSON and a well-formed SVG; the timing
 * summary, the table, the chart renderer and the missing-zoo message.
 */
import assert from "node:assert/strict";
import { main } from "../bench/run.ts";
import { settle, summarize } from "../bench/measure.ts";
import { formatTable, type ReportRow, withRatios } from "../bench/report.ts";
import { renderSvg } from "../bench/svg.ts";
import { resolveModels, ZOO_HINT } from "../bench/models.ts";
import { type ModelResult, within } from "../bench/model_bench.ts";

/** Tag balance of an XML document (no DTD/CDATA: what renderSvg writes). */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  for (const m of xml.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, close, name, , self] = m;
    if (self) continue;
    if (close) {
      if (stack.pop() !== name) return false;
    } else stack.push(name);
  }
  return stack.length === 0 && !/<[^a-zA-Z/!?]/.test(xml.replace(/<\/?[a-zA-Z][^>]*>/g, ""));
}

Deno.test("bench: median / min / max", () => {
  assert.deepEqual(summarize([3, 1, 2]), { runs: 3, median: 2, min: 1, max: 3 });
  assert.deepEqual(summarize([4, 1, 3, 2]), { runs: 4, median: 2.5, min: 1, max: 4 });
  assert.equal(summarize([]).runs, 0);
});

/** A worker that busy-loops for `ms` once started; resolves when its loop has begun. */
async function spinner(ms: number): Promise<Worker> {
  const code = `self.onmessage = (e) => { self.postMessage("go"); const t = performance.now();
    let x = 0; while (performance.now() - t < e.data) x++; self.postMessage(x); };`;
  const w = new Worker(URL.createObjectURL(new Blob([code], { type: "text/javascript" })), {
    type: "module",
  });
  await new Promise<void>((res) => {
    w.onmessage = () => res();
    w.postMessage(ms);
  });
  return w;
}

Deno.test("bench: settle waits out another thread's spinning, then the idle time", async () => {
  const idle = await settle(25);
  assert.ok(!idle.capped && idle.waitedMs >= 24, JSON.stringify(idle));
  // a thread of this process spins for 200 ms: no return before it stops (less the 5 ms
  // steps' slack), then 25 ms more of quiet
  const w = await spinner(200);
  const t0 = performance.now();
  const busy = await settle(25);
  const since = performance.now() - t0;
  w.terminate();
  assert.ok(!busy.capped && since >= 190, `returned after ${since.toFixed(1)} ms`);
  // the cap: a thread spinning past it
  const w2 = await spinner(400);
  const capped = await settle(25, 100);
  w2.terminate();
  assert.ok(capped.capped && capped.waitedMs < 150, JSON.stringify(capped));
});

const FAKE: ModelResult[] = [{
  model: "m<&>",
  threads: 2,
  input_shape: [1, 3, 8, 8],
  peak_rss_bytes: 1e8,
  runtimes: [
    {
      runtime: "ort-f32",
      model_bytes: 4000,
      latency: { runs: 20, median: 10, min: 9, max: 12 },
      latency_b2b: { runs: 20, median: 8, min: 7, max: 9 },
    },
    { runtime: "ort-int8", model_bytes: 1000, latency: { runs: 20, median: 5, min: 4, max: 6 } },
    {
      runtime: "edgeq-wasm",
      model_bytes: 900,
      latency: { runs: 20, median: 2, min: 2, max: 3 },
      latency_b2b: { runs: 20, median: 1.25, min: 1, max: 2 },
    },
    { runtime: "edgeq-webgpu", model_bytes: 900, skipped: "no adapter" },
  ],
}];

Deno.test("bench: ratios, table and chart", () => {
  const rows = withRatios(FAKE);
  const w = rows.find((r) => r.runtime === "edgeq-wasm")!;
  assert.equal(w.vs_ort_f32, 0.2);
  assert.equal(w.vs_ort_int8, 0.4);
  assert.equal(w.vs_ort_f32_b2b, 1.25 / 8);
  assert.equal(rows.find((r) => r.runtime === "ort-int8")!.vs_ort_f32_b2b, undefined);
  assert.equal(rows.find((r) => r.runtime === "edgeq-webgpu")!.vs_ort_f32, undefined);
  const t = formatTable(rows);
  assert.match(t, /edgeq-wasm\s+2\.000\s+2\.00–3\.00\s+20/);
  assert.match(t, /edgeq-wasm\s.*\s0\.20\s+0\.40\s+1\.250\s+0\.16$/m);
  assert.match(t, /ort-int8\s.*\s0\.50\s+1\.00\s+—\s+—$/m);
  assert.match(t, /edgeq-webgpu\s+skipped: no adapter/);
  const svg = renderSvg(rows, "a & b");
  assert.ok(wellFormed(svg));
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes("m&lt;&amp;&gt;") && svg.includes("a &amp; b"));
  // 3 measured points (hollow: 2 threads) + 5 legend colours + 2 legend markers.
  assert.equal(svg.match(/<circle/g)!.length, 3 + 5 + 2);
  assert.equal(svg.match(/fill="white" stroke="#d62728"/g)!.length, 1);
});

Deno.test("bench: a pass that never returns is abandoned after its limit, and the table says so", async () => {
  const t0 = performance.now();
  await assert.rejects(within(new Promise(() => {}), 0.2, "top-1 pass"), /did not finish in 0.2 s/);
  const ms = performance.now() - t0;
  assert.ok(ms >= 190 && ms < 2000, `${ms} ms`);
  assert.equal(await within(Promise.resolve(7), 5, "x"), 7);
  const hung: ModelResult[] = [{
    ...FAKE[0],
    runtimes: FAKE[0].runtimes.map((r) =>
      r.runtime === "ort-f32"
        ? { ...r, top1: undefined, top1_error: "top-1 pass did not finish" }
        : r
    ),
  }];
  const row = formatTable(withRatios(hung)).split("\n").find((l) => /\bort-f32\b/.test(l))!;
  assert.match(row, /\btimeout\b/);
});

Deno.test("bench: a missing zoo model is skipped with the command that makes it", async () => {
  const { models, skipped } = await resolveModels(["resnet18"], {
    zooDir: "/nonexistent-zoo",
    cacheDir: "/tmp/edgeq-bench-unused",
  });
  assert.equal(models.length, 0);
  assert.equal(skipped[0].name, "resnet18");
  assert.ok(skipped[0].reason.includes(ZOO_HINT));
});

Deno.test({
  name: "bench: end to end on ResNet-14 (3 runs): JSON with ratios and an SVG",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "edgeq_bench_" });
    try {
      const json = `${dir}/bench.json`, svg = `${dir}/bench.svg`;
      const code = await main([
        "resnet14_op13",
        "--threads=1",
        "--runs=3",
        "--warmup=1",
        "--ref-runs=1",
        "--backends=ref,wasm",
        "--acc-limit=50",
        "--ref-acc-limit=20",
        "--calib-limit=64",
        `--cache=${dir}/cache`,
        `--out-json=${json}`,
        `--svg=${svg}`,
        "--no-progress",
      ]);
      assert.equal(code, 0);
      const r = JSON.parse(await Deno.readTextFile(json));
      assert.equal(r.device.arch, Deno.build.arch);
      const rows = r.rows as ReportRow[];
      const by = (rt: string) => rows.find((x) => x.runtime === rt)!;
      for (const rt of ["ort-f32", "ort-int8", "edgeq-ref"]) {
        const x = by(rt);
        assert.equal(x.skipped, undefined, `${rt}: ${x.skipped}`);
        assert.equal(x.latency!.runs, rt === "edgeq-ref" ? 1 : 3);
        // back to back: the fast runtimes' second run of each round; ref has none
        assert.equal(x.latency_b2b?.runs, rt === "edgeq-ref" ? undefined : 3);
        assert.ok(x.latency!.min <= x.latency!.median && x.latency!.median <= x.latency!.max);
        assert.ok(x.load_ms! > 0 && x.rss_bytes! > 0 && x.model_bytes > 0);
        assert.ok(x.top1! > 0.7, `${rt} top-1 ${x.top1}`);
      }
      assert.equal(by("ort-f32").vs_ort_f32, 1);
      assert.equal(
        by("edgeq-ref").vs_ort_int8,
        by("edgeq-ref").latency!.median / by("ort-int8").latency!.median,
      );
      assert.ok(by("ort-int8").model_bytes < by("ort-f32").model_bytes / 2, "QDQ model is int8");
      const wasm = by("edgeq-wasm");
      if (wasm.skipped) console.log(`edgeq-wasm skipped: ${wasm.skipped}`);
      else {
        assert.equal(wasm.latency!.runs, 3);
        assert.equal(wasm.latency_b2b!.runs, 3);
        assert.equal(
          wasm.vs_ort_f32_b2b,
          wasm.latency_b2b!.median / by("ort-f32").latency_b2b!.median,
        );
        assert.ok(wasm.top1! > 0.7, `wasm top-1 ${wasm.top1}`);
      }
      const text = await Deno.readTextFile(svg);
      assert.ok(wellFormed(text));
      const measured = rows.filter((x) => x.latency).length;
      assert.equal(text.match(/<title>/g)!.length, measured);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
