/**
 * Benchmarks one model in this process, on one input, for every runtime:
 * onnxruntime-web f32 (the float ONNX), onnxruntime-web int8 (edgeq's QDQ export), and
 * edgeq int8 on each requested backend (ref, wasm, webgpu; a backend that cannot load
 * here is skipped with its reason). All runtimes are loaded first, then timed in
 * interleaved rounds (per round and runtime: a wait until the process has been idle for
 * 25 ms, a timed run, and at once a second timed run, back to back), so drift of the
 * shared machine hits them alike. Warm-up, timed runs (median, min–max), load time
 * (creation + first run: binding/compiling happen there), process RSS with all loaded,
 * model bytes, and top-1 on the Fashion-MNIST slice for the fixture classifiers.
 *
 * onnxruntime-web fixes its wasm thread count per process (tests/peer/ort.ts), so one
 * process measures one thread count; bench/run.ts spawns one per count.
 * @module
 */
import { OrtPeer } from "../tests/peer/ort.ts";
import { load } from "../runtime/model.ts";
import { getBackend } from "../runtime/backend.ts";
import { imageBatch, loadIdxDir } from "../runtime/data.ts";
import { type BenchModel } from "./models.ts";
import { memory, settle, summarize, type Timing } from "./measure.ts";

/**
 * Idle time before each timed run of the interleaved rounds (ms): the run starts once the
 * process has been idle this long ({@link settle}). onnxruntime-web's threads keep a core
 * busy for about 40 ms after a 2-thread run returns (bench/ort_spin_probe.ts: after its
 * MobileNetV2 runs the process used 26.4 ms of CPU in the next 25 ms and 39.9 in the next
 * 50; ResNet-14 27.0 and 41.8), so a fixed 25 ms pause let them overlap the next
 * runtime's run (edgeq MobileNetV2 at 2 threads read 0.65 of ORT f32's time in a bench
 * run with the pause, 0.38 in a later one with settle; README, runs T and U).
 */
export const PAUSE_MS = 25;

/** How long a timed run waits for the process to idle before it starts anyway (ms). */
export const SETTLE_CAP_MS = 1000;

/** Runtime identifiers, in table order. */
export const RUNTIMES = ["ort-f32", "ort-int8", "edgeq-ref", "edgeq-wasm", "edgeq-webgpu"] as const;

/** One runtime identifier. */
export type RuntimeName = typeof RUNTIMES[number];

/** One runtime's measurements on one model. */
export interface RuntimeResult {
  runtime: RuntimeName;
  /** Bytes of the file this runtime loads. */
  model_bytes: number;
  /** Session creation / load + the first run, ms. */
  load_ms?: number;
  /** Batch-1 latency of a run after the process idled 25 ms (every thread of it). */
  latency?: Timing;
  /**
   * Batch-1 latency of a run started right after the previous run of the same runtime
   * returned (back to back: a stream of inferences).
   */
  latency_b2b?: Timing;
  /** Resident memory of the process with every runtime loaded, after the timed runs, bytes. */
  rss_bytes?: number;
  /** Top-1 on the classifier slice (fraction), and on how many images. */
  top1?: number;
  top1_n?: number;
  /** Why this runtime did not run. */
  skipped?: string;
  /** Why its top-1 pass gave no figure (e.g. it did not finish in the time limit). */
  top1_error?: string;
}

/** One model × thread count. */
export interface ModelResult {
  model: string;
  threads: number;
  input_shape: number[];
  runtimes: RuntimeResult[];
  /** Peak resident memory of the process (VmHWM), bytes. */
  peak_rss_bytes: number;
  /**
   * Timed runs that started before the process had idled {@link PAUSE_MS} (settle gave up
   * after {@link SETTLE_CAP_MS}: some thread kept spinning); absent when none.
   */
  unsettled_runs?: number;
}

/** Options of {@link benchModel}. */
export interface BenchOptions {
  threads: number;
  /** Timed runs (≥ 20 recommended). */
  runs: number;
  /** Warm-up runs. */
  warmup: number;
  /** Timed runs for edgeq's ref backend (slow; plain TypeScript). */
  refRuns: number;
  /** edgeq backends to try. */
  backends: readonly ("ref" | "wasm" | "webgpu")[];
  /** Images for top-1 (fast runtimes). */
  accLimit: number;
  /** Images for top-1 on the ref backend. */
  refAccLimit: number;
  /** Called when a runtime starts. */
  onStep?: (label: string) => void;
  /**
   * Seconds one runtime's top-1 pass may take (default 120); past it the pass is
   * abandoned and the next runtime's starts (onnxruntime-web's 2-thread pool was seen to
   * spin forever in ViT's batched top-1 pass, also with only edgeq's ref backend beside it).
   */
  accTimeout?: number;
  /** Called with the results so far: after the timed rounds and after each top-1 pass. */
  onPartial?: (r: ModelResult) => void;
}

