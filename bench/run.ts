/**
 * `deno task bench [<model>...] [--threads 1,2] [--json] [--svg out.svg] [--runs N] ...`
 *
 * Benchmarks edgeq against onnxruntime-web on the same models and inputs: for each
 * model and thread count one child process runs ORT f32, ORT int8 (edgeq's QDQ
 * export) and edgeq on each available backend (bench/model_bench.ts). Prints a
 * progress bar on stderr, the table on stdout (or JSON with --json), and optionally
 * writes the JSON (--out-json) and an SVG chart (--svg).
 *
 * Models: fixture names (resnet14_op13, vit_op17), zoo names (resnet18, mobilenet_v2,
 * vit_tiny; from .cache/zoo, see bench/models.ts for how to produce them) or .onnx
 * paths. Default: the fixtures and the zoo.
 * @module
 */
import { parseArgs } from "node:util";
import { type BenchModel, FIXTURES, resolveModels, type Skipped, ZOO } from "./models.ts";
import { benchModel, type ModelResult, PAUSE_MS, SETTLE_CAP_MS } from "./model_bench.ts";
import { formatTable, withRatios } from "./report.ts";
import { renderSvg } from "./svg.ts";
import { Progress } from "./progress.ts";
import { ORT_VERSION } from "../tests/peer/ort.ts";
import { detectProfile } from "../devices/detect.ts";

const USAGE = `usage: deno task bench [<model>...] [options]
  models: ${Object.keys(FIXTURES).join(", ")}, ${ZOO.join(", ")} or path/to/model.onnx
          (default: all of them; missing zoo models are skipped with how to produce them)
  --threads 1,2          thread counts (one process each; ORT fixes threads per process)
  --runs N               timed runs per runtime (default 20), --warmup N (default 3)
  --ref-runs N           timed runs of edgeq's ref backend (default 3; it is slow)
  --backends LIST        edgeq backends to try (default ref,wasm,webgpu)
  --acc-limit N          Fashion-MNIST images for top-1 (default 500; 0 = skip)
  --ref-acc-limit N      images for top-1 on the ref backend (default 100)
  --acc-timeout S        abandon one runtime's top-1 pass after S seconds (default 120)
  --timeout S            kill a model × thread-count process after S seconds (default 900)
  --json                 print JSON instead of the table
  --out-json FILE        also write the JSON to FILE
  --svg FILE             write the chart (latency vs size, top-1 in labels)
  --cache DIR            quantized models cache (default .cache/bench)
  --calib-limit N        calibration images for the fixtures (default 512 ResNet / 128 ViT)
  --zoo DIR              zoo folder (default .cache/zoo)
  --no-progress          no progress bar`;

/** Parsed options shared by the parent and its child processes. */
interface Opts {
  models: string[];
  threads: number[];
  runs: number;
  warmup: number;
  refRuns: number;
  backends: ("ref" | "wasm" | "webgpu")[];
  accLimit: number;
  refAccLimit: number;
  accTimeout: number;
  cache: string;
  zoo: string;
  calibLimit?: number;
  /** Seconds one model × thread-count process may run before it is killed. */
  timeout: number;
}

