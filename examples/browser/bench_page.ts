/**
 * The browser benchmark page (bench.html, driven by bench/browser_bench.ts): edgeq's wasm
 * backend against onnxruntime-web's f32 wasm on the same model and input, in one page, in
 * interleaved rounds (the order alternates; each timed run starts after the page idled
 * `pause` ms). Query: `eqp` and `onnx` (files beside the page), `input` (raw f32 bytes),
 * `shape` (comma-separated), `name` (the input's name), `threads`, `runs`, `warmup`,
 * `pause`. ORT is imported from `./ort/ort.wasm.min.mjs` with its wasm files in `./ort/`.
 * Results go to `window.edgeqResults` ({@link BenchPageResults}).
 * @module
 */
import { load } from "./edgeq_browser.ts";
import { defaultBuild } from "../../kernels/wasm/instance.ts";

/** What the page leaves on `window.edgeqResults`. */
export interface BenchPageResults {
  done: true;
  error?: string;
  threads: number;
  /** The wasm build edgeq picks in this browser (kernels/wasm/instance.ts defaultBuild). */
  build: string;
  crossOriginIsolated: boolean;
  /** Milliseconds of each timed run, in round order. */
  edgeqMs: number[];
  ortMs: number[];
  /** Whether the argmax of the two runtimes' outputs (their last timed runs) agree. */
  sameArgmax: boolean;
}

interface OrtTensor {
  data: Float32Array;
}
interface OrtSession {
  inputNames: string[];
  outputNames: string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  env: { wasm: { numThreads: number; wasmPaths: string; proxy: boolean } };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => unknown;
  InferenceSession: {
    create(bytes: Uint8Array, o: Record<string, unknown>): Promise<OrtSession>;
  };
}

const q = new URLSearchParams(location.search);
const num = (k: string, d: number) => (q.has(k) ? Number(q.get(k)) : d);
const out = globalThis as unknown as {
  edgeqResults?: BenchPageResults | { done: true; error: string };
};

async function bytesOf(name: string): Promise<Uint8Array> {
  const r = await fetch(`./${name}`);
  if (!r.ok) throw new Error(`${name}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function argmax(a: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

async function main(): Promise<BenchPageResults> {
  const threads = num("threads", 1), runs = Math.max(1, num("runs", 20)), warmup = num("warmup", 3);
  const pause = num("pause", 25);
  const shape = (q.get("shape") ?? "").split(",").map(Number);
  const name = q.get("name") ?? "input";
  const raw = await bytesOf(q.get("input") ?? "input.bin");
  const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  // a path in a variable: esbuild leaves the import to the browser (ORT is not bundled)
  const ortPath = "./ort/ort.wasm.min.mjs";
  const ort = (await import(ortPath)) as OrtModule;
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
  ort.env.wasm.proxy = false;
  const session = await ort.InferenceSession.create(await bytesOf(q.get("onnx") ?? ""), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const model = await load(await bytesOf(q.get("eqp") ?? ""), { backend: "wasm", threads });
  const runEdgeq = async () =>
    (await model.run({ [name]: { dtype: "float32", shape, data: x } }))[model.outputNames[0]]
      .data as Float32Array;
  const runOrt = async () =>
    (await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", x, shape) }))[
      session.outputNames[0]
    ].data;
  for (let i = 0; i < warmup; i++) {
    await runEdgeq();
    await runOrt();
  }
  // each runtime's output of its last timed run (runs >= 1) feeds sameArgmax
  const edgeqMs: number[] = [], ortMs: number[] = [];
  let a: ArrayLike<number> = [], b: ArrayLike<number> = [];
  for (let i = 0; i < runs; i++) {
    for (const edgeq of i % 2 ? [false, true] : [true, false]) {
      await sleep(pause);
      const t0 = performance.now();
      if (edgeq) a = await runEdgeq();
      else b = await runOrt();
      (edgeq ? edgeqMs : ortMs).push(performance.now() - t0);
    }
  }
  model.dispose();
  await session.release();
  return {
    done: true,
    threads,
    build: defaultBuild(),
    crossOriginIsolated:
      (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true,
    edgeqMs,
    ortMs,
    sameArgmax: argmax(a) === argmax(b),
  };
}

main().then(
  (r) => out.edgeqResults = r,
  (e) => out.edgeqResults = { done: true, error: String((e as Error)?.stack ?? e) },
);