/** The rejection of {@link within}: the promise is still pending. */
export class LateError extends Error {}

/**
 * `p`, or a {@link LateError} naming `what` after `s` seconds (p keeps running).
 *
 * @example
 * ```ts
 * const a = await within(top1(runner, dir, 500, 1), 120, "top-1 pass");
 * ```
 */
export function within<T>(p: Promise<T>, s: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, rej) => {
    t = setTimeout(() => rej(new LateError(`${what} did not finish in ${s} s`)), s * 1000);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

/**
 * Deno's own Worker. A threaded onnxruntime-web session replaces `globalThis.Worker` by
 * node's worker_threads Worker (measured: after `InferenceSession.create` with 2 threads),
 * which edgeq's wasm thread pool cannot start; edgeq runners get the original back.
 */
const DENO_WORKER = globalThis.Worker;

async function withDenoWorker<T>(fn: () => Promise<T>): Promise<T> {
  const cur = globalThis.Worker;
  globalThis.Worker = DENO_WORKER;
  try {
    return await fn();
  } finally {
    globalThis.Worker = cur;
  }
}

interface Runner {
  loadMs: number;
  run(x: Float32Array, shape: number[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

async function ortRunner(bytes: Uint8Array, m: BenchModel, threads: number): Promise<Runner> {
  const t0 = performance.now();
  const peer = await OrtPeer.create(bytes, { threads });
  const out = peer.outputNames[0];
  const run = async (x: Float32Array, shape: number[]) =>
    (await peer.run({ [m.inputName]: { shape, data: x } }, [out]))[out].data;
  await run(m.input, m.inputShape);
  return { loadMs: performance.now() - t0, run, dispose: () => peer.release() };
}

async function edgeqRunner(
  bytes: Uint8Array,
  m: BenchModel,
  backend: "ref" | "wasm" | "webgpu",
  threads: number,
): Promise<Runner> {
  const t0 = performance.now();
  const model = await load(bytes, { backend, threads });
  const out = model.outputNames[0];
  // Binding / compiling (and starting wasm workers) happens on the first run per shape.
  const run = (x: Float32Array, shape: number[]) =>
    withDenoWorker(async () =>
      (await model.run({ [m.inputName]: { dtype: "float32", shape, data: x } }))[out]
        .data as Float32Array
    );
  await run(m.input, m.inputShape);
  return { loadMs: performance.now() - t0, run, dispose: () => model.dispose() };
}

async function top1(r: Runner, dir: string, limit: number, channels: number) {
  const set = await loadIdxDir(dir, limit);
  let correct = 0;
  const B = 50;
  for (let s = 0; s < set.n; s += B) {
    const c = Math.min(B, set.n - s);
    const x = imageBatch(set, s, c, channels);
    const y = await r.run(x.data as Float32Array, x.shape);
    const k = y.length / c;
    for (let i = 0; i < c; i++) {
      let b = 0;
      for (let j = 1; j < k; j++) if (y[i * k + j] > y[i * k + b]) b = j;
      if (b === set.labels[s + i]) correct++;
    }
  }
  return { top1: set.n ? correct / set.n : 0, n: set.n };
}

/**
 * Measures every runtime on one model (see the module doc).
 *
 * @example
 * ```ts
 * const r = await benchModel(model, { threads: 1, runs: 20, warmup: 3, refRuns: 3,
 *   backends: ["ref", "wasm"], accLimit: 500, refAccLimit: 100 });
 * ```
 */
export async function benchModel(m: BenchModel, o: BenchOptions): Promise<ModelResult> {
  const files = {
    onnx: await Deno.readFile(m.onnxPath),
    qdq: await Deno.readFile(m.qdqPath),
    eqp: await Deno.readFile(m.eqpPath),
  };
  const results: RuntimeResult[] = [];
  let capped = 0; // timed runs whose settle gave up
  // the figures so far (a copy: reported partially, then completed)
  const summary = (): ModelResult => ({
    model: m.name,
    threads: o.threads,
    input_shape: m.inputShape,
    runtimes: results.map((r) => ({ ...r })),
    peak_rss_bytes: memory().peak,
    ...(capped ? { unsettled_runs: capped } : {}),
  });
  const plan: { rt: RuntimeName; bytes: Uint8Array; make: () => Promise<Runner> }[] = [
    { rt: "ort-f32", bytes: files.onnx, make: () => ortRunner(files.onnx, m, o.threads) },
    { rt: "ort-int8", bytes: files.qdq, make: () => ortRunner(files.qdq, m, o.threads) },
    ...o.backends.map((b) => ({
      rt: `edgeq-${b}` as RuntimeName,
      bytes: files.eqp,
      make: () => edgeqRunner(files.eqp, m, b, o.threads),
    })),
  ];
  // Load every runtime (creation + first run), then time them in rounds: each round runs
  // each runtime in turn, once the process has idled 25 ms (settle: so no runtime's
  // spinning threads overlap the next one's run), twice: the first run starts on a host
  // that idled (in one probe ResNet-14 after a 25 ms sleep took ORT f32 +1.0 ms and edgeq
  // +0.6 ms against back to back), the second right after the first (back to back: a
  // stream of frames). The machine's speed drifts over seconds (shared host);
  // interleaving puts every runtime in the same windows, so the ratios hold.
  // edgeq's ref backend (plain TypeScript, seconds per run) is timed on its own.
  const live: {
    res: RuntimeResult;
    r: Runner;
    slow: boolean;
    ms: number[];
    b2b: number[];
    hung?: boolean;
  }[] = [];
  try {
    for (const p of plan) {
      o.onStep?.(`${m.name} ${p.rt} (${o.threads} thr): load`);
      const res: RuntimeResult = { runtime: p.rt, model_bytes: p.bytes.length };
      results.push(res);
      const backend = p.rt.startsWith("edgeq-") ? p.rt.slice(6) : undefined;
      if (backend) {
        try {
          await getBackend(backend);
        } catch (e) {
          res.skipped = (e as Error).message;
          continue;
        }
      }
      try {
        const r = await p.make();
        res.load_ms = r.loadMs;
        live.push({ res, r, slow: p.rt === "edgeq-ref", ms: [], b2b: [] });
      } catch (e) {
        res.skipped = `failed: ${(e as Error).message.split("\n")[0]}`;
      }
    }
    const run = (l: typeof live[number]) => l.r.run(m.input, m.inputShape);
    const pause = async () => {
      if ((await settle(PAUSE_MS, SETTLE_CAP_MS)).capped) capped++;
    };
    const fast = live.filter((l) => !l.slow);
    const timeOne = async (l: typeof live[number], into = l.ms) => {
      try {
        const t0 = performance.now();
        await run(l);
        into.push(performance.now() - t0);
      } catch (e) {
        l.res.skipped = `failed: ${(e as Error).message.split("\n")[0]}`;
      }
    };
    o.onStep?.(`${m.name} timing ${fast.length} runtimes interleaved (${o.threads} thr)`);
    for (let i = 0; i < o.warmup; i++) {
      for (const l of fast) if (!l.res.skipped) await run(l).catch(() => {});
    }
    for (let i = 0; i < o.runs; i++) {
      for (const l of fast) {
        if (l.res.skipped) continue;
        await pause();
        await timeOne(l);
        if (!l.res.skipped) await timeOne(l, l.b2b);
      }
    }
    for (const l of live.filter((l) => l.slow)) {
      o.onStep?.(`${m.name} ${l.res.runtime} (${o.threads} thr): timing`);
      for (let i = 0; i < Math.min(1, o.warmup); i++) await run(l).catch(() => {});
      for (let i = 0; i < o.refRuns && !l.res.skipped; i++) await timeOne(l);
    }
    // RSS with every runtime loaded at once (the process's, not one runtime's)
    const rss = memory().rss;
    for (const l of live) {
      if (l.res.skipped) continue;
      l.res.latency = summarize(l.ms);
      if (l.b2b.length) l.res.latency_b2b = summarize(l.b2b);
      l.res.rss_bytes = rss;
    }
    o.onPartial?.(summary());
    for (const l of live) {
      if (l.res.skipped) continue;
      if (m.classifierData) {
        const lim = l.slow ? o.refAccLimit : o.accLimit;
        if (lim > 0) {
          o.onStep?.(`${m.name} ${l.res.runtime} (${o.threads} thr): top-1`);
          const limit = o.accTimeout ?? 120;
          try {
            const a = await within(
              top1(l.r, m.classifierData, lim, m.inputShape[1]),
              limit,
              "top-1 pass",
            );
            l.res.top1 = a.top1;
            l.res.top1_n = a.n;
          } catch (e) {
            l.res.top1_error = (e as Error).message.split("\n")[0];
            // a pass that never returned leaves its runtime busy: no dispose for it
            l.hung = e instanceof LateError;
          }
          o.onPartial?.(summary());
        }
      }
    }
  } finally {
    for (const l of live) if (!l.hung) await l.r.dispose().catch(() => {});
  }
  return summary();
}