function parse(argv: string[]) {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      threads: { type: "string", default: "1,2" },
      runs: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      "ref-runs": { type: "string", default: "3" },
      backends: { type: "string", default: "ref,wasm,webgpu" },
      "acc-limit": { type: "string", default: "500" },
      "ref-acc-limit": { type: "string", default: "100" },
      "acc-timeout": { type: "string", default: "120" },
      timeout: { type: "string", default: "900" },
      json: { type: "boolean" },
      "out-json": { type: "string" },
      svg: { type: "string" },
      cache: { type: "string", default: ".cache/bench" },
      zoo: { type: "string", default: ".cache/zoo" },
      "calib-limit": { type: "string" },
      "no-progress": { type: "boolean" },
      child: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const int = (s: string, what: string, min: number) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${what} must be an integer >= ${min}`);
    return n;
  };
  const backends = v.backends!.split(",").filter(Boolean);
  for (const b of backends) {
    if (!["ref", "wasm", "webgpu"].includes(b)) throw new Error(`unknown backend '${b}'`);
  }
  const opts: Opts = {
    models: positionals.length ? positionals : [...Object.keys(FIXTURES), ...ZOO],
    threads: v.threads!.split(",").map((t) => int(t, "threads", 1)),
    runs: int(v.runs!, "runs", 1),
    warmup: int(v.warmup!, "warmup", 0),
    refRuns: int(v["ref-runs"]!, "ref-runs", 0),
    backends: backends as Opts["backends"],
    accLimit: int(v["acc-limit"]!, "acc-limit", 0),
    refAccLimit: int(v["ref-acc-limit"]!, "ref-acc-limit", 0),
    accTimeout: int(v["acc-timeout"]!, "acc-timeout", 1),
    timeout: int(v.timeout!, "timeout", 1),
    cache: v.cache!,
    zoo: v.zoo!,
    calibLimit: v["calib-limit"] ? int(v["calib-limit"], "calib-limit", 1) : undefined,
  };
  return { opts, v };
}

/** Child mode: one model, one thread count; JSON result on stdout, steps on stderr. */
async function child(o: Opts) {
  const { models } = await resolveModels(o.models, {
    cacheDir: o.cache,
    zooDir: o.zoo,
    fixtureCalib: o.calibLimit,
  });
  const out: ModelResult[] = [];
  for (const m of models) {
    out.push(
      await benchModel(m, {
        threads: o.threads[0],
        runs: o.runs,
        warmup: o.warmup,
        refRuns: o.refRuns,
        backends: o.backends,
        accLimit: o.accLimit,
        refAccLimit: o.refAccLimit,
        accTimeout: o.accTimeout,
        onStep: (s) => console.error(`@@step ${s}`),
        // what is known so far, should the process be killed later (a hung runtime)
        onPartial: (r) => console.log(`@@partial ${JSON.stringify([...out, r])}`),
      }),
    );
  }
  console.log(`@@result ${JSON.stringify(out)}`);
  // a runtime whose pass was abandoned may still be spinning in its workers
  Deno.exit(0);
}

async function spawnChild(
  m: BenchModel,
  threads: number,
  backends: Opts["backends"],
  o: Opts,
  bar: Progress,
): Promise<ModelResult[]> {
  const args = [
    "run",
    "--allow-read",
    "--allow-env",
    "--allow-sys",
    import.meta.filename!,
    "--child",
    m.onnxPath === FIXTURES[m.name]?.onnx || ZOO.includes(m.name) ? m.name : m.onnxPath,
    `--threads=${threads}`,
    `--runs=${o.runs}`,
    `--warmup=${o.warmup}`,
    `--ref-runs=${o.refRuns}`,
    `--backends=${backends.join(",")}`,
    `--acc-limit=${o.accLimit}`,
    `--ref-acc-limit=${o.refAccLimit}`,
    `--acc-timeout=${o.accTimeout}`,
    `--cache=${o.cache}`,
    `--zoo=${o.zoo}`,
    ...(o.calibLimit ? [`--calib-limit=${o.calibLimit}`] : []),
  ];
  // A runtime that hangs (e.g. a stuck thread pool) must not hang the whole bench.
  const p = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(o.timeout * 1000),
  }).spawn();
  const errLines: string[] = [];
  const readErr = (async () => {
    let buf = "";
    for await (const chunk of p.stderr.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith("@@step ")) bar.step(line.slice(7));
        else if (line.trim()) errLines.push(line);
      }
    }
  })();
  const stdout = await new Response(p.stdout).text();
  await readErr;
  const st = await p.status;
  const lines = stdout.split("\n");
  const line = lines.find((l) => l.startsWith("@@result "));
  const partial = lines.filter((l) => l.startsWith("@@partial ")).pop();
  if (!line && partial) {
    // killed after its timed rounds: keep those figures, say what is missing
    const res: ModelResult[] = JSON.parse(partial.slice(10));
    for (const r of res.flatMap((x) => x.runtimes)) {
      if (m.classifierData && r.top1 === undefined && !r.skipped && o.accLimit > 0) {
        r.top1_error ??= `process killed after ${o.timeout} s before its top-1 pass ended`;
      }
    }
    return res;
  }
  if (!line) {
    const why = st.signal
      ? `killed (${st.signal}) after the ${o.timeout} s timeout or a signal`
      : `exit ${st.code}`;
    throw new Error(
      `benchmark process for ${m.name} (${threads} thr) failed, ${why}:\n${
        errLines.slice(-15).join("\n")
      }`,
    );
  }
  return JSON.parse(line.slice(9));
}

/**
 * Entry point; returns the exit code.
 *
 * @example
 * ```ts
 * await main(["resnet14_op13", "--threads=1,2", "--svg=bench.svg"]);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { opts: o, v } = parsed;
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (v.child) {
    await child(o);
    return 0;
  }
  const log = (s: string) => console.error(`bench: ${s}`);
  const { models, skipped } = await resolveModels(o.models, {
    cacheDir: o.cache,
    zooDir: o.zoo,
    fixtureCalib: o.calibLimit,
    log,
  });
  for (const s of skipped) log(`skipping ${s.name}: ${s.reason}`);
  // ORT f32 + ORT int8 + backends per (model, threads); ref only with the first count.
  const perModel = (first: boolean) => 2 + o.backends.filter((b) => first || b !== "ref").length;
  const total = models.length * o.threads.reduce((a, _t, i) => a + perModel(i === 0), 0);
  const bar = new Progress(total, !v["no-progress"]);
  const results: ModelResult[] = [];
  for (const [ti, t] of o.threads.entries()) {
    const backends = o.backends.filter((b) => ti === 0 || b !== "ref");
    for (const m of models) {
      try {
        results.push(...(await spawnChild(m, t, backends, o, bar)));
      } catch (e) {
        // Keep going: the other models' figures are still worth having.
        const reason = (e as Error).message.split("\n")[0];
        log(reason);
        skipped.push({ name: `${m.name} (${t} thr)`, reason });
      }
    }
  }
  bar.done();
  const rows = withRatios(results);
  const report = {
    tool: "edgeq bench",
    date: new Date().toISOString(),
    ort_version: ORT_VERSION,
    // a WebGPU adapter only where a WebGPU run was asked for: requesting one on the CI VM
    // printed "error: XDG_RUNTIME_DIR is invalid or not set in the environment." twice on
    // stderr (a string of Debian's libwayland-client and libwayland-server)
    device: await detectProfile({ gpu: o.backends.includes("webgpu") }),
    options: o,
    skipped_models: skipped as Skipped[],
    results,
    rows,
  };
  if (v["out-json"]) await Deno.writeTextFile(v["out-json"], JSON.stringify(report, null, 1));
  if (v.svg) {
    await Deno.writeTextFile(
      v.svg,
      renderSvg(
        rows,
        `edgeq vs onnxruntime-web ${ORT_VERSION}: latency vs model size (label: top-1)`,
        report.device.summary,
      ),
    );
  }
  if (v.json) console.log(JSON.stringify(report));
  else {
    console.log(formatTable(rows));
    console.log(
      `\nmedian/min–max: batch-1 latency of a run after the process idled ${PAUSE_MS} ms; ` +
        "b2b: of a run right after the previous one (back to back); load: create + first " +
        "run; RSS: the process with every runtime loaded; ÷ORT: median over the ORT median " +
        "(same model, threads; the runtimes timed in interleaved rounds).",
    );
    for (const s of skipped) console.log(`skipped ${s.name}: ${s.reason}`);
    for (const r of results) {
      if (r.unsettled_runs) {
        console.log(
          `${r.model} (${r.threads} thr): ${r.unsettled_runs} timed runs started before the ` +
            `process had idled ${PAUSE_MS} ms (it stayed busy for ${SETTLE_CAP_MS} ms)`,
        );
      }
    }
    for (const r of results.flatMap((x) => x.runtimes.map((y) => ({ ...y, m: x })))) {
      if (r.top1_error) {
        console.log(`top-1 of ${r.m.model} ${r.runtime} (${r.m.threads} thr): ${r.top1_error}`);
      }
    }
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
